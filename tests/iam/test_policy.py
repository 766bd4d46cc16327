"""The policy language: every way to write a document, and the typed error for every invalid one."""

import dataclasses
import json
import re
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportkit.iam.context import RequestContext
from supportkit.errors import PolicyError
from supportkit.iam.jsonobject import json_object
from supportkit.iam.policy import Effect, PolicyCache, parse_policy

SUPPORT_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["support:*"], "Resource": "*"}],
}


def test_document_as_dict_json_text_and_url_encoded_text_parse_alike():
    text = json.dumps(SUPPORT_ACCESS)
    for document in (SUPPORT_ACCESS, text, urllib.parse.quote(text), "  " + text + "\n"):
        policy = parse_policy(document)
        assert len(policy.statements) == 1
        assert policy.statements[0].effect is Effect.ALLOW
        assert policy.statements[0].matches_action("support:CreateCase")


def test_the_policy_cache_parses_a_document_once_and_keeps_no_failure():
    cache = PolicyCache()
    copy = json.loads(json.dumps(SUPPORT_ACCESS))
    assert cache.parse(SUPPORT_ACCESS) is cache.parse(copy)  # equal values: one parse, one Policy
    assert cache.parse(urllib.parse.quote(json.dumps(SUPPORT_ACCESS))) is cache.parse(SUPPORT_ACCESS)  # decoded first
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole", "Resource": "*"}]}
    assert cache.parse(trust, resource_policy=True).statements[0].principal is not None  # kept in a trust policy
    assert cache.parse(trust).statements[0].principal is None  # and ignored elsewhere: two entries
    with pytest.raises(PolicyError):
        cache.parse({"Statement": "nothing"})
    assert len(cache) == 4  # the URL-encoded text is known by itself too


def test_the_policy_cache_tells_json_types_apart_where_python_equality_does_not():
    """Bool compares "true"/"false" (IAM User Guide, condition operators): JSON true reads "true", 1 reads "1",
    which never matches, and ``True == 1`` in Python. Each document gets its own parse, in the condition cache too."""
    cache = PolicyCache()

    def document(value: object) -> dict:
        return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                                                        "Condition": {"Bool": {"aws:SecureTransport": value}}}]}

    assert document(True) == document(1) == document(1.0)
    secure = RequestContext.of({"aws:SecureTransport": True})
    for value, holds in ((True, True), (1, False), (1.0, False), (True, True)):
        (statement,) = cache.parse(document(value)).statements
        assert statement.conditions_hold(secure) is holds, value
    assert len(cache) == 3


def test_a_parsed_statement_and_policy_hold_every_field_of_their_class():
    policy = parse_policy(SUPPORT_ACCESS)
    for value in (policy, *policy.statements):
        assert {f.name for f in dataclasses.fields(value)} <= set(vars(value)), type(value).__name__


def test_a_document_repeating_a_key_never_gets_the_cached_result_of_its_valid_twin():
    """IAM User Guide, "Grammar of the IAM JSON policy language" (an element must not repeat a key): the
    document below decodes to the same dict as the valid one, JSON keeping the last "Effect"."""
    cache = PolicyCache()
    valid = '{"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}}'
    repeated = '{"Statement": {"Effect": "Allow", "Effect": "Deny", "Action": "*", "Resource": "*"}}'
    decoded = json.loads(repeated, object_pairs_hook=json_object)
    assert decoded == json.loads(valid)
    cache.parse(json.loads(valid, object_pairs_hook=json_object))
    with pytest.raises(PolicyError, match="'Effect' given more than once"):
        cache.parse(decoded)
    condition = '{"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": %s}}'
    cache.parse(json.loads(condition % '{"Bool": {"aws:SecureTransport": "false"}}', object_pairs_hook=json_object))
    with pytest.raises(PolicyError, match="given more than once"):  # the condition cache, likewise
        parse_policy(json.loads(condition % '{"Bool": {"aws:SecureTransport": "true", "aws:SecureTransport": "false"}}',
                                object_pairs_hook=json_object))


def test_statement_may_be_a_single_object_and_elements_may_be_strings():
    policy = parse_policy(
        {"Version": "2012-10-17", "Id": "x", "Statement": {"Sid": "One", "Effect": "Deny", "NotAction": "iam:*",
                                                          "NotResource": "arn:aws:s3:::b/*"}}
    )
    (statement,) = policy.statements
    assert policy.id == "x"
    assert statement.sid == "One"
    assert statement.not_action and statement.not_resource
    assert statement.matches_action("support:ResolveCase")
    assert not statement.matches_action("IAM:CreateUser")


