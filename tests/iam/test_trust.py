"""Role trust policies: who a trust policy admits and whether a caller can assume the role.

Expected outcomes are AWS's documented rules:
- STS API Reference, AssumeRole (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html):
  "To allow a user to assume a role in the same account, you can do either of the following: Attach a
  policy to the user that allows the user to call AssumeRole (as long as the role's trust policy trusts
  the account). Add the user as a principal directly in the role's trust policy." and "You cannot use
  AWS account root user credentials to call AssumeRole."
- How AWS enforcement code logic evaluates requests to allow or deny access
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html):
  "IAM role trust policies and KMS key policies are exceptions to this logic, because they must
  explicitly allow access for principals." and "Resource-based policies that grant permissions to an IAM
  role ARN are limited by an implicit deny in a permissions boundary or session policy."
- Update a role trust policy (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-role-trust-policy.html):
  "If a permissions boundary is set for the user, then it must allow the sts:AssumeRole action."
- Cross-account policy evaluation logic
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html):
  "The request is allowed only if both evaluations return a decision of Allow."
- AWS JSON policy elements: Principal
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html): service,
  SAML (``Federated: arn:aws:iam::ACCOUNT:saml-provider/NAME``) and OIDC principals.
"""

import pytest

from supportkit.errors import PolicyError
from supportkit.iam.context import RequestContext
from supportkit.iam.evaluate import (
    Decision,
    NamedPolicy,
    PolicyKind,
    Principal,
    Subject,
)
from supportkit.iam.policy import parse_policy
from supportkit.iam.trust import (
    ASSUME_ROLE,
    ASSUME_ROLE_WITH_SAML,
    ASSUME_ROLE_WITH_WEB_IDENTITY,
    BOUNDARY_CAVEAT,
    Caller,
    CallerKind,
    account_entry,
    can_assume,
    match_trust,
    trust_policy,
)

ACCOUNT = "111122223333"
OTHER = "444455556666"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/SupportRole"
ALICE = Principal.parse(f"arn:aws:iam::{ACCOUNT}:user/alice")
BOB = Principal.parse(f"arn:aws:iam::{ACCOUNT}:user/bob")
OPS = Principal.parse(f"arn:aws:iam::{ACCOUNT}:role/Ops")
ROOT = Principal.parse(f"arn:aws:iam::{ACCOUNT}:root")


def trust(principal, action=ASSUME_ROLE, condition=None, effect="Allow"):
    statement = {"Effect": effect, "Principal": principal, "Action": action}
    if condition:
        statement["Condition"] = condition
    return trust_policy("trust", parse_policy({"Version": "2012-10-17", "Statement": [statement]},
                                              resource_policy=True))


def policy(kind, *statements):
    return NamedPolicy(kind.value, kind, parse_policy({"Version": "2012-10-17", "Statement": list(statements)}))


ALLOW_ASSUME = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE_ARN}
ALLOW_SUPPORT_ONLY = {"Effect": "Allow", "Action": "support:*", "Resource": "*"}


def subject(principal, *identity, boundary=None, scps=()):
    return Subject(
        principal, tuple(policy(PolicyKind.IDENTITY, s) for s in identity),
        policy(PolicyKind.BOUNDARY, boundary) if boundary else None,
        scp_levels=tuple((NamedPolicy(f"scp{i}", PolicyKind.SCP, parse_policy(d), i),) for i, d in enumerate(scps)),
    )


def decision(caller, trusted, context=None):
    return can_assume(caller, trusted, ROLE_ARN, context=RequestContext.of(context or {})).result.decision


def test_trust_naming_the_user_needs_no_identity_permission():
    assert decision(subject(ALICE), trust({"AWS": ALICE.arn})) is Decision.ALLOWED
    assert decision(subject(BOB), trust({"AWS": ALICE.arn})) is Decision.IMPLICIT_DENY


def test_trust_naming_a_role_admits_its_sessions_without_identity_permission():
    assert decision(subject(OPS), trust({"AWS": OPS.arn})) is Decision.ALLOWED


def test_trust_naming_the_account_needs_sts_assume_role_in_the_callers_policies():
    trusted = trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    assert decision(subject(ALICE, ALLOW_ASSUME), trusted) is Decision.ALLOWED
    result = can_assume(subject(ALICE, ALLOW_SUPPORT_ONLY), trusted, ROLE_ARN).result
    assert result.decision is Decision.IMPLICIT_DENY
    assert result.blocked_by == "identity-based policy"
    # The shortened account id behaves the same way (Principal element page).
    assert decision(subject(ALICE, ALLOW_ASSUME), trust({"AWS": ACCOUNT})) is Decision.ALLOWED


