output "dashboard_url" {
  description = "Where the dashboard lives in the Datadog app."
  value       = datadog_dashboard.finops.url
}
