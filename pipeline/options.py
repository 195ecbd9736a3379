"""The options of `fitbeam run`, and their validation.

`FitbeamOptions` is a Beam `PipelineOptions` view, so the same flags work on
the DirectRunner, on Dataflow and as Flex Template parameters. `resolve`
checks every value before anything runs and turns the flags into a
`RunConfig`; a bad value raises `OptionsError` naming the flag, the value and
an example of a good one.

Requests come from exactly one place:

- `--users` with `--start_date`/`--end_date`: a batch over one civil range;
- `--requests_file`: a batch over request messages, one JSON object per line
  (the contract of `healthapi.messages`);
- `--streaming --requests_subscription`: request messages from Pub/Sub;
- `--dead_letters`: a batch replaying dead-letter files (`transforms.replay`);
- `--from_archive`: a batch rebuilding rows from the raw archive, no API call
  (`fitbeam rebuild`, `transforms.archive`);
- `--import_takeout` / `--import_legacy`: a batch importing a Google Takeout
  export or the original system's archive of legacy responses, no API call
  (`fitbeam import`, `transforms.imports`).

`--raw_archive` keeps every API answer a run uses (`transforms.archive`).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
import secrets
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import (
    GoogleCloudOptions,
    PipelineOptions,
    StandardOptions,
)

from healthapi import datatypes
from healthapi.auth.store import check_user_key, token_store_from_uri
from healthapi.client import ALL_SOURCES
from healthapi.elements import STREAM_RAW, STREAM_RECONCILED
from healthapi.messages import DEFAULT_MAX_RANGE_DAYS
from healthapi.quota import ProjectBudget, parse_descriptors
from healthapi.settings import (  # noqa: F401 - re-exported: fitbeam run's flags
    GOOGLE_HEALTH_API,
    TOPIC_EXAMPLE,
    OptionsError,
    _require,
    add_api_arguments,
    check_source_family,
    check_topic,
    check_url,
    parse_data_types,
    parse_switch,
    parse_users,
    resolve_token_url,
)
from schemas.views import IMPORT_RUN_PREFIX
from transforms.write import FILE_LOADS, STREAMING_INSERTS

MAX_RANGE_DAYS = 366 * 5
# Names are matched whole (fullmatch): `$` would also accept a trailing newline.
_DATASET = re.compile(
    r"(?P<project>[a-z][-a-z0-9.:]{4,61}[a-z0-9]):(?P<dataset>[A-Za-z0-9_]{1,1024})"
)
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
# Pub/Sub's resource names; Beam checks the project part with the same pattern.
_SUBSCRIPTION = re.compile(
    r"projects/[a-z][-a-z0-9:.]{4,61}[a-z0-9]/subscriptions/[A-Za-z][-A-Za-z0-9._~%+]{2,254}"
)


class FitbeamOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument(
            "--users",
            help="User keys, comma-separated (user-1,user-2), or @PATH of a file with one per "
            "line (local or gs://).",
        )
        parser.add_argument(
            "--start_date",
            help="First civil date to load, e.g. 2026-11-01; or relative to today (UTC): "
            "today, yesterday, today-N.",
        )
        parser.add_argument(
            "--end_date", help="Last civil date to load (inclusive), e.g. 2026-11-14 or yesterday."
        )
        parser.add_argument(
            "--requests_file",
            default="",
            help="Instead of --users and dates: request messages, one JSON object per line "
            "(local or gs://, globs allowed), e.g. gs://my-bucket/requests/*.jsonl.",
        )
        parser.add_argument(
            "--dead_letters",
            default="",
            help="Instead of requests: replay these dead-letter files (local or gs://, globs "
            "allowed), e.g. 'gs://my-bucket/dead-letters/run-*/*.jsonl'.",
        )
        parser.add_argument(
            "--from_archive",
            default="",
            help="Instead of requests: rebuild rows from raw-archive objects (local or gs://, "
            "globs allowed) with no API call, e.g. 'gs://my-bucket/raw/user_key=p-0042/**'.",
        )
        parser.add_argument(
            "--import_takeout",
            default="",
            help="Instead of requests: import one person's Google Takeout export of Fitbit "
            "data: a .zip, a folder, or their gs:// copies, e.g. gs://my-bucket/takeout-p-0042.zip "
            "(with --user_key).",
        )
        parser.add_argument(
            "--import_legacy",
            default="",
            help="Instead of requests: import the original system's archive of legacy Fitbit "
            "Web API responses ({endpoint}/{YYYYMMDD}/...json|tcx), a folder local or gs://, e.g. "
            "gs://my-old-bucket.",
        )
        parser.add_argument(
            "--user_key",
            default="",
            help="With --import_takeout: whose export it is; with --import_legacy: the user "
            "every file is loaded as (else --legacy_users maps them), e.g. p-0042.",
        )
        parser.add_argument(
            "--time_zone",
            default="",
            help="With an import: the IANA time zone of local times without an offset "
            "(default: the user's time zone in the user_settings the API returned, from "
            "an earlier fitbeam run), e.g. America/New_York.",
        )
        parser.add_argument(
            "--legacy_users",
            default="",
            help="With --import_legacy: a CSV file (local or gs://) with the header "
            "legacy_user_id,user_key,time_zone mapping the archive's Fitbit user ids to user "
            "keys and zones, e.g. gs://my-bucket/legacy-users.csv.",
        )
        parser.add_argument(
            "--raw_archive",
            default="",
            help="Keep every API answer the run uses (list pages, roll-ups, TCX, user-level "
            "resources), gzipped JSON under this folder by user, data type and date, for "
            "fitbeam rebuild (default: off), e.g. gs://my-bucket/raw.",
        )
        parser.add_argument(
            "--requests_subscription",
            default="",
            help="With --streaming: the Pub/Sub subscription of request messages, e.g. "
            "projects/my-project/subscriptions/fitbeam-requests.",
        )
        parser.add_argument(
            "--max_range_days",
            type=int,
            default=DEFAULT_MAX_RANGE_DAYS,
            help=f"Longest range one request message may ask for (default "
            f"{DEFAULT_MAX_RANGE_DAYS}).",
        )
        parser.add_argument(
            "--data_types",
            default=",".join(datatypes.DEFAULT_DATA_TYPES),
            help="API data type names, comma-separated (default: all supported).",
        )
        parser.add_argument(
            "--stream",
            default=STREAM_RECONCILED,
            help="reconciled (one stream per type, as the Fitbit app shows) or raw (every source).",
        )
        parser.add_argument(
            "--source_family",
            default=ALL_SOURCES,
            help=f"The data sources list, reconcile and the daily roll-ups read: {ALL_SOURCES} "
            "(the default), google-wearables (Google and Fitbit devices only, no manual "
            "logs) or google-sources (Google's own: devices, manual logs, Health Connect). "
            "Not sent on sleep's raw list, which the API refuses it on (sleep's reconciled "
            "stream takes it), e.g. google-wearables.",
        )
        parser.add_argument(
            "--user_tables",
            default="true",
            help="Load the user-level tables (paired devices, profile, settings, IRN "
            "profile) once per user per run, or per request message when streaming: true "
            "or false, e.g. false.",
        )
        add_api_arguments(parser)
        parser.add_argument(
            "--token_store",
            help="Where users' tokens and the OAuth client live: a directory, e.g. "
            "file:///var/fitbeam/tokens.",
        )
        parser.add_argument("--dataset", help="BigQuery dataset as project:dataset.")
        parser.add_argument(
            "--dead_letter_root",
            help="Folder for dead letters, local or gs://; each run writes <root>/<run_id>/.",
        )
        parser.add_argument(
            "--bq_write_method",
            default="",
            help="FILE_LOADS (load jobs: free, atomic per job; needs a gs:// --temp_location; "
            "the batch default) or STREAMING_INSERTS (rows BigQuery refuses become dead "
            "letters; the streaming default and only choice).",
        )
        parser.add_argument(
            "--quota_per_minute",
            type=int,
            default=300,
            help="API calls per user per minute (the API allows 300). The fetch is keyed by "
            "user, so each user's calls are budgeted in one worker: no need to divide by "
            "the worker count, e.g. 300.",
        )
        parser.add_argument(
            "--project_quota_per_minute",
            type=int,
            default=120_000,
            help="API calls per minute of the whole project, every worker together (the API "
            "allows 120000). Each worker keeps a share found from the project's 429s, "
            "or asks --envoy_rate_limit, e.g. 120000.",
        )
        parser.add_argument(
            "--envoy_rate_limit",
            default="",
            help="host:port of an Envoy rate-limit service that keeps the project's limit "
            "exactly for every worker (default: none, each worker keeps a share), e.g. "
            "ratelimit.fitbeam.internal:8081.",
        )
        parser.add_argument(
            "--envoy_rate_limit_domain",
            default="fitbeam",
            help="With --envoy_rate_limit: the rate-limit domain of its configuration, e.g. "
            "fitbeam.",
        )
        parser.add_argument(
            "--envoy_rate_limit_descriptors",
            default="quota=google-health-api",
            help="With --envoy_rate_limit: the descriptors each API call counts against, "
            "key=value entries joined by commas, descriptors by semicolons, e.g. "
            "quota=google-health-api.",
        )
        parser.add_argument(
            "--concurrent_calls",
            type=int,
            default=8,
            help="API calls one worker thread keeps in flight at once (each still within its "
            "user's --quota_per_minute), e.g. 8.",
        )
        parser.add_argument(
            "--max_attempts",
            type=int,
            default=6,
            help="Attempts per API request before it becomes a dead letter.",
        )
        parser.add_argument(
            "--run_id", default="", help="Id stamped on rows and dead letters (default: generated)."
        )
        parser.add_argument("--report_json", default="", help="Also write the run report here.")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Validated settings of one run."""

    users: tuple[str, ...]
    start_date: dt.date | None
    end_date: dt.date | None
    requests_file: str
    dead_letters: str
    requests_subscription: str
    streaming: bool
    max_range_days: int
    data_types: tuple[str, ...]
    stream: str
    api_base_url: str
    token_url: str
    token_store: str
    dataset: str
    dead_letter_root: str
    bq_write_method: str
    quota_per_minute: int
    project_budget: ProjectBudget
    concurrent_calls: int
    max_attempts: int
    run_id: str
    report_json: str
    temp_location: str
    source_family: str = ALL_SOURCES
    user_tables: bool = True
    raw_archive: str = ""
    from_archive: str = ""
    import_layout: str = ""  # "takeout" or "legacy"
    import_path: str = ""
    user_key: str = ""
    time_zone: str = ""
    legacy_users: tuple[tuple[str, str, str], ...] = ()

    @property
    def calls_api(self) -> bool:
        """Whether the run calls the API (a rebuild or an import does not)."""
        return not (self.from_archive or self.import_layout)


