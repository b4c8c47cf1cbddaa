variable "env" {
  description = "Default value of the env template variable (the DD_ENV the workers run with)."
  type        = string
  default     = "prod"
}

variable "title" {
  description = "Dashboard title."
  type        = string
  default     = "CloudThrift FinOps"
}
