"""The record_key of a row: the deterministic key of its measurement, and the columns it uses.

Pure and Beam-free. Every table's schema doc spells the recipe out (`record_key`); the
measurement key of each table is `MEASUREMENT_KEY`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import operator
from collections.abc import Mapping
from typing import Any

from healthapi.datatypes import SUMMARY_TABLE
from schemas.convert import utc_text

STREAMS = ("raw", "reconciled")
SOURCE_COLUMNS = (
    "source_platform",
    "source_recording_method",
    "source_device_display_name",
    "source_device_form_factor",
    "source_device_manufacturer",
    "source_application_package_name",
)

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
    "active_energy_burned": _INTERVAL_KEY,
    "basal_energy_burned": _INTERVAL_KEY,
    "active_minutes": _INTERVAL_KEY,
    "activity_level": _INTERVAL_KEY,
    "sedentary_period": _INTERVAL_KEY,
    "time_in_heart_rate_zone": _INTERVAL_KEY,
    "altitude": _INTERVAL_KEY,
    "swim_lengths_data": _INTERVAL_KEY,
    "menstrual_period": (("data_point_id", "start_time"),),
    "oxygen_saturation": _SAMPLE_KEY,
    "respiratory_rate_sleep_summary": _SAMPLE_KEY,
    "height": (("data_point_id", "sample_time"),),
    "vo2_max": _SAMPLE_KEY,
    "run_vo2_max": _SAMPLE_KEY,
    "blood_glucose": (("data_point_id", "sample_time"),),
    "core_body_temperature": (("data_point_id", "sample_time"),),
    "moods": (("data_point_id", "sample_time"),),
    "symptoms": (("data_point_id", "sample_time"),),
    "ovulation_test": (("data_point_id", "sample_time"),),
    "daily_sleep_temperature_derivations": _DAILY_KEY,
    "electrocardiogram": _INTERVAL_KEY,
    "irregular_rhythm_notification": _INTERVAL_KEY,
    "exercise_tcx_trackpoints": (("data_point_id",), ("trackpoint_index",)),
    SUMMARY_TABLE: _DAILY_KEY,
    "legacy_daily_activity": _DAILY_KEY,
    "legacy_heart_rate_zones": _DAILY_KEY,
    "legacy_sleep": (("data_point_id",),),
    "legacy_cardio_score": _DAILY_KEY,
    "legacy_weight": (("data_point_id",),),
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
