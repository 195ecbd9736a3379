"""Reads the original system's archive of legacy Fitbit Web API responses.

The system fitbeam replaces saved every raw response it fetched to GCS as
`{endpoint}/{YYYYMMDD}/{[logId_]endpoint_userId}.{json|tcx}`: one response per endpoint,
user and day (the TCX of an exercise per exercise). This module turns one such file into
`history.units.ImportUnit`s. Pure and Beam-free; `transforms.imports` calls `classify`
per member and `parse` per file.

Usage::

    kind = classify("get_sleep_by_date/20261101/get_sleep_by_date_A1B2C3.json")  # "sleep"
    fitbit_id = legacy_user_id(path)  # "A1B2C3": look up the user_key and zone with it
    for unit in parse(path, data, ParseContext(user_key, ZoneInfo(zone), source)):
        ...

What each endpoint becomes (legacy values go to today's columns where they mean the same
thing, through API-shaped reconciled points and `rows.datapoints.rows_for_point`; the rest
to the `legacy_*` tables, whose rows are complete but for run_id, ingest_time and load_id,
which are None):

- get_heart_rate_by_date: `heart-rate` points (the intraday dataset, one per sample),
  a `daily-resting-heart-rate` point, and a `legacy_heart_rate_zones` row (Out of
  Range/Fat Burn/Cardio/Peak limits, minutes and calories: not the API's
  LIGHT/MODERATE/VIGOROUS/PEAK zones, so not daily_heart_rate_zones).
- get_activity_summary_by_date: `exercise` points (one per logged activity, id = its
  logId) and a `legacy_daily_activity` row (the day's totals, activity-level minutes,
  distances per activity, goals, activeScore, marginalCalories).
- get_sleep_by_date (v1.2): `sleep` points with stages (levels.data) and short
  awakenings (levels.shortData), and a `legacy_sleep` row (efficiency, infoCode, logType,
  thirty-day averages).
- get_body_weight_by_date: `weight` points and a `legacy_weight` row (BMI, log source).
- get_cardio_score_by_date: a `daily-vo2-max` point when vo2Max is one number; a
  `legacy_cardio_score` row when it is a range ("44-48").
- get_activity_tcx_by_id: `exercise_tcx_trackpoints` rows (`rows.tcx.trackpoint_rows`),
  a unit by exercise (`data_point_id` = the logId; the parent exercise row comes from the
  day's activity summary, stream reconciled).

Columns of today's tables the legacy responses do not carry are NULL (empty for repeated
columns), never invented:

- heart_rate: motion_context, sensor_location.
- daily_resting_heart_rate: calculation_method.
- daily_vo2_max: cardio_fitness_level, estimated, vo2_max_covariance.
- sleep: is_nap, is_processed, is_manually_edited, stages_status; out_of_bed_segments
  is empty. is_main_sleep is true for the main sleep and NULL otherwise, as the API
  leaves a false flag out.
- exercise: active_duration_seconds, has_gps, pool_length_millimeters, notes,
  average_heart_rate_bpm, active_zone_minutes, elevation_gain_millimeters,
  average_speed_millimeters_per_second, average_pace_seconds_per_meter, run_vo2_max,
  total_swim_lengths, the heart_rate_zone_*_seconds, the mobility metrics;
  exercise_events is empty. calories_kcal is in whole kilocalories, as the legacy
  summary gives them.
- weight: notes.
- every row: the source_* columns (the legacy API named no source; its answers merged
  the user's devices, so rows are stream 'reconciled').

Skipped on purpose: the summary's restingHeartRate and heartRateZones (the heart-rate
response of the same day carries both), the sleep response's top-level summary (totals
of the day's logs) and each log's duration (end minus start), the activities'
activityParentId/Name, description, lastModified, isFavorite, hasStartTime and
hasActiveZoneMinutes flags, the weight's `fat` (body fat has its own endpoint), the
TCX's laps beyond what exercise_tcx_trackpoints keeps. Endpoints the seed saved but never
parsed (`get_activity_details_by_id`, `get_heart_rate_variablity_by_date`) are
`Skipped('unknown')`.

Times: sleep, intraday, weight and activity start times are local wall-clock times
without an offset: made instants with `history.units.utc_instants` in the user's zone,
in file order, so the hour repeated when clocks go back is told apart by its place in the
file. Sleep stages are placed by their start times and lengths; a sleep belongs to the
date it ended on (its dateOfSleep, the folder's date). Short awakenings (levels.shortData)
are a list of their own: in the repeated hour, one is read as the second pass only when
an earlier one of that hour, with a later wall-clock time, precedes it in the list (a
lone awakening in the second pass is read as the first). TCX times carry an offset.
Distances are kilometres (the archive's requests sent no Accept-Language), weights
kilograms.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

from history.units import (
    ImportUnit,
    MalformedFile,
    ParseContext,
    Skipped,
    date_json,
    interval,
    offset_seconds,
    rfc3339,
    utc_instants,
    utc_offset,
)
from rows.keys import SOURCE_COLUMNS, record_key
from rows.tcx import TcxError, trackpoint_rows
from rows.values import RowContext, RowError

__all__ = [
    "ACTIVITY_TYPES",
    "LAYOUT",
    "LEGACY_TABLES",
    "LEGACY_WINDOW_COLUMN",
    "classify",
    "legacy_user_id",
    "parse",
]

LAYOUT = "legacy"

STREAM = "reconciled"
UTC = dt.UTC

LEGACY_TABLES = (
    "legacy_daily_activity",
    "legacy_heart_rate_zones",
    "legacy_sleep",
    "legacy_cardio_score",
    "legacy_weight",
)

# The civil time each legacy table's rows are windowed on (as schemas.views.WINDOW_COLUMN):
# every legacy row belongs to the day of the file it came from.
LEGACY_WINDOW_COLUMN: dict[str, str] = dict.fromkeys(LEGACY_TABLES, "DATETIME(t.civil_date)")

# Endpoint -> what classify says the file holds (its main data type or legacy table).
_ENDPOINTS = {
    "get_activity_summary_by_date": "legacy_daily_activity",
    "get_heart_rate_by_date": "heart-rate",
    "get_body_weight_by_date": "weight",
    "get_cardio_score_by_date": "daily-vo2-max",
    "get_sleep_by_date": "sleep",
    "get_activity_tcx_by_id": "exercise_tcx_trackpoints",
}
# Saved by the seed but never parsed by it, nor here.
_UNREAD_ENDPOINTS = frozenset({"get_activity_details_by_id", "get_heart_rate_variablity_by_date"})
_PATH = re.compile(
    r"(?:^|/)(?P<endpoint>[a-z0-9_]+)/(?P<day>[0-9]{8})/"
    r"(?:(?P<log_id>[0-9]+)_)?(?P=endpoint)_(?P<user>[A-Za-z0-9]+)\.(?P<ext>json|tcx)$"
)

# Legacy activity ids of the kinds of exercise the API names (activityId -> exerciseType);
# any other activity is OTHER, whose displayName is the activity's own name.
ACTIVITY_TYPES: dict[int, str] = {
    90009: "RUNNING",
    90013: "WALKING",
    90001: "BIKING",
    90024: "SWIMMING",
    52001: "YOGA",
    2050: "WEIGHTLIFTING",
}

# Legacy sleep levels -> the API's stage types.
_LEVELS = {
    "wake": "AWAKE",
    "light": "LIGHT",
    "deep": "DEEP",
    "rem": "REM",
    "asleep": "ASLEEP",
    "restless": "RESTLESS",
    "awake": "AWAKE",
}
# The API's order of stage totals (stagesSummary).
_STAGE_ORDER = ("AWAKE", "LIGHT", "DEEP", "REM", "ASLEEP", "RESTLESS")
_NULL_SOURCES = dict.fromkeys(SOURCE_COLUMNS)
_UNSTAMPED = {"run_id": None, "ingest_time": None, "load_id": None}
# trackpoint_rows needs a run; its run columns are cleared again (the import stamps them).
_PLACEHOLDER_RUN = dict(run_id="legacy-import", ingest_time=dt.datetime(1970, 1, 1, tzinfo=UTC))


# --------------------------------------------------------------------------- paths


def _match(path: str) -> re.Match | None:
    return _PATH.search(path)


def classify(path: str) -> str | Skipped | None:
    """What an archive member holds, from its path alone.

    Returns:
        The data type or legacy table the endpoint's file mainly holds (`sleep`,
        `heart-rate`, `legacy_daily_activity`, ...); `Skipped(path, 'unknown')` for an
        endpoint of the archive that fitbeam does not read; None for a path that is not
        `{endpoint}/{YYYYMMDD}/{[logId_]endpoint_userId}.{json|tcx}`.
    """
    found = _match(path)
    if found is None:
        return None
    endpoint = found["endpoint"]
    kind = _ENDPOINTS.get(endpoint)
    if kind is None:
        return Skipped(path, "unknown") if endpoint in _UNREAD_ENDPOINTS else None
    is_tcx = endpoint == "get_activity_tcx_by_id"
    if (found["ext"] == "tcx") != is_tcx or (found["log_id"] is not None) != is_tcx:
        return None
    return kind


def legacy_user_id(path: str) -> str:
    """The encoded Fitbit user id a legacy file is named after (`..._A1B2C3.json`).

    Raises:
        ValueError: the path is not a legacy archive file.
    """
    found = _match(path)
    if found is None:
        raise ValueError(
            f"not a legacy archive path such as "
            f"get_sleep_by_date/20261101/get_sleep_by_date_A1B2C3.json: {path!r:.200}"
        )
    return found["user"]


# --------------------------------------------------------------------------- values


class _Reader:
    """Checked reads of one file's JSON, each error naming the file and the field."""

    def __init__(self, name: str):
        self.name = name

    def fail(self, where: str, what: str) -> MalformedFile:
        return MalformedFile(f"{self.name}: {where}: {what}")

    def obj(self, value: Any, where: str) -> dict:
        if type(value) is not dict:
            raise self.fail(where, _expected("a JSON object", value))
        return value

    def list(self, value: Any, where: str, optional: bool = False) -> list:
        if value is None and optional:
            return []
        if type(value) is not list:
            raise self.fail(where, _expected("a list", value))
        return value

    def int(self, value: Any, where: str, optional: bool = False) -> int | None:
        if value is None and optional:
            return None
        if type(value) is int:
            return value
        if type(value) is float and value.is_integer():
            return int(value)
        raise self.fail(where, _expected("a whole number", value))

    def float(self, value: Any, where: str, optional: bool = False) -> float | None:
        if value is None and optional:
            return None
        if type(value) in (int, float) and math.isfinite(value):
            return float(value)
        raise self.fail(where, _expected("a number", value))

    def str(self, value: Any, where: str, optional: bool = False) -> str | None:
        if value is None and optional:
            return None
        if type(value) is str:
            return value
        raise self.fail(where, _expected("a string", value))

    def bool(self, value: Any, where: str, optional: bool = False) -> bool | None:
        if value is None and optional:
            return None
        if type(value) is bool:
            return value
        raise self.fail(where, _expected("true or false", value))

    def local(self, value: Any, where: str) -> dt.datetime:
        """A local `yyyy-MM-ddTHH:mm:ss[.SSS]` without an offset."""
        text = self.str(value, where)
        try:
            if len(text) < 19 or text[10] != "T":
                raise ValueError(text)
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise self.fail(
                where, f"expected a local time such as 2026-11-01T23:12:30.000, got {text!r:.40}"
            ) from None
        if moment.tzinfo is not None:
            raise self.fail(where, f"expected a local time without an offset, got {text!r:.40}")
        return moment

    def clock(self, day: dt.date, value: Any, where: str, seconds: bool = True) -> dt.datetime:
        """`HH:mm:ss` (or `HH:mm`) on `day`."""
        text = self.str(value, where)
        shape = r"[0-9]{2}:[0-9]{2}:[0-9]{2}" if seconds else r"[0-9]{2}:[0-9]{2}"
        try:
            if not re.fullmatch(shape, text):
                raise ValueError(text)
            return dt.datetime.combine(day, dt.time.fromisoformat(text))
        except ValueError:
            form = "HH:mm:ss" if seconds else "HH:mm"
            raise self.fail(where, f"expected a time {form}, got {text!r:.40}") from None

    def date(self, value: Any, where: str) -> dt.date:
        text = self.str(value, where)
        try:
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
                raise ValueError(text)
            return dt.date.fromisoformat(text)
        except ValueError:
            raise self.fail(where, f"expected a date yyyy-MM-dd, got {text!r:.40}") from None


