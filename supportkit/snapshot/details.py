"""get-account-authorization-details pages merged into one set of entries, each remembering where it was read."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import Any

from supportkit.errors import InputError, json_type
from supportkit.iam.evaluate import Principal, PrincipalError, PrincipalType
from supportkit.snapshot.jsonfile import located, read_json
from supportkit.snapshot.model import DETAILS_FILE

_DETAILS_NAME = re.compile(r"^authorization-details.*\.json(?:\.gz)?$")
_LISTS = {"UserDetailList": "UserName", "GroupDetailList": "GroupName", "RoleDetailList": "RoleName", "Policies": "Arn"}
_KIND = {"UserDetailList": "user", "GroupDetailList": "group", "RoleDetailList": "role", "Policies": "managed policy"}
_PRINCIPAL_TYPES = {"UserDetailList": PrincipalType.USER, "RoleDetailList": PrincipalType.ASSUMED_ROLE}
_ASCII_DIGITS = re.compile(r"([0-9]+)")
_PAGING_KEYS = frozenset({"IsTruncated", "Marker", "ResponseMetadata"})


@dataclass(frozen=True)
class Entry:
    """One element of a detail list and where it came from, so that messages can name it."""

    data: Mapping[str, Any]
    file: str
    path: str

    def at(self, suffix: str = "") -> str:
        return f"{self.path}{suffix}"


@dataclass
class Details:
    """Merged pages: entries by list and name; of duplicates that differ, the first seen wins (with a warning)."""

    entries: dict[str, dict[str, Entry]] = field(default_factory=lambda: {key: {} for key in _LISTS})
    warnings: list[str] = field(default_factory=list)

    def add_file(self, path: Path) -> None:
        value = read_json(path, self.warnings)
        expected = ", ".join(_LISTS)
        if not isinstance(value, Mapping):
            raise InputError(
                str(path), f"expected the object that aws iam get-account-authorization-details prints ({expected}), "
                f"not {json_type(value)}",
            )
        if not any(key in value for key in _LISTS):
            raise InputError(
                str(path), f"none of {expected}: not the output of aws iam get-account-authorization-details"
            )
        for key in value:
            if key not in _LISTS and key not in _PAGING_KEYS:
                self.warnings.append(located(path.name, key, "unknown key, ignored"))
        for key, name_key in _LISTS.items():
            items = value.get(key, [])
            if not isinstance(items, list):
                self.warnings.append(located(path.name, key, f"must be a list, not {json_type(items)}; ignored"))
                continue
            for index, item in enumerate(items):
                where = f"{key}[{index}]"
                problem = _entry_problem(key, name_key, item, where)
                if problem is not None:  # one bad entry is skipped; whoever refers to it is marked incomplete
                    self.warnings.append(located(path.name, problem[0], f"{problem[1]}; entry skipped"))
                    continue
                self._add(key, item[name_key], Entry(item, path.name, where))

    def _add(self, key: str, name: str, entry: Entry) -> None:
        first = self.entries[key].setdefault(name, entry)
        if first is entry or first.data == entry.data:
            return
        self.warnings.append(
            f"{entry.file}, at {entry.path}: {_KIND[key]} {name} also at {first.file}, {first.path}, "
            "with different content; the first is used"
        )

    def raw(self) -> dict[str, list[Any]]:
        return {key: [dict(entry.data) for entry in entries.values()] for key, entries in self.entries.items()}


def _entry_problem(key: str, name_key: str, item: Any, where: str) -> tuple[str, str] | None:
    """Why a detail-list element cannot be used (JSON path, message), or None."""
    if not isinstance(item, Mapping):
        return where, f"must be an object, not {json_type(item)}"
    for required in (name_key, "Arn"):
        if not isinstance(item.get(required), str) or not item[required]:
            return f"{where}.{required}", "missing or not a string"
    expected = _PRINCIPAL_TYPES.get(key)
    if expected is None:
        return None
    try:
        principal = Principal.parse(item["Arn"])
    except PrincipalError as error:
        return f"{where}.Arn", str(error)
    if principal.type is not expected or principal.session_name is not None:
        kind = "user" if expected is PrincipalType.USER else "role"
        return f"{where}.Arn", f"{item['Arn']!r} is not an IAM {kind} ARN"
    return None


def read_details(paths: Sequence[Path]) -> Details:
    if not paths:
        raise InputError("authorization details", "no file given")
    details = Details()
    for path in paths:
        details.add_file(path)
    return details


def load_authorization_details(paths: Sequence[str | Path]) -> dict[str, list[Any]]:
    """The merged JSON of one account's get-account-authorization-details pages.

    Entries are merged by name (policies by ARN); of duplicates with different content the first is
    kept (:func:`load_account` warns about them).
    """
    return read_details([Path(path) for path in paths]).raw()


def natural_key(path: Path) -> tuple:
    """Sort page-2 before page-10. Only ASCII digits are numbers: ``²`` is a digit to str.isdigit, not to int."""
    return tuple(int(part) if i % 2 else part for i, part in enumerate(_ASCII_DIGITS.split(path.name)))


def _listing(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError as error:
        raise InputError(str(folder), f"cannot list the folder: {error.strerror or error}") from None


def detail_files(folder: Path) -> list[Path]:
    return sorted((p for p in _listing(folder) if p.is_file() and _DETAILS_NAME.match(p.name)), key=natural_key)


def find_snapshots(path: str | Path) -> list[Path]:
    """The snapshots at ``path``: a bare file or a snapshot folder is one; a folder of snapshot folders, each."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(str(path), "no such file or folder")
    if detail_files(path):
        return [path]
    found = sorted((child for child in _listing(path) if child.is_dir() and detail_files(child)), key=natural_key)
    if not found:
        raise InputError(str(path), f"no {DETAILS_FILE} here nor in any subfolder")
    return found



def details_file_time(source: Path) -> tuple[str, datetime | None]:
    """The name and modification time (UTC) of a snapshot's details file: the snapshot time when account.json
    records none. None when the file can no longer be read."""
    details = source / DETAILS_FILE if source.is_dir() else source
    try:
        return details.name, datetime.fromtimestamp(details.stat().st_mtime, timezone.utc)
    except OSError:
        return details.name, None
