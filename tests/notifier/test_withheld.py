"""A load balancer under deletion protection is reported, never offered a clean-up (issue 16): its
card has no Approve of any kind, Approve all leaves it out, the ledger refuses its approval (button,
CLI, any remedy), and no analysis recommends deleting it."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from rich.console import Console
from typer.testing import CliRunner

from services.analyzer.rules import raise_to_floor, rules_analysis, within_offer
from services.cli import app
from services.notifier import card_buttons, cards
from services.notifier.decide import DecideDeps, decide, refusal_summary
from services.notifier.handler import GroupPolicy, NotifierDeps, handle_analyzed
from services.notifier.operator import decide_from_cli
from services.scanner.rules import build_finding
from services.scanner.sightings import gate
from shared.aws import AwsClients
from shared.bootstrap import bootstrap
from shared.config import Settings
from shared.discord import ConsoleDiscord, DiscordClient
from shared.events import Approver, DecisionKey, Finding
from shared.kinds import kind_named
from shared.kinds.base import Observation
from shared.kinds.pricing import load_prices
from shared.ledger import State
from shared.worker import Runtime, open_runtime
from tests.fakes.discord import FakeDiscord
from tests.notifier.conftest import CHANNEL
from tests.notifier.helpers import ACCOUNT, analysis, analyzed, drain, state_of

ANA = Approver(id="42", name="ana", via="discord")
NOW = datetime.now(UTC)


def balancer(name: str, *, protected: bool, check: str = "no-requests") -> Finding:
    """The finding the scanner makes of an idle ALB, priced by the shipped table."""
    arn = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/app/{name}/0123456789abcdef"
    facts = {
        "name": name,
        "type": "application",
        "scheme": "internet-facing",
        "deletion_protection": protected,
        "target_group_count": 0,
        "registered_targets": 0,
        "answers_by_itself": False,
    }
    kind = kind_named("load-balancer")
    key = DecisionKey(account_id=ACCOUNT, region="us-east-1", kind=kind.name, check=check, resource_id=arn)
    observation = Observation(arn, facts, {}, NOW - timedelta(days=90))
    reason = "nothing behind it" if check == "no-targets" else "no traffic: 0 requests over 32 days"
    return build_finding(
        kind.checks.get(check)(), observation, reason, key, load_prices(), now=NOW, scan_id="scan-1"
    )


def test_a_protected_balancer_is_priced_but_offered_nothing_to_save() -> None:
    for check in ("no-requests", "no-targets"):
        protected = balancer("payments-legacy-alb", protected=True, check=check)
        assert protected.cost.monthly_usd > 0 and protected.cost.net_monthly_saving_usd == 0
        assert protected.cost.withheld and "deletion protection" in protected.cost.withheld
        assert protected.cost.choices == () and not protected.cost.offers_remedy
        assert balancer("old-alb", protected=False, check=check).cost.withheld is None


def test_its_card_has_reject_and_snooze_and_says_why_and_what_to_do() -> None:
    protected = balancer("payments-legacy-alb", protected=True)
    payload = cards.single_card(protected, analysis(), str(uuid.uuid4()), now=NOW)
    row = payload["components"][0]["components"]
    actions = [card_buttons.parse_custom_id(b["custom_id"]) for b in row]
    assert [(b.action, b.remedy) for b in actions if b] == [("reject", None), ("snooze", None)]
    fields = {f["name"]: f["value"] for f in payload["embeds"][0]["fields"]}
    offered = fields["⛔ No clean-up offered"]
    assert (
        "deletion protection is on" in offered and r"deletion\_protection.enabled=false" in offered
    )  # shown verbatim
    assert fields["Net saving"].startswith("none") and fields["Undo"].startswith("none")
    unprotected = cards.single_card(
        balancer("old-alb", protected=False), analysis(), str(uuid.uuid4()), now=NOW
    )
    assert unprotected["components"][0]["components"][0]["label"] == "Approve"


async def test_the_ledger_refuses_its_approval_with_or_without_a_remedy(
    runtime: Runtime, decide_deps: DecideDeps
) -> None:
    protected = balancer("payments-legacy-alb", protected=True)
    await analyzed(runtime.ledger, protected)
    await runtime.ledger.transition(protected.key, State.ANALYZED, State.AWAITING_APPROVAL)
    decision_id = (await state_of(runtime.ledger, protected)).decision_id

    for remedy in (None, "delete"):
        outcome = await decide(
            decide_deps, decision_id, "approve", ANA, now=NOW, pk=protected.key.pk, remedy=remedy
        )
        assert outcome.decided == [] and [d.pk for d in outcome.withheld] == [protected.key.pk]
        assert "is offered no clean-up: deletion protection is on" in refusal_summary(outcome)
    assert (await state_of(runtime.ledger, protected)).state is State.AWAITING_APPROVAL
    assert await drain(runtime) == []
    snoozed = await decide(decide_deps, decision_id, "snooze", ANA, now=NOW, pk=protected.key.pk)
    assert len(snoozed.decided) == 1  # what its owner is told to do, once protection is off


async def test_approve_all_never_includes_a_protected_balancer(
    runtime: Runtime,
    fake_discord: FakeDiscord,
    notifier_deps: Callable[..., NotifierDeps],
    decide_deps: DecideDeps,
) -> None:
    idle = [balancer(f"old-alb-{i}", protected=False) for i in range(3)]
    protected = balancer("payments-legacy-alb", protected=True)
    events = [await analyzed(runtime.ledger, f) for f in [*idle, protected]]
    await asyncio.gather(*(handle_analyzed(e, notifier_deps()) for e in events))

    posted = fake_discord.in_channel(CHANNEL)
    group = next(c for c in posted if "3 idle" in c["message"]["embeds"][0]["title"])
    apart = next(f for f in group["message"]["embeds"][0]["fields"] if f["name"].startswith("Not in Approve"))
    assert "payments-legacy-alb" in apart["value"] and "no clean-up offered" in apart["value"]
    own = next(c for c in posted if "payments-legacy-alb" in c["message"]["embeds"][0]["title"])
    assert "Approve" not in str([b["label"] for b in own["message"]["components"][0]["components"]])
    group_card_id = (await state_of(runtime.ledger, idle[0])).get("card_id")

    clicked = await decide(decide_deps, group_card_id, "approve", ANA, now=NOW)

    assert len(clicked.decided) == 3
    assert (await state_of(runtime.ledger, protected)).state is State.AWAITING_APPROVAL
    assert len(await drain(runtime)) == 3


async def _seed_protected(settings: Settings) -> str:
    async with AwsClients(settings) as aws:
        await bootstrap(settings, aws)
    async with open_runtime(settings) as runtime:
        deps = NotifierDeps(
            runtime.ledger, ConsoleDiscord(Console(file=io.StringIO())), "console", GroupPolicy(threshold=0)
        )
        protected = balancer("payments-legacy-alb", protected=True)
        await handle_analyzed(await analyzed(runtime.ledger, protected), deps)
        return (await state_of(runtime.ledger, protected)).decision_id


def test_the_cli_refuses_to_approve_it_with_a_clear_line(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    decision_id = asyncio.run(_seed_protected(settings))
    env = {"CLOUDTHRIFT_LOG_FORMAT": "json", "COLUMNS": "250"}

    refused = CliRunner().invoke(app, ["approve", decision_id[:8]], env=env)

    assert refused.exit_code == 1
    assert (
        "Not approved:" in refused.output
        and "offered no clean-up: deletion protection is on" in refused.output
    )


def test_no_analysis_recommends_deleting_it() -> None:
    protected = balancer("payments-legacy-alb", protected=True)
    rules = rules_analysis(protected, NOW)
    assert rules.recommendation == "keep" and "Deleting it" not in rules.summary
    model = analysis(risk="high").model_copy(update={"recommendation": "delete"})  # a model's own words
    assert within_offer(raise_to_floor(model, rules), protected).recommendation == "keep"
    unprotected = balancer("old-alb", protected=False)
    assert within_offer(model, unprotected).recommendation == "delete"


async def test_once_protection_is_off_the_next_cycle_may_be_approved(runtime: Runtime) -> None:
    """What the card tells its owner: turn protection off, snooze; the next cycle offers the deletion."""
    protected = balancer("payments-legacy-alb", protected=True)
    await gate([protected], runtime.ledger, NOW, timedelta(0))
    assert (await state_of(runtime.ledger, protected)).get("withheld")
    for before, after in (
        (State.FOUND, State.ANALYZED),
        (State.ANALYZED, State.AWAITING_APPROVAL),
        (State.AWAITING_APPROVAL, State.SNOOZED),
    ):
        await runtime.ledger.transition(
            protected.key, before, after, fields={"snoozed_until": NOW - timedelta(days=1)}
        )

    unprotected = balancer("payments-legacy-alb", protected=False)
    await gate([unprotected], runtime.ledger, NOW, timedelta(0))

    decision = await state_of(runtime.ledger, unprotected)
    assert decision.state is State.FOUND and decision.cycle == 1 and decision.get("withheld") is None
    for before, after in ((State.FOUND, State.ANALYZED), (State.ANALYZED, State.AWAITING_APPROVAL)):
        await runtime.ledger.transition(unprotected.key, before, after)
    approved = await runtime.ledger.transition(
        unprotected.key, State.AWAITING_APPROVAL, State.APPROVED, unless_withheld=True
    )
    assert approved.applied


async def test_a_cli_reject_redraws_its_card_without_an_approve_button(
    runtime: Runtime,
    fake_discord: FakeDiscord,
    bot: DiscordClient,
    notifier_deps: Callable[..., NotifierDeps],
    decide_deps: DecideDeps,
) -> None:
    """`cloudthrift reject` edits the card as the click does: it drew every card's default buttons, so a
    protected balancer's card came back with an (disabled) Approve it never offered."""
    protected = balancer("payments-legacy-alb", protected=True)
    await handle_analyzed(await analyzed(runtime.ledger, protected), notifier_deps())
    decision_id = (await state_of(runtime.ledger, protected)).decision_id

    outcome = await decide_from_cli(decide_deps, bot, decision_id, "reject", ANA, now=NOW)

    assert len(outcome.decided) == 1
    [card] = fake_discord.in_channel(CHANNEL)
    labels = [button["label"] for row in card["message"]["components"] for button in row["components"]]
    assert labels and all(button.startswith(("Reject", "Snooze")) for button in labels), labels
