"""Offline checks of the Terraform deployment in deploy/terraform.

Terraform cannot run here (its provider registry is out of reach), so these stand in for
`terraform validate` and for a reviewer: every .tf file parses (python-hcl2); checkov finds no
failed check, and skips only the reviewed ones, each with its reason in the resource; the
tables file is generate.py's output and holds what the pipeline's preflight creates; every
reference names something declared; and the grants are the least-privilege ones deploy/
terraform/README.md describes.

checkov runs from its own venv, which `make tools` creates (its dependencies clash with the
project's pins). `make test` installs it first, so a missing checkov fails the test rather
than skipping it.

Run:

    make tools && .venv/bin/python -m pytest -q tests/unit/test_terraform.py
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2.utils import SerializationOptions

from pipeline import preflight
from schemas import bigquery

ROOT = Path(__file__).resolve().parents[2]
TF_DIR = ROOT / "deploy" / "terraform"
TF_FILES = sorted(TF_DIR.glob("*.tf"))
TABLES_FILE = TF_DIR / "tables.auto.tfvars.json"
CHECKOV = ROOT / ".local" / "tools" / "bin" / "checkov"

# Every checkov finding that is suppressed, by check and resource. Adding a skip means adding
# it here too, so that each one is reviewed.
EXPECTED_SKIPS = {
    ("CKV_GCP_49", "google_project_iam_member.launcher_dataflow_developer"),
    ("CKV_GCP_62", "google_storage_bucket.config"),
    ("CKV_GCP_62", "google_storage_bucket.dead_letters"),
    ("CKV_GCP_62", "google_storage_bucket.raw_archive"),
    ("CKV_GCP_62", "google_storage_bucket.staging"),
    ("CKV_GCP_62", "google_storage_bucket.temp"),
    ("CKV_GCP_78", "google_storage_bucket.temp"),
    ("CKV_GCP_80", "google_bigquery_table.tables"),
    ("CKV_GCP_81", "google_bigquery_dataset.fitbit"),
    ("CKV_GCP_83", "google_pubsub_topic.requests"),
    ("CKV_GCP_83", "google_pubsub_topic.requests_dead_letter"),
    ("CKV_GCP_84", "google_artifact_registry_repository.images"),
}

WORKER = "${google_service_account.worker.member}"
LAUNCHER = "${google_service_account.launcher.member}"
ENQUEUE = "${google_service_account.enqueue.member}"
SCHEDULER = "${google_service_account.scheduler.member}"
MONITOR = "${google_service_account.monitor.member}"
RELAY = "${google_service_account.relay[0].member}"
PUBSUB_AGENT = "${local.pubsub_service_agent}"

_OPTIONS = SerializationOptions(
    with_comments=False, explicit_blocks=False, strip_string_quotes=True, preserve_heredocs=False
)


def _parse(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        return hcl2.load(f, serialization_options=_OPTIONS)


@functools.cache
def _config() -> dict[str, Any]:
    """All .tf files merged: resources by (type, name), and variables, locals, data, outputs."""
    config: dict[str, Any] = {
        kind: {} for kind in ("resource", "variable", "locals", "data", "output")
    }
    for path in TF_FILES:
        parsed = _parse(path)
        for kind in ("resource", "data"):
            for block in parsed.get(kind, []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        assert (rtype, name) not in config[kind], f"{rtype}.{name} twice"
                        config[kind][(rtype, name)] = body
        for kind in ("variable", "output"):
            for block in parsed.get(kind, []):
                config[kind].update(block)
        for block in parsed.get("locals", []):
            config["locals"].update(block)
    return config


def _resources(rtype: str) -> dict[str, dict[str, Any]]:
    return {name: body for (t, name), body in _config()["resource"].items() if t == rtype}


def _default(variable: str) -> Any:
    return _config()["variable"][variable]["default"]


def _grants(rtype: str, target_key: str) -> set[tuple[str, str, str]]:
    """(target, role, member) of every grant of one IAM member type, for_each expanded."""
    out = set()
    for body in _resources(rtype).values():
        for_each = body.get("for_each")
        roles = [body["role"]]
        members = [body["member"]]
        if body["role"] == "${each.value}":
            roles = re.findall(r"roles/[\w.]+", for_each)
        if body["member"] == "${each.value}":
            members = list(for_each.values())
        out |= {(body[target_key], role, member) for role in roles for member in members}
    return out


def _block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """A nested block that appears once (python-hcl2 gives blocks as lists)."""
    (block,) = body[name]
    return block


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: p.name)
def test_every_tf_file_parses(path):
    parsed = _parse(path)
    assert set(parsed) & {"resource", "variable", "output", "terraform", "locals", "data"}


def test_the_deployment_has_the_expected_files():
    names = {p.name for p in TF_FILES}
    assert {"versions.tf", "variables.tf", "outputs.tf", "apis.tf", "iam.tf"} <= names


def test_the_google_provider_is_pinned_to_one_version():
    (terraform,) = _parse(TF_DIR / "versions.tf")["terraform"]
    (providers,) = terraform["required_providers"]
    assert providers["google"]["source"] == "hashicorp/google"
    assert re.fullmatch(r"\d+\.\d+\.\d+", providers["google"]["version"])


def test_every_reference_names_something_declared_and_every_variable_is_used():
    config = _config()
    text = json.dumps(
        [config["resource"].values(), config["locals"], config["output"], config["data"].values()],
        default=list,
    )
    variables = set(re.findall(r"\bvar\.(\w+)", text))
    assert variables == set(config["variable"]), "undeclared or unused variables"
    assert set(re.findall(r"\blocal\.(\w+)", text)) <= set(config["locals"])
    assert set(re.findall(r"\bdata\.(\w+)\.(\w+)", text)) <= set(config["data"])
    resources = set(re.findall(r"(?<![\w.])(google_\w+)\.(\w+)", text))
    assert resources <= set(config["resource"]), resources - set(config["resource"])


# --------------------------------------------------------------------------- checkov


@functools.cache
def _checkov() -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV.relative_to(ROOT)} is missing: run `make tools`")
    done = subprocess.run(  # noqa: S603 -- a fixed command on the repository's own files
        [
            str(CHECKOV),
            "--directory",
            str(TF_DIR),
            "--framework",
            "terraform",
            "--output",
            "json",
            # Offline: no guidelines or policies fetched from the vendor's platform.
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    return json.loads(done.stdout)


def test_checkov_finds_no_failed_check():
    report = _checkov()
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] >= 40


def test_checkov_skips_only_the_reviewed_checks_each_with_a_reason():
    skipped = _checkov()["results"]["skipped_checks"]
    assert {(c["check_id"], c["resource"]) for c in skipped} == EXPECTED_SKIPS
    for check in skipped:
        reason = check["check_result"]["suppress_comment"]
        assert len(reason.split()) >= 10, f"{check['check_id']} {check['resource']}: {reason!r}"


# --------------------------------------------------------------------------- tables


def _generator():
    spec = importlib.util.spec_from_file_location("terraform_generate", TF_DIR / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _committed_tables() -> dict[str, Any]:
    return json.loads(TABLES_FILE.read_text(encoding="utf-8"))["bigquery_tables"]


def test_the_committed_tables_file_is_the_generators_output():
    assert TABLES_FILE.read_text(encoding="utf-8") == _generator().render(), (
        "deploy/terraform/tables.auto.tfvars.json is stale: run "
        ".venv/bin/python deploy/terraform/generate.py"
    )


def test_every_avro_schema_has_a_table():
    avro = {p.stem for p in (ROOT / "schemas").glob("*.avsc")}
    assert set(_committed_tables()) == avro == set(bigquery.ALL_TABLES)
    table = _resources("google_bigquery_table")["tables"]
    assert table["for_each"] == "${var.bigquery_tables}"
    assert table["table_id"] == "${each.key}"


@pytest.mark.parametrize("name", bigquery.ALL_TABLES)
def test_each_table_is_what_the_pipeline_creates(name):
    wanted = preflight._table("my-project", "fitbit", name).to_api_repr()
    table = _committed_tables()[name]
    assert table["schema"] == wanted["schema"]["fields"]
    assert table["time_partitioning"] == wanted["timePartitioning"]
    assert table["clustering"] == wanted["clustering"]["fields"]
    assert table["description"] == wanted["description"]


def test_the_table_resource_uses_every_part_of_the_entry():
    table = _resources("google_bigquery_table")["tables"]
    assert table["schema"] == "${jsonencode(each.value.schema)}"
    assert table["description"] == "${each.value.description}"
    assert table["clustering"] == "${each.value.clustering}"
    assert _block(table, "time_partitioning") == {
        "type": "${each.value.time_partitioning.type}",
        "field": "${each.value.time_partitioning.field}",
    }
    assert table["deletion_protection"] is True


# --------------------------------------------------------------------------- IAM


def test_no_grant_is_authoritative():
    """_binding and _policy resources replace other members' grants: only _member is used."""
    types = {rtype for rtype, _ in _config()["resource"]}
    assert not [t for t in types if t.endswith(("_iam_binding", "_iam_policy"))]


