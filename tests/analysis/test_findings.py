"""Findings on small synthetic snapshots, each user built to express one situation (tests/data/findings/).

``main`` (business plan, SCPs FullAWSAccess at both levels plus a Deny scoped to case ARNs) holds:
alice support:* alone (no support-console:); bob support:* and support-console:* but Deny ResolveCase;
carol support:* and support-console:* but Deny DescribeIssueTypes; dave support:DescribeTrustedAdvisorChecks
only; erin trustedadvisor:Describe*; frank support:* on case ARNs only; grace a missing managed policy and a
missing group; heidi supportplans:*; ivan ReadOnlyAccess-like (support:Describe*, support:SearchForCases,
trustedadvisor:Describe*) plus the console's reads (support-console:Get*, support-console:DescribeDynamicHelp);
judy support:*, support-console:* and supportplans:* under a boundary allowing support:*, support-console:*
and supportplans:* on an ARN only;
kim support:DescribeCases only; leo trustedadvisor:Describe* on security check ARNs; mallory supportapp:* with
NotResource an S3 ARN; nina support:* and support-console:* but Deny AddCommunicationToCase; oscar support:*
and support-console:* but Deny CreateCase; role SupportRole with the AWS managed AWSSupportAccess (which holds
support:* and support-console:*).

Support Center needs support-console: actions since 16 November 2026 (AWS Support User Guide, "Adding IAM
policies for the Support Center Console API operations",
https://docs.aws.amazon.com/awssupport/latest/user/support-console-access-control.html: "If you don't create
these policies by November 16, 2026, you will receive AccessDenied errors"), so alice, with support:* alone,
is in the console-breakage finding; her persona still says what she may do (issue 9: a persona label never
hides a more important one).
"""

from pathlib import Path

import pytest

from supportkit.analysis import findings
from supportkit.snapshot import load_account
from supportkit.support.catalog import load_catalog
from supportkit.analysis.findings import Persona
from supportkit.analysis.matrix import build_matrix

DATA = Path(__file__).parents[1] / "data" / "findings"
ACCOUNT = "111122223333"
CASES = f"arn:aws:support::{ACCOUNT}:case/*"


def arn(name: str) -> str:
    if name == "root":
        return f"arn:aws:iam::{ACCOUNT}:root"
    kind = "role" if name == "SupportRole" else "user"
    return f"arn:aws:iam::{ACCOUNT}:{kind}/{name}"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def snapshot(name, catalog):
    account = load_account(DATA / name)
    return account, build_matrix(account, catalog)


@pytest.fixture(scope="module")
def main(catalog):
    return snapshot("main", catalog)


@pytest.fixture(scope="module")
def account(main):
    return main[0]


@pytest.fixture(scope="module")
def matrix(main):
    return main[1]


def names(frame) -> list[str]:
    return list(frame["identity_name"])


def row(frame, name):
    found = frame.loc[frame["identity_name"] == name]
    assert len(found) == 1, f"{name} appears {len(found)} times"
    return found.iloc[0]


# Who can open, read and resolve


def test_support_star_user_can_open_read_and_resolve(matrix):
    for finding in (findings.can_open_cases, findings.can_read_all_cases, findings.can_resolve_cases):
        alice = row(finding(matrix), "alice")
        assert alice["identity_arn"] == arn("alice")
        assert "user/alice: SupportAccess (inline)" in alice["explanation"]


def test_can_open_cases(matrix):
    frame = findings.can_open_cases(matrix)
    assert names(frame) == ["root", "alice", "bob", "carol", "judy", "nina", "SupportRole"]
    assert "AWSSupportAccess" in row(frame, "SupportRole")["explanation"]
    assert not frame["conditional"].any()


def test_can_read_all_cases(matrix):
    frame = findings.can_read_all_cases(matrix)
    assert names(frame) == ["root", "alice", "bob", "carol", "ivan", "judy", "kim", "nina", "oscar", "SupportRole"]


def test_can_resolve_cases_ignores_a_deny_scoped_to_case_arns(matrix):
    # bob's Deny ResolveCase removes him; the SCP's Deny on case ARNs removes nobody.
    expected = ["root", "alice", "carol", "judy", "nina", "oscar", "SupportRole"]
    assert names(findings.can_resolve_cases(matrix)) == expected


def test_deny_resolve_makes_a_case_manager_without_resolve(matrix, catalog):
    bob = row(findings.personas(matrix, catalog), "bob")
    assert bob["persona"] == Persona.CASE_MANAGER_WITHOUT_RESOLVE.value
    assert (bob["can_open"], bob["can_read"], bob["can_reply"], bob["can_resolve"]) == (True, True, True, False)


# Console breakage


