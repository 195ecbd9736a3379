# Inputs of a fitbeam deployment. terraform.tfvars.example shows a complete set.

variable "project" {
  description = "Google Cloud project ID that holds the whole deployment, e.g. my-study-project."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project))
    error_message = "project must be a project ID: 6-30 lowercase letters, digits and hyphens, starting with a letter, e.g. my-study-project."
  }
}

variable "region" {
  description = "Region of the Dataflow jobs, buckets, Cloud Run job and Cloud Scheduler jobs, e.g. europe-west1."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1 or us-central1."
  }
}

variable "name_prefix" {
  description = "Starts the name of every resource, and is the Secret Manager prefix of the token store (secretmanager://PROJECT/PREFIX): secrets PREFIX-oauth-client and PREFIX-user-KEY."
  type        = string
  default     = "fitbeam"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-20 lowercase letters, digits and hyphens, starting with a letter, e.g. fitbeam."
  }

  # The token grants (iam.tf) cover the secrets whose names start with PREFIX-user-. A
  # deployment in the same project named PREFIX-user or PREFIX-user-... would have all its
  # secrets (users' tokens, the OAuth client) start with that too.
  validation {
    condition     = !can(regex("-user(-|$)", var.name_prefix))
    error_message = "name_prefix must not hold -user- nor end with -user: the token grants of a deployment named fitbeam cover every secret starting fitbeam-user-, so those of one named fitbeam-user-x would fall inside them."
  }
}

variable "bigquery_location" {
  description = "Location of the BigQuery dataset and of the stale-user scheduled query, e.g. EU, US or europe-west1. It cannot change once the dataset exists."
  type        = string
  default     = "EU"
}

variable "dataset_id" {
  description = "BigQuery dataset that receives the tables, e.g. fitbit."
  type        = string
  default     = "fitbit"

  validation {
    condition     = can(regex("^[A-Za-z0-9_]{1,1024}$", var.dataset_id))
    error_message = "dataset_id must be 1-1024 letters, digits and underscores, e.g. fitbit."
  }
}

variable "bigquery_tables" {
  description = "One entry per table, written by generate.py from schemas/*.avsc into tables.auto.tfvars.json: description, schema (BigQuery JSON fields), time_partitioning and clustering. Do not edit by hand."
  # Each table's schema is a list of differently shaped field objects (RECORD fields nest),
  # which no single Terraform object type describes; the checks below hold the shape.
  type = any

  validation {
    condition = alltrue([
      for table in values(var.bigquery_tables) :
      can(tostring(table.description)) && length(table.schema) > 0 &&
      can(tostring(table.time_partitioning.field)) && length(table.clustering) > 0
    ])
    error_message = "Every table needs description, schema, time_partitioning.field and clustering: regenerate tables.auto.tfvars.json with generate.py."
  }
}

variable "users_file" {
  description = "Object name, in the config bucket this configuration creates, of the users (participants) file: one user key per line, '#' starts a comment. Both the batch launch and the daily enqueue read it as --users=@gs://CONFIG_BUCKET/USERS_FILE."
  type        = string
  default     = "users.txt"
}

variable "image" {
  description = "The fitbeam container image (Flex Template launcher and workers, and the enqueue Cloud Run job), in this deployment's Artifact Registry repository, e.g. europe-west1-docker.pkg.dev/my-study-project/fitbeam/fitbeam:2026-11-28."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]+-docker\\.pkg\\.dev/[^\\s]+/[^\\s]+[:@][^\\s]+$", var.image))
    error_message = "image must be an Artifact Registry image with a tag or digest, e.g. europe-west1-docker.pkg.dev/my-study-project/fitbeam/fitbeam:2026-11-28."
  }
}

variable "flex_template_spec_object" {
  description = "Object name, in the staging bucket, of the Flex Template spec that `gcloud dataflow flex-template build` writes."
  type        = string
  default     = "templates/fitbeam.json"
}

variable "notification_email" {
  description = "Email address that receives the alerts, e.g. data-team@example.org."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.notification_email))
    error_message = "notification_email must be an email address, e.g. data-team@example.org."
  }
}

variable "schedule_time_zone" {
  description = "Time zone of both Cloud Scheduler jobs, e.g. America/New_York. Pick where the users live: 'yesterday' is judged in each user's zone when the enqueue runs, and should run mid-morning there, after devices have synced."
  type        = string
}

variable "enqueue_schedule" {
  description = "Cron schedule of the daily request feed (Cloud Run job running `fitbeam enqueue --date yesterday`), in schedule_time_zone."
  type        = string
  default     = "0 9 * * *"
}

variable "batch_schedule" {
  description = "Cron schedule of the daily batch launch through the Flex Template launch API, in schedule_time_zone."
  type        = string
  default     = "30 9 * * *"
}

variable "batch_paused" {
  description = "Create the batch launch job paused. The streaming job fed by the enqueue is the documented daily path; set false to load the last days by batch instead (batch_parameters)."
  type        = bool
  default     = true
}

