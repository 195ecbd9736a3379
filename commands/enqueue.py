"""`fitbeam enqueue`: the daily request feed of the streaming pipeline.

Publishes one request message per user to a Pub/Sub topic; each asks the
streaming pipeline to load one civil date of that user's data::

    fitbeam enqueue --users @users.txt --date yesterday \\
        --topic projects/my-project/topics/fitbeam-requests \\
        --token_store file:///var/fitbeam/tokens

`--date yesterday` (or `today`) is resolved in each user's own time zone, which
is read from the Google Health API's settings route with the user's token (the
token broker refreshes it when needed; the call follows the retry policy of
`healthapi.retry`). At 2026-11-28T11:30Z, "yesterday" is 2026-11-28 on
Kiritimati (UTC+14) and 2026-11-27 in Pago Pago (UTC-11). A date given as
YYYY-MM-DD is used as is for every user and needs no token.

Every option is checked before anything runs (exit 2 on a bad one). A user
whose time zone cannot be read (no token, consent needed, an API error) or
whose message cannot be published is reported on stderr and does not stop the
others; the command then exits 1. `--dry_run` prints the messages instead of
publishing them. The publisher honours PUBSUB_EMULATOR_HOST.

Message (the contract of `healthapi.messages`): compact UTF-8 JSON
with sorted keys, `{"date":"2026-11-27","user_id":"user-1"}`, plus
`"data_types": [...]` when `--data_types` is given; attributes `user_id` and
`origin=enqueue`.

In production a Cloud Run job runs it once a day, started by Cloud Scheduler
(README, "The daily feed").
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import sys
import time
from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests

from commands import logs
from healthapi import calls, messages
from healthapi.auth import oauth
from healthapi.auth.broker import TokenBroker, broker_for
from healthapi.auth.store import token_store_from_uri
from healthapi.client import HealthApiClient
from healthapi.quota import UserRateLimiter
from healthapi.retry import RetryPolicy
from healthapi.settings import (
    GOOGLE_HEALTH_API,
    TOPIC_EXAMPLE,
    OptionsError,
    add_api_arguments,
    check_topic,
    check_url,
    parse_data_types,
    parse_users,
    resolve_token_url,
)

_LOGGER = logging.getLogger(__name__)

ORIGIN = "enqueue"
RELATIVE_DATES = ("yesterday", "today")
# Kiritimati is 14 hours ahead of UTC: no place on Earth has reached a later civil date.
MAX_UTC_OFFSET = dt.timedelta(hours=14)
PUBLISH_TIMEOUT_SECONDS = 120.0
QUOTA_PER_MINUTE = 300  # the API's per-user budget; one settings call per user here
TOKEN_STORE_EXAMPLE = "file:///var/fitbeam/tokens"  # noqa: S105 - a path

EXIT_OK, EXIT_SOME_FAILED, EXIT_BAD_OPTIONS = 0, 1, 2


def request_message(user_id: str, date: dt.date, data_types: Sequence[str] | None = None) -> bytes:
    """The request message for one user and civil date.

    The contract and its parser live in `healthapi.messages`; this
    builds the one-day form through it, so the feed cannot drift from the parser.

    Args:
        user_id: the user key, e.g. "user-1".
        date: the civil date to load.
        data_types: API data type names, in the order given; None (every
            type) leaves the key out.

    Returns:
        Compact UTF-8 JSON with sorted keys, e.g.
        b'{"date":"2026-11-27","user_id":"user-1"}'.

    Raises:
        TypeError: `date` is a datetime or not a date.
    """
    if isinstance(date, dt.datetime) or not isinstance(date, dt.date):
        raise TypeError(f"date must be a datetime.date, got {type(date).__name__}")
    return messages.request_message(user_id, date, data_types=data_types)


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone `name` (e.g. "America/New_York").

    Raises:
        ValueError: for a name that is not a known IANA zone.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown IANA time zone {str(name)[:60]!r}") from None


def civil_today(now_utc: dt.datetime, tz_name: str) -> dt.date:
    """The civil date in zone `tz_name` at the instant `now_utc`.

    Args:
        now_utc: a timezone-aware instant.
        tz_name: an IANA zone name.

    Raises:
        ValueError: a naive instant or an unknown zone.
    """
    if now_utc.tzinfo is None or now_utc.utcoffset() is None:
        raise ValueError(f"now_utc must be timezone-aware, got {now_utc.isoformat()}")
    return now_utc.astimezone(time_zone(tz_name)).date()


def civil_yesterday(now_utc: dt.datetime, tz_name: str) -> dt.date:
    """The civil date before `civil_today(now_utc, tz_name)`: the last complete local day.

    Raises:
        ValueError: a naive instant or an unknown zone.
    """
    return civil_today(now_utc, tz_name) - dt.timedelta(days=1)


RELATIVE = {"yesterday": civil_yesterday, "today": civil_today}


@dataclasses.dataclass(frozen=True)
class EnqueueConfig:
    """Validated settings of one `fitbeam enqueue`.

    Attributes:
        users: user keys, in the order given.
        date: "yesterday" or "today" (resolved per user), or YYYY-MM-DD.
        fixed_date: the date itself when `date` named one, else None.
        topic: projects/<project>/topics/<topic>.
        data_types: the data types asked for; None means every type.
        api_base_url: Google Health API root.
        token_url: OAuth token endpoint.
        token_store: where users' tokens live ("" when no token is needed).
        dry_run: print the messages instead of publishing.
    """

    users: tuple[str, ...]
    date: str
    fixed_date: dt.date | None
    topic: str
    data_types: tuple[str, ...] | None
    api_base_url: str
    token_url: str
    token_store: str
    dry_run: bool


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fitbeam enqueue",
        description="Publish one request message per user for one civil date "
        "(the daily feed of the streaming pipeline).",
    )
    parser.add_argument(
        "--users",
        help="User keys, comma-separated (user-1,user-2), or @PATH of a file with one per "
        "line (local or gs://).",
    )
    parser.add_argument(
        "--date",
        help="yesterday or today (in each user's own time zone), or a civil date YYYY-MM-DD "
        "used for every user.",
    )
    parser.add_argument("--topic", help=f"Pub/Sub topic, e.g. {TOPIC_EXAMPLE}.")
    parser.add_argument(
        "--data_types",
        default=None,
        help="API data type names, comma-separated, e.g. steps,heart-rate (default: every "
        "type; the message then names none).",
    )
    add_api_arguments(parser)
    parser.add_argument(
        "--token_store",
        default="",
        help=f"Where users' tokens and the OAuth client live, e.g. {TOKEN_STORE_EXAMPLE}; "
        "needed for --date yesterday/today.",
    )
    parser.add_argument(
        "--dry_run", action="store_true", help="Print the messages instead of publishing."
    )
    return parser


def _date(value: str | None, now_utc: dt.datetime) -> tuple[str, dt.date | None]:
    if not value:
        raise OptionsError("date", "", "is required", "yesterday")
    if value in RELATIVE_DATES:
        return value, None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise OptionsError(
            "date", value, "is not yesterday, today or a civil date YYYY-MM-DD", "yesterday"
        ) from None
    latest = (now_utc.astimezone(dt.UTC) + MAX_UTC_OFFSET).date()
    if day > latest:
        raise OptionsError(
            "date",
            value,
            f"is in the future everywhere (the latest civil date on Earth is {latest})",
            "yesterday",
        )
    return day.isoformat(), day


def resolve(args: argparse.Namespace, now_utc: dt.datetime) -> EnqueueConfig:
    """Checks every option and returns the settings.

    Args:
        args: the parsed command line.
        now_utc: the instant future dates are judged by.

    Raises:
        OptionsError: the first bad value found.
    """
    users = parse_users(args.users)
    date, fixed = _date(args.date, now_utc)
    topic = check_topic(args.topic)
    data_types = None if args.data_types is None else parse_data_types(args.data_types)
    api = check_url(args.api_base_url, "api_base_url", GOOGLE_HEALTH_API)
    token_url = resolve_token_url(api, args.token_url)
    store = args.token_store or ""
    if fixed is None and not store:
        raise OptionsError(
            "token_store",
            "",
            f"is required with --date={date} (it reads each user's time zone)",
            TOKEN_STORE_EXAMPLE,
        )
    if store:
        try:
            token_store_from_uri(store)
        except ValueError as err:
            raise OptionsError("token_store", store, str(err), TOKEN_STORE_EXAMPLE) from None
    return EnqueueConfig(
        users=users,
        date=date,
        fixed_date=fixed,
        topic=topic,
        data_types=data_types,
        api_base_url=api,
        token_url=token_url,
        token_store=store,
        dry_run=bool(args.dry_run),
    )


@dataclasses.dataclass(frozen=True)
class Planned:
    """One user's message to be: the civil date and the zone it was judged in."""

    user_id: str
    date: dt.date
    time_zone: str | None  # None when --date named the date

    def describe(self) -> str:
        zone = f" ({self.time_zone})" if self.time_zone else ""
        return f"{self.user_id} {self.date}{zone}"


