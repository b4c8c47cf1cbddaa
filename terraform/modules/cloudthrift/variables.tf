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

  validation {
    condition     = alltrue([for r in var.regions : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", r))])
    error_message = "regions: AWS region names such as us-east-1 or eu-west-1."
  }

  validation {
    condition     = length(distinct(var.regions)) == length(var.regions)
    error_message = "regions: each region once."
  }
}

variable "kinds" {
  description = "Resource kinds to scan (CLOUDTHRIFT_KINDS); empty means every kind the scanner knows."
  type        = list(string)
  default     = []

  # The shape of a kind's name; which kinds exist is the scanner's to say (`cloudthrift kinds`): a worker
  # configured with one it does not know refuses to start, naming it. A new kind changes nothing here.
  validation {
    condition     = alltrue([for k in var.kinds : can(regex("^[a-z0-9][a-z0-9-]{0,63}$", k))])
    error_message = "kinds: resource kind names, such as ebs-volume (`cloudthrift kinds` lists them; empty: all)."
  }
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

  validation {
    condition     = var.min_age_days >= 0 && floor(var.min_age_days) == var.min_age_days
    error_message = "min_age_days: a whole number of days, 0 or more."
  }
}

variable "min_idle_days" {
  description = "CLOUDTHRIFT_MIN_IDLE_DAYS: how long CloudThrift must have seen a resource idle before reporting it."
  type        = number
  default     = 0

  validation {
    condition     = var.min_idle_days >= 0 && floor(var.min_idle_days) == var.min_idle_days
    error_message = "min_idle_days: a whole number of days, 0 or more."
  }
}

variable "scan_schedule" {
  description = "EventBridge Scheduler expression of the periodic scan (cron(...) or rate(...)). Daily by default: terraform/datadog alerts when no scan finished in 26 h."
  type        = string
  default     = "cron(0 7 * * ? *)"

  validation {
    condition     = can(regex("^(cron|rate|at)\\(.+\\)$", var.scan_schedule))
    error_message = "scan_schedule: an EventBridge Scheduler expression, cron(...) or rate(...)."
  }
}

variable "scan_schedule_timezone" {
  description = "IANA time zone of scan_schedule."
  type        = string
  default     = "UTC"

  validation {
    condition     = can(regex("^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$", var.scan_schedule_timezone))
    error_message = "scan_schedule_timezone: an IANA time zone such as UTC or Europe/Paris."
  }
}

variable "scan_role_arns" {
  description = "Scan roles (member_scan_role_name) in other accounts, one schedule each: the scanner may assume exactly these, the executor those accounts' member_cleanup_role_name roles."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.scan_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", arn))])
    error_message = "scan_role_arns: IAM role ARNs (arn:aws:iam::<12 digits>:role/<name>)."
  }

  validation {
    condition     = length(distinct([for arn in var.scan_role_arns : try(regex("::([0-9]{12}):", arn)[0], arn)])) == length(var.scan_role_arns)
    error_message = "scan_role_arns: one role per account (each account gets one schedule)."
  }
}

variable "organization_scan" {
  description = "Scan the AWS Organization on the schedule: every ACTIVE account, narrowed by these account and OU ids (the module must run in the management account or a delegated administrator). null: no organization scan."
  type = object({
    include_accounts = optional(list(string), [])
    exclude_accounts = optional(list(string), [])
    include_ous      = optional(list(string), [])
    exclude_ous      = optional(list(string), [])
  })
  default = null

  validation {
    condition = var.organization_scan == null || alltrue([
      for id in concat(
        try(var.organization_scan.include_accounts, []), try(var.organization_scan.exclude_accounts, [])
      ) : can(regex("^[0-9]{12}$", id))
    ])
    error_message = "organization_scan: account ids are 12 digits."
  }

  validation {
    condition = var.organization_scan == null || alltrue([
      for id in concat(try(var.organization_scan.include_ous, []), try(var.organization_scan.exclude_ous, [])) :
      can(regex("^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$", id))
    ])
    error_message = "organization_scan: OU ids look like ou-ab12-cdef3456 (or r-ab12 for the root)."
  }
}

variable "member_scan_role_name" {
  description = "The read-only role in member accounts (terraform/modules/member-roles): the only role the scanner may assume there."
  type        = string
  default     = "cloudthrift-scan"
}

