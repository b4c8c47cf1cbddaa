# What every stage's role shares, on ECS and on Lambda (terraform/modules/cloudthrift-serverless links
# this file): the queue plumbing of each worker (read its input queue, dead-letter into that queue's DLQ,
# publish to its output queue). Who may assume the roles is each module's own (iam_trust.tf).

locals {
  all_queue_arns = concat(values(aws_sqs_queue.queue)[*].arn, values(aws_sqs_queue.dlq)[*].arn)
  ledger_arns    = [aws_dynamodb_table.ledger.arn, "${aws_dynamodb_table.ledger.arn}/index/*"]
}

data "aws_iam_policy_document" "worker_queues" {
  for_each = local.worker_queues

  # Start-up resolves every queue URL (shared/worker.py open_runtime).
  statement {
    sid       = "FindQueues"
    actions   = ["sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
    resources = local.all_queue_arns
  }

  statement {
    sid       = "ConsumeInput"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
    resources = [aws_sqs_queue.queue[each.value.input].arn]
  }

  statement {
    sid       = "DeadLetterWithReason"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq[each.value.input].arn]
  }

  dynamic "statement" {
    for_each = each.value.output == null ? [] : [each.value.output]

    content {
      sid       = "PublishOutput"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.queue[statement.value].arn]
    }
  }
}
