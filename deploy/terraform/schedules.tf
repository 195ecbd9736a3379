# The daily triggers.
#
# (a) The request feed, as the repository README documents it ("The daily feed"): Cloud
#     Scheduler starts a Cloud Run job that runs `fitbeam enqueue --date yesterday`, which
#     publishes one request message per user, for each user's own yesterday, to the request
#     topic that the streaming job reads.
# (b) A batch launch through the Dataflow Flex Template launch API, over the last days
#     (by default start_date = today-3, end_date = yesterday, in UTC: the days users in
#     every time zone have finished, plus late syncs; re-loads show once through the
#     <table>_current views). Created paused, since (a) with the streaming job is the
#     documented daily path; set batch_paused = false to load by batch instead. It keeps
#     every API answer in the raw archive (raw_archive = gs://ARCHIVE_BUCKET/raw).

locals {
  token_store = "secretmanager://${var.project}/${var.name_prefix}"
  users_arg   = "@gs://${google_storage_bucket.config.name}/${var.users_file}"
  dataset_arg = "${var.project}:${var.dataset_id}"

  dead_letter_root = "gs://${google_storage_bucket.dead_letters.name}/dead-letters"
  raw_archive_root = "gs://${google_storage_bucket.raw_archive.name}/raw"
  temp_location    = "gs://${google_storage_bucket.temp.name}/tmp"
  staging_location = "gs://${google_storage_bucket.staging.name}/staging"
  template_spec    = "gs://${google_storage_bucket.staging.name}/${var.flex_template_spec_object}"

  cloud_platform_scope = "https://www.googleapis.com/auth/cloud-platform"
}

# ------------------------------------------------------------------ (a) the request feed

resource "google_cloud_run_v2_job" "enqueue" {
  name                = "${var.name_prefix}-enqueue"
  location            = var.region
  deletion_protection = false

  template {
    task_count = 1

    template {
      service_account = google_service_account.enqueue.email
      # Exit code 1 means some users' messages went out and others did not: a retry would
      # publish theirs again. The failure is logged, and the trigger alert reports it.
      max_retries = 0
      timeout     = "1800s"

      containers {
        image   = var.image
        command = ["fitbeam"]
        args = [
          "enqueue",
          "--users=${local.users_arg}",
          "--date=yesterday",
          "--topic=${google_pubsub_topic.requests.id}",
          "--token_store=${local.token_store}",
        ]

        resources {
          limits = {
            cpu    = "1"
            memory = "512Mi"
          }
        }
      }
    }
  }

  depends_on = [
    google_pubsub_topic_iam_member.requests_enqueue,
    google_storage_bucket_iam_member.config_readers,
    google_secret_manager_secret_iam_member.oauth_client_readers,
    google_project_iam_member.token_secrets,
  ]
}

resource "google_cloud_run_v2_job_iam_member" "scheduler_runs_enqueue" {
  name     = google_cloud_run_v2_job.enqueue.name
  location = google_cloud_run_v2_job.enqueue.location
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler.member
}

resource "google_cloud_scheduler_job" "enqueue_daily" {
  name        = "${var.name_prefix}-enqueue-daily"
  description = "Starts the ${google_cloud_run_v2_job.enqueue.name} Cloud Run job: one request message per user for the user's yesterday."
  region      = var.region
  schedule    = var.enqueue_schedule
  time_zone   = var.schedule_time_zone

  # Only a failed call to start the job is retried; a second execution would only publish
  # the same requests again, which the <table>_current views absorb.
  retry_config {
    retry_count          = 2
    min_backoff_duration = "60s"
  }

  http_target {
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/projects/${var.project}/locations/${var.region}/jobs/${google_cloud_run_v2_job.enqueue.name}:run"

    oauth_token {
      service_account_email = google_service_account.scheduler.email
      scope                 = local.cloud_platform_scope
    }
  }

  depends_on = [google_cloud_run_v2_job_iam_member.scheduler_runs_enqueue]
}

# ------------------------------------------------------------------ (b) the batch launch

locals {
  # A requests file, dead letters, a rebuild or an import replace the users file as the
  # batch's request source (pipeline/options.py REQUEST_SOURCES, less the streaming one).
  batch_has_request_source = length(setintersection(keys(var.batch_parameters), ["requests_file", "dead_letters", "from_archive", "import_takeout", "import_legacy"])) > 0
  batch_has_dates          = length(setintersection(keys(var.batch_parameters), ["start_date", "end_date"])) == 2
  # A rebuild or an import calls no API, and the pipeline refuses raw_archive with them;
  # every other batch keeps the answers it gets in the raw archive.
  batch_calls_api = length(setintersection(keys(var.batch_parameters), ["from_archive", "import_takeout", "import_legacy"])) == 0

  batch_launch_body = {
    launchParameter = {
      # Dataflow refuses a second active job of the same name, so an overlapping launch
      # fails instead of loading the same days twice at once.
      jobName              = "${var.name_prefix}-batch"
      containerSpecGcsPath = local.template_spec
      parameters = merge(
        {
          token_store         = local.token_store
          dataset             = local.dataset_arg
          dead_letter_root    = local.dead_letter_root
          sdk_container_image = var.image
        },
        local.batch_has_request_source ? {} : { users = local.users_arg },
        local.batch_calls_api ? { raw_archive = local.raw_archive_root } : {},
        var.batch_parameters,
      )
      environment = merge(
        {
          serviceAccountEmail = google_service_account.worker.email
          tempLocation        = local.temp_location
          stagingLocation     = local.staging_location
          maxWorkers          = var.dataflow_max_workers
          machineType         = var.dataflow_machine_type
          additionalUserLabels = {
            app        = "fitbeam"
            deployment = var.name_prefix
          }
        },
        var.dataflow_subnetwork == "" ? {} : {
          subnetwork      = var.dataflow_subnetwork
          ipConfiguration = "WORKER_IP_PRIVATE"
        },
      )
    }
  }
}

resource "google_cloud_scheduler_job" "batch_daily" {
  name        = "${var.name_prefix}-batch-daily"
  description = "Launches the fitbeam Flex Template as a batch job (${var.name_prefix}-batch)."
  region      = var.region
  schedule    = var.batch_schedule
  time_zone   = var.schedule_time_zone
  paused      = var.batch_paused

  retry_config {
    retry_count          = 2
    min_backoff_duration = "60s"
  }

  http_target {
    http_method = "POST"
    uri         = "https://dataflow.googleapis.com/v1b3/projects/${var.project}/locations/${var.region}/flexTemplates:launch"
    body        = base64encode(jsonencode(local.batch_launch_body))
    headers = {
      "Content-Type" = "application/json"
    }

    oauth_token {
      service_account_email = google_service_account.launcher.email
      scope                 = local.cloud_platform_scope
    }
  }

  lifecycle {
    precondition {
      condition     = var.batch_paused || local.batch_has_request_source || local.batch_has_dates
      error_message = "An unpaused batch launch needs batch_parameters with start_date and end_date, or a requests_file, dead_letters, from_archive, import_takeout or import_legacy."
    }
  }

  depends_on = [
    google_project_iam_member.launcher_dataflow_developer,
    google_service_account_iam_member.launcher_acts_as_worker,
    google_storage_bucket_iam_member.staging_launcher,
    google_storage_bucket_iam_member.raw_archive_worker,
  ]
}