variable "member_cleanup_role_name" {
  description = "The clean-up role in member accounts (terraform/modules/member-roles): the only role the executor may assume there."
  type        = string
  default     = "cloudthrift-cleanup"
}

variable "external_id" {
  description = "The ExternalId the member roles require (external_id of terraform/modules/member-roles). null: none."
  type        = string
  default     = null

  validation {
    condition     = var.external_id == null || can(regex("^[\\w+=,.@:/-]{2,1224}$", var.external_id))
    error_message = "external_id: 2 to 1224 characters of letters, digits and +=,.@:/-."
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

  validation {
    condition     = var.visibility_timeout >= 30 && var.visibility_timeout <= 43200 && floor(var.visibility_timeout) == var.visibility_timeout
    error_message = "visibility_timeout: whole seconds from 30 to 43200 (SQS allows up to 12 hours; workers extend it while they work)."
  }
}

variable "max_receives" {
  description = "Receives before a worker dead-letters a message with its reason (CLOUDTHRIFT_MAX_RECEIVES); the redrive policy backstop is one more."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receives >= 1 && var.max_receives <= 999 && floor(var.max_receives) == var.max_receives
    error_message = "max_receives: 1 to 999 (the redrive policy, one more, must stay within SQS's 1000)."
  }
}

variable "image" {
  description = "Container image to run (all services share it). Null: the module's ECR repository at image_tag."
  type        = string
  default     = null

  validation {
    condition     = var.image == null || can(regex("^[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?(@sha256:[0-9a-f]{64})?$", var.image))
    error_message = "image: a container image reference such as 123456789012.dkr.ecr.us-east-1.amazonaws.com/cloudthrift:0.1.0."
  }
}

variable "image_tag" {
  description = "Tag of the image in the module's ECR repository (also DD_VERSION)."
  type        = string
  default     = "0.1.0"

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag: a Docker tag (letters, digits, _ . -, at most 128)."
  }
}

variable "vpc_id" {
  description = "VPC for the tasks and the load balancer."
  type        = string

  validation {
    condition     = can(regex("^vpc-([0-9a-f]{8}|[0-9a-f]{17})$", var.vpc_id))
    error_message = "vpc_id: a VPC id such as vpc-0123456789abcdef0."
  }
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks. They need a route to the internet (NAT) for Discord, Gemini and Datadog, or VPC endpoints plus a proxy."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) > 0 && alltrue([for id in var.private_subnet_ids : can(regex("^subnet-([0-9a-f]{8}|[0-9a-f]{17})$", id))])
    error_message = "private_subnet_ids: at least one subnet id such as subnet-0123456789abcdef0."
  }
}

variable "public_subnet_ids" {
  description = "Subnets of the internet-facing load balancer that receives Discord interactions."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2 && alltrue([for id in var.public_subnet_ids : can(regex("^subnet-([0-9a-f]{8}|[0-9a-f]{17})$", id))])
    error_message = "public_subnet_ids: at least two subnet ids in different zones (an application load balancer needs two), such as subnet-0123456789abcdef0."
  }
}

variable "certificate_arn" {
  description = "ACM certificate (same region) for the interactions endpoint's HTTPS listener."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}$", var.certificate_arn))
    error_message = "certificate_arn: an ACM certificate ARN (arn:aws:acm:<region>:<12 digits>:certificate/<uuid>)."
  }
}

variable "interactions_port" {
  description = "Port `cloudthrift serve` listens on inside its container."
  type        = number
  default     = 8080

  validation {
    condition     = var.interactions_port >= 1024 && var.interactions_port <= 65535 && floor(var.interactions_port) == var.interactions_port
    error_message = "interactions_port: 1024 to 65535 (the container runs as a non-root user)."
  }
}

