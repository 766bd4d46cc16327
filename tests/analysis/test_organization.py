"""The organization model: cross-account role assumption, paths into each account, organization-wide answers.

Rules, with their sources:
- Cross-account: "the requester in the trusted AccountA must have an identity-based policy. That policy must allow
  them to make a request to the resource in the trusting AccountB. Additionally, the resource-based policy in
  AccountB must allow the requester in AccountA ... The request is allowed only if both evaluations return a
  decision of Allow." (IAM User Guide, "Cross-account policy evaluation logic",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html)
- "The account ARN and the shortened account ID behave the same way. Both delegate permissions to the account."
  (IAM User Guide, "AWS JSON policy elements: Principal",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html)
- "You cannot use AWS account root user credentials to call AssumeRole." (AWS STS API Reference, AssumeRole,
  https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html)
- SCPs "apply to principals of the account where the SCPs are attached" (IAM User Guide, "How AWS enforcement code
  logic evaluates requests"), so the caller's SCPs bind its sts:AssumeRole call.
- aws:PrincipalOrgID "is included in the request context only if the principal is a member of an organization"
  (IAM User Guide, "AWS global condition context keys").
- RCPs apply to AWS STS, "regardless of whether the principals belong to the same organizations or not"
  (AWS Organizations User Guide, "Resource control policies",
  https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from supportkit.analysis.account_analysis import analyse
from supportkit.analysis.trust import Organization
from supportkit.analysis.finding import FindingSources, produce_findings, severity_counts
from supportkit.analysis.organization import (
    PrincipalKind,
    analyse_organization,
    read_dataset,
)
from supportkit.support.catalog import load_catalog

ORG = "o-exampleorg1"
OPS, PROD, SANDBOX, VENDOR = "011111111111", "222222222222", "333333333333", "999999999999"
FULL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resource, **extra}


def trust(principal, condition=None) -> dict:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return doc(statement)


def user(account: str, name: str, policy: dict | None, tags: dict | None = None) -> dict:
    return {"UserName": name, "UserId": f"AIDA{name.upper():0<17}"[:21], "Path": "/",
            "Arn": f"arn:aws:iam::{account}:user/{name}", "GroupList": [], "AttachedManagedPolicies": [],
            "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": policy}] if policy else [],
            "Tags": [{"Key": key, "Value": value} for key, value in (tags or {}).items()]}


def role(account: str, name: str, assume: dict, policy: dict) -> dict:
    return {"RoleName": name, "RoleId": f"AROA{name.upper():0<17}"[:21], "Path": "/",
            "Arn": f"arn:aws:iam::{account}:role/{name}", "AssumeRolePolicyDocument": assume,
            "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": policy}], "AttachedManagedPolicies": [],
            "Tags": [], "InstanceProfileList": []}


def write(folder: Path, account: str, name: str, users=(), roles=(), scps=None, rcps=None, plan="business") -> None:
    folder.mkdir(parents=True)
    details = {"UserDetailList": list(users), "RoleDetailList": list(roles), "GroupDetailList": [], "Policies": []}
    (folder / "authorization-details.json").write_text(json.dumps(details))
    (folder / "account.json").write_text(json.dumps({"account_id": account, "name": name, "support_plan": plan}))
    for file, levels in (("scps.json", scps), ("rcps.json", rcps)):
        if levels is not None:
            (folder / file).write_text(json.dumps({"levels": levels}))


READ = allow(["support:DescribeCases", "support:DescribeCommunications"])


@pytest.fixture(scope="module")
def organization(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("org")
    deny_carol = doc({"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*",
                      "Condition": {"StringEquals": {"aws:PrincipalArn": f"arn:aws:iam::{OPS}:user/carol"}}})
    write(root / "ops", OPS, "ops", users=[
        user(OPS, "alice", doc(allow("sts:AssumeRole", [f"arn:aws:iam::{PROD}:role/*",
                                                        f"arn:aws:iam::{SANDBOX}:role/DirectFromOps"]))),
        user(OPS, "bob", doc(allow("s3:GetObject"))),
        user(OPS, "carol", doc(allow("sts:AssumeRole"))),
        user(OPS, "dave", doc(allow("sts:AssumeRole", f"arn:aws:iam::{PROD}:role/TeamOnly")), {"team": "support"}),
    ], scps=[{"target": "r-ex1", "policies": [{"Name": "FullAWSAccess", "Content": FULL}]},
             {"target": OPS, "policies": [{"Name": "FullAWSAccess", "Content": FULL},
                                          {"Name": "NoCarol", "Content": deny_carol}]}],
       # ops' own RCP guards ops' roles; it does not bind what ops' people do with the roles of other accounts
       rcps=[{"target": "r-ex1", "policies": [{"Name": "RCPFullAWSAccess", "Content": FULL}, {
           "Name": "NoRolesHere", "Content": doc({"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole",
                                                  "Resource": "*"})}]}])
    write(root / "prod", PROD, "prod", roles=[
        role(PROD, "CaseReader", trust({"AWS": f"arn:aws:iam::{OPS}:root"}), doc(READ, allow("sts:AssumeRole"))),
        role(PROD, "NeedsMfa", trust({"AWS": OPS}, {"Bool": {"aws:MultiFactorAuthPresent": "true"}}), doc(READ)),
        # alice has no team tag: the condition is decided for her (absent key, no match), not left open
        role(PROD, "TeamOnly", trust({"AWS": OPS}, {"StringEquals": {"aws:PrincipalTag/team": "support"}}), doc(READ)),
        role(PROD, "VendorAccess", trust({"AWS": f"arn:aws:iam::{VENDOR}:root"},
                                         {"StringEquals": {"sts:ExternalId": "v-123"}}), doc(allow("support:*"))),
    ])
    no_ops = doc({"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*",
                  "Condition": {"StringEquals": {"aws:PrincipalAccount": OPS}}})
    write(root / "sandbox", SANDBOX, "sandbox", roles=[
        role(SANDBOX, "Chain", trust({"AWS": f"arn:aws:iam::{PROD}:role/CaseReader"}), doc(READ)),
        role(SANDBOX, "OrgWide", trust("*", {"StringEquals": {"aws:PrincipalOrgID": ORG}}), doc(READ)),
        role(SANDBOX, "DirectFromOps", trust({"AWS": OPS}), doc(READ)),
    ], rcps=[{"target": "r-ex1", "policies": [{"Name": "RCPFullAWSAccess", "Content": FULL}, {
        "Name": "NoRolesForOps", "Content": no_ops}]}], plan="developer")
    (root / "organization.json").write_text(json.dumps({
        "organization": {"id": ORG, "management_account_id": "444444444444"},
        "roots": [{"id": "r-ex1", "name": "Root"}],
        "units": [{"id": "ou-ex1-prod", "name": "Prod", "parent": "r-ex1"}],
        "accounts": [
            {"id": OPS, "name": "ops", "parent": "r-ex1", "folder": "ops"},
            {"id": PROD, "name": "prod", "parent": "ou-ex1-prod", "folder": "prod"},
            {"id": SANDBOX, "name": "sandbox", "parent": "r-ex1", "folder": "sandbox"},
            {"id": "444444444444", "name": "payer", "parent": "r-ex1", "folder": None,
             "error": "AccessDenied: not authorized to perform: sts:AssumeRole"},
        ],
    }))
    return root


@pytest.fixture(scope="module")
def analysis(organization):
    return analyse_organization(organization)


def arn(account: str, kind: str, name: str) -> str:
    return f"arn:aws:iam::{account}:{kind}/{name}"


def test_edges_need_both_the_trust_policy_and_the_callers_own_policies(analysis):
    edges = {(e.source, e.role): e.condition_keys for e in analysis.edges if e.source_kind is PrincipalKind.IDENTITY}
    alice, case_reader = arn(OPS, "user", "alice"), arn(PROD, "role", "CaseReader")
    assert edges == {
        (alice, case_reader): (),  # trusts ops' root, and alice's own policy allows the role's ARN
        (alice, arn(PROD, "role", "NeedsMfa")): ("aws:MultiFactorAuthPresent",),
        (arn(OPS, "user", "dave"), arn(PROD, "role", "TeamOnly")): (),  # his tag matches the trust condition
        (case_reader, arn(SANDBOX, "role", "Chain")): (),  # named by ARN, and CaseReader allows sts:AssumeRole
        (case_reader, arn(SANDBOX, "role", "OrgWide")): (),  # "*" limited to the organization
        # Onward, inside sandbox: its roles' sessions carry the organization's id too, so "*" limited to the
        # organization admits them by the trust alone (same account: "a principal in the same account as the
        # role" needs no identity-based permission when the trust names it, IAM User Guide, Policy evaluation
        # logic, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)
        (arn(SANDBOX, "role", "Chain"), arn(SANDBOX, "role", "OrgWide")): (),
        (arn(SANDBOX, "role", "DirectFromOps"), arn(SANDBOX, "role", "OrgWide")): (),
    }
    # Not there: bob (no sts:AssumeRole of his own), carol (denied by her account's SCP), ops' root user (cannot
    # call AssumeRole), alice to DirectFromOps (the sandbox's RCP denies sts:AssumeRole to ops' principals), and
    # alice to OrgWide (her policy does not name it). ops' own RCP, which denies sts:AssumeRole on ops' roles,
    # stops none of them.


def test_only_identities_allowed_to_call_sts_assume_role_are_tried_against_other_accounts_roles(organization):
    """ops' root user "cannot use AWS account root user credentials to call AssumeRole" (AWS STS API Reference,
    AssumeRole, https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html), and bob's only policy
    allows s3:GetObject: into another account "the requester in the trusted AccountA must have an identity-based
    policy" that allows the request ("Cross-account policy evaluation logic"). carol stays: an Allow covers it, and
    her SCP's Deny is for the decision."""
    from supportkit.analysis.paths import RoleAssumptions
    from supportkit.snapshot import load_account

    callers = RoleAssumptions(load_account(organization / "ops")).callers()
    assert [i.name for i in callers] == ["alice", "carol", "dave"]


