"""Findings an analyst can act on: an id, a severity, who or what is concerned, and what to change.

The tables of :mod:`supportkit.analysis.findings` say *who can*; a :class:`Finding` says *what is wrong and
how to fix it*, as data: the remedy is a :class:`Remedy` (an instruction and its operands), turned into one
English sentence only at output by :meth:`Remedy.sentence`. Producers (functions from the analysis to
findings) register under a kind with :func:`finding_producer`; :func:`produce_findings` runs them all, so a
new finding plugs in by registering one function (see :mod:`supportkit.analysis.risks` for the built-in ones).

Severity scale (:class:`Severity`), highest first:

* ``critical``: principals outside the account can act on its support cases or plan (external accounts,
  identity providers, anyone); when the account's organization is known, outside the organization.
* ``high``: a paid commitment or every case open to more than a few: identities other than root can change
  the support plan; more than :data:`MANY` identities can read every case; a Deny meant as a guardrail that
  denies nothing.
* ``medium``: access that does not work as granted or that forces bad practice: Support Center breaks for
  an identity allowed cases; only the root user can open cases; identities whose policies could not all be
  read (their decisions may be wrong); a few identities that can read every case.
* ``low``: dead or confusing grants: Allow statements that can never apply; Trusted Advisor allowed in one
  IAM namespace only.
* ``info``: worth knowing, nothing to fix in IAM: permissions the support plan does not serve.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from supportkit.support.managed import aws_managed_policy

if TYPE_CHECKING:
    import pandas as pd

    from supportkit.snapshot.model import AccountInfo

MANY = 5
"""More identities than this able to read every case, or to change the plan, make a finding ``high``."""


class Severity(Enum):
    """How urgent a finding is; the module docstring gives the scale. Members are in decreasing order."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for critical, 4 for info: sorts the most urgent first."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {severity: rank for rank, severity in enumerate(Severity)}


@dataclass(frozen=True)
class StatementRef:
    """A statement of a policy, as the report names it: ``policy`` as in explanations, 0-based ``index``."""

    policy: str
    index: int
    sid: str | None = None

    def label(self) -> str:
        sid = f" (Sid {self.sid})" if self.sid else ""
        return f"'{self.policy}' Statement[{self.index}]{sid}"


class Fix(Enum):
    """The kinds of change a remedy asks for; :meth:`Remedy.sentence` words each one."""

    ADD_ACTIONS = "add actions"  # add ``actions`` to ``policy`` (or attach ``managed_policy``)
    REMOVE_ACTIONS = "remove actions"  # remove ``actions`` from the statements that grant them
    UNDENY_ACTIONS = "undeny actions"  # narrow the Deny ``statements`` so they leave ``actions`` alone
    FIX_RESOURCE = "fix resource"  # set the statement's Resource to "*" or remove it
    GRANT_NON_ROOT = "grant a user or role"  # give ``actions`` to a user or role, e.g. ``managed_policy``
    RESTRICT_TO_TEAM = "restrict to a team"  # keep ``actions`` for a named team only
    READ_POLICIES = "read the policies"  # fetch the snapshot again with the missing policies
    ALIGN_NAMESPACES = "align namespaces"  # grant the other namespace's ``actions`` or remove these
    NOTHING_IN_IAM = "nothing in IAM"  # the plan, not IAM, limits these ``actions``


@dataclass(frozen=True)
class Remedy:
    """What to change, as data; :meth:`sentence` words it once, at output."""

    fix: Fix
    actions: tuple[str, ...] = ()
    policy: str | None = None
    managed_policy: str | None = None
    statements: tuple[StatementRef, ...] = ()
    plan: str | None = None

    def sentence(self) -> str:
        """One English sentence that says what to change."""
        actions = _list(self.actions) or "these actions"
        statements = _list(s.label() for s in self.statements) or "the statements concerned"
        managed = f"attach the AWS managed policy {self.managed_policy}" if self.managed_policy else ""
        match self.fix:
            case Fix.ADD_ACTIONS:
                where = f"to policy '{self.policy}'" if self.policy else "to a policy of the identity"
                return f"Add {actions} {where}" + (f", or {managed}" if managed else "") + "."
            case Fix.REMOVE_ACTIONS:
                return f"Remove {actions} from {statements}, keeping them only for those who need them."
            case Fix.UNDENY_ACTIONS:
                return f"Narrow the Deny in {statements} so that it no longer denies {actions}."
            case Fix.FIX_RESOURCE:
                return (f"Set the Resource of {statements} to \"*\" (support actions take no resource), "
                        "or remove the statement if it is not needed.")
            case Fix.GRANT_NON_ROOT:
                return f"Give {actions} to a user or role" + (f": {managed}" if managed else "") + \
                    ", and stop using the root user for support cases."
            case Fix.RESTRICT_TO_TEAM:
                # AWS managed policies cannot be edited: for those the change is who has them attached.
                own = _list(s.label() for s in self.statements if aws_managed_policy(s.policy) is None)
                managed_names = _list(dict.fromkeys(
                    f"'{s.policy}'" for s in self.statements if aws_managed_policy(s.policy) is not None))
                changes = [f"take it out of {own} for everyone else" if own else "",
                           f"detach the AWS managed {managed_names} (they cannot be edited) from everyone else"
                           if managed_names else ""]
                where = "; ".join(change for change in changes if change) or \
                    f"take it out of {statements} for everyone else"
                return f"Limit {actions} to the people who need it: {where}."
            case Fix.READ_POLICIES:
                return "Take the snapshot again with permission to read every policy (iam:GetPolicyVersion), " \
                    "then run the report again."
            case Fix.ALIGN_NAMESPACES:
                return f"Also allow {actions}, or remove the grant in the other namespace if it is not used."
            case Fix.NOTHING_IN_IAM:
                plan = f"the {self.plan} plan" if self.plan else "the plan"
                return (f"Nothing to change in IAM: {plan} does not serve {actions} through the API; "
                        "upgrade the plan if the API is needed, or remove the grants.")
        raise AssertionError(self.fix)  # pragma: no cover - every Fix is worded above


