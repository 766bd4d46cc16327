"""Condition element semantics, case by case from the IAM User Guide, plus property tests.

Doc pages quoted below (IAM User Guide, https://docs.aws.amazon.com/IAM/latest/UserGuide/...):
  [operators]  reference_policies_elements_condition_operators.html
  [condition]  reference_policies_elements_condition.html
  [multi]      reference_policies_condition-single-vs-multi-valued-context-keys.html and
               reference_policies_condition_examples-multi-valued-context-keys.html
  [logic]      reference_policies_condition-logic-multiple-context-keys-or-values.html
  [variables]  reference_policies_variables.html
  [analyzer]   access-analyzer-reference-policy-checks.html
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportkit.iam.conditions import ConditionClause, compile_conditions
from supportkit.iam.context import RequestContext
from supportkit.errors import PolicyError
from supportkit.iam.patterns import Pattern

PATH = "Statement[0].Condition"


def compile_ok(block: object, *, variables: bool = True) -> tuple[ConditionClause, ...]:
    clauses, _ = compile_conditions(block, PATH, variables=variables)
    return clauses


def holds(block: object, context: dict | None = None, *, variables: bool = True) -> bool:
    """Whether the whole Condition block holds: every clause must hold."""
    request = RequestContext.of(context or {})
    return all(clause.evaluate(request) for clause in compile_ok(block, variables=variables))


def warnings_of(block: object) -> tuple[str, ...]:
    return compile_conditions(block, PATH)[1]


def error_of(block: object) -> str:
    with pytest.raises(PolicyError) as caught:
        compile_conditions(block, PATH)
    return str(caught.value)


# --- string operators ------------------------------------------------------------------------------

class TestStringOperators:
    # [operators] "Condition": {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}
    # "If a user without the tag attempts to view or edit an access key, the condition returns false".
    BLOCK = {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}

    def test_string_equals_matches_the_tag(self) -> None:
        assert holds(self.BLOCK, {"aws:PrincipalTag/job-category": "iamuser-admin"})

    def test_string_equals_is_false_without_the_tag(self) -> None:
        assert not holds(self.BLOCK, {})

    def test_string_equals_is_case_sensitive_on_values(self) -> None:
        # [condition] "the following condition includes the StringEquals operator to make sure that only
        # requests made by john match. Users named John are denied access."
        block = {"StringEquals": {"aws:username": "john"}}
        assert holds(block, {"aws:username": "john"})
        assert not holds(block, {"aws:username": "John"})

    def test_key_names_are_case_insensitive(self) -> None:
        # [condition] "including the aws:SourceIP context key is equivalent to testing for AWS:SourceIp".
        assert holds({"StringEquals": {"AWS:USERNAME": "john"}}, {"aws:username": "john"})

    def test_string_equals_has_no_wildcards(self) -> None:
        assert not holds({"StringEquals": {"s3:prefix": "home/*"}}, {"s3:prefix": "home/bob"})
        assert holds({"StringEquals": {"s3:prefix": "home/*"}}, {"s3:prefix": "home/*"})

    def test_ignore_case_variants(self) -> None:
        assert holds({"StringEqualsIgnoreCase": {"aws:username": "john"}}, {"aws:username": "JOHN"})
        assert not holds({"StringNotEqualsIgnoreCase": {"aws:username": "john"}}, {"aws:username": "JoHn"})
        assert holds({"StringNotEqualsIgnoreCase": {"aws:username": "john"}}, {"aws:username": "johnny"})

    def test_string_like_wildcards(self) -> None:
        # [operators] StringLike: "multi-character match wildcards (*) and single-character match wildcards (?)"
        block = {"StringLike": {"ec2:InstanceType": ["t1.*", "m?.large"]}}
        assert holds(block, {"ec2:InstanceType": "t1.micro"})
        assert holds(block, {"ec2:InstanceType": "m5.large"})
        assert not holds(block, {"ec2:InstanceType": "m55.large"})
        assert not holds(block, {"ec2:InstanceType": "T1.micro"})

    def test_several_values_of_one_key_are_ored(self) -> None:
        # [logic] "If a single condition operator includes multiple values for a context key, those values
        # are evaluated using a logical OR."
        block = {"StringEquals": {"aws:RequestTag/DataClass": ["public", "internal"]}}
        assert holds(block, {"aws:RequestTag/DataClass": "internal"})
        assert not holds(block, {"aws:RequestTag/DataClass": "private"})

    def test_negated_operator_with_several_values_is_nor(self) -> None:
        # [logic] "If a single negated matching condition operator includes multiple values for a context
        # key, those values are evaluated using a logical NOR."
        block = {"StringNotEquals": {"aws:RequestTag/DataClass": ["public", "internal"]}}
        assert not holds(block, {"aws:RequestTag/DataClass": "public"})
        assert not holds(block, {"aws:RequestTag/DataClass": "internal"})
        assert holds(block, {"aws:RequestTag/DataClass": "private"})

    def test_several_keys_and_operators_are_anded(self) -> None:
        # [logic] "If your policy statement has multiple condition operators, the condition operators are
        # evaluated using a logical AND" and likewise for "multiple context keys attached to a single operator".
        block = {
            "StringEquals": {"aws:PrincipalTag/department": ["finance", "hr"], "aws:PrincipalTag/role": "audit"},
            "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::222222222222:user/Ana"},
        }
        good = {
            "aws:PrincipalTag/department": "hr",
            "aws:PrincipalTag/role": "audit",
            "aws:PrincipalArn": "arn:aws:iam::222222222222:user/Ana",
        }
        assert holds(block, good)
        assert not holds(block, {**good, "aws:PrincipalTag/role": "dev"})
        assert not holds(block, {**good, "aws:PrincipalArn": "arn:aws:iam::222222222222:user/Bob"})
        assert len(compile_ok(block)) == 3


# --- policy variables ------------------------------------------------------------------------------

class TestPolicyVariables:
    # [operators] StringLike with a policy variable: "The policy allows the specified actions on an S3 bucket
    # as long as the s3:prefix matches any one of the specified patterns":
    # "Condition": {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}}
    BLOCK = {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}}

    def test_home_directory_of_the_user(self) -> None:
        assert holds(self.BLOCK, {"s3:prefix": "home/David/", "aws:username": "David"})
        assert not holds(self.BLOCK, {"s3:prefix": "home/Bob/", "aws:username": "David"})

    def test_fixed_values_still_match(self) -> None:
        assert holds(self.BLOCK, {"s3:prefix": "", "aws:username": "David"})
        assert holds(self.BLOCK, {"s3:prefix": "home/"})

    def test_a_variable_with_an_empty_value_is_null(self) -> None:
        # [variables] "When policy variables reference a condition context key that has no value or is not
        # present in an authorization context for a request, the value is effectively null. There is no equal
        # or like value." (IAM User Guide, "IAM policy elements: Variables and tags",
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html)
        assert not holds(self.BLOCK, {"s3:prefix": "home//", "aws:username": ""})
        block = {"StringEquals": {"aws:PrincipalTag/team": "${aws:PrincipalTag/lead, 'none'}"}}
        assert holds(block, {"aws:PrincipalTag/team": "none", "aws:PrincipalTag/lead": ""})  # the default applies

    def test_unresolvable_variable_matches_nothing(self) -> None:
        # [variables] "When you use a variable with no value in the condition element of an IAM policy,
        # condition operators like StringEquals or StringLike do not match".
        assert not holds(self.BLOCK, {"s3:prefix": "home/David/"})
        assert not holds({"StringEquals": {"s3:prefix": "${aws:username}"}}, {"s3:prefix": "${aws:username}"})

    def test_inverted_operators_match_a_null_variable(self) -> None:
        # [variables] "Inverted condition operators like StringNotEquals or StringNotLike do match against a
        # null value, as the value of the condition key they are testing against is not equal to or like
        # the effectively null value."
        block = {"StringNotEquals": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}}
        assert holds(block, {"s3:ExistingObjectTag/Team": "red"})
        assert not holds(block, {"s3:ExistingObjectTag/Team": "red", "aws:PrincipalTag/Team": "red"})

    def test_default_value(self) -> None:
        # [variables] Specifying default values: ${aws:username, 'nobody'}.
        block = {"StringEquals": {"s3:prefix": "${aws:username, 'nobody'}"}}
        assert holds(block, {"s3:prefix": "nobody"})
        assert holds(block, {"s3:prefix": "ana", "aws:username": "ana"})

    def test_variables_are_literal_text_before_version_2012_10_17(self) -> None:
        # [variables] "If you don't include the Version element and set it to an appropriate version date,
        # variables like ${aws:username} are treated as literal strings in the policy."
        context = {"s3:prefix": "home/${aws:username}/", "aws:username": "David"}
        assert holds(self.BLOCK, context, variables=False)
        assert not holds(self.BLOCK, {"s3:prefix": "home/David/", "aws:username": "David"}, variables=False)

    def test_arn_operators_accept_variables(self) -> None:
        # [operators] "You can use a policy variable with the ARN condition operator."
        block = {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/${aws:username}"}}
        assert holds(block, {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/ana", "aws:username": "ana"})
        assert not holds(block, {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/bob", "aws:username": "ana"})

    def test_keys_read_lists_the_key_and_the_variables(self) -> None:
        (clause,) = compile_ok(self.BLOCK)
        assert clause.keys_read == ("s3:prefix", "aws:username")
        (null,) = compile_ok({"Null": {"AWS:TokenIssueTime": "true"}})
        assert null.keys_read == ("aws:tokenissuetime",)

    def test_a_variable_in_a_condition_key_is_not_replaced(self) -> None:
        # [variables] "You can use policy variables in the Resource element and in string comparisons in the
        # Condition element." A key is neither: it stays literal text that no request carries.
        block = {"StringEquals": {"aws:PrincipalTag/${aws:username}": "yes"}}
        context = {"aws:username": "ana", "aws:PrincipalTag/ana": "yes"}
        assert not holds(block, context)
        assert holds({"StringNotEquals": block["StringEquals"]}, context)
        assert any("not in keys" in w for w in warnings_of(block))
        assert not any("not in keys" in w for w in compile_conditions(block, PATH, variables=False)[1])

    def test_malformed_variable_is_a_policy_error(self) -> None:
        message = error_of({"StringLike": {"s3:prefix": ["ok", "home/${}/"]}})
        assert message.startswith(f"{PATH}.StringLike.s3:prefix[1]: ")


# --- numeric, date, bool, binary -------------------------------------------------------------------

class TestNumeric:
    def test_max_keys_example(self) -> None:
        # [operators] "Condition": {"NumericLessThanEquals": {"s3:max-keys": "10"}} lets the requester list
        # "up to 10 objects".
        block = {"NumericLessThanEquals": {"s3:max-keys": "10"}}
        assert holds(block, {"s3:max-keys": "10"})
        assert holds(block, {"s3:max-keys": 3})
        assert not holds(block, {"s3:max-keys": "11"})

    def test_mfa_age_example(self) -> None:
        # [analyzer] "NumericLessThan": {"aws:MultiFactorAuthAge": ["2700", "3600"]}: "the permissions are
        # defined if multi-factor authentication (MFA) was completed less than 3600 seconds (1 hour) ago".
        block = {"NumericLessThan": {"aws:MultiFactorAuthAge": ["2700", "3600"]}}
        assert holds(block, {"aws:MultiFactorAuthAge": "3000"})
        assert not holds(block, {"aws:MultiFactorAuthAge": "3600"})
        assert not holds(block, {})

    @pytest.mark.parametrize(
        ("operator", "request_value", "expected"),
        [
            ("NumericEquals", "10.0", True),
            ("NumericEquals", "10.5", False),
            ("NumericNotEquals", "10.5", True),
            ("NumericLessThan", "9.99", True),
            ("NumericGreaterThan", "10.01", True),
            ("NumericGreaterThanEquals", "10", True),
            ("NumericGreaterThanEquals", "-3", False),
        ],
    )
    def test_integers_and_decimals(self, operator: str, request_value: str, expected: bool) -> None:
        assert holds({operator: {"s3:max-keys": 10}}, {"s3:max-keys": request_value}) is expected

    def test_a_json_number_reads_alike_in_the_context_and_in_the_policy(self) -> None:
        # [operators] Numeric condition operators compare "integer and decimal" values: the JSON number 1e-7
        # is the decimal 0.0000001 whether the policy or the request context carries it (one reading of JSON
        # scalars for both, supportkit.iam.context.json_scalar_text).
        assert holds({"NumericEquals": {"aws:MultiFactorAuthAge": 1e-7}}, {"aws:MultiFactorAuthAge": 1e-7})
        assert holds({"NumericEquals": {"aws:MultiFactorAuthAge": "0.0000001"}}, {"aws:MultiFactorAuthAge": 1e-7})
        assert holds({"NumericLessThan": {"aws:MultiFactorAuthAge": 1e-6}}, {"aws:MultiFactorAuthAge": 1e-7})
        assert RequestContext.of({"k": 1e-7}).get("k") == "0.0000001"

    def test_unparsable_request_value_matches_nothing(self) -> None:
        assert not holds({"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "ten"})
        assert holds({"NumericNotEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "ten"})

    def test_unparsable_policy_value_names_its_path(self) -> None:
        message = error_of({"NumericLessThan": {"aws:MultiFactorAuthAge": "abc"}})
        assert message == f"{PATH}.NumericLessThan.aws:MultiFactorAuthAge: 'abc' is not a number"

    def test_variables_are_not_allowed(self) -> None:
        # [operators] "You can not use a policy variable with the Numeric condition operator."
        message = error_of({"NumericEquals": {"s3:max-keys": "${aws:username}"}})
        assert "policy variables cannot be used with Numeric operators" in message


class TestDates:
    def test_token_issue_time_example(self) -> None:
        # [operators] "Condition": {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}};
        # "The aws:TokenIssueTime key is present in the request context only when the principal uses temporary
        # credentials ... if an IAM user attempts to view or edit an access key, the request is denied."
        block = {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}
        assert holds(block, {"aws:TokenIssueTime": "2020-06-30T10:00:00Z"})
        assert not holds(block, {"aws:TokenIssueTime": "2019-12-31T23:59:59Z"})
        assert not holds(block, {})

    def test_current_time_window(self) -> None:
        # Example policy "AWS: Allows access within specific dates":
        # "DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
        # "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"}
        block = {
            "DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
            "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"},
        }
        assert holds(block, {"aws:CurrentTime": "2020-05-15T08:30:00Z"})
        assert not holds(block, {"aws:CurrentTime": "2020-07-01T00:00:00Z"})
        assert not holds(block, {"aws:CurrentTime": "2020-03-31T23:59:59Z"})

    def test_epoch_and_iso_compare_as_instants(self) -> None:
        # [operators] "You must specify date/time values with one of the W3C implementations of the ISO 8601
        # date formats or in epoch (UNIX) time." 2019-07-16T12:00:00Z is epoch 1563278400.
        assert holds({"DateEquals": {"aws:CurrentTime": "2019-07-16T12:00:00Z"}}, {"aws:CurrentTime": "1563278400"})
        assert holds({"DateEquals": {"aws:EpochTime": 1563278400}}, {"aws:EpochTime": "2019-07-16T12:00:00Z"})
        assert holds({"DateLessThanEquals": {"aws:EpochTime": "1563278400"}}, {"aws:EpochTime": 1563278399})

    def test_zones_and_partial_dates(self) -> None:
        assert holds({"DateEquals": {"aws:CurrentTime": "2019-07-16T14:00:00+02:00"}},
                     {"aws:CurrentTime": "2019-07-16T12:00:00Z"})
        # A datetime without zone designator is UTC; a bare date is its midnight.
        assert holds({"DateEquals": {"aws:CurrentTime": "2019-07-16T12:00:00"}},
                     {"aws:CurrentTime": "2019-07-16T12:00:00Z"})
        assert holds({"DateGreaterThanEquals": {"aws:CurrentTime": "2019-07-16"}},
                     {"aws:CurrentTime": "2019-07-16T00:00:00Z"})
        assert holds({"DateNotEquals": {"aws:CurrentTime": "2019-07-16T12:00:00.500Z"}},
                     {"aws:CurrentTime": "2019-07-16T12:00:00Z"})

    def test_bad_dates(self) -> None:
        assert not holds({"DateLessThan": {"aws:CurrentTime": "2020-01-01"}}, {"aws:CurrentTime": "yesterday"})
        message = error_of({"DateLessThan": {"aws:CurrentTime": ["2020-01-01", "2020-13-01"]}})
        assert message.startswith(f"{PATH}.DateLessThan.aws:CurrentTime[1]: '2020-13-01' is not")


class TestBoolAndBinary:
    # [operators] deny S3 when not over TLS: "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    BLOCK = {"Bool": {"aws:SecureTransport": "false"}}

    def test_secure_transport(self) -> None:
        assert holds(self.BLOCK, {"aws:SecureTransport": "false"})
        assert holds(self.BLOCK, {"aws:SecureTransport": False})
        assert not holds(self.BLOCK, {"aws:SecureTransport": "true"})
        assert not holds(self.BLOCK, {})

    def test_bool_is_case_insensitive_and_json_booleans_are_text(self) -> None:
        assert holds({"Bool": {"aws:MultiFactorAuthPresent": True}}, {"aws:MultiFactorAuthPresent": "TRUE"})
        (clause,) = compile_ok({"Bool": {"aws:MultiFactorAuthPresent": True}})
        assert clause.values == ("true",)

    def test_bool_value_that_is_not_a_boolean_never_matches(self) -> None:
        block = {"Bool": {"aws:SecureTransport": "yes"}}
        assert not holds(block, {"aws:SecureTransport": "yes"})
        assert any("neither true nor false" in warning for warning in warnings_of(block))

    def test_binary_equals(self) -> None:
        # [operators] "BinaryEquals": {"key" : "QmluYXJ5VmFsdWVJbkJhc2U2NA=="} "compares the value of the
        # specified key byte for byte against a base-64 encoded representation of the binary value".
        block = {"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}
        assert base64.b64decode("QmluYXJ5VmFsdWVJbkJhc2U2NA==") == b"BinaryValueInBase64"
        assert holds(block, {"key": base64.b64encode(b"BinaryValueInBase64").decode()})
        assert not holds(block, {"key": base64.b64encode(b"binaryvalueinbase64").decode()})
        assert not holds(block, {"key": "not base64!"})
        assert not holds(block, {})

    def test_binary_policy_value_must_be_base64(self) -> None:
        assert error_of({"BinaryEquals": {"key": "abc"}}) == f"{PATH}.BinaryEquals.key: 'abc' is not base64"


# --- IP addresses and ARNs -------------------------------------------------------------------------

class TestIpAddress:
    def test_source_ip_range(self) -> None:
        # [operators] "the request must come from the IP range 203.0.113.0 to 203.0.113.255":
        # "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
        block = {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
        assert holds(block, {"aws:SourceIp": "203.0.113.0"})
        assert holds(block, {"aws:SourceIp": "203.0.113.255"})
        assert not holds(block, {"aws:SourceIp": "203.0.114.1"})
        # "The aws:SourceIp key is always present in the request context, except when the requester uses a
        # VPC endpoint to make the request. In this case, the condition returns false".
        assert not holds(block, {})

    def test_mixed_ipv4_and_ipv6(self) -> None:
        # [operators] "aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]
        block = {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}}
        assert holds(block, {"aws:SourceIp": "2001:db8:1234:5678::10"})
        assert holds(block, {"aws:SourceIp": "203.0.113.7"})
        assert not holds(block, {"aws:SourceIp": "2001:db8:1234:5679::1"})
        assert not holds(block, {"aws:SourceIp": "::ffff:198.51.100.1"})

    def test_single_address_is_a_slash_32(self) -> None:
        # [operators] "If you specify an IP address without the associated routing prefix, IAM uses the
        # default prefix value of /32."
        block = {"IpAddress": {"aws:SourceIp": "203.0.113.9"}}
        assert holds(block, {"aws:SourceIp": "203.0.113.9"})
        assert not holds(block, {"aws:SourceIp": "203.0.113.10"})

    def test_not_ip_address(self) -> None:
        block = {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}}
        assert not holds(block, {"aws:SourceIp": "203.0.113.7"})
        assert holds(block, {"aws:SourceIp": "198.51.100.1"})
        assert holds(block, {"aws:SourceIp": "not an address"})
        assert holds(block, {})

    def test_host_bits_are_ignored_with_a_warning(self) -> None:
        # [analyzer] Improve IP range: "The non-zero bits in the IP address after the masked bits are ignored."
        block = {"IpAddress": {"aws:SourceIp": "203.0.113.5/24"}}
        assert holds(block, {"aws:SourceIp": "203.0.113.200"})
        assert any("'203.0.113.0/24'" in warning for warning in warnings_of(block))
        assert warnings_of({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}) == ()

    def test_bad_policy_ip(self) -> None:
        assert error_of({"IpAddress": {"aws:SourceIp": "203.0.113.0/33"}}).startswith(
            f"{PATH}.IpAddress.aws:SourceIp: '203.0.113.0/33' is not an IP address"
        )


class TestArn:
    def test_source_arn_example(self) -> None:
        # [operators] "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:REGION:123456789012:TOPIC-ID"}}
        # "If an IAM user attempts to perform this operation directly, the condition returns false".
        block = {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-2:123456789012:TOPIC-ID"}}
        assert holds(block, {"aws:SourceArn": "arn:aws:sns:us-east-2:123456789012:TOPIC-ID"})
        assert not holds(block, {"aws:SourceArn": "arn:aws:sns:us-east-2:123456789012:OTHER"})
        assert not holds(block, {})

    def test_arn_like_matches_components_separately(self) -> None:
        # [operators] pattern arn:aws:someservice:*:111122223333:finance/* against
        # arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt:
        # "With a StringLike condition, the match succeeds ... With an ArnLike condition, which matches
        # elements between colons, the match fails."
        pattern = "arn:aws:someservice:*:111122223333:finance/*"
        request = {"aws:SourceArn": "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"}
        assert holds({"StringLike": {"aws:SourceArn": pattern}}, request)
        assert not holds({"ArnLike": {"aws:SourceArn": pattern}}, request)
        assert holds({"ArnLike": {"aws:SourceArn": pattern}},
                     {"aws:SourceArn": "arn:aws:someservice:eu-west-1:111122223333:finance/a:b"})

    def test_fewer_than_six_components_never_match(self) -> None:
        # [operators] ArnEquals, ArnLike: "Each of the six colon-delimited components of the ARN is checked
        # separately" (IAM User Guide, "IAM JSON policy elements: Condition operators",
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
        # a pattern without six components has no components to check against an ARN's, nor has a value.
        short = "arn:aws:iam::*"  # five components: the wildcard does not stand for "account:resource"
        role = {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/Ops"}
        assert holds({"StringLike": {"aws:PrincipalArn": short}}, role)
        assert not holds({"ArnLike": {"aws:PrincipalArn": short}}, role)
        assert holds({"ArnNotLike": {"aws:PrincipalArn": short}}, role)
        assert not holds({"ArnLike": {"aws:SourceArn": "arn:*:*:*:*:*"}}, {"aws:SourceArn": "arn:aws:sns"})
        assert holds({"ArnLike": {"aws:SourceArn": "*"}}, {"aws:SourceArn": "anything"})
        assert any("fewer than the six" in w for w in warnings_of({"ArnLike": {"aws:PrincipalArn": short}}))

    def test_arn_equals_and_arn_like_behave_identically(self) -> None:
        # [operators] "The ArnEquals and ArnLike condition operators behave identically."
        for operator in ("ArnEquals", "ArnLike"):
            block = {operator: {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin?"}}
            assert holds(block, {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/Admin1"})
            assert not holds(block, {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/Admin12"})

    def test_negated_arn_operators(self) -> None:
        block = {"ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/Admin", "arn:aws:iam::*:role/Ops*"]}}
        assert not holds(block, {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/OpsTeam"})
        assert holds(block, {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/Dev"})


# --- IfExists, absent keys, Null --------------------------------------------------------------------

class TestIfExistsAndAbsentKeys:
    # [operators] "THISPOLICYDOESNOTWORK": "StringLike": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}, fixed
    # with StringLikeIfExists: "If the resource being checked does not have that condition key, then don't
    # worry about it."
    TYPES = ["t1.*", "t2.*", "m3.*"]

    def test_plain_operator_fails_on_resources_without_the_key(self) -> None:
        assert not holds({"StringLike": {"ec2:InstanceType": self.TYPES}}, {})

    def test_if_exists_is_true_when_the_key_is_absent(self) -> None:
        block = {"StringLikeIfExists": {"ec2:InstanceType": self.TYPES}}
        assert holds(block, {})
        assert holds(block, {"ec2:InstanceType": "t2.micro"})
        assert not holds(block, {"ec2:InstanceType": "m5.large"})

    # [operators] "If the key that you specify in a policy condition is not present in the request context,
    # the values do not match and the condition is false. If the policy condition requires that the key is
    # not matched, such as StringNotLike or ArnNotLike, and the right key is not present, the condition is true."
    POSITIVE = {
        "StringEquals": "a", "StringEqualsIgnoreCase": "a", "StringLike": "*", "NumericEquals": "1",
        "NumericLessThan": "1", "NumericLessThanEquals": "1", "NumericGreaterThan": "1",
        "NumericGreaterThanEquals": "1", "DateEquals": "2020-01-01", "DateLessThan": "2020-01-01",
        "DateLessThanEquals": "2020-01-01", "DateGreaterThan": "2020-01-01", "DateGreaterThanEquals": "2020-01-01",
        "Bool": "true", "BinaryEquals": "YQ==", "IpAddress": "10.0.0.0/8", "ArnEquals": "*", "ArnLike": "*",
    }
    NEGATED = {
        "StringNotEquals": "a", "StringNotEqualsIgnoreCase": "a", "StringNotLike": "*", "NumericNotEquals": "1",
        "DateNotEquals": "2020-01-01", "NotIpAddress": "10.0.0.0/8", "ArnNotEquals": "*", "ArnNotLike": "*",
    }

    @pytest.mark.parametrize(("operator", "value"), sorted(POSITIVE.items()))
    def test_positive_operators_are_false_on_an_absent_key(self, operator: str, value: str) -> None:
        assert not holds({operator: {"some:Key": value}}, {"other:Key": value})
        assert holds({operator + "IfExists": {"some:Key": value}}, {"other:Key": value})

    @pytest.mark.parametrize(("operator", "value"), sorted(NEGATED.items()))
    def test_negated_operators_are_true_on_an_absent_key(self, operator: str, value: str) -> None:
        assert holds({operator: {"some:Key": value}}, {})
        assert holds({operator + "IfExists": {"some:Key": value}}, {})

    def test_negated_if_exists_still_checks_a_present_key(self) -> None:
        # [operators] "If you are using an "Effect": "Deny" element with a negated condition operator like
        # StringNotEqualsIfExists, the request is still denied even if the tag is missing."
        block = {"StringNotEqualsIfExists": {"aws:RequestTag/DataClass": ["public", "internal"]}}
        assert holds(block, {})
        assert holds(block, {"aws:RequestTag/DataClass": "private"})
        assert not holds(block, {"aws:RequestTag/DataClass": "public"})


class TestNull:
    # [operators] "the user must not be using temporary credentials (the key must not exist)":
    # "Condition": {"Null": {"aws:TokenIssueTime": "true"}}
    def test_true_means_absent(self) -> None:
        block = {"Null": {"aws:TokenIssueTime": "true"}}
        assert holds(block, {})
        assert not holds(block, {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"})

    def test_false_means_present(self) -> None:
        block = {"Null": {"aws:TokenIssueTime": False}}
        assert holds(block, {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"})
        assert not holds(block, {})

    def test_empty_values_are_null(self) -> None:
        # [multi] "You can prevent missing context keys or context keys with empty values from evaluating to
        # true by including a Null condition operator in your policy with a value of false".
        assert not holds({"Null": {"aws:TagKeys": "false"}}, {"aws:TagKeys": []})
        assert holds({"Null": {"aws:TagKeys": "false"}}, {"aws:TagKeys": ["a"]})

    def test_null_with_if_exists_is_an_error(self) -> None:
        # [operators] "You can add IfExists to the end of any condition operator name except the Null condition"
        assert error_of({"NullIfExists": {"aws:TokenIssueTime": "true"}}).startswith(f"{PATH}: ")

    def test_null_with_a_set_operator(self) -> None:
        # [analyzer] Null with qualifier: "When you use the Null condition operator with ForAllValues, the
        # statement always returns true. When you use the Null condition operator with ForAnyValue, the
        # statement always returns false."
        for context in ({}, {"aws:TagKeys": ["a"]}):
            assert holds({"ForAllValues:Null": {"aws:TagKeys": "false"}}, context)
            assert not holds({"ForAnyValue:Null": {"aws:TagKeys": "true"}}, context)
        assert warnings_of({"ForAllValues:Null": {"aws:TagKeys": "true"}})


# --- set operators and multivalued keys ------------------------------------------------------------

class TestSetOperators:
    def test_for_all_values_string_not_like_table(self) -> None:
        # [multi] "ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"} in a Deny statement; the documented
        # table: key1:legal -> no match; key1:hr, key1:personnel -> no match; key2:audit -> match;
        # no aws:TagKeys in the request context -> match.
        block = {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}
        assert not holds(block, {"aws:TagKeys": ["key1:legal"]})
        assert not holds(block, {"aws:TagKeys": ["key1:hr", "key1:personnel"]})
        assert holds(block, {"aws:TagKeys": ["key2:audit"]})
        assert holds(block, {})
        assert not holds(block, {"aws:TagKeys": ["key2:audit", "key1:legal"]})

    def test_for_all_values_requested_attributes(self) -> None:
        # [multi] ForAllValues:StringLike {"dynamodb:requestedAttributes": ["PostDateTime", "Message", "Tags"]}:
        # PostDateTime and Message are allowed; "if the user's request includes the ID attribute, the request
        # fails"; with PostDateTime and UserName "There's no match for UserName, so the condition ... returns false".
        block = {"ForAllValues:StringLike": {"dynamodb:requestedAttributes": ["PostDateTime", "Message", "Tags"]}}
        assert holds(block, {"dynamodb:requestedAttributes": ["PostDateTime", "Message"]})
        assert not holds(block, {"dynamodb:requestedAttributes": ["PostDateTime", "ID"]})
        assert not holds(block, {"dynamodb:requestedAttributes": ["PostDateTime", "UserName"]})

    def test_for_any_value_requested_attributes(self) -> None:
        # [multi] Deny with ForAnyValue:StringLike {"dynamodb:requestedAttributes": ["ID", "PostDateTime"]}:
        # UserName, Message, PostDateTime -> true ("The last test returns true"); just UserName -> false.
        block = {"ForAnyValue:StringLike": {"dynamodb:requestedAttributes": ["ID", "PostDateTime"]}}
        assert holds(block, {"dynamodb:requestedAttributes": ["UserName", "Message", "PostDateTime"]})
        assert not holds(block, {"dynamodb:requestedAttributes": ["UserName"]})

    def test_absent_or_empty_sets(self) -> None:
        # [multi] "The ForAllValues set operator also returns true if there are no context keys in the request"
        # and "If the key values in the request resolve to an empty data set (for example, an empty string), a
        # condition operator modified by ForAllValues returns true, and ... ForAnyValue returns false."
        for context in ({}, {"aws:TagKeys": []}, {"aws:TagKeys": ""}):
            assert holds({"ForAllValues:StringEquals": {"aws:TagKeys": "x"}}, context)
            assert not holds({"ForAnyValue:StringEquals": {"aws:TagKeys": "x"}}, context)
            assert not holds({"ForAnyValue:StringNotEquals": {"aws:TagKeys": "x"}}, context)

    def test_single_string_is_a_one_element_set(self) -> None:
        assert holds({"ForAnyValue:StringEquals": {"aws:TagKeys": "env"}}, {"aws:TagKeys": "env"})
        assert not holds({"ForAllValues:StringEquals": {"aws:TagKeys": "env"}}, {"aws:TagKeys": "owner"})

    def test_for_any_value_with_negated_operator(self) -> None:
        # At least one request value must match none of the policy values.
        block = {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["env", "owner"]}}
        assert not holds(block, {"aws:TagKeys": ["env", "owner"]})
        assert holds(block, {"aws:TagKeys": ["env", "cost"]})

    def test_if_exists_on_set_operators(self) -> None:
        # [multi] ForAnyValue: "For no matching context key or a null dataset, the condition returns false"
        # (IAM User Guide, "Single-valued vs. multivalued context keys",
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html).
        # The set operator's rule holds with IfExists too: an absent aws:TagKeys fails
        # ForAnyValue:StringEqualsIfExists, as AWS answers for sqs:ListQueues (re:Post QU9HFmDzP0QGuU-fd7rS6B7w).
        assert not holds({"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": "env*"}}, {})
        assert not holds({"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": "env*"}}, {"aws:TagKeys": ["owner"]})
        assert holds({"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": "env*"}}, {"aws:TagKeys": ["env1"]})
        assert holds({"ForAllValues:StringLikeIfExists": {"aws:TagKeys": "env*"}}, {})

    def test_set_operators_on_other_families(self) -> None:
        assert holds({"ForAllValues:NumericLessThan": {"k": "10"}}, {"k": [1, 2, 9]})
        assert not holds({"ForAllValues:NumericLessThan": {"k": "10"}}, {"k": [1, 12]})
        assert holds({"ForAnyValue:IpAddress": {"k": "10.0.0.0/8"}}, {"k": ["192.0.2.1", "10.1.2.3"]})

    def test_unqualified_operator_on_a_list_matches_any_value(self) -> None:
        # [multi] "Multivalued context keys require a condition set operator": the unqualified operator
        # matches when any request value matches, and compile_conditions warns.
        assert holds({"StringEquals": {"aws:TagKeys": "env"}}, {"aws:TagKeys": ["owner", "env"]})
        assert not holds({"StringEquals": {"aws:TagKeys": "env"}}, {"aws:TagKeys": ["owner"]})
        assert not holds({"StringNotEquals": {"aws:TagKeys": "env"}}, {"aws:TagKeys": ["owner", "env"]})
        assert not holds({"StringEquals": {"aws:TagKeys": "env"}}, {"aws:TagKeys": []})


# --- empty value lists (Access Analyzer "Empty array condition ..." checks) -------------------------

class TestEmptyValueLists:
    def test_for_all_values_matches_only_without_the_key(self) -> None:
        # [analyzer] "The ForAllValues prefix with an empty condition key matches only if the key is missing
        # from the request context."
        block = {"ForAllValues:StringEquals": {"aws:TagKeys": []}}
        assert holds(block, {})
        assert not holds(block, {"aws:TagKeys": ["a"]})

    def test_for_any_value_never_matches(self) -> None:
        # [analyzer] "The ForAnyValue prefix with an empty condition key never matches the request context".
        block = {"ForAnyValue:StringEquals": {"aws:TagKeys": []}}
        assert not holds(block, {})
        assert not holds(block, {"aws:TagKeys": ["a"]})

    def test_if_exists_matches_only_without_the_key(self) -> None:
        # [analyzer] "The IfExists suffix with an empty condition key matches only if the key is missing".
        block = {"StringEqualsIfExists": {"aws:username": []}}
        assert holds(block, {})
        assert not holds(block, {"aws:username": "ana"})

    def test_empty_list_is_warned_about(self) -> None:
        assert any("empty" in warning for warning in warnings_of({"StringEquals": {"aws:username": []}}))
        assert not holds({"StringEquals": {"aws:username": []}}, {"aws:username": ""})


# --- compile-time errors and warnings --------------------------------------------------------------

class TestErrors:
    def test_unknown_operator(self) -> None:
        message = error_of({"StringLikee": {"aws:username": "a"}})
        assert message.startswith(f"{PATH}: unknown operator 'StringLikee'")
        assert "'StringLike'" in message

    def test_operator_names_are_case_sensitive(self) -> None:
        # IAM rejects "stringEquals": "MalformedPolicyDocument: Invalid Condition type : stringEquals".
        message = error_of({"stringEquals": {"aws:username": "a"}})
        assert "unknown operator 'stringEquals'" in message and "'StringEquals'" in message

    def test_malformed_set_prefix(self) -> None:
        message = error_of({"ForAnyValues:StringLike": {"aws:TagKeys": "a"}})
        assert message.startswith(f"{PATH}: malformed set operator 'ForAnyValues:'")
        assert "ForAnyValue:" in message

    def test_bad_shapes(self) -> None:
        assert error_of(["StringEquals"]).startswith(f"{PATH}: Condition must be an object")
        assert error_of({"StringEquals": ["aws:username", "a"]}).startswith(f"{PATH}.StringEquals: ")
        assert error_of({"StringEquals": {"aws:username": {"a": 1}}}).startswith(
            f"{PATH}.StringEquals.aws:username: a condition value must be a string, number or boolean, not an object"
        )
        assert error_of({"StringEquals": {"aws:username": ["a", ["b"]]}}).startswith(
            f"{PATH}.StringEquals.aws:username[1]: "
        )
        assert error_of({"StringEquals": {"aws:username": None}}).endswith("not null")
        assert error_of({"StringEquals": {"": "a"}}).startswith(f"{PATH}.StringEquals: ")

    def test_values_are_normalised_as_aws_reads_them(self) -> None:
        (clause,) = compile_ok({"StringEquals": {"k": [True, False, 10, 1.5, 1e20, "x"]}})
        assert clause.values == ("true", "false", "10", "1.5", "100000000000000000000", "x")


class TestWarnings:
    def test_for_all_values_with_a_single_valued_key(self) -> None:
        # [multi] "Do not use the condition set operators ForAllValues or ForAnyValue with single-valued context
        # keys ... can result in overly permissive policies." ForAllValues is true when the key is absent.
        block = {"ForAllValues:StringEquals": {"aws:username": "ana"}}
        (warning,) = warnings_of(block)
        assert warning.startswith(f"{PATH}.ForAllValues:StringEquals.aws:username: ") and "absent" in warning
        assert holds(block, {})

    def test_single_valued_operator_with_a_multivalued_key(self) -> None:
        # [analyzer] Missing qualifier: "The request context key has multiple values. Use the ForAllValues or
        # ForAnyValue condition key qualifiers in your policy."
        for key in ("aws:TagKeys", "aws:PrincipalServiceNamesList", "aws:CalledVia", "aws:SourceOrgPaths",
                    "aws:PrincipalOrgPaths"):
            (warning,) = warnings_of({"StringLike": {key: "a*"}})
            assert key in warning and "ForAnyValue" in warning
        assert warnings_of({"ForAnyValue:StringLike": {"aws:TagKeys": "a*"}}) == ()
        assert warnings_of({"Null": {"aws:TagKeys": "false"}}) == ()

    def test_clean_policies_have_no_warnings(self) -> None:
        assert warnings_of({"StringEquals": {"aws:username": "ana"}, "Bool": {"aws:SecureTransport": "true"}}) == ()

    def test_empty_blocks(self) -> None:
        assert compile_conditions({}, PATH)[0] == ()
        assert warnings_of({})
        assert warnings_of({"StringEquals": {}})


class TestClauses:
    def test_clauses_compare_by_what_was_written(self) -> None:
        first = compile_ok({"StringLike": {"aws:username": ["a*", "b"]}})
        second = compile_ok({"StringLike": {"aws:username": ["a*", "b"]}})
        assert first == second and hash(first) == hash(second)
        assert first[0].operator == "StringLike" and first[0].key == "aws:username"
        assert first[0].values == ("a*", "b")


# --- property tests --------------------------------------------------------------------------------

BASES = [
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike",
    "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
    "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals", "DateNotEquals", "DateLessThan",
    "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress",
    "NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Null",
]
KEYS = ["aws:username", "aws:TagKeys", "aws:SourceIp", "aws:CurrentTime", "s3:max-keys", "aws:PrincipalArn", "k"]

operator_names = st.one_of(
    st.builds(
        lambda prefix, base, suffix: prefix + base + suffix,
        st.sampled_from(["", "ForAllValues:", "ForAnyValue:", "ForAnyValues:", "forallvalues:", ":"]),
        st.sampled_from(BASES) | st.text(max_size=12),
        st.sampled_from(["", "IfExists", "ifexists"]),
    ),
    st.text(max_size=20),
)
scalar_texts = st.sampled_from(
    ["", "*", "a*", "?", "true", "False", "10", "-1.5", "abc", "2020-01-01T00:00:00Z", "1563278400",
     "203.0.113.0/24", "2001:DB8::/64", "YQ==", "arn:aws:iam::*:user/*", "${aws:username}", "${", "${}",
     "${aws:username, 'x'}", "${*}"]
) | st.text(max_size=15)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | scalar_texts
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
condition_blocks = st.one_of(
    st.dictionaries(
        operator_names,
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), json_values, max_size=3) | json_values,
        max_size=4,
    ),
    json_values,
)
context_values = st.one_of(
    st.booleans(), st.integers(), scalar_texts, st.lists(scalar_texts | st.integers(), max_size=4)
)
contexts = st.dictionaries(st.sampled_from(KEYS) | st.text(min_size=1, max_size=8), context_values, max_size=6)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(block=condition_blocks, variables=st.booleans())
def test_compile_raises_nothing_but_policy_error(block: object, variables: bool) -> None:
    try:
        clauses, warnings = compile_conditions(block, PATH, variables=variables)
    except PolicyError as error:
        assert error.path.startswith(PATH)
        return
    assert all(isinstance(clause, ConditionClause) for clause in clauses)
    assert all(isinstance(warning, str) for warning in warnings)


FAMILY_VALUES = {
    "String": ["", "*", "a*", "abc", "A?C", "${aws:username}", "${aws:username, 'x'}", "${*}"],
    "Numeric": ["10", "-1.5", "0"],
    "Date": ["2020-01-01T00:00:00Z", "1563278400", "2019-07-16"],
    "Bool": ["true", "false"],
    "Binary": ["YQ==", "QUJD"],
    "Ip": ["203.0.113.0/24", "2001:DB8::/64", "10.0.0.1"],
    "NotIp": ["203.0.113.0/24", "2001:DB8::/64"],
    "Arn": ["arn:aws:iam::*:user/*", "arn:aws:s3:::b*", "*", "arn:aws:iam::111122223333:role/${aws:username}"],
    "Null": ["true", "false"],
}


def _family(base: str) -> str:
    return next(family for family in FAMILY_VALUES if base.startswith(family))


def _clauses(base: str) -> st.SearchStrategy:
    """Operator name and keys with values of the operator's own type: such blocks always compile."""
    values = st.sampled_from(FAMILY_VALUES[_family(base)])
    operator = st.builds(
        lambda prefix, suffix: prefix + base + ("" if base == "Null" else suffix),
        st.sampled_from(["", "ForAllValues:", "ForAnyValue:"]), st.sampled_from(["", "IfExists"]),
    )
    return st.tuples(operator, st.dictionaries(st.sampled_from(KEYS), values | st.lists(values, min_size=1, max_size=3),
                                               min_size=1, max_size=3))


