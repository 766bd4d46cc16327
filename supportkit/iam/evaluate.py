"""IAM policy evaluation logic for one request, as the IAM User Guide documents it, with an explanation.

Order of the documented flow (:data:`EVALUATION_ORDER`, read by this module and by the vectorised matrix): an
explicit Deny in any applicable policy wins, RCPs included; then every SCP level, from the organization root to
the account, must allow (SCPs do not apply in the management account nor to service-linked roles); then
identity-based policies must allow; then the permissions boundary, when present, must allow; then the session
policy of a role session, when present, must allow (AWS checks none for other principals). Otherwise the
request is implicitly denied. The account root user is not governed by identity policies or boundaries.

RCPs (AWS Organizations, "Resource control policies (RCPs)",
https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html) take part in the
deny step only: "The effect of Allow is only supported for the RCPFullAWSAccess policy", which AWS attaches to
the root, every OU and every account and which "You cannot detach" ("RCP evaluation"), so every RCP level
allows. They apply to the services AWS lists (passed in as data: :attr:`Subject.rcp_services`), never in the
management account ("RCPs don't affect resources in the management account") nor to service-linked roles
("RCPs do not apply to calls made by service-linked roles"), and they do bind the root user of a member account
("This includes root users"). The Support actions have no resource type; the RCPs of the account making the
request are applied to them (the RCP page names the resource owner's account; with no resource, that is the
account itself, an inference stated in the README).

Everything here is pure: no I/O, policies already parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from enum import Enum
from typing import Any, Collection, Iterable, Mapping

from supportkit.iam.arn import Arn
from supportkit.iam.context import EMPTY_CONTEXT, RequestContext
from supportkit.iam.keys import PRINCIPAL_TAG
from supportkit.errors import SupportkitError
from supportkit.iam.policy import Effect, Policy, Statement
from supportkit.lazy import cached_property


class Decision(str, Enum):
    """The IAM policy simulator's words for the outcome of a request."""

    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicitDeny"
    IMPLICIT_DENY = "implicitDeny"


class PolicyKind(str, Enum):
    IDENTITY = "identity"
    BOUNDARY = "permissions boundary"
    SESSION = "session policy"
    SCP = "scp"
    RCP = "rcp"
    TRUST = "role trust policy"  # a role's trust policy, in role assumptions (supportkit.iam.trust)


EVALUATION_ORDER: tuple[PolicyKind, ...] = (
    PolicyKind.RCP, PolicyKind.SCP, PolicyKind.IDENTITY, PolicyKind.BOUNDARY, PolicyKind.SESSION,
)
"""The layers in AWS's documented order. After the deny step over every applicable policy, each layer of
:data:`MUST_ALLOW` must allow (SCPs: each level); RCPs always allow (RCPFullAWSAccess) and only deny."""
MUST_ALLOW: tuple[PolicyKind, ...] = tuple(kind for kind in EVALUATION_ORDER if kind is not PolicyKind.RCP)


class PrincipalType(str, Enum):
    """The value of ``aws:PrincipalType`` for each kind of principal supportkit evaluates."""

    ROOT = "Account"
    USER = "User"
    ASSUMED_ROLE = "AssumedRole"


class PrincipalError(SupportkitError, ValueError):
    """A principal ARN that is not a user, role, assumed-role session or account root."""




