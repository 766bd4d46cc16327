"""The IAM policy language: parse a document once into statements that match fast.

A document may come as a dict, as JSON text, or URL-encoded JSON text (as the raw IAM API returns
it). Invalid documents raise one :class:`~supportkit.errors.PolicyError` that names the JSON path;
valid but suspicious constructs become warnings on the parsed :class:`Policy`.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from functools import lru_cache
from enum import Enum
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from supportkit.iam.conditions import ConditionClause, compile_conditions
from supportkit.iam.jsonobject import cache_key, check_unique_keys, decode_json, value_key
from supportkit.iam.context import RequestContext
from supportkit.errors import PolicyError, json_type
from supportkit.iam.patterns import Pattern, PatternError, Variable, text_test, trailing_star, wildcard_regex
from supportkit.lazy import cached_property

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"
_TOP_LEVEL = ("Version", "Id", "Statement")
_TOP_LEVEL_KEYS = frozenset(_TOP_LEVEL)
_STATEMENT_ELEMENTS = (
    "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition",
)
_STATEMENT_KEYS = frozenset(_STATEMENT_ELEMENTS)
_ACTION_FORMAT = re.compile(r"^[A-Za-z0-9*?-]+:[A-Za-z0-9*?_-]*$")


class Effect(str, Enum):
    ALLOW = "Allow"
    DENY = "Deny"


_EFFECTS = {effect.value: effect for effect in Effect}


@dataclass(frozen=True, eq=False)
class Statement:
    """One statement, its Action, Resource and Condition compiled for matching. Compared by identity."""

    index: int
    sid: str | None
    effect: Effect
    actions: tuple[str, ...]  # as written; matched through action_set
    not_action: bool
    resources: tuple[Pattern, ...]
    not_resource: bool
    conditions: tuple[ConditionClause, ...]
    action_set: "ActionSet" = field(compare=False, repr=False)
    _resource_matches: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)
    principal: "PrincipalElement | None" = None  # resource-based policies only (trust policies)
    # Known from the Resource list and the Condition when parsed (see _resource_patterns):
    resource_variables: tuple[str, ...] = field(kw_only=True, compare=False, repr=False)
    """The context keys the Resource patterns' variables read, lower-cased."""
    context_dependent: bool = field(kw_only=True, compare=False, repr=False)
    """Whether another request context could change whether this statement applies."""
    resource_tails: frozenset[str] | None = field(kw_only=True, compare=False, repr=False)
    """The literal resource parts (after the fifth colon) of the ARNs this statement can apply to, when every
    Resource pattern has one and nothing else (NotResource, a condition) is involved; else None."""

    def matches_action(self, action: str) -> bool:
        """Action/NotAction against ``prefix:Name``, case-insensitively, with ``*`` and ``?``."""
        return self.action_set.matches(action) != self.not_action

    def matches_resource(self, resource: str, context: RequestContext) -> bool:
        """Resource/NotResource against the requested resource (``*`` for actions without resource types)."""
        if not self.resource_variables:  # the answer depends on the resource alone: remember it
            known = self._resource_matches.get(resource)
            if known is None:
                known = self._resource_matches[resource] = self._match_resource(resource, context)
            return known
        return self._match_resource(resource, context)

    def _match_resource(self, resource: str, context: RequestContext) -> bool:
        for pattern in self.resources:  # a loop, not any() of a generator: most statements have one pattern
            if pattern.matches(resource, context):
                return not self.not_resource
        return self.not_resource

    def conditions_hold(self, context: RequestContext) -> bool:
        for clause in self.conditions:  # a loop, not all() of a generator: called for every candidate statement
            if not clause.evaluate(context):
                return False
        return True

    @cached_property
    def any_resource(self) -> bool:
        """Its Resource holds ``*`` (and it is no NotResource): whichever resource is asked, the statement covers it."""
        return not self.not_resource and any(pattern.matches_everything for pattern in self.resources)

    @cached_property
    def keys_read(self) -> tuple[str, ...]:
        """Context keys this statement consults (condition keys and variables), lower-cased, in order."""
        keys = [*self.resource_variables, *(key for clause in self.conditions for key in clause.keys_read)]
        return tuple(dict.fromkeys(keys))



