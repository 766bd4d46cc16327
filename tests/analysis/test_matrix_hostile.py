"""Hostile matrices (issue 12): cost linear in the named check ARNs; outputs streamed in batches with unchanged
bytes, written atomically."""

import json

import pandas as pd
import pytest

ACCOUNT = "111122223333"


def _named_checks_account(folder, n):
    """One user whose policy allows Trusted Advisor on ``n`` distinct check ARNs, one statement each."""
    from supportkit.snapshot import load_account

    statements = [{"Effect": "Allow", "Action": "trustedadvisor:*",
                   "Resource": f"arn:aws:trustedadvisor:*:{ACCOUNT}:checks/security/C{i}"} for i in range(n)]
    user = {"UserName": "u", "Arn": f"arn:aws:iam::{ACCOUNT}:user/u", "UserPolicyList": [
        {"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}]}
    folder.mkdir()
    (folder / "authorization-details.json").write_text(json.dumps({"UserDetailList": [user]}))
    return load_account(folder)  # over AWS's inline policy size quota: warned, still evaluated


def _cost(account, monkeypatch):
    """What the matrix of ``account`` builds: regexes compiled, dense columns, named columns, table cells."""
    import supportkit.analysis.matrix as matrix_module
    from supportkit.iam import patterns

    engines = []
    decide_all = matrix_module._decide_all
    monkeypatch.setattr(matrix_module, "_decide_all", lambda engine, *rest: engines.append(engine) or decide_all(
        engine, *rest))
    patterns._compiled.cache_clear()
    matrix = matrix_module.build_matrix(account)
    engine, = engines
    cells = sum(t.size for tables in (engine.allow, engine.deny, engine.allow_named, engine.deny_named)
                for t in tables)
    scopes = sorted({(r.identity_type, r.decision, r.check_scope) for r in matrix[matrix.check_scope != ""]
                     .itertuples()})
    return patterns._compiled.cache_info().misses, engine.width, len(engine.named_action), cells, scopes


def test_thousands_of_statements_naming_check_arns_cost_linear_work(tmp_path, monkeypatch):
    # 800 such statements took ~8 s and 10,000 over 300 s: each named check ARN was a dense column of every
    # statement's tables, and every statement compiled its own regexes. The Trusted Advisor API takes check ARNs
    # (Service Authorization Reference, "Actions, resources, and condition keys for AWS Trusted Advisor",
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awstrustedadvisor.html: the
    # checks resource type); a user allowed on some named checks only is "some checks", the root user (every
    # permission in its account) "all checks".
    from supportkit.support.catalog import load_catalog

    check_actions = sum(a.takes_check_arns for a in load_catalog().actions)
    small = _cost(_named_checks_account(tmp_path / "small", 200), monkeypatch)
    large = _cost(_named_checks_account(tmp_path / "large", 2000), monkeypatch)
    expected = [("root", "allowed", "all checks"), ("user", "implicitDeny", "some checks")]
    assert small[4] == large[4] == expected
    assert small[0] == large[0]  # regexes compiled: as many for 2,000 checks as for 200
    assert small[1] == large[1] == len(load_catalog()) + check_actions  # dense columns: the catalog's + one each
    assert (small[2], large[2]) == (200 * check_actions, 2000 * check_actions)  # a named column per check action
    assert large[3] - small[3] == 1800 * check_actions  # each named column is one cell of one table


DEMO = __import__("pathlib").Path(__file__).parents[2] / "data" / "demo" / "workload-prod"


def _one_shot(matrix, fmt, path):
    """The output as written before streaming, in one piece (the reference for the streamed bytes)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    if fmt == "json":
        # With "/" written plain, as every command writes it (pandas alone escapes it as "\/").
        text = matrix.to_json(orient="records", lines=True).replace("\\/", "/")
        path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
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
    back = parquet.read().to_pandas()
    assert back.astype(str).equals(matrix.astype(str))
    for column in matrix.columns:  # categories read back in the same order, though each row group has its own
        if isinstance(matrix[column].dtype, pd.CategoricalDtype):
            assert list(back[column].cat.categories) == list(matrix[column].cat.categories), column
    # A row group's dictionary holds the identities of its own rows, not every identity of the account.
    first = parquet.read_row_group(0).column("identity_arn").chunk(0).dictionary.to_pylist()
    assert first == list(dict.fromkeys(matrix["identity_arn"].iloc[:500].astype(str)))


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
