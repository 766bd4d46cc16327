"""The permission matrix: one row per identity and action, each cell what `simulate` answers."""

import dataclasses
import json
import os
import random
import shutil
from pathlib import Path

from datetime import datetime, timezone

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_strategies import statements

from supportkit.snapshot import load_account
from supportkit.support.catalog import load_catalog
from supportkit.cli.main import main
from supportkit.analysis.matrix import (
    ALL_CHECKS, LONG_COLUMNS, SOME_CHECKS, build_matrix, identity_context, identity_contexts, probe_check_arn,
    wide,
)
from supportkit.iam import simulate as simulation
from supportkit.iam.evaluate import PolicyKind, StatementRef
from supportkit.iam.policy import Effect
from supportkit.support.rcps import rcp_services
from supportkit.support.request_context import assumed_context

DATA = Path(__file__).parents[1] / "data"
ACCOUNT = "111122223333"
AT = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
ASSUMED = assumed_context("aws", AT)


def simulate(requests):
    """simulate as the CLI runs it: RCPs on the services AWS lists."""
    return simulation.simulate(requests, simulation.Simulator(rcp_services=rcp_services()))


def request_for(identity, action, resource, extra):
    """The simulate request that asks the same question as one matrix cell."""
    subject = identity.subject
    documents = lambda policies: [named.policy.document for named in policies]  # noqa: E731
    request = {
        "principal": subject.principal.arn,
        "action": action,
        "resource": resource,
        "context": {**ASSUMED, **identity.context(), **extra},
        "identity_policies": documents(subject.identity_policies),
        "scps": [documents(level) for level in subject.scp_levels],
        "rcps": [documents(level) for level in subject.rcp_levels],
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
    matrix = build_matrix(account, context=extra, at=AT)
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
    # The analyst's keys win over those every request carries; each identity keeps its own.
    contexts = identity_contexts(account.identities, {"aws:SecureTransport": False},
                                 {"aws:SecureTransport": "true", "aws:ViaAWSService": "false"})
    assert [(c.get("aws:SecureTransport"), c.get("aws:ViaAWSService"), c.get("aws:username")) for c in contexts] == [
        ("false", "false", None), ("false", "false", "mfa"), ("false", "false", "tagged"),
        ("false", "false", "untagged")]
    assert contexts[2].get("aws:PrincipalTag/team") == "support"


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
    columns = list(csv.columns)
    required = ["identity_arn", "identity_type", "action", "decision", "explanation", "deciding_statements"]
    assert [c for c in columns if c in required] == required  # present, in this order
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
    from supportkit.snapshot import UnknownPolicyError, detach_policy, replace_policy
    from supportkit.analysis.diff import diff_matrices

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


# Property: every cell of a random account is what `simulate` answers for the same request


_ACTIONS = ["support:*", "support:ResolveCase", "support:Describe*", "support:CreateCase", "trustedadvisor:*",
            "trustedadvisor:RefreshCheck", "supportplans:*", "*", "s3:*", "support-console:*", "supportapp:*"]
_RESOURCES = ["*", f"arn:aws:support::{ACCOUNT}:case/*", f"arn:aws:trustedadvisor:*:{ACCOUNT}:checks/security/*",
              f"arn:aws:trustedadvisor:*:{ACCOUNT}:checks/*", "arn:aws:s3:::${aws:username}/*",
              f"arn:aws:trustedadvisor:us-east-1:{ACCOUNT}:checks/security/Hs4Ma3G1"]  # a check named
_CONDITIONS = [
    None,
    {"StringEquals": {"aws:PrincipalTag/team": "support"}},
    {"StringLike": {"aws:username": ["a*", "b?"]}},
    {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
    {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
    {"StringEquals": {"aws:PrincipalType": "User"}},
    {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"}},
    {"Null": {"aws:PrincipalTag/team": "true"}},
    {"StringEquals": {"aws:PrincipalTag/team": "${aws:username}"}},
    {"StringNotEqualsIfExists": {"AWS:PrincipalTag/Team": "web"}},
    {"StringLike": {"aws:userid": "${aws:PrincipalTag/team, 'AIDA'}*"}},
]
_statements = statements(_ACTIONS, _RESOURCES, _CONDITIONS, not_action=(False, False, True),
                         not_resource=(False, False, False, True))
_documents = st.lists(_statements, min_size=1, max_size=3).map(
    lambda statements: {"Version": "2012-10-17", "Statement": [
        {"Sid": f"S{i}", **s} if i % 2 else s for i, s in enumerate(statements)]})
_MANAGED = ["M0", "M1", "M2"]
_SCP_TARGETS = ["r-ab12", "ou-ab12-11111111", ACCOUNT]


@st.composite
def _accounts(draw):
    """An authorization-details document, an scps.json value (or None), account.json and an extra context."""
    documents = draw(st.lists(_documents, min_size=1, max_size=4))
    pick = lambda: draw(st.sampled_from(documents))  # noqa: E731 (identical inline documents are common)
    arn = lambda name: f"arn:aws:iam::{ACCOUNT}:policy/{name}"  # noqa: E731
    attached = lambda: [{"PolicyName": n, "PolicyArn": arn(n)}  # noqa: E731
                        for n in draw(st.lists(st.sampled_from(_MANAGED), max_size=2, unique=True))]
    boundary = lambda: (  # noqa: E731
        {"PermissionsBoundary": {"PermissionsBoundaryArn": arn(draw(st.sampled_from(_MANAGED)))}}
        if draw(st.booleans()) else {})
    inline = lambda: [{"PolicyName": f"P{k}", "PolicyDocument": pick()}  # noqa: E731
                      for k in range(draw(st.integers(0, 2)))]
    tags = lambda: [{"Key": "team", "Value": v}  # noqa: E731
                    for v in draw(st.sampled_from([[], ["support"], ["web"], ["bob"]]))]
    groups = [{"GroupName": g, "GroupId": f"AGPA{g.upper():0<17}", "Arn": f"arn:aws:iam::{ACCOUNT}:group/{g}",
               "GroupPolicyList": inline(), "AttachedManagedPolicies": attached()} for g in ("ga", "gb")]
    users = []
    for name in draw(st.lists(st.sampled_from(["alice", "bob", "b1", "carl"]), max_size=3, unique=True)):
        path = draw(st.sampled_from(["/", "/staff/"]))
        users.append({"UserName": name, "UserId": f"AIDA{name.upper():0<17}", "Path": path,
                      "Arn": f"arn:aws:iam::{ACCOUNT}:user{path}{name}", "UserPolicyList": inline(),
                      "GroupList": draw(st.lists(st.sampled_from(["ga", "gb"]), max_size=2, unique=True)),
                      "AttachedManagedPolicies": attached(), "Tags": tags(), **boundary()})
    roles = []
    for name in draw(st.lists(st.sampled_from(["Ops", "Batch", "AWSServiceRoleForSupport"]), max_size=2, unique=True)):
        path = "/aws-service-role/support.amazonaws.com/" if name.startswith("AWSServiceRole") else draw(
            st.sampled_from(["/", "/service/"]))
        roles.append({"RoleName": name, "RoleId": f"AROA{name.upper():0<17}"[:21], "Path": path,
                      "Arn": f"arn:aws:iam::{ACCOUNT}:role{path}{name}", "RolePolicyList": inline(),
                      "AttachedManagedPolicies": attached(), "Tags": tags(), **boundary()})
    policies = [{"PolicyName": n, "Arn": arn(n), "DefaultVersionId": "v1", "PolicyVersionList": [
        {"VersionId": "v1", "IsDefaultVersion": True, "Document": pick()}]} for n in _MANAGED]
    details = {"UserDetailList": users, "GroupDetailList": groups, "RoleDetailList": roles, "Policies": policies}
    scp_documents = [policy(statement("Allow", "*")), policy(statement("Deny", "supportplans:*")),
                     policy(statement("Allow", "support:*")), {"Version": "2012-10-17", "Statement": [
                         {"Effect": "Allow", "NotAction": "support:ResolveCase", "Resource": "*"}]},
                     policy(statement("Deny", "support:ResolveCase", Condition={
                         "ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/Ops"}})),
                     policy(statement("Deny", "*", Condition={
                         "StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}})),
                     *documents]
    scps = None
    if draw(st.booleans()):
        levels = draw(st.lists(st.lists(st.sampled_from(scp_documents), max_size=2), max_size=3))
        scps = {"levels": [{"target": _SCP_TARGETS[i], "policies": [
            {"Name": f"SCP{i}{j}", "Content": json.dumps(d)} for j, d in enumerate(level)]}
            for i, level in enumerate(levels)]}
    rcps = None
    if draw(st.booleans()):
        rcp_documents = [
            {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": action,
                                                     "Resource": "*", **condition}]}
            for action in ("support:ResolveCase", "support:*", "supportplans:*")
            for condition in ({}, {"Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}})]
        levels = draw(st.lists(st.lists(st.sampled_from(rcp_documents), max_size=2), max_size=2))
        rcps = {"levels": [{"target": _SCP_TARGETS[i], "policies": [
            {"Name": f"RCP{i}{j}", "Content": json.dumps(d)} for j, d in enumerate(level)]}
            for i, level in enumerate(levels)]}
    extra = draw(st.sampled_from([{}, {"aws:MultiFactorAuthPresent": "true"}, {"aws:MultiFactorAuthPresent": "false"},
                                  {"aws:RequestedRegion": "ap-south-1"}]))
    return details, (scps, rcps), {"account_id": ACCOUNT, "management_account": draw(st.booleans())}, extra


def _expected_text(identity, response):
    """Simulate's explanation in the matrix's words: its request fields replaced by the account's policy names."""
    subject = identity.subject

    def named(field):
        if field == "permissions_boundary":
            return subject.permissions_boundary
        if field.startswith("identity_policies["):
            return subject.identity_policies[int(field[18:-1])]
        levels = subject.rcp_levels if field.startswith("rcps[") else subject.scp_levels
        level, index = (int(part) for part in field[5:-1].split("]["))
        return levels[level][index]

    explanation = response["explanation"]
    refs, granted = [], []
    for entry in explanation["deciding_statements"]:
        found = named(entry["policy"])
        text = StatementRef(found.name, PolicyKind(entry["kind"]), entry["statement"], entry["sid"],
                            Effect(entry["effect"]), found.level, found.target).description
        refs.append(text)
        if entry["kind"] == PolicyKind.IDENTITY.value:
            granted.append(text)
    blocked = explanation["blocked_by"] or ""
    if blocked.startswith("SCP level "):  # simulate's SCPs have no target; an empty level names none either
        level = subject.scp_levels[int(blocked[len("SCP level "):])]
        blocked += f" ({level[0].target})" if level else ""
    return sorted(refs), sorted(granted), blocked


@settings(max_examples=int(os.environ.get("SUPPORTKIT_EXAMPLES", 100)),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=_accounts())
def test_every_cell_of_random_accounts_equals_simulate(tmp_path_factory, case):
    details, (scps, rcps), account_json, extra = case
    folder = tmp_path_factory.mktemp("random")
    (folder / "authorization-details.json").write_text(json.dumps(details))
    (folder / "account.json").write_text(json.dumps(account_json))
    if scps is not None:
        (folder / "scps.json").write_text(json.dumps(scps))
    if rcps is not None:
        (folder / "rcps.json").write_text(json.dumps(rcps))
    account = load_account(folder)
    assert not [i.arn for i in account.identities if i.incomplete]
    governing = {id(named) for i in account.identities
                 for named in (*i.subject.identity_policies, i.subject.permissions_boundary) if named is not None}
    listed = [id(named) for named in account.policies if named.kind not in (PolicyKind.SCP, PolicyKind.RCP)]
    assert sorted(listed) == sorted(governing)  # each policy that governs someone, once
    matrix = build_matrix(account, context=extra, at=AT)
    identities = {i.arn: i for i in account.identities}
    probe = probe_check_arn(ACCOUNT)
    checks = {a.name for a in load_catalog().actions if a.takes_check_arns}
    rows = list(matrix.itertuples())
    requests = [request_for(identities[row.identity_arn], row.action, probe if row.action in checks else "*", extra)
                for row in rows]
    # Real checks, one in each class the statements' check ARNs tell apart (the named security check, another
    # security check, a check of another category): the check scope follows.
    real_checks = [f"arn:aws:trustedadvisor:us-east-1:{ACCOUNT}:checks/security/Hs4Ma3G1",
                   f"arn:aws:trustedadvisor:us-east-1:{ACCOUNT}:checks/security/1iG5NDGVre",
                   f"arn:aws:trustedadvisor:us-east-1:{ACCOUNT}:checks/cost_optimizing/Qch7DwouX1"]
    check_rows = [row for row in rows if row.action in checks]
    on_checks = iter(simulate([request_for(identities[row.identity_arn], row.action, arn, extra)
                               for row in check_rows for arn in real_checks]))
    for row in check_rows:
        allowed = [row.decision == "allowed", *(next(on_checks)["decision"] == "allowed" for _ in real_checks)]
        expected = ALL_CHECKS if all(allowed) else SOME_CHECKS if any(allowed) else ""
        assert row.check_scope == expected, f"{row.identity_arn} {row.action}"
    for row, response in zip(rows, simulate(requests)):
        identity = identities[row.identity_arn]
        where = f"{row.identity_arn} {row.action}"
        assert "error" not in response, response
        assert row.decision == response["decision"], where
        refs, granted, blocked = _expected_text(identity, response)
        explanation = response["explanation"]
        assert row.blocked_by == blocked, where
        assert sorted(row.deciding_statements.split("; ") if row.deciding_statements else []) == refs, where
        assert row.context_keys == ", ".join(explanation["context_keys"]), where
        assert bool(row.conditional) == explanation["conditional"], where
        if row.decision == "explicitDeny":
            assert sorted(row.explanation.removeprefix("explicitly denied by ").split("; ")) == refs, where
        elif row.decision == "implicitDeny":
            assert row.explanation == f"implicitly denied: no {blocked} statement allows it", where
        else:
            text = row.explanation.removeprefix("allowed by ")
            assert (sorted(text.split("; ")) if granted else text) == (granted or "the root user's full access"), where


# Edge cases, each against what the scenario says


SECURITY_CHECKS = f"arn:aws:trustedadvisor:*:{ACCOUNT}:checks/security/*"


def managed_entry(name, document):
    return {"PolicyName": name, "Arn": f"arn:aws:iam::{ACCOUNT}:policy/{name}", "DefaultVersionId": "v1",
            "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True, "Document": document}]}


def test_check_scope_follows_boundaries_denies_and_not_resource(tmp_path):
    everything = policy(statement("Allow", "trustedadvisor:*"))
    deny_security = policy(statement("Allow", "trustedadvisor:*"),
                           statement("Deny", "trustedadvisor:RefreshCheck", SECURITY_CHECKS))
    but_security = policy({"Effect": "Allow", "Action": "trustedadvisor:*", "NotResource": SECURITY_CHECKS})
    deny_bucket = policy(statement("Allow", "trustedadvisor:*"), statement("Deny", "*", "arn:aws:s3:::secret/*"))
    users = [
        {**user("bounded", [("p", everything)]),
         "PermissionsBoundary": {"PermissionsBoundaryArn": f"arn:aws:iam::{ACCOUNT}:policy/SecurityOnly"}},
        user("deny-security", [("p", deny_security)]),
        user("not-security", [("p", but_security)]),
        user("deny-bucket", [("p", deny_bucket)]),
        user("bucket-only", [("p", policy(statement("Allow", "*", "arn:aws:s3:::bucket/*")))]),
        user("other-account", [("p", policy(statement(
            "Allow", "trustedadvisor:*", "arn:aws:trustedadvisor:*:999999999999:checks/*")))]),
    ]
    boundary = managed_entry("SecurityOnly", policy(statement("Allow", "trustedadvisor:*", SECURITY_CHECKS)))
    matrix = build_matrix(load_account(write_snapshot(tmp_path / "checks", users, [boundary])))
    refresh = {name: (cell(matrix, name, "trustedadvisor:RefreshCheck")["decision"],
                      cell(matrix, name, "trustedadvisor:RefreshCheck")["check_scope"]) for name, in
               [("bounded",), ("deny-security",), ("not-security",), ("deny-bucket",), ("bucket-only",),
                ("other-account",)]}
    assert refresh == {
        "bounded": ("implicitDeny", SOME_CHECKS),  # the boundary lets the security checks through
        "deny-security": ("allowed", SOME_CHECKS),  # every check but the security ones
        "not-security": ("allowed", SOME_CHECKS),
        "deny-bucket": ("allowed", ALL_CHECKS),  # an S3 ARN is no check
        "bucket-only": ("implicitDeny", ""),
        "other-account": ("implicitDeny", ""),  # another account's checks are not this account's
    }
    assert cell(matrix, "deny-security", "trustedadvisor:DescribeCheckItems")["check_scope"] == ALL_CHECKS


def test_a_managed_policy_attached_directly_and_through_a_group_explains_once(tmp_path):
    cases = managed_entry("Cases", policy(statement("Allow", "support:*")))
    ann = {**user("ann", []), "GroupList": ["Team"],
           "AttachedManagedPolicies": [{"PolicyName": "Cases", "PolicyArn": cases["Arn"]}]}
    folder = write_snapshot(tmp_path / "twice", [ann], [cases])
    details = json.loads((folder / "authorization-details.json").read_text())
    details["GroupDetailList"] = [{"GroupName": "Team", "Arn": f"arn:aws:iam::{ACCOUNT}:group/Team",
                                   "AttachedManagedPolicies": ann["AttachedManagedPolicies"]}]
    (folder / "authorization-details.json").write_text(json.dumps(details))
    row = cell(build_matrix(load_account(folder)), "ann", "support:CreateCase")
    assert row["deciding_statements"] == "Allow in identity policy 'Cases' Statement[0]"
    assert row["explanation"] == "allowed by Allow in identity policy 'Cases' Statement[0]"


def test_a_root_only_account(tmp_path):
    from supportkit.analysis.findings import all_findings

    account = load_account(write_snapshot(tmp_path / "empty", []))
    matrix = build_matrix(account)
    assert len(matrix) == len(load_catalog())
    assert set(matrix["decision"].astype(str)) == {"allowed"}
    assert set(matrix["explanation"].astype(str)) == {"allowed by the root user's full access"}
    findings = all_findings(matrix, account, load_catalog())
    assert list(findings["root_only_access"]["scope"]) == ["any support action"]
    # Every action, the plan change included: changing the plan comes first among personas.
    assert list(findings["personas"]["persona"].astype(str)) == ["Support plan administrator"]


def test_an_empty_levels_list_is_no_scp_and_an_empty_level_denies_everything(tmp_path):
    users = [user("ann", [("p", policy(statement("Allow", "support:*")))])]
    plain = build_matrix(load_account(write_snapshot(tmp_path / "plain", users)))
    no_levels = write_snapshot(tmp_path / "no-levels", users)
    (no_levels / "scps.json").write_text(json.dumps({"levels": []}))
    pd.testing.assert_frame_equal(build_matrix(load_account(no_levels)), plain)
    assert cell(plain, "ann", "support:ResolveCase")["decision"] == "allowed"

    empty_level = write_snapshot(tmp_path / "empty-level", users)
    full = {"Name": "FullAWSAccess", "Content": json.dumps(policy(statement("Allow", "*")))}
    (empty_level / "scps.json").write_text(json.dumps({"levels": [
        {"target": "r-ab12", "policies": [full]}, {"target": "ou-ab12-11111111", "policies": []}]}))
    matrix = build_matrix(load_account(empty_level))
    assert set(zip(matrix["decision"].astype(str), matrix["blocked_by"].astype(str))) == {
        ("implicitDeny", "SCP level 1")}
    management = build_matrix(load_account(empty_level, management_account=True))
    assert cell(management, "ann", "support:ResolveCase")["decision"] == "allowed"


def test_service_linked_roles_and_role_paths_in_a_member_account(tmp_path):
    no_support = {"Name": "NoSupport", "Content": json.dumps(policy(statement("Allow", "*"),
                                                                    statement("Deny", "support:ResolveCase")))}
    folder = write_snapshot(tmp_path / "member", [])
    details = json.loads((folder / "authorization-details.json").read_text())
    only_ops = policy(statement("Allow", "support:*", Condition={
        "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/ops/*"}}))
    service = "/aws-service-role/support.amazonaws.com/"
    details["RoleDetailList"] = [
        {"RoleName": name, "RoleId": f"AROA{name.upper():0<17}"[:21], "Path": path,
         "Arn": f"arn:aws:iam::{ACCOUNT}:role{path}{name}",
         "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": document}]}
        for name, path, document in [("AWSServiceRoleForSupport", service, policy(statement("Allow", "support:*"))),
                                     ("Pager", "/ops/", only_ops), ("Plain", "/", only_ops)]]
    (folder / "authorization-details.json").write_text(json.dumps(details))
    (folder / "scps.json").write_text(json.dumps({"levels": [{"target": "r-ab12", "policies": [no_support]}]}))
    matrix = build_matrix(load_account(folder))
    decisions = {name: (cell(matrix, name, "support:CreateCase")["decision"],
                        cell(matrix, name, "support:ResolveCase")["decision"])
                 for name in ("AWSServiceRoleForSupport", "Pager", "Plain", "root")}
    # SCPs never bind a service-linked role; the condition reads the role's path, which Plain lacks.
    assert decisions == {"AWSServiceRoleForSupport": ("allowed", "allowed"), "Pager": ("allowed", "explicitDeny"),
                         "Plain": ("implicitDeny", "explicitDeny"), "root": ("allowed", "explicitDeny")}


def test_detaching_a_policy_from_everyone_drops_it_from_the_account_policies(tmp_path):
    from supportkit.snapshot import detach_policy

    snapshot = write_snapshot(tmp_path / "drop", [user("ann", [("Cases", policy(statement("Allow", "support:*")))])])
    account = load_account(snapshot)
    assert [named.name for named in account.policies] == ["user/ann: Cases (inline)"]
    assert detach_policy(account, "user/ann: Cases (inline)").policies == ()


# The request context every request carries


def _region_guarded(tmp_path, regions):
    """One user with support:* and support-console:*, under an SCP that denies everything outside ``regions``."""
    document = policy(statement("Allow", ["support:*", "support-console:*"]))
    details = {"UserDetailList": [{"UserName": "ana", "Arn": f"arn:aws:iam::{ACCOUNT}:user/ana",
                                   "UserPolicyList": [{"PolicyName": "S", "PolicyDocument": document}]}]}
    guard = policy(statement("Deny", "*", Condition={"StringNotEquals": {"aws:RequestedRegion": regions}}))
    scps = {"levels": [{"target": "r-root", "policies": [
        {"Name": "FullAWSAccess", "Content": json.dumps(policy(statement("Allow", "*")))},
        {"Name": "RegionGuard", "Content": json.dumps(guard)}]}]}
    (tmp_path / "authorization-details.json").write_text(json.dumps(details))
    (tmp_path / "scps.json").write_text(json.dumps(scps))
    (tmp_path / "account.json").write_text(json.dumps({"account_id": ACCOUNT}))
    return load_account(tmp_path)


def test_a_region_restricting_scp_does_not_deny_support_requests(tmp_path):
    """IAM User Guide, "AWS global condition context keys"
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html): aws:RequestedRegion
    "is always included in the request context", and a single-endpoint service in us-east-1 is always called
    in us-east-1; the Support API endpoint is support.us-east-1.amazonaws.com ("AWS Support endpoints and
    quotas", https://docs.aws.amazon.com/general/latest/gr/awssupport.html)."""
    account = _region_guarded(tmp_path, ["us-east-1", "eu-west-1"])
    matrix = build_matrix(account, at=AT)
    create = matrix.loc[matrix["action"] == "support:CreateCase"].set_index("identity_name")["decision"]
    assert dict(create.astype(str)) == {"root": "allowed", "ana": "allowed"}
    assert matrix.attrs["request_context"] == {
        "aws:RequestedRegion": "us-east-1", "aws:SecureTransport": "true", "aws:CurrentTime": "2026-12-01T09:30:00Z",
        "aws:EpochTime": str(int(AT.timestamp())), "aws:ViaAWSService": "false"}
    # The analyst can still ask about another Region; a guard that leaves out us-east-1 denies.
    elsewhere = build_matrix(account, at=AT, context={"aws:RequestedRegion": "ap-south-1"})
    assert set(elsewhere.loc[elsewhere["action"] == "support:CreateCase", "decision"].astype(str)) == {"explicitDeny"}
    strict = build_matrix(_region_guarded(tmp_path, ["eu-west-1"]), at=AT)
    assert set(strict.loc[strict["action"] == "support:CreateCase", "decision"].astype(str)) == {"explicitDeny"}


def test_aws_current_time_is_the_analysis_time(tmp_path):
    account = _region_guarded(tmp_path, ["us-east-1"])
    row = build_matrix(account, at=AT).attrs["request_context"]
    assert row["aws:CurrentTime"] == "2026-12-01T09:30:00Z" and row["aws:EpochTime"] == "1796117400"


@pytest.mark.parametrize("given", [{"aws:CurrentTime": "2026-01-01T00:00:00Z"}, {"aws:EpochTime": "1767225600"}])
def test_a_given_clock_key_sets_the_other_to_the_same_instant(tmp_path, given):
    """aws:CurrentTime and aws:EpochTime are the date and time of the request ("AWS global condition context
    keys", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html): one request
    has one time, so giving one of them moves the other. 2026-01-01T00:00:00Z is 1767225600 seconds after the
    epoch (`date -u -d 2026-01-01T00:00:00Z +%s`); a policy reading either key sees that moment."""
    document = policy(statement("Allow", "support:*", Condition={
        "NumericLessThan": {"aws:EpochTime": "1767225601"}, "DateGreaterThanEquals": {"aws:CurrentTime": "2026-01-01"}}))
    (tmp_path / "authorization-details.json").write_text(json.dumps({"UserDetailList": [{
        "UserName": "ana", "Arn": f"arn:aws:iam::{ACCOUNT}:user/ana",
        "UserPolicyList": [{"PolicyName": "NewYearOnly", "PolicyDocument": document}]}]}))
    matrix = build_matrix(load_account(tmp_path), at=AT, context=given)
    assert matrix.attrs["request_context"]["aws:CurrentTime"] == "2026-01-01T00:00:00Z"
    assert matrix.attrs["request_context"]["aws:EpochTime"] == "1767225600"
    cell = matrix.loc[(matrix["identity_name"] == "ana") & (matrix["action"] == "support:CreateCase")]
    assert list(cell["decision"].astype(str)) == ["allowed"]


def test_a_clock_key_beyond_the_years_a_datetime_holds_leaves_the_other_at_the_analysis_time(tmp_path):
    """253402300800 is 10000-01-01T00:00:00Z (`date -u -d @253402300800`), past the last year Python's datetime
    holds: the given key is kept as given, aws:CurrentTime stays the analysis time, and nothing fails."""
    account = _region_guarded(tmp_path, ["us-east-1"])
    row = build_matrix(account, at=AT, context={"aws:EpochTime": "253402300800"}).attrs["request_context"]
    assert row["aws:EpochTime"] == "253402300800" and row["aws:CurrentTime"] == "2026-12-01T09:30:00Z"


def _recorded_context(path):
    """The request context a Parquet matrix records (pandas' metadata of the file)."""
    import pyarrow.parquet as pq

    return json.loads(pq.read_schema(path).metadata[b"pandas"])["attributes"]["request_context"]


def test_parquet_bytes_depend_on_the_input_and_on_the_clock_only_where_a_decision_read_it(tmp_path):
    """The same snapshot and context analysed an hour apart give the same file: the assumed aws:CurrentTime and
    aws:EpochTime are recorded only when a policy read them, or when the analyst gave them."""
    from datetime import timedelta

    from supportkit.analysis.matrix import write_matrix

    later = AT + timedelta(hours=1)
    (tmp_path / "guarded").mkdir()
    account = _region_guarded(tmp_path / "guarded", ["us-east-1"])
    for name, at in (("a", AT), ("b", later)):
        write_matrix(build_matrix(account, at=at), "parquet", tmp_path / f"{name}.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert _recorded_context(tmp_path / "a.parquet") == {
        "aws:RequestedRegion": "us-east-1", "aws:SecureTransport": "true", "aws:ViaAWSService": "false"}
    given = build_matrix(account, at=AT, context={"aws:CurrentTime": "2027-01-01T00:00:00Z"})
    write_matrix(given, "parquet", tmp_path / "given.parquet")
    assert _recorded_context(tmp_path / "given.parquet")["aws:CurrentTime"] == "2027-01-01T00:00:00Z"
    assert "aws:EpochTime" not in _recorded_context(tmp_path / "given.parquet")

    # A policy that reads the time: the matrix holds for that moment, which the file then records.
    (tmp_path / "dated").mkdir()
    document = policy(statement("Allow", "support:*", Condition={"DateLessThan": {"aws:CurrentTime": "2027-01-01"}}))
    (tmp_path / "dated" / "authorization-details.json").write_text(json.dumps({"UserDetailList": [{
        "UserName": "ana", "Arn": f"arn:aws:iam::{ACCOUNT}:user/ana",
        "UserPolicyList": [{"PolicyName": "UntilNewYear", "PolicyDocument": document}]}]}))
    dated = load_account(tmp_path / "dated")
    for name, at in (("c", AT), ("d", later)):
        write_matrix(build_matrix(dated, at=at), "parquet", tmp_path / f"{name}.parquet")
    assert _recorded_context(tmp_path / "c.parquet")["aws:CurrentTime"] == "2026-12-01T09:30:00Z"
    assert _recorded_context(tmp_path / "d.parquet")["aws:CurrentTime"] == "2026-12-01T10:30:00Z"
    assert "aws:EpochTime" not in _recorded_context(tmp_path / "c.parquet")


@pytest.mark.parametrize(("pair", "message"), [
    ("aws:SecureTransport=yes", "'aws:SecureTransport' is a Bool key: give true or false, not 'yes'"),
    ("aws:SourceIp=10.0.0.0/8", "'aws:SourceIp' is an IP address key"),
    ("aws:CurrentTime=tomorrow", "'aws:CurrentTime' is a Date key"),
    ("aws:PrincipalArn=arn:aws:iam::111122223333:user/x", "AWS derives it from the principal making each request"),
    ("aws:PrincipalTag/team=ops", "AWS derives it from the principal"),
    ("AWS:USERNAME=bob", "AWS derives it from the principal"),
])
def test_context_values_are_checked_and_principal_keys_refused(pair, message, capsys):
    """Types from the IAM User Guide's "AWS global condition context keys" page: aws:SecureTransport Boolean,
    aws:SourceIp IP address, aws:CurrentTime Date; aws:PrincipalArn, aws:PrincipalTag/* and aws:username are
    properties of the principal."""
    assert main(["matrix", str(DATA / "accounts" / "acme"), "--context", pair]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_rcps_json_denies_support_actions_in_a_member_account_root_included(tmp_path):
    """AWS Organizations, "Resource control policies (RCPs)"
    (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html): AWS Support
    (support) is among the services RCPs apply to, and RCPs bind root users; supportplans is not listed."""
    account = _region_guarded(tmp_path, ["us-east-1"])
    rcp = {"Version": "2012-10-17", "Statement": [
        {"Sid": "NoCases", "Effect": "Deny", "Principal": "*", "Action": ["support:CreateCase", "supportplans:*"],
         "Resource": "*"}]}
    rcps = {"levels": [{"target": "r-root", "policies": []},
                       {"target": ACCOUNT, "policies": [{"Name": "NoCases", "Content": json.dumps(rcp)}]}]}
    (tmp_path / "rcps.json").write_text(json.dumps(rcps))
    member = load_account(tmp_path)
    matrix = build_matrix(member, at=AT).set_index(["identity_name", "action"])
    assert str(matrix.loc[("root", "support:CreateCase"), "decision"]) == "explicitDeny"
    assert matrix.loc[("ana", "support:CreateCase"), "explanation"] == (
        f"explicitly denied by Deny in RCP level 1 ({ACCOUNT}) policy 'NoCases' Statement[0] (Sid NoCases)")
    assert str(matrix.loc[("ana", "support:DescribeCases"), "decision"]) == "allowed"
    assert str(matrix.loc[("root", "supportplans:GetSupportPlan"), "decision"]) == "allowed"  # not an RCP service
    management = build_matrix(load_account(tmp_path, management_account=True), at=AT)
    assert set(management.loc[management["action"] == "support:CreateCase", "decision"].astype(str)) == {"allowed"}
    assert account.rcp_levels == () and len(member.rcp_levels) == 2


def test_the_root_users_plan_change_under_an_scp_carries_a_caveat():
    """Organizations, "Tasks and entities not restricted by SCPs"
    (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html#not-restricted-by-scp):
    "Register for the Enterprise support plan as the root user". The demo's root SCP denies plan changes."""
    matrix = build_matrix(load_account(Path(__file__).parents[2] / "data" / "demo" / "workload-prod"), at=AT)
    cells = matrix.set_index(["identity_name", "action"])
    root = cells.loc[("root", "supportplans:StartSupportPlanUpdate")]
    assert str(root["decision"]) == "explicitDeny"
    assert "Register for the Enterprise support plan as the root user" in root["caveat"]
    assert cells.loc[("OrganizationAccountAccessRole", "supportplans:StartSupportPlanUpdate"), "caveat"] == ""
    assert cells.loc[("root", "support:ResolveCase"), "caveat"] == ""
    assert set(matrix.loc[matrix["caveat"] != "", "action"]) == {
        "supportplans:StartSupportPlanUpdate", "supportplans:CreateSupportPlanSchedule"}


# Exact rows, written from the policies and the documented explanation format (not from the output)


def test_pinned_rows_of_a_member_account(tmp_path):
    """alice: Sid Open allows CreateCase, Sid NoResolve denies ResolveCase; bob: CreateCase with MFA only.

    SCPs: level 0 (r-root) FullAWSAccess; level 1 (the account) Limited allows support:* only, so a
    supportplans: action stops at level 1, whatever the identity policies say.
    """
    full = {"Name": "FullAWSAccess", "Content": json.dumps(policy(statement("Allow", "*")))}
    limited = {"Name": "Limited", "Content": json.dumps(policy(statement("Allow", "support:*")))}
    folder = write_snapshot(tmp_path / "pinned", [
        user("alice", [("cases", policy(statement("Allow", ["support:CreateCase", "supportplans:*"], Sid="Open"),
                                         statement("Deny", "support:ResolveCase", Sid="NoResolve")))]),
        user("bob", [("mfa", policy(statement("Allow", "support:CreateCase",
                                              Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})))]),
    ])
    (folder / "scps.json").write_text(json.dumps({"levels": [
        {"target": "r-root", "policies": [full]}, {"target": ACCOUNT, "policies": [limited]}]}))
    matrix = build_matrix(load_account(folder))
    columns = ["decision", "explanation", "deciding_statements", "blocked_by", "conditional", "context_keys"]
    row = lambda name, action: tuple(cell(matrix, name, action)[columns])  # noqa: E731
    scp0 = "Allow in SCP level 0 (r-root) policy 'FullAWSAccess' Statement[0]"
    cases, mfa = "'user/alice: cases (inline)'", "'user/bob: mfa (inline)'"  # how the loader names inline policies
    scp1 = f"Allow in SCP level 1 ({ACCOUNT}) policy 'Limited' Statement[0]"
    assert row("alice", "support:CreateCase") == (
        "allowed", f"allowed by Allow in identity policy {cases} Statement[0] (Sid Open)",
        f"{scp0}; {scp1}; Allow in identity policy {cases} Statement[0] (Sid Open)", "", False, "")
    deny = f"Deny in identity policy {cases} Statement[1] (Sid NoResolve)"
    assert row("alice", "support:ResolveCase") == ("explicitDeny", f"explicitly denied by {deny}", deny, "", False, "")
    assert row("alice", "support:DescribeCases") == (
        "implicitDeny", "implicitly denied: no identity-based policy statement allows it", "",
        "identity-based policy", False, "")
    assert row("alice", "supportplans:GetSupportPlan") == (
        "implicitDeny", f"implicitly denied: no SCP level 1 ({ACCOUNT}) statement allows it", "",
        f"SCP level 1 ({ACCOUNT})", False, "")
    assert row("bob", "support:CreateCase") == (
        "implicitDeny", "implicitly denied: no identity-based policy statement allows it", "",
        "identity-based policy", True, "aws:multifactorauthpresent")
    with_mfa = build_matrix(load_account(folder), context={"aws:MultiFactorAuthPresent": "true"})
    assert tuple(cell(with_mfa, "bob", "support:CreateCase")[columns]) == (
        "allowed", f"allowed by Allow in identity policy {mfa} Statement[0]",
        f"{scp0}; {scp1}; Allow in identity policy {mfa} Statement[0]", "", True, "aws:multifactorauthpresent")


def test_a_disagreement_with_decide_is_a_named_error(monkeypatch):
    """The matrix cross-checks a sample of its explanations against decide() each time it is built."""
    import supportkit.analysis.matrix as matrix_module

    real = matrix_module._Explainer.deciding

    def wrong(self, i, a):
        result = real(self, i, a)
        flipped = "explicitDeny" if result.decision.value == "allowed" else "allowed"
        return dataclasses.replace(result, decision=matrix_module.Decision(flipped))

    monkeypatch.setattr(matrix_module._Explainer, "deciding", wrong)
    with pytest.raises(matrix_module.MatrixConsistencyError, match="disagree"):
        build_matrix(load_account(DATA / "accounts" / "acme"))
