"""An organization's AWS Support access: every account's answers, and the paths that cross accounts.

The organization is read from a folder of account snapshots with an ``organization.json``
(:mod:`supportkit.snapshot.organization`), or from account folders alone. Each account is analysed on
its own (matrix, findings, headline: :func:`analyse_account`, the unit of work a process pool or a
Dask cluster runs), knowing the organization's accounts; then the cross-account edges are found in two
steps, so that no worker needs another account's identities:

1. each account lists the roles whose trust policy admits another account or anyone
   (:class:`TrustedRole`: the role, its trust policy and those sources, as
   :func:`supportkit.analysis.trust.trust_sources` reads them);
2. each account A gets the roles of other accounts that admit it, and decides for each of its identities
   whether it can assume them as who-can decides a role chain's step
   (:class:`supportkit.analysis.paths.RoleAssumptions`, :func:`supportkit.iam.trust.can_assume`): the trust
   policy in B must allow the principal and A's own policies (identity policies, boundary, A's SCPs) must
   allow the call on the role's ARN ("Cross-account policy evaluation logic", IAM User Guide,
   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html),
   under conditions enumerated and verified (:mod:`supportkit.analysis.conditions`). B's RCPs, where its
   folder has an ``rcps.json``, may still deny the call on B's role: STS is a service RCPs apply to
   ("Resource control policies", AWS Organizations User Guide). Then the same-account chains that lead to
   A's roles with such an edge (A's user assuming A's role that B's role trusts), and, from each account's
   own analysis, those that lead on from the roles other accounts may assume (B's entry role assuming B's
   role that reads cases), as who-can follows chains: to :data:`supportkit.analysis.paths.MAX_DEPTH`
   assumptions, without loops.

Principals a trust policy names outside the organization (another account, ``*``) become edges from an
outside node, named as such, under the conditions open to them
(:meth:`supportkit.analysis.trust.Organization.outsider_conditions`: ``"*"`` limited by ``aws:PrincipalOrgID``,
``aws:PrincipalOrgPaths`` or ``aws:PrincipalAccount`` to the organization is none). Paths chain edges; a path
counts when it crosses accounts.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

import pandas as pd

from supportkit.analysis.access import AccessDecision, cell_access
from supportkit.analysis.account_analysis import AccountAnalysis, analyse, member_context
from supportkit.analysis.conditions import Conditions
from supportkit.analysis.finding import FindingSources, Severity, produce_findings, severity_counts
from supportkit.analysis.findings import Persona, persona_actions
from supportkit.analysis.matrix import identity_context
from supportkit.analysis.paths import MAX_DEPTH, RoleAssumptions, SessionTags, Target, session_tags_needed
from supportkit.analysis.trust import Organization, SourceKind, TrustSource, principal_account, role_sources
from supportkit.support.catalog import load_catalog
from supportkit.support.rcps import rcp_services
from supportkit.errors import SupportkitError
from supportkit.iam.arn import account_of
from supportkit.iam.context import RequestContext
from supportkit.iam.evaluate import Decision, NamedPolicy, PolicyKind, Subject, evaluate
from supportkit.iam.policy import Policy, PolicyCache, parse_policy
from supportkit.iam.trust import ASSUME_ROLE, trust_policy
from supportkit.snapshot import Account, Identity, IdentityType, find_snapshots, load_account
from supportkit.snapshot.model import RCPS_FILE
from supportkit.snapshot.organization import (
    OrganizationInfo,
    is_organization_folder,
    read_organization,
)
from supportkit.snapshot.policies import PolicyParser
from supportkit.snapshot.scps import read_scps

OUTSIDE = "outside the organization"


class PrincipalKind(str, Enum):
    """Who stands at the start of a path: an identity of an analysed account, or someone outside the organization."""

    IDENTITY = "identity"
    OUTSIDE_ACCOUNT = "account outside the organization"
    ANYONE = "any AWS principal"
    UNANALYSED = "account of the organization not analysed"


@dataclass(frozen=True)
class TrustedRole:
    """A role whose trust policy admits another account or anyone, with those sources.

    It travels between processes: ``identity`` keeps only the role's ARN and principal, and the trust policy goes
    as its ``document`` (a parsed condition holds compiled functions, which do not pickle), parsed again where
    it is decided (:meth:`with_trust`).
    """

    identity: Identity
    document: Mapping[str, Any]
    sources: tuple[TrustSource, ...]
    # What a session of the role needs session tags for (a capability of :data:`CAPABILITIES`, ``any``, or the ARN
    # of a role it goes on to), with the tags, one set per way (:func:`~supportkit.analysis.paths.session_tags_needed`):
    # a caller that may not pass them gets a session without that access.
    tags_needed: Mapping[str, tuple[SessionTags, ...]] = field(default_factory=dict)

    def with_trust(self, cache: PolicyCache) -> Identity:
        """The role with its trust policy, parsed through ``cache`` (equal documents: one parsed policy)."""
        return replace(self.identity, trust=trust_policy(f"role/{self.identity.name}: trust policy",
                                                         cache.parse(self.document, resource_policy=True)))

    @property
    def arn(self) -> str:
        return self.identity.arn

    @property
    def account_id(self) -> str:
        return self.identity.subject.principal.account


@dataclass(frozen=True)
class AccountResult:
    """What one account's analysis sends back: its answers, and the roles other accounts may assume, for step 2."""

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
    roles: tuple[TrustedRole, ...]
    onward: tuple[Edge, ...]  # same-account steps from those roles into its other roles, and on
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class AccountFailure:
    folder: Path | None
    account_id: str | None
    error: str


