"""Role trust policies: which callers a trust policy admits, and whether a caller can assume a role.

A trust policy is the role's resource-based policy (parsed with ``resource_policy=True``, so each
statement keeps its Principal). What AWS documents, and what this module applies:

- The trust policy must explicitly allow the caller: "IAM role trust policies and KMS key policies are
  exceptions to this logic, because they must explicitly allow access for principals."
  (How AWS enforcement code logic evaluates requests to allow or deny access,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html)
- Same account, trust policy naming the caller's own user or role ARN: no identity-based policy needs to
  allow; naming only the account (``:root`` or the account id): the caller's identity-based policies must
  allow ``sts:AssumeRole`` on the role (STS API Reference, AssumeRole,
  https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
- Another account: both the trust policy and the caller's own policies must allow (Cross-account policy
  evaluation logic,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html).
- The root user cannot call AssumeRole ("You cannot use AWS account root user credentials to call
  AssumeRole", STS API Reference, AssumeRole).
- Explicit denies and SCPs apply in every case.
- A request that passes session tags (``aws:RequestTag/...``, ``aws:TagKeys``) needs ``sts:TagSession``
  too: "In addition to the action that matches the API operation, you must have the following
  permissions-only action in your policy: sts:TagSession" (Pass session tags in AWS STS,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html); one that sets a source identity
  (``sts:SourceIdentity``) needs ``sts:SetSourceIdentity``, "in both the permissions policy of the
  principal who is assuming the role and in the role trust policy of the target role" (Monitor and control
  actions taken with assumed roles,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html). Each is
  decided as the assumption itself is (trust policy, and the caller's own policies as the trust requires);
  so when a trust policy's conditions require tags or a source identity, only callers allowed these
  actions can meet them.

Where AWS's pages disagree, the stricter reading is applied and reported as a caveat: the evaluation
logic page says a user named directly is not limited by its permissions boundary, while "Update a role
trust policy" (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-role-trust-policy.html)
says "If a permissions boundary is set for the user, then it must allow the sts:AssumeRole action";
here the boundary must allow. Principals named by a unique id (``AIDA...``, ``AROA...``) are principals
that were deleted (AWS replaces the ARN by the id): they match no caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from supportkit.iam.arn import account_of
from supportkit.iam.context import EMPTY_CONTEXT, RequestContext
from supportkit.iam.evaluate import (
    ROOT_CANNOT_ASSUME,
    Decision,
    NamedPolicy,
    PolicyKind,
    PolicyMatch,
    Principal,
    PrincipalType,
    Result,
    Subject,
    applicable_policies,
    decide,
    match_policy,
)
from supportkit.iam.policy import Effect, Policy, PrincipalElement, Statement

ASSUME_ROLE = "sts:AssumeRole"
ASSUME_ROLE_WITH_SAML = "sts:AssumeRoleWithSAML"
ASSUME_ROLE_WITH_WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
ASSUME_ACTIONS = (ASSUME_ROLE, ASSUME_ROLE_WITH_SAML, ASSUME_ROLE_WITH_WEB_IDENTITY)
TAG_SESSION = "sts:TagSession"
SET_SOURCE_IDENTITY = "sts:SetSourceIdentity"

BOUNDARY_CAVEAT = (
    "the user is named in the trust policy and has a permissions boundary: AWS's pages disagree on whether the "
    "boundary must allow sts:AssumeRole (policy evaluation logic: no; 'Update a role trust policy': yes); "
    "supportkit applies the stricter reading, so the boundary had to allow it"
)

# ASCII digits only ([0-9]): \d would take other scripts' digits too, and no account id has them.
_ACCOUNT_ENTRY = re.compile(r"([0-9]{12})|arn:[a-z-]+:iam::([0-9]{12}):root")
_UNIQUE_ID = re.compile(r"^A[A-Z0-9]{3}[A-Z0-9]{12,}$")


class CallerKind(str, Enum):
    AWS = "AWS"  # an IAM user or role session (or the root user) of some account
    SERVICE = "Service"
    FEDERATED = "Federated"


@dataclass(frozen=True)
class Caller:
    """Who asks to assume a role: an IAM principal, an AWS service, or a SAML/OIDC provider's users."""

    kind: CallerKind
    name: str  # the principal ARN, the service principal (lambda.amazonaws.com), or the provider ARN
    account: str | None = None  # the caller's account, for IAM principals
    principal: Principal | None = None

    @classmethod
    def of(cls, principal: Principal) -> Caller:
        return cls(CallerKind.AWS, principal.arn, principal.account, principal)

    @classmethod
    def account_principal(cls, account: str, partition: str = "aws") -> Caller:
        """Some IAM principal of ``account``, not known any further (an external account)."""
        return cls(CallerKind.AWS, f"arn:{partition}:iam::{account}:root", account)


