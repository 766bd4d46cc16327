"""JSON objects as policies read them: a key given twice is an error, not "the last one wins".

"Individual elements must not contain multiple instances of the same key" (IAM User Guide, "Grammar of the IAM
JSON policy language", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html), but
``json.loads`` keeps the last. Readers decode with :func:`json_object`; the parsers check each object they read
with :func:`check_unique_keys`, so the error names the JSON path.
"""

from __future__ import annotations

import json
import marshal
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from supportkit.errors import PolicyError


class RepeatedKeys(dict):  # type: ignore[type-arg]
    """A JSON object that named a key more than once: the value kept is the last, ``repeated`` the names."""

    repeated: tuple[str, ...] = ()
    made = 0
    """How many this process ever made (copies and unpickled ones too): while none, no value holds one."""

    def __new__(cls, *args: Any, **kwargs: Any) -> "RepeatedKeys":
        RepeatedKeys.made += 1
        return super().__new__(cls, *args, **kwargs)


def json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for policy JSON: a plain dict, or a :class:`RepeatedKeys` naming repeated keys."""
    value = dict(pairs)
    if len(value) == len(pairs):
        return value
    repeated = RepeatedKeys(value)
    seen: set[str] = set()
    again: dict[str, None] = {}
    for key, _ in pairs:
        if key in seen:
            again[key] = None
        seen.add(key)
    repeated.repeated = tuple(again)
    return repeated


def check_unique_keys(value: Any, path: str) -> None:
    """Raise PolicyError at ``path`` when the JSON object ``value`` repeated a key."""
    if isinstance(value, RepeatedKeys):
        keys = ", ".join(map(repr, value.repeated))
        raise PolicyError(path, f"{keys} given more than once; the policy grammar allows each key once "
                          "(JSON would keep only the last)")


def has_repeated_keys(value: Any) -> bool:
    """Whether a decoded document holds an object that repeated a key anywhere (parse caches must not reuse it).

    Iterative: a document nested as deeply as ``json.loads`` allows must not exhaust Python's stack here.
    Free while no RepeatedKeys exists: documents are read far more often than one repeats a key.
    """
    if not RepeatedKeys.made:
        return False
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, RepeatedKeys):
            return True
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def value_key(value: Any) -> bytes | str:
    """An exact key for a decoded JSON value, for the caches that parse each distinct value once: equal keys, equal
    values of the same types (``true`` is not ``1``, ``1.0`` not ``1``) with their keys in the same order.

    marshal's format 2 has no references, so it does not depend on which objects the value shares; it is about
    twice as fast as ``repr`` (a tenth of simulate's work on requests carrying their own policies). What marshal
    cannot write (a Mapping that is not a dict, or a value nested too deeply for it) is known by its ``repr``,
    which never equals marshal's bytes (and raises RecursionError for the deepest values, as parsing them would).
    """
    try:
        return marshal.dumps(value, 2)
    except ValueError:
        return repr(value)


def cache_key(value: Any, key: Callable[[Any], bytes | str] = value_key) -> bytes | str | None:
    """``key(value)`` for a cache of parsed values, or None when the value repeats a key somewhere: its parse
    must report that where it is, so it is never shared."""
    return None if RepeatedKeys.made and has_repeated_keys(value) else key(value)


_DECODER = json.JSONDecoder(object_pairs_hook=json_object)
_JSON_WHITESPACE = " \t\n\r"


def decode_json(text: str) -> Any:
    """``json.loads(text, object_pairs_hook=json_object)`` with the decoder built once (``json.loads`` builds one
    per call when given a hook, about half the cost of decoding a simulate request line). Text that starts with its
    value is read by ``raw_decode``, without ``decode``'s two whitespace matches; anything else (leading
    whitespace, extra data, an error) gets ``decode``'s own answer or error."""
    try:
        value, end = _DECODER.raw_decode(text)
    except ValueError:
        return _DECODER.decode(text)
    if end != len(text) and text[end:].strip(_JSON_WHITESPACE):
        return _DECODER.decode(text)
    return value


K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(dict[K, V]):
    """A cache of parsed values that forgets everything once it holds ``limit`` of them: a stream of distinct
    values (a context or a condition per request) keeps memory bounded, and repeated ones, the common case,
    are still parsed once between two clearings."""

    def __init__(self, limit: int = 100_000) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: K, value: V) -> V:
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value