def test_principals_outside_the_organization_are_named_as_such(analysis):
    outside = [(e.source, e.source_kind, e.role, e.condition_keys) for e in analysis.edges
               if e.source_kind is not PrincipalKind.IDENTITY]
    assert outside == [(f"arn:aws:iam::{VENDOR}:root (outside the organization)", PrincipalKind.OUTSIDE_ACCOUNT,
                        arn(PROD, "role", "VendorAccess"), ("sts:ExternalId",))]
    # OrgWide trusts "*" only with aws:PrincipalOrgID of this organization: no outside edge.


def test_who_can_read_every_case_includes_the_people_of_other_accounts_with_their_path(analysis):
    readers = analysis.who_can(SANDBOX, "read")
    paths = set(readers["path"])
    alice, case_reader, chain = arn(OPS, "user", "alice"), arn(PROD, "role", "CaseReader"), arn(SANDBOX, "role", "Chain")
    assert f"{alice} -> sts:AssumeRole -> {case_reader} -> sts:AssumeRole -> {chain}" in paths
    assert f"{case_reader} -> sts:AssumeRole -> {chain}" in paths
    assert set(readers["principal"]) == {  # the root user of a member account has every permission SCPs leave
        f"arn:aws:iam::{SANDBOX}:root", chain, arn(SANDBOX, "role", "OrgWide"), arn(SANDBOX, "role", "DirectFromOps"),
        case_reader, alice}
    assert not readers["outside_organization"].any()


