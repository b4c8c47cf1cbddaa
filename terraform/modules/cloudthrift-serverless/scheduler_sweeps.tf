# The executor's sweeps (lost approvals, expired claims, and whatever services/executor/sweep.py adds)
# run from EventBridge Scheduler: nothing stays up between runs. The scan schedule is scheduler.tf,
# linked from the ECS module (it sends a ScanRequested straight to the scan queue).

resource "aws_scheduler_schedule" "sweeps" {
  #checkov:skip=CKV_AWS_297:Under the module's key only with customer_managed_key; by default under EventBridge's AWS owned key, which has no monthly charge (docs/DEPLOY.md, What a customer managed key buys).
  name                         = "${var.prefix}-sweeps"
  description                  = "CloudThrift executor sweeps and heartbeat"
  schedule_expression          = var.sweep_schedule
  schedule_expression_timezone = "UTC"
  kms_key_arn                  = local.kms_key_arn # null: EventBridge's AWS owned key

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this["sweeps"].arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ source = "eventbridge-scheduler:${var.prefix}-sweeps" })

    retry_policy {
      maximum_event_age_in_seconds = 300 # the next run is minutes away: a late sweep is no use
      maximum_retry_attempts       = 2
    }

    dead_letter_config {
      arn = aws_sqs_queue.dlq["execute"].arn
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.prefix}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "scheduler"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "RequestScans"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.queue["scan"].arn, aws_sqs_queue.dlq["scan"].arn]
  }

  statement {
    sid       = "RunSweeps"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this["sweeps"].arn]
  }

  statement {
    sid       = "DeadLetterSweeps"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq["execute"].arn]
  }

  dynamic "statement" {
    for_each = local.customer_managed_key ? [1] : []

    content {
      sid       = "DecryptSchedule"
      actions   = ["kms:Decrypt"]
      resources = [local.kms_key_arn]
    }
  }
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}