@dataclass(frozen=True)
class Principal:
    """Who makes the request. A role is evaluated as a session of that role."""

    arn: str
    partition: str
    account: str
    type: PrincipalType
    name: str  # user name, role name, or the account id for the root user
    path: str = "/"
    session_name: str | None = None

    @classmethod
    def parse(cls, arn: Any) -> "Principal":
        if not isinstance(arn, str):
            raise PrincipalError(f"principal must be an ARN string, not {type(arn).__name__}")
        parsed = Arn.parse(arn)
        if (parsed is None or not parsed.in_known_partition or parsed.service not in ("iam", "sts") or parsed.region
                or not parsed.in_an_account or not parsed.resource or "\n" in parsed.resource):
            raise PrincipalError(f"principal {arn!r} is not an IAM user, role, assumed-role or root ARN")
        partition, service, account, resource = parsed.partition, parsed.service, parsed.account, parsed.resource
        if service == "iam" and resource == "root":
            return cls(arn, partition, account, PrincipalType.ROOT, account)
        if service == "iam" and resource.startswith(("user/", "role/")):
            kind, _, rest = resource.partition("/")
            path, _, name = rest.rpartition("/")
            if not name:
                raise PrincipalError(f"principal {arn!r} has no {kind} name")
            path = f"/{path}/" if path else "/"
            principal_type = PrincipalType.USER if kind == "user" else PrincipalType.ASSUMED_ROLE
            return cls(arn, partition, account, principal_type, name, path)
        if service == "sts" and resource.startswith("assumed-role/"):
            parts = resource.split("/")
            if len(parts) != 3 or not parts[1] or not parts[2]:
                raise PrincipalError(f"principal {arn!r} must be assumed-role/ROLE/SESSION")
            return cls(arn, partition, account, PrincipalType.ASSUMED_ROLE, parts[1], "/", parts[2])
        raise PrincipalError(f"principal {arn!r} is not an IAM user, role, assumed-role or root ARN")

    @property
    def is_root(self) -> bool:
        return self.type is PrincipalType.ROOT

    @property
    def is_session(self) -> bool:
        """A role session (roles are evaluated as sessions): the only principal a session policy can limit."""
        return self.type is PrincipalType.ASSUMED_ROLE

    @property
    def service_linked(self) -> bool:
        """Service-linked roles are exempt from SCPs and RCPs.

        They live under /aws-service-role/, and a session of one, given by its assumed-role ARN (which has no
        path), is known by the role name: "service-linked roles ... names begin with AWSServiceRoleFor" (IAM
        User Guide, "Create a service-linked role",
        https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create-service-linked-role.html).
        """
        if self.type is not PrincipalType.ASSUMED_ROLE:
            return False
        if self.session_name is not None:
            return self.name.startswith("AWSServiceRoleFor")
        return self.path.startswith("/aws-service-role/")

    @property
    def principal_arn(self) -> str:
        """``aws:PrincipalArn``: for a role session, the ARN of the role rather than of the session."""
        if self.type is PrincipalType.ASSUMED_ROLE:
            return f"arn:{self.partition}:iam::{self.account}:role{self.path}{self.name}"
        return self.arn

    @cached_property
    def derived_context(self) -> RequestContext:
        """The global condition keys AWS sets from the principal alone."""
        return RequestContext.of(self.derived_keys())

    def derived_keys(self, *, unique_id: str | None = None, tags: Mapping[str, str] | None = None) -> dict[str, str]:
        """The global condition keys AWS sets from the principal: the one place supportkit derives them.

        ``unique_id`` is ``aws:userid`` for a user (its user id) or role session (``ROLEID:SESSION``), when known;
        ``tags`` are the principal's tags (``aws:PrincipalTag/KEY``).
        """
        keys = {
            "aws:PrincipalArn": self.principal_arn,
            "aws:PrincipalAccount": self.account,
            "aws:PrincipalType": self.type.value,
            # Present in every request signed with AWS credentials; true only for AWS service principals.
            "aws:PrincipalIsAWSService": "false",
        }
        if self.type is PrincipalType.USER:
            keys["aws:username"] = self.name
        if self.type is PrincipalType.ROOT:
            keys["aws:userid"] = self.account
        elif unique_id:
            keys["aws:userid"] = unique_id
        for key, value in (tags or {}).items():
            keys[f"aws:PrincipalTag/{key}"] = value
        return keys


@dataclass(frozen=True, eq=False)
class NamedPolicy:
    """A parsed policy with where it applies: its name, its kind and, for SCPs, its level and target.

    Compared by identity: the same document attached twice is two attachments.
    """

    name: str
    kind: PolicyKind
    policy: Policy
    level: int | None = None
    target: str | None = None


