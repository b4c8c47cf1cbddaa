"""Chaos harness: real worker processes killed with SIGKILL while they clean up, then left alone.

Used by tests/test_chaos.py (bounded) and bench/chaos.py (the full scenario of issue 20). What runs:

- the embedded AWS (`cloudthrift aws-emulator`, or the endpoint the caller already has);
- `cloudthrift worker executor` (two by default) and `cloudthrift worker notifier`, each a real
  process, restarted at once when killed, as a container's restart policy would;
- this process seeds idle volumes and addresses on the emulator, records them as the analyzer would
  (ANALYZED), announces them on two group cards with the notifier's own `post_cards`, and approves
  both cards with the click's own code (services/notifier/decide.py).

From the approvals on, a random worker (executors most often) is killed with SIGKILL every
`min_gap`..`max_gap` seconds until `kills` were made. The notifier has nothing left to do once the
cards are posted: it is killed as a bystander would be, which is all its kills can show here. Nobody
replays anything: the harness watches the cards' tallies and the queues until every decision is
terminal, then checks the ledger and what AWS holds.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.executor.group_card import GroupCards
from services.notifier.decide import DecideDeps, decide
from services.notifier.handler import NotifierDeps, post_cards
from shared.aws import AwsClients
from shared.bootstrap import bootstrap
from shared.config import QUEUE_NAMES, Settings, load_settings
from shared.events import Approver, Finding, utcnow
from shared.grants import messages_published
from shared.ledger import Ledger, State
from shared.worker import Runtime, open_runtime
from tests.executor.helpers import idle_address, idle_volume, observe
from tests.notifier.helpers import analyzed

ROOT = Path(__file__).resolve().parents[1]
CLOUDTHRIFT = ROOT / ".venv" / "bin" / "cloudthrift"
APPROVER = Approver(id="4242", name="chaos-operator", via="cli")
TERMINAL = (State.EXECUTED, State.SKIPPED, State.FAILED)


@dataclass(frozen=True)
class ChaosConfig:
    volumes: int = 50
    addresses: int = 10
    executors: int = 2
    kills: int = 20
    min_gap: float = 0.5
    max_gap: float = 2.0
    executor_share: float = 0.8  # of the kills; the rest hit the notifier
    visibility_timeout: int = 20
    claim_ttl: int = 10
    sweep_seconds: float = 5
    recover_seconds: int = 60
    settle_timeout: float = 300
    seed: int = 20
    log_dir: Path | None = None
    profile_dir: Path | None = None  # run the executors under cProfile, one .prof file each


@dataclass
class ChaosReport:
    decisions: int = 0
    kills: int = 0
    kills_by_worker: Counter[str] = field(default_factory=Counter)
    clicked_at: float = 0.0  # seconds since start: the approvals (the kills start with them)
    last_kill_at: float = 0.0
    all_terminal_at: float | None = None
    states: Counter[str] = field(default_factory=Counter)
    messages_max: int = 0
    messages_mean: float = 0.0
    peak_execute_depth: int = 0
    dlq_depths: dict[str, int] = field(default_factory=dict)
    volumes_left: int = 0
    addresses_left: int = 0
    snapshots_per_volume: Counter[int] = field(default_factory=Counter)  # snapshots -> volumes
    doubled: list[str] = field(default_factory=list)  # decisions executed (or claimed fresh) twice
    already_gone: int = 0
    redriven: int = 0
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # by process role, over the execution
    # Decisions not yet terminal when the last kill was made: the work left for the settle time.
    left_at_last_kill: int | None = None
    log_events: Counter[str] = field(default_factory=Counter)

    @property
    def settle_after_last_kill(self) -> float | None:
        if self.all_terminal_at is None:
            return None
        return max(0.0, self.all_terminal_at - self.last_kill_at) if self.kills else 0.0

    @property
    def execute_seconds(self) -> float | None:
        return None if self.all_terminal_at is None else self.all_terminal_at - self.clicked_at

    def as_dict(self) -> dict[str, Any]:
        data = {name: value for name, value in vars(self).items()}
        data["settle_after_last_kill"] = self.settle_after_last_kill
        data["execute_seconds"] = self.execute_seconds
        return json.loads(json.dumps(data, default=str))


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, from /proc (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Supervised:
    """One worker process, restarted as soon as it is killed; its CPU is summed over its lives."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log: Path | None) -> None:
        self.name, self._argv, self._env, self._log = name, argv, dict(env), log
        self._process: subprocess.Popen[bytes] | None = None
        self.cpu = 0.0

    def start(self) -> None:
        out = open(self._log, "ab") if self._log else subprocess.DEVNULL
        self._process = subprocess.Popen(self._argv, env=self._env, stdout=out, stderr=out)
        if self._log:
            out.close()  # type: ignore[union-attr]

    def check(self) -> None:
        """A worker that exits by itself (a bad setting, a crash loop) fails the run with its reason."""
        if self._process is not None and self._process.poll() is not None:
            tail = self._log.read_text(errors="replace")[-2000:] if self._log else ""
            raise RuntimeError(f"{self.name} exited with {self._process.returncode} by itself: {tail}")

    def cpu_now(self) -> float:
        return self.cpu + (cpu_seconds(self._process.pid) if self._process else 0.0)

    def kill(self) -> None:
        assert self._process is not None
        self.cpu += cpu_seconds(self._process.pid)
        self._process.send_signal(signal.SIGKILL)
        self._process.wait()
        self.start()

    def stop(self) -> None:
        if self._process is None:
            return
        self.cpu += cpu_seconds(self._process.pid)
        self._process.terminate()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None