def test_project_wide_roles_are_exactly_these():
    unconditional = {
        (body["member"], body["role"])
        for body in _resources("google_project_iam_member").values()
        if "condition" not in body
    }
    assert unconditional == {
        (LAUNCHER, "roles/dataflow.developer"),
        (WORKER, "roles/dataflow.worker"),
        (WORKER, "roles/bigquery.jobUser"),
        (MONITOR, "roles/bigquery.jobUser"),
    }


def test_token_secret_roles_are_conditioned_on_the_user_secrets():
    token = _resources("google_project_iam_member")["token_secrets"]
    condition = _block(token, "condition")
    expression = 'resource.name.startsWith("${local.token_secret_name_prefix}")'
    assert condition["expression"] == expression
    # The condition uses the project number, as Secret Manager's resource names do, and ends
    # with the infix the token store gives users' secrets.
    assert _config()["locals"]["token_secret_name_prefix"] == (
        "projects/${data.google_project.this.number}/secrets/${var.name_prefix}-user-"
    )
    assert _config()["locals"]["token_roles"] == {
        "access": "roles/secretmanager.secretAccessor",
        "add": "roles/secretmanager.secretVersionAdder",
        "refresh": "${google_project_iam_custom_role.token_refresher.name}",
    }
    assert _config()["locals"]["token_holders"] == {"worker": WORKER, "enqueue": ENQUEUE}


