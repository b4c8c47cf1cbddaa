# CloudThrift without a VPC, a NAT gateway or a load balancer: Lambda functions fed by SQS, a function
# URL for Discord, schedules for the scan and the sweeps. Usage: docs/DEPLOY.md, "Serverless".

terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0, < 7.0"
    }
  }
}

provider "aws" {
  region = var.home_region

  default_tags {
    tags = { app = "cloudthrift", managed-by = "terraform" }
  }
}

variable "home_region" {
  description = "Where the functions, queues and ledger live."
  type        = string
  default     = "us-east-1"
}

variable "regions" {
  description = "Regions scanned, and the only ones the executor may touch."
  type        = list(string)
}

variable "package_s3_bucket" {
  description = "Bucket holding the zip of bench/lambda_package.py (it is over the 50 MB direct upload limit)."
  type        = string
}

variable "package_s3_key" {
  description = "Key of the zip in that bucket."
  type        = string
}

variable "datadog_extension_layer_arn" {
  description = "The Datadog Lambda extension layer ARN for home_region; null runs without Datadog."
  type        = string
  default     = null
}

variable "discord_public_key" {
  description = "General Information → Public Key (64 hex characters)."
  type        = string
}

variable "discord_channel_id" {
  description = "Channel of the approval cards."
  type        = string
}

variable "discord_approver_ids" {
  description = "User ids allowed to approve."
  type        = list(string)
}

module "cloudthrift" {
  source = "../../modules/cloudthrift-serverless"

  regions                     = var.regions
  package_s3_bucket           = var.package_s3_bucket
  package_s3_key              = var.package_s3_key
  datadog_extension_layer_arn = var.datadog_extension_layer_arn
  discord_public_key          = var.discord_public_key
  discord_channel_id          = var.discord_channel_id
  discord_approver_ids        = var.discord_approver_ids
}

output "interactions_url" {
  description = "Paste into Discord's Interactions Endpoint URL."
  value       = module.cloudthrift.interactions_url
}

output "secret_parameters" {
  description = "Where to put each secret (aws ssm put-parameter --overwrite)."
  value       = module.cloudthrift.secret_parameters
}