_RELATIVE_DATE = re.compile(r"today-([1-9][0-9]{0,3})")
# ASCII digits only: `\d` would also match full-width or Arabic-Indic ones.
_CIVIL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _date(value: str | None, flag: str, today: dt.date) -> dt.date:
    """A civil date: YYYY-MM-DD, or relative to `today` (UTC) for scheduled launches.

    `today`, `yesterday` and `today-N` (N days before today) let a schedule
    with a fixed request body load the last days, e.g. --start_date=today-3
    --end_date=yesterday.
    """
    text = _require(value, flag, "2026-11-01")
    if text == "today":
        return today
    if text == "yesterday":
        return today - dt.timedelta(days=1)
    relative = _RELATIVE_DATE.fullmatch(text)
    if relative:
        return today - dt.timedelta(days=int(relative.group(1)))
    if not _CIVIL_DATE.fullmatch(text):
        # fromisoformat alone would also take 20261101 and 2026-W48-1.
        raise OptionsError(
            flag, text, "is not a civil date YYYY-MM-DD, today, yesterday or today-N", "2026-11-01"
        )
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise OptionsError(flag, text, "is not a real date", "2026-11-01") from None


def _read_any(path: str) -> bytes:
    """A local or gs:// file, for `--users=@FILE`."""
    with FileSystems.open(path) as f:
        return f.read()