_CAN_REGEX = re.compile(r'(!?)can\(regex\("((?:[^"\\]|\\.)*)", var\.name_prefix\)\)')


def _name_prefix_is_valid(value: str) -> bool:
    """name_prefix's validation blocks, evaluated: each condition is `[!]can(regex(...))`
    joined by `&&`, and can(regex(p, s)) holds when p matches somewhere in s."""
    for block in _config()["variable"]["name_prefix"]["validation"]:
        condition = block["condition"].removeprefix("${").removesuffix("}")
        terms = [term.strip() for term in condition.split("&&")]
        for term in terms:
            match = _CAN_REGEX.fullmatch(term)
            assert match, f"cannot evaluate {term!r}"
            negated, pattern = match.group(1) == "!", match.group(2).replace("\\\\", "\\")
            if (re.search(pattern, value) is not None) == negated:
                return False
    return True


def test_no_deployment_s_token_grants_reach_another_deployment_s_secrets():
    # Two deployments in one project differ in name_prefix. Each grants its workers the
    # secrets whose names start with its token_secret_name_prefix; none may start a secret
    # of the other (its users' tokens PREFIX-user-KEY, its OAuth client PREFIX-oauth-client),
    # whatever the user keys: fitbeam's grants once covered fitbeam-user-x-user-KEY.
    granted = _config()["locals"]["token_secret_name_prefix"]
    assert granted.endswith("/secrets/${var.name_prefix}-user-")
    parts = ("", "2", "-x", "-u", "-us", "-use", "-user", "-users", "-oauth", "-client", "-user-x")
    candidates = {f"{a}{b}{c}" for a in ("fitbeam", "ab") for b in parts for c in parts}
    valid = sorted(p for p in candidates if _name_prefix_is_valid(p))
    assert {"fitbeam", "fitbeam2", "fitbeam-users", "fitbeam-x-oauth"} <= set(valid)
    user_keys = ("participant-017", "x", "user-x", "x-user-y", "oauth-client")
    for mine in valid:
        covered = granted.replace("${var.name_prefix}", mine)
        for theirs in valid:
            if theirs == mine:
                continue
            secrets = [f"{theirs}-user-{key}" for key in user_keys] + [f"{theirs}-oauth-client"]
            for secret in secrets:
                name = f"projects/${{data.google_project.this.number}}/secrets/{secret}"
                assert not name.startswith(covered), (mine, theirs, secret)
    assert not {"fitbeam-user", "fitbeam-user-x", "ab-x-user"} & set(valid)


def test_the_custom_role_holds_only_what_the_token_store_does():
    role = _resources("google_project_iam_custom_role")["token_refresher"]
    assert sorted(role["permissions"]) == [
        "secretmanager.secrets.get",  # read the lease and the etag
        "secretmanager.secrets.update",  # write the lease into the annotations
        "secretmanager.versions.destroy",  # destroy the older tokens (billed until destroyed)
        "secretmanager.versions.list",  # find them
    ]


def test_worker_has_no_project_wide_bigquery_or_secret_manager_admin():
    for body in _resources("google_project_iam_member").values():
        if body["member"] != WORKER:
            continue
        assert not body["role"].startswith(("roles/secretmanager.", "roles/owner", "roles/editor"))
        assert body["role"] in ("roles/dataflow.worker", "roles/bigquery.jobUser")
    assert _grants("google_bigquery_dataset_iam_member", "dataset_id") == {
        ("${google_bigquery_dataset.fitbit.dataset_id}", "roles/bigquery.dataEditor", WORKER),
        ("${google_bigquery_dataset.fitbit.dataset_id}", "roles/bigquery.dataViewer", MONITOR),
    }


