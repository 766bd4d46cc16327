"""A generated report in a real headless Chromium: it renders, stays offline, logs no error, runs no input.

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


def iam_user(name: str, document: dict, tags: dict[str, str]) -> dict:
    return {
        "Path": "/", "UserName": name, "UserId": "AIDAEXAMPLE", "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "GroupList": [], "UserPolicyList": [{"PolicyName": PWN_SCRIPT, "PolicyDocument": document}],
        "AttachedManagedPolicies": [], "Tags": [{"Key": key, "Value": value} for key, value in tags.items()],
    }


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> ReportSummary:
    """One account whose names, tags, Sids and account name try to run script in the report."""
    snapshot = tmp_path_factory.mktemp("snapshot") / "account"
    snapshot.mkdir()
    support = {"Version": "2012-10-17", "Statement": [
        {"Sid": PWN_SCRIPT, "Effect": "Allow", "Action": "support:*", "Resource": "*"},
    ]}
    details = {
        "UserDetailList": [iam_user(PWN_IMG, support, {"team": PWN_SCRIPT, PWN_IMG: "x"})],
        "GroupDetailList": [], "RoleDetailList": [], "Policies": [],
    }
    (snapshot / "authorization-details.json").write_text(json.dumps(details))
    (snapshot / "account.json").write_text(json.dumps({"account_id": ACCOUNT, "name": PWN_IMG}))
    summary = run_reports([snapshot], tmp_path_factory.mktemp("reports"), quiet=True, title=PWN_SCRIPT)
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
    """A page with every request, console error and uncaught exception recorded."""

    def __init__(self, browser) -> None:
        self.page = browser.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, path: Path) -> None:
        self.page.goto(path.as_uri(), wait_until="load")

    def check_offline_and_quiet(self) -> None:
        remote = [url for url in self.requests if not url.startswith(("file://", "data:"))]
        assert remote == []
        assert self.errors == []  # a CSP violation (markup that slipped through) is a console error too
        assert self.page.evaluate("typeof window.__pwned") == "undefined"


def test_the_report_renders_tables_and_figure_offline_without_running_input(browser, report):
    watched = Watched(browser)
    (account,) = report.accounts
    watched.open(account.html)
    assert watched.page.locator("table").count() >= 2
    widths = watched.page.eval_on_selector_all("img", "images => images.map(image => image.naturalWidth)")
    assert widths and all(width > 0 for width in widths)
    body = watched.page.inner_text("body")
    assert PWN_IMG in body and PWN_SCRIPT in body  # shown as text
    details = watched.page.locator("details").nth(1)  # root's, then the user's
    assert PWN_IMG in details.locator("summary").inner_text()
    assert not details.locator("table").is_visible()  # closed until clicked
    details.locator("summary").click()
    assert details.locator("table").is_visible()
    assert f"Policies: user/{PWN_IMG}: {PWN_SCRIPT} (inline)" in details.inner_text()
    watched.check_offline_and_quiet()


def test_the_index_links_each_report_offline_without_running_input(browser, report):
    watched = Watched(browser)
    watched.open(report.index)
    assert PWN_SCRIPT in watched.page.inner_text("h1")
    assert PWN_IMG in watched.page.inner_text("table")
    watched.page.click(f"a[href='{ACCOUNT}.html']")
    watched.page.wait_for_load_state("load")
    assert watched.page.url.endswith(f"/{ACCOUNT}.html")
    assert watched.page.locator("table").count() >= 2
    watched.check_offline_and_quiet()

