# The APIs the deployment uses. Turning them off on destroy could break other users of the
# project, so `terraform destroy` leaves them on.
locals {
  services = concat(
    [
      "artifactregistry.googleapis.com",
      "bigquery.googleapis.com",
      "bigquerydatatransfer.googleapis.com", # the stale-user scheduled query
      "cloudbuild.googleapis.com",           # `make template` builds the image with Cloud Build
      "cloudresourcemanager.googleapis.com", # project IAM bindings
      "cloudscheduler.googleapis.com",
      "compute.googleapis.com", # Dataflow's launcher and worker VMs
      "dataflow.googleapis.com",
      "iam.googleapis.com",
      "logging.googleapis.com",
      "monitoring.googleapis.com",
      "pubsub.googleapis.com",
      "run.googleapis.com",
      "secretmanager.googleapis.com",
      "storage.googleapis.com",
    ],
    var.enable_health_api ? ["health.googleapis.com"] : [],
  )
}

resource "google_project_service" "enabled" {
  for_each = toset(local.services)

  project            = var.project
  service            = each.value
  disable_on_destroy = false
}
