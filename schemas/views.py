"""The `<table>_current` views: what to query, with every load counted once.

Tables are append-only: a re-run, a replay or a later load of the same window
adds rows beside the ones already there. Every row carries the `load_id` of
the API answer it came from, and `load_windows` records each load's user,
table, stream and civil window. A view keeps a row only if its load is the
latest one that covered the row's civil time (for TCX trackpoints: the latest
export of their exercise, while the exercise itself is current). So:

- loading a window again shows its rows once, from the newest load;
- a point edited upstream shows its new values, and one deleted upstream is
  gone, once its window is loaded again;
- a window whose call failed keeps showing what it held (a failed call
  records no load).

Which load of a window is "latest" (`load_windows` columns):

1. answers of the API (origin `api`, or `archive` for a `fitbeam rebuild` of
   them) win over imported history (`takeout`, `legacy`) wherever both cover a
   time; an API answer that held no rows for its window does not hide imported
   rows, though (the API no longer serving old days must not erase them from
   the views). An imported row is told by its load id, which starts with the
   import's run id, always `import-...`;
2. then the latest `answered_at` (when the API answered; a rebuild keeps the
   archived answer's, so it replaces that answer and never a newer one);
3. then the latest `loaded_at`, so a rebuild replaces the load it re-derives.

Run it with `fitbeam ddl`, or let `fitbeam run` create the views before it
starts (`pipeline.preflight`).
"""

from __future__ import annotations

import hashlib
import string

from schemas.bigquery import LOAD_LOG_TABLE, TABLES, USER_TABLES, load_avro_schema
from schemas.bigquery import _check_dataset as check_dataset
from schemas.bigquery import _check_project as check_project

TRACKPOINTS = "exercise_tcx_trackpoints"
# Imports' origins in load_windows, and the run id prefix of their loads (rows.load_windows
# holds the same; schemas stays free of the row builders).
IMPORT_ORIGINS = ("takeout", "legacy")
IMPORT_RUN_PREFIX = "import-"
_IMPORTED = ", ".join(f"'{origin}'" for origin in IMPORT_ORIGINS)
# Replaced, when a view is made, by a hash of its statement: unchanged views are left alone.
FINGERPRINT = "definition $fingerprint"

# The row column whose civil time the API filtered on when the window was fetched.
WINDOW_COLUMN: dict[str, str] = {
    "steps": "t.civil_start_datetime",
    "distance": "t.civil_start_datetime",
    "floors": "t.civil_start_datetime",
    "active_zone_minutes": "t.civil_start_datetime",
    "exercise": "t.civil_start_datetime",
    "sleep": "t.civil_end_datetime",
    "heart_rate": "t.civil_datetime",
    "heart_rate_variability": "t.civil_datetime",
    "weight": "t.civil_datetime",
    "body_fat": "t.civil_datetime",
    "daily_resting_heart_rate": "DATETIME(t.civil_date)",
    "daily_heart_rate_zones": "DATETIME(t.civil_date)",
    "daily_heart_rate_variability": "DATETIME(t.civil_date)",
    "daily_oxygen_saturation": "DATETIME(t.civil_date)",
    "daily_respiratory_rate": "DATETIME(t.civil_date)",
    "daily_vo2_max": "DATETIME(t.civil_date)",
    "daily_activity_summary": "DATETIME(t.civil_date)",
    "active_energy_burned": "t.civil_start_datetime",
    "basal_energy_burned": "t.civil_start_datetime",
    "active_minutes": "t.civil_start_datetime",
    "activity_level": "t.civil_start_datetime",
    "sedentary_period": "t.civil_start_datetime",
    "time_in_heart_rate_zone": "t.civil_start_datetime",
    "altitude": "t.civil_start_datetime",
    "swim_lengths_data": "t.civil_start_datetime",
    "menstrual_period": "t.civil_start_datetime",
    "oxygen_saturation": "t.civil_datetime",
    "respiratory_rate_sleep_summary": "t.civil_datetime",
    "height": "t.civil_datetime",
    "vo2_max": "t.civil_datetime",
    "run_vo2_max": "t.civil_datetime",
    "blood_glucose": "t.civil_datetime",
    "core_body_temperature": "t.civil_datetime",
    "moods": "t.civil_datetime",
    "symptoms": "t.civil_datetime",
    "ovulation_test": "t.civil_datetime",
    "daily_sleep_temperature_derivations": "DATETIME(t.civil_date)",
    "irregular_rhythm_notification": "t.civil_start_datetime",
    # Electrocardiograms are filtered on their physical start: their windows are UTC.
    "electrocardiogram": "DATETIME(t.start_time)",
    # Only `fitbeam import legacy` writes these: one file per user and day.
    "legacy_daily_activity": "DATETIME(t.civil_date)",
    "legacy_heart_rate_zones": "DATETIME(t.civil_date)",
    "legacy_sleep": "DATETIME(t.civil_date)",
    "legacy_cardio_score": "DATETIME(t.civil_date)",
    "legacy_weight": "DATETIME(t.civil_date)",
}


