"""Analyst documentation of fitbeam's BigQuery tables, generated from schemas/*.avsc.

The table and column descriptions are the docs of the Avro schemas (the same text BigQuery shows
as descriptions); this module adds an introduction and lays them out as Markdown. The result is
committed as docs/tables.md, and a unit test fails when it is out of date.

Rewrite docs/tables.md after changing a schema::

    python -m schemas.docs
    python -m schemas.docs --output /tmp/tables.md
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from schemas.bigquery import (
    CLUSTERING_FIELDS,
    LOAD_LOG_TABLE,
    PARTITION_FIELD,
    TABLES,
    USER_TABLES,
    avro_to_bigquery_fields,
    load_avro_schema,
)

__all__ = ["DEFAULT_OUTPUT", "TABLE_SUMMARY", "main", "render_markdown"]

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "tables.md"

# Table -> (kind, what one row is, what civil_date is). The overview table in the
# introduction; the schemas' own docs say the same in more words.
_SUMMARY: dict[str, tuple[str, str, str]] = {
    "steps": ("interval", "interval per stream and source", "local date of start_time"),
    "distance": ("interval", "interval per stream and source", "local date of start_time"),
    "floors": ("interval", "interval per stream and source", "local date of start_time"),
    "active_zone_minutes": (
        "interval",
        "interval per stream and source",
        "local date of start_time",
    ),
    "heart_rate": ("sample", "sample per stream and source", "local date of sample_time"),
    "heart_rate_variability": (
        "sample",
        "sample per stream and source",
        "local date of sample_time",
    ),
    "daily_resting_heart_rate": ("daily", "day per stream and source", "the API's date"),
    "daily_heart_rate_zones": (
        "daily",
        "day per stream and source (zones nested)",
        "the API's date",
    ),
    "daily_heart_rate_variability": ("daily", "day per stream and source", "the API's date"),
    "daily_oxygen_saturation": ("daily", "day per stream and source", "the API's date"),
    "daily_respiratory_rate": ("daily", "day per stream and source", "the API's date"),
    "daily_vo2_max": ("daily", "day per stream and source", "the API's date"),
    "sleep": (
        "session",
        "sleep per stream and source (stages nested)",
        "local date the sleep **ends** on (wake-up day)",
    ),
    "exercise": ("session", "exercise per stream and source", "local date the exercise starts on"),
    "weight": ("sample", "measurement per stream and source", "local date of sample_time"),
    "body_fat": ("sample", "measurement per stream and source", "local date of sample_time"),
    "exercise_tcx_trackpoints": (
        "TCX export",
        "trackpoint of an exercise's TCX file",
        "the exercise's civil_date",
    ),
    "daily_activity_summary": ("daily roll-up", "user and day", "the roll-up's local day"),
    **{
        table: ("interval", "interval per stream and source", "local date of start_time")
        for table in (
            "active_energy_burned",
            "basal_energy_burned",
            "activity_level",
            "time_in_heart_rate_zone",
            "altitude",
        )
    },
    "active_minutes": (
        "interval",
        "interval per stream and source (levels nested)",
        "local date of start_time",
    ),
    "sedentary_period": (
        "interval",
        "sedentary period per stream and source",
        "local date of start_time",
    ),
    "swim_lengths_data": (
        "interval",
        "pool length per stream and source",
        "local date of start_time",
    ),
    "menstrual_period": (
        "interval",
        "logged period per stream and source",
        "local date of start_time",
    ),
    **{
        table: ("sample", "sample per stream and source", "local date of sample_time")
        for table in ("oxygen_saturation", "respiratory_rate_sleep_summary")
    },
    **{
        table: ("sample", "measurement per stream and source", "local date of sample_time")
        for table in (
            "height",
            "vo2_max",
            "run_vo2_max",
            "blood_glucose",
            "core_body_temperature",
            "ovulation_test",
        )
    },
    "moods": (
        "sample",
        "logged entry per stream and source (moods repeated)",
        "local date of sample_time",
    ),
    "symptoms": (
        "sample",
        "logged entry per stream and source (symptoms repeated)",
        "local date of sample_time",
    ),
    "daily_sleep_temperature_derivations": ("daily", "day per stream and source", "the API's date"),
    "electrocardiogram": (
        "session",
        "ECG reading per stream and source (waveform repeated)",
        "local date of start_time (UTC for historical readings)",
    ),
    "irregular_rhythm_notification": (
        "session",
        "notification per stream and source (alert windows and beats nested)",
        "local date of start_time",
    ),
    # Legacy-only values, written only by `fitbeam import legacy` (docs/history.md).
    "legacy_daily_activity": ("daily", "day (legacy activity summary)", "the summary's date"),
    "legacy_heart_rate_zones": ("daily", "day (legacy heart-rate zones)", "the response's date"),
    "legacy_sleep": ("session", "sleep log (legacy-only values)", "dateOfSleep, the wake-up day"),
    "legacy_cardio_score": ("daily", "day with a VO2 max range", "the score's date"),
    "legacy_weight": ("sample", "weigh-in (legacy-only values)", "the log's local date"),
}

TABLE_SUMMARY: dict[str, tuple[str, str, str]] = {table: _SUMMARY[table] for table in TABLES}

_INTRODUCTION = """\
# fitbeam tables in BigQuery

