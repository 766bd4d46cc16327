"""Conditions as part of the answer: under which request values a decision that depends on the request allows.

A single fixed request context hides access that a condition would grant (a user who can resolve cases
with MFA looks unable to). Here, for each request key the deciding policies consult, the few values that
matter are enumerated: each value and range the policies name, one value outside them, and the key
absent. Every combination is evaluated with the engine; the combinations that allow are reduced to the
keys that matter, and each reduced scenario is evaluated once more, so every stated condition is one that
was verified to allow. Keys the caller fixes (the principal's own keys, the analyst's ``--context``) are
not enumerated.

How absent keys behave follows the IAM User Guide's condition operators page
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
the engine decides, this module only chooses which requests to ask about.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from functools import lru_cache
from typing import Any

from supportkit.iam.conditions import ConditionClause, parse_date
from supportkit.iam.context import ContextValue, RequestContext
from supportkit.iam.evaluate import NamedPolicy, Subject
from supportkit.iam.keys import PRINCIPAL_TAG
from supportkit.iam.policy import Policy, Statement

MAX_COMBINATIONS = 512
"""Requests evaluated per decision at most; beyond, the answer says it is not exhaustive."""

_OUTSIDE_TEXT = "zz-supportkit-other"
_OUTSIDE_ADDRESSES = ("192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1")  # documentation ranges


class Relation(str, Enum):
    """How a request value relates to the value a policy names."""

    EQUALS = "="
    LIKE = "like"
    NONE_OF = "none of"
    IN = "in"
    OUTSIDE = "outside"
    BEFORE = "before"
    AFTER = "after"
    LESS = "<"
    GREATER = ">"
    ABSENT = "absent"
    PRESENT = "present"


@dataclass(frozen=True)
class Requirement:
    """One key of a request: its relation to a value a policy names, and the value used to verify it."""

    key: str  # as the policy writes it
    relation: Relation
    value: str | None  # the policy's value(s), None for ABSENT/PRESENT
    sample: ContextValue | None  # the request value that was evaluated (None: the key was absent)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "relation": self.relation.value, "value": self.value}

    def text(self) -> str:
        """English for people: "with MFA", "from 10.0.0.0/8", "when aws:PrincipalTag/team = support"."""
        key = self.key.lower()
        if key == "aws:multifactorauthpresent" and self.relation is Relation.EQUALS:
            return "with MFA" if self.value == "true" else "without MFA"
        if key == "aws:sourceip" and self.relation is Relation.IN:
            return f"from {self.value}"
        if key == "aws:sourceip" and self.relation is Relation.OUTSIDE:
            return f"from outside {self.value}"
        if key in ("aws:currenttime", "aws:epochtime") and self.relation in (Relation.BEFORE, Relation.AFTER):
            return f"{self.relation.value} {self.value}"
        if self.relation is Relation.ABSENT and key.startswith(PRINCIPAL_TAG):
            # A session tag not passed leaves the role's own tag, if it has one (Subject.session_tags).
            return f"when the session sets no {self.key} (the principal's own tag applies, if any)"
        if self.relation is Relation.ABSENT:
            return f"when the request has no {self.key}"
        if self.relation is Relation.PRESENT:
            return f"when the request has {self.key}"
        return f"when {self.key} {self.relation.value} {self.value}"


@dataclass(frozen=True)
class Scenario:
    """Requirements that, together, make the request allowed (verified by evaluating them)."""

    requirements: tuple[Requirement, ...]

    def context(self) -> dict[str, ContextValue]:
        return {r.key: r.sample for r in self.requirements if r.sample is not None}

    def text(self) -> str:
        return " and ".join(r.text() for r in self.requirements) or "always"

    def to_json(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in self.requirements]


@dataclass(frozen=True)
class Conditions:
    """The answer for one decision: the request keys consulted and the scenarios that allow."""

    keys: tuple[str, ...]
    scenarios: tuple[Scenario, ...]  # empty: denied for every value enumerated
    exhaustive: bool = True  # every combination of the enumerated values was evaluated

    @property
    def always(self) -> bool:
        """Allowed whatever the request keys say."""
        return len(self.scenarios) == 1 and not self.scenarios[0].requirements

    @property
    def ever(self) -> bool:
        return bool(self.scenarios)

    def text(self) -> str:
        if not self.scenarios:
            return "never"
        return "; or ".join(s.text() for s in self.scenarios)

    def to_json(self) -> list[list[dict[str, Any]]]:
        """Alternatives (any one suffices), each a list of requirements (all needed); ``[]``: none needed."""
        return [] if self.always else [s.to_json() for s in self.scenarios]


UNCONDITIONAL = Conditions((), (Scenario(()),))
NEVER = Conditions((), ())


def clauses_for(policies: Iterable[Policy], action: str) -> list[ConditionClause]:
    """The condition clauses of the statements of ``policies`` that cover ``action``, read off the statements
    with a condition (``statements_for`` would remember every action asked of every policy)."""
    return [clause for policy in policies for statement in policy.conditioned if statement.matches_action(action)
            for clause in statement.conditions]


def condition_policies(subject: Subject, extra: Iterable[NamedPolicy] = (), *, scps: bool = True) -> list[Policy]:
    """The policies whose conditions name the values to enumerate for ``subject``, in order: identity-based
    (then ``extra``), RCPs, the boundary, the session policy, every SCP level (whether or not they apply; left
    out when not ``scps``, for a caller that reads them once for the many subjects sharing them)."""
    named = [*subject.identity_policies, *extra, *subject.rcps]
    named += [p for p in (subject.permissions_boundary, subject.session_policy) if p is not None]
    if scps:
        named += [n for level in subject.scp_levels for n in level]
    return [n.policy for n in named]


def _base(operator: str) -> str:
    name = operator.split(":", 1)[1] if ":" in operator else operator
    return name.removesuffix("IfExists")


_FILLERS = ("x", "zq", "x0y", "qzqz")
"""What stands for each wildcard of a pattern's sample, the first that makes it no named value."""


