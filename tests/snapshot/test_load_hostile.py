"""Broken and hostile snapshots (issue 12): one bad item never loses the good ones, nothing passes silently."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from supportkit.errors import InputError
from supportkit.snapshot import find_snapshots, load_account
from supportkit.snapshot.details import detail_files, natural_key

ACCT = "111122223333"
ALLOW = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "support:*", "Resource": "*"}]}


def user(name: str, **fields: Any) -> dict[str, Any]:
    return {"UserName": name, "Arn": f"arn:aws:iam::{ACCT}:user/{name}", **fields}


def snapshot(folder: Path, details: dict[str, Any], account: dict[str, Any] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "authorization-details.json").write_text(json.dumps(details))
    if account is not None:
        (folder / "account.json").write_text(json.dumps(account))
    return folder


def test_natural_sort_takes_only_ascii_digits_as_numbers(tmp_path):
    # "²".isdigit() is True but int("²") fails: the sort raised ValueError and the report batch was lost.
    names = ["authorization-details-1²2.json", "authorization-details-10.json", "authorization-details-2.json"]
    for name in names:
        (tmp_path / name).write_text("{}")
    assert [p.name for p in detail_files(tmp_path)] == [
        "authorization-details-1²2.json", "authorization-details-2.json", "authorization-details-10.json"]
    assert natural_key(Path("a٣")) == ("a٣",)  # an Arabic-Indic digit is text here too


def test_a_batch_subfolder_with_a_superscript_digit_is_found(tmp_path):
    for name in ("a1²", "a2"):
        snapshot(tmp_path / name, {"UserDetailList": [user("u")]})
    assert [p.name for p in find_snapshots(tmp_path)] == ["a1²", "a2"]


def test_an_unlistable_folder_is_one_located_error(tmp_path, monkeypatch):
    def refuse(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "iterdir", refuse)
    with pytest.raises(InputError, match="Permission denied") as caught:
        find_snapshots(tmp_path)
    assert str(tmp_path) in str(caught.value)
    with pytest.raises(InputError, match="Permission denied"):
        load_account(tmp_path)


def test_two_users_sharing_an_arn_warn_and_the_first_is_kept(tmp_path):
    arn = f"arn:aws:iam::{ACCT}:user/alice"
    folder = snapshot(tmp_path / "s", {"UserDetailList": [
        {"UserName": "alice", "Arn": arn}, {"UserName": "alice2", "Arn": arn}]})
    account = load_account(folder)
    assert [i.name for i in account.identities if i.type.value == "user"] == ["alice"]
    assert any("UserDetailList[1]" in w and "same ARN" in w for w in account.warnings), account.warnings


def test_diff_and_wide_matrix_work_with_a_duplicate_arn(tmp_path):
    from supportkit.analysis.diff import diff_accounts
    from supportkit.analysis.matrix import build_matrix, wide

    arn = f"arn:aws:iam::{ACCT}:user/alice"
    before = snapshot(tmp_path / "b", {"UserDetailList": [{"UserName": "alice", "Arn": arn}]})
    after = snapshot(tmp_path / "a", {"UserDetailList": [
        {"UserName": "alice", "Arn": arn, "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": ALLOW}]},
        {"UserName": "bob", "Arn": arn}]})
    assert len(wide(build_matrix(load_account(after)))) == 2  # root and alice
    changes = diff_accounts(load_account(before), load_account(after))
    assert set(changes.cells["identity_arn"]) == {arn}


def test_a_lone_surrogate_in_a_name_is_replaced_with_a_located_warning(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    text = json.dumps({"UserDetailList": [user("ok"), {"UserName": "bad\ud800", "Arn": f"arn:aws:iam::{ACCT}:user/bad"}]})
    assert "\\ud800" in text
    (folder / "authorization-details.json").write_text(text)
    account = load_account(folder)
    names = sorted(i.name for i in account.identities)
    assert names == ["bad\ufffd", "ok", "root"]
    assert any("authorization-details.json" in w and "UserDetailList[1].UserName" in w and "surrogate" in w
               for w in account.warnings), account.warnings


def test_one_malformed_user_is_skipped_and_the_others_kept(tmp_path):
    folder = snapshot(tmp_path / "s", {"UserDetailList": [
        user("good"), {"UserName": 7, "Arn": f"arn:aws:iam::{ACCT}:user/seven"}, "not an object",
        {"UserName": "x", "Arn": "arn:aws:iam::111122223333:group/x"}]})
    account = load_account(folder)
    assert sorted(i.name for i in account.identities) == ["good", "root"]
    joined = "\n".join(account.warnings)
    for where in ("UserDetailList[1].UserName", "UserDetailList[2]", "UserDetailList[3].Arn"):
        assert f"authorization-details.json, at {where}" in joined, joined


def test_a_malformed_group_marks_its_members_incomplete(tmp_path):
    folder = snapshot(tmp_path / "s", {
        "UserDetailList": [user("member", GroupList=["admins"]), user("other")],
        "GroupDetailList": [{"GroupName": ["admins"], "Arn": f"arn:aws:iam::{ACCT}:group/admins"}],
    })
    account = load_account(folder)
    assert account.identity("user/member").incomplete
    assert not account.identity("user/other").incomplete
    assert any("GroupDetailList[0].GroupName" in w for w in account.warnings)


def test_a_detail_list_that_is_not_a_list_is_a_warning_and_the_other_lists_load(tmp_path):
    folder = snapshot(tmp_path / "s", {"UserDetailList": [user("good")], "RoleDetailList": {"oops": 1}})
    account = load_account(folder)
    assert [i.name for i in account.identities] == ["root", "good"]
    assert any("RoleDetailList" in w and "must be a list" in w for w in account.warnings)


@pytest.mark.parametrize("fields, where", [
    ({"AttachedManagedPolicies": None}, "AttachedManagedPolicies"),
    ({"UserPolicyList": None}, "UserPolicyList"),
    ({"AttachedManagedPolicys": [{"PolicyArn": "arn:aws:iam::aws:policy/AWSSupportAccess"}]}, "AttachedManagedPolicys"),
])
def test_null_or_misspelt_policy_lists_mark_the_identity_incomplete(tmp_path, fields, where):
    folder = snapshot(tmp_path / "s", {"UserDetailList": [user("u", **fields), user("fine")]})
    account = load_account(folder)
    problems = account.identity("user/u").problems
    assert any(where in p for p in problems), problems
    assert not account.identity("user/fine").incomplete


def test_a_misspelt_list_key_names_the_key_it_resembles(tmp_path):
    folder = snapshot(tmp_path / "s", {"UserDetailList": [user("u", AttachedManagedPolicys=[])]})
    (problem,) = load_account(folder).identity("user/u").problems
    assert "AttachedManagedPolicies" in problem


@pytest.mark.parametrize("account_id", ["٤٤٤٤٥٥٥٥٦٦٦٦", "444455556666\n", "４４４４５５５５６６６６"])
def test_account_id_is_twelve_ascii_digits(tmp_path, account_id):
    folder = snapshot(tmp_path / "s", {"UserDetailList": [user("u")]}, {"account_id": account_id})
    with pytest.raises(InputError, match="account_id"):
        load_account(folder)


def test_an_unknown_key_in_account_json_is_an_error_with_a_suggestion(tmp_path):
    folder = snapshot(tmp_path / "s", {"UserDetailList": [user("u")]}, {"management_acount": True})
    with pytest.raises(InputError, match="management_acount.*management_account") as caught:
        load_account(folder)
    assert "account.json" in str(caught.value)


def test_a_path_with_a_newline_is_a_located_problem_not_a_rejection(tmp_path):
    folder = snapshot(tmp_path / "s", {"RoleDetailList": [
        {"RoleName": "r", "Path": "/a\nb/", "Arn": f"arn:aws:iam::{ACCT}:role/r"},
        {"RoleName": "fine", "Path": "/", "Arn": f"arn:aws:iam::{ACCT}:role/fine"}]})
    account = load_account(folder)
    (problem,) = account.identity("role/r").problems
    assert "authorization-details.json, at RoleDetailList[0].Path" in problem
    assert not account.identity("role/fine").incomplete


def test_a_byte_order_mark_is_accepted_in_account_json(tmp_path):
    folder = snapshot(tmp_path / "s", {"UserDetailList": [user("u")]})
    (folder / "account.json").write_bytes(b"\xef\xbb\xbf" + json.dumps({"account_id": ACCT}).encode())
    assert load_account(folder).info.account_id == ACCT


def _statements(n: int) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": f"S{i}", "Effect": "Allow", "Action": "support:DescribeCases", "Resource": "*"} for i in range(n)]}


def test_documents_past_aws_size_limits_are_located_warnings(tmp_path):
    # "IAM and AWS STS quotas" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html):
    # a managed policy can't exceed 6,144 characters, a user's inline policies together 2,048, white space
    # not counted; an ARN is at most 2,048 characters (IAM API Reference, "Role" data type).
    big = _statements(120)  # ~8,000 characters without white space
    small = _statements(2)
    arn = f"arn:aws:iam::{ACCT}:policy/Big"
    long_name = "n" * 2100
    folder = snapshot(tmp_path / "s", {
        "UserDetailList": [
            user("inline", UserPolicyList=[{"PolicyName": f"p{i}", "PolicyDocument": small} for i in range(20)]),
            user("fine", UserPolicyList=[{"PolicyName": "p", "PolicyDocument": small}],
                 AttachedManagedPolicies=[{"PolicyArn": arn}]),
            {"UserName": long_name, "Arn": f"arn:aws:iam::{ACCT}:user/{long_name}"},
        ],
        "Policies": [{"PolicyName": "Big", "Arn": arn, "DefaultVersionId": "v1",
                      "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True, "Document": big}]}],
    })
    (folder / "scps.json").write_text(json.dumps({"levels": [{"target": ACCT, "policies": [
        {"Name": "Huge", "Content": json.dumps(_statements(80), indent=1)}]}]}))
    warnings = "\n".join(load_account(folder).warnings)
    assert "authorization-details.json, at Policies[0].PolicyVersionList[0].Document: managed policy Big is" in warnings
    assert "over AWS's limit of 6,144" in warnings
    assert "at UserDetailList[0].UserPolicyList: the user's inline policies together is" in warnings
    assert "over AWS's limit of 2,048" in warnings and "UserDetailList[1].UserPolicyList" not in warnings
    assert "UserDetailList[2].Arn: the ARN is 2,1" in warnings
    assert "scps.json, at levels[0].policies[0].Content: SCP Huge is" in warnings
    assert load_account(folder).identity("user/fine")  # over a limit is a warning, never a rejection


def test_aws_managed_policies_are_not_held_to_the_customer_managed_policy_quota(tmp_path):
    # The 6,144-character quota is on the managed policies a customer creates ("IAM and AWS STS quotas",
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html); AWS's own, such as
    # ReadOnlyAccess, are far larger and IAM holds them as they are.
    big = _statements(120)
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    folder = snapshot(tmp_path / "s", {
        "UserDetailList": [user("reader", AttachedManagedPolicies=[{"PolicyArn": arn}])],
        "Policies": [{"PolicyName": "ReadOnlyAccess", "Arn": arn, "DefaultVersionId": "v1",
                      "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True, "Document": big}]}],
    })
    assert not any("over AWS's limit" in warning for warning in load_account(folder).warnings)


def test_more_values_than_aws_allows_are_located_warnings(tmp_path):
    # "IAM and AWS STS quotas" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html):
    # managed policies attached to an IAM user 10 by default, 20 at most; to a role at most 25; to a group 10;
    # "Groups an IAM user can be a member of: 10"; 50 tags on an IAM user or role. "Quotas and service limits
    # for AWS Organizations" (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html):
    # 5 SCPs per root, OU or account. Past these AWS would have refused the snapshot's values.
    arns = [f"arn:aws:iam::{ACCT}:policy/P{i}" for i in range(30)]
    attach = lambda n: [{"PolicyArn": arn} for arn in arns[:n]]  # noqa: E731
    tags = lambda n: [{"Key": f"k{i}", "Value": "v"} for i in range(n)]  # noqa: E731
    document = _statements(1)
    folder = snapshot(tmp_path / "s", {
        "UserDetailList": [
            user("many", AttachedManagedPolicies=attach(21), GroupList=[f"g{i}" for i in range(11)], Tags=tags(51)),
            user("most", AttachedManagedPolicies=attach(20), GroupList=[f"g{i}" for i in range(10)], Tags=tags(50)),
        ],
        "GroupDetailList": [{"GroupName": f"g{i}", "Arn": f"arn:aws:iam::{ACCT}:group/g{i}",
                             "AttachedManagedPolicies": attach(11 if i == 0 else 10)} for i in range(11)],
        "RoleDetailList": [{"RoleName": name, "Arn": f"arn:aws:iam::{ACCT}:role/{name}",
                            "AssumeRolePolicyDocument": document, "AttachedManagedPolicies": attach(n)}
                           for name, n in (("r26", 26), ("r25", 25))],
        "Policies": [{"PolicyName": f"P{i}", "Arn": arn, "DefaultVersionId": "v1", "PolicyVersionList": [
            {"VersionId": "v1", "IsDefaultVersion": True, "Document": document}]} for i, arn in enumerate(arns)],
    })
    scp = {"Name": "S", "Content": json.dumps(document)}
    (folder / "scps.json").write_text(json.dumps({"levels": [
        {"target": "r-ab12", "policies": [scp] * 6}, {"target": ACCT, "policies": [scp] * 5}]}))
    account = load_account(folder)
    over = sorted(warning.split(": AWS would")[0] for warning in account.warnings if "over AWS's limit" in warning)
    assert over == [
        "authorization-details.json, at GroupDetailList[0].AttachedManagedPolicies: 11 managed policies attached to "
        "the group, over AWS's limit of 10",
        "authorization-details.json, at RoleDetailList[0].AttachedManagedPolicies: 26 managed policies attached to "
        "the role, over AWS's limit of 25",
        "authorization-details.json, at UserDetailList[0].AttachedManagedPolicies: 21 managed policies attached to "
        "the user, over AWS's limit of 20",
        "authorization-details.json, at UserDetailList[0].GroupList: 11 groups, over AWS's limit of 10",
        "authorization-details.json, at UserDetailList[0].Tags: 51 tags, over AWS's limit of 50",
        "scps.json, at levels[0].policies: 6 SCPs attached to r-ab12, over AWS's limit of 5",
    ]
    assert not account.identity("user/many").incomplete  # evaluated anyway: a warning, never a rejection
    assert len(account.identity("user/many").tags) == 51
