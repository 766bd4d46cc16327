"""The command line as a whole: version, diff, and errors without tracebacks."""

import json
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


def test_diff_lists_identity_changes_then_changed_cells(capsys):
    assert main(["diff", str(FINDINGS / "diff_before"), str(FINDINGS / "diff_after")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    changes = [(line["identity_arn"].rsplit("/", 1)[-1], line["change"]) for line in lines if "change" in line]
    assert changes == [("carl", "added"), ("dan", "removed")]
    cells = [line for line in lines if "action" in line]
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