def test_identity_permission_alone_is_not_enough_when_the_trust_policy_does_not_allow():
    result = can_assume(subject(ALICE, ALLOW_ASSUME), trust({"AWS": BOB.arn}), ROLE_ARN).result
    assert result.decision is Decision.IMPLICIT_DENY
    assert result.blocked_by == "role trust policy"


def test_another_account_needs_both_the_trust_and_its_own_policies():
    caller = Principal.parse(f"arn:aws:iam::{OTHER}:user/carol")
    trusted = trust({"AWS": f"arn:aws:iam::{OTHER}:root"})
    assert decision(subject(caller, ALLOW_ASSUME), trusted) is Decision.ALLOWED
    assert decision(subject(caller), trusted) is Decision.IMPLICIT_DENY
    # Even naming the exact user ARN, a cross-account caller needs its own Allow.
    assert decision(subject(caller), trust({"AWS": caller.arn})) is Decision.IMPLICIT_DENY
    assert decision(subject(caller, ALLOW_ASSUME), trust({"AWS": caller.arn})) is Decision.ALLOWED


def test_root_user_cannot_assume_roles():
    assert decision(subject(ROOT), trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})) is Decision.IMPLICIT_DENY


def test_boundary_that_blocks_assume_role_blocks_a_role_named_directly():
    trusted = trust({"AWS": OPS.arn})
    result = can_assume(subject(OPS, boundary=ALLOW_SUPPORT_ONLY), trusted, ROLE_ARN).result
    assert result.decision is Decision.IMPLICIT_DENY
    assert result.blocked_by == "permissions boundary"


def test_boundary_of_a_user_named_directly_applies_under_the_stricter_reading():
    trusted = trust({"AWS": ALICE.arn})
    assert decision(subject(ALICE, boundary=ALLOW_SUPPORT_ONLY), trusted) is Decision.IMPLICIT_DENY
    allowed = can_assume(subject(ALICE, boundary=ALLOW_ASSUME), trusted, ROLE_ARN)
    assert allowed.allowed and allowed.caveats == (BOUNDARY_CAVEAT,)
    assert can_assume(subject(ALICE), trusted, ROLE_ARN).caveats == ()


def test_boundary_that_blocks_assume_role_blocks_an_account_trust():
    trusted = trust({"AWS": ACCOUNT})
    assert decision(subject(ALICE, ALLOW_ASSUME, boundary=ALLOW_SUPPORT_ONLY), trusted) is Decision.IMPLICIT_DENY


def test_explicit_deny_and_scps_still_apply_to_a_direct_grant():
    trusted = trust({"AWS": ALICE.arn})
    denied = {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}
    assert decision(subject(ALICE, denied), trusted) is Decision.EXPLICIT_DENY
    scps = [{"Version": "2012-10-17", "Statement": [ALLOW_SUPPORT_ONLY]}]
    assert decision(subject(ALICE, scps=scps), trusted) is Decision.IMPLICIT_DENY
    deny_in_trust = trust({"AWS": ALICE.arn}, effect="Deny")
    assert decision(subject(ALICE, ALLOW_ASSUME), deny_in_trust) is Decision.EXPLICIT_DENY


def test_mfa_condition_on_the_trust_policy():
    # Configuring MFA-protected API access
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_configure-api-require.html).
    trusted = trust({"AWS": ACCOUNT}, condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})
    caller = subject(ALICE, ALLOW_ASSUME)
    assert decision(caller, trusted) is Decision.IMPLICIT_DENY
    assert decision(caller, trusted, {"aws:MultiFactorAuthPresent": "true"}) is Decision.ALLOWED
    assert can_assume(caller, trusted, ROLE_ARN).result.conditional


def test_source_ip_condition_on_the_permission():
    trusted = trust({"AWS": ACCOUNT})
    caller = subject(ALICE, {**ALLOW_ASSUME, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}})
    assert decision(caller, trusted, {"aws:SourceIp": "10.1.2.3"}) is Decision.ALLOWED
    assert decision(caller, trusted, {"aws:SourceIp": "192.0.2.1"}) is Decision.IMPLICIT_DENY


