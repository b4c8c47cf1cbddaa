"""`cloudthrift`: the one command-line program (local default, bootstrap, workers, scans, DLQs...).

Each service adds its own subcommands through `register(app)` in `services/<name>/cli.py`, so this
module only holds what belongs to no single stage. What every command shares (settings, running a
coroutine, one-line errors) is in services/cli_support.py, which the stages import instead of this
module: this one imports them.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

# `settings` and `run` are re-exported for services/dlq_cli.py, which still imports them from here.
from services.cli_support import USAGE_ERROR, explain_or_raise, run, settings
from shared.errors import SettingsError

__all__ = ["app", "main", "run", "settings"]  # noqa: F822 (`app` comes from __getattr__ below)

# Which module adds which subcommands (its `register(app)`). A command imports only its own stage's
# module, the pattern click documents as "lazily loading subcommands": `cloudthrift approve` has no use
# for the executor's savings, the report's charts or the doctor's probes, and importing them all was
# about a tenth of its start-up (issue 13). tests/test_cli_lazy.py checks this table against what each
# module really registers, so a new command cannot be left out of it.
STAGE_COMMANDS: dict[str, tuple[str, ...]] = {
    "services.dlq_cli": ("dlq",),
    "services.kinds_cli": ("kinds",),
    "services.scanner.cli": ("scan",),
    "services.analyzer.cli": ("analysis",),
    "services.notifier.cli": ("serve", "pending", "findings", "approve", "reject", "snooze", "restore"),
    "services.executor.cli": ("savings",),
    "services.doctor.cli": ("doctor",),
    "services.report.cli": ("report",),
}
_registered: set[str] = set()


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"cloudthrift {version('cloudthrift')}")
        except PackageNotFoundError:
            typer.echo("cloudthrift (not installed as a package)")
        raise typer.Exit()


_app = typer.Typer(
    name="cloudthrift",
    help="Find idle AWS resources, explain them, ask a human, clean up safely.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Plain help: typer's rich panels label every flag `<bool>` and every value `<int>`/`<str>`.
    # Click's formatter shows flags as flags and values by their metavar (REGION, ARN, PORT...).
    rich_markup_mode=None,
)


@_app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Find idle AWS resources, explain them, ask a human, clean up safely."""


@_app.command()
def bootstrap() -> None:
    """Create the queues, dead-letter queues and ledger table on the configured endpoint (idempotent)."""
    from shared.aws import AwsClients
    from shared.bootstrap import bootstrap as do_bootstrap

    loaded = settings()

    async def go() -> None:
        async with AwsClients(loaded) as aws:
            report = await do_bootstrap(loaded, aws)
        for line in report.created:
            typer.echo(f"created  {line}")
        for line in report.existing:
            typer.echo(f"exists   {line}")

    run(go())


@_app.command()
def worker(
    names: Annotated[
        list[str],
        typer.Argument(metavar="NAME...", help="Worker(s) to run: scanner, analyzer, notifier, executor."),
    ],
) -> None:
    """Run one or more workers against the configured queues until SIGTERM/SIGINT."""
    from services.workers import available_workers
    from shared.worker import open_runtime, run_workers

    loaded = settings(long_running=True)
    known = available_workers()
    unknown = [name for name in names if name not in known]
    if unknown:
        typer.echo(
            f"cloudthrift: unknown worker(s) {', '.join(unknown)} (known: {', '.join(known)})", err=True
        )
        raise typer.Exit(2)

    async def go() -> None:
        async with open_runtime(loaded) as runtime:
            await run_workers(runtime, [known[name] for name in names])

    run(go())


@_app.command()
def local(
    once: Annotated[
        bool, typer.Option(help="Exit once the first scan has gone through the pipeline.")
    ] = False,
    port: Annotated[
        int, typer.Option(metavar="PORT", help="Loopback port for the embedded moto server (0: any free).")
    ] = 0,
    seed: Annotated[bool, typer.Option(help="Seed the demo estate of idle and busy resources.")] = True,
) -> None:
    """Run everything on an embedded AWS (moto on loopback): bootstrap, seed, all workers, one scan."""
    from services.local import run_local

    run(run_local(once=once, port=port, seed=seed))


@_app.command("aws-emulator")
def aws_emulator(
    host: Annotated[
        str, typer.Option(metavar="HOST", help="Address to bind (0.0.0.0 inside a container).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Port to serve on.")] = 5000,
) -> None:
    """Serve the embedded AWS (moto, with DynamoDB's conditional writes made atomic) until SIGTERM.

    The same server `cloudthrift local` and the tests use. Plain `moto_server` lets two concurrent
    conditional writes both succeed, which would break the ledger's races in docker-compose.
    """
    import signal
    import threading

    from services.embedded_aws import EmbeddedAws
    from shared.logs import configure_logging

    configure_logging("auto", "info")
    server = EmbeddedAws(host=host, port=port)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    typer.echo(f"aws emulator on {server.start()}", err=True)
    try:
        stop.wait()
    finally:
        server.stop()


def _register(modules: list[str]) -> typer.Typer:
    """Add the named stage modules' commands to the program, each once."""
    from importlib import import_module

    for module in modules:
        if module not in _registered:
            import_module(module).register(_app)
            _registered.add(module)
    return _app


def command_line(argv: list[str]) -> typer.Typer:
    """The program with what `argv` needs: a stage's command brings only its module; help, `--version`,
    a core command (bootstrap, worker, local, aws-emulator) or an unknown name get what they list."""
    name = next((arg for arg in argv if not arg.startswith("-")), None)
    if name in {"bootstrap", "worker", "local", "aws-emulator"}:
        return _app
    owners = [module for module, names in STAGE_COMMANDS.items() if name in names]
    return _register(owners or list(STAGE_COMMANDS))


def __getattr__(name: str) -> typer.Typer:
    """`from services.cli import app`: the whole program, every stage's commands registered (tests, docs)."""
    if name == "app":
        return _register(list(STAGE_COMMANDS))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    try:
        command_line(sys.argv[1:])()
    except SettingsError as exc:
        typer.echo(f"cloudthrift: {exc}", err=True)
        sys.exit(USAGE_ERROR)
    except Exception as exc:  # an AWS failure outside `run` (a server's start-up): one line, not a trace
        try:
            explain_or_raise(exc)
        except typer.Exit as stop:
            sys.exit(stop.exit_code)
