# Roles used by AWS on CloudThrift's behalf: ECS task execution (pull the image, write logs, read the
# secrets of that service only) and EventBridge Scheduler (send the periodic ScanRequested).

locals {
  # Secrets each task receives: the app container's, plus the Datadog key for the agent sidecar.
  service_secrets = {
    for name, service in local.services :
    name => concat(service.secrets, var.datadog_enabled ? ["DD_API_KEY"] : [])
  }
}

resource "aws_iam_role" "execution" {
  for_each = local.services

  name               = "${var.prefix}-${each.key}-exec"
  assume_role_policy = data.aws_iam_policy_document.stage_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "execution" {
  for_each = local.services

  name   = "execution"
  role   = aws_iam_role.execution[each.key].id
  policy = data.aws_iam_policy_document.execution[each.key].json
}

data "aws_iam_policy_document" "execution" {
  for_each = local.services

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.service[each.key].arn}:*"]
  }

  # GetAuthorizationToken supports no resource-level permissions.
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [aws_ecr_repository.app.arn]
  }

  dynamic "statement" {
    for_each = length(local.service_secrets[each.key]) > 0 ? [1] : []

    content {
      sid       = "ReadOwnSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [for name in local.service_secrets[each.key] : aws_secretsmanager_secret.this[name].arn]
    }
  }

  statement {
    sid       = "DecryptSecrets"
    actions   = ["kms:Decrypt"]
    resources = [local.kms_key_arn]
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
  # The scan queue, and its DLQ for deliveries the scheduler gives up on.
  statement {
    sid       = "RequestScans"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.queue["scan"].arn, aws_sqs_queue.dlq["scan"].arn]
  }

  statement {
    sid       = "DecryptSchedule"
    actions   = ["kms:Decrypt"]
    resources = [local.kms_key_arn]
  }
}