def test_console_breakage_lists_exactly_the_denied_internal_actions(matrix, catalog):
    frame = findings.console_breakage(matrix, catalog)
    assert names(frame) == ["alice", "carol", "kim"]
    carol = row(frame, "carol")
    assert carol["missing_actions"] == "support:DescribeIssueTypes"
    assert carol["missing_count"] == 1
    assert carol["explanation"] == (
        "support:DescribeIssueTypes: explicitly denied by Deny in identity policy "
        "'user/carol: SupportButNoIssueTypes (inline)' Statement[1]"
    )


def test_a_reader_needs_the_read_internal_actions_only(matrix, catalog):
    frame = findings.console_breakage(matrix, catalog)
    kim = row(frame, "kim")  # DescribeCases alone
    assert (kim["can_open"], kim["can_read"]) == (False, True)
    # The Read actions of the eight support: ones, and the READ operations of the Support Center Console API
    # table ("Adding IAM policies for the Support Center Console API operations") that AWS's minimum policy lists.
    assert kim["missing_actions"] == (
        "support-console:DescribeDynamicHelp, support-console:GetAccountGovCloudEnabled, "
        "support-console:GetAccountState, support-console:GetBanner, support-console:GetCaseDraft, "
        "support:DescribeCaseAttributes, support:DescribeIssueTypes, support:DescribeSupportLevel, "
        "support:SearchForCases"
    )
    assert "support:SearchForCases: implicitly denied" in kim["explanation"]
    assert "ivan" not in names(frame)  # the console's reads, no chat, call, rating or draft actions: not broken


def test_support_star_alone_needs_the_support_console_actions(matrix, catalog):
    """AWS Support User Guide, "Adding IAM policies for the Support Center Console API operations"
    (https://docs.aws.amazon.com/awssupport/latest/user/support-console-access-control.html): without policies
    for these operations users receive AccessDenied after 16 November 2026. The actions to add are those of
    "Option 2: Create a custom policy with minimum required permissions"
    (https://docs.aws.amazon.com/awssupport/latest/user/support-interaction-perm-custom-policy.html)."""
    alice = row(findings.console_breakage(matrix, catalog), "alice")
    assert alice["missing_actions"] == (
        "support-console:CreateCaseDraft, support-console:CreateContact, support-console:DeleteCaseDraft, "
        "support-console:DescribeDynamicHelp, support-console:GetAccountGovCloudEnabled, "
        "support-console:GetAccountState, support-console:GetBanner, support-console:GetCaseDraft"
    )
    assert "16 November 2026" in alice["requirement"]
    assert "support-console-access-control.html" in alice["requirement"]
    assert row(findings.console_breakage(matrix, catalog), "carol")["requirement"] == ""  # a support: action only


def test_who_can_permit_aws_support_staff(catalog, tmp_path):
    """supportauthz:CreateSupportPermit "Creates a support permit that authorizes an AWS support operator to
    perform specified actions on specified resources" (AWS Support Authorization API Reference,
    https://docs.aws.amazon.com/supportauthz/latest/APIReference/Welcome.html)."""
    import json

    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "supportauthz:*", "Resource": "*"}]}
    details = {"UserDetailList": [
        {"UserName": "pat", "Arn": arn("pat"), "UserPolicyList": [{"PolicyName": "P", "PolicyDocument": document}]},
        {"UserName": "sam", "Arn": arn("sam")}]}
    (tmp_path / "authorization-details.json").write_text(json.dumps(details))
    matrix = build_matrix(load_account(tmp_path), catalog)
    assert names(findings.can_permit_support_access(matrix)) == ["root", "pat"]


# Statements scoped to resources that support actions never use


def test_resource_scoped_statements_are_listed_as_never_effective(account, catalog):
    frame = findings.resource_scoped_support_statements(account, catalog)
    listed = {(r.policy, r.kind, r.statement, r.effect, r.verdict) for r in frame.itertuples()}
    assert listed == {
        ("user/frank: ScopedToCases (inline)", "identity", 0, "Allow", "grants nothing"),
        ("SupportBoundary", "permissions boundary", 1, "Allow", "grants nothing"),
        ("user/leo: SecurityChecks (inline)", "identity", 0, "Allow", "grants nothing"),
        ("DenyResolveScoped", "scp", 0, "Deny", "denies nothing"),
    }
    frank = frame.loc[frame["policy"] == "user/frank: ScopedToCases (inline)"].iloc[0]
    assert frank["resources"] == CASES
    assert frank["resource_element"] == "Resource"
    actions = frank["actions"].split(", ")
    assert "support:CreateCase" in actions and "support:ResolveCase" in actions
    assert not any(action.startswith("support-console:") for action in actions)
    scp = frame.loc[frame["kind"] == "scp"].iloc[0]
    assert (scp["sid"], scp["scp_target"], scp["actions"]) == ("NoResolve", "r-root", "support:ResolveCase")