# Where a run's work comes from, besides --users and dates: at most one of these.
REQUEST_SOURCES = (
    "requests_subscription",
    "requests_file",
    "dead_letters",
    "from_archive",
    "import_takeout",
    "import_legacy",
)


def _one_request_source(o: FitbeamOptions, streaming: bool) -> None:
    """Requests come from the CLI range, a file, or a subscription: exactly one."""
    ranged = [f for f in ("users", "start_date", "end_date") if getattr(o, f)]
    history = [f for f in ("from_archive", "import_takeout", "import_legacy") if getattr(o, f)]
    if streaming and history:
        raise OptionsError(
            history[0], getattr(o, history[0]), "is a batch job: leave out --streaming", None
        )
    if streaming and not o.requests_subscription:
        raise OptionsError(
            "requests_subscription",
            "",
            "is required with --streaming",
            "projects/my-project/subscriptions/fitbeam-requests",
        )
    if o.requests_subscription and not streaming:
        raise OptionsError(
            "requests_subscription",
            o.requests_subscription,
            "needs --streaming (a subscription never ends)",
            "projects/my-project/subscriptions/fitbeam-requests --streaming",
        )
    sources = [f for f in REQUEST_SOURCES if getattr(o, f)]
    if len(sources) > 1:
        raise OptionsError(
            sources[1], getattr(o, sources[1]), f"cannot be used with --{sources[0]}", None
        )
    if sources and ranged:
        flag = sources[0]
        raise OptionsError(
            ranged[0],
            getattr(o, ranged[0]),
            f"cannot be used with --{flag} (the messages say who and when)",
            None,
        )


