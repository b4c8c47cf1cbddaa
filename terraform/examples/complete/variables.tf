variable "home_region" {
  description = "Where CloudThrift runs: its queues, ledger, cluster and endpoint."
  type        = string
  default     = "us-east-1"
}

variable "regions" {
  description = "Regions to scan and clean up in."
  type        = list(string)
  default     = ["us-east-1"]
}

variable "scan_role_arns" {
  description = "Roles in other accounts to scan and clean up in, one schedule each (docs/DEPLOY.md says what each role needs)."
  type        = list(string)
  default     = []
}

variable "scan_schedule" {
  description = "When to scan: an EventBridge Scheduler cron(...) or rate(...) expression."
  type        = string
  default     = "cron(0 7 * * ? *)"
}

variable "scan_schedule_timezone" {
  description = "IANA time zone of scan_schedule."
  type        = string
  default     = "UTC"
}

variable "vpc_id" {
  description = "An existing VPC."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets with a NAT route, for the tasks."
  type        = list(string)
}

variable "public_subnet_ids" {
  description = "Public subnets, for the load balancer."
  type        = list(string)
}

variable "zone_id" {
  description = "Route 53 hosted zone holding domain_name."
  type        = string
}

variable "domain_name" {
  description = "DNS name of the interactions endpoint, e.g. cloudthrift.example.com."
  type        = string
}

variable "image_tag" {
  description = "Tag of the image pushed to the module's ECR repository."
  type        = string
  default     = "0.1.0"
}

variable "dry_run" {
  description = "Record what would be done, touch nothing. Set false once the cards look right."
  type        = bool
  default     = true
}

variable "discord_application_id" {
  description = "Discord application id."
  type        = string
}

variable "discord_public_key" {
  description = "Discord application public key (hex)."
  type        = string
}

variable "discord_channel_id" {
  description = "Channel for the approval cards."
  type        = string
}

variable "discord_approver_ids" {
  description = "Discord user ids allowed to approve."
  type        = list(string)
}

variable "extra_environment" {
  description = "More CLOUDTHRIFT_* settings for every container."
  type        = map(string)
  default     = {}
}