def test_action_matching_is_case_insensitive_with_wildcards():
    policy = parse_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["Support:describe*", "support:Create?ase"], "Resource": "*"}]})
    statement = policy.statements[0]
    assert statement.matches_action("support:DescribeCases")
    assert statement.matches_action("SUPPORT:CREATECASE")
    assert not statement.matches_action("support:CreateCases")
    assert not statement.matches_action("support-console:DescribeDynamicHelp")


def test_resource_arn_never_matches_the_star_that_support_actions_are_requested_on():
    policy = parse_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "support:*", "Resource": "arn:aws:support:::case/*"}]})
    assert not policy.statements[0].matches_resource("*", RequestContext.of({}))


@pytest.mark.parametrize(
    "document, path, message",
    [
        ({"Version": "2012-10-17"}, "", "missing element Statement"),
        ({"Version": "2013-01-01", "Statement": []}, "Version", "must be"),
        ({"Version": "2012-10-17", "Statement": "x"}, "Statement", "must be an object or a list"),
        ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*"}]},
         "Statement[0]", "missing element Resource"),
        ({"Version": "2012-10-17", "Statement": [{"Effect": "allow", "Action": "*", "Resource": "*"}]},
         "Statement[0].Effect", "must be 'Allow' or 'Deny'"),
        ({"Version": "2012-10-17", "Statement": [{"Action": "*", "Resource": "*"}]},
         "Statement[0]", "missing element Effect"),
        ({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "NotAction": "s3:*", "Resource": "*"}]},
         "Statement[0]", "both Action and NotAction"),
        ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]},
         "Statement[0].Action", "empty list"),
        ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [7], "Resource": "*"}]},
         "Statement[0].Action[0]", "must be a string"),
        ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "support", "Resource": "*"}]},
         "Statement[0].Action[0]", "not an action of the form"),
        ({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "action": "support:*", "Resource": "*"}]},
         "Statement[0].action", "did you mean 'Action'"),
        ({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "support:*", "Resource": "*", "Condition": {"StringLikee": {"a:b": "c"}}}]},
         "Statement[0].Condition", "StringLikee"),
        ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:${aws:x"}]},
         "Statement[0].Resource[0]", "policy variable"),
        ([1, 2], "", "must be an object"),
        ("[1, 2]", "", "must be a JSON object"),
    ],
)
def test_invalid_documents_raise_one_typed_error_naming_the_json_path(document, path, message):
    with pytest.raises(PolicyError) as raised:
        parse_policy(document)
    assert raised.value.path == path
    assert message in str(raised.value)
    if path:
        assert str(raised.value).startswith(f"{path}: ")


def test_unknown_operator_error_reads_as_documented():
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringLikee": {"aws:username": "a"}}}]}
    with pytest.raises(PolicyError, match=r"^Statement\[2\]\.Condition: unknown operator 'StringLikee'"):
        parse_policy(document)


def test_broken_json_text_names_line_and_column():
    with pytest.raises(PolicyError, match=r"not valid JSON: .* line 2 column"):
        parse_policy('{"Version": "2012-10-17",\n "Statement": [}')


def test_json_text_past_python_limits_is_a_policy_error():
    with pytest.raises(PolicyError, match=r"^not valid JSON: nested too deeply$"):
        parse_policy("[" * 100_000 + "]" * 100_000)
    with pytest.raises(PolicyError, match=r"^not valid JSON: Exceeds the limit"):
        parse_policy('{"Id": ' + "9" * 5000 + "}")


def test_suspicious_but_valid_constructs_become_warnings():
    policy = parse_policy({"Statement": [
        {"Sid": "A", "Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "*"},
        {"Sid": "A", "Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:iam::*:*"}]})
    text = "\n".join(policy.warnings)
    assert "no Version" in text
    assert "Statement[0].Principal" in text
    assert "'A' is used by an earlier statement" in text
    assert "NotAction and NotResource" in text


def test_a_variable_before_the_fifth_colon_of_a_resource_is_a_warning():
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
    # "You can use a policy variable in the Resource element, but only in the resource portion of the ARN. This
    # portion of the ARN appears after the fifth colon (:). You can't use a variable to replace parts of the ARN
    # before the fifth colon, such as the service or account."
    policy = parse_policy({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": [
        "arn:aws:s3:::b/${aws:username}", "arn:aws:iam::${aws:PrincipalAccount}:user/*", "arn:aws:s3:::${*}x"]}]})
    assert policy.warnings == ("Statement[0].Resource[1]: AWS documents policy variables only in the resource part "
                               "of an ARN, after the fifth colon",)


