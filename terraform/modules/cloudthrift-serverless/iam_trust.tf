# Who may assume the stages' roles (iam_scanner.tf, iam_executor.tf, iam_stages.tf, linked from the ECS
# module): Lambda, for functions of this account.

data "aws_iam_policy_document" "stage_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}
