"""who-can's shared answers against the plain evaluation of each principal, on random small accounts.

who-can decides principals whose requests reduce alike once (``_Evaluator.first`` on reduced requests, the
assumers of a role grouped in ``_Assumers``). The reference here is the same search with every principal
decided on its own by the engine (:func:`supportkit.iam.evaluate.evaluate`,
:func:`supportkit.iam.trust.can_assume`), each enumeration its own: the paths must be the same, in the same
order, with the same conditions.
"""

from __future__ import annotations

import json
import os
from unittest import mock

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from policy_strategies import statements


from supportkit.analysis import paths as paths_module
from supportkit.analysis.paths import who_can
from supportkit.snapshot import load_account

ACCT = "111122223333"
_ACTIONS = ["support:*", "support:ResolveCase", "support:Describe*", "sts:AssumeRole", "sts:TagSession", "*",
            "iam:PutUserPolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy", "s3:GetObject"]
_RESOURCES = ["*", "*", "*", f"arn:aws:iam::{ACCT}:role/app/*", f"arn:aws:iam::{ACCT}:role/Ops",
              f"arn:aws:iam::{ACCT}:user/${{aws:username}}", f"arn:aws:iam::{ACCT}:*"]
_TAG_AND_MFA = {"StringEquals": {"aws:PrincipalTag/team": "support"}, "Bool": {"aws:MultiFactorAuthPresent": "true"}}
_CONDITIONS = [
    None, None,
    {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
    {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
    {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "10.0.0.0/8"]}},
    {"NotIpAddress": {"aws:SourceIp": "10.1.0.0/16"}},
    {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},
    {"StringEquals": {"aws:PrincipalTag/team": "support"}},
    _TAG_AND_MFA, _TAG_AND_MFA,
    {"StringLike": {"aws:username": "a*"}},
    {"StringEquals": {"aws:RequestTag/project": "x"}},
]
_statements = statements(_ACTIONS, _RESOURCES, _CONDITIONS, effects=("Allow", "Allow", "Allow", "Deny"),
                         not_action=(False,) * 5 + (True,), unique_resources=False)
_SHARED = [  # what decides alike or not among principals: the principal's tag beside a request key
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "support:*", "Resource": "*",
                                             "Condition": _TAG_AND_MFA}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"],
                                             "Resource": "*"}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "support:*", "Resource": "*"}]},
]
_documents = st.lists(_statements, min_size=1, max_size=3).map(
    lambda statements: {"Version": "2012-10-17", "Statement": statements})
_TRUST_CONDITIONS = [None, None, {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                     {"StringEquals": {"aws:PrincipalTag/team": "support"}},
                     {"StringEquals": {"aws:PrincipalTag/team": "support"}},
                     {"StringEquals": {"aws:RequestTag/project": "x"}}, {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}]
_OTHER = "444455556666"
_TRUST_EXTRAS = [  # a trust's other statements: a Deny for the account, an Allow for another account
    None, None,
    {"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"}, "Action": "sts:AssumeRole",
     "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}},
    {"Effect": "Deny", "Principal": {"AWS": ACCT}, "Action": "sts:AssumeRole",
     "Condition": {"StringNotEquals": {"aws:PrincipalTag/team": "support"}}},
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{_OTHER}:root"}, "Action": "sts:AssumeRole",
     "Condition": {"StringEquals": {"sts:ExternalId": "x"}}},
]


_ORGANIZATION_CONDITIONS = [  # an SCP's or RCP's Deny: request keys, one that needs a session permission
    {"StringEquals": {"aws:RequestTag/x": "y"}}, {"ForAnyValue:StringEquals": {"aws:TagKeys": ["x"]}},
    {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}, {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"Bool": {"ec2:K0": "true"}}, {"StringEquals": {"sts:SourceIdentity": "me"}},
]


def _levels(statement: dict) -> dict:
    """One level of organization policies (the account's), FullAWSAccess beside ``statement``."""
    full = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    return {"levels": [{"target": ACCT, "policies": [
        {"Name": name, "Content": json.dumps({"Version": "2012-10-17", "Statement": [part]})}
        for name, part in (("FullAWSAccess", full), ("Guard", statement)) if part.get("Effect")]}]}


@st.composite
def _organization(draw) -> dict:
    """What the organization adds (scps.json, rcps.json, whether this is its management account, where SCPs and
    RCPs do not apply and yet their conditions are enumerated), or nothing."""
    found: dict = {}
    if draw(st.booleans()):
        found["scps"] = _levels({"Effect": "Deny", "Action": draw(st.sampled_from(["sts:AssumeRole", "support:*"])),
                                 "Resource": "*", "Condition": draw(st.sampled_from(_ORGANIZATION_CONDITIONS))})
    if draw(st.integers(0, 3)) == 0:
        found["rcps"] = _levels({"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*",
                                 "Condition": draw(st.sampled_from(_ORGANIZATION_CONDITIONS))})
    found["management_account"] = draw(st.booleans()) if found else False
    return found


