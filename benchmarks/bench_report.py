"""Seconds per account of `supportkit report`, for the demo organization and for generated accounts.

Run: python benchmarks/bench_report.py [--accounts 50] [--identities 30] [--workers 1 2]

Each run goes through `run_reports` as the command does (papermill, nbconvert, index), into a fresh
folder; the figure is wall time divided by the number of accounts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from supportkit.report.pipeline import run_reports

sys.path.insert(0, str(Path(__file__).parent))
from bench_matrix import generate  # noqa: E402  (the generated accounts of the matrix benchmark)

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


def generated_accounts(folder: Path, count: int, identities: int) -> Path:
    for number in range(count):
        details, scps = generate(identities, seed=number)
        account_id = f"{100000000000 + number:012d}"
        text = json.dumps(details).replace("111122223333", account_id)
        snapshot = folder / f"account-{number:03d}"
        snapshot.mkdir(parents=True)
        (snapshot / "authorization-details.json").write_text(text)
        (snapshot / "scps.json").write_text(json.dumps(scps).replace("111122223333", account_id))
        (snapshot / "account.json").write_text(json.dumps({"account_id": account_id, "support_plan": "business"}))
    return folder


def measure(label: str, source: Path, workers: int, count: int) -> None:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        summary = run_reports([source], Path(out), workers=workers, quiet=True)
        elapsed = time.perf_counter() - start
    failed = len(summary.failed)
    print(f"{label:<28} {count:>3} accounts, {workers} worker(s): {elapsed:6.1f} s = "
          f"{elapsed / count:5.2f} s per account{f' ({failed} failed)' if failed else ''}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--identities", type=int, default=30)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    demo_count = sum(1 for path in DEMO.iterdir() if path.is_dir())
    with tempfile.TemporaryDirectory() as folder:
        generated = generated_accounts(Path(folder), args.accounts, args.identities)
        for workers in args.workers:
            measure("demo organization", DEMO, workers, demo_count)
            measure(f"generated ({args.identities} identities)", generated, workers, args.accounts)


if __name__ == "__main__":
    main()
