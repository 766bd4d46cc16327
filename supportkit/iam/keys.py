"""The global condition keys of the IAM User Guide: their types, which of them AWS derives from the principal,
and the checks on values an analyst gives for a whole analysis.

Source: IAM User Guide, "AWS global condition context keys"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html). Key names are
case-insensitive, so everything here is keyed lower-case.
"""

from __future__ import annotations

import difflib
import ipaddress
from enum import Enum
from typing import Any, Mapping

from supportkit.iam.conditions import parse_date, parse_number
from supportkit.iam.context import ContextError, normalise_value


class KeyType(str, Enum):
    STRING = "String"
    ARN = "ARN"
    BOOL = "Bool"
    DATE = "Date"
    NUMERIC = "Numeric"
    IP = "IP address"


_S, _A, _B, _D, _N, _IP = KeyType.STRING, KeyType.ARN, KeyType.BOOL, KeyType.DATE, KeyType.NUMERIC, KeyType.IP
_SPELLED: Mapping[str, KeyType] = {
    # Properties of the principal
    "aws:PrincipalArn": _A, "aws:PrincipalAccount": _S, "aws:PrincipalOrgPaths": _S, "aws:PrincipalOrgID": _S,
    "aws:PrincipalIsAWSService": _B, "aws:PrincipalServiceName": _S, "aws:PrincipalServiceNamesList": _S,
    "aws:PrincipalType": _S, "aws:userid": _S, "aws:username": _S,
    # Properties of a role session
    "aws:AssumedRoot": _S, "aws:FederatedProvider": _S, "aws:TokenIssueTime": _D, "aws:SignInSessionArn": _A,
    "aws:MultiFactorAuthAge": _N, "aws:MultiFactorAuthPresent": _B, "aws:ChatbotSourceArn": _A,
    "aws:Ec2InstanceSourceVpc": _S, "aws:Ec2InstanceSourcePrivateIPv4": _IP, "aws:SourceIdentity": _S,
    # Properties of the network
    "aws:SourceIp": _IP, "aws:SourceVpc": _S, "aws:SourceVpcArn": _A, "aws:SourceVpce": _S, "aws:VpceAccount": _S,
    "aws:VpceOrgID": _S, "aws:VpceOrgPaths": _S, "aws:VpcSourceIp": _IP,
    # Properties of the resource
    "aws:ResourceAccount": _S, "aws:ResourceOrgID": _S, "aws:ResourceOrgPaths": _S,
    # Properties of the request
    "aws:CalledVia": _S, "aws:CalledViaFirst": _S, "aws:CalledViaLast": _S, "aws:CalledViaAWSMCP": _S,
    "aws:ViaAWSService": _B, "aws:ViaAWSMCPService": _B, "aws:CurrentTime": _D, "aws:EpochTime": _D,
    "aws:referer": _S, "aws:RequestedRegion": _S, "aws:TagKeys": _S, "aws:SecureTransport": _B,
    "aws:SourceAccount": _S, "aws:SourceArn": _A, "aws:SourceOrgID": _S, "aws:SourceOrgPaths": _S,
    "aws:UserAgent": _S, "aws:IsMcpServiceAction": _B,
}
GLOBAL_KEYS: Mapping[str, KeyType] = {key.lower(): kind for key, kind in _SPELLED.items()}
"""Every global key of the page's summary table, with its data type (aws:EpochTime is Date or Numeric)."""

PRINCIPAL_TAG = "aws:principaltag/"
"""The lower-cased prefix of the principal's tags, ``aws:PrincipalTag/<key>``."""
GLOBAL_KEY_PREFIXES = (PRINCIPAL_TAG, "aws:requesttag/", "aws:resourcetag/")
"""The global keys named by a tag key: ``aws:PrincipalTag/team``."""

PRINCIPAL_DERIVED = frozenset(
    {"aws:principalarn", "aws:principalaccount", "aws:principaltype", "aws:username", "aws:userid",
     "aws:principalisawsservice"}
)
"""Keys AWS sets from the principal making the request; ``aws:PrincipalTag/...`` too (see :func:`derived_from_principal`)."""


def is_global_key(key: str) -> bool:
    """Whether ``key`` (any case) is a global key of the IAM User Guide's list."""
    lowered = key.lower()
    return lowered in GLOBAL_KEYS or (lowered.startswith(GLOBAL_KEY_PREFIXES) and "/" in lowered
                                      and lowered.split("/", 1)[1] != "")


_SPELLINGS = {key.lower(): key for key in _SPELLED}


def suggest_global_key(key: str) -> str | None:
    """The global key ``key`` most likely misspells (aws:usrname -> aws:username), as AWS spells it, or None."""
    close = difflib.get_close_matches(key.lower(), list(GLOBAL_KEYS), n=1, cutoff=0.8)
    return _SPELLINGS[close[0]] if close else None


def derived_from_principal(key: str) -> bool:
    lowered = key.lower()
    return lowered in PRINCIPAL_DERIVED or lowered.startswith(PRINCIPAL_TAG)


def _check_value(key: str, kind: KeyType, value: str) -> str | None:
    """Why ``value`` is not a value of type ``kind``, or None when it is."""
    if kind is KeyType.BOOL and value.lower() not in ("true", "false"):
        return "is a Bool key: give true or false"
    if kind is KeyType.IP:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return "is an IP address key: give one address such as 203.0.113.7 (no range)"
    if kind is KeyType.DATE and parse_date(value) is None:
        return "is a Date key: give an ISO 8601 date such as 2026-12-01T10:00:00Z, or epoch seconds"
    if kind is KeyType.NUMERIC and parse_number(value) is None:
        return "is a Numeric key: give a number"
    return None


def check_analyst_context(mapping: Mapping[str, Any] | None) -> None:
    """Refuse keys given for a whole analysis (``--context``) that cannot be: mistyped values of known global
    keys, and keys AWS derives from the principal, which differ between the identities analysed.

    Raises :class:`ContextError` with a one-line explanation.
    """
    for key, raw in (mapping or {}).items():
        if not isinstance(key, str):
            continue  # RequestContext.of reports it
        if derived_from_principal(key):
            raise ContextError(
                f"context key {key!r}: AWS derives it from the principal making each request, so one value cannot "
                "stand for every identity; supportkit sets it for each identity itself (to ask about one principal "
                "with other values, use supportkit simulate)"
            )
        kind = GLOBAL_KEYS.get(key.lower())
        if kind is None or kind in (KeyType.STRING, KeyType.ARN):
            continue
        value = normalise_value(key, raw)
        if isinstance(value, tuple):
            if len(value) != 1:
                raise ContextError(f"context key {key!r} is single-valued: give one value, not {len(value)}")
            value = value[0]
        problem = _check_value(key, kind, value)
        if problem:
            raise ContextError(f"context key {key!r} {problem}, not {value!r}")
