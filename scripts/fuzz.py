"""Structural fuzzing of supportkit's inputs: no traceback, no hang, no identity lost without a word.

Each case takes one bundled input (a snapshot of data/demo or tests/data, its account.json or scps.json,
or a simulate request), applies a few structural mutations (a key deleted or misspelt, a value of
another JSON type, a huge or hostile string, Unicode digits and line separators, deep nesting, a
duplicated identity) and runs it through the command line or the Python API. A case ends as

* ``result``: it ran and gave an answer (warnings allowed);
* ``clean error``: it was refused with supportkit's own one-line error;
* ``traceback``: any other exception escaped (a bug);
* ``hang``: it used more than ``--limit`` seconds of CPU time, or gave no answer within ten limits of wall
  time (the worker is killed and replaced);
* ``lost``: it gave an answer, but with fewer users and roles than the mutated input holds well-formed
  entries for, and no warning saying an entry was skipped (a result of its own, not in ``result``).

Cases run in long-lived worker processes (one per ``--workers``) so that imports are paid once; the
parent only sends case numbers and kills a worker that overruns. Case ``n`` of seed ``s`` is always
the same input, so a failure is replayed with ``--seed s --start n --cases 1 --show``.

    python scripts/fuzz.py --cases 3000 --seed 1            # the short pass .ci/run makes
    nice -n 10 python scripts/fuzz.py --cases 100000 --seed 7
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gzip
import io
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = [
    ROOT / "tests/data/accounts/acme", ROOT / "tests/data/accounts/sandbox",
    *(ROOT / "tests/data/findings" / name for name in ("main", "developer_plan", "diff_before", "diff_after")),
    ROOT / "data/demo/legacy-shared", ROOT / "data/demo/sandbox-dev",
]
LARGE_SNAPSHOTS = [ROOT / "data/demo/workload-prod", ROOT / "data/demo/management",
                   ROOT / "tests/data/gaad/cloudsplaining-small.json"]
OUTCOMES = ("result", "clean error", "traceback", "hang", "lost")

HOSTILE = [
    "", " ", "\u0000", "\ud800", "a\udfffb", "\u2028", "\u2029", "\x85", "\r\n", "\n", "\t", "\ufeff",
    "٤٤٤٤٥٥٥٥٦٦٦٦", "１１１１２２２２３３３３", "²", "1²2", "111122223333\n", "\u202e", "\u200b",
    "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "{{7*7}}", "${", "${}", "${*}", "${aws:username}",
    "${" + " " * 2000 + "a" + " " * 2000 + "}", "*a" * 200 + "b", "?" * 300, "*" * 500, ":" * 300, "/" * 300,
    "arn:aws:iam::111122223333:user/x", "arn:aws:iam::111122223333:role/a\nb/r", "arn:aws:trustedadvisor:*:*:checks/*",
    "%7B%22a%22", "../../etc/passwd", "C:\\\\x", "true", "null", "1e999", "-0", "NaN",
]


# --- mutations ---------------------------------------------------------------------------------------


def _nodes(value: Any, path: tuple = ()) -> list[tuple]:
    """Every path into a JSON value (the root included), breadth-limited so huge inputs stay cheap."""
    found = [path]
    stack = [(value, path)]
    while stack and len(found) < 5000:
        node, where = stack.pop()
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in children:
            found.append((*where, key))
            stack.append((child, (*where, key)))
    return found


def _get(value: Any, path: tuple) -> Any:
    for key in path:
        value = value[key]
    return value


def _random_value(rng: random.Random) -> Any:
    kind = rng.randrange(9)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 7, 10**30, 1.5, 111122223333])
    if kind == 3:
        return rng.choice(HOSTILE)
    if kind == 4:
        return rng.choice(["x", "y"]) * rng.choice([1000, 100_000])
    if kind == 5:
        return []
    if kind == 6:
        return {}
    if kind == 7:
        return [rng.choice(HOSTILE)]
    return {rng.choice(HOSTILE): rng.choice(HOSTILE)}


def _misspell(key: str, rng: random.Random) -> str:
    if len(key) < 2:
        return key + "x"
    i = rng.randrange(len(key))
    return key[:i] + key[i + 1:] if rng.random() < 0.5 else key[:i] + key[i] + key[i:]


def mutate(value: Any, rng: random.Random) -> Any:
    """One structural mutation of a JSON value (a deep copy is changed; the root may be replaced)."""
    with _deep_values():
        return _mutate(value, rng)


def _mutate(value: Any, rng: random.Random) -> Any:
    root = [value]
    nodes = [(0, *path) for path in _nodes(value)]
    path = rng.choice(nodes)
    parent, key = _get(root, path[:-1]), path[-1]
    operation = rng.randrange(8)
    if operation == 0 and isinstance(parent, dict):
        del parent[key]
    elif operation == 1 and isinstance(parent, dict) and isinstance(key, str):
        parent[_misspell(key, rng)] = parent.pop(key)
    elif operation == 2:
        parent[key] = _random_value(rng)
    elif operation == 3 and isinstance(parent[key], str):
        text = parent[key]
        position = rng.randrange(len(text) + 1)
        parent[key] = text[:position] + rng.choice(HOSTILE) + text[position:]
    elif operation == 4:
        nested: Any = parent[key]
        for _ in range(rng.choice([2, 50, 400])):
            nested = [nested] if rng.random() < 0.5 else {"a": nested}
        parent[key] = nested
    elif operation == 5 and isinstance(parent, list):
        parent.insert(rng.randrange(len(parent) + 1), _deepcopy(parent[key]))
    elif operation == 6 and isinstance(parent[key], list) and parent[key]:
        rng.shuffle(parent[key])
    else:
        parent[key] = rng.choice(HOSTILE) if not isinstance(parent[key], (dict, list)) else None
    return root[0]


def _duplicate_identity(details: Any, rng: random.Random) -> None:
    """Two entries sharing one ARN under different names, or one entry twice."""
    if not isinstance(details, dict):
        return
    for key, name_key in (("UserDetailList", "UserName"), ("RoleDetailList", "RoleName")):
        entries = details.get(key)
        if isinstance(entries, list) and entries and isinstance(entries[0], dict):
            twin = _deepcopy(rng.choice(entries))
            if isinstance(twin, dict) and rng.random() < 0.7:
                twin[name_key] = f"{twin.get(name_key)}-twin"
            entries.append(twin)
            return


# --- reading the seeds -------------------------------------------------------------------------------


def _read(path: Path) -> Any:
    raw = path.read_bytes()
    return json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)


def _snapshot_files(source: Path) -> dict[str, Any]:
    if source.is_file():
        return {"authorization-details.json": _read(source)}
    files = {}
    for path in sorted(source.iterdir()):
        if path.name.startswith("authorization-details"):
            files["authorization-details.json"] = _read(path)
        elif path.name in ("account.json", "scps.json"):
            files[path.name] = _read(path)
    return files


def _count_identities(details: Any) -> int:
    """Users and roles a loader must keep from ``details``: well-formed entries, one per name (pages may overlap)."""
    if not isinstance(details, dict):
        return 0
    names = set()
    for key, name_key in (("UserDetailList", "UserName"), ("RoleDetailList", "RoleName")):
        entries = details.get(key)
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, dict) and isinstance(entry.get(name_key), str) and isinstance(entry.get("Arn"), str):
                names.add((key, entry[name_key]))
    return len(names)


REQUEST = {
    "id": 1, "principal": "arn:aws:iam::111122223333:user/alice", "action": "support:CreateCase",
    "resource": "*", "context": {"aws:MultiFactorAuthPresent": "true", "aws:username": "alice"},
    "identity_policies": [{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["support:*", "trustedadvisor:Describe*"], "Resource": "*",
         "Condition": {"StringLike": {"aws:username": "${aws:username}"}, "Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "No", "Effect": "Deny", "NotAction": "support:Describe*",
         "Resource": "arn:aws:trustedadvisor:*:111122223333:checks/*"}]}],
    "permissions_boundary": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    "scps": [[{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]],
}


# --- running one case --------------------------------------------------------------------------------


class _Quiet:
    """stdout/stderr captured in memory; a text stdout with a ``buffer`` so that CSV output works."""

    def __enter__(self) -> io.StringIO:
        self.err = io.StringIO()
        self.out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        self.saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = self.out, self.err
        return self.err

    def __exit__(self, *exc: Any) -> None:
        sys.stdout, sys.stderr = self.saved


def _cli(argv: list[str]) -> str:
    """``supportkit ARGV`` in this process: "result" or "clean error"; anything escaping main is a traceback."""
    from supportkit.cli.main import main

    with _Quiet() as err:
        try:
            status = main(argv)
        except SystemExit as exit_:  # argparse
            status = exit_.code if isinstance(exit_.code, int) else 2
    lines = [line for line in err.getvalue().splitlines() if ": error: " in line]
    if status == 2 and len(lines) == 1:
        return "clean error"
    if status == 2:
        raise AssertionError(f"exit status 2 with {len(lines)} error lines: {err.getvalue()[:500]!r}")
    return "result"


def _api_snapshot(folder: Path, expected: int, findings: bool) -> str:
    from supportkit import all_findings, build_matrix, load_account, load_catalog
    from supportkit.analysis.matrix import wide
    from supportkit.errors import SupportkitError

    try:
        account = load_account(folder)
    except SupportkitError:
        return "clean error"
    matrix = build_matrix(account)
    wide(matrix)
    if findings:  # 0.2 s a case: one case in twenty
        all_findings(matrix, account, load_catalog())
    loaded = sum(1 for identity in account.identities if identity.type.value != "root")
    accounted = any("skipped" in w or "ignored" in w or "the first is used" in w for w in account.warnings)
    return "lost" if loaded < expected and not accounted else "result"


@contextlib.contextmanager
def _deep_values() -> Iterator[None]:
    """Room for the harness's own recursion: stacked nesting mutations can pass Python's default limit, which
    would make the harness (copying or writing a case), not supportkit, raise. supportkit runs at the default."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def _dumps(value: Any, *, ensure_ascii: bool) -> str:
    """The JSON text of a mutated value, whatever its depth."""
    with _deep_values():
        return json.dumps(value, ensure_ascii=ensure_ascii)


