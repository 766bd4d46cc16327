"""Time of the who-can paths (trust, role chains, escalation, conditions) beside the matrix time.

Run: python benchmarks/bench_paths.py [--sizes 1000 10000] [--seed 11] [--runs 3]

The account is bench_matrix's generated one (0.4 N users, 0.6 N roles, conditions on MFA, source IP and
tags, boundaries, a 3-level SCP chain), with trust policies made varied: of the roles, 30 % trust the
account, 10 % a user by ARN, 10 % another role by ARN (chains), 5 % another account with an external id,
5 % a SAML provider with MFA, 3 % are Identity Center roles (whose sessions may be tagged), the rest trust
services. A fifth of the users may assume ``role/app/*``, and 2 % of the users can change their own policies
(escalation). The matrix is the long-form matrix of every identity and catalog action; the paths are
``who_can`` for one capability; "conditions" is ``conditional_cells``, the report's enumeration of every
request-dependent cell of the matrix. Each of ``--runs`` runs is a process of its own (caches on parsed policies
would warm a second run in one process); the figures are each stage's least CPU seconds (``time.process_time``:
steadier than wall-clock on a shared machine, which the load average printed tells) with its wall-clock time,
and each stage's ratio to the matrix run by run (its median: the machine's speed drifts between runs).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_matrix import ACCOUNT, generate

OTHER = "444455556666"
CAPABILITIES = ("RESOLVE", "READ_CASES")


def _trust(principal: dict, action: str | list[str] = "sts:AssumeRole", condition: dict | None = None) -> dict:
    statement = {"Effect": "Allow", "Principal": principal, "Action": action}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def vary_trust(details: dict, seed: int) -> dict:
    """bench_matrix's account with varied trust policies, assume permissions and a few escalations."""
    rng = random.Random(seed)
    users, roles = details["UserDetailList"], details["RoleDetailList"]
    for index, entry in enumerate(roles):
        if entry["Path"].startswith("/aws-service-role/"):
            continue
        pick = rng.random()
        if pick < 0.30:
            trust = _trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
        elif pick < 0.40:
            trust = _trust({"AWS": rng.choice(users)["Arn"]})
        elif pick < 0.50 and index:
            trust = _trust({"AWS": roles[rng.randrange(index)]["Arn"]})
        elif pick < 0.55:
            trust = _trust({"AWS": f"arn:aws:iam::{OTHER}:root"}, condition={"StringEquals": {"sts:ExternalId": "x"}})
        elif pick < 0.60:
            trust = _trust({"Federated": f"arn:aws:iam::{ACCOUNT}:saml-provider/Okta"}, "sts:AssumeRoleWithSAML",
                           {"Bool": {"aws:MultiFactorAuthPresent": "true"}})
        elif pick < 0.63:
            entry["Path"] = "/aws-reserved/sso.amazonaws.com/"
            entry["RoleName"] = f"AWSReservedSSO_Set{index}_{index:016x}"
            entry["Arn"] = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/{entry['RoleName']}"
            trust = _trust({"Federated": f"arn:aws:iam::{ACCOUNT}:saml-provider/AWSSSO_0a1b_DO_NOT_DELETE"},
                           ["sts:AssumeRoleWithSAML", "sts:TagSession"])  # as Identity Center makes them
        else:
            trust = _trust({"Service": rng.choice(["lambda.amazonaws.com", "ec2.amazonaws.com"])})
        entry["AssumeRolePolicyDocument"] = trust
    for entry in users:
        pick = rng.random()
        if pick < 0.2:
            entry["UserPolicyList"].append({"PolicyName": "AssumeApp", "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/app/*"}]}})
        elif pick < 0.22:
            entry["UserPolicyList"].append({"PolicyName": "SelfService", "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["iam:PutUserPolicy", "iam:AttachUserPolicy"],
                               "Resource": entry["Arn"]}]}})
    return details


def write_snapshot(size: int, seed: int, snapshot: Path) -> Path:
    """The bench account of ``size`` identities (:func:`vary_trust` of bench_matrix's) as a snapshot folder."""
    details, scps = generate(size, seed)
    snapshot.mkdir(parents=True, exist_ok=True)
    (snapshot / "authorization-details.json").write_text(json.dumps(vary_trust(details, seed)))
    (snapshot / "scps.json").write_text(json.dumps(scps))
    (snapshot / "account.json").write_text(json.dumps({"account_id": ACCOUNT, "support_plan": "business"}))
    return snapshot