@dataclass(frozen=True)
class Subject:
    """Everything that governs one principal's requests."""

    principal: Principal
    identity_policies: tuple[NamedPolicy, ...] = ()
    permissions_boundary: NamedPolicy | None = None
    session_policy: NamedPolicy | None = None
    scp_levels: tuple[tuple[NamedPolicy, ...], ...] = ()
    management_account: bool = False
    rcp_levels: tuple[tuple[NamedPolicy, ...], ...] = ()
    rcp_services: frozenset[str] | None = None  # lower-cased prefixes RCPs apply to; None: every service
    rcp_account: str | None = None  # the account whose RCPs rcp_levels are; None: the principal's
    # A role whose trust policy lets its assumer pass session tags (sts:TagSession): those override the role's
    # own tags, so ``aws:PrincipalTag`` is the request's to choose, not a fact of the role (is_principal_key).
    session_tags: bool = False

    @property
    def scps_apply(self) -> bool:
        """SCPs restrict member accounts only, and never service-linked roles."""
        return bool(self.scp_levels) and not self.management_account and not self.principal.service_linked

    @property
    def rcps_in_force(self) -> bool:
        """RCPs bind member accounts only, and never service-linked roles."""
        return bool(self.rcp_levels) and not self.management_account and not self.principal.service_linked

    def rcps_apply_to(self, action: str, resource: str = "*") -> bool:
        """The RCPs of this principal's account, in force, apply to ``action`` on ``resource``.

        Only on the services AWS lists, and only on the account's own resources: "If a resource is specified in
        the Resource type column, then the RCPs of the resource owner's account are applied" (AWS Organizations,
        "Resource control policies (RCPs)"). A request on ``*`` (an action without a resource type, as every
        Support action) is taken to be on the account itself; an ARN without an account field cannot be told
        apart, and counts as the account's.
        """
        services = self.rcp_services
        if not self.rcps_in_force or (services is not None and action.partition(":")[0].lower() not in services):
            return False
        arn = Arn.parse(resource)
        return arn is None or arn.account in ("", self.rcp_account or self.principal.account)

    @property
    def rcps(self) -> tuple[NamedPolicy, ...]:
        return tuple(named for level in self.rcp_levels for named in level)

    @property
    def session_policy_in_force(self) -> NamedPolicy | None:
        """The session policy of a session principal; AWS checks none for an IAM user or the root user."""
        return self.session_policy if self.principal.is_session else None

    @cached_property
    def layers(self) -> tuple["Layer", ...]:
        """The layers that must each allow, in the order of :data:`MUST_ALLOW`; the root user has only SCP levels."""
        layers: list[Layer] = []
        root = self.principal.is_root
        for kind in MUST_ALLOW:
            if kind is PolicyKind.SCP:
                if self.scps_apply:
                    layers.extend(_scp_layers(tuple(map(tuple, self.scp_levels))))  # lists, as a caller may give them
            elif root:
                continue
            elif kind is PolicyKind.IDENTITY:
                layers.append(Layer(_BLOCKERS[kind], self.identity_policies))
            elif kind is PolicyKind.BOUNDARY and self.permissions_boundary is not None:
                layers.append(Layer(_BLOCKERS[kind], (self.permissions_boundary,)))
            elif kind is PolicyKind.SESSION and self.session_policy_in_force is not None:
                layers.append(Layer(_BLOCKERS[kind], (self.session_policy_in_force,)))
        return tuple(layers)


@dataclass(frozen=True)
class Blocker:
    """The step of the evaluation that failed to allow, as a code; :attr:`text` gives its words, at output only.

    ``kind``: the layer's kind (``level`` and ``target`` of an SCP level), or None for a request no layer can
    allow, the root user's ``sts:AssumeRole``.
    """

    kind: PolicyKind | None
    level: int | None = None
    target: str | None = None

    @property
    def text(self) -> str:
        """What ``blocked_by`` says: ``SCP level 1 (ou-...)``, ``identity-based policy``, ``permissions boundary``..."""
        if self.kind is None:
            return "root user (cannot call AssumeRole)"
        if self.kind is PolicyKind.SCP:
            return f"SCP level {self.level}" + (f" ({self.target})" if self.target else "")
        if self.kind is PolicyKind.IDENTITY:
            return "identity-based policy"
        return str(self.kind.value)


