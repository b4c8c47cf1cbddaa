output "interactions_dns_name" {
  description = "Point your DNS name (the certificate's) at this load balancer; Discord's Interactions Endpoint URL is https://<name>/interactions."
  value       = aws_lb.interactions.dns_name
}

output "interactions_zone_id" {
  description = "Hosted zone of the load balancer, for a Route 53 alias record."
  value       = aws_lb.interactions.zone_id
}

output "ecr_repository_url" {
  description = "Push the CloudThrift image here (tag = image_tag)."
  value       = aws_ecr_repository.app.repository_url
}

output "queue_urls" {
  description = "The pipeline's queues by name."
  value       = { for name, queue in aws_sqs_queue.queue : name => queue.id }
}

output "dlq_urls" {
  description = "The dead-letter queues by the name of their source queue."
  value       = { for name, queue in aws_sqs_queue.dlq : name => queue.id }
}

output "ledger_table" {
  description = "The DynamoDB ledger."
  value       = aws_dynamodb_table.ledger.name
}

output "secret_arns" {
  description = "Secrets to fill with `aws secretsmanager put-secret-value` before the services start."
  value       = { for name, secret in aws_secretsmanager_secret.this : name => secret.arn }
}

output "task_role_arns" {
  description = "The task role of each service."
  value       = local.task_role_arns
}

output "cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.this.name
}