def test_check_actions_and_not_resource_are_not_flagged(account, catalog):
    frame = findings.resource_scoped_support_statements(account, catalog)
    leo = frame.loc[frame["policy"] == "user/leo: SecurityChecks (inline)"].iloc[0]
    actions = leo["actions"].split(", ")
    assert "trustedadvisor:DescribeChecks" in actions
    assert "trustedadvisor:DescribeCheckItems" not in actions  # check ARNs do scope it
    assert "take resource ARNs (Trusted Advisor checks, support permits)" in leo["explanation"]
    assert not frame["policy"].str.contains("mallory").any()  # NotResource an S3 ARN: applies to '*'


def test_never_effective_allow_grants_nothing_in_the_matrix(matrix, catalog):
    assert row(findings.personas(matrix, catalog), "frank")["persona"] == Persona.NO_ACCESS.value


# Trusted Advisor namespaces


def test_namespace_mixups(matrix, catalog):
    frame = findings.namespace_mixups(matrix, catalog)
    api_only = frame.loc[frame["mixup"] == findings.SUPPORT_API_WITHOUT_TA_CONSOLE]
    console_only = frame.loc[frame["mixup"] == findings.TA_CONSOLE_WITHOUT_SUPPORT_API]
    assert names(api_only) == ["alice", "bob", "carol", "dave", "judy", "nina", "oscar", "SupportRole"]
    assert names(console_only) == ["erin", "leo"]
    dave = row(frame, "dave")
    assert dave["allowed_actions"] == "support:DescribeTrustedAdvisorChecks"
    assert "Trusted Advisor console needs trustedadvisor:" in dave["explanation"]
    assert "user/dave: TrustedAdvisorApi (inline)" in dave["explanation"]
    assert "allowed on some Trusted Advisor checks only" in row(frame, "leo")["explanation"]


# Root only


def test_root_is_not_alone_in_main(matrix):
    assert findings.root_only_access(matrix).empty


def test_root_only_can_open_cases(catalog):
    _, matrix = snapshot("root_only_cases", catalog)  # taviewer reads Trusted Advisor; nobody else opens cases
    frame = findings.root_only_access(matrix)
    assert len(frame) == 1
    assert (frame.iloc[0]["identity_arn"], frame.iloc[0]["scope"]) == (arn("root"), findings.OPEN_CASES)


def test_root_only_has_any_support_access(catalog):
    _, matrix = snapshot("root_only_all", catalog)  # one user with s3:* only
    frame = findings.root_only_access(matrix)
    assert list(frame["scope"]) == [findings.ANY_SUPPORT_ACTION]


# Plan gaps


def test_developer_plan_gaps(catalog):
    account, matrix = snapshot("developer_plan", catalog)
    frame = findings.plan_gaps(matrix, account, catalog)
    assert names(frame) == ["root", "opener"]  # taviewer's DescribeChecks/DescribeCheckItems need no paid plan
    opener = row(frame, "opener")
    assert opener["support_plan"] == "developer"
    assert opener["actions"] == "support:CreateCase, support:DescribeCases"
    assert opener["action_count"] == 2
    assert "SubscriptionRequiredException" in opener["explanation"]


def test_no_plan_gaps_on_business_or_unknown_plans(main, catalog):
    assert findings.plan_gaps(main[1], main[0], catalog).empty
    account, matrix = snapshot("root_only_all", catalog)
    assert account.info.support_plan is None
    assert findings.plan_gaps(matrix, account, catalog).empty


# Incomplete identities


def test_incomplete_identities_one_row_per_problem(account):
    frame = findings.incomplete_identities(account)
    assert names(frame) == ["grace", "grace"]
    problems = list(frame["problem"])
    assert f"arn:aws:iam::{ACCOUNT}:policy/Missing" in problems[0]
    assert "group ghosts is not in GroupDetailList" in problems[1]


# Personas and summary

EXPECTED_PERSONAS = {
    "root": Persona.PLAN_ADMINISTRATOR,  # the root user can change the plan: that outranks its case access
    "alice": Persona.FULL_SUPPORT,  # support:* alone: the console breakage is a finding, not her persona
    "bob": Persona.CASE_MANAGER_WITHOUT_RESOLVE,
    "carol": Persona.FULL_SUPPORT,  # Deny DescribeIssueTypes breaks Support Center: a finding too
    "dave": Persona.TRUSTED_ADVISOR_ONLY,
    "erin": Persona.TRUSTED_ADVISOR_ONLY,
    "frank": Persona.NO_ACCESS,
    "grace": Persona.NO_ACCESS,
    "heidi": Persona.PLAN_ADMINISTRATOR,
    "ivan": Persona.CASE_VIEWER,
    "judy": Persona.FULL_SUPPORT,
    "kim": Persona.CASE_VIEWER,  # support:DescribeCases only: reads through the API, not Support Center
    "leo": Persona.TRUSTED_ADVISOR_ONLY,
    "mallory": Persona.OTHER,
    "nina": Persona.CASE_OPENER,
    "oscar": Persona.CASE_RESPONDER,
    "SupportRole": Persona.FULL_SUPPORT,
}


