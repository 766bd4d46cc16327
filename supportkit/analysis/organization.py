"""An organization's AWS Support access: every account's answers, and the paths that cross accounts.

The organization is read from a folder of account snapshots with an ``organization.json``
(:mod:`supportkit.snapshot.organization`), or from account folders alone. Each account is analysed on
its own (matrix, findings, headline: :func:`analyse_account`, the unit of work a process pool or a
Dask cluster runs); then the cross-account edges are found in two steps, so that no worker needs
another account's identities:

1. each account lists its roles' trust policies (:class:`RoleTrust`, plain JSON values);
2. each account A gets the roles of other accounts whose trust policy may admit one of A's
   principals, and decides for each of its identities whether both sides allow ``sts:AssumeRole``
   (:func:`account_edges`): the trust policy in B must allow the principal and A's own policies
   (identity policies, boundary, A's SCPs) must allow the call on the role's ARN ("Cross-account
   policy evaluation logic", IAM User Guide, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html).
   B's RCPs, where its folder has an ``rcps.json``, may still deny the call on B's role: STS is a
   service RCPs apply to ("Resource control policies", AWS Organizations User Guide).

Principals a trust policy names outside the organization (another account, ``*``, a federated
identity provider) become edges from an outside node, named as such. Paths chain edges across
accounts; same-account role chains are not followed.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

import pandas as pd

from supportkit.analysis.account_analysis import AccountAnalysis, analyse
from supportkit.analysis.finding import FindingSources, Severity, produce_findings, severity_counts
from supportkit.analysis.findings import Persona
from supportkit.analysis.matrix import identity_context
from supportkit.support.rcps import rcp_services
from supportkit.errors import PolicyError, SupportkitError
from supportkit.iam.arn import Arn, account_of
from supportkit.iam.context import RequestContext
from supportkit.iam.evaluate import Decision, NamedPolicy, PolicyKind, Subject, evaluate
from supportkit.iam.policy import (
    Effect,
    Policy,
    Statement,
    decode_document,
    parse_policy,
)
from supportkit.snapshot import Account, IdentityType, find_snapshots, load_account
from supportkit.snapshot.details import detail_files, read_details
from supportkit.snapshot.model import RCPS_FILE
from supportkit.snapshot.organization import (
    OrganizationInfo,
    is_organization_folder,
    read_organization,
)
from supportkit.snapshot.policies import PolicyParser
from supportkit.snapshot.scps import read_scps

ASSUME_ROLE = "sts:AssumeRole"
OUTSIDE = "outside the organization"


class PrincipalKind(str, Enum):
    """Who stands at the start of a path: an identity of an analysed account, or someone outside the organization."""

    IDENTITY = "identity"
    OUTSIDE_ACCOUNT = "account outside the organization"
    ANYONE = "any AWS principal"
    FEDERATED = "federated identity provider"
    UNANALYSED = "account of the organization not analysed"


@dataclass(frozen=True)
class RoleTrust:
    """A role and its trust policy document, as JSON (picklable: it travels between processes)."""

    role_arn: str
    account_id: str
    document: Any


@dataclass(frozen=True)
class AccountResult:
    """What one account's analysis sends back: its answers, and its roles' trust policies for step 2."""

    folder: Path
    account_id: str
    name: str | None
    support_plan: str | None
    management_account: bool
    headline: Mapping[str, int]
    severities: Mapping[str, int]  # the account report's findings per severity, every severity, most severe first
    root_only: str  # the scope of the root-only finding, or ""
    plan_gap_identities: int
    capabilities: Mapping[str, tuple[str, ...]]  # identity ARN -> what it can do ("open", "read", ...)
    trusts: tuple[RoleTrust, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class AccountFailure:
    folder: Path | None
    account_id: str | None
    error: str


@dataclass(frozen=True)
class Edge:
    """``source`` may assume ``role`` (another account's): both sides allow it, or would when ``condition_keys`` allow."""

    source: str
    source_kind: PrincipalKind
    source_account: str | None
    role: str
    role_account: str
    condition_keys: tuple[str, ...] = ()

    @property
    def conditional(self) -> bool:
        return bool(self.condition_keys)


@dataclass(frozen=True)
class AccessPath:
    """A principal reaching an identity that holds the access: ``steps`` from the principal to that identity."""

    principal: str
    kind: PrincipalKind
    account_id: str | None
    steps: tuple[str, ...]
    condition_keys: tuple[str, ...]

    @property
    def outside(self) -> bool:
        return self.kind is not PrincipalKind.IDENTITY

    def describe(self) -> str:
        text = " -> sts:AssumeRole -> ".join(self.steps)
        return text + (f" (only when the conditions on {', '.join(self.condition_keys)} hold)" if self.condition_keys else "")


CAPABILITIES = {"open": "can_open", "read": "can_read", "reply": "can_reply", "resolve": "can_resolve",
                "ta_read": "ta_read", "ta_change": "ta_change", "plan_change": "plan_change"}
"""What :attr:`AccountResult.capabilities` lists, and the persona column each comes from; ``any`` is added
for an identity allowed any support, Trusted Advisor or support plan action."""
ANY = "any"


# Step 1: one account


def analyse_account(folder: str | Path, context: Mapping[str, Any] | None = None,
                    dataset: str | Path | None = None) -> AccountResult:
    """:func:`supportkit.analysis.account_analysis.analyse` of one account, reduced to what the organization
    needs, and its roles' trust policies.

    With ``dataset``, the matrix is also written to ``dataset/account_id=<id>/part-0.parquet``.
    """
    return account_result(analyse(Path(folder), context=context), Path(folder), dataset)


def account_result(analysis: AccountAnalysis, folder: Path, dataset: str | Path | None = None) -> AccountResult:
    """What the organization needs of an account analysed already (the report pipeline analyses each once)."""
    account, findings, matrix = analysis.account, analysis.findings, analysis.matrix
    assert account is not None  # analyse() keeps the account it loaded
    people = findings["personas"]
    headline = {key: value for key, value in analysis.summary.items() if isinstance(value, int)}
    headline["any_support_access"] = int((people["persona"] != Persona.NO_ACCESS.value).sum())
    capabilities = {
        row["identity_arn"]: (*(name for name, column in CAPABILITIES.items() if row[column]),
                              *((ANY,) if row["persona"] != Persona.NO_ACCESS.value else ()))
        for row in people.to_dict(orient="records")
    }
    root_only = findings["root_only_access"]
    if dataset is not None:
        _write_partition(matrix, Path(dataset), account.info.account_id)
    plan = account.info.support_plan
    return AccountResult(
        folder, account.info.account_id, account.info.name, plan.value if plan is not None else None,
        account.info.management_account, headline,
        severity_counts(produce_findings(FindingSources(findings, matrix, account.info))),
        str(root_only["scope"].iloc[0]) if len(root_only) else "", len(findings["plan_gaps"]),
        {arn: caps for arn, caps in capabilities.items() if caps}, _trusts(folder, account), account.warnings,
    )


def _trusts(folder: Path, account: Account) -> tuple[RoleTrust, ...]:
    """Each role's AssumeRolePolicyDocument, read from the export (the account model keeps no trust policies)."""
    details = read_details(detail_files(folder) if folder.is_dir() else [folder])
    roles = {identity.name: identity.arn for identity in account.identities if identity.type is IdentityType.ROLE}
    found = []
    for name, entry in details.entries["RoleDetailList"].items():
        document = entry.data.get("AssumeRolePolicyDocument")
        if name in roles and document is not None:
            found.append(RoleTrust(roles[name], account.info.account_id, document))
    return tuple(found)


def read_dataset(dataset: str | Path) -> pd.DataFrame:
    """The organization's matrix with pandas; ``account_id`` comes back as text (Arrow would infer an integer
    from the folder names and drop leading zeros). DuckDB: ``read_parquet('DIR/*/*.parquet',
    hive_partitioning = true, hive_types = {'account_id': VARCHAR})``."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    partitioning = ds.partitioning(pa.schema([("account_id", pa.string())]), flavor="hive")
    return ds.dataset(str(dataset), format="parquet", partitioning=partitioning).to_table().to_pandas()


def _write_partition(matrix: pd.DataFrame, dataset: Path, account_id: str) -> None:
    """The matrix as one hive-style partition: DuckDB and pandas read ``account_id`` back from the folder name."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    partition = dataset / f"account_id={account_id}"
    partition.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(matrix, preserve_index=False)
    temporary = partition / ".part-0.parquet.tmp"
    pq.write_table(table, temporary)
    temporary.replace(partition / "part-0.parquet")


# Trust policies


@dataclass(frozen=True)
class _TrustStatement:
    statement: Statement
    principals: Mapping[str, tuple[str, ...]]  # "AWS" / "Federated" / "Service" / "*" -> values
    negated: bool  # NotPrincipal


def _trust_statements(document: Any) -> list[_TrustStatement]:
    """The statements of a trust policy with their Principal element, each parsed by the engine's parser.

    The parser takes identity-policy grammar: Principal is set aside and Resource, which a trust
    policy omits (its resource is the role), is given as ``*``.
    """
    value = decode_document(document)
    raw_statements = value.get("Statement", []) if isinstance(value, Mapping) else []
    raw_statements = [raw_statements] if isinstance(raw_statements, Mapping) else raw_statements
    found = []
    for raw in raw_statements:
        if not isinstance(raw, Mapping):
            continue
        element = "NotPrincipal" if "NotPrincipal" in raw else "Principal"
        principal = raw.get(element)
        stripped = {key: item for key, item in raw.items() if key not in ("Principal", "NotPrincipal")}
        if "Resource" not in stripped and "NotResource" not in stripped:
            stripped["Resource"] = "*"
        try:
            policy = parse_policy({"Version": value.get("Version", "2012-10-17"), "Statement": [stripped]})
        except PolicyError:
            continue  # an invalid trust statement admits no one (IAM would have refused the document)
        if principal == "*":
            principals: dict[str, tuple[str, ...]] = {"AWS": ("*",)}
        elif isinstance(principal, Mapping):
            principals = {kind: (ids,) if isinstance(ids, str) else tuple(ids) for kind, ids in principal.items()}
        else:
            continue
        found.append(_TrustStatement(policy.statements[0], principals, element == "NotPrincipal"))
    return found


def _names(trust: _TrustStatement, arn: str, account_id: str) -> bool:
    """Whether the statement's Principal element covers the principal ``arn`` of ``account_id``.

    An account id or ``arn:...:root`` delegates to every principal of the account (IAM User Guide,
    "AWS JSON policy elements: Principal"); a user or role ARN names that principal only.
    """
    listed = trust.principals.get("AWS", ())
    covered = any(value in ("*", account_id, arn) or _is_root_of(value, account_id) for value in listed)
    return covered != trust.negated


def _is_root_of(value: str, account_id: str) -> bool:
    arn = Arn.parse(value)
    return arn is not None and arn.service == "iam" and arn.account == account_id and arn.resource == "root"


def _trust_decision(trusts: Sequence[_TrustStatement], arn: str, account_id: str, context: RequestContext,
                    known: Callable[[str], bool]) -> tuple[str, ...] | None:
    """None when the trust policy refuses the principal; else the condition keys it still depends on.

    Clauses on keys ``known`` (the principal's own keys: present, or known to be absent) are decided
    here; clauses on other keys (``sts:ExternalId``, ``aws:MultiFactorAuthPresent``...) depend on the
    request: the edge exists when they allow, and says so.
    """
    allowed: tuple[str, ...] | None = None
    for trust in trusts:
        statement = trust.statement
        if not statement.matches_action(ASSUME_ROLE) or not _names(trust, arn, account_id):
            continue
        open_keys = []
        decided = True
        for clause in statement.conditions:
            if all(known(key) for key in clause.keys_read):
                decided = decided and clause.evaluate(context)
            else:
                open_keys.append(clause.key)
        if not decided:
            continue
        if statement.effect is Effect.DENY:
            if not open_keys:
                return None
            continue  # a Deny that applies only under some requests does not refuse the path
        keys = tuple(dict.fromkeys(open_keys))
        if allowed is None or len(keys) < len(allowed):
            allowed = keys
    return allowed


def _candidate(trusts: Sequence[_TrustStatement], ids: frozenset[str]) -> frozenset[str]:
    """The accounts among ``ids`` some Allow statement may admit (``*``, NotPrincipal: all of them)."""
    found: set[str] = set()
    for trust in trusts:
        if trust.statement.effect is not Effect.ALLOW or not trust.statement.matches_action(ASSUME_ROLE):
            continue
        if trust.negated or "*" in trust.principals.get("AWS", ()):
            return ids
        for value in trust.principals.get("AWS", ()):
            account = value if value.isdigit() else account_of(value)
            if account in ids:
                found.add(account)
    return frozenset(found)


# Step 2: one account's identities against other accounts' roles


def account_edges(folder: str | Path, organization_id: str | None, roles: Sequence[RoleTrust],
                  rcps: Mapping[str, str] | None = None, context: Mapping[str, Any] | None = None) -> list[Edge]:
    """The edges from the identities of the account at ``folder`` to ``roles`` of other accounts.

    ``rcps``: the rcps.json of each role's account, by account id, where one exists (the management
    account's are not given: RCPs do not apply to its resources). The root user assumes no role: "You
    cannot use AWS account root user credentials to call AssumeRole" (AWS STS API Reference, AssumeRole,
    https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
    """
    account = load_account(folder)
    extra = dict(context or {})
    if organization_id is not None:
        extra["aws:PrincipalOrgID"] = organization_id
    rcp_levels = {account_id: _rcp_levels(Path(path)) for account_id, path in (rcps or {}).items()}
    parsed = [(role, _trust_statements(role.document)) for role in roles]
    # The caller's own account decides by its SCPs and policies; its RCPs guard its own resources, not B's role.
    caller = {identity.arn: replace(identity.subject, rcp_levels=()) for identity in account.identities}
    edges = []
    for identity in account.identities:
        if identity.type is IdentityType.ROOT:
            continue
        request = identity_context(identity, extra)
        full = request.with_defaults(identity.subject.principal.derived_context)
        known = _own_keys(frozenset(full.values))
        for role, trusts in parsed:
            keys = _trust_decision(trusts, identity.arn, account.info.account_id, full, known)
            if keys is None:
                continue
            result = evaluate(caller[identity.arn], ASSUME_ROLE, role.role_arn, request)
            if result.decision is not Decision.ALLOWED:
                continue
            if _rcp_denies(rcp_levels.get(role.account_id), identity.subject, role.role_arn, request):
                continue
            conditional = tuple(dict.fromkeys((*keys, *(result.context_keys if result.conditional else ()))))
            edges.append(Edge(identity.arn, PrincipalKind.IDENTITY, account.info.account_id, role.role_arn,
                              role.account_id, conditional))
    return edges


def _own_keys(present: frozenset[str]) -> Callable[[str], bool]:
    """The keys decided for an identity: those in its context, and its tags (a tag it lacks is absent in every
    request it makes)."""
    return lambda key: key in present or key.startswith("aws:principaltag/")


def _rcp_levels(path: Path) -> tuple[tuple[NamedPolicy, ...], ...]:
    return read_scps(path, PolicyParser(), PolicyKind.RCP).levels


def _rcp_denies(levels: tuple[tuple[NamedPolicy, ...], ...] | None, subject: Subject, role_arn: str,
                context: RequestContext) -> bool:
    """Whether the RCPs of the role's account refuse the call, with the engine's RCP layer.

    RCPs decide by Deny only (RCPFullAWSAccess, attached everywhere, allows), on the services AWS lists (sts
    is one), and service-linked roles are exempt ("Resource control policies", AWS Organizations User Guide,
    https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html).
    """
    if not levels:
        return False
    allow_all = NamedPolicy("allow", PolicyKind.IDENTITY, _ALLOW_ALL)
    gate = Subject(subject.principal, (allow_all,), rcp_levels=levels, rcp_services=rcp_services(),
                   rcp_account=account_of(role_arn))
    return evaluate(gate, ASSUME_ROLE, role_arn, context).decision is not Decision.ALLOWED


_ALLOW_ALL: Policy = parse_policy({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"}]})


_OUTSIDE_KEYS = frozenset({"aws:principalaccount", "aws:principalorgid"})
"""What is known of a principal outside the organization: its account, and that it has not this organization's id."""


def outside_edges(roles: Sequence[tuple[RoleTrust, Sequence[_TrustStatement]]], members: frozenset[str],
                  analysed: frozenset[str]) -> list[Edge]:
    """Edges from principals outside the organization (or from accounts of it that were not analysed)."""
    edges = []
    for role, trusts in roles:
        for trust in trusts:
            statement = trust.statement
            if statement.effect is not Effect.ALLOW or not statement.matches_action(ASSUME_ROLE):
                continue
            sources: list[tuple[str, PrincipalKind, str | None]] = []
            for value in trust.principals.get("AWS", ()):
                if value == "*":
                    sources.append((f"any AWS principal ({OUTSIDE})", PrincipalKind.ANYONE, None))
                    continue
                account = value if value.isdigit() else account_of(value)
                if account and account not in members:
                    sources.append((f"{value} ({OUTSIDE})", PrincipalKind.OUTSIDE_ACCOUNT, account))
                elif account and account not in analysed and account != role.account_id:
                    sources.append((value, PrincipalKind.UNANALYSED, account))
            for value in trust.principals.get("Federated", ()):
                sources.append((f"{value} (federated, {OUTSIDE})", PrincipalKind.FEDERATED, None))
            for source, kind, source_account in sources:
                context = RequestContext.of({"aws:PrincipalAccount": source_account} if source_account else {})
                decided = _OUTSIDE_KEYS if kind is not PrincipalKind.UNANALYSED else frozenset()
                keys = _trust_decision([trust], source, source_account or "", context, decided.__contains__) \
                    if not trust.negated else ()
                if keys is not None:
                    edges.append(Edge(source, kind, source_account, role.role_arn, role.account_id, keys))
    return list(dict.fromkeys(edges))


# The organization


@dataclass(frozen=True)
class OrganizationAnalysis:
    """Every account's answers, the cross-account edges, and the organization-wide questions on them."""

    info: OrganizationInfo | None
    accounts: tuple[AccountResult, ...]
    failures: tuple[AccountFailure, ...]
    edges: tuple[Edge, ...]
    _into: Mapping[str, tuple[Edge, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        into: dict[str, list[Edge]] = defaultdict(list)
        for edge in self.edges:
            into[edge.role].append(edge)
        object.__setattr__(self, "_into", {role: tuple(found) for role, found in into.items()})

    @property
    def organization_id(self) -> str | None:
        return self.info.organization_id if self.info is not None else None

    def account(self, account_id: str) -> AccountResult:
        for result in self.accounts:
            if result.account_id == account_id:
                return result
        raise SupportkitError(f"no analysed account {account_id}")

    def reaching(self, target: str) -> list[AccessPath]:
        """Every principal with a path of cross-account role assumptions to ``target`` (breadth first)."""
        paths: list[AccessPath] = []
        seen = {target}
        queue: deque[tuple[str, tuple[str, ...], tuple[str, ...]]] = deque([(target, (target,), ())])
        while queue:
            node, steps, keys = queue.popleft()
            for edge in self._into.get(node, ()):
                if edge.source in seen:
                    continue
                seen.add(edge.source)
                path_keys = tuple(dict.fromkeys((*edge.condition_keys, *keys)))
                path = (edge.source, *steps)
                paths.append(AccessPath(edge.source, edge.source_kind, edge.source_account, path, path_keys))
                if edge.source_kind is PrincipalKind.IDENTITY:
                    queue.append((edge.source, path, path_keys))
        return paths

    def who_can(self, account_id: str, capability: str = "read") -> pd.DataFrame:
        """Who can ``capability`` (see :data:`CAPABILITIES`) in the account: its own identities, then paths into it."""
        result = self.account(account_id)
        rows: list[tuple[Any, ...]] = []
        for arn, caps in result.capabilities.items():
            if capability not in caps:
                continue
            rows.append((arn, PrincipalKind.IDENTITY.value, account_id, arn, "", False))
            for path in self.reaching(arn):
                rows.append((path.principal, path.kind.value, path.account_id, path.describe(),
                             ", ".join(path.condition_keys), path.outside))
        return pd.DataFrame(rows, columns=["principal", "kind", "principal_account", "path", "condition_keys",
                                           "outside_organization"])

    def cross_account_paths(self) -> pd.DataFrame:
        """Each path from a principal to a role of another account with some support access, one row per path."""
        rows = []
        for result in self.accounts:
            for arn, caps in result.capabilities.items():
                for path in self.reaching(arn):
                    rows.append((result.account_id, arn, ", ".join(caps), path.principal, path.kind.value,
                                 path.account_id, path.describe(), path.outside, bool(path.condition_keys)))
        return pd.DataFrame(rows, columns=["account_id", "role", "capabilities", "principal", "kind",
                                           "principal_account", "path", "outside_organization", "conditional"])

    def overview(self) -> pd.DataFrame:
        """One row per account: where it sits, its plan, headline numbers and finding counts."""
        rows = []
        members = {account.account_id: account for account in self.info.accounts} if self.info else {}
        for result in self.accounts:
            member = members.get(result.account_id)
            unit = " / ".join(self.info.unit_path(member)) if self.info is not None and member is not None else ""
            rows.append({"account_id": result.account_id, "name": result.name, "unit": unit,
                         "support_plan": result.support_plan, "management_account": result.management_account,
                         **result.headline, "findings": sum(result.severities.values())})
        return pd.DataFrame(rows)

    def findings_by_account(self) -> pd.DataFrame:
        """Per account, its report's findings by severity (a column each, most severe first) and their total."""
        severities = [severity.value for severity in Severity]
        return pd.DataFrame([[r.account_id, r.name, *(r.severities[s] for s in severities), sum(r.severities.values())]
                             for r in self.accounts], columns=["account_id", "name", *severities, "total"])

    def outside_case_readers(self) -> pd.DataFrame:
        """Accounts where a principal outside the organization can read every case, with its path."""
        frames = [self.who_can(r.account_id, "read").assign(account_id=r.account_id) for r in self.accounts]
        found = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if found.empty:
            return pd.DataFrame(columns=["account_id", "principal", "kind", "path"])
        found = found[found["outside_organization"]]
        return found[["account_id", "principal", "kind", "path"]].reset_index(drop=True)

    def root_only_accounts(self) -> pd.DataFrame:
        """Accounts where only the root user can open cases (or use any support action)."""
        return pd.DataFrame([(r.account_id, r.name, r.root_only) for r in self.accounts if r.root_only],
                            columns=["account_id", "name", "scope"])

    def plan_gap_accounts(self) -> pd.DataFrame:
        """Accounts whose support plan does not serve the Support API their identities are allowed."""
        return pd.DataFrame([(r.account_id, r.name, r.support_plan, r.plan_gap_identities)
                             for r in self.accounts if r.plan_gap_identities],
                            columns=["account_id", "name", "support_plan", "identities"])

    def widest_reach(self, top: int = 20) -> pd.DataFrame:
        """The principals that reach some support action in the most accounts (their own, and through roles)."""
        reach: dict[str, set[str]] = defaultdict(set)
        kinds: dict[str, str] = {}
        for result in self.accounts:
            for arn in result.capabilities:
                reach[arn].add(result.account_id)
                kinds.setdefault(arn, PrincipalKind.IDENTITY.value)
                for path in self.reaching(arn):
                    reach[path.principal].add(result.account_id)
                    kinds[path.principal] = path.kind.value
        rows = sorted(((len(accounts), principal, kinds[principal], ", ".join(sorted(accounts)))
                       for principal, accounts in reach.items()), key=lambda row: (-row[0], row[1]))
        return pd.DataFrame([(p, k, n, a) for n, p, k, a in rows[:top]],
                            columns=["principal", "kind", "accounts", "account_ids"])


Runner = Callable[[Callable[..., Any], Sequence[Any]], Iterator[tuple[int, Any, BaseException | None]]]
"""Runs a picklable function on each argument tuple and yields (index, result, error) as each finishes."""


@dataclass(frozen=True)
class _Star:
    """``function(*arguments)`` as a picklable one-argument callable, for runners that map one argument."""

    function: Callable[..., Any]

    def __call__(self, arguments: tuple[Any, ...]) -> Any:
        return self.function(*arguments)


def serial_runner(function: Callable[..., Any], items: Sequence[Any]) -> Iterator[tuple[int, Any, BaseException | None]]:
    """The default runner: one account after the other, in this process."""
    for index, item in enumerate(items):
        try:
            yield index, function(item), None
        except Exception as error:  # noqa: BLE001 - one account's failure must not stop the others
            yield index, None, error


def account_folders(folder: str | Path) -> tuple[OrganizationInfo | None, list[tuple[Path, str | None]]]:
    """The organization file (None without one) and each account folder to analyse, with its expected id."""
    folder = Path(folder)
    if is_organization_folder(folder):
        info = read_organization(folder)
        return info, [(member.folder, member.account_id) for member in info.accounts if member.folder is not None]
    return None, [(path, None) for path in find_snapshots(folder)]


def analyse_organization(
    folder: str | Path,
    *,
    context: Mapping[str, Any] | None = None,
    dataset: str | Path | None = None,
    runner: Runner = serial_runner,
    accounts_analysed: Mapping[Path, AccountResult] | None = None,
) -> OrganizationAnalysis:
    """Analyse every account of the organization at ``folder``, then the paths between accounts.

    ``runner`` decides where the per-account work runs (the report's executors provide one for a
    process pool or a Dask cluster); ``dataset``: a folder for the organization's matrix as Parquet,
    partitioned by account (``account_id=<id>/part-0.parquet``); ``accounts_analysed``: accounts
    analysed already, by resolved folder (:func:`account_result`), which are not analysed again.
    """
    info, folders = account_folders(folder)
    failures: list[AccountFailure] = [
        AccountFailure(None, member.account_id, member.error or "no snapshot folder")
        for member in (info.accounts if info is not None else ()) if member.folder is None
    ]
    known = accounts_analysed or {}
    results = {i: known[path.resolve()] for i, (path, _) in enumerate(folders) if path.resolve() in known}
    left = [i for i in range(len(folders)) if i not in results]
    step1 = _Star(analyse_account)
    for index, result, error in runner(step1, [(folders[i][0], context, dataset) for i in left]):
        if error is not None:
            failures.append(AccountFailure(folders[left[index]][0], folders[left[index]][1], _one_line(error)))
        else:
            results[left[index]] = result
    accounts = tuple(results[i] for i in sorted(results))
    by_id = {result.account_id: result for result in accounts}
    members = info.account_ids if info is not None else frozenset(by_id)
    all_roles = [trust for result in accounts for trust in result.trusts]
    parsed = [(role, _trust_statements(role.document)) for role in all_roles]
    management = info.management_account_id if info is not None else None
    rcps = {r.account_id: str(r.folder / RCPS_FILE) for r in accounts
            if (r.folder / RCPS_FILE).is_file() and r.account_id != management and not r.management_account}
    analysed = frozenset(by_id)
    candidates: dict[str, list[RoleTrust]] = defaultdict(list)
    for role, trusts in parsed:
        for source in _candidate(trusts, analysed):
            if source != role.account_id:
                candidates[source].append(role)
    jobs = []
    for result in accounts:
        roles = candidates.get(result.account_id, [])
        if roles:
            jobs.append((result.folder, info.organization_id if info is not None else None, roles,
                         {r.account_id: rcps[r.account_id] for r in roles if r.account_id in rcps}, context))
    edges: list[Edge] = []
    for index, found, error in runner(_Star(account_edges), jobs):
        if error is not None:
            failures.append(AccountFailure(jobs[index][0], None, f"cross-account paths: {_one_line(error)}"))
        else:
            edges.extend(found)
    edges.extend(outside_edges(parsed, members, analysed))
    return OrganizationAnalysis(info, accounts, tuple(failures), tuple(edges))


def _one_line(error: BaseException) -> str:
    text = str(error) if isinstance(error, SupportkitError) else f"{type(error).__name__}: {error}"
    return " ".join(text.split())
