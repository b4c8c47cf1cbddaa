# Undo (issue 14): the resources an undo creates, for the executor's statements in iam_executor.tf
# (bound like the clean-up's own: the configured regions, resource ARNs of this account).

locals {
  subnet_arns = [for r in var.regions : "arn:${local.partition}:ec2:${r}:${local.account_id}:subnet/*"]
  route_table_arns = [
    for r in var.regions : "arn:${local.partition}:ec2:${r}:${local.account_id}:route-table/*"
  ]
  listener_arns = flatten([for r in var.regions : [
    "arn:${local.partition}:elasticloadbalancing:${r}:${local.account_id}:listener/*",
    "arn:${local.partition}:elasticloadbalancing:${r}:${local.account_id}:listener-rule/*",
  ]])
  rds_restore_arns = flatten([for r in var.regions : [
    "arn:${local.partition}:rds:${r}:${local.account_id}:subgrp:*",
    "arn:${local.partition}:rds:${r}:${local.account_id}:og:*",
    "arn:${local.partition}:rds:${r}:${local.account_id}:pg:*",
  ]])
  kms_key_arns = [for r in var.regions : "arn:${local.partition}:kms:${r}:${local.account_id}:key/*"]
}
