"""Trust sources, identity kinds and who-can paths on synthetic accounts, with AWS's documented outcomes.

Pages the expectations come from:
- STS API Reference, AssumeRole (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html):
  a same-account user named in the trust policy needs no identity-based Allow; trusting the account, it does.
- How AWS enforcement code logic evaluates requests to allow or deny access
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html):
  "Resource-based policies that grant permissions to an IAM role ARN are limited by an implicit deny in a
  permissions boundary".
- Roles terms and concepts, role chaining
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-role-chaining).
- AWS JSON policy elements: Principal
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html): services,
  SAML and OIDC providers, other accounts.
- IAM roles created by IAM Identity Center
  (https://docs.aws.amazon.com/singlesignon/latest/userguide/identity-center-and-iam-roles.html): roles
  named ``AWSReservedSSO_<permission set>_...`` under ``/aws-reserved/sso.amazonaws.com/``.
- Using service-linked roles (https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html).
- Service Authorization Reference, IAM actions
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html):
  iam:PutUserPolicy / AttachUserPolicy are authorized on the user, PutGroupPolicy / AttachGroupPolicy /
  AddUserToGroup on the group, CreatePolicyVersion on the policy, UpdateAssumeRolePolicy on the role.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from supportkit.analysis.kinds import IdentityKind, identity_kinds
from supportkit.analysis.paths import AccessDecision, Via, who_can
from supportkit.analysis.trust import SourceKind, trust_sources
from supportkit.iam.trust import BOUNDARY_CAVEAT
from supportkit.snapshot import load_account

ACCT = "111122223333"
OTHER = "444455556666"
RESOLVE = "support:ResolveCase"


def arn(kind: str, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCT}:{kind}{path}{name}"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def trusts(principal: Any, action: Any = "sts:AssumeRole", **extra: Any) -> dict[str, Any]:
    return doc({"Effect": "Allow", "Principal": principal, "Action": action, **extra})


ACCOUNT_TRUST = trusts({"AWS": f"arn:aws:iam::{ACCT}:root"})
SUPPORT = doc(allow(RESOLVE))


def user(name: str, *inline: dict[str, Any], groups: tuple[str, ...] = (), managed: tuple[str, ...] = (),
         boundary: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "UserName": name, "UserId": f"AIDA{name.upper()}", "Arn": arn("user", name), "Path": "/",
        "UserPolicyList": [{"PolicyName": f"p{i}", "PolicyDocument": d} for i, d in enumerate(inline)],
        "GroupList": list(groups), "AttachedManagedPolicies": [{"PolicyArn": a, "PolicyName": a} for a in managed],
    }
    if boundary:
        entry["PermissionsBoundary"] = {"PermissionsBoundaryArn": boundary}
    return entry


def role(name: str, trust: dict[str, Any], *inline: dict[str, Any], path: str = "/",
         boundary: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "RoleName": name, "RoleId": f"AROA{name.upper()[:12]}", "Arn": arn("role", name, path), "Path": path,
        "AssumeRolePolicyDocument": trust,
        "RolePolicyList": [{"PolicyName": f"p{i}", "PolicyDocument": d} for i, d in enumerate(inline)],
        "AttachedManagedPolicies": [],
    }
    if boundary:
        entry["PermissionsBoundary"] = {"PermissionsBoundaryArn": boundary}
    return entry


def policy(name: str, document: dict[str, Any]) -> dict[str, Any]:
    return {"PolicyName": name, "Arn": arn("policy", name), "DefaultVersionId": "v1",
            "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True, "Document": document}]}


def group(name: str, *inline: dict[str, Any]) -> dict[str, Any]:
    return {"GroupName": name, "GroupId": f"AGPA{name.upper()}", "Arn": arn("group", name), "Path": "/",
            "GroupPolicyList": [{"PolicyName": f"g{i}", "PolicyDocument": d} for i, d in enumerate(inline)],
            "AttachedManagedPolicies": []}


def account(tmp_path: Path, users=(), roles=(), groups=(), policies=()):
    details = {"UserDetailList": list(users), "RoleDetailList": list(roles), "GroupDetailList": list(groups),
               "Policies": list(policies)}
    path = tmp_path / "authorization-details.json"
    path.write_text(json.dumps(details))
    (tmp_path / "account.json").write_text(json.dumps({"account_id": ACCT}))
    return load_account(tmp_path)


def paths(loaded, action=RESOLVE, **options):
    return {p.principal: p for p in who_can(loaded, [action], **options)}


# --- trust sources and kinds ---------------------------------------------------------------------------

def test_trust_sources_name_users_roles_the_account_other_accounts_services_and_providers(tmp_path: Path) -> None:
    saml = f"arn:aws:iam::{ACCT}:saml-provider/Okta"
    oidc = f"arn:aws:iam::{ACCT}:oidc-provider/token.actions.githubusercontent.com"
    loaded = account(tmp_path, roles=[
        role("Named", trusts({"AWS": [arn("user", "alice"), arn("role", "Ops"), ACCT, "AIDAJQABLZS4A3QDU576Q",
                                      "\u0661" * 12]})),  # an account id in Arabic-Indic digits names no account
        role("Vendor", trusts({"AWS": f"arn:aws:iam::{OTHER}:root"},
                              Condition={"StringEquals": {"sts:ExternalId": "vendor-42"}})),
        role("Fn", trusts({"Service": "lambda.amazonaws.com"})),
        role("Saml", trusts({"Federated": saml}, "sts:AssumeRoleWithSAML",
                            Condition={"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}})),
        role("Ci", trusts({"Federated": oidc}, "sts:AssumeRoleWithWebIdentity", Condition={
            "StringLike": {"token.actions.githubusercontent.com:sub": "repo:example-org/app:*"}})),
    ])
    found = {i.name: trust_sources(i, ACCT) for i in loaded.identities if i.type.value == "role"}
    assert [(s.kind, s.principal) for s in found["Named"]] == [
        (SourceKind.USER, arn("user", "alice")), (SourceKind.ROLE, arn("role", "Ops")), (SourceKind.ACCOUNT, ACCT),
    ]  # the unique id of a deleted principal matches nobody
    (vendor,) = found["Vendor"]
    assert vendor.kind is SourceKind.EXTERNAL
    assert [[r.to_json() for r in s.requirements] for s in vendor.conditions.scenarios] == [
        [{"key": "sts:ExternalId", "relation": "=", "value": "vendor-42"}]]
    assert [(s.kind, s.principal, s.conditions.always) for s in found["Fn"]] == [
        (SourceKind.SERVICE, "lambda.amazonaws.com", True)]
    ((saml_source,), (oidc_source,)) = found["Saml"], found["Ci"]
    assert (saml_source.kind, saml_source.action) == (SourceKind.SAML, "sts:AssumeRoleWithSAML")
    assert saml_source.conditions.text() == "when SAML:aud = https://signin.aws.amazon.com/saml"
    assert (oidc_source.kind, oidc_source.action) == (SourceKind.OIDC, "sts:AssumeRoleWithWebIdentity")
    assert oidc_source.conditions.text() == "when token.actions.githubusercontent.com:sub like repo:example-org/app:*"


def test_identity_center_role_reports_its_permission_set_and_is_human(tmp_path: Path) -> None:
    provider = f"arn:aws:iam::{ACCT}:saml-provider/AWSSSO_0123456789abcdef_DO_NOT_DELETE"
    loaded = account(tmp_path, roles=[role(
        "AWSReservedSSO_SupportEngineer_5f2c1a9be07d4c13",
        trusts({"Federated": provider}, ["sts:AssumeRoleWithSAML", "sts:TagSession"]), SUPPORT,
        path="/aws-reserved/sso.amazonaws.com/eu-central-1/",
    )])
    sso = loaded.identities[-1]
    (source,) = trust_sources(sso, ACCT)
    assert (source.kind, source.permission_set) == (SourceKind.IDENTITY_CENTER, "SupportEngineer")
    assert identity_kinds(loaded, {sso.arn: (source,)})[sso.arn] is IdentityKind.HUMAN
    found = paths(loaded)
    line = found["Identity Center permission set SupportEngineer"]
    assert line.kind is IdentityKind.FEDERATED and line.decision is AccessDecision.ALLOWED
    assert [(s.action, s.target) for s in line.steps] == [("sts:AssumeRoleWithSAML", sso.arn)]


def test_kinds_of_users_root_service_roles_service_linked_and_cross_account_roles(tmp_path: Path) -> None:
    loaded = account(tmp_path, users=[user("alice")], roles=[
        role("Fn", trusts({"Service": "lambda.amazonaws.com"})),
        role("AWSServiceRoleForSupport", trusts({"Service": "support.amazonaws.com"}),
             path="/aws-service-role/support.amazonaws.com/"),
        role("Vendor", trusts({"AWS": OTHER})),
        role("Jump", ACCOUNT_TRUST),
        role("Inner", trusts({"AWS": arn("role", "Jump")})),
        role("FnInner", trusts({"AWS": arn("role", "Fn")})),
        role("NoTrust", doc(allow("sts:AssumeRole"))),  # no Principal: the trust policy is left out
    ])
    sources = {i.arn: trust_sources(i, ACCT) for i in loaded.identities}
    kinds = {i.name: kind for i in loaded.identities for a, kind in identity_kinds(loaded, sources).items()
             if a == i.arn}
    assert kinds == {
        "root": IdentityKind.ROOT, "alice": IdentityKind.HUMAN, "Fn": IdentityKind.WORKLOAD,
        "AWSServiceRoleForSupport": IdentityKind.SERVICE_LINKED, "Vendor": IdentityKind.EXTERNAL,
        "Jump": IdentityKind.HUMAN, "Inner": IdentityKind.HUMAN, "FnInner": IdentityKind.WORKLOAD,
        "NoTrust": IdentityKind.UNKNOWN,
    }
    assert IdentityKind.UNKNOWN.people and not IdentityKind.WORKLOAD.people


# --- same-account assumption --------------------------------------------------------------------------

def test_account_trust_needs_the_callers_permission_and_a_named_user_does_not(tmp_path: Path) -> None:
    loaded = account(tmp_path, users=[
        user("allowed", doc(allow("sts:AssumeRole", arn("role", "Support")))),
        user("no-permission", doc(allow("s3:ListBucket"))),
        user("named"),
    ], roles=[
        role("Support", ACCOUNT_TRUST, SUPPORT),
        role("Named", trusts({"AWS": arn("user", "named")}), SUPPORT),
    ])
    found = paths(loaded)
    assert [(s.source, s.target) for s in found[arn("user", "allowed")].steps] == [
        (arn("user", "allowed"), arn("role", "Support"))]
    assert arn("user", "no-permission") not in found
    assert [s.target for s in found[arn("user", "named")].steps] == [arn("role", "Named")]


def test_a_boundary_that_blocks_assume_role_blocks_the_path(tmp_path: Path) -> None:
    boundary = arn("policy", "OnlyS3")
    allows = policy("OnlyS3", doc(allow("s3:*")))
    assume_boundary = policy("AssumeOnly", doc(allow("sts:AssumeRole")))
    loaded = account(tmp_path, users=[
        user("bounded", doc(allow("sts:AssumeRole", "*")), boundary=boundary),
        user("named-bounded", boundary=boundary),
        user("named-allowed", boundary=arn("policy", "AssumeOnly")),
    ], roles=[
        role("Support", ACCOUNT_TRUST, SUPPORT),
        role("Named", trusts({"AWS": [arn("user", "named-bounded"), arn("user", "named-allowed")]}), SUPPORT),
    ], policies=[allows, assume_boundary])
    found = paths(loaded)
    assert arn("user", "bounded") not in found
    assert arn("user", "named-bounded") not in found  # the stricter of AWS's two readings
    assert found[arn("user", "named-allowed")].all_caveats == (BOUNDARY_CAVEAT,)


def test_mfa_and_source_ip_on_the_trust_and_on_the_permission(tmp_path: Path) -> None:
    # Configuring MFA-protected API access
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_configure-api-require.html);
    # aws:SourceIp (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).
    mfa = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    office = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    loaded = account(tmp_path, users=[
        user("caller", doc(allow("sts:AssumeRole", "*", Condition=office))),
        user("direct", doc(allow(RESOLVE, Condition=mfa))),
    ], roles=[role("Support", trusts({"AWS": ACCT}, Condition=mfa), SUPPORT)])
    found = paths(loaded)
    direct = found[arn("user", "direct")]
    assert direct.decision is AccessDecision.CONDITIONAL and direct.conditions.text() == "with MFA"
    (step,) = found[arn("user", "caller")].steps
    assert step.conditions.text() == "with MFA and from 10.0.0.0/8"  # keys in name order
    assert found[arn("user", "caller")].decision is AccessDecision.CONDITIONAL
    # --context fixes a key: without MFA the direct user cannot, and the scenario is not enumerated.
    fixed = paths(loaded, context={"aws:MultiFactorAuthPresent": "false"})
    assert arn("user", "direct") not in fixed and arn("user", "caller") not in fixed


def test_a_fixed_time_is_one_instant_for_both_clock_keys(tmp_path: Path) -> None:
    # aws:CurrentTime and aws:EpochTime are the date and time of the request
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html); 2026-01-01T00:00:00Z
    # is epoch 1767225600 (`date -u -d 2026-01-01T00:00:00Z +%s`). Unfixed, the time is part of the answer.
    before = {"NumericLessThan": {"aws:EpochTime": "1767225600"}}
    loaded = account(tmp_path, users=[user("u", doc(allow(RESOLVE, Condition=before)))])
    assert paths(loaded)[arn("user", "u")].decision is AccessDecision.CONDITIONAL
    assert paths(loaded, context={"aws:CurrentTime": "2025-12-31T23:59:59Z"})[arn("user", "u")].decision \
        is AccessDecision.ALLOWED
    assert arn("user", "u") not in paths(loaded, context={"aws:CurrentTime": "2026-01-01T00:00:00Z"})


# --- role chains --------------------------------------------------------------------------------------

def test_a_chain_of_depth_three_with_a_loop(tmp_path: Path) -> None:
    loaded = account(tmp_path, users=[user("u", doc(allow("sts:AssumeRole", arn("role", "A"))))], roles=[
        role("A", trusts({"AWS": [arn("user", "u"), arn("role", "C")]})),
        role("B", trusts({"AWS": arn("role", "A")})),
        role("C", trusts({"AWS": arn("role", "B")}), SUPPORT),  # C can go back to A: a loop
    ])
    found = paths(loaded)
    assert [(s.source, s.target) for s in found[arn("user", "u")].steps] == [
        (arn("user", "u"), arn("role", "A")), (arn("role", "A"), arn("role", "B")),
        (arn("role", "B"), arn("role", "C"))]
    for path in found.values():
        visited = [path.principal, *(s.target for s in path.steps)]
        assert len(visited) == len(set(visited))
    assert arn("user", "u") not in paths(loaded, depth=2)
    assert set(paths(loaded, depth=2)) == {arn("role", n) for n in "ABC"} | {f"arn:aws:iam::{ACCT}:root"}


def test_external_accounts_are_listed_with_their_conditions_and_a_caveat(tmp_path: Path) -> None:
    loaded = account(tmp_path, roles=[role("Vendor", trusts(
        {"AWS": f"arn:aws:iam::{OTHER}:root"}, Condition={"StringEquals": {"sts:ExternalId": "vendor-42"}}), SUPPORT)])
    line = paths(loaded)[f"arn:aws:iam::{OTHER}:root"]
    assert line.kind is IdentityKind.EXTERNAL and line.decision is AccessDecision.CONDITIONAL
    assert line.steps[0].conditions.text() == "when sts:ExternalId = vendor-42"
    assert "other account's own policies" in line.all_caveats[0]


# --- privilege escalation -----------------------------------------------------------------------------

@pytest.mark.parametrize("grant, target", [
    (allow("iam:PutUserPolicy", arn("user", "esc")), arn("user", "esc")),
    (allow("iam:AttachUserPolicy", arn("user", "esc")), arn("user", "esc")),
    (allow("iam:AttachGroupPolicy", arn("group", "devs")), arn("group", "devs")),
    (allow("iam:PutGroupPolicy", arn("group", "devs")), arn("group", "devs")),
    (allow("iam:CreatePolicyVersion", arn("policy", "DevTools")), arn("policy", "DevTools")),
    (allow("iam:AddUserToGroup", arn("group", "support")), arn("group", "support")),
])
def test_a_user_that_can_grant_itself_support_access(tmp_path: Path, grant: dict, target: str) -> None:
    loaded = account(tmp_path, users=[user("esc", doc(grant), groups=("devs",), managed=(arn("policy", "DevTools"),))],
                     groups=[group("devs", doc(allow("s3:ListBucket"))), group("support", SUPPORT)],
                     policies=[policy("DevTools", doc(allow("ec2:Describe*")))])
    line = paths(loaded)[arn("user", "esc")]
    assert line.via is Via.ESCALATION and line.decision is AccessDecision.ALLOWED
    assert [(s.action, s.target) for s in line.steps] == [(grant["Action"], target)]


def test_each_escalating_user_states_the_alternatives_of_its_own_policies_in_their_order(tmp_path: Path) -> None:
    # Two users may change their own policies from either of two networks (one IpAddress range per policy,
    # Condition operators:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IPAddress),
    # the same two policies attached in the opposite order: each step lists the alternatives in the order of
    # that user's own policies, as evaluating the user alone does, not in the order of the user decided first.
    def network(cidr: str) -> dict[str, Any]:
        return doc(allow("iam:PutUserPolicy", Condition={"IpAddress": {"aws:SourceIp": cidr}}))

    loaded = account(tmp_path, users=[user("ann", managed=(arn("policy", "Office"), arn("policy", "Vpn"))),
                                      user("ben", managed=(arn("policy", "Vpn"), arn("policy", "Office")))],
                     policies=[policy("Office", network("10.0.0.0/8")), policy("Vpn", network("192.168.0.0/16"))])
    found = paths(loaded)
    steps = {name: found[arn("user", name)].steps for name in ("ann", "ben")}
    assert [(s.action, s.conditions.text()) for s in steps["ann"]] == [
        ("iam:PutUserPolicy", "from 10.0.0.0/8; or from 192.168.0.0/16")]
    assert [(s.action, s.conditions.text()) for s in steps["ben"]] == [
        ("iam:PutUserPolicy", "from 192.168.0.0/16; or from 10.0.0.0/8")]


def test_escalation_does_not_pass_the_boundary_and_wrong_targets_do_not_count(tmp_path: Path) -> None:
    loaded = account(tmp_path, users=[
        user("bounded", doc(allow("iam:PutUserPolicy", arn("user", "bounded"))), boundary=arn("policy", "OnlyS3")),
        user("other-target", doc(allow("iam:PutUserPolicy", arn("user", "someone-else")))),
    ], policies=[policy("OnlyS3", doc(allow(["s3:*", "iam:*"])))])
    assert not {arn("user", "bounded"), arn("user", "other-target")} & set(paths(loaded))


def test_update_assume_role_policy_on_a_role_with_support_access(tmp_path: Path) -> None:
    loaded = account(tmp_path, users=[user("esc", doc(allow("iam:UpdateAssumeRolePolicy", arn("role", "Support"))))],
                     roles=[role("Support", trusts({"Service": "lambda.amazonaws.com"}), SUPPORT),
                            role("AWSServiceRoleForSupport", trusts({"Service": "support.amazonaws.com"}), SUPPORT,
                                 path="/aws-service-role/support.amazonaws.com/")])
    line = paths(loaded)[arn("user", "esc")]
    assert [(s.action, s.target) for s in line.steps] == [
        ("iam:UpdateAssumeRolePolicy", arn("role", "Support")), ("sts:AssumeRole", arn("role", "Support"))]
    # A service-linked role's trust policy cannot be changed: no path through it.
    assert all(s.target != arn("role", "AWSServiceRoleForSupport", "/aws-service-role/support.amazonaws.com/")
               for s in line.steps)


def test_console_breakage_is_a_finding_for_people_only(tmp_path: Path) -> None:
    # A workload (a role only a service can assume) never opens Support Center; a user does.
    from supportkit.analysis import findings
    from supportkit.analysis.kinds import account_kinds
    from supportkit.analysis.matrix import build_matrix
    from supportkit.support.catalog import load_catalog

    reader = doc(allow("support:DescribeCases"))
    loaded = account(tmp_path, users=[user("reader", reader)],
                     roles=[role("Fn", trusts({"Service": "lambda.amazonaws.com"}), reader)])
    catalog = load_catalog()
    matrix = build_matrix(loaded, catalog)
    assert set(findings.console_breakage(matrix, catalog)["identity_name"]) == {"reader", "Fn"}
    assert list(findings.console_breakage(matrix, catalog, account_kinds(loaded))["identity_name"]) == ["reader"]


def test_a_persona_never_hides_the_plan_change_behind_console_breakage(tmp_path: Path) -> None:
    # support:* without support-console: breaks Support Center since 16 November 2026 ("Adding IAM policies
    # for the Support Center Console API operations",
    # https://docs.aws.amazon.com/awssupport/latest/user/support-console-access-control.html); the user can
    # still change the plan (supportplans:StartSupportPlanUpdate, Service Authorization Reference, AWS
    # Support Plans, https://docs.aws.amazon.com/service-authorization/latest/reference/list_supportplans.html).
    from supportkit.analysis import findings
    from supportkit.analysis.kinds import account_kinds
    from supportkit.analysis.matrix import build_matrix
    from supportkit.support.catalog import load_catalog

    loaded = account(tmp_path, users=[user("payer", doc(allow(["support:*", "supportplans:*"])))])
    catalog = load_catalog()
    matrix = build_matrix(loaded, catalog)
    people = findings.personas(matrix, catalog)
    payer = people.loc[people["identity_name"] == "payer"].iloc[0]
    assert payer["persona"] == findings.Persona.PLAN_ADMINISTRATOR.value
    assert payer["can_open"] and payer["can_resolve"]
    assert list(findings.console_breakage(matrix, catalog, account_kinds(loaded))["identity_name"]) == ["payer"]
    assert findings.summary(matrix, loaded, catalog)["console_broken"] == 1


def test_tag_session_alone_does_not_let_anyone_assume_a_role(tmp_path: Path) -> None:
    # Pass session tags in AWS STS (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html):
    # sts:TagSession is a permission-only action, needed in addition to the sts:AssumeRole* action.
    loaded = account(tmp_path, users=[user("tagger")],
                     roles=[role("Tags", trusts({"AWS": arn("user", "tagger")}, "sts:TagSession"), SUPPORT)])
    assert trust_sources(loaded.identities[-1], ACCT) == ()
    assert arn("user", "tagger") not in paths(loaded)


def test_a_trust_that_requires_session_tags_or_a_source_identity_needs_their_permissions(tmp_path: Path) -> None:
    # Pass session tags in AWS STS (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html):
    # "In addition to the action that matches the API operation, you must have the following permissions-only
    # action in your policy: sts:TagSession". Monitor and control actions taken with assumed roles
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html):
    # "permissions for sts:SetSourceIdentity are required in both the permissions policy of the principal who is
    # assuming the role and in the role trust policy of the target role".
    account_root = {"AWS": f"arn:aws:iam::{ACCT}:root"}
    tagged = doc({"Effect": "Allow", "Principal": account_root, "Action": "sts:AssumeRole",
                  "Condition": {"StringEquals": {"aws:RequestTag/team": "support"}}},
                 {"Effect": "Allow", "Principal": account_root, "Action": "sts:TagSession"})
    sourced = doc({"Effect": "Allow", "Principal": account_root, "Action": "sts:AssumeRole",
                   "Condition": {"StringEquals": {"sts:SourceIdentity": "alice"}}},
                  {"Effect": "Allow", "Principal": account_root, "Action": "sts:SetSourceIdentity"})
    untagged_trust = trusts(account_root)  # no tag statement: tags cannot be passed
    loaded = account(tmp_path, users=[
        user("plain", doc(allow("sts:AssumeRole"))),
        user("tagger", doc(allow(["sts:AssumeRole", "sts:TagSession"], arn("role", "Tagged")))),
        user("sourcer", doc(allow(["sts:AssumeRole", "sts:SetSourceIdentity"], arn("role", "Sourced")))),
    ], roles=[role("Tagged", tagged, SUPPORT), role("Sourced", sourced, SUPPORT), role("Plain", untagged_trust)])
    found = paths(loaded)
    assert arn("user", "plain") not in found  # allowed sts:AssumeRole alone: cannot meet either condition
    (step,) = found[arn("user", "tagger")].steps
    assert (step.target, step.conditions.text()) == (arn("role", "Tagged"), "when aws:RequestTag/team = support")
    (step,) = found[arn("user", "sourcer")].steps
    assert (step.target, step.conditions.text()) == (arn("role", "Sourced"), "when sts:SourceIdentity = alice")


def test_requests_that_pass_session_tags_need_sts_tag_session_even_where_the_statements_settle_the_rest(
        tmp_path: Path) -> None:
    # Pass session tags in AWS STS (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html): "In
    # addition to the action that matches the API operation, you must have the following permissions-only action
    # in your policy: sts:TagSession". An analyst's context that passes a session tag makes every assumption ask
    # it; callers whose unconditional statements settle sts:AssumeRole are no exception. Without that context the
    # same callers assume the role, unconditionally.
    account_root = {"AWS": f"arn:aws:iam::{ACCT}:root"}
    trust = doc({"Effect": "Allow", "Principal": account_root, "Action": ["sts:AssumeRole", "sts:TagSession"]})
    loaded = account(tmp_path, users=[user("plain", doc(allow("sts:AssumeRole"))),
                                      user("tagger", doc(allow(["sts:AssumeRole", "sts:TagSession"])))],
                     roles=[role("Tagged", trust, SUPPORT)])
    tagged = paths(loaded, context={"aws:RequestTag/project": "x"})
    assert arn("user", "plain") not in tagged
    assert [step.target for step in tagged[arn("user", "tagger")].steps] == [arn("role", "Tagged")]
    untagged = paths(loaded)
    for name in ("plain", "tagger"):
        (step,) = untagged[arn("user", name)].steps
        assert (step.target, step.conditions.always) == (arn("role", "Tagged"), True)


def test_a_provider_that_must_pass_session_tags_or_a_source_identity_needs_the_trust_to_allow_them(
        tmp_path: Path) -> None:
    # Pass session tags in AWS STS (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html),
    # things to know about session tags: "When you use session tags, trust policies for all roles connected to
    # the identity provider (IdP) passing tags must have the sts:TagSession permission. For roles without this
    # permission in the trust policy, the AssumeRole operation fails." A SAML assertion or OIDC token passes
    # them as PrincipalTag attributes or claims (same page, AssumeRoleWithSAML / AssumeRoleWithWebIdentity).
    # Monitor and control actions taken with assumed roles
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html): a
    # source identity needs sts:SetSourceIdentity in the role trust policy of the target role.
    saml = f"arn:aws:iam::{ACCT}:saml-provider/Okta"
    oidc = f"arn:aws:iam::{ACCT}:oidc-provider/token.actions.githubusercontent.com"
    team = {"StringEquals": {"aws:RequestTag/team": "support"}}
    source = {"StringEquals": {"sts:SourceIdentity": "alice"}}
    loaded = account(tmp_path, roles=[
        role("SamlTagsRefused", trusts({"Federated": saml}, "sts:AssumeRoleWithSAML", Condition=team), SUPPORT),
        role("SamlTags", trusts({"Federated": saml}, ["sts:AssumeRoleWithSAML", "sts:TagSession"], Condition=team),
             SUPPORT),
        role("OidcSourceRefused", trusts({"Federated": oidc}, "sts:AssumeRoleWithWebIdentity", Condition=source),
             SUPPORT),
        role("OidcSource", trusts({"Federated": oidc}, ["sts:AssumeRoleWithWebIdentity", "sts:SetSourceIdentity"],
                                  Condition=source), SUPPORT),
        role("SamlPlain", trusts({"Federated": saml + "Plain"}, "sts:AssumeRoleWithSAML"), SUPPORT),  # no tags asked
        # each permission-only action's own statement asks for what needs the next one
        role("Chained", doc(
            {"Effect": "Allow", "Principal": {"Federated": saml + "Chained"}, "Action": "sts:AssumeRoleWithSAML",
             "Condition": team},
            {"Effect": "Allow", "Principal": {"Federated": saml + "Chained"}, "Action": "sts:TagSession",
             "Condition": source},
            {"Effect": "Allow", "Principal": {"Federated": saml + "Chained"}, "Action": "sts:SetSourceIdentity",
             "Condition": {"StringEquals": {"sts:TransitiveTagKeys": "team"}}}), SUPPORT),
    ])
    found = {i.name: trust_sources(i, ACCT) for i in loaded.identities if i.type.value == "role"}
    assert found["SamlTagsRefused"] == () and found["OidcSourceRefused"] == ()  # the condition can never be met
    (tags,), (sourced,), (plain,) = found["SamlTags"], found["OidcSource"], found["SamlPlain"]
    assert (tags.kind, tags.conditions.text()) == (SourceKind.SAML, "when aws:RequestTag/team = support")
    assert (sourced.kind, sourced.conditions.text()) == (SourceKind.OIDC, "when sts:SourceIdentity = alice")
    assert plain.conditions.always  # a provider that passes no tags needs no sts:TagSession
    (chained,) = found["Chained"]
    assert [sorted(r.key for r in scenario.requirements) for scenario in chained.conditions.scenarios] == [
        ["aws:RequestTag/team", "sts:SourceIdentity", "sts:TransitiveTagKeys"]]
    reached = {step.target for path in paths(loaded).values() for step in path.steps}
    assert arn("role", "SamlTags") in reached and arn("role", "SamlTagsRefused") not in reached
    assert arn("role", "OidcSource") in reached and arn("role", "OidcSourceRefused") not in reached


def test_findings_on_a_service_linked_role_never_ask_to_change_it(tmp_path: Path) -> None:
    # Using service-linked roles: "An IAM administrator can view, but not edit the permissions for
    # service-linked roles". A Trusted Advisor namespace mix-up on one is reported, as such.
    from supportkit.analysis import findings
    from supportkit.analysis.matrix import build_matrix
    from supportkit.support.catalog import load_catalog

    path = "/aws-service-role/support.amazonaws.com/"
    loaded = account(tmp_path, roles=[role("AWSServiceRoleForSupport", trusts({"Service": "support.amazonaws.com"}),
                                           doc(allow("trustedadvisor:DescribeChecks")), path=path)])
    catalog = load_catalog()
    mixups = findings.all_findings(build_matrix(loaded, catalog), loaded, catalog)["namespace_mixups"]
    (explanation,) = mixups["explanation"]
    assert explanation.startswith(findings.SERVICE_LINKED_NOTE)


# --- the report's answer: three states, and who reads every case ---------------------------------------

def test_the_headline_counts_can_under_conditions_apart_and_names_who_reads_cases(tmp_path: Path) -> None:
    # Configuring MFA-protected API access
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_configure-api-require.html): with
    # Bool aws:MultiFactorAuthPresent true the request is allowed only when MFA was used. Support actions take
    # no resource (Service Authorization Reference, AWS Support,
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssupport.html), so
    # support:DescribeCases reads every case. Another account named in a role's trust policy reaches the role's
    # access (AWS JSON policy elements: Principal,
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html).
    from supportkit.analysis.finding import FindingSources, Severity, produce_findings
    from supportkit.analysis.findings import all_findings
    from supportkit.analysis.matrix import build_matrix
    from supportkit.analysis.paths import access_summary, access_tables, cell_access
    from supportkit.support.catalog import load_catalog

    read = "support:DescribeCases"
    mfa = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    loaded = account(tmp_path, users=[user("plain", doc(allow(read))), user("mfa", doc(allow(read, Condition=mfa))),
                                      user("none")],
                     roles=[role("Vendor", trusts({"AWS": f"arn:aws:iam::{OTHER}:root"}), doc(allow(read)))])
    catalog = load_catalog()
    matrix = build_matrix(loaded, catalog)
    tables = access_tables(loaded, matrix, catalog)
    numbers = access_summary(matrix, tables)
    assert (numbers["can_read_all_cases"], numbers["can_read_all_cases_conditionally"]) == (3, 1)  # root, plain, Vendor
    cells = matrix["action"].eq(read).to_numpy()
    access = dict(zip(matrix.loc[cells, "identity_name"].astype(str), cell_access(matrix, tables["conditional_access"])[cells]))
    assert access == {"root": "allowed", "plain": "allowed", "mfa": "conditional", "none": "denied", "Vendor": "allowed"}
    readers = tables["who_reads_cases"].set_index("principal")
    assert readers.loc[arn("user", "mfa"), "conditions"] == "support:DescribeCases with MFA"
    assert readers.loc[f"arn:aws:iam::{OTHER}:root", "route"] == f"via sts:AssumeRole -> {arn('role', 'Vendor')}"
    assert arn("user", "none") not in readers.index
    assert (numbers["principals_reading_cases"], numbers["principals_reading_cases_conditionally"]) == (4, 1)
    # The finding counts principals, not only identities, and another account among them makes it critical.
    found = {f.kind: f for f in produce_findings(FindingSources({**all_findings(matrix, loaded, catalog), **tables},
                                                                matrix, loaded.info), kinds=["read-all-cases"])}
    finding = found["read-all-cases"]
    assert finding.severity is Severity.CRITICAL and finding.count == 4
    assert finding.title.endswith("(2 human, 2 external, 1 of them only under conditions)")
    assert set(finding.identities) == {arn("user", "plain"), arn("user", "mfa"), arn("role", "Vendor")}


def test_personas_in_three_states_say_what_a_condition_would_grant(tmp_path: Path) -> None:
    # Configuring MFA-protected API access
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_configure-api-require.html): a
    # request without MFA does not meet Bool aws:MultiFactorAuthPresent true, one with MFA does. "ana" opens,
    # reads and replies whatever the request, and resolves only with MFA: a case manager without resolve, with
    # full support access under the condition. "ben" reads only with MFA: no access whatever the request.
    from supportkit.analysis.findings import Persona, all_findings, summary
    from supportkit.analysis.matrix import build_matrix
    from supportkit.analysis.paths import access_tables, cell_access
    from supportkit.support.catalog import load_catalog

    mfa = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    case_work = ["support:CreateCase", "support:DescribeCases", "support:AddCommunicationToCase"]
    loaded = account(tmp_path, users=[user("ana", doc(allow(case_work), allow(RESOLVE, Condition=mfa))),
                                      user("ben", doc(allow("support:DescribeCases", Condition=mfa))),
                                      user("tina", doc(allow("trustedadvisor:DescribeChecks", Condition=mfa)))])
    catalog = load_catalog()
    matrix = build_matrix(loaded, catalog)
    access = cell_access(matrix, access_tables(loaded, matrix, catalog)["conditional_access"])
    found = all_findings(matrix, loaded, catalog, access)
    people = found["personas"].set_index("identity_name")
    numbers = summary(matrix, loaded, catalog, found)
    # Trusted Advisor: root whatever the request, tina only with MFA
    assert (numbers["trusted_advisor_users"], numbers["trusted_advisor_users_conditionally"]) == (1, 1)
    ana, ben = people.loc["ana"], people.loc["ben"]
    assert ana["persona"] == Persona.CASE_MANAGER_WITHOUT_RESOLVE.value
    assert ana["persona_conditionally"] == Persona.FULL_SUPPORT.value
    assert not ana["can_resolve"] and ana["can_resolve_conditionally"]
    assert ana["can_read"] and not ana["can_read_conditionally"]  # allowed whatever the request: not "only under"
    assert ben["persona"] == Persona.NO_ACCESS.value and ben["persona_conditionally"] == Persona.CASE_VIEWER.value
    assert not ben["can_read"] and ben["can_read_conditionally"]
    root = Persona.PLAN_ADMINISTRATOR.value  # the root user may do everything, the support plan included
    assert people.loc["root", "persona"] == people.loc["root", "persona_conditionally"] == root
    # Without the three states (no access given), nothing is conditional and the personas are as before.
    plain = all_findings(matrix, loaded, catalog)["personas"].set_index("identity_name")
    assert (plain["persona"] == plain["persona_conditionally"]).all()
    assert not plain["can_resolve_conditionally"].any()


def test_a_grant_on_some_checks_is_never_denied_in_three_states(tmp_path: Path) -> None:
    # Service Authorization Reference, Trusted Advisor
    # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awstrustedadvisor.html):
    # RefreshCheck takes a check ARN, so a statement naming one check grants that check only. With MFA given,
    # "tia" may refresh that check: the matrix says some checks, and the three states must not say denied.
    from supportkit.analysis.findings import Persona, all_findings
    from supportkit.analysis.matrix import SOME_CHECKS, build_matrix
    from supportkit.analysis.paths import access_tables, cell_access
    from supportkit.support.catalog import load_catalog

    check = f"arn:aws:trustedadvisor:*:{ACCT}:checks/security/1iG5NDGVre"
    mfa = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    loaded = account(tmp_path, users=[user("tia", doc(allow("trustedadvisor:RefreshCheck", check, Condition=mfa)))])
    catalog = load_catalog()
    context = {"aws:MultiFactorAuthPresent": "true"}
    matrix = build_matrix(loaded, catalog, context=context)
    access = cell_access(matrix, access_tables(loaded, matrix, catalog, context)["conditional_access"])
    cell = (matrix["identity_name"].astype(str) == "tia").to_numpy() & (
        matrix["action"].astype(str) == "trustedadvisor:RefreshCheck").to_numpy()
    assert matrix.loc[cell, "check_scope"].astype(str).tolist() == [SOME_CHECKS]
    assert access[cell].tolist() != ["denied"]
    people = all_findings(matrix, loaded, catalog, access)["personas"].set_index("identity_name")
    assert people.loc["tia", "persona_conditionally"] == Persona.TRUSTED_ADVISOR_ONLY.value


def test_a_user_that_can_grant_itself_assume_role_reaches_a_role_with_support_access(tmp_path: Path) -> None:
    # STS API Reference, AssumeRole (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html):
    # a trust policy naming the account needs the caller's identity-based Allow, which iam:PutUserPolicy on
    # itself (authorized on the user, Service Authorization Reference, IAM actions,
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html)
    # can add. Its boundary allows sts:AssumeRole and IAM but no support action, so granting support:* to
    # itself would not work.
    loaded = account(tmp_path, users=[
        user("esc", doc(allow("iam:PutUserPolicy", arn("user", "esc"))), boundary=arn("policy", "NoSupport")),
    ], roles=[role("Support", ACCOUNT_TRUST, SUPPORT)], policies=[policy("NoSupport", doc(allow(["iam:*", "sts:*"])))])
    line = paths(loaded)[arn("user", "esc")]
    assert line.via is Via.ESCALATION and line.decision is AccessDecision.ALLOWED
    assert [(s.action, s.target) for s in line.steps] == [
        ("iam:PutUserPolicy", arn("user", "esc")), ("sts:AssumeRole", arn("role", "Support"))]
