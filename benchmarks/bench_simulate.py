"""Decisions per second of `supportkit simulate` on 10,000 varied requests, in one process.

Run: python benchmarks/bench_simulate.py [--requests N] [--against TREE [--runs K]]
The requests mix users, roles, sessions and the root user; identity policies, boundaries, session
policies and SCP levels; conditions with context keys; every catalog action. As other tools send them,
most requests carry their own policies: drawn per request with the generator of bench_matrix.py (Sids,
actions, conditions on MFA, source IP and tags), with a few shared ones among them. The timing covers
the command ``supportkit simulate FILE`` run in this process (its output captured): reading the file, then per
line JSON decode, validation, evaluation, lint and JSON encode of the result.

``--against TREE`` (a checkout of another commit, e.g. ``git worktree add /tmp/base 17b6b75``) also times the
whole command, ``python -m supportkit simulate FILE`` in a process of its own (start-up and imports included, with
each tree's bytecode compiled once beforehand, as an installed package has it), for this tree and for TREE in
turn, K times each: the least CPU time (user + sys) of each, their ratio, whether their
outputs are byte-identical, and the load average (the machine may be shared: CPU time, not wall time, and the
least of several runs).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from supportkit.cli.main import main as supportkit
from supportkit.support.catalog import load_catalog

sys.path.insert(0, str(Path(__file__).parent))
from bench_matrix import customer_policy  # noqa: E402  (the varied policies of the matrix benchmark)

ACCOUNT = "111122223333"
POLICIES = [
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "support:*", "Resource": "*"}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "support:*", "Resource": "*"},
                                            {"Effect": "Deny", "Action": "support:ResolveCase", "Resource": "*"}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["support:Describe*", "trustedadvisor:*"],
                                             "Resource": "*"}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"],
                                             "Resource": "*"}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                                             "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "support:*", "Resource": "*",
                                             "Condition": {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24",
                                                                                          "2001:DB8::/32"]}}}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["support:*", "supportplans:Get*"],
                                             "Resource": "*",
                                             "Condition": {"StringEquals": {"aws:PrincipalTag/team": "ops"},
                                                           "ForAllValues:StringLike": {"aws:TagKeys": ["env*"]}}}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "trustedadvisor:*",
                                             "Resource": "arn:aws:trustedadvisor:*:${aws:PrincipalAccount}:checks/*"}]},
]
BOUNDARIES = [None, {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["support:*", "s3:*"],
                                                            "Resource": "*"}]}]
SCP_SETS = [
    [],
    [[{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}],
     [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                                              {"Effect": "Deny", "Action": "support:ResolveCase", "Resource": "*"}]}]],
]
PRINCIPALS = [
    f"arn:aws:iam::{ACCOUNT}:user/alice", f"arn:aws:iam::{ACCOUNT}:user/ops/bob", f"arn:aws:iam::{ACCOUNT}:root",
    f"arn:aws:iam::{ACCOUNT}:role/SupportRole", f"arn:aws:sts::{ACCOUNT}:assumed-role/Ops/session",
]
CONTEXTS = [{}, {"aws:MultiFactorAuthPresent": True}, {"aws:SourceIp": "203.0.113.9"},
            {"aws:SourceIp": "2001:db8::1", "aws:PrincipalTag/team": "ops", "aws:TagKeys": ["env", "envx"]}]


def make_requests(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    actions = [action.name for action in load_catalog().actions]
    lines = []
    for number in range(count):
        action = rng.choice(actions)
        request = {
            "id": number,
            "principal": rng.choice(PRINCIPALS),
            "action": action,
            "context": rng.choice(CONTEXTS),
            "identity_policies": [customer_policy(rng, number * 4 + k) if rng.random() < 0.8 else rng.choice(POLICIES)
                                  for k in range(rng.randint(0, 3))],
            "scps": rng.choice(SCP_SETS),
            "management_account": rng.random() < 0.2,
        }
        if action.startswith("trustedadvisor:") and rng.random() < 0.5:
            request["resource"] = f"arn:aws:trustedadvisor:us-east-1:{ACCOUNT}:checks/security/Pfx0RwqBli"
        boundary = rng.choice(BOUNDARIES)
        if boundary:
            request["permissions_boundary"] = boundary
        if "role/" in request["principal"] and rng.random() < 0.3:
            request["session_policy"] = customer_policy(rng, number * 4 + 3)
        lines.append(json.dumps(request))
    return lines


def command_cpu(tree: Path, path: Path, bytecode: Path) -> tuple[float, str]:
    """CPU seconds (user + sys) of ``python -m supportkit simulate PATH`` run from ``tree``, and its output's md5.

    Bytecode is cached in ``bytecode`` (a folder per tree) as an installed package has it, even where the
    machine sets PYTHONDONTWRITEBYTECODE: compiling the sources again on every run is not the command's cost.
    """
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-m", "supportkit", "simulate", str(path)], capture_output=True,
                          env={**env, "PYTHONPATH": str(tree), "PYTHONPYCACHEPREFIX": str(bytecode)},
                          cwd=path.parent, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return cpu, hashlib.md5(done.stdout).hexdigest()


def compare(path: Path, against: Path, runs: int) -> None:
    """The whole command from this tree and from ``against``, alternately: least CPU of each, ratio, outputs."""
    trees = {"this tree": Path(__file__).resolve().parent.parent, str(against): against.resolve()}
    cpu: dict[str, list[float]] = {name: [] for name in trees}
    outputs: dict[str, set[str]] = {name: set() for name in trees}
    loads = []
    with tempfile.TemporaryDirectory() as cached:
        bytecode = {name: Path(cached) / str(i) for i, name in enumerate(trees)}
        for name, tree in trees.items():
            command_cpu(tree, path, bytecode[name])  # compiles and caches the bytecode: not timed
        for _ in range(runs):
            for name, tree in trees.items():
                seconds, digest = command_cpu(tree, path, bytecode[name])
                cpu[name].append(seconds)
                outputs[name].add(digest)
            loads.append(os.getloadavg()[0])
    for name in trees:
        print(f"command CPU, {name}: least {min(cpu[name]):.3f} s of {', '.join(f'{c:.2f}' for c in cpu[name])}")
    mine, theirs = (min(values) for values in cpu.values())
    same = len(set.union(*outputs.values())) == 1
    print(f"{against} / this tree: {theirs / mine:.2f}x; outputs {'byte-identical' if same else 'DIFFER'}; "
          f"load average (1 min) {min(loads):.1f}-{max(loads):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--against", type=Path, metavar="TREE",
                        help="also time the whole command against this checkout (see above)")
    parser.add_argument("--runs", type=int, default=5, metavar="K", help="runs of each command with --against")
    args = parser.parse_args()
    sink = io.StringIO()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "requests.jsonl"
        path.write_text("\n".join(make_requests(args.requests)) + "\n", encoding="utf-8")
        start, cpu = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(sink):
            supportkit(["simulate", str(path)])
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        if args.against is not None:
            compare(path, args.against, args.runs)
    decisions: dict[str, int] = {}
    for line in sink.getvalue().splitlines():
        key = json.loads(line).get("decision", "error")
        decisions[key] = decisions.get(key, 0) + 1
    print(f"simulate: {args.requests} requests in {elapsed:.3f} s = {args.requests / elapsed:,.0f} decisions/s "
          f"(CPU {cpu:.3f} s = {args.requests / cpu:,.0f} decisions per CPU second; the machine may be shared)")
    print("decisions:", ", ".join(f"{k}={v}" for k, v in sorted(decisions.items())))


if __name__ == "__main__":
    main()
