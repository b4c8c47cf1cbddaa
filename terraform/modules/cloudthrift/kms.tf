# One customer managed key for the ledger, the secrets, the logs, the image repository and the schedule.
# The ECS module always creates it; the serverless module (which links this file) only when its
# `customer_managed_key` is set: otherwise each service encrypts at rest under its own AWS owned or AWS
# managed key, which has no monthly charge (docs/DEPLOY.md, "What a customer managed key buys").

locals {
  kms_key_arn = one(aws_kms_key.this[*].arn) # null without the key: each service's own key
}

resource "aws_kms_key" "this" {
  count = local.customer_managed_key ? 1 : 0

  description             = "CloudThrift ${var.prefix}: ledger, secrets, logs, images"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = local.tags
}

resource "aws_kms_alias" "this" {
  count = local.customer_managed_key ? 1 : 0

  name          = "alias/${var.prefix}"
  target_key_id = aws_kms_key.this[0].key_id
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:A key policy's resource "*" is the key itself; the account root keeps administration so IAM policies can delegate.
  #checkov:skip=CKV_AWS_111:A key policy's resource "*" is the key itself; write access is granted to this account only.
  #checkov:skip=CKV_AWS_356:A key policy's resource "*" is the key itself, the only form AWS accepts.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncrypt"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }
}
