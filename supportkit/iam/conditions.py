"""The Condition element of a policy statement, compiled once and evaluated as IAM does.

A Condition block maps operators to keys to values. Every operator/key pair becomes one
:class:`ConditionClause`; the statement's condition holds when every clause holds (operators and keys
are ANDed, the values of one key are ORed, and a negated operator holds when *no* value matches).

Everything that can be decided from the policy alone (operator parsing, wildcard regexes, numbers,
dates, IP networks, base64 bytes) is done at compile time, so :meth:`ConditionClause.evaluate` only
looks the key up and runs a prebuilt closure: it is called millions of times.

Semantics follow the IAM User Guide:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html
"""

from __future__ import annotations

import base64
import binascii
import difflib
import ipaddress
import operator as op
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from supportkit.iam.context import EMPTY_CONTEXT, ContextValue, RequestContext, json_scalar_text
from supportkit.errors import PolicyError, json_type
from supportkit.iam.jsonobject import BoundedCache, cache_key, check_unique_keys
from supportkit.iam.patterns import Literal, Pattern, PatternError, text_test, trailing_star

Matcher = Callable[[str, RequestContext], bool]
"""Whether one request value matches at least one of a clause's policy values."""

Decide = Callable[[RequestContext], bool]

_FOR_ALL = "ForAllValues"
_FOR_ANY = "ForAnyValue"
_IF_EXISTS = "IfExists"
_NULL = "Null"

# Keys whose request value can be a list (value type "Multivalued" in the global condition keys reference).
_MULTIVALUED_KEYS = frozenset(
    {"aws:tagkeys", "aws:principalservicenameslist", "aws:calledvia", "aws:sourceorgpaths", "aws:principalorgpaths"}
)
# Keys that never hold more than one value: a set operator on them is a mistake (ForAllValues is then
# true whenever the key is absent).
_SINGLE_VALUED_KEYS = frozenset(
    {
        "aws:username", "aws:userid", "aws:sourceip", "aws:vpcsourceip", "aws:principalarn", "aws:principalaccount",
        "aws:principalorgid", "aws:principaltype", "aws:principalisawsservice", "aws:multifactorauthpresent",
        "aws:multifactorauthage", "aws:securetransport", "aws:currenttime", "aws:epochtime", "aws:tokenissuetime",
        "aws:sourcearn", "aws:sourceaccount", "aws:sourceorgid", "aws:sourcevpc", "aws:sourcevpce",
        "aws:requestedregion", "aws:useragent", "aws:referer", "aws:viaawsservice", "aws:calledviafirst",
        "aws:calledvialast", "aws:resourceaccount", "aws:resourceorgid", "aws:federatedprovider",
    }
)
_SINGLE_VALUED_PREFIXES = ("aws:principaltag/", "aws:resourcetag/", "aws:requesttag/")


# --- values as they appear in requests -------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)  # AWS reads ASCII digits only
_EPOCH = re.compile(r"-?\d+(?:\.\d+)?", re.ASCII)
_ISO_DATE = re.compile(
    r"(\d{4})-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:?\d{2})?)?)?", re.ASCII
)
_CIDR = re.compile(r"[0-9A-Fa-f:.]+(?:/\d{1,3})?", re.ASCII)


def parse_number(text: str) -> Decimal | None:
    """An integer or decimal (IAM numeric operators); exponents, NaN and infinities are not numbers."""
    return Decimal(text) if _NUMBER.fullmatch(text) else None


def parse_date(text: str) -> float | None:
    """Epoch seconds, or a W3C ISO 8601 date/datetime (YYYY-MM, YYYY-MM-DD, ...T hh:mm[:ss[.s]][TZD]).

    All-digit text is epoch seconds (aws:EpochTime), so a bare year is not a date. A datetime without
    zone designator is taken as UTC.
    """
    if _EPOCH.fullmatch(text):
        return float(text)
    match = _ISO_DATE.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        tzinfo = timezone.utc
        if zone and zone != "Z":
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            tzinfo = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        moment = datetime(
            int(year), int(month), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")), tzinfo=tzinfo,
        )
    except ValueError:
        return None
    return moment.timestamp()


def _parse_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """A CIDR range or a single address (IAM uses /32, or /128 for IPv6, when the prefix is missing)."""
    if not _CIDR.fullmatch(text):
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _parse_base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