def _expected(what: str, value: Any) -> str:
    if value is None:
        return f"missing (expected {what})"
    return f"expected {what}, got {type(value).__name__} {str(value)[:40]!r}"


def _point_name(data_type: str, log_id: int | str) -> str:
    return f"users/-/dataTypes/{data_type}/dataPoints/{log_id}"


def _legacy_row(table: str, user_key: str, day: dt.date, values: dict) -> dict:
    """A legacy table's row: common columns, values, record_key; run columns unstamped."""
    row = {"user_key": user_key, "civil_date": day, "stream": STREAM, **values}
    row["record_key"] = record_key(table, {**_NULL_SOURCES, **row})
    row.update(_UNSTAMPED)
    return row


# --------------------------------------------------------------------------- parse


def parse(path: str, data: bytes, ctx: ParseContext) -> Iterator[ImportUnit | Skipped]:
    """One archive file -> units of API-shaped points and of legacy table rows.

    Args:
        path: the member's path (`{endpoint}/{YYYYMMDD}/{[logId_]endpoint_userId}.{ext}`).
        data: the file's bytes.
        ctx: whose file it is and the zone of its local times.

    Yields:
        `ImportUnit`s (a one-day window `[day 00:00, day+1 00:00)`, or by exercise for
        a TCX), or `Skipped(source, 'empty')` for a response with no entries.

    Raises:
        MalformedFile: the file is not a readable response of its endpoint: not JSON or
            TCX, an error response (`{"errors": [...], "success": false}`, named by its
            errorType), a missing or mistyped field, a bad time or value.
    """
    found = _match(path)
    name = ctx.source or path
    if found is None or _ENDPOINTS.get(found["endpoint"]) is None:
        raise MalformedFile(f"{name}: not a legacy archive file fitbeam reads")
    try:
        day = dt.datetime.strptime(found["day"], "%Y%m%d").date()
    except ValueError:
        raise MalformedFile(f"{name}: the folder {found['day']!r} is not a date") from None
    reader = _Reader(name)
    emitted = False
    try:
        for unit in _units(reader, found, day, data, ctx):
            emitted = True
            yield unit
    except RecursionError:
        raise MalformedFile(f"{name}: nested too deeply to read") from None
    except OverflowError:
        raise MalformedFile(f"{name}: a date, time or number out of range") from None
    except UnicodeError:
        raise MalformedFile(f"{name}: a text value is not valid Unicode") from None
    if not emitted:
        yield Skipped(ctx.source, "empty")


