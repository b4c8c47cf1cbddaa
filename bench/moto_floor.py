"""moto's own cost per request: the floor under any benchmark that has moto behind it.

    .venv/bin/python bench/moto_floor.py [--items 2000] [--calls 300]

A closed loop of C connections whose every request needs one moto call cannot do better than a mean
latency of C x (moto's CPU per call), because moto serves requests under one GIL: the interactions
benchmark (50 connections, p99 target 100 ms) needs moto below 2 ms per click. This measures, against
`moto_server` in a subprocess (CPU from /proc, one call at a time so nothing queues), what each kind of
call costs moto on a table of `--items` decisions shaped like the ledger's:

- GetItem of one item;
- the cheapest conditional write there is (one SET, one condition, nothing returned);
- the ledger's approval itself, `Ledger.transition` AWAITING_APPROVAL -> APPROVED with the fields a
  click records (the project's own code, as the endpoint calls it);
- one message's life on a queue a consumer keeps empty (SendMessageBatch, ReceiveMessage,
  DeleteMessageBatch), and SendMessageBatch of one message on a queue left to grow (moto counts the
  whole queue on every send: the cost grows with its depth).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.aws import AwsClients  # noqa: E402
from shared.bootstrap import bootstrap  # noqa: E402
from shared.config import Settings  # noqa: E402
from shared.events import Approver, CostEstimate, DecisionKey, Finding, utcnow  # noqa: E402
from shared.ledger import Ledger, State  # noqa: E402
from shared.logs import configure_logging  # noqa: E402


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


async def measure(pid: int, calls: int, one: Callable[[int], Awaitable[Any]]) -> dict[str, float]:
    """moto CPU and wall time per call, one call at a time."""
    await one(0)  # warm: the first call of a kind loads moto's handlers
    cpu, started = cpu_seconds(pid), time.perf_counter()
    walls = []
    for index in range(1, calls + 1):
        begun = time.perf_counter()
        await one(index)
        walls.append(time.perf_counter() - begun)
    elapsed = time.perf_counter() - started
    return {
        "moto_cpu_ms": round((cpu_seconds(pid) - cpu) / calls * 1000, 2),
        "wall_p50_ms": round(statistics.median(walls) * 1000, 2),
        "wall_mean_ms": round(elapsed / calls * 1000, 2),
    }


async def run(endpoint: str, pid: int, items: int, calls: int) -> dict[str, Any]:
    settings = Settings(_env_file=None, aws_endpoint_url=endpoint, cloudthrift_prefix="floor")  # type: ignore[call-arg]
    async with AwsClients(settings) as aws:
        await bootstrap(settings, aws)
        db: Any = await aws.client("dynamodb")
        sqs: Any = await aws.client("sqs")
        ledger = Ledger(db, settings.table_name)
        for start in range(0, items, 100):
            await ledger.create_many([finding(i) for i in range(start, min(items, start + 100))])
        keys = [finding(i).key for i in range(items)]
        needed = 3 * (calls + 1)
        if needed > items:
            raise SystemExit(f"--items must be at least {needed} for --calls {calls}")
        for key in keys[: 2 * (calls + 1)]:  # the approvals need AWAITING_APPROVAL decisions
            await ledger.transition(key, State.FOUND, State.ANALYZED, actor="bench")
            await ledger.transition(key, State.ANALYZED, State.AWAITING_APPROVAL, actor="bench")
        table = settings.table_name
        approver = Approver(id="1", name="bench", via="discord")
        quiet = (await sqs.create_queue(QueueName="floor-quiet"))["QueueUrl"]
        growing = (await sqs.create_queue(QueueName="floor-growing"))["QueueUrl"]
        body = json.dumps({"payload": "x" * 1500})

        async def get(i: int) -> None:
            await db.get_item(TableName=table, Key={"pk": {"S": keys[i].pk}})

        async def cheapest_write(i: int) -> None:
            await db.update_item(
                TableName=table,
                Key={"pk": {"S": keys[calls + 1 + i].pk}},
                UpdateExpression="SET #s = :new",
                ConditionExpression="#s = :old",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":new": {"S": "APPROVED"}, ":old": {"S": "AWAITING_APPROVAL"}},
            )

        async def approval(i: int) -> None:
            now = utcnow()
            result = await ledger.transition(
                keys[i],
                State.AWAITING_APPROVAL,
                State.APPROVED,
                fields={"approver": approver, "decided_by": "bench", "decided_at": now, "approved_at": now},
                actor="discord:bench",
                now=now,
            )
            assert result.applied

        async def message_life(i: int) -> None:
            await sqs.send_message_batch(QueueUrl=quiet, Entries=[{"Id": "0", "MessageBody": body}])
            got = (await sqs.receive_message(QueueUrl=quiet, MaxNumberOfMessages=10))["Messages"]
            await sqs.delete_message_batch(
                QueueUrl=quiet, Entries=[{"Id": "0", "ReceiptHandle": got[0]["ReceiptHandle"]}]
            )

        async def send_growing(i: int) -> None:
            await sqs.send_message_batch(QueueUrl=growing, Entries=[{"Id": "0", "MessageBody": body}])

        results = {
            "get_item": await measure(pid, calls, get),
            "cheapest_conditional_update": await measure(pid, calls, cheapest_write),
            "ledger_approval_transition": await measure(pid, calls, approval),
        }
        # What one event costs moto when a consumer keeps up: sent, received, deleted (3 calls).
        results["sqs_send_receive_delete_empty_queue"] = await measure(pid, calls, message_life)
        growth = []
        for _ in range(4):
            depth = int(
                (
                    await sqs.get_queue_attributes(
                        QueueUrl=growing, AttributeNames=["ApproximateNumberOfMessages"]
                    )
                )["Attributes"]["ApproximateNumberOfMessages"]
            )
            growth.append({"depth_before": depth} | await measure(pid, calls, send_growing))
        results["send_message_batch_1_growing_queue"] = growth
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    configure_logging("json", "warning")  # stdout is the JSON result
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    moto = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        results = asyncio.run(run(endpoint, moto.pid, args.items, args.calls))
    finally:
        moto.terminate()
        moto.wait(timeout=10)
    results |= {
        "items": args.items,
        "calls": args.calls,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
