"""A command imports only its own stage's commands: `approve` starts without the report, doctor or savings.

The table in services/cli.py names which module adds which command; these tests hold it to what each
module really registers, and check in a fresh interpreter (the `cloudthrift` entry point) that running
one command leaves the other stages' modules unimported while `--help` still lists every command.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import typer

from services.cli import STAGE_COMMANDS

ROOT = Path(__file__).resolve().parent.parent


def _names(module: str) -> set[str]:
    app = typer.Typer()
    importlib.import_module(module).register(app)
    commands = {info.name or info.callback.__name__.replace("_", "-") for info in app.registered_commands}  # type: ignore[union-attr]
    return commands | {str(group.name) for group in app.registered_groups}


def test_the_table_names_exactly_the_commands_each_module_registers() -> None:
    for module, names in STAGE_COMMANDS.items():
        assert _names(module) == set(names), module


def _cloudthrift(*args: str) -> subprocess.CompletedProcess[str]:
    """The entry point in a fresh interpreter, printing which of our modules it imported."""
    code = (
        "import atexit, sys\n"
        "ours = lambda: sorted(m for m in sys.modules if m.startswith('services.'))\n"
        "atexit.register(lambda: print('IMPORTED', *ours()))\n"
        f"sys.argv = ['cloudthrift', *{list(args)!r}]\n"
        "from services.cli import main\n"
        "main()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDTHRIFT_", "DISCORD_"))}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _imported(done: subprocess.CompletedProcess[str]) -> set[str]:
    (line,) = [text for text in done.stdout.splitlines() if text.startswith("IMPORTED")]
    return set(line.split()[1:])


def test_approve_imports_the_notifiers_commands_and_no_other_stages() -> None:
    done = _cloudthrift("approve", "--help")
    assert done.returncode == 0, done.stderr[-2000:]
    imported = _imported(done)
    assert "services.notifier.cli" in imported
    others = {module for module in STAGE_COMMANDS if module != "services.notifier.cli"}
    assert imported.isdisjoint(others), imported & others
    assert not any(
        m.startswith(("services.report", "services.doctor", "services.executor")) for m in imported
    )


def test_help_and_unknown_commands_still_see_every_command() -> None:
    listed = _cloudthrift("--help")
    assert listed.returncode == 0, listed.stderr[-2000:]
    for names in STAGE_COMMANDS.values():
        for name in names:
            assert name in listed.stdout, name
    assert set(STAGE_COMMANDS) <= _imported(listed)
    unknown = _cloudthrift("aprove", "abc")
    assert unknown.returncode == 2 and "aprove" in unknown.stderr
