# Terraform and the Google provider, pinned. After the first `terraform init`, commit the
# .terraform.lock.hcl it writes, so that every plan uses the same provider build.
terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "7.46.1"
    }
  }
}

provider "google" {
  project = var.project
  region  = var.region

  # Every resource that takes labels gets these, besides its own.
  default_labels = {
    app        = "fitbeam"
    deployment = var.name_prefix
  }
}

data "google_project" "this" {
  project_id = var.project
}