def test_version_2008_keeps_policy_variables_literal():
    # IAM User Guide, policy variables: "in version 2008-10-17 ... variables are treated as literal strings"
    document = {"Version": "2008-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:username}"}]}
    statement = parse_policy(document).statements[0]
    context = RequestContext.of({"aws:username": "alice"})
    assert not statement.matches_resource("arn:aws:s3:::b/alice", context)
    assert statement.matches_resource("arn:aws:s3:::b/${aws:username}", context)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.sampled_from(["Allow", "Deny", "*", "support:*", "2012-10-17", "StringEquals", "aws:username"]),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(
        st.sampled_from(["Version", "Statement", "Effect", "Action", "NotAction", "Resource", "NotResource",
                         "Condition", "Sid", "Principal", "StringLike", "ForAnyValue:StringEquals", "aws:TagKeys",
                         "Null", "x"]),
        children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_random_documents_parse_or_raise_policy_error(document):
    try:
        policy = parse_policy(document)
    except PolicyError:
        return
    for statement in policy.statements:
        statement.matches_action("support:CreateCase")
        statement.matches_resource("*", RequestContext.of({}))
        statement.conditions_hold(RequestContext.of({"aws:username": "a", "aws:TagKeys": ["x"]}))


action_texts = st.text(alphabet="aS:*?-", min_size=1, max_size=8)


@settings(max_examples=400)
@given(st.lists(action_texts, min_size=1, max_size=6), st.text(alphabet="aSs:-", max_size=8))
def test_action_lists_match_like_a_case_insensitive_glob(patterns, action):
    """ActionSet groups patterns by service; it must decide exactly as one case-insensitive glob per pattern."""
    from supportkit.iam.policy import ActionSet

    def glob(pattern):
        return "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)

    expected = any(re.fullmatch(glob(p), action, re.IGNORECASE | re.DOTALL) for p in patterns)
    assert ActionSet.of(tuple(patterns)).matches(action) == expected


def test_a_key_given_twice_is_refused_with_its_json_path():
    """IAM User Guide, "Grammar of the IAM JSON policy language"
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html): "Individual elements
    must not contain multiple instances of the same key. For example, you cannot include the Effect block twice
    in the same statement."""
    two_effects = '{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Effect": "Allow", "Action": "*", "Resource": "*"}]}'
    with pytest.raises(PolicyError) as raised:
        parse_policy(two_effects)
    assert str(raised.value).startswith("Statement[0]: 'Effect' given more than once")
    two_operators = ('{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {'
                     '"StringEquals": {"aws:username": "a"}, "StringEquals": {"aws:username": "b"}}}}')
    with pytest.raises(PolicyError, match=r"^Statement.Condition: 'StringEquals' given more than once"):
        parse_policy(two_operators)
    two_keys = '{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bool": {"k": "true", "k": "false"}}}}'
    with pytest.raises(PolicyError, match=r"^Statement.Condition.Bool: 'k' given more than once"):
        parse_policy(two_keys)
    twice_top = '{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": []}'
    with pytest.raises(PolicyError, match="'Version' given more than once"):
        parse_policy(twice_top)


def test_services_are_the_prefixes_its_action_lists_name():
    """An action is "service:operation", the prefix naming the service (IAM JSON policy elements: Action,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html), matched
    case-insensitively: a policy whose Action lists name only other services covers none of a service's
    actions. A NotAction, or a wildcard in the prefix, may cover any service's."""
    def services(*statements):
        return parse_policy({"Version": "2012-10-17", "Statement": list(statements)}).services

    assert services({"Effect": "Allow", "Action": ["Support:Describe*", "s3:GetObject"], "Resource": "*"},
                    {"Effect": "Deny", "Action": "support:ResolveCase", "Resource": "*"}) == {"support", "s3"}
    assert services({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}) is None
    assert services({"Effect": "Allow", "Action": "*", "Resource": "*"}) is None
    assert services({"Effect": "Allow", "Action": "s*:Get*", "Resource": "*"}) is None
