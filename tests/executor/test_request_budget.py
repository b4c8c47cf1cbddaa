"""The executor's AWS requests per decision, counted by a proxy in front of moto (tests/fakes/aws_proxy.py).

Issue 20: two executors on the embedded AWS must reach 10 decisions a second, and every request is the
emulator's CPU (or, on AWS, a latency and a bill). A group card's members are approved by the click's own
code, then each approval is handled as the worker would; what it costs is counted by operation. The
contract stays: the resource is re-read right before acting, every ledger change is conditional, one
safety snapshot per volume.
"""

from __future__ import annotations

import io
from collections import Counter

import pytest

from services.executor.group_card import CoalescedEdits, GroupCards
from services.executor.handler import ExecutionPolicy, ExecutorDeps, handle_approval
from services.executor.outcome import DiscordCardReporter
from shared.discord import ConsoleDiscord
from shared.events import ApprovalGranted, Envelope, parse_event
from shared.ledger import State
from shared.worker import Runtime
from tests.chaos import ChaosConfig, click_cards, seed
from tests.fakes.aws_proxy import AwsProxy

VOLUMES, ADDRESSES = 12, 4


async def _approvals(runtime: Runtime) -> list[Envelope[ApprovalGranted]]:
    events: list[Envelope[ApprovalGranted]] = []
    while True:
        answer = await runtime.sqs.receive_message(  # type: ignore[attr-defined]
            QueueUrl=runtime.queues["execute"].url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        if not answer.get("Messages"):
            return events
        events += [parse_event(m["Body"]) for m in answer["Messages"]]  # type: ignore[misc]


@pytest.mark.timeout(300)
async def test_a_group_cards_clean_ups_cost_their_re_check_their_action_and_three_writes(
    counted: tuple[Runtime, AwsProxy],
) -> None:
    runtime, proxy = counted
    findings = await seed(runtime, ChaosConfig(volumes=VOLUMES, addresses=ADDRESSES))
    await click_cards(runtime, findings)
    approvals = await _approvals(runtime)
    assert len(approvals) == VOLUMES + ADDRESSES
    reporter = DiscordCardReporter(
        ConsoleDiscord(console=_quiet()), cards=GroupCards(runtime.ledger), coalesce=CoalescedEdits(0)
    )
    deps = ExecutorDeps(
        aws=runtime.aws, ledger=runtime.ledger, reporter=reporter, policy=ExecutionPolicy(dry_run=False)
    )
    proxy.calls.clear()
    for approval in approvals:
        assert await handle_approval(approval, deps) == []
    calls = Counter(proxy.calls)

    decisions = await runtime.ledger.get_many(f.key for f in findings)
    assert {d.state for d in decisions.values()} == {State.EXECUTED}
    # EC2: the re-check (once: the undo's volume spec comes from it), then the clean-up itself.
    assert calls["ec2:DescribeVolumes"] == VOLUMES, calls
    assert calls["ec2:CreateSnapshot"] == calls["ec2:DeleteVolume"] == VOLUMES, calls
    assert calls["ec2:DescribeSnapshots"] == VOLUMES, calls  # the completed snapshot's size, read once
    assert calls["ec2:DescribeAddresses"] == calls["ec2:ReleaseAddress"] == ADDRESSES, calls
    # The ledger: one read, then three conditional writes (claim, outcome, the card's tally) and the
    # card's counters read back per edit; never a query, a scan or a batch read.
    decided = VOLUMES + ADDRESSES
    assert calls["dynamodb:UpdateItem"] == 3 * decided, calls
    assert calls["dynamodb:GetItem"] == 2 * decided, calls
    assert not {"dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchGetItem", "dynamodb:PutItem"} & set(calls)
    assert sum(calls.values()) == 9 * VOLUMES + 7 * ADDRESSES, calls


def _quiet() -> object:
    from rich.console import Console

    return Console(file=io.StringIO())
