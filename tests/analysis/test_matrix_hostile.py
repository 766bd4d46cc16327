"""Hostile snapshots in the matrix: cost bounded by the input, output unchanged (issue 12)."""

CHECK_POLICY = """
import json, pathlib, sys, tempfile
from supportkit.snapshot import load_account
from supportkit.analysis.matrix import build_matrix
n = int(sys.argv[1]) if len(sys.argv) > 1 else {n}
acct = "111122223333"
stmts = [{{"Effect": "Allow", "Action": "trustedadvisor:*",
          "Resource": f"arn:aws:trustedadvisor:*:{{acct}}:checks/security/C{{i}}"}} for i in range(n)]
user = {{"UserName": "u", "Arn": f"arn:aws:iam::{{acct}}:user/u",
        "UserPolicyList": [{{"PolicyName": "p", "PolicyDocument": {{"Version": "2012-10-17", "Statement": stmts}}}}]}}
folder = pathlib.Path(tempfile.mkdtemp())
(folder / "authorization-details.json").write_text(json.dumps({{"UserDetailList": [user]}}))
m = build_matrix(load_account(folder))
rows = m[m.check_scope != ""]
print(json.dumps(sorted({{(r.identity_type, r.decision, r.check_scope) for r in rows.itertuples()}})))
"""


def test_thousands_of_statements_naming_check_arns_cost_linear_time(bounded):
    # 800 such statements took ~8 s and 10,000 over 300 s: each named check ARN was evaluated against every
    # statement. The Trusted Advisor API takes check ARNs (Service Authorization Reference, "Actions, resources,
    # and condition keys for AWS Trusted Advisor": the checks resource type); a user allowed on some named
    # checks only is "some checks", the root user (every permission in its account) "all checks".
    out = bounded(CHECK_POLICY.format(n=3000), limit=30)
    assert out.strip() == (
        '[["root", "allowed", "all checks"], ["user", "implicitDeny", "some checks"]]'
    )