def test_personas(matrix, catalog):
    frame = findings.personas(matrix, catalog)
    assert dict(zip(frame["identity_name"], frame["persona"])) == {n: p.value for n, p in EXPECTED_PERSONAS.items()}
    assert list(frame.columns) == [
        "identity_arn", "identity_type", "identity_name", "persona", "can_open", "can_read", "can_reply",
        "can_resolve", "ta_read", "ta_change", "plan_read", "plan_change", "slack_app", "support_permit",
        "persona_conditionally", "can_open_conditionally", "can_read_conditionally", "can_reply_conditionally",
        "can_resolve_conditionally", "ta_read_conditionally", "ta_change_conditionally", "plan_read_conditionally",
        "plan_change_conditionally", "slack_app_conditionally", "support_permit_conditionally", "incomplete",
    ]


def test_persona_capabilities(matrix, catalog):
    frame = findings.personas(matrix, catalog)
    heidi, judy = row(frame, "heidi"), row(frame, "judy")
    assert heidi["plan_read"] and heidi["plan_change"]
    assert not judy["plan_change"]  # the boundary allows supportplans:* on an ARN only
    assert row(frame, "mallory")["slack_app"]
    assert row(frame, "leo")["ta_read"]  # on security checks only
    assert row(frame, "dave")["ta_read"] and not row(frame, "dave")["ta_change"]
    assert row(frame, "grace")["incomplete"]


def test_personas_do_not_depend_on_row_order(matrix, catalog):
    shuffled = matrix.sample(frac=1, random_state=7)
    expected = findings.personas(matrix, catalog).sort_values("identity_arn").reset_index(drop=True)
    got = findings.personas(shuffled, catalog).sort_values("identity_arn").reset_index(drop=True)
    assert got.equals(expected)


def test_a_matrix_without_a_key_action_is_an_error(matrix, catalog):
    with pytest.raises(ValueError, match="support:CreateCase"):
        findings.personas(matrix.loc[matrix["action"] != "support:CreateCase"], catalog)


def test_summary(matrix, account, catalog):
    numbers = findings.summary(matrix, account, catalog)
    assert numbers == {
        "account_id": ACCOUNT,
        "account_name": "main",
        "support_plan": "business",
        "identities": 17,
        "incomplete_identities": 1,
        "can_open_cases": 7,
        "can_read_all_cases": 10,
        "can_resolve_cases": 7,
        "can_change_plan": 2,  # root and heidi
        "trusted_advisor_users": 12,
        "trusted_advisor_users_conditionally": 0,  # without three states, nothing is conditional
        "console_broken": 3,  # alice, carol, kim
        "can_permit_support": 1,  # root
        "personas": {
            "Support plan administrator": 2,  # root and heidi
            "Full support access": 4,  # alice, carol, judy, SupportRole
            "Case manager without resolve": 1,
            "Case opener": 1,
            "Case responder": 1,
            "Read-only case viewer": 2,  # ivan, kim
            "Trusted Advisor only": 3,
            "Other support permissions": 1,
            "No support access": 2,
        },
    }


def test_all_findings_have_stable_keys_and_titles(matrix, account, catalog):
    every = findings.all_findings(matrix, account, catalog)
    assert list(every) == list(findings.TITLES)
    for key, frame in every.items():
        assert frame.attrs["title"] == findings.TITLES[key]
    assert names(every["console_breakage"]) == ["alice", "carol", "kim"]


def test_a_deny_on_some_checks_is_explained_as_some_checks(tmp_path, catalog):
    import json

    security = f"arn:aws:trustedadvisor:*:{ACCOUNT}:checks/security/*"
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "trustedadvisor:*", "Resource": "*"},
        {"Sid": "NotSecurity", "Effect": "Deny", "Action": "trustedadvisor:RefreshCheck", "Resource": security}]}
    details = {"UserDetailList": [{"UserName": "tia", "Arn": arn("tia"),
                                   "UserPolicyList": [{"PolicyName": "TA", "PolicyDocument": document}]}]}
    (tmp_path / "authorization-details.json").write_text(json.dumps(details))
    account = load_account(tmp_path)
    matrix = build_matrix(account, catalog)
    tia = row(findings.namespace_mixups(matrix, catalog), "tia")
    assert ("allowed on some Trusted Advisor checks only; on checks no statement names: allowed by Allow in "
            "identity policy 'user/tia: TA (inline)' Statement[0]") in tia["explanation"]
    assert bool(row(findings.personas(matrix, catalog), "tia")["ta_change"])