def test_service_account_grants():
    assert _grants("google_service_account_iam_member", "service_account_id") == {
        # The launcher may run jobs as the worker, and as nothing else.
        ("${google_service_account.worker.name}", "roles/iam.serviceAccountUser", LAUNCHER),
        (
            "${google_service_account.monitor.name}",
            "roles/iam.serviceAccountTokenCreator",
            "${local.transfer_service_agent}",
        ),
    }


def test_bucket_grants():
    staging = "${google_storage_bucket.staging.name}"
    temp = "${google_storage_bucket.temp.name}"
    dead = "${google_storage_bucket.dead_letters.name}"
    config = "${google_storage_bucket.config.name}"
    raw = "${google_storage_bucket.raw_archive.name}"
    assert _grants("google_storage_bucket_iam_member", "bucket") == {
        (staging, "roles/storage.legacyBucketReader", WORKER),
        (staging, "roles/storage.objectViewer", WORKER),
        (staging, "roles/storage.objectCreator", WORKER),
        (staging, "roles/storage.objectViewer", LAUNCHER),
        (temp, "roles/storage.legacyBucketReader", WORKER),
        (temp, "roles/storage.objectAdmin", WORKER),
        (dead, "roles/storage.legacyBucketReader", WORKER),
        (dead, "roles/storage.objectAdmin", WORKER),
        (config, "roles/storage.objectViewer", WORKER),
        (config, "roles/storage.objectViewer", ENQUEUE),
        (config, "roles/storage.objectViewer", RELAY),  # the user map only (test_relay_...)
        (raw, "roles/storage.objectCreator", WORKER),  # test_the_workers_add_to_the_raw_...
        (raw, "roles/storage.objectViewer", WORKER),
    }


def test_pubsub_grants():
    subscription = "${google_pubsub_subscription.requests.id}"
    assert _grants("google_pubsub_subscription_iam_member", "subscription") == {
        (subscription, "roles/pubsub.subscriber", WORKER),
        (subscription, "roles/pubsub.viewer", WORKER),
        (subscription, "roles/pubsub.subscriber", PUBSUB_AGENT),
    }
    assert _grants("google_pubsub_topic_iam_member", "topic") == {
        ("${google_pubsub_topic.requests.id}", "roles/pubsub.publisher", ENQUEUE),
        ("${google_pubsub_topic.requests.id}", "roles/pubsub.publisher", RELAY),
        ("${google_pubsub_topic.requests_dead_letter.id}", "roles/pubsub.publisher", PUBSUB_AGENT),
    }
    assert _config()["locals"]["pubsub_service_agent"] == (
        "serviceAccount:service-${data.google_project.this.number}"
        "@gcp-sa-pubsub.iam.gserviceaccount.com"
    )


def test_scheduler_account_may_only_start_the_enqueue_job():
    assert _grants("google_cloud_run_v2_job_iam_member", "name") == {
        ("${google_cloud_run_v2_job.enqueue.name}", "roles/run.invoker", SCHEDULER),
    }
    everywhere = json.dumps(list(_config()["resource"].values()))
    assert everywhere.count("google_service_account.scheduler.member") == 1


def test_secret_grants_and_no_secret_value_in_terraform():
    assert _grants("google_secret_manager_secret_iam_member", "secret_id") == {
        ("${google_secret_manager_secret.oauth_client.id}", "roles/secretmanager.secretAccessor", m)
        for m in (WORKER, ENQUEUE)
    } | {
        ("${google_secret_manager_secret.relay[0].id}", "roles/secretmanager.secretAccessor", RELAY)
    }
    secret = _resources("google_secret_manager_secret")["oauth_client"]
    assert secret["secret_id"] == "${var.name_prefix}-oauth-client"
    assert not _resources("google_secret_manager_secret_version")


# --------------------------------------------------------------------------- buckets


def test_every_bucket_is_uniform_and_never_public():
    buckets = _resources("google_storage_bucket")
    assert set(buckets) == {"staging", "temp", "dead_letters", "config", "raw_archive"}
    for body in buckets.values():
        assert body["uniform_bucket_level_access"] is True
        assert body["public_access_prevention"] == "enforced"


def _rules(bucket: str) -> list[tuple[dict, dict]]:
    body = _resources("google_storage_bucket")[bucket]
    return [(_block(r, "condition"), _block(r, "action")) for r in body["lifecycle_rule"]]


