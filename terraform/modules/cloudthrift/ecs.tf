# One cluster, one task definition and one service per process; every task runs the same image with a
# different command, next to a Datadog agent sidecar (DogStatsD and traces over localhost).

resource "aws_ecs_cluster" "this" {
  name = var.prefix
  tags = local.tags

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "service" {
  for_each = local.services

  name              = "/cloudthrift/${var.prefix}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn
  tags              = local.tags
}

locals {
  app_secrets = {
    for name, service in local.services : name => [
      for secret in service.secrets : { name = secret, valueFrom = aws_secretsmanager_secret.this[secret].arn }
    ]
  }

  datadog_agent = {
    for name, service in local.services : name => {
      name      = "datadog-agent"
      image     = var.datadog_agent_image
      essential = false # losing metrics must not stop a cleanup half-way
      environment = [
        { name = "ECS_FARGATE", value = "true" },
        { name = "DD_SITE", value = var.datadog_site },
        { name = "DD_ENV", value = var.environment },
        { name = "DD_APM_ENABLED", value = "true" },
        { name = "DD_DOGSTATSD_TAGS", value = "app:cloudthrift service:${var.prefix}-${name}" },
      ]
      secrets = [{ name = "DD_API_KEY", valueFrom = aws_secretsmanager_secret.this["DD_API_KEY"].arn }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.service[name].name
          awslogs-region        = local.region
          awslogs-stream-prefix = "datadog"
        }
      }
    }
  }

  app_container = {
    for name, service in local.services : name => {
      name      = name
      image     = local.image
      command   = service.command
      essential = true
      # Workers drain in-flight messages for CLOUDTHRIFT_DRAIN_SECONDS after SIGTERM (Fargate caps this at 120).
      stopTimeout            = 60
      readonlyRootFilesystem = true
      user                   = "10001:10001"
      environment = [
        for key, value in merge(local.environment, { DD_SERVICE = "${var.prefix}-${name}" }) :
        { name = key, value = value }
      ]
      secrets     = local.app_secrets[name]
      mountPoints = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
      portMappings = name == "interactions" ? [
        { containerPort = var.interactions_port, protocol = "tcp" }
      ] : []
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.service[name].name
          awslogs-region        = local.region
          awslogs-stream-prefix = "app"
        }
      }
    }
  }
}

resource "aws_ecs_task_definition" "service" {
  for_each = local.services
  #checkov:skip=CKV_AWS_336:The app container has a read-only root file system; the Datadog agent sidecar writes its own run state.

  family                   = "${var.prefix}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = try(var.workers[each.key].cpu, 256)
  memory                   = try(var.workers[each.key].memory, 512)
  task_role_arn            = local.task_role_arns[each.key]
  execution_role_arn       = aws_iam_role.execution[each.key].arn
  tags                     = local.tags

  container_definitions = jsonencode(concat(
    [local.app_container[each.key]],
    var.datadog_enabled ? [local.datadog_agent[each.key]] : [],
  ))

  volume {
    name = "tmp"
  }

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
}

# Workers: desired count belongs to the queue-depth autoscaling (autoscaling.tf), not to Terraform.
resource "aws_ecs_service" "worker" {
  for_each = local.worker_queues

  name                               = each.key
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.service[each.key].arn
  launch_type                        = "FARGATE"
  desired_count                      = var.workers[each.key].min
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"
  tags                               = local.tags

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  lifecycle {
    ignore_changes = [desired_count]
  }
}

resource "aws_ecs_service" "interactions" {
  name                               = "interactions"
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.service["interactions"].arn
  launch_type                        = "FARGATE"
  desired_count                      = var.interactions_count
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 30
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"
  tags                               = local.tags

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.interactions.arn
    container_name   = "interactions"
    container_port   = var.interactions_port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [aws_lb_listener.https]
}
