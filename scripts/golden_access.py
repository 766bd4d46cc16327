"""Dump the access tables (``conditional_access``, ``who_reads_cases``) and who-can's answers that must not change,
or compare them.

Run: python scripts/golden_access.py dump DIR     (before a change)
     python scripts/golden_access.py compare DIR  (after it: exits 1 when a table differs, naming it)

The accounts: every demo account and test fixture snapshot (without and with an analyst context, as
scripts/golden_outputs.py runs the matrix), and bench_paths' generated accounts at 300 and 1,000
identities. The matrix is built at a fixed time, so the tables do not follow the clock. who-can's JSON Lines
(``supportkit who-can TARGET --format json``) for :data:`WHO_CAN_TARGETS` on the demo and fixture accounts too.
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from golden_outputs import CONTEXTS as MATRIX_CONTEXTS, ROOT, command_line, compare_folders, snapshots  # noqa: E402

from supportkit.analysis.matrix import build_matrix  # noqa: E402
from supportkit.analysis.paths import access_tables, resolve_target, who_can_target  # noqa: E402
from supportkit.errors import SupportkitError  # noqa: E402
from supportkit.iam.context import context_from_arguments  # noqa: E402
from supportkit.snapshot import load_account  # noqa: E402
from supportkit.support.catalog import load_catalog  # noqa: E402

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CONTEXTS = {name: context_from_arguments(arguments[1::2]) or None for name, arguments in MATRIX_CONTEXTS.items()}
"""golden_outputs' contexts of the matrix command, as the analysis takes them."""
BENCH_SIZES = (300, 1000)
WHO_CAN_TARGETS = ("support:CreateCase", "support:ResolveCase", "supportplans:StartSupportPlanUpdate",
                   "trustedadvisor:DescribeChecks")
"""who-can's targets besides support:DescribeCases (the who_reads_cases table)."""


def _bench_snapshots(folder: Path) -> list[Path]:
    from bench_paths import write_snapshot

    return [write_snapshot(size, 11, folder / f"bench-{size}") for size in BENCH_SIZES]


def dump(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    catalog = load_catalog()
    with tempfile.TemporaryDirectory() as tmp:
        for snapshot in [*snapshots(), *_bench_snapshots(Path(tmp))]:
            stem = (str(snapshot.relative_to(ROOT)) if snapshot.is_relative_to(ROOT) else snapshot.name).replace("/", "+")
            contexts = {"plain": None} if stem.startswith("bench-") else CONTEXTS
            try:
                account = load_account(snapshot)
            except SupportkitError as error:  # fixtures of bad input: their error is the output
                (folder / f"{stem}.error").write_text(str(error), encoding="utf-8")
                continue
            for name, context in contexts.items():
                matrix = build_matrix(account, catalog, context=context, at=AT)
                for key, table in access_tables(account, matrix, catalog, context).items():
                    table.to_csv(folder / f"{stem}+{name}+{key}.csv", index=False)
                if stem.startswith("bench-"):
                    continue
                for target in WHO_CAN_TARGETS:
                    lines = [json.dumps(path.to_json(), separators=(",", ":")) + "\n"
                             for path in who_can_target(account, resolve_target(catalog, target), context=context)]
                    (folder / f"{stem}+{name}+who-can+{target.replace(':', '-')}.jsonl").write_text("".join(lines))


def compare(baseline: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        now = Path(tmp)
        dump(now)
        return compare_folders(baseline, now)


if __name__ == "__main__":
    command_line(dump, compare)
