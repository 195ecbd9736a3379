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
- `--dead_letters`: a batch replaying dead-letter files (`transforms.replay`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import secrets

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import (
    GoogleCloudOptions,
    PipelineOptions,
    StandardOptions,
)

from healthapi import datatypes
from healthapi.auth.store import token_store_from_uri
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


def _one_request_source(o: FitbeamOptions, streaming: bool) -> None:
    """Requests come from the CLI range, a file, or a subscription: exactly one."""
    ranged = [f for f in ("users", "start_date", "end_date") if getattr(o, f)]
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
    sources = [
        f for f in ("requests_subscription", "requests_file", "dead_letters") if getattr(o, f)
    ]
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
    elif not (o.requests_file or o.dead_letters):
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
    store = _require(o.token_store, "token_store", "file:///var/fitbeam/tokens")
    try:
        token_store_from_uri(store)
    except ValueError as err:
        raise OptionsError("token_store", store, str(err), "file:///var/fitbeam/tokens") from None
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
    run_id = o.run_id or default_run_id()
    if not _RUN_ID.fullmatch(run_id):
        raise OptionsError(
            "run_id", run_id, "may hold letters, digits, '_', '.', '-' only", "backfill-2026-11"
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
    )


def default_run_id(now: dt.datetime | None = None) -> str:
    """`run-YYYYMMDDTHHMMSSZ-xxxxxx`: sortable by start, unique across concurrent runs."""
    moment = now or dt.datetime.now(dt.UTC)
    return f"run-{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