def _snapshot(folder, details: dict, organization: dict):
    """The account loaded from ``details`` and what :func:`_organization` drew."""
    (folder / "authorization-details.json").write_text(json.dumps(details))
    (folder / "account.json").write_text(json.dumps(
        {"account_id": ACCT, "management_account": organization.get("management_account", False)}))
    for name in ("scps", "rcps"):
        if name in organization:
            (folder / f"{name}.json").write_text(json.dumps(organization[name]))
    return load_account(folder)


@st.composite
def _accounts(draw):
    """An authorization-details document (users, roles with trust policies, a boundary) and an analyst context."""
    documents = [*draw(st.lists(_documents, min_size=1, max_size=3)), *_SHARED]  # shared, as in real accounts
    users = [f"u{n}" for n in range(draw(st.integers(1, 5)))]
    roles = [f"r{n}" for n in range(draw(st.integers(1, 5)))]
    role_arns = [f"arn:aws:iam::{ACCT}:role/{'app/' if n % 2 else ''}{name}" for n, name in enumerate(roles)]
    boundary = f"arn:aws:iam::{ACCT}:policy/Boundary"

    def governed() -> dict:
        found = {"Tags": [{"Key": "team", "Value": draw(st.sampled_from(["support", "web"]))}]}
        if draw(st.integers(0, 3)) == 0:
            found["PermissionsBoundary"] = {"PermissionsBoundaryArn": boundary}
        return found

    def inline() -> list:
        return [{"PolicyName": f"p{k}", "PolicyDocument": draw(st.sampled_from(documents))}
                for k in range(draw(st.integers(0, 2)))]

    def trust() -> dict:
        principal = draw(st.sampled_from([
            {"AWS": f"arn:aws:iam::{ACCT}:root"}, {"AWS": ACCT}, {"AWS": f"arn:aws:iam::{ACCT}:root"},
            {"AWS": f"arn:aws:iam::{ACCT}:user/{draw(st.sampled_from(users))}"},
            {"AWS": draw(st.sampled_from(role_arns))}, {"Service": "lambda.amazonaws.com"},
            {"AWS": [f"arn:aws:iam::{ACCT}:root", f"arn:aws:iam::{ACCT}:user/{draw(st.sampled_from(users))}"]},
            "*"]))
        statement = {"Effect": "Allow", "Principal": principal,
                     "Action": draw(st.sampled_from(["sts:AssumeRole", ["sts:AssumeRole", "sts:TagSession"]]))}
        condition = draw(st.sampled_from(_TRUST_CONDITIONS))
        if condition:
            statement["Condition"] = condition
        extra = draw(st.sampled_from(_TRUST_EXTRAS))
        return {"Version": "2012-10-17", "Statement": [statement, *([extra] if extra else [])]}

    details = {
        "UserDetailList": [{"UserName": name, "UserId": f"AIDA{name.upper():0<17}", "Path": "/",
                            "Arn": f"arn:aws:iam::{ACCT}:user/{name}", "UserPolicyList": inline(),
                            "GroupList": [], "AttachedManagedPolicies": [], **governed()} for name in users],
        "RoleDetailList": [{"RoleName": name, "RoleId": f"AROA{name.upper():0<17}", "Path": arn.split("role")[1][:-len(name)],
                            "Arn": arn, "AssumeRolePolicyDocument": trust(), "RolePolicyList": inline(),
                            "AttachedManagedPolicies": [], **governed()} for name, arn in zip(roles, role_arns)],
        "GroupDetailList": [],
        "Policies": [{"PolicyName": "Boundary", "Arn": boundary, "DefaultVersionId": "v1", "PolicyVersionList": [
            {"VersionId": "v1", "IsDefaultVersion": True, "Document": draw(st.sampled_from(documents))}]}],
    }
    context = draw(st.sampled_from([None, None, {"aws:MultiFactorAuthPresent": "true"},
                                    {"aws:RequestTag/project": "x"}]))
    actions = draw(st.sampled_from([["support:ResolveCase"], ["support:DescribeCases", "support:ResolveCase"]]))
    return details, context, actions


def _user(name: str, team: str, document: dict) -> dict:
    return {"UserName": name, "UserId": f"AIDA{name.upper():0<17}", "Path": "/", "Arn": f"arn:aws:iam::{ACCT}:user/{name}",
            "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": document}], "GroupList": [],
            "AttachedManagedPolicies": [], "Tags": [{"Key": "team", "Value": team}]}


# Principals alike but for a tag that a condition reads beside a request key: in their own policy, in a trust.
_TAGGED_PERMISSION = ({"UserDetailList": [_user("a", "web", _SHARED[0]), _user("b", "support", _SHARED[0])],
                       "RoleDetailList": [], "GroupDetailList": [], "Policies": []}, None, ["support:ResolveCase"])
_TAGGED_TRUST = ({"UserDetailList": [_user("a", "web", _SHARED[1]), _user("b", "support", _SHARED[1])],
                  "RoleDetailList": [{
                      "RoleName": "r", "RoleId": "AROAR0000000000000", "Path": "/", "Arn": f"arn:aws:iam::{ACCT}:role/r",
                      "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                          {"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "sts:AssumeRole",
                           "Condition": {"StringEquals": {"aws:PrincipalTag/team": "support"}}}]},
                      "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": _SHARED[2]}], "AttachedManagedPolicies": []}],
                  "GroupDetailList": [], "Policies": []}, None, ["support:ResolveCase"])


