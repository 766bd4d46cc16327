"""What-if: the account as if a policy were detached or edited."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from supportkit.errors import SupportkitError
from supportkit.iam.evaluate import NamedPolicy, PolicyKind
from supportkit.iam.policy import parse_policy
from supportkit.snapshot.model import Account


class UnknownPolicyError(SupportkitError, LookupError):
    """A what-if names a policy that no identity of the account uses."""


def detach_policy(account: Account, policy_name: str, identity: str | None = None) -> Account:
    """The account as if the identity policy ``policy_name`` were detached from ``identity`` (from everyone when None).

    ``identity`` is anything :meth:`Account.identity` accepts. A policy that reaches a user through a
    group is removed from that user only, not from the group's other members.
    """
    wanted = account.identity(identity).arn if identity is not None else None
    changed = False
    identities = []
    for current in account.identities:
        policies = current.subject.identity_policies
        kept = tuple(named for named in policies if named.name != policy_name)
        if wanted in (None, current.arn) and len(kept) != len(policies):
            current = replace(current, subject=replace(current.subject, identity_policies=kept))
            changed = True
        identities.append(current)
    if not changed:
        raise UnknownPolicyError(f"no identity policy {policy_name!r} is attached to {identity or 'any identity'}")
    used = {id(named) for current in identities for named in current.subject.identity_policies}
    policies = tuple(
        named for named in account.policies if named.kind is not PolicyKind.IDENTITY or id(named) in used
    )
    return replace(account, identities=tuple(identities), policies=policies)


def replace_policy(account: Account, policy_name: str, document: Any) -> Account:
    """The account as if the identity policy or permissions boundary ``policy_name`` had ``document`` instead.

    ``document`` is what :func:`parse_policy` takes; think of it as a new default version. Every identity
    that attaches the policy sees the change; SCPs are left alone.
    """
    parsed = parse_policy(document)
    swapped: dict[int, NamedPolicy] = {}

    def swap(named: NamedPolicy) -> NamedPolicy:
        if named.name != policy_name or named.kind is PolicyKind.SCP:
            return named
        if id(named) not in swapped:
            swapped[id(named)] = NamedPolicy(named.name, named.kind, parsed, named.level, named.target)
        return swapped[id(named)]

    identities = tuple(
        replace(current, subject=replace(
            current.subject,
            identity_policies=tuple(swap(named) for named in current.subject.identity_policies),
            permissions_boundary=current.subject.permissions_boundary and swap(current.subject.permissions_boundary),
        ))
        for current in account.identities
    )
    if not swapped:
        raise UnknownPolicyError(f"no identity policy or permissions boundary named {policy_name!r} is in use")
    policies = tuple(swapped.get(id(named), named) for named in account.policies)
    return replace(account, identities=identities, policies=policies)