def _dates(o: FitbeamOptions, today: dt.date) -> tuple[dt.date, dt.date]:
    start, end = _date(o.start_date, "start_date", today), _date(o.end_date, "end_date", today)
    if end < start:
        raise OptionsError("end_date", o.end_date, f"is before --start_date={start}", str(start))
    # The far east of UTC is 14 hours ahead: its civil "today" is at most UTC's tomorrow.
    if start > today + dt.timedelta(days=1):
        raise OptionsError("start_date", o.start_date, "is in the future", str(today))
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise OptionsError(
            "end_date", o.end_date, f"makes a range over {MAX_RANGE_DAYS} days", str(start)
        )
    return start, end


# host:port, the host a DNS name or an IPv4 address.
_ENVOY_ADDRESS = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?:[0-9]{1,5}")
_ENVOY_DOMAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def _project_budget(o: FitbeamOptions) -> ProjectBudget:
    """The project's budget, kept by shares found from its 429s or by an Envoy service."""
    if not 1 <= o.project_quota_per_minute <= 10_000_000:
        raise OptionsError(
            "project_quota_per_minute",
            o.project_quota_per_minute,
            "must be 1..10000000",
            "120000",
        )
    address = o.envoy_rate_limit or ""
    if address:
        port = address.rpartition(":")[2]
        if not _ENVOY_ADDRESS.fullmatch(address) or not 1 <= int(port or 0) <= 65535:
            raise OptionsError(
                "envoy_rate_limit",
                address,
                "is not host:port (port 1..65535)",
                "ratelimit.fitbeam.internal:8081",
            )
    if not _ENVOY_DOMAIN.fullmatch(o.envoy_rate_limit_domain or ""):
        raise OptionsError(
            "envoy_rate_limit_domain",
            o.envoy_rate_limit_domain,
            "may hold letters, digits, '_', '.', '-' only",
            "fitbeam",
        )
    try:
        descriptors = parse_descriptors(o.envoy_rate_limit_descriptors or "")
    except ValueError:
        raise OptionsError(
            "envoy_rate_limit_descriptors",
            o.envoy_rate_limit_descriptors,
            "are not key=value[,key=value][;key=value...]",
            "quota=google-health-api",
        ) from None
    return ProjectBudget(
        per_minute=o.project_quota_per_minute,
        envoy_address=address,
        envoy_domain=o.envoy_rate_limit_domain,
        envoy_descriptors=descriptors,
    )


