# Service accounts, each with only what its job needs. Grants on a single resource live
# beside that resource (storage.tf, pubsub.tf, bigquery.tf, secrets.tf, scheduler.tf); this
# file holds the accounts and the grants that can only be made on the project.
#
#   launcher   Cloud Scheduler calls the Flex Template launch API as it.
#   worker     the Flex Template launcher VM and the Dataflow workers run as it.
#   enqueue    the Cloud Run job running `fitbeam enqueue` runs as it.
#   scheduler  Cloud Scheduler starts that Cloud Run job as it.
#   monitor    the stale-user scheduled query runs as it.

resource "google_service_account" "launcher" {
  account_id   = "${var.name_prefix}-launcher"
  display_name = "fitbeam: launches the daily Dataflow batch job"
  depends_on   = [google_project_service.enabled]
}

resource "google_service_account" "worker" {
  account_id   = "${var.name_prefix}-worker"
  display_name = "fitbeam: Dataflow launcher VM and workers"
  depends_on   = [google_project_service.enabled]
}

resource "google_service_account" "enqueue" {
  account_id   = "${var.name_prefix}-enqueue"
  display_name = "fitbeam: Cloud Run job that publishes the daily request messages"
  depends_on   = [google_project_service.enabled]
}

resource "google_service_account" "scheduler" {
  account_id   = "${var.name_prefix}-scheduler"
  display_name = "fitbeam: Cloud Scheduler starts the enqueue job"
  depends_on   = [google_project_service.enabled]
}

resource "google_service_account" "monitor" {
  account_id   = "${var.name_prefix}-monitor"
  display_name = "fitbeam: stale-user scheduled query"
  depends_on   = [google_project_service.enabled]
}

# ------------------------------------------------------------------ launcher

# Creating a Dataflow job is a project permission (dataflow.jobs.create).
resource "google_project_iam_member" "launcher_dataflow_developer" {
  #checkov:skip=CKV_GCP_49:The Flex Template launch API needs dataflow.jobs.create, which exists only on the project, and roles/dataflow.developer is the narrowest predefined role that holds it. The launcher can act as no account but the worker (serviceAccountUser on that account only, below), so the jobs it launches run as the worker.
  project = var.project
  role    = "roles/dataflow.developer"
  member  = google_service_account.launcher.member
}

# The launch request names the worker account as the job's service account.
resource "google_service_account_iam_member" "launcher_acts_as_worker" {
  service_account_id = google_service_account.worker.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.launcher.member
}

# ------------------------------------------------------------------ worker

resource "google_project_iam_member" "worker_dataflow_worker" {
  project = var.project
  role    = "roles/dataflow.worker"
  member  = google_service_account.worker.member
}

# Load jobs (FILE_LOADS), and the queries that (re)create the <table>_current views, run as
# BigQuery jobs in the project; the data they touch is granted on the dataset only.
resource "google_project_iam_member" "worker_bigquery_job_user" {
  project = var.project
  role    = "roles/bigquery.jobUser"
  member  = google_service_account.worker.member
}

# ------------------------------------------------------------------ monitor

resource "google_project_iam_member" "monitor_bigquery_job_user" {
  project = var.project
  role    = "roles/bigquery.jobUser"
  member  = google_service_account.monitor.member
}

# ------------------------------------------------------------------ user token secrets
#
# The app creates one secret per user (PREFIX-user-KEY) when the user consents, so they do
# not exist when Terraform runs and cannot be granted one by one. The grants below are made
# on the project with an IAM condition on the secret's resource name, which Secret Manager
# writes with the project number: they reach those secrets and their versions, and nothing
# else in the project.
#
# What the token store does with them (transforms/token_store.py) and which role allows it:
#   read the latest version                    versions.access   secretAccessor
#   store a refreshed token as a new version   versions.add      secretVersionAdder
#   list and destroy the older versions        versions.list,    custom role below
#   (every version not destroyed is billed)    versions.destroy
#   take and drop the refresh lease, written   secrets.get,      custom role below
#   into the secret's annotations with its     secrets.update
#   etag
# No predefined role short of roles/secretmanager.admin holds secrets.update, and
# secretVersionManager would add versions.disable and versions.enable, which the workers
# never need, and still lack secrets.update; hence one small custom role. Creating secrets (at consent time) is left to
# the operator, who needs roles/secretmanager.admin for it.

resource "google_project_iam_custom_role" "token_refresher" {
  role_id     = "${replace(var.name_prefix, "-", "_")}_token_refresher"
  title       = "fitbeam token refresher"
  description = "Lists and destroys old versions of fitbeam user token secrets and writes the refresh lease into their annotations."
  permissions = [
    "secretmanager.secrets.get",
    "secretmanager.secrets.update",
    "secretmanager.versions.destroy",
    "secretmanager.versions.list",
  ]
  depends_on = [google_project_service.enabled]
}

locals {
  # Bounded by the -user- infix, and name_prefix may hold no -user- nor end with -user
  # (variables.tf): so no other deployment's secrets (OTHER-user-KEY, OTHER-oauth-client)
  # start with it, whatever the two prefixes.
  token_secret_name_prefix = "projects/${data.google_project.this.number}/secrets/${var.name_prefix}-user-"

  # Whoever refreshes users' tokens: the pipeline's workers, and the enqueue, which reads
  # each user's time zone with the user's token.
  token_holders = {
    worker  = google_service_account.worker.member
    enqueue = google_service_account.enqueue.member
  }
  token_roles = {
    access  = "roles/secretmanager.secretAccessor"
    add     = "roles/secretmanager.secretVersionAdder"
    refresh = google_project_iam_custom_role.token_refresher.name
  }
  token_grants = {
    for pair in setproduct(keys(local.token_holders), keys(local.token_roles)) :
    "${pair[0]}-${pair[1]}" => {
      member = local.token_holders[pair[0]]
      role   = local.token_roles[pair[1]]
    }
  }
}

resource "google_project_iam_member" "token_secrets" {
  for_each = local.token_grants

  project = var.project
  role    = each.value.role
  member  = each.value.member

  condition {
    title       = "fitbeam user token secrets"
    description = "Only the secrets ${var.name_prefix}-user-* and their versions."
    expression  = "resource.name.startsWith(\"${local.token_secret_name_prefix}\")"
  }
}
