"""The `participant_days` view: one row per participant and civil day, for running a study.

Built only on the `<table>_current` views (the tables hold every loaded
version of a point) and `load_windows`. Its columns are the fields of
`study.model.ParticipantDay`; docs/study.md defines each one, with sources:

- the day spine: every civil date from a participant's first to last loaded
  window, so a loaded day without data shows 0 worn minutes;
- `worn_minutes`: distinct UTC minutes covered by a steps point of the
  reconciled stream (the API sends steps points, zeros included, only while
  the device is on the wrist), per civil date of the minute;
- `worn_minutes_heart_rate`: distinct UTC minutes with a heart-rate sample;
  `worn_minutes_disagree`: minutes in exactly one of the two;
- `day_minutes`: the day's length in the participant's time zone (1380, 1440
  or 1500), from the latest `user_settings`, UTC when unknown;
- `data_types`: point tables with a row that day (any stream);
  `expected_data_types`: what the participant's paired devices produce every
  worn day (`EXPECTED_TABLES`), and `completeness` the share of those present.

Identifiers come only from the constants here and `schemas.bigquery`, with the
project and dataset checked, as in `schemas.views`. `fitbeam run` creates the
view (`pipeline.preflight`); `fitbeam ddl` prints it.
"""

from __future__ import annotations

import string

from schemas import views
from schemas.bigquery import LOAD_LOG_TABLE, TABLES
from schemas.bigquery import _check_dataset as check_dataset
from schemas.bigquery import _check_project as check_project
from schemas.views import FINGERPRINT, TRACKPOINTS, view_name

PARTICIPANT_DAYS = "participant_days"
SUMMARY_TABLE = "daily_activity_summary"
ELECTROCARDIOGRAM = "electrocardiogram"
# Tables of data points: what `data_types` lists. The daily summary rolls up other
# tables and the trackpoints are details of an exercise, so neither counts on its own.
POINT_TABLES: tuple[str, ...] = tuple(t for t in TABLES if t not in (TRACKPOINTS, SUMMARY_TABLE))
# Loads whose windows are civil times, which make the day spine: electrocardiogram
# windows are UTC (schemas.views.WINDOW_COLUMN) and TCX exports have none.
SPINE_TABLES: tuple[str, ...] = tuple(
    t for t in TABLES if t not in (TRACKPOINTS, ELECTROCARDIOGRAM)
)
# Worn minutes, steps, heart rate and main sleep are read from this stream only: one
# value per minute, as the Fitbit app shows it.
STREAM = "reconciled"

# A paired device's feature (PairedDevice.features) -> the tables a day it is worn
# should have rows in. Only types that come every worn day: steps, distance, floors
# and altitude send explicit zero points while the device is on the wrist (Google
# Health API, "data presence and true zeros"); heart rate is sampled all the time the
# device is worn and the resting heart rate is computed each such day; the main sleep
# is recorded when it is worn at night. Left out, as they do not come every worn day:
# the daily SpO2, breathing rate and HRV (SPO2...: only after a night's sleep with
# stages), active zone minutes (only minutes in a zone), energy (CALORIES: total
# calories, the true-zero type, is a roll-up without a table of points).
EXPECTED_TABLES: dict[str, tuple[str, ...]] = {
    "STEPS": ("steps",),
    "DISTANCE": ("distance",),
    "ELEVATION": ("floors", "altitude"),
    "HEART_RATE": ("heart_rate", "daily_resting_heart_rate"),
    "SLEEP": ("sleep",),
}


