"""Stage timings of the permission matrix on generated accounts of 100, 1,000 and 10,000 identities.

Run: python benchmarks/bench_matrix.py [--sizes 100 1000 10000] [--keep DIR]

Each account mixes what real accounts hold: AWS managed policies (from the bundled snapshot) attached
directly and through groups, customer managed policies with conditions and NotAction, unique inline
policies, permission boundaries, tags, service-linked roles and three SCP levels. For each size it
prints the time of each stage (bare json.load of the file as the floor, load, flatten, evaluate,
write), cells per second, and the peak memory of an end-to-end `supportkit matrix` run in a fresh
process (one core: the command is single-threaded).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from supportkit.snapshot import load_account, load_authorization_details
from supportkit.support.catalog import load_catalog
from supportkit.support.managed import aws_managed_policy
from supportkit.analysis.matrix import build_matrix, write_matrix

ACCOUNT = "111122223333"
AWS_MANAGED = ["AdministratorAccess", "ReadOnlyAccess", "AWSSupportAccess", "PowerUserAccess", "SecurityAudit",
               "job-function/SupportUser", "job-function/ViewOnlyAccess", "job-function/Billing",
               "AWSSupportPlansReadOnlyAccess", "AWSTrustedAdvisorPriorityReadOnlyAccess"]


def _doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


CUSTOMER = {
    "SupportNoResolve": _doc({"Effect": "Allow", "Action": "support:*", "Resource": "*"},
                             {"Effect": "Deny", "Action": "support:ResolveCase", "Resource": "*"}),
    "SupportWithMfa": _doc({"Effect": "Allow", "Action": ["support:*", "trustedadvisor:Describe*"], "Resource": "*",
                            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}),
    "TeamSupport": _doc({"Effect": "Allow", "Action": "support:*", "Resource": "*",
                         "Condition": {"StringEquals": {"aws:PrincipalTag/team": ["support", "sre"]}}}),
    "EverythingButIam": _doc({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"}),
    "OfficeOnly": _doc({"Effect": "Deny", "Action": "*", "Resource": "*",
                        "Condition": {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}}}),
    "Boundary": _doc({"Effect": "Allow", "Action": ["support:Describe*", "support:CreateCase", "trustedadvisor:*",
                                                    "s3:*", "ec2:*"], "Resource": "*"}),
}
INLINE_ACTIONS = ["support:DescribeCases", "support:CreateCase", "support:AddCommunicationToCase", "support:ResolveCase",
                  "trustedadvisor:RefreshCheck", "supportplans:GetSupportPlan", "s3:GetObject", "ec2:Describe*"]


def _managed_entry(arn: str, name: str, document: dict, path: str = "/") -> dict:
    return {"PolicyName": name, "PolicyId": "ANPA" + f"{abs(hash(arn)) % 10**17:017d}", "Arn": arn, "Path": path,
            "DefaultVersionId": "v1", "AttachmentCount": 1, "IsAttachable": True,
            "CreateDate": "2024-01-01T00:00:00Z", "UpdateDate": "2024-01-01T00:00:00Z",
            "PolicyVersionList": [{"Document": document, "VersionId": "v1", "IsDefaultVersion": True,
                                   "CreateDate": "2024-01-01T00:00:00Z"}]}


def generate(identities: int, seed: int = 11) -> tuple[dict, dict]:
    """An authorization-details document and its scps.json, with about ``identities`` identities."""
    rng = random.Random(seed)
    policies, arns = [], []
    for name in AWS_MANAGED:
        managed = aws_managed_policy(name.rsplit("/", 1)[-1])
        assert managed is not None, name
        policies.append(_managed_entry(managed.arn, managed.name, dict(managed.document), managed.path))
        arns.append(managed.arn)
    customer_arns = {}
    for name, document in CUSTOMER.items():
        arn = f"arn:aws:iam::{ACCOUNT}:policy/{name}"
        policies.append(_managed_entry(arn, name, document))
        customer_arns[name] = arn
    everything = arns + [a for n, a in customer_arns.items() if n != "Boundary"]
    groups = []
    for g in range(max(3, identities // 100)):
        attached = rng.sample(everything, rng.randint(1, 3))
        groups.append({"GroupName": f"group-{g}", "GroupId": f"AGPA{g:017d}", "Path": "/",
                       "Arn": f"arn:aws:iam::{ACCOUNT}:group/group-{g}", "CreateDate": "2024-01-01T00:00:00Z",
                       "GroupPolicyList": [],
                       "AttachedManagedPolicies": [{"PolicyName": a.rsplit("/", 1)[-1], "PolicyArn": a} for a in attached]})

    def inline(owner: str) -> list[dict]:
        if rng.random() > 0.3:
            return []
        actions = rng.sample(INLINE_ACTIONS, rng.randint(1, 4))
        return [{"PolicyName": f"{owner}-inline", "PolicyDocument": _doc(
            {"Sid": f"Own{owner.replace('-', '')}", "Effect": rng.choice(["Allow", "Allow", "Deny"]),
             "Action": actions, "Resource": "*"})}]

    def attachments() -> list[dict]:
        return [{"PolicyName": a.rsplit("/", 1)[-1], "PolicyArn": a} for a in rng.sample(everything, rng.randint(0, 2))]

    def boundary() -> dict:
        if rng.random() < 0.2:
            return {"PermissionsBoundary": {"PermissionsBoundaryType": "Policy",
                                            "PermissionsBoundaryArn": customer_arns["Boundary"]}}
        return {}

    tags = lambda: [{"Key": "team", "Value": rng.choice(["support", "sre", "web", "data"])}]  # noqa: E731
    users, roles = [], []
    n_users = identities * 6 // 10
    for u in range(n_users):
        name = f"user-{u}"
        users.append({"UserName": name, "UserId": f"AIDA{u:017d}", "Path": "/", "CreateDate": "2024-01-01T00:00:00Z",
                      "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "UserPolicyList": inline(name),
                      "GroupList": [g["GroupName"] for g in rng.sample(groups, rng.randint(0, 2))],
                      "AttachedManagedPolicies": attachments(), "Tags": tags(), **boundary()})
    for r in range(identities - n_users - 1):
        service_linked = r % 25 == 0
        path = "/aws-service-role/support.amazonaws.com/" if service_linked else "/"
        name = f"role-{r}"
        roles.append({"RoleName": name, "RoleId": f"AROA{r:017d}", "Path": path, "CreateDate": "2024-01-01T00:00:00Z",
                      "Arn": f"arn:aws:iam::{ACCOUNT}:role{path}{name}", "AssumeRolePolicyDocument": _doc(
                          {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}),
                      "RolePolicyList": inline(name), "AttachedManagedPolicies": attachments(), "Tags": tags(),
                      "InstanceProfileList": [], **boundary()})
    details = {"UserDetailList": users, "GroupDetailList": groups, "RoleDetailList": roles, "Policies": policies}
    full = json.dumps(_doc({"Effect": "Allow", "Action": "*", "Resource": "*"}))
    scps = {"levels": [
        {"target": "r-ab12", "policies": [{"Name": "FullAWSAccess", "Content": full}]},
        {"target": "ou-ab12-11111111", "policies": [{"Name": "FullAWSAccess", "Content": full}, {
            "Name": "NoPlanChanges", "Content": json.dumps(_doc({"Effect": "Deny", "Action": "supportplans:*",
                                                                 "Resource": "*"}))}]},
        {"target": ACCOUNT, "policies": [{"Name": "FullAWSAccess", "Content": full}]},
    ]}
    return details, scps


def measure(size: int, folder: Path) -> None:
    details, scps = generate(size)
    snapshot = folder / f"account-{size}"
    snapshot.mkdir(parents=True, exist_ok=True)
    details_file = snapshot / "authorization-details.json"
    details_file.write_text(json.dumps(details))
    (snapshot / "scps.json").write_text(json.dumps(scps))
    (snapshot / "account.json").write_text(json.dumps({"account_id": ACCOUNT}))

    start = time.perf_counter()
    with details_file.open() as handle:
        json.load(handle)
    floor = time.perf_counter() - start

    start = time.perf_counter()
    load_authorization_details([details_file])
    read = time.perf_counter() - start
    start = time.perf_counter()
    account = load_account(snapshot)
    loaded = time.perf_counter() - start
    flatten = max(loaded - read, 0.0)

    start = time.perf_counter()
    matrix = build_matrix(account)
    evaluate = time.perf_counter() - start
    start = time.perf_counter()
    write_matrix(matrix, "csv", folder / f"matrix-{size}.csv")
    write = time.perf_counter() - start

    cells = len(matrix)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "supportkit", "matrix", str(snapshot), "-o", str(folder / "e2e.csv")],
                   check=True, stderr=subprocess.DEVNULL)
    end_to_end = time.perf_counter() - start
    peak_mib = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
    size_mib = details_file.stat().st_size / 2**20
    print(f"{len(account.identities):>6} identities x {len(load_catalog())} actions = {cells:>9,} cells | "
          f"file {size_mib:6.1f} MiB | json.load floor {floor:6.3f} s | read {read:6.3f} s | "
          f"flatten {flatten:6.3f} s | evaluate {evaluate:6.3f} s | write csv {write:6.3f} s | "
          f"{cells / evaluate:>10,.0f} cells/s | end-to-end `supportkit matrix` {end_to_end:6.2f} s, "
          f"peak RSS {peak_mib:6.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000])
    parser.add_argument("--keep", type=Path, help="write the generated snapshots here and keep them")
    args = parser.parse_args()
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
