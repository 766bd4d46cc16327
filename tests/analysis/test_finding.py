"""Actionable findings: severities, remedies as data, grouping, the producer registry.

Expected values come from the fixtures' policies (tests/data/findings/, described in test_findings.py), not
from the code under test: e.g. in ``main`` nine identities other than root are allowed support:DescribeCases
(alice, bob, carol, ivan, judy, kim, nina, oscar through support:* or support:Describe*, SupportRole through
AWSSupportAccess; frank's grant is scoped to case ARNs and never applies).

The console actions: "Support Center uses eight support: actions internally" (AWS Support User Guide,
"Manage access to AWS Support Center", https://docs.aws.amazon.com/awssupport/latest/user/accessing-support.html).
"""

import json
from pathlib import Path

import pytest

from supportkit.analysis import finding as model
from supportkit.analysis.finding import (
    Finding, FindingSources, Fix, Remedy, Severity, StatementRef, finding_id, produce_findings, ranked,
    severity_counts,
)
from supportkit.analysis.findings import all_findings
from supportkit.analysis.paths import access_tables
from supportkit.analysis.matrix import build_matrix
from supportkit.snapshot import load_account
from supportkit.support.catalog import load_catalog

DATA = Path(__file__).parents[1] / "data" / "findings"
ACCOUNT = "111122223333"


