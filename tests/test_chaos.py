"""Self-healing under SIGKILL (issue 20): real executor and notifier processes killed at random while
they clean up real resources on the embedded AWS, then left alone. Nobody replays anything.

Bounded for CI (40 approvals, 20 kills 0.4-1.2 s apart, short claim and visibility times); bench/chaos.py
runs the full scenario (360 approvals, ~250 kills 0.5-2 s apart) and reports the times.
"""

from __future__ import annotations

from pathlib import Path

from tests.chaos import ChaosConfig, run_chaos

CONFIG = ChaosConfig(
    volumes=30,
    addresses=10,
    kills=20,
    min_gap=0.4,
    max_gap=1.2,
    visibility_timeout=8,
    claim_ttl=4,
    sweep_seconds=2,
    recover_seconds=30,
    settle_timeout=90,
    seed=20,
)


async def test_sigkills_during_the_clean_up_settle_by_themselves_with_nothing_done_twice(
    moto_endpoint: str, tmp_path: Path
) -> None:
    report = await run_chaos(
        ChaosConfig(**{**CONFIG.__dict__, "log_dir": tmp_path}), moto_endpoint, prefix="chaos"
    )

    assert report.kills == CONFIG.kills and report.kills_by_worker
    # Every decision reached its outcome without any manual step...
    assert report.all_terminal_at is not None, report.as_dict()
    assert report.states == {"EXECUTED": 40}, report.as_dict()
    # ...exactly once: one outcome and one fresh claim per decision, one snapshot per deleted volume.
    assert report.doubled == []
    assert report.snapshots_per_volume == {1: 30}
    assert (report.volumes_left, report.addresses_left) == (0, 0)
    # No dead letters anywhere, and no message storm: at most 3 messages ever per decision.
    assert report.dlq_depths == {"scan": 0, "analyze": 0, "notify": 0, "execute": 0}
    assert report.messages_max <= 3
    assert report.log_events["message.dead_lettered"] == 0
