# The decision ledger: same key schema and index as shared/bootstrap.py creates locally.

resource "aws_dynamodb_table" "ledger" {
  name                        = "${var.prefix}-ledger"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = true
  tags                        = local.tags

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "state"
    type = "S"
  }

  attribute {
    name = "updated_at"
    type = "S"
  }

  global_secondary_index {
    name            = "by-state"
    hash_key        = "state"
    range_key       = "updated_at"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  # Encrypted at rest either way: under kms.tf's key when there is one (always in the ECS module),
  # otherwise under DynamoDB's AWS owned key, its default, which costs nothing (serverless default).
  dynamic "server_side_encryption" {
    for_each = local.kms_key_arn == null ? [] : [local.kms_key_arn]

    content {
      enabled     = true
      kms_key_arn = server_side_encryption.value
    }
  }
}