@dataclass(frozen=True, eq=False)
class Policy:
    """A parsed policy document. ``statements_for`` caches which statements an action reaches.

    Compared by identity: a parsed policy is shared, never copied, so identity is cheap and exact.
    """

    statements: tuple[Statement, ...]
    version: str | None
    id: str | None
    warnings: tuple[str, ...]
    document: Mapping[str, Any] = field(compare=False, repr=False)
    _by_action: dict[str, tuple[Statement, ...]] = field(default_factory=dict, compare=False, repr=False)
    _by_resource: dict[str, tuple[tuple[Statement, ...], dict[str, tuple[Statement, ...]]]] = field(
        default_factory=dict, compare=False, repr=False)
    has_resource_tails: bool = field(default=False, kw_only=True, compare=False, repr=False)
    """Whether some statement has :attr:`Statement.resource_tails` (only then does a request's resource narrow
    :meth:`statements_for_request`); known when parsed."""

    @cached_property
    def keys_read(self) -> tuple[str, ...]:
        """Every context key some statement consults: equal values of these, equal answers."""
        return tuple(dict.fromkeys(key for statement in self.statements for key in statement.keys_read))

    @cached_property
    def services(self) -> frozenset[str] | None:
        """The lower-cased service prefixes its Action lists name, or None when a statement may cover an action of
        any service (a NotAction, a wildcard in the service part): a policy naming none of a request's services
        covers none of its actions, which most policies of an account are to most questions."""
        found: set[str] = set()
        for statement in self.statements:
            if statement.not_action or statement.action_set.any_service:
                return None
            found.update(statement.action_set.by_service)
        return frozenset(found)

    @cached_property
    def conditioned(self) -> tuple[Statement, ...]:
        """The statements with a Condition (often none): those whose clauses an enumeration reads."""
        return tuple(statement for statement in self.statements if statement.conditions)

    def statements_for(self, action: str) -> tuple[Statement, ...]:
        """The statements whose Action/NotAction element covers ``action`` (before Resource and Condition)."""
        key = action.lower()
        found = self._by_action.get(key)
        if found is None:
            reached: list[Statement] = []
            for statement in self.statements:
                if statement.matches_action(action):
                    reached.append(statement)
            found = self._by_action[key] = tuple(reached)
        return found

    def statements_for_request(self, action: str, resource: str) -> tuple[Statement, ...]:
        """``statements_for(action)`` less the statements whose Resource ARNs cannot name ``resource``.

        IAM matches each ARN component separately, so a pattern whose resource part (after the fifth
        colon) has no wildcard matches only ARNs with that very resource part, whatever its wildcards in
        the region or account.
        A policy naming thousands of ARNs one by one is then matched against one request in time
        proportional to the statements that can apply, not to the whole policy.
        """
        if not self.has_resource_tails:
            return self.statements_for(action)
        key = action.lower()
        split = self._by_resource.get(key)
        if split is None:
            general: list[Statement] = []
            literal: dict[str, list[Statement]] = {}
            for statement in self.statements_for(action):
                if statement.resource_tails is None:
                    general.append(statement)
                else:
                    for text in statement.resource_tails:
                        literal.setdefault(text, []).append(statement)
            split = self._by_resource[key] = (tuple(general), {k: tuple(v) for k, v in literal.items()})
        general_statements, by_tail = split
        if not by_tail:
            return general_statements
        if resource.count(":") < 5:  # matched as a whole string (see Pattern.matches): no index
            return self.statements_for(action)
        named = by_tail.get(resource.split(":", 5)[5])
        if not named:
            return general_statements
        return tuple(sorted((*general_statements, *named), key=lambda statement: statement.index))


