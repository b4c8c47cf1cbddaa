# Security groups: the load balancer takes HTTPS from anywhere (Discord publishes no address ranges; every
# request is Ed25519-signed and checked by the endpoint), the tasks take traffic only from the load
# balancer, and talk out over HTTPS only (AWS APIs, Discord, Gemini, Datadog).

resource "aws_security_group" "alb" {
  name        = "${var.prefix}-interactions-alb"
  description = "CloudThrift interactions load balancer"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  security_group_id = aws_security_group.alb.id
  description       = "Discord interactions (HTTPS, signed requests)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the interactions tasks"
  ip_protocol                  = "tcp"
  from_port                    = var.interactions_port
  to_port                      = var.interactions_port
  referenced_security_group_id = aws_security_group.tasks.id
}

resource "aws_security_group" "tasks" {
  name        = "${var.prefix}-tasks"
  description = "CloudThrift workers and interactions endpoint"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_alb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Interactions from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = var.interactions_port
  to_port                      = var.interactions_port
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  security_group_id = aws_security_group.tasks.id
  description       = "AWS APIs, Discord, Gemini and Datadog over HTTPS"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}
