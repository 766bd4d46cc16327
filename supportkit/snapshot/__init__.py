"""Snapshots: readers that turn collected input into one account model, what-ifs on it, and live fetch.

The names below are loaded on first use, as the package's own (``supportkit/__init__.py``): a module that needs
the account model alone (a report's kernel reading a saved analysis) does not load the readers and the policy
engine they parse with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supportkit.lazy import lazy_exports

_EXPORTS = {
    "find_snapshots": "supportkit.snapshot.details",
    "load_authorization_details": "supportkit.snapshot.details",
    "read_json": "supportkit.snapshot.jsonfile",
    "load_account": "supportkit.snapshot.load",
    **dict.fromkeys(["ACCOUNT_FILE", "DETAILS_FILE", "ROLE_SESSION_NAME", "SCPS_FILE", "Account", "AccountInfo",
                     "Identity", "IdentityType", "UnknownIdentityError"], "supportkit.snapshot.model"),
    "load_scps": "supportkit.snapshot.scps",
    **dict.fromkeys(["UnknownPolicyError", "detach_policy", "replace_policy"], "supportkit.snapshot.whatif"),
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from supportkit.snapshot.details import find_snapshots, load_authorization_details
    from supportkit.snapshot.jsonfile import read_json
    from supportkit.snapshot.load import load_account
    from supportkit.snapshot.model import (
        ACCOUNT_FILE,
        DETAILS_FILE,
        ROLE_SESSION_NAME,
        SCPS_FILE,
        Account,
        AccountInfo,
        Identity,
        IdentityType,
        UnknownIdentityError,
    )
    from supportkit.snapshot.scps import load_scps
    from supportkit.snapshot.whatif import UnknownPolicyError, detach_policy, replace_policy


__getattr__ = lazy_exports(__name__, _EXPORTS)