# Alike but for a Deny on a tag the principal lacks (which makes its decision not settled by the statements
# alone), with more requests than are enumerated: the unsettled one's enumeration says less than "always".
_MANY = {"Bool": {f"ec2:K{i}": "true" for i in range(7)}}
_SETTLED = ({"UserDetailList": [
    _user("a", "web", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "support:ResolveCase", "Resource": "*"},
        {"Effect": "Allow", "Action": "support:ResolveCase", "Resource": "*", "Condition": _MANY},
        {"Effect": "Deny", "Action": "support:ResolveCase", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/team": "x"}}},
        {"Effect": "Allow", "Action": "support:DescribeCases", "Resource": "*",
         "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}),
    _user("b", "web", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "support:ResolveCase", "Resource": "*"},
        {"Effect": "Allow", "Action": "support:ResolveCase", "Resource": "*", "Condition": _MANY}]})],
    "RoleDetailList": [], "GroupDetailList": [], "Policies": []}, None, ["support:ResolveCase", "support:DescribeCases"])


# In the management account, where SCPs do not apply, an SCP's condition on a session tag is still enumerated
# (condition_policies), and the engine then asks sts:TagSession too: a caller whose own request is decided on
# the facts alone must enumerate it as well, and callers that differ in sts:TagSession are not alike.
_MANAGEMENT_REQUEST_TAG = ({
    "UserDetailList": [_user(name, "web", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": "*"}]})
        for name, actions in (("a", ["sts:AssumeRole", "sts:TagSession"]), ("b", "sts:AssumeRole"),
                              ("c", "sts:AssumeRole"))],
    "RoleDetailList": [{
        "RoleName": "r", "RoleId": "AROAR0000000000000", "Path": "/", "Arn": f"arn:aws:iam::{ACCT}:role/r",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": ["sts:AssumeRole", "sts:TagSession"],
             "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]},
        "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": _SHARED[2]}], "AttachedManagedPolicies": []}],
    "GroupDetailList": [], "Policies": []}, None, ["support:ResolveCase"])
_MANAGEMENT_REQUEST_TAG_ORGANIZATION = {"management_account": True, "scps": _levels(
    {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*",
     "Condition": {"StringEquals": {"aws:RequestTag/x": "y"}}})}


def _plain(account, actions, context):
    """who-can with every principal decided on its own: no reduced requests, groups or shared enumerations."""
    with mock.patch.object(paths_module._Evaluator, "_summary", lambda *args: None), \
            mock.patch.object(paths_module._Assumers, "groups", lambda *args: None):
        return [p.to_json() for p in who_can(account, actions, context=context)]


@settings(max_examples=int(os.environ.get("SUPPORTKIT_EXAMPLES", 100)),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=_accounts(), organization=_organization())
@example(case=_TAGGED_PERMISSION, organization={})
@example(case=_TAGGED_TRUST, organization={})
@example(case=_SETTLED, organization={})
@example(case=_MANAGEMENT_REQUEST_TAG, organization=_MANAGEMENT_REQUEST_TAG_ORGANIZATION)
def test_shared_answers_equal_each_principal_decided_alone(tmp_path_factory, case, organization):
    details, context, actions = case
    account = _snapshot(tmp_path_factory.mktemp("random"), details, organization)
    assert [p.to_json() for p in who_can(account, actions, context=context)] == _plain(account, actions, context)


@settings(max_examples=int(os.environ.get("SUPPORTKIT_EXAMPLES", 100)),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=_accounts(), organization=_organization())
@example(case=_TAGGED_TRUST, organization={})
@example(case=_MANAGEMENT_REQUEST_TAG, organization=_MANAGEMENT_REQUEST_TAG_ORGANIZATION)
def test_a_group_decides_each_member_as_the_engine_does(tmp_path_factory, case, organization):
    """A group of assumers is decided once, on its first member's reduced request and the trust's statements
    that admit it through the account (``_Evaluator.assume_admitted``): each member's assumption decided by
    the engine alone (``_Evaluator._assume``, :func:`supportkit.iam.trust.can_assume` on each enumerated
    request) must give the same conditions and caveats."""
    details, context, _ = case
    account = _snapshot(tmp_path_factory.mktemp("groups"), details, organization)
    evaluator = paths_module._Evaluator(account, context)
    assumers = paths_module._Assumers(account, evaluator)
    for role in account.identities:
        grouping = assumers.groups(role, role.trust) if role.trust is not None else None
        for group in grouping[1] if grouping is not None else ():
            if group.request is None:
                continue
            shared = evaluator.assume_admitted(group.members[0][1], group.request, role, role.trust)
            for _, member in group.members:
                assert evaluator._assume(member, role, role.trust, evaluator.contexts[member.arn]) == shared
