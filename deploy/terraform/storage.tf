# Buckets: staging (Flex Template spec, staged job files), temp (Dataflow and BigQuery load
# files), dead letters (replayable JSONL), config (the users file) and raw archive (every API
# answer, for rebuilds). All in the Dataflow region, uniform bucket-level access, public
# access prevention enforced, granted per bucket.

locals {
  bucket_prefix = "${var.project}-${var.name_prefix}"
}

# ------------------------------------------------------------------ staging

resource "google_storage_bucket" "staging" {
  #checkov:skip=CKV_GCP_62:Access is recorded by Cloud Audit Logs (admin activity always; data access where the organization enables it). Usage logs would need one more bucket, which would need its own log bucket in turn.
  name                        = "${local.bucket_prefix}-staging"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  # Older Flex Template specs stay readable for a month after a rebuild, to roll back to.
  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }

  # Beam warns about soft delete on staging and temp buckets: every staged file would be
  # billed again for the retention period after it is replaced or deleted.
  soft_delete_policy {
    retention_duration_seconds = 0
  }

  depends_on = [google_project_service.enabled]
}

# The Flex Template launcher VM (which runs as the worker account) stages the job's files:
# it reads the bucket's metadata, checks whether each file is there, and uploads it under a
# new name per job. Creating objects does not allow replacing or deleting them.
resource "google_storage_bucket_iam_member" "staging_worker" {
  for_each = toset([
    "roles/storage.legacyBucketReader", # storage.buckets.get, which Beam's stager calls
    "roles/storage.objectViewer",
    "roles/storage.objectCreator",
  ])

  bucket = google_storage_bucket.staging.name
  role   = each.value
  member = google_service_account.worker.member
}

# The launch API reads the template spec (containerSpecGcsPath) as the caller.
resource "google_storage_bucket_iam_member" "staging_launcher" {
  bucket = google_storage_bucket.staging.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.launcher.member
}

# ------------------------------------------------------------------ temp

resource "google_storage_bucket" "temp" {
  #checkov:skip=CKV_GCP_62:Access is recorded by Cloud Audit Logs; usage logs of short-lived temporary files are not worth a log bucket.
  #checkov:skip=CKV_GCP_78:Temporary files are written once, read by the job that wrote them and deleted after temp_retention_days; older versions would only be billed, never read.
  name                        = "${local.bucket_prefix}-temp"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  lifecycle_rule {
    condition {
      age = var.temp_retention_days
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  soft_delete_policy {
    retention_duration_seconds = 0
  }

  depends_on = [google_project_service.enabled]
}

# BigQuery load jobs (run as the worker) read the load files the workers wrote here.
resource "google_storage_bucket_iam_member" "temp_worker" {
  for_each = toset([
    "roles/storage.legacyBucketReader",
    "roles/storage.objectAdmin",
  ])

  bucket = google_storage_bucket.temp.name
  role   = each.value
  member = google_service_account.worker.member
}

# ------------------------------------------------------------------ dead letters

resource "google_storage_bucket" "dead_letters" {
  #checkov:skip=CKV_GCP_62:Access is recorded by Cloud Audit Logs (admin activity always; data access where the organization enables it). Usage logs would need one more bucket, which would need its own log bucket in turn.
  name                        = "${local.bucket_prefix}-deadletters"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  # A dead letter deleted or overwritten by mistake stays recoverable for a week.
  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age                   = var.dead_letter_cold_after_days
      matches_storage_class = ["STANDARD"]
    }
    action {
      type          = "SetStorageClass"
      storage_class = var.dead_letter_cold_storage_class
    }
  }

  lifecycle_rule {
    condition {
      age = var.dead_letter_retention_days
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
    }
    action {
      type = "Delete"
    }
  }

  lifecycle {
    precondition {
      condition     = var.dead_letter_retention_days > var.dead_letter_cold_after_days
      error_message = "dead_letter_retention_days must be greater than dead_letter_cold_after_days."
    }
  }

  depends_on = [google_project_service.enabled]
}

# Runs write <root>/<run_id>/*.jsonl; replays list and read older runs' letters.
resource "google_storage_bucket_iam_member" "dead_letters_worker" {
  for_each = toset([
    "roles/storage.legacyBucketReader",
    "roles/storage.objectAdmin",
  ])

  bucket = google_storage_bucket.dead_letters.name
  role   = each.value
  member = google_service_account.worker.member
}

