# CloudThrift on AWS: four SQS-chained workers and the Discord interactions endpoint on ECS Fargate,
# a DynamoDB ledger, an EventBridge Scheduler scan, secrets in Secrets Manager, Datadog as a sidecar.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  # The queue names of shared/config.py (QUEUE_NAMES): `<prefix>-<queue>` and `<prefix>-<queue>-dlq`.
  queue_names = ["scan", "analyze", "notify", "execute"]

  # The key of kms.tf: always here (logs, images, secrets and the ledger of a resident deployment).
  customer_managed_key = true

  # Which queue each worker reads and which it writes (services/<name>/main.py WORKER specs).
  worker_queues = {
    scanner  = { input = "scan", output = "analyze" }
    analyzer = { input = "analyze", output = "notify" }
    notifier = { input = "notify", output = null }
    executor = { input = "execute", output = null }
  }

  # Every ECS service: the command the shared image runs, and the secrets its app container gets.
  services = {
    scanner      = { command = ["worker", "scanner"], secrets = [] }
    analyzer     = { command = ["worker", "analyzer"], secrets = ["GEMINI_API_KEY"] }
    notifier     = { command = ["worker", "notifier"], secrets = ["DISCORD_BOT_TOKEN"] }
    executor     = { command = ["worker", "executor"], secrets = [] }
    interactions = { command = ["serve"], secrets = [] } # verifies clicks with the public key; no bot token
  }

  task_role_arns = {
    scanner      = aws_iam_role.scanner.arn
    analyzer     = aws_iam_role.analyzer.arn
    notifier     = aws_iam_role.notifier.arn
    executor     = aws_iam_role.executor.arn
    interactions = aws_iam_role.interactions.arn
  }

  image = coalesce(var.image, "${aws_ecr_repository.app.repository_url}:${var.image_tag}")

  # Settings every container reads (names as in shared/config.py). Optional ones are left out when
  # null, so the application's own default applies (an empty DISCORD_PUBLIC_KEY would fail validation).
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

  environment = merge(
    {
      AWS_REGION                     = local.region
      CLOUDTHRIFT_PREFIX             = var.prefix
      CLOUDTHRIFT_REGIONS            = join(",", var.regions)
      CLOUDTHRIFT_SCAN_ROLE_NAME     = var.member_scan_role_name
      CLOUDTHRIFT_CLEANUP_ROLE_NAME  = var.member_cleanup_role_name
      CLOUDTHRIFT_DRY_RUN            = tostring(var.dry_run)
      CLOUDTHRIFT_MIN_AGE_DAYS       = tostring(var.min_age_days)
      CLOUDTHRIFT_MIN_IDLE_DAYS      = tostring(var.min_idle_days)
      CLOUDTHRIFT_VISIBILITY_TIMEOUT = tostring(var.visibility_timeout)
      CLOUDTHRIFT_MAX_RECEIVES       = tostring(var.max_receives)
      CLOUDTHRIFT_DRAIN_SECONDS      = "25"
      CLOUDTHRIFT_LOG_FORMAT         = "json"
      CLOUDTHRIFT_HTTP_HOST          = "0.0.0.0"
      CLOUDTHRIFT_HTTP_PORT          = tostring(var.interactions_port)
      DD_ENV                         = var.environment
      DD_VERSION                     = var.image_tag
      DD_TRACE_ENABLED               = tostring(var.datadog_enabled)
      DD_DOGSTATSD_DISABLE           = tostring(!var.datadog_enabled)
      DD_AGENT_HOST                  = "127.0.0.1"
      PYTHONUNBUFFERED               = "1"
    },
    { for name, value in local.optional_environment : name => value if value != null },
    var.extra_environment,
  )

  tags = merge({ app = "cloudthrift", "cloudthrift:keep" = "true" }, var.tags)
}
