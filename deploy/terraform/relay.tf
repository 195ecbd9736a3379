# The notifications relay (docs/notifications-relay.md): a Cloud Run service running
# `fitbeam relay`, the HTTPS endpoint the Google Health API POSTs webhook notifications to.
# It checks the shared secret and the signature, and publishes request messages to the
# request topic, which the streaming job reads. Off unless enable_relay is set.
#
# Its account may do three things and nothing else: publish to the request topic, read its
# own secret (the Authorization value Google sends), and read one object, the user map, in
# the config bucket. The secret's value never passes through Terraform. Before the first
# apply with enable_relay = true (the service does not start without both):
#
#   terraform apply -var enable_relay=true -target=google_secret_manager_secret.relay
#   printf 'Bearer %s' "$(openssl rand -hex 32)" | \
#       gcloud secrets versions add PREFIX-relay-secret --project=$PROJECT --data-file=-
#   fitbeam relay user-map --users @users.txt --token_store secretmanager://$PROJECT/PREFIX \
#       | gcloud storage cp - gs://CONFIG_BUCKET/relay/user-map.json

locals {
  relay_count    = var.enable_relay ? 1 : 0
  relay_user_map = "gs://${google_storage_bucket.config.name}/${var.relay_user_map_object}"
}

resource "google_service_account" "relay" {
  count        = local.relay_count
  account_id   = "${var.name_prefix}-relay"
  display_name = "fitbeam: the notifications relay (Cloud Run service)"
  depends_on   = [google_project_service.enabled]
}

# The Authorization header value Google sends with every notification, "Bearer ...".
resource "google_secret_manager_secret" "relay" {
  count     = local.relay_count
  secret_id = "${var.name_prefix}-relay-secret"

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret_iam_member" "relay_secret_reader" {
  count     = local.relay_count
  secret_id = google_secret_manager_secret.relay[0].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.relay[0].member
}

resource "google_pubsub_topic_iam_member" "requests_relay" {
  count  = local.relay_count
  topic  = google_pubsub_topic.requests.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.relay[0].member
}

# The user map only: the users file and anything else in the bucket stay out of reach.
resource "google_storage_bucket_iam_member" "relay_user_map_reader" {
  count  = local.relay_count
  bucket = google_storage_bucket.config.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.relay[0].member

  condition {
    title       = "fitbeam relay user map"
    description = "Only the object ${var.relay_user_map_object}."
    expression  = "resource.name == \"projects/_/buckets/${google_storage_bucket.config.name}/objects/${var.relay_user_map_object}\""
  }
}

resource "google_cloud_run_v2_service" "relay" {
  count               = local.relay_count
  name                = "${var.name_prefix}-relay"
  location            = var.region
  ingress             = var.relay_ingress
  deletion_protection = false
  # Google's webhook sender presents no Google identity, only the shared secret, which the
  # relay checks itself (with the signature): Cloud Run's invoker check must be off.
  invoker_iam_disabled = true

  template {
    service_account                  = google_service_account.relay[0].email
    timeout                          = "${var.relay_timeout_seconds}s"
    max_instance_request_concurrency = var.relay_concurrency

    # No instance runs while no notification comes; a cold start takes about a second
    # (the relay imports no Beam). The cap bounds what a flood can cost: past it Cloud
    # Run answers 429 and Google retries.
    scaling {
      min_instance_count = 0
      max_instance_count = var.relay_max_instances
    }

    containers {
      image   = var.image
      command = ["fitbeam"]
      args    = ["relay"]

      ports {
        container_port = 8080
      }

      env {
        name  = "FITBEAM_RELAY_TOPIC"
        value = google_pubsub_topic.requests.id
      }
      env {
        name  = "FITBEAM_RELAY_USER_MAP"
        value = local.relay_user_map
      }
      env {
        name  = "FITBEAM_RELAY_PUBLIC_KEY"
        value = var.relay_public_key
      }
      env {
        name = "FITBEAM_RELAY_SECRET"
        value_source {
          secret_key_ref {
            secret  = google_secret_manager_secret.relay[0].secret_id
            version = "latest"
          }
        }
      }

      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
        cpu_idle          = true
        startup_cpu_boost = true
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.relay_public_key != ""
      error_message = "enable_relay needs relay_public_key: the text of the public keyset Google signs webhook notifications with (docs/notifications-relay.md)."
    }
  }

  depends_on = [
    google_secret_manager_secret_iam_member.relay_secret_reader,
    google_pubsub_topic_iam_member.requests_relay,
    google_storage_bucket_iam_member.relay_user_map_reader,
  ]
}
