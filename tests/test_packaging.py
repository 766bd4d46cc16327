"""pyproject.toml is the single source of dependencies: environment.yml must install the same extras."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_pip_section_installs_every_extra_of_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = set(project["optional-dependencies"])
    text = (ROOT / "environment.yml").read_text()
    installs = re.findall(r"^\s*-\s*-e\s+\.\[([^\]]*)\]\s*$", text, flags=re.MULTILINE)
    assert len(installs) == 1, "environment.yml must install the project once, with its extras, through pip"
    assert set(installs[0].split(",")) == extras
    python = re.search(r"^\s*-\s*python\s*=\s*([\d.]+)\s*$", text, flags=re.MULTILINE)
    assert python and project["requires-python"] == f">={python.group(1)}"
    # No dependency is named in environment.yml besides python and pip: pyproject.toml is the only list.
    dependencies = text.split("dependencies:", 1)[1]
    conda_packages = re.findall(r"^  - ([A-Za-z][\w.-]*)", dependencies, flags=re.MULTILINE)
    assert set(conda_packages) <= {"python", "pip"}


def test_dependencies_pin_lower_bounds_only():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for group in project["optional-dependencies"].values():
        requirements += [r for r in group if not r.startswith("supportkit[")]
    for requirement in requirements:
        assert ">=" in requirement and "==" not in requirement and "<" not in requirement, requirement