class Grant(str, Enum):
    """How a trust statement's Principal admits a caller."""

    NONE = "none"
    ACCOUNT = "account"  # names the caller's account: its own policies must allow too
    DIRECT = "direct"  # names the caller itself, or every principal


def unique_id_principals(element: PrincipalElement) -> tuple[str, ...]:
    """AWS entries that are unique ids: the principal they named was deleted, so they match nobody."""
    return tuple(entry for entry in element.aws if _UNIQUE_ID.match(entry))


def account_entry(entry: str) -> str | None:
    """The account a Principal element's ``AWS`` entry names as a whole, its 12-digit id alone or its root ARN
    (they "behave the same way", AWS JSON policy elements: Principal, AWS account principals,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-accounts);
    None for any other entry."""
    match = _ACCOUNT_ENTRY.fullmatch(entry)
    return (match.group(1) or match.group(2)) if match else None


def _aws_grant(entry: str, caller: Caller) -> Grant:
    account = account_entry(entry)
    if account is not None:
        return Grant.ACCOUNT if account == caller.account else Grant.NONE
    principal = caller.principal
    if principal is None:
        return Grant.NONE
    if entry == principal.arn:
        return Grant.DIRECT
    if principal.type is PrincipalType.ASSUMED_ROLE and entry == principal.principal_arn:
        return Grant.DIRECT  # a role ARN admits every session of that role
    return Grant.NONE


def principal_grant(element: PrincipalElement, caller: Caller) -> Grant:
    """How ``element`` admits ``caller`` (for NotPrincipal: admitted when the caller is not listed)."""
    if element.everyone:  # "*": every principal, of any kind and any account
        listed = Grant.DIRECT
    elif caller.kind is CallerKind.SERVICE:
        listed = Grant.DIRECT if caller.name.lower() in {s.lower() for s in element.service} else Grant.NONE
    elif caller.kind is CallerKind.FEDERATED:
        listed = Grant.DIRECT if caller.name in element.federated else Grant.NONE
    else:
        grants = {_aws_grant(entry, caller) for entry in element.aws}
        listed = Grant.DIRECT if Grant.DIRECT in grants else Grant.ACCOUNT if Grant.ACCOUNT in grants else Grant.NONE
    if element.negated:
        return Grant.DIRECT if listed is Grant.NONE else Grant.NONE
    return listed


@dataclass(frozen=True)
class TrustMatch:
    """What a trust policy says of one caller's request: the matching statements and how they admit it."""

    match: PolicyMatch
    direct: bool  # some matching Allow names the caller itself (or everyone)


def match_trust(
    policy: Policy, caller: Caller, action: str, role_arn: str, context: RequestContext = EMPTY_CONTEXT
) -> TrustMatch:
    """The statements of a trust policy that apply to ``caller`` asking ``action`` on the role."""
    found = match_policy(policy, action, role_arn, context)
    allows: list[Statement] = []
    denies: list[Statement] = []
    direct = False
    for statement in (*found.allows, *found.denies):
        grant = principal_grant(statement.principal, caller) if statement.principal else Grant.NONE
        if grant is Grant.NONE:
            continue
        if statement.effect is Effect.ALLOW:
            allows.append(statement)
            direct = direct or grant is Grant.DIRECT
        else:
            denies.append(statement)
    return TrustMatch(PolicyMatch(tuple(allows), tuple(denies), found.keys), direct)


