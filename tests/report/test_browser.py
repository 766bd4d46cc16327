"""Generated reports in a real headless Chromium: they render, stay offline, log no error, run no input, and
their tables filter and sort.

Uses Debian's Chromium (/usr/bin/chromium, installed by .ci/run) through Playwright; Playwright's own
browser downloads are never used. A missing browser fails the test: a skipped test would hide that
nobody checked the report in a browser.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from supportkit.report.pipeline import ReportSummary, run_reports

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ACCOUNT = "123456789012"
PWN_SCRIPT = "<script>window.__pwned=1</script>"
PWN_IMG = '<img src=x onerror="window.__pwned=1">'
PWN_SVG = "<svg onload=window.__pwned=1>"
END_SCRIPT = "</script><script>window.__pwned=1</script>"
JS_URL = "javascript:window.__pwned=1"
TEMPLATE = "{{7*7}}${7*7}<%= 7*7 %>"
RTL = "admin\u202egnp.exe"
LONG = "long-" + "x" * 3000
HOSTILE_NAMES = [PWN_IMG, PWN_SVG, END_SCRIPT, JS_URL, TEMPLATE, RTL, LONG]


def iam_user(name: str, document: dict, tags: dict[str, str]) -> dict:
    return {
        "Path": "/", "UserName": name, "UserId": "AIDAEXAMPLE", "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "GroupList": [], "UserPolicyList": [{"PolicyName": PWN_SCRIPT, "PolicyDocument": document}],
        "AttachedManagedPolicies": [], "Tags": [{"Key": key, "Value": value} for key, value in tags.items()],
    }


def allow(*actions: str, sid: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Sid": sid, "Effect": "Allow", "Action": list(actions),
                                                    "Resource": "*"}]}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> ReportSummary:
    """One account whose user names, tags, Sids, policy names and account name try to run script in the report.

    The first hostile user has support:*, the others only support:DescribeCases (so they read cases, and their
    Support Center lacks actions): every name reaches the tables, the findings and the heatmap.
    """
    snapshot = tmp_path_factory.mktemp("snapshot") / "account"
    snapshot.mkdir()
    users = [iam_user(name, allow("support:*" if i == 0 else "support:DescribeCases", sid=END_SCRIPT),
                      {"team": PWN_SCRIPT, PWN_IMG: JS_URL, "tpl": TEMPLATE})
             for i, name in enumerate(HOSTILE_NAMES)]
    details = {"UserDetailList": users, "GroupDetailList": [], "RoleDetailList": [], "Policies": []}
    (snapshot / "authorization-details.json").write_text(json.dumps(details))
    (snapshot / "account.json").write_text(json.dumps({"account_id": ACCOUNT, "name": PWN_IMG}))
    summary = run_reports([snapshot], tmp_path_factory.mktemp("reports"), quiet=True, title=END_SCRIPT)
    assert not summary.failed, summary.failed
    return summary


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), as .ci/run does")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Watched:
    """A page with every request, dialog, console error and uncaught exception recorded."""

    def __init__(self, browser) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))

    def open(self, path: Path, fragment: str = "") -> None:
        self.page.goto(path.as_uri() + fragment, wait_until="load")

    def wait_for_tables(self) -> None:
        self.page.wait_for_selector("html[data-tables-ready=true]", timeout=30_000)

    def reach_table(self, table_id: str) -> None:
        """Scroll to a table and wait until it is initialised: tables far from the viewport wait for the reader."""
        self.page.locator(f"#{table_id}").scroll_into_view_if_needed()
        self.page.wait_for_selector(f"#{table_id}[data-ready=true]", timeout=30_000)

    def check_offline_and_quiet(self) -> None:
        remote = [url for url in self.requests if not url.startswith(("file://", "data:"))]
        assert remote == []
        assert self.errors == []  # a CSP violation (markup or script that slipped through) is a console error too
        assert self.dialogs == []
        assert self.page.evaluate("typeof window.__pwned") == "undefined"


def rows(table) -> list[str]:
    """The first cell of each row shown by a DataTable."""
    return table.locator("tbody tr td:first-child").all_inner_texts()


def rows_after_click(page, table, header, before: list[str]) -> list[str]:
    """The rows once a click on ``header`` has redrawn them: DataTables sorts in a timer after the click."""
    header.click()
    for _ in range(100):
        shown = rows(table)
        if shown != before:
            return shown
        page.wait_for_timeout(100)
    return rows(table)


def rows_once(page, table, expected: list[str]) -> list[str]:
    """The rows once they are ``expected``, or after 10 s: a redraw may come a moment after the input that asks it."""
    for _ in range(100):
        shown = rows(table)
        if shown == expected:
            return shown
        page.wait_for_timeout(100)
    return rows(table)


def test_the_report_shows_hostile_strings_as_text_and_its_tables_filter_and_sort(browser, report):
    watched = Watched(browser)
    (account,) = report.accounts
    watched.open(account.html)
    watched.wait_for_tables()
    page = watched.page
    assert f"{ACCOUNT} ({PWN_IMG})" in page.title()
    assert page.inner_text("h1") == END_SCRIPT
    watched.reach_table("identities-table")
    identities = page.locator("#identities-table")
    assert set(rows(identities)) == {"root user", *(f"user {name}" for name in HOSTILE_NAMES)}  # shown as text

    # Search: one row, the user whose name holds an end of script; the cell shows it as text.
    search = page.locator("#identities-table_wrapper input[type=search]")
    search.fill("__pwned=1</script>")
    assert rows_once(page, identities, [f"user {END_SCRIPT}"]) == [f"user {END_SCRIPT}"]
    search.fill(TEMPLATE)
    assert rows_once(page, identities, [f"user {TEMPLATE}"]) == [f"user {TEMPLATE}"]  # template syntax stays literal: no 49
    search.fill("")

    # Sort by identity, descending then ascending: the order changes and is the sorted order.
    header = identities.locator("thead th", has_text="identity").first.locator(".dt-column-order")
    original = rows(identities)
    first = rows_after_click(page, identities, header, original)
    second = rows_after_click(page, identities, header, first)
    assert first != original and second == first[::-1]  # DataTables' collation, either way round

    # Filter panes: only root.
    page.locator("#identities-table_wrapper .dtsp-searchPane tr", has_text="root").first.click()
    assert rows_once(page, identities, ["root user"]) == ["root user"]

    # The explanations table filters by capability through its own pane.
    watched.reach_table("explanations-table")
    explanations = page.locator("#explanations-table")
    page.locator("#explanations-table_wrapper .dtsp-searchPane tr", has_text="Resolve support cases").first.click()
    for _ in range(100):  # the pane filters in a redraw after the click
        capabilities = set(explanations.locator("tbody tr td:nth-child(3)").all_inner_texts())
        if capabilities == {"Resolve support cases"}:
            break
        page.wait_for_timeout(100)
    assert capabilities == {"Resolve support cases"}

    assert RTL in page.inner_text("#identity-details")
    assert page.locator("svg.heatmap rect title").count() > 0
    watched.check_offline_and_quiet()


def target(watched: Watched) -> tuple[str, str]:
    """The id and heading of the element the URL's fragment points at."""
    return tuple(watched.page.evaluate(
        "(() => { const t = document.querySelector(':target'); return [t.id, t.querySelector('h2, h3').innerText] })()"))


