"""The evaluation logic, case by case, with the decisions AWS's documentation states."""

import pytest

from supportkit.iam.context import RequestContext
from supportkit.errors import SupportkitError
from supportkit.iam.evaluate import (
    Blocker, Decision, NamedPolicy, PolicyKind, Principal, PrincipalType, Subject, evaluate,
)
from supportkit.iam.policy import parse_policy

ACCOUNT = "111122223333"
ALICE = Principal.parse(f"arn:aws:iam::{ACCOUNT}:user/alice")
ROOT = Principal.parse(f"arn:aws:iam::{ACCOUNT}:root")
ROLE = Principal.parse(f"arn:aws:iam::{ACCOUNT}:role/SupportRole")


def doc(*statements, version="2012-10-17"):
    return {"Version": version, "Statement": list(statements)}


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def named(document, name="p", kind=PolicyKind.IDENTITY, level=None, target=None):
    return NamedPolicy(name, kind, parse_policy(document), level, target)


def subject(*identity, principal=ALICE, boundary=None, session=None, scps=(), management=False):
    return Subject(
        principal,
        tuple(named(d, f"identity{i}") for i, d in enumerate(identity)),
        named(boundary, "boundary", PolicyKind.BOUNDARY) if boundary else None,
        named(session, "session", PolicyKind.SESSION) if session else None,
        tuple(
            tuple(named(d, f"scp{level}.{i}", PolicyKind.SCP, level, f"target{level}") for i, d in enumerate(docs))
            for level, docs in enumerate(scps)
        ),
        management,
    )


# "Manage access to AWS Support Center", example: allow access to all AWS Support actions.
SUPPORT_ALL = doc(allow("support:*"))
# Same page, example: allow access to all actions except the ResolveCase action.
SUPPORT_ALL_BUT_RESOLVE = doc(allow("support:*"), deny(["support:ResolveCase"]))
FULL_AWS_ACCESS = doc(allow("*"))


def test_support_center_example_all_support_actions():
    s = subject(SUPPORT_ALL)
    for action in ("support:CreateCase", "support:ResolveCase", "support:DescribeCases"):
        assert evaluate(s, action).decision is Decision.ALLOWED
    assert evaluate(s, "support-console:GetCaseDraft").decision is Decision.IMPLICIT_DENY
    assert evaluate(s, "iam:CreateUser").decision is Decision.IMPLICIT_DENY


def test_support_center_example_all_but_resolve_case():
    s = subject(SUPPORT_ALL_BUT_RESOLVE)
    assert evaluate(s, "support:CreateCase").decision is Decision.ALLOWED
    result = evaluate(s, "support:ResolveCase")
    assert result.decision is Decision.EXPLICIT_DENY
    (ref,) = result.deciding
    assert (ref.policy, ref.index, ref.kind) == ("identity0", 1, PolicyKind.IDENTITY)
    assert "explicitly denied" in result.summary


def test_no_applicable_statement_is_an_implicit_deny_by_the_identity_layer():
    result = evaluate(subject(), "support:CreateCase")
    assert result.decision is Decision.IMPLICIT_DENY
    assert result.blocked_by == "identity-based policy"
    assert result.deciding == ()


def test_explicit_deny_in_any_policy_wins_over_allow_in_another():
    s = subject(SUPPORT_ALL, doc(deny("support:Describe*")))
    assert evaluate(s, "support:DescribeCases").decision is Decision.EXPLICIT_DENY
    assert evaluate(s, "support:CreateCase").decision is Decision.ALLOWED


def test_permissions_boundary_shirley_example():
    # IAM User Guide, permissions boundaries: boundary allows s3, cloudwatch, ec2; the identity policy allows
    # iam:CreateUser; "If ... Shirley tries to create a user, the operation fails".
    boundary = doc(allow(["s3:*", "cloudwatch:*", "ec2:*"]))
    s = subject(doc(allow("iam:CreateUser")), boundary=boundary)
    result = evaluate(s, "iam:CreateUser")
    assert result.decision is Decision.IMPLICIT_DENY
    assert result.blocked_by == "permissions boundary"
    # A boundary grants nothing on its own.
    assert evaluate(subject(boundary=boundary), "s3:GetObject").decision is Decision.IMPLICIT_DENY
    assert evaluate(subject(doc(allow("s3:*")), boundary=boundary), "s3:GetObject").decision is Decision.ALLOWED


