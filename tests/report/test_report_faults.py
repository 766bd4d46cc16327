"""Faults that must not lose work (issue 12): signals, dead workers, full disks, read-only folders.

Accounts run a tiny notebook of the pipeline's contract (parameters cell, headline output) instead of
the packaged report, so that a run costs kernel start-ups only; the notebook misbehaves on cue: it
kills its worker process or its own kernel (as the out-of-memory killer would) or sleeps (so that a signal
finds it running).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from supportkit.cli.main import main
from supportkit.report import pipeline
from supportkit.report.pipeline import (
    HEADLINE_LABELS,
    HEADLINE_MIME,
    SEVERITIES,
    run_reports,
)

SANDBOX = Path(__file__).parents[1] / "data" / "accounts" / "sandbox"
ROOT = Path(__file__).resolve().parents[2]
CUES = f"""
import os, time
from IPython.display import display
if "oom" in analysis:
    os.kill(os.getppid(), 9)
if "dead" in analysis or title == "dead":
    os.kill(os.getpid(), 9)
if "slow" in analysis:
    time.sleep(300)
display({{{HEADLINE_MIME!r}: {json.dumps({**{key: 0 for key in HEADLINE_LABELS},
                                          "severities": {key: 0 for key in SEVERITIES}})}}}, raw=True)
"""


def tiny_notebook(folder: Path) -> Path:
    parameters = nbformat.v4.new_code_cell(
        'analysis = ""\nsnapshot = ""\naccount_id = ""\ncontext = {}\ntitle = ""\nscps = ""\nrcps = ""')
    parameters.metadata["tags"] = ["parameters"]
    book = nbformat.v4.new_notebook(cells=[parameters, nbformat.v4.new_code_cell(CUES)])
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "tiny.ipynb"
    nbformat.write(book, path)
    return path


def snapshots(folder: Path, *names: str) -> list[Path]:
    found = []
    for name in names:
        shutil.copytree(SANDBOX, folder / name)
        found.append(folder / name)
    return found


@pytest.fixture
def temporary(monkeypatch):
    """A temporary folder of the test's own, for what the run puts in one: tmp_path's would be too long a
    folder for the kernels' Unix sockets (108 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="sk-"))
    yield folder
    shutil.rmtree(folder)


def test_a_worker_killed_midway_costs_only_its_account(tmp_path, temporary, monkeypatch):
    # One worker killed broke the process pool: every account of the batch failed. Now it is retried once
    # (it dies again), reported, and the other accounts get their reports.
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    summary = run_reports(snapshots(tmp_path, "a", "oom", "b"), tmp_path / "out", workers=2, quiet=True,
                          notebook=tiny_notebook(tmp_path))
    assert not list(temporary.iterdir())  # the killed workers' kernel sockets too: the run's folder held them
    by_name = {report.source.name: report for report in summary.accounts}
    assert by_name["a"].ok and by_name["b"].ok, summary.accounts
    assert "worker process died 2 times" in by_name["oom"].error
    assert "worker process died" in (tmp_path / "out" / "index.html").read_text()


DEAD_KERNEL_RUN = """
import json, sys
from pathlib import Path
from supportkit.report.pipeline import run_reports
out, notebook, executor, workers, title, *sources = sys.argv[1:]
summary = run_reports(list(map(Path, sources)), Path(out), workers=int(workers), quiet=True, notebook=Path(notebook),
                      executor=executor, title=title)
print(json.dumps({report.source.name: report.error for report in summary.accounts}))
"""


@pytest.mark.parametrize("executor, workers, names, title", [
    ("local", 1, ("a", "dead", "b"), ""),
    ("local", 2, ("a", "dead", "b"), ""),
    ("dask", 1, ("a", "dead", "b"), ""),
    ("dask", 2, ("a", "dead", "b"), ""),
    ("local", 1, ("alone",), "dead"),  # one account: it runs in the command's own process
])
def test_a_kernel_killed_midway_fails_its_account_and_the_next_account_gets_a_new_kernel(
        tmp_path, executor, workers, names, title):
    # The blocking kernel client waited for a reply from a dead kernel forever: the run never ended.
    # The cue's cell is [3]: the notebook's parameters cell, then papermill's injected one, then the cue.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "out"
    try:
        done = subprocess.run(
            [sys.executable, "-c", DEAD_KERNEL_RUN, str(out), str(tiny_notebook(tmp_path)), executor, str(workers),
             title, *map(str, snapshots(tmp_path, *names))],
            capture_output=True, text=True, env=env, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.fail("the run hung on the dead kernel")
    errors = json.loads(done.stdout)
    died = "the kernel died in notebook cell [3] (killed by SIGKILL, as the out-of-memory killer does)"
    assert {name for name, error in errors.items() if error is None} == set(names) - {"dead", "alone"}, errors
    assert all(died in errors[name] for name in names if name in ("dead", "alone")), errors
    assert died in (out / "index.html").read_text()
    assert "Kernel died" not in done.stderr, done.stderr  # nbclient's own log line, beside the pipeline's
    # The cells run until the kernel died are kept, as papermill keeps them for a cell that fails: the notebook's
    # parameters cell and papermill's injected one, with the run's title.
    for name in set(names) & {"dead", "alone"}:
        (kept,) = out.glob(f"*{name}.ipynb") if name == "dead" else out.glob("*.ipynb")
        cells = nbformat.read(kept, as_version=4).cells
        assert "injected-parameters" in cells[1].metadata["tags"] and f"title = {json.dumps(title)}" in cells[1].source


DRIVER = """
import sys
from pathlib import Path
from supportkit.report.pipeline import run_reports
summary = run_reports([Path(p) for p in sys.argv[3:]], Path(sys.argv[1]), workers=2, quiet=True, notebook=Path(sys.argv[2]))
print(summary.stopped, flush=True)
sys.exit(summary.exit_status)
"""


def start_run(tmp_path: Path, temporary: Path) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / "out"
    sources = snapshots(tmp_path, "a", "slow")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "TMPDIR": str(temporary)}
    process = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(out), str(tiny_notebook(tmp_path)), *map(str, sources)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(out.glob("*-a.html")) or not any(  # both snapshots are one account: stems are id-name
            "ipykernel" in " ".join(p.cmdline()) for p in psutil.Process(process.pid).children(recursive=True)):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    time.sleep(1)  # the slow account's kernel is in its sleep
    return process, out