def worker_env(endpoint: str, config: ChaosConfig, prefix: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "CLOUDTHRIFT_"))}
    return inherited | {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        # Names the workers' requests to an emulator that accounts them (bench/emulator_costs.py).
        "AWS_SDK_UA_APP_ID": "chaos-worker",
        "CLOUDTHRIFT_PREFIX": prefix,
        "CLOUDTHRIFT_DRY_RUN": "false",
        "CLOUDTHRIFT_VISIBILITY_TIMEOUT": str(config.visibility_timeout),
        "CLOUDTHRIFT_CLAIM_TTL_SECONDS": str(config.claim_ttl),
        "CLOUDTHRIFT_APPROVAL_SWEEP_SECONDS": str(config.sweep_seconds),
        "CLOUDTHRIFT_APPROVAL_RECOVER_SECONDS": str(config.recover_seconds),
        "CLOUDTHRIFT_WAIT_TIME_SECONDS": "2",
        "CLOUDTHRIFT_SNAPSHOT_WAIT_SECONDS": "60",
        "CLOUDTHRIFT_GROUP_WINDOW_SECONDS": "1",
        "CLOUDTHRIFT_GROUP_MAX_WAIT_SECONDS": "5",
        "CLOUDTHRIFT_LOG_FORMAT": "json",
        "CLOUDTHRIFT_LOG_LEVEL": "info",
        "DD_TRACE_ENABLED": "false",
        "DD_DOGSTATSD_DISABLE": "true",
    }


class _Cards:
    """The notifier's message sink for the seeding: cards are recorded, not printed."""

    async def post_message(self, channel_id: str, payload: Mapping[str, Any]) -> str:
        return f"chaos-{uuid.uuid4().hex[:12]}"

    async def edit_message(self, channel_id: str, message_id: str, payload: Mapping[str, Any]) -> bool:
        return True


async def seed(runtime: Runtime, config: ChaosConfig) -> list[Finding]:
    """Idle resources on the emulator, recorded as the analyzer would (ANALYZED), then announced on
    two group cards (volumes, addresses) by the notifier's own code: AWAITING_APPROVAL."""
    ec2 = await runtime.aws.client("ec2")
    gate = asyncio.Semaphore(16)

    async def one(kind: str) -> Finding:
        async with gate:
            resource = await idle_volume(ec2) if kind == "ebs-volume" else (await idle_address(ec2))[0]
            finding = await observe(ec2, kind, resource)
            await analyzed(runtime.ledger, finding)
            return finding

    kinds = ["ebs-volume"] * config.volumes + ["elastic-ip"] * config.addresses
    findings = list(await asyncio.gather(*(one(kind) for kind in kinds)))
    deps = NotifierDeps(ledger=runtime.ledger, sink=_Cards(), channel_id="chaos")
    decisions = await runtime.ledger.get_many(f.key for f in findings)
    for kind in ("ebs-volume", "elastic-ip"):
        members = [decisions[f.key.pk] for f in findings if f.kind == kind]
        await post_cards(deps, members, group_window=f"chaos-{kind}" if len(members) > 1 else None)
    return findings


