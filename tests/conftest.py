"""Shared test helpers."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]


# No timed tests: Hypothesis's per-example deadline (200 ms) failed a pattern test once on a loaded 2-core
# machine (645 ms, 0.34 ms on replay). Speed lives in benchmarks/.
settings.register_profile("supportkit", deadline=None)
settings.load_profile("supportkit")


def run_bounded(code: str, limit: float = 10.0) -> str:
    """Run ``code`` in a fresh interpreter and return its stdout; fail if it takes longer than ``limit``.

    Not a timing assertion: the limit is many times the expected cost, so only a super-linear blow-up
    (seconds to minutes) trips it, and a hang cannot block the suite.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=limit, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"did not finish within {limit} s:\n{code}")
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def bounded():
    return run_bounded