def test_explicit_deny_in_boundary_wins():
    s = subject(SUPPORT_ALL, boundary=doc(allow("*"), deny("support:ResolveCase")))
    result = evaluate(s, "support:ResolveCase")
    assert result.decision is Decision.EXPLICIT_DENY
    assert result.deciding[0].kind is PolicyKind.BOUNDARY


def test_session_policy_limits_a_role_session():
    # IAM User Guide, session policies: permissions are the intersection of the identity policy and the session policy.
    s = subject(SUPPORT_ALL, principal=ROLE, session=doc(allow("support:Describe*")))
    assert evaluate(s, "support:DescribeCases").decision is Decision.ALLOWED
    result = evaluate(s, "support:CreateCase")
    assert result.decision is Decision.IMPLICIT_DENY
    assert result.blocked_by == "session policy"


def test_session_policy_limits_session_principals_only():
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html
    # "Session policies – The enforcement code checks whether the principal is a session principal. Session
    # principals include an IAM role session or an AWS STS federated user session. If the principal is not a
    # session principal, the enforcement code returns a final decision of Allow."
    session_policy = doc(allow("support:Describe*"), deny("support:CreateCase"))
    user = subject(SUPPORT_ALL, session=session_policy)
    assert evaluate(user, "support:ResolveCase").decision is Decision.ALLOWED
    assert evaluate(user, "support:CreateCase").decision is Decision.ALLOWED
    role = subject(SUPPORT_ALL, principal=ROLE, session=session_policy)
    assert evaluate(role, "support:ResolveCase").blocked_by == "session policy"
    assert evaluate(role, "support:CreateCase").decision is Decision.EXPLICIT_DENY


# AWS Organizations, SCP evaluation: every level from the root to the account must allow.
S3_ONLY = doc(allow("s3:*"))


def test_every_scp_level_must_allow():
    s = subject(FULL_AWS_ACCESS, scps=[[FULL_AWS_ACCESS], [S3_ONLY], [FULL_AWS_ACCESS]])
    result = evaluate(s, "support:CreateCase")
    assert result.decision is Decision.IMPLICIT_DENY
    assert result.blocked_by == "SCP level 1 (target1)"
    assert result.blocker == Blocker(PolicyKind.SCP, 1, "target1")  # a code: the words come from it
    assert evaluate(s, "s3:GetObject").decision is Decision.ALLOWED


def test_scp_allow_does_not_grant_without_identity_allow():
    s = subject(scps=[[FULL_AWS_ACCESS]])
    assert evaluate(s, "support:CreateCase").decision is Decision.IMPLICIT_DENY


def test_scps_do_not_apply_in_the_management_account():
    s = subject(SUPPORT_ALL, scps=[[FULL_AWS_ACCESS], [doc(deny("support:*"))]], management=True)
    assert evaluate(s, "support:CreateCase").decision is Decision.ALLOWED


def test_scp_deny_applies_to_root_in_a_member_account_only():
    scps = [[FULL_AWS_ACCESS], [FULL_AWS_ACCESS, doc(deny("support:ResolveCase"))]]
    member_root = subject(principal=ROOT, scps=scps)
    result = evaluate(member_root, "support:ResolveCase")
    assert result.decision is Decision.EXPLICIT_DENY
    assert (result.deciding[0].kind, result.deciding[0].level) == (PolicyKind.SCP, 1)
    assert evaluate(member_root, "support:CreateCase").decision is Decision.ALLOWED
    management_root = subject(principal=ROOT, scps=scps, management=True)
    assert evaluate(management_root, "support:ResolveCase").decision is Decision.ALLOWED


def test_root_user_is_not_governed_by_identity_policies_or_boundaries():
    s = subject(doc(deny("*")), principal=ROOT, boundary=doc(allow("s3:*")))
    result = evaluate(s, "supportplans:StartSupportPlanUpdate")
    assert result.decision is Decision.ALLOWED
    assert "root user" in result.summary
    assert evaluate(subject(principal=ROOT, scps=[[S3_ONLY]]), "support:CreateCase").blocked_by == "SCP level 0 (target0)"


