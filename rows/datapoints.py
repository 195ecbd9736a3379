"""Turns Google Health API v4 data points into rows of fitbeam's BigQuery tables.

Pure and Beam-free: `transforms.rows` calls it once per data point, and it runs on every
heart-rate sample, so it does the least work it can. The contract is `schemas/*.avsc`: every
row holds every field of its table's Avro schema, as Avro-native Python values (tz-aware UTC
`datetime` for timestamp-micros, naive `datetime` for local-timestamp-micros, `date` for
date, int, float, str, bool, None, and lists of dicts for repeated records).

Usage::

    ctx = RowContext(user_key="p-0042", run_id="run-1", ingest_time=run_start_utc)
    for table, row in rows_for_point("steps", point, ctx, "raw"):
        ...

How the API's proto3 JSON becomes columns:

- Timestamps are RFC 3339 (any fraction; beyond microseconds it is truncated); UTC offsets
  are duration strings (`"-18000s"`), 0 when absent. Civil datetimes are the API's `civil*`
  values when sent, else the instant shifted by its offset.
- Counts the schema stores as 0 when absent (step_count, floor_count, distance_millimeters,
  active_zone_minutes, the sleep summary minutes of a sent summary) take the proto3 default 0.
  The main measurement of sample and daily types (beats per minute, weight, percentages,
  VO2 max, breaths per minute, zone limits) and required enums (heart-rate zone, exercise
  type, stage and zone types) must be present: a point without them raises `RowError`.
  Everything else is nullable and None when absent; a zero that is sent stays 0.
- Enumerations and free text are copied as sent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from healthapi import datatypes
from healthapi.datatypes import SUMMARY_TABLE
from schemas.convert import utc_text

__all__ = [
    "MEASUREMENT_KEY",
    "SOURCE_COLUMNS",
    "STREAMS",
    "TABLE_OF",
    "RowContext",
    "RowError",
    "record_key",
    "rows_for_point",
]

UTC = dt.UTC
STREAMS = ("raw", "reconciled")
# dailyRollUp data types that make up daily_activity_summary, by API name.

SOURCE_COLUMNS = (
    "source_platform",
    "source_recording_method",
    "source_device_display_name",
    "source_device_form_factor",
    "source_device_manufacturer",
    "source_application_package_name",
)
_NULL_SOURCE = (None,) * len(SOURCE_COLUMNS)
_SOURCE_PATHS = (
    "dataSource.platform",
    "dataSource.recordingMethod",
    "dataSource.device.displayName",
    "dataSource.device.formFactor",
    "dataSource.device.manufacturer",
    "dataSource.application.packageName",
)
# No zone is further than 14 hours from UTC; allow some slack for odd historical offsets.
_MAX_OFFSET_SECONDS = 18 * 3600


class RowError(ValueError):
    """A data point that cannot become a row.

    Attributes:
        field: the offending field as a JSON path (`heartRate.sampleTime.physicalTime`).
        reason: what is wrong with it.
    """

    def __init__(self, field: str, reason: str):
        # Both go to ValueError so that the exception pickles and unpickles intact.
        super().__init__(field, reason)
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


@dataclasses.dataclass(frozen=True)
class RowContext:
    """What every row of one user in one run shares.

    Attributes:
        user_key: the participant's pseudonymous key.
        run_id: the run's identifier.
        ingest_time: the run's start, stamped once per run; tz-aware (stored in UTC).
        load_id: the load (one API answer) the rows come from; see `load_windows`.
    """

    user_key: str
    run_id: str
    ingest_time: dt.datetime
    load_id: str | None = None

    def __post_init__(self):
        if not isinstance(self.user_key, str) or not self.user_key:
            raise ValueError(
                f"user_key must be a non-empty string, such as 'p-0042'; got {self.user_key!r:.60}"
            )
        if not isinstance(self.run_id, str) or not self.run_id:
            raise ValueError(f"run_id must be a non-empty string; got {self.run_id!r:.60}")
        moment = self.ingest_time
        if not isinstance(moment, dt.datetime) or moment.utcoffset() is None:
            raise ValueError(
                "ingest_time must be a tz-aware datetime, such as "
                f"datetime(2026, 11, 28, 12, tzinfo=datetime.UTC); got {moment!r:.60}"
            )
        if moment.tzinfo is not UTC:
            object.__setattr__(self, "ingest_time", moment.astimezone(UTC))


# --------------------------------------------------------------------------- value parsing


def _missing_or(value: Any, what: str) -> str:
    return "missing" if value is None else f"{what}, got {value!r:.60}"


def _instant(value: Any, path: str) -> dt.datetime:
    """RFC 3339 timestamp -> tz-aware UTC datetime (fraction truncated to microseconds)."""
    # fromisoformat also takes ISO 8601 forms RFC 3339 forbids (no seconds, a space, basic
    # format), so check the fixed positions first; it does the rest in C.
    if (
        type(value) is not str
        or len(value) < 20
        or value[10] != "T"
        or value[4] != "-"
        or value[7] != "-"
        or value[13] != ":"
        or value[16] != ":"
    ):
        raise RowError(path, _missing_or(value, "expected an RFC 3339 timestamp"))
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise RowError(path, f"expected an RFC 3339 timestamp, got {value!r:.60}") from None
    zone = moment.tzinfo
    if zone is not UTC:
        if zone is None:
            raise RowError(path, f"timestamp has no Z or UTC offset: {value!r:.60}")
        moment = moment.astimezone(UTC)
    return moment


# Offset text -> (seconds, timedelta). Users have a handful of offsets, so parse each once.
_OFFSETS: dict[str, tuple[int, dt.timedelta]] = {}
_ZERO_OFFSET = (0, dt.timedelta(0))


def _offset(value: Any, path: str) -> tuple[int, dt.timedelta]:
    """proto3 Duration string (`"-18000s"`) -> (seconds east of UTC, timedelta); absent = 0."""
    if value is None:
        return _ZERO_OFFSET
    cached = _OFFSETS.get(value) if type(value) is str else None
    if cached is not None:
        return cached
    seconds = None
    if type(value) is str and value.endswith("s"):
        try:
            number = float(value[:-1])
        except ValueError:
            number = math.nan
        if number.is_integer() and abs(number) <= _MAX_OFFSET_SECONDS:
            seconds = int(number)
    if seconds is None:
        raise RowError(
            path, f"expected a UTC offset in whole seconds such as '-18000s', got {value!r:.60}"
        )
    result = (seconds, dt.timedelta(seconds=seconds))
    if len(_OFFSETS) < 1024:
        _OFFSETS[value] = result
    return result


def _civil(value: Any, instant: dt.datetime, shift: dt.timedelta, path: str) -> dt.datetime:
    """The naive wall-clock datetime of an instant: the API's CivilDateTime when sent."""
    if value is None:
        return (instant + shift).replace(tzinfo=None)
    # The server derives civil times from the same instant and offset, so the two agree. If
    # they ever disagree, the API's value wins: it is what the schema documents and what the
    # Fitbit app showed the user.
    try:
        day = value["date"]
        clock = value.get("time")
        if clock is None:
            return dt.datetime(day["year"], day["month"], day["day"])
        return dt.datetime(
            day["year"],
            day["month"],
            day["day"],
            clock.get("hours", 0),
            clock.get("minutes", 0),
            clock.get("seconds", 0),
            clock.get("nanos", 0) // 1000,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RowError(path, f"expected a CivilDateTime, got {value!r:.100}") from None


def _date(value: Any, path: str) -> dt.date:
    """google.type.Date `{"year", "month", "day"}` -> date."""
    try:
        return dt.date(value["year"], value["month"], value["day"])
    except (KeyError, TypeError, ValueError):
        raise RowError(path, _missing_or(value, "expected a date {year, month, day}")) from None


# proto3 JSON writes int64 as an optionally signed run of ASCII digits; Python's int()
# and float() would also take other scripts' digits, spaces and '_'.
_INT_TEXT = re.compile(r"-?[0-9]+")
_FLOAT_TEXT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def _int(value: Any, path: str) -> int:
    """proto3 int64 (a JSON string, or a number) -> int."""
    kind = type(value)
    if kind is str:
        if _INT_TEXT.fullmatch(value):
            try:
                return int(value)
            except ValueError:  # more digits than int() converts
                pass
    elif kind is int:
        return value
    elif kind is float and value.is_integer():
        return int(value)
    raise RowError(path, _missing_or(value, "expected an integer"))


def _float(value: Any, path: str) -> float:
    """proto3 double (a JSON number, or a string) -> finite float."""
    kind = type(value)
    if kind is int:
        return float(value)
    number = math.nan
    if kind is float:
        number = value
    elif kind is str and _FLOAT_TEXT.fullmatch(value):
        number = float(value)
    if math.isfinite(number):
        return number
    raise RowError(path, _missing_or(value, "expected a finite number"))


def _str(value: Any, path: str) -> str:
    if type(value) is str:
        return value
    raise RowError(path, _missing_or(value, "expected a string"))


def _seconds(value: Any, path: str) -> float:
    """proto3 Duration (`"1722.5s"`) -> seconds as float."""
    if type(value) is str and value.endswith("s"):
        try:
            number = float(value[:-1])
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return number
    raise RowError(path, _missing_or(value, "expected a duration such as '1722.5s'"))


def _count(value: Any, path: str) -> int:
    """An integer that proto3 leaves out when it is 0."""
    return 0 if value is None else _int(value, path)


def _zero_or_float(value: Any, path: str) -> float:
    """A double that proto3 leaves out when it is 0."""
    return 0.0 if value is None else _float(value, path)


def _opt_int(value: Any, path: str) -> int | None:
    return None if value is None else _int(value, path)


def _opt_float(value: Any, path: str) -> float | None:
    return None if value is None else _float(value, path)


def _opt_str(value: Any, path: str) -> str | None:
    return None if value is None else _str(value, path)


def _opt_seconds(value: Any, path: str) -> float | None:
    return None if value is None else _seconds(value, path)


def _opt_bool(value: Any, path: str) -> bool | None:
    if value is None or type(value) is bool:
        return value
    raise RowError(path, f"expected true or false, got {value!r:.60}")


def _obj(value: Any, path: str) -> dict:
    if type(value) is dict:
        return value
    raise RowError(path, _missing_or(value, "expected a JSON object"))


def _opt_obj(value: Any, path: str) -> dict:
    """A nested message that may be absent: absent reads as empty."""
    return {} if value is None else _obj(value, path)


# --------------------------------------------------------------------------- time columns


def _place_interval(body: dict, path: str, row: dict, civil_date_at_end: bool = False) -> None:
    """interval{startTime, startUtcOffset, endTime, endUtcOffset, civil*} -> time columns."""
    path = path + ".interval"
    interval = _obj(body.get("interval"), path)
    start = _instant(interval.get("startTime"), path + ".startTime")
    end = _instant(interval.get("endTime"), path + ".endTime")
    if end < start:
        raise RowError(path + ".endTime", f"{end.isoformat()} is before startTime")
    start_offset, start_shift = _offset(interval.get("startUtcOffset"), path + ".startUtcOffset")
    end_offset, end_shift = _offset(interval.get("endUtcOffset"), path + ".endUtcOffset")
    civil_start = _civil(
        interval.get("civilStartTime"), start, start_shift, path + ".civilStartTime"
    )
    civil_end = _civil(interval.get("civilEndTime"), end, end_shift, path + ".civilEndTime")
    row["start_time"] = start
    row["end_time"] = end
    row["start_utc_offset_seconds"] = start_offset
    row["end_utc_offset_seconds"] = end_offset
    row["civil_start_datetime"] = civil_start
    row["civil_end_datetime"] = civil_end
    row["civil_date"] = (civil_end if civil_date_at_end else civil_start).date()


def _place_session_end(body: dict, path: str, row: dict) -> None:
    """Sleep: an interval that belongs to the civil day it ends on (the wake-up day)."""
    _place_interval(body, path, row, civil_date_at_end=True)


def _place_sample(body: dict, path: str, row: dict) -> None:
    """sampleTime{physicalTime, utcOffset, civilTime} -> time columns."""
    path = path + ".sampleTime"
    sample = _obj(body.get("sampleTime"), path)
    instant = _instant(sample.get("physicalTime"), path + ".physicalTime")
    offset, shift = _offset(sample.get("utcOffset"), path + ".utcOffset")
    civil = _civil(sample.get("civilTime"), instant, shift, path + ".civilTime")
    row["sample_time"] = instant
    row["utc_offset_seconds"] = offset
    row["civil_datetime"] = civil
    row["civil_date"] = civil.date()


def _place_daily(body: dict, path: str, row: dict) -> None:
    """date{year, month, day}, already the user's local day -> civil_date."""
    row["civil_date"] = _date(body.get("date"), path + ".date")


# --------------------------------------------------------------------------- nested values


def _sleep_details(body: dict, path: str, row: dict) -> None:
    summary = body.get("summary")
    if summary is None:
        for column in _SLEEP_SUMMARY:
            row[column] = None
    else:
        summary = _obj(summary, path + ".summary")
        # SleepSummary has explicit presence, but a field left out of a sent summary is 0.
        for column, key in _SLEEP_SUMMARY.items():
            row[column] = _count(summary.get(key), f"{path}.summary.{key}")
    stages = body.get("stages")
    if stages is None:
        row["stages"] = []
        return
    if type(stages) is not list:
        raise RowError(path + ".stages", f"expected a list, got {stages!r:.60}")
    out = []
    for i, stage in enumerate(stages):
        where = f"{path}.stages[{i}]"
        stage = _obj(stage, where)
        start = _instant(stage.get("startTime"), where + ".startTime")
        end = _instant(stage.get("endTime"), where + ".endTime")
        if end < start:
            raise RowError(where + ".endTime", f"{end.isoformat()} is before startTime")
        start_offset, start_shift = _offset(stage.get("startUtcOffset"), where + ".startUtcOffset")
        end_offset, end_shift = _offset(stage.get("endUtcOffset"), where + ".endUtcOffset")
        out.append(
            {
                "stage_type": _str(stage.get("type"), where + ".type"),
                "start_time": start,
                "end_time": end,
                "start_utc_offset_seconds": start_offset,
                "end_utc_offset_seconds": end_offset,
                # The API sends no civil times for stages; the schema says we compute them.
                "civil_start_datetime": (start + start_shift).replace(tzinfo=None),
                "civil_end_datetime": (end + end_shift).replace(tzinfo=None),
            }
        )
    out.sort(key=lambda stage: stage["start_time"])
    row["stages"] = out


_SLEEP_SUMMARY = {
    "minutes_asleep": "minutesAsleep",
    "minutes_awake": "minutesAwake",
    "minutes_in_sleep_period": "minutesInSleepPeriod",
    "minutes_to_fall_asleep": "minutesToFallAsleep",
    "minutes_after_wake_up": "minutesAfterWakeUp",
}


def _heart_rate_zones(body: dict, path: str, row: dict) -> None:
    path = path + ".heartRateZones"
    zones = body.get("heartRateZones")
    if zones is None:
        row["zones"] = []
        return
    if type(zones) is not list:
        raise RowError(path, f"expected a list, got {zones!r:.60}")
    out = []
    for i, zone in enumerate(zones):
        where = f"{path}[{i}]"
        zone = _obj(zone, where)
        out.append(
            {
                "zone_type": _str(zone.get("heartRateZoneType"), where + ".heartRateZoneType"),
                "min_beats_per_minute": _int(
                    zone.get("minBeatsPerMinute"), where + ".minBeatsPerMinute"
                ),
                "max_beats_per_minute": _int(
                    zone.get("maxBeatsPerMinute"), where + ".maxBeatsPerMinute"
                ),
            }
        )
    row["zones"] = out


# --------------------------------------------------------------------------- per-type table

_Place = Callable[[dict, str, dict], None]
_Convert = Callable[[Any, str], Any]


@dataclasses.dataclass(frozen=True)
class _Spec:
    """How one data type becomes rows.

    Attributes:
        data_type: the API data type name.
        table: the BigQuery table.
        json_key: the DataPoint union key holding the value object.
        place: writes the time columns.
        fields: (column, key or key path, converter, JSON path for errors) per plain column.
        details: writes nested columns (sleep summary and stages, zones), or None.
        has_id: the table has a data_point_id column.
    """

    data_type: str
    table: str
    json_key: str
    place: _Place
    fields: tuple[tuple[str, str | tuple[str, ...], _Convert, str], ...]
    details: _Place | None
    has_id: bool


_PLACES: dict[datatypes.Kind, _Place] = {
    datatypes.Kind.INTERVAL: _place_interval,
    datatypes.Kind.SAMPLE: _place_sample,
    datatypes.Kind.DAILY: _place_daily,
    datatypes.Kind.SESSION: _place_interval,
}


def _spec(
    data_type: str,
    fields: tuple[tuple[str, str, _Convert], ...] = (),
    details: _Place | None = None,
) -> _Spec:
    """A data type's row plan: its columns here, everything else from the catalogue.

    The table, the JSON key, whether points carry an id and how they sit in
    time (a session that belongs to the day it ends, as sleep does, is placed
    by its end) come from `healthapi.datatypes`, where each is written once.
    """
    catalogued = datatypes.spec(data_type)
    table, json_key = catalogued.table, catalogued.json_key
    place = _place_session_end if catalogued.day_from_end else _PLACES[catalogued.kind]
    has_id = catalogued.identifiable
    compiled = []
    for column, dotted, convert in fields:
        keys = tuple(dotted.split("."))
        compiled.append(
            (column, keys[0] if len(keys) == 1 else keys, convert, f"{json_key}.{dotted}")
        )
    return _Spec(data_type, table, json_key, place, tuple(compiled), details, has_id)


_SPECS: dict[str, _Spec] = {
    spec.data_type: spec
    for spec in (
        _spec("steps", (("step_count", "count", _count),)),
        _spec("distance", (("distance_millimeters", "millimeters", _count),)),
        _spec("floors", (("floor_count", "count", _count),)),
        _spec(
            "active-zone-minutes",
            (
                ("heart_rate_zone", "heartRateZone", _str),
                ("active_zone_minutes", "activeZoneMinutes", _count),
            ),
        ),
        _spec(
            "heart-rate",
            (
                ("beats_per_minute", "beatsPerMinute", _int),
                ("motion_context", "metadata.motionContext", _opt_str),
                ("sensor_location", "metadata.sensorLocation", _opt_str),
            ),
        ),
        _spec(
            "heart-rate-variability",
            (
                (
                    "rmssd_milliseconds",
                    "rootMeanSquareOfSuccessiveDifferencesMilliseconds",
                    _opt_float,
                ),
                ("sdnn_milliseconds", "standardDeviationMilliseconds", _opt_float),
            ),
        ),
        _spec(
            "daily-resting-heart-rate",
            (
                ("beats_per_minute", "beatsPerMinute", _int),
                ("calculation_method", "dailyRestingHeartRateMetadata.calculationMethod", _opt_str),
            ),
        ),
        _spec(
            "daily-heart-rate-zones",
            details=_heart_rate_zones,
        ),
        _spec(
            "daily-heart-rate-variability",
            (
                (
                    "average_heart_rate_variability_milliseconds",
                    "averageHeartRateVariabilityMilliseconds",
                    _opt_float,
                ),
                ("non_rem_heart_rate_beats_per_minute", "nonRemHeartRateBeatsPerMinute", _opt_int),
                ("entropy", "entropy", _opt_float),
                (
                    "deep_sleep_rmssd_milliseconds",
                    "deepSleepRootMeanSquareOfSuccessiveDifferencesMilliseconds",
                    _opt_float,
                ),
            ),
        ),
        _spec(
            "daily-oxygen-saturation",
            (
                ("average_percent", "averagePercentage", _float),
                ("lower_bound_percent", "lowerBoundPercentage", _float),
                ("upper_bound_percent", "upperBoundPercentage", _float),
                ("standard_deviation_percent", "standardDeviationPercentage", _opt_float),
            ),
        ),
        _spec(
            "daily-respiratory-rate",
            (("breaths_per_minute", "breathsPerMinute", _float),),
        ),
        _spec(
            "daily-vo2-max",
            (
                ("vo2_max_ml_per_kg_per_min", "vo2Max", _float),
                ("cardio_fitness_level", "cardioFitnessLevel", _opt_str),
                ("estimated", "estimated", _opt_bool),
                ("vo2_max_covariance", "vo2MaxCovariance", _opt_float),
            ),
        ),
        _spec(
            "sleep",
            (
                ("sleep_type", "type", _opt_str),
                ("is_main_sleep", "metadata.mainSleep", _opt_bool),
                ("is_nap", "metadata.nap", _opt_bool),
                ("is_processed", "metadata.processed", _opt_bool),
                ("is_manually_edited", "metadata.manuallyEdited", _opt_bool),
                ("stages_status", "metadata.stagesStatus", _opt_str),
            ),
            details=_sleep_details,
        ),
        _spec(
            "exercise",
            (
                ("exercise_type", "exerciseType", _str),
                ("display_name", "displayName", _opt_str),
                ("active_duration_seconds", "activeDuration", _opt_seconds),
                ("has_gps", "exerciseMetadata.hasGps", _opt_bool),
                ("notes", "notes", _opt_str),
                ("calories_kcal", "metricsSummary.caloriesKcal", _opt_float),
                ("distance_millimeters", "metricsSummary.distanceMillimeters", _opt_float),
                ("steps", "metricsSummary.steps", _opt_int),
                (
                    "average_heart_rate_bpm",
                    "metricsSummary.averageHeartRateBeatsPerMinute",
                    _opt_int,
                ),
                ("active_zone_minutes", "metricsSummary.activeZoneMinutes", _opt_int),
                (
                    "elevation_gain_millimeters",
                    "metricsSummary.elevationGainMillimeters",
                    _opt_float,
                ),
                (
                    "average_speed_millimeters_per_second",
                    "metricsSummary.averageSpeedMillimetersPerSecond",
                    _opt_float,
                ),
                (
                    "average_pace_seconds_per_meter",
                    "metricsSummary.averagePaceSecondsPerMeter",
                    _opt_float,
                ),
                ("run_vo2_max", "metricsSummary.runVo2Max", _opt_float),
                (
                    "heart_rate_zone_light_seconds",
                    "metricsSummary.heartRateZoneDurations.lightTime",
                    _opt_seconds,
                ),
                (
                    "heart_rate_zone_moderate_seconds",
                    "metricsSummary.heartRateZoneDurations.moderateTime",
                    _opt_seconds,
                ),
                (
                    "heart_rate_zone_vigorous_seconds",
                    "metricsSummary.heartRateZoneDurations.vigorousTime",
                    _opt_seconds,
                ),
                (
                    "heart_rate_zone_peak_seconds",
                    "metricsSummary.heartRateZoneDurations.peakTime",
                    _opt_seconds,
                ),
            ),
        ),
        _spec("weight", (("weight_grams", "weightGrams", _float), ("notes", "notes", _opt_str))),
        _spec("body-fat", (("body_fat_percent", "percentage", _float),)),
    )
}

TABLE_OF: dict[str, str] = {data_type: spec.table for data_type, spec in _SPECS.items()}
"""API data type name (`heart-rate`) -> the table its points go to (`heart_rate`)."""


def _walk(body: dict, keys: tuple[str, ...], path: str) -> Any:
    """body[k1][k2]...; None as soon as a level is absent."""
    value: Any = body
    for key in keys:
        if value is None:
            return None
        if type(value) is not dict:
            raise RowError(path, f"a parent of this field is not a JSON object: {value!r:.60}")
        value = value.get(key)
    return value


def _source_values(source: Any) -> tuple[str | None, ...]:
    """dataSource -> the values of SOURCE_COLUMNS, None where the source reported nothing."""
    if source is None:
        return _NULL_SOURCE
    source = _obj(source, "dataSource")
    device = _opt_obj(source.get("device"), "dataSource.device")
    application = _opt_obj(source.get("application"), "dataSource.application")
    values = (
        source.get("platform"),
        source.get("recordingMethod"),
        device.get("displayName"),
        device.get("formFactor"),
        device.get("manufacturer"),
        application.get("packageName"),
    )
    for value, path in zip(values, _SOURCE_PATHS, strict=True):
        if value is not None and type(value) is not str:
            raise RowError(path, f"expected a string, got {value!r:.60}")
    return values


def _point_id(point: dict, stream: str) -> str | None:
    """Last segment of `name` (raw) or `dataPointName` (reconciled); None when absent."""
    key = "name" if stream == "raw" else "dataPointName"
    name = point.get(key)
    if name is None:
        return None
    point_id = name.rpartition("/")[2] if type(name) is str else ""
    if not point_id:
        raise RowError(key, f"expected users/.../dataPoints/{{id}}, got {name!r:.100}")
    return point_id


def rows_for_point(
    data_type: str, point: dict, ctx: RowContext, stream: str
) -> list[tuple[str, dict]]:
    """Turns one API data point into rows.

    Args:
        data_type: the API data type name, one of `TABLE_OF` (`heart-rate`).
        point: one element of `dataPoints`: from the list method (stream "raw"; has
            `dataSource` and, for sleep, exercise, weight and body-fat, `name`) or from
            `:reconcile` (stream "reconciled"; no `dataSource`, maybe `dataPointName`).
        ctx: the user and run.
        stream: "raw" or "reconciled". Reconciled rows get null source columns whatever
            the point holds.

    Returns:
        (table, row) pairs; today always exactly one.

    Raises:
        RowError: the point is malformed (the error names the JSON field and why), or the
            data type or stream is unknown.
    """
    spec = _SPECS.get(data_type)
    if spec is None:
        raise RowError(
            "data_type",
            f"unknown data type {data_type!r:.60}; known: {', '.join(_SPECS)}",
        )
    if stream != "raw" and stream != "reconciled":
        raise RowError("stream", f"expected 'raw' or 'reconciled', got {stream!r:.60}")
    if type(point) is not dict:
        raise RowError("dataPoint", f"expected a JSON object, got {point!r:.60}")
    json_key = spec.json_key
    body = _obj(point.get(json_key), json_key)
    try:
        row: dict[str, Any] = {"user_key": ctx.user_key}
        spec.place(body, json_key, row)
        row["stream"] = stream
        sources = _source_values(point.get("dataSource")) if stream == "raw" else _NULL_SOURCE
        row.update(zip(SOURCE_COLUMNS, sources, strict=True))
        if spec.has_id:
            row["data_point_id"] = _point_id(point, stream)
        for column, keys, convert, path in spec.fields:
            value = body.get(keys) if type(keys) is str else _walk(body, keys, path)
            row[column] = convert(value, path)
        if spec.details is not None:
            spec.details(body, json_key, row)
    except (AttributeError, TypeError) as err:
        # A value of an unexpected JSON type somewhere the checks above did not look.
        raise RowError(json_key, f"unexpected shape: {err}") from None
    except OverflowError as err:
        # A year, an offset or a number beyond what dates and floats hold.
        raise RowError(json_key, f"a date or number out of range: {err}") from None
    try:
        row["record_key"] = record_key(spec.table, row)
    except UnicodeEncodeError:
        # A lone surrogate (JSON "\ud800") in a name or source column: no text at all.
        raise RowError(json_key, "a text value is not valid Unicode (a lone surrogate)") from None
    row["run_id"] = ctx.run_id
    row["ingest_time"] = ctx.ingest_time
    row["load_id"] = ctx.load_id
    return [(spec.table, row)]


# --------------------------------------------------------------------------- record_key

# Per table, the measurement key: a tuple of parts, each a tuple of candidate columns of
# which the first non-null one is used (data_point_id, or the time when it is null).
_INTERVAL_KEY = (("start_time",),)
_SAMPLE_KEY = (("sample_time",),)
_DAILY_KEY = (("civil_date",),)
MEASUREMENT_KEY: dict[str, tuple[tuple[str, ...], ...]] = {
    "steps": _INTERVAL_KEY,
    "distance": _INTERVAL_KEY,
    "floors": _INTERVAL_KEY,
    "active_zone_minutes": _INTERVAL_KEY,
    "heart_rate": _SAMPLE_KEY,
    "heart_rate_variability": _SAMPLE_KEY,
    "daily_resting_heart_rate": _DAILY_KEY,
    "daily_heart_rate_zones": _DAILY_KEY,
    "daily_heart_rate_variability": _DAILY_KEY,
    "daily_oxygen_saturation": _DAILY_KEY,
    "daily_respiratory_rate": _DAILY_KEY,
    "daily_vo2_max": _DAILY_KEY,
    "sleep": (("data_point_id", "start_time"),),
    "exercise": (("data_point_id", "start_time"),),
    "weight": (("data_point_id", "sample_time"),),
    "body_fat": (("data_point_id", "sample_time"),),
    "exercise_tcx_trackpoints": (("data_point_id",), ("trackpoint_index",)),
    SUMMARY_TABLE: _DAILY_KEY,
}


def _key_text(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value
    if value is None:
        return ""
    if kind is dt.datetime:
        return utc_text(value)
    if kind is dt.date:
        return value.isoformat()
    if kind is int:
        return str(value)
    raise TypeError(f"record_key cannot format {value!r:.60}")


def record_key(table: str, row: Mapping[str, Any]) -> str:
    """The row's record_key, exactly as its schema's record_key doc spells out.

    The lowercase hex SHA-256 of the UTF-8 text joining, with U+001F, user_key, the table
    name, stream and the six source_* columns (daily_activity_summary: only user_key and the
    table name), then the measurement key of `MEASUREMENT_KEY`. Nulls are empty strings,
    timestamps RFC 3339 UTC with six fractional digits, dates YYYY-MM-DD, integers decimal.

    Args:
        table: one of the fitbeam tables.
        row: a row of that table (only the key columns are read).

    Raises:
        KeyError: the table is unknown or the row lacks a key column.
    """
    text = _key_prefix(table, row)
    separator = ""
    for candidates in MEASUREMENT_KEY[table]:
        value = None
        for column in candidates:
            value = row[column]
            if value is not None:
                break
        text += separator + _key_text(value)
        separator = "\x1f"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# The start of the key text repeats for every point of a user, stream and source: join it
# once. Bounded, because a long-lived worker sees many users.
_KEY_PREFIXES: dict[tuple, str] = {}
_PREFIX_COLUMNS = operator.itemgetter("user_key", "stream", *SOURCE_COLUMNS)


def _key_prefix(table: str, row: Mapping[str, Any]) -> str:
    if table == SUMMARY_TABLE:
        return f"{row['user_key']}\x1f{table}\x1f"
    key = (table, *_PREFIX_COLUMNS(row))
    prefix = _KEY_PREFIXES.get(key)
    if prefix is None:
        user_key, stream, *sources = key[1:]
        prefix = "\x1f".join([user_key, table, stream, *[_key_text(v) for v in sources]]) + "\x1f"
        if len(_KEY_PREFIXES) >= 4096:
            _KEY_PREFIXES.clear()
        _KEY_PREFIXES[key] = prefix
    return prefix
