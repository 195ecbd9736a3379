"""The daily activity summary: dailyRollUp answers -> daily_activity_summary rows.

One row per user and civil day, from the API's daily roll-ups of steps,
distance, floors, total calories and active zone minutes (`SUMMARY_TYPES`).
Pure and Beam-free, like `rows.datapoints`, whose value rules it follows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from healthapi import datatypes
from healthapi.datatypes import SUMMARY_TABLE, SUMMARY_TYPES
from rows.datapoints import RowContext, RowError, _count, _obj, _zero_or_float, record_key

# (column, data type, value key, converter); a type the roll-up did not return -> null.
_SUMMARY_COLUMNS = (
    ("step_count", "steps", "countSum", _count),
    ("distance_millimeters", "distance", "millimetersSum", _count),
    ("floor_count", "floors", "countSum", _count),
    ("total_calories_kcal", "total-calories", "kcalSum", _zero_or_float),
    ("active_zone_minutes_fat_burn", "active-zone-minutes", "sumInFatBurnHeartZone", _count),
    ("active_zone_minutes_cardio", "active-zone-minutes", "sumInCardioHeartZone", _count),
    ("active_zone_minutes_peak", "active-zone-minutes", "sumInPeakHeartZone", _count),
)


def summary_rows(
    windows: Mapping[dt.date, Mapping[str, Mapping | None]], ctx: RowContext
) -> list[tuple[str, dict]]:
    """daily_activity_summary rows from dailyRollUp windows, one row per day.

    Args:
        windows: civil day (the date of the window's civilStartTime) -> {API data type name:
            that type's rollup value object}, for the types of `SUMMARY_TYPES`, e.g.
            ``{date(2026, 11, 20): {"steps": {"countSum": "9123"}, "total-calories":
            {"kcalSum": 2100.5}}}``. A type left out of a day (or given as None) means the
            roll-up had no data for it: its columns are null. A value object without a sum
            means data adding up to zero: 0. A day with no types gives no row.
        ctx: the user and run.

    Returns:
        ("daily_activity_summary", row) pairs in date order.

    Raises:
        RowError: a key is not a date, a data type is not one of `SUMMARY_TYPES`, or a value
            is malformed.
    """
    for day in windows:
        if type(day) is not dt.date:
            raise RowError("civil_date", f"expected a date, got {day!r:.60}")
    out = []
    for day in sorted(windows):
        values = windows[day]
        if values is None:
            continue
        if not isinstance(values, Mapping):
            raise RowError(f"dailyRollUp[{day}]", f"expected a mapping, got {values!r:.60}")
        unknown = [t for t in values if t not in SUMMARY_TYPES]
        if unknown:
            raise RowError(
                f"dailyRollUp[{day}]",
                f"unexpected data type {unknown[0]!r:.60}; expected {', '.join(SUMMARY_TYPES)}",
            )
        present = {t: v for t, v in values.items() if v is not None}
        if not present:
            continue
        row: dict[str, Any] = {"user_key": ctx.user_key, "civil_date": day}
        for column, data_type, key, convert in _SUMMARY_COLUMNS:
            value = present.get(data_type)
            if value is None:
                row[column] = None
            else:
                where = f"dailyRollUp[{day}].{data_type}"
                row[column] = convert(_obj(value, where).get(key), f"{where}.{key}")
        if "active-zone-minutes" in present:
            row["active_zone_minutes_total"] = (
                row["active_zone_minutes_fat_burn"]
                + row["active_zone_minutes_cardio"]
                + row["active_zone_minutes_peak"]
            )
        else:
            row["active_zone_minutes_total"] = None
        row["record_key"] = record_key(SUMMARY_TABLE, row)
        row["run_id"] = ctx.run_id
        row["ingest_time"] = ctx.ingest_time
        row["load_id"] = ctx.load_id
        out.append((SUMMARY_TABLE, row))
    return out


def summary_windows(rollups: tuple) -> dict[dt.date, dict[str, dict | None]]:
    """dailyRollUp answers per type -> {civil date: {data type: rollup value}}.

    Windows are placed by their civil start date, never by their position: the live
    API answers newest first, and a range may come in several pages.

    Args:
        rollups: `((data type, windows), ...)` as `healthapi.calls.fetch_summary` returns.

    Raises:
        RowError: a window without a civil date.
    """
    out: dict[dt.date, dict[str, dict | None]] = {}
    for data_type, windows in rollups:
        key = datatypes.spec(data_type).json_key
        for window in windows:
            try:
                d = window["civilStartTime"]["date"]
                day = dt.date(d["year"], d["month"], d["day"])
            # OverflowError: a year or month past what a C int holds.
            except (KeyError, TypeError, ValueError, OverflowError) as err:
                raise RowError(
                    f"dailyRollUp[{data_type}].civilStartTime", f"no civil date: {err!r:.80}"
                ) from err
            # No value object: the type had no data that day (null columns).
            out.setdefault(day, {})[data_type] = window.get(key)
    return out
