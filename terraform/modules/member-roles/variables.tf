variable "scanner_role_arn" {
  description = "CloudThrift's scanner task role (the scanner entry of the cloudthrift module task_role_arns output): the only principal the scan role trusts."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.scanner_role_arn))
    error_message = "scanner_role_arn: an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>)."
  }
}

variable "executor_role_arn" {
  description = "CloudThrift's executor task role (the executor entry of the cloudthrift module task_role_arns output): the only principal the clean-up role trusts."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.executor_role_arn))
    error_message = "executor_role_arn: an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>)."
  }
}

variable "external_id" {
  description = "The ExternalId both roles require (CLOUDTHRIFT_EXTERNAL_ID of the CloudThrift deployment)."
  type        = string

  validation {
    condition     = can(regex("^[\\w+=,.@:/-]{2,1224}$", var.external_id))
    error_message = "external_id: 2 to 1224 characters of letters, digits and +=,.@:/-."
  }
}

variable "regions" {
  description = "Regions CloudThrift scans and cleans up in this account: the clean-up role acts in no other."
  type        = list(string)

  validation {
    condition     = length(var.regions) > 0
    error_message = "regions: at least one region."
  }
}

variable "scan_role_name" {
  description = "Name of the read-only scan role (CLOUDTHRIFT_SCAN_ROLE_NAME)."
  type        = string
  default     = "cloudthrift-scan"
}

variable "cleanup_role_name" {
  description = "Name of the clean-up role (CLOUDTHRIFT_CLEANUP_ROLE_NAME)."
  type        = string
  default     = "cloudthrift-cleanup"
}

variable "tags" {
  description = "Tags for both roles."
  type        = map(string)
  default     = {}
}
