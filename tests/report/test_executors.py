"""The executor seam of `supportkit report`: the local process pool and Dask distributed give the same outcomes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from supportkit.analysis.account_analysis import analyse
from supportkit.errors import SupportkitError
from supportkit.report.executors import (
    EXECUTORS,
    DaskExecutor,
    ExecutorSpec,
    LocalExecutor,
    make_executor,
    parse_executor,
)
from supportkit.report.html_page import CONDITIONALLY
from supportkit.report.pipeline import (
    HEADLINE_LABELS,
    add_report_arguments,
    run_reports,
)

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
MARK = "SUPPORTKIT_TEST_INITIALIZED"


def mark_process() -> None:
    os.environ[MARK] = "yes"


def square_or_fail(n: int) -> tuple[int, str | None]:
    if n == 3:
        raise ValueError("three is refused")
    return n * n, os.environ.get(MARK)


def start_then_sleep(folder: str) -> None:
    Path(folder, "started").write_text(str(os.getpid()))
    time.sleep(20)
    Path(folder, "finished").write_text("")


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


@pytest.mark.parametrize("stop", ["terminate", "error"])
def test_a_stopped_local_pool_leaves_no_thread_of_its_own_running(stop):
    """A run stopped by a signal (terminate) or an error ends its pool and then exits. Python 3.11's exit hook
    writes to the pipe of a pool's thread still winding down, without the lock the thread closes it under: the
    run's stderr then ended with "OSError: [Errno 9] Bad file descriptor" (seen in CI)."""
    for _ in range(8):  # the thread often ends in time even when not waited for: a few pools catch it
        with contextlib.suppress(ValueError), make_executor("local", 2) as engine:
            assert engine.map(abs, [-1, -2]) == [1, 2]  # the workers and the pool's thread are running
            manager = engine._pool._executor_manager_thread  # private: the thread that races the exit hook
            assert manager is not None and manager.is_alive()
            if stop == "terminate":
                engine.terminate()
                assert not manager.is_alive()
            else:
                raise ValueError("the run failed")
        assert not manager.is_alive()


def test_an_error_ends_the_running_jobs_of_a_local_pool_instead_of_waiting_for_them(tmp_path):
    # The run has failed: waiting for its running accounts, its error waited unseen, and a Ctrl-C meanwhile
    # replaced it (a review of the pool's exit).
    with pytest.raises(ValueError, match="the run failed"), make_executor("local", 1) as engine:
        engine._pool.submit(start_then_sleep, str(tmp_path))
        while not (tmp_path / "started").exists():
            time.sleep(0.05)
        raise ValueError("the run failed")
    worker = int((tmp_path / "started").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)
    assert not (tmp_path / "finished").exists()


def test_the_local_executor_takes_no_address():
    with pytest.raises(SupportkitError, match="takes no address"), make_executor(ExecutorSpec("local", "tcp://x:1"), 1):
        pass


def _listening() -> set[tuple[str, int]]:
    import psutil

    return {(c.laddr.ip, c.laddr.port) for c in psutil.Process().net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN}


def test_a_local_cluster_listens_on_free_loopback_ports_only_not_dask_s_8787():
    """Dask's scheduler serves HTTP even without a dashboard, by default on 8787 (taken by any other Dask run)."""
    import warnings

    before = _listening()
    with warnings.catch_warnings(record=True) as caught, make_executor("dask", 1) as engine:
        warnings.simplefilter("always")
        assert engine.map(abs, [-5]) == [5]
        opened = _listening() - before
    assert opened  # the scheduler's port and its HTTP server's
    assert all(ip == "127.0.0.1" and port != 8787 for ip, port in opened), opened
    assert not [w for w in caught if "8787" in str(w.message)]  # Dask warns when it falls back from a taken 8787


def test_a_local_cluster_leaves_nothing_in_the_temporary_folder(tmp_path, monkeypatch):
    # Dask's workers made dask-scratch-space there, and it stayed after every run.
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with make_executor("dask", 1) as engine:
        assert engine.map(abs, [-5]) == [5]
    assert list(tmp_path.iterdir()) == []


