"""The executor seam of `supportkit report`: the local process pool and Dask distributed give the same outcomes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from supportkit.analysis.findings import summary
from supportkit.analysis.matrix import build_matrix
from supportkit.errors import SupportkitError
from supportkit.report.executors import (
    EXECUTORS,
    DaskExecutor,
    ExecutorSpec,
    LocalExecutor,
    make_executor,
    parse_executor,
)
from supportkit.report.pipeline import (
    HEADLINE_LABELS,
    add_report_arguments,
    run_reports,
)
from supportkit.snapshot import load_account

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
MARK = "SUPPORTKIT_TEST_INITIALIZED"


def mark_process() -> None:
    os.environ[MARK] = "yes"


def square_or_fail(n: int) -> tuple[int, str | None]:
    if n == 3:
        raise ValueError("three is refused")
    return n * n, os.environ.get(MARK)


def test_executor_names_parse_with_an_optional_address():
    assert parse_executor("local") == ExecutorSpec("local")
    assert parse_executor("dask") == ExecutorSpec("dask")
    assert parse_executor("dask=tcp://10.1.2.3:8786") == ExecutorSpec("dask", "tcp://10.1.2.3:8786")
    assert str(parse_executor("dask=tcp://h:8786")) == "dask=tcp://h:8786"
    assert set(EXECUTORS) == {"local", "dask"}
    with pytest.raises(SupportkitError, match="unknown executor 'ray'"):
        parse_executor("ray")
    with pytest.raises(SupportkitError, match="give an address"):
        parse_executor("dask=")


def test_the_report_command_refuses_an_unknown_executor_at_parse_time(tmp_path, capsys):
    import argparse

    parser = argparse.ArgumentParser()
    add_report_arguments(parser)
    assert parser.parse_args(["a", "-o", str(tmp_path), "--executor", "dask"]).executor == ExecutorSpec("dask")
    with pytest.raises(SystemExit):
        parser.parse_args(["a", "-o", str(tmp_path), "--executor", "spark"])
    assert "unknown executor 'spark'" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["local", "dask"])
def test_outcomes_stream_back_with_their_result_or_error_and_workers_are_initialized(name):
    with make_executor(name, 2, mark_process) as engine:
        assert isinstance(engine, {"local": LocalExecutor, "dask": DaskExecutor}[name])
        assert engine.map(abs, [-1, -2]) == [1, 2]
        outcomes = sorted(engine.stream(square_or_fail, [1, 2, 3, 4]), key=lambda outcome: outcome.index)
    assert [outcome.index for outcome in outcomes] == [0, 1, 2, 3]
    assert [outcome.result for outcome in outcomes] == [(1, "yes"), (4, "yes"), None, (16, "yes")]
    assert isinstance(outcomes[2].error, ValueError) and str(outcomes[2].error) == "three is refused"
    assert all(outcome.error is None for i, outcome in enumerate(outcomes) if i != 2)


def test_the_local_executor_takes_no_address():
    with pytest.raises(SupportkitError, match="takes no address"), make_executor(ExecutorSpec("local", "tcp://x:1"), 1):
        pass


def test_an_unreachable_dask_scheduler_is_a_one_line_error():
    unreachable = ExecutorSpec("dask", "tcp://127.0.0.1:9")
    with pytest.raises(SupportkitError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"), \
            make_executor(unreachable, 1):
        pass


def test_reports_on_a_two_worker_local_cluster_match_the_accounts_and_isolate_a_failure(tmp_path):
    source = tmp_path / "snapshots"
    for name in ("workload-prod", "sandbox-dev"):
        shutil.copytree(DEMO / name, source / name)
    broken = source / "broken"
    broken.mkdir()
    (broken / "authorization-details.json").write_text('{"UserDetailList": [', encoding="utf-8")

    result = run_reports([source], tmp_path / "out", workers=2, quiet=True, executor="dask")

    by_name = {report.source.name: report for report in result.accounts}
    assert [report.source.name for report in result.accounts] == ["broken", "sandbox-dev", "workload-prod"]
    assert not by_name["broken"].ok and "broken" in str(by_name["broken"].source)
    for name in ("workload-prod", "sandbox-dev"):
        account = load_account(DEMO / name)
        expected = summary(build_matrix(account), account)
        report = by_name[name]
        assert report.ok, report.error
        assert report.headline == {key: expected[key] for key in HEADLINE_LABELS}
        assert report.html is not None and report.html.is_file()
    index = result.index.read_text(encoding="utf-8")
    assert index.count("<tr") == 4 and "1 failed" in index
    assert result.exit_status == 1