def _units(
    reader: _Reader, found: re.Match, day: dt.date, data: bytes, ctx: ParseContext
) -> Iterator[ImportUnit]:
    endpoint = found["endpoint"]
    if endpoint == "get_activity_tcx_by_id":
        return _tcx(reader, found["log_id"], data, ctx)
    return _PARSERS[endpoint](reader, _json(reader, data), day, ctx)


def _json(reader: _Reader, data: bytes) -> dict:
    try:
        body = json.loads(data)
    except (ValueError, TypeError) as err:  # UnicodeDecodeError is a ValueError
        raise MalformedFile(f"{reader.name}: not JSON: {str(err)[:80]}") from None
    if type(body) is dict and ("errors" in body or body.get("success") is False):
        errors = body.get("errors")
        kinds = (
            [e.get("errorType") for e in errors if type(e) is dict] if type(errors) is list else []
        )
        named = ", ".join(str(k)[:40] for k in kinds if k) or "no errorType"
        raise MalformedFile(f"{reader.name}: an error response, not data (errorType {named})")
    return reader.obj(body, "the response")


def _window(day: dt.date) -> tuple[str, str]:
    return f"{day.isoformat()}T00:00:00", f"{day + dt.timedelta(days=1)}T00:00:00"


def _points_unit(
    ctx: ParseContext, data_type: str, day: dt.date, points: list
) -> Iterator[ImportUnit]:
    if points:
        start, end = _window(day)
        yield ImportUnit(ctx.user_key, data_type, start, end, ctx.source, points=tuple(points))


