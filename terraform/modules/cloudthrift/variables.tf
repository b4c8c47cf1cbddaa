# Inputs of the CloudThrift module. Names of settings passed to the containers mirror shared/config.py.

variable "prefix" {
  description = "Prefix of every queue, table, role and service name (CLOUDTHRIFT_PREFIX)."
  type        = string
  default     = "cloudthrift"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,24}$", var.prefix))
    error_message = "prefix: 1-24 letters, digits, '-' or '_' (it ends up in IAM role and ALB names)."
  }
}

variable "regions" {
  description = "Regions CloudThrift scans and may clean up in (CLOUDTHRIFT_REGIONS). Destructive IAM permissions are limited to these."
  type        = list(string)

  validation {
    condition     = length(var.regions) > 0
    error_message = "regions: list at least one region; the executor's permissions are bound to them."
  }
}

variable "kinds" {
  description = "Resource kinds to scan (CLOUDTHRIFT_KINDS); empty means every kind the scanner knows."
  type        = list(string)
  default     = []
}

variable "dry_run" {
  description = "CLOUDTHRIFT_DRY_RUN: run the whole pipeline and record what would be done, touching nothing. Start with true."
  type        = bool
  default     = true
}

variable "min_age_days" {
  description = "CLOUDTHRIFT_MIN_AGE_DAYS: resources younger than this are never reported."
  type        = number
  default     = 7
}

variable "min_idle_days" {
  description = "CLOUDTHRIFT_MIN_IDLE_DAYS: how long CloudThrift must have seen a resource idle before reporting it."
  type        = number
  default     = 0
}

variable "scan_schedule" {
  description = "EventBridge Scheduler expression of the periodic scan (cron(...) or rate(...))."
  type        = string
  default     = "cron(0 7 ? * MON-FRI *)"
}

variable "scan_schedule_timezone" {
  description = "IANA time zone of scan_schedule."
  type        = string
  default     = "UTC"
}

variable "scan_role_arns" {
  description = "Roles in other accounts to scan and clean up in, one schedule each (the scanner and executor roles may assume exactly these)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.scan_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", arn))])
    error_message = "scan_role_arns: IAM role ARNs (arn:aws:iam::<12 digits>:role/<name>)."
  }
}

variable "scan_home_account" {
  description = "Also scan the account CloudThrift runs in."
  type        = bool
  default     = true
}

variable "visibility_timeout" {
  description = "SQS visibility timeout in seconds (CLOUDTHRIFT_VISIBILITY_TIMEOUT); the workers extend it while they work."
  type        = number
  default     = 60
}

variable "max_receives" {
  description = "Receives before a worker dead-letters a message with its reason (CLOUDTHRIFT_MAX_RECEIVES); the redrive policy backstop is one more."
  type        = number
  default     = 5
}

variable "image" {
  description = "Container image to run (all services share it). Null: the module's ECR repository at image_tag."
  type        = string
  default     = null
}

variable "image_tag" {
  description = "Tag of the image in the module's ECR repository (also DD_VERSION)."
  type        = string
  default     = "0.1.0"
}

variable "vpc_id" {
  description = "VPC for the tasks and the load balancer."
  type        = string
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks. They need a route to the internet (NAT) for Discord, Gemini and Datadog, or VPC endpoints plus a proxy."
  type        = list(string)
}

variable "public_subnet_ids" {
  description = "Subnets of the internet-facing load balancer that receives Discord interactions."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate (same region) for the interactions endpoint's HTTPS listener."
  type        = string
}

variable "interactions_port" {
  description = "Port `cloudthrift serve` listens on inside its container."
  type        = number
  default     = 8080
}

variable "interactions_count" {
  description = "Tasks behind the load balancer; two keep a click answered while one is replaced."
  type        = number
  default     = 2
}

variable "waf_enabled" {
  description = "Put AWS managed WAF rules in front of the interactions endpoint."
  type        = bool
  default     = true
}

variable "alb_deletion_protection" {
  description = "Protect the load balancer from deletion (turn off before `terraform destroy`)."
  type        = bool
  default     = true
}

variable "alb_access_logs_bucket" {
  description = "Optional S3 bucket for the load balancer's access logs."
  type        = string
  default     = null
}

variable "workers" {
  description = "Per-worker task size and scaling bounds (tasks scale on their queue's depth)."
  type = map(object({
    cpu    = number
    memory = number
    min    = number
    max    = number
  }))
  default = {
    scanner  = { cpu = 256, memory = 512, min = 0, max = 2 }
    analyzer = { cpu = 256, memory = 512, min = 0, max = 4 }
    notifier = { cpu = 256, memory = 512, min = 0, max = 2 }
    # One executor always runs: its sweep re-sends approvals whose event was lost (services/executor/
    # sweep.py), which an empty queue would never scale a task up for; and approvals start at once.
    executor = { cpu = 256, memory = 512, min = 1, max = 2 }
  }
}

variable "gemini_model" {
  description = "GEMINI_MODEL: the model the analyzer asks. Null: the application's default."
  type        = string
  default     = null
}

variable "discord_application_id" {
  description = "DISCORD_APPLICATION_ID (Developer Portal, General Information)."
  type        = string
  default     = null
}

variable "discord_public_key" {
  description = "DISCORD_PUBLIC_KEY: hex Ed25519 key that signs interactions (public, not a secret)."
  type        = string
  default     = null
}

variable "discord_approver_ids" {
  description = "DISCORD_APPROVER_IDS: Discord user ids allowed to approve (nobody, if this and the role ids are empty)."
  type        = list(string)
  default     = []
}

variable "discord_approver_role_ids" {
  description = "DISCORD_APPROVER_ROLE_IDS: Discord role ids whose members may approve."
  type        = list(string)
  default     = []
}

variable "discord_channel_id" {
  description = "DISCORD_CHANNEL_ID: where approval cards are posted."
  type        = string
  default     = null
}

variable "extra_environment" {
  description = "More settings for every container (e.g. CLOUDTHRIFT_* knobs not exposed above)."
  type        = map(string)
  default     = {}
}

variable "datadog_enabled" {
  description = "Run the Datadog agent as a sidecar of every task (its API key comes from Secrets Manager)."
  type        = bool
  default     = true
}

variable "datadog_site" {
  description = "DD_SITE of your Datadog organisation."
  type        = string
  default     = "datadoghq.com"
}

variable "datadog_agent_image" {
  description = "Datadog agent image for the sidecar."
  type        = string
  default     = "public.ecr.aws/datadog/agent:7"
}

variable "environment" {
  description = "DD_ENV and the `env` tag."
  type        = string
  default     = "prod"
}

variable "log_retention_days" {
  description = "Retention of the services' CloudWatch logs."
  type        = number
  default     = 365
}

variable "secret_recovery_days" {
  description = "Days a deleted secret can still be restored."
  type        = number
  default     = 7
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