def test_service_linked_roles_are_exempt_from_scps():
    slr = Principal.parse(f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport")
    assert slr.service_linked
    s = subject(SUPPORT_ALL, principal=slr, scps=[[doc(deny("*"))]])
    assert evaluate(s, "support:DescribeCases").decision is Decision.ALLOWED
    ordinary = subject(SUPPORT_ALL, principal=ROLE, scps=[[doc(deny("*"))]])
    assert evaluate(ordinary, "support:DescribeCases").decision is Decision.EXPLICIT_DENY


def test_not_action_with_allow_grants_everything_else():
    # IAM User Guide, NotAction: "Allow ... NotAction iam:*" allows every action except IAM's.
    s = subject(doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}))
    assert evaluate(s, "support:CreateCase").decision is Decision.ALLOWED
    assert evaluate(s, "iam:CreateUser").decision is Decision.IMPLICIT_DENY


def test_deny_not_action_unless_mfa_example():
    # IAM User Guide, NotAction: deny everything but IAM when the user did not sign in with MFA (BoolIfExists).
    mfa_guard = doc(
        allow("*"),
        {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*",
         "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}},
    )
    s = subject(mfa_guard)
    without = evaluate(s, "support:CreateCase")
    assert without.decision is Decision.EXPLICIT_DENY
    assert without.conditional
    assert "aws:multifactorauthpresent" in without.context_keys
    with_mfa = evaluate(s, "support:CreateCase", context=RequestContext.of({"aws:MultiFactorAuthPresent": True}))
    assert with_mfa.decision is Decision.ALLOWED
    assert evaluate(s, "iam:ListUsers").decision is Decision.ALLOWED


def test_resource_arn_on_a_support_action_never_grants_nor_denies():
    grants = subject(doc(allow("support:*", "arn:aws:support::111122223333:case/*")))
    assert evaluate(grants, "support:DescribeCases").decision is Decision.IMPLICIT_DENY
    denies = subject(SUPPORT_ALL, doc(deny("support:ResolveCase", "arn:aws:support:::*")))
    assert evaluate(denies, "support:ResolveCase").decision is Decision.ALLOWED


def test_not_resource_matches_the_star_request():
    s = subject(doc({"Effect": "Allow", "Action": "support:*", "NotResource": "arn:aws:s3:::*"}))
    assert evaluate(s, "support:CreateCase").decision is Decision.ALLOWED


def test_trusted_advisor_check_arns_and_a_policy_variable_in_resource():
    # AWS documents variables after the fifth colon only; supportkit still replaces this one, with a warning.
    own_checks = "arn:aws:trustedadvisor:*:${aws:PrincipalAccount}:checks/security/*"
    s = subject(doc(allow("trustedadvisor:RefreshCheck", own_checks)))
    own = f"arn:aws:trustedadvisor:us-east-1:{ACCOUNT}:checks/security/Pfx0RwqBli"
    other = f"arn:aws:trustedadvisor:us-east-1:{ACCOUNT}:checks/cost_optimizing/Qch7DwouX1"
    foreign = "arn:aws:trustedadvisor:us-east-1:444455556666:checks/security/Pfx0RwqBli"
    assert evaluate(s, "trustedadvisor:RefreshCheck", own).decision is Decision.ALLOWED
    assert evaluate(s, "trustedadvisor:RefreshCheck", other).decision is Decision.IMPLICIT_DENY
    assert evaluate(s, "trustedadvisor:RefreshCheck", foreign).decision is Decision.IMPLICIT_DENY
    result = evaluate(s, "trustedadvisor:RefreshCheck", own)
    # The variable reads a key fixed by the principal: consulted, but no other request could change it.
    assert "aws:principalaccount" in result.context_keys and not result.conditional


def test_unresolvable_policy_variable_makes_the_resource_not_match():
    s = subject(doc(allow("trustedadvisor:RefreshCheck", "arn:aws:trustedadvisor:*:*:checks/${aws:PrincipalTag/team}/*")))
    check = f"arn:aws:trustedadvisor:us-east-1:{ACCOUNT}:checks/security/x"
    assert evaluate(s, "trustedadvisor:RefreshCheck", check).decision is Decision.IMPLICIT_DENY
    tagged = RequestContext.of({"aws:PrincipalTag/team": "security"})
    assert evaluate(s, "trustedadvisor:RefreshCheck", check, tagged).decision is Decision.ALLOWED
    defaulted = subject(
        doc(allow("trustedadvisor:RefreshCheck", "arn:aws:trustedadvisor:*:*:checks/${aws:PrincipalTag/team, 'security'}/*"))
    )
    assert evaluate(defaulted, "trustedadvisor:RefreshCheck", check).decision is Decision.ALLOWED


def test_keys_derived_from_the_principal_are_filled_and_explicit_context_wins():
    only_alice = doc(allow("support:*", Condition={"StringEquals": {"aws:username": "alice"}}))
    assert evaluate(subject(only_alice), "support:CreateCase").decision is Decision.ALLOWED
    bob = Principal.parse(f"arn:aws:iam::{ACCOUNT}:user/bob")
    assert evaluate(subject(only_alice, principal=bob), "support:CreateCase").decision is Decision.IMPLICIT_DENY
    spoofed = RequestContext.of({"aws:username": "alice"})
    assert evaluate(subject(only_alice, principal=bob), "support:CreateCase", context=spoofed).decision is Decision.ALLOWED


def test_role_sessions_see_the_role_arn_as_principal_arn():
    session = Principal.parse(f"arn:aws:sts::{ACCOUNT}:assumed-role/SupportRole/alice-session")
    assert session.type is PrincipalType.ASSUMED_ROLE
    assert session.principal_arn == f"arn:aws:iam::{ACCOUNT}:role/SupportRole"
    policy = doc(allow("support:*", Condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/Support*"}}))
    assert evaluate(subject(policy, principal=session), "support:CreateCase").decision is Decision.ALLOWED
    assert evaluate(subject(policy, principal=ROLE), "support:CreateCase").decision is Decision.ALLOWED


def test_allowed_explanation_names_the_granting_statement():
    s = subject(doc({"Sid": "Grant", **allow("support:CreateCase")}))
    result = evaluate(s, "support:CreateCase")
    (ref,) = result.deciding
    assert (ref.sid, ref.index) == ("Grant", 0)
    assert "identity policy 'identity0' Statement[0] (Sid Grant)" in result.summary
    assert not result.conditional


@pytest.mark.parametrize(
    "arn",
    ["arn:aws:iam::12345:user/x", "arn:aws:s3:::bucket", "arn:aws:iam::111122223333:group/g",
     "arn:aws:sts::111122223333:assumed-role/OnlyRole", "arn:aws:iam::111122223333:user/", 42],
)
def test_bad_principals_raise_a_typed_error(arn):
    with pytest.raises(SupportkitError):
        Principal.parse(arn)


def test_principal_is_aws_service_is_false_for_users_roles_and_root():
    # IAM User Guide, global condition keys, aws:PrincipalIsAWSService: "This key is present in the request
    # context for all signed API requests that use AWS credentials" and is true only for service principals.
    not_a_service = doc(allow("support:*", Condition={"Bool": {"aws:PrincipalIsAWSService": "false"}}))
    for principal in (ALICE, ROLE, ROOT):
        assert evaluate(subject(not_a_service, principal=principal), "support:CreateCase").decision is Decision.ALLOWED
    result = evaluate(subject(not_a_service), "support:CreateCase")
    assert not result.conditional  # a key of the principal: the same in every request


def test_scp_levels_given_as_lists_are_evaluated_as_tuples_are():
    # Subject is public API: a caller building one by hand may pass its SCP levels as lists of policies.
    from supportkit.iam.evaluate import Decision, NamedPolicy, PolicyKind, Principal, Subject, evaluate
    from supportkit.iam.policy import parse_policy

    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "support:*", "Resource": "*"}]}
    identity = NamedPolicy("p", PolicyKind.IDENTITY, parse_policy(allow))
    scp = NamedPolicy("FullAWSAccess", PolicyKind.SCP, parse_policy(allow), 0)
    alice = Principal.parse("arn:aws:iam::111122223333:user/alice")
    as_lists = Subject(alice, (identity,), scp_levels=[[scp]])  # type: ignore[arg-type]
    as_tuples = Subject(alice, (identity,), scp_levels=((scp,),))
    # the identity policy and the one SCP level both allow: allowed (IAM User Guide, policy evaluation logic)
    assert evaluate(as_lists, "support:CreateCase").decision is Decision.ALLOWED
    assert evaluate(as_tuples, "support:CreateCase").decision is Decision.ALLOWED