def _rows_unit(ctx: ParseContext, table: str, day: dt.date, rows: list) -> Iterator[ImportUnit]:
    if rows:
        start, end = _window(day)
        yield ImportUnit(ctx.user_key, table, start, end, ctx.source, rows=tuple(rows), table=table)


# --------------------------------------------------------------------------- heart rate


def _heart(reader: _Reader, body: dict, day: dt.date, ctx: ParseContext) -> Iterator[ImportUnit]:
    daily = reader.list(body.get("activities-heart"), "activities-heart")
    resting, zone_rows = [], []
    for i, entry in enumerate(daily):
        where = f"activities-heart[{i}]"
        entry = reader.obj(entry, where)
        if reader.date(entry.get("dateTime"), where + ".dateTime") != day:
            continue  # another day's: its own file holds it
        value = reader.obj(entry.get("value"), where + ".value")
        bpm = reader.int(value.get("restingHeartRate"), where + ".restingHeartRate", True)
        if bpm is not None:
            resting.append(
                {
                    "dailyRestingHeartRate": {
                        "date": date_json(day),
                        "beatsPerMinute": str(bpm),
                    }
                }
            )
        zones = []
        for key, custom in (("heartRateZones", False), ("customHeartRateZones", True)):
            items = reader.list(value.get(key), f"{where}.value.{key}", optional=True)
            for j, zone in enumerate(items):
                at = f"{where}.value.{key}[{j}]"
                zone = reader.obj(zone, at)
                zones.append(
                    {
                        "zone_name": reader.str(zone.get("name"), at + ".name"),
                        "min_beats_per_minute": reader.int(zone.get("min"), at + ".min", True),
                        "max_beats_per_minute": reader.int(zone.get("max"), at + ".max", True),
                        "minutes": reader.int(zone.get("minutes"), at + ".minutes", True),
                        "calories_out_kcal": reader.float(
                            zone.get("caloriesOut"), at + ".caloriesOut", True
                        ),
                        "custom": custom,
                    }
                )
        if zones:
            zone_rows.append(
                _legacy_row("legacy_heart_rate_zones", ctx.user_key, day, {"zones": zones})
            )
    samples = []
    intraday = body.get("activities-heart-intraday")
    if intraday is not None:
        intraday = reader.obj(intraday, "activities-heart-intraday")
        dataset = reader.list(intraday.get("dataset"), "activities-heart-intraday.dataset")
        times, values = [], []
        for i, sample in enumerate(dataset):
            where = f"activities-heart-intraday.dataset[{i}]"
            sample = reader.obj(sample, where)
            times.append(reader.clock(day, sample.get("time"), where + ".time"))
            values.append(reader.int(sample.get("value"), where + ".value"))
        for moment, bpm in zip(utc_instants(times, ctx.zone), values, strict=True):
            samples.append(
                {
                    "heartRate": {
                        "sampleTime": {
                            "physicalTime": rfc3339(moment),
                            "utcOffset": utc_offset(moment, ctx.zone),
                        },
                        "beatsPerMinute": str(bpm),
                    }
                }
            )
    yield from _points_unit(ctx, "heart-rate", day, samples)
    yield from _points_unit(ctx, "daily-resting-heart-rate", day, resting)
    yield from _rows_unit(ctx, "legacy_heart_rate_zones", day, zone_rows)


