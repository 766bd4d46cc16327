"""Live mode: write a snapshot folder for the current AWS credentials, using read-only calls only.

Why a folder rather than a live analysis: a snapshot can be reviewed, kept, compared and analysed again
offline, and :func:`supportkit.snapshot.load_account` reads it like any hand-collected one. Organizations
calls are optional: a member account usually may not walk its organization, so when they are refused
the folder has no ``scps.json`` and ``account.json`` says why in its ``notes``.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from supportkit.snapshot.model import ACCOUNT_FILE, DETAILS_FILE, SCPS_FILE
from supportkit.errors import SupportkitError
from supportkit.files import write_text_atomically

AUTHORIZATION_FILTERS = ("User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy")
_DETAIL_LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
_MAX_DEPTH = 8  # an account sits under at most five OUs and the root


class FetchError(SupportkitError):
    """A fetch that cannot go on: boto3 missing, no credentials, or IAM/STS refused a call."""


def fetch_snapshot(
    out_dir: Path, session: Any = None, *, profile: str | None = None, region: str | None = None
) -> Path:
    """Write a snapshot folder for the credentials of ``session`` (a boto3 Session; when None, one made
    from ``profile`` and ``region``, or the default one).

    The folder gets ``authorization-details.json`` (every page of get-account-authorization-details,
    merged), ``account.json`` (account id, alias, management account, notes) and, when Organizations
    answers, ``scps.json`` (the SCPs of each level from the root down to the account). ``out_dir``
    must be new or empty, so that no stale file of an earlier fetch is read with the new ones.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise FetchError(f"{out_dir}: exists and is not an empty folder; fetch into a new one")
    boto3 = _boto3()
    from botocore.exceptions import BotoCoreError, ClientError

    if session is None:
        try:
            session = boto3.Session(profile_name=profile, region_name=region)
        except BotoCoreError as error:  # ProfileNotFound: "The config profile (x) could not be found"
            raise FetchError(str(error)) from None
    taken = datetime.now(timezone.utc).isoformat(timespec="seconds")  # before the first read: nothing is older
    api_region = session.region_name or "us-east-1"
    config = _client_config()
    try:
        account_id = session.client("sts", region_name=api_region, config=config).get_caller_identity()["Account"]
        iam = session.client("iam", region_name=api_region, config=config)
        details = _authorization_details(iam)
    except (BotoCoreError, ClientError) as error:
        raise FetchError(f"cannot read the account's IAM data: {error}") from None
    account: dict[str, Any] = {"account_id": account_id, "snapshot_time": taken}
    notes: list[str] = []
    try:
        aliases = iam.list_account_aliases()["AccountAliases"]
    except (BotoCoreError, ClientError) as error:
        notes.append(f"no account name: iam:ListAccountAliases failed ({_code(error)})")
    else:
        if aliases:
            account["name"] = aliases[0]
    organizations = session.client("organizations", region_name=api_region, config=config)
    scps = _organization(organizations, account_id, account, notes)
    if notes:
        account["notes"] = notes
    out_dir.mkdir(parents=True, exist_ok=True)
    _write(out_dir / DETAILS_FILE, details)
    if scps is not None:
        _write(out_dir / SCPS_FILE, scps)
    _write(out_dir / ACCOUNT_FILE, account)
    return out_dir


MAX_ATTEMPTS = 8
"""Attempts per call, the first included: botocore's standard retry mode, whose default is three
("Retries", Boto3 guide, https://docs.aws.amazon.com/boto3/latest/guide/retries.html). Paging through
get-account-authorization-details in a large account is throttled sooner than a single call."""


def _client_config() -> Any:
    from botocore.config import Config

    return Config(retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS})


def _boto3() -> Any:
    try:
        import boto3
    except ImportError:
        raise FetchError("fetching from AWS needs boto3: pip install 'supportkit[aws]'") from None
    return boto3


def _code(error: Exception) -> str:
    """The AWS error code of a botocore error (its class name for errors without a response)."""
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code") or type(error).__name__


def _authorization_details(iam: Any) -> dict[str, list[Any]]:
    """Every page of get-account-authorization-details, merged into one document."""
    merged: dict[str, list[Any]] = {key: [] for key in _DETAIL_LISTS}
    for page in iam.get_paginator("get_account_authorization_details").paginate(Filter=list(AUTHORIZATION_FILTERS)):
        for key in _DETAIL_LISTS:
            merged[key].extend(page.get(key, []))
    return merged


def _organization(org: Any, account_id: str, account: dict[str, Any], notes: list[str]) -> dict[str, Any] | None:
    """Record whether this is the management account; the SCP levels, or None with a note saying why not."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        organization = org.describe_organization()["Organization"]
    except (BotoCoreError, ClientError) as error:
        if _code(error) == "AWSOrganizationsNotInUseException":
            account["management_account"] = False
            notes.append("the account is in no organization: no SCPs apply")
        else:
            notes.append(
                f"organizations:DescribeOrganization failed ({_code(error)}): whether SCPs apply is unknown, "
                "and none are taken into account"
            )
        return None
    account["management_account"] = organization.get("MasterAccountId") == account_id
    if organization.get("FeatureSet") != "ALL":
        notes.append("the organization has consolidated billing features only: no SCPs apply")
        return None
    try:
        return {"levels": _scp_levels(org, account_id)}
    except ClientError as error:
        if _code(error) == "PolicyTypeNotEnabledException":
            notes.append("SCPs are not enabled in the organization: none apply")
        else:
            notes.append(
                f"SCPs not fetched: organizations:{error.operation_name} failed ({_code(error)}); "
                "none are taken into account"
            )
    except (BotoCoreError, FetchError) as error:
        notes.append(f"SCPs not fetched: {error}; none are taken into account")
    return None


def _scp_levels(org: Any, account_id: str) -> list[dict[str, Any]]:
    """The SCPs attached to the root, each OU down the path, and the account, as describe-policy prints them."""
    targets = [account_id]
    for _ in range(_MAX_DEPTH):
        parents = org.list_parents(ChildId=targets[-1])["Parents"]
        if len(parents) != 1:
            raise FetchError(f"{targets[-1]} has {len(parents)} parents in the organization, not one")
        targets.append(parents[0]["Id"])
        if parents[0]["Type"] == "ROOT":
            break
    else:
        raise FetchError(f"the organization path of {account_id} does not reach the root in {_MAX_DEPTH} levels")
    described: dict[str, dict[str, Any]] = {}
    levels = []
    for target in reversed(targets):
        policies = []
        pages = org.get_paginator("list_policies_for_target").paginate(TargetId=target, Filter="SERVICE_CONTROL_POLICY")
        for summary in (summary for page in pages for summary in page["Policies"]):
            if summary["Id"] not in described:
                described[summary["Id"]] = {"Policy": org.describe_policy(PolicyId=summary["Id"])["Policy"]}
            policies.append(described[summary["Id"]])
        levels.append({"target": target, "policies": policies})
    return levels


def _json_default(value: Any) -> str:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _write(path: Path, value: Any) -> None:
    """JSON as the AWS CLI would print it, written whole (an interrupted fetch leaves no truncated file)."""
    write_text_atomically(path, json.dumps(value, indent=2, default=_json_default) + "\n")
