"""Builders for the notifier's tests: findings, analyses, ledger items driven to ANALYZED."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared.events import Analysis, CostEstimate, DecisionKey, Envelope, Finding, ResourceAnalyzed
from shared.ledger import Decision, Ledger, State
from shared.worker import Runtime

ACCOUNT = "123456789012"


CHECKS = {"ebs-volume": "unattached", "elastic-ip": "unassociated"}  # the check each kind is found by


def finding(
    resource_id: str = "vol-0123456789abcdef0",
    *,
    region: str = "us-east-1",
    kind: str = "ebs-volume",
    scan_id: str = "scan-1",
    monthly: str = "8.00",
    tags: dict[str, str] | None = None,
) -> Finding:
    return Finding(
        key=DecisionKey(
            account_id=ACCOUNT,
            region=region,
            kind=kind,
            check=CHECKS.get(kind, "unused"),
            resource_id=resource_id,
        ),
        facts={"volume_type": "gp3", "size_gib": 100, "state": "available", "name": "scratch"},
        tags=tags if tags is not None else {"team": "data"},
        created_at=datetime(2026, 6, 1, tzinfo=UTC),
        idle_since=datetime(2026, 11, 1, tzinfo=UTC),
        idle_reason="unattached (state available)",
        cost=CostEstimate(
            monthly_usd=Decimal(monthly),
            net_monthly_saving_usd=Decimal(monthly) - Decimal("1.00"),
            snapshot_monthly_usd=Decimal("1.00"),
            price_source="bundled table",
            price_date="2026-11-01",
        ),
        scan_id=scan_id,
    )


def analysis(
    *, risk: str = "low", source: str = "gemini-2.5-flash-lite", summary: str | None = None
) -> Analysis:
    return Analysis(
        summary=summary or "An unattached 100 GiB gp3 volume named scratch, idle since November.",
        likely_cause="Left behind when its instance was terminated.",
        risk=risk,  # type: ignore[arg-type]
        risk_reason="No recent snapshot; the name suggests scratch data.",
        recommendation="snapshot_then_delete",
        confidence=0.8,
        source=source,
    )


async def analyzed(ledger: Ledger, f: Finding, a: Analysis | None = None) -> Envelope[ResourceAnalyzed]:
    """Record `f` as the scanner and the analyzer would, and return the event the notifier receives."""
    a = a or analysis()
    assert (await ledger.create(f)).applied
    moved = await ledger.transition(
        f.key, State.FOUND, State.ANALYZED, fields={"analysis": a}, actor="analyzer"
    )
    assert moved.applied
    return Envelope.wrap(ResourceAnalyzed(finding=f, analysis=a))


async def drain(runtime: Runtime, queue: str = "execute") -> list[dict[str, Any]]:
    """Every message body on `queue` (received and deleted)."""
    bodies: list[dict[str, Any]] = []
    url = runtime.queues[queue].url  # type: ignore[index]
    while True:
        answer = await runtime.sqs.receive_message(  # type: ignore[attr-defined]
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30
        )
        messages = answer.get("Messages", [])
        if not messages:
            return bodies
        bodies.extend(json.loads(m["Body"]) for m in messages)
        await runtime.sqs.delete_message_batch(  # type: ignore[attr-defined]
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )


async def state_of(ledger: Ledger, f: Finding) -> Decision:
    decision = await ledger.get(f.key)
    assert decision is not None
    return decision
