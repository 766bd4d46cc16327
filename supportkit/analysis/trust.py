"""Who can become each role: the sources its trust policy admits, each with the conditions it asks.

Sources, from the Principal element of each Allow statement that covers ``sts:AssumeRole``,
``sts:AssumeRoleWithSAML`` or ``sts:AssumeRoleWithWebIdentity``
(AWS JSON policy elements: Principal,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html):

- an IAM user or role of the account, named by ARN;
- the account itself (``arn:aws:iam::ACCOUNT:root`` or the account id): any of its principals whose own
  policies allow ``sts:AssumeRole`` on the role ("Using the account ARN in the Principal element does not
  limit permissions to only the root user of the account");
- another AWS account, or a principal of one (external: its own policies are not in the snapshot);
- an AWS service (``lambda.amazonaws.com``): a service role;
- a SAML or OIDC identity provider: anyone the provider issues a matching assertion or token to;
- IAM Identity Center: roles under ``/aws-reserved/sso.amazonaws.com/`` named
  ``AWSReservedSSO_<PermissionSet>_<suffix>`` ("IAM roles created by IAM Identity Center",
  https://docs.aws.amazon.com/singlesignon/latest/userguide/identity-center-and-iam-roles.html); the
  source is the permission set.

Which same-account principal can actually assume a role is decided in :mod:`supportkit.analysis.paths`
with :func:`supportkit.iam.trust.can_assume`; this module reads the trust policy alone.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Mapping
from types import MappingProxyType
from dataclasses import dataclass, replace
from enum import Enum

from supportkit.analysis.conditions import Conditions, Relation, Requirement, clauses_for, enumerate_conditions
from supportkit.iam.arn import account_of
from supportkit.iam.context import EMPTY_CONTEXT, RequestContext
from supportkit.iam.evaluate import Principal, PrincipalError
from supportkit.iam.policy import Effect
from supportkit.iam.trust import (
    ASSUME_ACTIONS,
    Caller,
    CallerKind,
    TAG_SESSION,
    account_entry,
    match_trust,
    session_action,
    session_actions,
    unique_id_principals,
)
from supportkit.snapshot.model import Account, Identity, IdentityType
from supportkit.snapshot.organization import OrganizationInfo

IDENTITY_CENTER_PATH = "/aws-reserved/sso.amazonaws.com/"
_PERMISSION_SET = re.compile(r"^AWSReservedSSO_(?P<name>.+)_[0-9A-Fa-f]+$")


class SourceKind(str, Enum):
    USER = "user"
    ROLE = "role"
    ACCOUNT = "account"  # the role's own account: any principal its policies allow
    EXTERNAL = "external account"
    SERVICE = "service"
    SAML = "SAML provider"
    OIDC = "OIDC provider"
    IDENTITY_CENTER = "Identity Center permission set"
    ANYONE = "anyone"  # "Principal": "*" or NotPrincipal


@dataclass(frozen=True)
class TrustSource:
    """One way into a role: who the trust policy admits, by which action, under which request conditions."""

    role: str  # the role's ARN
    kind: SourceKind
    principal: str  # as the trust policy names it: ARN, account id, service or provider ARN, "*"
    action: str
    conditions: Conditions  # what the trust policy needs from the request, for this source
    permission_set: str | None = None  # Identity Center only
    tags: bool = False  # the trust also lets it pass session tags (sts:TagSession) in some request

    @property
    def label(self) -> str:
        """The principal as people name it: the permission set for Identity Center."""
        return f"Identity Center permission set {self.permission_set}" if self.permission_set else self.principal


def permission_set(identity: Identity) -> str | None:
    """The Identity Center permission set behind an ``AWSReservedSSO_`` role, None for other roles."""
    if not identity.path.startswith(IDENTITY_CENTER_PATH):
        return None
    match = _PERMISSION_SET.match(identity.name)
    return match.group("name") if match else None


def _aws_source(entry: str, account_id: str) -> tuple[SourceKind, Caller] | None:
    account = account_entry(entry)
    if account is not None:
        kind = SourceKind.ACCOUNT if account == account_id else SourceKind.EXTERNAL
        return kind, Caller.account_principal(account)
    try:
        principal = Principal.parse(entry)
    except PrincipalError:
        return None  # a unique id (deleted principal) or text AWS would reject
    if principal.account != account_id:
        return SourceKind.EXTERNAL, Caller.of(principal)
    return (SourceKind.USER if principal.type.value == "User" else SourceKind.ROLE), Caller.of(principal)


def principal_account(principal: str) -> str:
    """The account of a principal as a trust policy names it: an ARN, or the account id alone ("" for neither)."""
    account = account_entry(principal)
    return account if account is not None else account_of(principal)


def _federated_kind(entry: str, identity: Identity) -> SourceKind:
    if ":saml-provider/" in entry:
        return SourceKind.IDENTITY_CENTER if permission_set(identity) else SourceKind.SAML
    return SourceKind.OIDC  # an oidc-provider ARN, or a web identity provider (accounts.google.com, ...)


def _base_context(caller: Caller) -> RequestContext:
    if caller.principal is not None:
        return caller.principal.derived_context
    if caller.account is not None:
        return RequestContext.of({"aws:PrincipalAccount": caller.account})
    return EMPTY_CONTEXT


def trust_sources(identity: Identity, account_id: str, known: dict[tuple, Conditions] | None = None
                  ) -> tuple[TrustSource, ...]:
    """The sources a role's trust policy admits (none for users, the root user, or a role whose trust is unknown).

    ``known``: conditions already worked out, shared by the roles with one trust policy (one parsed object for
    equal documents), which admits a caller alike on each role unless a statement names a Resource.
    """
    if identity.trust is None:
        return ()
    policy = identity.trust.policy
    known = {} if known is None else known
    role = None if all(st.any_resource for st in policy.statements) else identity.arn

    def conditions_of(caller: Caller, action: str) -> Conditions:
        key = (id(policy), role, caller, action)
        found = known.get(key)
        if found is None:
            found = known[key] = _trust_conditions(identity, caller, action)
        return found

    found: dict[tuple[SourceKind, str, str], TrustSource] = {}
    for statement in policy.statements:
        if statement.effect is not Effect.ALLOW or statement.principal is None:
            continue
        element = statement.principal
        stale = set(unique_id_principals(element))
        candidates: list[tuple[SourceKind, str, Caller]] = []
        if element.everyone or element.negated:
            candidates.append((SourceKind.ANYONE, "*", Caller(CallerKind.AWS, "*")))
        else:
            for entry in element.aws:
                source = None if entry in stale else _aws_source(entry, account_id)
                if source is not None:
                    candidates.append((source[0], entry, source[1]))
            candidates.extend((SourceKind.SERVICE, s, Caller(CallerKind.SERVICE, s)) for s in element.service)
            candidates.extend((_federated_kind(f, identity), f, Caller(CallerKind.FEDERATED, f))
                              for f in element.federated)
        for action in ASSUME_ACTIONS:
            if not statement.matches_action(action):
                continue
            for kind, principal, caller in candidates:
                key = (kind, principal, action)
                if key in found:
                    continue
                conditions = conditions_of(caller, action)
                if conditions.ever:
                    tags = identity.subject.session_tags and conditions_of(caller, TAG_SESSION).ever
                    found[key] = TrustSource(identity.arn, kind, principal, action, conditions, permission_set(identity),
                                             tags)
    return tuple(found.values())


def _trust_conditions(identity: Identity, caller: Caller, action: str) -> Conditions:
    """Under which request values the trust policy alone admits ``caller``.

    A request that passes session tags or a source identity is admitted only if the trust also allows
    ``sts:TagSession`` / ``sts:SetSourceIdentity`` to the caller, whoever it is: "trust policies for all roles
    connected to the identity provider (IdP) passing tags must have the sts:TagSession permission. For roles
    without this permission in the trust policy, the AssumeRole operation fails" (Pass session tags in AWS
    STS, https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html); for a principal's own policies
    see :func:`supportkit.iam.trust.can_assume`.
    """
    assert identity.trust is not None
    policy = identity.trust.policy

    def admits(context: RequestContext) -> bool:
        for needed in (action, *session_actions(context)):
            found = match_trust(policy, caller, needed, identity.arn, context).match
            if not found.allows or found.denies:
                return False
        return True

    clauses = clauses_for([policy], action)
    companions: set[str] = set()
    while True:  # a companion's own statements may read keys that need another companion
        needed = {found for clause in clauses if (found := session_action(clause.key.lower())) is not None}
        if needed <= companions:
            break
        for companion in sorted(needed - companions):
            clauses += clauses_for([policy], companion)
        companions |= needed
    return enumerate_conditions(admits, clauses, _base_context(caller))


@dataclass(frozen=True)
class Organization:
    """The account's organization, when the analysis knows it: the ids of its accounts and, when known, its own id
    (``o-`` and 10 to 32 lowercase letters or digits, as ``organization.json`` holds it) and the
    ``aws:PrincipalOrgPaths`` value of the analysed account's principals (``o-id/r-root/ou-.../``)."""

    accounts: frozenset[str]
    organization_id: str | None = None
    path: str | None = None

    @classmethod
    def of(cls, info: OrganizationInfo, account_id: str | None = None) -> "Organization":
        """The organization of ``organization.json``, seen from its account ``account_id`` (its path, when its
        parents lead up to the root; none for an account it does not list, or None)."""
        member = info.member(account_id) if account_id else None
        return cls(info.account_ids, info.organization_id,
                   info.principal_org_path(member) if member is not None else None)

    def request_keys(self) -> dict[str, str | list[str]]:
        """The keys every request of the account's principals carries: aws:PrincipalOrgID is "the identifier of
        the organization in AWS Organizations to which the requesting principal belongs", aws:PrincipalOrgPaths
        "the AWS Organizations path for the principal who is making the request" (AWS global condition context
        keys, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html), a
        multivalued key of the account's one path. Without them a trust, SCP or RCP that tests them (a data
        perimeter) would be decided as for a principal of no organization."""
        keys: dict[str, str | list[str]] = {}
        if self.organization_id is not None:
            keys["aws:PrincipalOrgID"] = self.organization_id
        if self.path is not None:
            keys["aws:PrincipalOrgPaths"] = [self.path]
        return keys

    def requires_member(self, requirement: Requirement) -> bool:
        """Whether only a principal of the organization's accounts can meet ``requirement``, by "AWS global condition
        context keys" (IAM User Guide, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html):

        - ``aws:PrincipalOrgID`` equal to the organization's id: "the identifier of the organization in AWS
          Organizations to which the requesting principal belongs", and "no two organizations share the same
          organization ID";
        - an ``aws:PrincipalOrgPaths`` value or pattern whose first segment is that id (``o-a1b2c3d4e5/*``: "every
          principal in the o-a1b2c3d4e5 organization"); a path without it could be another organization's, as
          "another organization might have an OU or root with the same ID as yours";
        - ``aws:PrincipalAccount`` equal to one of its accounts ("the account to which the requesting principal
          belongs").

        Other values (a wildcard in the id, "none of", the key absent) may be met from outside.
        """
        key = requirement.key.lower()
        value = requirement.value or ""
        if key == "aws:principalaccount":
            return requirement.relation is Relation.EQUALS and value in self.accounts
        if self.organization_id is None:
            return False
        if key == "aws:principalorgid":
            return requirement.relation is Relation.EQUALS and value == self.organization_id
        if key == "aws:principalorgpaths":
            return (requirement.relation in (Relation.EQUALS, Relation.LIKE) and "/" in value
                    and value.split("/", 1)[0] == self.organization_id)
        return False

    def outsider_conditions(self, source: TrustSource) -> Conditions:
        """The ways in of ``source`` open to a principal outside the organization: its verified scenarios that need
        no value only the organization's principals carry (:meth:`requires_member`)."""
        conditions = source.conditions
        kept = tuple(scenario for scenario in conditions.scenarios
                     if not any(map(self.requires_member, scenario.requirements)))
        return conditions if len(kept) == len(conditions.scenarios) else replace(conditions, scenarios=kept)

    def admits_only_members(self, source: TrustSource) -> bool:
        """Whether ``source`` is of the organization: another of its accounts (or a principal of one), or anyone
        (``"AWS": "*"``) under conditions that only its principals can meet (every way in needs the organization's
        id, path or accounts, the enumeration exhaustive). A named account outside it stays outside, whatever its
        conditions."""
        if source.kind is SourceKind.EXTERNAL:
            return principal_account(source.principal) in self.accounts
        return (source.kind is SourceKind.ANYONE and source.conditions.ever and source.conditions.exhaustive
                and not self.outsider_conditions(source).ever)


_ROLE_SOURCES: dict[int, tuple[weakref.ref[Account], Mapping[str, tuple[TrustSource, ...]]]] = {}
"""role_sources of each live account, by its id: who-can, the identity kinds and the findings all ask."""


def role_sources(account: Account) -> Mapping[str, tuple[TrustSource, ...]]:
    """The trust sources of every role of ``account``, by role ARN; worked out once per account (an
    :class:`Account` is immutable), and forgotten with it."""
    key = id(account)
    known = _ROLE_SOURCES.get(key)
    if known is not None and known[0]() is account:
        return known[1]
    conditions: dict[tuple, Conditions] = {}  # the parsed trust policies stay alive with the account
    found = MappingProxyType({i.arn: trust_sources(i, account.info.account_id, conditions)
                              for i in account.identities if i.type is IdentityType.ROLE})
    _ROLE_SOURCES[key] = (weakref.ref(account, lambda _: _ROLE_SOURCES.pop(key, None)), found)
    return found
