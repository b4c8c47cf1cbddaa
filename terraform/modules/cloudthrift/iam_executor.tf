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
  instance_arns = [for r in var.regions : "arn:${local.partition}:ec2:${r}:${local.account_id}:instance/*"]
  # AMI ARNs carry no account id, like snapshot ARNs.
  image_arns = [for r in var.regions : "arn:${local.partition}:ec2:${r}::image/*"]
  # What RunInstances is authorized against when an undo launches a terminated instance again.
  launch_arns = flatten([for r in var.regions : [
    for t in ["instance", "volume", "network-interface", "subnet", "security-group", "key-pair"] :
    "arn:${local.partition}:ec2:${r}:${local.account_id}:${t}/*"
  ]])
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
  assume_role_policy = data.aws_iam_policy_document.stage_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "executor" {
  name   = "executor"
  role   = aws_iam_role.executor.id
  policy = data.aws_iam_policy_document.executor.json
}

data "aws_iam_policy_document" "executor" {
  source_policy_documents = [data.aws_iam_policy_document.worker_queues["executor"].json]

  # Re-check right before acting (Recycle Bin rules too: the approved facts name the rule). Describe*
  # supports no resource-level permissions.
  statement {
    sid       = "RecheckEstate"
    actions   = ["ec2:DescribeVolumes", "ec2:DescribeAddresses", "ec2:DescribeSnapshots", "ec2:DescribeVolumesModifications", "ec2:DescribeImages", "ec2:DescribeInstances", "ec2:DescribeInstanceAttribute", "ec2:DescribeLaunchTemplates", "ec2:DescribeLaunchTemplateVersions", "autoscaling:DescribeLaunchConfigurations", "rbin:ListRules", "rbin:GetRule"]
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

  # Tags only on what the executor creates, and only as part of creating it (the decision id travels
  # as a tag): safety snapshots, images of instances before termination, instances an undo launches.
  statement {
    sid       = "TagAtCreation"
    actions   = ["ec2:CreateTags"]
    resources = concat(local.snapshot_arns, local.image_arns, local.instance_arns)

    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["CreateSnapshot", "CreateImage", "RunInstances"]
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
    actions   = ["ec2:ReleaseAddress", "ec2:DisassociateAddress"]
    resources = concat(local.address_arns, local.instance_arns)

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.regions
    }
  }

  # Long-stopped instances: image them (authorized against the instance, the image and its snapshots),
  # make their volumes go with them, terminate them; the undo launches from the image and stops it.
  statement {
    sid       = "ImageThenTerminateInstances"
    actions   = ["ec2:CreateImage", "ec2:ModifyInstanceAttribute", "ec2:TerminateInstances", "ec2:StopInstances"]
    resources = concat(local.instance_arns, local.image_arns, local.snapshot_arns)

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.regions
    }
  }

  statement {
    sid       = "RelaunchInstances"
    actions   = ["ec2:RunInstances"]
    resources = concat(local.launch_arns, local.image_arns)

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.regions
    }
  }

  # The relaunched instance keeps its IAM profile: its role may be passed to EC2, and only to EC2.
  statement {
    sid       = "PassInstanceRoles"
    actions   = ["iam:PassRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/*"]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ec2.amazonaws.com"]
    }
  }

  # Unused AMIs: deregister them (their snapshots are deleted by ArchiveOrDeleteSnapshots), or register
  # one again from its kept snapshots (the undo of deregistering alone).
  statement {
    sid       = "DeregisterOrRegisterImages"
    actions   = ["ec2:DeregisterImage", "ec2:RegisterImage"]
    resources = concat(local.image_arns, local.snapshot_arns)

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
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeListenerCertificates",
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

  # --- Undo (issue 14): `cloudthrift restore` and the card's Undo button bring back what a clean-up
  # removed. Resource ARNs are in iam_executor_undo.tf; tags only as part of creating what it creates.
  # A volume from its safety snapshot (authorized against both); an address asked back by its IP.
  statement {
    sid       = "UndoVolumesAndAddresses"
    actions   = ["ec2:CreateVolume", "ec2:AllocateAddress", "ec2:CreateNatGateway", "ec2:ReplaceRoute", "ec2:CreateRoute"]
    resources = concat(local.volume_arns, local.snapshot_arns, local.address_arns, local.natgw_arns, local.subnet_arns, local.route_table_arns)

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.regions
    }
  }

  # The restored resource's own tags, only as part of creating it.
  statement {
    sid       = "TagWhatTheUndoCreates"
    actions   = ["ec2:CreateTags"]
    resources = concat(local.volume_arns, local.address_arns, local.natgw_arns)

    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["CreateVolume", "AllocateAddress", "CreateNatGateway"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.regions
    }
  }

  # Describe* supports no resource-level permissions.
  statement {
    sid       = "UndoReads"
    actions   = ["ec2:DescribeSnapshotTierStatus"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.regions
    }
  }

  # An encrypted volume comes back under its own KMS key, through EC2 only.
  statement {
    sid       = "UndoEncryptedVolumes"
    actions   = ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"]
    resources = local.kms_key_arns

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [for r in var.regions : "ec2.${r}.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.regions
    }
  }

  statement {
    sid = "UndoLoadBalancers"
    actions = [
      "elasticloadbalancing:CreateLoadBalancer",
      "elasticloadbalancing:CreateTargetGroup",
      "elasticloadbalancing:RegisterTargets",
      "elasticloadbalancing:CreateListener",
      "elasticloadbalancing:CreateRule",
      "elasticloadbalancing:AddListenerCertificates",
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:ConfigureHealthCheck",
      "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
    ]
    resources = concat(local.elb_arns, local.listener_arns)

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.regions
    }
  }

  statement {
    sid       = "UndoDatabases"
    actions   = ["rds:RestoreDBInstanceFromDBSnapshot", "rds:AddTagsToResource"]
    resources = concat(local.rds_arns, local.rds_restore_arns)

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
