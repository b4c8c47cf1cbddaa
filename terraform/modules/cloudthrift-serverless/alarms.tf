# Seven alarms, within CloudWatch's ten free ones: a message on any dead-letter queue (every failure
# that outlived its retries ends there, the sweeps' too), and errors of the two functions no queue
# retries: interactions (Discord sees them) and sweeps.

locals {
  dlq_arns_by_name = merge(
    { for name, q in aws_sqs_queue.dlq : name => q.name },
    { clicks = aws_sqs_queue.clicks_dlq.name },
  )
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  for_each = local.dlq_arns_by_name

  alarm_name          = "${var.prefix}-${each.key}-dead-letters"
  alarm_description   = "A message reached ${each.value}: `cloudthrift dlq list` says why, `replay` sends it again."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = toset(["interactions", "sweeps"])

  alarm_name          = "${var.prefix}-${each.key}-errors"
  alarm_description   = "The ${each.key} function failed; its log group says why."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}
