# The functions: one zip (bench/lambda_package.py), six handlers. No VPC: the functions reach AWS APIs,
# Discord, Gemini and Datadog directly, so there is no NAT gateway to pay for.

locals {
  # Where an invocation Lambda gives up on (asynchronous ones: the scheduler's) is dead-lettered.
  async_dlq = merge(
    { for name, q in local.worker_queues : name => aws_sqs_queue.dlq[q.input].arn },
    { interactions = aws_sqs_queue.clicks_dlq.arn, sweeps = aws_sqs_queue.dlq["execute"].arn },
  )
  package_in_s3 = var.package_s3_bucket != null
}

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:Under the module's key only with customer_managed_key; by default CloudWatch Logs' own encryption at rest, which has no monthly charge (docs/DEPLOY.md, What a customer managed key buys).
  for_each = local.functions

  name              = "/aws/lambda/${var.prefix}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn
  tags              = local.tags
}

resource "aws_lambda_function" "this" {
  for_each = local.functions
  #checkov:skip=CKV_AWS_117:No VPC by design: the functions call public APIs (AWS, Discord, Gemini, Datadog) and a VPC would need a NAT gateway, the cost this mode removes.
  #checkov:skip=CKV_AWS_272:The zip is built reproducibly from pinned wheels (bench/lambda_package.py) and its SHA-256 is pinned by source_code_hash; there is no signing profile to verify against.
  #checkov:skip=CKV_AWS_173:The environment is under the module's key only with customer_managed_key; by default under the AWS managed aws/lambda key, which has no monthly charge (docs/DEPLOY.md, What a customer managed key buys).

  function_name = "${var.prefix}-${each.key}"
  description   = "CloudThrift ${each.key} ${var.package_version}"
  role          = local.role_arns[each.value.role]
  runtime       = "python3.11"
  architectures = ["x86_64"]
  handler       = each.value.handler
  memory_size   = var.memory_mb[each.key]
  timeout       = each.value.timeout
  kms_key_arn   = local.kms_key_arn
  layers        = local.datadog ? [var.datadog_extension_layer_arn] : []

  filename         = local.package_in_s3 ? null : var.package_file
  source_code_hash = local.package_in_s3 ? null : filebase64sha256(var.package_file)
  s3_bucket        = var.package_s3_bucket
  s3_key           = var.package_s3_key

  # At most this many at once: a flood of clicks or scans cannot run up the bill or Gemini's quota.
  reserved_concurrent_executions = each.key == "interactions" ? 5 : (each.key == "sweeps" ? 1 : var.max_concurrency)

  environment {
    variables = merge(
      local.environment,
      {
        DD_SERVICE        = "cloudthrift-${each.key == "sweeps" ? "executor" : each.key}"
        CLOUDTHRIFT_STAGE = contains(keys(local.worker_queues), each.key) ? each.key : ""
      },
      { for secret in each.value.secrets : "${secret}_SSM_NAME" => aws_ssm_parameter.secret[secret].name },
    )
  }

  tracing_config {
    mode = "PassThrough" # traces are Datadog's (one per finding, across the stages), not X-Ray's
  }

  dead_letter_config {
    target_arn = local.async_dlq[each.key]
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  tags = merge(local.tags, { service = "cloudthrift-${each.key}", env = var.environment, version = var.package_version })

  lifecycle {
    precondition {
      condition     = (var.package_file != null) != (var.package_s3_bucket != null && var.package_s3_key != null)
      error_message = "Give either package_file or both package_s3_bucket and package_s3_key."
    }
  }
}

# Each worker is fed by its queue; a batch answers which records failed (shared/lambda_sqs.py), and
# only those come back.
resource "aws_lambda_event_source_mapping" "worker" {
  for_each = local.worker_queues

  event_source_arn        = aws_sqs_queue.queue[each.value.input].arn
  function_name           = aws_lambda_function.this[each.key].arn
  batch_size              = var.batch_size
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.max_concurrency
  }
}

resource "aws_lambda_event_source_mapping" "clicks" {
  event_source_arn        = aws_sqs_queue.clicks.arn
  function_name           = aws_lambda_function.this["interactions"].arn
  batch_size              = 1
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = 2
  }
}

# Discord's Interactions Endpoint URL is <url>interactions. No IAM auth: Discord cannot sign SigV4;
# every request is authenticated by its Ed25519 signature before anything is parsed.
resource "aws_lambda_function_url" "interactions" {
  #checkov:skip=CKV_AWS_258:Discord cannot sign AWS requests; every request must carry Discord's Ed25519 signature, checked before anything is parsed (services/notifier/interactions.py).
  function_name      = aws_lambda_function.this["interactions"].function_name
  authorization_type = "NONE"
  invoke_mode        = "BUFFERED"
}