# Identifiers only: the table names are constants, project and dataset are checked.
_WINDOW_VIEW = string.Template(
    """WITH loads AS (
  SELECT user_key, stream, window_start, window_end, load_id, MAX(loaded_at) AS loaded_at,
    MAX(COALESCE(answered_at, loaded_at)) AS answered_at,
    MAX(IF(COALESCE(origin, 'api') IN ($imported), 1, 0)) AS imported,
    SUM(row_count) AS row_count
  FROM $loads
  WHERE table_name = '$name'
  GROUP BY user_key, stream, window_start, window_end, load_id
),
covered AS (
  SELECT t.*, l.load_id AS _latest_load_id,
    ROW_NUMBER() OVER (
      PARTITION BY t.user_key, t.record_key, t.load_id
      ORDER BY l.imported, l.answered_at DESC, l.loaded_at DESC, l.load_id DESC
    ) AS _cover_rank
  FROM $table AS t
  JOIN loads AS l
    ON l.user_key = t.user_key$stream
    AND $column >= l.window_start AND $column < l.window_end
    AND (l.row_count > 0 OR l.imported = 1 OR NOT STARTS_WITH(t.load_id, '$prefix'))
)
SELECT * EXCEPT (_latest_load_id, _cover_rank)
FROM covered
WHERE _cover_rank = 1 AND _latest_load_id = load_id
QUALIFY ROW_NUMBER() OVER (PARTITION BY user_key, record_key) = 1
"""
)
_TRACKPOINTS_VIEW = string.Template(
    """WITH loads AS (
  SELECT user_key, stream, data_point_id, load_id, MAX(loaded_at) AS loaded_at,
    MAX(COALESCE(answered_at, loaded_at)) AS answered_at,
    MAX(IF(COALESCE(origin, 'api') IN ($imported), 1, 0)) AS imported
  FROM $loads
  WHERE table_name = 'exercise_tcx_trackpoints'
  GROUP BY user_key, stream, data_point_id, load_id
),
latest AS (
  SELECT * FROM loads
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY user_key, stream, data_point_id
    ORDER BY imported, answered_at DESC, loaded_at DESC, load_id DESC
  ) = 1
)
SELECT t.*
FROM $table AS t
JOIN latest AS l
  ON l.user_key = t.user_key AND l.stream = t.stream
  AND l.data_point_id = t.data_point_id AND l.load_id = t.load_id
WHERE EXISTS (
  SELECT 1 FROM $exercise AS e
  WHERE e.user_key = t.user_key AND e.stream = t.stream AND e.data_point_id = t.data_point_id
)
QUALIFY ROW_NUMBER() OVER (PARTITION BY t.user_key, t.record_key) = 1
"""
)


# User-level tables hold snapshots, one per user (and paired device) per load: the view
# keeps each user's latest snapshot, so an unpaired device leaves it. A rebuilt snapshot
# has the archived answer's loaded_at: of two snapshots so, the later run's wins.
_SNAPSHOT_VIEW = string.Template(
    """SELECT * EXCEPT (_latest_loaded_at, _latest_ingest_time)
FROM (
  SELECT t.*, MAX(t.loaded_at) OVER (PARTITION BY t.user_key) AS _latest_loaded_at,
    MAX(t.ingest_time) OVER (PARTITION BY t.user_key, t.loaded_at) AS _latest_ingest_time
  FROM $table AS t
)
WHERE loaded_at = _latest_loaded_at AND ingest_time = _latest_ingest_time
QUALIFY ROW_NUMBER() OVER (PARTITION BY user_key, record_key ORDER BY ingest_time DESC) = 1
"""
)


def view_name(table: str) -> str:
    return f"{table}_current"


def _has_stream(table: str) -> bool:
    return any(f["name"] == "stream" for f in load_avro_schema(table)["fields"])


def current_view_sql(project: str, dataset: str, table: str) -> str:
    """`CREATE OR REPLACE VIEW <table>_current`: the table with every load counted once.

    User-level tables (`USER_TABLES`): each user's latest snapshot.
    """
    if table not in TABLES and table not in USER_TABLES:
        raise ValueError(f"no view for {table!r}; tables: {', '.join((*TABLES, *USER_TABLES))}")
    check_project(project)
    check_dataset(dataset)
    ref = f"`{project}.{dataset}"
    loads = f"{ref}.{LOAD_LOG_TABLE}`"
    if table in USER_TABLES:
        return (
            f"CREATE OR REPLACE VIEW {ref}.{view_name(table)}`\n"
            f"OPTIONS(description=\"{table}, each user's latest snapshot; query this instead "
            f'of the table. [{FINGERPRINT}]") AS\n'
        ) + _SNAPSHOT_VIEW.substitute(table=f"{ref}.{table}`")
    head = (
        f"CREATE OR REPLACE VIEW {ref}.{view_name(table)}`\n"
        f'OPTIONS(description="{table}, each row from the latest load of its window '
        f'(see load_windows); query this instead of the table. [{FINGERPRINT}]") AS\n'
    )
    if table == TRACKPOINTS:
        body = _TRACKPOINTS_VIEW.substitute(
            loads=loads,
            table=f"{ref}.{TRACKPOINTS}`",
            exercise=f"{ref}.{view_name('exercise')}`",
            imported=_IMPORTED,
        )
    else:
        column = WINDOW_COLUMN[table]
        body = _WINDOW_VIEW.substitute(
            loads=loads,
            name=table,
            table=f"{ref}.{table}`",
            stream=" AND l.stream = t.stream" if _has_stream(table) else "",
            column=column,
            imported=_IMPORTED,
            prefix=IMPORT_RUN_PREFIX,
        )
    return head + body


def fingerprint(statement: str) -> str:
    """The hash of a view's statement that its description carries (`FINGERPRINT`)."""
    return hashlib.sha256(statement.encode()).hexdigest()[:16]


def fingerprinted(statement: str) -> str:
    """The statement as it is run: its description holding its fingerprint."""
    return statement.replace(FINGERPRINT, fingerprint(statement))


def views_sql(project: str, dataset: str) -> list[str]:
    """Every view, the exercise view before the trackpoint view that reads it."""
    order = [t for t in TABLES if t != TRACKPOINTS] + [TRACKPOINTS, *USER_TABLES]
    return [current_view_sql(project, dataset, t) for t in order]
