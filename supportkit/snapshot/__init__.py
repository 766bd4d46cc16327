"""Snapshots: readers that turn collected input into one account model, what-ifs on it, and live fetch."""

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

__all__ = [
    "ACCOUNT_FILE", "DETAILS_FILE", "ROLE_SESSION_NAME", "SCPS_FILE", "Account", "AccountInfo", "Identity",
    "IdentityType", "UnknownIdentityError", "UnknownPolicyError", "detach_policy", "find_snapshots",
    "load_account", "load_authorization_details", "load_scps", "read_json", "replace_policy",
]
