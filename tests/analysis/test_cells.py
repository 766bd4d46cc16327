"""conditional_cells answers each request-dependent cell as a fresh per-cell evaluation does.

The fast path (supportkit.analysis.cells) shares one answer among cells that its policies' parts say decide
alike; the reference here evaluates every cell on its own, with nothing shared between cells: a new
``_Evaluator`` per cell, whose ``_engine_conditions`` enumerates the request values with the engine's
``evaluate``.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from unittest import mock

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_strategies import statements


from supportkit.analysis import cells as cells_module
from supportkit.analysis.matrix import build_matrix, probe_check_arn
from supportkit.analysis.paths import DENIED, AccessDecision, _Evaluator, conditional_cells
from supportkit.snapshot import load_account
from supportkit.support.catalog import load_catalog

ACCOUNT = "111122223333"
AT = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
CATALOG = load_catalog()


def reference(account, matrix, context):
    """Each conditional cell of ``matrix`` answered on its own: (identity, action) -> (access, conditions)."""
    identities = {i.arn: i for i in account.identities}
    probe = probe_check_arn(ACCOUNT)
    checks = {a.name for a in CATALOG.actions if a.takes_check_arns}
    cells = matrix.loc[matrix["conditional"].to_numpy(), ["identity_arn", "action"]]
    found = {}
    for arn, action in zip(cells["identity_arn"].astype(str), cells["action"].astype(str)):
        identity = identities[arn]
        answer = _Evaluator(account, context)._engine_conditions(identity.subject, arn, action,
                                                                 probe if action in checks else "*")
        access = (AccessDecision.ALLOWED.value if answer.always else AccessDecision.CONDITIONAL.value if answer.ever
                  else DENIED)
        found[(arn, action)] = (access, answer.text() if answer.ever and not answer.always else "")
    return found


def answered(account, context=None):
    matrix = build_matrix(account, CATALOG, context=context, at=AT)
    table = conditional_cells(account, matrix, CATALOG, context)
    got = {(r.identity_arn, r.action): (r.access, r.conditions) for r in table.itertuples()}
    return got, matrix


def write(folder: Path, details: dict, scps=None, rcps=None, management=False) -> Path:
    (folder / "authorization-details.json").write_text(json.dumps(details))
    (folder / "account.json").write_text(json.dumps({"account_id": ACCOUNT, "management_account": management}))
    for name, value in (("scps.json", scps), ("rcps.json", rcps)):
        if value is not None:
            (folder / name).write_text(json.dumps(value))
    return folder


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def managed(name, document):
    return {"PolicyName": name, "Arn": f"arn:aws:iam::{ACCOUNT}:policy/{name}", "DefaultVersionId": "v1",
            "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True, "Document": document}]}


def user(name, attached=(), inline=(), tags=()):
    return {"UserName": name, "UserId": f"AIDA{name.upper():0<17}", "Path": "/",
            "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
            "UserPolicyList": [{"PolicyName": f"{name}-{k}", "PolicyDocument": d} for k, d in enumerate(inline)],
            "AttachedManagedPolicies": [{"PolicyName": n, "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/{n}"}
                                        for n in attached],
            "Tags": [{"Key": k, "Value": v} for k, v in tags]}


# Random accounts: statements whose conditions read request keys (MFA, source IP, time, Region), the
# principal's own keys (tags, user name), both, or a policy variable; shared and own policies, boundaries,
# groups, SCP and RCP levels, the management account, an analyst context.

_ACTIONS = ["support:*", "support:ResolveCase", "support:Describe*", "support:CreateCase", "trustedadvisor:*",
            "trustedadvisor:RefreshCheck", "supportplans:*", "*", "support-console:*"]
_RESOURCES = ["*", f"arn:aws:support::{ACCOUNT}:case/*", f"arn:aws:trustedadvisor:*:{ACCOUNT}:checks/*",
              "arn:aws:s3:::${aws:username}/*"]
_CONDITIONS = [
    None,
    {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
    {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
    {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},
    {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.0/24"]}},
    {"NotIpAddress": {"aws:SourceIp": "10.1.0.0/16"}},
    {"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}},
    {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
    {"StringEquals": {"aws:PrincipalTag/team": "support"}},
    {"StringLike": {"aws:username": ["a*", "b?"]}},
    {"StringEquals": {"aws:PrincipalTag/team": "support"}, "Bool": {"aws:MultiFactorAuthPresent": "true"}},
    {"StringEquals": {"aws:PrincipalTag/team": "${aws:username}"}},
    {"Null": {"aws:SourceVpc": "false"}},
]
# Trust policies: sessions that may not be tagged, and sessions that may (their tags then override the role's).
_TRUSTS = [doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": action})
           for action in ("sts:AssumeRole", ["sts:AssumeRole", "sts:TagSession"])]
_statements = statements(_ACTIONS, _RESOURCES, _CONDITIONS)
_documents = st.lists(_statements, min_size=1, max_size=3).map(lambda statements: doc(*statements))


@st.composite
def _accounts(draw):
    documents = draw(st.lists(_documents, min_size=2, max_size=5))
    pick = lambda: draw(st.sampled_from(documents))  # noqa: E731
    names = ["M0", "M1", "M2"]
    attached = lambda: [{"PolicyName": n, "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/{n}"}  # noqa: E731
                        for n in draw(st.lists(st.sampled_from(names), max_size=3, unique=True))]
    tags = lambda: [{"Key": "team", "Value": v} for v in draw(st.sampled_from([[], ["support"], ["web"]]))]  # noqa: E731
    boundary = lambda: ({"PermissionsBoundary": {"PermissionsBoundaryArn": f"arn:aws:iam::{ACCOUNT}:policy/M0"}}  # noqa: E731
                        if draw(st.integers(0, 3)) == 0 else {})
    inline = lambda owner: [{"PolicyName": f"{owner}-{k}", "PolicyDocument": pick()}  # noqa: E731
                            for k in range(draw(st.integers(0, 2)))]
    groups = [{"GroupName": "ga", "GroupId": "AGPA" + "G" * 17, "Arn": f"arn:aws:iam::{ACCOUNT}:group/ga",
               "GroupPolicyList": inline("ga"), "AttachedManagedPolicies": attached()}]
    users = [{"UserName": name, "UserId": f"AIDA{name.upper():0<17}", "Path": "/",
              "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "UserPolicyList": inline(name),
              "GroupList": draw(st.sampled_from([[], ["ga"]])), "AttachedManagedPolicies": attached(),
              "Tags": tags(), **boundary()}
             for name in draw(st.lists(st.sampled_from(["alice", "bob", "b1", "carl", "dora"]), max_size=4, unique=True))]
    roles = [{"RoleName": name, "RoleId": f"AROA{name.upper():0<17}"[:21], "Path": path,
              "Arn": f"arn:aws:iam::{ACCOUNT}:role{path}{name}", "RolePolicyList": inline(name),
              "AttachedManagedPolicies": attached(), "Tags": tags(), **boundary(),
              "AssumeRolePolicyDocument": draw(st.sampled_from(_TRUSTS))}
             for name, path in draw(st.lists(st.sampled_from(
                 [("Ops", "/"), ("Batch", "/service/"), ("AWSServiceRoleForSupport", "/aws-service-role/support.amazonaws.com/")]),
                 max_size=2, unique=True))]
    details = {"UserDetailList": users, "GroupDetailList": groups, "RoleDetailList": roles,
               "Policies": [managed(n, pick()) for n in names]}
    level = lambda: [{"Name": f"S{k}", "Content": json.dumps(d)}  # noqa: E731
                     for k, d in enumerate([doc({"Effect": "Allow", "Action": "*", "Resource": "*"}), pick()][
                         :draw(st.integers(1, 2))])]
    targets = ["r-ab12", "ou-ab12-11111111", ACCOUNT]
    scps = {"levels": [{"target": targets[i], "policies": level()} for i in range(draw(st.integers(1, 2)))]} if draw(
        st.booleans()) else None
    rcps = None
    if draw(st.booleans()):
        deny = {"Effect": "Deny", "Principal": "*", "Action": draw(st.sampled_from(["support:ResolveCase", "support:*"])),
                "Resource": "*", **({"Condition": c} if (c := draw(st.sampled_from(_CONDITIONS))) else {})}
        rcps = {"levels": [{"target": ACCOUNT, "policies": [{"Name": "R0", "Content": json.dumps(doc(deny))}]}]}
    context = draw(st.sampled_from([None, {"aws:MultiFactorAuthPresent": "true"}, {"aws:SourceIp": "10.2.3.4"}]))
    return details, scps, rcps, draw(st.booleans()), context


@settings(max_examples=int(os.environ.get("SUPPORTKIT_EXAMPLES", 60)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=_accounts())
def test_every_request_dependent_cell_of_random_accounts_equals_its_own_evaluation(tmp_path_factory, case):
    details, scps, rcps, management, context = case
    account = load_account(write(tmp_path_factory.mktemp("random"), details, scps, rcps, management))
    got, matrix = answered(account, context)
    assert got == reference(account, matrix, context)


def test_each_identity_states_the_alternatives_of_its_own_policies_in_their_order(tmp_path):
    # Two users with the same two policies attached in the opposite order decide alike, but each answer lists
    # the alternatives in the order of that user's own policies (one per IpAddress range, Condition operators:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IPAddress),
    # as evaluating the user's cell alone does.
    office = managed("Office", doc({"Effect": "Allow", "Action": "support:*", "Resource": "*",
                                    "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}))
    vpn = managed("Vpn", doc({"Effect": "Allow", "Action": "support:*", "Resource": "*",
                              "Condition": {"IpAddress": {"aws:SourceIp": "192.168.0.0/16"}}}))
    account = load_account(write(tmp_path, {"UserDetailList": [user("ann", ["Office", "Vpn"]), user("ben", ["Vpn", "Office"])],
                                            "Policies": [office, vpn]}))
    got, _ = answered(account)
    ann, ben = (f"arn:aws:iam::{ACCOUNT}:user/{name}" for name in ("ann", "ben"))
    assert got[(ann, "support:ResolveCase")] == ("conditional", "from 10.0.0.0/8; or from 192.168.0.0/16")
    assert got[(ben, "support:ResolveCase")] == ("conditional", "from 192.168.0.0/16; or from 10.0.0.0/8")


def test_a_tag_read_with_a_request_key_is_each_identitys_own_fact(tmp_path):
    # aws:PrincipalTag is the principal's own tag (AWS global condition context keys,
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principaltag):
    # with one shared policy requiring the team tag and MFA, the tagged user may resolve cases with MFA and the
    # untagged one never. A Resource naming ${aws:username} (Policy variables,
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html) never names "*".
    shared = managed("TeamWithMfa", doc(
        {"Effect": "Allow", "Action": "support:ResolveCase", "Resource": "*", "Condition": {
            "StringEquals": {"aws:PrincipalTag/team": "support"}, "Bool": {"aws:MultiFactorAuthPresent": "true"}}},
        {"Effect": "Allow", "Action": "support:CreateCase", "Resource": "arn:aws:s3:::${aws:username}",
         "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}))
    account = load_account(write(tmp_path, {"UserDetailList": [
        user("tagged", ["TeamWithMfa"], tags=[("team", "support")]), user("other", ["TeamWithMfa"], tags=[("team", "web")])],
        "Policies": [shared]}))
    got, _ = answered(account)
    tagged, other = (f"arn:aws:iam::{ACCOUNT}:user/{name}" for name in ("tagged", "other"))
    assert got[(tagged, "support:ResolveCase")] == ("conditional", "with MFA")
    assert got[(other, "support:ResolveCase")] == ("denied", "")
    assert got[(tagged, "support:CreateCase")] == got[(other, "support:CreateCase")] == ("denied", "")


def test_every_identity_carries_the_accounts_keys_and_differs_only_in_the_principals_own(tmp_path):
    # The cells take the keys not to enumerate from one context for the account (_Evaluator.carried): right for
    # every identity only if their contexts differ in keys that describe the principal alone (aws:PrincipalArn,
    # aws:username, aws:userid, aws:PrincipalTag/*, ..., AWS global condition context keys,
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).
    from supportkit.iam.evaluate import is_principal_key

    account = load_account(write(tmp_path, {"UserDetailList": [user("tagged", tags=[("team", "support")]),
                                                               user("plain")]}))
    evaluator = _Evaluator(account, {"aws:SourceIp": "10.2.3.4"})
    assert {"aws:sourceip", "aws:securetransport", "aws:requestedregion"} <= set(evaluator.carried.values)
    assert len(evaluator.contexts) == 3  # the root user and the two users
    for context in evaluator.contexts.values():
        assert {k: v for k, v in context.values.items() if not is_principal_key(k)} == evaluator.carried.values


@given(rows=st.integers(0, 6), columns=st.integers(0, 12), values=st.integers(1, 3), data=st.data())
def test_distinct_columns_group_equal_columns_whatever_the_hash(rows, columns, values, data):
    """An identity's cells are answered once per distinct column of its part ids: the grouping must be exact,
    through the hash, through the exact fallback a collision takes (every column hashing alike), and for
    more rows than there are multipliers."""
    flat = data.draw(st.lists(st.integers(0, values), min_size=rows * columns, max_size=rows * columns))
    block = np.array(flat, dtype=np.int64).reshape(rows, columns)
    tall = np.repeat(block, len(cells_module._SALT) // max(rows, 1) + 1, axis=0) if rows else block
    for found_block, salt in ((block, cells_module._SALT), (block, np.zeros_like(cells_module._SALT)), (tall, cells_module._SALT)):
        with mock.patch.object(cells_module, "_SALT", salt):
            first, inverse = cells_module._distinct_columns(found_block)
        expected = {tuple(found_block[:, c]) for c in range(columns)}
        assert len(first) == len(expected)
        for column in range(columns):  # each column is grouped with, and only with, the columns equal to it
            assert (found_block[:, column] == found_block[:, first[inverse[column]]]).all()
        assert len({tuple(found_block[:, f]) for f in first}) == len(first)


def test_cells_the_engine_answers_share_an_answer_only_with_the_clauses_their_enumeration_reads(tmp_path):
    """A Resource with a policy variable sends a cell to the engine, whose answers are shared by the actions its
    policies decide alike. In the management account the SCPs decide nothing ("SCPs don't affect users or roles
    in the management account", AWS Organizations User Guide, Service control policies), yet the enumeration reads
    their clauses: here an SCP's source-IP Deny on ResolveCase alone, so ResolveCase must not take the answer of
    the other support actions (which ran first), and each cell reads as its own evaluation does."""
    ip = {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.0/24"]}}
    details = {"UserDetailList": [user("bob", inline=[doc(
        {"Effect": "Allow", "Action": "support:*", "Resource": ["arn:aws:s3:::${aws:username}/*", "*"],
         "Condition": {"NotIpAddress": {"aws:SourceIp": "10.1.0.0/16"}}})])],
        "GroupDetailList": [], "RoleDetailList": [], "Policies": []}
    scps = {"levels": [{"target": "r-ab12", "policies": [
        {"Name": "FullAWSAccess", "Content": json.dumps(doc({"Effect": "Allow", "Action": "*", "Resource": "*"}))},
        {"Name": "Office", "Content": json.dumps(doc(
            {"Effect": "Deny", "Action": "support:ResolveCase", "Resource": "*", "Condition": ip}))}]}]}
    account = load_account(write(tmp_path, details, scps, None, management=True))
    got, matrix = answered(account)
    assert got == reference(account, matrix, None)
    # the IP ranges of the SCP are asked about for ResolveCase only
    assert "10.0.0.0/8" in got[(f"arn:aws:iam::{ACCOUNT}:user/bob", "support:ResolveCase")][1]
    assert "10.0.0.0/8" not in got[(f"arn:aws:iam::{ACCOUNT}:user/bob", "support:CreateCase")][1]
