"""Stage timings, cells/s and peak memory of the permission matrix on generated accounts shaped like real ones.

Run: python benchmarks/bench_matrix.py [--sizes 100 1000 10000 50000] [--keep DIR] [--named-checks 800 10000]
                                      [--outputs 20000]

An account of N identities has 0.4 N users and 0.6 N roles. Each identity has its own inline policies
(Sids, resources and conditions naming it), tags with many distinct values that conditions read
(aws:PrincipalTag/team, /project, /cost-center), and attaches some of the N/4 customer managed policies,
whose conditions test aws:MultiFactorAuthPresent, aws:SourceIp and principal tags; users also get AWS
managed policies through groups; a fifth have a permissions boundary; some roles are service-linked; a
3-level SCP chain (root, OU, account) holds Deny statements with conditions. The request context adds
MFA and a source IP.

Each size runs in fresh processes: one measures the stages (a bare ``json.load`` of the file as the floor,
``load_account``, ``build_matrix``, writing Parquet) and its own peak RSS; another times the end-to-end
command ``supportkit matrix SNAPSHOT --format parquet -o FILE`` and its peak RSS. The ratio printed is that
end-to-end time over the ``json.load`` floor measured in the same run, in wall time and in CPU time (the
command's user + system time over the floor's): on a shared machine the CPU figures move less. The load
average at the start of each size is printed with it.

``--named-checks N...`` prints instead, per N, the CPU time of ``build_matrix`` for one user whose policy holds
N statements each naming a distinct Trusted Advisor check ARN (issue 12: 800 took about 8 s, 10,000 over 300 s,
when each named check was a dense column of every statement's tables).

``--outputs N...`` prints instead, per N identities, the peak RSS of the analysis alone (``load_account`` and
``build_matrix`` in a fresh process) and of ``supportkit matrix --format json|csv|parquet -o FILE``: the outputs
are streamed, so each format should cost about the analysis (issue 12: at 20,000 identities JSON peaked at 10.6 GB,
CSV and Parquet at 2.5 GB, when each was converted whole).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ACCOUNT = "111122223333"
AWS_MANAGED = ["AdministratorAccess", "ReadOnlyAccess", "AWSSupportAccess", "PowerUserAccess", "SecurityAudit",
               "job-function/SupportUser", "job-function/ViewOnlyAccess", "job-function/Billing",
               "AWSSupportPlansReadOnlyAccess", "AWSTrustedAdvisorPriorityReadOnlyAccess"]
CONTEXT = ["--context", "aws:MultiFactorAuthPresent=true", "--context", "aws:SourceIp=203.0.113.7"]
SUPPORT_ACTIONS = ["support:DescribeCases", "support:CreateCase", "support:AddCommunicationToCase",
                   "support:ResolveCase", "support:Describe*", "support:*", "trustedadvisor:Describe*",
                   "trustedadvisor:RefreshCheck", "supportplans:GetSupportPlan", "supportplans:*", "supportapp:*",
                   "support-console:*", "trustedadvisor:*"]
OTHER_ACTIONS = ["s3:GetObject", "s3:PutObject", "ec2:Describe*", "dynamodb:Query", "logs:*", "sqs:SendMessage",
                 "lambda:InvokeFunction", "kms:Decrypt", "cloudwatch:GetMetricData", "iam:PassRole"]
TEAMS = [f"team-{t}" for t in range(40)]


def _doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _managed_entry(arn: str, name: str, document: dict, path: str = "/") -> dict:
    return {"PolicyName": name, "PolicyId": "ANPA" + f"{abs(hash(arn)) % 10**17:017d}", "Arn": arn, "Path": path,
            "DefaultVersionId": "v1", "AttachmentCount": 1, "IsAttachable": True,
            "CreateDate": "2024-01-01T00:00:00Z", "UpdateDate": "2024-01-01T00:00:00Z",
            "PolicyVersionList": [{"Document": document, "VersionId": "v1", "IsDefaultVersion": True,
                                   "CreateDate": "2024-01-01T00:00:00Z"}]}


def _condition(rng: random.Random) -> dict:
    """One condition block of the kinds real policies use: MFA, source IP, principal tags."""
    choice = rng.randrange(6)
    if choice == 0:
        return {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    if choice == 1:
        return {"IpAddress": {"aws:SourceIp": [f"203.0.{rng.randrange(256)}.0/24", "198.51.100.0/24"]}}
    if choice == 2:
        return {"StringEquals": {"aws:PrincipalTag/team": rng.sample(TEAMS, rng.randint(1, 3))}}
    if choice == 3:
        return {"StringLike": {"aws:PrincipalTag/project": f"proj-{rng.randrange(100)}*"}}
    if choice == 4:
        return {"NumericLessThan": {"aws:MultiFactorAuthAge": str(rng.choice([900, 3600, 43200]))}}
    return {}


def customer_policy(rng: random.Random, number: int) -> dict:
    statements = []
    for s in range(rng.randint(1, 4)):
        pool = SUPPORT_ACTIONS if rng.random() < 0.6 else OTHER_ACTIONS
        statement = {"Sid": f"P{number}S{s}", "Effect": "Deny" if rng.random() < 0.15 else "Allow",
                     "Action": rng.sample(pool, rng.randint(1, 3)), "Resource": "*"}
        if rng.random() < 0.1:
            statement["NotAction"] = statement.pop("Action")
            statement["Effect"] = "Allow"
        condition = _condition(rng)
        if condition:
            statement["Condition"] = condition
        statements.append(statement)
    return _doc(*statements)


def _inline(rng: random.Random, owner: str) -> list[dict]:
    """The identity's own policies: unique Sids, resources and conditions that name it."""
    found = []
    for p in range(rng.randint(1, 3)):
        statements = [{"Sid": f"Own{owner.replace('-', '')}{p}", "Effect": "Allow",
                       "Action": rng.sample(OTHER_ACTIONS, 2),
                       "Resource": [f"arn:aws:s3:::{owner}-data/*", f"arn:aws:sqs:us-east-1:{ACCOUNT}:{owner}"]}]
        if rng.random() < 0.5:
            statements.append({"Effect": "Allow", "Action": rng.sample(SUPPORT_ACTIONS, rng.randint(1, 3)),
                               "Resource": "*", "Condition": {"StringEquals": {
                                   "aws:PrincipalTag/cost-center": f"cc-{rng.randrange(2000)}"}}})
        if rng.random() < 0.2:
            statements.append({"Effect": "Deny", "Action": "support:ResolveCase", "Resource": "*",
                               "Condition": {"StringNotEquals": {"aws:username": owner}}})
        found.append({"PolicyName": f"{owner}-inline-{p}", "PolicyDocument": _doc(*statements)})
    return found