@dataclass(frozen=True)
class Edge:
    """``source`` may assume ``role`` under ``conditions`` (verified by evaluating them): into another account,
    both sides allow it; inside one, the step of a same-account chain that leads to such an edge."""

    source: str
    source_kind: PrincipalKind
    source_account: str | None
    role: str
    role_account: str
    conditions: Conditions
    untagged: tuple[str, ...] = ()  # of the role's TrustedRole.tags_needed, what this source may not pass tags for

    @property
    def condition_keys(self) -> tuple[str, ...]:
        """The request keys the conditions need, as the policies write them; () when it is allowed always."""
        return tuple(dict.fromkeys(requirement.key for scenario in self.conditions.scenarios
                                   for requirement in scenario.requirements))

    @property
    def conditional(self) -> bool:
        return not self.conditions.always

    @property
    def crosses(self) -> bool:
        return self.source_account != self.role_account


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
"""What :attr:`AccountResult.capabilities` lists, and the persona column each comes from (allowed whatever the
request, or its ``_conditionally`` companion: only under some conditions); ``any`` is added for an identity
allowed any support, Trusted Advisor or support plan action, under conditions or not."""
ANY = "any"


# Step 1: one account


def analyse_account(folder: str | Path, context: Mapping[str, Any] | None = None,
                    dataset: str | Path | None = None,
                    organization: Organization | None = None) -> AccountResult:
    """:func:`supportkit.analysis.account_analysis.analyse` of one account of ``organization`` (None: not
    known), reduced to what the organization needs.

    With ``dataset``, the matrix is also written to ``dataset/account_id=<id>/part-0.parquet``.
    """
    analysis = analyse(Path(folder), context=context, organization=organization)
    return account_result(analysis, Path(folder), dataset)


def account_result(analysis: AccountAnalysis, folder: Path, dataset: str | Path | None = None) -> AccountResult:
    """What the organization needs of an account analysed already (the report pipeline analyses each once)."""
    account, findings, matrix = analysis.account, analysis.findings, analysis.matrix
    assert account is not None  # analyse() keeps the account it loaded
    people = findings["personas"]
    headline = {key: value for key, value in analysis.summary.items() if isinstance(value, int)}
    headline["any_support_access"] = int((people["persona_conditionally"] != Persona.NO_ACCESS.value).sum())
    capabilities = {  # a path into a role that can only under conditions is still a path to report
        row["identity_arn"]: (*(name for name, column in CAPABILITIES.items()
                                if row[column] or row[f"{column}_conditionally"]),
                              *((ANY,) if row["persona_conditionally"] != Persona.NO_ACCESS.value else ()))
        for row in people.to_dict(orient="records")
    }
    root_only = findings["root_only_access"]
    assumptions = RoleAssumptions(account, member_context(analysis.context, analysis.organization))
    roles = trusted_roles(account)
    onward = _onward(account, roles, assumptions)
    roles = tuple(_with_tags_needed(role, assumptions, capabilities.get(role.arn, ()), onward, matrix,
                                    findings["conditional_access"]) for role in roles)
    if dataset is not None:
        _write_partition(matrix, Path(dataset), account.info.account_id)
    plan = account.info.support_plan
    return AccountResult(
        folder, account.info.account_id, account.info.name, plan.value if plan is not None else None,
        account.info.management_account, headline,
        severity_counts(produce_findings(FindingSources(findings, matrix, account.info))),
        str(root_only["scope"].iloc[0]) if len(root_only) else "", len(findings["plan_gaps"]),
        {arn: caps for arn, caps in capabilities.items() if caps}, roles, onward,
        account.warnings,
    )


