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
