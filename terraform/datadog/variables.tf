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

variable "notify" {
  description = "Who the monitors notify, as Datadog handles (e.g. [\"@slack-finops\", \"@ops@example.com\"])."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for handle in var.notify : can(regex("^@\\S+$", handle))])
    error_message = "notify: Datadog handles starting with @ (e.g. @slack-finops, @pagerduty-oncall)."
  }
}

variable "monitor_tags" {
  description = "More tags for the monitors (app, env and managed-by are always set)."
  type        = list(string)
  default     = []
}

variable "pending_approval_warning_hours" {
  description = "Warn when the oldest pending approval has waited this long."
  type        = number
  default     = 48

  validation {
    condition     = var.pending_approval_warning_hours > 0
    error_message = "pending_approval_warning_hours: a positive number of hours."
  }
}

variable "pending_approval_critical_hours" {
  description = "Alert when the oldest pending approval has waited this long (above the warning)."
  type        = number
  default     = 72

  validation {
    condition     = var.pending_approval_critical_hours > 0
    error_message = "pending_approval_critical_hours: a positive number of hours."
  }
}

variable "scan_max_silence_hours" {
  description = "Alert when no scan has finished for this long: 26 h suits a daily schedule (the module's default); with a weekday-only schedule use 74."
  type        = number
  default     = 26

  validation {
    condition     = var.scan_max_silence_hours >= 1 && floor(var.scan_max_silence_hours) == var.scan_max_silence_hours
    error_message = "scan_max_silence_hours: a whole number of hours, at least 1."
  }
}
