# The Docker repository of the fitbeam image: the Flex Template launcher, the Dataflow
# workers and the enqueue Cloud Run job all run it (see the repository's Dockerfile).

resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84:The image holds fitbeam's code and public packages, no data or secrets; Google-managed encryption applies. A customer-managed key would need a KMS key ring and grants for the Artifact Registry service agent.
  location      = var.region
  repository_id = var.name_prefix
  description   = "fitbeam images: Flex Template launcher, Dataflow workers, enqueue job"
  format        = "DOCKER"
  depends_on    = [google_project_service.enabled]
}

# The launcher VM and every worker pull the image as the worker account. The Cloud Run job's
# pulls are made by the Cloud Run service agent, which reads this project's repositories.
resource "google_artifact_registry_repository_iam_member" "worker_reader" {
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = google_service_account.worker.member
}
