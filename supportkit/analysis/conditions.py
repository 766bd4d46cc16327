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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from supportkit.iam.conditions import ConditionClause, parse_date
from supportkit.iam.context import ContextValue, RequestContext
from supportkit.iam.policy import Policy

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
    """The condition clauses of the statements of ``policies`` that cover ``action``."""
    return [clause for policy in policies for statement in policy.statements_for(action)
            for clause in statement.conditions]


def _base(operator: str) -> str:
    name = operator.split(":", 1)[1] if ":" in operator else operator
    return name.removesuffix("IfExists")


def _instance(text: str) -> str:
    return text.replace("*", "x").replace("?", "x")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _candidates(key: str, clauses: list[ConditionClause]) -> list[Requirement]:
    """The requests worth asking for one key: each named value or range, one outside them, and absent."""
    found: list[Requirement] = []
    strings: list[str] = []
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for clause in clauses:
        base = _base(clause.operator)
        values = [v for v in clause.values if "${" not in v]
        if base.startswith(("String", "Arn")):
            like = "Like" in base or base.startswith("Arn")
            for v in values:
                found.append(Requirement(key, Relation.LIKE if like and ("*" in v or "?" in v) else Relation.EQUALS,
                                         v, _instance(v)))
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
    return list(unique.values())


def enumerate_conditions(
    allows: Callable[[RequestContext], bool], clauses: Iterable[ConditionClause], base: RequestContext,
    fixed: Callable[[str], bool] = lambda key: False,
) -> Conditions:
    """Under which values of the keys ``clauses`` test ``allows`` is true.

    Keys ``base`` holds, and keys ``fixed`` says are facts (absent from ``base`` means absent for good,
    e.g. a tag the user does not have), are not enumerated.
    """
    by_key: dict[str, list[ConditionClause]] = {}
    written: dict[str, str] = {}
    for clause in clauses:
        lowered = clause.key.lower()
        if lowered in base or fixed(lowered):
            continue
        by_key.setdefault(lowered, []).append(clause)
        written.setdefault(lowered, clause.key)
    if not by_key:
        return UNCONDITIONAL if allows(base) else NEVER
    keys = sorted(by_key)
    options = [_candidates(written[k], by_key[k]) for k in keys]
    combinations = itertools.islice(itertools.product(*options), MAX_COMBINATIONS)
    total = 1
    for found in options:
        total *= len(found)

    def run(choice: Iterable[Requirement]) -> bool:
        return allows(_with(base, choice))

    results = {choice: run(choice) for choice in combinations}
    allowing = [choice for choice, ok in results.items() if ok]
    exhaustive = total <= MAX_COMBINATIONS
    if not allowing:
        return Conditions(tuple(written[k] for k in keys), (), exhaustive)
    if len(allowing) == len(results) and exhaustive:
        return Conditions(tuple(written[k] for k in keys), (Scenario(()),))
    scenarios: dict[frozenset[Requirement], Scenario] = {}
    for choice in allowing:
        kept = tuple(r for i, r in enumerate(choice) if not _free(results, choice, i, options[i]))
        if not run(kept):  # verification: the reduced scenario alone must allow
            kept = choice
        scenarios.setdefault(frozenset(kept), Scenario(kept))
    minimal = [s for key, s in scenarios.items() if not any(other < key for other in scenarios)]
    return Conditions(tuple(written[k] for k in keys), tuple(minimal), exhaustive)


def _with(base: RequestContext, choice: Iterable[Requirement]) -> RequestContext:
    values: Mapping[str, ContextValue] = {r.key: r.sample for r in choice if r.sample is not None}
    return RequestContext.of(values).with_defaults(base) if values else base


def _free(results: dict[tuple[Requirement, ...], bool], choice: tuple[Requirement, ...], index: int,
          options: list[Requirement]) -> bool:
    """Whether every value of key ``index`` allows, the other keys as in ``choice``."""
    for option in options:
        other = (*choice[:index], option, *choice[index + 1:])
        if not results.get(other, False):
            return False
    return True
