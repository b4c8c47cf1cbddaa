# Member accounts (terraform/modules/member-roles): shared by this module and, through a link, by
# cloudthrift-serverless, so both deployments assume exactly the same roles. Their variables are in
# each module's variables.tf (organization_scan, member_scan_role_name, member_cleanup_role_name).

locals {
  # Member accounts: the scanner assumes only their scan roles, the executor only their clean-up roles
  # (terraform/modules/member-roles). An organization scan reaches every account; otherwise the
  # accounts of scan_role_arns.
  member_accounts = [for arn in var.scan_role_arns : regex("::([0-9]{12}):", arn)[0]]
  scan_assume_arns = concat(
    var.scan_role_arns,
    var.organization_scan != null ? ["arn:${local.partition}:iam::*:role/${var.member_scan_role_name}"] : [],
  )
  cleanup_assume_arns = (var.organization_scan != null
    ? ["arn:${local.partition}:iam::*:role/${var.member_cleanup_role_name}"]
    : [for account in local.member_accounts : "arn:${local.partition}:iam::${account}:role/${var.member_cleanup_role_name}"]
  )
}