@dataclasses.dataclass(frozen=True)
class Failure:
    """A user who got no message, and why (never a token)."""

    user_id: str
    stage: str  # "settings" or "publish"
    reason: str


@dataclasses.dataclass(frozen=True)
class EnqueueResult:
    """What one `fitbeam enqueue` did."""

    published: tuple[tuple[Planned, str], ...]  # (planned, message id); empty on a dry run
    planned: tuple[Planned, ...]
    failures: tuple[Failure, ...]
    dry_run: bool

    @property
    def exit_code(self) -> int:
        return EXIT_SOME_FAILED if self.failures else EXIT_OK


class SettingsTimeZones:
    """Reads a user's IANA time zone from the settings route.

    Each read goes through `calls.CallRunner`: a token from the broker, the
    per-user quota, the retry policy, one refresh after a 401.

    Args:
        runner: the call runner.
        client: the Google Health API client.
    """

    def __init__(self, runner: calls.CallRunner, client: HealthApiClient):
        self.runner = runner
        self.client = client

    def __call__(self, user_id: str) -> str:
        """The user's time zone name.

        Raises:
            calls.CallFailed: the settings could not be read.
            ValueError: the settings name no known time zone.
        """
        settings = self.runner.request(user_id, self.client.settings)
        name = settings.get("timeZone")
        if not isinstance(name, str) or not name:
            raise ValueError("the settings name no timeZone")
        time_zone(name)
        return name


