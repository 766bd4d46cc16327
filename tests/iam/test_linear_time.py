"""Hostile policy input: every pattern and variable operation stays linear in its input (issue 12).

Each case runs in a fresh interpreter with a generous limit (``bounded``): the limit is not a timing
assertion, it only catches the seconds-to-minutes blow-ups that super-linear algorithms give.
"""

from supportkit.iam.context import RequestContext
from supportkit.iam.patterns import Pattern


def test_a_policy_variable_padded_with_spaces_compiles_in_bounded_time(bounded):
    # ${<2,000 spaces>a<2,000 spaces>} took ~43 s: cubic backtracking in the default-value pattern.
    out = bounded(
        "from supportkit.iam.patterns import Pattern\n"
        "p = Pattern.compile('arn:aws:s3:::${' + ' ' * 4000 + 'a' + ' ' * 4000 + '}', arn=True)\n"
        "print(p.variables)\n"
    )
    assert out.strip() == "('a',)"


def test_a_padded_variable_in_a_stringlike_condition_is_bounded(bounded):
    out = bounded(
        "from supportkit.iam.conditions import compile_conditions\n"
        "from supportkit.iam.context import RequestContext\n"
        "v = '${' + ' ' * 4000 + 'aws:username' + ' ' * 4000 + '}'\n"
        "(clause,) = compile_conditions({'StringLike': {'k': v}}, 'Condition')[0]\n"
        "print(clause.evaluate(RequestContext.of({'k': 'bob', 'aws:username': 'bob'})))\n"
    )
    assert out.strip() == "True"


def test_a_variable_default_keeps_its_meaning():
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
    # "${aws:PrincipalTag/team, 'company-wide'}": the default applies when the key is absent.
    pattern = Pattern.compile("${ aws:PrincipalTag/team , 'company-wide' }/*")
    assert pattern.matches("company-wide/x", RequestContext.of({}))
    assert pattern.matches("red/x", RequestContext.of({"aws:PrincipalTag/team": "red"}))


def test_a_million_character_resource_compiles_in_bounded_time(bounded):
    # 1,000,000 characters without wildcards took ~35 s: the regex was built by repeated string +=.
    out = bounded(
        "from supportkit.iam.policy import parse_policy\n"
        "from supportkit.iam.context import EMPTY_CONTEXT\n"
        "r = 'arn:aws:s3:::' + 'a' * 1_000_000\n"
        "p = parse_policy({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': r}]})\n"
        "print(p.statements[0].matches_resource(r, EMPTY_CONTEXT), p.statements[0].matches_resource(r + 'b', EMPTY_CONTEXT))\n"
    )
    assert out.split() == ["True", "False"]


def test_wildcard_regex_size_is_linear_in_the_pattern():
    from supportkit.iam.patterns import wildcard_regex

    for n in (1_000, 10_000):
        assert len(wildcard_regex([(ch, True) for ch in "a*" * n])) <= 12 * 2 * n
