#!/usr/bin/env python3
"""The two set-up commands of README.md: `python3 dev.py run` and `python3 dev.py test`.

Only the standard library is used here so that a fresh machine with nothing but Python (3.11, 3.12 or
3.13) can run it: it creates `.venv` when missing, (re)installs the project when pyproject.toml or the
constraints change, then hands over to the real command.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".cloudthrift-installed"
INPUTS = ("pyproject.toml", "constraints.txt")
OLDEST = (3, 11)  # pyproject.toml's requires-python
NEWEST_CHECKED = (3, 13)  # the newest CPython the pinned constraints have wheels for


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in INPUTS:
        path = ROOT / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def python_problem(version: tuple[int, ...]) -> str | None:
    """Why this interpreter cannot build the virtualenv, or None when it can."""
    if tuple(version[:2]) < OLDEST:
        return f"CloudThrift needs Python {OLDEST[0]}.{OLDEST[1]} or newer (this is {_dotted(version)})"
    return None


def python_note(version: tuple[int, ...]) -> str | None:
    """A warning for a CPython newer than the pins were checked against, or None.

    Such a release may lack wheels for the pinned compiled packages (pydantic-core, ddtrace, aiohttp):
    pip would then try to compile them, so say so up front rather than only in a compiler's output.
    """
    if tuple(version[:2]) > NEWEST_CHECKED:
        newest = f"{NEWEST_CHECKED[0]}.{NEWEST_CHECKED[1]}"
        return (
            f"note: the pinned dependencies are checked up to Python {newest}, this is {_dotted(version)}; "
            f"if pip starts compiling a package, use Python {OLDEST[0]}.{OLDEST[1]}-{newest}"
        )
    return None


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version[:3])


def ensure_venv() -> None:
    """Create the virtualenv and install the project with its test extras, only when something changed."""
    running = tuple(sys.version_info)
    problem = python_problem(running)
    if problem:
        sys.exit(problem)
    note = python_note(running)
    if note:
        print(note, file=sys.stderr)
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    wanted = _fingerprint()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("installing CloudThrift and its dependencies into .venv ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-c", str(ROOT / "constraints.txt"), "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "setup"}:
        print("usage: python3 dev.py run [cloudthrift local options] | test [pytest options] | setup")
        return 2
    ensure_venv()
    command, rest = argv[0], argv[1:]
    os.chdir(ROOT)
    # Compile the project's bytecode as pip does for an installed wheel: an editable checkout run with
    # PYTHONDONTWRITEBYTECODE set would otherwise compile every module from source at every start.
    subprocess.run([str(BIN / "python"), "-m", "compileall", "-q", "services", "shared"], check=False)
    if command == "setup":
        return 0
    if command == "run":
        args = [str(BIN / "cloudthrift"), "local", *rest]
    else:
        args = [str(BIN / "python"), "-m", "pytest", *rest]
    os.execv(args[0], args)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