# Request values repeat across evaluations (the same aws:CurrentTime or aws:SourceIp for every statement),
# so their parses are cached; the cache is bounded because request values are unbounded.
_request_number = lru_cache(maxsize=4096)(parse_number)
_request_date = lru_cache(maxsize=4096)(parse_date)
_request_bytes = lru_cache(maxsize=4096)(_parse_base64)


@lru_cache(maxsize=4096)
def _request_address(text: str) -> tuple[int, int] | None:
    """The request address as (IP version, integer), compared against precomputed integer ranges."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return address.version, int(address)


# --- the operator table ----------------------------------------------------------------------------

class _Value(NamedTuple):
    """One policy value and the JSON path it came from (for errors and warnings); a tuple, as thousands of
    distinct condition blocks are compiled when requests carry their own policies."""

    text: str
    path: str


class _Built(NamedTuple):
    matcher: Matcher
    variables: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


Builder = Callable[[Sequence[_Value], bool], _Built]
"""Compiles a clause's policy values (and whether policy variables are on) into a matcher."""


def _patterns(values: Sequence[_Value], **options: Any) -> list[Pattern]:
    patterns = []
    for value in values:
        try:
            patterns.append(Pattern.compile(value.text, **options))
        except PatternError as error:
            raise PolicyError(value.path, str(error)) from None
    return patterns


def _variables_of(patterns: Sequence[Pattern]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(key for pattern in patterns for key in pattern.variables))


def _with_variables(pattern: Pattern, arn: bool = False) -> Matcher:
    """A pattern holding policy variables, memoised on the request value and the values of its variables.

    Its result depends on nothing else, and :meth:`Pattern.matches` rebuilds its regex on every call. ``arn``:
    compare as the ARN operators do (:meth:`Pattern.matches_components`).
    """
    keys = pattern.variables
    match = pattern.matches_components if arn else pattern.matches

    @lru_cache(maxsize=1024)
    def matches(value: str, resolved: tuple[ContextValue | None, ...]) -> bool:
        bound = RequestContext({key: item for key, item in zip(keys, resolved) if item is not None})
        return match(value, bound)

    return lambda value, context: matches(value, tuple(context.values.get(key) for key in keys))


def _either(fixed: Matcher | None, dynamic: Sequence[Pattern], arn: bool = False) -> Matcher:
    """``fixed`` (precompiled, context-free) or any of the ``dynamic`` patterns, whose variables need the context."""
    if not dynamic:
        return fixed or (lambda value, context: False)
    variable_matchers = [_with_variables(pattern, arn) for pattern in dynamic]

    def matches_dynamic(value: str, context: RequestContext) -> bool:
        return any(matches(value, context) for matches in variable_matchers)

    if fixed is None:
        return matches_dynamic
    return lambda value, context: fixed(value, context) or matches_dynamic(value, context)


def _sources(patterns: Sequence[Pattern]) -> list[str]:
    """The regexes of patterns without variables (which always have one)."""
    return [source for pattern in patterns if (source := pattern.source(EMPTY_CONTEXT)) is not None]


def _literal(pattern: Pattern) -> str:
    return "".join(part.text for part in pattern.literals)


def _alternation(regexes: Sequence[str]) -> re.Pattern[str]:
    """Several wildcard patterns as one regex, so a request value is scanned once."""
    return re.compile("|".join(f"(?:{regex})" for regex in regexes), re.DOTALL)


def _in_set(literals: frozenset[str], *, ignore_case: bool) -> Matcher:
    if ignore_case:
        return lambda value, context: value.lower() in literals
    return lambda value, context: value in literals


