"""The Bento is built from the repository root with the platform's own pins."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]


def test_bento_python_packages_are_the_project_dependencies():
    bento = yaml.safe_load((ROOT / "bentofile.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert bento["service"] == "serving.service:TX"
    assert bento["python"]["packages"] == project["dependencies"]
