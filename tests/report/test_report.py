"""`supportkit report`: per-account HTML from the packaged notebook, an index, isolation of failures, escaping."""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import os
import re
import subprocess
import sys
import threading
import zlib
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from supportkit.report import pipeline as report
from supportkit.errors import SupportkitError
from supportkit.report.executors import ExecutorSpec
from supportkit.report.pipeline import (
    HEADLINE_LABELS, HEADLINE_MIME, ReportSummary, run_reports, validate_parameters,
)
from supportkit.report.render import TABLE_DATA_TYPE
from supportkit.support.catalog import load_catalog

CAPABILITIES = {action.capability for action in load_catalog()}

SANITIZE = Path(__file__).parents[1] / "nbval_sanitize.cfg"
PROJECT_ROOT = Path(report.__file__).resolve().parents[2]

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
# More markup, one string per place the input reaches a report; each uses a tag the report itself never writes.
SID = '<script>alert("sid")</script>'
POLICY = "<u onclick='alert(2)'>inline policy</u>"
MANAGED = "<iframe srcdoc=x onload=alert(3)>"
GROUP = "<b onmouseover=alert(4)>ops</b>"
CONDITION_KEY = "aws:PrincipalTag/<em>k</em>"
BAD_IP = "<svg onload=alert(5)>"
SCP = "<marquee onstart=alert(6)>"
TARGET = "<object data=x>"
# A name matplotlib would read as mathtext, where the unknown \notacommand stops the figure with an error.
DOLLAR = "$\\notacommand$ a$$b"
HOSTILE_ID = "012345678901"  # a leading zero: it must stay a string all the way
PLAIN_ID = "210987654321"


def allow(*actions: str, sid: str | None = None, effect: str = "Allow", **extra) -> dict:
    statement = {"Effect": effect, "Action": list(actions), "Resource": "*", **extra}
    if sid:
        statement["Sid"] = sid
    return {"Version": "2012-10-17", "Statement": [statement]}


def user(account: str, name: str, *, inline: dict | None = None, managed: tuple[str, ...] = (), tags=(),
         groups: tuple[str, ...] = (), policies: tuple[tuple[str, dict], ...] = ()) -> dict:
    inline_policies = ((("inline", inline),) if inline else ()) + policies
    return {
        "Path": "/", "UserName": name, "UserId": f"AIDA{zlib.crc32(name.encode()):010d}",
        "Arn": f"arn:aws:iam::{account}:user/{name}", "CreateDate": "2024-01-02T03:04:05Z", "GroupList": list(groups),
        "UserPolicyList": [{"PolicyName": key, "PolicyDocument": document} for key, document in inline_policies],
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


def group(account: str, name: str, policies: tuple[tuple[str, dict], ...]) -> dict:
    return {
        "Path": "/", "GroupName": name, "GroupId": f"AGPA{zlib.crc32(name.encode()):010d}",
        "Arn": f"arn:aws:iam::{account}:group/{name}", "CreateDate": "2024-01-02T03:04:05Z",
        "GroupPolicyList": [{"PolicyName": key, "PolicyDocument": document} for key, document in policies],
        "AttachedManagedPolicies": [],
    }


def managed_policy(account: str, name: str, document: dict) -> dict:
    return {
        "PolicyName": name, "PolicyId": f"ANPA{zlib.crc32(name.encode()):010d}",
        "Arn": f"arn:aws:iam::{account}:policy/{name}", "Path": "/",
        "DefaultVersionId": "v1", "AttachmentCount": 1, "IsAttachable": True,
        "PolicyVersionList": [{"Document": document, "VersionId": "v1", "IsDefaultVersion": True}],
    }


def write_snapshot(folder: Path, details: dict, account: dict | None = None, scps: dict | None = None) -> Path:
    """A snapshot folder as `supportkit fetch` writes it: authorization-details.json, maybe account.json, scps.json."""
    folder.mkdir(parents=True)
    (folder / "authorization-details.json").write_text(json.dumps(details), encoding="utf-8")
    if account is not None:
        (folder / "account.json").write_text(json.dumps(account), encoding="utf-8")
    if scps is not None:
        (folder / "scps.json").write_text(json.dumps(scps), encoding="utf-8")
    return folder


def hostile_details(account: str = HOSTILE_ID) -> dict:
    """Identities who can open, read and resolve cases, with markup in every name, tag, Sid and message.

    alice (support:*) and the markup user (support:CreateCase, Sid <b>sid</b>, a tag) open cases; the $ user
    reads them through its group's inline policy (a Sid of markup), is denied ResolveCase under a condition on a
    tag key of markup, and has a policy left out for a condition value of markup; the reader role reads them
    through a managed policy named with markup; the broken role's policy has markup as its Effect.
    """
    no_resolve = allow("support:ResolveCase", effect="Deny", Condition={"StringEquals": {CONDITION_KEY: "x"}})
    bad_ip = allow("support:*", Condition={"IpAddress": {"aws:SourceIp": BAD_IP}})
    return {
        "UserDetailList": [
            user(account, "alice", inline=allow("support:*")),
            user(account, IMG, inline=allow("support:CreateCase", sid="<b>sid</b>"), tags=[("team", SCRIPT)]),
            user(account, DOLLAR, groups=(GROUP,), tags=[("cost", "$$")],
                 policies=(("no-resolve", no_resolve), ("bad-ip", bad_ip))),
        ],
        "GroupDetailList": [group(account, GROUP, ((POLICY, allow("support:DescribeCases", sid=SID)),))],
        "RoleDetailList": [
            role(account, "reader", managed=(f"arn:aws:iam::{account}:policy/{MANAGED}",)),
            role(account, "broken", inline=allow("support:*", effect=IMG)),
        ],
        "Policies": [managed_policy(account, MANAGED, allow("support:DescribeCases"))],
    }


def hostile_scps() -> dict:
    """One SCP level, named with markup, that allows everything but changing the support plan."""
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "supportplans:*", "Resource": "*"}]}
    return {"levels": [{"target": TARGET, "policies": [{"Name": SCP, "Content": document}]}]}