def _strings(*, ignore_case: bool, wildcards: bool) -> Builder:
    """StringEquals/StringLike and their variants: a set lookup or one alternation regex, plus variables."""

    def build(values: Sequence[_Value], variables: bool) -> _Built:
        if not any((variables and "${" in text) or (wildcards and ("*" in text or "?" in text))
                   for text, _ in values):  # plain strings, the most common values: a set, no patterns
            plain = [text for text, _ in values]
            return _Built(_in_set(frozenset(text.lower() for text in plain) if ignore_case else frozenset(plain),
                                  ignore_case=ignore_case))
        patterns = _patterns(values, ignore_case=ignore_case, wildcards=wildcards, variables=variables)
        fixed = [pattern for pattern in patterns if not pattern.variables]
        dynamic = [pattern for pattern in patterns if pattern.variables]
        matcher: Matcher | None = None
        wild = [pattern for pattern in fixed if pattern.literal is None] if wildcards else []
        if wild:
            # "prefix*" (one trailing wildcard) by startswith, values without wildcards by a set lookup, as for
            # Action patterns; other wildcards by one regex
            prefixes: list[Pattern] = []
            others: list[Pattern] = []
            for pattern in wild:
                (prefixes if _trailing_star(pattern) else others).append(pattern)
            test = text_test(frozenset(pattern.literal for pattern in fixed if pattern.literal is not None),
                             tuple(pattern.text[:-1] for pattern in prefixes),
                             _alternation(_sources(others)) if others else None)
            matcher = lambda value, context: test(value)  # noqa: E731
        elif fixed:
            texts = (_literal(pattern) for pattern in fixed)
            literals = frozenset(text.lower() for text in texts) if ignore_case else frozenset(texts)
            matcher = _in_set(literals, ignore_case=ignore_case)
        return _Built(_either(matcher, dynamic), _variables_of(dynamic))

    return build


def _trailing_star(pattern: Pattern) -> bool:
    """A case-sensitive pattern whose one wildcard is a last ``*``, that matches the values it starts."""
    parts = pattern.parts
    return (not pattern.ignore_case and trailing_star(pattern.text) and len(parts) == 1
            and isinstance(parts[0], Literal) and parts[0].wildcards and parts[0].text == pattern.text)


def _arns(values: Sequence[_Value], variables: bool) -> _Built:
    """ArnEquals/ArnLike (identical in IAM): the six components compared separately, plus variables.

    A pattern or a request value with fewer than six components matches nothing (``*`` alone matches all):
    see :meth:`Pattern.matches_components`. Such a pattern is also warned about.
    """
    patterns = _patterns(values, arn=True, variables=variables)
    fixed = [pattern for pattern in patterns if not pattern.variables]
    short = [value for value, pattern in zip(values, patterns)
             if not pattern.variables and not pattern.matches_everything and value.text.count(":") < 5]
    warnings = tuple(f"{value.path}: {value.text!r} has fewer than the six colon-separated components of an ARN; "
                     "an ARN operator compares each component and never matches it" for value in short)
    complete = [pattern for pattern in fixed if pattern.matches_everything or pattern.text.count(":") >= 5]
    matcher: Matcher | None = None
    if any(pattern.matches_everything for pattern in complete):
        matcher = lambda value, context: True  # noqa: E731
    elif complete:
        segmented = _alternation(_sources(complete))

        def matcher(value: str, context: RequestContext) -> bool:
            return value.count(":") >= 5 and segmented.fullmatch(value) is not None

    dynamic = [pattern for pattern in patterns if pattern.variables]
    return _Built(_either(matcher, dynamic, arn=True), _variables_of(dynamic), warnings)


def _parsed(values: Sequence[_Value], parse: Callable[[str], Any], what: str, family: str) -> list[Any]:
    parsed = []
    for value in values:
        result = parse(value.text)
        if result is None:
            hint = f" (policy variables cannot be used with {family} operators)" if "${" in value.text else ""
            raise PolicyError(value.path, f"{value.text!r} is not {what}{hint}")
        parsed.append(result)
    return parsed


def _ordered(parse: Callable[[str], Any], request: Callable[[str], Any], what: str, family: str,
             compare: Callable[[Any, Any], bool]) -> Builder:
    """Numeric and Date operators: ``compare(request value, policy value)`` on parsed values.

    A request value that does not parse matches nothing (it is not an error: the request is what it is).
    """

    def build(values: Sequence[_Value], variables: bool) -> _Built:
        bounds = _parsed(values, parse, what, family)

        def matcher(value: str, context: RequestContext) -> bool:
            parsed = request(value)
            return parsed is not None and any(compare(parsed, bound) for bound in bounds)

        return _Built(matcher)

    return build


