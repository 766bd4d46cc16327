"""The command line as a whole: version, diff, and errors without tracebacks."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from supportkit import __version__
from supportkit.cli.main import main
from supportkit.iam.context import context_from_arguments

FINDINGS = Path(__file__).parents[1] / "data" / "findings"


def test_version_and_python_dash_m():
    done = subprocess.run([sys.executable, "-m", "supportkit", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == f"supportkit {__version__}"


def test_simulate_imports_neither_the_report_layer_nor_pandas(tmp_path):
    """Each command imports what it needs: simulate is pure IAM evaluation (pandas and the report layer, which
    only matrix and report need, cost it about half a second)."""
    requests = tmp_path / "requests.jsonl"
    requests.write_text(json.dumps({"principal": USER_ARN, "action": "support:DescribeCases"}) + "\n")
    probe = ("import sys; from supportkit.cli.main import main; main(['simulate', sys.argv[1]]); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'pyarrow', 'numpy') "
             "or m.startswith(('supportkit.report', 'supportkit.analysis', 'supportkit.snapshot'))))")
    done = subprocess.run([sys.executable, "-c", probe, str(requests)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"
    assert json.loads(done.stdout.splitlines()[0])["decision"] == "implicitDeny"


def test_report_arguments_come_with_the_report_command(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    assert "--executor ENGINE" in capsys.readouterr().out


def test_diff_lists_identity_changes_then_changed_cells_in_rows_of_one_shape(capsys):
    assert main(["diff", str(FINDINGS / "diff_before"), str(FINDINGS / "diff_after")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {tuple(line) for line in lines} == {(
        "change", "identity_arn", "identity_type", "identity_name", "action", "decision_before", "decision_after",
        "deciding_before", "deciding_after", "blocked_by_before", "blocked_by_after")}
    changes = [(line["identity_name"], line["change"]) for line in lines if line["action"] is None]
    assert changes == [("carl", "added"), ("dan", "removed")]
    cells = [line for line in lines if line["action"] is not None]
    assert {line["change"] for line in cells} == {"decision changed"}
    resolve = [c for c in cells if c["identity_name"] == "alice" and c["action"] == "support:ResolveCase"]
    assert [(c["decision_before"], c["decision_after"]) for c in resolve] == [("allowed", "explicitDeny")]


def test_context_arguments_parse_scalars_and_json_lists():
    assert context_from_arguments(
        ["aws:MultiFactorAuthPresent=true", 'aws:TagKeys=["env","team"]', "aws:SourceIp=1.2.3.4",
         "aws:CalledVia=a", "aws:CalledVia=b"]
    ) == {"aws:MultiFactorAuthPresent": "true", "aws:TagKeys": ["env", "team"], "aws:SourceIp": "1.2.3.4",
          "aws:CalledVia": ["a", "b"]}


def test_bad_input_is_one_line_on_stderr(tmp_path, capsys):
    broken = tmp_path / "authorization-details.json"
    broken.write_text('{"UserDetailList": [')
    assert main(["matrix", str(broken)]) == 2
    err = capsys.readouterr().err
    assert str(broken) in err and "line 1" in err and "Traceback" not in err
    assert main(["diff", str(broken), str(broken)]) == 2


ACCOUNT = "111122223333"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/u"


@pytest.mark.parametrize("name, content, message", [
    ("array.json", b'[{"UserName": "u"}]', ": expected the object that aws iam get-account-authorization-"
     "details prints (UserDetailList, GroupDetailList, RoleDetailList, Policies), not a list"),
    ("empty.json", b"", ": the file is empty"),
    ("fake.json.gz", b"\x1f\x8bnot gzip", ": not a complete gzip file"),
    ("plain.json.gz", b"not gzip at all", ", line 1: not valid JSON: Expecting value at column 1; the name ends in "
     ".gz, but the file is not gzip-compressed"),
    ("deep.json", b"[" * 100_000 + b"]" * 100_000, ": not readable: the JSON is nested too deeply"),
])
def test_unreadable_snapshots_end_in_one_line_naming_the_file(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    assert main(["matrix", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"supportkit matrix: error: {path}{message}") and err.count("\n") == 1, err


@pytest.mark.parametrize("field, problem", [
    ({"UserPolicyList": [{"PolicyName": "p", "PolicyDocument": "[1, 2]"}]},
     "at UserDetailList[0].UserPolicyList[0].PolicyDocument: a policy document must be a JSON object, not a list"),
    ({"Tags": [{"Key": "team", "Value": 5}]},
     'at UserDetailList[0].Tags[0]: a tag must be {"Key": string, "Value": string}'),
])
def test_a_bad_policy_or_tag_marks_only_its_identity_incomplete(tmp_path, capsys, field, problem):
    good = {"UserName": "v", "Arn": f"arn:aws:iam::{ACCOUNT}:user/v"}
    bad = {"UserName": "u", "Arn": USER_ARN, **field}
    path = tmp_path / "gaad.json"
    path.write_text(json.dumps({"UserDetailList": [bad, good, dict(bad)]}))  # u twice: the same user
    assert main(["matrix", str(path), "--format", "json"]) == 0
    captured = capsys.readouterr()
    incomplete = [line for line in captured.err.splitlines() if "incomplete" in line]
    assert incomplete == [f"supportkit matrix: incomplete: {USER_ARN}: gaad.json, {problem}"]
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert {(row["identity_arn"].rsplit(":", 1)[1], row["incomplete"]) for row in rows} == {
        ("root", False), ("user/u", True), ("user/v", False)}


def test_input_past_pythons_json_limits_never_ends_in_a_traceback(tmp_path, capsys):
    deep = "[" * 100_000 + "]" * 100_000
    requests = tmp_path / "deep.jsonl"
    requests.write_text('{"principal": ' + deep + "}\n")
    assert main(["simulate", str(requests)]) == 1
    captured = capsys.readouterr()
    assert [json.loads(line)["error"] for line in captured.out.splitlines()] == [
        "line 1: not valid JSON: nested too deeply"]
    big = tmp_path / "big.json"
    big.write_text('{"UserDetailList": [], "Marker": ' + "9" * 5000 + "}")
    assert main(["matrix", str(big)]) == 2
    assert capsys.readouterr().err == (
        f"supportkit matrix: error: {big}: not readable: Exceeds the limit (4300 digits) for integer string "
        "conversion\n")


def test_a_recursion_error_anywhere_is_one_line(tmp_path, monkeypatch, capsys):
    import supportkit.iam.simulate

    def too_deep(text):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(supportkit.iam.simulate, "read_requests", too_deep)
    requests = tmp_path / "requests.jsonl"
    requests.write_text("{}\n")
    assert main(["simulate", str(requests)]) == 2
    err = capsys.readouterr().err
    assert err == f"supportkit simulate: error: {requests}: the input is nested too deeply to read\n"


def test_a_one_element_json_list_stays_multivalued():
    assert context_from_arguments(['aws:TagKeys=["env"]', "aws:SourceIp=1.2.3.4"]) == {
        "aws:TagKeys": ["env"], "aws:SourceIp": "1.2.3.4"}


DEMO = Path(__file__).parents[2] / "data" / "demo"


def who_can(capsys, *args):
    assert main(["who-can", *args, "--format", "json"]) == 0
    return {line["principal"]: line for line in map(json.loads, capsys.readouterr().out.splitlines())}


def test_who_can_follows_the_demo_chain_identity_center_and_service_role(capsys):
    lines = who_can(capsys, "RESOLVE", str(DEMO / "management"))
    mgmt = "arn:aws:iam::111122223333"
    sam = lines[f"{mgmt}:user/sam.oncall"]
    assert (sam["kind"], sam["decision"], sam["via"]) == ("human", "allowed", "role chain")
    assert [(s["from"], s["to"], s["action"]) for s in sam["path"]] == [
        (f"{mgmt}:user/sam.oncall", f"{mgmt}:role/OpsJump", "sts:AssumeRole"),
        (f"{mgmt}:role/OpsJump", f"{mgmt}:role/CaseResolver", "sts:AssumeRole"),
    ]
    sso = lines["Identity Center permission set SupportEngineer"]
    assert sso["kind"] == "federated" and sso["path"][0]["action"] == "sts:AssumeRoleWithSAML"
    assert lines["supportapp.amazonaws.com"]["kind"] == "workload"
    assert lines[f"{mgmt}:root"]["kind"] == "root"


def test_who_can_states_mfa_and_cross_account_conditions(capsys):
    sandbox = who_can(capsys, "support:ResolveCase", str(DEMO / "sandbox-dev"))
    kim = sandbox["arn:aws:iam::777788889999:user/kim.support"]
    assert kim["decision"] == "conditional"
    assert kim["conditions"] == [[{"key": "aws:MultiFactorAuthPresent", "relation": "=", "value": "true"}]]
    prod = who_can(capsys, "support:ResolveCase", str(DEMO / "workload-prod"))
    external = prod["arn:aws:iam::111122223333:root"]
    assert (external["kind"], external["decision"]) == ("external", "conditional")
    assert external["path"][0]["to"] == "arn:aws:iam::444455556666:role/ProdSupportLead"
    assert external["caveats"]


def test_who_can_table_and_unknown_target(capsys):
    assert main(["who-can", "Resolve support cases", str(DEMO / "sandbox-dev")]) == 0
    table = capsys.readouterr().out.splitlines()
    assert any(line.split()[:2] == ["human", "conditional"] and "kim.support" in line for line in table)
    assert main(["who-can", "support:ResolveCas", str(DEMO / "sandbox-dev")]) == 2
    err = capsys.readouterr().err
    assert "did you mean support:ResolveCase" in err and "Traceback" not in err


def test_matrix_json_writes_slashes_plain_and_keeps_backslashes(tmp_path, capsys):
    name = "a\\b"  # a backslash in the name, then the ARN's slashes: unescaping wrongly would change the ARN
    details = {"UserDetailList": [{"UserName": name, "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "UserId": "AIDAX",
                                   "Path": "/", "UserPolicyList": [], "GroupList": [], "AttachedManagedPolicies": []}],
               "GroupDetailList": [], "RoleDetailList": [], "Policies": []}
    source = tmp_path / "authorization-details.json"
    source.write_text(json.dumps(details))
    assert main(["matrix", str(source), "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert "\\/" not in out.replace("\\\\", "")  # no escaped slash anywhere
    arns = {json.loads(line)["identity_arn"] for line in out.splitlines()}
    assert arns == {f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{ACCOUNT}:user/{name}"}


def test_a_closed_pipe_ends_the_matrix_quietly(tmp_path):
    """`supportkit matrix ... | head`: status 0, nothing on stderr (no "Broken pipe" error, no traceback)."""
    command = f"{sys.executable} -m supportkit matrix {FINDINGS / 'diff_after'} | head -c 100 >/dev/null; " \
              "echo ${PIPESTATUS[0]} >&2"
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert done.stderr.strip() == "0"