@pytest.mark.parametrize("principal, kind, name, action", [
    ({"Service": "lambda.amazonaws.com"}, CallerKind.SERVICE, "lambda.amazonaws.com", ASSUME_ROLE),
    ({"Federated": f"arn:aws:iam::{ACCOUNT}:saml-provider/Okta"}, CallerKind.FEDERATED,
     f"arn:aws:iam::{ACCOUNT}:saml-provider/Okta", ASSUME_ROLE_WITH_SAML),
    ({"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"}, CallerKind.FEDERATED,
     f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com", ASSUME_ROLE_WITH_WEB_IDENTITY),
])
def test_service_saml_and_oidc_principals(principal, kind, name, action):
    trusted = trust(principal, action)
    assert match_trust(trusted.policy, Caller(kind, name), action, ROLE_ARN).match.allows
    assert not match_trust(trusted.policy, Caller(kind, "someone-else"), action, ROLE_ARN).match.allows
    assert not match_trust(trusted.policy, Caller.of(ALICE), action, ROLE_ARN).match.allows


ARABIC_INDIC_ONES = "\u0661" * 12  # digits to a str regex's \d, but no account id


@pytest.mark.parametrize("entry, account", [
    (ACCOUNT, ACCOUNT), (f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT), (f"arn:aws-cn:iam::{ACCOUNT}:root", ACCOUNT),
    (ALICE.arn, None), (ACCOUNT[:-1], None), (f"{ACCOUNT}\n", None),
    (ARABIC_INDIC_ONES, None), (f"arn:aws:iam::{ARABIC_INDIC_ONES}:root", None),
])
def test_an_account_entry_is_its_twelve_digit_id_or_its_root_arn(entry, account):
    # AWS JSON policy elements: Principal, AWS account principals
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-accounts):
    # an account is named by its 12-digit account ID or by arn:aws:iam::account-ID:root, which "behave the
    # same way"; account ids are ASCII digits, so digits of other scripts name no account.
    assert account_entry(entry) == account


def test_an_account_id_written_in_other_digits_admits_nobody():
    assert decision(subject(ALICE, ALLOW_ASSUME), trust({"AWS": ARABIC_INDIC_ONES})) is Decision.IMPLICIT_DENY


def test_unique_id_of_a_deleted_principal_matches_nobody():
    assert decision(subject(ALICE), trust({"AWS": "AIDAJQABLZS4A3QDU576Q"})) is Decision.IMPLICIT_DENY


def test_not_principal_admits_everyone_not_listed():
    trusted = trust_policy("trust", parse_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "NotPrincipal": {"AWS": BOB.arn}, "Action": ASSUME_ROLE}]}, resource_policy=True))
    assert decision(subject(ALICE), trusted) is Decision.ALLOWED
    assert decision(subject(BOB), trusted) is Decision.IMPLICIT_DENY


def test_trust_statement_without_principal_is_an_error():
    with pytest.raises(PolicyError, match=r"Statement\[0\].*Principal"):
        parse_policy({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ASSUME_ROLE}]},
                     resource_policy=True)
    with pytest.raises(PolicyError, match="unknown principal type"):
        parse_policy({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Aws": ACCOUNT}, "Action": ASSUME_ROLE}]}, resource_policy=True)


def test_the_callers_rcps_do_not_guard_a_role_of_another_account():
    # Resource control policies (RCPs), AWS Organizations User Guide
    # (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html): "RCPs offer
    # central control over the maximum available permissions for resources in your organization"; they guard
    # the resources (here: the role) of the accounts they are attached to.
    no_assume = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*"}]}
    rcp = (NamedPolicy("NoRolesHere", PolicyKind.RCP, parse_policy(no_assume), 0),)
    own = Subject(ALICE, (policy(PolicyKind.IDENTITY, ALLOW_ASSUME),), rcp_levels=(rcp,))
    assert decision(own, trust({"AWS": ACCOUNT})) is Decision.EXPLICIT_DENY  # the role is in alice's account
    carol = Principal.parse(f"arn:aws:iam::{OTHER}:user/carol")
    other = Subject(carol, (policy(PolicyKind.IDENTITY, ALLOW_ASSUME),), rcp_levels=(rcp,))
    assert decision(other, trust({"AWS": OTHER})) is Decision.ALLOWED  # carol's RCPs guard her account only
