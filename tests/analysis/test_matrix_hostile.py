"""Hostile snapshots in the matrix: cost bounded by the input, output unchanged (issue 12)."""

import pytest

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


DEMO = __import__("pathlib").Path(__file__).parents[2] / "data" / "demo" / "workload-prod"


def _one_shot(matrix, fmt, path):
    """The output as written before streaming, in one piece (the reference for the streamed bytes)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    if fmt == "json":
        path.write_text(matrix.to_json(orient="records", lines=True).rstrip("\n") + "\n", encoding="utf-8")
    else:
        pa_csv.write_csv(pa.Table.from_pandas(matrix, preserve_index=False), str(path),
                         write_options=pa_csv.WriteOptions(quoting_style="needed"))


def test_outputs_are_written_in_batches_with_the_same_bytes(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    import supportkit.analysis.matrix as matrix_module
    from supportkit.snapshot import load_account

    matrix = matrix_module.build_matrix(load_account(DEMO))
    monkeypatch.setattr(matrix_module, "BATCH_ROWS", 500)
    assert len(matrix) > 2 * 500
    for fmt in ("csv", "json"):
        matrix_module.write_matrix(matrix, fmt, tmp_path / f"m.{fmt}")
        _one_shot(matrix, fmt, tmp_path / f"ref.{fmt}")
        assert (tmp_path / f"m.{fmt}").read_bytes() == (tmp_path / f"ref.{fmt}").read_bytes(), fmt
    matrix_module.write_matrix(matrix, "parquet", tmp_path / "m.parquet")
    parquet = pq.ParquetFile(tmp_path / "m.parquet")
    assert parquet.metadata.num_row_groups == -(-len(matrix) // 500)
    assert parquet.read().to_pandas().astype(str).equals(matrix.astype(str))


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_a_write_failing_midway_leaves_the_previous_file_and_says_so_in_one_line(tmp_path, monkeypatch, capsys, fmt):
    import supportkit.analysis.matrix as matrix_module
    from supportkit.cli.main import main

    target = tmp_path / f"m.{fmt}"
    target.write_bytes(b"previous")
    monkeypatch.setattr(matrix_module, "BATCH_ROWS", 500)
    batches = matrix_module._batches

    def full_disk(matrix):
        for i, batch in enumerate(batches(matrix)):
            if i == 2:
                raise OSError(28, "No space left on device")
            yield batch

    monkeypatch.setattr(matrix_module, "_batches", full_disk)
    assert main(["matrix", str(DEMO), "--format", fmt, "-o", str(target)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert err == [f"supportkit matrix: error: {target}: No space left on device"]
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]
