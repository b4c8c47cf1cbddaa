output "dashboard_url" {
  description = "Where the dashboard lives in the Datadog app."
  value       = datadog_dashboard.finops.url
}

output "monitor_ids" {
  description = "The monitors by what they watch."
  value = {
    dlq_not_empty    = datadog_monitor.dlq_not_empty.id
    approval_waiting = datadog_monitor.approval_waiting.id
    execution_failed = datadog_monitor.execution_failed.id
    scan_missing     = datadog_monitor.scan_missing.id
  }
}
