"""The Support facts shipped with the package, as files beside this module.

Read as plain files (pip installs the package as a directory): ``importlib.resources`` would import itself,
``tempfile`` and ``shutil`` at every start of every command, about 15 ms, for a path this module knows.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).parent


def read_text(name: str) -> str:
    return (FOLDER / name).read_text(encoding="utf-8")


def read_bytes(name: str) -> bytes:
    return (FOLDER / name).read_bytes()
