output "interactions_url" {
  description = "Discord's Interactions Endpoint URL (the application's General Information page)."
  value       = "${aws_lambda_function_url.interactions.function_url}interactions"
}

output "queue_urls" {
  description = "The pipeline's queues by name, and the clicks queue."
  value       = merge({ for name, queue in aws_sqs_queue.queue : name => queue.id }, { clicks = aws_sqs_queue.clicks.id })
}

output "table_name" {
  description = "The decision ledger."
  value       = aws_dynamodb_table.ledger.name
}

output "function_names" {
  description = "The functions by role in the pipeline."
  value       = { for name, f in aws_lambda_function.this : name => f.function_name }
}

output "secret_parameters" {
  description = "Put each secret's value here: aws ssm put-parameter --overwrite --type SecureString --name <name> --value ..."
  value       = { for name, p in aws_ssm_parameter.secret : name => p.name }
}
