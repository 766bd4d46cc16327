"""The permission matrix: one row per identity and action, each cell what `simulate` answers."""

import json
import random
import shutil
from pathlib import Path

import pandas as pd
import pytest

from supportkit.account import load_account
from supportkit.catalog import load_catalog
from supportkit.cli import main
from supportkit.matrix import ALL_CHECKS, LONG_COLUMNS, SOME_CHECKS, build_matrix, identity_context, wide
from supportkit.simulate import simulate

DATA = Path(__file__).parent / "data"
ACCOUNT = "111122223333"


def request_for(identity, action, resource, extra):
    """The simulate request that asks the same question as one matrix cell."""
    subject = identity.subject
    documents = lambda policies: [named.policy.document for named in policies]  # noqa: E731
    request = {
        "principal": subject.principal.arn,
        "action": action,
        "resource": resource,
        "context": {**identity.context(), **extra},
        "identity_policies": documents(subject.identity_policies),
        "scps": [documents(level) for level in subject.scp_levels],
        "management_account": subject.management_account,
    }
    if subject.permissions_boundary:
        request["permissions_boundary"] = subject.permissions_boundary.policy.document
    return request


@pytest.mark.parametrize(
    "snapshot, extra",
    [
        (DATA / "gaad" / "cloudsplaining-example.json", {}),
        (DATA / "accounts" / "acme", {}),
        (DATA / "accounts" / "acme", {"aws:MultiFactorAuthPresent": "true", "aws:SourceIp": "203.0.113.5"}),
        (DATA / "accounts" / "sandbox", {}),
    ],
)
def test_every_sampled_cell_equals_what_simulate_returns(snapshot, extra):
    account = load_account(snapshot)
    matrix = build_matrix(account, context=extra)
    catalog = load_catalog()
    probe_resources = {
        a.name: f"arn:aws:trustedadvisor:zz-probe-1:{account.info.account_id}:checks/zz_probe/ZzProbe0"
        for a in catalog.actions if a.takes_check_arns
    }
    rng = random.Random(3)
    rows = matrix.sample(n=min(400, len(matrix)), random_state=rng.randrange(10_000))
    identities = {i.arn: i for i in account.identities}
    requests = [
        request_for(identities[row.identity_arn], row.action, probe_resources.get(row.action, "*"), extra)
        for row in rows.itertuples()
    ]
    results = list(simulate(requests))
    assert all("error" not in r for r in results), [r for r in results if "error" in r][:1]
    assert [r["decision"] for r in results] == list(rows["decision"].astype(str))
    assert [r["explanation"]["blocked_by"] or "" for r in results] == list(rows["blocked_by"].astype(str))


def test_one_row_per_identity_and_action_with_the_documented_columns():
    account = load_account(DATA / "accounts" / "acme")
    matrix = build_matrix(account)
    assert list(matrix.columns) == LONG_COLUMNS
    assert len(matrix) == len(account.identities) * len(load_catalog())
    assert set(matrix["decision"].astype(str)) <= {"allowed", "explicitDeny", "implicitDeny"}
    view = wide(matrix)
    assert view.shape == (len(account.identities), len(load_catalog()))
    assert list(view.index) == [i.arn for i in account.identities]


def write_snapshot(folder: Path, users, policies=(), account_json=None):
    folder.mkdir(parents=True)
    details = {"UserDetailList": users, "GroupDetailList": [], "RoleDetailList": [], "Policies": list(policies)}
    (folder / "authorization-details.json").write_text(json.dumps(details))
    (folder / "account.json").write_text(json.dumps(account_json or {"account_id": ACCOUNT}))
    return folder


def user(name, inline, tags=()):
    return {
        "UserName": name, "UserId": f"AIDA{name.upper():0<17}"[:21], "Path": "/",
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "CreateDate": "2024-01-01T00:00:00Z",
        "UserPolicyList": [{"PolicyName": pname, "PolicyDocument": doc} for pname, doc in inline],
        "GroupList": [], "AttachedManagedPolicies": [], "Tags": [{"Key": k, "Value": v} for k, v in tags],
    }