def test_temp_files_are_deleted_after_a_week():
    assert ({"age": "${var.temp_retention_days}"}, {"type": "Delete"}) in _rules("temp")
    assert _default("temp_retention_days") == 7


def test_dead_letters_go_cold_then_are_deleted():
    rules = _rules("dead_letters")
    assert (
        {"age": "${var.dead_letter_cold_after_days}", "matches_storage_class": ["STANDARD"]},
        {"type": "SetStorageClass", "storage_class": "${var.dead_letter_cold_storage_class}"},
    ) in rules
    assert ({"age": "${var.dead_letter_retention_days}"}, {"type": "Delete"}) in rules
    assert _default("dead_letter_cold_after_days") == 30
    assert _default("dead_letter_cold_storage_class") in ("NEARLINE", "COLDLINE")


def _dynamic_rules(bucket: str) -> dict[str, tuple[dict, dict]]:
    """The bucket's dynamic lifecycle rules, by their for_each expression."""
    body = _resources("google_storage_bucket")[bucket]
    out = {}
    for block in body.get("dynamic", []):
        rule = block["lifecycle_rule"]
        (content,) = rule["content"]
        out[rule["for_each"]] = (_block(content, "condition"), _block(content, "action"))
    return out


def test_the_raw_archive_is_a_bucket_of_its_own_like_the_dead_letter_bucket():
    raw = _resources("google_storage_bucket")["raw_archive"]
    dead = _resources("google_storage_bucket")["dead_letters"]
    assert raw["name"] == "${local.bucket_prefix}-archive"
    for key in ("location", "uniform_bucket_level_access", "public_access_prevention"):
        assert raw[key] == dead[key], key
    assert raw["location"] == "${var.region}"
    assert raw["force_destroy"] is False
    assert _block(raw, "versioning") == {"enabled": True}
    # Stated, not the organization's default: how long a deleted object stays recoverable.
    assert _block(raw, "soft_delete_policy") == {"retention_duration_seconds": 604800}
    # Google-managed encryption, as every other bucket here (no KMS key ring).
    assert not [b for b in _resources("google_storage_bucket").values() if "encryption" in b]
    # The longest name (a 30-character project, a 20-character prefix) is a valid bucket name.
    longest = raw["name"].replace("${local.bucket_prefix}", "p" * 30 + "-" + "n" * 20)
    assert len(longest) <= 63


def test_the_raw_archive_keeps_objects_unless_told_and_drops_deleted_ones_in_a_week():
    assert _rules("raw_archive") == [({"days_since_noncurrent_time": 7}, {"type": "Delete"})]
    assert _dynamic_rules("raw_archive") == {
        "${var.raw_archive_cold_after_days > 0 ? [var.raw_archive_cold_after_days] : []}": (
            {"age": "${lifecycle_rule.value}", "matches_storage_class": ["STANDARD"]},
            {"type": "SetStorageClass", "storage_class": "${var.raw_archive_cold_storage_class}"},
        ),
        "${var.raw_archive_retention_days > 0 ? [var.raw_archive_retention_days] : []}": (
            {"age": "${lifecycle_rule.value}"},
            {"type": "Delete"},
        ),
    }
    # 0 keeps every object in STANDARD, as long as the tables (variables.tf says why).
    assert _default("raw_archive_retention_days") == 0
    assert _default("raw_archive_cold_after_days") == 0
    assert _default("raw_archive_cold_storage_class") == "NEARLINE"
    variables = _config()["variable"]
    (retention,) = variables["raw_archive_retention_days"]["validation"]
    assert retention["condition"] == (
        "${var.raw_archive_retention_days == 0 || var.raw_archive_retention_days >= 31}"
    )
    (cold_class,) = variables["raw_archive_cold_storage_class"]["validation"]
    assert cold_class["condition"] == (
        '${contains(["NEARLINE", "COLDLINE", "ARCHIVE"], var.raw_archive_cold_storage_class)}'
    )
    (precondition,) = _block(_resources("google_storage_bucket")["raw_archive"], "lifecycle")[
        "precondition"
    ]
    assert precondition["condition"] == (
        "${var.raw_archive_retention_days == 0 || var.raw_archive_cold_after_days == 0 || "
        "var.raw_archive_retention_days > var.raw_archive_cold_after_days}"
    )


