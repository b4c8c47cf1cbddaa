"""Without the `local` extra (moto), as in the production image: everything imports, and the commands
that need the embedded AWS stop with one line naming the fix instead of a traceback.

moto is made unimportable in a child process by a sitecustomize.py on PYTHONPATH (an import hook, the
way a missing distribution fails), not by patching the project: the real console script runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from tests.deploy.terraform_model import ROOT

CLOUDTHRIFT = Path(sys.executable).with_name("cloudthrift")
FIX = "install cloudthrift[local]"

# What a production install lacks: moto and the server it brings (werkzeug comes with moto[server]).
_BLOCKER = """
import sys
from importlib.abc import MetaPathFinder


class _NotInstalled(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {"moto", "werkzeug"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())
"""


@pytest.fixture(scope="module")
def without_moto(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a child process in which moto and werkzeug cannot be imported."""
    hook = tmp_path_factory.mktemp("no-moto")
    (hook / "sitecustomize.py").write_text(textwrap.dedent(_BLOCKER))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDTHRIFT_", "DISCORD_", "DD_"))}
    env.update(PYTHONPATH=str(hook), DD_TRACE_ENABLED="false", AWS_REGION="us-east-1")
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=90)


def test_the_blocker_really_hides_moto(without_moto: dict[str, str], tmp_path: Path) -> None:
    """Guards the tests below: with the hook, `import moto` fails as on a production install."""
    for module in ("moto", "werkzeug.serving"):
        result = _run([sys.executable, "-c", f"import {module}"], without_moto, tmp_path)
        assert result.returncode == 1 and "ModuleNotFoundError" in result.stderr, result.stderr


@pytest.mark.parametrize("command", [["aws-emulator", "--port", "0"], ["local", "--once"]])
def test_commands_needing_the_embedded_aws_say_install_the_extra(
    without_moto: dict[str, str], tmp_path: Path, command: list[str]
) -> None:
    result = _run([str(CLOUDTHRIFT), *command], without_moto, tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert FIX in lines[0] and "moto" in lines[0], lines[0]


def test_the_backdater_says_install_the_extra(without_moto: dict[str, str], tmp_path: Path) -> None:
    code = (
        "from services.embedded_aws import LocalExtraMissing\n"
        "from services.estate import moto_backdater\n"
        "try:\n    moto_backdater()\nexcept LocalExtraMissing as exc:\n    print(exc)\n"
    )
    result = _run([sys.executable, "-c", code], without_moto, tmp_path)
    assert result.returncode == 0, result.stderr
    assert FIX in result.stdout


def test_every_module_but_the_emulator_works_without_moto(
    without_moto: dict[str, str], tmp_path: Path
) -> None:
    """The production image has no moto: nothing it runs may import it (the emulator refuses politely)."""
    code = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        import services, shared
        for package in (shared, services):
            for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
                if not module.name.endswith(".__main__"):  # that one runs the CLI
                    importlib.import_module(module.name)
        print(sorted(name for name in sys.modules if name.partition(".")[0] in {"moto", "werkzeug"}))
        """
    )
    result = _run([sys.executable, "-c", code], without_moto, ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("command", [["--help"], ["worker", "scanner", "--help"], ["serve", "--help"]])
def test_production_commands_start_without_moto(
    without_moto: dict[str, str], tmp_path: Path, command: list[str]
) -> None:
    result = _run([str(CLOUDTHRIFT), *command], without_moto, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_moto_is_an_extra_the_tests_get_and_production_does_not() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.lower().startswith(("moto", "werkzeug"))]
    extras = project["optional-dependencies"]
    assert [d for d in extras["local"] if d.startswith("moto[server]==")], extras["local"]
    assert "cloudthrift[local]" in extras["dev"], "dev.py and CI install [dev]: the tests need moto"
