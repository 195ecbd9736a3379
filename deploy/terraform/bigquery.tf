# The dataset and one table per Avro schema. The tables come from tables.auto.tfvars.json,
# which generate.py writes from schemas/*.avsc: the same schema, description, partitioning
# (by day on civil_date) and clustering (user_key) that the pipeline's preflight gives a table
# it creates. The <table>_current views are left to the preflight (pipeline/preflight.py),
# which recreates them whenever their SQL changes.

resource "google_bigquery_dataset" "fitbit" {
  #checkov:skip=CKV_GCP_81:Google-managed encryption at rest. A customer-managed key would need a KMS key ring, grants for the BigQuery service agent, and the same key on every table, load job and the Dataflow temp bucket.
  dataset_id                 = var.dataset_id
  location                   = var.bigquery_location
  friendly_name              = "fitbeam"
  description                = "Fitbit data (Google Health API v4) loaded by fitbeam: one table per data type, append-only; query the <table>_current views."
  delete_contents_on_destroy = false
  depends_on                 = [google_project_service.enabled]
}

resource "google_bigquery_table" "tables" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption at rest, as for the dataset: a customer-managed key would have to be the same on every table, load job and temp file.
  for_each = var.bigquery_tables

  dataset_id  = google_bigquery_dataset.fitbit.dataset_id
  table_id    = each.key
  description = each.value.description
  schema      = jsonencode(each.value.schema)
  clustering  = each.value.clustering

  time_partitioning {
    type  = each.value.time_partitioning.type
    field = each.value.time_partitioning.field
  }

  # The tables hold the study's data: dropping one takes a deliberate change of this line.
  deletion_protection = true
}

# The workers write rows, and the preflight adds columns and (re)creates the views.
resource "google_bigquery_dataset_iam_member" "worker_data_editor" {
  dataset_id = google_bigquery_dataset.fitbit.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = google_service_account.worker.member
}

resource "google_bigquery_dataset_iam_member" "monitor_data_viewer" {
  dataset_id = google_bigquery_dataset.fitbit.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = google_service_account.monitor.member
}

# ------------------------------------------------------------------ users without rows
#
# A daily scheduled query over load_windows, which records every load with its row count:
# a user loaded at least once in the last stale_user_lookback_days whose loads of the last
# stale_user_days days brought no rows (or who was not loaded at all: a failed call records
# no load) makes the query fail with their keys in the message. A failed scheduled query is
# an ERROR entry in Cloud Logging, which the "users without rows" alert policy matches. It
# reads two columns of a small table: well under a megabyte a day.

locals {
  stale_users_sql = <<-SQL
    -- fitbeam: fails when a user had no rows for ${var.stale_user_days} days (see bigquery.tf).
    DECLARE stale ARRAY<STRING>;
    SET stale = (
      SELECT ARRAY_AGG(user_key ORDER BY user_key)
      FROM (
        SELECT
          user_key,
          SUM(IF(civil_date >= DATE_SUB(CURRENT_DATE(), INTERVAL ${var.stale_user_days} DAY),
                 row_count, 0)) AS recent_rows
        FROM `${var.project}.${var.dataset_id}.load_windows`
        WHERE civil_date >= DATE_SUB(CURRENT_DATE(), INTERVAL ${var.stale_user_lookback_days} DAY)
        GROUP BY user_key
      )
      WHERE recent_rows = 0
    );
    IF ARRAY_LENGTH(stale) > 0 THEN
      RAISE USING MESSAGE = FORMAT(
        'fitbeam: %d user(s) without rows for ${var.stale_user_days} days: %s',
        ARRAY_LENGTH(stale),
        ARRAY_TO_STRING(ARRAY(SELECT u FROM UNNEST(stale) AS u LIMIT 50), ', '));
    END IF;
  SQL

  transfer_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com"
}

# The Data Transfer Service runs the query with short-lived tokens of the monitor account.
resource "google_service_account_iam_member" "transfer_agent_mints_monitor_tokens" {
  service_account_id = google_service_account.monitor.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.transfer_service_agent
  depends_on         = [google_project_service.enabled]
}

resource "google_bigquery_data_transfer_config" "stale_users" {
  display_name         = "${var.name_prefix}-stale-users"
  location             = var.bigquery_location
  data_source_id       = "scheduled_query"
  schedule             = "every day 12:00" # UTC
  service_account_name = google_service_account.monitor.email

  params = {
    query = local.stale_users_sql
  }

  depends_on = [
    google_bigquery_table.tables,
    google_bigquery_dataset_iam_member.monitor_data_viewer,
    google_project_iam_member.monitor_bigquery_job_user,
    google_service_account_iam_member.transfer_agent_mints_monitor_tokens,
  ]
}
