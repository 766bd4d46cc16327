"""Generate the bundled demo organization in ``data/demo/``: four synthetic AWS accounts.

Why: the README's main command (``supportkit report data/demo -o reports``), the notebooks and the
tests need an organization that shows every kind of fact supportkit reports, without anyone's real
account data. Each account folder holds what an analyst collects from a real account:

* ``authorization-details.json``: the shape of ``aws iam get-account-authorization-details``;
* ``account.json``: account id, name, whether it is the management account, support plan;
* ``scps.json``: the SCPs from the organization root down to the account;

and ``organization.json`` beside them: the organization's tree and where each account's folder is.

Everything is synthetic and deterministic (fixed ids derived from names, fixed dates, JSON with
sorted keys and ``indent=2``), so running the script twice gives byte-identical files. The documents
of AWS managed policies are the real ones, read from supportkit's bundled snapshot
(``supportkit/data/aws_managed_policies.json.gz``); the one policy the snapshot does not hold
(``AWSTrustedAdvisorServiceRolePolicy``, which touches no support prefix) is embedded below.
``data/README.md`` says what each account exercises.

    .venv/bin/python scripts/make_demo_org.py           # (re)write data/demo/
    .venv/bin/python scripts/make_demo_org.py --check   # exit 1 when data/demo/ differs from the script
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import json
import sys
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run from a clone without installing supportkit
    sys.path.insert(0, str(REPO))

from supportkit.errors import PolicyError  # noqa: E402
from supportkit.support.managed import aws_managed_policy  # noqa: E402
from supportkit.iam.policy import parse_policy  # noqa: E402

OUT = REPO / "data" / "demo"
VERSION = "2012-10-17"

ORG_ID = "o-a1b2c3d4e5"
ROOT_ID = "r-3xq7"
MANAGEMENT_ID = "111122223333"
PROD_ID = "444455556666"
SANDBOX_ID = "777788889999"
LEGACY_ID = "123456789012"
PROD_OU = "ou-3xq7-wkld8p2m"
SANDBOX_OU = "ou-3xq7-sbx4k9d1"
LEGACY_OU = "ou-3xq7-lgcy5t0e"

HOSTILE_TAG = "<script>alert(1)</script>"
HOSTILE_DESCRIPTION = "Read the legacy buckets <img src=x onerror=alert(1)> & \"quoted\" 'text'"

# ---------------------------------------------------------------------------------------------
# Small helpers: ids, dates, documents


def unique_id(prefix: str, *seed: str) -> str:
    """An IAM unique id (``AIDA``, ``AROA``, ``AGPA``, ``ANPA``, ``AIPA`` + 17 characters), fixed by ``seed``."""
    digest = hashlib.sha256("|".join(seed).encode()).digest()
    return prefix + base64.b32encode(digest).decode()[:17]


def doc(*statements: Mapping[str, Any]) -> dict[str, Any]:
    return {"Version": VERSION, "Statement": [dict(s) for s in statements]}


def allow(actions: str | list[str], resource: str | list[str] = "*", sid: str | None = None, **extra: Any) -> dict:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": actions, "Resource": resource}
    if sid:
        statement = {"Sid": sid, **statement}
    statement.update(extra)
    return statement


def deny(actions: str | list[str], resource: str | list[str] = "*", sid: str | None = None, **extra: Any) -> dict:
    statement = allow(actions, resource, sid, **extra)
    statement["Effect"] = "Deny"
    return statement


def trust(principal: Mapping[str, Any], condition: Mapping[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": dict(principal), "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = dict(condition)
    return doc(statement)


def service_trust(service: str) -> dict[str, Any]:
    return trust({"Service": service})


def account_trust(account_id: str, condition: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return trust({"AWS": f"arn:aws:iam::{account_id}:root"}, condition)


# Date styles seen in real exports: the AWS CLI prints ``2023-03-09T10:41:45+00:00``, some tools
# ``...Z``, and a boto3 script dumping with ``default=str`` prints ``2023-03-09 10:41:45+00:00``.
DATE_STYLES = {
    "cli": "%Y-%m-%dT%H:%M:%S+00:00",
    "zulu": "%Y-%m-%dT%H:%M:%SZ",
    "boto3": "%Y-%m-%d %H:%M:%S+00:00",
}

AWS_MANAGED_CREATED = datetime.datetime(2015, 2, 6, 18, 39, 46)
AWS_MANAGED_UPDATED = datetime.datetime(2025, 6, 17, 11, 2, 33)

# AWSTrustedAdvisorServiceRolePolicy v15, as AWS publishes it. The bundled snapshot leaves it out
# because it allows no support, supportplans, supportapp or trustedadvisor action; the service-linked
# role of the management account attaches it, so its document must be in that account's file.
TRUSTED_ADVISOR_SERVICE_ROLE_POLICY = {
    "name": "AWSTrustedAdvisorServiceRolePolicy",
    "path": "/aws-service-role/",
    "version": "v15",
    "document": doc(allow([
        "access-analyzer:ListAnalyzers", "autoscaling:DescribeAccountLimits", "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:DescribeLaunchConfigurations", "ce:GetReservationPurchaseRecommendation",
        "ce:GetSavingsPlansPurchaseRecommendation", "cloudformation:DescribeAccountLimits",
        "cloudformation:DescribeStacks", "cloudformation:ListStacks", "cloudfront:ListDistributions",
        "cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:GetTrail", "cloudtrail:ListTrails",
        "cloudtrail:GetEventSelectors", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics",
        "dax:DescribeClusters", "dynamodb:DescribeLimits", "dynamodb:DescribeTable", "dynamodb:ListTables",
        "ec2:DescribeAddresses", "ec2:DescribeReservedInstances", "ec2:DescribeInstances", "ec2:DescribeVpcs",
        "ec2:DescribeInternetGateways", "ec2:DescribeImages", "ec2:DescribeNatGateways", "ec2:DescribeVolumes",
        "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeRegions",
        "ec2:DescribeReservedInstancesOfferings", "ec2:DescribeRouteTables", "ec2:DescribeSnapshots",
        "ec2:DescribeVpcEndpoints", "ec2:DescribeVpnConnections", "ec2:DescribeVpnGateways",
        "ec2:DescribeLaunchTemplateVersions", "ec2:GetManagedPrefixListEntries", "ecs:DescribeTaskDefinition",
        "ecs:ListTaskDefinitions", "ecs:ListClusters", "ecs:ListTasks", "ecs:DescribeTasks",
        "ecs:ListTaskDefinitionFamilies", "elasticloadbalancing:DescribeAccountLimits",
        "elasticloadbalancing:DescribeInstanceHealth", "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:DescribeLoadBalancerPolicies", "elasticloadbalancing:DescribeLoadBalancerPolicyTypes",
        "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetHealth", "iam:GenerateCredentialReport", "iam:GetAccountPasswordPolicy",
        "iam:GetAccountSummary", "iam:GetCredentialReport", "iam:GetServerCertificate", "iam:ListServerCertificates",
        "iam:ListSAMLProviders", "kinesis:DescribeLimits", "kafka:DescribeClusterV2", "kafka:ListClustersV2",
        "kafka:ListNodes", "network-firewall:ListFirewalls", "network-firewall:DescribeFirewall",
        "outposts:ListAssets", "outposts:GetOutpost", "outposts:ListOutposts", "rds:DescribeAccountAttributes",
        "rds:DescribeDBClusters", "rds:DescribeDBEngineVersions", "rds:DescribeDBInstances",
        "rds:DescribeDBParameterGroups", "rds:DescribeDBParameters", "rds:DescribeDBSecurityGroups",
        "rds:DescribeDBSnapshots", "rds:DescribeDBSubnetGroups", "rds:DescribeEngineDefaultParameters",
        "rds:DescribeEvents", "rds:DescribeOptionGroupOptions", "rds:DescribeOptionGroups",
        "rds:DescribeOrderableDBInstanceOptions", "rds:DescribeReservedDBInstances",
        "rds:DescribeReservedDBInstancesOfferings", "rds:ListTagsForResource", "redshift:DescribeClusters",
        "redshift:DescribeReservedNodeOfferings", "redshift:DescribeReservedNodes", "route53:GetAccountLimit",
        "route53:GetHealthCheck", "route53:GetHostedZone", "route53:ListHealthChecks", "route53:ListHostedZones",
        "route53:ListHostedZonesByName", "route53:ListResourceRecordSets", "route53resolver:ListResolverEndpoints",
        "route53resolver:ListResolverEndpointIpAddresses", "s3:GetAccountPublicAccessBlock", "s3:GetBucketAcl",
        "s3:GetBucketPolicy", "s3:GetBucketPolicyStatus", "s3:GetBucketLocation", "s3:GetBucketLogging",
        "s3:GetBucketVersioning", "s3:GetBucketPublicAccessBlock", "s3:GetLifecycleConfiguration",
        "s3:ListBucket", "s3:ListAllMyBuckets", "ses:GetSendQuota", "sqs:GetQueueAttributes", "sqs:ListQueues",
    ], sid="TrustedAdvisorServiceRolePermissions")),
}


# ---------------------------------------------------------------------------------------------
# One account's IAM: builds the authorization-details JSON


@dataclass
class _Managed:
    arn: str
    name: str
    path: str
    versions: list[dict[str, Any]]  # newest first, as IAM lists them
    default: str
    created: str
    updated: str
    aws: bool
    description: str | None = None


@dataclass
class AccountIam:
    """The IAM of one synthetic account, written as ``get-account-authorization-details`` prints it."""

    account_id: str
    date_style: str
    start: datetime.datetime
    users: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    roles: list[dict[str, Any]] = field(default_factory=list)
    managed: dict[str, _Managed] = field(default_factory=dict)
    invalid_documents: list[Any] = field(default_factory=list)  # intentionally invalid: not validated
    _clock: int = 0

    # dates: every call is a few days and hours after the previous one, so entities have distinct dates

    def date(self, when: datetime.datetime | None = None) -> str:
        if when is None:
            self._clock += 1
            when = self.start + datetime.timedelta(days=3 * self._clock, hours=7 * self._clock % 24,
                                                   minutes=13 * self._clock % 60, seconds=29 * self._clock % 60)
        return when.strftime(DATE_STYLES[self.date_style])

    def arn(self, kind: str, name: str, path: str = "/") -> str:
        return f"arn:aws:iam::{self.account_id}:{kind}{path}{name}"

    # policies

    def aws_policy(self, name: str) -> str:
        """The ARN of an AWS managed policy, registered with its real default-version document."""
        if name == TRUSTED_ADVISOR_SERVICE_ROLE_POLICY["name"]:
            entry = TRUSTED_ADVISOR_SERVICE_ROLE_POLICY
            arn = f"arn:aws:iam::aws:policy{entry['path']}{name}"
            path, version, document = entry["path"], entry["version"], entry["document"]
        else:
            snapshot = aws_managed_policy(name)
            if snapshot is None:
                raise SystemExit(f"{name} is not in the bundled AWS managed policy snapshot")
            arn, path, version, document = snapshot.arn, snapshot.path, snapshot.version, snapshot.document
        if arn not in self.managed:
            created = self.date(AWS_MANAGED_CREATED)
            updated = self.date(AWS_MANAGED_UPDATED)
            self.managed[arn] = _Managed(
                arn, name, path, [{"Document": json.loads(json.dumps(document)), "VersionId": version,
                                   "IsDefaultVersion": True, "CreateDate": updated}],
                version, created, updated, aws=True,
            )
        return arn

    def customer_policy(
        self, name: str, versions: list[dict[str, Any]], default: str | None = None, description: str | None = None,
        path: str = "/",
    ) -> str:
        """A customer managed policy; ``versions`` oldest first, the newest is the default unless ``default``."""
        arn = self.arn("policy", name, path)
        listed = []
        for number, document in enumerate(versions, start=1):
            listed.append({"Document": document, "VersionId": f"v{number}", "CreateDate": self.date()})
        default = default or listed[-1]["VersionId"]
        for version in listed:
            version["IsDefaultVersion"] = version["VersionId"] == default
        listed.reverse()  # IAM lists the newest version first
        self.managed[arn] = _Managed(
            arn, name, path, listed, default, listed[-1]["CreateDate"], listed[0]["CreateDate"], aws=False,
            description=description,
        )
        return arn

    def _attached(self, arns: Iterable[str]) -> list[dict[str, str]]:
        return [{"PolicyName": arn.rsplit("/", 1)[-1], "PolicyArn": arn} for arn in arns]

    @staticmethod
    def _inline(policies: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [{"PolicyName": name, "PolicyDocument": document} for name, document in policies.items()]

    @staticmethod
    def _boundary(arn: str | None) -> dict[str, Any]:
        if arn is None:
            return {}
        return {"PermissionsBoundary": {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": arn}}

    @staticmethod
    def _tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
        return [{"Key": key, "Value": value} for key, value in tags.items()]

    # identities

    def group(self, name: str, managed: Iterable[str] = (), inline: Mapping[str, Any] | None = None) -> str:
        self.groups.append({
            "Path": "/", "GroupName": name, "GroupId": unique_id("AGPA", self.account_id, "group", name),
            "Arn": self.arn("group", name), "CreateDate": self.date(),
            "GroupPolicyList": self._inline(inline or {}), "AttachedManagedPolicies": self._attached(managed),
        })
        return name

    def user(
        self, name: str, *, groups: Iterable[str] = (), managed: Iterable[str] = (),
        inline: Mapping[str, Any] | None = None, boundary: str | None = None, tags: Mapping[str, str] | None = None,
        path: str = "/",
    ) -> None:
        self.users.append({
            "Path": path, "UserName": name, "UserId": unique_id("AIDA", self.account_id, "user", name),
            "Arn": self.arn("user", name, path), "CreateDate": self.date(),
            "UserPolicyList": self._inline(inline or {}), "GroupList": list(groups),
            "AttachedManagedPolicies": self._attached(managed), **self._boundary(boundary),
            "Tags": self._tags(tags or {}),
        })

    def role(
        self, name: str, assume: Mapping[str, Any], *, managed: Iterable[str] = (),
        inline: Mapping[str, Any] | None = None, boundary: str | None = None, tags: Mapping[str, str] | None = None,
        path: str = "/", instance_profile: bool = False, last_used: str | None = None,
    ) -> None:
        role_id = unique_id("AROA", self.account_id, "role", name)
        arn = self.arn("role", name, path)
        created = self.date()
        profiles = []
        if instance_profile:
            profiles.append({
                "Path": path, "InstanceProfileName": name,
                "InstanceProfileId": unique_id("AIPA", self.account_id, "instance-profile", name),
                "Arn": self.arn("instance-profile", name, path), "CreateDate": created,
                "Roles": [{"Path": path, "RoleName": name, "RoleId": role_id, "Arn": arn, "CreateDate": created,
                           "AssumeRolePolicyDocument": assume}],
            })
        self.roles.append({
            "Path": path, "RoleName": name, "RoleId": role_id, "Arn": arn, "CreateDate": created,
            "AssumeRolePolicyDocument": assume, "InstanceProfileList": profiles,
            "RolePolicyList": self._inline(inline or {}), "AttachedManagedPolicies": self._attached(managed),
            **self._boundary(boundary), "Tags": self._tags(tags or {}),
            "RoleLastUsed": {"LastUsedDate": self.date(), "Region": last_used} if last_used else {},
        })

    def service_linked_role(self, service: str, name: str, policy: str) -> None:
        self.role(name, service_trust(service), managed=[self.aws_policy(policy)],
                  path=f"/aws-service-role/{service}/", last_used="us-east-1")

    # output

    def details(self, *, include_aws_managed: bool = True) -> dict[str, Any]:
        """The authorization details; ``include_aws_managed=False`` is ``--filter ... LocalManagedPolicy``."""
        attachments: dict[str, int] = {}
        boundaries: dict[str, int] = {}
        for entity in (*self.users, *self.groups, *self.roles):
            for attached in entity["AttachedManagedPolicies"]:
                attachments[attached["PolicyArn"]] = attachments.get(attached["PolicyArn"], 0) + 1
            boundary = entity.get("PermissionsBoundary")
            if boundary:
                arn = boundary["PermissionsBoundaryArn"]
                boundaries[arn] = boundaries.get(arn, 0) + 1
        policies = []
        for policy in sorted(self.managed.values(), key=lambda p: (p.aws, p.name)):
            if policy.aws and not include_aws_managed:
                continue
            entry = {
                "PolicyName": policy.name,
                "PolicyId": unique_id("ANPA", policy.arn),  # AWS managed ids are global: same in every account
                "Arn": policy.arn, "Path": policy.path, "DefaultVersionId": policy.default,
                "AttachmentCount": attachments.get(policy.arn, 0),
                "PermissionsBoundaryUsageCount": boundaries.get(policy.arn, 0), "IsAttachable": True,
                "CreateDate": policy.created, "UpdateDate": policy.updated, "PolicyVersionList": policy.versions,
            }
            if policy.description is not None:
                entry["Description"] = policy.description
            policies.append(entry)
        return {
            "UserDetailList": self.users, "GroupDetailList": self.groups, "RoleDetailList": self.roles,
            "Policies": policies,
        }

    def documents(self) -> Iterable[tuple[str, Any]]:
        """Every policy document in the account with where it is, for validation."""
        for user in self.users:
            for inline in user["UserPolicyList"]:
                yield f"user/{user['UserName']}: {inline['PolicyName']}", inline["PolicyDocument"]
        for group in self.groups:
            for inline in group["GroupPolicyList"]:
                yield f"group/{group['GroupName']}: {inline['PolicyName']}", inline["PolicyDocument"]
        for role in self.roles:
            for inline in role["RolePolicyList"]:
                yield f"role/{role['RoleName']}: {inline['PolicyName']}", inline["PolicyDocument"]
        for policy in self.managed.values():
            for version in policy.versions:
                yield f"{policy.arn} {version['VersionId']}", version["Document"]


# ---------------------------------------------------------------------------------------------
# Service control policies

FULL_AWS_ACCESS = doc(allow("*"))
DENY_SUPPORT_PLAN_CHANGES = doc(deny(
    ["supportplans:StartSupportPlanUpdate", "supportplans:CreateSupportPlanSchedule", "organizations:LeaveOrganization"],
    sid="DenySupportPlanChangesAndLeaving",
))
PROD_SUPPORT_GUARDRAILS = doc(deny(
    "support:ResolveCase", sid="OnlySupportLeadResolvesCases",
    Condition={"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ProdSupportLead"}},
))
SANDBOX_REGION_GUARD = doc({
    "Sid": "DenyOutsideApprovedRegions",
    "Effect": "Deny",
    "NotAction": [
        "iam:*", "organizations:*", "sts:*", "account:*", "budgets:*", "ce:*", "cloudfront:*", "health:*",
        "route53:*",
    ],
    "Resource": "*",
    "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
})


# An RCP of workload-prod's account level: attachments may hold customer data, so only ProdSupportLead may
# read them, whoever the principal (RCPs bind the root user too). RCPFullAWSAccess is not listed: AWS keeps it
# attached everywhere.
PROD_ATTACHMENTS_RCP = doc({
    "Sid": "AttachmentsForTheLeadOnly",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "support:DescribeAttachment",
    "Resource": "*",
    "Condition": {"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{PROD_ID}:role/ProdSupportLead"}},
})


def scp_text(document: Mapping[str, Any]) -> str:
    """SCP content as Organizations returns it: the JSON text the author saved."""
    return json.dumps(document, indent=4)


def scp(name: str, document: Mapping[str, Any]) -> dict[str, str]:
    return {"Name": name, "Content": scp_text(document)}


def described_scp(policy_id: str, name: str, description: str, document: Mapping[str, Any]) -> dict[str, Any]:
    """One SCP in the shape ``aws organizations describe-policy`` prints."""
    aws_managed = policy_id == "p-FullAWSAccess"
    arn = (
        "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess" if aws_managed
        else f"arn:aws:organizations::{MANAGEMENT_ID}:policy/{ORG_ID}/service_control_policy/{policy_id}"
    )
    return {"Policy": {
        "PolicySummary": {"Id": policy_id, "Arn": arn, "Name": name, "Description": description,
                          "Type": "SERVICE_CONTROL_POLICY", "AwsManaged": aws_managed},
        "Content": scp_text(document),
    }}


ROOT_LEVEL = {"target": ROOT_ID, "policies": [
    scp("FullAWSAccess", FULL_AWS_ACCESS), scp("DenySupportPlanChanges", DENY_SUPPORT_PLAN_CHANGES),
]}


def account_level(account_id: str) -> dict[str, Any]:
    return {"target": account_id, "policies": [scp("FullAWSAccess", FULL_AWS_ACCESS)]}


# ---------------------------------------------------------------------------------------------
# The four accounts


@dataclass
class DemoAccount:
    folder: str
    info: dict[str, Any]
    iam: AccountIam
    scps: dict[str, Any]
    include_aws_managed: bool = True
    rcps: dict[str, Any] | None = None


IDENTITY_CENTER_PROVIDER = f"arn:aws:iam::{MANAGEMENT_ID}:saml-provider/AWSSSO_6a1d3c2b9e8f7a01_DO_NOT_DELETE"


def paths_to_support(iam: AccountIam) -> None:
    """Who-can paths (issue 9): an Identity Center role, and a chain user -> OpsJump -> CaseResolver.

    The Identity Center role is shaped as IAM Identity Center creates them (path
    /aws-reserved/sso.amazonaws.com/, name AWSReservedSSO_<PermissionSet>_<hex>, trusting the
    AWSSSO_..._DO_NOT_DELETE SAML provider). CaseResolver trusts OpsJump by ARN and may assume OpsJump
    back: a loop that who-can must not follow.
    """
    iam.role("AWSReservedSSO_SupportEngineer_5f2c1a9be07d4c13", doc({
        "Effect": "Allow", "Principal": {"Federated": IDENTITY_CENTER_PROVIDER},
        "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
        "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
    }), managed=[iam.aws_policy("AWSSupportAccess")], path="/aws-reserved/sso.amazonaws.com/", last_used="us-east-1")
    jump = f"arn:aws:iam::{MANAGEMENT_ID}:role/OpsJump"
    resolver = f"arn:aws:iam::{MANAGEMENT_ID}:role/CaseResolver"
    iam.user("sam.oncall", inline={"AssumeOpsJump": doc(allow("sts:AssumeRole", jump, sid="AssumeOpsJump"))},
             tags={"team": "operations"})
    iam.role("OpsJump", account_trust(MANAGEMENT_ID),
             inline={"AssumeCaseResolver": doc(allow("sts:AssumeRole", resolver, sid="AssumeCaseResolver"))})
    iam.role("CaseResolver", trust({"AWS": jump}), inline={"ResolveCases": doc(
        allow(["support:DescribeCases", "support:ResolveCase"], sid="ResolveCases"),
        allow("sts:AssumeRole", jump, sid="BackToJump"),
    )})


def management() -> DemoAccount:
    """The management account: enterprise support; SCPs exist in the org but never apply here."""
    iam = AccountIam(MANAGEMENT_ID, "cli", datetime.datetime(2020, 11, 3, 8, 12, 40))
    admins = iam.group("Admins", managed=[iam.aws_policy("AdministratorAccess")])
    finops = iam.group("FinOps", managed=[iam.aws_policy("Billing")])
    iam.user("alice.admin", groups=[admins], tags={"team": "platform"})
    iam.user("maria.garcia", groups=[finops], managed=[iam.aws_policy("AWSSupportPlansFullAccess")],
             tags={"team": "finance", "cost-center": "CC-1042"})
    iam.user("ci-deployer", inline={"DeployStacks": doc(
        allow(["cloudformation:*", "s3:GetObject", "s3:PutObject", "s3:ListBucket"], sid="DeployStacks"),
        allow("iam:PassRole", f"arn:aws:iam::{MANAGEMENT_ID}:role/cfn-*", sid="PassDeploymentRoles"),
    )}, tags={"team": "platform", "automation": "true"})
    iam.role("BreakGlassAdmin", account_trust(MANAGEMENT_ID, {"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
             managed=[iam.aws_policy("AdministratorAccess")], tags={"purpose": "break-glass"})
    iam.role("SecurityAuditRole", account_trust(MANAGEMENT_ID),
             managed=[iam.aws_policy("SecurityAudit"), iam.aws_policy("ViewOnlyAccess"),
                      iam.aws_policy("AWSSupportPlansReadOnlyAccess")],
             tags={"team": "security"}, last_used="eu-west-1")
    iam.role("SupportAppSlackRole", service_trust("supportapp.amazonaws.com"),
             managed=[iam.aws_policy("AWSSupportAppFullAccess")], last_used="us-east-1")
    iam.role("TAPriorityReviewer", account_trust(MANAGEMENT_ID),
             managed=[iam.aws_policy("AWSTrustedAdvisorPriorityReadOnlyAccess")])
    iam.service_linked_role("support.amazonaws.com", "AWSServiceRoleForSupport", "AWSSupportServiceRolePolicy")
    iam.service_linked_role("trustedadvisor.amazonaws.com", "AWSServiceRoleForTrustedAdvisor",
                            "AWSTrustedAdvisorServiceRolePolicy")
    paths_to_support(iam)
    return DemoAccount(
        "management",
        {"account_id": MANAGEMENT_ID, "name": "management", "management_account": True, "support_plan": "enterprise"},
        iam,
        {"levels": [ROOT_LEVEL, account_level(MANAGEMENT_ID)]},
    )


def workload_prod() -> DemoAccount:
    """A production member: business support; the OU's SCP denies ResolveCase to all but ProdSupportLead."""
    iam = AccountIam(PROD_ID, "zulu", datetime.datetime(2021, 6, 14, 9, 30, 5))
    case = f"arn:aws:support::{PROD_ID}:case/*"
    support_engineers = iam.group("SupportEngineers", managed=[iam.aws_policy("SupportUser")])
    case_manager = iam.customer_policy("SupportCaseManager", [doc(
        {"Sid": "EverythingButResolve", "Effect": "Allow", "NotAction": "support:ResolveCase", "Resource": "*"},
    )], description="Meant as support:* without ResolveCase; NotAction makes it allow every other action too")
    ta_reader = iam.customer_policy("TrustedAdvisorReader", [doc(allow(
        ["support:DescribeTrustedAdvisor*", "support:RefreshTrustedAdvisorCheck"], sid="TrustedAdvisorViaSupportApi",
    ))], description="Trusted Advisor results for the weekly cost report")
    triage = iam.customer_policy("SupportTriage", [
        doc(allow(["support:DescribeCases", "support:DescribeCommunications", "support:SearchForCases",
                   "support:DescribeSeverityLevels"], sid="ReadCases")),
        doc(allow(["support:DescribeCases", "support:DescribeCommunications", "support:SearchForCases",
                   "support:DescribeSeverityLevels"], sid="ReadCases"),
            allow(["support:AddCommunicationToCase", "support:AddAttachmentsToSet", "support:ResolveCase",
                   "support:UpdateCaseSeverity"], sid="AnswerAndResolve")),
    ], default="v1", description="Triage bot: v2 (answer and resolve) drafted, not yet made default")
    iam.user("dev.oncall", managed=[iam.aws_policy("AWSSupportAccess")], tags={"team": "platform"})
    iam.user("priya.support", groups=[support_engineers], tags={"team": "support"})
    iam.user("tomas.case", managed=[case_manager], tags={"team": "support"})
    open_only = doc(
        allow(["support:CreateCase", "support:AddAttachmentsToSet", "support:AddCommunicationToCase",
               "support:DescribeCases", "support:DescribeCommunications", "support:DescribeServices",
               "support:DescribeSeverityLevels", "support-console:*"], sid="OpenAndFollowCases"),
        deny(["support:DescribeIssueTypes", "support:SearchForCases"], sid="NoIssueTypesNoSearch"),
    )
    # The raw IAM API returns inline documents URL-encoded; the CLI and boto3 decode them, some tools do not.
    iam.user("nina.ops", inline={"OpenCasesNoSearch": urllib.parse.quote(json.dumps(open_only))},
             tags={"team": "operations"})
    iam.user("ravi.dev", inline={"OwnCasesOnly": doc(
        allow(["support:DescribeCases", "support:AddCommunicationToCase", "support:ResolveCase"], case,
              sid="CasesOfThisAccount"),
        allow(["support:DescribeServices", "support:DescribeSeverityLevels"], sid="CaseOptions"),
    )}, tags={"team": "payments"})
    iam.role("OrganizationAccountAccessRole", account_trust(MANAGEMENT_ID),
             managed=[iam.aws_policy("AdministratorAccess")], last_used="us-east-1")
    iam.role("ProdSupportLead", account_trust(MANAGEMENT_ID, {"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
             managed=[iam.aws_policy("AWSSupportAccess")], tags={"team": "support"}, last_used="eu-west-1")
    # The audit tool from the management account (with its external id), and any principal of the organization:
    # "*" limited by aws:PrincipalOrgID, which a principal outside the organization does not carry.
    auditors = account_trust(MANAGEMENT_ID, {"StringEquals": {"sts:ExternalId": "audit-7d41"}})
    auditors["Statement"].append({"Sid": "AnyoneInTheOrganization", "Effect": "Allow", "Principal": {"AWS": "*"},
                                  "Action": "sts:AssumeRole",
                                  "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG_ID}}})
    iam.role("ReadOnlyAuditor", auditors, managed=[iam.aws_policy("ReadOnlyAccess")], tags={"team": "security"})
    iam.role("CostReporter", service_trust("lambda.amazonaws.com"), managed=[ta_reader], last_used="us-east-1")
    iam.role("TriageBot", service_trust("lambda.amazonaws.com"), managed=[triage], last_used="us-east-1")
    iam.role("SupportPermitApprover", account_trust(MANAGEMENT_ID, {"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
             inline={"ApproveSupportPermits": doc(
                 allow(["supportauthz:CreateSupportPermit", "supportauthz:RejectSupportPermitRequest",
                        "supportauthz:List*", "supportauthz:Get*", "supportauthz:RegisterKey"], sid="SupportPermits"),
                 allow(["kms:Sign", "kms:DescribeKey"], f"arn:aws:kms:us-east-1:{PROD_ID}:key/*", sid="SignPermits"),
             )}, tags={"team": "security"})
    return DemoAccount(
        "workload-prod",
        {"account_id": PROD_ID, "name": "workload-prod", "management_account": False,
         "support_plan": "Business Support+"},
        iam,
        {"levels": [
            ROOT_LEVEL,
            {"target": PROD_OU, "policies": [scp("FullAWSAccess", FULL_AWS_ACCESS),
                                             scp("ProdSupportGuardrails", PROD_SUPPORT_GUARDRAILS)]},
            account_level(PROD_ID),
        ]},
        rcps={"levels": [
            {"target": ROOT_ID, "policies": []},
            {"target": PROD_OU, "policies": []},
            {"target": PROD_ID, "policies": [scp("AttachmentsForTheLeadOnly", PROD_ATTACHMENTS_RCP)]},
        ]},
    )


def sandbox_dev() -> DemoAccount:
    """A developer sandbox: developer support, permission boundaries, tag and MFA conditions."""
    iam = AccountIam(SANDBOX_ID, "cli", datetime.datetime(2022, 2, 21, 14, 5, 51))
    boundary = iam.customer_policy("DeveloperBoundary", [doc(
        allow(["ec2:*", "s3:*", "lambda:*", "logs:*", "cloudwatch:*", "dynamodb:*", "sqs:*", "sns:*",
               "cloudformation:*", "iam:Get*", "iam:List*"], sid="DeveloperServices"),
        allow(["support:Describe*", "support:CreateCase", "support:AddCommunicationToCase",
               "support:AddAttachmentsToSet", "support-console:*", "trustedadvisor:*"], sid="SupportBasics"),
    )], description="Permissions boundary for developers and their automation")
    team_access = iam.customer_policy("SupportTeamAccess", [doc(
        allow(["support:Describe*", "support:SearchForCases", "support:CreateCase", "support:AddCommunicationToCase",
               "support:AddAttachmentsToSet", "support-console:*"], sid="SupportTeamCases",
              Condition={"StringEquals": {"aws:PrincipalTag/team": "support"}}),
        allow("support:ResolveCase", sid="ResolveWithMfa",
              Condition={"StringEquals": {"aws:PrincipalTag/team": "support"},
                         "Bool": {"aws:MultiFactorAuthPresent": "true"}}),
    )], description="Support cases for people tagged team=support; resolving needs MFA")
    developers = iam.group("Developers", managed=[iam.aws_policy("PowerUserAccess")])
    iam.user("dev.alex", groups=[developers], managed=[iam.aws_policy("AWSSupportAccess")], boundary=boundary,
             tags={"team": "web"})
    iam.user("dev.sam", groups=[developers], tags={"team": "web"})  # the boundary was forgotten here
    iam.user("kim.support", managed=[team_access], tags={"team": "support"})
    iam.user("lee.intern", managed=[team_access], tags={"team": "interns"})
    iam.user("jo.contractor", managed=[team_access])
    iam.role("OrganizationAccountAccessRole", account_trust(MANAGEMENT_ID),
             managed=[iam.aws_policy("AdministratorAccess")], last_used="us-east-1")
    iam.role("DevSupportBot", service_trust("lambda.amazonaws.com"), managed=[iam.aws_policy("AWSSupportAccess")],
             boundary=boundary, tags={"team": "web"}, last_used="eu-west-1")
    iam.role("TAChecksOperator", service_trust("lambda.amazonaws.com"), inline={"RefreshSecurityChecks": doc(
        allow(["trustedadvisor:RefreshCheck", "trustedadvisor:DescribeCheckItems"],
              f"arn:aws:trustedadvisor:*:{SANDBOX_ID}:checks/security/*", sid="SecurityChecksOnly"),
        allow(["trustedadvisor:DescribeChecks", "trustedadvisor:DescribeCheckSummaries"], sid="ListChecks"),
    )}, tags={"team": "security"})
    return DemoAccount(
        "sandbox-dev",
        {"account_id": SANDBOX_ID, "name": "sandbox-dev", "management_account": False, "support_plan": "developer"},
        iam,
        {"levels": [
            ROOT_LEVEL,
            {"target": SANDBOX_OU, "policies": [
                described_scp("p-FullAWSAccess", "FullAWSAccess",
                              "Allows access to every operation", FULL_AWS_ACCESS),
                described_scp("p-8k2m4x7q", "SandboxRegionGuard",
                              "Sandboxes stay in us-east-1 and eu-west-1; global services are exempt",
                              SANDBOX_REGION_GUARD),
            ]},
            account_level(SANDBOX_ID),
        ]},
    )


def legacy_shared() -> DemoAccount:
    """An old shared account, invited into the org: basic support, an export with gaps, root-only support."""
    iam = AccountIam(LEGACY_ID, "boto3", datetime.datetime(2017, 9, 8, 16, 44, 12))
    s3_read = iam.customer_policy("LegacyS3Read", [doc(
        allow(["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::legacy-shared-*", "arn:aws:s3:::legacy-shared-*/*"],
              sid="LegacyBuckets"),
    )], description=HOSTILE_DESCRIPTION)
    readers = iam.group("legacy-readers", managed=[s3_read])
    # ReadOnlyAccess is AWS managed and, with --filter LocalManagedPolicy, absent from the file: the loader
    # must take it from the bundled snapshot. As a boundary it blocks every support write this user's
    # inline policy allows, so the user ends with no support access.
    iam.user("ops-legacy", groups=[readers], boundary="arn:aws:iam::aws:policy/ReadOnlyAccess",
             inline={"LegacySupportWriter": doc(allow(
                 ["support:CreateCase", "support:AddCommunicationToCase", "support:AddAttachmentsToSet",
                  "support:ResolveCase"], sid="WriteCases"))},
             tags={"team": "operations"})
    # A customer managed policy deleted while the export ran: attached here, absent from Policies.
    iam.user("backup-operator", managed=[f"arn:aws:iam::{LEGACY_ID}:policy/DeletedPolicy"],
             inline={"BackupBuckets": doc(allow(["s3:PutObject", "s3:GetObject"], "arn:aws:s3:::legacy-backups/*",
                                                sid="BackupObjects"))})
    iam.user("contractor+ops@example.com", groups=[readers], tags={"company": "Example Corp, Ltd."})
    invalid = doc(allow(["logs:CreateLogStream", "logs:PutLogEvents"], sid="BatchLogs",
                        Condition={"StringLikee": {"aws:RequestedRegion": "eu-*"}}))
    iam.invalid_documents.append(invalid)
    iam.role("legacy-batch", service_trust("ec2.amazonaws.com"), inline={"BatchLogsAccess": invalid},
             path="/service/", instance_profile=True, last_used="eu-west-1")
    iam.role("reporting-etl", service_trust("lambda.amazonaws.com"), inline={"QueryReports": doc(
        allow(["athena:StartQueryExecution", "athena:GetQueryResults", "s3:GetObject"], sid="QueryReports"),
    )}, tags={"owner-note": HOSTILE_TAG, "team": "analytics"})
    return DemoAccount(
        "legacy-shared",
        {"account_id": LEGACY_ID, "name": "legacy-shared", "management_account": False, "support_plan": "basic",
         "notes": ["authorization details exported with --filter User Role Group LocalManagedPolicy: "
                   "the file holds no AWS managed policy document"]},
        iam,
        {"levels": [
            ROOT_LEVEL,
            {"target": LEGACY_OU, "policies": [scp("FullAWSAccess", FULL_AWS_ACCESS)]},
            account_level(LEGACY_ID),
        ]},
        include_aws_managed=False,
    )


ACCOUNTS = (management, workload_prod, sandbox_dev, legacy_shared)


# ---------------------------------------------------------------------------------------------
# Validation and output


def _scp_documents(scps: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    for level in scps["levels"]:
        for policy in level["policies"]:
            body = policy.get("Policy", policy)
            name = body.get("PolicySummary", {}).get("Name") or body.get("Name")
            yield f"SCP {name} at {level['target']}", body["Content"]


def validate(account: DemoAccount) -> None:
    """Every document parses, except the intentionally invalid ones, which must not."""
    invalid = [json.dumps(d, sort_keys=True) for d in account.iam.invalid_documents]
    organization = (*_scp_documents(account.scps), *(_scp_documents(account.rcps) if account.rcps else ()))
    for where, document in (*account.iam.documents(), *organization):
        expected_invalid = isinstance(document, Mapping) and json.dumps(document, sort_keys=True) in invalid
        try:
            parse_policy(document)
        except PolicyError as error:
            if not expected_invalid:
                raise SystemExit(f"{account.folder}: {where}: {error}") from None
        else:
            if expected_invalid:
                raise SystemExit(f"{account.folder}: {where} was meant to be invalid but parses")
    for role in account.iam.roles:  # trust policies are resource-based: each statement names its Principal
        try:
            parse_policy(role["AssumeRolePolicyDocument"], resource_policy=True)
        except PolicyError as error:
            raise SystemExit(f"{account.folder}: role {role['RoleName']} trust policy: {error}") from None
    count = len(account.iam.users) + len(account.iam.roles) + 1
    if not 5 <= count <= 15:
        raise SystemExit(f"{account.folder}: {count} identities; keep each account between 5 and 15")


def render(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def organization_file(accounts: Iterable[DemoAccount]) -> dict[str, Any]:
    """organization.json as ``supportkit fetch --organization`` writes it: the tree and each account's folder.

    The SCPs stay in each account's ``scps.json``; the demo records no policy ids.
    """
    units = {PROD_OU: "Workloads", SANDBOX_OU: "Sandbox", LEGACY_OU: "Legacy"}
    members = []
    for account in accounts:
        levels = [level["target"] for level in account.scps["levels"]]
        members.append({"id": account.info["account_id"], "name": account.info["name"], "status": "ACTIVE",
                        "parent": levels[-2], "folder": account.folder, "error": None})
    return {
        "organization": {"id": ORG_ID, "management_account_id": MANAGEMENT_ID, "feature_set": "ALL"},
        "roots": [{"id": ROOT_ID, "name": "Root",
                   "policy_types": ["SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"]}],
        "units": [{"id": unit, "name": name, "parent": ROOT_ID} for unit, name in units.items()],
        "accounts": members,
        "notes": ["synthetic demo organization: see data/README.md"],
    }


def files() -> dict[Path, str]:
    out: dict[Path, str] = {}
    made = [make() for make in ACCOUNTS]
    out[OUT / "organization.json"] = render(organization_file(made))
    for account in made:
        validate(account)
        folder = OUT / account.folder
        out[folder / "authorization-details.json"] = render(
            account.iam.details(include_aws_managed=account.include_aws_managed))
        out[folder / "account.json"] = render(account.info)
        out[folder / "scps.json"] = render(account.scps)
        if account.rcps is not None:
            out[folder / "rcps.json"] = render(account.rcps)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare data/demo/ with what the script makes")
    args = parser.parse_args(argv)
    wanted = files()
    if args.check:
        stale = [path for path, text in wanted.items()
                 if not path.is_file() or path.read_text(encoding="utf-8") != text]
        for path in stale:
            print(f"out of date: {path.relative_to(REPO)}", file=sys.stderr)
        return 1 if stale else 0
    for path, text in wanted.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