_BLOCKERS = {kind: Blocker(kind) for kind in MUST_ALLOW}
"""The blocker of each layer other than an SCP level's (made once: each subject's layers name one)."""

ROOT_CANNOT_ASSUME = Blocker(None)
"""The root user cannot call AssumeRole: no layer of its could allow it."""


@dataclass(frozen=True)
class Layer:
    """One step of the evaluation that must allow; ``blocker`` is what the decision names when it does not."""

    blocker: Blocker
    policies: tuple[NamedPolicy, ...]

    @property
    def kind(self) -> PolicyKind | None:
        return self.blocker.kind


@dataclass(frozen=True)
class StatementRef:
    """Names one statement that took part in a decision."""

    policy: str
    kind: PolicyKind
    index: int
    sid: str | None
    effect: Effect
    level: int | None = None
    target: str | None = None

    @cached_property
    def description(self) -> str:
        """One line for people: effect, layer, policy, statement index and Sid."""
        if self.kind in (PolicyKind.SCP, PolicyKind.RCP):
            where = f"{self.kind.value.upper()} level {self.level}" + (f" ({self.target}) " if self.target else " ")
        else:
            where = f"{self.kind.value} "
        sid = f" (Sid {self.sid})" if self.sid else ""
        return f"{self.effect.value} in {where}policy {self.policy!r} Statement[{self.index}]{sid}"

    @cached_property
    def json(self) -> dict[str, Any]:
        """The ``deciding_statements`` entry of a simulate result (shared: do not modify)."""
        data: dict[str, Any] = {
            "policy": self.policy, "kind": self.kind.value, "statement": self.index, "sid": self.sid,
            "effect": self.effect.value,
        }
        if self.kind in (PolicyKind.SCP, PolicyKind.RCP):
            data[f"{self.kind.value}_level"] = self.level
            data["target"] = self.target
        return data


@dataclass(frozen=True)
class Result:
    """A decision and why: the statements that decided it, the layer that blocked, the keys consulted."""

    decision: Decision
    deciding: tuple[StatementRef, ...]
    blocker: Blocker | None
    context_keys: tuple[str, ...]
    conditional: bool

    @property
    def blocked_by(self) -> str | None:
        """The blocking layer in words (``identity-based policy``), for an implicit deny."""
        return self.blocker.text if self.blocker is not None else None

    @property
    def summary(self) -> str:
        if self.decision is Decision.EXPLICIT_DENY:
            return "explicitly denied by " + "; ".join(ref.description for ref in self.deciding)
        if self.decision is Decision.IMPLICIT_DENY:
            return f"implicitly denied: no {self.blocked_by} statement allows it"
        granted = [ref.description for ref in self.deciding if ref.kind in (PolicyKind.IDENTITY, PolicyKind.TRUST)]
        return "allowed by " + ("; ".join(granted) if granted else "the root user's full access")

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision.value,
            "explanation": {
                "summary": self.summary,
                "deciding_statements": [ref.json for ref in self.deciding],
                "blocked_by": self.blocked_by,
                "context_keys": list(self.context_keys),
                "conditional": self.conditional,
            },
        }


@dataclass(frozen=True)
class PolicyMatch:
    """What one policy says of one request: its matching Allow and Deny statements."""

    allows: tuple[Statement, ...]
    denies: tuple[Statement, ...]
    keys: tuple[str, ...]


NO_MATCH = PolicyMatch((), (), ())


def match_policy(policy: Policy, action: str, resource: str, context: RequestContext) -> PolicyMatch:
    """The statements of ``policy`` that apply to the request (Action, then Resource, then Condition)."""
    candidates = policy.statements_for_request(action, resource)
    if not candidates:
        return NO_MATCH
    allows: list[Statement] = []
    denies: list[Statement] = []
    keys: list[str] = []
    for statement in candidates:
        if statement.context_dependent:
            keys.extend(statement.keys_read)
        if statement.matches_resource(resource, context) and statement.conditions_hold(context):
            (allows if statement.effect is Effect.ALLOW else denies).append(statement)
    return PolicyMatch(tuple(allows), tuple(denies), tuple(keys))


