"""Fetching a snapshot folder from AWS, against moto (no network)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
import sys
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from botocore.stub import Stubber

from supportkit.snapshot import IdentityType, load_account
from supportkit.iam.evaluate import Decision, PolicyKind, evaluate
from supportkit.snapshot.fetch import FetchError, fetch_snapshot

MANAGEMENT = "123456789012"  # moto's default account


def document(effect: str, *actions: str) -> str:
    statement = {"Effect": effect, "Action": list(actions), "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


pytestmark = pytest.mark.usefixtures("aws")  # tests/snapshot/conftest.py


def create_identities(iam: Any, users: int = 2) -> str:
    """A group, users in it, a role with a boundary, and a customer policy whose default is v2."""
    arn = iam.create_policy(PolicyName="SupportCustom", PolicyDocument=document("Allow", "support:*"))["Policy"]["Arn"]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=document("Allow", "support:Describe*"), SetAsDefault=True)
    iam.create_group(GroupName="Support")
    iam.attach_group_policy(GroupName="Support", PolicyArn=arn)
    iam.put_group_policy(
        GroupName="Support", PolicyName="TrustedAdvisor", PolicyDocument=document("Allow", "trustedadvisor:*")
    )
    for index in range(users):
        name = f"user{index:03d}"
        iam.create_user(UserName=name, Tags=[{"Key": "team", "Value": "ops"}])
        iam.add_user_to_group(UserName=name, GroupName="Support")
    iam.put_user_policy(UserName="user000", PolicyName="Cases", PolicyDocument=document("Allow", "support:CreateCase"))
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"}, "Action": "sts:AssumeRole"}]})
    iam.create_role(RoleName="Ops", AssumeRolePolicyDocument=trust, PermissionsBoundary=arn)
    iam.attach_role_policy(RoleName="Ops", PolicyArn=arn)
    iam.put_role_policy(RoleName="Ops", PolicyName="Plans", PolicyDocument=document("Allow", "supportplans:*"))
    return arn


def create_organization(org: Any, account_id: str) -> dict[str, str]:
    """An organization with an OU holding ``account_id``, and a Deny SCP on the OU and another on the account."""
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    ou = org.create_organizational_unit(ParentId=root, Name="Prod")["OrganizationalUnit"]["Id"]
    org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=ou)
    deny_plans = org.create_policy(
        Name="DenyPlans", Type="SERVICE_CONTROL_POLICY", Description="", Content=document("Deny", "supportplans:*"),
    )["Policy"]["PolicySummary"]["Id"]
    deny_ta = org.create_policy(
        Name="DenyTrustedAdvisor", Type="SERVICE_CONTROL_POLICY", Description="",
        Content=document("Deny", "trustedadvisor:*"),
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=deny_plans, TargetId=ou)
    org.attach_policy(PolicyId=deny_ta, TargetId=account_id)
    return {"root": root, "ou": ou}


class PagedIam:
    """A boto3 session whose IAM client returns get-account-authorization-details in pages of ``size`` entries.

    moto answers in one page; the real API splits every list across pages.
    """

    def __init__(self, size: int) -> None:
        self.session = boto3.Session(region_name="us-east-1")
        self.region_name = "us-east-1"
        self.size = size
        self.filters: list[list[str]] = []

    def client(self, service: str, **kwargs: Any) -> Any:
        client = self.session.client(service, **kwargs)
        if service != "iam":
            return client
        outer = self

        class Paginator:
            def paginate(self, Filter: list[str]) -> Iterator[dict[str, Any]]:  # noqa: N803 (boto3's name)
                outer.filters.append(Filter)
                whole = client.get_account_authorization_details(Filter=Filter)
                lists = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
                count = max(len(whole[key]) for key in lists)
                for start in range(0, count, outer.size):
                    end = start + outer.size
                    yield {**{key: whole[key][start:end] for key in lists}, "IsTruncated": end < count}

        client.get_paginator = lambda name: Paginator()
        return client


def test_fetch_management_account_with_organization(tmp_path: Path) -> None:
    iam = boto3.client("iam")
    create_identities(iam, users=5)
    iam.create_account_alias(AccountAlias="acme-management")
    ids = create_organization(boto3.client("organizations"), MANAGEMENT)
    session = PagedIam(size=2)

    before = datetime.now(timezone.utc).replace(microsecond=0)
    folder = fetch_snapshot(tmp_path / "snapshot", session=session)
    after = datetime.now(timezone.utc)

    assert sorted(p.name for p in folder.iterdir()) == ["account.json", "authorization-details.json", "scps.json"]
    written = json.loads((folder / "account.json").read_text())
    taken = datetime.fromisoformat(written.pop("snapshot_time"))
    assert before <= taken <= after
    assert written == {"account_id": MANAGEMENT, "name": "acme-management", "management_account": True}
    assert session.filters == [["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"]]
    raw = json.loads((folder / "authorization-details.json").read_text())
    assert len(raw["UserDetailList"]) == 5
    assert isinstance(raw["UserDetailList"][0]["CreateDate"], str)

    account = load_account(folder)
    assert account.info.account_id == MANAGEMENT
    assert account.info.snapshot_time == taken
    assert account.info.management_account
    assert not account.warnings
    users = [i for i in account.identities if i.type is IdentityType.USER]
    assert len(users) == 5
    user = account.identity("user000")
    assert [named.name for named in user.subject.identity_policies] == [
        "user/user000: Cases (inline)", "group/Support: TrustedAdvisor (inline)", "SupportCustom",
    ]
    assert user.context()["aws:PrincipalTag/team"] == "ops"
    custom = user.subject.identity_policies[2]
    assert custom.policy.document["Statement"][0]["Action"] == ["support:Describe*"]  # the default version
    assert all(named is custom for u in users for named in u.subject.identity_policies if named.name == "SupportCustom")
    ops = account.identity("Ops")
    boundary = ops.subject.permissions_boundary
    assert boundary.kind is PolicyKind.BOUNDARY and boundary.policy is custom.policy
    assert not any(identity.incomplete for identity in account.identities)

    levels = [[(named.name, named.target) for named in level] for level in account.scp_levels]
    assert levels == [
        [("FullAWSAccess", ids["root"])],
        [("FullAWSAccess", ids["ou"]), ("DenyPlans", ids["ou"])],
        [("FullAWSAccess", MANAGEMENT), ("DenyTrustedAdvisor", MANAGEMENT)],
    ]
    # The management account is exempt from its SCPs; as a member it would not be.
    assert evaluate(user.subject, "trustedadvisor:DescribeChecks").decision is Decision.ALLOWED
    member_view = load_account(folder, management_account=False)
    assert evaluate(member_view.identity("user000").subject, "trustedadvisor:DescribeChecks").decision is (
        Decision.EXPLICIT_DENY
    )


def test_fetch_without_organizations(tmp_path: Path) -> None:
    create_identities(boto3.client("iam"))
    folder = fetch_snapshot(tmp_path / "snapshot")
    assert not (folder / "scps.json").exists()
    info = json.loads((folder / "account.json").read_text())
    assert info["management_account"] is False
    assert info["notes"] == ["the account is in no organization: no SCPs apply"]
    account = load_account(folder)
    assert account.scp_levels == ()
    assert [i.name for i in account.identities] == ["root", "user000", "user001", "Ops"]
    assert "account.json: the account is in no organization: no SCPs apply" in account.warnings


def test_fetch_member_account_that_may_not_walk_the_organization(tmp_path: Path) -> None:
    org = boto3.client("organizations")
    org.create_organization(FeatureSet="ALL")
    member = org.create_account(Email="member@example.com", AccountName="member")["CreateAccountStatus"]["AccountId"]
    credentials = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole", RoleSessionName="fetch"
    )["Credentials"]
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"], region_name="us-east-1",
    )
    session.client("iam").create_user(UserName="bob")

    folder = fetch_snapshot(tmp_path / "snapshot", session=session)

    info = json.loads((folder / "account.json").read_text())
    assert info["account_id"] == member
    assert info["management_account"] is False
    assert not (folder / "scps.json").exists()
    assert len(info["notes"]) == 1 and info["notes"][0].startswith("SCPs not fetched: organizations:ListParents")
    account = load_account(folder)
    assert account.identity("bob").arn == f"arn:aws:iam::{member}:user/bob"
    assert any("SCPs not fetched" in warning for warning in account.warnings)


class RefusingSession:
    """A boto3 session (moto behind it) in which one service refuses one operation with an error code."""

    def __init__(self, service: str, operation: str, code: str) -> None:
        self.session = boto3.Session(region_name="us-east-1")
        self.region_name = "us-east-1"
        self.refusal = (service, operation, code)

    def client(self, service: str, **kwargs: Any) -> Any:
        client = self.session.client(service, **kwargs)
        refused, operation, code = self.refusal
        if service == refused:
            stubber = Stubber(client)
            stubber.add_client_error(operation, service_error_code=code)
            stubber.activate()
        return client


def test_organizations_access_denied_leaves_a_note(tmp_path: Path) -> None:
    create_identities(boto3.client("iam"))
    folder = fetch_snapshot(tmp_path / "snapshot", session=RefusingSession(
        "organizations", "describe_organization", "AccessDeniedException"))
    info = json.loads((folder / "account.json").read_text())
    assert "management_account" not in info
    assert info["notes"] == [
        "organizations:DescribeOrganization failed (AccessDeniedException): whether SCPs apply is unknown, "
        "and none are taken into account"
    ]
    assert not (folder / "scps.json").exists()


def test_fetch_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "scps.json").write_text("{}")
    with pytest.raises(FetchError, match="not an empty folder"):
        fetch_snapshot(tmp_path)


def test_iam_refusal_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"cannot read the account's IAM data.*AccessDenied"):
        fetch_snapshot(tmp_path / "snapshot", session=RefusingSession(
            "iam", "get_account_authorization_details", "AccessDenied"))
    assert not (tmp_path / "snapshot").exists()


def test_missing_boto3_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(FetchError, match=r"pip install 'supportkit\[aws\]'"):
        fetch_snapshot(tmp_path / "snapshot")


def test_cli_fetch_writes_a_folder_that_matrix_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from supportkit.cli.main import main

    create_identities(boto3.client("iam"))
    out = tmp_path / "snapshot"
    assert main(["fetch", "-o", str(out), "--region", "us-east-1"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert main(["matrix", str(out), "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    user000_create = [r for r in rows if r["identity_name"] == "user000" and r["action"] == "support:CreateCase"]
    assert [r["decision"] for r in user000_create] == ["allowed"]
    assert main(["fetch", "-o", str(out)]) == 2  # an existing, non-empty folder is refused
    assert "Traceback" not in capsys.readouterr().err


def test_an_unknown_profile_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from supportkit.cli.main import main

    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    assert main(["fetch", "-o", str(tmp_path / "out"), "--profile", "no-such-profile"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-profile" in err and "Traceback" not in err, err


def test_throttled_calls_are_retried_with_botocores_standard_mode(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # "Retries", Boto3 guide (https://docs.aws.amazon.com/boto3/latest/guide/retries.html): standard mode
    # retries ThrottlingException ("Throttling" errors) with backoff, up to max attempts.
    from botocore.awsrequest import AWSResponse

    from supportkit.snapshot.fetch import MAX_ATTEMPTS

    create_identities(boto3.client("iam"))
    throttled = {"left": MAX_ATTEMPTS - 1, "calls": 0}

    class Raw:
        def stream(self, **kwargs: Any) -> Iterator[bytes]:
            yield b""

    def throttle(request: Any, **kwargs: Any) -> Any:
        throttled["calls"] += 1
        if throttled["left"] == 0:
            return None  # moto answers
        throttled["left"] -= 1
        body = (b'<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded'
                b'</Message></Error><RequestId>1</RequestId></ErrorResponse>')
        response = AWSResponse(request.url, 400, {"Content-Type": "text/xml"}, Raw())
        response._content = body
        return response

    session = boto3.Session(region_name="us-east-1")
    session.events.register_first("before-send.iam.GetAccountAuthorizationDetails", throttle)
    import botocore.endpoint

    monkeypatch.setattr(botocore.endpoint.time, "sleep", lambda seconds: None)  # the backoff, not waited for
    folder = fetch_snapshot(tmp_path / "snapshot", session=session)
    assert throttled == {"left": 0, "calls": MAX_ATTEMPTS}
    assert load_account(folder).identity("user/user000")

    throttled.update(left=MAX_ATTEMPTS, calls=0)  # one throttle more than the attempts: a clear error
    with pytest.raises(FetchError, match="Throttling"):
        fetch_snapshot(tmp_path / "again", session=session)
