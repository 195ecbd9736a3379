# Request messages (healthapi/messages.py): the enqueue publishes one per user and
# day to the request topic; the streaming job reads the request subscription.
#
# A message that breaks the contract is not Pub/Sub's dead letter: the pipeline acknowledges
# it and writes it to the dead-letter bucket (stage parse_request). The subscription's
# dead-letter policy is the backstop for a message no reader ever acknowledges, e.g. one that
# crashes the reader each time it is delivered; it lands on its own topic, whose
# subscription keeps it for inspection and republishing.

locals {
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "requests" {
  #checkov:skip=CKV_GCP_83:Request messages hold a user key, dates and data types, nothing secret; Google-managed encryption applies, and a customer-managed key would need a KMS key ring and grants for the Pub/Sub service agent.
  name       = "${var.name_prefix}-requests"
  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_topic" "requests_dead_letter" {
  #checkov:skip=CKV_GCP_83:Holds the same request messages as the request topic; Google-managed encryption applies.
  name       = "${var.name_prefix}-requests-dead-letter"
  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_subscription" "requests" {
  name  = "${var.name_prefix}-requests"
  topic = google_pubsub_topic.requests.id

  ack_deadline_seconds       = var.request_ack_deadline_seconds
  message_retention_duration = var.request_retention
  retain_acked_messages      = false

  # The default expiry deletes a subscription after 31 days without a reader, which would
  # silently drop every request published while the streaming job is stopped for longer.
  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.requests_dead_letter.id
    max_delivery_attempts = var.request_max_delivery_attempts
  }

  # Dead-lettering is done by the Pub/Sub service agent: it must be able to publish to the
  # dead-letter topic and to acknowledge on this subscription before the policy takes effect.
  depends_on = [google_pubsub_topic_iam_member.dead_letter_publisher]
}

# Without a subscription, messages published to the dead-letter topic would be lost.
resource "google_pubsub_subscription" "requests_dead_letter" {
  name  = "${var.name_prefix}-requests-dead-letter"
  topic = google_pubsub_topic.requests_dead_letter.id

  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  topic  = google_pubsub_topic.requests_dead_letter.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  subscription = google_pubsub_subscription.requests.id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# The streaming job pulls and acknowledges; Dataflow also reads the subscription's metadata
# (its topic, for backlog and watermark tracking).
resource "google_pubsub_subscription_iam_member" "requests_worker" {
  for_each = toset([
    "roles/pubsub.subscriber",
    "roles/pubsub.viewer",
  ])

  subscription = google_pubsub_subscription.requests.id
  role         = each.value
  member       = google_service_account.worker.member
}

resource "google_pubsub_topic_iam_member" "requests_enqueue" {
  topic  = google_pubsub_topic.requests.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.enqueue.member
}
