"""The fuzzing harness itself (scripts/fuzz.py) runs and finds nothing in a few cases; .ci/run makes the long pass."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fuzz.py"


@pytest.fixture(scope="module")
def fuzz():
    spec = importlib.util.spec_from_file_location("fuzz", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_short_fuzz_pass_has_no_traceback_nor_hang(fuzz):
    lines = []
    counts = fuzz.run(cases=40, seed=11, start=0, workers=1, limit=60, show=False, report=lines.append)
    assert counts["traceback"] == counts["hang"] == counts["lost"] == 0, lines
    assert counts["result"] + counts["clean error"] == 40


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_the_watchdog_reads_cpu_time_as_the_kernel_counts_it(fuzz):
    """A starved worker is not a hung one: the limit is the worker's CPU time, which os.times also reports."""
    sum(i * i for i in range(2_000_000))  # some CPU time of our own to read
    before = os.times()
    measured = fuzz._cpu_seconds(os.getpid())
    after = os.times()
    assert before.user + before.system - 0.02 <= measured <= after.user + after.system + 0.02