fitbeam copies Fitbit data from the Google Health API (v4) into one BigQuery dataset, one table
per data type. This page describes every table and column. It is generated from the Avro schemas
in `schemas/*.avsc` by `python -m schemas.docs`: change the schemas, not this file. The same
descriptions appear in BigQuery's schema view.

## Layout

Every table is partitioned by day on `{partition}` and clustered by `{clustering}`. Filter on
`{partition}` in every query (it decides how much data is scanned and billed) and on `user_key`
when you can.

| Table | Kind | One row per | `civil_date` is |
| --- | --- | --- | --- |
{summary}

Tables are append-only. Each pipeline run appends the rows it fetched, so a period that is
fetched again (recent days usually are, because sleeps are processed late and users edit their
logs) holds several versions of the same measurement. **Query the `<table>_current` views**
(`steps_current`, `sleep_current`, ...): every row carries the `load_id` of the API answer it
came from, the `load_windows` table records which user, table and civil window each load
covered, and a view keeps a row only when its load is the latest that covered it. So a window
loaded again shows once, a point edited upstream shows its new values, and one deleted
upstream is gone once its window is loaded again; a window whose call failed keeps what it
had. `fitbeam run` creates the views before it starts.

```sql
SELECT user_key, civil_date, SUM(step_count) AS steps
FROM `my-project.fitbit.steps_current`
WHERE civil_date BETWEEN '2026-11-01' AND '2026-11-30'
GROUP BY user_key, civil_date
```

## Time columns

Physical time and local ("civil") time are kept apart:

- `TIMESTAMP` columns (`start_time`, `end_time`, `sample_time`, `trackpoint_time`,
  `ingest_time`) are instants in UTC. Use them for durations and to order events.
- `utc_offset_seconds` and `*_utc_offset_seconds` are the user's offset from UTC at that
  instant, in seconds east of UTC (-18000 is UTC-05:00). It changes with daylight-saving time
  and travel, so an interval's start and end offsets can differ.
- `DATETIME` columns (`civil_start_datetime`, `civil_end_datetime`, `civil_datetime`) are the
  wall-clock time the user saw: the instant plus its offset, with no zone. Use them for
  time-of-day questions ("steps before 9 am"). Never compare them with `TIMESTAMP` columns.
  The API sends them for most types; for sleep and exercise it does not, and fitbeam derives
  them from the instant and the offset. Historical electrocardiograms carry no offset: their
  civil times are UTC.
- `civil_date` (`DATE`, never null) is the user's local calendar day the row belongs to:

  - interval types (steps, distance, floors, active_zone_minutes, active and basal energy,
    active_minutes, activity_level, sedentary_period, time_in_heart_rate_zone, altitude,
    swim_lengths_data, menstrual_period), exercise, electrocardiogram and
    irregular_rhythm_notification: the local date of the start; a row that crosses midnight
    stays on the day it starts;
  - sample types (heart_rate, heart_rate_variability, weight, body_fat, oxygen_saturation,
    height, VO2 max, blood_glucose, core_body_temperature, moods, symptoms, ovulation_test...):
    the local date of the sample;
  - daily types (daily_*): the day given by the API, already in the user's time zone;
  - sleep: the local date the sleep **ends** on, the wake-up day, as in the Fitbit app (a night
    from 23:00 on 3 March to 07:00 on 4 March belongs to 4 March);
  - exercise_tcx_trackpoints: the `civil_date` of its exercise;
  - daily_activity_summary: the local day of the API's daily roll-up.

