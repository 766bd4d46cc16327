"""`supportkit report`: per-account HTML from the packaged notebook, an index, isolation of failures, escaping."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import nbformat
import pytest

from supportkit import report
from supportkit.errors import SupportkitError
from supportkit.context import context_from_arguments
from supportkit.report import HEADLINE_MIME, ReportSummary, run_reports, validate_parameters

SANITIZE = Path(__file__).with_name("nbval_sanitize.cfg")
PROJECT_ROOT = Path(report.__file__).resolve().parents[1]

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
HOSTILE_ID = "012345678901"  # a leading zero: it must stay a string all the way
PLAIN_ID = "210987654321"


def allow(*actions: str, sid: str | None = None, effect: str = "Allow") -> dict:
    statement = {"Effect": effect, "Action": list(actions), "Resource": "*"}
    if sid:
        statement["Sid"] = sid
    return {"Version": "2012-10-17", "Statement": [statement]}


def user(account: str, name: str, *, inline: dict | None = None, managed: tuple[str, ...] = (), tags=()) -> dict:
    return {
        "Path": "/", "UserName": name, "UserId": f"AIDA{zlib.crc32(name.encode()):010d}",
        "Arn": f"arn:aws:iam::{account}:user/{name}", "CreateDate": "2024-01-02T03:04:05Z", "GroupList": [],
        "UserPolicyList": [{"PolicyName": "inline", "PolicyDocument": inline}] if inline else [],
        "AttachedManagedPolicies": [{"PolicyArn": arn, "PolicyName": arn.rsplit("/", 1)[-1]} for arn in managed],
        "Tags": [{"Key": key, "Value": value} for key, value in tags],
    }


def role(account: str, name: str, *, inline: dict | None = None, managed: tuple[str, ...] = ()) -> dict:
    return {
        "Path": "/", "RoleName": name, "RoleId": f"AROA{zlib.crc32(name.encode()):010d}",
        "Arn": f"arn:aws:iam::{account}:role/{name}", "CreateDate": "2024-01-02T03:04:05Z",
        "AssumeRolePolicyDocument": allow("sts:AssumeRole"),
        "RolePolicyList": [{"PolicyName": "inline", "PolicyDocument": inline}] if inline else [],
        "AttachedManagedPolicies": [{"PolicyArn": arn, "PolicyName": arn.rsplit("/", 1)[-1]} for arn in managed],
        "Tags": [],
    }


def managed_policy(account: str, name: str, document: dict) -> dict:
    return {
        "PolicyName": name, "PolicyId": f"ANPA{name}", "Arn": f"arn:aws:iam::{account}:policy/{name}", "Path": "/",
        "DefaultVersionId": "v1", "AttachmentCount": 1, "IsAttachable": True,
        "PolicyVersionList": [{"Document": document, "VersionId": "v1", "IsDefaultVersion": True}],
    }


def write_snapshot(folder: Path, details: dict, account: dict | None = None) -> Path:
    """A snapshot folder as `supportkit fetch` writes it: authorization-details.json, optionally account.json."""
    folder.mkdir(parents=True)
    (folder / "authorization-details.json").write_text(json.dumps(details), encoding="utf-8")
    if account is not None:
        (folder / "account.json").write_text(json.dumps(account), encoding="utf-8")
    return folder


def hostile_details(account: str = HOSTILE_ID) -> dict:
    """Users who can open, read and resolve cases, with markup in names, tags, Sids and a broken policy."""
    return {
        "UserDetailList": [
            user(account, "alice", inline=allow("support:*")),
            user(account, IMG, inline=allow("support:CreateCase", sid="<b>sid</b>"), tags=[("team", SCRIPT)]),
        ],
        "GroupDetailList": [],
        "RoleDetailList": [
            role(account, "reader", managed=(f"arn:aws:iam::{account}:policy/SupportReader",)),
            role(account, "broken", inline=allow("support:*", effect=IMG)),
        ],
        "Policies": [managed_policy(account, "SupportReader", allow("support:DescribeCases"))],
    }


def plain_details(account: str = PLAIN_ID) -> dict:
    return {
        "UserDetailList": [user(account, "bob", inline=allow("s3:GetObject"))],
        "GroupDetailList": [], "RoleDetailList": [], "Policies": [],
    }


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of three snapshots: one full of markup, one plain, one whose JSON is cut short."""
    root = tmp_path_factory.mktemp("snapshots")
    write_snapshot(root / "hostile", hostile_details(), {"account_id": HOSTILE_ID, "name": SCRIPT})
    write_snapshot(root / "plain", plain_details())
    broken = write_snapshot(root / "truncated", plain_details("333344445555"))
    text = (broken / "authorization-details.json").read_text()
    (broken / "authorization-details.json").write_text(text[: len(text) // 2])
    return root


@pytest.fixture(scope="module")
def reports(snapshots: Path, tmp_path_factory: pytest.TempPathFactory) -> ReportSummary:
    return run_reports([snapshots], tmp_path_factory.mktemp("reports"), workers=2, quiet=True, title=IMG)


def by_stem(summary: ReportSummary) -> dict:
    return {account.stem: account for account in summary.accounts}


# Parameters are checked before anything runs


def test_an_unknown_parameter_is_refused_with_the_names_the_notebook_takes():
    with pytest.raises(SupportkitError, match=r"has no parameter 'bogus'; it takes snapshot, account_id, context"):
        validate_parameters({"snapshot": "x", "bogus": 1})


def test_a_parameter_of_the_wrong_type_is_refused():
    with pytest.raises(SupportkitError, match=r"'account_id' .* must be a str, not int"):
        validate_parameters({"account_id": 12345678901})


def test_a_notebook_lacking_a_parameter_the_driver_passes_stops_the_run_before_it_starts(tmp_path, snapshots):
    notebook = nbformat.read(report.NOTEBOOK, as_version=4)
    parameters = next(cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", []))
    parameters.source = "\n".join(line for line in parameters.source.splitlines() if not line.startswith("title"))
    custom = tmp_path / "custom.ipynb"
    nbformat.write(notebook, custom)
    out = tmp_path / "out"
    with pytest.raises(SupportkitError, match="custom.ipynb has no parameter 'title'"):
        run_reports([snapshots], out, notebook=custom)
    assert not out.exists()


def test_bad_context_and_missing_paths_stop_the_run_with_a_clear_error(tmp_path, snapshots):
    with pytest.raises(SupportkitError, match="context key 'aws:SourceIp'"):
        run_reports([snapshots], tmp_path / "out", context={"aws:SourceIp": {"not": "a scalar"}})
    with pytest.raises(SupportkitError, match="no such file or folder"):
        run_reports([tmp_path / "nowhere"], tmp_path / "out")
    with pytest.raises(SupportkitError, match="at least 1"):
        run_reports([snapshots], tmp_path / "out", workers=0)


# One run over three snapshots


def test_good_accounts_get_their_report_and_the_failing_one_its_error(reports):
    accounts = by_stem(reports)
    assert list(accounts) == [HOSTILE_ID, PLAIN_ID, "truncated"]
    for stem in (HOSTILE_ID, PLAIN_ID):
        assert accounts[stem].ok
        assert (reports.out_dir / f"{stem}.html").is_file()
        assert (reports.out_dir / f"{stem}.ipynb").is_file()
    failed = accounts["truncated"]
    assert reports.failed == (failed,)
    assert reports.exit_status == 1
    assert "authorization-details.json, line 1: not valid JSON" in failed.error
    assert "\n" not in failed.error
    assert not (reports.out_dir / "truncated.html").exists()
    index = reports.index.read_text()
    assert "error: " in index and "not valid JSON" in index


def test_the_headline_counts_who_can_open_read_and_resolve_cases(reports):
    hostile = by_stem(reports)[HOSTILE_ID]
    # root and alice (support:*) can do every support: action; the markup user can open cases; the reader role
    # can read them; only root can change the plan; root and alice reach Trusted Advisor through the Support API;
    # the role with an unreadable policy is incomplete and gets nothing from it.
    assert hostile.headline == {
        "identities": 5, "can_open_cases": 3, "can_read_all_cases": 3, "can_resolve_cases": 2, "can_change_plan": 1,
        "trusted_advisor_users": 2, "incomplete_identities": 1,
    }
    assert by_stem(reports)[PLAIN_ID].headline["can_open_cases"] == 1  # the root user only
    index = reports.index.read_text()
    assert re.search(rf'<a href="{HOSTILE_ID}.html">{HOSTILE_ID}</a>.*?(<td class="number">\d+</td>){{7}}', index)


def test_account_ids_reach_the_notebook_as_strings(reports):
    executed = nbformat.read(reports.out_dir / f"{HOSTILE_ID}.ipynb", as_version=4)
    injected = next(cell for cell in executed.cells if "injected-parameters" in cell.metadata.get("tags", []))
    assert f'account_id = "{HOSTILE_ID}"' in injected.source
    assert by_stem(reports)[HOSTILE_ID].account_id == HOSTILE_ID


@pytest.mark.parametrize("page", [f"{HOSTILE_ID}.html", "index.html"])
def test_markup_from_the_input_is_shown_as_text(reports, page):
    text = (reports.out_dir / page).read_text()
    for hostile in (SCRIPT, IMG):
        assert hostile not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text  # the title, and in the report a user name
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # the account name, and in the report a tag value
    if page != "index.html":  # the broken role's problem quotes the policy's Effect
        assert "must be 'Allow' or 'Deny', not '&lt;img src=x onerror=alert(1)&gt;'" in text


@pytest.mark.parametrize("page", [f"{HOSTILE_ID}.html", f"{PLAIN_ID}.html", "index.html"])
def test_pages_reference_nothing_on_the_network_and_run_no_script(reports, page):
    text = (reports.out_dir / page).read_text()
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text, re.IGNORECASE)
    assert not re.search(r"<script\b", text, re.IGNORECASE)
    assert "Content-Security-Policy" in text
    if page != "index.html":
        assert re.search(r'<img [^>]*src="data:image/png;base64,', text)


def test_a_failing_notebook_cell_reports_its_error_in_one_line_and_keeps_the_executed_notebook(tmp_path, snapshots):
    notebook = nbformat.read(report.NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell('raise ValueError("<b>boom</b>\\nsecond line")'))
    custom = tmp_path / "failing.ipynb"
    nbformat.write(notebook, custom)
    summary = run_reports([snapshots / "plain"], tmp_path / "out", quiet=True, notebook=custom)
    (failed,) = summary.failed
    assert re.fullmatch(r"notebook cell \[\d+\]: ValueError: <b>boom</b> second line", failed.error)
    assert failed.html is None and not (summary.out_dir / f"{PLAIN_ID}.html").exists()
    assert failed.notebook == summary.out_dir / f"{PLAIN_ID}.ipynb" and failed.notebook.is_file()
    index = summary.index.read_text()
    assert "ValueError: &lt;b&gt;boom&lt;/b&gt; second line" in index
    assert f'<a href="{PLAIN_ID}.ipynb">executed notebook</a>' in index
    assert summary.exit_status == 1


# Pieces


def test_notebooks_run_in_a_kernel_of_this_interpreter_with_parameters_keeping_their_values(tmp_path):
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell('account_id = ""\ntitle = ""', metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("import json, sys\nprint(json.dumps([sys.executable, account_id, title]))"),
        ],
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
    )
    nbformat.write(notebook, tmp_path / "probe.ipynb")
    parameters = {"account_id": "000011112222", "title": 'a "quoted" \\ back\nslash ünï <b>'}
    executed = report._execute(tmp_path / "probe.ipynb", tmp_path / "out.ipynb", parameters, tmp_path)
    assert json.loads(executed.cells[-1].outputs[0].text) == [sys.executable, *parameters.values()]


def test_file_names_are_account_ids_with_the_snapshot_name_when_an_account_repeats(tmp_path):
    sources = [tmp_path / "2024-01", tmp_path / "2024-02", tmp_path / "other", tmp_path / "index", tmp_path / "a b"]
    ids = ["111122223333", "111122223333", "444455556666", None, None]
    assert report._stems(sources, ids) == [
        "111122223333-2024-01", "111122223333-2024-02", "444455556666", "index-2", "a_b",
    ]


def test_default_workers_are_bounded_by_accounts_cores_and_four(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert [report.default_workers(n) for n in (1, 3, 40)] == [1, 3, 4]
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert report.default_workers(40) == 1


def test_command_line_arguments_map_onto_run_reports(tmp_path):
    parser = argparse.ArgumentParser()
    report.add_report_arguments(parser)
    args = parser.parse_args([
        "a", "b", "-o", str(tmp_path), "--workers", "2", "--quiet", "--context", "aws:SourceIp=10.0.0.1",
        "--context", "aws:TagKeys=team", "--context", "aws:TagKeys=env",
    ])
    assert args.paths == [Path("a"), Path("b")] and args.out_dir == tmp_path and args.workers == 2 and args.quiet
    assert context_from_arguments(args.context) == {"aws:SourceIp": "10.0.0.1", "aws:TagKeys": ["team", "env"]}
    assert args.run is report.run_report_command
    with pytest.raises(SystemExit):
        parser.parse_args(["a", "-o", str(tmp_path), "--workers", "0"])


# Outputs are stable run to run (nbval)


def sanitize_patterns() -> list[tuple[str, str]]:
    """The regex/replace pairs of nbval_sanitize.cfg, read the way nbval reads them."""
    return re.findall(r"^regex: (.*)$\n^replace: (.*)$", SANITIZE.read_text(), re.MULTILINE)


def sanitized_outputs(path: Path) -> list[str]:
    notebook = nbformat.read(path, as_version=4)
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            kept = {key: value for key, value in output.items() if key not in ("metadata", "execution_count")}
            text = json.dumps(kept, sort_keys=True)
            for regex, replace in sanitize_patterns():
                text = re.sub(regex, replace, text)
            texts.append(text)
    return texts


def test_report_outputs_are_the_same_run_to_run_and_pass_nbval(reports, snapshots, tmp_path):
    again = run_reports([snapshots / "hostile"], tmp_path / "again", quiet=True, title=IMG)
    assert not again.failed
    first, second = reports.out_dir / f"{HOSTILE_ID}.ipynb", again.out_dir / f"{HOSTILE_ID}.ipynb"
    outputs = sanitized_outputs(second)
    assert any(HEADLINE_MIME in output for output in outputs) and any("image/png" in output for output in outputs)
    assert outputs == sanitized_outputs(first)  # figures included: nbval only compares them with nbdime

    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", str(second), "--nbval-sanitize-with", str(SANITIZE),
         "--nbval-current-env", "-p", "no:cacheprovider", "-q", "--rootdir", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\b\d+ passed\b", result.stdout)
