"""`cloudthrift report` over a ledger of 10,000 decisions on the embedded AWS.

    .venv/bin/python bench/report_ledger.py [--decisions 10000] [--runs 3]

The embedded AWS (`cloudthrift aws-emulator`, services/embedded_aws.py) runs as a subprocess; this
process seeds it through the Ledger API's own transitions (create, then FOUND -> ANALYZED ->
AWAITING_APPROVAL -> APPROVED -> EXECUTING -> EXECUTED and the other endings), never raw items, with
findings shaped like the scanner's (facts, cost lines, seven tags). Then `cloudthrift report` runs as
the user runs it, a fresh process each time (its start-up and matplotlib's import included), and
in-process the two halves are timed apart: reading the ledger (by state, projected) and drawing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
KINDS = ("ebs-volume", "elastic-ip")
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-1", "us-west-2")
ACCOUNTS = ("111111111111", "222222222222", "333333333333", "444444444444")
# How the 10,000 decisions end, roughly as a ledger a few months old would hold them.
ENDINGS = (
    ("pending", 50),
    ("executed", 25),
    ("dry_run", 5),
    ("rejected", 6),
    ("snoozed", 4),
    ("skipped", 5),
    ("failed", 5),
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _finding(index: int, rng: random.Random, now: datetime):  # -> Finding
    from shared.events import LEGACY_CHECKS, CostEstimate, CostLine, DecisionKey, Finding

    kind = KINDS[0] if rng.random() < 0.8 else KINDS[1]
    monthly = Decimal(str(round(rng.uniform(3.65, 900), 2))) if kind == "ebs-volume" else Decimal("3.65")
    snapshot = (monthly * Decimal("0.3")).quantize(Decimal("0.01")) if kind == "ebs-volume" else Decimal(0)
    resource = f"vol-{index:017x}" if kind == "ebs-volume" else f"eipalloc-{index:017x}"
    return Finding(
        key=DecisionKey(
            account_id=rng.choice(ACCOUNTS),
            region=rng.choice(REGIONS),
            kind=kind,
            check=LEGACY_CHECKS[kind],
            resource_id=resource,
        ),
        facts={"volume_type": rng.choice(["gp2", "gp3", "io1", "st1"]), "size_gib": rng.randint(8, 4000),
               "state": "available", "availability_zone": "us-east-1a", "iops": 3000, "encrypted": True},
        tags={"Name": f"bench-{index}", "team": rng.choice(["data", "web", "ml"]), "env": "prod",
              "owner": "someone@example.com", "cost-center": "cc-42", "app": "bench",
              "ticket": f"OPS-{index}"},
        created_at=now - timedelta(days=200),
        idle_since=now - timedelta(days=rng.randint(1, 120)),
        idle_reason="unattached",
        cost=CostEstimate(
            monthly_usd=monthly,
            lines=(CostLine(item="storage", quantity=Decimal(100), unit="GB-month",
                            unit_price_usd=monthly / 100, monthly_usd=monthly),),
            snapshot_monthly_usd=snapshot,
            net_monthly_saving_usd=monthly - snapshot,
            price_source="bench price table",
            price_date="2026-11-01",
        ),
        scan_id="bench",
    )  # fmt: skip


async def seed(endpoint: str, count: int) -> None:
    """Every decision through the Ledger's transitions, 32 at a time."""
    from shared.aws import AwsClients
    from shared.bootstrap import bootstrap
    from shared.config import load_settings
    from shared.events import Analysis, Approver
    from shared.ledger import Ledger
    from shared.ledger import State as S

    settings = load_settings(aws_endpoint_url=endpoint)
    rng = random.Random(19)
    now = datetime.now(UTC)
    analysis = Analysis(summary="Idle.", likely_cause="Left behind.", risk="low", risk_reason="none",
                        recommendation="snapshot_then_delete", confidence=0.9, source="rules")  # fmt: skip
    approver = Approver(id="1", name=rng.choice(["alice", "bob"]), via="discord")
    endings = [name for name, weight in ENDINGS for _ in range(weight)]
    gate = asyncio.Semaphore(32)
    async with AwsClients(settings) as aws:
        await bootstrap(settings, aws)
        ledger = Ledger(await aws.client("dynamodb"), settings.table_name)

        async def one(index: int) -> None:
            finding = _finding(index, rng, now)
            found = now - timedelta(days=rng.uniform(1, 180), minutes=index % 60)
            ending = rng.choice(endings)
            key = finding.key
            async with gate:
                assert (await ledger.create(finding, now=found)).applied
                at = found + timedelta(minutes=5)
                await ledger.transition(key, S.FOUND, S.ANALYZED, fields={"analysis": analysis}, now=at)
                await ledger.transition(key, S.ANALYZED, S.AWAITING_APPROVAL, now=at)
                if ending == "pending":
                    return
                decided = at + timedelta(hours=rng.expovariate(1 / 20))
                target = {"rejected": S.REJECTED, "snoozed": S.SNOOZED}.get(ending, S.APPROVED)
                fields = {"approver": approver, "decided_by": approver.name, "decided_at": decided}
                await ledger.transition(key, S.AWAITING_APPROVAL, target, fields=fields, now=decided)
                if target is not S.APPROVED:
                    return
                ran = min(decided + timedelta(minutes=1), now)
                claim = {"claim_id": f"c{index}", "claim_expires_at": ran + timedelta(minutes=1)}
                await ledger.transition(key, S.APPROVED, S.EXECUTING, fields=claim, now=ran)
                end = {"skipped": S.SKIPPED, "failed": S.FAILED}.get(ending, S.EXECUTED)
                done: dict[str, object] = {"approver_name": approver.name, "executed_at": ran}
                if end is S.EXECUTED:
                    dry = ending == "dry_run"
                    saving = "would_save_monthly_usd" if dry else "realised_monthly_saving_usd"
                    done |= {"dry_run": dry, saving: finding.cost.net_monthly_saving_usd, "action": "delete"}
                await ledger.transition(key, S.EXECUTING, end, fields=done, now=ran)

        await asyncio.gather(*(one(index) for index in range(count)))


