"""Load test of the Discord interactions endpoint: 2,000 signed clicks at 50 concurrent connections.

    .venv/bin/python bench/interactions_load.py [--clicks 2000] [--concurrency 50] [--runs 3]

Three processes, so none shares another's GIL: moto (`moto_server`, the AWS behind the endpoint), the
endpoint (`cloudthrift serve`, exactly as deployed), and this load generator. Per run, on fresh queues
and a fresh table (a per-run prefix): seed `clicks` decisions AWAITING_APPROVAL with the notifier's
ledger moves (not timed), sign a click on each card's Approve button with the application's Ed25519
key, fire them from `concurrency` connections (closed loop), then check that every decision was
decided exactly once: each is APPROVED with one AWAITING_APPROVAL → APPROVED entry in its history, and
the execute queue holds exactly one ApprovalGranted per decision. Also reported: the CPU seconds each
process spent during the clicks (from /proc), which shows where the time goes.

A click answered with DEFERRED_UPDATE_MESSAGE (type 6) met Discord's deadline but not the endpoint's
2 s budget for the whole decision (finished in the background): counted as `deferred`, not an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
from nacl.signing import SigningKey

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.notifier import card_buttons  # noqa: E402
from services.notifier.handler import GroupPolicy, NotifierDeps, post_cards  # noqa: E402
from shared.aws import AwsClients  # noqa: E402
from shared.bootstrap import bootstrap  # noqa: E402
from shared.config import Settings  # noqa: E402
from shared.events import Analysis, CostEstimate, DecisionKey, Finding  # noqa: E402
from shared.ledger import State  # noqa: E402
from shared.logs import configure_logging  # noqa: E402
from shared.worker import open_runtime  # noqa: E402

APPROVER = "100000000000000001"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited early")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=1):
                return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer on {url}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (Linux /proc): shows which process is the bottleneck."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def child(
    command: list[str], env: dict[str, str], probe: str, what: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            wait_http(probe, process, what)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=90)  # the endpoint drains slow clicks still being recorded
            except subprocess.TimeoutExpired:
                process.kill()


class NullSink:
    """Cards go nowhere: the bench measures clicks, not posting."""

    def __init__(self) -> None:
        self.count = 0

    async def post_message(self, channel_id: str, payload: Any) -> str:
        self.count += 1
        return str(1_300_000_000_000_000_000 + self.count)

    async def edit_message(self, channel_id: str, message_id: str, payload: Any) -> bool:
        return True


def finding(i: int) -> Finding:
    return Finding(
        key=DecisionKey(
            account_id="123456789012",
            region="us-east-1",
            kind="ebs-volume",
            check="unattached",
            resource_id=f"vol-{i:017x}",
        ),
        facts={"volume_type": "gp3", "size_gib": 100, "state": "available"},
        idle_since="2026-11-01T00:00:00+00:00",  # type: ignore[arg-type]
        idle_reason="unattached",
        cost=CostEstimate(
            monthly_usd=8, net_monthly_saving_usd=7, price_source="bench", price_date="2026-11-01"
        ),  # type: ignore[arg-type]
        scan_id="bench",
    )


ANALYSIS = Analysis(
    summary="idle volume",
    likely_cause="left over",
    risk="low",
    risk_reason="scratch",
    recommendation="delete",
    confidence=0.9,
    source="rules",
)


async def seed(settings: Settings, count: int, *, card_records: bool) -> list[tuple[str, str]]:
    """`count` decisions AWAITING_APPROVAL, each on its own card: returns (decision id, ledger key)s.

    By default the ledger moves are the notifier's (FOUND → ANALYZED → AWAITING_APPROVAL with the same
    fields) without the card record, which a single card's button does not need: it carries its
    decision's key. With `card_records`, cards go through the notifier's own `post_cards`.
    """
    async with AwsClients(settings) as aws:
        await bootstrap(settings, aws)
    async with open_runtime(settings) as runtime:
        ledger = runtime.ledger
        findings = [finding(i) for i in range(count)]
        await ledger.create_many(findings)
        gate = asyncio.Semaphore(32)
        deps = NotifierDeps(ledger, NullSink(), "bench", GroupPolicy(threshold=0))

        async def announce(f: Finding) -> tuple[str, str]:
            async with gate:
                analysed = await ledger.transition(
                    f.key,
                    State.FOUND,
                    State.ANALYZED,
                    fields={"analysis": ANALYSIS, "finding": f},
                    actor="bench",
                )
                decision = analysed.current
                assert decision is not None
                if card_records:
                    await post_cards(deps, [decision], group_window=None)
                else:
                    await ledger.transition(
                        f.key,
                        State.ANALYZED,
                        State.AWAITING_APPROVAL,
                        actor="notifier",
                        fields={"channel_id": "bench", "message_id": "1", "card_id": decision.decision_id},
                    )
                return decision.decision_id, decision.pk

        return list(await asyncio.gather(*(announce(f) for f in findings)))


def signed(key: SigningKey, decision_id: str, pk: str, *, card_records: bool) -> tuple[bytes, dict[str, str]]:
    """A click on the card's Approve button, as Discord signs it."""
    custom_id = card_buttons.custom_id("approve", decision_id, None if card_records else pk)
    body = json.dumps(
        {
            "type": 3,
            "id": "1",
            "application_id": "2",
            "token": "t",
            "version": 1,
            "channel_id": "bench",
            "data": {"custom_id": custom_id, "component_type": 2},
            "member": {"user": {"id": APPROVER, "username": "bench"}, "roles": []},
            "message": {"id": "3", "components": []},
        }
    ).encode()
    stamp = str(int(time.time()))
    headers = {
        "X-Signature-Ed25519": key.sign(stamp.encode() + body).signature.hex(),
        "X-Signature-Timestamp": stamp,
        "Content-Type": "application/json",
    }
    return body, headers


