"""The account model every reader produces: identities, the policies that govern each, and account facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Mapping

from supportkit.errors import SupportkitError
from supportkit.support.plans import SupportPlan

if TYPE_CHECKING:  # the loader makes them; the model itself (a saved analysis's account facts) needs no engine
    from supportkit.iam.evaluate import NamedPolicy, Subject

DETAILS_FILE = "authorization-details.json"
ACCOUNT_FILE = "account.json"
SCPS_FILE = "scps.json"
RCPS_FILE = "rcps.json"
ROLE_SESSION_NAME = "supportkit"
"""The session name roles are evaluated under: it appears in ``aws:userid`` as ``RoleId:supportkit``."""


class IdentityType(str, Enum):
    ROOT = "root"
    USER = "user"
    ROLE = "role"



class UnknownIdentityError(SupportkitError, LookupError):
    """A name or ARN that matches no identity of the account (or several)."""


@dataclass(frozen=True)
class Identity:
    """One principal of the account and what governs it. ``problems`` say why it may be incomplete."""

    type: IdentityType
    name: str
    arn: str
    id: str | None
    path: str
    tags: Mapping[str, str] = field(hash=False)
    groups: tuple[str, ...]
    created: datetime | None
    subject: Subject
    problems: tuple[str, ...] = ()
    trust: NamedPolicy | None = None  # a role's trust policy (AssumeRolePolicyDocument), when it parsed
    trust_problems: tuple[str, ...] = ()  # why a role's trust policy is missing or was left out
    managed_policy_arns: tuple[str, ...] = ()  # managed policies attached to it or to its groups

    @property
    def service_linked(self) -> bool:
        return self.subject.principal.service_linked

    @property
    def incomplete(self) -> bool:
        """Some policy that governs this identity could not be read: its decisions may be wrong."""
        return bool(self.problems)

    def context(self) -> dict[str, str]:
        """The condition keys AWS derives from this identity for each of its requests."""
        unique_id = self.id
        if self.type is IdentityType.ROLE and self.id:
            unique_id = f"{self.id}:{ROLE_SESSION_NAME}"
        return self.subject.principal.derived_keys(unique_id=unique_id, tags=self.tags)


@dataclass(frozen=True)
class Group:
    """An IAM group: its ARN (with its path) and the policies it gives its members."""

    name: str
    arn: str
    policies: tuple[NamedPolicy, ...]


@dataclass(frozen=True)
class AccountInfo:
    account_id: str
    name: str | None = None
    management_account: bool = False
    support_plan: SupportPlan | None = None
    snapshot_time: datetime | None = None  # when fetch read the account (account.json), if known


@dataclass(frozen=True)
class Account:
    """A loaded snapshot: identities (root, then users, then roles, each by name) and their policies."""

    info: AccountInfo
    identities: tuple[Identity, ...]
    scp_levels: tuple[tuple[NamedPolicy, ...], ...]
    policies: tuple[NamedPolicy, ...]  # each identity policy and boundary in use, once; then the SCPs and RCPs
    warnings: tuple[str, ...]
    source: str
    rcp_levels: tuple[tuple[NamedPolicy, ...], ...] = ()
    groups: tuple[Group, ...] = ()  # every group of the file, by name

    @property
    def partition(self) -> str:
        """The AWS partition of the account's ARNs (``aws``, ``aws-cn``, ``aws-us-gov``, ...)."""
        return self.identities[0].subject.principal.partition if self.identities else "aws"

    def identity(self, key: str) -> Identity:
        """The identity with this ARN, ``user/NAME`` or ``role/NAME``, or name (``root`` for the root user)."""
        found = [i for i in self.identities if key in (i.arn, f"{i.type.value}/{i.name}")]
        if not found:
            found = [i for i in self.identities if i.name == key]
        if len(found) == 1:
            return found[0]
        if found:
            arns = ", ".join(i.arn for i in found)
            raise UnknownIdentityError(f"{key!r} names several identities ({arns}): give the ARN or TYPE/NAME")
        raise UnknownIdentityError(f"no identity {key!r} in {self.source}")

