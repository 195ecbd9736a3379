# Alerts, all to one email channel:
#
#   dead letters       a fitbeam Dataflow job's dead_letters_<stage> counters went up
#   job failed         a fitbeam Dataflow job (name starting with PREFIX-) failed
#   users without rows the daily stale-user query (bigquery.tf) failed, naming the users
#   trigger failed     a Cloud Scheduler job could not start its target
#   enqueue failed     an execution of the enqueue Cloud Run job failed
#   requests stuck     the streaming job is not taking request messages, or Pub/Sub
#                      dead-lettered some
#
# Beam counters in namespace fitbeam reach Cloud Monitoring as the Dataflow metric
# dataflow.googleapis.com/job/user_counter (GAUGE, the job's running total), labelled
# metric_name (the counter's name), job_id and ptransform, on the dataflow_job resource.

locals {
  job_name_regex = "${var.name_prefix}-.*"
  notify         = [google_monitoring_notification_channel.email.id]
}

resource "google_monitoring_notification_channel" "email" {
  display_name = "fitbeam alerts (${var.notification_email})"
  type         = "email"

  labels = {
    email_address = var.notification_email
  }

  depends_on = [google_project_service.enabled]
}

# ------------------------------------------------------------------ dead letters

locals {
  dead_letter_counter = "dataflow_googleapis_com:job_user_counter{monitored_resource=\"dataflow_job\",job_name=~\"${local.job_name_regex}\",metric_name=~\"dead_letters_.*\"}"
}

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name = "fitbeam: dead letters"
  combiner     = "OR"
  severity     = "WARNING"

  conditions {
    display_name = "dead_letters_* counters of a fitbeam job went up"

    # The counters are running totals, so "new dead letters" is an increase within the
    # window (delta), or a series that appeared within it already above zero: a batch job
    # whose first sample already counts its letters.
    condition_prometheus_query_language {
      query               = <<-PROMQL
        sum by (job_name, job_id) (
          delta(${local.dead_letter_counter}[10m])
          or
          (${local.dead_letter_counter} unless ${local.dead_letter_counter} offset 10m)
        ) > 0
      PROMQL
      duration            = "0s"
      evaluation_interval = "60s"
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      A fitbeam Dataflow job wrote dead letters: API calls, rows or request messages it could
      not load. Each is a JSON line under gs://${google_storage_bucket.dead_letters.name}/dead-letters/RUN_ID/
      with its stage, error class, HTTP status and attempt count; the job's counters
      (dead_letters_<stage>) say which stage. Fix the cause (an outage over, a user who
      consented again, a schema widened), then replay them:
      `fitbeam replay --dead_letters 'gs://${google_storage_bucket.dead_letters.name}/dead-letters/RUN_ID/*.jsonl' ...`.
    EOT
  }

  notification_channels = local.notify
}

# ------------------------------------------------------------------ failed jobs

resource "google_monitoring_alert_policy" "dataflow_job_failed" {
  display_name = "fitbeam: Dataflow job failed"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "A Dataflow job named ${var.name_prefix}-* failed"

    condition_threshold {
      filter          = "resource.type = \"dataflow_job\" AND metric.type = \"dataflow.googleapis.com/job/is_failed\" AND resource.labels.job_name = starts_with(\"${var.name_prefix}-\")"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_COUNT_TRUE"
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      A fitbeam Dataflow job failed. Its error is in the job's logs (Dataflow console, or
      `gcloud dataflow jobs describe JOB_ID --region=${var.region}`); a job that fails at launch
      usually names the bad parameter. Calls and rows of the failed job that were not loaded
      are in its dead letters or will be loaded by the next run of the same days.
    EOT
  }

  notification_channels = local.notify
}

# ------------------------------------------------------------------ users without rows