def expected_tables(features: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The tables a worn day should have for devices with these features, sorted."""
    return tuple(sorted({t for f in features for t in EXPECTED_TABLES.get(f, ())}))


# Identifiers only: the table names are constants, project and dataset are checked.
_PARTICIPANT_DAYS_VIEW = string.Template(
    """WITH windows AS (
  SELECT user_key,
    MIN(DATE(window_start)) AS first_date,
    MAX(DATE(DATETIME_SUB(window_end, INTERVAL 1 MICROSECOND))) AS last_date
  FROM $loads
  WHERE table_name IN ($spine_tables)
    AND window_start IS NOT NULL AND window_end > window_start
  GROUP BY user_key
),
zones AS (
  -- The zone of the participant's latest settings snapshot.
  SELECT user_key, time_zone
  FROM $user_settings
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY user_key ORDER BY loaded_at DESC) = 1
),
spine AS (
  SELECT w.user_key, civil_date, z.time_zone, COALESCE(z.time_zone, 'UTC') AS zone
  FROM windows AS w
  CROSS JOIN UNNEST(GENERATE_DATE_ARRAY(w.first_date, w.last_date)) AS civil_date
  LEFT JOIN zones AS z ON z.user_key = w.user_key
),
day_lengths AS (
  -- The quarter hours of UTC time whose local date is the day. Every time zone's
  -- offset is a whole number of quarter hours, so 15 of them make the day's length:
  -- 1440 minutes, 1380 or 1500 on a DST day (TIMESTAMP(date, zone) would say it more
  -- directly, but the emulator takes only a literal zone there).
  SELECT zone, civil_date, 15 * COUNTIF(DATE(quarter, zone) = civil_date) AS day_minutes
  FROM (SELECT DISTINCT zone, civil_date FROM spine)
  CROSS JOIN UNNEST(GENERATE_TIMESTAMP_ARRAY(
    TIMESTAMP_SUB(TIMESTAMP(civil_date), INTERVAL 15 HOUR),
    TIMESTAMP_ADD(TIMESTAMP(civil_date), INTERVAL 39 HOUR),
    INTERVAL 15 MINUTE
  )) AS quarter
  GROUP BY zone, civil_date
),
days AS (
  SELECT s.user_key, s.civil_date, s.time_zone, l.day_minutes
  FROM spine AS s
  JOIN day_lengths AS l ON l.zone = s.zone AND l.civil_date = s.civil_date
),
step_minutes AS (
  SELECT s.user_key,
    DATE(TIMESTAMP_ADD(minute, INTERVAL s.start_utc_offset_seconds SECOND)) AS civil_date,
    minute
  FROM $steps AS s
  CROSS JOIN UNNEST(GENERATE_TIMESTAMP_ARRAY(
    TIMESTAMP_TRUNC(s.start_time, MINUTE),
    GREATEST(s.start_time, TIMESTAMP_SUB(s.end_time, INTERVAL 1 MICROSECOND)),
    INTERVAL 1 MINUTE
  )) AS minute
  WHERE s.stream = '$stream'
),
heart_rate_minutes AS (
  SELECT user_key, civil_date, TIMESTAMP_TRUNC(sample_time, MINUTE) AS minute
  FROM $heart_rate
  WHERE stream = '$stream'
),
minutes AS (
  SELECT user_key, civil_date, minute,
    LOGICAL_OR(by_steps) AS by_steps, LOGICAL_OR(by_heart_rate) AS by_heart_rate
  FROM (
    SELECT user_key, civil_date, minute, TRUE AS by_steps, FALSE AS by_heart_rate
    FROM step_minutes
    UNION ALL
    SELECT user_key, civil_date, minute, FALSE AS by_steps, TRUE AS by_heart_rate
    FROM heart_rate_minutes
  )
  GROUP BY user_key, civil_date, minute
),
wear AS (
  SELECT user_key, civil_date,
    COUNTIF(by_steps) AS worn_minutes,
    COUNTIF(by_heart_rate) AS worn_minutes_heart_rate,
    COUNTIF(by_steps != by_heart_rate) AS worn_minutes_disagree
  FROM minutes
  GROUP BY user_key, civil_date
),
steps_day AS (
  SELECT user_key, civil_date, SUM(step_count) AS step_count
  FROM $steps
  WHERE stream = '$stream'
  GROUP BY user_key, civil_date
),
main_sleep AS (
  SELECT user_key, civil_date, MAX(minutes_asleep) AS main_sleep_minutes
  FROM $sleep
  WHERE stream = '$stream' AND is_main_sleep
  GROUP BY user_key, civil_date
),
present AS (
$present
),
types_day AS (
  SELECT user_key, civil_date, ARRAY_AGG(table_name ORDER BY table_name) AS data_types
  FROM present
  GROUP BY user_key, civil_date
),
feature_tables AS (
  SELECT * FROM UNNEST([
    $feature_rows
  ])
),
latest_devices AS (
  -- The devices of the participant's latest snapshot: one unpaired since expects nothing.
  SELECT user_key, features
  FROM $paired_devices
  WHERE TRUE
  QUALIFY loaded_at = MAX(loaded_at) OVER (PARTITION BY user_key)
),
expected_pairs AS (
  SELECT DISTINCT d.user_key, m.table_name
  FROM latest_devices AS d
  CROSS JOIN UNNEST(d.features) AS device_feature
  JOIN feature_tables AS m ON m.feature = device_feature
),
expected AS (
  SELECT user_key,
    ARRAY_AGG(table_name ORDER BY table_name) AS expected_data_types,
    COUNT(*) AS expected_count
  FROM expected_pairs
  GROUP BY user_key
),
matched AS (
  SELECT p.user_key, p.civil_date, COUNT(*) AS present_count
  FROM present AS p
  JOIN expected_pairs AS e ON e.user_key = p.user_key AND e.table_name = p.table_name
  GROUP BY p.user_key, p.civil_date
)
SELECT
  s.user_key,
  s.civil_date,
  s.time_zone,
  s.day_minutes,
  COALESCE(w.worn_minutes, 0) AS worn_minutes,
  COALESCE(w.worn_minutes_heart_rate, 0) AS worn_minutes_heart_rate,
  COALESCE(w.worn_minutes_disagree, 0) AS worn_minutes_disagree,
  COALESCE(w.worn_minutes_heart_rate, 0) / s.day_minutes AS heart_rate_coverage,
  st.step_count,
  ms.user_key IS NOT NULL AS main_sleep_recorded,
  ms.main_sleep_minutes,
  COALESCE(t.data_types, ARRAY<STRING>[]) AS data_types,
  COALESCE(e.expected_data_types, ARRAY<STRING>[]) AS expected_data_types,
  IF(
    e.expected_count > 0,
    COALESCE(mt.present_count, 0) / e.expected_count,
    CAST(NULL AS FLOAT64)
  ) AS completeness
