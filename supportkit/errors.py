"""The typed errors supportkit raises for bad input: each says what is wrong and where."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def json_type(value: Any) -> str:
    """How an error message names the JSON type of a wrong value ("a list", "null", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "an object" if isinstance(value, Mapping) else type(value).__name__


class SupportkitError(Exception):
    """Base of every error a user can cause with bad input; the CLI prints these without a traceback."""


class PolicyError(SupportkitError, ValueError):
    """An invalid policy document. ``path`` is the JSON path inside the document, e.g. ``Statement[2].Condition``."""

    def __init__(self, path: str, message: str, *, source: str = "") -> None:
        self.path = path
        self.message = message
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{path}: {message}" if path else f"{where}{message}")

    def located(self, source: str) -> "PolicyError":
        """The same error, naming the policy or file it came from."""
        return PolicyError(self.path, self.message, source=source)


class InputError(SupportkitError, ValueError):
    """A bad input file: names the file, the JSON path and, for JSON syntax errors, the line."""

    def __init__(self, file: str, message: str, *, json_path: str = "", line: int | None = None) -> None:
        self.file = file
        self.json_path = json_path
        self.line = line
        self.message = message
        where = file
        if line is not None:
            where += f", line {line}"
        if json_path:
            where += f", at {json_path}"
        super().__init__(f"{where}: {message}")
