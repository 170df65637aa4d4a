"""Versions stated in several places agree: the package's, npm's, the tested Python range."""

from __future__ import annotations

import json
import re

import dash_file_cache as dfc
from tests.support.processes import ROOT


def test_package_json_states_the_python_version() -> None:
    """``version.py`` is the source; package.json and its lock must agree with it."""
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert package["version"] == dfc.__version__
    assert lock["version"] == lock["packages"][""]["version"] == dfc.__version__


def test_docs_state_the_tested_python_range() -> None:
    """The classifiers are the tested range: the test command runs their oldest and newest.

    The README and Getting started state the supported range, Development the tested one.
    """
    pyproject = (ROOT / "pyproject.toml").read_text()
    declared = sorted(
        re.findall(r'"Programming Language :: Python :: (3\.\d+)"', pyproject),
        key=lambda v: int(v.split(".")[1]),
    )
    oldest, newest = declared[0], declared[-1]
    assert f'requires-python = ">={oldest}"' in pyproject
    readme = (ROOT / "README.md").read_text()
    install = (ROOT / "docs" / "index.md").read_text()
    development = (ROOT / "docs" / "development.md").read_text()
    assert f"Python {oldest} to {newest}" in readme
    assert f"Python {oldest} to {newest}." in install
    assert f"**{oldest} and {newest} are tested**" in development