def resolve(options: PipelineOptions, today: dt.date | None = None) -> RunConfig:
    """Checks every option and returns the run's settings.

    Args:
        options: the parsed pipeline options.
        today: the UTC date to judge future dates by (injectable).

    Raises:
        OptionsError: the first bad value found.
    """
    o = options.view_as(FitbeamOptions)
    streaming = bool(options.view_as(StandardOptions).streaming)
    users: tuple[str, ...] = ()
    start = end = None
    _one_request_source(o, streaming)
    if o.requests_subscription:
        if not _SUBSCRIPTION.fullmatch(o.requests_subscription):
            raise OptionsError(
                "requests_subscription",
                o.requests_subscription,
                "is not projects/PROJECT/subscriptions/NAME",
                "projects/my-project/subscriptions/fitbeam-requests",
            )
    elif not any(getattr(o, f) for f in REQUEST_SOURCES):
        users = parse_users(o.users, read=_read_any)
        start, end = _dates(o, today or dt.datetime.now(dt.UTC).date())
    if not 1 <= o.max_range_days <= MAX_RANGE_DAYS:
        raise OptionsError(
            "max_range_days", o.max_range_days, f"must be 1..{MAX_RANGE_DAYS}", "366"
        )
    data_types = parse_data_types(o.data_types)
    if o.stream not in (STREAM_RECONCILED, STREAM_RAW):
        raise OptionsError("stream", o.stream, "must be reconciled or raw", STREAM_RECONCILED)
    source_family = check_source_family(o.source_family)
    user_tables = parse_switch(o.user_tables, "user_tables")
    api = check_url(o.api_base_url, "api_base_url", GOOGLE_HEALTH_API)
    token_url = resolve_token_url(api, o.token_url)
    history = _history(o, streaming)
    store = o.token_store or ""
    if not (o.from_archive or o.import_takeout or o.import_legacy) or store:
        store = _require(o.token_store, "token_store", "file:///var/fitbeam/tokens")
        try:
            token_store_from_uri(store)
        except ValueError as err:
            raise OptionsError(
                "token_store", store, str(err), "file:///var/fitbeam/tokens"
            ) from None
    dataset = _require(o.dataset, "dataset", "my-project:fitbit")
    if not _DATASET.fullmatch(dataset):
        raise OptionsError("dataset", dataset, "is not project:dataset", "my-project:fitbit")
    dead_root = _require(o.dead_letter_root, "dead_letter_root", "gs://my-bucket/dead-letters")
    method = (o.bq_write_method or (STREAMING_INSERTS if streaming else FILE_LOADS)).upper()
    if method not in (STREAMING_INSERTS, FILE_LOADS):
        raise OptionsError(
            "bq_write_method",
            o.bq_write_method,
            "must be STREAMING_INSERTS or FILE_LOADS",
            FILE_LOADS,
        )
    if streaming and method != STREAMING_INSERTS:
        raise OptionsError(
            "bq_write_method",
            o.bq_write_method,
            "must be STREAMING_INSERTS when streaming",
            STREAMING_INSERTS,
        )
    temp = options.view_as(GoogleCloudOptions).temp_location or ""
    if method == FILE_LOADS and not temp.startswith("gs://"):
        raise OptionsError(
            "temp_location",
            temp,
            "must be a gs:// folder with --bq_write_method=FILE_LOADS (or use STREAMING_INSERTS)",
            "gs://my-bucket/tmp",
        )
    if not 1 <= o.quota_per_minute <= 10_000:
        raise OptionsError("quota_per_minute", o.quota_per_minute, "must be 1..10000", "300")
    project_budget = _project_budget(o)
    if not 1 <= o.concurrent_calls <= 64:
        raise OptionsError("concurrent_calls", o.concurrent_calls, "must be 1..64", "8")
    if not 1 <= o.max_attempts <= 20:
        raise OptionsError("max_attempts", o.max_attempts, "must be 1..20", "6")
    layout = history.get("import_layout", "")
    run_id = o.run_id or default_run_id(prefix=f"{IMPORT_RUN_PREFIX}{layout}" if layout else "run")
    if not _RUN_ID.fullmatch(run_id):
        raise OptionsError(
            "run_id", run_id, "may hold letters, digits, '_', '.', '-' only", "backfill-2026-11"
        )
    # The views tell imported rows by their load ids' prefix (schemas.views), so an
    # import's run id has it, and no other run's may.
    if bool(layout) != run_id.startswith(IMPORT_RUN_PREFIX):
        raise OptionsError(
            "run_id",
            run_id,
            f"must start with {IMPORT_RUN_PREFIX!r} for an import, and only for one",
            f"{IMPORT_RUN_PREFIX}takeout-p-0042" if layout else "backfill-2026-11",
        )
    return RunConfig(
        users=users,
        start_date=start,
        end_date=end,
        requests_file=o.requests_file,
        dead_letters=o.dead_letters,
        requests_subscription=o.requests_subscription,
        streaming=streaming,
        max_range_days=o.max_range_days,
        data_types=data_types,
        stream=o.stream,
        api_base_url=api,
        token_url=token_url,
        token_store=store,
        dataset=dataset,
        dead_letter_root=dead_root.rstrip("/"),
        bq_write_method=method,
        quota_per_minute=o.quota_per_minute,
        project_budget=project_budget,
        concurrent_calls=o.concurrent_calls,
        max_attempts=o.max_attempts,
        run_id=run_id,
        report_json=o.report_json,
        temp_location=temp,
        source_family=source_family,
        user_tables=user_tables,
        raw_archive=(o.raw_archive or "").rstrip("/"),
        **history,
    )


def default_run_id(now: dt.datetime | None = None, prefix: str = "run") -> str:
    """`run-YYYYMMDDTHHMMSSZ-xxxxxx`: sortable by start, unique across concurrent runs.

    An import's is `import-takeout-...` or `import-legacy-...` (`IMPORT_RUN_PREFIX`).
    """
    moment = now or dt.datetime.now(dt.UTC)
    return f"{prefix}-{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


