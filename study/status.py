"""Each participant now: consent, last load and sync, battery, wear, dead letters.

`participant_statuses(client, "my-project:fitbit", token_store=..., dead_letter_root=...)`
returns one `study.model.ParticipantStatus` per participant, who needs
attention first. `fitbeam status` prints them (commands/status.py).

Where each field comes from (docs/study.md says more):

- participants: every user in `load_windows`, and every user a dead letter
  names (one whose first load failed has no load yet). Neither token store
  can list its users, so a consented participant never loaded is not shown.
- consent: `withdrawn` when the token store holds a withdrawal; otherwise
  `consent_needed` when the store has no token, or when a NEEDS_CONSENT dead
  letter is newer than the user's last successful load; otherwise `active`.
- last_load: the newest `loaded_at` of the user's rows in `load_windows`.
- last_sync, device, battery: of the user's newest `paired_devices` snapshot,
  the tracker that synced last (a scale's sync says nothing of the wearable).
- days with data and valid days: over the last 7 and 30 complete civil days in
  the participant's time zone, from `participant_days`: a day has data when
  any table has a row that day, and is valid when `worn_minutes` reaches the
  valid-day rule (600 minutes by default, configurable). Too few valid days is
  fewer than 4 of the last 7, or than the days of them that were loaded.
- open dead letters (`is_open`): a letter whose failed call's table and
  window have not all been loaded again since the letter was written; a letter
  without a window stays open until any later load of the user.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from healthapi.calls import NEEDS_CONSENT
from healthapi.elements import ApiCall
from schemas.bigquery import LOAD_LOG_TABLE
from schemas.study_views import PARTICIPANT_DAYS
from schemas.views import view_name
from study import days as study_days
from study.files import Root
from study.model import (
    CONSENT_ACTIVE,
    CONSENT_NEEDED,
    CONSENT_WITHDRAWN,
    DEFAULT_VALID_DAY_MINUTES,
    ParticipantStatus,
)

_LOGGER = logging.getLogger(__name__)

# Attention thresholds.
NO_SYNC_DAYS = 3  # no device sync for this many days
LOW_BATTERY_PERCENT = 20  # at or below, or status Low or Empty
NO_DATA_DAYS = 3  # no data on any of the last this many complete days
# Fewer valid days than this in the last 7 (a common 4-of-7 rule), or than the days
# loaded of them when fewer were (a participant enrolled 3 days ago can have 3).
MIN_VALID_DAYS_7 = 4

# Attention reasons, most urgent first: the first words of each reason.
URGENCY = (
    "withdrawn",
    "consent needed",
    "no sync",
    "battery",
    "no data",
    "valid days",
    "open dead letter",
)


@dataclasses.dataclass(frozen=True)
class Load:
    """One load of a user's window (a `load_windows` row)."""

    table: str
    stream: str
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    loaded_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class Letter:
    """What status needs of a dead letter."""

    user_key: str
    timestamp: dt.datetime
    error_class: str
    table: str = ""
    stream: str = ""
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None

    @property
    def has_window(self) -> bool:
        return bool(self.table) and self.window_start is not None and self.window_end is not None


@dataclasses.dataclass(frozen=True)
class Device:
    """One paired device of the newest snapshot."""

    device_type: str | None
    device_version: str | None
    battery_level: int | None
    battery_status: str | None
    last_sync: dt.datetime | None