def plain_details(account: str = PLAIN_ID, users: int = 0) -> dict:
    """bob, who can do nothing with AWS Support, and ``users`` more like him."""
    return {
        "UserDetailList": [user(account, name, inline=allow("s3:GetObject"))
                           for name in ["bob", *(f"user-{n:03d}" for n in range(users))]],
        "GroupDetailList": [], "RoleDetailList": [], "Policies": [],
    }


PLAIN_USERS = 80  # with root and bob, 82 identities: more than one heatmap holds (80)


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of three snapshots: one full of markup, one plain and large, one whose JSON is cut short."""
    root = tmp_path_factory.mktemp("snapshots")
    write_snapshot(root / "hostile", hostile_details(), {"account_id": HOSTILE_ID, "name": SCRIPT}, hostile_scps())
    write_snapshot(root / "plain", plain_details(users=PLAIN_USERS))
    broken = write_snapshot(root / "truncated", plain_details("333344445555"))
    text = (broken / "authorization-details.json").read_text()
    (broken / "authorization-details.json").write_text(text[: len(text) // 2])
    return root


@pytest.fixture(scope="module")
def reports(snapshots: Path, tmp_path_factory: pytest.TempPathFactory) -> ReportSummary:
    return run_reports([snapshots], tmp_path_factory.mktemp("reports"), workers=2, quiet=True, title=IMG)


def by_stem(summary: ReportSummary) -> dict:
    return {account.stem: account for account in summary.accounts}


class Page(HTMLParser):
    """An HTML page as a browser parses it: its tags, their attributes, its text and its style sheets."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self.styles: list[str] = []
        self._in_style = False
        self.feed(text)
        self.close()
        self.text = "".join(self.texts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"
        self.styles.extend(value for name, value in attrs if name == "style" and value)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._in_style = False

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        (self.styles if self._in_style else self.texts).append(data)


def page(summary: ReportSummary, name: str) -> Page:
    return Page((summary.out_dir / name).read_text(encoding="utf-8"))


# Parameters are checked before anything runs


def test_an_unknown_parameter_is_refused_with_the_names_the_notebook_takes():
    with pytest.raises(SupportkitError, match=r"has no parameter 'bogus'; it takes analysis, snapshot, account_id, context"):
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


def test_reports_have_the_mode_of_the_notebooks_beside_them_and_the_index_names_snapshots_relatively(reports,
                                                                                                    snapshots):
    mask = os.umask(0o022)
    os.umask(mask)
    for stem in (HOSTILE_ID, PLAIN_ID):
        modes = {(reports.out_dir / f"{stem}.{suffix}").stat().st_mode & 0o777 for suffix in ("html", "ipynb")}
        assert modes == {0o666 & ~mask}
    assert reports.index.stat().st_mode & 0o777 == 0o666 & ~mask
    index = reports.index.read_text()
    assert str(snapshots) not in index and str(reports.out_dir) not in index
    assert f"<td>{os.path.relpath(snapshots / 'hostile', reports.out_dir)}</td>" in index


def test_the_command_prints_a_line_per_account_and_a_summary_and_errors_with_its_prefix(snapshots, tmp_path,
                                                                                       capsys):
    from supportkit.cli.main import main

    status = main(["report", str(snapshots / "plain"), str(snapshots / "truncated"), "-o", str(tmp_path)])
    out, err = capsys.readouterr()
    assert status == 1
    lines = err.splitlines()
    assert "supportkit report: truncated: failed" in lines  # stderr is not a terminal here: no progress bar
    assert any(re.fullmatch(rf"supportkit report: \[2/2\] {PLAIN_ID}: report in \d+\.\d s", line) for line in lines)
    (error,) = [line for line in lines if "error:" in line]
    assert error.startswith("supportkit report: error: ") and "not valid JSON" in error
    assert error.count("authorization-details.json") == 1  # the path once, not the folder and then the file
    summary = out.splitlines()
    assert summary[0].split() == ["account", "open", "read", "resolve", "critical", "high", "medium", "low", "info"]
    assert summary[1].split() == [PLAIN_ID, "1", "1", "1", "0", "0", "1", "0", "0"]  # root only: one medium finding
    assert summary[2].split() == ["truncated", "failed"]
    assert summary[3].endswith("1 of 2 reports in " + summary[3].rsplit(" in ", 1)[1])


def test_the_headline_counts_who_can_open_read_and_resolve_cases(reports):
    hostile = by_stem(reports)[HOSTILE_ID]
    # root and alice (support:*) can do every support: action but change the plan, which the SCP denies; the
    # markup user can open cases; the $ user (through its group) and the reader role can read them; root and alice
    # reach Trusted Advisor through the Support API; the broken role and the $ user each have a policy left out.
    # None but root holds support-console: actions, which Support Center needs since 16 November 2026 ("Adding
    # IAM policies for the Support Center Console API operations", AWS Support User Guide,
    # https://docs.aws.amazon.com/awssupport/latest/user/support-console-access-control.html): the four others
    # with case access cannot use it. Only root may create support permits.
    assert hostile.headline == {
        "identities": 6, "can_open_cases": 3, "can_read_all_cases": 4, "can_resolve_cases": 2, "can_change_plan": 0,
        "trusted_advisor_users": 2, "console_broken": 4, "can_permit_support": 1, "incomplete_identities": 2,
        # no decision of the account depends on the request: nobody is allowed only under conditions
        "can_open_cases_conditionally": 0, "can_read_all_cases_conditionally": 0,
        "can_resolve_cases_conditionally": 0, "can_change_plan_conditionally": 0,
        "can_permit_support_conditionally": 0, "trusted_advisor_users_conditionally": 0,
    }
    # Findings: three readers besides root (a few: medium); Support Center lacks actions for the markup user,
    # the $ user, alice, whose support:* holds no support-console: action, and the reader role, whose trust
    # policy names no Principal and is left out, so who signs in as it is unknown (medium each: "Adding IAM
    # policies for the Support Center Console API operations", AWS Support User Guide); two incomplete
    # identities (medium); alice has the Support API's Trusted Advisor operations without trustedadvisor:
    # (low). The SCP denies supportplans:*.
    assert hostile.severities == {"critical": 0, "high": 0, "medium": 7, "low": 1, "info": 0}
    assert by_stem(reports)[PLAIN_ID].headline["can_open_cases"] == 1  # the root user only
    index = reports.index.read_text()
    numbers = "".join(rf'<td class="number{" zero" if n == 0 else ""}">{n}</td>'
                      for n in [*(hostile.headline[key] for key in HEADLINE_LABELS), 0, 0, 7, 1, 0])
    assert re.search(rf'<a href="{HOSTILE_ID}.html">{HOSTILE_ID}</a>.*?{numbers}', index)


def test_the_index_and_the_summary_count_apart_who_is_allowed_only_under_conditions(tmp_path):
    from supportkit.report.pipeline import SEVERITIES, AccountFacts, AccountReport, _index_html, summary_text

    headline = {**{key: 1 for key in HEADLINE_LABELS}, "can_resolve_cases": 3, "can_resolve_cases_conditionally": 2,
                "can_open_cases_conditionally": 0}
    facts = AccountFacts("111122223333", "a", None, "2026-12-01T00:00:00+00:00", 0, 0, False)
    report = AccountReport(tmp_path / "a", "a", facts, headline, dict.fromkeys(SEVERITIES, 0), None,
                           tmp_path / "a.html", None, 0.1)
    index = _index_html([report], tmp_path)
    assert "<td>3 + 2 under conditions</td>" in index  # resolve: 3 whatever the request, 2 more under conditions
    assert index.count("under conditions</td>") == 1  # a zero count under conditions is not shown
    lines = summary_text(ReportSummary(tmp_path, tmp_path / "index.html", (report,), 1, 0.5)).splitlines()
    assert lines[1].split() == ["a", "1", "1", "3+2", "0", "0", "0", "0", "0"]


def test_account_ids_reach_the_notebook_as_strings(reports):
    executed = nbformat.read(reports.out_dir / f"{HOSTILE_ID}.ipynb", as_version=4)
    injected = next(cell for cell in executed.cells if "injected-parameters" in cell.metadata.get("tags", []))
    assert f'account_id = "{HOSTILE_ID}"' in injected.source
    assert by_stem(reports)[HOSTILE_ID].account_id == HOSTILE_ID


# What the input can put in a page: text only

MARKUP = [SCRIPT, IMG, SID, POLICY, MANAGED, GROUP, CONDITION_KEY, BAD_IP, SCP, TARGET]
PAGE_TAGS = {  # every element the template and supportkit.report.render write
    "html", "head", "meta", "title", "style", "body", "main", "div", "a", "h1", "h2", "h3", "p", "strong",
    "span", "table", "thead", "tbody", "tr", "th", "td", "details", "summary", "section", "nav", "ol", "ul", "li",
    "dl", "dt", "dd", "svg", "text", "rect", "script",
}


def table_data(summary: ReportSummary, name: str) -> dict[str, list[list]]:
    """The rows of each interactive table of a page, decoded as the browser will show them."""
    raw = (summary.out_dir / name).read_text(encoding="utf-8")
    tables = {}
    pattern = rf'<script type="{re.escape(TABLE_DATA_TYPE)}" data-table="([^"]+)">(.*?)</script>'
    for table, text in re.findall(pattern, raw, re.S):
        arguments = json.loads(text)
        rows = json.loads(arguments["data_json"])
        for column, values in arguments.get("skit_codes", {}).items():  # as the shipped script expands them
            for row in rows:
                row[int(column)] = values[row[int(column)]]
        tables[table] = [[html.unescape(cell) if isinstance(cell, str) else cell for cell in row] for row in rows]
    return tables


def test_every_input_string_is_shown_as_text_in_the_report(reports):
    shown = page(reports, f"{HOSTILE_ID}.html").text
    expected = [
        f"{IMG}Account{HOSTILE_ID} ({SCRIPT})Snapshothostile",  # the title, the account's id and name
        f"Tagsteam={SCRIPT}",  # a tag, in the identity's details
        f"user {IMG}ARN",  # an identity name, heading its details
        f"user {DOLLAR}ARN", "cost=$$",  # a name and a tag that matplotlib would read as mathtext
        f"Groups{GROUP}",  # a group name
        f"policy {f'group/{GROUP}: {POLICY} (inline)'!r} Statement[0] (Sid {SID})",  # an explanation (a cell's title)
        "(Sid <b>sid</b>)",
        f"Allow in identity policy '{MANAGED}' Statement[0]",  # a managed policy name
        f"'{BAD_IP}' is not an IP address or CIDR range",  # a condition value, in the problem that leaves it out
        f"must be 'Allow' or 'Deny', not '{IMG}'",  # an Effect, in the broken role's problem
        f"SCP level 0 ({TARGET}) policy '{SCP}'",  # an SCP's name and target, in an explanation
        f"the last SCP level targets {TARGET}",  # and in a loader warning
    ]
    assert [text for text in expected if text not in shown] == []
    tables = table_data(reports, f"{HOSTILE_ID}.html")
    assert sorted(tables) == ["explanations-table", "findings-table", "identities-table"]
    cells = {cell for rows in tables.values() for row in rows for cell in row if isinstance(cell, str)}
    assert {f"user {IMG}", f"user {DOLLAR}"} <= cells
    assert any(CONDITION_KEY.lower() in cell for cell in cells)  # a condition key the Deny reads (context keys)


@pytest.mark.parametrize("name", [f"{HOSTILE_ID}.html", "index.html"])
def test_no_markup_from_the_input_survives_in_a_page(reports, name):
    parsed = page(reports, name)
    assert {tag for tag, _ in parsed.tags} <= PAGE_TAGS
    handlers = [(tag, attribute) for tag, attributes in parsed.tags for attribute in attributes
                if attribute.lower().startswith("on")]
    assert handlers == []
    values = [value for _, attributes in parsed.tags for value in attributes.values() if value]
    assert [value for value in values if any(markup in value for markup in MARKUP)] == []
    raw = (reports.out_dir / name).read_text(encoding="utf-8")
    assert [markup for markup in MARKUP if markup in raw] == []
    if name == "index.html":
        assert SCRIPT in parsed.text and IMG in parsed.text  # the account name and the title


def network_references(parsed: Page) -> list[str]:
    """Everything in a page that could make a browser fetch: URL attributes not data: nor in-page, CSS imports and
    url()s not data:, and the elements that load or run something."""
    found = [f"<{tag}>" for tag, _ in parsed.tags if tag in {"link", "iframe", "object", "embed", "base"}]
    found += [f"<script src={attributes['src']}>" for tag, attributes in parsed.tags
              if tag == "script" and attributes.get("src")]
    for tag, attributes in parsed.tags:
        for attribute in ("src", "href", "srcset", "action", "formaction", "poster", "data", "background"):
            value = (attributes.get(attribute) or "").strip()
            if value and not value.startswith(("data:", "#")) and (":" in value or value.startswith("//")):
                found.append(f"<{tag} {attribute}={value[:60]}>")
    for css in parsed.styles:
        found += re.findall(r"@import[^;]*", css, re.IGNORECASE)
        found += [url for url in re.findall(r"url\(\s*['\"]?([^'\")]*)", css, re.IGNORECASE)
                  if not url.startswith("data:")]
    return found


@pytest.mark.parametrize("name", [f"{HOSTILE_ID}.html", f"{PLAIN_ID}.html", "index.html"])
def test_pages_reference_nothing_on_the_network_and_run_only_the_hashed_script(reports, name):
    parsed = page(reports, name)
    assert network_references(parsed) == []
    policies = [attributes for tag, attributes in parsed.tags
                if tag == "meta" and (attributes.get("http-equiv") or "").lower() == "content-security-policy"]
    # The policy governs what comes after it only: nothing before it may load a resource.
    first_loader = next(i for i, (tag, _) in enumerate(parsed.tags) if tag in {"style", "img", "link", "script"})
    assert parsed.tags.index(("meta", policies[0])) < first_loader
    raw = (reports.out_dir / name).read_text(encoding="utf-8")
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", raw, re.S)
    if name == "index.html":
        assert [attributes.get("content") for attributes in policies] == [report._CSP]
        assert scripts == []
        return
    (content,) = [attributes.get("content") for attributes in policies]
    runnable = [body for attributes, body in scripts if attributes == ' type="module"']
    assert len(runnable) == 1 and len(runnable[0]) > 100_000  # DataTables and its initialisation
    digest = base64.b64encode(hashlib.sha256(runnable[0].encode()).digest()).decode()
    assert content == (f"default-src 'none'; script-src 'sha256-{digest}'; img-src data:; style-src 'unsafe-inline'; "
                       "base-uri 'none'; form-action 'none'")
    data = [attributes for attributes, _ in scripts if attributes != ' type="module"']
    assert data and all(attributes.startswith(f' type="{TABLE_DATA_TYPE}"') for attributes in data)


@pytest.mark.parametrize("html_output", ["<p>a</p><script>alert(1)</script>", "<script >alert(1)", "<SCRIPT>alert(2)</SCRIPT>"])
def test_the_export_refuses_an_output_holding_a_script_supportkit_did_not_ship(html_output):
    # An unclosed script would take in the page's own script after it: refused too.
    executed = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[
        nbformat.v4.new_output("display_data", {"text/html": f"<p>ok</p>{html_output}"})])])
    with pytest.raises(SupportkitError, match="a script supportkit did not ship: 'alert"):
        report.export_html(executed, "t")


