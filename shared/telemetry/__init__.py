"""Datadog telemetry: DogStatsD metrics and ddtrace spans, never in the way of the pipeline.

Metrics go over UDP through the `datadog` package with a background sender and a bounded queue, so a
missing or slow Agent costs a dropped datagram, never a blocked event loop or an exception (every call
below swallows its own errors). The Agent address comes from the standard `DD_DOGSTATSD_URL`, or
`DD_AGENT_HOST` + `DD_DOGSTATSD_PORT`. Every metric carries `env`, `service` (the stage:
`cloudthrift-scanner`, ...) and `version`. Metric names (the dashboard in terraform/datadog reads these):

    name                                       type          tags (and env, service, version)
    cloudthrift.scan.idle_resources            gauge         kind, region, account_id; 0 for clean combos
    cloudthrift.scan.waste_monthly_usd         gauge         kind, region, account_id; their monthly cost
    cloudthrift.scan.announced                 count         kind, region, account_id; sent to the analyzer
    cloudthrift.scan.region_failures           count         region, account_id
    cloudthrift.scan.duration                  distribution  account_id (seconds)
    cloudthrift.queue.lag                      distribution  queue, stage (s): age of a message at receive
    cloudthrift.stage.latency                  distribution  stage, event_type, outcome (seconds)
    cloudthrift.stage.messages                 count         stage, event_type, outcome; outcome is one of
                                                             ok, retry, dead_letter, cancelled (drained)
    cloudthrift.stage.errors                   count         stage, event_type, outcome, error (class name)
    cloudthrift.dlq.moved                      count         queue, stage, error
    cloudthrift.queue.depth                    gauge         queue; every CLOUDTHRIFT_GAUGE_INTERVAL seconds
    cloudthrift.dlq.depth                      gauge         queue; same sampler
    cloudthrift.approvals.pending              gauge         AWAITING_APPROVAL decisions (notifier process)
    cloudthrift.approvals.pending_age_max      gauge         seconds the oldest one has waited
    cloudthrift.approvals.pending_monthly_usd  gauge         money waiting on a human
    cloudthrift.approvals                      count         decision (approved|rejected|snoozed), via, kind
    cloudthrift.approvals.republished          count         by (sweep|click), kind: lost approvals sent again
    cloudthrift.executions                     count         outcome, kind, region, account_id, dry_run
    cloudthrift.cost_avoided.monthly_usd       count         kind, region, account_id, dry_run: the ROI
    cloudthrift.cost_avoided.usd               count         kind, region, account_id: dollars avoided
                                                             since the last count (money sweep, once)
    cloudthrift.gemini.calls                   count         model, outcome
    cloudthrift.gemini.tokens                  count         model, direction (input|output)
    cloudthrift.gemini.cost_usd                count         model

A later stage wires its figures with one line (`record_approval`, `record_execution`,
`record_gemini_usage`), e.g. `record_approval(deps.metrics, "approved", via="discord", kind=f.kind)`,
where `deps.metrics = runtime.telemetry.stage("notifier").metrics`.

Traces (ddtrace, imported only when tracing is on; never `ddtrace.auto` as a side effect): ddtrace does
not propagate context through SQS for aiobotocore (PROTOCOLS C3), so the queue runtime carries it in
the `_datadog` message attribute and activates it per message task. Each stage is its own service, so
the service map draws scanner → analyzer → notifier → executor. The context is also stored with a
decision (`Tracing.ledger_fields()`), so the approval click (`Tracing.resume`) and the execution join the
same trace. Each Gemini call is a `gemini.generate_content` span under the analyzer's message span
(resource: the model; `gemini.tokens_in` / `gemini.tokens_out`; an error when the call fell back to the
rules). Logs carry `dd.trace_id`, `dd.span_id`, `dd.service`, `dd.env`, `dd.version` inside a span
(`add_trace_correlation`, a structlog processor). Wiring for the later stages, one line each:

    # notifier, on its AWAITING_APPROVAL transition:
    fields={..., **stage.tracing.ledger_fields()}
    # interactions endpoint (and the CLI approve), around the click:
    with stage.tracing.resume(decision.get(TRACE_CONTEXT_FIELD), "interactions.click"):
        await publisher.publish(url, [approval], attributes=stage.tracing.message_attributes())

where `stage = runtime.telemetry.stage("interactions")`. Consumers need nothing: `run_workers` gives each
its stage, and the Consumer passes the context on to whatever its handler returns.
"""

from shared.telemetry.metrics import (
    DogStatsdMetrics,
    MemoryMetrics,
    Metrics,
    NullMetrics,
    Sample,
    record_approval,
    record_execution,
    record_gemini_usage,
)
from shared.telemetry.runtime import MessageTelemetry, Stage, Telemetry, report_gauges, sample_gauges
from shared.telemetry.tracing import (
    TRACE_ATTRIBUTE,
    TRACE_CONTEXT_FIELD,
    Tracing,
    add_trace_correlation,
    message_carrier,
)

__all__ = [
    "TRACE_ATTRIBUTE",
    "TRACE_CONTEXT_FIELD",
    "DogStatsdMetrics",
    "MemoryMetrics",
    "MessageTelemetry",
    "Metrics",
    "NullMetrics",
    "Sample",
    "Stage",
    "Telemetry",
    "Tracing",
    "add_trace_correlation",
    "message_carrier",
    "record_approval",
    "record_execution",
    "record_gemini_usage",
    "report_gauges",
    "sample_gauges",
]
