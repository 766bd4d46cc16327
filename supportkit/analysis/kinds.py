"""What kind of identity each principal is: a person's, a workload's, AWS's own, or another account's.

- human: an IAM user; a role reached through SAML, OIDC or Identity Center; a role that the account's
  own principals, or a human role, can assume;
- workload: a role that only AWS services (or workload roles) can assume;
- service-linked: a role under ``/aws-service-role/``, defined and managed by its service: "An IAM
  administrator can view, but not edit the permissions for service-linked roles" (Using service-linked
  roles, https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html);
- external: a role an account outside the organization (or anyone) can assume, and such an account as the
  source of a path; when the organization is not known, every other account is external;
- inside the organization: when the organization is known (:class:`supportkit.analysis.trust.Organization`),
  another account of it as the source of a path, or anyone whom the trust policy admits only from it
  (``aws:PrincipalOrgID``, ``aws:PrincipalOrgPaths`` or ``aws:PrincipalAccount`` conditions:
  :meth:`~supportkit.analysis.trust.Organization.admits_only_members`); and a role that such sources, and
  no outside one, can assume;
- federated: an identity provider or Identity Center permission set, as a source of a path;
- root: the account root user;
- unknown: a role whose trust policy is missing or could not be read: who uses it cannot be told, so
  findings for people still list it.

A role's kind follows from its trust sources; a role assumable by a human, organization or external role
takes that kind too (external first, then inside the organization, then human).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum

from supportkit.analysis.trust import Organization, SourceKind, TrustSource, role_sources
from supportkit.snapshot.model import Account, Identity, IdentityType


class IdentityKind(str, Enum):
    HUMAN = "human"
    WORKLOAD = "workload"
    SERVICE_LINKED = "service-linked"
    EXTERNAL = "external"
    ORGANIZATION = "inside the organization"
    FEDERATED = "federated"
    ROOT = "root"
    UNKNOWN = "unknown"

    @property
    def people(self) -> bool:
        """Whether people may sign in as it (console findings concern these kinds only; unknown counts)."""
        return self not in (IdentityKind.WORKLOAD, IdentityKind.SERVICE_LINKED)


SOURCE_KINDS = {
    SourceKind.USER: IdentityKind.HUMAN,
    SourceKind.ACCOUNT: IdentityKind.HUMAN,
    SourceKind.EXTERNAL: IdentityKind.EXTERNAL,
    SourceKind.ANYONE: IdentityKind.EXTERNAL,
    SourceKind.SERVICE: IdentityKind.WORKLOAD,
    SourceKind.SAML: IdentityKind.FEDERATED,
    SourceKind.OIDC: IdentityKind.FEDERATED,
    SourceKind.IDENTITY_CENTER: IdentityKind.FEDERATED,
}
"""The kind of a path's first principal, by the kind of trust source it is."""


def source_kind(source: TrustSource, organization: Organization | None = None) -> IdentityKind:
    """The kind of the principal a path starts from at ``source``: :data:`SOURCE_KINDS`, except that another
    account (or anyone) is inside the organization when ``organization`` says only its principals come in."""
    kind = SOURCE_KINDS[source.kind]
    if kind is IdentityKind.EXTERNAL and organization is not None and organization.admits_only_members(source):
        return IdentityKind.ORGANIZATION
    return kind


_INHERITED = (IdentityKind.EXTERNAL, IdentityKind.ORGANIZATION, IdentityKind.HUMAN)
"""The kinds a role passes on to the roles it can assume, in precedence order."""


def identity_kinds(account: Account, sources: Mapping[str, Iterable[TrustSource]],
                   organization: Organization | None = None) -> dict[str, IdentityKind]:
    """The kind of every identity of ``account``, by ARN; ``sources`` are the trust sources of each role, and
    ``organization`` the account's organization when known."""
    kinds: dict[str, IdentityKind] = {}
    roles: list[Identity] = []
    for identity in account.identities:
        if identity.type is IdentityType.ROOT:
            kinds[identity.arn] = IdentityKind.ROOT
        elif identity.type is IdentityType.USER:
            kinds[identity.arn] = IdentityKind.HUMAN
        elif identity.service_linked:
            kinds[identity.arn] = IdentityKind.SERVICE_LINKED
        else:
            roles.append(identity)
    own: dict[str, set[IdentityKind]] = {}
    for role in roles:
        found = {source_kind(s, organization) for s in sources.get(role.arn, ()) if s.kind is not SourceKind.ROLE}
        own[role.arn] = {IdentityKind.HUMAN if k is IdentityKind.FEDERATED else k for k in found}
    role_sources = {role.arn: [s.principal for s in sources.get(role.arn, ()) if s.kind is SourceKind.ROLE]
                    for role in roles}
    changed = True
    while changed:  # a role a human (organization, external) role can assume is human (organization, external) too
        changed = False
        for arn, callers in role_sources.items():
            for caller in callers:
                inherited = own.get(caller, set()) & set(_INHERITED)
                if not inherited <= own[arn]:
                    own[arn] |= inherited
                    changed = True
    for role in roles:
        found = own[role.arn]
        kinds[role.arn] = next((kind for kind in _INHERITED if kind in found),
                               IdentityKind.UNKNOWN if role.trust is None else IdentityKind.WORKLOAD)
    return kinds


def account_kinds(account: Account, organization: Organization | None = None) -> dict[str, IdentityKind]:
    """:func:`identity_kinds` with each role's trust sources read from ``account``."""
    return identity_kinds(account, role_sources(account), organization)