def _instance(text: str, avoid: frozenset[str] | set[str] = frozenset()) -> str:
    """A value matching the pattern ``text`` that is none of ``avoid`` (the values named beside it), when one of
    the fillers gives one: a pattern's sample equal to a named value would stand for that value alone, and the
    values only the pattern admits would never be asked about."""
    first = text.replace("*", _FILLERS[0]).replace("?", _FILLERS[0])
    if first not in avoid:
        return first
    others = (text.replace("*", filler).replace("?", filler[0]) for filler in _FILLERS[1:])
    return next((sample for sample in others if sample not in avoid), first)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=4096)
def _candidates(key: str, clauses: tuple[ConditionClause, ...]) -> tuple[Requirement, ...]:
    """The requests worth asking for one key: each named value or range, one outside them, and absent.

    Remembered: the same clauses (a customer policy's, an SCP's) come back in many enumerations.
    """
    found: list[Requirement] = []
    strings: list[str] = []
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    texts = {v for clause in clauses if _base(clause.operator).startswith(("String", "Arn"))
             for v in clause.values if "${" not in v}  # the values themselves: a pattern's sample avoids them
    for clause in clauses:
        base = _base(clause.operator)
        values = [v for v in clause.values if "${" not in v]
        if base.startswith(("String", "Arn")):
            like = "Like" in base or base.startswith("Arn")
            for v in values:
                if like and ("*" in v or "?" in v):
                    found.append(Requirement(key, Relation.LIKE, v, _instance(v, texts - {v})))
                else:
                    found.append(Requirement(key, Relation.EQUALS, v, v))
            strings.extend(values)
        elif base.startswith("Numeric"):
            for v in values:
                try:
                    number = Decimal(v)
                except InvalidOperation:
                    continue
                found += [Requirement(key, Relation.LESS, v, str(number - 1)), Requirement(key, Relation.EQUALS, v, v),
                          Requirement(key, Relation.GREATER, v, str(number + 1))]
        elif base.startswith("Date"):
            for v in values:
                epoch = parse_date(v)
                if epoch is None:
                    continue
                found += [Requirement(key, Relation.BEFORE, v, _iso(epoch - 1)),
                          Requirement(key, Relation.EQUALS, v, _iso(epoch)),
                          Requirement(key, Relation.AFTER, v, _iso(epoch + 1))]
        elif base == "Bool":
            found += [Requirement(key, Relation.EQUALS, "true", "true"), Requirement(key, Relation.EQUALS, "false", "false")]
        elif base in ("IpAddress", "NotIpAddress"):
            for v in values:
                try:
                    network = ipaddress.ip_network(v, strict=False)
                except ValueError:
                    continue
                networks.append(network)
                found.append(Requirement(key, Relation.IN, v, str(network[1] if network.num_addresses > 1
                                                                  else network.network_address)))
        elif base == "BinaryEquals":
            found += [Requirement(key, Relation.EQUALS, v, v) for v in values]
    if strings:
        found.append(Requirement(key, Relation.NONE_OF, ", ".join(dict.fromkeys(strings)), _OUTSIDE_TEXT))
    if networks:
        outside = next((a for a in _OUTSIDE_ADDRESSES
                        if not any(ipaddress.ip_address(a) in n for n in networks)), None)
        if outside is not None:
            named = ", ".join(dict.fromkeys(str(n) for n in networks))
            found.append(Requirement(key, Relation.OUTSIDE, named, outside))
    if not found:  # Null alone, or operators on values this module cannot instantiate
        found.append(Requirement(key, Relation.PRESENT, None, "true"))
    found.append(Requirement(key, Relation.ABSENT, None, None))
    unique: dict[ContextValue | None, Requirement] = {}
    for requirement in found:
        unique.setdefault(requirement.sample, requirement)
    return tuple(unique.values())