async def measure_in_process(endpoint: str) -> dict[str, float]:
    from services.report.data import Filters, load
    from services.report.page import render
    from shared.aws import AwsClients
    from shared.config import load_settings
    from shared.ledger import Ledger

    settings = load_settings(aws_endpoint_url=endpoint)
    async with AwsClients(settings) as aws:
        ledger = Ledger(await aws.client("dynamodb"), settings.table_name)
        started = time.perf_counter()
        data = await load(ledger, Filters())
        read = time.perf_counter() - started
    started = time.perf_counter()
    html = render(data, generated=datetime.now(UTC))
    return {"read_s": read, "render_s": time.perf_counter() - started, "bytes": len(html.encode())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(ENV)
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    cloudthrift = str(Path(sys.executable).with_name("cloudthrift"))
    emulator = subprocess.Popen(
        [cloudthrift, "aws-emulator", "--port", str(port)], stderr=subprocess.DEVNULL, env=os.environ | ENV
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        started = time.perf_counter()
        asyncio.run(seed(endpoint, args.decisions))
        seeded = time.perf_counter() - started
        print(f"seeded {args.decisions} decisions in {seeded:.0f} s", flush=True)
        runs = []
        with tempfile.TemporaryDirectory() as folder:
            for run in range(args.runs):
                out = Path(folder) / f"report-{run}.html"
                started = time.perf_counter()
                env = os.environ | ENV | {"AWS_ENDPOINT_URL": endpoint, "CLOUDTHRIFT_LOG_FORMAT": "json"}
                subprocess.run(
                    [cloudthrift, "report", "--out", str(out)], check=True, env=env, stdout=subprocess.DEVNULL
                )
                command = time.perf_counter() - started
                parts = asyncio.run(measure_in_process(endpoint))
                runs.append({"command_s": command, **parts})
                print(json.dumps({k: round(v, 2) for k, v in runs[-1].items()}), flush=True)
        summary = {
            "decisions": args.decisions,
            "seed_s": round(seeded, 1),
            **{f"median_{k}": round(statistics.median(r[k] for r in runs), 2) for k in runs[0]},
            "runs": runs,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        results = ROOT / "bench" / "results"
        results.mkdir(exist_ok=True)
        with (results / "report_ledger.jsonl").open("a") as log:
            log.write(json.dumps(summary) + "\n")
        print(json.dumps({k: v for k, v in summary.items() if k != "runs"}))
    finally:
        emulator.terminate()
        try:
            emulator.wait(timeout=10)
        except subprocess.TimeoutExpired:  # busy past SIGTERM on a loaded machine
            emulator.kill()
            emulator.wait()


if __name__ == "__main__":
    main()
