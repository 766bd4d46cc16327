"""Python opcodes executed by who-can and by the conditions on bench_paths' account: a cost that does not drift.

Run: python benchmarks/opcodes.py [--size 2000] [--seed 11] [--what RESOLVE READ_CASES conditions]

bench_paths' CPU seconds move by a fifth or more from run to run on a shared machine (its matrix, unchanged,
1.4 to 2.2 s); the count of opcodes a stage executes is the same on every run, so two versions of the code
can be told apart by a few percent (run this once before a change and once after, in two checkouts). It counts
Python work only: what numpy or pandas do in C counts as the one opcode that calls them, so it says nothing of
the matrix, whose work is mostly there. Tracing makes a run some 30 times slower: 2,000 identities take
seconds.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_paths import STAGES, stage_work, write_snapshot


def count_opcodes(work: Callable[[], Any]) -> int:
    """The opcodes executed while ``work`` runs (every Python frame it enters)."""
    count = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Callable:
        nonlocal count
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        if event == "opcode":
            count += 1
        return trace

    sys.settrace(trace)
    try:
        work()
    finally:
        sys.settrace(None)
    return count


def measure(what: str, snapshot: Path) -> int:
    """One stage's opcodes, in this process (a fresh one: parsed policies' caches would carry over)."""
    from supportkit.analysis.matrix import build_matrix
    from supportkit.snapshot import load_account
    from supportkit.support.catalog import load_catalog

    catalog = load_catalog()
    account = load_account(snapshot)
    matrix = build_matrix(account, catalog) if what == "conditions" else None
    return count_opcodes(stage_work(what, account, catalog, matrix))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--what", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)  # one stage (a child process)
    args = parser.parse_args()
    if args.measure is not None:
        print(measure(args.measure[0], Path(args.measure[1])))
        return
    with tempfile.TemporaryDirectory() as folder:
        snapshot = write_snapshot(args.size, args.seed, Path(folder) / "account")
        for what in args.what:
            count = int(subprocess.run([sys.executable, __file__, "--measure", what, str(snapshot)], check=True,
                                       capture_output=True, text=True).stdout)
            print(f"{args.size:>6} identities: {what:<11} {count:>12,} opcodes")


if __name__ == "__main__":
    main()
