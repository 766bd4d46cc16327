"""`supportkit fetch --organization` against moto: Organizations, STS assume-role into members, IAM per account."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from supportkit.cli.main import main
from supportkit.iam.evaluate import Decision, evaluate
from supportkit.snapshot import load_account
from supportkit.snapshot.fetch import FetchError
from supportkit.snapshot.fetch_organization import (
    MAX_ATTEMPTS,
    fetch_organization,
    retry_config,
)
from supportkit.snapshot.organization import read_organization

MANAGEMENT = "123456789012"  # moto's default account
ROLE = "OrganizationAccountAccessRole"


def document(effect: str, *actions: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": list(actions), "Resource": "*"}]})


pytestmark = pytest.mark.usefixtures("aws")  # tests/snapshot/conftest.py


def member_iam(account_id: str) -> Any:
    """An IAM client in a member account: moto routes assumed-role credentials to the role's account."""
    credentials = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/{ROLE}", RoleSessionName="setup")["Credentials"]
    return boto3.client("iam", aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"])


@pytest.fixture()
def organization() -> dict[str, Any]:
    """Management + three members: Prod OU (two accounts, one SCP and one RCP on the OU), Sandbox OU (one)."""
    org = boto3.client("organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    for policy_type in ("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"):
        if policy_type not in {t["Type"] for t in org.list_roots()["Roots"][0]["PolicyTypes"]}:
            org.enable_policy_type(RootId=root, PolicyType=policy_type)
    prod = org.create_organizational_unit(ParentId=root, Name="Prod")["OrganizationalUnit"]["Id"]
    sandbox = org.create_organizational_unit(ParentId=root, Name="Sandbox")["OrganizationalUnit"]["Id"]
    ids = {}
    for name, parent in (("prod-a", prod), ("prod-b", prod), ("sandbox", sandbox)):
        status = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        ids[name] = status["AccountId"]
        org.move_account(AccountId=ids[name], SourceParentId=root, DestinationParentId=parent)
    scp = org.create_policy(Name="DenyPlans", Type="SERVICE_CONTROL_POLICY", Description="",
                            Content=document("Deny", "supportplans:*"))["Policy"]["PolicySummary"]["Id"]
    rcp_content = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*",
         "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-example"}}}]})
    rcp = org.create_policy(Name="OrgOnly", Type="RESOURCE_CONTROL_POLICY", Description="",
                            Content=rcp_content)["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=scp, TargetId=prod)
    org.attach_policy(PolicyId=rcp, TargetId=prod)
    for index, name in enumerate(ids):
        iam = member_iam(ids[name])
        for n in range(index + 1):
            iam.create_user(UserName=f"{name}-user{n}")
        iam.put_user_policy(UserName=f"{name}-user0", PolicyName="Support",
                            PolicyDocument=document("Allow", "support:*", "supportplans:*"))
    boto3.client("iam").create_user(UserName="payer-admin")
    return {"root": root, "prod": prod, "sandbox": sandbox, "scp": scp, "rcp": rcp, **ids}


def test_every_account_gets_its_folder_and_the_organization_file_its_tree_and_policies(tmp_path, organization):
    result = fetch_organization(tmp_path / "org", workers=2)

    assert result.failed == ()
    folders = {account.account_id: account.folder for account in result.accounts}
    assert set(folders) == {MANAGEMENT, organization["prod-a"], organization["prod-b"], organization["sandbox"]}
    prod_a = folders[organization["prod-a"]]
    assert sorted(p.name for p in prod_a.iterdir()) == [
        "account.json", "authorization-details.json", "rcps.json", "scps.json"]
    account_file = json.loads((prod_a / "account.json").read_text())
    assert account_file["account_id"] == organization["prod-a"] and account_file["name"] == "prod-a"
    assert account_file["management_account"] is False and account_file["snapshot_time"].endswith("+00:00")
    scps = json.loads((prod_a / "scps.json").read_text())
    assert [level["target"] for level in scps["levels"]] == [organization["root"], organization["prod"],
                                                              organization["prod-a"]]
    assert [[p["Policy"]["PolicySummary"]["Name"] for p in level["policies"]] for level in scps["levels"]] == [
        ["FullAWSAccess"], ["FullAWSAccess", "DenyPlans"], ["FullAWSAccess"]]
    rcps = json.loads((prod_a / "rcps.json").read_text())
    assert [p["Policy"]["PolicySummary"]["Name"] for p in rcps["levels"][1]["policies"]] == [
        "RCPFullAWSAccess", "OrgOnly"]

    # Each folder is that account's own IAM data, read through the assumed role.
    loaded = load_account(prod_a)
    assert loaded.info.account_id == organization["prod-a"]
    # moto, like AWS, creates the access role in each account create-account makes.
    assert [i.name for i in loaded.identities] == ["root", "prod-a-user0", ROLE]
    user = loaded.identity("prod-a-user0")
    # DenyPlans on the Prod OU binds the member account's users (AWS Organizations, "Service control policies").
    assert evaluate(user.subject, "supportplans:StartSupportPlanUpdate").decision is Decision.EXPLICIT_DENY
    assert evaluate(user.subject, "support:CreateCase").decision is Decision.ALLOWED
    management = load_account(folders[MANAGEMENT])
    assert management.info.management_account and [i.name for i in management.identities] == ["root", "payer-admin"]

    info = read_organization(tmp_path / "org")
    assert info.management_account_id == MANAGEMENT
    assert {a.account_id: a.folder for a in info.accounts} == {k: v.resolve() for k, v in folders.items()}
    sandbox = next(a for a in info.accounts if a.account_id == organization["sandbox"])
    assert info.unit_path(sandbox) == ("Root", "Sandbox")
    document_ = json.loads(info.source.read_text())
    assert set(document_["policies"]["rcps"]) == {organization["rcp"], "p-RCPFullAWSAccess"}
    assert document_["attachments"][organization["prod"]]["SERVICE_CONTROL_POLICY"] == ["p-FullAWSAccess",
                                                                                        organization["scp"]]


class RefusingSession:
    """The default session, except that assuming the role in ``refused`` is denied as AWS denies it."""

    def __init__(self, refused: str) -> None:
        self.session = boto3.Session(region_name="us-east-1")
        self.region_name = "us-east-1"
        self.refused = refused
        self.assumed: list[str] = []

    def client(self, service: str, **kwargs: Any) -> Any:
        client = self.session.client(service, **kwargs)
        if service == "sts":
            original = client.assume_role

            def assume_role(**arguments: Any) -> Any:
                self.assumed.append(arguments["RoleArn"])
                if f"::{self.refused}:" in arguments["RoleArn"]:
                    raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized to perform: "
                                                 "sts:AssumeRole"}}, "AssumeRole")
                return original(**arguments)

            client.assume_role = assume_role
        return client