# --------------------------------------------------------------------------- activity summary

_SUMMARY_COUNTS = {
    "active_score": "activeScore",
    "calories_out_kcal": "caloriesOut",
    "activity_calories_kcal": "activityCalories",
    "calories_bmr_kcal": "caloriesBMR",
    "marginal_calories_kcal": "marginalCalories",
    "steps": "steps",
    "floors": "floors",
    "sedentary_minutes": "sedentaryMinutes",
    "lightly_active_minutes": "lightlyActiveMinutes",
    "fairly_active_minutes": "fairlyActiveMinutes",
    "very_active_minutes": "veryActiveMinutes",
}
_GOALS = {
    "goal_steps": ("steps", int),
    "goal_floors": ("floors", int),
    "goal_distance_kilometers": ("distance", float),
    "goal_calories_out_kcal": ("caloriesOut", int),
    "goal_active_minutes": ("activeMinutes", int),
}


def _summary(reader: _Reader, body: dict, day: dt.date, ctx: ParseContext) -> Iterator[ImportUnit]:
    summary = reader.obj(body.get("summary"), "summary")
    values: dict[str, Any] = {
        column: reader.int(summary.get(key), "summary." + key, True)
        for column, key in _SUMMARY_COUNTS.items()
    }
    values["elevation_meters"] = reader.float(summary.get("elevation"), "summary.elevation", True)
    distances = []
    for i, item in enumerate(reader.list(summary.get("distances"), "summary.distances", True)):
        where = f"summary.distances[{i}]"
        item = reader.obj(item, where)
        distances.append(
            {
                "activity": reader.str(item.get("activity"), where + ".activity"),
                "distance_kilometers": reader.float(item.get("distance"), where + ".distance"),
            }
        )
    values["distances"] = distances
    goals = body.get("goals")
    goals = {} if goals is None else reader.obj(goals, "goals")
    for column, (key, kind) in _GOALS.items():
        read = reader.int if kind is int else reader.float
        values[column] = read(goals.get(key), "goals." + key, True)
    exercises = []
    for i, activity in enumerate(reader.list(body.get("activities"), "activities", True)):
        start_day, exercise = _exercise(reader, reader.obj(activity, f"activities[{i}]"), i, ctx)
        if start_day == day:  # another day's activity is in that day's summary
            exercises.append(exercise)
    yield from _points_unit(ctx, "exercise", day, exercises)
    yield from _rows_unit(
        ctx,
        "legacy_daily_activity",
        day,
        [_legacy_row("legacy_daily_activity", ctx.user_key, day, values)],
    )