def _booleans(values: Sequence[_Value], variables: bool) -> _Built:
    """Bool compares "true"/"false" case-insensitively; the operator reference allows policy variables."""
    patterns = _patterns(values, ignore_case=True, wildcards=False, variables=variables)
    fixed = {value: _literal(pattern).lower() for value, pattern in zip(values, patterns) if not pattern.variables}
    warnings = tuple(
        f"{value.path}: Bool value {value.text!r} is neither true nor false; it never matches"
        for value, text in fixed.items()
        if text not in ("true", "false")
    )
    booleans = frozenset(fixed.values()) & {"true", "false"}
    dynamic = [pattern for pattern in patterns if pattern.variables]
    matcher = _in_set(booleans, ignore_case=True) if booleans else None
    return _Built(_either(matcher, dynamic), _variables_of(dynamic), warnings)


def _binary(values: Sequence[_Value], variables: bool) -> _Built:
    """BinaryEquals compares bytes: policy and request values are both base64 text."""
    expected = frozenset(_parsed(values, _parse_base64, "base64", "Binary"))

    def matcher(value: str, context: RequestContext) -> bool:
        return _request_bytes(value) in expected

    return _Built(matcher)


class _Range(NamedTuple):
    """A policy's IP address or CIDR range; ``written`` is how to write it when bits after its mask are set."""

    version: int
    first: int
    last: int
    written: str | None


@lru_cache(maxsize=4096)
def _policy_range(text: str) -> _Range | None:
    """The range of a policy value, or None when it is none; remembered, as policies repeat their ranges."""
    network = _parse_network(text)
    if network is None:
        return None
    first = int(network.network_address)
    masked = "/" in text and network.network_address != ipaddress.ip_address(text.split("/")[0])
    return _Range(network.version, first, first | int(network.hostmask), str(network) if masked else None)


def _networks(values: Sequence[_Value], variables: bool) -> _Built:
    """IpAddress: the request address lies in one of the ranges (IPv4 and IPv6 never match each other)."""
    networks: list[_Range] = _parsed(values, _policy_range, "an IP address or CIDR range", "IP address")
    warnings = tuple(
        f"{value.path}: bits after the /{network.written.partition('/')[2]} mask of {value.text!r} are ignored; "
        f"write {network.written!r}"
        for value, network in zip(values, networks) if network.written is not None
    )
    ranges: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
    for network in networks:
        ranges[network.version].append((network.first, network.last))

    def matcher(value: str, context: RequestContext) -> bool:
        address = _request_address(value)
        if address is None:
            return False
        version, number = address
        for low, high in ranges[version]:
            if low <= number <= high:
                return True
        return False

    return _Built(matcher, warnings=warnings)


@dataclass(frozen=True)
class _Operator:
    """A base operator: how its values compile, and whether it is negated ("NOT of OR")."""

    build: Builder
    negated: bool = False


def _family(prefix: str, parse: Callable[[str], Any], request: Callable[[str], Any], what: str,
            family: str) -> dict[str, _Operator]:
    comparisons: dict[str, tuple[Callable[[Any, Any], bool], bool]] = {
        "Equals": (op.eq, False),
        "NotEquals": (op.eq, True),
        "LessThan": (op.lt, False),
        "LessThanEquals": (op.le, False),
        "GreaterThan": (op.gt, False),
        "GreaterThanEquals": (op.ge, False),
    }
    return {
        prefix + suffix: _Operator(_ordered(parse, request, what, family, compare), negated)
        for suffix, (compare, negated) in comparisons.items()
    }


_OPERATORS: Mapping[str, _Operator] = {
    "StringEquals": _Operator(_strings(ignore_case=False, wildcards=False)),
    "StringNotEquals": _Operator(_strings(ignore_case=False, wildcards=False), negated=True),
    "StringEqualsIgnoreCase": _Operator(_strings(ignore_case=True, wildcards=False)),
    "StringNotEqualsIgnoreCase": _Operator(_strings(ignore_case=True, wildcards=False), negated=True),
    "StringLike": _Operator(_strings(ignore_case=False, wildcards=True)),
    "StringNotLike": _Operator(_strings(ignore_case=False, wildcards=True), negated=True),
    **_family("Numeric", parse_number, _request_number, "a number", "Numeric"),
    **_family("Date", parse_date, _request_date, "an ISO 8601 date or epoch time", "Date"),
    "Bool": _Operator(_booleans),
    "BinaryEquals": _Operator(_binary),
    "IpAddress": _Operator(_networks),
    "NotIpAddress": _Operator(_networks, negated=True),
    # "The ArnEquals and ArnLike condition operators behave identically" (both take wildcards).
    "ArnEquals": _Operator(_arns),
    "ArnLike": _Operator(_arns),
    "ArnNotEquals": _Operator(_arns, negated=True),
    "ArnNotLike": _Operator(_arns, negated=True),
}