def test_accounts_where_someone_outside_can_read_cases(analysis):
    found = analysis.outside_case_readers()
    assert found[["account_id", "principal"]].values.tolist() == [
        [PROD, f"arn:aws:iam::{VENDOR}:root (outside the organization)"]]
    assert found["path"].iloc[0].endswith("(only when the conditions on sts:ExternalId hold)")


def test_organization_wide_answers(analysis):
    assert {f.account_id: f.error for f in analysis.failures} == {
        "444444444444": "AccessDenied: not authorized to perform: sts:AssumeRole"}
    overview = analysis.overview().set_index("account_id")
    assert overview.loc[PROD, "unit"] == "Root / Prod"
    assert overview.loc[PROD, "can_read_all_cases"] == 5  # root, CaseReader, NeedsMfa, TeamOnly, VendorAccess
    # ops: nobody but root has support access (the root user has every permission of a member account).
    # sandbox: its roles read cases, but only root may open one.
    assert analysis.root_only_accounts().values.tolist() == [
        [OPS, "ops", "any support action"], [SANDBOX, "sandbox", "open cases"]]
    # The sandbox is on the developer plan, which serves no Support API ("AWS Support API" needs Business or higher).
    assert analysis.plan_gap_accounts()[["account_id", "support_plan"]].values.tolist() == [[SANDBOX, "developer"]]
    top = analysis.widest_reach(3)
    assert top.iloc[0].to_dict() == {"principal": arn(OPS, "user", "alice"), "kind": "identity", "accounts": 2,
                                     "account_ids": f"{PROD}, {SANDBOX}"}


def test_findings_by_severity_per_account_are_those_each_account_report_ranks(analysis):
    table = analysis.findings_by_account().set_index("account_id")
    assert list(table.columns) == ["name", "critical", "high", "medium", "low", "info", "total"]
    for result in analysis.accounts:  # each account's report in the organization's run knows the organization
        report = analyse(result.folder, organization=Organization.of(analysis.info, result.account_id))
        expected = severity_counts(produce_findings(FindingSources(report.findings, report.matrix, report.info)))
        assert table.loc[result.account_id, list(expected)].tolist() == list(expected.values())
        assert table.loc[result.account_id, "total"] == sum(expected.values())
    # README's scale: an account outside reading every case is critical; only root with access is medium.
    assert table.loc[PROD, "critical"] >= 1  # the vendor's account, through VendorAccess
    assert table.loc[OPS, "medium"] >= 1 and table.loc[OPS, "critical"] == 0
    assert analysis.overview().set_index("account_id")["findings"].to_dict() == table["total"].to_dict()


def test_parquet_partitions_read_back_with_duckdb_and_pandas(organization, tmp_path):
    dataset = tmp_path / "matrix"
    analyse_organization(organization, dataset=dataset)
    assert sorted(p.name for p in dataset.iterdir()) == [f"account_id={a}" for a in (OPS, PROD, SANDBOX)]
    assert all((dataset / f"account_id={a}" / "part-0.parquet").is_file() for a in (OPS, PROD, SANDBOX))
    counts = duckdb.sql(
        f"select account_id, count(distinct identity_arn) as n from read_parquet('{dataset}/*/*.parquet', "
        "hive_partitioning = true, hive_types = {'account_id': VARCHAR}) where action = 'support:DescribeCases' and decision = 'allowed' "
        "group by account_id order by account_id").fetchall()
    assert counts == [(OPS, 1), (PROD, 5), (SANDBOX, 4)]  # each account's root user, and its roles that read
    frame = read_dataset(dataset)
    assert set(frame["account_id"]) == {OPS, PROD, SANDBOX}  # OPS keeps its leading zero
    # one row per identity and catalog action: 5 + 5 + 4 identities (each account's root user included)
    assert len(frame) == 14 * len(load_catalog().actions)


# Caller-side conditions and same-account chains, on an organization of their own.
HOP = "arn:aws:iam::{account}:role/{name}"


def assume_any(*resources: str, **extra) -> dict:
    return doc(allow("sts:AssumeRole", list(resources) or "*", **extra))


