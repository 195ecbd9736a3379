"""schemas.views: one `<table>_current` view per table, on the column its windows were cut on."""

from __future__ import annotations

import re

import pytest

from healthapi import datatypes
from history import legacy
from schemas import views
from schemas.bigquery import TABLES, USER_TABLES, load_avro_schema


def test_every_table_has_one_view_and_trackpoints_come_after_exercise():
    statements = views.views_sql("my-project", "fitbit")
    names = [re.search(r"VIEW `my-project\.fitbit\.(\w+)_current`", s)[1] for s in statements]
    assert sorted(names) == sorted((*TABLES, *USER_TABLES))
    assert names.index("exercise") < names.index("exercise_tcx_trackpoints")


@pytest.mark.parametrize("table", sorted(views.WINDOW_COLUMN))
def test_window_columns_are_columns_of_their_table(table):
    columns = {f["name"] for f in load_avro_schema(table)["fields"]}
    name = re.fullmatch(r"(?:DATETIME\()?t\.(\w+)\)?", views.WINDOW_COLUMN[table])[1]
    assert name in columns


def test_each_listed_type_is_viewed_on_the_member_its_filter_bounds():
    expected = {
        "interval.civil_start_time": "t.civil_start_datetime",
        "interval.civil_end_time": "t.civil_end_datetime",
        "sample_time.civil_time": "t.civil_datetime",
        "date": "DATETIME(t.civil_date)",
        # ECG windows are UTC: their filter is on the physical start.
        "interval.start_time": "DATETIME(t.start_time)",
    }
    for spec in datatypes.SPECS.values():
        if spec.table is not None:
            assert views.WINDOW_COLUMN[spec.table] == expected[spec.window_member], spec.name


def test_tables_of_no_data_type_are_viewed_on_the_day_their_windows_cover():
    # The daily summary's windows are days; a legacy import's are the day of each file.
    listed = {spec.table for spec in datatypes.SPECS.values() if spec.table is not None}
    assert set(views.WINDOW_COLUMN) == set(TABLES) - {views.TRACKPOINTS}
    others = {t: column for t, column in views.WINDOW_COLUMN.items() if t not in listed}
    assert others == {"daily_activity_summary": "DATETIME(t.civil_date)"} | {
        table: "DATETIME(t.civil_date)" for table in legacy.LEGACY_TABLES
    }
    assert {t: others[t] for t in legacy.LEGACY_TABLES} == legacy.LEGACY_WINDOW_COLUMN


@pytest.mark.parametrize("table", legacy.LEGACY_TABLES)
def test_a_legacy_view_compares_the_civil_date_with_its_windows(table):
    sql = views.current_view_sql("my-project", "fitbit", table)
    assert f"FROM `my-project.fitbit.{table}` AS t" in sql
    assert f"WHERE table_name = '{table}'" in sql
    assert (
        "AND DATETIME(t.civil_date) >= l.window_start AND DATETIME(t.civil_date) < l.window_end"
        in sql
    )


def test_a_user_level_view_keeps_each_users_latest_snapshot():
    sql = views.current_view_sql("my-project", "fitbit", "paired_devices")
    assert sql.startswith("CREATE OR REPLACE VIEW `my-project.fitbit.paired_devices_current`\n")
    assert "MAX(t.loaded_at) OVER (PARTITION BY t.user_key) AS _latest_loaded_at" in sql
    assert "FROM `my-project.fitbit.paired_devices` AS t" in sql
    assert "WHERE loaded_at = _latest_loaded_at" in sql


def test_an_ecg_view_compares_the_utc_start_with_its_windows():
    sql = views.current_view_sql("my-project", "fitbit", "electrocardiogram")
    assert (
        "AND DATETIME(t.start_time) >= l.window_start AND DATETIME(t.start_time) < l.window_end"
        in sql
    )


def test_a_view_of_an_unknown_table_is_refused():
    with pytest.raises(ValueError, match="no view for 'stepz'"):
        views.current_view_sql("my-project", "fitbit", "stepz")