def test_the_workers_add_to_the_raw_archive_and_read_it_but_never_replace_or_delete():
    raw = "${google_storage_bucket.raw_archive.name}"
    held = {
        (role, member)
        for bucket, role, member in _grants("google_storage_bucket_iam_member", "bucket")
        if bucket == raw
    }
    # Runs create objects under names of their own; rebuilds and imports list and read them.
    # Deleting (fitbeam forget) is the operator's: objectCreator cannot overwrite or delete.
    assert held == {
        ("roles/storage.objectCreator", WORKER),
        ("roles/storage.objectViewer", WORKER),
    }
    grant = _resources("google_storage_bucket_iam_member")["raw_archive_worker"]
    assert "condition" not in grant


# --------------------------------------------------------------------------- Pub/Sub


def test_request_subscription_dead_letters_to_its_own_topic():
    subscription = _resources("google_pubsub_subscription")["requests"]
    assert subscription["topic"] == "${google_pubsub_topic.requests.id}"
    assert _block(subscription, "dead_letter_policy") == {
        "dead_letter_topic": "${google_pubsub_topic.requests_dead_letter.id}",
        "max_delivery_attempts": "${var.request_max_delivery_attempts}",
    }
    assert subscription["ack_deadline_seconds"] == "${var.request_ack_deadline_seconds}"
    assert _block(subscription, "expiration_policy") == {"ttl": ""}
    # Messages published to a topic without a subscription are lost.
    dead = _resources("google_pubsub_subscription")["requests_dead_letter"]
    assert dead["topic"] == "${google_pubsub_topic.requests_dead_letter.id}"


# --------------------------------------------------------------------------- schedules


def test_batch_launch_calls_the_flex_template_api_as_the_launcher():
    job = _resources("google_cloud_scheduler_job")["batch_daily"]
    target = _block(job, "http_target")
    assert target["uri"] == (
        "https://dataflow.googleapis.com/v1b3/projects/${var.project}/locations/${var.region}"
        "/flexTemplates:launch"
    )
    assert target["http_method"] == "POST"
    assert target["body"] == "${base64encode(jsonencode(local.batch_launch_body))}"
    assert _block(target, "oauth_token")["service_account_email"] == (
        "${google_service_account.launcher.email}"
    )
    launch = _config()["locals"]["batch_launch_body"]["launchParameter"]
    assert launch["containerSpecGcsPath"] == "${local.template_spec}"
    environment = launch["environment"]
    assert "serviceAccountEmail = google_service_account.worker.email" in environment
    assert "tempLocation = local.temp_location" in environment
    assert "stagingLocation = local.staging_location" in environment


def test_the_batch_launch_keeps_its_answers_in_the_raw_archive():
    from pipeline import flex_template, options

    locals_ = _config()["locals"]
    assert locals_["raw_archive_root"] == "gs://${google_storage_bucket.raw_archive.name}/raw"
    parameters = locals_["batch_launch_body"]["launchParameter"]["parameters"]
    assert parameters == (
        "${merge({token_store = local.token_store, dataset = local.dataset_arg, "
        "dead_letter_root = local.dead_letter_root, sdk_container_image = var.image}, "
        "local.batch_has_request_source ? {} : {users = local.users_arg}, "
        "local.batch_calls_api ? {raw_archive = local.raw_archive_root} : {}, "
        "var.batch_parameters)}"
    )
    # A rebuild or an import calls no API, and the pipeline refuses --raw_archive with them.
    no_api = ["from_archive", "import_takeout", "import_legacy"]
    assert locals_["batch_calls_api"] == (
        f"${{length(setintersection(keys(var.batch_parameters), {json.dumps(no_api)})) == 0}}"
    )
    # Each source but the streaming subscription replaces the users file.
    sources = [s for s in options.REQUEST_SOURCES if s != "requests_subscription"]
    assert locals_["batch_has_request_source"] == (
        f"${{length(setintersection(keys(var.batch_parameters), {json.dumps(sources)})) > 0}}"
    )
    assert set(no_api) <= set(sources)
    # The root, with the longest bucket name, is one the template's raw_archive accepts.
    root = locals_["raw_archive_root"].replace(
        "${google_storage_bucket.raw_archive.name}", "p" * 30 + "-" + "n" * 20 + "-archive"
    )
    assert re.fullmatch(flex_template.PARAMETERS["raw_archive"].regex, root)
    assert re.fullmatch(flex_template.PARAMETERS["from_archive"].regex, f"{root}/user_key=p-1/**")
    # The first scheduled run may already write there.
    job = _resources("google_cloud_scheduler_job")["batch_daily"]
    assert "${google_storage_bucket_iam_member.raw_archive_worker}" in job["depends_on"]
    outputs = _config()["output"]
    assert outputs["raw_archive"]["value"] == "${local.raw_archive_root}"
    assert outputs["import_folder"]["value"] == (
        "gs://${google_storage_bucket.raw_archive.name}/imports"
    )


