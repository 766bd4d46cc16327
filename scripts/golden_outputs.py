"""Dump the outputs that must not change, or compare them with a dump made earlier.

Run: python scripts/golden_outputs.py dump DIR     (before a change)
     python scripts/golden_outputs.py compare DIR  (after it: exits 1 on the first difference, naming the file)

The outputs: ``supportkit matrix`` in CSV, JSON Lines and Parquet for every demo account and test fixture
snapshot, without and with a request context, and ``supportkit simulate`` on data/examples/simulate.jsonl and
on the requests of benchmarks/bench_simulate.py (saved in DIR by ``dump``, so ``compare`` replays the same ones
even after the benchmark changes), and on DIR/requests-varied.jsonl when present (requests that carry their own
policies: ``python benchmarks/bench_simulate.py`` draws such requests). Every command runs in this process, through
the command line's ``main``.
"""

from __future__ import annotations

import contextlib
import filecmp
import io
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from supportkit.cli.main import main  # noqa: E402
from supportkit.snapshot.details import find_snapshots  # noqa: E402

CONTEXTS = {
    "plain": [],
    "mfa-ip": ["--context", "aws:MultiFactorAuthPresent=true", "--context", "aws:SourceIp=203.0.113.9"],
}


def snapshots() -> list[Path]:
    found = sorted((ROOT / "data" / "demo").iterdir())
    for group in ("findings", "accounts"):
        found += find_snapshots(ROOT / "tests" / "data" / group)
    return [*found, *sorted((ROOT / "tests" / "data" / "gaad").glob("*.json"))]


def _run(argv: list[str], out: Path) -> None:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(io.StringIO()):
        status = main(argv)
    out.write_text(f"exit {status}\n{buffer.getvalue()}", encoding="utf-8")


def dump(folder: Path, requests: Path | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for snapshot in snapshots():
        stem = str(snapshot.relative_to(ROOT)).replace("/", "+")
        for name, context in CONTEXTS.items():
            for fmt in ("csv", "json", "parquet"):
                out = folder / f"matrix+{stem}+{name}.{fmt}"
                with contextlib.redirect_stderr(io.StringIO()):
                    main(["matrix", str(snapshot), *context, "--format", fmt, "-o", str(out)])
    _run(["simulate", str(ROOT / "data" / "examples" / "simulate.jsonl")], folder / "simulate+examples.jsonl")
    if requests is None:
        from bench_simulate import make_requests

        requests = folder / "requests.jsonl"
        requests.write_text("".join(line + "\n" for line in make_requests(3000)), encoding="utf-8")
    _run(["simulate", str(requests)], folder / "simulate+bench.jsonl")
    varied = requests.parent / "requests-varied.jsonl"
    if varied.is_file():  # requests that carry their own policies (saved by hand: see the module docstring)
        _run(["simulate", str(varied)], folder / "simulate+varied.jsonl")


def compare(baseline: Path) -> int:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        now = Path(tmp)
        dump(now, baseline / "requests.jsonl")
        return compare_folders(baseline, now)


def compare_folders(baseline: Path, now: Path) -> int:
    """Print each file of ``now`` that differs from ``baseline``'s (the saved requests aside) and a count; 1 when
    one differs or the set of files changed. A Parquet file with the same content in other bytes is reported only."""
    import pandas as pd

    names = sorted(p.name for p in baseline.iterdir() if not p.name.startswith("requests"))
    if names != sorted(p.name for p in now.iterdir()):
        print("the set of outputs changed")
        return 1
    bad = 0
    for name in names:
        if filecmp.cmp(baseline / name, now / name, shallow=False):
            continue
        if name.endswith(".parquet"):
            before, after = pd.read_parquet(baseline / name), pd.read_parquet(now / name)
            if before.astype(str).equals(after.astype(str)) and list(before.dtypes) == list(after.dtypes):
                print(f"same content, other bytes: {name}")
                continue
        print(f"differs: {name}")
        bad += 1
    print(f"{len(names) - bad} of {len(names)} outputs identical")
    return 1 if bad else 0


def command_line(dump: Callable[[Path], None], compare: Callable[[Path], int]) -> None:
    """``dump DIR`` or ``compare DIR`` (exit status 1 on a difference), for this script and golden_access.py."""
    command, where = sys.argv[1], Path(sys.argv[2])
    if command == "dump":
        dump(where)
    else:
        sys.exit(compare(where))


if __name__ == "__main__":
    command_line(dump, compare)