def user(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


def produced(name: str) -> dict[str, Finding]:
    catalog = load_catalog()
    account = load_account(DATA / name)
    matrix = build_matrix(account, catalog)
    tables = {**all_findings(matrix, account, catalog), **access_tables(account, matrix, catalog)}
    return {f.id: f for f in produce_findings(FindingSources(tables, matrix, account.info))}


@pytest.fixture(scope="module")
def main() -> dict[str, Finding]:
    return produced("main")


def test_nine_identities_reading_every_case_is_one_high_finding(main):
    found = main["read-all-cases-support:DescribeCases"]
    assert found.severity is Severity.HIGH  # more than MANY (5)
    assert found.count == 9
    assert {user(n) for n in ("alice", "bob", "carol", "ivan", "judy", "kim", "nina", "oscar")} | {
        f"arn:aws:iam::{ACCOUNT}:role/SupportRole"} == set(found.identities)
    assert user("frank") not in found.identities


def test_changing_the_plan_names_heidi_and_her_statement(main):
    found = main["change-plan-supportplans:StartSupportPlanUpdate"]
    assert found.severity is Severity.HIGH
    assert found.identities == (user("heidi"),)  # judy's boundary allows supportplans:* on an ARN only
    assert found.statements == (StatementRef("user/heidi: SupportPlans (inline)", 0),)
    assert "supportplans:StartSupportPlanUpdate" in found.remedy.sentence()
    assert "'user/heidi: SupportPlans (inline)' Statement[0]" in found.remedy.sentence()


def test_a_deny_that_breaks_the_console_is_narrowed_rather_than_added_to(main):
    found = main["console-breakage-user/carol"]
    assert found.severity is Severity.MEDIUM
    assert found.remedy.fix is Fix.UNDENY_ACTIONS
    assert found.remedy.actions == ("support:DescribeIssueTypes",)
    assert found.remedy.statements == (StatementRef("user/carol: SupportButNoIssueTypes (inline)", 1),)
    assert found.remedy.sentence() == ("Narrow the Deny in 'user/carol: SupportButNoIssueTypes (inline)' "
                                       "Statement[1] so that it no longer denies support:DescribeIssueTypes.")


def test_a_reader_missing_console_actions_is_told_which_policy_to_extend(main):
    found = main["console-breakage-user/kim"]
    assert found.remedy.fix is Fix.ADD_ACTIONS
    assert found.remedy.policy == "user/kim: OnlyDescribeCases (inline)"
    assert "support:DescribeIssueTypes" in found.remedy.actions
    assert "support:InitiateChatForCase" not in found.remedy.actions  # reading needs no chat
    assert found.remedy.sentence().startswith("Add ")
    assert "to policy 'user/kim: OnlyDescribeCases (inline)', or attach the AWS managed policy AWSSupportAccess." \
        in found.remedy.sentence()


def test_an_aws_managed_policy_is_never_the_one_to_edit():
    # The demo's ReadOnlyAuditor reads cases through AWS's ReadOnlyAccess, which nobody can edit (data/README.md).
    demo = Path(__file__).parents[2] / "data" / "demo" / "workload-prod"
    catalog = load_catalog()
    account = load_account(demo)
    matrix = build_matrix(account, catalog)
    found = {f.id: f for f in produce_findings(FindingSources(all_findings(matrix, account, catalog), matrix,
                                                              account.info), kinds=["console-breakage"])}
    remedy = found["console-breakage-role/ReadOnlyAuditor"].remedy
    assert remedy.fix is Fix.ADD_ACTIONS and remedy.policy is None
    assert "to a policy of the identity, or attach the AWS managed policy AWSSupportAccess." in remedy.sentence()


def test_the_plan_gap_is_one_finding_per_plan():
    found = [f for f in produced("developer_plan").values() if f.kind == "plan-gap"]
    assert len(found) == 1
    (gap,) = found
    assert gap.id == "plan-gap-developer"
    assert gap.severity is Severity.INFO
    # root and opener hold paid-plan API actions; taviewer's trustedadvisor: console actions need no paid plan
    assert set(gap.identities) == {f"arn:aws:iam::{ACCOUNT}:root", user("opener")}
    assert {"support:CreateCase", "support:DescribeCases"} <= set(gap.remedy.actions)


def test_who_can_let_aws_support_staff_act_is_a_finding_naming_the_statement(tmp_path):
    # "CreateSupportPermit: grants permission to create a support permit" (Service Authorization Reference,
    # AWS Support Authorization); a user allowed supportauthz:* holds it.
    statement = {"Sid": "Permits", "Effect": "Allow", "Action": "supportauthz:*", "Resource": "*"}
    details = {"UserDetailList": [{
        "UserName": "pat", "UserId": "AIDAPAT", "Arn": user("pat"), "Path": "/", "GroupList": [],
        "AttachedManagedPolicies": [], "UserPolicyList": [{"PolicyName": "P", "PolicyDocument": {
            "Version": "2012-10-17", "Statement": [statement]}}]}],
        "GroupDetailList": [], "RoleDetailList": [], "Policies": []}
    (tmp_path / "authorization-details.json").write_text(json.dumps(details))
    (tmp_path / "account.json").write_text(json.dumps({"account_id": ACCOUNT}))
    catalog = load_catalog()
    account = load_account(tmp_path)
    matrix = build_matrix(account, catalog)
    found = {f.id: f for f in produce_findings(FindingSources(all_findings(matrix, account, catalog), matrix,
                                                              account.info), kinds=["support-permit"])}
    permit = found["support-permit-supportauthz:CreateSupportPermit"]
    assert permit.identities == (user("pat"),) and permit.severity is Severity.MEDIUM
    assert permit.statements == (StatementRef("user/pat: P (inline)", 0, "Permits"),)


def test_every_remedy_is_one_sentence():
    statement = StatementRef("P", 2, "S")
    for fix in Fix:
        text = Remedy(fix, actions=("support:CreateCase",), statements=(statement,), plan="basic").sentence()
        assert text[0].isupper() and text.endswith(".") and text.count(". ") == 0, (fix, text)


def test_ranking_and_counts_put_the_most_severe_first():
    remedy = Remedy(Fix.READ_POLICIES)
    low = Finding("k", "a", Severity.LOW, "t", remedy)
    high_few = Finding("k", "b", Severity.HIGH, "t", remedy, identities=("x",))
    high_many = Finding("k", "c", Severity.HIGH, "t", remedy, count=7)
    assert ranked([low, high_few, high_many]) == [high_many, high_few, low]
    assert severity_counts([low, high_few, high_many]) == {"critical": 0, "high": 2, "medium": 0, "low": 1, "info": 0}


def test_finding_ids_are_fragment_safe_whatever_the_subject():
    assert finding_id("console-breakage", "user/alice") == "console-breakage-user/alice"
    hostile = finding_id("k", '<img src=x onerror="alert(1)">\u202e')
    assert not set(hostile) & set(' <>"\'\u202e')


def test_a_new_producer_plugs_in_and_a_kind_registers_once(main, monkeypatch):
    monkeypatch.setattr(model, "_CLEAR", dict(model.clear_sentences()))
    monkeypatch.setattr(model, "_PRODUCERS", dict(model.producers()))

    @model.finding_producer("extra", clear="Nothing extra.")
    def extra(sources):
        yield Finding("extra", "x", Severity.CRITICAL, "an extra finding", Remedy(Fix.READ_POLICIES))

    assert "extra" in model.producers()
    assert model.clear_sentences()["extra"] == "Nothing extra."
    with pytest.raises(ValueError, match="already registered"):
        model.finding_producer("extra", clear="x")(lambda sources: ())
    with pytest.raises(ValueError, match="no producer of nope"):
        produce_findings(FindingSources({}, None, None), kinds=["nope"])  # type: ignore[arg-type]


def test_restricting_access_never_asks_to_edit_an_aws_managed_policy() -> None:
    """AWS managed policies cannot be edited ("You cannot change the permissions defined in AWS managed policies",
    IAM User Guide, "AWS managed policies",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html#aws-managed-policies):
    for those the remedy is to detach them; the customer's own statements are edited."""
    remedy = Remedy(Fix.RESTRICT_TO_TEAM, actions=("support:DescribeCases",), statements=(
        StatementRef("AdministratorAccess", 0), StatementRef("user/nina: ReadCases (inline)", 1, "Read"),
        StatementRef("ReadOnlyAccess", 1, "ReadOnlyActionsGroup2")))
    assert remedy.sentence() == (
        "Limit support:DescribeCases to the people who need it: take it out of 'user/nina: ReadCases (inline)' "
        "Statement[1] (Sid Read) for everyone else; detach the AWS managed 'AdministratorAccess' and "
        "'ReadOnlyAccess' (they cannot be edited) from everyone else.")
    only_own = Remedy(Fix.RESTRICT_TO_TEAM, actions=("support:ResolveCase",),
                      statements=(StatementRef("CaseAdmins", 0),))
    assert only_own.sentence() == (
        "Limit support:ResolveCase to the people who need it: take it out of 'CaseAdmins' Statement[0] for "
        "everyone else.")