def test_the_export_keeps_data_blocks_and_ships_one_script():
    data = f'<script type="{TABLE_DATA_TYPE}" data-table="t">{{}}</script>'
    executed = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[
        nbformat.v4.new_output("display_data", {"text/html": data})])])
    page = report.export_html(executed, "<t>")
    assert data in page and "<title>&lt;t&gt;</title>" in page and page.count('<script type="module">') == 1


def test_the_network_check_sees_every_kind_of_reference():
    references = network_references(Page(
        '<link rel="stylesheet" href="https://cdn.example/x.css"><img src="//cdn.example/a.png">'
        '<img srcset="http://a.example/b.png 2x"><style>@import "x.css"; body { background: url(https://a/b) }</style>'
        '<p style="background: url(\'//a.example/c\')">x</p><a href="#Headline">in page</a>'
        '<img src="data:image/png;base64,AAAA"><style>i { background: url(data:image/png;base64,AAAA) }</style>'
    ))
    assert len(references) == 7, references


def heatmap_cells(summary: ReportSummary, stem: str) -> list[int]:
    """The number of cells of each heatmap of a report: SVG rects with a title each."""
    raw = (summary.out_dir / f"{stem}.html").read_text(encoding="utf-8")
    counts = []
    for svg in re.findall(r'<svg [^>]*class="heatmap".*?</svg>', raw, re.S):
        rects = re.findall(r"<rect [^>]*>(.*?)</rect>", svg, re.S)
        assert all(re.fullmatch(r"<title>[^<]+</title>", inner) for inner in rects)
        counts.append(len(rects))
    return counts