def _deepcopy(value: Any) -> Any:
    with _deep_values():
        return copy.deepcopy(value)


def run_case(seed: int, number: int, work: Path) -> tuple[str, str]:
    """(outcome, description) of case ``number`` of ``seed``."""
    rng = random.Random(f"{seed}:{number}")
    kind = rng.choices(["snapshot", "account", "scps", "simulate"], weights=[4, 2, 2, 5])[0]
    via = rng.choice(["cli", "api"])
    folder = work / f"case{number}"
    folder.mkdir()
    try:
        if kind == "simulate":
            return _simulate_case(rng, via, folder), f"simulate via {via}"
        source = rng.choice(LARGE_SNAPSHOTS if rng.random() < 0.03 else SNAPSHOTS)
        files = _snapshot_files(source)
        target = {"snapshot": "authorization-details.json", "account": "account.json", "scps": "scps.json"}[kind]
        if target not in files:
            target = "authorization-details.json"
        for _ in range(rng.choice([1, 1, 2, 3])):
            files[target] = mutate(files[target], rng)
        if target == "authorization-details.json" and rng.random() < 0.15:
            _duplicate_identity(files[target], rng)
        expected = _count_identities(files["authorization-details.json"])
        for name, value in files.items():
            text = _dumps(value, ensure_ascii=rng.random() < 0.5)
            data = text.encode("utf-8", "surrogatepass" if rng.random() < 0.05 else "replace")
            if rng.random() < 0.03:
                data = b"\xef\xbb\xbf" + data
            (folder / name).write_bytes(data)
        described = f"{kind} of {source.name} via {via}"
        if via == "cli":
            command = rng.choice([["matrix", str(folder), "-o", str(folder / "m.csv")],
                                  ["matrix", str(folder), "--format", "json", "-o", str(folder / "m.json")],
                                  ["diff", str(source), str(folder)]])
            return _cli(command), f"{described}: {command[0]}"
        return _api_snapshot(folder, expected, rng.random() < 0.05), described
    finally:
        _remove(folder)


