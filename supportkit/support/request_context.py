"""The request context every analysed request carries, as AWS sets it for a call to the Support endpoints.

The IAM User Guide, "AWS global condition context keys"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html), says of
``aws:RequestedRegion``, ``aws:SecureTransport``, ``aws:CurrentTime``, ``aws:EpochTime`` and
``aws:ViaAWSService``: "This key is always included in the request context". Leaving them out makes every
policy that tests them look as if the request lacked them: a Deny unless ``aws:RequestedRegion`` is in a
list then denies everyone. So each request gets:

* ``aws:RequestedRegion``: the Region of the prefix's endpoint ("Some global services, such as IAM, have a
  single endpoint. Because this endpoint is physically located in the US East (N. Virginia) Region, IAM calls
  are always made to the us-east-1 Region", same page). In the ``aws`` partition every prefix's endpoint is
  in us-east-1 (``data/request_context.json`` names each endpoint and its source);
* ``aws:SecureTransport`` true (the endpoints are HTTPS only), ``aws:ViaAWSService`` false (the principal calls
  directly), ``aws:CurrentTime`` and ``aws:EpochTime`` the analysis time.

Keys given by the analyst (``--context``) win over these. The two clock keys name one instant, so when the
analyst gives one of them the other is that instant too (a request cannot be made at two times).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from typing import Any, Mapping

from supportkit.iam.conditions import parse_date
from supportkit.support.data import read_text

CONTEXT_FILE = "request_context.json"
CLOCK_KEYS = ("aws:CurrentTime", "aws:EpochTime")
"""The keys whose assumed value is the time of the analysis."""
CLOCK = frozenset(key.lower() for key in CLOCK_KEYS)
""":data:`CLOCK_KEYS` lower-cased, as condition keys compare."""


@dataclass(frozen=True)
class Endpoint:
    prefix: str
    endpoint: str
    source: str


@dataclass(frozen=True)
class EndpointData:
    regions: Mapping[str, str]  # partition -> the Region of the prefixes' endpoints
    endpoints: tuple[Endpoint, ...]


@cache
def endpoint_data() -> EndpointData:
    raw = json.loads(read_text(CONTEXT_FILE))
    endpoints = tuple(Endpoint(prefix, **entry) for prefix, entry in raw["endpoints"].items())
    return EndpointData(dict(raw["regions"]), endpoints)


def requested_region(partition: str) -> str:
    """The Region the Support endpoints of ``partition`` are in (us-east-1 for an unknown partition)."""
    return endpoint_data().regions.get(partition, "us-east-1")


def assumed_context(partition: str, at: datetime | None = None, given: Mapping[str, Any] | None = None
                    ) -> dict[str, str]:
    """The keys every request of the analysis carries, at ``at`` (now when None), or at the moment a clock key
    of the analyst's ``given`` context names (valid keys: see :func:`supportkit.iam.keys.check_analyst_context`)."""
    moment = (_given_moment(given) or at or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    return {
        "aws:RequestedRegion": requested_region(partition),
        "aws:SecureTransport": "true",
        "aws:CurrentTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(moment.timestamp())),
        "aws:ViaAWSService": "false",
    }


def _given_moment(given: Mapping[str, Any] | None) -> datetime | None:
    """The instant the first given ``aws:CurrentTime`` or ``aws:EpochTime`` names, or None (none given, or a
    moment outside the years 1 to 9999 that a datetime holds, where IAM's date operators still compare it)."""
    for key, value in (given or {}).items():
        if isinstance(key, str) and key.lower() in CLOCK:
            values = value if isinstance(value, list) else [value]
            epoch = parse_date(str(values[0])) if len(values) == 1 else None
            try:
                return datetime.fromtimestamp(epoch, timezone.utc) if epoch is not None else None
            except (ValueError, OverflowError, OSError):  # beyond the years a datetime holds: the analysis time
                return None
    return None