def as_utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def parse_time(text: str) -> dt.datetime:
    """An RFC 3339 time (`...Z` or with an offset) as an aware UTC datetime."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    head, sep, rest = value.partition(".")
    if sep:  # Python takes at most 6 fraction digits
        digits = len(rest) - len(rest.lstrip("0123456789"))
        rest = rest[: min(digits, 6)] + rest[digits:]
        value = f"{head}.{rest}"
    return as_utc(dt.datetime.fromisoformat(value))


def _civil(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text if "T" in text else f"{text}T00:00:00")


def letter_from_json(record: Mapping) -> Letter | None:
    """A dead letter's JSON object as a Letter; None without a user or a readable time.

    The failed call's table and civil window are read from `original` when it is
    a list or summary call; a request, a row or a user-level call has no window.
    """
    user_key = record.get("user_key")
    timestamp = record.get("timestamp")
    if not isinstance(user_key, str) or not user_key or not isinstance(timestamp, str):
        return None
    try:
        moment = parse_time(timestamp)
    except ValueError:
        return None
    letter = Letter(user_key, moment, str(record.get("error_class") or ""))
    original = record.get("original")
    if isinstance(original, dict) and original.get("kind") in ("list", "summary"):
        try:
            from rows.load_windows import load_table

            call = ApiCall.from_json(original)
            return dataclasses.replace(
                letter,
                table=load_table(call),
                stream=call.stream,
                window_start=_civil(call.start),
                window_end=_civil(call.end),
            )
        except (ValueError, KeyError):
            return letter
    return letter


def read_letters(root: str) -> list[Letter]:
    """Every dead letter under `<root>/<run_id>/*.jsonl` that names a user."""
    folder = Root(root)
    letters = []
    for name in folder.list(".jsonl"):
        for line in folder.read(name).decode("utf-8", "replace").splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                _LOGGER.warning("a line of %s is not JSON; skipped", name)
                continue
            letter = letter_from_json(record) if isinstance(record, dict) else None
            if letter is not None:
                letters.append(letter)
    return letters


def is_open(letter: Letter, loads: Iterable[Load]) -> bool:
    """Whether a dead letter still stands, given the user's loads.

    A letter with a window is closed once loads of its table and stream made
    after it cover its whole civil window (one load or several side by side);
    a letter without one is closed by any load of the user made after it.
    """
    later = [load for load in loads if as_utc(load.loaded_at) > letter.timestamp]
    if not letter.has_window:
        return not later
    spans = sorted(
        (load.window_start, load.window_end)
        for load in later
        if load.table == letter.table
        and load.stream == letter.stream
        and load.window_start is not None
        and load.window_end is not None
    )
    reached = letter.window_start
    for start, end in spans:
        if start > reached:
            break
        reached = max(reached, end)
        if reached >= letter.window_end:
            return False
    return True


def consent_state(
    *,
    token_present: bool | None,
    withdrawn_at: str | None,
    letters: Iterable[Letter],
    last_load: dt.datetime | None,
) -> tuple[str, str]:
    """(consent state, detail) of one user.

    Args:
        token_present: whether the token store holds a token; None when no store
            was given.
        withdrawn_at: the store's withdrawal time (RFC 3339), or None.
        letters: the user's dead letters.
        last_load: the user's latest successful load.
    """
    if withdrawn_at:
        return CONSENT_WITHDRAWN, f"withdrawn {withdrawn_at[:10]}"
    if token_present is False:
        return CONSENT_NEEDED, "no token in the store"
    lost = [
        letter.timestamp
        for letter in letters
        if letter.error_class == NEEDS_CONSENT
        and (last_load is None or letter.timestamp > as_utc(last_load))
    ]
    if lost:
        return CONSENT_NEEDED, f"{NEEDS_CONSENT} on {max(lost).date().isoformat()}"
    if token_present is None:
        return CONSENT_ACTIVE, "token store not checked"
    return CONSENT_ACTIVE, ""


def wearable(devices: Iterable[Device]) -> Device | None:
    """The device whose sync and battery stand for the participant.

    Trackers first (a scale syncs on its own), then the one that synced last.
    """
    devices = list(devices)
    if not devices:
        return None
    trackers = [d for d in devices if (d.device_type or "").upper() == "TRACKER"] or devices
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    return max(trackers, key=lambda d: as_utc(d.last_sync) if d.last_sync else epoch)


def complete_days(now: dt.datetime, time_zone: str | None, count: int) -> list[dt.date]:
    """The last `count` complete civil days before `now` in the zone (UTC if unknown)."""
    try:
        zone = ZoneInfo(time_zone) if time_zone else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    today = as_utc(now).astimezone(zone).date()
    return [today - dt.timedelta(days=k) for k in range(1, count + 1)]


def attention(
    *,
    consent: str,
    last_sync: dt.datetime | None,
    battery_level: int | None,
    battery_status: str | None,
    days_with_data_recent: int,
    valid_days_7: int,
    open_dead_letters: int,
    now: dt.datetime,
    loaded_days_7: int = 7,
) -> tuple[str, ...]:
    """Why a participant needs attention, most urgent first (`URGENCY`); () when fine.

    A withdrawn participant needs nothing more than that said.

    Args:
        days_with_data_recent: days with data of the last `NO_DATA_DAYS` complete days.
        loaded_days_7: of the last 7 complete days, those in participant_days (loaded).
    """
    if consent == CONSENT_WITHDRAWN:
        return ("withdrawn",)
    reasons = []
    if consent == CONSENT_NEEDED:
        reasons.append("consent needed")
    if last_sync is not None:
        idle = as_utc(now) - as_utc(last_sync)
        if idle >= dt.timedelta(days=NO_SYNC_DAYS):
            reasons.append(f"no sync for {idle.days} days")
    status = (battery_status or "").capitalize()
    if status in ("Low", "Empty") or (
        battery_level is not None and battery_level <= LOW_BATTERY_PERCENT
    ):
        level = f" {battery_level}%" if battery_level is not None else ""
        reasons.append(f"battery {status or 'low'}{level}".rstrip())
    if days_with_data_recent == 0:
        reasons.append(f"no data for {NO_DATA_DAYS} days")
    if valid_days_7 < min(MIN_VALID_DAYS_7, loaded_days_7):
        reasons.append(f"valid days {valid_days_7}/{loaded_days_7}")
    if open_dead_letters:
        plural = "s" if open_dead_letters != 1 else ""
        reasons.append(f"{open_dead_letters} open dead letter{plural}")
    return tuple(reasons)


def urgency(status: ParticipantStatus) -> int:
    """The rank of a status's most urgent reason (0 = most urgent); len(URGENCY) if fine."""
    if not status.attention:
        return len(URGENCY)
    first = status.attention[0]
    for rank, start in enumerate(URGENCY):
        if first.startswith(start) or start in first:
            return rank
    return len(URGENCY) - 1