def generate(identities: int, seed: int = 11) -> tuple[dict, dict]:
    """An authorization-details document and its scps.json, with ``identities`` identities (root included)."""
    from supportkit.support.managed import aws_managed_policy

    rng = random.Random(seed)
    policies, aws_arns = [], []
    for name in AWS_MANAGED:
        managed = aws_managed_policy(name.rsplit("/", 1)[-1])
        assert managed is not None, name
        policies.append(_managed_entry(managed.arn, managed.name, dict(managed.document), managed.path))
        aws_arns.append(managed.arn)
    customer_arns = []
    for number in range(max(6, identities // 4)):
        arn = f"arn:aws:iam::{ACCOUNT}:policy/team/Customer{number}"
        policies.append(_managed_entry(arn, f"Customer{number}", customer_policy(rng, number), "/team/"))
        customer_arns.append(arn)
    boundary_arn = f"arn:aws:iam::{ACCOUNT}:policy/Boundary"
    policies.append(_managed_entry(boundary_arn, "Boundary", _doc(
        {"Effect": "Allow", "Action": ["support:*", "trustedadvisor:*", "s3:*", "ec2:*", "supportplans:Get*"],
         "Resource": "*"})))
    groups = []
    for g in range(max(3, identities // 200)):
        attached = [*rng.sample(aws_arns, rng.randint(0, 2)), *rng.sample(customer_arns, rng.randint(0, 2))]
        groups.append({"GroupName": f"group-{g}", "GroupId": f"AGPA{g:017d}", "Path": "/",
                       "Arn": f"arn:aws:iam::{ACCOUNT}:group/group-{g}", "CreateDate": "2024-01-01T00:00:00Z",
                       "GroupPolicyList": [], "AttachedManagedPolicies": [
                           {"PolicyName": a.rsplit("/", 1)[-1], "PolicyArn": a} for a in attached]})

    def attachments() -> list[dict]:
        chosen = rng.sample(customer_arns, rng.randint(0, 4))
        if rng.random() < 0.1:
            chosen.append(rng.choice(aws_arns))
        return [{"PolicyName": a.rsplit("/", 1)[-1], "PolicyArn": a} for a in chosen]

    def extras() -> dict:
        if rng.random() < 0.2:
            return {"PermissionsBoundary": {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": boundary_arn}}
        return {}

    def tags(owner: str) -> list[dict]:
        return [{"Key": "team", "Value": rng.choice(TEAMS)}, {"Key": "project", "Value": f"proj-{rng.randrange(300)}"},
                {"Key": "cost-center", "Value": f"cc-{rng.randrange(2000)}"}, {"Key": "owner", "Value": owner}]

    users, roles = [], []
    n_users = identities * 4 // 10
    for u in range(n_users):
        name = f"user-{u}"
        users.append({"UserName": name, "UserId": f"AIDA{u:017d}", "Path": "/", "CreateDate": "2024-01-01T00:00:00Z",
                      "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "UserPolicyList": _inline(rng, name),
                      "GroupList": [g["GroupName"] for g in rng.sample(groups, rng.randint(0, 2))],
                      "AttachedManagedPolicies": attachments(), "Tags": tags(name), **extras()})
    for r in range(identities - n_users - 1):
        service_linked = r % 50 == 0
        path = "/aws-service-role/support.amazonaws.com/" if service_linked else "/app/"
        name = f"role-{r}"
        roles.append({"RoleName": name, "RoleId": f"AROA{r:017d}", "Path": path, "CreateDate": "2024-01-01T00:00:00Z",
                      "Arn": f"arn:aws:iam::{ACCOUNT}:role{path}{name}", "AssumeRolePolicyDocument": _doc(
                          {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}),
                      "RolePolicyList": _inline(rng, name), "AttachedManagedPolicies": attachments(),
                      "Tags": tags(name), "InstanceProfileList": [], **extras()})
    details = {"UserDetailList": users, "GroupDetailList": groups, "RoleDetailList": roles, "Policies": policies}
    full = _doc({"Effect": "Allow", "Action": "*", "Resource": "*"})

    def scp(name: str, *statements: dict) -> dict:
        return {"Name": name, "Content": json.dumps(_doc(*statements))}

    scps = {"levels": [
        {"target": "r-ab12", "policies": [
            {"Name": "FullAWSAccess", "Content": json.dumps(full)},
            scp("PlanChangesByAdmins", {"Effect": "Deny", "Action": "supportplans:*", "NotResource": "arn:aws:s3:::x",
                                        "Condition": {"StringNotEquals": {"aws:PrincipalTag/team": "team-0"}}})]},
        {"target": "ou-ab12-11111111", "policies": [
            {"Name": "FullAWSAccess", "Content": json.dumps(full)},
            scp("ResolveWithMfa", {"Effect": "Deny", "Action": "support:ResolveCase", "Resource": "*",
                                   "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}})]},
        {"target": ACCOUNT, "policies": [
            scp("Regional", {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"}),
            scp("OfficeOnly", {"Effect": "Deny", "Action": ["support:*", "trustedadvisor:*"], "Resource": "*",
                               "Condition": {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}}})]},
    ]}
    return details, scps


def write_snapshot(size: int, folder: Path) -> Path:
    details, scps = generate(size)
    snapshot = folder / f"account-{size}"
    snapshot.mkdir(parents=True, exist_ok=True)
    (snapshot / "authorization-details.json").write_text(json.dumps(details))
    (snapshot / "scps.json").write_text(json.dumps(scps))
    (snapshot / "account.json").write_text(json.dumps({"account_id": ACCOUNT, "support_plan": "business"}))
    return snapshot


def _peak_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _cpu() -> float:
    return time.process_time()


def stages(snapshot: Path, output: Path) -> dict:
    """In this (fresh) process: the wall and CPU time of each stage, and this process's peak RSS."""
    from supportkit.analysis.matrix import build_matrix, write_matrix
    from supportkit.iam.context import context_from_arguments
    from supportkit.snapshot import load_account
    from supportkit.support.catalog import load_catalog

    catalog = load_catalog()
    context = context_from_arguments(CONTEXT[1::2])
    figures = {}
    start, cpu = time.perf_counter(), _cpu()
    with (snapshot / "authorization-details.json").open() as handle:
        json.load(handle)
    figures["json_load"], figures["json_load_cpu"] = time.perf_counter() - start, _cpu() - cpu
    start, cpu = time.perf_counter(), _cpu()
    account = load_account(snapshot)
    figures["load"], figures["load_cpu"] = time.perf_counter() - start, _cpu() - cpu
    start, cpu = time.perf_counter(), _cpu()
    matrix = build_matrix(account, catalog, context=context)
    figures["matrix"], figures["matrix_cpu"] = time.perf_counter() - start, _cpu() - cpu
    start, cpu = time.perf_counter(), _cpu()
    write_matrix(matrix, "parquet", output)
    figures["write"], figures["write_cpu"] = time.perf_counter() - start, _cpu() - cpu
    figures.update(identities=len(account.identities), actions=len(catalog.actions), cells=len(matrix),
                   peak_mib=_peak_mib(resource.RUSAGE_SELF))
    return figures


def analysis(snapshot: Path) -> dict:
    """In this (fresh) process: load_account and build_matrix only, and this process's peak RSS."""
    from supportkit.analysis.matrix import build_matrix
    from supportkit.iam.context import context_from_arguments
    from supportkit.snapshot import load_account

    matrix = build_matrix(load_account(snapshot), context=context_from_arguments(CONTEXT[1::2]))
    return {"cells": len(matrix), "peak_mib": _peak_mib(resource.RUSAGE_SELF)}


def end_to_end(snapshot: Path, output: Path) -> dict:
    """The command in a child process: its wall time and peak RSS, and a json.load floor in this process.

    The format is the output's suffix (``.parquet``, ``.csv``, ``.json``)."""
    start, cpu = time.perf_counter(), _cpu()
    with (snapshot / "authorization-details.json").open() as handle:
        json.load(handle)
    floor, floor_cpu = time.perf_counter() - start, _cpu() - cpu
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "supportkit", "matrix", str(snapshot), *CONTEXT, "--format",
                    output.suffix[1:], "-o", str(output)], check=True, stderr=subprocess.DEVNULL)
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"seconds": time.perf_counter() - start, "cpu": child.ru_utime + child.ru_stime, "floor": floor,
            "floor_cpu": floor_cpu, "peak_mib": _peak_mib(resource.RUSAGE_CHILDREN)}


def write_named_checks(statements: int, folder: Path) -> Path:
    """One user allowed Trusted Advisor on ``statements`` distinct check ARNs, one statement each."""
    document = _doc(*({"Effect": "Allow", "Action": "trustedadvisor:*",
                       "Resource": f"arn:aws:trustedadvisor:*:{ACCOUNT}:checks/security/C{i}"}
                      for i in range(statements)))
    snapshot = folder / f"named-checks-{statements}"
    snapshot.mkdir(parents=True, exist_ok=True)
    (snapshot / "authorization-details.json").write_text(json.dumps({"UserDetailList": [{
        "UserName": "u", "Arn": f"arn:aws:iam::{ACCOUNT}:user/u",
        "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": document}]}]}))
    return snapshot


def named_checks(snapshot: Path) -> dict:
    """In this (fresh) process: the CPU seconds of load_account and of build_matrix."""
    from supportkit.analysis.matrix import build_matrix
    from supportkit.snapshot import load_account

    start = time.process_time()
    account = load_account(snapshot)
    loaded = time.process_time()
    matrix = build_matrix(account)
    return {"load": loaded - start, "matrix": time.process_time() - loaded,
            "some_checks": int((matrix["check_scope"] == "some checks").sum())}


def _in_child(mode: str, snapshot: Path, output: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, f"--{mode}", str(snapshot), str(output)], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.splitlines()[-1])


def measure(size: int, folder: Path) -> None:
    snapshot = write_snapshot(size, folder)
    size_mib = (snapshot / "authorization-details.json").stat().st_size / 2**20
    load = " ".join(f"{figure:.2f}" for figure in os.getloadavg())
    s = _in_child("stages", snapshot, folder / f"matrix-{size}.parquet")
    e = _in_child("end-to-end", snapshot, folder / f"e2e-{size}.parquet")
    stage = lambda name: f"{s[name]:6.2f} s ({s[name + '_cpu']:.2f} CPU)"  # noqa: E731
    print(f"{s['identities']:>6} identities x {s['actions']} actions = {s['cells']:>10,} cells | file {size_mib:6.1f} "
          f"MiB | load average {load} | json.load {stage('json_load')} | load_account {stage('load')} | "
          f"build_matrix {stage('matrix')} | write parquet {stage('write')} | {s['cells'] / s['matrix']:>10,.0f} "
          f"cells/s | peak RSS {s['peak_mib']:5.0f} MiB || end to end `supportkit matrix --format parquet` "
          f"{e['seconds']:6.2f} s = {e['seconds'] / e['floor']:5.1f}x json.load ({e['floor']:.2f} s); CPU "
          f"{e['cpu']:.2f} s = {e['cpu'] / e['floor_cpu']:5.1f}x ({e['floor_cpu']:.2f} s); peak RSS "
          f"{e['peak_mib']:5.0f} MiB", flush=True)


def outputs(size: int, folder: Path) -> None:
    snapshot = write_snapshot(size, folder)
    done = subprocess.run([sys.executable, __file__, "--analysis", str(snapshot)], check=True, capture_output=True,
                          text=True)
    alone = json.loads(done.stdout.splitlines()[-1])
    line = f"{size:>6} identities, {alone['cells']:,} cells: analysis alone peak RSS {alone['peak_mib']:5.0f} MiB"
    for fmt in ("json", "csv", "parquet"):
        output = folder / f"outputs-{size}.{fmt}"
        e = _in_child("end-to-end", snapshot, output)
        line += (f" | --format {fmt} peak RSS {e['peak_mib']:5.0f} MiB ({e['seconds']:.0f} s, "
                 f"{output.stat().st_size / 2**20:,.0f} MiB)")
        output.unlink()
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000, 50_000])
    parser.add_argument("--keep", type=Path, help="write the generated snapshots here and keep them")
    parser.add_argument("--named-checks", type=int, nargs="+", metavar="N",
                        help="time N statements naming distinct check ARNs instead")
    parser.add_argument("--named-checks-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--outputs", type=int, nargs="+", metavar="N",
                        help="peak RSS of the analysis and of each output format at N identities instead")
    parser.add_argument("--analysis", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--stages", nargs=2, type=Path, metavar=("SNAPSHOT", "OUTPUT"), help=argparse.SUPPRESS)
    parser.add_argument("--end-to-end", nargs=2, type=Path, metavar=("SNAPSHOT", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stages or args.end_to_end:
        print(json.dumps(stages(*args.stages) if args.stages else end_to_end(*args.end_to_end)))
        return
    if args.named_checks_child or args.analysis:
        print(json.dumps(named_checks(args.named_checks_child) if args.named_checks_child else analysis(args.analysis)))
        return
    if args.outputs:
        with tempfile.TemporaryDirectory() as folder:
            for size in args.outputs:
                outputs(size, Path(folder))
        return
    if args.named_checks:
        with tempfile.TemporaryDirectory() as folder:
            for statements in args.named_checks:
                snapshot = write_named_checks(statements, Path(folder))
                done = subprocess.run([sys.executable, __file__, "--named-checks-child", str(snapshot)], check=True,
                                      capture_output=True, text=True)
                f = json.loads(done.stdout.splitlines()[-1])
                print(f"{statements:>6} statements naming distinct check ARNs: load_account {f['load']:6.2f} s CPU | "
                      f"build_matrix {f['matrix']:6.2f} s CPU | {f['some_checks']} cells on some checks", flush=True)
        return
    print("The machine is shared: figures are wall times as measured, under whatever load it had.", flush=True)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        for size in args.sizes:
            measure(size, args.keep)
        return
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            measure(size, Path(folder))


if __name__ == "__main__":
    main()