valid_blocks = st.lists(st.sampled_from(BASES).flatmap(_clauses), min_size=1, max_size=4).map(dict)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(block=valid_blocks, context=contexts)
def test_evaluation_never_raises(block: dict, context: dict) -> None:
    clauses, _ = compile_conditions(block, PATH)  # well-typed values: it must compile
    request = RequestContext.of(context)
    for clause in clauses:
        assert isinstance(clause.evaluate(request), bool)
        assert all(key == key.lower() for key in clause.keys_read)


pattern_texts = st.text(alphabet="ab:*?/", max_size=14)
arn_values = st.text(alphabet="ab:/", max_size=16)


@settings(max_examples=500)
@given(patterns=st.lists(pattern_texts, min_size=1, max_size=3), value=arn_values)
def test_precompiled_matching_agrees_with_pattern(patterns: list[str], value: str) -> None:
    """The one-regex compilation of StringLike/ArnLike decides exactly as Pattern.matches does."""
    request = RequestContext.of({"k": value})
    (like,) = compile_ok({"StringLike": {"k": patterns}})
    (arn,) = compile_ok({"ArnLike": {"k": patterns}})
    assert like.evaluate(request) == any(Pattern.compile(p).matches(value, request) for p in patterns)
    assert arn.evaluate(request) == any(Pattern.compile(p, arn=True).matches_components(value, request)
                                        for p in patterns)