def descendants_gone(processes: list[psutil.Process], within: float = 20) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(processes, timeout=within)
    return alive


@pytest.mark.parametrize("signal_number, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_workers_and_leaves_an_index_of_what_finished(tmp_path, temporary, signal_number, status):
    process, out = start_run(tmp_path, temporary)
    workers = psutil.Process(process.pid).children(recursive=True)
    os.killpg(process.pid, signal_number)  # a terminal's Ctrl-C reaches the whole group; SIGTERM to all is harsher
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == status, stderr
    assert stdout.strip() == signal.Signals(signal_number).name
    assert "Traceback" not in stderr, stderr
    assert not descendants_gone(workers)
    assert not list(temporary.iterdir())  # the killed workers' kernel sockets too: the run's folder held them
    index = (out / "index.html").read_text()
    assert '-a.html"' in index and f"not finished: the run was stopped by {signal.Signals(signal_number).name}" in index


@pytest.mark.parametrize("accounts", [("a",), ("a", "b")])
def test_a_signal_before_the_output_folder_exists_still_leaves_an_index(tmp_path, temporary, monkeypatch, accounts):
    # A Ctrl-C in the first second of a run: writing the index then failed ("index.html: No such file or
    # directory (the index was not written ...)"), instead of saying that the run was stopped.
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    monkeypatch.setattr(pipeline, "validate_parameters", lambda *_: os.kill(os.getpid(), signal.SIGINT))
    summary = run_reports(snapshots(tmp_path, *accounts), tmp_path / "out", workers=2, quiet=True,
                          notebook=tiny_notebook(tmp_path))
    assert summary.stopped == "SIGINT"
    assert (tmp_path / "out" / "index.html").read_text().count("not finished: the run was stopped by SIGINT") == len(
        accounts)
    assert not list(temporary.iterdir())


TWO_RUNS = """
import sys
from pathlib import Path
from supportkit.report.pipeline import run_reports
out, notebook, one, *two = map(Path, sys.argv[1:])
first = run_reports([one], out / "one", quiet=True, notebook=notebook)  # in this process
second = run_reports(two, out / "two", workers=2, quiet=True, notebook=notebook)  # a pool forked from it
print(first.exit_status, second.exit_status, flush=True)
"""


def test_a_pooled_run_after_a_single_account_run_in_the_same_process_finishes(tmp_path):
    # A single account runs in the calling process; the pool of a later run forked from it inherited its
    # jupyter_core event loop without the thread running it, and every worker waited on it forever.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", TWO_RUNS, str(tmp_path / "out"), str(tiny_notebook(tmp_path)),
         *map(str, snapshots(tmp_path, "one", "a", "b"))],
        capture_output=True, text=True, env=env, timeout=300)
    assert done.stdout.split() == ["0", "0"], done.stderr


def test_workers_die_with_a_killed_parent(tmp_path, temporary):
    process, _ = start_run(tmp_path, temporary)
    workers = psutil.Process(process.pid).children(recursive=True)
    assert workers
    process.kill()  # SIGKILL: no handler runs in the parent
    process.communicate(timeout=30)
    assert not descendants_gone(workers)
    assert len(list(temporary.iterdir())) == 1  # what the run cannot remove is one folder, its own


def test_a_full_disk_when_writing_the_index_is_one_line(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "authorization-details.json").write_text("{not json")

    def full(path, text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pipeline, "write_text_atomically", full)
    assert main(["report", str(bad), "-o", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "index.html: No space left on device" in err, err


def test_a_truncated_executed_notebook_is_not_left_under_its_name(tmp_path):
    partial, final = tmp_path / ".a.partial.ipynb", tmp_path / "a.ipynb"
    partial.write_text('{"cells": [')  # what a full disk leaves
    pipeline._keep_notebook(partial, final)
    assert not final.exists() and not partial.exists()
    nbformat.write(nbformat.v4.new_notebook(), partial)
    pipeline._keep_notebook(partial, final)
    assert nbformat.read(final, as_version=4) is not None and not partial.exists()