def decode_document(document: Any) -> Any:
    """A policy document as a JSON value: accepts a dict, JSON text, or URL-encoded JSON text."""
    if type(document) is dict or isinstance(document, Mapping):
        return document
    if isinstance(document, (bytes, bytearray)):
        document = document.decode("utf-8", errors="replace")
    if not isinstance(document, str):
        raise PolicyError("", f"a policy document must be an object or JSON text, not {json_type(document)}")
    text = document.strip()
    if text[:3].upper() == "%7B" or (text[:1] != "{" and "%" in text):
        text = urllib.parse.unquote(text).strip()
    try:
        return decode_json(text)
    except json.JSONDecodeError as error:
        raise PolicyError("", f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except (ValueError, RecursionError) as error:
        raise PolicyError("", f"not valid JSON: {json_limit(error)}") from None


def json_limit(error: ValueError | RecursionError) -> str:
    """Why ``json.loads`` refused syntactically valid JSON: nesting too deep, or an integer too long."""
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(error).split(":")[0]


def parse_policy(document: Any, *, resource_policy: bool = False, rcp: bool = False) -> Policy:
    """Parse and validate one policy document; raises PolicyError naming the JSON path of the first problem.

    ``resource_policy``: the document is resource-based (a role trust policy), so each statement names
    its Principal or NotPrincipal, which is kept; in identity policies and SCPs the element is an error
    AWS rejects, reported as a warning and ignored. ``rcp``: the document is an RCP, whose statements'
    Principal is ``"*"`` (AWS Organizations, RCP syntax,
    https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_syntax.html): it names
    no one in particular, so it is ignored without a warning; only another Principal is warned about.
    """
    return policy_from_value(decode_document(document), resource_policy=resource_policy, rcp=rcp)


class PolicyCache:
    """Parses each distinct policy document once, so identical documents share one Policy (and its caches).

    The one cache of the snapshot loader and of ``simulate``: accounts and request streams repeat documents
    (AWS managed policies, SCPs, shared customer policies). A document is known by ``key(value)`` when the caller
    has a canonical text for it (the loader computes one for the document's size anyway), else by the
    :func:`~supportkit.iam.jsonobject.value_key` of its JSON value; one given as text by that text as well. A
    document that repeated a key is never kept (its text or key looks like a valid one's), nor one that fails to
    parse: its PolicyError is raised each time.
    """

    def __init__(self) -> None:
        self._parsed: dict[tuple[bool, bool, str | bytes], Policy] = {}

    def parse(self, document: Any, *, resource_policy: bool = False, rcp: bool = False,
              key: Callable[[Any], str] | None = None) -> Policy:
        """:func:`parse_policy` of ``document``, parsed on its first appearance only."""
        text = document if type(document) is str else None
        if text is not None and (policy := self._parsed.get((resource_policy, rcp, text))) is not None:
            return policy
        value = decode_document(document)
        found = cache_key(value, key or value_key)
        if found is None:
            return policy_from_value(value, resource_policy=resource_policy, rcp=rcp)
        known = (resource_policy, rcp, found)
        policy = self._parsed.get(known)
        if policy is None:
            policy = self._parsed[known] = policy_from_value(value, resource_policy=resource_policy, rcp=rcp)
        if text is not None:
            self._parsed[(resource_policy, rcp, text)] = policy
        return policy

    def __len__(self) -> int:
        """How many distinct keys the cache holds."""
        return len(self._parsed)


def policy_from_value(value: Any, *, resource_policy: bool = False, rcp: bool = False) -> Policy:
    """:func:`parse_policy` for a document already decoded from JSON (see :func:`decode_document`)."""
    if type(value) is not dict:  # decoded JSON is a plain dict: no ABC check, no repeated key (RepeatedKeys)
        if not isinstance(value, Mapping):
            raise PolicyError("", f"a policy document must be a JSON object, not {json_type(value)}")
        check_unique_keys(value, "")
    warnings: list[str] = []
    if not _TOP_LEVEL_KEYS.issuperset(value):
        for key in value:
            if key not in _TOP_LEVEL:
                raise PolicyError(key, f"unknown element{_did_you_mean(key, _TOP_LEVEL)}")
    version = value.get("Version")
    if version is None:
        warnings.append(f"no Version: AWS applies {VERSION_2008}, where policy variables are plain text")
    elif version not in (VERSION_2012, VERSION_2008):
        raise PolicyError("Version", f"must be {VERSION_2012!r} or {VERSION_2008!r}, not {version!r}")
    elif version == VERSION_2008:
        warnings.append(f"Version {VERSION_2008}: policy variables are plain text; use {VERSION_2012}")
    policy_id = value.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise PolicyError("Id", f"must be a string, not {json_type(policy_id)}")
    if "Statement" not in value:
        raise PolicyError("", "missing element Statement")
    raw_statements = value["Statement"]
    if type(raw_statements) is list:
        single = False
    elif isinstance(raw_statements, Mapping):
        raw_statements = [raw_statements]
        single = True
    elif isinstance(raw_statements, list):
        single = False
    else:
        raise PolicyError("Statement", f"must be an object or a list of objects, not {json_type(raw_statements)}")
    if not raw_statements:
        warnings.append("Statement is empty: the policy allows and denies nothing")
    variables = version == VERSION_2012
    statements = []
    sids: set[str] = set()
    tails = False
    for index, raw in enumerate(raw_statements):
        path = "Statement" if single else f"Statement[{index}]"
        statement = _parse_statement(raw, index, path, variables, warnings, resource_policy, rcp)
        if statement.sid is not None:
            if statement.sid in sids:
                warnings.append(f"{path}.Sid: {statement.sid!r} is used by an earlier statement too")
            sids.add(statement.sid)
        tails = tails or statement.resource_tails is not None
        statements.append(statement)
    return _built(Policy, statements=tuple(statements), version=version, id=policy_id, warnings=tuple(warnings),
                  document=value, _by_action={}, _by_resource={}, has_resource_tails=tails)


def _parse_statement(
    raw: Any, index: int, path: str, variables: bool, warnings: list[str], resource_policy: bool = False,
    rcp: bool = False,
) -> Statement:
    if type(raw) is not dict:  # decoded JSON is a plain dict: no ABC check, no repeated key (RepeatedKeys)
        if not isinstance(raw, Mapping):
            raise PolicyError(path, f"a statement must be an object, not {json_type(raw)}")
        check_unique_keys(raw, path)
    if not _STATEMENT_KEYS.issuperset(raw):
        for key in raw:
            if key not in _STATEMENT_KEYS:
                raise PolicyError(f"{path}.{key}", f"unknown element{_did_you_mean(key, _STATEMENT_ELEMENTS)}")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyError(f"{path}.Sid", f"must be a string, not {json_type(sid)}")
    effect_text = raw.get("Effect")
    effect = _EFFECTS.get(effect_text) if isinstance(effect_text, str) else None
    if effect is None:
        if effect_text is None:
            raise PolicyError(path, "missing element Effect")
        raise PolicyError(f"{path}.Effect", f"must be 'Allow' or 'Deny', not {effect_text!r}")
    principal: PrincipalElement | None = None
    if "Principal" in raw or "NotPrincipal" in raw:
        for element in ("Principal", "NotPrincipal"):
            if element in raw:
                principal = _parse_principal(raw[element], f"{path}.{element}", element == "NotPrincipal",
                                             resource_policy)
                if not resource_policy:
                    principal = None
                    if rcp and element == "Principal" and raw[element] == "*":
                        continue  # the Principal every RCP statement has
                    warnings.append(
                        f"{path}.{element}: identity-based policies and SCPs take no principal; AWS rejects such a "
                        "document, and supportkit ignores the element (an RCP's Principal must be \"*\")"
                    )
    if resource_policy:
        if "Principal" in raw and "NotPrincipal" in raw:
            raise PolicyError(path, "has both Principal and NotPrincipal; a statement takes one of them")
        if principal is None:
            raise PolicyError(path, "missing element Principal (or NotPrincipal): a resource-based policy names "
                              "who it applies to")
        if "Resource" not in raw and "NotResource" not in raw:
            raw = {**raw, "Resource": "*"}  # a trust policy's statements apply to the role they are attached to
    actions, not_action = _pair(raw, path, "Action", "NotAction")
    resources, not_resource = _pair(raw, path, "Resource", "NotResource")
    action_set = _action_set(actions)
    if isinstance(action_set, int):
        raise PolicyError(f"{path}.{'NotAction' if not_action else 'Action'}[{action_set}]",
                          f"{actions[action_set]!r} is not an action of the form service:Action (or '*')")
    try:
        patterns, early_variables, resource_variables, tails = _resource_patterns(resources, variables)
    except PolicyError as error:
        raise PolicyError(f"{path}.{'NotResource' if not_resource else 'Resource'}{error.path}", error.message) from None
    for i in early_variables:
        warnings.append(f"{path}.{'NotResource' if not_resource else 'Resource'}[{i}]: AWS documents policy "
                        "variables only in the resource part of an ARN, after the fifth colon")
    conditions: tuple[ConditionClause, ...] = ()
    if "Condition" in raw:
        conditions, condition_warnings = compile_conditions(raw["Condition"], f"{path}.Condition", variables=variables)
        if condition_warnings:
            warnings.extend(condition_warnings)
    if not_action and not_resource and effect is Effect.ALLOW:
        warnings.append(f"{path}: Allow with NotAction and NotResource grants very broadly")
    context_dependent = bool(conditions) or bool(resource_variables)
    return _built(Statement, index=index, sid=sid, effect=effect, actions=actions, not_action=not_action,
                  resources=patterns, not_resource=not_resource, conditions=conditions, action_set=action_set,
                  _resource_matches={}, principal=principal,
                  resource_variables=resource_variables, context_dependent=context_dependent,
                  resource_tails=None if not_resource or context_dependent else tails)


_T = TypeVar("_T")


def _built(cls: type[_T], **fields: Any) -> _T:
    """A frozen dataclass instance made from every one of its fields, without its ``__init__``.

    The generated one sets each field through ``object.__setattr__``: for a Statement (11 fields) that was a
    fifth of parsing it, and simulate parses thousands of distinct documents. The tests check that a parsed
    statement and policy hold every field of their class.
    """
    made = object.__new__(cls)
    made.__dict__.update(fields)
    return made


@lru_cache(maxsize=16384)
def _action_set(actions: tuple[str, ...]) -> ActionSet | int:
    """The ActionSet of a valid Action list, else the index of its first action not of the form ``service:Action``
    (nor ``*``); remembered, as lists repeat a lot."""
    bad = next((i for i, text in enumerate(actions) if text != "*" and not _ACTION_FORMAT.match(text)), -1)
    return ActionSet.of(actions) if bad < 0 else bad


@lru_cache(maxsize=16384)
def _resource_patterns(texts: tuple[str, ...], variables: bool
                       ) -> tuple[tuple[Pattern, ...], tuple[int, ...], tuple[str, ...], frozenset[str] | None]:
    """A Resource list compiled; remembered, as lists (``*`` most of all) repeat a lot. With the patterns: the
    indices of those with a policy variable before the resource part (warned about), the context keys their
    variables read, and the literal resource parts of the ARNs they match when each has one (else None: see
    :attr:`Statement.resource_tails`). A malformed one raises a PolicyError at its index (``[2]``)."""
    patterns: list[Pattern] = []
    for i, text in enumerate(texts):
        try:
            patterns.append(Pattern.compile(text, arn=True, variables=variables))
        except PatternError as error:
            raise PolicyError(f"[{i}]", str(error)) from None
    early = tuple(i for i, pattern in enumerate(patterns)
                  if pattern.variables and _variable_before_resource_part(pattern))
    keys = tuple(key for pattern in patterns for key in pattern.variables)
    tails = {pattern.literal_tail for pattern in patterns}
    literal = frozenset(tail for tail in tails if tail is not None) if None not in tails else None
    return tuple(patterns), early, keys, literal


def _pair(raw: Mapping[str, Any], path: str, positive: str, negative: str) -> tuple[tuple[str, ...], bool]:
    """The values of Action/NotAction (or Resource/NotResource): exactly one must be present."""
    has_positive = positive in raw
    if has_positive == (negative in raw):
        if has_positive:
            raise PolicyError(path, f"has both {positive} and {negative}; a statement takes one of them")
        raise PolicyError(path, f"missing element {positive} (or {negative})")
    element = positive if has_positive else negative
    value = raw[element]
    if type(value) is str:
        return (value,), not has_positive
    items = value
    if not isinstance(items, list):
        raise PolicyError(f"{path}.{element}", f"must be a string or a list of strings, not {json_type(value)}")
    if not items:
        raise PolicyError(f"{path}.{element}", "is an empty list")
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise PolicyError(f"{path}.{element}[{i}]", f"must be a string, not {json_type(item)}")
    return tuple(items), not has_positive


@dataclass(frozen=True, eq=False)
class ActionSet:
    """An Action or NotAction list, matched case-insensitively with ``*`` and ``?``.

    Lists such as ReadOnlyAccess's hold thousands of patterns over hundreds of services, and a request
    asks about one service: patterns are grouped by service and compiled only for the services asked.
    """

    by_service: Mapping[str, tuple[str, ...]]  # lower-cased service prefix -> its lower-cased patterns
    any_service: tuple[str, ...]  # patterns whose service part has a wildcard ("*", "support*:*")
    _matchers: dict[str, Callable[[str], bool]] = field(default_factory=dict, compare=False, repr=False)
    # Answers by the action as asked: the statements sharing this set ask about the same few actions.
    _answers: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    @staticmethod
    @lru_cache(maxsize=8192)
    def of(texts: tuple[str, ...]) -> "ActionSet":
        """The set for one list; cached, since many statements repeat the same lists."""
        by_service: dict[str, list[str]] = {}
        any_service: list[str] = []
        for text in texts:
            lowered = text.lower()
            service, _, _ = lowered.partition(":")
            if "*" in service or "?" in service or ":" not in lowered:
                any_service.append(lowered)
            else:
                by_service.setdefault(service, []).append(lowered)
        return ActionSet({k: tuple(v) for k, v in by_service.items()}, tuple(any_service))

    def matches(self, action: str) -> bool:
        found = self._answers.get(action)
        if found is None:
            lowered = action.lower()
            found = self._answers[action] = self.matcher(lowered.partition(":")[0])(lowered)
        return found

    def matcher(self, service: str) -> Callable[[str], bool]:
        """The test of a lower-cased action of the lower-cased ``service`` (for callers that test many actions)."""
        matcher = self._matchers.get(service)
        if matcher is None:
            matcher = self._matchers[service] = _matcher((*self.by_service.get(service, ()), *self.any_service))
        return matcher


@lru_cache(maxsize=8192)
def _matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """A test of a lower-cased action against lower-cased patterns: exact names by set, a lone trailing ``*``
    (``support:describe*``, most wildcards) by prefix, other wildcards by regex. Shared by the sets whose
    patterns for a service are the same (often none, or ``*`` alone)."""
    exact = frozenset(p for p in patterns if "*" not in p and "?" not in p)
    prefixes: list[str] = []
    other: list[str] = []
    for p in patterns:
        if p not in exact:
            (prefixes if trailing_star(p) else other).append(p)
    regex = re.compile("|".join(f"(?:{wildcard_regex([(ch, True) for ch in p])})" for p in other),
                       re.DOTALL) if other else None
    return text_test(exact, tuple(p[:-1] for p in prefixes), regex)


def _variable_before_resource_part(pattern: Pattern) -> bool:
    """Whether a policy variable replaces part of the partition, service, Region or account of an ARN."""
    colons = 0
    for part in pattern.parts:
        if isinstance(part, Variable):
            return colons < 5
        colons += part.text.count(":")
    return False


_PRINCIPAL_KINDS = ("AWS", "Service", "Federated", "CanonicalUser")


@dataclass(frozen=True)
class PrincipalElement:
    """The Principal (or NotPrincipal) of a resource-based statement, its values as written, by kind.

    ``everyone`` is ``"Principal": "*"`` (or ``{"AWS": "*"}``): every principal, in any account.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
    """

    negated: bool
    everyone: bool = False
    aws: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()
    canonical_user: tuple[str, ...] = ()


def _parse_principal(value: Any, path: str, negated: bool, strict: bool) -> PrincipalElement:
    if value == "*":
        return PrincipalElement(negated, everyone=True)
    if not isinstance(value, Mapping):
        raise PolicyError(path, f"must be '*' or an object such as {{\"AWS\": ...}}, not {json_type(value)}")
    found: dict[str, tuple[str, ...]] = {}
    for kind, ids in value.items():
        items = [ids] if isinstance(ids, str) else ids
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise PolicyError(f"{path}.{kind}", "must be a string or a list of strings")
        if strict and kind not in _PRINCIPAL_KINDS:
            raise PolicyError(f"{path}.{kind}", f"unknown principal type{_did_you_mean(kind, _PRINCIPAL_KINDS)}")
        found[kind] = tuple(items)
    aws = found.get("AWS", ())
    return PrincipalElement(
        negated, "*" in aws, tuple(a for a in aws if a != "*"), found.get("Service", ()), found.get("Federated", ()),
        found.get("CanonicalUser", ()),
    )


def _did_you_mean(key: str, known: tuple[str, ...]) -> str:
    for candidate in known:
        if candidate.lower() == str(key).lower():
            return f" (element names are case-sensitive: did you mean {candidate!r}?)"
    return f"; expected one of {', '.join(known)}"