def statement(effect, action, resource="*", **extra):
    return {"Effect": effect, "Action": action, "Resource": resource, **extra}


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def cell(matrix, name, action):
    row = matrix[(matrix["identity_name"] == name) & (matrix["action"] == action)]
    assert len(row) == 1
    return row.iloc[0]


def test_trusted_advisor_check_actions_tell_all_checks_from_some_checks(tmp_path):
    snapshot = write_snapshot(tmp_path / "ta", [
        user("all", [("p", policy(statement("Allow", "trustedadvisor:RefreshCheck")))]),
        user("some", [("p", policy(statement(
            "Allow", "trustedadvisor:RefreshCheck", f"arn:aws:trustedadvisor:*:{ACCOUNT}:checks/security/*")))]),
        user("none", []),
    ])
    matrix = build_matrix(load_account(snapshot))
    assert (cell(matrix, "all", "trustedadvisor:RefreshCheck")["check_scope"], cell(
        matrix, "all", "trustedadvisor:RefreshCheck")["decision"]) == (ALL_CHECKS, "allowed")
    some = cell(matrix, "some", "trustedadvisor:RefreshCheck")
    assert (some["check_scope"], some["decision"]) == (SOME_CHECKS, "implicitDeny")
    assert cell(matrix, "none", "trustedadvisor:RefreshCheck")["check_scope"] == ""
    assert cell(matrix, "all", "support:CreateCase")["check_scope"] == ""


def test_context_added_by_the_analyst_and_keys_derived_from_each_identity(tmp_path):
    mfa_only = policy(statement("Allow", "support:*", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}))
    team = policy(statement("Allow", "support:*", Condition={"StringEquals": {"aws:PrincipalTag/team": "support"}}))
    snapshot = write_snapshot(tmp_path / "ctx", [
        user("mfa", [("p", mfa_only)]),
        user("tagged", [("p", team)], tags=[("team", "support")]),
        user("untagged", [("p", team)], tags=[("team", "web")]),
    ])
    account = load_account(snapshot)
    plain = build_matrix(account)
    assert cell(plain, "mfa", "support:CreateCase")["decision"] == "implicitDeny"
    assert bool(cell(plain, "mfa", "support:CreateCase")["conditional"])
    assert cell(plain, "mfa", "support:CreateCase")["context_keys"] == "aws:multifactorauthpresent"
    assert cell(plain, "tagged", "support:CreateCase")["decision"] == "allowed"
    assert cell(plain, "untagged", "support:CreateCase")["decision"] == "implicitDeny"
    with_mfa = build_matrix(account, context={"aws:MultiFactorAuthPresent": "true"})
    assert cell(with_mfa, "mfa", "support:CreateCase")["decision"] == "allowed"
    tagged = account.identity("tagged")
    assert identity_context(tagged).get("aws:PrincipalTag/team") == "support"


def test_identities_sharing_a_document_keep_their_own_policy_names(tmp_path):
    same = policy(statement("Deny", "support:ResolveCase"), statement("Allow", "support:*"))
    snapshot = write_snapshot(tmp_path / "names", [user("ann", [("A", same)]), user("ben", [("B", same)])])
    matrix = build_matrix(load_account(snapshot))
    ann = cell(matrix, "ann", "support:ResolveCase")["deciding_statements"]
    ben = cell(matrix, "ben", "support:ResolveCase")["deciding_statements"]
    assert "ann" in ann and "ben" in ben and ann != ben