# --- parsing the operator name ---------------------------------------------------------------------

@dataclass(frozen=True)
class _Parsed:
    qualifier: str | None  # "ForAllValues", "ForAnyValue" or None
    base: str
    if_exists: bool


def _suggest(word: str, choices: Sequence[str]) -> str | None:
    by_case = {choice.lower(): choice for choice in choices}.get(word.lower())
    if by_case:
        return by_case
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.75)
    return close[0] if close else None


def _parse_operator(name: str, path: str) -> _Parsed:
    """Split ``ForAnyValue:StringLikeIfExists`` into its parts; operator names are case-sensitive in IAM."""
    try:
        return _operator_parts(name)
    except PolicyError as error:
        raise PolicyError(path, error.message) from None


@lru_cache(maxsize=1024)
def _operator_parts(name: str) -> _Parsed:
    """:func:`_parse_operator` without the path, remembered: policies use a few operators over and over."""
    qualifier, rest = None, name
    if ":" in name:
        prefix, rest = name.split(":", 1)
        if prefix not in (_FOR_ALL, _FOR_ANY):
            hint = _suggest(prefix, (_FOR_ALL, _FOR_ANY))
            advice = f"did you mean '{hint}:'?" if hint else "use ForAllValues: or ForAnyValue:"
            raise PolicyError("", f"malformed set operator {prefix + ':'!r} in {name!r} ({advice})")
        qualifier = prefix
    if_exists = rest.endswith(_IF_EXISTS) and rest != _IF_EXISTS
    base = rest[: -len(_IF_EXISTS)] if if_exists else rest
    if base == _NULL and if_exists:
        raise PolicyError("", f"{name!r}: the Null operator cannot be combined with IfExists")
    if base != _NULL and base not in _OPERATORS:
        hint = _suggest(base, (*_OPERATORS, _NULL))
        if hint:
            suggestion = (f"{qualifier}:" if qualifier else "") + hint + (_IF_EXISTS if if_exists else "")
            raise PolicyError("", f"unknown operator {name!r} (did you mean {suggestion!r}?)")
        raise PolicyError("", f"unknown operator {name!r}")
    return _Parsed(qualifier, base, if_exists)


# --- clauses ----------------------------------------------------------------------------------------

def _members(value: ContextValue) -> tuple[str, ...]:
    """The request values a set operator iterates; an empty string is an empty data set (IAM User Guide)."""
    if isinstance(value, tuple):
        return value
    return (value,) if value else ()


def _is_null(value: ContextValue | None) -> bool:
    """Null treats a missing key and a key with an empty value alike ("context keys with empty values")."""
    return not value


def _decide_null(lookup: str, wanted: frozenset[bool]) -> Decide:
    def decide(context: RequestContext) -> bool:
        return _is_null(context.values.get(lookup)) in wanted

    return decide


def _decide_plain(lookup: str, matches: Matcher, negated: bool, when_absent: bool) -> Decide:
    """No set operator. On a multivalued request value the clause matches when any value matches, which
    is what the unqualified operator means for a list; the docs ask for a set operator there and
    compile_conditions warns about it for the keys known to be multivalued."""

    def decide(context: RequestContext) -> bool:
        value = context.values.get(lookup)
        if value is None:
            return when_absent
        if isinstance(value, str):
            return matches(value, context) != negated
        return any(matches(item, context) for item in value) != negated

    return decide


def _decide_for_all(lookup: str, matches: Matcher, negated: bool) -> Decide:
    """ForAllValues: every request value satisfies the operator; vacuously true when absent or empty."""

    def decide(context: RequestContext) -> bool:
        value = context.values.get(lookup)
        if value is None:
            return True
        return all(matches(item, context) != negated for item in _members(value))

    return decide


