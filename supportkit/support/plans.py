"""AWS Support plans under today's and the legacy names, and which of them serve the Support and Trusted Advisor APIs.

Sources (AWS Support User Guide):

* "Get started with the Trusted Advisor API"
  (https://docs.aws.amazon.com/awssupport/latest/user/get-started-with-aws-trusted-advisor-api.html): "You must
  have an AWS Business Support+, AWS Enterprise Support, or AWS Unified Operations plan to use the Trusted
  Advisor API"; earlier copies named "Business, Enterprise On-Ramp, or Enterprise Support".
* AWS Support API Reference, Welcome (https://docs.aws.amazon.com/awssupport/latest/APIReference/Welcome.html):
  "You must have a Business, Enterprise On-Ramp, or Enterprise Support plan to use the AWS Support API".
* The end-of-support notices on those pages: Developer and Business Support "will be discontinued January 1,
  2027" (customers may upgrade to Business Support+), and Enterprise On-Ramp customers are moved to Enterprise
  Support. Accounts still hold the legacy plans until then, so both generations are accepted.

No AWS page yet names Business Support+ or Unified Operations for the Support API; they are counted as serving
it, like the plans they replace (an assumption, stated in the README).
"""

from __future__ import annotations

import re
from enum import Enum


class SupportPlan(str, Enum):
    BASIC = "basic"
    DEVELOPER = "developer"  # legacy: discontinued 1 January 2027
    BUSINESS = "business"  # legacy: discontinued 1 January 2027, replaced by Business Support+
    ENTERPRISE_ON_RAMP = "enterprise-on-ramp"  # legacy: customers moved to Enterprise Support
    BUSINESS_SUPPORT_PLUS = "business-support-plus"
    ENTERPRISE = "enterprise"
    UNIFIED_OPERATIONS = "unified-operations"

    @property
    def legacy(self) -> bool:
        """A plan AWS discontinues on 1 January 2027."""
        return self in (SupportPlan.DEVELOPER, SupportPlan.BUSINESS, SupportPlan.ENTERPRISE_ON_RAMP)

    @property
    def provides_support_api(self) -> bool:
        """The AWS Support API answers Business-level plans and up (SubscriptionRequiredException otherwise)."""
        return self not in (SupportPlan.BASIC, SupportPlan.DEVELOPER)

    @property
    def provides_trusted_advisor_api(self) -> bool:
        """The Trusted Advisor API: Business Support+, Enterprise, Unified Operations, and the legacy paid plans."""
        return self.provides_support_api

    @property
    def label(self) -> str:
        return _LABELS[self]

    @classmethod
    def parse(cls, text: str) -> "SupportPlan":
        """A plan from its value or its name as AWS writes it ("Business Support+", "Enterprise On-Ramp", ...).

        Raises ValueError naming the accepted names.
        """
        key = re.sub(r"[\s_]+", "-", text.strip().lower()).replace("+", "-plus").strip("-")
        key = re.sub(r"-+", "-", key)
        found = _ALIASES.get(key)
        if found is None:
            accepted = ", ".join(f"{plan.value} ({plan.label})" for plan in cls)
            raise ValueError(f"unknown support plan {text!r}; accepted: {accepted}")
        return found


_LABELS = {
    SupportPlan.BASIC: "Basic Support",
    SupportPlan.DEVELOPER: "Developer Support, legacy",
    SupportPlan.BUSINESS: "Business Support, legacy",
    SupportPlan.ENTERPRISE_ON_RAMP: "Enterprise On-Ramp Support, legacy",
    SupportPlan.BUSINESS_SUPPORT_PLUS: "Business Support+",
    SupportPlan.ENTERPRISE: "Enterprise Support",
    SupportPlan.UNIFIED_OPERATIONS: "Unified Operations",
}
_ALIASES = {
    **{plan.value: plan for plan in SupportPlan},
    **{re.sub(r"[\s_]+", "-", plan.label.split(",")[0].lower()).replace("+", "-plus"): plan for plan in SupportPlan},
    "aws-business-support-plus": SupportPlan.BUSINESS_SUPPORT_PLUS,
    "aws-enterprise-support": SupportPlan.ENTERPRISE,
    "aws-unified-operations": SupportPlan.UNIFIED_OPERATIONS,
}


ROOT_PLAN_CHANGE_NOT_RESTRICTED_BY_SCPS: dict[str, str] = {
    action.lower(): (
        "not a firm deny: only SCPs deny it, and AWS Organizations lists \"Register for the Enterprise support plan "
        "as the root user\" among the tasks SCPs cannot restrict (\"Tasks and entities not restricted by SCPs\", "
        "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html#not-restricted-by-scp); "
        f"supportkit takes {action} to be that task"
    )
    for action in ("supportplans:StartSupportPlanUpdate", "supportplans:CreateSupportPlanSchedule")
}
"""The plan-change actions the root user may take whatever SCPs say, with the reason (lower-cased action keys).

AWS names the task, not an IAM action; the two supportplans: actions that change the plan are taken to be it.
"""
