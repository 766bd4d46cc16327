"""The command line as a whole: version, diff, and errors without tracebacks."""

import json
import subprocess
import sys
from pathlib import Path

from supportkit import __version__
from supportkit.cli import main
from supportkit.context import context_from_arguments

FINDINGS = Path(__file__).parent / "data" / "findings"


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
