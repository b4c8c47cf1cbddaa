# Inputs of the serverless module. Those it shares with terraform/modules/cloudthrift keep their names,
# meanings and checks, so a deployment moves between the modes with the same values.

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
  description = "Roles in other accounts to scan and clean up in, one schedule each (the scanner and executor roles may assume exactly these)."
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

variable "environment" {
  description = "DD_ENV and the `env` tag."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_.:/-]{0,99}$", var.environment))
    error_message = "environment: a Datadog env tag value (lower case, starts with a letter or digit)."
  }
}

variable "customer_managed_key" {
  description = <<-EOT
    Encrypt the ledger, the SSM secrets, the logs, the functions' environment and the schedules under
    one customer managed KMS key of this module: its own key policy, CloudTrail records of every use,
    revocation in one place, crypto-shredding by deleting it. $1 a month (+$1 for each of the first two
    yearly rotations), a third of the idle budget. Off: each service's AWS owned or AWS managed key,
    free (docs/DEPLOY.md, "What a customer managed key buys").
  EOT
  type        = bool
  default     = false
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

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "package_file" {
  description = "Path of the Lambda zip (bench/lambda_package.py); at most 50 MB zipped for a direct upload, otherwise upload it to S3 and use package_s3_bucket/package_s3_key."
  type        = string
  default     = null
}

variable "package_s3_bucket" {
  description = "Bucket holding the Lambda zip, when it is not uploaded directly (package_file)."
  type        = string
  default     = null
}

variable "package_s3_key" {
  description = "Key of the Lambda zip in package_s3_bucket."
  type        = string
  default     = null
}

variable "package_version" {
  description = "The artifact's version (DD_VERSION and the functions' description): the release tag, or the zip's SHA-256 prefix."
  type        = string
  default     = "0.1.0"
}

variable "memory_mb" {
  description = "Memory of each function in MB (CPU grows with it). The interactions function starts faster with more."
  type        = map(number)
  default = {
    scanner      = 512
    analyzer     = 512
    notifier     = 256
    executor     = 512
    interactions = 1024
    sweeps       = 256
  }

  validation {
    condition     = alltrue([for name, mb in var.memory_mb : mb >= 128 && mb <= 10240])
    error_message = "memory_mb: 128 to 10240 MB per function."
  }
}

variable "batch_size" {
  description = "Messages per invocation of a worker function (the event source mapping's BatchSize)."
  type        = number
  default     = 10

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10
    error_message = "batch_size: 1 to 10 (a larger batch needs a batching window, which delays clicks' approvals)."
  }
}

variable "max_concurrency" {
  description = "Concurrent invocations at most per worker function (the event source mapping's MaximumConcurrency, at least 2), which also bounds the calls to Gemini and AWS."
  type        = number
  default     = 5

  validation {
    condition     = var.max_concurrency >= 2 && var.max_concurrency <= 1000
    error_message = "max_concurrency: 2 to 1000 (Lambda's bounds for an SQS event source)."
  }
}

variable "sweep_schedule" {
  description = "How often the executor's sweeps run (EventBridge Scheduler). Within 3 minutes, so approval cards see an executor (shared/executor_status.py)."
  type        = string
  default     = "rate(2 minutes)"
}

variable "datadog_extension_layer_arn" {
  description = "The Datadog Lambda extension layer for this region (arn:aws:lambda:<region>:464622532012:layer:Datadog-Extension:<version>); null: no extension, metrics and traces off."
  type        = string
  default     = null
}

variable "alarm_actions" {
  description = "ARNs notified when a dead-letter queue holds a message or a function fails (an SNS topic, for instance)."
  type        = list(string)
  default     = []
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