_OTHER_ACCOUNTS = frozenset({SourceKind.EXTERNAL, SourceKind.ANYONE})


def trusted_roles(account: Account) -> tuple[TrustedRole, ...]:
    """The roles of ``account`` whose trust policy admits, for ``sts:AssumeRole``, another account or anyone."""
    found = []
    every = role_sources(account)
    for identity in account.identities:
        if identity.type is not IdentityType.ROLE or identity.trust is None:
            continue
        sources = tuple(source for source in every[identity.arn]
                        if source.kind in _OTHER_ACCOUNTS and source.action == ASSUME_ROLE)
        if sources:
            slim = replace(identity, subject=Subject(identity.subject.principal), tags={}, groups=(),
                           managed_policy_arns=(), trust=None)
            found.append(TrustedRole(slim, identity.trust.policy.document, sources))
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


def _onward(account: Account, roles: Sequence[TrustedRole], assumptions: RoleAssumptions) -> tuple[Edge, ...]:
    """The same-account chains from the roles other accounts may assume into the account's other roles: a path
    into one of those roles goes on along them (B's entry role assuming B's role that reads cases)."""
    own = account.info.account_id
    steps = assumptions.chains_from(role.arn for role in roles) if roles else []
    return tuple(Edge(step.source, PrincipalKind.IDENTITY, own, step.target, own, step.conditions) for step in steps)


def _with_tags_needed(role: TrustedRole, assumptions: RoleAssumptions, capabilities: Sequence[str],
                      onward: Sequence[Edge], matrix: pd.DataFrame, conditional: pd.DataFrame) -> TrustedRole:
    """``role`` with what its sessions need session tags for (:attr:`TrustedRole.tags_needed`): each of its
    capabilities none of whose actions it may perform without them, and each next role it assumes only so.

    Only a role whose sessions may be tagged can need them; its actions allowed whatever the request need none,
    and only its ``conditional`` cells (:func:`~supportkit.analysis.access.cell_access`) are decided again.
    """
    identity = assumptions.account.identity(role.arn)
    if not identity.subject.session_tags:
        return role
    rows = (matrix["identity_arn"] == role.arn).to_numpy()
    states = dict(zip(matrix["action"].astype(str).to_numpy()[rows], cell_access(matrix[rows], conditional)))
    catalog = load_catalog()
    resource_of = Target("", tuple(catalog)).resource_of(role.account_id)
    key_actions = persona_actions(catalog)
    needed: dict[str, tuple[SessionTags, ...]] = {}
    for capability in capabilities:
        actions = list(states) if capability == ANY else key_actions[CAPABILITIES[capability]]
        found = [states.get(action) for action in actions]
        if AccessDecision.ALLOWED.value in found:
            continue
        tags = assumptions.tags_needed(identity, [a for a, f in zip(actions, found)
                                                  if f == AccessDecision.CONDITIONAL.value], resource_of)
        if tags:
            needed[capability] = tags
    for edge in onward:
        if edge.source == role.arn and (tags := session_tags_needed(identity, edge.conditions)):
            needed[edge.role] = tags
    return replace(role, tags_needed=needed) if needed else role


# Step 2: one account's identities against other accounts' roles


def account_edges(folder: str | Path, organization: Organization | None, roles: Sequence[TrustedRole],
                  rcps: Mapping[str, str] | None = None, context: Mapping[str, Any] | None = None) -> list[Edge]:
    """The edges from the identities of the account at ``folder`` to ``roles`` of other accounts, then the
    same-account chains into its roles that have such an edge.

    ``rcps``: the rcps.json of each role's account, by account id, where one exists (the management
    account's are not given: RCPs do not apply to its resources). The root user assumes no role: "You
    cannot use AWS account root user credentials to call AssumeRole" (AWS STS API Reference, AssumeRole,
    https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
    """
    account = load_account(folder)
    extra = member_context(context, organization)
    rcp_levels = {account_id: _rcp_levels(Path(path)) for account_id, path in (rcps or {}).items()}
    assumptions = RoleAssumptions(account, extra)
    own = account.info.account_id
    cache = PolicyCache()
    targets = [role.with_trust(cache) for role in roles]
    edges = []
    for identity in assumptions.callers():
        steps = [(role, target, step) for role, target in zip(roles, targets)
                 if (step := assumptions.step(identity, target)) is not None]
        if not steps:
            continue
        request = identity_context(identity, extra)  # once per identity, for the RCPs of every role it reaches
        edges += [Edge(identity.arn, PrincipalKind.IDENTITY, own, role.arn, role.account_id, step.conditions,
                       tuple(what for what, needed in role.tags_needed.items()
                             if not assumptions.can_tag(identity, target, needed)))
                  for role, target, step in steps
                  if not _rcp_denies(rcp_levels.get(role.account_id), identity.subject, role.arn, request)]
    roles_here = {identity.arn for identity in account.identities if identity.type is IdentityType.ROLE}
    edges += [Edge(step.source, PrincipalKind.IDENTITY, own, step.target, own, step.conditions)
              for step in assumptions.chains_into(edge.source for edge in edges if edge.source in roles_here)]
    return edges


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


