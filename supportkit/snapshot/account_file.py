"""account.json: the account id, name, management flag and support plan of a snapshot."""

from __future__ import annotations

import difflib
import re
from datetime import datetime
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from supportkit.errors import InputError, json_type
from supportkit.snapshot.jsonfile import read_json
from supportkit.support.plans import SupportPlan

_ACCOUNT_ID = re.compile(r"[0-9]{12}")  # ASCII only, nothing after (\d and $ accept more)
_ACCOUNT_KEYS = ("account_id", "name", "management_account", "support_plan", "snapshot_time", "notes")


def read_account_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The validated fields of ``account.json`` and its notes (e.g. why SCPs could not be fetched)."""
    replaced: list[str] = []
    value = read_json(path, replaced)
    if not isinstance(value, Mapping):
        raise InputError(str(path), f"expected an object with {', '.join(_ACCOUNT_KEYS)}, not {json_type(value)}")
    for key in value:
        if key not in _ACCOUNT_KEYS:
            close = difflib.get_close_matches(str(key), _ACCOUNT_KEYS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; the keys are {', '.join(_ACCOUNT_KEYS)}"
            raise InputError(str(path), f"unknown key {str(key)[:80]!r}{hint}", json_path=str(key)[:80])
    fields: dict[str, Any] = {}
    account_id = value.get("account_id")
    if account_id is not None:
        if not isinstance(account_id, str) or not _ACCOUNT_ID.fullmatch(account_id):
            raise InputError(
                str(path), f"must be 12 digits as a string (leading zeros matter), not {account_id!r}",
                json_path="account_id",
            )
        fields["account_id"] = account_id
    name = value.get("name")
    if name is not None:
        if not isinstance(name, str):
            raise InputError(str(path), f"must be a string, not {json_type(name)}", json_path="name")
        fields["name"] = name
    management = value.get("management_account")
    if management is not None:
        if not isinstance(management, bool):
            raise InputError(str(path), f"must be true or false, not {management!r}", json_path="management_account")
        fields["management_account"] = management
    plan = value.get("support_plan")
    if plan is not None:
        if not isinstance(plan, str):
            raise InputError(str(path), f"must be a plan name, not {json_type(plan)}", json_path="support_plan")
        try:
            fields["support_plan"] = SupportPlan.parse(plan)
        except ValueError as error:
            raise InputError(str(path), str(error), json_path="support_plan") from None
    taken = value.get("snapshot_time")
    if taken is not None:
        fields["snapshot_time"] = _snapshot_time(path, taken)
    notes = value.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(note, str) for note in notes):
        raise InputError(str(path), "must be a list of strings", json_path="notes")
    return fields, [*replaced, *(f"{path.name}: {note}" for note in notes)]


def _snapshot_time(path: Path, value: object) -> datetime:
    """When ``fetch`` read the account: an ISO 8601 time with its UTC offset (a time without one is ambiguous)."""
    try:
        taken = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        taken = None
    if taken is None or taken.utcoffset() is None:
        raise InputError(str(path), f"must be an ISO 8601 time with a UTC offset, such as 2026-12-01T09:30:00+00:00, "
                         f"not {value!r}", json_path="snapshot_time")
    return taken