variable "interactions_count" {
  description = "Tasks behind the load balancer; two keep a click answered while one is replaced."
  type        = number
  default     = 2

  validation {
    condition     = var.interactions_count >= 1 && floor(var.interactions_count) == var.interactions_count
    error_message = "interactions_count: at least 1 task (2 keep clicks answered during a deployment)."
  }
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

  validation {
    condition     = var.alb_access_logs_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.alb_access_logs_bucket))
    error_message = "alb_access_logs_bucket: an S3 bucket name (3-63 lower-case letters, digits, . and -), or null."
  }
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

  validation {
    condition     = toset(keys(var.workers)) == toset(["scanner", "analyzer", "notifier", "executor"])
    error_message = "workers: exactly the keys scanner, analyzer, notifier and executor."
  }

  validation {
    condition     = alltrue([for w in values(var.workers) : w.min >= 0 && w.max >= 1 && w.min <= w.max && floor(w.min) == w.min && floor(w.max) == w.max])
    error_message = "workers: min and max are whole task counts with 0 <= min <= max and max >= 1."
  }

  validation {
    condition     = alltrue([for w in values(var.workers) : contains(lookup({ 256 = [512, 1024, 2048], 512 = [for m in range(1024, 4097, 1024) : m], 1024 = [for m in range(2048, 8193, 1024) : m], 2048 = [for m in range(4096, 16385, 1024) : m], 4096 = [for m in range(8192, 30721, 1024) : m], 8192 = [for m in range(16384, 61441, 4096) : m], 16384 = [for m in range(32768, 122881, 8192) : m] }, tostring(w.cpu), []), w.memory)])
    error_message = "workers: cpu and memory must be a Fargate size (cpu 256 with memory 512, 1024 or 2048; cpu 512 with 1024-4096; cpu 1024 with 2048-8192, in steps of 1024; ...)."
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

  validation {
    condition     = var.discord_application_id == null || can(regex("^[0-9]{17,20}$", var.discord_application_id))
    error_message = "discord_application_id: a Discord id (a snowflake: 17 to 20 digits), or null."
  }
}

variable "discord_public_key" {
  description = "DISCORD_PUBLIC_KEY: hex Ed25519 key that signs interactions (public, not a secret)."
  type        = string
  default     = null

  validation {
    condition     = var.discord_public_key == null || can(regex("^[0-9a-fA-F]{64}$", var.discord_public_key))
    error_message = "discord_public_key: the application's Public Key, 64 hex characters, or null."
  }
}

variable "discord_approver_ids" {
  description = "DISCORD_APPROVER_IDS: Discord user ids allowed to approve (nobody, if this and the role ids are empty)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.discord_approver_ids : can(regex("^[0-9]{17,20}$", id))])
    error_message = "discord_approver_ids: Discord user ids (snowflakes: 17 to 20 digits), not names."
  }
}

variable "discord_approver_role_ids" {
  description = "DISCORD_APPROVER_ROLE_IDS: Discord role ids whose members may approve."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.discord_approver_role_ids : can(regex("^[0-9]{17,20}$", id))])
    error_message = "discord_approver_role_ids: Discord role ids (snowflakes: 17 to 20 digits), not names."
  }
}

variable "discord_channel_id" {
  description = "DISCORD_CHANNEL_ID: where approval cards are posted."
  type        = string
  default     = null

  validation {
    condition     = var.discord_channel_id == null || can(regex("^[0-9]{17,20}$", var.discord_channel_id))
    error_message = "discord_channel_id: a Discord channel id (a snowflake: 17 to 20 digits), or null."
  }
}

variable "extra_environment" {
  description = "More settings for every container (e.g. CLOUDTHRIFT_* knobs not exposed above)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for name in keys(var.extra_environment) : can(regex("^[A-Z_][A-Z0-9_]*$", name))])
    error_message = "extra_environment: keys are environment variable names (upper case, digits, _)."
  }
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

  validation {
    condition     = can(regex("^([a-z0-9-]+\\.)*(datadoghq\\.(com|eu)|ddog-gov\\.com)$", var.datadog_site))
    error_message = "datadog_site: a Datadog site such as datadoghq.com, datadoghq.eu, us5.datadoghq.com or ddog-gov.com."
  }
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

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_.:/-]{0,99}$", var.environment))
    error_message = "environment: a Datadog env tag value (lower case, starts with a letter or digit)."
  }
}

variable "log_retention_days" {
  description = "Retention of the services' CloudWatch logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days: a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "secret_recovery_days" {
  description = "Days a deleted secret can still be restored."
  type        = number
  default     = 7

  validation {
    condition     = var.secret_recovery_days == 0 || (var.secret_recovery_days >= 7 && var.secret_recovery_days <= 30)
    error_message = "secret_recovery_days: 7 to 30, or 0 to delete at once (Secrets Manager's range)."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