def outside_edges(roles: Sequence[TrustedRole], organization: Organization, analysed: frozenset[str]) -> list[Edge]:
    """Edges from principals outside the organization, under the conditions open to them
    (:meth:`~supportkit.analysis.trust.Organization.outsider_conditions`), or from accounts of it that were not
    analysed."""
    edges = []
    members = organization.accounts
    for role in roles:
        for source in role.sources:
            conditions = organization.outsider_conditions(source)
            if source.kind is SourceKind.ANYONE:
                if conditions.ever:
                    edges.append(Edge(f"any AWS principal ({OUTSIDE})", PrincipalKind.ANYONE, None, role.arn,
                                      role.account_id, conditions))
                continue
            account = principal_account(source.principal)
            if account not in members:
                if conditions.ever:
                    edges.append(Edge(f"{source.principal} ({OUTSIDE})", PrincipalKind.OUTSIDE_ACCOUNT, account,
                                      role.arn, role.account_id, conditions))
            elif account not in analysed:
                edges.append(Edge(source.principal, PrincipalKind.UNANALYSED, account, role.arn, role.account_id,
                                  source.conditions))
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

    def reaching(self, target: str, capability: str = ANY) -> list[AccessPath]:
        """Every principal with a path of role assumptions to ``target``, for its ``capability``, that crosses
        accounts (breadth first).

        Same-account steps are followed too (a user assuming its account's role that another account's role
        trusts), at most :data:`~supportkit.analysis.paths.MAX_DEPTH` in a row as who-can follows chains; a path
        that stays in one account is that account's who-can answer, not listed here. A step into a role whose
        session needs tags to go on (to ``capability``, or to the path's next role) counts only where its source
        may pass them (:attr:`Edge.untagged`).
        """
        paths: list[AccessPath] = []
        seen = {(target, False)}
        queue: deque[tuple[str, tuple[str, ...], tuple[str, ...], bool, int]] = deque(
            [(target, (target,), (), False, 0)])
        while queue:
            node, steps, keys, crossed, inside = queue.popleft()
            onward = steps[1] if len(steps) > 1 else capability
            for edge in self._into.get(node, ()):
                if onward in edge.untagged:
                    continue
                crosses = crossed or edge.crosses
                run = 0 if edge.crosses else inside + 1
                if run > MAX_DEPTH or (edge.source, crosses) in seen or (edge.source, True) in seen:
                    continue
                seen.add((edge.source, crosses))
                path_keys = tuple(dict.fromkeys((*edge.condition_keys, *keys)))
                path = (edge.source, *steps)
                if crosses:
                    paths.append(AccessPath(edge.source, edge.source_kind, edge.source_account, path, path_keys))
                if edge.source_kind is PrincipalKind.IDENTITY:
                    queue.append((edge.source, path, path_keys, crosses, run))
        return paths

    def who_can(self, account_id: str, capability: str = "read") -> pd.DataFrame:
        """Who can ``capability`` (see :data:`CAPABILITIES`) in the account: its own identities, then paths into it."""
        result = self.account(account_id)
        rows: list[tuple[Any, ...]] = []
        for arn, caps in result.capabilities.items():
            if capability not in caps:
                continue
            rows.append((arn, PrincipalKind.IDENTITY.value, account_id, arn, "", False))
            for path in self.reaching(arn, capability):
                rows.append((path.principal, path.kind.value, path.account_id, path.describe(),
                             ", ".join(path.condition_keys), path.outside))
        return pd.DataFrame(rows, columns=["principal", "kind", "principal_account", "path", "condition_keys",
                                           "outside_organization"])

    def cross_account_paths(self) -> pd.DataFrame:
        """Each path from a principal to a role of another account with some support access, one row per path."""
        rows = []
        for result in self.accounts:
            for arn, caps in result.capabilities.items():
                reached: dict[AccessPath, list[str]] = {}  # each path with the capabilities it reaches
                for capability in caps:
                    for path in self.reaching(arn, capability):
                        reached.setdefault(path, []).append(capability)
                rows += [(result.account_id, arn, ", ".join(reached_caps), path.principal, path.kind.value,
                          path.account_id, path.describe(), path.outside, bool(path.condition_keys))
                         for path, reached_caps in reached.items()]
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
        return info, member_folders(info)
    return None, [(path, None) for path in find_snapshots(folder)]


