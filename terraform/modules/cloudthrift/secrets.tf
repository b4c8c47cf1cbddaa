# Secrets the services read at start (injected by ECS, never in task definitions or Terraform state).
# Terraform creates empty secrets; put the values with `aws secretsmanager put-secret-value` (docs/DEPLOY.md).

locals {
  secrets = {
    DISCORD_BOT_TOKEN = "Discord bot token (Bot tab of the application)"
    GEMINI_API_KEY    = "Google Gemini API key"
    DD_API_KEY        = "Datadog API key for the agent sidecars"
  }
}

resource "aws_secretsmanager_secret" "this" {
  for_each = local.secrets
  #checkov:skip=CKV2_AWS_57:Third-party API keys (Discord, Gemini, Datadog) are rotated in the vendors' consoles; there is no rotation Lambda to run.

  name                    = "${var.prefix}/${lower(replace(each.key, "_", "-"))}"
  description             = each.value
  kms_key_id              = local.kms_key_arn
  recovery_window_in_days = var.secret_recovery_days
  tags                    = local.tags
}