def _failure_reason(err: Exception) -> str:
    if isinstance(err, calls.CallFailed):
        v = err.verdict
        status = f"HTTP {v.status} " if v.status else ""
        tries = "attempt" if err.attempts == 1 else "attempts"
        return f"{status}{v.reason} after {err.attempts} {tries}: {v.message[:200]}"
    return f"{type(err).__name__}: {str(err)[:200]}"


def _make_broker(config: EnqueueConfig) -> TokenBroker:
    try:
        return broker_for(config.token_store, config.token_url)
    except ValueError as err:
        raise OptionsError(
            "token_store", config.token_store, str(err), TOKEN_STORE_EXAMPLE
        ) from None


def plan(
    config: EnqueueConfig,
    now_utc: dt.datetime,
    time_zones: Callable[[str], str] | None,
    err: Callable[[str], None],
) -> tuple[list[Planned], list[Failure]]:
    """Each user's civil date; users whose time zone cannot be read become failures.

    Time zones are read one user after another (one settings call each), and
    each failure is reported through `err` as it happens.
    """
    if config.fixed_date is not None:
        return [Planned(u, config.fixed_date, None) for u in config.users], []
    if time_zones is None:
        raise ValueError(f"--date={config.date} needs a time zone reader")
    planned, failures = [], []
    for user in config.users:
        try:
            zone = time_zones(user)
        except (calls.CallFailed, ValueError) as error:
            failure = Failure(user, "settings", f"time zone not read: {_failure_reason(error)}")
            failures.append(failure)
            err(f"{user}: not enqueued: {failure.reason}")
            continue
        planned.append(Planned(user, RELATIVE[config.date](now_utc, zone), zone))
    return planned, failures