STAGES = (*CAPABILITIES, "conditions")
"""The stages measured beside the matrix: who-can per capability, then the conditions."""


def stage_work(name: str, account, catalog, matrix=None):
    """The work of one of :data:`STAGES` on ``account`` (the conditions need its ``matrix``), as a callable."""
    from supportkit.analysis.paths import conditional_cells, resolve_target, who_can_target

    if name == "conditions":
        return lambda: conditional_cells(account, matrix, catalog)
    target = resolve_target(catalog, name)
    return lambda: who_can_target(account, target)


def measure(snapshot: Path) -> dict:
    """One run in this process: CPU and wall seconds of the matrix, who-can per capability and the conditions."""
    from supportkit.analysis.matrix import build_matrix
    from supportkit.snapshot import load_account
    from supportkit.support.catalog import load_catalog

    catalog = load_catalog()
    start = time.perf_counter()
    account = load_account(snapshot)
    figures: dict = {"load": (time.perf_counter() - start, 0.0)}

    def timed(name: str, work):
        began, cpu = time.perf_counter(), time.process_time()
        found = work()
        figures[name] = (time.perf_counter() - began, time.process_time() - cpu)
        return found

    matrix = timed("matrix", lambda: build_matrix(account, catalog))
    figures["cells"] = len(matrix)
    for capability in CAPABILITIES:
        paths = timed(capability, stage_work(capability, account, catalog))
        figures[f"{capability} principals"] = (len(paths), sum(1 for p in paths if p.steps))
    cells = timed("conditions", stage_work("conditions", account, catalog, matrix))
    figures["conditional cells"] = len(cells)
    return figures


def run(size: int, seed: int, folder: Path, runs: int) -> None:
    """``runs`` runs, each in a process of its own (no cache of one warms the next): the least CPU of each stage."""
    snapshot = write_snapshot(size, seed, folder / f"account-{size}")
    found = [json.loads(subprocess.run([sys.executable, __file__, "--measure", str(snapshot)], check=True,
                                       capture_output=True, text=True).stdout) for _ in range(runs)]

    def least(name: str) -> tuple[float, float]:
        return min((run[name] for run in found), key=lambda figure: figure[1] or figure[0])

    matrix = least("matrix")
    every = ", ".join(f"{run['matrix'][1]:.2f}" for run in found)
    print(f"{size:>6} identities: load {least('load')[0]:6.2f} s   matrix {matrix[0]:6.2f} s "
          f"({matrix[1]:6.2f} s CPU, least of {every}; {found[0]['cells']:,} cells)")

    def stage(name: str, label: str, counted: str) -> None:
        seconds, cpu = least(name)
        every = ", ".join(f"{run[name][1]:.2f}" for run in found)
        # The machine's speed drifts between runs (seen: the matrix's CPU seconds 1.4 to 2.2 on one machine):
        # a run's stages share its speed, so the median of the per-run ratios is the steadier figure.
        each = sorted(run[name][1] / run["matrix"][1] for run in found)
        print(f"{'':>6}  {label:<19} {seconds:6.2f} s ({cpu:6.2f} s CPU, least of {every}; "
              f"{cpu / matrix[1]:4.2f}x the matrix; median {statistics.median(each):4.2f}x, "
              f"{each[0]:4.2f} to {each[-1]:4.2f} per run)   {counted}")

    for capability in CAPABILITIES:
        principals, chained = found[0][f"{capability} principals"]
        stage(capability, f"who-can {capability}", f"{principals:,} principals, {chained:,} through a path")
    stage("conditions", "conditions", f"{found[0]['conditional cells']:,} request-dependent cells")
    print(f"{'':>6}  load average (1 min) {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--runs", type=int, default=3, metavar="K", help="runs, each in its own process")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # one run, as JSON (a child process)
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure)))
        return
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            run(size, args.seed, Path(folder), args.runs)


if __name__ == "__main__":
    main()