def sort_statuses(statuses: Iterable[ParticipantStatus]) -> list[ParticipantStatus]:
    """Who needs attention first (most urgent reason first), then by user key."""
    return sorted(statuses, key=lambda s: (urgency(s), s.user_key))


def _query(client, query: str, params: list | None = None) -> list:
    from google.cloud import bigquery

    config = bigquery.QueryJobConfig(query_parameters=params or [])
    return list(client.query(query, job_config=config).result())


def _last_loads(client, dataset: str) -> dict[str, dt.datetime]:
    rows = _query(
        client,
        "SELECT user_key, MAX(loaded_at) AS last_load\n"
        f"FROM {study_days.table_ref(dataset, LOAD_LOG_TABLE)}\nGROUP BY user_key",
    )
    return {r["user_key"]: as_utc(r["last_load"]) for r in rows}


def _loads_since(
    client, dataset: str, users: list[str], since: dt.datetime
) -> dict[str, list[Load]]:
    from google.cloud import bigquery

    if not users:
        return {}
    rows = _query(
        client,
        "SELECT user_key, table_name, stream, window_start, window_end,\n"
        "  MAX(loaded_at) AS loaded_at\n"
        f"FROM {study_days.table_ref(dataset, LOAD_LOG_TABLE)}\n"
        "WHERE user_key IN UNNEST(@users) AND loaded_at > @since\n"
        "GROUP BY user_key, table_name, stream, window_start, window_end",
        [
            bigquery.ArrayQueryParameter("users", "STRING", users),
            bigquery.ScalarQueryParameter("since", "TIMESTAMP", since),
        ],
    )
    out: dict[str, list[Load]] = {}
    for r in rows:
        out.setdefault(r["user_key"], []).append(
            Load(r["table_name"], r["stream"], r["window_start"], r["window_end"], r["loaded_at"])
        )
    return out


def _devices(client, dataset: str) -> dict[str, list[Device]]:
    rows = _query(
        client,
        "SELECT user_key, device_type, device_version, battery_level, battery_status,\n"
        "  last_sync_time\n"
        f"FROM {study_days.table_ref(dataset, view_name('paired_devices'))}",
    )
    out: dict[str, list[Device]] = {}
    for r in rows:
        out.setdefault(r["user_key"], []).append(
            Device(
                r["device_type"],
                r["device_version"],
                r["battery_level"],
                r["battery_status"],
                as_utc(r["last_sync_time"]) if r["last_sync_time"] else None,
            )
        )
    return out


def _recent_days(client, dataset: str, now: dt.datetime) -> dict[str, list[Mapping]]:
    from google.cloud import bigquery

    today = as_utc(now).date()
    rows = _query(
        client,
        "SELECT user_key, civil_date, time_zone, worn_minutes,\n"
        "  ARRAY_LENGTH(data_types) AS type_count\n"
        f"FROM {study_days.table_ref(dataset, PARTICIPANT_DAYS)}\n"
        "WHERE civil_date BETWEEN @first AND @last",
        [
            bigquery.ScalarQueryParameter("first", "DATE", today - dt.timedelta(days=32)),
            bigquery.ScalarQueryParameter("last", "DATE", today + dt.timedelta(days=1)),
        ],
    )
    out: dict[str, list[Mapping]] = {}
    for r in rows:
        out.setdefault(r["user_key"], []).append(dict(r))
    return out


