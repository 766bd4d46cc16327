"""The fuzzing harness itself (scripts/fuzz.py) runs and finds nothing in a few cases; .ci/run makes the long pass."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fuzz.py"


def test_a_short_fuzz_pass_has_no_traceback_nor_hang():
    spec = importlib.util.spec_from_file_location("fuzz", SCRIPT)
    fuzz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fuzz)
    lines = []
    counts = fuzz.run(cases=40, seed=11, start=0, workers=1, limit=60, show=False, report=lines.append)
    assert counts["traceback"] == counts["hang"] == counts["lost"] == 0, lines
    assert counts["result"] + counts["clean error"] == 40