def test_heatmaps_are_svg_with_a_title_per_identity_and_capability(reports):
    capabilities = len(CAPABILITIES)  # every capability of the catalog has actions in the matrix
    assert heatmap_cells(reports, HOSTILE_ID) == [6 * capabilities]
    assert heatmap_cells(reports, PLAIN_ID) == [82 * capabilities]  # up to DETAILED_IDENTITIES: one row each
    assert "<img" not in (reports.out_dir / f"{HOSTILE_ID}.html").read_text(encoding="utf-8")


def test_a_failing_notebook_cell_reports_its_error_in_one_line_and_keeps_the_executed_notebook(tmp_path):
    notebook = nbformat.read(report.NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell('raise ValueError("<b>boom</b>\\nsecond line")'))
    custom = tmp_path / "failing.ipynb"
    nbformat.write(notebook, custom)
    snapshot = write_snapshot(tmp_path / "plain", plain_details())
    summary = run_reports([snapshot], tmp_path / "out", quiet=True, notebook=custom)
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


def test_the_kernel_runs_without_the_debugger_with_the_current_folder_after_the_standard_library(tmp_path):
    # ipykernel loads debugpy (about 140 modules) at every start unless its import fails; a report is never debugged.
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(
            "import json, os, sys\n"
            "loaded = sorted(name for name, module in sys.modules.items() if module is not None and "
            "name.split('.')[0] in {'debugpy', '_pydevd_bundle'})\n"
            "print(json.dumps([loaded, sys.path.index('') > sys.path.index(os.path.dirname(os.__file__))]))")],
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
    )
    nbformat.write(notebook, tmp_path / "probe.ipynb")
    executed = report._execute(tmp_path / "probe.ipynb", tmp_path / "out.ipynb", {}, tmp_path)
    assert json.loads(executed.cells[-1].outputs[0].text) == [[], True]


