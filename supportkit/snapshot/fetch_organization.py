"""``supportkit fetch --organization``: every member account's snapshot folder, and one organization file.

Run with credentials of the management account or of a delegated administrator. The organization's
tree (root, OUs, accounts) and the SCPs and RCPs of every target are read once and written to
``organization.json``; each member account is then read through a role assumed in it (read-only use:
only ``Get``/``List`` calls), in parallel threads, into ``DIR/<account id>/`` with the files
:func:`supportkit.snapshot.load_account` reads (``authorization-details.json``, ``account.json``,
``scps.json``) and ``rcps.json`` in the same shape. One account's failure (the role refused, a closed
account) is recorded in the organization file and never stops the others.

Throttling: every client uses botocore's ``adaptive`` retry mode (exponential backoff with jitter, and
a client-side rate limiter that slows down after throttling errors) with :data:`MAX_ATTEMPTS` attempts
per call, the first included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from supportkit.iam.arn import Arn
from supportkit.snapshot.fetch import (
    FetchError,
    _authorization_details,
    _boto3,
    _code,
    _write,
)
from supportkit.snapshot.model import ACCOUNT_FILE, DETAILS_FILE, RCPS_FILE, SCPS_FILE
from supportkit.snapshot.organization import ORGANIZATION_FILE, POLICY_FILES

MAX_ATTEMPTS = 10
"""botocore ``max_attempts``: the first call and up to nine retries of a throttled or failed request."""
DEFAULT_ROLE = "OrganizationAccountAccessRole"
DEFAULT_WORKERS = 8
SESSION_NAME = "supportkit-fetch"
_POLICY_TYPES = {"SERVICE_CONTROL_POLICY": SCPS_FILE, "RESOURCE_CONTROL_POLICY": RCPS_FILE}


@dataclass(frozen=True)
class AccountFetch:
    """What became of one account: its folder, or why it has none; ``skipped`` when ``--resume`` found it done."""

    account_id: str
    folder: Path | None
    error: str | None
    skipped: bool = False


@dataclass(frozen=True)
class OrganizationFetch:
    organization_file: Path
    accounts: tuple[AccountFetch, ...]

    @property
    def failed(self) -> tuple[AccountFetch, ...]:
        return tuple(account for account in self.accounts if account.error is not None)


def retry_config() -> Any:
    from botocore.config import Config

    return Config(retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS})


def fetch_organization(
    out_dir: Path,
    session: Any = None,
    *,
    profile: str | None = None,
    region: str | None = None,
    role_name: str = DEFAULT_ROLE,
    accounts: Sequence[str] | None = None,
    workers: int = DEFAULT_WORKERS,
    resume: bool = False,
    on_account: Callable[[AccountFetch], None] | None = None,
) -> OrganizationFetch:
    """Write ``out_dir/organization.json`` and one folder per active account (``accounts`` only, when given).

    ``out_dir`` must be new or empty unless ``resume``: then accounts whose folder is complete (its
    ``account.json``, written last, is there) are skipped. ``on_account`` hears of each account as it ends.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise FetchError(f"{out_dir}: exists and is not a folder")
    if out_dir.exists() and any(out_dir.iterdir()) and not resume:
        raise FetchError(f"{out_dir}: is not empty; fetch into a new folder, or give --resume to go on with it")
    if workers < 1:
        raise FetchError(f"--workers must be at least 1, not {workers}")
    boto3 = _boto3()
    from botocore.exceptions import BotoCoreError, ClientError

    session = session or boto3.Session(profile_name=profile, region_name=region)
    api_region = session.region_name or "us-east-1"
    config = retry_config()
    try:
        sts = session.client("sts", region_name=api_region, config=config)
        caller = sts.get_caller_identity()
        org = session.client("organizations", region_name=api_region, config=config)
        described = org.describe_organization()["Organization"]
        tree = _tree(org)
    except (BotoCoreError, ClientError) as error:
        raise FetchError(f"cannot read the organization: {error}") from None
    notes: list[str] = []
    policies, attachments = _policies(org, tree, described, notes)
    wanted = set(accounts) if accounts else None
    members = [a for a in tree["accounts"] if wanted is None or a["id"] in wanted]
    unknown = sorted((wanted or set()) - {a["id"] for a in tree["accounts"]})
    if unknown:
        raise FetchError(f"not in the organization: {', '.join(unknown)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    caller_arn = Arn.parse(caller["Arn"])
    partition = caller_arn.partition if caller_arn is not None else "aws"
    management_id = described["MasterAccountId"]

    def one(account: dict[str, Any]) -> AccountFetch:
        folder = out_dir / account["id"]
        if resume and (folder / ACCOUNT_FILE).is_file():
            return AccountFetch(account["id"], folder, None, skipped=True)
        if account.get("status", "ACTIVE") != "ACTIVE":
            return AccountFetch(account["id"], None, f"not fetched: the account is {account['status']}")
        try:
            if account["id"] == caller["Account"]:
                member = session
            else:
                member = _assume(boto3, sts, f"arn:{partition}:iam::{account['id']}:role/{role_name}", api_region)
            iam = member.client("iam", region_name=api_region, config=config)
            details = _authorization_details(iam)
        except (BotoCoreError, ClientError) as error:
            return AccountFetch(account["id"], None, f"{_code(error)}: {error}")
        levels = {name: [{"target": target, "policies": [policies[policy_type][p] for p in attachments[target][policy_type]]}
                         for target in _path(tree, account["id"])]
                  for policy_type, name in _POLICY_TYPES.items() if policy_type in policies}
        try:
            folder.mkdir(exist_ok=True)
            _write(folder / DETAILS_FILE, details)
            for name, found in levels.items():
                _write(folder / name, {"levels": found})
            _write(folder / ACCOUNT_FILE, {  # last: its presence tells --resume the folder is complete
                "account_id": account["id"], "name": account["name"],
                "management_account": account["id"] == management_id, "snapshot_time": _now(),
            })
        except OSError as error:
            return AccountFetch(account["id"], None, f"{folder}: {error.strerror or error}")
        return AccountFetch(account["id"], folder, None)

    results: list[AccountFetch] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="supportkit-fetch") as pool:
        for future in as_completed([pool.submit(one, member) for member in members]):
            results.append(future.result())
            if on_account is not None:
                on_account(results[-1])
    order = {member["id"]: i for i, member in enumerate(members)}
    results.sort(key=lambda fetched: order[fetched.account_id])
    by_id = {fetched.account_id: fetched for fetched in results}
    for account in tree["accounts"]:
        done = by_id.get(account["id"])
        if done is not None:
            account["folder"] = done.folder.name if done.folder is not None else None
            account["error"] = done.error
        elif (out_dir / account["id"] / ACCOUNT_FILE).is_file():
            account["folder"], account["error"] = account["id"], None
        else:
            account["folder"], account["error"] = None, "not fetched: not among --accounts"
    document = {
        "organization": {"id": described["Id"], "management_account_id": management_id,
                         "feature_set": described.get("FeatureSet")},
        "fetched_at": _now(),
        "fetched_by": caller["Arn"],
        "role_name": role_name,
        "roots": tree["roots"],
        "units": tree["units"],
        "accounts": tree["accounts"],
        "policies": {name: policies[policy_type] for policy_type, name in POLICY_FILES.items() if policy_type in policies},
        "attachments": attachments,
        "notes": notes,
    }
    path = out_dir / ORGANIZATION_FILE
    _write(path, document)
    return OrganizationFetch(path, tuple(results))


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _assume(boto3: Any, sts: Any, role_arn: str, region: str) -> Any:
    """A session in the member account: the role's temporary credentials, used for reads only."""
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=SESSION_NAME)["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"], region_name=region,
    )


