"""Wildcards in Action, Resource and condition values: AWS's documented matches, in bounded time."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from supportkit.iam.conditions import compile_conditions
from supportkit.iam.context import EMPTY_CONTEXT, RequestContext
from supportkit.iam.patterns import Pattern, wildcard_regex
from supportkit.iam.policy import parse_policy


def test_resource_wildcards_match_what_the_iam_user_guide_lists():
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
    # "arn:aws:s3:::amzn-s3-demo-bucket/*/test/*" - "The wildcards in the ARN apply to all of the following
    # objects in the bucket" [...] "The ARN would not match the following objects".
    pattern = Pattern.compile("arn:aws:s3:::amzn-s3-demo-bucket/*/test/*", arn=True)
    matched = ["1/test/object.jpg", "1/2/test/object.jpg", "1/2/test/3/object.jpg", "1/2/3/test/4/object.jpg",
               "1///test///object.jpg", "1/test/.jpg", "/test/object.jpg", "1/test/"]
    unmatched = ["1-test/object.jpg", "test/object.jpg", "1/2/test.jpg"]
    for key in matched:
        assert pattern.matches(f"arn:aws:s3:::amzn-s3-demo-bucket/{key}", EMPTY_CONTEXT), key
    for key in unmatched:
        assert not pattern.matches(f"arn:aws:s3:::amzn-s3-demo-bucket/{key}", EMPTY_CONTEXT), key


def test_many_wildcards_are_matched_in_bounded_time():
    # A plain regex for "*a*a*a*a*b" backtracks polynomially (here ~10 s a match); the engine answers at once.
    crafted = "*a" * 4 + "b"
    value = "a" * 300
    policy = parse_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": f"support:{crafted}", "Resource": f"arn:aws:s3:::{crafted}"}]})
    (clause,) = compile_conditions({"StringLike": {"k": crafted}}, "Condition")[0]
    (arn_clause,) = compile_conditions({"ArnLike": {"k": f"arn:aws:s3:::{crafted}"}}, "Condition")[0]
    # Every star but the last sits in an atomic group, so a failed match never retries earlier stars.
    source = wildcard_regex([(ch, True) for ch in crafted], ".*", ".")
    assert re.sub(r"\(\?>[^()]*\)", "", source).count(".*") <= 1, source
    assert not policy.statements[0].matches_action(f"support:{value}")
    assert not policy.statements[0].matches_resource(f"arn:aws:s3:::{value}", EMPTY_CONTEXT)
    assert not clause.evaluate(RequestContext.of({"k": value}))
    assert not arn_clause.evaluate(RequestContext.of({"k": f"arn:aws:s3:::{value}"}))
    assert clause.evaluate(RequestContext.of({"k": value + "b"}))


def _plain(characters, star, one):
    return "".join(star if wild and ch == "*" else one if wild and ch == "?" else re.escape(ch)
                   for ch, wild in characters)


@settings(max_examples=500)
@given(st.lists(st.tuples(st.sampled_from("ab:*?"), st.booleans()), max_size=10), st.text("ab:", max_size=10),
       st.sampled_from([(".*", "."), ("[^:]*", "[^:]")]))
def test_bounded_regex_matches_exactly_what_the_plain_translation_matches(characters, value, kinds):
    star, one = kinds
    expected = re.fullmatch(_plain(characters, star, one), value, re.DOTALL) is not None
    assert (re.fullmatch(wildcard_regex(characters, star, one), value, re.DOTALL) is not None) == expected
