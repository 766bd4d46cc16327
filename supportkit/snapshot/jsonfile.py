"""Reading one JSON input file, with errors that name the file and line."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path
from typing import Any

from supportkit.errors import InputError, PolicyError
from supportkit.iam.jsonobject import json_object


def read_json(path: Path) -> Any:
    """The JSON value in ``path`` (gzip-compressed or not); InputError naming the file and line otherwise."""
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
        return json.loads(text, object_pairs_hook=json_object)  # repeated keys in a policy are found when parsed
    except json.JSONDecodeError as error:
        hint = "; the file ends before the JSON does (truncated?)" if error.pos >= len(text.rstrip()) else ""
        raise InputError(
            str(path), f"not valid JSON: {error.msg} at column {error.colno}{hint}{not_gzip}", line=error.lineno
        ) from None
    except RecursionError:
        raise InputError(str(path), "not readable: the JSON is nested too deeply") from None
    except ValueError as error:  # valid JSON past Python's limits: an integer of thousands of digits
        raise InputError(str(path), f"not readable: {str(error).split(':')[0]}") from None


def located(file: str, json_path: str, message: str) -> str:
    """A problem as users read it: ``file, at JSON.path: message``."""
    return str(InputError(file, message, json_path=json_path))


def join_path(base: str, error: PolicyError) -> str:
    return f"{base}.{error.path}" if error.path else base