def member_folders(info: OrganizationInfo) -> list[tuple[Path, str | None]]:
    """The snapshot folder of each account ``info`` lists with one, and its expected id."""
    return [(member.folder, member.account_id) for member in info.accounts if member.folder is not None]


def analyse_organization(
    folder: str | Path,
    *,
    context: Mapping[str, Any] | None = None,
    dataset: str | Path | None = None,
    runner: Runner = serial_runner,
    accounts_analysed: Mapping[Path, AccountResult] | None = None,
    info: OrganizationInfo | None = None,
) -> OrganizationAnalysis:
    """Analyse every account of the organization at ``folder``, then the paths between accounts.

    ``runner`` decides where the per-account work runs (the report's executors provide one for a
    process pool or a Dask cluster); ``dataset``: a folder for the organization's matrix as Parquet,
    partitioned by account (``account_id=<id>/part-0.parquet``); ``accounts_analysed``: accounts
    analysed already, by resolved folder (:func:`account_result`), which are not analysed again; ``info``: the
    folder's organization.json, when read already.
    """
    info, folders = (info, member_folders(info)) if info is not None else account_folders(folder)
    failures: list[AccountFailure] = [
        AccountFailure(None, member.account_id, member.error or "no snapshot folder")
        for member in (info.accounts if info is not None else ()) if member.folder is None
    ]
    known = accounts_analysed or {}
    results = {i: known[path.resolve()] for i, (path, _) in enumerate(folders) if path.resolve() in known}
    left = [i for i in range(len(folders)) if i not in results]
    step1 = _Star(analyse_account)
    def seen_from(account_id: str | None) -> Organization | None:
        return Organization.of(info, account_id) if info is not None else None

    for index, result, error in runner(step1, [(folders[i][0], context, dataset, seen_from(folders[i][1]))
                                               for i in left]):
        if error is not None:
            failures.append(AccountFailure(folders[left[index]][0], folders[left[index]][1], _one_line(error)))
        else:
            results[left[index]] = result
    accounts = tuple(results[i] for i in sorted(results))
    by_id = {result.account_id: result for result in accounts}
    organization = Organization(info.account_ids if info is not None else frozenset(by_id),
                                info.organization_id if info is not None else None)
    roles = [role for result in accounts for role in result.roles]
    management = info.management_account_id if info is not None else None
    rcps = {r.account_id: str(r.folder / RCPS_FILE) for r in accounts
            if (r.folder / RCPS_FILE).is_file() and r.account_id != management and not r.management_account}
    analysed = frozenset(by_id)
    candidates: dict[str, dict[str, TrustedRole]] = defaultdict(dict)
    for role in roles:
        for source in role.sources:
            admitted = analysed if source.kind is SourceKind.ANYONE else {principal_account(source.principal)} & analysed
            for account_id in admitted - {role.account_id}:
                candidates[account_id].setdefault(role.arn, role)
    jobs = []
    for result in accounts:
        into = list(candidates.get(result.account_id, {}).values())
        if into:
            jobs.append((result.folder, seen_from(result.account_id), into,
                         {r.account_id: rcps[r.account_id] for r in into if r.account_id in rcps}, context))
    edges: list[Edge] = []
    for index, found, error in runner(_Star(account_edges), jobs):
        if error is not None:
            failures.append(AccountFailure(jobs[index][0], None, f"cross-account paths: {_one_line(error)}"))
        else:
            edges.extend(found)
    edges.extend(edge for result in accounts for edge in result.onward)
    edges.extend(outside_edges(roles, organization, analysed))
    return OrganizationAnalysis(info, accounts, tuple(failures), tuple(edges))


def _one_line(error: BaseException) -> str:
    text = str(error) if isinstance(error, SupportkitError) else f"{type(error).__name__}: {error}"
    return " ".join(text.split())