@settings(max_examples=300)
@given(patterns=st.lists(pattern_texts, max_size=3), values=st.none() | arn_values | st.lists(arn_values, max_size=3))
def test_for_all_not_like_is_the_negation_of_for_any_like(patterns: list[str], values: object) -> None:
    """De Morgan across set operators holds for present, empty and absent keys alike."""
    request = RequestContext.of({} if values is None else {"k": values})
    (for_all,) = compile_ok({"ForAllValues:StringNotLike": {"k": patterns}})
    (for_any,) = compile_ok({"ForAnyValue:StringLike": {"k": patterns}})
    assert for_all.evaluate(request) == (not for_any.evaluate(request))


@settings(max_examples=300)
@given(
    pair=st.sampled_from([
        ("StringEquals", "StringNotEquals"), ("StringLike", "StringNotLike"), ("ArnLike", "ArnNotLike"),
        ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"), ("NumericEquals", "NumericNotEquals"),
        ("DateEquals", "DateNotEquals"), ("IpAddress", "NotIpAddress"),
    ]),
    policy=st.lists(st.sampled_from(["10", "1563278400", "10.0.0.0/8", "a*", "A", "arn:aws:s3:::b"]), min_size=1),
    value=st.sampled_from(["10", "1563278400", "10.1.1.1", "abc", "a", "arn:aws:s3:::b", ""]),
)
def test_negated_operator_is_the_complement_on_a_present_key(pair: tuple[str, str], policy: list[str],
                                                             value: str) -> None:
    positive, negated = pair
    try:
        (yes,) = compile_ok({positive: {"k": policy}})
        (no,) = compile_ok({negated: {"k": policy}})
    except PolicyError:
        return
    request = RequestContext.of({"k": value})
    assert yes.evaluate(request) != no.evaluate(request)