def _simulate_case(rng: random.Random, via: str, folder: Path) -> str:
    from supportkit.iam.simulate import decode_requests, read_requests, simulate

    requests = [mutate(copy.deepcopy(REQUEST), rng) for _ in range(rng.choice([1, 3, 10]))]
    lines = [_dumps(request, ensure_ascii=rng.random() < 0.5) for request in requests]
    separator = rng.choice(["\n", "\r\n", "\n\n"])
    data = separator.join(lines).encode("utf-8", "surrogatepass")
    if rng.random() < 0.1:
        cut = rng.randrange(len(data) + 1)
        data = data[:cut] + rng.choice([b"\xff", b"\xc3", b"\x00", b"\xef\xbb\xbf"]) + data[cut:]
    if via == "cli":
        path = folder / "requests.jsonl"
        path.write_bytes(data)
        return _cli(["simulate", str(path)])
    results = list(simulate(read_requests(decode_requests(data))))
    json.dumps(results)
    return "result"


def _remove(folder: Path) -> None:
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


# --- the worker pool with a watchdog -----------------------------------------------------------------


def _warm_up() -> None:
    """Imports and the catalog, paid once per worker: on a loaded machine they alone can outlast a case's limit."""
    from supportkit import load_catalog
    from supportkit.analysis import findings, matrix  # noqa: F401
    from supportkit.cli import main  # noqa: F401
    from supportkit.iam import simulate  # noqa: F401

    load_catalog()


