# The periodic scan: EventBridge Scheduler sends a ScanRequested envelope straight to the scan queue
# (one schedule per account to scan; "" means this account; "organization", set by organization_scan,
# is fanned out by the scanner to every member account). The body is templates/scan_requested.json.tftpl;
# the scheduler fills in the time and a per-attempt id, so every run gets its own scan id.

locals {
  scan_targets = merge(
    var.scan_home_account ? { home = "" } : {},
    { for arn in var.scan_role_arns : regex("::([0-9]{12}):", arn)[0] => arn },
    var.organization_scan != null ? { organization = "organization" } : {},
  )
}

resource "aws_scheduler_schedule" "scan" {
  for_each = local.scan_targets

  name                         = "${var.prefix}-scan-${each.key}"
  description                  = "CloudThrift scan of ${each.value == "" ? "this account" : each.value == "organization" ? "the organization" : each.value}"
  schedule_expression          = var.scan_schedule
  schedule_expression_timezone = var.scan_schedule_timezone
  kms_key_arn                  = local.kms_key_arn

  flexible_time_window {
    mode                      = "FLEXIBLE"
    maximum_window_in_minutes = 15
  }

  target {
    arn      = aws_sqs_queue.queue["scan"].arn
    role_arn = aws_iam_role.scheduler.arn
    input = templatefile("${path.module}/templates/scan_requested.json.tftpl", {
      event_id     = uuidv5("url", "cloudthrift:${var.prefix}:schedule:${each.key}")
      regions      = jsonencode(var.regions)
      kinds        = jsonencode(var.kinds)
      role_arn     = jsonencode(each.value == "" || each.value == "organization" ? null : each.value)
      organization = jsonencode(each.value == "organization" ? var.organization_scan : null)
      requested_by = "eventbridge-scheduler:${var.prefix}-scan-${each.key}"
    })

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 10
    }

    dead_letter_config {
      arn = aws_sqs_queue.dlq["scan"].arn
    }
  }
}
