# The scanner only describes: it lists volumes, addresses and regions, and records sightings in the ledger.
# Every permission a kind or check declares (shared/kinds/, `cloudthrift kinds`) must be here;
# tests/kinds/test_registry.py checks it.

resource "aws_iam_role" "scanner" {
  name               = "${var.prefix}-scanner"
  assume_role_policy = data.aws_iam_policy_document.stage_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "scanner" {
  name   = "scanner"
  role   = aws_iam_role.scanner.id
  policy = data.aws_iam_policy_document.scanner.json
}

data "aws_iam_policy_document" "scanner" {
  source_policy_documents = [data.aws_iam_policy_document.worker_queues["scanner"].json]

  # Describe* calls support no resource-level permissions: "*" is the only valid resource.
  statement {
    sid       = "DescribeEstate"
    actions   = ["ec2:DescribeVolumes", "ec2:DescribeAddresses", "ec2:DescribeRegions", "ec2:DescribeSnapshots", "ec2:DescribeImages", "ec2:DescribeInstances"]
    resources = ["*"]
  }

  # Whether a stopped instance has termination protection: the one EC2 read that takes instance ARNs.
  statement {
    sid       = "DescribeInstanceAttributes"
    actions   = ["ec2:DescribeInstanceAttribute"]
    resources = ["arn:${local.partition}:ec2:*:${local.account_id}:instance/*"]
  }

  # Unused AMIs: what could launch them (launch templates, launch configurations). No resource-level
  # permissions either.
  statement {
    sid       = "DescribeImageUsers"
    actions   = ["ec2:DescribeLaunchTemplates", "ec2:DescribeLaunchTemplateVersions", "autoscaling:DescribeLaunchConfigurations"]
    resources = ["*"]
  }

  # Old snapshots and unused AMIs: which Recycle Bin rules of the region would keep a deleted one
  # recoverable, said on the card. ListRules takes no resource-level permission; GetRule is on the
  # rules of this account in the scanned regions (checkov's CKV_AWS_356).
  statement {
    sid       = "ListRecycleBinRules"
    actions   = ["rbin:ListRules"]
    resources = ["*"]
  }

  statement {
    sid       = "ReadRecycleBinRules"
    actions   = ["rbin:GetRule"]
    resources = [for r in var.regions : "arn:${local.partition}:rbin:${r}:${local.account_id}:rule/*"]
  }

  # Kinds idle by usage (shared/kinds/nat_gateway/...): their describes, and their CloudWatch
  # numbers read in bulk. GetMetricData supports no resource-level permissions either.
  statement {
    sid = "DescribeIdleByUsage"
    actions = [
      "ec2:DescribeNatGateways",
      "ec2:DescribeRouteTables",
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeLoadBalancerAttributes",
      "elasticloadbalancing:DescribeTags",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetHealth",
      "elasticloadbalancing:DescribeInstanceHealth",
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeRules",
      "cloudwatch:GetMetricData",
    ]
    resources = ["*"]
  }

  # RDS reads take resource-level permissions: DB instances of this account, in any region scanned.
  statement {
    sid       = "DescribeDatabases"
    actions   = ["rds:DescribeDBInstances", "rds:ListTagsForResource"]
    resources = ["arn:${local.partition}:rds:*:${local.account_id}:db:*"]
  }

  statement {
    sid = "Ledger"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:BatchGetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
      "dynamodb:Query",
    ]
    resources = local.ledger_arns
  }

  dynamic "statement" {
    for_each = length(local.scan_assume_arns) > 0 ? [1] : []

    content {
      sid       = "ScanOtherAccounts"
      actions   = ["sts:AssumeRole"]
      resources = local.scan_assume_arns
    }
  }

  # An organization scan lists the accounts and walks the OUs (services/scanner/organization.py).
  dynamic "statement" {
    for_each = var.organization_scan != null ? [1] : []

    content {
      sid       = "ListOrganization"
      actions   = ["organizations:ListAccounts", "organizations:ListAccountsForParent", "organizations:ListChildren"]
      resources = ["*"]
    }
  }
}
