"""The Dockerfile, read (no Docker engine here): small base, two stages, pinned install, non-root user
that the ECS task definitions and compose agree with, only the sources the image needs, and no moto
unless built with the `local` extra."""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys
import tomllib

from tests.deploy.terraform_model import MODULE, ROOT, load_module

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def requirements(extras: str | None = None) -> list[str]:
    """What the build stage installs, by running the Dockerfile's own `python -c` with that EXTRAS."""
    (command,) = [a for k, a in instructions() if k == "RUN" and "requirements.txt" in a and "tomllib" in a]
    match = re.search(r'python -c "(.+?)"\s*>\s*requirements\.txt', command)
    assert match, command
    env = {k: v for k, v in os.environ.items() if k != "EXTRAS"}
    if extras is not None:
        env["EXTRAS"] = extras  # build arguments reach RUN as environment variables
    result = subprocess.run(
        [sys.executable, "-c", match.group(1)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def build_arg_default(name: str) -> str | None:
    for keyword, arguments in instructions():
        if keyword == "ARG" and arguments.partition("=")[0] == name:
            return arguments.partition("=")[2].strip('"')
    return None


def test_two_stages_on_python_311_slim() -> None:
    steps = instructions()
    args = dict(a.split("=", 1) for k, a in steps if k == "ARG" and "=" in a)
    stages = [a for k, a in steps if k == "FROM"]
    assert len(stages) == 2, "build stage + runtime stage"
    for stage in stages:
        image = stage.split()[0].replace("${PYTHON_IMAGE}", args.get("PYTHON_IMAGE", ""))
        assert image.startswith("python:3.11-slim"), image
    assert any("--from=build" in a for k, a in steps if k == "COPY"), "runtime copies only the venv"


def test_installs_with_the_constraints() -> None:
    installs = [a for k, a in instructions() if k == "RUN" and "pip install" in a]
    assert installs and all("--constraint constraints.txt" in a for a in installs)


def test_runs_as_the_non_root_user_the_task_definitions_expect() -> None:
    steps = instructions()
    users = [a for k, a in steps if k == "USER"]
    assert users == ["10001:10001"]
    assert any("useradd" in a and "--uid 10001" in a for k, a in steps if k == "RUN")
    ecs = load_module(MODULE).locals["app_container"]
    assert '"10001:10001"' in ecs or "10001:10001" in str(ecs)


def test_entrypoint_is_the_cli_and_the_scripts_exist() -> None:
    steps = instructions()
    assert ("ENTRYPOINT", '["cloudthrift"]') in steps
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["cloudthrift"] == "services.cli:main"


def test_the_default_image_installs_the_dependencies_and_no_moto() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert build_arg_default("EXTRAS") == "", "`docker build .` is the production image"
    for extras in (None, ""):
        assert requirements(extras) == project["dependencies"]
    assert not [r for r in requirements() if r.lower().startswith(("moto", "werkzeug"))]


def test_the_local_extra_adds_moto_for_the_aws_emulator() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    local = requirements("local")
    assert local == project["dependencies"] + project["optional-dependencies"]["local"]
    assert any(r.startswith("moto[server]==") for r in local)
    assert requirements(" local, ") == local, "spaces and empty items in the list are ignored"


def test_the_build_context_holds_what_the_image_copies() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def included(path: str) -> bool:
        keep = True
        for pattern in patterns:
            negated = pattern.startswith("!")
            if fnmatch.fnmatch(path, pattern.lstrip("!").rstrip("/")) or path.startswith(
                pattern.lstrip("!").rstrip("/") + "/"
            ):
                keep = negated
        return keep

    copied = [
        source
        for keyword, arguments in instructions()
        if keyword == "COPY" and "--from=" not in arguments
        for source in arguments.split()[:-1]
    ]
    assert copied
    for source in copied:
        assert (ROOT / source).exists(), source
        assert included(source), f"{source} is excluded by .dockerignore"
    for secret_or_bulk in (".env", ".venv", ".venv-tools", ".git", "tests", "terraform"):
        assert not included(secret_or_bulk), f"{secret_or_bulk} must stay out of the image"


def test_the_build_stage_copies_the_files_the_project_build_reads() -> None:
    """`pip install .` in the image builds from what was copied: readme and license files included."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    steps = instructions()
    install = next(i for i, (k, a) in enumerate(steps) if k == "RUN" and "--no-deps ." in a)
    copied = {
        source
        for keyword, arguments in steps[:install]
        if keyword == "COPY" and "--from=" not in arguments
        for source in arguments.split()[:-1]
    }
    needed = {project["readme"], *project["license-files"], "pyproject.toml", "shared", "services"}
    assert needed <= copied, f"copy before `pip install .`: {sorted(needed - copied)}"