def test_a_saved_analysis_renders_without_the_engines_that_made_it(tmp_path):
    # The kernel only renders: the matrix, who-can, cells and trust engines and the snapshot readers were most of
    # its supportkit imports.
    from supportkit.analysis.account_analysis import analyse

    folder = analyse(Path(__file__).parents[1] / "data" / "findings" / "main").save(tmp_path / "main.analysis")
    engines = ["supportkit.analysis.matrix", "supportkit.analysis.paths", "supportkit.analysis.cells",
               "supportkit.analysis.conditions", "supportkit.analysis.trust", "supportkit.analysis.kinds",
               "supportkit.snapshot.load"]
    render = ("import sys\nfrom supportkit.report.account_page import AccountPage\n"
              f"page = AccountPage.open(analysis={str(folder)!r})\n"
              "sections = [page.header(), page.top_risks(), page.headline_html(), page.findings_section(), "
              "page.identities(), page.heatmap(), page.explanations(), page.identity_details(), page.warnings()]\n"
              f"print(all(sections), [name for name in {engines!r} if name in sys.modules])")
    done = subprocess.run([sys.executable, "-c", render], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "[]"]


def test_a_warm_kernel_runs_notebook_after_notebook_on_one_client_numbering_each_from_one(tmp_path):
    # nbclient made a client per notebook and never closed it: each account left a heartbeat thread behind.
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell('title = ""', metadata={"tags": ["parameters"]}),
               nbformat.v4.new_code_cell("print(title, get_ipython().history_manager.enabled)")],
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
    )
    nbformat.write(notebook, tmp_path / "probe.ipynb")
    kernel = report._WarmKernel()
    try:
        runs, threads = [], []
        for title in ("first", "second", "third"):
            executed = report._execute(tmp_path / "probe.ipynb", tmp_path / f"{title}.ipynb", {"title": title},
                                       tmp_path, kernel=kernel)
            runs.append(([cell.execution_count for cell in executed.cells], executed.cells[-1].outputs[0].text))
            threads.append(threading.active_count())
    finally:
        kernel.shutdown()
    # The injected parameters are a cell of their own: three cells, numbered as a fresh kernel numbers them.
    assert runs == [([1, 2, 3], f"{title} False\n") for title in ("first", "second", "third")]
    assert threads[0] == threads[1] == threads[2]


