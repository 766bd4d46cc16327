"""Wildcards and policy variables, as IAM matches Action, Resource and string/ARN condition values.

A pattern is compiled once. Literal parts may hold ``*`` (any run of characters) and ``?`` (one
character); ``${key}`` and ``${key, 'default'}`` are policy variables resolved from the request
context at match time; ``${*}``, ``${?}`` and ``${$}`` stand for the literal characters. A variable
that the context cannot resolve makes the pattern match nothing, as AWS documents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Sequence

from supportkit.iam.context import RequestContext
from supportkit.lazy import cached_property

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_WILDCARD = re.compile(r"([*?])")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}


class PatternError(ValueError):
    """A malformed policy variable, such as ``${}`` or an unterminated ``${``."""


@dataclass(frozen=True)
class Literal:
    text: str
    wildcards: bool  # False for the characters that came from ${*} / ${?}, or for operators without wildcards


@dataclass(frozen=True)
class Variable:
    key: str
    default: str | None


def _split(text: str, *, variables: bool, wildcards: bool) -> tuple[Literal | Variable, ...]:
    if not variables or "${" not in text:
        return (Literal(text, wildcards),)
    parts: list[Literal | Variable] = []
    position = 0
    for match in _VARIABLE.finditer(text):
        if match.start() > position:
            parts.append(Literal(text[position:match.start()], wildcards))
        body = match.group(1)
        if body in _SPECIAL:
            parts.append(Literal(_SPECIAL[body], False))
        else:
            key, default = _key_and_default(body)
            if not key or any(ch in key for ch in " ,'${"):
                raise PatternError(f"malformed policy variable ${{{body}}}")
            parts.append(Variable(key, default))
        position = match.end()
    rest = text[position:]
    if "${" in rest:
        raise PatternError(f"unterminated policy variable in {text!r}")
    if rest:
        parts.append(Literal(rest, wildcards))
    return tuple(parts)


def _key_and_default(body: str) -> tuple[str, str | None]:
    """``key`` or ``key, 'default'``, split by hand: a regex for it backtracked cubically on long blanks."""
    key, comma, rest = body.partition(",")
    default = rest.strip()
    if comma and len(default) >= 2 and default[0] == default[-1] == "'" and "'" not in default[1:-1]:
        return key.strip(), default[1:-1]
    return body.strip(), None


@lru_cache(maxsize=65536)
def _compiled(regex: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


@lru_cache(maxsize=65536)
def _pattern(text: str, ignore_case: bool, wildcards: bool, arn: bool, variables: bool) -> Pattern:
    return Pattern(text, ignore_case, wildcards, arn, _split(text, variables=variables, wildcards=wildcards))


@dataclass(frozen=True)
class Pattern:
    """One Action, Resource or condition value, compiled for repeated matching."""

    text: str
    ignore_case: bool = False
    wildcards: bool = True
    arn: bool = False
    parts: tuple[Literal | Variable, ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def compile(
        cls, text: str, *, ignore_case: bool = False, wildcards: bool = True, arn: bool = False, variables: bool = True
    ) -> "Pattern":
        """The pattern of ``text``; patterns are immutable, so equal texts share one (``"*"`` is most of them)."""
        return _pattern(text, ignore_case, wildcards, arn, variables)

    @cached_property
    def variables(self) -> tuple[str, ...]:
        """The context keys this pattern reads (lower-cased)."""
        return tuple(part.key.lower() for part in self.parts if isinstance(part, Variable))

    @cached_property
    def literal_tail(self) -> str | None:
        """For a case-sensitive ARN pattern without variables: its sixth component, when it has no wildcard.

        Such a pattern matches only values (of six components or more) whose sixth component is that text.
        """
        if not self.arn or self.ignore_case or any(isinstance(part, Variable) for part in self.parts):
            return None
        segments = _arn_segments(_runs(self.parts))
        if len(segments) < 6 or any(wild and ("*" in text or "?" in text) for text, wild in segments[5]):
            return None
        return "".join(text for text, _ in segments[5])

    @cached_property
    def literal(self) -> str | None:
        """The one value a case-sensitive pattern without wildcards nor variables matches (equality, no regex)."""
        if self.ignore_case or any(
            isinstance(part, Variable) or (part.wildcards and ("*" in part.text or "?" in part.text))
            for part in self.parts
        ):
            return None
        return "".join(part.text for part in self.parts if isinstance(part, Literal))

    @cached_property
    def literals(self) -> tuple[Literal, ...]:
        """The parts of a pattern without variables (every part is then a Literal)."""
        return tuple(part for part in self.parts if isinstance(part, Literal))

    @cached_property
    def matches_everything(self) -> bool:
        return self.wildcards and self.text == "*"

    def resolve(self, context: RequestContext) -> tuple[Literal, ...] | None:
        """The pattern with its variables replaced by context values; None when one cannot be resolved."""
        resolved: list[Literal] = []
        for part in self.parts:
            if isinstance(part, Literal):
                resolved.append(part)
                continue
            value = context.get(part.key)
            if isinstance(value, tuple) or value == "":
                # A multivalued key cannot stand in a variable; an empty value is no value: "When policy
                # variables reference a condition context key that has no value ..., the value is effectively
                # null" (IAM User Guide, "IAM policy elements: Variables and tags").
                value = None
            if value is None:
                if part.default is None:
                    return None
                value = part.default
            resolved.append(Literal(value, False))
        return tuple(resolved)

    def source(self, context: RequestContext, *, whole: bool = False) -> str | None:
        """The regex source for ``fullmatch`` in ``context``; None when a variable cannot be resolved.

        An ARN pattern gives its component-wise regex, or with ``whole`` the whole-string one.
        """
        resolved = self.resolve(context) if self.variables else self.literals
        if resolved is None:
            return None
        return (arn_regex if self.arn and not whole else wildcard_regex)(_runs(resolved))

    def matches(self, value: str, context: RequestContext) -> bool:
        """Whether ``value`` matches this pattern in ``context``."""
        if self.matches_everything:
            return True
        if self.literal is not None:  # an ARN without wildcards matches itself only, component by component too
            return value == self.literal
        resolved = self.resolve(context) if self.variables else self.literals
        if resolved is None:
            return False
        if self.arn:
            return _arn_matcher(resolved, self.ignore_case).matches(value)
        return _compiled(wildcard_regex(_runs(resolved)), self.ignore_case).fullmatch(value) is not None

    def matches_components(self, value: str, context: RequestContext) -> bool:
        """Whether ``value`` matches as the ARN condition operators compare: "Each of the six colon-delimited
        components of the ARN is checked separately" (IAM User Guide, condition operators). A value or a
        pattern without six components has no components to compare, and matches nothing; ``*`` alone matches
        every value.
        """
        if self.matches_everything:
            return True
        resolved = self.resolve(context) if self.variables else self.parts
        text = "".join(part.text for part in resolved or () if isinstance(part, Literal))
        if resolved is None or value.count(":") < 5 or text.count(":") < 5:
            return False
        return _arn_matcher(resolved, self.ignore_case).matches(value)


def _runs(parts: Sequence[Literal | Variable]) -> list[tuple[str, bool]]:
    """Resolved parts (literals only) as (text, wildcards) runs: the regex builders work run by run."""
    return [(part.text, part.wildcards) for part in parts if isinstance(part, Literal)]


@dataclass(frozen=True)
class _ArnMatcher:
    """An ARN pattern matched component by component, as IAM compares ARNs.

    A component without wildcards is compared as a string; the others are regexes shared by every pattern with
    that component (``*``, ``checks/*``): thousands of patterns naming distinct check ARNs compile a few regexes,
    not one each. A pattern of fewer than six components is one regex over the whole value.
    """

    components: tuple[str | re.Pattern[str], ...] | None  # six, or None for fewer than six
    whole: re.Pattern[str] | None

    def matches(self, value: str) -> bool:
        if self.components is None:
            assert self.whole is not None
            return self.whole.fullmatch(value) is not None
        if value.count(":") < 5:  # the pattern's five literal colons cannot all be found
            return False
        for part, component in zip(value.split(":", 5), self.components):
            if part != component if isinstance(component, str) else component.fullmatch(part) is None:
                return False
        return True


@lru_cache(maxsize=16384)
def _arn_matcher(resolved: tuple[Literal, ...], ignore_case: bool) -> _ArnMatcher:
    """For values with fewer than six components the whole string is compared; else each component."""
    runs = _runs(resolved)
    segments = _arn_segments(runs)
    if len(segments) < 6:
        return _ArnMatcher(None, _compiled(wildcard_regex(runs), ignore_case))
    components: list[str | re.Pattern[str]] = []
    for segment in segments:
        literal = not ignore_case and not any(wild and ("*" in text or "?" in text) for text, wild in segment)
        # Within one component "*" cannot meet a colon of the first five, so ".*" is "[^:]*" there.
        components.append("".join(text for text, _ in segment) if literal
                          else _compiled(wildcard_regex(segment), ignore_case))
    return _ArnMatcher(tuple(components), None)


def _arn_segments(runs: Sequence[tuple[str, bool]]) -> list[list[tuple[str, bool]]]:
    """Runs split at the first five colons: up to six components, each a list of runs."""
    segments: list[list[tuple[str, bool]]] = [[]]
    for text, wild in runs:
        while len(segments) < 6 and ":" in text:
            head, _, text = text.partition(":")
            segments[-1].append((head, wild))
            segments.append([])
        segments[-1].append((text, wild))
    return segments


def arn_regex(runs: Sequence[tuple[str, bool]]) -> str:
    """An ARN pattern as one regex that matches its six colon-delimited components separately.

    IAM checks each component on its own (ARN condition operators, Resource element): a wildcard in one
    of the first five cannot cross a colon. The regex is meant for values with at least five colons; a
    pattern with fewer than six components is compared as a whole string.
    """
    segments = _arn_segments(runs)
    if len(segments) < 6:
        return wildcard_regex(runs)
    head = ":".join(wildcard_regex(segment, "[^:]*", "[^:]") for segment in segments[:5])
    return f"{head}:{wildcard_regex(segments[5])}"


def wildcard_regex(runs: Sequence[tuple[str, bool]], star: str = ".*", one: str = ".") -> str:
    """Wildcards as a regex for ``fullmatch``: ``*`` becomes ``star``, ``?`` becomes ``one``.

    ``runs`` are (text, wildcards) pairs: in a run whose flag is False, ``*`` and ``?`` are literal.

    A part between two ``*`` can always take its leftmost place in a glob match, so it is searched lazily
    inside an atomic group: matching stays polynomial where plain ``.*a.*a.*b`` backtracks exponentially.
    """
    pieces: list[list[str]] = [[]]  # joined once at the end: repeated += was quadratic on long literals
    for text, wild in runs:
        if not wild:
            pieces[-1].append(re.escape(text))
            continue
        for i, piece in enumerate(_WILDCARD.split(text)):  # literal, wildcard, literal, ...
            if i % 2 == 0:
                pieces[-1].append(re.escape(piece))
            elif piece == "*":
                pieces.append([])
            else:
                pieces[-1].append(one)
    chunks = ["".join(chunk) for chunk in pieces]
    if len(chunks) == 1:
        return chunks[0]
    first, *middle, last = chunks
    return first + "".join(f"(?>{star}?{chunk})" for chunk in middle if chunk) + star + last


def trailing_star(text: str) -> bool:
    """Whether the one wildcard of ``text`` is a last ``*``: it matches exactly the texts that start with the rest."""
    return text.find("*") == len(text) - 1 and "?" not in text


def text_test(exact: frozenset[str], prefixes: tuple[str, ...], regex: re.Pattern[str] | None
              ) -> Callable[[str], bool]:
    """A test of a text: one of ``exact``, starting with one of ``prefixes``, or matched whole by ``regex``.

    Names and one trailing ``*`` (most wildcards in policies) are tested without a regex.
    """
    if regex is None:
        return (lambda text: text in exact or text.startswith(prefixes)) if prefixes else exact.__contains__
    if not exact and not prefixes:
        return lambda text: regex.fullmatch(text) is not None
    return lambda text: text in exact or text.startswith(prefixes) or regex.fullmatch(text) is not None
