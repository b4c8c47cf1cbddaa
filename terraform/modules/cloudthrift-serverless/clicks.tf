# Clicks a cold interactions function acknowledged (DEFERRED_UPDATE_MESSAGE) and left to be decided:
# the function itself consumes them (services/serverless/interactions.py). Same redrive rule as the
# pipeline's queues: the function dead-letters with the reason, the redrive policy is the backstop.

resource "aws_sqs_queue" "clicks_dlq" {
  name                      = "${var.prefix}-clicks-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = local.tags
}

resource "aws_sqs_queue" "clicks" {
  name                       = "${var.prefix}-clicks"
  visibility_timeout_seconds = local.functions.interactions.timeout
  message_retention_seconds  = 900 # a Discord interaction token lives 15 minutes
  sqs_managed_sse_enabled    = true
  tags                       = local.tags

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.clicks_dlq.arn
    maxReceiveCount     = var.max_receives + 1
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "clicks_dlq" {
  queue_url = aws_sqs_queue.clicks_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.clicks.arn]
  })
}