def test_one_refused_account_is_recorded_and_the_others_are_fetched_then_resume_fetches_only_the_rest(
        tmp_path, organization):
    refused = organization["prod-b"]
    session = RefusingSession(refused)
    out = tmp_path / "org"
    result = fetch_organization(out, session=session, workers=3)

    assert [a.account_id for a in result.failed] == [refused]
    assert result.failed[0].error.startswith("AccessDenied:")
    assert not (out / refused).exists()
    entry = next(a for a in read_organization(out).accounts if a.account_id == refused)
    assert entry.folder is None and "AccessDenied" in entry.error
    assert (out / organization["prod-a"] / "account.json").is_file()

    again = RefusingSession(refused="none")
    second = fetch_organization(out, session=again, workers=2, resume=True)
    assert second.failed == ()
    assert {a.account_id for a in second.accounts if not a.skipped} == {refused}
    assert again.assumed == [f"arn:aws:iam::{refused}:role/{ROLE}"]
    assert all(a.folder is not None for a in read_organization(out).accounts)


def test_accounts_option_fetches_only_those_and_an_unknown_id_is_refused(tmp_path, organization):
    out = tmp_path / "org"
    result = fetch_organization(out, accounts=[organization["sandbox"]], role_name=ROLE)
    assert [a.account_id for a in result.accounts] == [organization["sandbox"]]
    info = read_organization(out)
    assert {a.account_id for a in info.accounts if a.folder is not None} == {organization["sandbox"]}
    assert {a.error for a in info.accounts if a.folder is None} == {"not fetched: not among --accounts"}
    with pytest.raises(FetchError, match="not in the organization: 999999999999"):
        fetch_organization(tmp_path / "other", accounts=["999999999999"])


def test_a_non_empty_folder_needs_resume(tmp_path, organization):
    (tmp_path / "stale.txt").write_text("x")
    with pytest.raises(FetchError, match="give --resume"):
        fetch_organization(tmp_path)


def test_clients_retry_throttling_in_adaptive_mode():
    # botocore: "adaptive" is standard mode (exponential backoff with jitter) plus client-side rate limiting;
    # max_attempts counts the first call. Boto3 guide, "Retries": https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html
    assert retry_config().retries == {"mode": "adaptive", "max_attempts": MAX_ATTEMPTS}


def test_the_command_line_fetches_the_organization_and_reports_failures(tmp_path, organization, capsys,
                                                                        monkeypatch):
    out = tmp_path / "org"
    code = main(["fetch", "--organization", "-o", str(out), "--workers", "2",
                 "--accounts", f"{organization['prod-a']},{organization['sandbox']}"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert printed.out.strip() == str(out / "organization.json")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["organization.json", organization["prod-a"], organization["sandbox"]])


def test_organization_options_without_organization_are_refused(tmp_path, capsys):
    assert main(["fetch", "-o", str(tmp_path / "x"), "--resume"]) == 2
    assert capsys.readouterr().err.strip() == "supportkit fetch: error: --resume goes with --organization"
