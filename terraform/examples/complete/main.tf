# A complete CloudThrift deployment in an existing VPC: certificate, DNS name, and the module.
# Usage and the order of the steps (image push, secrets, Discord URL): docs/DEPLOY.md.

resource "aws_acm_certificate" "interactions" {
  domain_name       = var.domain_name
  validation_method = "DNS"

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "validation" {
  for_each = {
    for option in aws_acm_certificate.interactions.domain_validation_options :
    option.domain_name => option
  }

  zone_id         = var.zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "interactions" {
  certificate_arn         = aws_acm_certificate.interactions.arn
  validation_record_fqdns = [for record in aws_route53_record.validation : record.fqdn]
}

module "cloudthrift" {
  source = "../../modules/cloudthrift"

  regions                = var.regions
  dry_run                = var.dry_run
  scan_role_arns         = var.scan_role_arns
  scan_schedule          = var.scan_schedule
  scan_schedule_timezone = var.scan_schedule_timezone
  image_tag              = var.image_tag
  vpc_id                 = var.vpc_id
  private_subnet_ids     = var.private_subnet_ids
  public_subnet_ids      = var.public_subnet_ids
  certificate_arn        = aws_acm_certificate_validation.interactions.certificate_arn

  discord_application_id = var.discord_application_id
  discord_public_key     = var.discord_public_key
  discord_channel_id     = var.discord_channel_id
  discord_approver_ids   = var.discord_approver_ids
  extra_environment      = var.extra_environment
}

resource "aws_route53_record" "interactions" {
  zone_id = var.zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = module.cloudthrift.interactions_dns_name
    zone_id                = module.cloudthrift.interactions_zone_id
    evaluate_target_health = true
  }
}