@dataclass(frozen=True)
class Finding:
    """One thing to act on. ``kind`` names its producer; ``subject`` what it is about, unique in the kind."""

    kind: str
    subject: str
    severity: Severity
    title: str
    remedy: Remedy
    identities: tuple[str, ...] = ()  # ARNs
    statements: tuple[StatementRef, ...] = ()
    count: int = field(default=0)  # identities concerned, when they are many (the list may be cut)

    @property
    def id(self) -> str:
        """Stable from run to run and usable as a URL fragment: ``#finding-<id>``."""
        return finding_id(self.kind, self.subject)

    def as_record(self) -> dict[str, Any]:
        """A JSON-ready dict: the form saved with an analysis and shown in tables."""
        return {
            "id": self.id, "kind": self.kind, "subject": self.subject, "severity": self.severity.value,
            "title": self.title, "identities": list(self.identities),
            "statements": [s.label() for s in self.statements], "remedy": self.remedy.sentence(),
            "count": self.count or len(self.identities),
        }


def finding_id(kind: str, subject: str) -> str:
    """``kind-subject`` with runs of characters other than letters, digits and ``._/:@=+-`` as ``_``."""
    return f"{kind}-{re.sub(r'[^A-Za-z0-9._/:@=+-]+', '_', subject).strip('_')}"


def _list(items: Iterable[str]) -> str:
    items = list(dict.fromkeys(items))
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + f" and {items[-1]}"


def ranked(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first; within a severity, most identities first, then by id (stable across runs)."""
    return sorted(findings, key=lambda f: (f.severity.rank, -(f.count or len(f.identities)), f.id))


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Findings per severity, every severity present (zeros included), most severe first."""
    counts = {severity.value: 0 for severity in Severity}
    for finding in findings:
        counts[finding.severity.value] += 1
    return counts


# The registry of producers


@dataclass(frozen=True)
class FindingSources:
    """What producers read: the finding tables (keys of ``supportkit.analysis.findings.TITLES``), the long
    matrix they come from, and the account's facts."""

    tables: Mapping[str, pd.DataFrame]
    matrix: pd.DataFrame
    info: AccountInfo


FindingProducer = Callable[[FindingSources], Iterable[Finding]]
_PRODUCERS: dict[str, FindingProducer] = {}
_CLEAR: dict[str, str] = {}


def finding_producer(kind: str, *, clear: str) -> Callable[[FindingProducer], FindingProducer]:
    """Register ``function`` as the producer of findings of ``kind`` (a second producer of a kind is an error).

    ``clear`` is what the report says when the producer finds nothing: what was checked, e.g. "No identity
    other than root can change the support plan."
    """

    def register(function: FindingProducer) -> FindingProducer:
        if kind in _PRODUCERS and _PRODUCERS[kind] is not function:
            raise ValueError(f"a producer of {kind!r} findings is already registered")
        _PRODUCERS[kind] = function
        _CLEAR[kind] = clear
        return function

    return register


def clear_sentences() -> Mapping[str, str]:
    """Per kind, what the report says when its producer found nothing."""
    producers()
    return dict(_CLEAR)


def producers() -> Mapping[str, FindingProducer]:
    """Every registered producer by kind, the built-in ones included."""
    import supportkit.analysis.risks  # noqa: F401 - registers the built-in producers

    return dict(_PRODUCERS)


def produce_findings(sources: FindingSources, kinds: Sequence[str] | None = None) -> list[Finding]:
    """The findings of every producer (or of ``kinds``), ranked by :func:`ranked`."""
    registered = producers()
    unknown = sorted(set(kinds or ()) - set(registered))
    if unknown:
        raise ValueError(f"no producer of {', '.join(unknown)} findings; known: {', '.join(sorted(registered))}")
    return ranked(f for kind in (kinds or registered) for f in registered[kind](sources))
