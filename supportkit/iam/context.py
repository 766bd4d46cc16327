"""The request context: the condition keys of one request, looked up case-insensitively.

AWS compares context values as strings (Bool compares ``"true"``), so values are normalised to
strings once here; a list means a multivalued key (``aws:TagKeys``), kept as a tuple.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping

from supportkit.errors import SupportkitError

ContextValue = str | tuple[str, ...]


class ContextError(SupportkitError, ValueError):
    """A context value that no condition operator could ever compare (an object, a nested list)."""


def json_scalar_text(value: object) -> str | None:
    """A JSON scalar as IAM reads it, in request contexts and policies alike: booleans as "true"/"false",
    numbers in plain decimal notation (1e-7 is "0.0000001"), strings as they are; None for anything else
    (an object, a list, NaN, an infinity)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return format(Decimal(repr(value)), "f")
    return None


def _as_text(value: Any, key: str) -> str:
    text = json_scalar_text(value)
    if text is None:
        raise ContextError(f"context key {key!r}: a value must be a string, number or boolean, not {value!r}"
                           if isinstance(value, float) else
                           f"context key {key!r}: a value must be a string, number or boolean, not {type(value).__name__}")
    return text


def normalise_value(key: str, value: Any) -> ContextValue:
    """One context value as AWS sees it: a string, or a tuple of strings for a multivalued key."""
    if type(value) is str:  # most are text already
        return value
    if isinstance(value, (list, tuple)):
        return tuple(_as_text(item, key) for item in value)
    return _as_text(value, key)


@dataclass(frozen=True)
class RequestContext:
    """Condition keys of a request; keys are stored lower-cased because IAM key names are case-insensitive."""

    values: Mapping[str, ContextValue] = field(default_factory=dict)

    @classmethod
    def of(cls, mapping: Mapping[str, Any] | None = None) -> "RequestContext":
        """Build a context from user input (any key case, JSON scalar or list values)."""
        if not mapping:
            return EMPTY_CONTEXT
        if not isinstance(mapping, (dict, Mapping)):
            raise ContextError(f"the context must be an object of key to value, not {type(mapping).__name__}")
        values: dict[str, ContextValue] = {}
        for key, value in mapping.items():
            if not isinstance(key, str) or not key:
                raise ContextError(f"context key {key!r} is not a non-empty string")
            values[key.lower()] = value if type(value) is str else normalise_value(key, value)  # most are text
        return cls(values)

    def get(self, key: str) -> ContextValue | None:
        """The value of ``key`` (any case), or None when the request does not carry it."""
        return self.values.get(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self.values

    def with_defaults(self, defaults: "RequestContext | Mapping[str, Any]") -> "RequestContext":
        """This context completed by ``defaults``: keys already present win."""
        base = defaults if isinstance(defaults, RequestContext) else RequestContext.of(defaults)
        if not self.values:
            return base
        merged = dict(base.values)
        merged.update(self.values)
        return RequestContext(merged)

    def keys(self) -> Iterable[str]:
        return self.values.keys()

    def signature(self, keys: Iterable[str]) -> tuple[ContextValue | None, ...]:
        """A hashable digest of the values of ``keys``: two contexts with equal signatures decide alike."""
        return tuple(self.values.get(key) for key in keys)


EMPTY_CONTEXT = RequestContext({})


def context_from_arguments(pairs: Iterable[str]) -> dict[str, Any]:
    """Command-line ``KEY=VALUE`` pairs as context keys.

    A key given several times is multivalued, and so is a JSON list value (``aws:TagKeys=["a","b"]``).
    """
    values: dict[str, list[Any]] = {}
    listed: set[str] = set()
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ContextError(f"--context {pair!r}: expected KEY=VALUE, e.g. aws:MultiFactorAuthPresent=true")
        if value.startswith("["):
            try:
                items = json.loads(value)
            except json.JSONDecodeError as error:
                raise ContextError(f"--context {pair!r}: the list is not valid JSON ({error.msg})") from None
            values.setdefault(key, []).extend(items if isinstance(items, list) else [items])
            listed.add(key)
        else:
            values.setdefault(key, []).append(value)
    return {key: found if len(found) > 1 or key in listed else found[0] for key, found in values.items()}
