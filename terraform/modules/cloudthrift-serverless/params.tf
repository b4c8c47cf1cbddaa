# Secrets as SSM SecureString parameters under the module's key: free (standard tier), where each Secrets
# Manager secret costs $0.40 a month, which alone would be most of the idle budget (docs/DEPLOY.md).
# Terraform creates each with a placeholder and never reads it back; put the value with
# `aws ssm put-parameter --overwrite` (docs/DEPLOY.md). The functions read theirs once per container
# (<NAME>_SSM_NAME, services/serverless/settings.py); the Datadog extension reads DD_API_KEY_SSM_NAME.

locals {
  secrets = {
    DISCORD_BOT_TOKEN = "Discord bot token (Bot tab of the application)"
    GEMINI_API_KEY    = "Google Gemini API key"
    DD_API_KEY        = "Datadog API key for the Lambda extension"
  }
}

resource "aws_ssm_parameter" "secret" {
  #checkov:skip=CKV_AWS_337:Under the module's key only with customer_managed_key; by default under the AWS managed aws/ssm key, which has no monthly charge (docs/DEPLOY.md, What a customer managed key buys).
  for_each = local.secrets

  name        = "/${var.prefix}/${lower(replace(each.key, "_", "-"))}"
  description = each.value
  type        = "SecureString"
  key_id      = local.kms_key_arn
  value       = "unset"
  tags        = local.tags

  lifecycle {
    ignore_changes = [value]
  }
}