variable "batch_parameters" {
  description = "Template parameters of the batch launch besides those this configuration sets (token_store, dataset, dead_letter_root, sdk_container_image; users = the users file unless a requests_file, dead_letters, from_archive or import is given; raw_archive = the raw archive unless from_archive or an import is given). Dates may be relative to the launch day in UTC: today, yesterday, today-N."
  type        = map(string)
  default     = { start_date = "today-3", end_date = "yesterday" }
}

variable "dataflow_max_workers" {
  description = "Most workers a batch job launched by the scheduler may use."
  type        = number
  default     = 4

  validation {
    condition     = var.dataflow_max_workers >= 1 && var.dataflow_max_workers <= 1000
    error_message = "dataflow_max_workers must be 1..1000."
  }
}

variable "dataflow_machine_type" {
  description = "Worker machine type of the batch jobs the scheduler launches."
  type        = string
  default     = "n2-standard-2"
}

variable "dataflow_subnetwork" {
  description = "Subnetwork for the Dataflow workers as a full or regional URL, e.g. regions/europe-west1/subnetworks/dataflow. When set, workers get private IPs only: the subnetwork needs Private Google Access, which reaches every API fitbeam calls (health.googleapis.com, oauth2.googleapis.com, BigQuery, Storage, Secret Manager). Empty: the default network, with public IPs."
  type        = string
  default     = ""
}

variable "request_ack_deadline_seconds" {
  description = "Ack deadline of the request subscription. Dataflow extends it while it holds a message; 60 s lets another reader take a message over soon after a worker is lost."
  type        = number
  default     = 60

  validation {
    condition     = var.request_ack_deadline_seconds >= 10 && var.request_ack_deadline_seconds <= 600
    error_message = "request_ack_deadline_seconds must be 10..600."
  }
}

variable "request_retention" {
  description = "How long the request subscription keeps unacknowledged messages, e.g. 604800s (7 days, the most Pub/Sub allows): how long the streaming job may be down before requests are lost."
  type        = string
  default     = "604800s"
}

variable "request_max_delivery_attempts" {
  description = "Deliveries of one request message before Pub/Sub moves it to the requests dead-letter topic (5..100)."
  type        = number
  default     = 10

  validation {
    condition     = var.request_max_delivery_attempts >= 5 && var.request_max_delivery_attempts <= 100
    error_message = "request_max_delivery_attempts must be 5..100, Pub/Sub's limits."
  }
}

variable "temp_retention_days" {
  description = "Days after which objects in the temp bucket (BigQuery load files, Dataflow temp files) are deleted."
  type        = number
  default     = 7
}

variable "dead_letter_cold_after_days" {
  description = "Days after which dead-letter files move to dead_letter_cold_storage_class."
  type        = number
  default     = 30
}

variable "dead_letter_cold_storage_class" {
  description = "Storage class dead letters move to: NEARLINE (30-day minimum) or COLDLINE (90-day minimum; keep dead_letter_retention_days at least 90 days past the move)."
  type        = string
  default     = "NEARLINE"

  validation {
    condition     = contains(["NEARLINE", "COLDLINE", "ARCHIVE"], var.dead_letter_cold_storage_class)
    error_message = "dead_letter_cold_storage_class must be NEARLINE, COLDLINE or ARCHIVE."
  }
}

variable "dead_letter_retention_days" {
  description = "Days after which dead-letter files are deleted: how long a failed call or row can still be replayed with `fitbeam replay`."
  type        = number
  default     = 365

  validation {
    condition     = var.dead_letter_retention_days >= 31
    error_message = "dead_letter_retention_days must be at least 31 (and more than dead_letter_cold_after_days, which the dead-letter bucket checks)."
  }
}

variable "raw_archive_retention_days" {
  description = "Days after which raw-archive objects (every API answer a run used, gzipped JSON) are deleted; 0, the default, keeps them. The archive is what `fitbeam rebuild` re-derives rows from without the API, which answers only while a participant's consent lasts: deleted sooner than the rows it made (the tables never expire), those rows can no longer be rebuilt. Set it to the retention period of the study's data management plan, e.g. 1825. `fitbeam forget` deletes a withdrawn participant's objects whatever this is."
  type        = number
  default     = 0

  validation {
    condition     = var.raw_archive_retention_days == 0 || var.raw_archive_retention_days >= 31
    error_message = "raw_archive_retention_days must be 0 (keep) or at least 31 (and more than raw_archive_cold_after_days, which the raw-archive bucket checks)."
  }
}