# ------------------------------------------------------------------ config

resource "google_storage_bucket" "config" {
  #checkov:skip=CKV_GCP_62:Access is recorded by Cloud Audit Logs (admin activity always; data access where the organization enables it). Usage logs would need one more bucket, which would need its own log bucket in turn.
  name                        = "${local.bucket_prefix}-config"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  # Every earlier users file is kept for a year: who was enrolled when.
  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 365
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}

# Both the batch job and the enqueue read --users=@gs://CONFIG/USERS_FILE.
resource "google_storage_bucket_iam_member" "config_readers" {
  for_each = {
    worker  = google_service_account.worker.member
    enqueue = google_service_account.enqueue.member
  }

  bucket = google_storage_bucket.config.name
  role   = "roles/storage.objectViewer"
  member = each.value
}

# ------------------------------------------------------------------ raw archive

# Every API answer a run uses, gzipped JSON (--raw_archive, transforms/archive.py), under
# raw/user_key=KEY/data_type=TYPE/date=YYYY-MM-DD/, for `fitbeam rebuild`; and under imports/
# the Takeout exports that `fitbeam import takeout` reads. Health data, so a bucket of its own
# rather than a prefix of another: its own retention, and grants that let the workers add
# objects and read them but never replace or delete one, whereas they administer the
# dead-letter and temp buckets' objects.
resource "google_storage_bucket" "raw_archive" {
  #checkov:skip=CKV_GCP_62:Access is recorded by Cloud Audit Logs (admin activity always; data access where the organization enables it). Usage logs would need one more bucket, which would need its own log bucket in turn.
  name                        = "${local.bucket_prefix}-archive"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  # Objects are written once under names of their own and never rewritten: versioning only
  # keeps what an operator (or the retention rule) deleted recoverable for a week.
  versioning {
    enabled = true
  }

  # Off by default (raw_archive_cold_after_days = 0): each move is billed per object, and
  # the archive is many small objects, see the variable.
  dynamic "lifecycle_rule" {
    for_each = var.raw_archive_cold_after_days > 0 ? [var.raw_archive_cold_after_days] : []
    content {
      condition {
        age                   = lifecycle_rule.value
        matches_storage_class = ["STANDARD"]
      }
      action {
        type          = "SetStorageClass"
        storage_class = var.raw_archive_cold_storage_class
      }
    }
  }

  # Off by default (raw_archive_retention_days = 0): kept as long as the tables, see the
  # variable. With versioning, a deleted object becomes noncurrent and goes by the next rule.
  dynamic "lifecycle_rule" {
    for_each = var.raw_archive_retention_days > 0 ? [var.raw_archive_retention_days] : []
    content {
      condition {
        age = lifecycle_rule.value
      }
      action {
        type = "Delete"
      }
    }
  }

  # What `fitbeam forget`, an operator or the retention rule deleted is gone a week later
  # (then soft delete keeps it one more week, below).
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
    }
    action {
      type = "Delete"
    }
  }

  # Stated rather than left to the organization's default: a participant's objects are
  # recoverable, and billed, for at most 7 + 7 days after `fitbeam forget` deleted them.
  soft_delete_policy {
    retention_duration_seconds = 604800
  }

  lifecycle {
    precondition {
      condition     = var.raw_archive_retention_days == 0 || var.raw_archive_cold_after_days == 0 || var.raw_archive_retention_days > var.raw_archive_cold_after_days
      error_message = "raw_archive_retention_days must be 0 (keep) or greater than raw_archive_cold_after_days."
    }
  }

  depends_on = [google_project_service.enabled]
}

# Runs write new objects (objectCreator: create, not overwrite or delete); rebuilds and
# imports list and read them (objectViewer). Deleting a participant's objects
# (`fitbeam forget --archive_root`) is the operator's, with roles/storage.objectUser or
# objectAdmin on this bucket, which no account here holds.
resource "google_storage_bucket_iam_member" "raw_archive_worker" {
  for_each = toset([
    "roles/storage.objectCreator",
    "roles/storage.objectViewer",
  ])

  bucket = google_storage_bucket.raw_archive.name
  role   = each.value
  member = google_service_account.worker.member
}
