"""A kind written in one module (tests/kinds/throwaway_topic.py), plus its price rows, goes through the
scanner, the analyzer (Gemini's fake, fed only the kind's allowed facts), the notifier and the
executor on moto, with no other file of the project changed: the plug-in promise of shared/kinds/."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.session import AioSession

from services.analyzer.main import WORKER as ANALYZER
from services.estate import seed_estate
from services.executor.main import WORKER as EXECUTOR
from services.notifier.decide import DecideDeps, decide
from services.notifier.main import WORKER as NOTIFIER
from services.scanner.main import WORKER as SCANNER
from shared.aws import AwsClients
from shared.bootstrap import bootstrap
from shared.config import Settings
from shared.events import Approver, ScanRequested, utcnow
from shared.kinds.pricing import PRICES_FILE
from shared.ledger import Decision, State
from shared.worker import Runtime, open_runtime, run_workers
from tests.fakes.gemini import FakeGemini

KIND = "throwaway-topic"


@pytest.fixture
def prices_with_rows(tmp_path: Path, throwaway: Any) -> Path:
    """The shipped price table plus the kind's rows: what the kind's author adds to prices.json."""
    table = json.loads(PRICES_FILE.read_text())
    for rates in table["regions"].values():
        rates.update({name: str(value) for name, value in throwaway.PRICE_ROWS.items()})
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(table))
    return path


async def until(runtime: Runtime, state: State, where: Callable[[Decision], bool]) -> Decision:
    while True:
        async for decision in runtime.ledger.by_state(state):
            if where(decision):
                return decision
        await asyncio.sleep(0.2)


async def test_a_new_kind_in_one_module_goes_through_the_whole_pipeline(
    make_settings: Callable[..., Settings],
    aws_session: AioSession,
    throwaway: Any,
    prices_with_rows: Path,
    fake_gemini: FakeGemini,
) -> None:
    settings = make_settings(
        cloudthrift_regions="us-east-1",
        cloudthrift_kinds=KIND,
        cloudthrift_min_age_days=0,
        cloudthrift_dry_run=False,
        cloudthrift_prices_file=prices_with_rows,
        gemini_api_key=fake_gemini.api_key,
        gemini_base_url=fake_gemini.base_url,
    )
    async with AwsClients(settings, session=aws_session) as aws:
        await bootstrap(settings, aws)
        manifest = await seed_estate(aws, ("us-east-1",), kinds=(KIND,))
        quiet, busy = (next(s.resource_id for s in manifest if s.expectation == e) for e in ("idle", "busy"))
        # The busy topic published last week: CloudWatch has the numbers the check reads in bulk.
        await (await aws.client("cloudwatch")).put_metric_data(
            Namespace="AWS/SNS",
            MetricData=[
                {
                    "MetricName": "NumberOfMessagesPublished",
                    "Dimensions": [{"Name": "TopicName", "Value": busy.rsplit(":", 1)[-1]}],
                    "Timestamp": datetime.now(UTC) - timedelta(days=7),
                    "Value": 12,
                }
            ],
        )
    async with open_runtime(settings, session=aws_session) as runtime:
        stop = asyncio.Event()
        workers = asyncio.create_task(
            run_workers(runtime, [SCANNER, ANALYZER, NOTIFIER, EXECUTOR], stop=stop)
        )
        try:
            await runtime.publisher.publish(runtime.queues["scan"].url, [ScanRequested(requested_by="test")])
            async with asyncio.timeout(60):
                card = await until(runtime, State.AWAITING_APPROVAL, lambda d: d.get("kind") == KIND)
                deps = DecideDeps(runtime.ledger, runtime.publisher, runtime.queues["execute"].url)
                approver = Approver(id="42", name="tester", via="cli")
                await decide(deps, card.decision_id, "approve", approver, now=utcnow(), pk=card.pk)
                done = await until(runtime, State.EXECUTED, lambda d: d.pk == card.pk)
        finally:
            stop.set()
            await workers

    assert card.key.resource_id == quiet and card.key.check == "unused"
    assert card.finding.idle_reason == "published 0 messages over 14 days"
    assert str(card.finding.cost.monthly_usd) == "2.5000"  # from the kind's own price row
    assert card.analysis is not None and card.analysis.source != "rules"
    assert done.get("action") == "delete" and done.get("dry_run") is False
    assert done.get("realised_monthly_saving_usd") == card.finding.cost.monthly_usd
    # Gemini saw the kind's allowed facts only: never the topic's ARN (its resource id).
    [request] = fake_gemini.requests
    assert '"topic_name":"throwaway-quiet"' in request.user_text and quiet not in request.user_text
    async with AwsClients(settings, session=aws_session) as aws:
        topics = await (await aws.client("sns")).list_topics()
    left = {topic["TopicArn"] for topic in topics["Topics"]}
    assert quiet not in left and busy in left  # the busy one was never a finding, nor touched
