# A few idle resources in a real account to try CloudThrift against: two unattached volumes, an
# unassociated Elastic IP, and one unattached volume carrying the opt-out tag (never reported).
# Together they cost about $7 a month while they exist: `terraform destroy` when done (or let
# CloudThrift clean them up: that is the point). Volumes younger than CLOUDTHRIFT_MIN_AGE_DAYS are not
# reported, so set it to 0 while trying.

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
  region = var.region

  default_tags {
    tags = { app = "cloudthrift-idle-fixtures", managed-by = "terraform" }
  }
}

variable "region" {
  description = "Region to create the fixtures in (one of CloudThrift's regions)."
  type        = string
  default     = "us-east-1"
}

variable "availability_zone" {
  description = "Zone of the fixture volumes; default: the region's zone a."
  type        = string
  default     = null
}

locals {
  zone = coalesce(var.availability_zone, "${var.region}a")
}

resource "aws_ebs_volume" "idle_gp3" {
  #checkov:skip=CKV_AWS_189:Throwaway fixture, encrypted with the account's default EBS key; a CMK would outlive it by its 7-30 day deletion window.
  availability_zone = local.zone
  size              = 10
  type              = "gp3"
  encrypted         = true
  tags              = { Name = "cloudthrift-fixture-scratch" }
}

resource "aws_ebs_volume" "idle_gp2" {
  #checkov:skip=CKV_AWS_189:Throwaway fixture, encrypted with the account's default EBS key; a CMK would outlive it by its 7-30 day deletion window.
  availability_zone = local.zone
  size              = 20
  type              = "gp2"
  encrypted         = true
  tags              = { Name = "cloudthrift-fixture-old-build-cache" }
}

resource "aws_ebs_volume" "opted_out" {
  #checkov:skip=CKV_AWS_189:Throwaway fixture, encrypted with the account's default EBS key; a CMK would outlive it by its 7-30 day deletion window.
  availability_zone = local.zone
  size              = 1
  type              = "gp3"
  encrypted         = true
  tags              = { Name = "cloudthrift-fixture-keep", "cloudthrift:keep" = "fixture: must never be reported" }
}

resource "aws_eip" "idle" {
  #checkov:skip=CKV2_AWS_19:This address is left unassociated on purpose: it is the idle fixture CloudThrift must find.
  domain = "vpc"
  tags   = { Name = "cloudthrift-fixture-unused-ip" }
}

output "idle_volume_ids" {
  description = "Should be reported (once older than CLOUDTHRIFT_MIN_AGE_DAYS)."
  value       = [aws_ebs_volume.idle_gp3.id, aws_ebs_volume.idle_gp2.id]
}

output "idle_allocation_id" {
  description = "Should be reported."
  value       = aws_eip.idle.allocation_id
}

output "opted_out_volume_id" {
  description = "Must never be reported."
  value       = aws_ebs_volume.opted_out.id
}