FROM days AS s
LEFT JOIN wear AS w ON w.user_key = s.user_key AND w.civil_date = s.civil_date
LEFT JOIN steps_day AS st ON st.user_key = s.user_key AND st.civil_date = s.civil_date
LEFT JOIN main_sleep AS ms ON ms.user_key = s.user_key AND ms.civil_date = s.civil_date
LEFT JOIN types_day AS t ON t.user_key = s.user_key AND t.civil_date = s.civil_date
LEFT JOIN expected AS e ON e.user_key = s.user_key
LEFT JOIN matched AS mt ON mt.user_key = s.user_key AND mt.civil_date = s.civil_date
"""
)
_PRESENT = string.Template(
    "  SELECT DISTINCT user_key, civil_date, '$name' AS table_name FROM $view"
)
_FEATURE = string.Template("STRUCT('$feature' AS feature, '$table' AS table_name)")


def _ref(project: str, dataset: str, name: str) -> str:
    return f"`{project}.{dataset}.{name}`"


def participant_days_sql(project: str, dataset: str) -> str:
    """`CREATE OR REPLACE VIEW participant_days`: one row per participant and civil day.

    Raises:
        ValueError: a malformed project or dataset ID.
    """
    check_project(project)
    check_dataset(dataset)

    def current(table: str) -> str:
        return _ref(project, dataset, view_name(table))

    head = (
        f"CREATE OR REPLACE VIEW {_ref(project, dataset, PARTICIPANT_DAYS)}\n"
        'OPTIONS(description="One row per participant and civil day: minutes worn (steps, '
        "heart rate), steps, main sleep, data types present and completeness against the "
        f"participant's devices; see docs/study.md. [{FINGERPRINT}]\") AS\n"
    )
    return head + _PARTICIPANT_DAYS_VIEW.substitute(
        loads=_ref(project, dataset, LOAD_LOG_TABLE),
        spine_tables=", ".join(f"'{t}'" for t in SPINE_TABLES),
        user_settings=current("user_settings"),
        steps=current("steps"),
        heart_rate=current("heart_rate"),
        sleep=current("sleep"),
        paired_devices=current("paired_devices"),
        stream=STREAM,
        present="\n  UNION ALL\n".join(
            _PRESENT.substitute(name=t, view=current(t)) for t in POINT_TABLES
        ),
        feature_rows=",\n    ".join(
            _FEATURE.substitute(feature=feature, table=table)
            for feature, tables in EXPECTED_TABLES.items()
            for table in tables
        ),
    )


def views_sql(project: str, dataset: str) -> list[str]:
    """The study views, to create after every `<table>_current` view they read."""
    return [participant_days_sql(project, dataset)]


def all_views_sql(project: str, dataset: str) -> list[str]:
    """Every view in the order they are made: the `<table>_current` views, then these."""
    return views.views_sql(project, dataset) + views_sql(project, dataset)