def _exercise(reader: _Reader, activity: dict, i: int, ctx: ParseContext) -> tuple[dt.date, dict]:
    where = f"activities[{i}]"
    log_id = reader.int(activity.get("logId"), where + ".logId")
    if log_id < 0:
        raise reader.fail(where + ".logId", f"expected an unsigned id, got {log_id}")
    activity_id = reader.int(activity.get("activityId"), where + ".activityId", True)
    name = reader.str(activity.get("name"), where + ".name")
    start_day = reader.date(activity.get("startDate"), where + ".startDate")
    local = reader.clock(start_day, activity.get("startTime"), where + ".startTime", False)
    duration = reader.int(activity.get("duration"), where + ".duration")
    if duration < 0:
        raise reader.fail(where + ".duration", f"expected milliseconds, got {duration}")
    start = utc_instants([local], ctx.zone)[0]
    end = start + dt.timedelta(milliseconds=duration)
    metrics: dict[str, Any] = {}
    calories = reader.int(activity.get("calories"), where + ".calories", True)
    if calories is not None:
        metrics["caloriesKcal"] = float(calories)
    distance = reader.float(activity.get("distance"), where + ".distance", True)
    if distance is not None:
        metrics["distanceMillimeters"] = float(round(distance * 1_000_000))
    steps = reader.int(activity.get("steps"), where + ".steps", True)
    if steps is not None:
        metrics["steps"] = str(steps)
    body = {
        "interval": interval(start, end, ctx.zone),
        "exerciseType": ACTIVITY_TYPES.get(activity_id, "OTHER"),
        "displayName": name,
    }
    if metrics:
        body["metricsSummary"] = metrics
    return start_day, {"dataPointName": _point_name("exercise", log_id), "exercise": body}


# --------------------------------------------------------------------------- sleep


def _sleep(reader: _Reader, body: dict, day: dt.date, ctx: ParseContext) -> Iterator[ImportUnit]:
    points, rows = [], []
    for i, log in enumerate(reader.list(body.get("sleep"), "sleep")):
        where = f"sleep[{i}]"
        log = reader.obj(log, where)
        if reader.date(log.get("dateOfSleep"), where + ".dateOfSleep") != day:
            continue  # a sleep belongs to the date it ended on: another file's
        point, row = _sleep_log(reader, log, where, day, ctx)
        points.append(point)
        rows.append(row)
    yield from _points_unit(ctx, "sleep", day, points)
    yield from _rows_unit(ctx, "legacy_sleep", day, rows)


def _segments(
    reader: _Reader, items: list, where: str, ctx: ParseContext
) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """levels.data or levels.shortData -> (stage type, start, end) in file order."""
    times, kinds, lengths = [], [], []
    for j, item in enumerate(items):
        at = f"{where}[{j}]"
        item = reader.obj(item, at)
        times.append(reader.local(item.get("dateTime"), at + ".dateTime"))
        level = reader.str(item.get("level"), at + ".level")
        if level not in _LEVELS:
            raise reader.fail(at + ".level", f"unknown sleep level {level!r:.30}")
        kinds.append(_LEVELS[level])
        seconds = reader.int(item.get("seconds"), at + ".seconds")
        if seconds < 0:
            raise reader.fail(at + ".seconds", f"expected a length, got {seconds}")
        lengths.append(seconds)
    starts = utc_instants(times, ctx.zone)
    return [
        (kind, start, start + dt.timedelta(seconds=seconds))
        for kind, start, seconds in zip(kinds, starts, lengths, strict=True)
    ]