@pytest.fixture(scope="module")
def chains(tmp_path_factory):
    root = tmp_path_factory.mktemp("chains")
    ops_role = lambda name: arn(OPS, "role", name)  # noqa: E731
    mfa = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    target = arn(PROD, "role", "Target")
    write(root / "ops", OPS, "ops", users=[
        user(OPS, "mfa-only", assume_any(target, Condition=mfa)),
        user(OPS, "both", doc(allow("sts:AssumeRole", target), allow("sts:AssumeRole", target, Condition=mfa))),
        user(OPS, "erin", None),  # named by Jump1's trust policy: no policy of her own needed in her account
        user(OPS, "far", None),
    ], roles=[
        role(OPS, "Jump1", trust({"AWS": [arn(OPS, "user", "erin"), ops_role("Hop")]}), assume_any(ops_role("Hop"))),
        role(OPS, "Hop", trust({"AWS": [ops_role("Jump1"), ops_role("Deep1")]}), assume_any()),  # Hop -> Jump1: a loop
        role(OPS, "Deep1", trust({"AWS": ops_role("Deep2")}), assume_any()),
        role(OPS, "Deep2", trust({"AWS": ops_role("Deep3")}), assume_any()),
        role(OPS, "Deep3", trust({"AWS": arn(OPS, "user", "far")}), assume_any()),
    ])
    write(root / "prod", PROD, "prod", roles=[
        role(PROD, "Target", trust({"AWS": f"arn:aws:iam::{OPS}:root"}), doc(READ)),
        role(PROD, "FromHop", trust({"AWS": ops_role("Hop")}), doc(READ)),
        role(PROD, "Entry", trust({"AWS": f"arn:aws:iam::{OPS}:root"}), assume_any()),  # no support access itself
        role(PROD, "Inner", trust({"AWS": arn(PROD, "role", "Entry")}), doc(READ)),
    ])
    (root / "organization.json").write_text(json.dumps({
        "organization": {"id": ORG}, "roots": [{"id": "r-ex1"}],
        "accounts": [{"id": OPS, "folder": "ops"}, {"id": PROD, "folder": "prod"}]}))
    return analyse_organization(root)


def test_the_callers_own_conditions_are_part_of_a_cross_account_edge(chains):
    """Both sides must allow ("Cross-account policy evaluation logic",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html), and an
    Allow whose condition tests aws:MultiFactorAuthPresent allows the requests made with MFA ("AWS global condition
    context keys", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-multifactorauthpresent).
    The old adapter decided the caller's side under one fixed request: it missed the first edge, and called the second
    conditional because a statement it consulted had a condition."""
    target = arn(PROD, "role", "Target")
    edges = {e.source: e for e in chains.edges if e.role == target}
    mfa_only, both = edges[arn(OPS, "user", "mfa-only")], edges[arn(OPS, "user", "both")]
    assert mfa_only.conditional and mfa_only.condition_keys == ("aws:MultiFactorAuthPresent",)
    assert mfa_only.conditions.text() == "with MFA"
    assert not both.conditional and both.condition_keys == ()
    assert arn(OPS, "user", "erin") not in edges  # no policy of her own allows sts:AssumeRole on another account


def test_same_account_chains_lead_into_cross_account_paths(chains):
    """A role trusting another account's role by ARN admits that role's sessions; who reaches that role in its own
    account reaches this one through it (role chaining, "Roles terms and concepts",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-role-chaining),
    followed as who-can follows chains: three assumptions inside the account at most, no role twice."""
    from_hop = arn(PROD, "role", "FromHop")
    paths = {p.principal: p.steps for p in chains.reaching(from_hop)}
    jump1, hop = arn(OPS, "role", "Jump1"), arn(OPS, "role", "Hop")
    deep = [arn(OPS, "role", f"Deep{n}") for n in (1, 2, 3)]
    assert paths == {
        hop: (hop, from_hop),
        jump1: (jump1, hop, from_hop),
        deep[0]: (deep[0], hop, from_hop),
        arn(OPS, "user", "erin"): (arn(OPS, "user", "erin"), jump1, hop, from_hop),
        deep[1]: (deep[1], deep[0], hop, from_hop),
        deep[2]: (deep[2], deep[1], deep[0], hop, from_hop),  # three steps inside ops: "far" would be a fourth
    }
    rows = chains.cross_account_paths()
    assert set(rows.loc[rows["role"] == from_hop, "principal"]) == set(paths)
    # A chain that stays in one account is that account's own who-can answer, not a cross-account path.
    assert not any(p.principal.startswith(f"arn:aws:iam::{OPS}:") for p in chains.reaching(hop))