def test_kernels_talk_over_unix_sockets_in_a_private_folder_not_tcp_ports(tmp_path):
    # Over TCP, kernels starting side by side sometimes bind the same free port ("Kernel died before replying").
    manager = report._private_kernel_manager_class(str(tmp_path))()
    assert (manager.transport, manager.ip) == ("ipc", str(tmp_path / "kernel"))
    assert manager.connection_file == str(tmp_path / "kernel.json")  # with its signing key, removed with the folder
    assert isinstance(manager, report._kernel_manager_class())


def _long_folder(under: Path) -> Path:
    """A folder whose path leaves no room for a kernel's socket in it (Linux: 107 bytes, macOS: 103)."""
    folder = under / ("x" * max(1, 100 - len(str(under))))
    folder.mkdir()
    return folder


def test_a_notebook_runs_where_the_temporary_folder_is_too_deep_for_unix_sockets(tmp_path, monkeypatch):
    # zmq refuses an ipc path longer than a socket's address holds: the kernel died at start, and the account
    # with it. The kernel then talks over TCP; its connection file stays in its private folder.
    deep = _long_folder(tmp_path)
    assert report._private_kernel_manager_class(str(deep))().transport == "tcp"
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("print(6 * 7)")],
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
    )
    nbformat.write(notebook, tmp_path / "probe.ipynb")
    monkeypatch.setattr("tempfile.tempdir", str(deep))
    executed = report._execute(tmp_path / "probe.ipynb", tmp_path / "out.ipynb", {}, tmp_path)
    assert executed.cells[-1].outputs[0].text == "42\n"
    assert list(deep.iterdir()) == []


