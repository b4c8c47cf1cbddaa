"""One trace per finding, in the Datadog APM test agent: scan → analysis → card → click → execution.

The pipeline runs in a worker process of its own (tests/telemetry/pipeline_driver.py) configured only by
the standard DD_* variables, as in a container: the four real workers and the real Consumer, with the trace
context crossing SQS in the `_datadog` attribute and crossing the human's click through the ledger.
Its JSON log lines must carry the ids of the spans the agent received.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from services.analyzer.handler import GEMINI_SPAN
from shared.worker import Runtime
from tests.fakes.gemini import FakeGemini
from tests.telemetry.conftest import ENV, VERSION, ApmTestAgent, StatsdListener

ROOT = Path(__file__).resolve().parents[2]
SERVICES = (
    "cloudthrift-scanner",
    "cloudthrift-analyzer",
    "cloudthrift-notifier",
    "cloudthrift-interactions",
    "cloudthrift-executor",
)


async def run_driver(
    moto_endpoint: str, agent_url: str, **extra: str
) -> tuple[int, list[dict[str, Any]], str]:
    env = (
        dict(os.environ)
        | {
            "AWS_ENDPOINT_URL": moto_endpoint,
            "CLOUDTHRIFT_REGIONS": "us-east-1",
            "CLOUDTHRIFT_KINDS": "ebs-volume",
            "CLOUDTHRIFT_GROUP_THRESHOLD": "0",  # one finding, one card, no group window to wait out
            "CLOUDTHRIFT_MIN_AGE_DAYS": "0",
            "CLOUDTHRIFT_WAIT_TIME_SECONDS": "1",
            "CLOUDTHRIFT_DRAIN_SECONDS": "5",
            "CLOUDTHRIFT_GAUGE_INTERVAL": "0.5",
            "DD_TRACE_ENABLED": "true",
            "DD_TRACE_AGENT_URL": agent_url,
            "DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false",
            "DD_REMOTE_CONFIGURATION_ENABLED": "false",
        }
        | extra
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.telemetry.pipeline_driver",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=90)
    text = (out + err).decode()
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return process.returncode or 0, lines, text


def wait_for_trace(agent: ApmTestAgent, token: str) -> list[dict[str, Any]]:
    """The one trace holding a span of every service (ddtrace flushes at exit; the agent may lag)."""
    deadline = time.monotonic() + 15
    while True:
        for trace in agent.traces(token):
            if set(SERVICES) <= {span["service"] for span in trace}:
                return trace
        # A trace can arrive in chunks (one per process-local root): join them by trace id.
        spans = [span for trace in agent.traces(token) for span in trace]
        by_trace: dict[int, list[dict[str, Any]]] = {}
        for span in spans:
            by_trace.setdefault(span["trace_id"], []).append(span)
        for joined in by_trace.values():
            if set(SERVICES) <= {span["service"] for span in joined}:
                return joined
        assert time.monotonic() < deadline, (
            f"no complete trace; services seen: {[s['service'] for s in spans]}"
        )
        time.sleep(0.2)


async def test_one_trace_follows_a_finding_from_the_scan_to_its_execution(
    runtime: Runtime,
    moto_endpoint: str,
    test_agent: ApmTestAgent,
    statsd: StatsdListener,
    fake_gemini: FakeGemini,
) -> None:
    ec2 = await runtime.aws.client("ec2", "us-east-1")
    await ec2.create_volume(AvailabilityZone="us-east-1a", Size=100, VolumeType="gp3")
    token = test_agent.start_session()

    code, logs, output = await run_driver(
        moto_endpoint,
        test_agent.url,
        GEMINI_API_KEY=fake_gemini.api_key,
        GEMINI_BASE_URL=fake_gemini.base_url,
    )
    assert code == 0, output[-3000:]
    trace = wait_for_trace(test_agent, token)

    stage_spans = [s for s in trace if s["service"] in SERVICES and s["name"] != GEMINI_SPAN]
    by_service = {span["service"]: span for span in stage_spans}
    assert len(by_service) == len(stage_spans), "one span per stage"
    scanner, analyzer, notifier, click, executor = (by_service[name] for name in SERVICES)
    assert len({span["trace_id"] for span in trace}) == 1
    # The parent links are the chain of custody: scan → analysis → card → human click → execution.
    assert scanner["parent_id"] == 0 and scanner["resource"] == "ScanRequested"
    assert analyzer["parent_id"] == scanner["span_id"] and analyzer["resource"] == "ResourceFound"
    assert notifier["parent_id"] == analyzer["span_id"] and notifier["resource"] == "ResourceAnalyzed"
    # The click resumes the context the notifier stored with the decision in the ledger.
    assert click["parent_id"] == notifier["span_id"] and click["name"] == "interactions.click"
    assert executor["parent_id"] == click["span_id"] and executor["resource"] == "ApprovalGranted"
    for span in (scanner, analyzer, notifier, executor):
        assert span["name"] == "cloudthrift.message"
        assert span["meta"]["messaging.system"] == "aws_sqs"
        assert span["meta"]["messaging.destination.name"].startswith("cloudthrift-")
    for span in (scanner, analyzer, notifier, click, executor):
        assert (span["meta"]["env"], span["meta"]["version"]) == (ENV, VERSION), span["service"]
        assert span["error"] == 0
    # The Gemini call is a span of its own under the analyzer's, with its model and tokens.
    [gemini] = [span for span in trace if span["name"] == GEMINI_SPAN]
    assert gemini["parent_id"] == analyzer["span_id"] and gemini["service"] == "cloudthrift-analyzer"
    assert gemini["resource"] == gemini["meta"]["gemini.model"] == fake_gemini.requests[0].model
    assert gemini["metrics"]["gemini.tokens_in"] > 0 and gemini["metrics"]["gemini.tokens_out"] > 0
    assert gemini["error"] == 0 and len(fake_gemini.requests) == 1

    # Logs link to those spans: the 128-bit trace id in hex, the span id in decimal, the stage's service.
    high = next(span["meta"]["_dd.p.tid"] for span in trace if "_dd.p.tid" in span.get("meta", {}))
    trace_hex = f"{high}{scanner['trace_id']:016x}"
    for event, span in (
        ("scan.summary", scanner),
        ("analysis.recorded", analyzer),
        ("decision.approved", click),
        ("executor.outcome", executor),
    ):
        [line] = [entry for entry in logs if entry.get("event") == event]
        assert line["dd.trace_id"] == trace_hex, event
        assert line["dd.span_id"] == str(span["span_id"]), event
        assert (line["dd.service"], line["dd.env"], line["dd.version"]) == (span["service"], ENV, VERSION)
    [started] = [entry for entry in logs if entry.get("event") == "workers.started"]
    assert "dd.trace_id" not in started  # outside any span, no ids

    # The same process reported its pipeline metrics to the DogStatsD listener.
    wanted = {"cloudthrift.dlq.depth", "cloudthrift.executions", "cloudthrift.approvals"}
    got = statsd.wait_for(lambda got: wanted <= {d.name for d in got})
    lag = [
        d for d in got if d.name == "cloudthrift.queue.lag" and d.tag_map["queue"] == "cloudthrift-analyze"
    ]
    assert lag and lag[0].tag_map["service"] == "cloudthrift-analyzer" and lag[0].tag_map["env"] == ENV
    assert {d.tag_map["queue"] for d in got if d.name == "cloudthrift.dlq.depth"} == {
        "cloudthrift-scan",
        "cloudthrift-analyze",
        "cloudthrift-notify",
        "cloudthrift-execute",
    }
    # The real executor's outcome: a dry run (the default), counted apart from real savings by its tag.
    # 100 GiB gp3 in us-east-1 costs $8.00 a month; the snapshot it would keep, $5.00: $3.00 net.
    [execution] = [d for d in got if d.name == "cloudthrift.executions"]
    assert execution.value == 1 and execution.tag_map["service"] == "cloudthrift-executor"
    assert {k: execution.tag_map[k] for k in ("outcome", "kind", "region", "dry_run")} == {
        "outcome": "executed",
        "kind": "ebs-volume",
        "region": "us-east-1",
        "dry_run": "true",
    }
    [avoided] = [d for d in got if d.name == "cloudthrift.cost_avoided.monthly_usd"]
    assert avoided.value == 3.0 and avoided.tag_map["dry_run"] == "true"
    [approval] = [d for d in got if d.name == "cloudthrift.approvals"]
    assert approval.tag_map["decision"] == "approved" and approval.tag_map["via"] == "discord"


async def test_with_no_agent_at_all_the_finding_still_goes_all_the_way(
    runtime: Runtime, moto_endpoint: str
) -> None:
    """Datadog absent: nothing listens on the trace or DogStatsD ports; the pipeline does not notice."""
    ec2 = await runtime.aws.client("ec2", "us-east-1")
    await ec2.create_volume(AvailabilityZone="us-east-1a", Size=8, VolumeType="gp2")

    closed = _closed_port()
    code, logs, output = await run_driver(
        moto_endpoint,
        f"http://127.0.0.1:{closed}",
        DD_DOGSTATSD_URL=f"udp://127.0.0.1:{closed}",
        DD_DOGSTATSD_DISABLE="false",
    )
    assert code == 0, output[-3000:]
    events = [entry.get("event") for entry in logs]
    assert {"scan.summary", "analysis.recorded", "decision.approved", "executor.outcome"} <= set(events)
    assert not [entry for entry in logs if entry.get("level") == "error"], output[-3000:]


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