def _decide_for_any(lookup: str, matches: Matcher, negated: bool) -> Decide:
    """ForAnyValue: at least one request value satisfies the operator; false when absent or empty, IfExists or not.

    "For no matching context key or a null dataset, the condition returns false" (IAM User Guide,
    "Single-valued vs. multivalued context keys"): the set operator's own rule for an absent key, which
    AWS applies to ``ForAnyValue:...IfExists`` as well (an absent ``aws:TagKeys`` does not satisfy
    ``ForAnyValue:StringEqualsIfExists``).
    """

    def decide(context: RequestContext) -> bool:
        value = context.values.get(lookup)
        if value is None:
            return False
        return any(matches(item, context) != negated for item in _members(value))

    return decide


def _constant(result: bool) -> Decide:
    return lambda context: result


@dataclass(frozen=True)
class ConditionClause:
    """One operator applied to one key with its values, e.g. StringLike / aws:username / ("a*", "b")."""

    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str  # as written
    values: tuple[str, ...]  # normalised to strings as AWS does (JSON true -> "true", numbers -> str)
    _decide: Decide = field(compare=False, repr=False)
    _keys_read: tuple[str, ...] = field(compare=False, repr=False)

    def evaluate(self, context: RequestContext) -> bool:
        """Whether this clause holds for the request described by ``context``."""
        return self._decide(context)

    @property
    def keys_read(self) -> tuple[str, ...]:
        """Lower-cased context keys the result depends on: the key, then keys used by policy variables."""
        return self._keys_read


def _compile_clause(name: str, parsed: _Parsed, key: str, values: tuple[_Value, ...],
                    variables: bool) -> tuple[ConditionClause, tuple[str, ...]]:
    if parsed.base == _NULL:
        return _compile_null(name, parsed, key, values)
    lookup = key.lower()
    operator = _OPERATORS[parsed.base]
    built = operator.build(values, variables)
    # A missing key: IfExists makes the clause true; otherwise a negated operator is true and a positive
    # one false; ForAllValues is always true and ForAnyValue false, IfExists or not (IAM User Guide, condition
    # operators and "Single-valued vs. multivalued context keys").
    if parsed.qualifier == _FOR_ALL:
        decide = _decide_for_all(lookup, built.matcher, operator.negated)
    elif parsed.qualifier == _FOR_ANY:
        decide = _decide_for_any(lookup, built.matcher, operator.negated)
    else:
        decide = _decide_plain(lookup, built.matcher, operator.negated, parsed.if_exists or operator.negated)
    reads = tuple(dict.fromkeys((lookup, *built.variables)))
    return ConditionClause(name, key, tuple(value.text for value in values), decide, reads), built.warnings


def _compile_null(name: str, parsed: _Parsed, key: str,
                  values: tuple[_Value, ...]) -> tuple[ConditionClause, tuple[str, ...]]:
    texts = tuple(value.text for value in values)
    warnings = [
        f"{value.path}: Null value {value.text!r} is neither true nor false; it never matches"
        for value in values
        if value.text.lower() not in ("true", "false")
    ]
    if parsed.qualifier:
        # Access Analyzer "Null with qualifier": ForAllValues:Null is always true, ForAnyValue:Null always false.
        decide = _constant(parsed.qualifier == _FOR_ALL)
    else:
        booleans = {text.lower() for text in texts} & {"true", "false"}
        decide = _decide_null(key.lower(), frozenset(text == "true" for text in booleans))
    return ConditionClause(name, key, texts, decide, (key.lower(),)), tuple(warnings)


# --- the Condition element --------------------------------------------------------------------------

def _as_text(value: object, path: str) -> str:
    """A policy value as IAM reads it (the same reading as a request context value's)."""
    text = json_scalar_text(value)
    if text is not None:
        return text
    if isinstance(value, float):
        raise PolicyError(path, f"{value!r} is not a valid condition value")
    raise PolicyError(path, f"a condition value must be a string, number or boolean, not {json_type(value)}")


def _values_of(raw: object, path: str) -> tuple[_Value, ...]:
    if isinstance(raw, (list, tuple)):
        return tuple(_Value(item if type(item) is str else _as_text(item, f"{path}[{index}]"), f"{path}[{index}]")
                     for index, item in enumerate(raw))
    return (_Value(raw if type(raw) is str else _as_text(raw, path), path),)