def _worker(connection: Connection, seed: int, show: bool) -> None:
    import warnings

    warnings.simplefilter("ignore")
    _warm_up()
    connection.send("ready")  # the parent's clock for a case starts after the imports, not before
    with tempfile.TemporaryDirectory(prefix="supportkit-fuzz-") as work:
        while True:
            number = connection.recv()
            if number is None:
                return
            try:
                outcome, described = run_case(seed, number, Path(work))
            except Exception:  # noqa: BLE001 - the point: every escaping exception is counted
                outcome, described = "traceback", traceback.format_exc(limit=-4)
            connection.send((number, outcome, described if show or outcome in ("traceback", "lost") else ""))


WALL_FACTOR = 10
"""A case that uses little CPU but never answers (blocked on I/O, a lock) is a hang after this many limits."""


def _cpu_seconds(pid: int) -> float | None:
    """CPU time a worker has used so far (user + system), or None where /proc cannot tell (then wall time rules).

    The limit is CPU time, not wall time: on a shared 2-core machine at a load of 20 a worker is starved,
    and a wall-clock limit counted every slow-but-linear case as a hang (28 in a 100,000-case run, none real).
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(cases: int, seed: int, start: int, workers: int, limit: float, show: bool,
        report: Callable[[str], None] = print, progress: int = 0) -> Counter[str]:
    counts: Counter[str] = Counter({outcome: 0 for outcome in OUTCOMES})
    context = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
    pending = iter(range(start, start + cases))
    # per worker: its process, the case it runs (None while idle), and the wall and CPU clocks at the case's start
    running: dict[Connection, tuple[Any, int | None, float, float | None]] = {}

    def spawn() -> Connection:
        parent, child = context.Pipe()
        process = context.Process(target=_worker, args=(child, seed, show), daemon=True)
        process.start()
        if not parent.poll(600) or parent.recv() != "ready":
            raise RuntimeError("a fuzzing worker did not start within 600 s")
        running[parent] = (process, None, 0.0, None)
        return parent

    def feed(connection: Connection) -> None:
        process = running[connection][0]
        number = next(pending, None)
        if number is None:
            connection.send(None)
            process.join(5)
            del running[connection]
            return
        connection.send(number)
        running[connection] = (process, number, time.monotonic(), _cpu_seconds(process.pid))

    def overdue(process: Any, started: float, cpu_started: float | None) -> str | None:
        wall = time.monotonic() - started
        cpu = _cpu_seconds(process.pid)
        if cpu is not None and cpu_started is not None:
            if cpu - cpu_started > limit:
                return f"more than {limit} s of CPU time"
            return f"no answer within {limit * WALL_FACTOR} s" if wall > limit * WALL_FACTOR else None
        return f"no answer within {limit} s" if wall > limit else None

    for _ in range(max(1, workers)):
        feed(spawn())
    while running:
        for connection in wait(list(running), timeout=min(0.5, limit)):
            try:
                number, outcome, described = connection.recv()
            except EOFError:  # the worker died (a crash of the interpreter itself)
                process, number, _, _ = running.pop(connection)
                counts["traceback"] += 1
                report(f"case {number}: the worker died (exit code {process.exitcode})")
                feed(spawn())
                continue
            counts[outcome] += 1
            if progress and sum(counts.values()) % progress == 0:
                report(_summary(counts, sum(counts.values()), seed))
            if described and (show or outcome in ("traceback", "lost")):
                report(f"case {number}: {outcome}: {described}")
            feed(connection)
        for connection, (process, number, started, cpu_started) in list(running.items()):
            why = overdue(process, started, cpu_started) if number is not None else None
            if why:
                process.kill()
                process.join()
                del running[connection]
                counts["hang"] += 1
                report(f"case {number}: hang: {why}")
                feed(spawn())
    return counts


def _summary(counts: Counter[str], cases: int, seed: int) -> str:
    return f"{cases} cases (seed {seed}): " + ", ".join(f"{counts[outcome]} {outcome}" for outcome in OUTCOMES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", type=int, default=0, help="the first case number (to replay one case)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=float, default=10.0, help="CPU seconds per case before it counts as a hang")
    parser.add_argument("--show", action="store_true", help="print every case")
    parser.add_argument("--progress", type=int, default=0, metavar="N", help="print the counts every N cases")
    args = parser.parse_args(argv)
    started = time.monotonic()
    counts = run(args.cases, args.seed, args.start, args.workers, args.limit, args.show,
                 lambda line: print(line, flush=True), args.progress)
    print(f"{_summary(counts, args.cases, args.seed)}; {time.monotonic() - started:.0f} s")
    return 1 if counts["traceback"] or counts["hang"] else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
