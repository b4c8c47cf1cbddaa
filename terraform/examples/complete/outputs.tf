output "interactions_endpoint_url" {
  description = "Paste into Discord: Developer Portal > your application > General Information > Interactions Endpoint URL."
  value       = "https://${var.domain_name}/interactions"
}

output "ecr_repository_url" {
  description = "docker push target for the CloudThrift image."
  value       = module.cloudthrift.ecr_repository_url
}

output "secret_arns" {
  description = "Fill these before the services start."
  value       = module.cloudthrift.secret_arns
}

output "cluster_name" {
  description = "ECS cluster (for `aws ecs update-service --force-new-deployment`)."
  value       = module.cloudthrift.cluster_name
}
