# The OAuth client of the Google Health API, kept where the token store looks for it:
# secret PREFIX-oauth-client, JSON {"client_id": "...", "client_secret": "..."}. Terraform
# makes the empty secret only; its value never passes through Terraform state. The operator
# adds it (README.md, "The OAuth client"). Users' token secrets (PREFIX-user-KEY) are made by
# the app when each user consents; their grants are in iam.tf.

resource "google_secret_manager_secret" "oauth_client" {
  secret_id = "${var.name_prefix}-oauth-client"

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

# Read-only: the client never changes at run time.
resource "google_secret_manager_secret_iam_member" "oauth_client_readers" {
  for_each = {
    worker  = google_service_account.worker.member
    enqueue = google_service_account.enqueue.member
  }

  secret_id = google_secret_manager_secret.oauth_client.id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value
}
