# CloudThrift without a resident process: the four SQS-chained workers, Discord's interactions endpoint
# and the executor's sweeps as Lambda functions, with no VPC, no NAT gateway, no load balancer.
# The queues, the ledger, the key, the scan schedule and the stages' IAM policies are the ECS module's
# own files (symbolic links into ../cloudthrift): one definition, two deployments.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  # The queue names of shared/config.py (QUEUE_NAMES), as in the ECS module.
  queue_names = ["scan", "analyze", "notify", "execute"]

  # kms.tf's key only when asked for: $1 a month, a third of the idle budget (docs/DEPLOY.md).
  customer_managed_key = var.customer_managed_key

  # Which queue each worker reads and which it writes (services/<name>/main.py WORKER specs).
  worker_queues = {
    scanner  = { input = "scan", output = "analyze" }
    analyzer = { input = "analyze", output = "notify" }
    notifier = { input = "notify", output = null }
    executor = { input = "execute", output = null }
  }

  # Every function: its handler in the one zip, the role of its stage (the ECS task role's policy),
  # the secrets it reads, and how long it may run. Workers run as long as a message stays hidden.
  worker_timeout = min(var.visibility_timeout, 900)
  functions = {
    scanner      = { handler = "services.serverless.worker.handler", role = "scanner", secrets = [], timeout = local.worker_timeout }
    analyzer     = { handler = "services.serverless.worker.handler", role = "analyzer", secrets = ["GEMINI_API_KEY"], timeout = local.worker_timeout }
    notifier     = { handler = "services.serverless.worker.handler", role = "notifier", secrets = ["DISCORD_BOT_TOKEN"], timeout = local.worker_timeout }
    executor     = { handler = "services.serverless.worker.handler", role = "executor", secrets = ["DISCORD_BOT_TOKEN"], timeout = local.worker_timeout }
    interactions = { handler = "services.serverless.interactions.handler", role = "interactions", secrets = ["DISCORD_BOT_TOKEN"], timeout = 30 }
    sweeps       = { handler = "services.serverless.sweeps.handler", role = "executor", secrets = [], timeout = 120 }
  }

  role_arns = {
    scanner      = aws_iam_role.scanner.arn
    analyzer     = aws_iam_role.analyzer.arn
    notifier     = aws_iam_role.notifier.arn
    executor     = aws_iam_role.executor.arn
    interactions = aws_iam_role.interactions.arn
  }

  optional_environment = {
    GEMINI_MODEL              = var.gemini_model
    DISCORD_APPLICATION_ID    = var.discord_application_id
    DISCORD_CHANNEL_ID        = var.discord_channel_id
    DISCORD_PUBLIC_KEY        = var.discord_public_key
    DISCORD_APPROVER_IDS      = length(var.discord_approver_ids) > 0 ? join(",", var.discord_approver_ids) : null
    DISCORD_APPROVER_ROLE_IDS = length(var.discord_approver_role_ids) > 0 ? join(",", var.discord_approver_role_ids) : null
    CLOUDTHRIFT_KINDS         = length(var.kinds) > 0 ? join(",", var.kinds) : null
    CLOUDTHRIFT_EXTERNAL_ID   = var.external_id
  }

  datadog = var.datadog_enabled && var.datadog_extension_layer_arn != null

  # Settings every function reads (names as in shared/config.py), and the Datadog Lambda extension's
  # conventions: it takes its API key from SSM, and listens for DogStatsD and traces on localhost.
  environment = merge(
    {
      CLOUDTHRIFT_PREFIX             = var.prefix
      CLOUDTHRIFT_REGIONS            = join(",", var.regions)
      CLOUDTHRIFT_DRY_RUN            = tostring(var.dry_run)
      CLOUDTHRIFT_MIN_AGE_DAYS       = tostring(var.min_age_days)
      CLOUDTHRIFT_MIN_IDLE_DAYS      = tostring(var.min_idle_days)
      CLOUDTHRIFT_VISIBILITY_TIMEOUT = tostring(var.visibility_timeout)
      CLOUDTHRIFT_MAX_RECEIVES       = tostring(var.max_receives)
      CLOUDTHRIFT_CLICKS_QUEUE_URL   = aws_sqs_queue.clicks.id
      CLOUDTHRIFT_SCAN_ROLE_NAME     = var.member_scan_role_name
      CLOUDTHRIFT_CLEANUP_ROLE_NAME  = var.member_cleanup_role_name
      CLOUDTHRIFT_LOG_FORMAT         = "json"
      DD_ENV                         = var.environment
      DD_VERSION                     = var.package_version
      DD_SITE                        = var.datadog_site
      DD_TRACE_ENABLED               = tostring(local.datadog)
      DD_DOGSTATSD_DISABLE           = tostring(!local.datadog)
      DD_API_KEY_SSM_NAME            = aws_ssm_parameter.secret["DD_API_KEY"].name
      DD_SERVERLESS_LOGS_ENABLED     = "true"
      DD_CAPTURE_LAMBDA_PAYLOAD      = "false"
      DD_TAGS                        = "app:cloudthrift"
    },
    { for name, value in local.optional_environment : name => value if value != null },
    var.extra_environment,
  )

  tags = merge({ app = "cloudthrift", "cloudthrift:keep" = "true" }, var.tags)
}
