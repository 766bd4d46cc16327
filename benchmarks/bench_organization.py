"""An organization of 2,000 accounts: analysis without HTML, reports per account, local pool against Dask.

Run: python benchmarks/bench_organization.py [--accounts 2000] [--identities 50] [--reports 20] [--workers 2]
     [--keep DIR]

The synthetic organization: an OU tree (8 OUs under the root, 4 under each), an SCP that denies support plan
changes on every first-level OU, and per account the identities of ``bench_matrix.generate`` (AWS managed and
customer policies, groups, boundaries, tags, conditions) plus two cross-account roles: ``OrgSupportAccess``,
trusting the security account (account 0, whose users may assume it everywhere), and ``PeerReader``, trusting
another account of the organization. Every 50th account's ``PeerReader`` trusts an account outside it instead.
Accounts are made from 16 templates with their account id replaced, so generating 2,000 takes seconds.

It prints:
- the organization analysis without HTML (matrix and findings of every account, cross-account edges, the
  Parquet dataset), on the local process pool: seconds and accounts per second, the CPU of the workers (per
  account) and of the driver, and the load average (the machine may be shared);
- reports (papermill, then the page) of a subset of ``--reports`` accounts, with their organization page, on the
  local pool and on a Dask LocalCluster with the same number of workers: seconds per account amortized;
- the peak memory (RSS) of this driver process (workers are other processes);
- the projected time of each on 20 workers: the measured cost of one account on one worker
  (wall time x workers / accounts), times accounts / 20, plus the measured fixed start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from supportkit.analysis.organization import analyse_organization
from supportkit.report.executors import make_executor
from supportkit.report.pipeline import run_reports

sys.path.insert(0, str(Path(__file__).parent))
from bench_matrix import ACCOUNT as TEMPLATE_ACCOUNT  # noqa: E402
from bench_matrix import generate  # noqa: E402

ORGANIZATION = "o-bench000001"
ROOT = "r-bnch"
TEMPLATES = 16
FULL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
NO_PLAN_CHANGES = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Action": ["supportplans:StartSupportPlanUpdate", "supportplans:CreateSupportPlanSchedule"],
     "Resource": "*"}]})


def account_id(number: int) -> str:
    return f"{200000000000 + number:012d}"


def trust(principal: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{principal}:root"}, "Action": "sts:AssumeRole"}]}


def role(account: str, name: str, trusted: str, actions: list[str]) -> dict:
    return {"RoleName": name, "RoleId": f"AROA{abs(hash((account, name))) % 10**17:017d}", "Path": "/",
            "Arn": f"arn:aws:iam::{account}:role/{name}", "CreateDate": "2024-01-01T00:00:00Z",
            "AssumeRolePolicyDocument": trust(trusted), "AttachedManagedPolicies": [], "Tags": [],
            "InstanceProfileList": [], "RolePolicyList": [{"PolicyName": f"{name}-access", "PolicyDocument": {
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}}]}


def generate_organization(folder: Path, accounts: int, identities: int) -> Path:
    """``folder/organization.json`` and one snapshot folder per account."""
    templates = [json.dumps(generate(identities - 2, seed=seed)[0]) for seed in range(TEMPLATES)]
    units = [{"id": f"ou-bnch-{top:02d}000000", "name": f"unit-{top}", "parent": ROOT} for top in range(8)]
    units += [{"id": f"ou-bnch-{top:02d}{child:02d}0000", "name": f"unit-{top}-{child}",
               "parent": f"ou-bnch-{top:02d}000000"} for top in range(8) for child in range(4)]
    leaves = units[8:]
    members = []
    security = account_id(0)
    for number in range(accounts):
        current = account_id(number)
        details = json.loads(templates[number % TEMPLATES].replace(TEMPLATE_ACCOUNT, current))
        peer = account_id((number * 7 + 3) % accounts) if number % 50 else "999999999999"
        details["RoleDetailList"] += [
            role(current, "OrgSupportAccess", security, ["support:*"]),
            role(current, "PeerReader", peer, ["support:DescribeCases", "support:DescribeCommunications"]),
        ]
        if number == 0:
            for user in details["UserDetailList"][:5]:
                user["UserPolicyList"].append({"PolicyName": "assume-everywhere", "PolicyDocument": {
                    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                            "Resource": "arn:aws:iam::*:role/OrgSupportAccess"}]}})
        leaf = leaves[number % len(leaves)]
        scps = {"levels": [
            {"target": ROOT, "policies": [{"Name": "FullAWSAccess", "Content": FULL}]},
            {"target": leaf["parent"], "policies": [{"Name": "FullAWSAccess", "Content": FULL},
                                                    {"Name": "NoPlanChanges", "Content": NO_PLAN_CHANGES}]},
            {"target": leaf["id"], "policies": [{"Name": "FullAWSAccess", "Content": FULL}]},
            {"target": current, "policies": [{"Name": "FullAWSAccess", "Content": FULL}]},
        ]}
        snapshot = folder / current
        snapshot.mkdir(parents=True)
        (snapshot / "authorization-details.json").write_text(json.dumps(details))
        (snapshot / "scps.json").write_text(json.dumps(scps))
        (snapshot / "account.json").write_text(json.dumps(
            {"account_id": current, "name": f"account-{number}", "support_plan": "business"}))
        members.append({"id": current, "name": f"account-{number}", "parent": leaf["id"], "folder": current})
    (folder / "organization.json").write_text(json.dumps({
        "organization": {"id": ORGANIZATION, "management_account_id": "100000000000"},
        "roots": [{"id": ROOT, "name": "Root"}], "units": units, "accounts": members}))
    return folder


def subset(source: Path, target: Path, count: int) -> Path:
    """The first ``count`` accounts of the organization at ``source``, as an organization folder of their own."""
    organization = json.loads((source / "organization.json").read_text())
    organization["accounts"] = organization["accounts"][:count]
    target.mkdir(parents=True)
    for member in organization["accounts"]:
        shutil.copytree(source / member["folder"], target / member["folder"])
    (target / "organization.json").write_text(json.dumps(organization))
    return target


def cpu_seconds() -> tuple[float, float]:
    """CPU (user + system) of this process, and of its children that ended (a closed pool's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def load() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def projection(wall: float, startup: float, workers: int, measured: int, accounts: int, target: int = 20) -> float:
    """Seconds for ``accounts`` on ``target`` workers: the per-account worker cost measured here, and the start-up."""
    per_account = max(wall - startup, 0.0) * workers / measured
    return startup + per_account * accounts / target


def measure_startup(name: str, workers: int) -> float:
    started = time.perf_counter()
    with make_executor(name, workers) as engine:
        engine.map(abs, [-1] * workers)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--identities", type=int, default=50)
    parser.add_argument("--reports", type=int, default=20, help="accounts in the report runs (0: no report runs)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="generate the organization here and keep it")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="supportkit-bench-org-"))
    try:
        started = time.perf_counter()
        organization = generate_organization(folder / "organization", args.accounts, args.identities)
        print(f"generated {args.accounts} accounts of {args.identities} identities in "
              f"{time.perf_counter() - started:.1f} s")

        startup = {name: measure_startup(name, args.workers) for name in ("local", "dask")}
        print(f"executor start-up, {args.workers} workers: local pool {startup['local']:.1f} s, "
              f"Dask LocalCluster {startup['dask']:.1f} s")

        started, before = time.perf_counter(), cpu_seconds()
        with make_executor("local", args.workers) as engine:
            analysis = analyse_organization(organization, dataset=folder / "matrix", runner=engine.results)
        wall = time.perf_counter() - started
        analysed = cpu_seconds()
        outside = len(analysis.outside_case_readers())
        answers = cpu_seconds()
        print(f"organization analysis, no HTML, local pool of {args.workers}: {len(analysis.accounts)} accounts in "
              f"{wall:.1f} s = {len(analysis.accounts) / wall:.1f} accounts/s; {len(analysis.edges)} edges, "
              f"{outside} outside readers, {len(analysis.failures)} failures (load average {load()})")
        print(f"  CPU: workers {analysed[1] - before[1]:.1f} s "
              f"({(analysed[1] - before[1]) * 1000 / len(analysis.accounts):.0f} ms per account), driver "
              f"{analysed[0] - before[0]:.1f} s, then the organization's answers (outside readers) "
              f"{answers[0] - analysed[0]:.1f} s")
        print(f"  projected on 20 workers: {projection(wall, startup['local'], args.workers, args.accounts, args.accounts):.0f} s")

        reports = subset(organization, folder / "subset", args.reports) if args.reports > 0 else None
        for name in ("local", "dask") if reports is not None else ():
            started = time.perf_counter()
            summary = run_reports([reports], folder / f"reports-{name}", workers=args.workers, quiet=True,
                                  executor=name)
            wall = time.perf_counter() - started
            failed = len(summary.failed)
            print(f"reports, {name} executor, {args.workers} workers: {args.reports} accounts + organization page in "
                  f"{wall:.1f} s = {wall / args.reports:.2f} s per account{f' ({failed} failed)' if failed else ''} "
                  f"(load average {load()})")
            print(f"  projected for {args.accounts} accounts on 20 workers: "
                  f"{projection(wall, startup[name], args.workers, args.reports, args.accounts) / 60:.1f} min")
        print(f"peak memory of the driver: {peak_mib():.0f} MiB")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