def _sleep_log(
    reader: _Reader, log: dict, where: str, day: dt.date, ctx: ParseContext
) -> tuple[dict, dict]:
    log_id = reader.int(log.get("logId"), where + ".logId")
    local_start = reader.local(log.get("startTime"), where + ".startTime")
    local_end = reader.local(log.get("endTime"), where + ".endTime")
    start, end = utc_instants([local_start, local_end], ctx.zone)
    if end < start:
        raise reader.fail(where + ".endTime", "is before startTime")
    if local_end.date() != day:
        # dateOfSleep is the date the sleep ended on: the file's day is its window.
        raise reader.fail(where + ".endTime", f"does not end on dateOfSleep {day}")
    kind = reader.str(log.get("type"), where + ".type")
    if kind not in ("stages", "classic"):
        raise reader.fail(where + ".type", f"expected stages or classic, got {kind!r:.30}")
    levels = log.get("levels")
    levels = {} if levels is None else reader.obj(levels, where + ".levels")
    stages = _segments(
        reader,
        reader.list(levels.get("data"), where + ".levels.data", True),
        where + ".levels.data",
        ctx,
    )
    short = _segments(
        reader,
        reader.list(levels.get("shortData"), where + ".levels.shortData", True),
        where + ".levels.shortData",
        ctx,
    )
    totals, averages = {}, []
    level_summary = levels.get("summary")
    level_summary = (
        {} if level_summary is None else reader.obj(level_summary, where + ".levels.summary")
    )
    for level, item in level_summary.items():
        at = f"{where}.levels.summary.{level}"
        if level not in _LEVELS:
            raise reader.fail(at, f"unknown sleep level {level!r:.30}")
        item = reader.obj(item, at)
        stage = _LEVELS[level]
        totals[stage] = (
            reader.int(item.get("minutes"), at + ".minutes", True),
            reader.int(item.get("count"), at + ".count", True),
        )
        average = reader.int(item.get("thirtyDayAvgMinutes"), at + ".thirtyDayAvgMinutes", True)
        if average is not None:
            averages.append({"stage_type": stage, "minutes": average})
    summary: dict[str, Any] = {}
    for key, legacy in (
        ("minutesAsleep", "minutesAsleep"),
        ("minutesAwake", "minutesAwake"),
        ("minutesInSleepPeriod", "timeInBed"),
        ("minutesToFallAsleep", "minutesToFallAsleep"),
        ("minutesAfterWakeUp", "minutesAfterWakeup"),
    ):
        value = reader.int(log.get(legacy), f"{where}.{legacy}", True)
        if value is not None:
            summary[key] = str(value)
    summary["stagesSummary"] = [
        {
            "type": stage,
            **({} if totals[stage][0] is None else {"minutes": str(totals[stage][0])}),
            **({} if totals[stage][1] is None else {"count": str(totals[stage][1])}),
        }
        for stage in _STAGE_ORDER
        if stage in totals
    ]
    main = reader.bool(log.get("isMainSleep"), where + ".isMainSleep", True)
    sleep = {
        "interval": interval(start, end, ctx.zone),
        "type": kind.upper(),
        "stages": [{"type": stage, **interval(s, e, ctx.zone)} for stage, s, e in stages],
        "metadata": {"mainSleep": True} if main else {},
        "summary": summary,
    }
    if short:
        sleep["shortAwakenings"] = [
            {"type": stage, **interval(s, e, ctx.zone)} for stage, s, e in short
        ]
    point = {"dataPointName": _point_name("sleep", log_id), "sleep": sleep}
    row = _legacy_row(
        "legacy_sleep",
        ctx.user_key,
        day,
        {
            "data_point_id": str(log_id),
            "efficiency": reader.int(log.get("efficiency"), where + ".efficiency", True),
            "info_code": reader.int(log.get("infoCode"), where + ".infoCode", True),
            "log_type": reader.str(log.get("logType"), where + ".logType", True),
            "thirty_day_average_minutes": averages,
        },
    )
    return point, row


# --------------------------------------------------------------------------- weight, cardio


def _weight(reader: _Reader, body: dict, day: dt.date, ctx: ParseContext) -> Iterator[ImportUnit]:
    entries = []
    for i, log in enumerate(reader.list(body.get("weight"), "weight")):
        where = f"weight[{i}]"
        log = reader.obj(log, where)
        if reader.date(log.get("date"), where + ".date") != day:
            continue
        entries.append(
            (
                reader.int(log.get("logId"), where + ".logId"),
                reader.clock(day, log.get("time"), where + ".time"),
                reader.float(log.get("weight"), where + ".weight"),
                reader.float(log.get("bmi"), where + ".bmi", True),
                reader.str(log.get("source"), where + ".source", True),
            )
        )
    instants = utc_instants([local for _, local, *_ in entries], ctx.zone)
    points, rows = [], []
    for (log_id, _, kilograms, bmi, source), moment in zip(entries, instants, strict=True):
        points.append(
            {
                "dataPointName": _point_name("weight", log_id),
                "weight": {
                    "sampleTime": {
                        "physicalTime": rfc3339(moment),
                        "utcOffset": utc_offset(moment, ctx.zone),
                    },
                    "weightGrams": round(kilograms * 1000, 3),
                },
            }
        )
        rows.append(
            _legacy_row(
                "legacy_weight",
                ctx.user_key,
                day,
                {"data_point_id": str(log_id), "bmi": bmi, "log_source": source},
            )
        )
    yield from _points_unit(ctx, "weight", day, points)
    yield from _rows_unit(ctx, "legacy_weight", day, rows)


