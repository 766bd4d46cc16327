"""Reading one JSON input file, with errors that name the file and line."""

from __future__ import annotations

import gzip
import json
import re
import zlib
from pathlib import Path
from typing import Any

from supportkit.errors import InputError, PolicyError
from supportkit.iam.jsonobject import json_object


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_LISTED = 20


def read_json(path: Path, warnings: list[str] | None = None) -> Any:
    """The JSON value in ``path`` (gzip-compressed or not); InputError naming the file and line otherwise.

    A lone surrogate (``"\\ud800"``: valid JSON, but no character) cannot be written as UTF-8: it is
    replaced by U+FFFD, with a warning naming its JSON path appended to ``warnings``.
    """
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(str(path), error.strerror or str(error)) from None
    not_gzip = ""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise InputError(str(path), f"not a complete gzip file ({error})") from None
    elif path.suffix == ".gz":
        not_gzip = "; the name ends in .gz, but the file is not gzip-compressed"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(str(path), f"not UTF-8 text ({error.reason} at byte {error.start}){not_gzip}") from None
    if not text.strip():
        raise InputError(str(path), "the file is empty")
    try:
        value = json.loads(text, object_pairs_hook=json_object)  # repeated keys in a policy are found when parsed
    except json.JSONDecodeError as error:
        hint = "; the file ends before the JSON does (truncated?)" if error.pos >= len(text.rstrip()) else ""
        raise InputError(
            str(path), f"not valid JSON: {error.msg} at column {error.colno}{hint}{not_gzip}", line=error.lineno
        ) from None
    except RecursionError:
        raise InputError(str(path), "not readable: the JSON is nested too deeply") from None
    except ValueError as error:  # valid JSON past Python's limits: an integer of thousands of digits
        raise InputError(str(path), f"not readable: {str(error).split(':')[0]}") from None
    if not _SURROGATE_ESCAPE.search(text):
        return value
    value, replaced = _replace_surrogates(value)
    if warnings is not None:
        for where in replaced[:_MAX_LISTED]:
            warnings.append(located(path.name, where, "a lone surrogate (no character) replaced by U+FFFD"))
        if len(replaced) > _MAX_LISTED:
            warnings.append(f"{path.name}: {len(replaced) - _MAX_LISTED} more lone surrogates replaced by U+FFFD")
    return value


def _replace_surrogates(root: Any) -> tuple[Any, list[str]]:
    """``root`` with lone surrogates in its strings and keys replaced, and the JSON paths where that happened.

    Iterative: a document nested as deeply as json.loads allows must not exhaust Python's stack here.
    """
    replaced: list[str] = []

    def clean(text: str, where: str) -> str:
        if _SURROGATE.search(text) is None:
            return text
        replaced.append(where)
        return _SURROGATE.sub("\ufffd", text)

    holder = [root]
    stack: list[tuple[Any, Any, str]] = [(holder, 0, "")]
    while stack:
        parent, slot, where = stack.pop()
        value = parent[slot]
        if isinstance(value, str):
            parent[slot] = clean(value, where or "(the document)")
        elif isinstance(value, list):
            stack.extend((value, i, f"{where}[{i}]") for i in range(len(value)))
        elif isinstance(value, dict):
            cleaned = {clean(key, f"{where}.{key}".lstrip(".")): item for key, item in value.items()}
            if len(cleaned) != len(value) or any(a is not b for a, b in zip(cleaned, value)):
                value.clear()
                value.update(cleaned)
            stack.extend((value, key, f"{where}.{key}".lstrip(".")) for key in value)
    replaced.sort()
    return holder[0], replaced


def located(file: str, json_path: str, message: str) -> str:
    """A problem as users read it: ``file, at JSON.path: message``."""
    return str(InputError(file, message, json_path=json_path))


def join_path(base: str, error: PolicyError) -> str:
    return f"{base}.{error.path}" if error.path else base

