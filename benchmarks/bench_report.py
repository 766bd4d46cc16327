"""Size and speed of `supportkit report`: per account size, a batch of small accounts, and one account end to end.

Run: python benchmarks/bench_report.py [--sizes 10 100 1000 10000] [--accounts 50] [--identities 30]
                                       [--workers 1 2] [--skip-browser]

For each size (generated accounts of benchmarks/bench_matrix.py, shaped like real ones), one report is
written (one account: in this process) and the script prints the HTML size, the render time (the
account's notebook and export, :attr:`AccountReport.seconds`), the analysis and run times, and the time
until the page is interactive in headless Chromium (navigation start to the tables near the first screen
initialised, and the page's main-thread CPU until then); then, scrolled to the identities table and to the
explanations table (each initialised when it comes near the viewport), the seconds until each is ready, and
the seconds a search in the identities table takes to leave the one row it matches. Then: seconds per account for a batch of ``--accounts`` small
accounts with each number of workers, and a single small account end to end (``python -m supportkit
report``, in a fresh process, wall time). The machine may be shared: the figures are what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from supportkit.report.pipeline import run_reports

sys.path.insert(0, str(Path(__file__).parent))
from bench_matrix import generate  # noqa: E402  (the generated accounts of the matrix benchmark)

CHROMIUM = "/usr/bin/chromium"


def write_account(folder: Path, identities: int, number: int = 0) -> Path:
    details, scps = generate(identities, seed=number)
    account_id = f"{100000000000 + number:012d}"
    snapshot = folder / f"account-{identities}-{number:03d}"
    snapshot.mkdir(parents=True)
    (snapshot / "authorization-details.json").write_text(json.dumps(details).replace("111122223333", account_id))
    (snapshot / "scps.json").write_text(json.dumps(scps).replace("111122223333", account_id))
    (snapshot / "account.json").write_text(json.dumps({"account_id": account_id, "support_plan": "business"}))
    return snapshot


@dataclass(frozen=True)
class Browsed:
    """What headless Chromium measured of one report."""

    ready: float  # navigation start to data-tables-ready (the tables near the first screen initialised)
    cpu: float  # the page's main-thread CPU until then (load on the machine inflates ready, much less this)
    identities: float  # scrolled to the identities table: seconds until it is initialised
    explanations: float  # likewise for the explanations table, the largest
    search: float  # seconds from typing in the identities table's search box until it shows the one row
    rows: int  # the rows that search left (1: it filters)


def interactive(page_path: Path) -> Browsed:
    """Open the page, wait for its first screen, then reach each table and search the identities."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        session = page.context.new_cdp_session(page)
        session.send("Performance.enable", {"timeDomain": "threadTicks"})
        page.goto(page_path.as_uri(), wait_until="commit", timeout=600_000)
        page.wait_for_selector("html[data-tables-ready=true]", timeout=600_000)
        ready = page.evaluate("performance.now()") / 1000
        metrics = {metric["name"]: metric["value"] for metric in session.send("Performance.getMetrics")["metrics"]}
        reached = {}
        for table in ("identities-table", "explanations-table"):
            started = time.perf_counter()
            page.locator(f"#{table}").scroll_into_view_if_needed()
            page.wait_for_selector(f"#{table}[data-ready=true]", timeout=600_000)
            reached[table] = time.perf_counter() - started
        page.locator("#identities-table").scroll_into_view_if_needed()
        started = time.perf_counter()
        page.locator("#identities-table_wrapper input[type=search]").fill("root user")
        try:
            page.wait_for_function("document.querySelectorAll('#identities-table tbody tr').length === 1",
                                   timeout=60_000)
        except Exception:  # noqa: BLE001 - reported as the rows left
            pass
        searched = time.perf_counter() - started
        rows = page.locator("#identities-table tbody tr").count()
        browser.close()
    return Browsed(ready, metrics["ThreadTime"], reached["identities-table"], reached["explanations-table"],
                   searched, rows)


def by_size(folder: Path, sizes: list[int], browser: bool) -> None:
    print(f"{'identities':>10} {'HTML MB':>8} {'analyse+render s':>16} {'render s':>9} {'run s':>7} "
          f"{'interactive s':>13} {'(page CPU s)':>12} {'identities table s':>18} {'explanations s':>14}  search")
    for size in sizes:
        snapshot = write_account(folder / "sizes", size)
        out = folder / f"out-{size}"
        started = time.perf_counter()
        summary = run_reports([snapshot], out, workers=1, quiet=True)
        run = time.perf_counter() - started
        (report,) = summary.accounts
        if not report.ok or report.html is None:
            print(f"{size:>10} failed: {report.error}")
            continue
        megabytes = report.html.stat().st_size / 1e6
        analysed = summary.seconds - report.seconds
        line = f"{size:>10} {megabytes:>8.2f} {analysed + report.seconds:>16.2f} {report.seconds:>9.2f} {run:>7.2f} "
        if browser:
            seen = interactive(report.html)
            found = "filters" if seen.rows == 1 else f"{seen.rows} rows"
            line += (f"{seen.ready:>13.2f} {seen.cpu:>12.2f} {seen.identities:>18.2f} {seen.explanations:>14.2f}  "
                     f"{found} in {seen.search:.2f} s")
        print(line, flush=True)


def load() -> str:
    return "load average " + ", ".join(f"{value:.1f}" for value in os.getloadavg())


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (workers, and the kernels they reaped)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def batch(folder: Path, accounts: int, identities: int, workers: list[int]) -> None:
    sources = folder / "batch"
    for number in range(accounts):
        write_account(sources, identities, number)
    for count in workers:
        started, cpu = time.perf_counter(), cpu_seconds()
        summary = run_reports([sources], folder / f"batch-out-{count}", workers=count, quiet=True)
        elapsed, used = time.perf_counter() - started, cpu_seconds() - cpu
        failed = len(summary.failed)
        print(f"batch of {accounts} accounts of {identities} identities, {count} worker(s): {elapsed:6.1f} s = "
              f"{elapsed / accounts:5.2f} s per account (CPU {used / accounts:.2f} s per account)"
              f"{f' ({failed} failed)' if failed else ''}; {load()}", flush=True)


def single(folder: Path, identities: int) -> None:
    snapshot = write_account(folder / "single", identities)
    started, cpu = time.perf_counter(), cpu_seconds()
    done = subprocess.run([sys.executable, "-m", "supportkit", "report", str(snapshot), "-o", str(folder / "one"),
                           "--quiet"], capture_output=True, text=True)
    elapsed, used = time.perf_counter() - started, cpu_seconds() - cpu
    status = "" if done.returncode == 0 else f" (exit {done.returncode}: {done.stderr.strip()[:200]})"
    print(f"one account of {identities} identities end to end (python -m supportkit report): {elapsed:.2f} s, "
          f"CPU {used:.2f} s{status}; {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10, 100, 1000, 10000])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--identities", type=int, default=30)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, {load()} at start")
    with tempfile.TemporaryDirectory() as folder:
        by_size(Path(folder), args.sizes, not args.skip_browser)
        if args.accounts:
            batch(Path(folder), args.accounts, args.identities, args.workers)
        single(Path(folder), args.identities)
    print(f"{load()} at the end")


if __name__ == "__main__":
    main()
