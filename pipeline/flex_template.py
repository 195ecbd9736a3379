"""The Dataflow Flex Template's metadata, generated from the options, and its launch entry.

`flex_template.json` (the file `gcloud dataflow flex-template build --metadata-file`
takes) is generated here from `FitbeamOptions`, so that every option is a template
parameter and is optional exactly when it may be left out::

    python -m pipeline.flex_template > flex_template.json

`PARAMETERS` holds what the options class cannot say: each parameter's label, help
text, example, the anchored regex Dataflow checks the value against when the template
is launched, and values the regex must reject (the tests hold them). The regexes
accept what makes sense on Dataflow, which is narrower than what a local run takes:
files and folders are gs:// and the token store is Secret Manager, because workers
share no disk.

An option is optional when it has a default or when it is one of the request sources
that exclude each other (`--users`/`--start_date`/`--end_date`, `--requests_file`,
`--dead_letters`, `--requests_subscription`, `--from_archive`, `--import_takeout`,
`--import_legacy`); `resolve` checks the combination at launch. The token store
may be left out too: a rebuild or an import calls no API. The rebuild and the
imports are batch jobs of the same template (`fitbeam rebuild`, `fitbeam import`).
Beam's own options (`--streaming`, `--temp_location`, `--sdk_container_image`, ...)
are not declared here; Dataflow passes them through.

`launch(argv)` is what the image's Flex Template main file calls with the template's
parameters as flags (see the Dockerfile).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable

from healthapi import datatypes
from healthapi.auth.oauth import GOOGLE_TOKEN_URL
from healthapi.auth.store import CLOUD_STORE_EXAMPLE
from healthapi.client import ALL_SOURCES, SOURCE_FAMILIES
from healthapi.elements import STREAM_RAW, STREAM_RECONCILED
from pipeline.options import GOOGLE_HEALTH_API, MAX_RANGE_DAYS, FitbeamOptions
from transforms.write import FILE_LOADS, STREAMING_INSERTS

# Request sources that exclude each other: none is required on its own.
REQUEST_SOURCES = frozenset(
    {
        "users",
        "start_date",
        "end_date",
        "requests_file",
        "dead_letters",
        "requests_subscription",
        "from_archive",
        "import_takeout",
        "import_legacy",
    }
)

# Options a job of the template may leave out although they have no default: the token
# store, which a rebuild and an import (no API call) do not use; `resolve` asks for it
# when the job calls the API.
NOT_NEEDED_BY_EVERY_JOB = frozenset({"token_store"})

_BUCKET = r"gs://[a-z0-9][-_.a-z0-9]{1,220}[a-z0-9]"
_GCS_FILE = rf"^{_BUCKET}/[^\s]+$"
_GCS_FOLDER = rf"^{_BUCKET}(/[^\s]*)?$"
_DATE = (
    r"^([0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])|today|yesterday|today-[1-9][0-9]{0,3})$"
)
_HTTPS_URL = r"^https://[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[^\s?#]*)?$"
_USER = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_DATA_TYPE = "(" + "|".join(datatypes.SPECS) + ")"


@dataclasses.dataclass(frozen=True)
class Parameter:
    """What the template says about one option.

    Attributes:
        label: the short name the Dataflow console shows.
        text: the help text, without the example (which is appended).
        example: a good value; the help text ends with "e.g. <example>".
        regex: the anchored pattern Dataflow checks the value against.
        bad: values the regex must reject.
        good: more values the regex must accept, besides the example.
        param_type: Dataflow's ParameterType, which picks the console's input widget.
    """

    label: str
    text: str
    example: str
    regex: str
    bad: tuple[str, ...]
    good: tuple[str, ...] = ()
    param_type: str = "TEXT"

    @property
    def help_text(self) -> str:
        return f"{self.text}, e.g. {self.example}"


PARAMETERS: dict[str, Parameter] = {
    "users": Parameter(
        label="User keys",
        text="With start_date and end_date: the users to load, comma-separated, or @ and a "
        "gs:// file with one user key per line",
        example="user-1,user-2",
        regex=rf"^(@{_BUCKET}/[^\s]+|{_USER}(,{_USER})*)$",
        good=("participant-017", "@gs://my-bucket/users.txt"),
        bad=("user 1", "alice@example.com", "@/tmp/users.txt", "user-1,,user-2"),
    ),
    "start_date": Parameter(
        label="Start date",
        text="With users: the first civil date to load (YYYY-MM-DD), or relative to the "
        "launch day in UTC (today, yesterday, today-N) for scheduled launches",
        example="2026-11-01",
        regex=_DATE,
        bad=("2026-13-01", "01/11/2026", "2026-11-1", "today-0", "today+1"),
    ),
    "end_date": Parameter(
        label="End date",
        text="With users: the last civil date to load, inclusive (YYYY-MM-DD, today, "
        "yesterday or today-N)",
        example="2026-11-14",
        regex=_DATE,
        bad=("2026-11-32", "tomorrow", "Yesterday"),
    ),
    "requests_file": Parameter(
        label="Request messages file",
        text="Instead of users and dates: request messages, one JSON object per line, in "
        "Cloud Storage (globs allowed)",
        example="gs://my-bucket/requests/*.jsonl",
        regex=_GCS_FILE,
        bad=("requests.jsonl", "/data/requests.jsonl", "gs://my-bucket/"),
    ),
    "dead_letters": Parameter(
        label="Dead letters to replay",
        text="Instead of requests: replay these dead-letter files from Cloud Storage (globs "
        "allowed)",
        example="gs://my-bucket/dead-letters/run-*/*.jsonl",
        regex=_GCS_FILE,
        bad=("dead-letters/*.jsonl", "s3://my-bucket/dead-letters/x.jsonl"),
    ),
    "from_archive": Parameter(
        label="Rebuild from the raw archive",
        text="Instead of requests: rebuild rows from these raw-archive objects in Cloud "
        "Storage (globs allowed), with no API call",
        example="gs://my-bucket/raw/user_key=p-0042/**",
        regex=_GCS_FILE,
        bad=("raw/**", "/data/raw/**", "gs://my-bucket/"),
    ),
    "import_takeout": Parameter(
        label="Google Takeout export to import",
        text="Instead of requests: one person's Google Takeout export of Fitbit data in Cloud "
        "Storage: a .zip, a folder or a glob (with user_key)",
        example="gs://my-bucket/takeout/p-0042/takeout-20261201T000000Z-001.zip",
        regex=_GCS_FILE,
        bad=("takeout.zip", "/data/takeout.zip", "gs://my-bucket/"),
    ),
    "import_legacy": Parameter(
        label="Legacy archive to import",
        text="Instead of requests: the original system's archive of legacy Fitbit Web API "
        "responses in Cloud Storage ({endpoint}/{YYYYMMDD}/... files; with user_key or "
        "legacy_users)",
        example="gs://my-old-bucket/fitbit-archive",
        regex=_GCS_FOLDER,
        bad=("fitbit-archive", "/data/fitbit-archive", "s3://my-old-bucket"),
    ),
    "user_key": Parameter(
        label="User key of an import",
        text="With import_takeout: whose export it is; with import_legacy: the user every "
        "file is loaded as",
        example="p-0042",
        regex=rf"^{_USER}$",
        bad=("-p", "p 42", "p" * 129),
    ),
    "time_zone": Parameter(
        label="Time zone of an import",
        text="With an import: the IANA time zone of local times without an offset (default: "
        "the zone of the user's settings from an earlier run)",
        example="America/New_York",
        regex=r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$",
        bad=("New York", "/UTC", "America//New_York"),
        good=("UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+5"),
    ),
    "legacy_users": Parameter(
        label="Legacy users file",
        text="With import_legacy: a CSV file in Cloud Storage with the header "
        "legacy_user_id,user_key,time_zone",
        example="gs://my-bucket/legacy-users.csv",
        regex=_GCS_FILE,
        bad=("legacy-users.csv", "gs://my-bucket/"),
    ),
    "raw_archive": Parameter(
        label="Raw archive folder",
        text="Keep every API answer the run uses, gzipped JSON by user, data type and date, in "
        "this Cloud Storage folder, for rebuilds (default: off)",
        example="gs://my-bucket/raw",
        regex=_GCS_FOLDER,
        bad=("raw", "/data/raw", "s3://my-bucket/raw"),
    ),
    "requests_subscription": Parameter(
        label="Request subscription",
        text="With streaming=true: the Pub/Sub subscription of request messages",
        example="projects/my-project/subscriptions/fitbeam-requests",
        regex=r"^projects/[a-z][-a-z0-9:.]{4,61}[a-z0-9]/subscriptions/"
        r"[A-Za-z][-A-Za-z0-9._~%+]{2,254}$",
        bad=("fitbeam-requests", "projects/my-project/topics/fitbeam-requests"),
        param_type="PUBSUB_SUBSCRIPTION",
    ),
    "max_range_days": Parameter(
        label="Longest requested range (days)",
        text=f"The longest range one request message may ask for, 1 to {MAX_RANGE_DAYS} days",
        example="366",
        regex=r"^([1-9][0-9]{0,2}|1[0-7][0-9]{2}|18[0-2][0-9]|1830)$",
        good=("1", str(MAX_RANGE_DAYS)),
        bad=("0", str(MAX_RANGE_DAYS + 1), "-1", "ten"),
    ),
    "data_types": Parameter(
        label="Data types",
        text="Google Health API data types to load, comma-separated (default: all supported)",
        example="steps,heart-rate",
        regex=rf"^{_DATA_TYPE}(,{_DATA_TYPE})*$",
        good=(",".join(datatypes.DEFAULT_DATA_TYPES), "heart-rate-variability"),
        bad=("steps,heartrate", "steps;sleep", ""),
    ),
    "stream": Parameter(
        label="Stream",
        text=f"{STREAM_RECONCILED} (one stream per type, as the Fitbit app shows) or "
        f"{STREAM_RAW} (every source)",
        example=STREAM_RECONCILED,
        regex=rf"^({STREAM_RECONCILED}|{STREAM_RAW})$",
        good=(STREAM_RAW,),
        bad=("all", "Raw"),
    ),
    "source_family": Parameter(
        label="Data source family",
        text=f"The data sources list, reconcile and the daily roll-ups read: {ALL_SOURCES} (the "
        "default), google-wearables (Google and Fitbit devices only, no manual logs) or "
        "google-sources (Google's own: devices, manual logs, Health Connect); not sent on "
        "sleep's raw list, which the API refuses it on",
        example="google-wearables",
        regex="^(" + "|".join(SOURCE_FAMILIES) + ")$",
        good=SOURCE_FAMILIES,
        bad=("self-sources", "wearables", "Google-Wearables", ""),
    ),
    "user_tables": Parameter(
        label="Load the user-level tables",
        text="true: load paired devices, profile, settings and IRN profile once per user per "
        "run (per request message when streaming); false: skip them",
        example="false",
        regex="^(true|false)$",
        good=("true",),
        bad=("yes", "True", "0", ""),
    ),
    "api_base_url": Parameter(
        label="API root URL",
        text="The Google Health API's root URL",
        example=GOOGLE_HEALTH_API,
        regex=_HTTPS_URL,
        bad=("http://health.googleapis.com", "health.googleapis.com"),
    ),
    "token_url": Parameter(
        label="OAuth token URL",
        text="The OAuth token endpoint (default: Google's)",
        example=GOOGLE_TOKEN_URL,
        regex=_HTTPS_URL,
        bad=("http://oauth2.googleapis.com/token", "ftp://oauth2.googleapis.com/token"),
    ),
    "token_store": Parameter(
        label="Token store",
        text="Where users' tokens and the OAuth client live: Secret Manager as "
        "secretmanager://PROJECT/PREFIX (workers share no disk, so no file store)",
        example=CLOUD_STORE_EXAMPLE,
        regex=r"^secretmanager://[a-z][a-z0-9-]{4,28}[a-z0-9]/[A-Za-z][A-Za-z0-9_-]{0,99}"
        r"(\?endpoint=https://[^\s&#]+)?$",
        good=(f"{CLOUD_STORE_EXAMPLE}?endpoint=https://secretmanager.example.com",),
        bad=(
            "file:///var/fitbeam/tokens",
            "secretmanager://my-project",
            "secretmanager://My-Project/fitbeam",
        ),
    ),
    "dataset": Parameter(
        label="BigQuery dataset",
        text="The BigQuery dataset to load into, as PROJECT:DATASET",
        example="my-project:fitbit",
        regex=r"^[a-z][-a-z0-9.:]{4,61}[a-z0-9]:[A-Za-z0-9_]{1,1024}$",
        bad=("my-project.fitbit", "fitbit", "my-project:fit-bit"),
    ),
    "dead_letter_root": Parameter(
        label="Dead-letter folder",
        text="Cloud Storage folder for dead letters; each run writes <folder>/<run_id>/",
        example="gs://my-bucket/dead-letters",
        regex=_GCS_FOLDER,
        good=("gs://my-bucket",),
        bad=("/var/fitbeam/dead-letters", "dead-letters", "s3://my-bucket/dead-letters"),
        param_type="GCS_WRITE_FOLDER",
    ),
    "bq_write_method": Parameter(
        label="BigQuery write method",
        text=f"{FILE_LOADS} (load jobs; the batch default) or {STREAMING_INSERTS} (the "
        "streaming default and only choice)",
        example=FILE_LOADS,
        regex=rf"^({FILE_LOADS}|{STREAMING_INSERTS}|{FILE_LOADS.lower()}|"
        rf"{STREAMING_INSERTS.lower()})$",
        good=(STREAMING_INSERTS, STREAMING_INSERTS.lower()),
        bad=("STORAGE_WRITE_API", "file-loads"),
    ),
    "quota_per_minute": Parameter(
        label="API calls per user per minute",
        text="API calls per user per minute, 1 to 10000 (the API allows 300); each user's "
        "calls are fetched by one worker, so this is not divided by the worker count",
        example="300",
        regex=r"^([1-9][0-9]{0,3}|10000)$",
        good=("1", "10000"),
        bad=("0", "10001", "300.5"),
    ),
    "project_quota_per_minute": Parameter(
        label="API calls per minute of the project",
        text="API calls per minute of every worker together, 1 to 10000000 (the API allows "
        "120000); each worker keeps a share found from the project's 429s",
        example="120000",
        regex=r"^([1-9][0-9]{0,6}|10000000)$",
        good=("1", "10000000"),
        bad=("0", "10000001", "120000.5", "-1"),
    ),
    "envoy_rate_limit": Parameter(
        label="Envoy rate-limit service",
        text="host:port of an Envoy rate-limit service that keeps the project's limit exactly "
        "for every worker (empty: each worker keeps a share found from the project's 429s)",
        example="ratelimit.fitbeam.internal:8081",
        regex=r"^([A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?:[0-9]{1,5})?$",
        good=("", "10.0.0.7:8081"),
        bad=("ratelimit", "http://ratelimit:8081", "ratelimit:", "a b:80"),
    ),
    "envoy_rate_limit_domain": Parameter(
        label="Envoy rate-limit domain",
        text="with an Envoy rate-limit service: the rate-limit domain of its configuration",
        example="fitbeam",
        regex=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$",
        good=("fitbeam_prod",),
        bad=("", "-fitbeam", "fit beam"),
    ),
    "envoy_rate_limit_descriptors": Parameter(
        label="Envoy rate-limit descriptors",
        text="with an Envoy rate-limit service: the descriptors each API call counts against, "
        "key=value entries joined by commas, descriptors by semicolons",
        example="quota=google-health-api",
        regex=r"^[A-Za-z0-9_.:/-]{1,100}=[A-Za-z0-9_.:/-]{1,100}"
        r"([,;][A-Za-z0-9_.:/-]{1,100}=[A-Za-z0-9_.:/-]{1,100})*$",
        good=("quota=api,tier=batch;quota=api",),
        bad=("", "quota", "quota=", "quota=api;", "a b=c"),
    ),
    "concurrent_calls": Parameter(
        label="API calls in flight per worker thread",
        text="API calls one worker thread keeps in flight at once, 1 to 64, each within its "
        "user's quota",
        example="8",
        regex=r"^([1-9]|[1-5][0-9]|6[0-4])$",
        good=("1", "64"),
        bad=("0", "65", "8.5"),
    ),
    "max_attempts": Parameter(
        label="Attempts per API request",
        text="Attempts per API request before it becomes a dead letter, 1 to 20",
        example="6",
        regex=r"^([1-9]|1[0-9]|20)$",
        good=("1", "20"),
        bad=("0", "21", "six"),
    ),
    "run_id": Parameter(
        label="Run id",
        text="Id stamped on rows and dead letters: letters, digits, '_', '.', '-' "
        "(default: generated)",
        example="backfill-2026-11",
        regex=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$",
        bad=("-backfill", "run id", "r" * 101),
    ),
    "report_json": Parameter(
        label="Run report file",
        text="Also write the run report as JSON to this Cloud Storage file",
        example="gs://my-bucket/reports/backfill-2026-11.json",
        regex=_GCS_FILE,
        bad=("report.json", "gs://my-bucket/"),
        param_type="GCS_WRITE_FILE",
    ),
}

NAME = "fitbeam: Fitbit data (Google Health API v4) into BigQuery"
DESCRIPTION = (
    "Loads Fitbit data from the Google Health API v4 into one BigQuery table per data type. "
    "Batch: users with start_date and end_date, or requests_file, or dead_letters to replay, "
    "or from_archive to rebuild from the raw archive, or import_takeout / import_legacy to "
    "import history. "
    "Streaming: streaming=true with requests_subscription. Pass sdk_container_image=<the "
    "template's image> so that the workers run the same image as the launcher."
)


def option_defaults() -> dict[str, object]:
    """Every option of `FitbeamOptions`, in declaration order, with its default."""
    parser = argparse.ArgumentParser(add_help=False)
    FitbeamOptions._add_argparse_args(parser)
    return vars(parser.parse_args([]))


def metadata() -> dict:
    """The template metadata: one parameter per option, in the options' order.

    Raises:
        KeyError: an option has no entry in `PARAMETERS`.
    """
    parameters = []
    for name, default in option_defaults().items():
        entry = PARAMETERS[name]
        parameters.append(
            {
                "name": name,
                "label": entry.label,
                "helpText": entry.help_text,
                "isOptional": default is not None
                or name in REQUEST_SOURCES
                or name in NOT_NEEDED_BY_EVERY_JOB,
                "regexes": [entry.regex],
                "paramType": entry.param_type,
            }
        )
    return {
        "name": NAME,
        "description": DESCRIPTION,
        # Supports streaming runs (streaming=true) as well as batch ones. Streaming
        # inserts carry insert ids; at-least-once mode could load a row twice.
        "streaming": True,
        "supportsAtLeastOnce": False,
        "supportsExactlyOnce": True,
        "parameters": parameters,
    }


def render() -> str:
    """`flex_template.json` as committed: two-space JSON and a final newline."""
    return json.dumps(metadata(), indent=2, ensure_ascii=False) + "\n"


_BOOLEAN_FLAGS = ("streaming",)
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def template_argv(argv: list[str]) -> list[str]:
    """Flags as Beam's parser takes them, from the launcher's `--name=value` ones.

    Template parameters always carry a value, but Beam's boolean flags take none:
    `--streaming=true` becomes `--streaming` and `--streaming=false` is dropped.
    Any other value is left for Beam to reject.
    """
    out = []
    for arg in argv:
        name, sep, value = arg.partition("=")
        if sep and name.removeprefix("--") in _BOOLEAN_FLAGS:
            if value.lower() in _TRUE:
                out.append(name)
                continue
            if value.lower() in _FALSE:
                continue
        out.append(arg)
    return out


def launch(argv: list[str], main: Callable[..., int] | None = None) -> int:
    """Runs `fitbeam run` with the template's parameters; returns its exit code.

    Args:
        argv: the flags the Flex Template launcher passes.
        main: the command to run (test seam; default `pipeline.main.main`).
    """
    if main is None:
        from pipeline.main import main
    return main(template_argv(argv), submit_only=True)


if __name__ == "__main__":
    sys.stdout.write(render())