variable "raw_archive_cold_after_days" {
  description = "Days after which raw-archive objects move to raw_archive_cold_storage_class; 0, the default, leaves them in STANDARD. Each move is billed per object (a Class A operation of the new class: about US$0.10 per 10,000 objects to NEARLINE, 0.20 to COLDLINE at list price) and the archive is many small objects (one per page of an answer, a few KB to a few hundred KB gzipped; tens per user and day), so at list prices a move costs more than it saves for years. Set it (e.g. 90) when the objects are large, e.g. the archive of long batch ranges."
  type        = number
  default     = 0

  validation {
    condition     = var.raw_archive_cold_after_days >= 0
    error_message = "raw_archive_cold_after_days must be 0 (stay in STANDARD) or more."
  }
}

variable "raw_archive_cold_storage_class" {
  description = "Storage class raw-archive objects move to after raw_archive_cold_after_days: NEARLINE (30-day minimum), COLDLINE (90-day minimum) or ARCHIVE (365-day minimum). Each of them bills reading an object back, which `fitbeam rebuild` does."
  type        = string
  default     = "NEARLINE"

  validation {
    condition     = contains(["NEARLINE", "COLDLINE", "ARCHIVE"], var.raw_archive_cold_storage_class)
    error_message = "raw_archive_cold_storage_class must be NEARLINE, COLDLINE or ARCHIVE."
  }
}

variable "stale_user_days" {
  description = "Alert when a user had no rows in any table for this many days (UTC dates). Daily loads cover each user's yesterday, so keep it at 2 or more."
  type        = number
  default     = 3

  validation {
    condition     = var.stale_user_days >= 2 && var.stale_user_days < 30
    error_message = "stale_user_days must be 2..29."
  }
}

variable "stale_user_lookback_days" {
  description = "Users loaded at least once in this many days are expected to keep having rows; one dropped from the users file stops being reported after this long."
  type        = number
  default     = 30

  validation {
    condition     = var.stale_user_lookback_days >= 7 && var.stale_user_lookback_days <= 366
    error_message = "stale_user_lookback_days must be 7..366, and more than stale_user_days."
  }
}

variable "request_backlog_alert_seconds" {
  description = "Alert when the oldest unacknowledged request message is older than this: the streaming job is down or stuck."
  type        = number
  default     = 3600
}

variable "enable_health_api" {
  description = "Enable health.googleapis.com in this project. The Google Health API must be enabled in the project that owns the OAuth client; set false when that client lives in another project."
  type        = bool
  default     = true
}

# ------------------------------------------------------------------ the notifications relay (relay.tf)

variable "enable_relay" {
  description = "Deploy the notifications relay, the Cloud Run service Google Health API webhooks are sent to. Its secret needs a version and the user map must be uploaded first (relay.tf says how)."
  type        = bool
  default     = false
}

variable "relay_public_key" {
  description = "The text of the key webhook notifications are signed with: Google's public Tink JSON keyset, a JWK or JWK set, or a PEM key. It is public, so it is passed as an environment variable. Required with enable_relay."
  type        = string
  default     = ""
}

variable "relay_user_map_object" {
  description = "Object name, in the config bucket, of the relay's user map (healthUserId -> user key), as `fitbeam relay user-map` writes it. The relay may read this object and no other."
  type        = string
  default     = "relay/user-map.json"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._/-]{0,200}$", var.relay_user_map_object))
    error_message = "relay_user_map_object must be an object name such as relay/user-map.json."
  }
}

variable "relay_max_instances" {
  description = "Most relay instances Cloud Run runs at once (the least is 0). With relay_concurrency requests each, it caps what a flood can cost; past it Cloud Run answers 429 and Google retries."
  type        = number
  default     = 3

  validation {
    condition     = var.relay_max_instances >= 1 && var.relay_max_instances <= 100
    error_message = "relay_max_instances must be 1..100."
  }
}

variable "relay_concurrency" {
  description = "Requests one relay instance serves at once (Cloud Run's max_instance_request_concurrency). The relay answers this many in parallel (relay/server.py THREADS is 40)."
  type        = number
  default     = 40

  validation {
    condition     = var.relay_concurrency >= 1 && var.relay_concurrency <= 80
    error_message = "relay_concurrency must be 1..80."
  }
}

variable "relay_timeout_seconds" {
  description = "Cloud Run's request timeout for the relay. The relay's own limits are shorter (request head 10 s, body 30 s, publishing 10 s), so this only cuts off what they cannot."
  type        = number
  default     = 60

  validation {
    condition     = var.relay_timeout_seconds >= 10 && var.relay_timeout_seconds <= 300
    error_message = "relay_timeout_seconds must be 10..300."
  }
}

variable "relay_ingress" {
  description = "Who may reach the relay: INGRESS_TRAFFIC_ALL (Google's webhook sender comes from the internet), or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER behind an external load balancer of your own (e.g. with Cloud Armor)."
  type        = string
  default     = "INGRESS_TRAFFIC_ALL"

  validation {
    condition     = contains(["INGRESS_TRAFFIC_ALL", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"], var.relay_ingress)
    error_message = "relay_ingress must be INGRESS_TRAFFIC_ALL or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  }
}
