# The Discord interactions endpoint: an always-warm Fargate service behind an HTTPS load balancer.
# Why not a Lambda function URL: Discord drops a click not answered within 3 seconds, clicks are rare
# (so nearly every one would hit a cold start: Python + aiobotocore + pydantic + ddtrace import in
# 1-3 s before any work), and provisioned concurrency to avoid that costs more than this load balancer
# while needing a second entry point. Here the click path is warm: one conditional DynamoDB write and
# one SQS SendMessage, milliseconds each.

resource "aws_lb" "interactions" {
  #checkov:skip=CKV_AWS_91:Access logs are optional (alb_access_logs_bucket); every click is verified and audited in the ledger.
  #checkov:skip=CKV2_AWS_76:Checked on the web ACL: its Log4j rules are there, AnonymousIpList is left out on purpose (see aws_wafv2_web_acl.interactions).
  name                       = "${var.prefix}-discord" # load balancer names: 32 characters at most
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = var.public_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.alb_deletion_protection
  tags                       = local.tags

  dynamic "access_logs" {
    for_each = var.alb_access_logs_bucket == null ? [] : [var.alb_access_logs_bucket]

    content {
      bucket  = access_logs.value
      prefix  = var.prefix
      enabled = true
    }
  }
}

resource "aws_lb_target_group" "interactions" {
  #checkov:skip=CKV_AWS_378:TLS ends at the load balancer inside the VPC; requests are Ed25519-signed end to end by Discord.
  name                 = "${var.prefix}-discord"
  port                 = var.interactions_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 10
  tags                 = local.tags

  health_check {
    path                = "/healthz"
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.interactions.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn
  tags              = local.tags

  default_action {
    type = "fixed-response"

    fixed_response {
      content_type = "text/plain"
      message_body = "not found"
      status_code  = "404"
    }
  }
}

# Only the two paths the endpoint serves reach the tasks.
resource "aws_lb_listener_rule" "interactions" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 10
  tags         = local.tags

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.interactions.arn
  }

  condition {
    path_pattern {
      values = ["/interactions", "/healthz"]
    }
  }
}

# AWS managed rules in front of the endpoint. Discord's button payloads carry the whole card, so the
# common rule set's 8 KB body limit only counts instead of blocking. No rate-based rule: every request
# comes from Discord's few addresses, and throttling them would drop real clicks.
resource "aws_wafv2_web_acl" "interactions" {
  # Log4j rules (KnownBadInputs) yes; AnonymousIpList no: its hosting-provider list would block Discord itself.
  count = var.waf_enabled ? 1 : 0

  name  = "${var.prefix}-interactions"
  scope = "REGIONAL"
  tags  = local.tags

  default_action {
    allow {}
  }

  rule {
    name     = "common"
    priority = 1

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesCommonRuleSet"
        vendor_name = "AWS"

        rule_action_override {
          name = "SizeRestrictions_BODY"

          action_to_use {
            count {}
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.prefix}-common"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "known-bad-inputs"
    priority = 2

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
        vendor_name = "AWS"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.prefix}-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.prefix}-interactions"
    sampled_requests_enabled   = true
  }
}

resource "aws_wafv2_web_acl_association" "interactions" {
  count = var.waf_enabled ? 1 : 0

  resource_arn = aws_lb.interactions.arn
  web_acl_arn  = aws_wafv2_web_acl.interactions[0].arn
}

resource "aws_cloudwatch_log_group" "waf" {
  count = var.waf_enabled ? 1 : 0

  name              = "aws-waf-logs-${var.prefix}" # WAF requires this prefix
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn
  tags              = local.tags
}

resource "aws_wafv2_web_acl_logging_configuration" "interactions" {
  count = var.waf_enabled ? 1 : 0

  resource_arn            = aws_wafv2_web_acl.interactions[0].arn
  log_destination_configs = [aws_cloudwatch_log_group.waf[0].arn]
}