## Units

Values keep the API's metric units whatever units the user chose in the app, and column names say
the unit: millimetres (`distance_millimeters`; divide by 1,000,000 for km), grams
(`weight_grams`), kilocalories (`*_kcal`), beats per minute, milliseconds, percent, and
ml/kg/min for VO2 max. Counts (steps, floors, Active Zone Minutes) are integers. The exception
is `exercise_tcx_trackpoints`, which keeps the units of the TCX file: metres, seconds and
decimal degrees.

Enumerations are stored as the API's upper-case names (`FAT_BURN`, `FITNESS_BAND`), except in
`exercise_tcx_trackpoints`, whose lap and sport values are written as in the TCX file (`Active`,
`Running`).

## Streams and sources

Most tables hold two views of the same data, told apart by `stream`:

- `reconciled`: from the API's `dataPoints:reconcile` method, which merges all of the user's
  sources (watch, phone, scale, other apps) into one series without double counting. It gives
  no source details, so every `source_*` column is null. Use these rows for totals.
- `raw`: from the API's `dataPoints` list method, one row per data point of each source, with
  `source_platform`, `source_recording_method`, `source_device_display_name`,
  `source_device_form_factor`, `source_device_manufacturer` and
  `source_application_package_name` filled in as far as the source reported them. A walk
  counted by both a phone and a watch appears twice, so never sum raw rows across sources.

Always filter on `stream`. `daily_activity_summary` has no `stream` or `source_*` columns: the
API's daily roll-up is computed from reconciled data.

## Nulls and zeros

The API leaves zero numbers and false flags out of its responses, except for fields with
explicit presence, which it sends as 0. Required counts (such as `step_count`) are stored as 0
when the API left them out. Nullable columns are null when the API sent nothing: a value is
never invented (the sleep summary's minutes, which the API sends as 0 when they are zero, are
null when left out); for booleans null usually means false. In `daily_activity_summary`, null
means the API had no data of that type for the day and 0 means it had data that added up to
zero.

## record_key, run_id and ingest_time

Every table ends with three bookkeeping columns:

- `record_key` identifies a measurement across re-fetches. It is the lowercase hex SHA-256 of
  the UTF-8 text made by joining, with the unit separator character U+001F, `user_key`, the table
  name, `stream`, the six `source_*` columns (in the order above) and the measurement's own key:
  `start_time` for interval types and sessions without an id (electrocardiogram,
  irregular_rhythm_notification), `sample_time` for sample types without an id (heart_rate,
  heart_rate_variability, oxygen_saturation...), `civil_date` for daily types, `data_point_id`
  (or the start or sample time when it is null) for the types whose points have an id (sleep,
  exercise, weight, body_fat, menstrual_period, height, blood_glucose, core_body_temperature,
  moods, symptoms, ovulation_test), and `data_point_id` then `trackpoint_index` for
  exercise_tcx_trackpoints. `daily_activity_summary` uses only `user_key`, the table name and
  `civil_date`. Nulls are written as empty strings, `TIMESTAMP`s in RFC 3339 UTC with six
  fractional digits, `DATE`s as `YYYY-MM-DD`, integers in decimal. Each column's description
  spells out the list for its table.
- `run_id` identifies the pipeline run that wrote the row.
- `ingest_time` is when that run started, the same for every row of the run.

For example, a raw `steps` row of participant `p-0042` for the minute starting
2026-11-20T02:03:00Z, from a Fitbit Charge 6 with no manufacturer reported:

```python
import hashlib

parts = [
    "p-0042",
    "steps",
    "raw",
    "FITBIT",
    "PASSIVELY_MEASURED",
    "Charge 6",
    "FITNESS_BAND",
    "",
    "com.google.fitbit",
    "2026-11-20T02:03:00.000000Z",
]
hashlib.sha256("\\x1f".join(parts).encode("utf-8")).hexdigest()
# '{example_key}'
```