_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def _cardio(reader: _Reader, body: dict, day: dt.date, ctx: ParseContext) -> Iterator[ImportUnit]:
    points, rows = [], []
    for i, entry in enumerate(reader.list(body.get("cardioScore"), "cardioScore")):
        where = f"cardioScore[{i}]"
        entry = reader.obj(entry, where)
        if reader.date(entry.get("dateTime"), where + ".dateTime") != day:
            continue
        value = reader.obj(entry.get("value"), where + ".value")
        text = value.get("vo2Max")
        if type(text) in (int, float):
            text = str(text)
        text = reader.str(text, where + ".value.vo2Max").strip()
        if _NUMBER.fullmatch(text):
            points.append({"dailyVo2Max": {"date": date_json(day), "vo2Max": float(text)}})
            continue
        low, sep, high = text.partition("-")
        if not (sep and _NUMBER.fullmatch(low.strip()) and _NUMBER.fullmatch(high.strip())):
            raise reader.fail(
                where + ".value.vo2Max",
                f"expected a number or a range such as 44-48, got {text!r:.30}",
            )
        rows.append(
            _legacy_row(
                "legacy_cardio_score",
                ctx.user_key,
                day,
                {
                    "vo2_max_range": text,
                    "vo2_max_low": float(low),
                    "vo2_max_high": float(high),
                },
            )
        )
    yield from _points_unit(ctx, "daily-vo2-max", day, points)
    yield from _rows_unit(ctx, "legacy_cardio_score", day, rows)


# --------------------------------------------------------------------------- TCX

_ID = re.compile(r"<(?:[A-Za-z0-9_]+:)?Id>\s*([^<\s]+)\s*</(?:[A-Za-z0-9_]+:)?Id>")


def _tcx(reader: _Reader, log_id: str, data: bytes, ctx: ParseContext) -> Iterator[ImportUnit]:
    text = data
    if data.lstrip()[:1] == b"{":
        # The seed's loader wrapped a TCX as {"xml_data": "..."}; accept either form.
        body = _json(reader, data)
        text = reader.str(body.get("xml_data"), "xml_data")
    try:
        decoded = text if isinstance(text, str) else text.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise reader.fail("the TCX", "not UTF-8 text") from None
    found = _ID.search(decoded)
    if found is None:
        raise reader.fail("the TCX", "no Activity Id (the exercise's start time)")
    try:
        start = dt.datetime.fromisoformat(found.group(1).replace("Z", "+00:00"))
    except ValueError:
        raise reader.fail("Activity Id", f"expected a time, got {found.group(1)!r:.40}") from None
    if start.tzinfo is None:
        start = utc_instants([start], ctx.zone)[0]
    instant = start.astimezone(UTC)
    if found.group(1).endswith("Z"):
        offset = offset_seconds(instant, ctx.zone)
    else:
        offset = int(start.utcoffset().total_seconds())
    exercise = {
        "data_point_id": str(int(log_id)),
        "start_utc_offset_seconds": offset,
        "civil_date": (instant + dt.timedelta(seconds=offset)).date(),
        "stream": STREAM,
        **_NULL_SOURCES,
    }
    run = RowContext(ctx.user_key, **_PLACEHOLDER_RUN)
    try:
        pairs = trackpoint_rows(decoded, exercise, run)
    except (TcxError, RowError) as err:
        raise reader.fail("the TCX", str(err)[:200]) from None
    rows = [{**row, **_UNSTAMPED} for _, row in pairs]
    if rows:
        yield ImportUnit(
            ctx.user_key,
            "exercise_tcx_trackpoints",
            "",
            "",
            ctx.source,
            rows=tuple(rows),
            table="exercise_tcx_trackpoints",
            data_point_id=exercise["data_point_id"],
        )


_PARSERS: dict[str, Callable[[_Reader, dict, dt.date, ParseContext], Iterator[ImportUnit]]] = {
    "get_activity_summary_by_date": _summary,
    "get_heart_rate_by_date": _heart,
    "get_body_weight_by_date": _weight,
    "get_cardio_score_by_date": _cardio,
    "get_sleep_by_date": _sleep,
}