_ZONE_EXAMPLE = "America/New_York"


def check_time_zone(value: str, flag: str = "time_zone") -> str:
    """An IANA time zone name that this machine's zone database knows.

    Raises:
        OptionsError: naming the flag and an example.
    """
    try:
        if not value or value != value.strip() or "\\" in value:
            raise ValueError
        ZoneInfo(value)
    except (ValueError, ZoneInfoNotFoundError):
        raise OptionsError(flag, value, "is not an IANA time zone", _ZONE_EXAMPLE) from None
    return value


def parse_legacy_users(text: str, source: str) -> tuple[tuple[str, str, str], ...]:
    """`--legacy_users`: CSV `legacy_user_id,user_key,time_zone` -> (id, key, zone) rows.

    Raises:
        OptionsError: a bad header, a bad or repeated id or key, or an unknown zone.
    """
    example = "legacy_user_id,user_key,time_zone\\n7ABCDE,p-0042,Europe/London"
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [c.strip() for c in rows[0]] != ["legacy_user_id", "user_key", "time_zone"]:
        raise OptionsError(
            "legacy_users",
            source,
            "must start with the header legacy_user_id,user_key,time_zone",
            example,
        )
    out, seen, keys = [], set(), set()
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != 3:
            raise OptionsError("legacy_users", source, f"line {number} has not 3 fields", example)
        legacy_id, key, zone = (c.strip() for c in row)
        if not _LEGACY_ID.fullmatch(legacy_id) or legacy_id in seen:
            raise OptionsError(
                "legacy_users", source, f"line {number}: a bad or repeated legacy user id", example
            )
        try:
            check_user_key(key)
        except ValueError as err:
            raise OptionsError("legacy_users", source, f"line {number}: {err}", example) from None
        if key in keys:
            raise OptionsError(
                "legacy_users", source, f"line {number}: the user key {key!r} is repeated", example
            )
        keys.add(key)
        check_time_zone(zone, "legacy_users")
        seen.add(legacy_id)
        out.append((legacy_id, key, zone))
    if not out:
        raise OptionsError("legacy_users", source, "maps no user", example)
    return tuple(out)


_LEGACY_ID = re.compile(r"[A-Za-z0-9]{1,32}")


def _history(o: FitbeamOptions, streaming: bool) -> dict:
    """The settings of a rebuild or an import (empty for a run that calls the API)."""
    flags = [f for f in ("from_archive", "import_takeout", "import_legacy") if getattr(o, f)]
    for flag in ("user_key", "time_zone", "legacy_users"):
        if getattr(o, flag) and not (o.import_takeout or o.import_legacy):
            raise OptionsError(
                flag, getattr(o, flag), "goes with --import_takeout or --import_legacy", None
            )
    if not flags:
        return {}
    # (--streaming with one of them is refused first, by _one_request_source.)
    if o.raw_archive:
        raise OptionsError(
            "raw_archive", o.raw_archive, f"archives API answers; --{flags[0]} calls no API", None
        )
    if o.from_archive:
        return {"from_archive": o.from_archive}
    out: dict = {"import_path": (o.import_takeout or o.import_legacy).rstrip("/")}
    if o.time_zone:
        out["time_zone"] = check_time_zone(o.time_zone)
    if o.import_takeout:
        out["import_layout"] = "takeout"
        out["user_key"] = _require(o.user_key, "user_key", "p-0042")
        if o.legacy_users:
            raise OptionsError("legacy_users", o.legacy_users, "goes with --import_legacy", None)
    else:
        out["import_layout"] = "legacy"
        if bool(o.user_key) == bool(o.legacy_users):
            raise OptionsError(
                "user_key",
                o.user_key,
                "--import_legacy needs exactly one of --user_key (one person's archive) and "
                "--legacy_users (a study's)",
                "p-0042",
            )
        if o.legacy_users:
            try:
                text = _read_any(o.legacy_users).decode("utf-8")
            except (OSError, UnicodeDecodeError) as err:
                raise OptionsError(
                    "legacy_users", o.legacy_users, f"cannot be read ({err})", None
                ) from None
            out["legacy_users"] = parse_legacy_users(text, o.legacy_users)
            if o.time_zone:
                raise OptionsError("time_zone", o.time_zone, "comes from --legacy_users", None)
    if o.user_key:
        try:
            out["user_key"] = check_user_key(o.user_key)
        except ValueError as err:
            raise OptionsError("user_key", o.user_key, str(err), "p-0042") from None
    return out
