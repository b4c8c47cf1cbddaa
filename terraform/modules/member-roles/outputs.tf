output "scan_role_arn" {
  description = "The read-only scan role."
  value       = aws_iam_role.scan.arn
}

output "cleanup_role_arn" {
  description = "The clean-up role."
  value       = aws_iam_role.cleanup.arn
}