def _key_warnings(parsed: _Parsed, name: str, key: str, path: str) -> list[str]:
    """Valid but suspicious uses of set operators (IAM User Guide and Access Analyzer policy checks)."""
    lookup = key.lower()
    if parsed.base == _NULL:
        if parsed.qualifier:
            return [f"{path}: {name!r} always evaluates to {parsed.qualifier == _FOR_ALL}; use Null alone"]
        return []
    single = lookup in _SINGLE_VALUED_KEYS or lookup.startswith(_SINGLE_VALUED_PREFIXES)
    if parsed.qualifier == _FOR_ALL and single:
        return [f"{path}: ForAllValues with the single-valued key {key!r} is true whenever the key is absent; "
                f"use {name.split(':', 1)[1]!r} without a set operator"]
    if parsed.qualifier == _FOR_ANY and single:
        return [f"{path}: {key!r} is single-valued; use {name.split(':', 1)[1]!r} without a set operator"]
    if parsed.qualifier is None and lookup in _MULTIVALUED_KEYS:
        return [f"{path}: {key!r} is multivalued; qualify {name!r} with ForAnyValue: or ForAllValues:"]
    return []


def compile_conditions(block: object, path: str, *, variables: bool = True
                       ) -> tuple[tuple[ConditionClause, ...], tuple[str, ...]]:
    """Compile a statement's Condition element: returns (clauses, warnings). The statement's condition holds when
    every clause holds (several operators and several keys are ANDed; several values of one key are ORed).
    `path` is the JSON path of the Condition element, e.g. "Statement[2].Condition"; errors raise PolicyError with
    a precise path such as `Statement[2].Condition: unknown operator 'StringLikee'` or
    `Statement[2].Condition.NumericLessThan.aws:MultiFactorAuthAge: 'abc' is not a number`.
    `variables=False` when the policy Version is not 2012-10-17 (then `${...}` is literal text).
    Blocks are compiled once per distinct text: real accounts repeat the same conditions across thousands
    of policies, and the compiled clauses are immutable."""
    key = None
    if type(block) is dict and block and (block_key := cache_key(block)) is not None:  # a repeated key: an error
        key = (block_key, variables)
        found = _COMPILED.get(key)
        if found is not None:
            return found, ()
    clauses, warnings = _compile_conditions(block, path, variables)
    if key is not None and not warnings:  # warnings name the statement's path: those are not shared
        _COMPILED.put(key, clauses)
    return clauses, warnings


_COMPILED: BoundedCache[tuple[bytes | str, bool], tuple[ConditionClause, ...]] = BoundedCache()


def _compile_conditions(block: object, path: str, variables: bool
                        ) -> tuple[tuple[ConditionClause, ...], tuple[str, ...]]:
    if not isinstance(block, Mapping):
        raise PolicyError(path, f"Condition must be an object of operator to keys, not {json_type(block)}")
    check_unique_keys(block, path)
    clauses: list[ConditionClause] = []
    warnings: list[str] = []
    if not block:
        warnings.append(f"{path}: the Condition block is empty and has no effect")
    for name, keys in block.items():
        if not isinstance(name, str):
            raise PolicyError(path, f"operator {name!r} is not a string")
        parsed = _parse_operator(name, path)
        operator_path = f"{path}.{name}"
        if not isinstance(keys, Mapping):
            raise PolicyError(operator_path, f"an operator must map condition keys to values, not {json_type(keys)}")
        check_unique_keys(keys, operator_path)
        if not keys:
            warnings.append(f"{operator_path}: no condition keys; the operator has no effect")
        seen: dict[str, str] = {}
        for key, raw in keys.items():
            if not isinstance(key, str) or not key:
                raise PolicyError(operator_path, f"condition key {key!r} is not a non-empty string")
            key_path = f"{operator_path}.{key}"
            if key.lower() in seen:
                warnings.append(f"{key_path}: duplicates {seen[key.lower()]!r} (key names are case-insensitive)")
            seen[key.lower()] = key
            if variables and "${" in key:
                warnings.append(f"{key_path}: policy variables are replaced in Resource and condition values only, "
                                "not in keys; no request has this key")
            values = _values_of(raw, key_path)
            if not values:
                warnings.append(f"{key_path}: the value list is empty; no policy value can match")
            clause, value_warnings = _compile_clause(name, parsed, key, values, variables)
            clauses.append(clause)
            warnings.extend(_key_warnings(parsed, name, key, key_path))
            warnings.extend(value_warnings)
    return tuple(clauses), tuple(warnings)
