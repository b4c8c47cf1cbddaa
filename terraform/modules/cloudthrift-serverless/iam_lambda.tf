# What a stage's role needs on Lambda beyond its ECS policy (iam_scanner.tf, iam_stages.tf, ...): its
# log groups, its secrets (SSM, under the module's key), and for the interactions function its clicks
# queue. The sweeps function runs as the executor, whose policy already re-publishes lost approvals.

locals {
  # role -> the functions that run as it
  role_functions = {
    for role in keys(local.role_arns) : role => [for name, f in local.functions : name if f.role == role]
  }
  role_secrets = {
    for role, names in local.role_functions : role => distinct(concat(
      flatten([for name in names : local.functions[name].secrets]),
      local.datadog ? ["DD_API_KEY"] : [],
    ))
  }
}

# One resource per role, each naming its role: tests/deploy/terraform_model.py reads who gets what.
resource "aws_iam_role_policy" "scanner_lambda" {
  name   = "lambda-runtime"
  role   = aws_iam_role.scanner.id
  policy = data.aws_iam_policy_document.lambda_runtime["scanner"].json
}

resource "aws_iam_role_policy" "analyzer_lambda" {
  name   = "lambda-runtime"
  role   = aws_iam_role.analyzer.id
  policy = data.aws_iam_policy_document.lambda_runtime["analyzer"].json
}

resource "aws_iam_role_policy" "notifier_lambda" {
  name   = "lambda-runtime"
  role   = aws_iam_role.notifier.id
  policy = data.aws_iam_policy_document.lambda_runtime["notifier"].json
}

resource "aws_iam_role_policy" "executor_lambda" {
  name   = "lambda-runtime"
  role   = aws_iam_role.executor.id
  policy = data.aws_iam_policy_document.lambda_runtime["executor"].json
}

resource "aws_iam_role_policy" "interactions_lambda" {
  name   = "lambda-runtime"
  role   = aws_iam_role.interactions.id
  policy = data.aws_iam_policy_document.lambda_runtime["interactions"].json
}

data "aws_iam_policy_document" "lambda_runtime" {
  for_each = local.role_arns

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for name in local.role_functions[each.key] : "${aws_cloudwatch_log_group.function[name].arn}:*"]
  }

  # Environment variables and SecureString parameters are encrypted under the module's key when it has
  # one; under the AWS managed aws/lambda and aws/ssm keys otherwise, whose key policies already let
  # this account's principals decrypt through those services.
  dynamic "statement" {
    for_each = local.customer_managed_key ? [1] : []

    content {
      sid       = "DecryptSettings"
      actions   = ["kms:Decrypt"]
      resources = [local.kms_key_arn]
    }
  }

  dynamic "statement" {
    for_each = length(local.role_secrets[each.key]) > 0 ? [1] : []

    content {
      sid       = "ReadSecrets"
      actions   = ["ssm:GetParameter"]
      resources = [for secret in local.role_secrets[each.key] : aws_ssm_parameter.secret[secret].arn]
    }
  }

  dynamic "statement" {
    for_each = each.key == "interactions" ? [1] : []

    content {
      sid       = "DeferAndFinishClicks"
      actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
      resources = [aws_sqs_queue.clicks.arn]
    }
  }

  dynamic "statement" {
    for_each = each.key == "interactions" ? [1] : []

    content {
      sid       = "DeadLetterClicks"
      actions   = ["sqs:SendMessage", "sqs:GetQueueUrl"]
      resources = [aws_sqs_queue.clicks_dlq.arn]
    }
  }
}
