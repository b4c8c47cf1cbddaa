# The analyzer, the notifier and the interactions endpoint touch only queues and the ledger
# (Gemini and Discord are reached over HTTPS with keys from Secrets Manager, not through IAM).

resource "aws_iam_role" "analyzer" {
  name               = "${var.prefix}-analyzer"
  assume_role_policy = data.aws_iam_policy_document.stage_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "analyzer" {
  name   = "analyzer"
  role   = aws_iam_role.analyzer.id
  policy = data.aws_iam_policy_document.analyzer.json
}

data "aws_iam_policy_document" "analyzer" {
  source_policy_documents = [data.aws_iam_policy_document.worker_queues["analyzer"].json]

  statement {
    sid       = "Ledger"
    actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = local.ledger_arns
  }
}

resource "aws_iam_role" "notifier" {
  name               = "${var.prefix}-notifier"
  assume_role_policy = data.aws_iam_policy_document.stage_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "notifier" {
  name   = "notifier"
  role   = aws_iam_role.notifier.id
  policy = data.aws_iam_policy_document.notifier.json
}

data "aws_iam_policy_document" "notifier" {
  source_policy_documents = [data.aws_iam_policy_document.worker_queues["notifier"].json]

  statement {
    sid       = "Ledger"
    actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = local.ledger_arns
  }
}

# A click does one conditional ledger write and, on approval, one SendMessage to the execute queue.
resource "aws_iam_role" "interactions" {
  name               = "${var.prefix}-interactions"
  assume_role_policy = data.aws_iam_policy_document.stage_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "interactions" {
  name   = "interactions"
  role   = aws_iam_role.interactions.id
  policy = data.aws_iam_policy_document.interactions.json
}

data "aws_iam_policy_document" "interactions" {
  statement {
    sid       = "FindQueues"
    actions   = ["sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
    resources = local.all_queue_arns
  }

  statement {
    sid       = "PublishApprovals"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.queue["execute"].arn]
  }

  statement {
    sid       = "Ledger"
    actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = local.ledger_arns
  }
}
