# Monitors as code: the four conditions that need a human (the dashboard shows the rest). Every query
# reads a metric the workers send (names in shared/telemetry/__init__.py; tests/deploy checks them).

locals {
  env_scope    = "env:${var.env}"
  notify       = join(" ", var.notify)
  monitor_tags = concat(["app:cloudthrift", "env:${var.env}", "managed-by:terraform"], var.monitor_tags)
}

resource "datadog_monitor" "dlq_not_empty" {
  name  = "[CloudThrift ${var.env}] Messages in the {{queue.name}} dead-letter queue"
  type  = "query alert"
  query = "max(last_10m):max:cloudthrift.dlq.depth{${local.env_scope}} by {queue} > 0"

  message = <<-EOT
    {{#is_alert}}{{value}} message(s) in the dead-letter queue of {{queue.name}}: a stage gave up on them
    after CLOUDTHRIFT_MAX_RECEIVES tries and wrote the reason on each. Read them with
    `cloudthrift dlq list`, fix the cause, then `cloudthrift dlq replay {{queue.name}}`.{{/is_alert}}
    {{#is_recovery}}The {{queue.name}} dead-letter queue is empty again.{{/is_recovery}}
    ${local.notify}
  EOT

  monitor_thresholds {
    critical = 0
  }

  # The depth gauge is sampled every CLOUDTHRIFT_GAUGE_INTERVAL seconds: no sample is not an empty queue.
  notify_no_data      = false
  require_full_window = false
  renotify_interval   = 720
  include_tags        = true
  tags                = local.monitor_tags
}

resource "datadog_monitor" "approval_waiting" {
  name  = "[CloudThrift ${var.env}] An approval has waited more than ${var.pending_approval_critical_hours} h"
  type  = "query alert"
  query = "max(last_15m):max:cloudthrift.approvals.pending_age_max{${local.env_scope}} > ${var.pending_approval_critical_hours * 3600}"

  message = <<-EOT
    {{#is_warning}}The oldest pending approval has waited {{eval "value / 3600"}} h.{{/is_warning}}
    {{#is_alert}}The oldest pending approval has waited {{eval "value / 3600"}} h: idle resources keep
    costing money until someone approves, rejects or snoozes them (`cloudthrift pending`, or the cards
    in Discord).{{/is_alert}}
    {{#is_recovery}}No approval has waited that long any more.{{/is_recovery}}
    ${local.notify}
  EOT

  monitor_thresholds {
    warning  = var.pending_approval_warning_hours * 3600
    critical = var.pending_approval_critical_hours * 3600
  }

  lifecycle {
    precondition {
      condition     = var.pending_approval_warning_hours < var.pending_approval_critical_hours
      error_message = "pending_approval_warning_hours must be below pending_approval_critical_hours."
    }
  }

  notify_no_data      = false
  require_full_window = false
  renotify_interval   = 1440
  tags                = local.monitor_tags
}

resource "datadog_monitor" "execution_failed" {
  name  = "[CloudThrift ${var.env}] A clean-up FAILED"
  type  = "query alert"
  query = "sum(last_1h):sum:cloudthrift.executions{${local.env_scope},outcome:failed} by {kind,account_id,region}.as_count() > 0"

  message = <<-EOT
    {{#is_alert}}The executor recorded FAILED for a {{kind.name}} in account {{account_id.name}},
    {{region.name}}: usually a permission the executor's role (or a scan role) lacks, or a refusal. The
    decision holds the error (`cloudthrift findings`); the message is in the execute dead-letter queue
    and `cloudthrift dlq replay execute` resumes it once fixed.{{/is_alert}}
    ${local.notify}
  EOT

  monitor_thresholds {
    critical = 0
  }

  # A count with no failure sends nothing: no data is the healthy state here.
  notify_no_data      = false
  require_full_window = false
  include_tags        = true
  tags                = local.monitor_tags
}

resource "datadog_monitor" "scan_missing" {
  name  = "[CloudThrift ${var.env}] No scan has finished in ${var.scan_max_silence_hours} h"
  type  = "query alert"
  query = "sum(last_${var.scan_max_silence_hours}h):count:cloudthrift.scan.duration{${local.env_scope}} < 1"

  message = <<-EOT
    {{^is_recovery}}No scan has finished in ${var.scan_max_silence_hours} h: the scheduled scan did not run
    or did not finish. Check the schedule (EventBridge Scheduler `<prefix>-scan-*`), the scan dead-letter
    queue (`cloudthrift dlq list`) and the scanner's logs; `cloudthrift scan` requests one now.{{/is_recovery}}
    {{#is_recovery}}A scan has finished again.{{/is_recovery}}
    ${local.notify}
  EOT

  monitor_thresholds {
    critical = 1
  }

  # Each finished scan sends one cloudthrift.scan.duration per account: silence is the alert.
  notify_no_data      = true
  no_data_timeframe   = var.scan_max_silence_hours * 60
  require_full_window = false
  renotify_interval   = 1440
  tags                = local.monitor_tags
}