The same recipe in SQL, to check a table:

```sql
SELECT
  record_key = TO_HEX(SHA256(ARRAY_TO_STRING([
    user_key, 'steps', stream, source_platform, source_recording_method,
    source_device_display_name, source_device_form_factor, source_device_manufacturer,
    source_application_package_name,
    FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%E6SZ', start_time, 'UTC')], '\\x1f', ''))) AS key_ok
FROM `my-project.fitbit.steps`
WHERE civil_date = '2026-11-19'
```
"""

_USER_INTRODUCTION = """\
# User-level tables

Four tables hold no data points but a snapshot of the user's account, one row per user (per
paired device) each time a run loads it: paired devices with battery level and last sync time,
the profile, the settings (time zone, units) and the Irregular Rhythm Notification profile.
Their `<table>_current` views keep each user's latest snapshot.
"""

_LOAD_LOG_INTRODUCTION = """\
# The load log

One more table holds no Fitbit data: it records the loads themselves. The `<table>_current`
views are built on it; query it directly to see what was loaded when, e.g. which days of a
user have never been loaded:

```sql
SELECT table_name, civil_date, MAX(loaded_at) AS last_loaded
FROM `my-project.fitbit.load_windows`
WHERE user_key = 'participant-017' AND civil_date >= '2026-11-01'
GROUP BY table_name, civil_date
ORDER BY table_name, civil_date
```
"""

# hashlib.sha256("\x1f".join(parts)) of the example above; a unit test recomputes it.
RECORD_KEY_EXAMPLE = "f10038805d7e072786da79c09c23f407e4295f822cdb25a6f6394be489afc0c8"


def render_markdown() -> str:
    """Returns the text of docs/tables.md: an introduction, then one section per table.

    Each table section has the table's description and one row per column (nested fields of
    repeated records as ``stages.stage_type``) with its BigQuery type, mode and description.
    """
    summary = "\n".join(
        f"| [`{table}`](#{table}) | {kind} | {row} | {civil_date} |"
        for table, (kind, row, civil_date) in TABLE_SUMMARY.items()
    )
    parts = [
        _INTRODUCTION.format(
            partition=PARTITION_FIELD,
            clustering=", ".join(CLUSTERING_FIELDS),
            summary=summary,
            example_key=RECORD_KEY_EXAMPLE,
        )
    ]
    parts += [_table_section(table) for table in TABLES]
    parts.append(_USER_INTRODUCTION)
    parts += [_table_section(table) for table in USER_TABLES]
    parts.append(_LOAD_LOG_INTRODUCTION)
    parts.append(_table_section(LOAD_LOG_TABLE))
    return "\n".join(parts)


def _table_section(table: str) -> str:
    schema = load_avro_schema(table)
    lines = [
        f"## {table}",
        "",
        schema["doc"],
        "",
        "| Column | Type | Mode | Description |",
        "| --- | --- | --- | --- |",
    ]
    lines += _column_rows(avro_to_bigquery_fields(schema), prefix="")
    lines.append("")
    return "\n".join(lines)


def _column_rows(fields: list[dict[str, Any]], prefix: str) -> list[str]:
    rows = []
    for field in fields:
        name = prefix + field["name"]
        rows.append(
            f"| `{name}` | {field['type']} | {field['mode']} | {_cell(field['description'])} |"
        )
        if field["type"] == "RECORD":
            rows += _column_rows(field["fields"], prefix=name + ".")
    return rows


def _cell(text: str) -> str:
    """Makes text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def main(argv: Sequence[str] | None = None) -> int:
    """Writes the rendered documentation to docs/tables.md or ``--output``.

    Args:
        argv: Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The exit status, 0.
    """
    parser = argparse.ArgumentParser(
        prog="python -m schemas.docs",
        description="Write docs/tables.md from the Avro schemas.",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"file to write, e.g. /tmp/tables.md; default: {DEFAULT_OUTPUT}",
    )
    args = parser.parse_args(argv)
    args.output.write_text(render_markdown(), encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