def publish(
    config: EnqueueConfig,
    planned: Sequence[Planned],
    publisher: Callable[[], object],
    out: Callable[[str], None],
    err: Callable[[str], None],
) -> tuple[list[tuple[Planned, str]], list[Failure]]:
    """Publishes one message per planned user and waits for every one."""
    if not planned:
        return [], []
    client = publisher()
    pending, published, failures = [], [], []

    def failed(p: Planned, error: Exception) -> None:
        failure = Failure(p.user_id, "publish", f"publish failed: {_failure_reason(error)}")
        failures.append(failure)
        err(f"{p.user_id}: not enqueued: {failure.reason}")

    try:
        for p in planned:
            data = request_message(p.user_id, p.date, config.data_types)
            try:
                future = client.publish(config.topic, data, user_id=p.user_id, origin=ORIGIN)
            except Exception as error:  # reported per user; the others still go
                failed(p, error)
                continue
            pending.append((p, future))
        for p, future in pending:
            try:
                message_id = future.result(timeout=PUBLISH_TIMEOUT_SECONDS)
            except Exception as error:  # reported per user; the others still go
                failed(p, error)
                continue
            published.append((p, message_id))
            out(f"{p.describe()} -> message id {message_id}")
    finally:
        stop = getattr(client, "stop", None)
        if stop is not None:
            stop()
    return published, failures


def _pubsub_publisher():
    from google.cloud import pubsub_v1

    return pubsub_v1.PublisherClient()


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def run(
    argv: list[str],
    now: Callable[[], dt.datetime] = _utc_now,
    publisher: Callable[[], object] = _pubsub_publisher,
    out: Callable[[str], None] = print,
    err: Callable[[str], None] = _stderr,
    broker_factory: Callable[[], TokenBroker] | None = None,
    time_zones: Callable[[str], str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> EnqueueResult:
    """Resolves each user's date and publishes (or prints) their messages.

    Args:
        argv: the command-line flags.
        now: the current instant, timezone-aware (test seam).
        publisher: makes the Pub/Sub publisher: `.publish(topic, data, **attributes)`
            returns a future whose `result()` is the message id.
        out: where per-user lines and the summary go.
        err: where failures go.
        broker_factory: builds the token broker (test seam; default: from --token_store).
        time_zones: user key -> IANA zone name (test seam; default: the settings route).
        sleep: waits between retries (test seam).

    Returns:
        What was published and what failed; `exit_code` is 1 when anything failed.

    Raises:
        OptionsError: a bad option; nothing has been read or published.
    """
    now_utc = now()
    config = resolve(build_parser().parse_args(argv), now_utc)
    session = None
    if config.fixed_date is None and time_zones is None:
        oauth.check_transport(config.api_base_url, config.token_url)
        broker = broker_factory() if broker_factory else _make_broker(config)
        session = requests.Session()
        runner = calls.CallRunner(
            broker=broker,
            limiter=UserRateLimiter(QUOTA_PER_MINUTE, sleep=sleep),
            policy=RetryPolicy(),
            sleep=sleep,
        )
        time_zones = SettingsTimeZones(runner, HealthApiClient(session, config.api_base_url))
    try:
        planned, failures = plan(config, now_utc, time_zones, err)
    finally:
        if session is not None:
            session.close()
    _LOGGER.info(
        "enqueue %s at %s: %d users planned, %d failed",
        config.date,
        now_utc.isoformat(),
        len(planned),
        len(failures),
    )
    total = len(config.users)
    published: list[tuple[Planned, str]] = []
    if config.dry_run:
        for p in planned:
            data = request_message(p.user_id, p.date, config.data_types)
            out(f"{p.describe()} -> would publish {data.decode('utf-8')}")
        summary = f"dry run: {len(planned)} of {total} messages not published to {config.topic}"
    else:
        published, publish_failures = publish(config, planned, publisher, out, err)
        failures += publish_failures
        summary = f"published {len(published)} of {total} messages to {config.topic}"
    if failures:
        names = ", ".join(f.user_id for f in failures)
        summary += f"; {len(failures)} failed: {names}"
    out(summary)
    return EnqueueResult(tuple(published), tuple(planned), tuple(failures), config.dry_run)


def main(argv: list[str] | None = None) -> int:
    """`fitbeam enqueue`: 0 when every user's message went out, 1 otherwise, 2 on bad options."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        return run(argv).exit_code
    except OptionsError as error:
        _stderr(f"fitbeam enqueue: {error}")
        return EXIT_BAD_OPTIONS
    except SystemExit as exit_:  # argparse: --help, or a flag it does not know
        return int(exit_.code or 0)


if __name__ == "__main__":
    logs.configure()
    sys.exit(main())