def enumerate_conditions(
    allows: Callable[[RequestContext], bool], clauses: Iterable[ConditionClause], base: RequestContext,
    fixed: Callable[[str], bool] = lambda key: False, carried: RequestContext | None = None,
) -> Conditions:
    """Under which values of the keys ``clauses`` test ``allows`` is true.

    Keys ``carried`` holds (``base``'s when None), and keys ``fixed`` says are facts (absent from ``base``
    means absent for good, e.g. a tag the user does not have), are not enumerated. A key ``base`` holds that
    is enumerated keeps its value where the enumeration leaves it absent (a role's own tag, which a session
    tag may override).
    """
    requests = Requests(clauses, base if carried is None else carried, fixed)
    if not requests.keys:
        return UNCONDITIONAL if allows(base) else NEVER
    allowed = sum(1 << position for position in range(requests.count) if allows(requests.context(base, position)))
    return requests.conclude(allowed, lambda kept: allows(_with(base, kept)))


class Requests:
    """The combinations of candidate values an enumeration asks about, numbered in product order.

    Combination ``position`` takes, for the i-th key (sorted), candidate ``position // stride[i] % size[i]``;
    at most :data:`MAX_COMBINATIONS` are asked. Which ones allow is a bit mask over positions, so callers
    that know many decisions over the same keys (:mod:`supportkit.analysis.cells`) combine masks instead of
    asking per request.
    """

    def __init__(self, clauses: Iterable[ConditionClause], base: RequestContext,
                 fixed: Callable[[str], bool] = lambda key: False) -> None:
        by_key: dict[str, list[ConditionClause]] = {}
        written: dict[str, str] = {}
        for clause in clauses:
            lowered = clause.key.lower()
            if lowered in base or fixed(lowered):
                continue
            by_key.setdefault(lowered, []).append(clause)
            written.setdefault(lowered, clause.key)
        self.keys = tuple(sorted(by_key))
        self.written = tuple(written[k] for k in self.keys)
        self.options = tuple(_candidates(written[k], tuple(by_key[k])) for k in self.keys)
        self.strides: list[int] = []
        total = 1
        for found in reversed(self.options):
            self.strides.insert(0, total)
            total *= len(found)
        self.total = total
        self.count = min(total, MAX_COMBINATIONS)
        self._absent = [next(j for j, r in enumerate(found) if r.sample is None) for found in self.options]
        self._where: dict[tuple[int, int], int] = {}

    def where(self, index: int, option: int) -> int:
        """The mask of the positions where key ``index`` takes its candidate ``option``."""
        found = self._where.get((index, option))
        if found is None:
            # positions p with p // stride % size == option: a run of ``stride`` every ``stride * size``
            # (a run's bits at count or beyond are not built: past MAX_COMBINATIONS a stride can be astronomical)
            stride, size = self.strides[index], len(self.options[index])
            offset = option * stride
            found = 0
            if offset < self.count:
                run, period = ((1 << min(stride, self.count - offset)) - 1) << offset, stride * size
                for start in range(0, self.count, period):
                    found |= run << start
            found = self._where[(index, option)] = found & ((1 << self.count) - 1)
        return found

    def holding(self, statement: Statement, base: RequestContext) -> int:
        """The positions where ``statement``'s conditions hold, as bits: asked once per combination of the
        candidates of the enumerated keys it reads, its other keys as ``base`` has them."""
        read = [i for i, key in enumerate(self.keys) if key in statement.keys_read]
        mask = 0
        for digits in itertools.product(*(range(len(self.options[i])) for i in read)):
            if statement.conditions_hold(_with(base, (self.options[i][j] for i, j in zip(read, digits)))):
                where = (1 << self.count) - 1
                for i, j in zip(read, digits):
                    where &= self.where(i, j)
                mask |= where
        return mask

    def choice(self, position: int) -> tuple[Requirement, ...]:
        return tuple(found[position // stride % len(found)] for found, stride in zip(self.options, self.strides))

    def context(self, base: RequestContext, position: int) -> RequestContext:
        return _with(base, self.choice(position))

    def conclude(self, allowed: int, run: Callable[[tuple[Requirement, ...]], bool]) -> Conditions:
        """The answer from the mask of allowing positions; ``run`` evaluates a reduced scenario the mask lacks.

        Each allowing combination is reduced to the keys that matter (a key whose every value allows, the
        others as they are, is left out) and the reduced scenario is verified: without the keys left out it
        is the combination with those keys absent, asked already unless beyond the limit.
        """
        exhaustive = self.total <= MAX_COMBINATIONS
        if not allowed:
            return Conditions(self.written, (), exhaustive)
        if allowed == (1 << self.count) - 1 and exhaustive:
            return Conditions(self.written, (Scenario(()),))
        scenarios: dict[frozenset[Requirement], Scenario] = {}
        position, rest = 0, allowed
        while rest:
            if rest & 1:
                digits = [position // stride % len(found) for found, stride in zip(self.options, self.strides)]
                free = [self._free(allowed, position, i, digit) for i, digit in enumerate(digits)]
                choice = tuple(found[digit] for found, digit in zip(self.options, digits))
                kept = tuple(r for r, dropped in zip(choice, free) if not dropped)
                if len(kept) < len(choice):  # verification: the reduced scenario alone must allow
                    reduced = position + sum((self._absent[i] - digit) * self.strides[i]
                                             for i, digit in enumerate(digits) if free[i])
                    if not (allowed >> reduced & 1 if reduced < self.count else run(kept)):
                        kept = choice
                scenarios.setdefault(frozenset(kept), Scenario(kept))
            position, rest = position + 1, rest >> 1
        minimal = [s for key, s in scenarios.items() if not any(other < key for other in scenarios)]
        return Conditions(self.written, tuple(minimal), exhaustive)

    def _free(self, allowed: int, position: int, index: int, digit: int) -> bool:
        """Whether every value of key ``index`` allows, the other keys as at ``position``."""
        stride = self.strides[index]
        start = position - digit * stride
        return all(start + j * stride < self.count and allowed >> (start + j * stride) & 1
                   for j in range(len(self.options[index])))


def _with(base: RequestContext, choice: Iterable[Requirement]) -> RequestContext:
    """``base`` with the choice's samples (strings already, as a context holds them; absent: left out)."""
    values = {r.key.lower(): r.sample for r in choice if r.sample is not None}
    return RequestContext({**base.values, **values}) if values else base
