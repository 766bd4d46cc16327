"""A role's tags are not facts when its sessions may be tagged: session tags override them.

Pages the expectations come from:
- AWS STS API Reference, AssumeRole, ``Tags`` (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html):
  "You can pass a session tag with the same key as a tag that is already attached to the role. When you do,
  session tags override a role tag with the same key."
- Pass session tags in AWS STS (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html): the
  tags of a role session are its session tags, incoming transitive tags and the role's IAM tags; passing
  session tags needs sts:TagSession, allowed by the role's trust policy and by the caller's own policies
  (Permissions required to add session tags); IAM Identity Center's roles trust sts:TagSession with SAML.
- AWS global condition context keys, aws:PrincipalTag
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principaltag):
  the tags of the principal making the request; for a user, its IAM tags, which no request changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from supportkit.analysis.matrix import build_matrix
from supportkit.analysis.paths import AccessDecision, conditional_cells, who_can
from supportkit.iam.evaluate import NamedPolicy, Principal, PolicyKind, Subject, evaluate, is_principal_key
from supportkit.iam.policy import parse_policy
from supportkit.snapshot import load_account
from supportkit.support.catalog import load_catalog

ACCT = "111122223333"
RESOLVE = "support:ResolveCase"
CATALOG = load_catalog()


def arn(kind: str, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCT}:{kind}{path}{name}"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def trust(actions: Any, principal: Any = None) -> dict[str, Any]:
    return doc({"Effect": "Allow", "Principal": principal or {"AWS": f"arn:aws:iam::{ACCT}:root"}, "Action": actions})


TEAM_SUPPORT = doc({"Effect": "Allow", "Action": RESOLVE, "Resource": "*",
                    "Condition": {"StringEquals": {"aws:PrincipalTag/team": "support"}}})
NOT_CONTRACTORS = doc({"Effect": "Allow", "Action": "support:*", "Resource": "*"},
                      {"Effect": "Deny", "Action": RESOLVE, "Resource": "*",
                       "Condition": {"StringEquals": {"aws:PrincipalTag/team": "contractor"}}})
TAGGING = trust(["sts:AssumeRole", "sts:TagSession"])
PLAIN = trust("sts:AssumeRole")
SSO_TRUST = trust(["sts:AssumeRoleWithSAML", "sts:TagSession"],
                  {"Federated": f"arn:aws:iam::{ACCT}:saml-provider/AWSSSO_0123456789abcdef_DO_NOT_DELETE"})


def tags(**values: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in values.items()]


def role(name: str, trust_policy: dict[str, Any], document: dict[str, Any], path: str = "/", **tagged: str
         ) -> dict[str, Any]:
    return {"RoleName": name, "RoleId": f"AROA{name.upper():0<17}"[:21], "Arn": arn("role", name, path), "Path": path,
            "AssumeRolePolicyDocument": trust_policy, "Tags": tags(**tagged), "AttachedManagedPolicies": [],
            "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": document}]}


def user(name: str, *documents: dict[str, Any], **tagged: str) -> dict[str, Any]:
    return {"UserName": name, "UserId": f"AIDA{name.upper():0<17}", "Arn": arn("user", name), "Path": "/",
            "Tags": tags(**tagged), "GroupList": [], "AttachedManagedPolicies": [],
            "UserPolicyList": [{"PolicyName": f"p{i}", "PolicyDocument": d} for i, d in enumerate(documents)]}


def load(tmp_path: Path, users=(), roles=()):
    (tmp_path / "authorization-details.json").write_text(json.dumps(
        {"UserDetailList": list(users), "RoleDetailList": list(roles), "GroupDetailList": [], "Policies": []}))
    (tmp_path / "account.json").write_text(json.dumps({"account_id": ACCT}))
    return load_account(tmp_path)


def test_a_principal_tag_is_a_fact_unless_the_sessions_may_be_tagged() -> None:
    assert is_principal_key("aws:principaltag/team")
    assert not is_principal_key("aws:principaltag/team", session_tags=True)
    assert is_principal_key("aws:principalarn", session_tags=True)  # the role's ARN is no session's choice
    role_session = Principal.parse(arn("role", "Ops"))
    policy = NamedPolicy("p", PolicyKind.IDENTITY, parse_policy(TEAM_SUPPORT))
    for session_tags, conditional in ((False, False), (True, True)):
        result = evaluate(Subject(role_session, (policy,), session_tags=session_tags), RESOLVE)
        assert result.context_keys == ("aws:principaltag/team",) and result.conditional is conditional


def test_the_loader_knows_the_roles_whose_trust_allows_session_tags(tmp_path: Path) -> None:
    loaded = load(tmp_path, users=[user("ann", TEAM_SUPPORT)], roles=[
        role("Tagging", TAGGING, TEAM_SUPPORT), role("Plain", PLAIN, TEAM_SUPPORT),
        role("Everything", trust("sts:*"), TEAM_SUPPORT),
        role("AWSReservedSSO_Support_0123456789abcdef", SSO_TRUST, TEAM_SUPPORT,
             path="/aws-reserved/sso.amazonaws.com/eu-west-1/")])
    assert {i.name: i.subject.session_tags for i in loaded.identities} == {
        "root": False, "ann": False, "Tagging": True, "Plain": False, "Everything": True,
        "AWSReservedSSO_Support_0123456789abcdef": True}


def test_a_tagged_session_can_reach_what_the_roles_own_tags_do_not(tmp_path: Path) -> None:
    # Three principals tagged team=web under a policy that allows team=support: the user and the role whose
    # sessions may not be tagged cannot, whatever the request; the role whose sessions may be tagged can, in
    # a session tagged team=support (the session tag overrides the role's). A role tagged team=contractor
    # that a Deny names can, in a session whose tag says otherwise.
    loaded = load(tmp_path, users=[user("webber", TEAM_SUPPORT, team="web")], roles=[
        role("Plain", PLAIN, TEAM_SUPPORT, team="web"), role("Tagging", TAGGING, TEAM_SUPPORT, team="web"),
        role("Contractor", TAGGING, NOT_CONTRACTORS, team="contractor")])
    matrix = build_matrix(loaded, CATALOG)
    cells = matrix[matrix["action"] == RESOLVE].set_index("identity_name")
    assert cells.loc["webber", "decision"] == cells.loc["Plain", "decision"] == "implicitDeny"
    assert not cells.loc["webber", "conditional"] and not cells.loc["Plain", "conditional"]
    assert cells.loc["Tagging", "decision"] == "implicitDeny" and cells.loc["Tagging", "conditional"]
    assert cells.loc["Contractor", "decision"] == "explicitDeny" and cells.loc["Contractor", "conditional"]

    answers = conditional_cells(loaded, matrix, CATALOG, None)
    answers = answers[answers["action"] == RESOLVE].set_index("identity_arn")
    assert answers.loc[arn("role", "Tagging"), "access"] == "conditional"
    assert answers.loc[arn("role", "Tagging"), "conditions"] == "when aws:PrincipalTag/team = support"
    assert answers.loc[arn("role", "Contractor"), "access"] == "conditional"
    assert answers.loc[arn("role", "Contractor"), "conditions"] == "when aws:PrincipalTag/team none of contractor"

    found = {p.principal: p for p in who_can(loaded, [RESOLVE])}
    assert arn("user", "webber") not in found and arn("role", "Plain") not in found
    assert found[arn("role", "Tagging")].decision is AccessDecision.CONDITIONAL
    assert found[arn("role", "Tagging")].conditions.text() == "when aws:PrincipalTag/team = support"


def test_the_roles_own_tag_holds_in_a_session_that_sets_none(tmp_path: Path) -> None:
    # Tagged team=support itself, the role may resolve cases in a session without tags; a session tag can
    # take that away (team=web overrides it), so the answer names both ways.
    loaded = load(tmp_path, roles=[role("Support", TAGGING, TEAM_SUPPORT, team="support")])
    matrix = build_matrix(loaded, CATALOG)
    cell = matrix[(matrix["action"] == RESOLVE) & (matrix["identity_name"] == "Support")].iloc[0]
    assert cell["decision"] == "allowed" and cell["conditional"]
    path = {p.principal: p for p in who_can(loaded, [RESOLVE])}[arn("role", "Support")]
    assert [[(r["key"], r["relation"], r["value"]) for r in s] for s in path.conditions.to_json()] == [
        [("aws:PrincipalTag/team", "=", "support")], [("aws:PrincipalTag/team", "absent", None)]]


def test_a_chain_into_the_role_needs_the_callers_permission_to_tag_the_session(tmp_path: Path) -> None:
    # Both users may assume the role; only one may also pass session tags (sts:TagSession), so only that one
    # reaches the access the role has in a session tagged team=support.
    assume = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arn("role", "Tagging")}
    tag = {"Effect": "Allow", "Action": "sts:TagSession", "Resource": arn("role", "Tagging")}
    loaded = load(tmp_path, users=[user("tagger", doc(assume, tag)), user("plain", doc(assume))],
                  roles=[role("Tagging", TAGGING, TEAM_SUPPORT, team="web")])
    found = {p.principal: p for p in who_can(loaded, [RESOLVE])}
    tagger = found[arn("user", "tagger")]
    assert [(s.source, s.target, s.action) for s in tagger.steps] == [
        (arn("user", "tagger"), arn("role", "Tagging"), "sts:AssumeRole")]
    assert tagger.conditions.text() == "when aws:PrincipalTag/team = support"
    assert arn("user", "plain") not in found


def test_a_longer_chain_needs_the_first_callers_permission_to_tag_when_the_next_trust_reads_the_tag(
        tmp_path: Path) -> None:
    # Next trusts only sessions of Tagging tagged team=support, and Tagging itself is tagged team=web: its
    # sessions reach Next only with a session tag, which the user who assumes Tagging must be allowed to pass.
    # Of two users who may both assume Tagging, only the one allowed sts:TagSession reaches Next's access.
    assume = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arn("role", "Tagging")}
    tag = {"Effect": "Allow", "Action": "sts:TagSession", "Resource": arn("role", "Tagging")}
    next_trust = doc({"Effect": "Allow", "Principal": {"AWS": arn("role", "Tagging")}, "Action": "sts:AssumeRole",
                      "Condition": {"StringEquals": {"aws:PrincipalTag/team": "support"}}})
    loaded = load(tmp_path, users=[user("tagger", doc(assume, tag)), user("plain", doc(assume))], roles=[
        role("Tagging", TAGGING, doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arn("role", "Next")}),
             team="web"),
        role("Next", next_trust, doc({"Effect": "Allow", "Action": RESOLVE, "Resource": "*"}))])
    found = {p.principal: p for p in who_can(loaded, [RESOLVE])}
    assert [(s.source, s.target, s.conditions.text()) for s in found[arn("role", "Tagging")].steps] == [
        (arn("role", "Tagging"), arn("role", "Next"), "when aws:PrincipalTag/team = support")]
    assert [s.target for s in found[arn("user", "tagger")].steps] == [arn("role", "Tagging"), arn("role", "Next")]
    assert arn("user", "plain") not in found



def test_a_provider_reaches_a_tagged_roles_access_only_if_the_trust_lets_it_tag(tmp_path: Path) -> None:
    # Both roles' sessions may be tagged (their trust allows the account sts:TagSession) and both have access only
    # in a session tagged team=support. The SAML provider may pass session tags to the role whose trust allows
    # it sts:TagSession, not to the other: "For roles without this permission in the trust policy, the
    # AssumeRole operation fails" (Pass session tags in AWS STS), so only the first has that source.
    provider = f"arn:aws:iam::{ACCT}:saml-provider/Okta"

    def trusting(*saml_actions: str) -> dict[str, Any]:
        return doc({"Effect": "Allow", "Principal": {"Federated": provider}, "Action": list(saml_actions)},
                   {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
                    "Action": ["sts:AssumeRole", "sts:TagSession"]})

    def provider_paths(name: str, *saml_actions: str) -> list[list[tuple[str, str, str]]]:
        folder = tmp_path / name
        folder.mkdir()
        loaded = load(folder, roles=[role(name, trusting(*saml_actions), TEAM_SUPPORT, team="web")])
        return [[(s.source, s.target, s.action) for s in p.steps] for p in who_can(loaded, [RESOLVE])
                if p.principal == provider]

    assert provider_paths("SamlTags", "sts:AssumeRoleWithSAML", "sts:TagSession") == [
        [(provider, arn("role", "SamlTags"), "sts:AssumeRoleWithSAML")]]
    assert provider_paths("SamlPlain", "sts:AssumeRoleWithSAML") == []


def test_the_caller_must_be_allowed_to_pass_the_very_tag_the_access_needs(tmp_path: Path) -> None:
    # The trust policy may limit which tags a session gets, by aws:RequestTag/<key> on sts:TagSession (Pass
    # session tags in AWS STS, "Using the aws:RequestTag condition key"): a caller allowed to tag team=dev only
    # cannot make a session tagged team=support, which the role's access needs.
    def limited(value: str) -> dict[str, Any]:
        return doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"}, "Action": "sts:AssumeRole"},
                   {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"}, "Action": "sts:TagSession",
                    "Condition": {"StringEquals": {"aws:RequestTag/team": value}}})

    tagger = user("tagger", doc({"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"], "Resource": "*"}))
    loaded = load(tmp_path, users=[tagger], roles=[role("DevTags", limited("dev"), TEAM_SUPPORT, team="web"),
                                                   role("SupportTags", limited("support"), TEAM_SUPPORT, team="web")])
    assert {p.principal: [s.target for s in p.steps] for p in who_can(loaded, [RESOLVE])
            if p.principal == arn("user", "tagger")} == {arn("user", "tagger"): [arn("role", "SupportTags")]}
    # A user allowed to pass tags only with aws:TagKeys naming another key is refused likewise.
    other_key = user("other", doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
                                  {"Effect": "Allow", "Action": "sts:TagSession", "Resource": "*", "Condition": {
                                      "ForAllValues:StringEquals": {"aws:TagKeys": ["project"]}}}))
    folder = tmp_path / "other"
    folder.mkdir()
    loaded = load(folder, users=[other_key], roles=[role("Tagging", TAGGING, TEAM_SUPPORT, team="web")])
    assert arn("user", "other") not in {p.principal for p in who_can(loaded, [RESOLVE])}