def _launch_kernel(connection_file: Path, parent: int) -> subprocess.CompletedProcess[str]:
    """The report kernel's program, as a manager starts it, told that its parent is ``parent``."""
    return subprocess.run([sys.executable, "-c", report._KERNEL_LAUNCHER, "-f", str(connection_file),
                           *report._KERNEL_ARGUMENTS], env={**os.environ, "JPY_PARENT_PID": str(parent)},
                          capture_output=True, text=True, timeout=60)


def test_a_kernel_whose_connection_file_is_gone_exits_and_makes_nothing(tmp_path):
    # A worker killed while its kernel started: the run removed the kernel's folder before the kernel read its
    # connection file. ipykernel made the folder again, with a new key file, and listened on TCP.
    ended = _launch_kernel(tmp_path / "removed" / "kernel.json", os.getpid())
    assert ended.returncode == 1
    assert list(tmp_path.iterdir()) == []


def test_a_kernel_whose_worker_has_died_exits(tmp_path):
    # A worker killed before its kernel watched it: ipykernel's watch then waited for the parent to become pid
    # 1, which under a subreaper (a container's init, systemd --user) never happens, and the kernel lived on.
    from jupyter_client.connect import write_connection_file

    write_connection_file(str(tmp_path / "kernel.json"), transport="ipc", ip=str(tmp_path / "kernel"))
    dead = subprocess.Popen(["true"])  # its pid: a process that has ended
    dead.wait()
    ended = _launch_kernel(tmp_path / "kernel.json", dead.pid)
    assert ended.returncode == 1


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