@lru_cache(maxsize=65536)
def _ref(policy: NamedPolicy, statement: Statement) -> StatementRef:
    return StatementRef(
        policy.name, policy.kind, statement.index, statement.sid, statement.effect, policy.level, policy.target
    )


def refs(policy: NamedPolicy, statements: Iterable[Statement]) -> list[StatementRef]:
    """The references to ``statements`` of ``policy`` that an explanation lists (shared objects)."""
    return [_ref(policy, statement) for statement in statements]


@lru_cache(maxsize=64)
def _scp_layers(levels: tuple[tuple[NamedPolicy, ...], ...]) -> tuple[Layer, ...]:
    """The layers of SCP levels, made once for the many subjects that share them (every identity of an account).

    A few entries are enough (one account's identities share their levels), and the cache holds its policies
    alive: a long run over many accounts keeps no more than these."""
    layers = []
    for index, level in enumerate(levels):
        target = level[0].target if level and level[0].target else None
        layers.append(Layer(Blocker(PolicyKind.SCP, index, target), level))
    return tuple(layers)


_PRINCIPAL_KEYS = frozenset({
    "aws:principalarn", "aws:principalaccount", "aws:principaltype", "aws:username", "aws:userid",
    "aws:principalorgid", "aws:principalorgpaths", "aws:principalisawsservice", "aws:principalservicename",
    "aws:principalservicenameslist",
})
# A role's trust policy is checked after the SCPs, before the identity-based policies (the documented flow).
_KIND_ORDER = {kind: rank for rank, kind in enumerate((*EVALUATION_ORDER[:2], PolicyKind.TRUST, *EVALUATION_ORDER[2:]))}


def is_principal_key(key: str, session_tags: bool = False) -> bool:
    """Whether a (lower-cased) context key describes the principal itself: its ARN, name, account, tags.

    Such a key has the same value in every request of the principal, so a condition on it alone does
    not make a decision ``conditional``. Except a tag of a role whose sessions may be tagged
    (:attr:`Subject.session_tags`): "You can pass a session tag with the same key as a tag that is already
    attached to the role. When you do, session tags override a role tag with the same key" (AWS STS API
    Reference, AssumeRole, ``Tags``), and a session may carry tags the role does not have.
    """
    return key in _PRINCIPAL_KEYS or (not session_tags and key.startswith(PRINCIPAL_TAG))


def reads_request(keys: Collection[str], session_tags: bool = False) -> bool:
    """Whether some of the (lower-cased) ``keys`` is not the principal's own (:func:`is_principal_key`,
    ``session_tags`` as there): a request can then change what reads them."""
    if not all(map(is_principal_key, keys)):
        return True
    return session_tags and any(key.startswith(PRINCIPAL_TAG) for key in keys)


def _canonical(refs: list[StatementRef]) -> tuple[StatementRef, ...]:
    """Statements in a stable order (layer, SCP level, policy name, index), whatever the attachment order."""
    if len(refs) < 2:
        return tuple(refs)
    return tuple(sorted(refs, key=lambda r: (_KIND_ORDER[r.kind], r.level or 0, r.policy, r.index)))


def explain(decision: Decision, deciding: list[StatementRef], blocker: Blocker | None, keys: set[str],
            session_tags: bool = False) -> Result:
    """The one place a decision's explanation is assembled, by :func:`decide` and by the permission matrix.

    ``deciding``: every matching Deny for an explicit deny, every matching Allow of every layer for an
    allow, nothing for an implicit deny (``blocker`` is the first layer without an Allow instead).
    ``keys``: the context keys consulted by the statements whose Action covers the request;
    ``session_tags``: the subject's (:attr:`Subject.session_tags`).
    """
    return Result(decision, _canonical(deciding), blocker, *consulted_keys(keys, session_tags))


