# Each worker scales on its own queue's depth: out by steps as the backlog grows, in by one task after
# ten quiet minutes (nothing visible and nothing in flight), down to the worker's minimum (0 is fine:
# the backlog alarm does not need a running task to fire).

resource "aws_appautoscaling_target" "worker" {
  for_each = local.worker_queues

  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.worker[each.key].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.workers[each.key].min
  max_capacity       = var.workers[each.key].max
  tags               = local.tags
}

resource "aws_appautoscaling_policy" "scale_out" {
  for_each = local.worker_queues

  name               = "${var.prefix}-${each.key}-backlog"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.worker[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.worker[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.worker[each.key].scalable_dimension

  step_scaling_policy_configuration {
    adjustment_type         = "ChangeInCapacity"
    cooldown                = 60
    metric_aggregation_type = "Maximum"

    step_adjustment {
      metric_interval_lower_bound = 0
      metric_interval_upper_bound = 50
      scaling_adjustment          = 1
    }

    step_adjustment {
      metric_interval_lower_bound = 50
      metric_interval_upper_bound = 500
      scaling_adjustment          = 2
    }

    step_adjustment {
      metric_interval_lower_bound = 500
      scaling_adjustment          = 4
    }
  }
}

resource "aws_appautoscaling_policy" "scale_in" {
  for_each = local.worker_queues

  name               = "${var.prefix}-${each.key}-idle"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.worker[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.worker[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.worker[each.key].scalable_dimension

  step_scaling_policy_configuration {
    adjustment_type         = "ChangeInCapacity"
    cooldown                = 300
    metric_aggregation_type = "Maximum"

    step_adjustment {
      metric_interval_upper_bound = 0
      scaling_adjustment          = -1
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "backlog" {
  for_each = local.worker_queues

  alarm_name          = "${var.prefix}-${each.value.input}-backlog"
  alarm_description   = "Messages wait in ${var.prefix}-${each.value.input}: scale ${each.key} out."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.queue[each.value.input].name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_appautoscaling_policy.scale_out[each.key].arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "idle" {
  for_each = local.worker_queues

  alarm_name          = "${var.prefix}-${each.value.input}-idle"
  alarm_description   = "Nothing waiting or in flight in ${var.prefix}-${each.value.input}: scale ${each.key} in."
  evaluation_periods  = 10
  comparison_operator = "LessThanThreshold"
  threshold           = 0.5 # below it: no message waiting or in flight
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_appautoscaling_policy.scale_in[each.key].arn]
  tags                = local.tags

  metric_query {
    id          = "work"
    expression  = "visible + inflight"
    label       = "messages waiting or in flight"
    return_data = true
  }

  metric_query {
    id = "visible"

    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = aws_sqs_queue.queue[each.value.input].name }
      stat        = "Maximum"
      period      = 60
    }
  }

  metric_query {
    id = "inflight"

    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesNotVisible"
      dimensions  = { QueueName = aws_sqs_queue.queue[each.value.input].name }
      stat        = "Maximum"
      period      = 60
    }
  }
}