def day_counts(
    rows: list[Mapping], now: dt.datetime, valid_day_minutes: int, time_zone: str | None
) -> dict[str, int]:
    """Days loaded, with data and valid over the last 3, 7 and 30 complete days.

    Args:
        rows: the user's participant_days rows (civil_date, worn_minutes, type_count).
        time_zone: the user's zone, for which days are complete (UTC if None).
    """
    by_date = {r["civil_date"]: r for r in rows}
    out = {}
    for count in (NO_DATA_DAYS, 7, 30):
        window = [by_date[d] for d in complete_days(now, time_zone, count) if d in by_date]
        out[f"loaded_{count}"] = len(window)
        out[f"data_{count}"] = sum(1 for r in window if (r["type_count"] or 0) > 0)
        out[f"valid_{count}"] = sum(1 for r in window if r["worn_minutes"] >= valid_day_minutes)
    return out


def _token_facts(store, user_key: str) -> tuple[bool | None, str | None]:
    if store is None:
        return None, None
    withdrawn_at = store.withdrawal(user_key)
    return store.load(user_key) is not None, withdrawn_at


def participant_statuses(
    client,
    dataset: str,
    *,
    token_store=None,
    dead_letter_root: str | None = None,
    valid_day_minutes: int = DEFAULT_VALID_DAY_MINUTES,
    now: dt.datetime | None = None,
) -> list[ParticipantStatus]:
    """Every participant's status, who needs attention first (see the module docstring).

    Args:
        client: a google.cloud.bigquery.Client.
        dataset: `project:dataset`.
        token_store: a healthapi.auth.store.TokenStore, or None (consent is then
            read from dead letters alone).
        dead_letter_root: the run's `--dead_letter_root` (local or gs://), or None.
        valid_day_minutes: worn minutes that make a valid day.
        now: the present (UTC), for tests; the clock's by default.

    Raises:
        ValueError: a malformed dataset or a valid-day rule outside 1..1500.
        google.api_core.exceptions.GoogleAPICallError: BigQuery refused.
    """
    if not 1 <= valid_day_minutes <= 1500:
        raise ValueError(
            f"valid-day minutes {valid_day_minutes} must be 1 to 1500, e.g. 600 (10 hours)"
        )
    now = as_utc(now) if now else dt.datetime.now(dt.UTC)
    study_days.split_dataset(dataset)
    letters_by_user: dict[str, list[Letter]] = {}
    for letter in read_letters(dead_letter_root) if dead_letter_root else []:
        letters_by_user.setdefault(letter.user_key, []).append(letter)
    last_loads = _last_loads(client, dataset)
    since = min((x.timestamp for ls in letters_by_user.values() for x in ls), default=now)
    loads = _loads_since(client, dataset, sorted(letters_by_user), since)
    devices = _devices(client, dataset)
    recent = _recent_days(client, dataset, now)
    statuses = []
    for user_key in sorted(set(last_loads) | set(letters_by_user)):
        letters = letters_by_user.get(user_key, [])
        last_load = last_loads.get(user_key)
        token_present, withdrawn_at = _token_facts(token_store, user_key)
        consent, detail = consent_state(
            token_present=token_present,
            withdrawn_at=withdrawn_at,
            letters=letters,
            last_load=last_load,
        )
        device = wearable(devices.get(user_key, ()))
        rows = recent.get(user_key, [])
        zone = next((r["time_zone"] for r in rows if r["time_zone"]), None)
        counts = day_counts(rows, now, valid_day_minutes, zone)
        open_letters = sum(1 for x in letters if is_open(x, loads.get(user_key, ())))
        fields = dict(
            last_sync=device.last_sync if device else None,
            battery_level=device.battery_level if device else None,
            battery_status=device.battery_status if device else None,
        )
        statuses.append(
            ParticipantStatus(
                user_key=user_key,
                consent=consent,
                consent_detail=detail,
                last_load=last_load,
                device=device.device_version if device else None,
                days_with_data_7=counts["data_7"],
                days_with_data_30=counts["data_30"],
                valid_days_7=counts["valid_7"],
                valid_days_30=counts["valid_30"],
                open_dead_letters=open_letters,
                attention=attention(
                    consent=consent,
                    days_with_data_recent=counts[f"data_{NO_DATA_DAYS}"],
                    valid_days_7=counts["valid_7"],
                    loaded_days_7=counts["loaded_7"],
                    open_dead_letters=open_letters,
                    now=now,
                    **fields,
                ),
                **fields,
            )
        )
    return sort_statuses(statuses)