async def terminal_count(ledger: Ledger, card_ids: list[str]) -> int:
    """Decisions the group cards count as finished: two small reads (the full states are checked once,
    at the end; an index query per poll would cost the emulator more than the executors do)."""
    cards = GroupCards(ledger)
    total = 0
    for card_id in card_ids:
        tally = await cards.tally(card_id)
        if tally is not None:
            total += tally.executed + tally.skipped + tally.failed
    return total


async def queue_depth(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    answer = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
    return sum(int(answer["Attributes"].get(name, 0)) for name in names)


async def click_cards(runtime: Runtime, findings: list[Finding]) -> list[str]:
    """Approve every card of the seeded decisions, with the click's own code; returns the card ids."""
    decisions = await runtime.ledger.get_many(f.key for f in findings)
    card_ids = sorted({str(d.get("card_id")) for d in decisions.values()})
    deps = DecideDeps(runtime.ledger, runtime.publisher, runtime.queues["execute"].url)
    for card_id in card_ids:
        await decide(deps, card_id, "approve", APPROVER, now=utcnow())
    return card_ids


async def run_chaos(
    config: ChaosConfig,
    endpoint: str,
    *,
    prefix: str = "chaos",
    watch: Mapping[str, int] | None = None,
    worker_endpoint: str | None = None,
) -> ChaosReport:
    """The whole scenario against `endpoint`. `watch` names other processes (the emulator) whose CPU
    over the execution (approvals to the last outcome) is reported beside the executors'.
    `worker_endpoint`: where the workers send their requests (a counting proxy in front of
    `endpoint`); the harness's own seeding and watching go to `endpoint` directly."""
    settings: Settings = load_settings(
        env_file=None,
        aws_endpoint_url=endpoint,
        cloudthrift_prefix=prefix,
        cloudthrift_visibility_timeout=config.visibility_timeout,
    )
    async with AwsClients(settings) as aws:
        await bootstrap(settings, aws)
    rng = random.Random(config.seed)
    report = ChaosReport(decisions=config.volumes + config.addresses)
    env = worker_env(worker_endpoint or endpoint, config, prefix)
    log_dir = config.log_dir

    def executor_argv(i: int) -> list[str]:
        if config.profile_dir is None:
            return [str(CLOUDTHRIFT), "worker", "executor"]
        profile = str(config.profile_dir / f"executor-{i}.prof")
        return [sys.executable, "-m", "cProfile", "-o", profile, str(CLOUDTHRIFT), "worker", "executor"]

    workers = [
        Supervised(
            f"executor-{i}",
            executor_argv(i),
            env,
            log_dir / f"executor-{i}.log" if log_dir else None,
        )
        for i in range(config.executors)
    ]
    notifier = Supervised(
        "notifier",
        [str(CLOUDTHRIFT), "worker", "notifier"],
        env,
        log_dir / "notifier.log" if log_dir else None,
    )
    everyone = [*workers, notifier]
    for worker in everyone:
        worker.start()
    started = time.monotonic()
    try:
        async with open_runtime(settings) as runtime:
            await _scenario(runtime, config, rng, workers, notifier, report, started, dict(watch or {}))
    finally:
        for worker in everyone:
            worker.stop()
    report.cpu_seconds["notifier"] = notifier.cpu
    if log_dir:
        report.log_events = _log_events(log_dir)
    return report


async def _scenario(
    runtime: Runtime,
    config: ChaosConfig,
    rng: random.Random,
    workers: list[Supervised],
    notifier: Supervised,
    report: ChaosReport,
    started: float,
    watch: dict[str, int],
) -> None:
    async def chaos() -> None:
        while report.kills < config.kills:
            await asyncio.sleep(rng.uniform(config.min_gap, config.max_gap))
            victim = rng.choice(workers) if rng.random() < config.executor_share else notifier
            victim.kill()
            report.kills += 1
            report.kills_by_worker[victim.name] += 1
            report.last_kill_at = time.monotonic() - started

    findings = await seed(runtime, config)
    report.clicked_at = time.monotonic() - started
    cpu_at_click = sum(w.cpu_now() for w in workers)
    watched_at_click = {name: cpu_seconds(pid) for name, pid in watch.items()}
    killing = asyncio.create_task(chaos())
    card_ids = await click_cards(runtime, findings)
    deadline = time.monotonic() + config.settle_timeout
    execute_url = runtime.queues["execute"].url
    try:
        while time.monotonic() < deadline:
            for worker in [*workers, notifier]:
                worker.check()
            report.peak_execute_depth = max(
                report.peak_execute_depth, await queue_depth(runtime.sqs, execute_url)
            )
            done = report.all_terminal_at is not None
            terminal = report.decisions if done else await terminal_count(runtime.ledger, card_ids)
            if report.left_at_last_kill is None and report.kills >= config.kills:
                report.left_at_last_kill = report.decisions - terminal
            if not done and terminal >= report.decisions:
                report.all_terminal_at = time.monotonic() - started
                report.cpu_seconds["executors"] = sum(w.cpu_now() for w in workers) - cpu_at_click
                for name, pid in watch.items():
                    report.cpu_seconds[name] = cpu_seconds(pid) - watched_at_click[name]
            if report.all_terminal_at is not None and report.kills >= config.kills:
                break
            await asyncio.sleep(0.5)
    finally:
        killing.cancel()
        await asyncio.gather(killing, return_exceptions=True)
    await _wait_for_quiet_queues(runtime, config)
    await _inspect(runtime, findings, report)


async def _wait_for_quiet_queues(runtime: Runtime, config: ChaosConfig) -> None:
    """Leftover copies on the execute queue are acknowledged as duplicates; wait them out (bounded)."""
    deadline = time.monotonic() + config.visibility_timeout + 10
    while time.monotonic() < deadline:
        if await queue_depth(runtime.sqs, runtime.queues["execute"].url) == 0:
            return
        await asyncio.sleep(0.5)


async def _inspect(runtime: Runtime, findings: list[Finding], report: ChaosReport) -> None:
    ledger = runtime.ledger
    decisions = await ledger.get_many(f.key for f in findings)
    report.states = Counter(d.state.value for d in decisions.values())
    published = [messages_published(d) for d in decisions.values()]
    report.messages_max = max(published, default=0)
    report.messages_mean = round(sum(published) / max(len(published), 1), 3)
    report.redriven = sum(1 for d in decisions.values() if d.get("redrives"))
    report.already_gone = sum(1 for d in decisions.values() if d.get("already_gone"))
    for decision in decisions.values():
        moves = Counter((h["from"], h["to"]) for h in decision.get("history", []))
        outcomes = sum(count for (_, to), count in moves.items() if to in {s.value for s in TERMINAL})
        if outcomes > 1 or moves[("APPROVED", "EXECUTING")] > 1:
            report.doubled.append(decision.pk)
    for queue in QUEUE_NAMES:
        report.dlq_depths[queue] = await queue_depth(runtime.sqs, runtime.queues[queue].dlq_url)
    ec2 = await runtime.aws.client("ec2")
    volumes = [f.key.resource_id for f in findings if f.kind == "ebs-volume"]
    addresses = {f.key.resource_id for f in findings if f.kind == "elastic-ip"}
    left = (await ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": volumes}]))["Volumes"]
    report.volumes_left = len(left)
    report.addresses_left = sum(
        1 for a in (await ec2.describe_addresses())["Addresses"] if a.get("AllocationId") in addresses
    )
    snapshots = (await ec2.describe_snapshots(OwnerIds=["self"]))["Snapshots"]
    per_volume = Counter(s["VolumeId"] for s in snapshots if s["VolumeId"] in set(volumes))
    report.snapshots_per_volume = Counter(per_volume[v] for v in volumes)


def _log_events(log_dir: Path) -> Counter[str]:
    """How often each notable event was logged by the workers (JSON lines; anything else is ignored)."""
    wanted = {
        "message.superseded",
        "message.dead_lettered",
        "message.retry",
        "executor.held_elsewhere",
        "executor.claim_expired_renewing",
        "executor.already_done",
        "decision.grant_republished",
        "decision.redrive_deferred",
    }
    counts: Counter[str] = Counter()
    for path in log_dir.glob("*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            try:
                event = json.loads(line).get("event")
            except ValueError:
                continue
            if event in wanted:
                counts[event] += 1
    return counts


if __name__ == "__main__":  # pragma: no cover - a quick manual run: python -m tests.chaos ENDPOINT
    print(json.dumps(asyncio.run(run_chaos(ChaosConfig(), sys.argv[1])).as_dict(), indent=2))
