"""schemas.study_views: the participant_days statement, its feature map, and what the
simulator's devices produce (a fully worn demo day scores a completeness of 1.0)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from schemas import bigquery, study_views, views
from schemas.bigquery import TABLES
from simulator import devices, points, synth
from simulator.discovery import load_discovery
from study.model import ParticipantDay

SQL = study_views.participant_days_sql("my-project", "fitbit")


def _select_aliases(sql: str) -> list[str]:
    final = sql.rsplit("\nSELECT\n", 1)[1].split("\nFROM days AS s\n", 1)[0]
    columns = re.split(r",\n(?=  \S)", final)
    return [re.search(r"(?:AS |\.)(\w+)\s*$", c.strip())[1] for c in columns]


def test_the_view_has_exactly_the_fields_of_a_participant_day_in_order():
    assert _select_aliases(SQL) == [f.name for f in dataclasses.fields(ParticipantDay)]


def test_the_view_reads_current_views_and_the_load_log_only():
    refs = set(re.findall(r"`my-project\.fitbit\.(\w+)`", SQL))
    current = {views.view_name(t) for t in (*study_views.POINT_TABLES, "user_settings")}
    current |= {"paired_devices_current"}
    assert refs == {"participant_days", "load_windows", *current}
    assert SQL.startswith("CREATE OR REPLACE VIEW `my-project.fitbit.participant_days`\n")
    assert views.FINGERPRINT in SQL


def test_every_point_table_is_a_data_type_and_the_summary_and_trackpoints_are_not():
    present = re.findall(r"SELECT DISTINCT user_key, civil_date, '(\w+)' AS table_name", SQL)
    assert present == list(study_views.POINT_TABLES)
    assert set(TABLES) - set(present) == {"daily_activity_summary", "exercise_tcx_trackpoints"}


def test_the_day_spine_comes_from_civil_windows():
    assert "electrocardiogram" not in study_views.SPINE_TABLES
    assert "exercise_tcx_trackpoints" not in study_views.SPINE_TABLES
    assert len(study_views.SPINE_TABLES) == len(TABLES) - 2
    assert "MAX(DATE(DATETIME_SUB(window_end, INTERVAL 1 MICROSECOND))) AS last_date" in SQL


def test_wear_steps_and_sleep_read_the_reconciled_stream():
    assert SQL.count("stream = 'reconciled'") == 4  # steps minutes, heart rate, steps, sleep
    assert "WHERE stream = 'reconciled' AND is_main_sleep" in SQL


def test_a_steps_point_covers_every_utc_minute_it_spans():
    assert (
        "GENERATE_TIMESTAMP_ARRAY(\n    TIMESTAMP_TRUNC(s.start_time, MINUTE),\n"
        "    GREATEST(s.start_time, TIMESTAMP_SUB(s.end_time, INTERVAL 1 MICROSECOND)),\n"
        "    INTERVAL 1 MINUTE\n  ))"
    ) in SQL
    assert "DATE(TIMESTAMP_ADD(minute, INTERVAL s.start_utc_offset_seconds SECOND))" in SQL


def test_the_feature_map_is_in_the_statement():
    pairs = re.findall(r"STRUCT\('(\w+)' AS feature, '(\w+)' AS table_name\)", SQL)
    assert pairs == [
        ("STEPS", "steps"),
        ("DISTANCE", "distance"),
        ("ELEVATION", "floors"),
        ("ELEVATION", "altitude"),
        ("HEART_RATE", "heart_rate"),
        ("HEART_RATE", "daily_resting_heart_rate"),
        ("SLEEP", "sleep"),
    ]


def test_features_are_the_documents_and_tables_are_point_tables():
    described = load_discovery()["schemas"]["PairedDevice"]["properties"]["features"]
    known = set(re.findall(r"`([A-Z0-9_]+)`", described["description"]))
    assert set(study_views.EXPECTED_TABLES) <= known
    for tables in study_views.EXPECTED_TABLES.values():
        assert set(tables) <= set(study_views.POINT_TABLES)


def test_expected_tables_of_features():
    assert study_views.expected_tables(["GPS", "STEPS", "HEART_RATE"]) == (
        "daily_resting_heart_rate",
        "heart_rate",
        "steps",
    )
    assert study_views.expected_tables(devices.FEATURES["Aria Air"]) == ()


def _worn_days(user: synth.User, first: dt.date, count: int) -> list[dt.date]:
    days = [first + dt.timedelta(days=k) for k in range(count)]
    return [d for d in days if synth.day_plan(user, d).worn]


@pytest.mark.parametrize("index", [1, 2, 3, 4])
def test_every_worn_simulated_day_has_every_expected_table(index):
    user = synth.make_user(0, index, dt.date(2026, 1, 1))
    version = synth.SOURCES[user.watch]["device"]["displayName"]
    expected = study_views.expected_tables(devices.FEATURES[version])
    tracker = ("daily_resting_heart_rate", "distance", "heart_rate", "sleep", "steps")
    assert (
        expected
        == {
            "Charge 6": tracker,
            "Pixel Watch 3": tuple(sorted((*tracker, "floors", "altitude"))),
        }[version]
    )
    # A fortnight across the spring DST change (user-1 is in New York).
    worn = _worn_days(user, dt.date(2026, 3, 1), 14)
    assert len(worn) >= 10
    for day in worn:
        for table in expected:
            assert points.points_for_day(user, table.replace("_", "-"), day, 5), (table, day)


def test_a_bad_project_or_dataset_is_refused():
    with pytest.raises(ValueError, match="project must be a Google Cloud project ID"):
        study_views.participant_days_sql("My_Project", "fitbit")
    with pytest.raises(ValueError, match="dataset must be a BigQuery dataset ID"):
        study_views.participant_days_sql("my-project", "fit`bit")


def test_views_ddl_prints_every_view_with_its_fingerprint_study_views_last():
    text = bigquery.views_ddl("my-project", "fitbit")
    names = re.findall(r"^CREATE OR REPLACE VIEW `my-project\.fitbit\.(\w+)`", text, re.M)
    assert len(names) == len(TABLES) + len(bigquery.USER_TABLES) + 1
    assert names[-1] == "participant_days"
    assert views.FINGERPRINT not in text
    fingerprint = views.fingerprint(SQL)
    assert f"[{fingerprint}]" in text
    assert text.count(";\n") == len(names)


def test_main_prints_the_views(capsys):
    assert bigquery.main(["--project", "my-project", "--dataset", "fitbit", "--views"]) == 0
    assert capsys.readouterr().out == bigquery.views_ddl("my-project", "fitbit")