def test_the_readme_launches_only_parameters_the_template_declares():
    """Flex Template launches in README.md: every parameter is the template's or Dataflow's."""
    declared = {
        p["name"] for p in json.loads((ROOT / "flex_template.json").read_text())["parameters"]
    }
    readme = (TF_DIR / "README.md").read_text(encoding="utf-8")
    launches = [line.strip("\"'") for line in re.findall(r"--parameters[= ]+(.+)", readme)]
    assert len(launches) >= 4  # streaming, rebuild, the two imports
    used = {pair.split("=", 1)[0] for arg in launches for pair in arg.split(",")}
    used.discard("$COMMON")
    common = re.search(r'^COMMON="(.+)"$', readme, re.M).group(1)
    used |= {pair.split("=", 1)[0] for pair in common.split(",")}
    assert used - declared <= {"streaming", "sdk_container_image"}
    assert {"raw_archive", "from_archive", "import_takeout", "import_legacy"} <= used
    assert {"user_key", "legacy_users"} <= used


def test_enqueue_job_runs_the_documented_command():
    job = _resources("google_cloud_run_v2_job")["enqueue"]
    (container,) = _block(_block(job, "template"), "template")["containers"]
    assert container["command"] == ["fitbeam"]
    assert container["args"][:1] == ["enqueue"]
    assert "--date=yesterday" in container["args"]
    assert "--topic=${google_pubsub_topic.requests.id}" in container["args"]
    assert _block(_block(job, "template"), "template")["max_retries"] == 0
    trigger = _block(_resources("google_cloud_scheduler_job")["enqueue_daily"], "http_target")
    assert trigger["uri"].startswith("https://run.googleapis.com/v2/projects/")
    assert trigger["uri"].endswith("/jobs/${google_cloud_run_v2_job.enqueue.name}:run")


# --------------------------------------------------------------------------- alerts


def test_alerts_watch_dead_letters_failed_jobs_and_users_without_rows():
    policies = json.dumps(_resources("google_monitoring_alert_policy"))
    assert "dataflow.googleapis.com/job/is_failed" in policies
    assert "dataflow_googleapis_com:job_user_counter" in _config()["locals"]["dead_letter_counter"]
    assert 'metric_name=~\\"dead_letters_.*\\"' in json.dumps(_config()["locals"])
    assert "bigquery_dts_config" in policies
    for body in _resources("google_monitoring_alert_policy").values():
        assert body["notification_channels"] == "${local.notify}"


def test_the_dead_letter_alert_matches_the_counters_the_pipeline_keeps():
    sources = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "transforms").glob("*.py"))
    assert 'Metrics.counter(NAMESPACE, f"dead_letters_' in sources


def test_the_only_project_grants_made_in_a_loop_are_the_conditional_token_grants():
    looped = {
        name: body
        for name, body in _resources("google_project_iam_member").items()
        if str(body["member"]).startswith("${each.")
    }
    assert set(looped) == {"token_secrets"}
    assert looped["token_secrets"]["condition"]  # limited to the user token secrets


# --------------------------------------------------------------------------- the relay


def _relay() -> dict[str, Any]:
    return _resources("google_cloud_run_v2_service")["relay"]


def test_the_relay_is_a_cloud_run_service_with_bounded_scaling_and_time():
    service = _relay()
    template = _block(service, "template")
    assert _block(template, "scaling") == {
        "min_instance_count": 0,
        "max_instance_count": "${var.relay_max_instances}",
    }
    assert 1 <= _default("relay_max_instances") <= 10
    assert template["max_instance_request_concurrency"] == "${var.relay_concurrency}"
    assert template["timeout"] == "${var.relay_timeout_seconds}s"
    assert _default("relay_timeout_seconds") == 60
    # The relay answers as many requests at once as Cloud Run sends it.
    from relay.server import BODY_TIMEOUT_SECONDS, HEAD_TIMEOUT_SECONDS, THREADS

    assert _default("relay_concurrency") == THREADS
    assert _default("relay_timeout_seconds") > HEAD_TIMEOUT_SECONDS + BODY_TIMEOUT_SECONDS
    assert service["ingress"] == "${var.relay_ingress}"
    assert _default("relay_ingress") == "INGRESS_TRAFFIC_ALL"
    # Google's sender has no Google identity; the relay checks the secret and the signature.
    assert service["invoker_iam_disabled"] is True
    assert not _resources("google_cloud_run_v2_service_iam_member")
    assert template["service_account"] == "${google_service_account.relay[0].email}"


