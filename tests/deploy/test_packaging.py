"""Packaging: dev.py, the one entry point of a fresh clone (standard library only; it accepts the Pythons
pyproject.toml declares, 3.11 to 3.13, refuses older ones in one line and warns about newer ones), and
the LICENSE that pyproject.toml names."""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import importlib.util
import subprocess
import sys
import tomllib
from types import ModuleType

import pytest
from packaging.specifiers import SpecifierSet

from tests.deploy.terraform_model import ROOT

DEV = ROOT / "dev.py"


@pytest.fixture(scope="module")
def dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev", DEV)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize("version", [(3, 11, 0), (3, 11, 7), (3, 12, 4), (3, 13, 1)])
def test_every_supported_python_is_accepted_silently(dev: ModuleType, version: tuple[int, ...]) -> None:
    assert dev.python_problem(version) is None
    assert dev.python_note(version) is None


@pytest.mark.parametrize("version", [(3, 9, 18), (3, 10, 14), (2, 7, 18)])
def test_an_older_python_is_refused_naming_the_minimum(dev: ModuleType, version: tuple[int, ...]) -> None:
    problem = dev.python_problem(version)
    assert problem == f"CloudThrift needs Python 3.11 or newer (this is {'.'.join(map(str, version))})"


def test_a_newer_python_than_checked_gets_a_note_not_a_refusal(dev: ModuleType) -> None:
    assert dev.python_problem((3, 14, 0)) is None
    note = dev.python_note((3, 14, 0))
    assert note and "3.13" in note and "3.14.0" in note


def test_dev_py_agrees_with_pyproject(dev: ModuleType) -> None:
    meta = project()
    allowed = SpecifierSet(meta["requires-python"])
    newest = f"{dev.NEWEST_CHECKED[0]}.{dev.NEWEST_CHECKED[1]}"
    assert f"{dev.OLDEST[0]}.{dev.OLDEST[1]}" in allowed
    assert "3.10" not in allowed
    for minor in range(dev.OLDEST[1], dev.NEWEST_CHECKED[1] + 1):
        assert f"3.{minor}" in allowed
        assert f"Programming Language :: Python :: 3.{minor}" in meta["classifiers"]
    assert f"Programming Language :: Python :: 3.{dev.NEWEST_CHECKED[1] + 1}" not in meta["classifiers"]
    assert newest in allowed, "no upper bound below the newest checked release"


def test_dev_py_uses_only_the_standard_library() -> None:
    tree = ast.parse(DEV.read_text())
    imported = {
        alias.name.partition(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.partition(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported and imported <= set(sys.stdlib_module_names) | {"__future__"}, sorted(imported)


def test_dev_py_runs_on_this_python_and_answers_usage() -> None:
    result = subprocess.run(
        [sys.executable, str(DEV), "nonsense"], capture_output=True, text=True, timeout=30, cwd=ROOT
    )
    assert result.returncode == 2 and result.stdout.startswith("usage: python3 dev.py"), result


# SHA-256 of the Apache License 2.0 exactly as the Apache Software Foundation publishes it (LICENSE-2.0.txt).
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def test_the_license_file_is_the_full_apache_2_text_pyproject_names() -> None:
    meta = project()
    assert meta["license"] == "Apache-2.0"
    assert meta["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_bytes()
    assert b"Apache License" in text[:200] and b"END OF TERMS AND CONDITIONS" in text
    assert hashlib.sha256(text).hexdigest() == APACHE_2_SHA256, "LICENSE differs from the published text"


def test_the_installed_distribution_declares_the_license() -> None:
    metadata = importlib.metadata.metadata("cloudthrift")
    assert metadata["License-Expression"] == "Apache-2.0"
    assert "LICENSE" in (metadata.get_all("License-File") or [])