def test_findings_and_identities_have_stable_anchors(browser, report):
    watched = Watched(browser)
    (account,) = report.accounts
    watched.open(account.html, "#identity-root")
    assert target(watched) == ("identity-root", "root user")
    watched.open(account.html, "#finding-read-all-cases-support:DescribeCases")
    assert target(watched)[1] == f"{len(HOSTILE_NAMES)} principals other than root can read every support case of " \
        f"the account ({len(HOSTILE_NAMES)} human)"
    watched.wait_for_tables()
    watched.page.locator("#finding-read-all-cases-support\\:DescribeCases a", has_text=f"user {PWN_IMG}").click()
    anchor, heading = target(watched)
    assert anchor.startswith("identity-user/") and heading == f"user {PWN_IMG}"
    watched.page.locator("ol.risks a").first.click()
    assert target(watched)[0].startswith("finding-")
    watched.check_offline_and_quiet()


def test_the_index_links_each_report_offline_without_running_input(browser, report):
    watched = Watched(browser)
    watched.open(report.index)
    assert END_SCRIPT in watched.page.inner_text("h1")
    assert PWN_IMG in watched.page.inner_text("table")
    watched.page.click(f"a[href='{ACCOUNT}.html']")
    watched.page.wait_for_load_state("load")
    assert watched.page.url.endswith(f"/{ACCOUNT}.html")
    watched.wait_for_tables()
    watched.check_offline_and_quiet()