def test_a_local_cluster_that_cannot_start_leaves_nothing_in_the_temporary_folder(tmp_path, monkeypatch):
    import distributed

    def broken(**_):
        raise RuntimeError("Nanny failed to start.")

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setattr(distributed, "LocalCluster", broken)
    with pytest.raises(SupportkitError, match="^the local Dask cluster did not start: Nanny failed to start[.]$"), \
            make_executor("dask", 1):
        pass
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_dask_scheduler_is_a_one_line_error():
    unreachable = ExecutorSpec("dask", "tcp://127.0.0.1:9")
    with pytest.raises(SupportkitError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"), \
            make_executor(unreachable, 1):
        pass


def test_an_organization_reported_on_a_two_worker_local_cluster_isolates_a_failure_and_links_its_page(tmp_path):
    source = tmp_path / "org"
    for name in ("management", "workload-prod"):
        shutil.copytree(DEMO / name, source / name)
    broken = source / "broken"
    broken.mkdir()
    (broken / "authorization-details.json").write_text('{"UserDetailList": [', encoding="utf-8")
    organization = json.loads((DEMO / "organization.json").read_text(encoding="utf-8"))
    organization["accounts"] = [a for a in organization["accounts"] if a["folder"] in ("management", "workload-prod")]
    organization["accounts"].append({"id": "210987654321", "name": "broken", "folder": "broken"})
    (source / "organization.json").write_text(json.dumps(organization), encoding="utf-8")

    result = run_reports([source], tmp_path / "out", workers=2, quiet=True, executor="dask")

    by_name = {report.source.name: report for report in result.accounts}
    assert sorted(by_name) == ["broken", "management", "workload-prod"]
    assert not by_name["broken"].ok
    for name in ("management", "workload-prod"):
        expected = analyse(DEMO / name).summary
        report = by_name[name]
        assert report.ok, report.error
        counted = [*HEADLINE_LABELS, *(key + CONDITIONALLY for key in HEADLINE_LABELS)]
        assert report.headline == {key: expected[key] for key in counted if key in expected}
        assert report.html is not None and report.html.is_file()
    index = result.index.read_text(encoding="utf-8")
    assert index.count("<tr") == 4 and "1 failed" in index and 'href="organization.html"' in index
    assert result.exit_status == 1
    # The organization page: the management account's administrator reaches the production account's access role.
    assert result.organization == tmp_path / "out" / "organization.html"
    page = result.organization.read_text(encoding="utf-8")
    alice, role = "arn:aws:iam::111122223333:user/alice.admin", "arn:aws:iam::444455556666:role/OrganizationAccountAccessRole"
    assert f"{alice} -&gt; sts:AssumeRole -&gt; {role}" in page
    assert 'href="444455556666.html"' in page and 'href="111122223333.html"' in page
    assert "210987654321" in page  # the failed account is listed as without analysis


def test_an_organization_run_analyses_each_account_once_for_its_report_and_the_organization_page(tmp_path, monkeypatch):
    # The organization page analysed every account again after its report had. Counted in the workers, which
    # fork from this process after the patch (each appends a line to the log).
    from supportkit.analysis import account_analysis, organization as organization_module

    source = tmp_path / "org"
    for name in ("management", "workload-prod"):
        shutil.copytree(DEMO / name, source / name)
    organization = json.loads((DEMO / "organization.json").read_text(encoding="utf-8"))
    organization["accounts"] = [a for a in organization["accounts"] if a["folder"] in ("management", "workload-prod")]
    (source / "organization.json").write_text(json.dumps(organization), encoding="utf-8")
    log = tmp_path / "analysed.log"
    real = account_analysis.analyse

    def counted(snapshot, **options):
        with log.open("a", encoding="utf-8") as out:
            out.write(f"{Path(snapshot).name}\n")
        return real(snapshot, **options)

    monkeypatch.setattr(account_analysis, "analyse", counted)
    monkeypatch.setattr(organization_module, "analyse", counted)

    result = run_reports([source], tmp_path / "out", workers=2, quiet=True)

    assert result.exit_status == 0, result.failed
    assert sorted(log.read_text(encoding="utf-8").split()) == ["management", "workload-prod"]
    page = result.organization.read_text(encoding="utf-8")
    alice, role = "arn:aws:iam::111122223333:user/alice.admin", "arn:aws:iam::444455556666:role/OrganizationAccountAccessRole"
    assert f"{alice} -&gt; sts:AssumeRole -&gt; {role}" in page
