"""The notebooks are committed clean: no outputs, minimal metadata, a python3 kernel, no absolute paths.

That is the three in notebooks/ and the report notebook packaged in supportkit/notebooks/ (which must also keep
the cell tags supportkit.report.pipeline relies on). Running them is nbval's job (`pytest --nbval-lax notebooks/`, see
notebooks/README.md; tests/test_report.py runs the report notebook); these checks only read the files, so they
take milliseconds.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
REPORT_NOTEBOOK = Path(__file__).resolve().parents[2] / "supportkit" / "report" / "notebooks" / "account_report.ipynb"
COMMITTED = [*NOTEBOOKS, REPORT_NOTEBOOK]
DOCUMENTED = {"support_actions.ipynb", "explore_matrix.ipynb", "compare_snapshots.ipynb", "explore_organization.ipynb"}
NOTEBOOK_METADATA = {"kernelspec", "language_info"}
VOLATILE_CELL_METADATA = {"execution", "papermill", "ExecuteTime"}  # timings that Jupyter and papermill record

# Absolute filesystem paths, as they would leak from a developer's machine or a CI runner. IAM paths and ARNs
# (role/..., /aws-service-role/...) do not match: the first segment must be a filesystem root.
ABSOLUTE_PATHS = [
    re.compile(
        r"(?<![\w.:/-])/(?:home|Users|root|tmp|var|private|opt|usr|mnt|srv|etc|work|workspace|builds|github|runner)/"
    ),
    re.compile(r"(?<![\w])[A-Za-z]:[\\/]"),  # C:\... or C:/...
    re.compile(r"~[\\/]"),
    re.compile(r"file://"),
]


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def _ids(paths: list[Path]) -> list[str]:
    return [path.name for path in paths]


def test_the_documented_notebooks_are_present_and_described_in_the_readme():
    names = {path.name for path in NOTEBOOKS}
    assert DOCUMENTED <= names
    readme = (NOTEBOOKS_DIR / "README.md").read_text(encoding="utf-8")
    assert [name for name in sorted(names) if name not in readme] == []


@pytest.mark.parametrize("path", COMMITTED, ids=_ids(COMMITTED))
def test_notebook_is_valid_nbformat_4(path):
    notebook = _read(path)
    assert notebook.nbformat == 4
    nbformat.validate(notebook)


@pytest.mark.parametrize("path", COMMITTED, ids=_ids(COMMITTED))
def test_notebook_is_committed_without_outputs(path):
    notebook = _read(path)
    dirty = [
        f"cell {index} ({cell.get('id', '?')})"
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert dirty == [], f"clear the outputs: jupyter nbconvert --clear-output --inplace {path.name}"


@pytest.mark.parametrize("path", COMMITTED, ids=_ids(COMMITTED))
def test_notebook_has_a_python3_kernelspec_and_minimal_metadata(path):
    notebook = _read(path)
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3"
    assert notebook.metadata.get("language_info", {}).get("name") == "python"
    assert set(notebook.metadata) <= NOTEBOOK_METADATA, "keep only kernelspec and language_info"
    volatile = [
        f"cell {index}: {', '.join(sorted(VOLATILE_CELL_METADATA & set(cell.metadata)))}"
        for index, cell in enumerate(notebook.cells)
        if VOLATILE_CELL_METADATA & set(cell.metadata)
    ]
    assert volatile == []


@pytest.mark.parametrize("path", COMMITTED, ids=_ids(COMMITTED))
def test_notebook_contains_no_absolute_paths(path):
    text = path.read_text(encoding="utf-8")  # sources, metadata and (if any slipped through) outputs alike
    found = sorted({match.group(0) for pattern in ABSOLUTE_PATHS for match in pattern.finditer(text)})
    assert found == [], "locate files relative to the notebook (Path('..') / 'data' / 'demo')"


@pytest.mark.parametrize("path", COMMITTED, ids=_ids(COMMITTED))
def test_every_pandas_styler_gets_a_fixed_uuid(path):
    """A Styler's default id is random, so its HTML would differ run to run: each one must set its own."""
    code = "\n".join(cell.source for cell in _read(path).cells if cell.cell_type == "code")
    assert unstable_stylers(code) == []


def unstable_stylers(code: str) -> list[str]:
    """The Stylers that ``code`` creates without a fixed id: ``x.style`` not followed by ``.set_uuid(``, or
    ``Styler(`` without ``uuid=``."""
    found = [code[max(0, m.start() - 20):m.end() + 12] for m in re.finditer(r"(?<!formats)\.style\b", code)
             if not re.match(r"\s*\.\s*set_uuid\(", code[m.end():])]
    found += [code[m.start():m.start() + 60] for m in re.finditer(r"\bStyler\(", code)
              if "uuid=" not in code[m.start():code.find(")", m.start()) + 1]]
    return found


def test_the_styler_check_finds_a_styler_without_its_uuid():
    assert unstable_stylers("from pandas.io.formats.style import Styler\nframe.style.set_uuid('a').to_html()") == []
    assert len(unstable_stylers("a.style.set_uuid('a')\nb.style.format(escape='html').to_html()")) == 1
    assert len(unstable_stylers("Styler(frame, uuid='x')\nStyler(frame)")) == 1


def test_the_report_notebook_keeps_the_cell_tags_the_driver_reads():
    tags = [tag for cell in _read(REPORT_NOTEBOOK).cells for tag in cell.metadata.get("tags", [])]
    assert sorted(tags) == ["headline", "parameters"]


def test_the_absolute_path_patterns_catch_paths_and_spare_iam_names():
    def leaks(text: str) -> bool:
        return any(pattern.search(text) for pattern in ABSOLUTE_PATHS)

    for path in ("/home/ana/supportkit/data", "/Users/ana/x", "/tmp/pytest-1/x", "C:\\Users\\ana", "~/data",
                 "file:///x"):
        assert leaks(f'load_account("{path}")'), path
    for text in (
        'Path("..") / "data" / "demo"',
        "arn:aws:iam::444455556666:role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport",
        '{"Path": "/aws-service-role/support.amazonaws.com/"}',
        "arn:aws:iam::aws:policy/job-function/Billing",
        "https://docs.aws.amazon.com/awssupport/latest/user/accessing-support.html",
    ):
        assert not leaks(text), text