async def fire(url: str, requests: list[tuple[bytes, dict[str, str]]], concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    deferred: list[int] = []
    todo: asyncio.Queue[tuple[bytes, dict[str, str]]] = asyncio.Queue()
    for item in requests:
        todo.put_nowait(item)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while not todo.empty():
                body, headers = todo.get_nowait()
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        answer = await response.json(content_type=None)
                        kind = answer.get("type") if response.status == 200 else None
                except (aiohttp.ClientError, ValueError) as exc:
                    kind, answer = None, {"error": str(exc)}
                latencies.append(time.perf_counter() - started)
                if kind == 6:  # acknowledged in time, recorded in the background: not an error, but slow
                    deferred.append(1)
                elif kind != 7:
                    errors.append(json.dumps(answer)[:200])

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "deferred": len(deferred),
        "error_sample": errors[:3],
        "elapsed_s": round(elapsed, 3),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


async def verify(settings: Settings, card_ids: list[str]) -> dict[str, Any]:
    """Each decision decided exactly once: state, history, and one ApprovalGranted on the queue."""
    async with open_runtime(settings) as runtime:
        decisions = [d async for d in runtime.ledger.by_state(State.APPROVED, attributes=["history"])]
        approvals = [sum(1 for h in d.get("history", []) if h.get("to") == "APPROVED") for d in decisions]
        granted: list[str] = []
        url = runtime.queues["execute"].url
        sqs: Any = runtime.sqs
        while True:  # received and deleted, so a slow read never sees a message twice
            answer = await sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=600
            )
            messages = answer.get("Messages", [])
            if not messages:
                break
            granted += [json.loads(m["Body"])["payload"]["decision_id"] for m in messages]
            await sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
    return {
        "approved": len(decisions),
        "approved_once": sum(1 for n in approvals if n == 1),
        "grants": len(granted),
        "distinct_grants": len(set(granted)),
        "exactly_once": len(decisions) == len(card_ids)
        and all(n == 1 for n in approvals)
        and sorted(granted) == sorted(card_ids),
    }


def run_once(
    args: argparse.Namespace, run: int, moto: str, moto_pid: int, key: SigningKey, logs: Path
) -> dict[str, Any]:
    port = free_port()
    env = dict(
        os.environ,
        AWS_ENDPOINT_URL=moto,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_REGION="us-east-1",
        CLOUDTHRIFT_PREFIX=f"bench{run}-{os.getpid()}",
        DISCORD_PUBLIC_KEY=key.verify_key.encode().hex(),
        DISCORD_APPROVER_IDS=APPROVER,
        CLOUDTHRIFT_HTTP_PORT=str(port),
        CLOUDTHRIFT_LOG_LEVEL="warning",
        CLOUDTHRIFT_DRAIN_SECONDS="80",
        CLOUDTHRIFT_LOG_FORMAT="json",
    )
    os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")})
    settings = Settings(_env_file=None, aws_endpoint_url=moto, cloudthrift_prefix=env["CLOUDTHRIFT_PREFIX"])  # type: ignore[call-arg]
    seeded = asyncio.run(seed(settings, args.clicks, card_records=args.card_records))
    card_ids = [decision_id for decision_id, _ in seeded]
    with child(
        [str(BIN / "cloudthrift"), "serve"],
        env,
        f"http://127.0.0.1:{port}/healthz",
        "endpoint",
        logs / f"interactions-endpoint-{run}.log",
    ) as endpoint:
        requests = [signed(key, d, pk, card_records=args.card_records) for d, pk in seeded]
        before = cpu_seconds(endpoint.pid), cpu_seconds(moto_pid), time.process_time()
        result = asyncio.run(fire(f"http://127.0.0.1:{port}/interactions", requests, args.concurrency))
        result["cpu_s"] = {
            "endpoint": round(cpu_seconds(endpoint.pid) - before[0], 2),
            "moto": round(cpu_seconds(moto_pid) - before[1], 2),
            "load_generator": round(time.process_time() - before[2], 2),
        }
    result |= asyncio.run(verify(settings, card_ids))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--card-records", action="store_true", help="click by card id (reads the card record: one more call)"
    )
    args = parser.parse_args()
    configure_logging("json", "warning")
    # Children are stopped by the context managers' `finally`: make SIGTERM run them.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="cloudthrift-interactions-bench-"))  # child logs: not results
    key = SigningKey.generate()
    moto_port = free_port()
    moto = f"http://127.0.0.1:{moto_port}"
    results = []
    with child(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
        dict(os.environ),
        f"{moto}/moto-api/",
        "moto_server",
        logs / "interactions-moto.log",
    ) as moto_process:
        for run in range(1, args.runs + 1):
            result = run_once(args, run, moto, moto_process.pid, key, logs)
            results.append(result)
            print(json.dumps({"run": run} | result), flush=True)
    summary = {
        name: statistics.median(r[name] for r in results)
        for name in ("p50_ms", "p99_ms", "max_ms", "requests_per_s", "errors", "deferred")
    }
    summary["all_exactly_once"] = all(r["exactly_once"] for r in results)
    summary |= {
        "runs": len(results),
        "clicks": args.clicks,
        "concurrency": args.concurrency,
        "path": "card record" if args.card_records else "key in custom_id",
    }
    print(json.dumps({"median": summary}), flush=True)
    print(f"child logs: {logs}", file=sys.stderr)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (out_dir / f"interactions_load-{stamp}.json").write_text(
        json.dumps({"runs": results, "median": summary}, indent=2)
    )


if __name__ == "__main__":
    main()
