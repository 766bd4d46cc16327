"""Matrix outputs (issue 12): streamed in batches with unchanged bytes, written atomically."""

import pandas as pd
import pytest

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
