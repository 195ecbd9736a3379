# What the operator needs after `terraform apply`: where to put things and what to run with.

output "worker_service_account" {
  description = "Service account of the Dataflow launcher VM and workers: --service-account-email of `gcloud dataflow flex-template run`."
  value       = google_service_account.worker.email
}

output "launcher_service_account" {
  description = "Service account Cloud Scheduler launches the batch job as."
  value       = google_service_account.launcher.email
}

output "enqueue_service_account" {
  description = "Service account of the enqueue Cloud Run job."
  value       = google_service_account.enqueue.email
}

output "image_repository" {
  description = "Artifact Registry repository for the fitbeam image: push IMAGE as REPOSITORY/fitbeam:TAG."
  value       = "${google_artifact_registry_repository.images.location}-docker.pkg.dev/${var.project}/${google_artifact_registry_repository.images.repository_id}"
}

output "template_spec" {
  description = "Where `gcloud dataflow flex-template build` must write the template spec."
  value       = local.template_spec
}

output "staging_location" {
  description = "--staging-location for Flex Template launches."
  value       = local.staging_location
}

output "temp_location" {
  description = "--temp-location for Flex Template launches."
  value       = local.temp_location
}

output "dead_letter_root" {
  description = "--dead_letter_root for every run."
  value       = local.dead_letter_root
}

output "users_file" {
  description = "Upload the users file here; runs and the enqueue read it as --users=@URI."
  value       = "gs://${google_storage_bucket.config.name}/${var.users_file}"
}

output "token_store" {
  description = "--token_store for every run and the enqueue."
  value       = local.token_store
}

output "oauth_client_secret" {
  description = "The secret that must hold the OAuth client JSON (add its value with gcloud, see README.md)."
  value       = google_secret_manager_secret.oauth_client.secret_id
}

output "dataset" {
  description = "--dataset for every run."
  value       = local.dataset_arg
}

output "requests_topic" {
  description = "Topic the enqueue publishes request messages to."
  value       = google_pubsub_topic.requests.id
}

output "requests_subscription" {
  description = "--requests_subscription of the streaming job."
  value       = google_pubsub_subscription.requests.id
}

output "requests_dead_letter_subscription" {
  description = "Request messages Pub/Sub gave up on; pull them from here."
  value       = google_pubsub_subscription.requests_dead_letter.id
}

output "relay_url" {
  description = "The relay's endpoint: register it with the Google Health API as endpointUri (docs/notifications-relay.md). Empty while enable_relay is false."
  value       = var.enable_relay ? google_cloud_run_v2_service.relay[0].uri : ""
}

output "relay_secret" {
  description = "The secret that must hold the relay's Authorization value (\"Bearer ...\"): add a version with gcloud before the relay starts. Empty while enable_relay is false."
  value       = var.enable_relay ? google_secret_manager_secret.relay[0].secret_id : ""
}

output "relay_user_map" {
  description = "Where the relay reads its user map: upload the output of `fitbeam relay user-map` here."
  value       = local.relay_user_map
}

output "raw_archive" {
  description = "--raw_archive of every run that calls the API (the batch launch passes it): the root of the raw archive, whose objects `fitbeam rebuild --from_archive 'ROOT/user_key=KEY/**'` reads."
  value       = local.raw_archive_root
}

output "import_folder" {
  description = "Where to upload a Google Takeout export for `fitbeam import takeout` (the workers may read it; delete it after the import)."
  value       = "gs://${google_storage_bucket.raw_archive.name}/imports"
}
