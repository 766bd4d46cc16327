"""AWS Support plans, and which of them serve the Support API."""

from __future__ import annotations

from enum import Enum


class SupportPlan(str, Enum):
    BASIC = "basic"
    DEVELOPER = "developer"
    BUSINESS = "business"
    ENTERPRISE_ON_RAMP = "enterprise-on-ramp"
    ENTERPRISE = "enterprise"

    @property
    def provides_support_api(self) -> bool:
        """The AWS Support API (and the full Trusted Advisor checks) answers only Business support and up."""
        return self in (SupportPlan.BUSINESS, SupportPlan.ENTERPRISE_ON_RAMP, SupportPlan.ENTERPRISE)

