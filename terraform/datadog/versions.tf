# The FinOps dashboard as code. Credentials come from the provider's standard variables
# (DD_API_KEY, DD_APP_KEY, DD_HOST), never from files in this repository.
terraform {
  required_version = ">= 1.5"

  required_providers {
    datadog = {
      source  = "DataDog/datadog"
      version = "~> 3.46"
    }
  }
}

provider "datadog" {}
