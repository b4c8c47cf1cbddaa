# The four queues of the pipeline, each with its dead-letter queue and a redrive policy.
# The workers dead-letter a message themselves (with the reason) on its last allowed receive; the
# redrive policy, one receive later, is the backstop for a worker that dies before it can.

resource "aws_sqs_queue" "dlq" {
  for_each = toset(local.queue_names)

  name                      = "${var.prefix}-${each.key}-dlq"
  message_retention_seconds = 1209600 # 14 days: time for a human to look and replay
  sqs_managed_sse_enabled   = true
  tags                      = local.tags
}

resource "aws_sqs_queue" "queue" {
  for_each = toset(local.queue_names)

  name                       = "${var.prefix}-${each.key}"
  visibility_timeout_seconds = var.visibility_timeout
  receive_wait_time_seconds  = 20
  message_retention_seconds  = 345600 # 4 days
  sqs_managed_sse_enabled    = true
  tags                       = local.tags

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = var.max_receives + 1
  })
}

# Only the queue a DLQ belongs to may dead-letter into it.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = toset(local.queue_names)

  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.queue[each.key].arn]
  })
}