resource "google_monitoring_alert_policy" "stale_users" {
  display_name = "fitbeam: users without rows"
  combiner     = "OR"
  severity     = "WARNING"

  conditions {
    display_name = "The stale-user scheduled query failed"

    condition_matched_log {
      filter = join(" AND ", [
        "resource.type=\"bigquery_dts_config\"",
        "resource.labels.config_id=\"${basename(google_bigquery_data_transfer_config.stale_users.name)}\"",
        "severity>=ERROR",
      ])
    }
  }

  alert_strategy {
    notification_rate_limit {
      period = "3600s"
    }
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      The daily query ${google_bigquery_data_transfer_config.stale_users.display_name} found
      users with no rows in any table for ${var.stale_user_days} days (the log entry names
      them), or could not run. A user without rows has not synced a device, has revoked
      consent (the dead letters of their calls say invalid_grant), or was not enqueued. The
      query's run history is in BigQuery > Scheduled queries.
    EOT
  }

  notification_channels = local.notify
}

# ------------------------------------------------------------------ triggers

# A log-matching condition must be its policy's only condition, so the Scheduler's failed
# calls and the enqueue's failed executions are two policies.
resource "google_monitoring_alert_policy" "trigger_failed" {
  display_name = "fitbeam: daily trigger failed"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "A fitbeam Cloud Scheduler job could not start its target"

    condition_matched_log {
      filter = join(" AND ", [
        "resource.type=\"cloud_scheduler_job\"",
        "(resource.labels.job_id=\"${google_cloud_scheduler_job.enqueue_daily.name}\" OR resource.labels.job_id=\"${google_cloud_scheduler_job.batch_daily.name}\")",
        "severity>=ERROR",
      ])
    }
  }

  alert_strategy {
    notification_rate_limit {
      period = "3600s"
    }
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      Cloud Scheduler's call to start a fitbeam job failed after its retries (the log entry
      holds the HTTP status): the day's requests were not enqueued, or the batch job was not
      launched. A 403 means a service account lost a grant (see iam.tf), a 400 from the launch
      API a template parameter Dataflow refused. Run the job again from Cloud Scheduler once
      fixed.
    EOT
  }

  notification_channels = local.notify
}

resource "google_monitoring_alert_policy" "enqueue_failed" {
  display_name = "fitbeam: enqueue failed"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "An execution of ${google_cloud_run_v2_job.enqueue.name} failed"

    condition_threshold {
      filter          = "resource.type = \"cloud_run_job\" AND metric.type = \"run.googleapis.com/job/completed_execution_count\" AND metric.labels.result = \"failed\" AND resource.labels.job_name = \"${google_cloud_run_v2_job.enqueue.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      `fitbeam enqueue` exited with an error. It reports each user it could not enqueue in
      the execution's logs (no token, consent needed, an API error after retries) and still
      publishes the others, so only those users' requests are missing. Once fixed, enqueue
      them by hand: `fitbeam enqueue --users USER --date YYYY-MM-DD --topic ${google_pubsub_topic.requests.id} --token_store ${local.token_store}`.
    EOT
  }

  notification_channels = local.notify
}

# ------------------------------------------------------------------ requests stuck

resource "google_monitoring_alert_policy" "requests_stuck" {
  display_name = "fitbeam: request messages not processed"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "Oldest unacknowledged request is older than ${var.request_backlog_alert_seconds} s"

    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.requests.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.request_backlog_alert_seconds
      duration        = "600s"

      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }

      trigger {
        count = 1
      }
    }
  }

  conditions {
    display_name = "Pub/Sub dead-lettered request messages"

    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.requests_dead_letter.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      Request messages are waiting: the streaming job reading
      ${google_pubsub_subscription.requests.id} is not running or is stuck, or Pub/Sub gave up on
      messages after ${var.request_max_delivery_attempts} deliveries and moved them to
      ${google_pubsub_subscription.requests_dead_letter.id}. Start or fix the streaming job;
      pull the dead-lettered messages from that subscription to see them, and publish them
      to ${google_pubsub_topic.requests.id} again once the job is healthy.
    EOT
  }

  notification_channels = local.notify
}