def consulted_keys(keys: set[str], session_tags: bool = False) -> tuple[tuple[str, ...], bool]:
    """The ``context_keys`` of an explanation (sorted) and whether they make the decision ``conditional``
    (:func:`is_principal_key`, ``session_tags`` as there)."""
    context_keys = tuple(sorted(keys)) if keys else ()
    return context_keys, reads_request(context_keys, session_tags)


def decide(
    subject: Subject, matches: dict[NamedPolicy, PolicyMatch], *, trust: NamedPolicy | None = None,
    trust_grants_directly: bool = False,
) -> Result:
    """Combine per-policy matches into the decision, following the documented evaluation order.

    The order is :attr:`Subject.layers` after a first pass for explicit denies; the matrix reads the same.
    ``trust``: the request is a role assumption, and ``matches`` holds the role's trust policy too, which
    must explicitly allow it (checked after the SCPs). ``trust_grants_directly``: the trust policy names
    this same-account principal itself, so no identity-based policy needs to allow; denies, SCPs and the
    boundary still apply.
    """
    keys: set[str] = set()
    denies: list[StatementRef] = []
    for named, found in matches.items():
        if found.keys:
            keys.update(found.keys)
        if found.denies:
            denies.extend(refs(named, found.denies))
    if denies:
        return explain(Decision.EXPLICIT_DENY, denies, None, keys, subject.session_tags)
    allows: list[StatementRef] = []
    layers = subject.layers
    if trust is not None:  # after the SCPs, before the identity-based policies, as the documented flow orders
        at = sum(layer.kind is PolicyKind.SCP for layer in layers)
        layers = (*layers[:at], Layer(Blocker(PolicyKind.TRUST), (trust,)), *layers[at:])
    for layer in layers:
        layer_allows: list[StatementRef] = []
        for named in layer.policies:
            if found_allows := matches[named].allows:
                layer_allows.extend(refs(named, found_allows))
        if not layer_allows and not (trust_grants_directly and layer.kind is PolicyKind.IDENTITY):
            return explain(Decision.IMPLICIT_DENY, [], layer.blocker, keys, subject.session_tags)
        allows.extend(layer_allows)
    return explain(Decision.ALLOWED, allows, None, keys, subject.session_tags)


def not_restricted_by_scps(subject: Subject, action: str, result: Result, exempt: Mapping[str, str]) -> str | None:
    """Why ``result``'s denial is not firm, when only SCPs deny a task AWS says SCPs cannot restrict; else None.

    Organizations, "Service control policies (SCPs)", "Tasks and entities not restricted by SCPs"
    (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html#not-restricted-by-scp),
    lists tasks of the root user, such as "Register for the Enterprise support plan as the root user". Which
    actions those tasks are is Support knowledge, passed in as ``exempt``: lower-cased action -> the reason.
    """
    reason = exempt.get(action.lower())
    if reason is None or not subject.principal.is_root or not subject.scps_apply:
        return None
    if result.decision is Decision.EXPLICIT_DENY and all(ref.kind is PolicyKind.SCP for ref in result.deciding):
        return reason
    if result.decision is Decision.IMPLICIT_DENY and result.blocker is not None and result.blocker.kind is PolicyKind.SCP:
        return reason
    return None


def applicable_policies(subject: Subject, action: str | None = None, resource: str = "*") -> tuple[NamedPolicy, ...]:
    """The policies that take part in this subject's decisions: on ``action`` and ``resource``, or on some
    request when ``action`` is None."""
    in_force = subject.rcps_in_force if action is None else subject.rcps_apply_to(action, resource)
    policies = [*subject.rcps] if in_force else []
    for layer in subject.layers:
        policies.extend(layer.policies)
    return tuple(policies)


def evaluate(subject: Subject, action: str, resource: str = "*", context: RequestContext = EMPTY_CONTEXT) -> Result:
    """The decision AWS reaches for ``subject`` requesting ``action`` on ``resource`` in ``context``."""
    full_context = context.with_defaults(subject.principal.derived_context)
    matches: dict[NamedPolicy, PolicyMatch] = {}
    for named in applicable_policies(subject, action, resource):
        matches[named] = match_policy(named.policy, action, resource, full_context)
    return decide(subject, matches)