def test_principals_of_the_organization_do_not_make_reading_cases_critical():
    """OrganizationAccountAccessRole, which AWS creates in the accounts it creates in an organization, trusts the
    management account ("Accessing member accounts in an organization",
    https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_access.html). When the organization
    is known, the management account is named as one of its accounts and the finding is not critical; without it,
    the account alone cannot tell it from an outsider."""
    from supportkit.snapshot.organization import read_organization

    demo = Path(__file__).parents[2] / "data" / "demo"
    management = "arn:aws:iam::111122223333:root"

    def reading(analysis):
        found = [f for f in produce_findings(FindingSources(analysis.findings, analysis.matrix, analysis.info))
                 if f.kind == "read-all-cases"]
        readers = analysis.findings["who_reads_cases"].set_index("principal")
        return found[0].severity.value, readers.loc[management, "kind"]

    alone = analyse(demo / "workload-prod")
    assert alone.organization is None
    assert reading(alone) == ("critical", "external")
    info = read_organization(demo)
    inside = analyse(demo / "workload-prod", organization=Organization.of(info))
    assert reading(inside) == ("high", "inside the organization")  # more than five principals read every case
    # Known by its accounts alone, the organization cannot be told from the outside by aws:PrincipalOrgID: the
    # demo's ReadOnlyAuditor admits "*" with aws:PrincipalOrgID o-a1b2c3d4e5, which stays external, critical.
    by_accounts = analyse(demo / "workload-prod", organization=Organization(info.account_ids))
    assert reading(by_accounts) == ("critical", "inside the organization")
    assert by_accounts.findings["who_reads_cases"].set_index("principal").loc["*", "kind"] == "external"


def test_an_account_outside_the_organization_stays_critical(organization, tmp_path):
    """The vendor's account 999999999999 is no account of the organization: critical, as the README's scale says."""
    from supportkit.analysis.account_analysis import AccountAnalysis
    from supportkit.snapshot.organization import read_organization

    info = read_organization(organization)
    analysis = analyse(organization / "prod", organization=Organization.of(info, PROD))
    loaded = AccountAnalysis.load(analysis.save(tmp_path / "prod.analysis"))  # the report renders the saved one
    assert loaded.organization == analysis.organization == Organization(
        info.account_ids, ORG, info.principal_org_path(next(m for m in info.accounts if m.account_id == PROD)))
    kinds = dict(zip(loaded.findings["who_reads_cases"]["principal"], loaded.findings["who_reads_cases"]["kind"]))
    assert kinds[f"arn:aws:iam::{VENDOR}:root"] == "external" and kinds[OPS] == "inside the organization"
    found = [f for f in produce_findings(FindingSources(loaded.findings, loaded.matrix, loaded.info))
             if f.kind == "read-all-cases"]
    assert found[0].severity.value == "critical"
    # external: the vendor's root and VendorAccess, which it can assume; inside: ops' root by ARN and by id, and the
    # roles only ops can assume (CaseReader, NeedsMfa, TeamOnly)
    assert "(2 external, 5 inside the organization" in found[0].title
    assert dict(zip(loaded.identities["identity_name"], loaded.identities["kind"])) == {
        "root": "root", "CaseReader": "inside the organization", "NeedsMfa": "inside the organization",
        "TeamOnly": "inside the organization", "VendorAccess": "external"}


def test_paths_go_on_along_the_chains_of_the_account_they_enter(chains):
    """Entry, assumable from ops, has no support access, but can assume Inner, which reads cases: who reaches Entry
    reaches Inner (role chaining, as above); Entry -> Inner alone stays inside prod, so it is no cross-account path."""
    entry, inner = arn(PROD, "role", "Entry"), arn(PROD, "role", "Inner")
    hop, jump1, deep3 = arn(OPS, "role", "Hop"), arn(OPS, "role", "Jump1"), arn(OPS, "role", "Deep3")
    paths = {p.principal: p.steps for p in chains.reaching(inner)}
    assert paths[hop] == (hop, entry, inner)  # Hop's own policy allows sts:AssumeRole, and Entry trusts ops
    assert paths[arn(OPS, "user", "erin")] == (arn(OPS, "user", "erin"), jump1, hop, entry, inner)
    assert paths[arn(OPS, "user", "far")] == (arn(OPS, "user", "far"), deep3, entry, inner)
    assert entry not in paths and arn(OPS, "user", "both") not in paths  # "both" may assume Target only
    assert set(paths) == {hop, jump1, deep3, arn(OPS, "role", "Deep1"), arn(OPS, "role", "Deep2"),
                          arn(OPS, "user", "erin"), arn(OPS, "user", "far")}


