"""Conditions as part of the answer: the stated scenarios match what AWS documents for each operator.

- AWS global condition context keys, aws:MultiFactorAuthPresent
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-multifactorauthpresent):
  Allow + Bool true "allows only MFA-authenticated requests"; Allow + BoolIfExists true "allows requests
  that are authenticated using MFA, or requests that cannot be authenticated using MFA".
- IAM JSON policy elements: Condition operators
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
  IpAddress, DateLessThan, StringEquals, NumericLessThan.
"""

from __future__ import annotations

from typing import Any

import pytest

from supportkit.analysis.conditions import MAX_COMBINATIONS, Relation, Requests, clauses_for, enumerate_conditions
from supportkit.iam.context import RequestContext
from supportkit.iam.evaluate import (
    Decision,
    NamedPolicy,
    PolicyKind,
    Principal,
    Subject,
    evaluate,
    is_principal_key,
)
from supportkit.iam.policy import parse_policy

ALICE = Principal.parse("arn:aws:iam::111122223333:user/alice")
ACTION = "support:ResolveCase"


def conditions_of(*conditions: dict[str, Any], fixed=lambda key: False, base: dict[str, Any] | None = None):
    policy = parse_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ACTION, "Resource": "*", "Condition": c} for c in conditions]})
    subject = Subject(ALICE, (NamedPolicy("p", PolicyKind.IDENTITY, policy),))
    context = RequestContext.of(base or {}).with_defaults(ALICE.derived_context)

    def allows(request: RequestContext) -> bool:
        return evaluate(subject, ACTION, "*", request).decision is Decision.ALLOWED

    found = enumerate_conditions(allows, clauses_for([policy], ACTION), context, fixed)
    for scenario in found.scenarios:  # every stated scenario, evaluated on its own, allows
        assert allows(RequestContext.of(scenario.context()).with_defaults(context))
    return found


def test_bool_mfa_true_allows_only_with_mfa() -> None:
    found = conditions_of({"Bool": {"aws:MultiFactorAuthPresent": "true"}})
    assert found.text() == "with MFA" and not found.always


def test_bool_if_exists_mfa_true_also_allows_long_term_credentials() -> None:
    found = conditions_of({"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}})
    assert sorted(r.relation for s in found.scenarios for r in s.requirements) == [Relation.EQUALS, Relation.ABSENT]
    assert found.text() == "with MFA; or when the request has no aws:MultiFactorAuthPresent"


def test_source_ip_and_a_date_range() -> None:
    found = conditions_of({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                           "DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}})
    assert found.text() == "before 2027-01-01T00:00:00Z and from 10.0.0.0/8"
    (scenario,) = found.scenarios
    assert scenario.context() == {"aws:CurrentTime": "2026-12-31T23:59:59Z", "aws:SourceIp": "10.0.0.1"}


def test_alternatives_from_two_statements_and_a_numeric_limit() -> None:
    found = conditions_of({"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                          {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}})
    assert found.text() == "when aws:MultiFactorAuthAge < 3600; or with MFA"


def test_principal_tag_stated_when_not_fixed_and_a_fact_when_fixed() -> None:
    tag = {"StringEquals": {"aws:PrincipalTag/team": "support"}}
    assert conditions_of(tag).text() == "when aws:PrincipalTag/team = support"
    assert not conditions_of(tag, fixed=is_principal_key).ever  # alice has no such tag
    assert conditions_of(tag, fixed=is_principal_key, base={"aws:PrincipalTag/team": "support"}).always


@pytest.mark.parametrize("given, expected", [("true", True), ("false", False)])
def test_a_key_the_analyst_fixes_is_not_enumerated(given: str, expected: bool) -> None:
    found = conditions_of({"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                          base={"aws:MultiFactorAuthPresent": given})
    assert found.always is expected and found.keys == ()


def test_deny_outside_a_network_states_the_network() -> None:
    policy = parse_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ACTION, "Resource": "*"},
        {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
    ]})
    subject = Subject(ALICE, (NamedPolicy("p", PolicyKind.IDENTITY, policy),))
    found = enumerate_conditions(lambda c: evaluate(subject, ACTION, "*", c).decision is Decision.ALLOWED,
                                 clauses_for([policy], ACTION), ALICE.derived_context)
    # NotIpAddress is a negated operator: an absent key makes it true, so the Deny applies then too.
    assert found.text() == "from 10.0.0.0/8"


def test_the_positions_of_each_candidate_are_those_of_product_order():
    """Requests numbers the combinations of candidates in product order (the last key fastest), at most
    MAX_COMBINATIONS of them: the mask of a key's candidate holds exactly the positions that take it, computed
    here from the definition, position by position, for keys of 1 to 4 candidates and products past the limit."""
    clauses = []
    for key, values in (("aws:SourceIp", ["10.0.0.0/8", "192.0.2.0/24"]), ("aws:RequestedRegion", ["eu-west-1"]),
                        ("aws:MultiFactorAuthPresent", ["true"]), ("aws:CurrentTime", ["2027-01-01T00:00:00Z"]),
                        ("aws:SourceVpc", ["vpc-1", "vpc-2", "vpc-3"]), ("aws:username", ["a", "b", "c", "d"]),
                        ("aws:PrincipalTag/team", ["x", "y"]), ("aws:TagKeys", ["k1", "k2", "k3"])):
        operator = "IpAddress" if key == "aws:SourceIp" else "DateLessThan" if key == "aws:CurrentTime" else \
            "Bool" if key == "aws:MultiFactorAuthPresent" else "StringEquals"
        policy = parse_policy({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "support:*", "Resource": "*", "Condition": {operator: {key: values}}}]})
        clauses += clauses_for([policy], "support:DescribeCases")
        requests = Requests(clauses, RequestContext.of({}))
        assert requests.count == min(requests.total, MAX_COMBINATIONS)
        for index, options in enumerate(requests.options):
            for option in range(len(options)):
                expected = sum(1 << p for p in range(requests.count)
                               if p // requests.strides[index] % len(options) == option)
                assert requests.where(index, option) == expected
    assert requests.total > MAX_COMBINATIONS  # the last product is cut at the limit


def test_a_candidates_positions_past_the_limit_are_built_within_it():
    """With 40 keys of 3 candidates each (true, false, absent: Bool), the first key's stride is 3**39 positions,
    far past MAX_COMBINATIONS: its masks are those of the definition, built without a run of that length (which
    would not fit in memory)."""
    policy = parse_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "support:*", "Resource": "*", "Condition": {"Bool": {f"ec2:K{i}": "true"}}}
        for i in range(40)]})
    requests = Requests(clauses_for([policy], "support:DescribeCases"), RequestContext.of({}))
    assert requests.count == MAX_COMBINATIONS and requests.strides[0] == 3 ** 39
    for index in (0, 33, 39):
        for option in range(len(requests.options[index])):
            expected = sum(1 << p for p in range(requests.count)
                           if p // requests.strides[index] % len(requests.options[index]) == option)
            assert requests.where(index, option) == expected