def test_the_relay_is_off_unless_enabled_and_needs_its_key():
    assert _default("enable_relay") is False
    relay_resources = [
        (rtype, name)
        for (rtype, name) in _config()["resource"]
        if name == "relay" or name.startswith("relay_") or name.endswith("_relay")
    ]
    assert len(relay_resources) == 6
    for rtype, name in relay_resources:
        assert _config()["resource"][(rtype, name)]["count"] == "${local.relay_count}", name
    assert _config()["locals"]["relay_count"] == "${var.enable_relay ? 1 : 0}"
    (precondition,) = _block(_relay(), "lifecycle")["precondition"]
    assert precondition["condition"] == '${var.relay_public_key != ""}'


def test_the_relay_runs_the_documented_command_with_its_settings_from_env():
    from relay import config

    (container,) = _block(_relay(), "template")["containers"]
    assert (container["image"], container["command"], container["args"]) == (
        "${var.image}",
        ["fitbeam"],
        ["relay"],
    )
    env = {e["name"]: e for e in container["env"]}
    assert set(env) == {
        config.ENV_TOPIC,
        config.ENV_USER_MAP,
        config.ENV_PUBLIC_KEY,
        config.ENV_SECRET,
    }
    assert env[config.ENV_TOPIC]["value"] == "${google_pubsub_topic.requests.id}"
    assert env[config.ENV_USER_MAP]["value"] == "${local.relay_user_map}"
    assert _config()["locals"]["relay_user_map"] == (
        "gs://${google_storage_bucket.config.name}/${var.relay_user_map_object}"
    )
    assert env[config.ENV_PUBLIC_KEY]["value"] == "${var.relay_public_key}"
    # The secret comes from Secret Manager when an instance starts; never a literal value.
    assert "value" not in env[config.ENV_SECRET]
    reference = _block(_block(env[config.ENV_SECRET], "value_source"), "secret_key_ref")
    assert reference == {
        "secret": "${google_secret_manager_secret.relay[0].secret_id}",
        "version": "latest",
    }
    assert _resources("google_secret_manager_secret")["relay"]["secret_id"] == (
        "${var.name_prefix}-relay-secret"
    )
    assert (_block(container, "ports")["container_port"], config.DEFAULT_PORT) == (8080, 8080)


def test_the_relay_account_may_publish_read_its_secret_and_the_user_map_only():
    held = [
        (rtype, body)
        for (rtype, _), body in _config()["resource"].items()
        if rtype.endswith("_iam_member") and body.get("member") == RELAY
    ]
    assert sorted((rtype, body["role"]) for rtype, body in held) == [
        ("google_pubsub_topic_iam_member", "roles/pubsub.publisher"),
        ("google_secret_manager_secret_iam_member", "roles/secretmanager.secretAccessor"),
        ("google_storage_bucket_iam_member", "roles/storage.objectViewer"),
    ]
    topic = _resources("google_pubsub_topic_iam_member")["requests_relay"]
    assert topic["topic"] == "${google_pubsub_topic.requests.id}"
    secret = _resources("google_secret_manager_secret_iam_member")["relay_secret_reader"]
    assert secret["secret_id"] == "${google_secret_manager_secret.relay[0].id}"
    reader = _resources("google_storage_bucket_iam_member")["relay_user_map_reader"]
    assert _block(reader, "condition")["expression"] == (
        'resource.name == "projects/_/buckets/${google_storage_bucket.config.name}'
        '/objects/${var.relay_user_map_object}"'
    )
    # Nothing on the project, no account to act as, and the member is used nowhere else.
    everywhere = json.dumps(list(_config()["resource"].values()))
    assert everywhere.count("google_service_account.relay[0].member") == 3


def test_checkov_finds_no_failed_check_with_the_relay_enabled(tmp_path):
    """The default scan leaves the relay out (enable_relay is false): scan it switched on."""
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV.relative_to(ROOT)} is missing: run `make tools`")
    tfvars = tmp_path / "relay.tfvars"
    tfvars.write_text('enable_relay = true\nrelay_public_key = "{}"\n', encoding="utf-8")
    done = subprocess.run(  # noqa: S603 -- a fixed command on the repository's own files
        [
            str(CHECKOV),
            *("--directory", str(TF_DIR), "--framework", "terraform", "--output", "json"),
            *("--skip-download", "--var-file", str(tfvars)),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["results"]["failed_checks"] == []
    assert report["summary"]["parsing_errors"] == 0
    passed = report["results"]["passed_checks"]
    scanned = {c["resource"] for c in passed if "relay" in c["resource"]}
    assert scanned == {
        "google_pubsub_topic_iam_member.requests_relay[0]",  # not public
        "google_storage_bucket_iam_member.relay_user_map_reader[0]",  # not public
    }