# "*" limited to the organization by a condition (issue 11): aws:PrincipalOrgID, aws:PrincipalOrgPaths and
# aws:PrincipalAccount, read as the IAM User Guide's "AWS global condition context keys" says
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html):
# - aws:PrincipalOrgID: "the identifier of the organization in AWS Organizations to which the requesting principal
#   belongs"; "included in the request context only if the principal is a member of an organization";
# - aws:PrincipalOrgPaths: "ensures that the requester is an account member within the specified organization root
#   or organizational units"; ["o-a1b2c3d4e5/*"] "allows access for every principal in the o-a1b2c3d4e5
#   organization"; "no two organizations share the same organization ID. However, another organization might have
#   an OU or root with the same ID as yours";
# - aws:PrincipalAccount: "the account to which the requesting principal belongs".
ORG_LIMITS = {
    "org id": ({"StringEquals": {"aws:PrincipalOrgID": ORG}}, True),
    "whole organization path": ({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": [f"{ORG}/*"]}}, True),
    "one OU's path": ({"ForAnyValue:StringEquals": {"aws:PrincipalOrgPaths": [f"{ORG}/r-ex1/ou-ex1-prod/"]}}, True),
    "accounts of the organization": ({"StringEquals": {"aws:PrincipalAccount": [OPS, PROD]}}, True),
    # any organization's OU of that id, or any organization at all: outsiders too
    "path without the org id": ({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ["*/r-ex1/ou-ex1-prod/*"]}},
                                False),
    "any org id": ({"StringLike": {"aws:PrincipalOrgID": "o-*"}}, False),
    "a partner organization too": ({"StringEquals": {"aws:PrincipalOrgID": [ORG, "o-partnerorg1"]}}, False),
    # "o-e*ampleorg1" admits other organizations' ids ("o-eXampleorg1"), though filling its * with "x" spells ORG
    "a pattern outsiders meet too": ({"StringLike": {"aws:PrincipalOrgID": [ORG, "o-e*ampleorg1"]}}, False),
    "an account outside too": ({"StringEquals": {"aws:PrincipalAccount": [OPS, VENDOR]}}, False),
}


@pytest.fixture(scope="module")
def org_limited(tmp_path_factory) -> Path:
    """One account per condition of ORG_LIMITS: its role Auditor trusts "*" under it and reads every case."""
    root = tmp_path_factory.mktemp("limited")
    for name, (condition, _) in ORG_LIMITS.items():
        write(root / name.replace(" ", "-"), PROD, "prod",
              roles=[role(PROD, "Auditor", trust({"AWS": "*"}, condition), doc(READ))])
    return root


def reads_every_case(analysis) -> tuple[str, str, str, str]:
    """The read-all-cases severity, the kind of "*" and of Auditor, and the conditions of the path from "*"."""
    found = [f for f in produce_findings(FindingSources(analysis.findings, analysis.matrix, analysis.info))
             if f.kind == "read-all-cases"]
    readers = analysis.findings["who_reads_cases"].set_index("principal")
    kinds = dict(zip(analysis.identities["identity_name"], analysis.identities["kind"]))
    return found[0].severity.value, readers.loc["*", "kind"], kinds["Auditor"], readers.loc["*", "conditions"]


@pytest.mark.parametrize("name", ORG_LIMITS)
def test_anyone_limited_to_the_organization_is_of_it_when_the_organization_is_known(org_limited, name):
    """Known (its accounts and id), the organization's principals are the only ones such a condition admits: "*" is
    inside the organization and counted as its principals are (medium: two principals other than root, "*" and
    Auditor, read every case), and Auditor, which only they can assume, is of the organization too. A condition that
    some principal outside the organization meets keeps both external, and the finding critical."""
    _, inside = ORG_LIMITS[name]
    analysis = analyse(org_limited / name.replace(" ", "-"), organization=Organization(frozenset({OPS, PROD, SANDBOX}), ORG))
    severity, anyone, auditor, conditions = reads_every_case(analysis)
    expected = "inside the organization" if inside else "external"
    assert (severity, anyone, auditor) == ("medium" if inside else "critical", expected, expected)
    assert conditions.startswith("sts:AssumeRole when aws:Principal")  # the condition is the path's, kept


def test_anyone_limited_to_the_organization_stays_external_when_it_is_not_known(org_limited):
    """Alone, the account cannot tell the organization's principals from others: "*" and Auditor stay external and
    the finding critical, and the path still names the condition it needs."""
    analysis = analyse(org_limited / "org-id")
    assert reads_every_case(analysis) == (
        "critical", "external", "external", f"sts:AssumeRole when aws:PrincipalOrgID = {ORG}")


def test_the_organization_pipeline_has_no_outside_edge_for_anyone_limited_to_it(tmp_path):
    """In the organization's analysis, "*" limited by aws:PrincipalOrgPaths to the organization is no outside reader
    (the old outsider conditions left aws:PrincipalOrgPaths open to outsiders); a path without the organization's id
    is open to another organization whose root and OU have the same ids."""
    limits = {"Paths": [f"{ORG}/r-ex1/*"], "AnyOrgPaths": ["*/r-ex1/*"]}
    write(tmp_path / "prod", PROD, "prod", roles=[
        role(PROD, name, trust({"AWS": "*"}, {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": paths}}), doc(READ))
        for name, paths in limits.items()])
    (tmp_path / "organization.json").write_text(json.dumps({
        "organization": {"id": ORG}, "roots": [{"id": "r-ex1"}], "accounts": [{"id": PROD, "folder": "prod"}]}))
    found = analyse_organization(tmp_path)
    assert found.outside_case_readers()["path"].tolist() == [
        f"any AWS principal (outside the organization) -> sts:AssumeRole -> {arn(PROD, 'role', 'AnyOrgPaths')} "
        "(only when the conditions on aws:PrincipalOrgPaths hold)"]
    assert found.findings_by_account().set_index("account_id").loc[PROD, "critical"] == 1


def test_a_role_that_can_read_cases_only_under_conditions_is_still_reached(tmp_path):
    # Configuring MFA-protected API access
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_configure-api-require.html): the
    # role's sessions read every case when MFA was used. Whoever reaches it reads them then: the organization
    # view lists the path (a path to access only under conditions is a path), from inside and from outside.
    mfa = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    write(tmp_path / "ops", OPS, "ops", users=[
        user(OPS, "alice", doc(allow("sts:AssumeRole", f"arn:aws:iam::{PROD}:role/MfaReader")))])
    write(tmp_path / "prod", PROD, "prod", roles=[
        role(PROD, "MfaReader", doc({"Effect": "Allow", "Principal": {"AWS": [OPS, VENDOR]}, "Action": "sts:AssumeRole"}),
             doc(allow("support:DescribeCases", Condition=mfa)))])
    (tmp_path / "organization.json").write_text(json.dumps({
        "organization": {"id": ORG, "management_account_id": "444444444444"},
        "roots": [{"id": "r-ex1", "name": "Root"}], "units": [],
        "accounts": [{"id": OPS, "name": "ops", "parent": "r-ex1", "folder": "ops"},
                     {"id": PROD, "name": "prod", "parent": "r-ex1", "folder": "prod"}],
    }))
    analysis = analyse_organization(tmp_path)
    reader = arn(PROD, "role", "MfaReader")
    assert "read" in analysis.account(PROD).capabilities[reader]
    assert list(analysis.outside_case_readers()["principal"]) == [f"{VENDOR} (outside the organization)"]
    assert arn(OPS, "user", "alice") in set(analysis.cross_account_paths()["principal"])


def test_the_account_principals_carry_the_organization_id_when_it_is_known(tmp_path):
    # AWS global condition context keys
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html): aws:PrincipalOrgID
    # is "the identifier of the organization in AWS Organizations to which the requesting principal belongs", so
    # every request of a member account's principals carries it. Resource control policies
    # (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html) apply to AWS STS:
    # a data perimeter on sts:AssumeRole lets the organization's own principals through.
    perimeter = doc({"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*",
                     "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG}}})
    write(tmp_path / "prod", PROD, "prod", users=[user(PROD, "alice", doc(allow("sts:AssumeRole")))], roles=[
        role(PROD, "OrgReader", trust("*", {"StringEquals": {"aws:PrincipalOrgID": ORG}}), doc(READ)),
        role(PROD, "Reader", trust({"AWS": PROD}), doc(READ))],
        rcps=[{"target": "r-ex1", "policies": [{"Name": "RCPFullAWSAccess", "Content": FULL},
                                               {"Name": "Perimeter", "Content": perimeter}]}])
    alice = arn(PROD, "user", "alice")

    def routes(analysis):
        readers = analysis.findings["who_reads_cases"]
        return set(readers.loc[readers["principal"] == alice, "route"])

    alone = analyse(tmp_path / "prod")
    assert routes(alone) == set()  # without the id, the perimeter denies alice's every role assumption
    known = analyse(tmp_path / "prod", organization=Organization(frozenset({PROD, OPS}), ORG))
    (route,) = routes(known)  # her best path: one of the two roles, which she may now assume
    assert route in {f"via sts:AssumeRole -> {arn(PROD, 'role', name)}" for name in ("Reader", "OrgReader")}
    assert known.request_context["aws:PrincipalOrgID"] == ORG and "aws:PrincipalOrgID" not in known.context


def test_callers_carry_the_path_of_their_account_in_the_organization(tmp_path):
    # AWS global condition context keys
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html): aws:PrincipalOrgPaths
    # is the path of the requesting principal's account, "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/..." with a trailing
    # slash. ops sits under the root, not in the Prod OU: it may assume the role open to the whole organization's
    # path, not the one open to the Prod OU only.
    ops_user = user(OPS, "alice", doc(allow("sts:AssumeRole")))
    write(tmp_path / "ops", OPS, "ops", users=[ops_user])
    limit = lambda paths: trust("*", {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": paths}})  # noqa: E731
    write(tmp_path / "prod", PROD, "prod", roles=[
        role(PROD, "WholeOrg", limit([f"{ORG}/r-ex1/*"]), doc(READ)),
        role(PROD, "ProdOuOnly", limit([f"{ORG}/r-ex1/ou-ex1-prod/*"]), doc(READ))])
    (tmp_path / "organization.json").write_text(json.dumps({
        "organization": {"id": ORG, "management_account_id": "444444444444"},
        "roots": [{"id": "r-ex1", "name": "Root"}], "units": [{"id": "ou-ex1-prod", "name": "Prod", "parent": "r-ex1"}],
        "accounts": [{"id": OPS, "name": "ops", "parent": "r-ex1", "folder": "ops"},
                     {"id": PROD, "name": "prod", "parent": "ou-ex1-prod", "folder": "prod"}],
    }))
    analysis = analyse_organization(tmp_path)
    alice = arn(OPS, "user", "alice")
    assert {edge.role for edge in analysis.edges if edge.source == alice} == {arn(PROD, "role", "WholeOrg")}
    # Through WholeOrg, whose sessions carry prod's path (in the Prod OU), she goes on to ProdOuOnly.
    paths = analysis.cross_account_paths()
    reached = paths.loc[paths["principal"] == alice].set_index("role")["path"].to_dict()
    whole, prod_only = arn(PROD, "role", "WholeOrg"), arn(PROD, "role", "ProdOuOnly")
    assert reached == {whole: f"{alice} -> sts:AssumeRole -> {whole}",
                       prod_only: f"{alice} -> sts:AssumeRole -> {whole} -> sts:AssumeRole -> {prod_only}"}
    assert analysis.info.principal_org_path(analysis.info.accounts[1]) == f"{ORG}/r-ex1/ou-ex1-prod/"
    # The account's own principals carry their path too: in prod's own analysis, its user may assume the role
    # open to the Prod OU; with the path unknown, the trust's condition tests a key the request lacks: no way in.
    from supportkit.snapshot.organization import read_organization

    shutil.rmtree(tmp_path / "prod")
    write(tmp_path / "prod", PROD, "prod", users=[user(PROD, "pat", doc(allow("sts:AssumeRole")))], roles=[
        role(PROD, "ProdOuOnly", limit([f"{ORG}/r-ex1/ou-ex1-prod/*"]), doc(READ))])
    info = read_organization(tmp_path)
    own = analyse(tmp_path / "prod", organization=Organization.of(info, PROD))
    assert own.request_context["aws:PrincipalOrgPaths"] == [f"{ORG}/r-ex1/ou-ex1-prod/"]
    readers = own.findings["who_reads_cases"]
    assert set(readers.loc[readers["principal"] == arn(PROD, "user", "pat"), "route"]) == {
        f"via sts:AssumeRole -> {arn(PROD, 'role', 'ProdOuOnly')}"}
    unknown = analyse(tmp_path / "prod", organization=Organization(info.account_ids, ORG))  # no path: no way in
    assert arn(PROD, "user", "pat") not in set(unknown.findings["who_reads_cases"]["principal"])


def test_an_analysts_organization_key_replaces_the_organizations_keys():
    # The two keys say one thing, which organization (and where in it) the principal is: an analyst who fixes
    # aws:PrincipalOrgID for a scenario (another organization's id) gets no aws:PrincipalOrgPaths of the real one,
    # whose path would name the real organization's id (AWS global condition context keys,
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).
    from supportkit.analysis.account_analysis import member_context

    organization = Organization(frozenset({PROD, OPS}), ORG, f"{ORG}/r-ex1/ou-ex1-prod/")
    assert member_context(None, organization) == {
        "aws:PrincipalOrgID": ORG, "aws:PrincipalOrgPaths": [f"{ORG}/r-ex1/ou-ex1-prod/"]}
    assert member_context({"aws:principalorgid": "o-other12345"}, organization) == {
        "aws:principalorgid": "o-other12345"}
    assert member_context({"aws:SourceIp": "10.0.0.1"}, organization) == {
        "aws:SourceIp": "10.0.0.1", "aws:PrincipalOrgID": ORG, "aws:PrincipalOrgPaths": [f"{ORG}/r-ex1/ou-ex1-prod/"]}


def test_a_cross_account_caller_reaches_a_tagged_roles_access_only_if_it_may_pass_the_tag(tmp_path):
    # prod's roles trust ops for sts:AssumeRole and sts:TagSession, so their sessions may be tagged, and session
    # tags override the role's own (AWS STS API Reference, AssumeRole, Tags). Abac reads cases only in a session
    # tagged team=support; Entry goes on to Next only so, as Next's trust asks. Passing the tag needs sts:TagSession
    # in the caller's own policies too, across accounts as for the assumption ("Pass session tags in AWS STS",
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html; Cross-account policy evaluation
    # logic): tagger may, plain may not; both may assume the roles.
    tagging = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OPS}:root"},
                   "Action": ["sts:AssumeRole", "sts:TagSession"]})
    team_support = {"StringEquals": {"aws:PrincipalTag/team": "support"}}
    write(tmp_path / "ops", OPS, "ops", users=[
        user(OPS, "tagger", doc(allow(["sts:AssumeRole", "sts:TagSession"]))),
        user(OPS, "plain", doc(allow("sts:AssumeRole")))])
    entry = arn(PROD, "role", "Entry")
    write(tmp_path / "prod", PROD, "prod", roles=[
        {**role(PROD, "Abac", tagging, doc(allow(READ["Action"], Condition=team_support))),
         "Tags": [{"Key": "team", "Value": "web"}]},
        role(PROD, "Entry", tagging, doc(allow("sts:AssumeRole"))),
        role(PROD, "Next", doc({"Effect": "Allow", "Principal": {"AWS": entry}, "Action": "sts:AssumeRole",
                                "Condition": team_support}), doc(READ))])
    analysis = analyse_organization(tmp_path)
    readers = analysis.who_can(PROD, "read")
    paths = {(row["principal"], row["path"]) for row in readers.to_dict(orient="records")}
    tagger, plain = arn(OPS, "user", "tagger"), arn(OPS, "user", "plain")
    abac, after = arn(PROD, "role", "Abac"), arn(PROD, "role", "Next")
    assert (tagger, f"{tagger} -> sts:AssumeRole -> {abac}") in paths
    assert (tagger, f"{tagger} -> sts:AssumeRole -> {entry} -> sts:AssumeRole -> {after} "
                    "(only when the conditions on aws:PrincipalTag/team hold)") in paths
    assert plain not in {principal for principal, _ in paths}
    # plain still assumes both roles (their sessions keep their own tags), and Entry still reaches Next alone
    # only when its session is tagged: the edges stay, marked with what they cannot go on to.
    untagged = {(e.source, e.role): e.untagged for e in analysis.edges}
    assert untagged[(plain, abac)] == ("read", "any") and untagged[(plain, entry)] == (after,)
    assert untagged[(tagger, abac)] == untagged[(tagger, entry)] == ()