def test_root_has_full_access_except_what_scps_deny(tmp_path):
    snapshot = write_snapshot(tmp_path / "member", [])
    (snapshot / "scps.json").write_text(json.dumps({"levels": [
        {"target": "r-ab12", "policies": [{"Name": "FullAWSAccess", "Content": json.dumps(policy(statement("Allow", "*")))}]},
        {"target": "ou-ab12-11111111", "policies": [
            {"Name": "FullAWSAccess", "Content": json.dumps(policy(statement("Allow", "*")))},
            {"Name": "NoPlans", "Content": json.dumps(policy(statement("Deny", "supportplans:*")))}]},
    ]}))
    matrix = build_matrix(load_account(snapshot))
    root = matrix[matrix["identity_type"] == "root"]
    denied = set(root.loc[root["decision"] == "explicitDeny", "action"].astype(str))
    assert denied == {a.name for a in load_catalog().expand("supportplans:*")}
    assert (root.loc[root["prefix"] != "supportplans", "decision"] == "allowed").all()
    management = build_matrix(load_account(snapshot, management_account=True))
    assert (management.loc[management["identity_type"] == "root", "decision"] == "allowed").all()


def test_cli_writes_csv_json_lines_and_parquet(tmp_path, capsys):
    snapshot = DATA / "accounts" / "acme"
    assert main(["matrix", str(snapshot), "-o", str(tmp_path / "m.csv")]) == 0
    csv = pd.read_csv(tmp_path / "m.csv")
    assert list(csv.columns[:4]) == ["identity_arn", "identity_type", "action", "decision"] or \
        {"identity_arn", "identity_type", "action", "decision"} <= set(csv.columns)
    assert main(["matrix", str(snapshot), "--format", "json", "--context", "aws:MultiFactorAuthPresent=true"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(csv)
    assert json.loads(lines[0])["identity_arn"] == csv.iloc[0]["identity_arn"]
    assert main(["matrix", str(snapshot), "--format", "parquet", "-o", str(tmp_path / "m.parquet")]) == 0
    assert len(pd.read_parquet(tmp_path / "m.parquet")) == len(csv)
    assert main(["matrix", str(snapshot), "--format", "parquet"]) == 2
    assert "needs -o" in capsys.readouterr().err
    assert main(["matrix", str(snapshot), "--context", "novalue"]) == 2


def test_cli_reports_a_missing_snapshot_without_traceback(tmp_path, capsys):
    assert main(["matrix", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "missing" in err and "Traceback" not in err


def test_scps_file_for_a_bare_details_file(tmp_path):
    bare = tmp_path / "details.json"
    shutil.copy(DATA / "accounts" / "acme" / "authorization-details.json", bare)
    with_scps = load_account(bare, scps=DATA / "accounts" / "acme" / "scps.json")
    assert with_scps.scp_levels and not load_account(bare).scp_levels


def test_what_if_detach_and_replace_change_exactly_the_expected_cells(tmp_path):
    from supportkit.account import UnknownPolicyError, detach_policy, replace_policy
    from supportkit.diff import diff_matrices

    everything = policy(statement("Allow", "support:*"))
    snapshot = write_snapshot(tmp_path / "whatif", [user("ann", [("Cases", everything)]),
                                                   user("ben", [("Cases", everything)])])
    account = load_account(snapshot)
    before = build_matrix(account)
    support = {a.name for a in load_catalog().expand("support:*")}

    detached = build_matrix(detach_policy(account, "user/ann: Cases (inline)", "ann"))
    changes = diff_matrices(before, detached)
    assert set(changes["identity_name"].astype(str)) == {"ann"}
    assert set(changes["action"].astype(str)) == support
    assert set(changes["decision_after"].astype(str)) == {"implicitDeny"}

    no_resolve = policy(statement("Allow", "support:*"), statement("Deny", "support:ResolveCase"))
    edited = build_matrix(replace_policy(account, "user/ben: Cases (inline)", no_resolve))
    changes = diff_matrices(before, edited)
    assert [(c.identity_name, c.action, c.decision_after) for c in changes.itertuples()] == [
        ("ben", "support:ResolveCase", "explicitDeny")]
    with pytest.raises(UnknownPolicyError):
        detach_policy(account, "NoSuchPolicy")