def test_command_line_arguments_map_onto_run_reports(tmp_path, monkeypatch, capsys):
    parser = argparse.ArgumentParser()
    report.add_report_arguments(parser)
    args = parser.parse_args([
        "a", "b", "-o", str(tmp_path), "--workers", "2", "--quiet", "--context", "aws:SourceIp=10.0.0.1",
        "--context", "aws:TagKeys=team", "--context", "aws:TagKeys=env", "--title", "T", "--scps", "s.json",
        "--rcps", "r.json",
    ])
    calls = []

    def fake_run_reports(paths, out_dir, **options):
        calls.append((paths, out_dir, options))
        return ReportSummary(out_dir, out_dir / "index.html", (), 2, 0.0)

    monkeypatch.setattr(report, "run_reports", fake_run_reports)
    assert args.run(args) == 0
    assert calls == [([Path("a"), Path("b")], tmp_path, {
        "workers": 2, "quiet": True, "context": {"aws:SourceIp": "10.0.0.1", "aws:TagKeys": ["team", "env"]},
        "title": "T", "scps": Path("s.json"), "rcps": Path("r.json"), "executor": ExecutorSpec("local"),
    })]
    assert capsys.readouterr().out == ""  # --quiet
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
    assert any(HEADLINE_MIME in output for output in outputs) and any("heatmap" in output for output in outputs)
    # No output names where the snapshot or the report lie: they differ from machine to machine.
    raw = json.dumps([cell.get("outputs", []) for cell in nbformat.read(second, as_version=4).cells])
    assert str(snapshots) not in raw and str(tmp_path) not in raw and str(reports.out_dir) not in raw
    assert outputs == sanitized_outputs(first)

    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", str(second), "--nbval-sanitize-with", str(SANITIZE),
         "--nbval-current-env", "-p", "no:cacheprovider", "-q", "--rootdir", str(tmp_path)],
        check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\b\d+ passed\b", result.stdout)
