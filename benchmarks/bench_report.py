"""Size and speed of `supportkit report`: per account size, a batch of small accounts, and one account end to end.

Run: python benchmarks/bench_report.py [--sizes 10 100 1000 10000] [--accounts 50] [--identities 30]
                                       [--workers 1 2] [--skip-browser]

For each size (generated accounts of benchmarks/bench_matrix.py, shaped like real ones), one report is
written with one worker and the script prints the HTML size, the render time (the account's notebook and
export in its worker, :attr:`AccountReport.seconds`), the analysis and run times, and the time until the
page is interactive in headless Chromium (navigation start to every table initialised), then checks that a
search in the identities table filters it. Then: seconds per account for a batch of ``--accounts`` small
accounts with each number of workers, and a single small account end to end (``python -m supportkit
report``, in a fresh process, wall time). The machine may be shared: the figures are what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
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


def interactive(page_path: Path) -> tuple[float, int]:
    """Seconds from navigation start until every table is initialised, and the rows a search leaves."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(page_path.as_uri(), wait_until="commit", timeout=600_000)
        page.wait_for_selector("html[data-tables-ready=true]", timeout=600_000)
        ready = page.evaluate("performance.now()") / 1000
        page.locator("#identities-table_wrapper input[type=search]").fill("root user")
        rows = page.locator("#identities-table tbody tr").count()
        browser.close()
    return ready, rows


def by_size(folder: Path, sizes: list[int], browser: bool) -> None:
    print(f"{'identities':>10} {'HTML MB':>8} {'analyse+render s':>16} {'render s':>9} {'run s':>7} "
          f"{'interactive s':>13}  search")
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
        ready, rows = interactive(report.html) if browser else (float("nan"), -1)
        print(f"{size:>10} {megabytes:>8.2f} {analysed + report.seconds:>16.2f} {report.seconds:>9.2f} {run:>7.2f} "
              f"{ready:>13.2f}  {'filters' if rows == 1 else f'{rows} rows'}")


def batch(folder: Path, accounts: int, identities: int, workers: list[int]) -> None:
    sources = folder / "batch"
    for number in range(accounts):
        write_account(sources, identities, number)
    for count in workers:
        started = time.perf_counter()
        summary = run_reports([sources], folder / f"batch-out-{count}", workers=count, quiet=True)
        elapsed = time.perf_counter() - started
        failed = len(summary.failed)
        print(f"batch of {accounts} accounts of {identities} identities, {count} worker(s): {elapsed:6.1f} s = "
              f"{elapsed / accounts:5.2f} s per account{f' ({failed} failed)' if failed else ''}")


def single(folder: Path, identities: int) -> None:
    snapshot = write_account(folder / "single", identities)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "supportkit", "report", str(snapshot), "-o", str(folder / "one"),
                           "--quiet"], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    status = "" if done.returncode == 0 else f" (exit {done.returncode}: {done.stderr.strip()[:200]})"
    print(f"one account of {identities} identities end to end (python -m supportkit report): {elapsed:.2f} s{status}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10, 100, 1000, 10000])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--identities", type=int, default=30)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {', '.join(f'{load:.1f}' for load in os.getloadavg())} at start")
    with tempfile.TemporaryDirectory() as folder:
        by_size(Path(folder), args.sizes, not args.skip_browser)
        if args.accounts:
            batch(Path(folder), args.accounts, args.identities, args.workers)
        single(Path(folder), args.identities)
    print(f"load average {', '.join(f'{load:.1f}' for load in os.getloadavg())} at the end")


if __name__ == "__main__":
    main()
