# The executor is the only role that may change the estate: snapshot volumes (tagging the snapshot at
# creation with the decision id), delete volumes and release addresses. Every such permission is bound
# to the configured regions (aws:RequestedRegion) and to resource ARNs in this account, never to "*".
# In other accounts it acts only through their clean-up roles (member_cleanup_role_name), never the scan roles.
# The executor re-checks each resource before acting (ARCHITECTURE.md, safety rules); IAM is the fence.

locals {
  volume_arns   = [for r in var.regions : "arn:${local.partition}:ec2:${r}:${local.account_id}:volume/*"]
  snapshot_arns = [for r in var.regions : "arn:${local.partition}:ec2:${r}::snapshot/*"]
  address_arns  = [for r in var.regions : "arn:${local.partition}:ec2:${r}:${local.account_id}:elastic-ip/*"]
  natgw_arns    = [for r in var.regions : "arn:${local.partition}:ec2:${r}:${local.account_id}:natgateway/*"]
  # Application, Network and Classic load balancers (loadbalancer/app/*, net/*, <name>), target groups.
  elb_arns = flatten([for r in var.regions : [
    "arn:${local.partition}:elasticloadbalancing:${r}:${local.account_id}:loadbalancer/*",
    "arn:${local.partition}:elasticloadbalancing:${r}:${local.account_id}:targetgroup/*",
  ]])
  # DeleteDBInstance with a final snapshot is authorized against the instance and the snapshot.
  rds_arns = flatten([for r in var.regions : [
    "arn:${local.partition}:rds:${r}:${local.account_id}:db:*",
    "arn:${local.partition}:rds:${r}:${local.account_id}:snapshot:*",
  ]])
}

resource "aws_iam_role" "executor" {
  name               = "${var.prefix}-executor"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "executor" {
  name   = "executor"
  role   = aws_iam_role.executor.id
  policy = data.aws_iam_policy_document.executor.json
}

data "aws_iam_policy_document" "executor" {
  source_policy_documents = [data.aws_iam_policy_document.worker_queues["executor"].json]

  # Re-check right before acting. Describe* supports no resource-level permissions.
  statement {
    sid       = "RecheckEstate"
    actions   = ["ec2:DescribeVolumes", "ec2:DescribeAddresses", "ec2:DescribeSnapshots", "ec2:DescribeVolumesModifications", "ec2:DescribeImages"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.regions
    }
  }

  # CreateSnapshot is authorized against both the source volume and the new snapshot.
  statement {
    sid       = "SnapshotBeforeDelete"
    actions   = ["ec2:CreateSnapshot"]
    resources = concat(local.volume_arns, local.snapshot_arns)

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.regions
    }
  }

  # Tags only on snapshots, and only as part of creating them (the decision id travels as a tag).
  statement {
    sid       = "TagSnapshotsAtCreation"
    actions   = ["ec2:CreateTags"]
    resources = local.snapshot_arns

    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["CreateSnapshot"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.regions
    }
  }

  statement {
    sid       = "DeleteVolumes"
    actions   = ["ec2:DeleteVolume"]
    resources = local.volume_arns

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.regions
    }
  }

  # gp2 to gp3 (and back, the undo): an online change of the volume's type, IOPS and throughput.
  statement {
    sid       = "ModifyVolumes"
    actions   = ["ec2:ModifyVolume"]
    resources = local.volume_arns

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.regions
    }
  }

  # Old snapshots: archive (and restore, the undo) or delete. Snapshot ARNs carry no account id.
  statement {
    sid       = "ArchiveOrDeleteSnapshots"
    actions   = ["ec2:ModifySnapshotTier", "ec2:RestoreSnapshotTier", "ec2:DeleteSnapshot"]
    resources = local.snapshot_arns

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.regions
    }
  }

  statement {
    sid       = "ReleaseAddresses"
    actions   = ["ec2:ReleaseAddress"]
    resources = local.address_arns

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.regions
    }
  }

  # Kinds idle by usage: re-read them and their usage (fresh numbers) right before acting.
  statement {
    sid = "RecheckIdleByUsage"
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
      "cloudwatch:GetMetricData",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.regions
    }
  }

  statement {
    sid       = "DeleteNatGateways"
    actions   = ["ec2:DeleteNatGateway"]
    resources = local.natgw_arns

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.regions
    }
  }

  statement {
    sid       = "DeleteLoadBalancers"
    actions   = ["elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:DeleteTargetGroup"]
    resources = local.elb_arns

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.regions
    }
  }

  statement {
    sid = "DeleteDatabasesWithFinalSnapshot"
    actions = [
      "rds:DescribeDBInstances",
      "rds:DescribeDBSnapshots",
      "rds:ListTagsForResource",
      "rds:DeleteDBInstance",
      "rds:CreateDBSnapshot",
      "rds:AddTagsToResource",
    ]
    resources = local.rds_arns

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.regions
    }
  }

  statement {
    sid       = "Ledger"
    actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = local.ledger_arns
  }

  # The lost-approval sweep (services/executor/sweep.py) sends ApprovalGranted again to its own queue.
  statement {
    sid       = "RepublishLostApprovals"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.queue["execute"].arn]
  }

  # A finding scanned in another account is cleaned up through that account's clean-up role
  # (services/executor/handler.py), never the scan role; none when no other account is scanned.
  # What that role may do in its account is terraform/modules/member-roles (docs/DEPLOY.md).
  dynamic "statement" {
    for_each = length(local.cleanup_assume_arns) > 0 ? [1] : []

    content {
      sid       = "ActInOtherAccounts"
      actions   = ["sts:AssumeRole"]
      resources = local.cleanup_assume_arns
    }
  }
}
