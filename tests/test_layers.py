"""The package's layers: a module imports only its own layer and the layers below it, never one above.

Layers, lowest first: the base modules (errors, files, heap), iam, support, snapshot, analysis, report,
cli. ``supportkit/__init__.py`` (the lazy public API) and ``__main__`` stand above them all. ``iam`` is
pure as well: no pandas, numpy or pyarrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "supportkit"
LAYERS = ["base", "iam", "support", "snapshot", "analysis", "report", "cli"]
TOP = {"__init__", "__main__"}


def layer_of(module: str) -> str | None:
    """The layer of ``supportkit.x.y`` (None for the package's top-level API modules)."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in TOP:
        return None
    return parts[1] if parts[1] in LAYERS else "base"


def imports(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, at any depth (function-level imports count too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def module_name(path: Path) -> str:
    return ".".join(("supportkit", *path.relative_to(PACKAGE).with_suffix("").parts))


def test_every_layer_has_modules() -> None:
    layers = {layer_of(module_name(path)) for path in MODULES}
    assert set(LAYERS) <= layers


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_module_imports_a_higher_layer(path: Path) -> None:
    own = layer_of(module_name(path))
    if own is None:
        return
    upward = [
        f"line {line}: {name}" for line, name in imports(path)
        if name.startswith("supportkit.") and (other := layer_of(name)) is not None
        and LAYERS.index(other) > LAYERS.index(own)
    ]
    assert upward == []
    if own == "iam":
        heavy = [f"line {line}: {name}" for line, name in imports(path) if name.split(".")[0] in {"pandas", "numpy", "pyarrow"}]
        assert heavy == []