@dataclass(frozen=True)
class AssumeResult:
    """The decision on one role assumption, why, and the caveats of the reading applied."""

    result: Result
    direct: bool  # the trust policy named the caller, so no identity-based policy had to allow
    caveats: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.result.decision is Decision.ALLOWED


def can_assume(
    caller: Subject, trust: NamedPolicy, role_arn: str, action: str = ASSUME_ROLE,
    context: RequestContext = EMPTY_CONTEXT,
) -> AssumeResult:
    """Whether the IAM principal governed by ``caller`` can assume the role ``role_arn`` whose trust is ``trust``.

    ``caller`` holds the caller's own policies, boundary and SCPs; for a caller of another account they
    are that account's. ``trust.kind`` must be :attr:`PolicyKind.TRUST`. The caller's RCPs guard the
    resources of its own account, so they count only when the role is in that account
    (:meth:`Subject.rcps_apply_to` on the role's ARN).
    """
    principal = caller.principal
    if principal.is_root:
        return AssumeResult(Result(Decision.IMPLICIT_DENY, (), ROOT_CANNOT_ASSUME, (), False), False)
    full_context = context.with_defaults(principal.derived_context)
    result, direct = _decide_assumption(caller, trust, role_arn, action, full_context)
    for companion in session_actions(full_context):  # the request passes tags or a source identity
        if result.decision is not Decision.ALLOWED:
            break
        result = _decide_assumption(caller, trust, role_arn, companion, full_context)[0]
    caveats: tuple[str, ...] = ()
    if (direct and result.decision is Decision.ALLOWED and principal.type is PrincipalType.USER
            and caller.permissions_boundary is not None):
        caveats = (BOUNDARY_CAVEAT,)
    return AssumeResult(result, direct, caveats)


def session_action(key: str) -> str | None:
    """The permission-only action a request with the (lower-cased) ``key`` needs to assume a role: sts:TagSession
    for session tags (and transitive tag keys, which name session tags), sts:SetSourceIdentity for a source
    identity; None for other keys."""
    if key.startswith("aws:requesttag/") or key in ("aws:tagkeys", "sts:transitivetagkeys"):
        return TAG_SESSION
    return SET_SOURCE_IDENTITY if key == "sts:sourceidentity" else None


def session_actions(context: RequestContext) -> tuple[str, ...]:
    """The permission-only actions a role assumption carrying ``context`` needs besides its own action."""
    needed = {session_action(key) for key in context.keys()}
    return tuple(action for action in (TAG_SESSION, SET_SOURCE_IDENTITY) if action in needed)


def _decide_assumption(caller: Subject, trust: NamedPolicy, role_arn: str, action: str,
                       context: RequestContext) -> tuple[Result, bool]:
    """``action`` on the role decided with its trust policy; and whether the trust named the caller itself."""
    principal = caller.principal
    trusted = match_trust(trust.policy, Caller.of(principal), action, role_arn, context)
    matches = {
        named: match_policy(named.policy, action, role_arn, context) for named in applicable_policies(caller, action, role_arn)
    }
    matches[trust] = trusted.match
    direct = trusted.direct and account_of(role_arn) == principal.account
    return decide(caller, matches, trust=trust, trust_grants_directly=direct), direct


def admits_session_tags(trust: Policy) -> bool:
    """Whether some principal may tag its sessions of the role: an Allow of the trust policy covers
    sts:TagSession, which every way of passing session tags needs (AssumeRole, SAML, OIDC: "Pass session tags in
    AWS STS", Permissions required to add session tags, https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html).
    Conditions on it (which tags) are left aside: the tags a session may carry are then the request's."""
    return any(st.effect is Effect.ALLOW for st in trust.statements_for(TAG_SESSION))


def trust_policy(name: str, policy: Policy) -> NamedPolicy:
    """A parsed trust policy as the ``trust`` argument of :func:`can_assume`."""
    return NamedPolicy(name, PolicyKind.TRUST, policy)