def _pages(org: Any, operation: str, key: str, **arguments: Any) -> Iterable[dict[str, Any]]:
    for page in org.get_paginator(operation).paginate(**arguments):
        yield from page[key]


def _tree(org: Any) -> dict[str, list[dict[str, Any]]]:
    """Roots, OUs (each with its parent) and accounts (each with its parent), breadth first from the root."""
    roots = [{"id": root["Id"], "name": root.get("Name"),
              "policy_types": [t["Type"] for t in root.get("PolicyTypes", []) if t.get("Status") == "ENABLED"]}
             for root in _pages(org, "list_roots", "Roots")]
    units: list[dict[str, Any]] = []
    accounts: list[dict[str, Any]] = []
    queue = [root["id"] for root in roots]
    while queue:
        parent = queue.pop(0)
        for unit in _pages(org, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent):
            units.append({"id": unit["Id"], "name": unit.get("Name"), "parent": parent})
            queue.append(unit["Id"])
        for account in _pages(org, "list_accounts_for_parent", "Accounts", ParentId=parent):
            accounts.append({"id": account["Id"], "name": account.get("Name"), "email": account.get("Email"),
                             "status": account.get("Status", "ACTIVE"), "parent": parent})
    return {"roots": roots, "units": units, "accounts": accounts}


def _path(tree: dict[str, list[dict[str, Any]]], account_id: str) -> list[str]:
    """The targets from the root down to the account: root, each OU, the account."""
    parents = {node["id"]: node["parent"] for node in (*tree["units"], *tree["accounts"])}
    path = [account_id]
    while path[-1] in parents:
        path.append(parents[path[-1]])
    return path[::-1]


def _policies(org: Any, tree: dict[str, list[dict[str, Any]]], described: dict[str, Any], notes: list[str]
              ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, list[str]]]]:
    """Per policy type, each policy as describe-policy prints it; per target, the ids attached to it."""
    from botocore.exceptions import BotoCoreError, ClientError

    targets = [node["id"] for kind in ("roots", "units", "accounts") for node in tree[kind]]
    attachments: dict[str, dict[str, list[str]]] = {target: {} for target in targets}
    policies: dict[str, dict[str, Any]] = {}
    if described.get("FeatureSet") != "ALL":
        notes.append("the organization has consolidated billing features only: no SCPs nor RCPs apply")
        return policies, attachments
    enabled = {policy_type for root in tree["roots"] for policy_type in root["policy_types"]}
    for policy_type in _POLICY_TYPES:
        if policy_type not in enabled:
            notes.append(f"{policy_type} is not enabled in the organization: none apply")
            continue
        found: dict[str, Any] = {}
        try:
            for target in targets:
                ids = []
                for summary in _pages(org, "list_policies_for_target", "Policies", TargetId=target, Filter=policy_type):
                    if summary["Id"] not in found:
                        found[summary["Id"]] = {"Policy": org.describe_policy(PolicyId=summary["Id"])["Policy"]}
                    ids.append(summary["Id"])
                attachments[target][policy_type] = ids
        except (BotoCoreError, ClientError) as error:
            notes.append(f"{policy_type} not fetched ({_code(error)}): none are taken into account")
            for target in targets:
                attachments[target].pop(policy_type, None)
            continue
        policies[policy_type] = found
    return policies, attachments
