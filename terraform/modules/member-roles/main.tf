# CloudThrift's two roles in one member account: a read-only scan role and a clean-up role.
# Their permissions are policies.tf, generated from the registered kinds (python -m shared.member_policies).
# The scan role trusts only CloudThrift's scanner task role, the clean-up role only its executor task
# role, each only with the ExternalId CloudThrift is configured with (CLOUDTHRIFT_EXTERNAL_ID).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
}

data "aws_iam_policy_document" "trust_scanner" {
  statement {
    sid     = "CloudThriftScannerOnly"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [var.scanner_role_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.external_id]
    }
  }
}

data "aws_iam_policy_document" "trust_executor" {
  statement {
    sid     = "CloudThriftExecutorOnly"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [var.executor_role_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.external_id]
    }
  }
}

resource "aws_iam_role" "scan" {
  name                 = var.scan_role_name
  description          = "CloudThrift scanner: reads what the registered checks declare, changes nothing"
  assume_role_policy   = data.aws_iam_policy_document.trust_scanner.json
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role_policy" "scan" {
  name   = "scan"
  role   = aws_iam_role.scan.id
  policy = data.aws_iam_policy_document.scan.json
}

resource "aws_iam_role" "cleanup" {
  name                 = var.cleanup_role_name
  description          = "CloudThrift executor: only the registered remedies and their undos, after approval"
  assume_role_policy   = data.aws_iam_policy_document.trust_executor.json
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role_policy" "cleanup" {
  name   = "cleanup"
  role   = aws_iam_role.cleanup.id
  policy = data.aws_iam_policy_document.cleanup.json
}
