"""Unit tests for fitbeam's table contract: schemas/*.avsc, schemas.bigquery and schemas.docs.

The expected columns below are written out by hand from the table design, independently of the
.avsc files. Golden files in tests/golden/ hold every table's BigQuery schema and the DDL for
project my-project, dataset fitbit. After an intended schema change, regenerate them (and
docs/tables.md) and review the diff:

    python -m tests.unit.test_schemas --regenerate
    FITBEAM_REGENERATE_GOLDEN=1 python -m pytest -q tests/unit/test_schemas.py  # same effect
    python -m schemas.docs

Run:

    python -m pytest -q tests/unit/test_schemas.py
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import sys
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.validation import ValidationError, validate

from schemas import bigquery, docs
from schemas.bigquery import (
    ALL_TABLES,
    TABLES,
    additional_bq_parameters,
    avro_to_bigquery_fields,
    bigquery_table_schema,
    ddl,
    load_avro_schema,
    table_ddl,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
GOLDEN_DIR = REPO_ROOT / "tests" / "golden"
GOLDEN_PROJECT = "my-project"
GOLDEN_DATASET = "fitbit"
REGENERATE = os.environ.get("FITBEAM_REGENERATE_GOLDEN") == "1"
REGENERATE_HINT = (
    "If the change is intended, regenerate with `python -m tests.unit.test_schemas "
    "--regenerate` (or FITBEAM_REGENERATE_GOLDEN=1 python -m pytest -q "
    "tests/unit/test_schemas.py) and review the diff."
)

# ------------------------------------------------------------------ expected columns, by hand

USER = [("user_key", "STRING", "REQUIRED")]
INTERVAL_TIME = [
    ("start_time", "TIMESTAMP", "REQUIRED"),
    ("end_time", "TIMESTAMP", "REQUIRED"),
    ("start_utc_offset_seconds", "INTEGER", "REQUIRED"),
    ("end_utc_offset_seconds", "INTEGER", "REQUIRED"),
    ("civil_start_datetime", "DATETIME", "REQUIRED"),
    ("civil_end_datetime", "DATETIME", "REQUIRED"),
    ("civil_date", "DATE", "REQUIRED"),
]
SAMPLE_TIME = [
    ("sample_time", "TIMESTAMP", "REQUIRED"),
    ("utc_offset_seconds", "INTEGER", "REQUIRED"),
    ("civil_datetime", "DATETIME", "REQUIRED"),
    ("civil_date", "DATE", "REQUIRED"),
]
DAILY_TIME = [("civil_date", "DATE", "REQUIRED")]
SOURCE = [
    ("stream", "STRING", "REQUIRED"),
    ("source_platform", "STRING", "NULLABLE"),
    ("source_recording_method", "STRING", "NULLABLE"),
    ("source_device_display_name", "STRING", "NULLABLE"),
    ("source_device_form_factor", "STRING", "NULLABLE"),
    ("source_device_manufacturer", "STRING", "NULLABLE"),
    ("source_application_package_name", "STRING", "NULLABLE"),
]
DATA_POINT_ID = [("data_point_id", "STRING", "NULLABLE")]
# The legacy tables (written only by `fitbeam import legacy`): no source columns, as the
# legacy API named no source, but the stream, always 'reconciled'.
LEGACY_DAY = [*USER, ("civil_date", "DATE", "REQUIRED"), ("stream", "STRING", "REQUIRED")]
LEGACY_LOG_ID = [("data_point_id", "STRING", "REQUIRED")]
TAIL = [
    ("record_key", "STRING", "REQUIRED"),
    ("run_id", "STRING", "REQUIRED"),
    ("ingest_time", "TIMESTAMP", "REQUIRED"),
    ("load_id", "STRING", "NULLABLE"),
]

DEVICE_INFO = [
    (name, "STRING", "NULLABLE")
    for name in (
        "device_model",
        "firmware_version",
        "feature_version",
        "algorithm_version",
        "service_version",
    )
]

EXPECTED_COLUMNS: dict[str, list[tuple[str, str, str]]] = {
    "steps": USER + INTERVAL_TIME + SOURCE + [("step_count", "INTEGER", "REQUIRED")] + TAIL,
    "distance": USER
    + INTERVAL_TIME
    + SOURCE
    + [("distance_millimeters", "INTEGER", "REQUIRED")]
    + TAIL,
    "floors": USER + INTERVAL_TIME + SOURCE + [("floor_count", "INTEGER", "REQUIRED")] + TAIL,
    "active_zone_minutes": USER
    + INTERVAL_TIME
    + SOURCE
    + [
        ("heart_rate_zone", "STRING", "REQUIRED"),
        ("active_zone_minutes", "INTEGER", "REQUIRED"),
    ]
    + TAIL,
    "heart_rate": USER
    + SAMPLE_TIME
    + SOURCE
    + [
        ("beats_per_minute", "INTEGER", "REQUIRED"),
        ("motion_context", "STRING", "NULLABLE"),
        ("sensor_location", "STRING", "NULLABLE"),
    ]
    + TAIL,
    "heart_rate_variability": USER
    + SAMPLE_TIME
    + SOURCE
    + [
        ("rmssd_milliseconds", "FLOAT", "NULLABLE"),
        ("sdnn_milliseconds", "FLOAT", "NULLABLE"),
    ]
    + TAIL,
    "daily_resting_heart_rate": USER
    + DAILY_TIME
    + SOURCE
    + [
        ("beats_per_minute", "INTEGER", "REQUIRED"),
        ("calculation_method", "STRING", "NULLABLE"),
    ]
    + TAIL,
    "daily_heart_rate_zones": USER
    + DAILY_TIME
    + SOURCE
    + [
        ("zones", "RECORD", "REPEATED"),
        ("zones.zone_type", "STRING", "REQUIRED"),
        ("zones.min_beats_per_minute", "INTEGER", "REQUIRED"),
        ("zones.max_beats_per_minute", "INTEGER", "REQUIRED"),
    ]
    + TAIL,
    "daily_heart_rate_variability": USER
    + DAILY_TIME
    + SOURCE
    + [
        ("average_heart_rate_variability_milliseconds", "FLOAT", "NULLABLE"),
        ("non_rem_heart_rate_beats_per_minute", "INTEGER", "NULLABLE"),
        ("entropy", "FLOAT", "NULLABLE"),
        ("deep_sleep_rmssd_milliseconds", "FLOAT", "NULLABLE"),
    ]
    + TAIL,
    "daily_oxygen_saturation": USER
    + DAILY_TIME
    + SOURCE
    + [
        ("average_percent", "FLOAT", "REQUIRED"),
        ("lower_bound_percent", "FLOAT", "REQUIRED"),
        ("upper_bound_percent", "FLOAT", "REQUIRED"),
        ("standard_deviation_percent", "FLOAT", "NULLABLE"),
    ]
    + TAIL,
    "daily_respiratory_rate": USER
    + DAILY_TIME
    + SOURCE
    + [("breaths_per_minute", "FLOAT", "REQUIRED")]
    + TAIL,
    "daily_vo2_max": USER
    + DAILY_TIME
    + SOURCE
    + [
        ("vo2_max_ml_per_kg_per_min", "FLOAT", "REQUIRED"),
        ("cardio_fitness_level", "STRING", "NULLABLE"),
        ("estimated", "BOOLEAN", "NULLABLE"),
        ("vo2_max_covariance", "FLOAT", "NULLABLE"),
    ]
    + TAIL,
    "sleep": USER
    + INTERVAL_TIME
    + SOURCE
    + DATA_POINT_ID
    + [
        ("sleep_type", "STRING", "NULLABLE"),
        ("is_main_sleep", "BOOLEAN", "NULLABLE"),
        ("is_nap", "BOOLEAN", "NULLABLE"),
        ("is_processed", "BOOLEAN", "NULLABLE"),
        ("is_manually_edited", "BOOLEAN", "NULLABLE"),
        ("stages_status", "STRING", "NULLABLE"),
        ("minutes_asleep", "INTEGER", "NULLABLE"),
        ("minutes_awake", "INTEGER", "NULLABLE"),
        ("minutes_in_sleep_period", "INTEGER", "NULLABLE"),
        ("minutes_to_fall_asleep", "INTEGER", "NULLABLE"),
        ("minutes_after_wake_up", "INTEGER", "NULLABLE"),
        ("stages", "RECORD", "REPEATED"),
        ("stages.stage_type", "STRING", "REQUIRED"),
        ("stages.start_time", "TIMESTAMP", "REQUIRED"),
        ("stages.end_time", "TIMESTAMP", "REQUIRED"),
        ("stages.start_utc_offset_seconds", "INTEGER", "REQUIRED"),
        ("stages.end_utc_offset_seconds", "INTEGER", "REQUIRED"),
        ("stages.civil_start_datetime", "DATETIME", "REQUIRED"),
        ("stages.civil_end_datetime", "DATETIME", "REQUIRED"),
        ("stages_summary", "RECORD", "REPEATED"),
        ("stages_summary.stage_type", "STRING", "REQUIRED"),
        ("stages_summary.minutes", "INTEGER", "NULLABLE"),
        ("stages_summary.segment_count", "INTEGER", "NULLABLE"),
        ("short_awakenings", "RECORD", "REPEATED"),
        ("short_awakenings.stage_type", "STRING", "REQUIRED"),
        ("short_awakenings.start_time", "TIMESTAMP", "REQUIRED"),
        ("short_awakenings.end_time", "TIMESTAMP", "REQUIRED"),
        ("short_awakenings.start_utc_offset_seconds", "INTEGER", "REQUIRED"),
        ("short_awakenings.end_utc_offset_seconds", "INTEGER", "REQUIRED"),
        ("short_awakenings.civil_start_datetime", "DATETIME", "REQUIRED"),
        ("short_awakenings.civil_end_datetime", "DATETIME", "REQUIRED"),
        ("out_of_bed_segments", "RECORD", "REPEATED"),
        ("out_of_bed_segments.start_time", "TIMESTAMP", "REQUIRED"),
        ("out_of_bed_segments.end_time", "TIMESTAMP", "REQUIRED"),
        ("out_of_bed_segments.start_utc_offset_seconds", "INTEGER", "REQUIRED"),
        ("out_of_bed_segments.end_utc_offset_seconds", "INTEGER", "REQUIRED"),
        ("out_of_bed_segments.civil_start_datetime", "DATETIME", "REQUIRED"),
        ("out_of_bed_segments.civil_end_datetime", "DATETIME", "REQUIRED"),
    ]
    + TAIL,
    "exercise": USER
    + INTERVAL_TIME
    + SOURCE
    + DATA_POINT_ID
    + [
        ("exercise_type", "STRING", "REQUIRED"),
        ("display_name", "STRING", "NULLABLE"),
        ("active_duration_seconds", "FLOAT", "NULLABLE"),
        ("has_gps", "BOOLEAN", "NULLABLE"),
        ("pool_length_millimeters", "INTEGER", "NULLABLE"),
        ("notes", "STRING", "NULLABLE"),
        ("calories_kcal", "FLOAT", "NULLABLE"),
        ("distance_millimeters", "FLOAT", "NULLABLE"),
        ("steps", "INTEGER", "NULLABLE"),
        ("average_heart_rate_bpm", "INTEGER", "NULLABLE"),
        ("active_zone_minutes", "INTEGER", "NULLABLE"),
        ("elevation_gain_millimeters", "FLOAT", "NULLABLE"),
        ("average_speed_millimeters_per_second", "FLOAT", "NULLABLE"),
        ("average_pace_seconds_per_meter", "FLOAT", "NULLABLE"),
        ("run_vo2_max", "FLOAT", "NULLABLE"),
        ("total_swim_lengths", "FLOAT", "NULLABLE"),
        ("heart_rate_zone_light_seconds", "FLOAT", "NULLABLE"),
        ("heart_rate_zone_moderate_seconds", "FLOAT", "NULLABLE"),
        ("heart_rate_zone_vigorous_seconds", "FLOAT", "NULLABLE"),
        ("heart_rate_zone_peak_seconds", "FLOAT", "NULLABLE"),
        ("average_cadence_steps_per_minute", "FLOAT", "NULLABLE"),
        ("average_ground_contact_time_seconds", "FLOAT", "NULLABLE"),
        ("average_stride_length_millimeters", "INTEGER", "NULLABLE"),
        ("average_vertical_oscillation_millimeters", "INTEGER", "NULLABLE"),
        ("average_vertical_ratio", "FLOAT", "NULLABLE"),
        ("exercise_events", "RECORD", "REPEATED"),
        ("exercise_events.event_type", "STRING", "REQUIRED"),
        ("exercise_events.event_time", "TIMESTAMP", "REQUIRED"),
        ("exercise_events.utc_offset_seconds", "INTEGER", "REQUIRED"),
        ("exercise_events.civil_datetime", "DATETIME", "REQUIRED"),
    ]
    + TAIL,
    "weight": USER
    + SAMPLE_TIME
    + SOURCE
    + DATA_POINT_ID
    + [("weight_grams", "FLOAT", "REQUIRED"), ("notes", "STRING", "NULLABLE")]
    + TAIL,
    "body_fat": USER
    + SAMPLE_TIME
    + SOURCE
    + DATA_POINT_ID
    + [("body_fat_percent", "FLOAT", "REQUIRED")]
    + TAIL,
    "active_energy_burned": USER
    + INTERVAL_TIME
    + SOURCE
    + [("energy_kcal", "FLOAT", "REQUIRED")]
    + TAIL,
    "basal_energy_burned": USER
    + INTERVAL_TIME
    + SOURCE
    + [("energy_kcal", "FLOAT", "REQUIRED")]
    + TAIL,
    "active_minutes": USER
    + INTERVAL_TIME
    + SOURCE
    + [
        ("minutes_by_activity_level", "RECORD", "REPEATED"),
        ("minutes_by_activity_level.activity_level", "STRING", "REQUIRED"),
        ("minutes_by_activity_level.active_minutes", "INTEGER", "REQUIRED"),
    ]
    + TAIL,
    "activity_level": USER
    + INTERVAL_TIME
    + SOURCE
    + [("activity_level_type", "STRING", "REQUIRED")]
    + TAIL,
    "sedentary_period": USER + INTERVAL_TIME + SOURCE + TAIL,
    "time_in_heart_rate_zone": USER
    + INTERVAL_TIME
    + SOURCE
    + [("heart_rate_zone", "STRING", "REQUIRED")]
    + TAIL,
    "altitude": USER
    + INTERVAL_TIME
    + SOURCE
    + [("gain_millimeters", "INTEGER", "REQUIRED")]
    + TAIL,
    "swim_lengths_data": USER
    + INTERVAL_TIME
    + SOURCE
    + [("stroke_count", "INTEGER", "REQUIRED"), ("swim_stroke_type", "STRING", "NULLABLE")]
    + TAIL,
    "menstrual_period": USER
    + INTERVAL_TIME
    + SOURCE
    + DATA_POINT_ID
    + [("notes", "STRING", "NULLABLE")]
    + TAIL,
    "oxygen_saturation": USER
    + SAMPLE_TIME
    + SOURCE
    + [("oxygen_saturation_percent", "FLOAT", "REQUIRED")]
    + TAIL,
    "respiratory_rate_sleep_summary": USER
    + SAMPLE_TIME
    + SOURCE
    + [
        ("full_sleep_breaths_per_minute", "FLOAT", "REQUIRED"),
        ("full_sleep_standard_deviation", "FLOAT", "NULLABLE"),
        ("full_sleep_signal_to_noise", "FLOAT", "NULLABLE"),
    ]
    + [
        (f"{stage}_sleep_{what}", "FLOAT", "NULLABLE")
        for stage in ("deep", "light", "rem")
        for what in ("breaths_per_minute", "standard_deviation", "signal_to_noise")
    ]
    + TAIL,
    "height": USER
    + SAMPLE_TIME
    + SOURCE
    + DATA_POINT_ID
    + [("height_millimeters", "INTEGER", "REQUIRED")]
    + TAIL,
    "vo2_max": USER
    + SAMPLE_TIME
    + SOURCE
    + [
        ("vo2_max_ml_per_kg_per_min", "FLOAT", "REQUIRED"),
        ("measurement_method", "STRING", "NULLABLE"),
    ]
    + TAIL,
    "run_vo2_max": USER
    + SAMPLE_TIME
    + SOURCE
    + [("run_vo2_max_ml_per_kg_per_min", "FLOAT", "REQUIRED")]
    + TAIL,
    "blood_glucose": USER
    + SAMPLE_TIME
    + SOURCE
    + DATA_POINT_ID
    + [
        ("blood_glucose_mg_per_dl", "FLOAT", "REQUIRED"),
        ("measurement_source", "STRING", "NULLABLE"),
        ("specimen", "STRING", "NULLABLE"),
        ("meal_type", "STRING", "NULLABLE"),
        ("measurement_timing", "STRING", "NULLABLE"),
        ("notes", "STRING", "NULLABLE"),
    ]
    + TAIL,
    "core_body_temperature": USER
    + SAMPLE_TIME
    + SOURCE
    + DATA_POINT_ID
    + [
        ("temperature_celsius", "FLOAT", "REQUIRED"),
        ("measurement_location", "STRING", "NULLABLE"),
        ("measurement_id", "STRING", "NULLABLE"),
    ]
    + TAIL,
    "moods": USER
    + SAMPLE_TIME
    + SOURCE
    + DATA_POINT_ID
    + [("moods", "STRING", "REPEATED"), ("valences", "STRING", "REPEATED")]
    + TAIL,
    "symptoms": USER
    + SAMPLE_TIME
    + SOURCE
    + DATA_POINT_ID
    + [("symptoms", "STRING", "REPEATED")]
    + TAIL,
    "ovulation_test": USER
    + SAMPLE_TIME
    + SOURCE
    + DATA_POINT_ID
    + [("result", "STRING", "NULLABLE")]
    + TAIL,
    "daily_sleep_temperature_derivations": USER
    + DAILY_TIME
    + SOURCE
    + [
        ("nightly_temperature_celsius", "FLOAT", "REQUIRED"),
        ("baseline_temperature_celsius", "FLOAT", "NULLABLE"),
        ("relative_nightly_stddev_30d_celsius", "FLOAT", "NULLABLE"),
    ]
    + TAIL,
    "electrocardiogram": USER
    + INTERVAL_TIME
    + SOURCE
    + [
        ("result_classification", "STRING", "NULLABLE"),
        ("average_heart_rate_bpm", "INTEGER", "NULLABLE"),
        ("lead_number", "INTEGER", "NULLABLE"),
        ("sampling_frequency_hertz", "INTEGER", "NULLABLE"),
        ("millivolts_scaling_factor", "INTEGER", "NULLABLE"),
        ("waveform_samples", "INTEGER", "REPEATED"),
    ]
    + DEVICE_INFO
    + TAIL,
    "irregular_rhythm_notification": USER
    + INTERVAL_TIME
    + SOURCE
    + [
        ("alert_windows", "RECORD", "REPEATED"),
        ("alert_windows.start_time", "TIMESTAMP", "REQUIRED"),
        ("alert_windows.end_time", "TIMESTAMP", "REQUIRED"),
        ("alert_windows.start_utc_offset_seconds", "INTEGER", "REQUIRED"),
        ("alert_windows.end_utc_offset_seconds", "INTEGER", "REQUIRED"),
        ("alert_windows.civil_start_datetime", "DATETIME", "REQUIRED"),
        ("alert_windows.civil_end_datetime", "DATETIME", "REQUIRED"),
        ("alert_windows.positive", "BOOLEAN", "NULLABLE"),
        ("alert_windows.heart_beats", "RECORD", "REPEATED"),
        ("alert_windows.heart_beats.beat_time", "TIMESTAMP", "REQUIRED"),
        ("alert_windows.heart_beats.utc_offset_seconds", "INTEGER", "REQUIRED"),
        ("alert_windows.heart_beats.civil_datetime", "DATETIME", "REQUIRED"),
        ("alert_windows.heart_beats.beats_per_minute", "INTEGER", "REQUIRED"),
    ]
    + DEVICE_INFO
    + TAIL,
    "exercise_tcx_trackpoints": [
        *USER,
        ("trackpoint_time", "TIMESTAMP", "REQUIRED"),
        ("utc_offset_seconds", "INTEGER", "REQUIRED"),
        ("civil_datetime", "DATETIME", "REQUIRED"),
        ("civil_date", "DATE", "REQUIRED"),
        *SOURCE,
        ("data_point_id", "STRING", "REQUIRED"),
        ("lap_index", "INTEGER", "REQUIRED"),
        ("trackpoint_index", "INTEGER", "REQUIRED"),
        ("latitude_degrees", "FLOAT", "NULLABLE"),
        ("longitude_degrees", "FLOAT", "NULLABLE"),
        ("altitude_meters", "FLOAT", "NULLABLE"),
        ("distance_meters", "FLOAT", "NULLABLE"),
        ("heart_rate_bpm", "INTEGER", "NULLABLE"),
        ("cadence", "INTEGER", "NULLABLE"),
        ("lap_start_time", "TIMESTAMP", "NULLABLE"),
        ("lap_total_time_seconds", "FLOAT", "NULLABLE"),
        ("lap_distance_meters", "FLOAT", "NULLABLE"),
        ("lap_calories_kcal", "INTEGER", "NULLABLE"),
        ("lap_intensity", "STRING", "NULLABLE"),
        ("lap_trigger_method", "STRING", "NULLABLE"),
        ("sport", "STRING", "NULLABLE"),
        *TAIL,
    ],
    "daily_activity_summary": USER
    + DAILY_TIME
    + [
        ("step_count", "INTEGER", "NULLABLE"),
        ("distance_millimeters", "INTEGER", "NULLABLE"),
        ("floor_count", "INTEGER", "NULLABLE"),
        ("total_calories_kcal", "FLOAT", "NULLABLE"),
        ("active_zone_minutes_fat_burn", "INTEGER", "NULLABLE"),
        ("active_zone_minutes_cardio", "INTEGER", "NULLABLE"),
        ("active_zone_minutes_peak", "INTEGER", "NULLABLE"),
        ("active_zone_minutes_total", "INTEGER", "NULLABLE"),
    ]
    + TAIL,
    "legacy_daily_activity": [
        *LEGACY_DAY,
        ("active_score", "INTEGER", "NULLABLE"),
        ("calories_out_kcal", "INTEGER", "NULLABLE"),
        ("activity_calories_kcal", "INTEGER", "NULLABLE"),
        ("calories_bmr_kcal", "INTEGER", "NULLABLE"),
        ("marginal_calories_kcal", "INTEGER", "NULLABLE"),
        ("steps", "INTEGER", "NULLABLE"),
        ("floors", "INTEGER", "NULLABLE"),
        ("elevation_meters", "FLOAT", "NULLABLE"),
        ("sedentary_minutes", "INTEGER", "NULLABLE"),
        ("lightly_active_minutes", "INTEGER", "NULLABLE"),
        ("fairly_active_minutes", "INTEGER", "NULLABLE"),
        ("very_active_minutes", "INTEGER", "NULLABLE"),
        ("distances", "RECORD", "REPEATED"),
        ("distances.activity", "STRING", "REQUIRED"),
        ("distances.distance_kilometers", "FLOAT", "REQUIRED"),
        ("goal_steps", "INTEGER", "NULLABLE"),
        ("goal_floors", "INTEGER", "NULLABLE"),
        ("goal_distance_kilometers", "FLOAT", "NULLABLE"),
        ("goal_calories_out_kcal", "INTEGER", "NULLABLE"),
        ("goal_active_minutes", "INTEGER", "NULLABLE"),
        *TAIL,
    ],
    "legacy_heart_rate_zones": [
        *LEGACY_DAY,
        ("zones", "RECORD", "REPEATED"),
        ("zones.zone_name", "STRING", "REQUIRED"),
        ("zones.min_beats_per_minute", "INTEGER", "NULLABLE"),
        ("zones.max_beats_per_minute", "INTEGER", "NULLABLE"),
        ("zones.minutes", "INTEGER", "NULLABLE"),
        ("zones.calories_out_kcal", "FLOAT", "NULLABLE"),
        ("zones.custom", "BOOLEAN", "REQUIRED"),
        *TAIL,
    ],
    "legacy_sleep": [
        *LEGACY_DAY,
        *LEGACY_LOG_ID,
        ("efficiency", "INTEGER", "NULLABLE"),
        ("info_code", "INTEGER", "NULLABLE"),
        ("log_type", "STRING", "NULLABLE"),
        ("thirty_day_average_minutes", "RECORD", "REPEATED"),
        ("thirty_day_average_minutes.stage_type", "STRING", "REQUIRED"),
        ("thirty_day_average_minutes.minutes", "INTEGER", "REQUIRED"),
        *TAIL,
    ],
    "legacy_cardio_score": [
        *LEGACY_DAY,
        ("vo2_max_range", "STRING", "REQUIRED"),
        ("vo2_max_low", "FLOAT", "REQUIRED"),
        ("vo2_max_high", "FLOAT", "REQUIRED"),
        *TAIL,
    ],
    "legacy_weight": [
        *LEGACY_DAY,
        *LEGACY_LOG_ID,
        ("bmi", "FLOAT", "NULLABLE"),
        ("log_source", "STRING", "NULLABLE"),
        *TAIL,
    ],
}

SOURCE_KEY = (
    "stream, source_platform, source_recording_method, source_device_display_name, "
    "source_device_form_factor, source_device_manufacturer, source_application_package_name, "
)

INTERVAL_TABLES = (
    "steps",
    "distance",
    "floors",
    "active_zone_minutes",
    "active_energy_burned",
    "basal_energy_burned",
    "active_minutes",
    "activity_level",
    "sedentary_period",
    "time_in_heart_rate_zone",
    "altitude",
    "swim_lengths_data",
)
UNNAMED_SAMPLE_TABLES = (
    "heart_rate",
    "heart_rate_variability",
    "oxygen_saturation",
    "respiratory_rate_sleep_summary",
    "vo2_max",
    "run_vo2_max",
)
NAMED_SAMPLE_TABLES = (
    "weight",
    "body_fat",
    "height",
    "blood_glucose",
    "core_body_temperature",
    "moods",
    "symptoms",
    "ovulation_test",
)
LEGACY_DAILY_TABLES = ("legacy_daily_activity", "legacy_heart_rate_zones", "legacy_cardio_score")
LEGACY_LOG_TABLES = ("legacy_sleep", "legacy_weight")

# The record_key components each table's doc must spell out, in order.
EXPECTED_RECORD_KEY = {
    **{
        t: f"user_key, '{t}', {SOURCE_KEY}and the measurement key, which here is start_time."
        for t in (*INTERVAL_TABLES, "electrocardiogram", "irregular_rhythm_notification")
    },
    **{
        t: f"user_key, '{t}', {SOURCE_KEY}and the measurement key, which here is sample_time."
        for t in UNNAMED_SAMPLE_TABLES
    },
    "menstrual_period": f"user_key, 'menstrual_period', {SOURCE_KEY}and the measurement key, "
    "which here is data_point_id (start_time when data_point_id is null).",
    **{
        t: f"user_key, '{t}', {SOURCE_KEY}and the measurement key, which here is civil_date."
        for t in TABLES
        if t.startswith("daily_") and t != "daily_activity_summary"
    },
    **{
        t: f"user_key, '{t}', {SOURCE_KEY}and the measurement key, which here is data_point_id "
        "(start_time when data_point_id is null)."
        for t in ("sleep", "exercise")
    },
    **{
        t: f"user_key, '{t}', {SOURCE_KEY}and the measurement key, which here is data_point_id "
        "(sample_time when data_point_id is null)."
        for t in NAMED_SAMPLE_TABLES
    },
    "exercise_tcx_trackpoints": f"user_key, 'exercise_tcx_trackpoints', {SOURCE_KEY}and the "
    "measurement key, which here is data_point_id followed by trackpoint_index.",
    "daily_activity_summary": "user_key, 'daily_activity_summary', and the measurement key, "
    "which here is civil_date.",
    # The legacy tables have no source columns: the six source_* values are empty strings.
    **{
        t: f"user_key, '{t}', {SOURCE_KEY}and the measurement key, which here is civil_date."
        for t in LEGACY_DAILY_TABLES
    },
    **{
        t: f"user_key, '{t}', {SOURCE_KEY}and the measurement key, which here is data_point_id."
        for t in LEGACY_LOG_TABLES
    },
}

# How each table's doc must state its civil_date rule.
EXPECTED_CIVIL_DATE_RULE = {
    **{
        t: "civil_date is the user's local date at start_time."
        for t in (
            *INTERVAL_TABLES,
            "menstrual_period",
            "electrocardiogram",
            "irregular_rhythm_notification",
        )
    },
    **{
        t: "civil_date is the user's local date of sample_time."
        for t in (*UNNAMED_SAMPLE_TABLES, *NAMED_SAMPLE_TABLES)
    },
    "daily_sleep_temperature_derivations": "civil_date is the API's "
    "dailySleepTemperatureDerivations.date",
    "daily_resting_heart_rate": "civil_date is the API's dailyRestingHeartRate.date",
    "daily_heart_rate_zones": "civil_date is the API's dailyHeartRateZones.date",
    "daily_heart_rate_variability": "civil_date is the API's dailyHeartRateVariability.date",
    "daily_oxygen_saturation": "civil_date is the API's dailyOxygenSaturation.date",
    "daily_respiratory_rate": "civil_date is the API's dailyRespiratoryRate.date",
    "daily_vo2_max": "civil_date is the API's dailyVo2Max.date",
    "sleep": "civil_date is the local date the sleep ENDS on, the wake-up day",
    "exercise": "civil_date is the local date the exercise starts on",
    "exercise_tcx_trackpoints": "civil_date is the exercise's civil_date",
    "daily_activity_summary": "civil_date is the local day of the roll-up window.",
    "legacy_daily_activity": "civil_date is the day the legacy summary was requested for, "
    "the user's local day",
    "legacy_heart_rate_zones": "civil_date is the legacy API's activities-heart[].dateTime, "
    "the user's local day",
    "legacy_sleep": "civil_date is the local date the sleep ENDS on, the wake-up day (the "
    "legacy dateOfSleep)",
    "legacy_cardio_score": "civil_date is the legacy API's cardioScore[].dateTime, the user's "
    "local day",
    "legacy_weight": "civil_date is the legacy API's weight[].date, the user's local day",
}


def _flatten(fields: list[dict[str, Any]], prefix: str = "") -> list[tuple[str, str, str]]:
    out = []
    for field in fields:
        name = prefix + field["name"]
        out.append((name, field["type"], field["mode"]))
        if field["type"] == "RECORD":
            out += _flatten(field["fields"], prefix=name + ".")
    return out


def _avro_fields(schema: dict[str, Any], prefix: str = ""):
    """Yields (dotted path, Avro field) for every field, nested ones included."""
    for field in schema["fields"]:
        yield prefix + field["name"], field
        field_type = field["type"]
        if isinstance(field_type, dict) and field_type.get("type") == "array":
            items = field_type["items"]
            if isinstance(items, dict) and items.get("type") == "record":
                yield from _avro_fields(items, prefix=prefix + field["name"] + ".")


# ------------------------------------------------------------------ the .avsc files


def test_tables_lists_exactly_the_packaged_avsc_files():
    packaged = {
        entry.name.removesuffix(".avsc")
        for entry in resources.files("schemas").iterdir()
        if entry.name.endswith(".avsc")
    }
    user_level = {"paired_devices", "user_profile", "user_settings", "irn_profile"}
    assert packaged == set(ALL_TABLES) == {*TABLES, *user_level, "load_windows"}
    assert len(TABLES) == 45
    assert set(EXPECTED_COLUMNS) == set(TABLES)


@pytest.mark.parametrize("table", TABLES)
def test_avsc_parses_with_fastavro_as_a_named_record(table):
    schema = load_avro_schema(table)
    parsed = fastavro.parse_schema(schema)
    assert parsed["type"] == "record"
    assert schema["name"] == table
    assert schema["namespace"] == "fitbeam.tables"


@pytest.mark.parametrize("table", TABLES)
def test_record_and_every_field_have_a_doc(table):
    schema = load_avro_schema(table)
    assert schema["doc"].strip(), table
    for path, field in _avro_fields(schema):
        assert isinstance(field.get("doc"), str), path
        assert field["doc"].strip(), path
        items = field["type"].get("items") if isinstance(field["type"], dict) else None
        if isinstance(items, dict):
            assert items.get("doc", "").strip(), f"{path} items record"


@pytest.mark.parametrize("table", TABLES)
def test_columns_match_the_table_design(table):
    assert _flatten(bigquery_table_schema(table)["fields"]) == EXPECTED_COLUMNS[table]


@pytest.mark.parametrize("table", TABLES)
def test_common_columns_have_their_exact_avro_types(table):
    fields = {f["name"]: f["type"] for f in load_avro_schema(table)["fields"]}
    assert fields["user_key"] == "string"
    assert fields["civil_date"] == {"type": "int", "logicalType": "date"}
    assert fields["record_key"] == "string"
    assert fields["run_id"] == "string"
    assert fields["ingest_time"] == {"type": "long", "logicalType": "timestamp-micros"}
    assert fields["load_id"] == ["null", "string"]
    names = list(fields)
    assert names[0] == "user_key"
    assert names[-4:] == ["record_key", "run_id", "ingest_time", "load_id"]


@pytest.mark.parametrize("table", TABLES)
def test_nullable_fields_are_null_first_with_null_default(table):
    for path, field in _avro_fields(load_avro_schema(table)):
        field_type = field["type"]
        if isinstance(field_type, list):
            assert field_type[0] == "null", path
            assert "default" in field, path
            assert field["default"] is None, path
        elif isinstance(field_type, dict) and field_type.get("type") == "array":
            assert field.get("default") == [], path
        else:
            assert "default" not in field, f"{path}: required fields take no default"


@pytest.mark.parametrize("table", TABLES)
def test_table_doc_states_the_civil_date_rule(table):
    assert EXPECTED_CIVIL_DATE_RULE[table] in load_avro_schema(table)["doc"]


@pytest.mark.parametrize("table", TABLES)
def test_record_key_doc_spells_out_the_recipe(table):
    fields = {f["name"]: f for f in load_avro_schema(table)["fields"]}
    doc = fields["record_key"]["doc"]
    assert EXPECTED_RECORD_KEY[table] in doc
    assert "lowercase hex SHA-256" in doc
    assert "unit separator U+001F" in doc
    assert "2026-11-20T02:03:00.000000Z" in doc


def test_load_avro_schema_returns_a_fresh_copy():
    first = load_avro_schema("steps")
    first["fields"].clear()
    first["doc"] = "changed"
    second = load_avro_schema("steps")
    assert second["doc"] != "changed"
    assert [f["name"] for f in second["fields"]][:2] == ["user_key", "start_time"]


def test_load_avro_schema_rejects_an_unknown_table():
    with pytest.raises(ValueError, match=r"table must be one of .*got 'stepz'"):
        load_avro_schema("stepz")


# ------------------------------------------------------------------ fastavro round trip

REPORTED_AT = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
TAIL_ROW = {
    "record_key": "f10038805d7e072786da79c09c23f407e4295f822cdb25a6f6394be489afc0c8",
    "run_id": "run-20261121-0300",
    "ingest_time": REPORTED_AT,
    "load_id": "run-20261121-0300-3f2a9c01d4e5b6a7",
}
RAW_SOURCE_ROW = {
    "stream": "raw",
    "source_platform": "FITBIT",
    "source_recording_method": "PASSIVELY_MEASURED",
    "source_device_display_name": "Charge 6",
    "source_device_form_factor": "FITNESS_BAND",
    "source_device_manufacturer": None,
    "source_application_package_name": "com.google.fitbit",
}
RECONCILED_SOURCE_ROW = {
    "stream": "reconciled",
    "source_platform": None,
    "source_recording_method": None,
    "source_device_display_name": None,
    "source_device_form_factor": None,
    "source_device_manufacturer": None,
    "source_application_package_name": None,
}
# 02:03Z in UTC-05:00 is 21:03 on the previous local day.
INTERVAL_ROW = {
    "start_time": datetime(2026, 11, 20, 2, 3, tzinfo=UTC),
    "end_time": datetime(2026, 11, 20, 2, 4, tzinfo=UTC),
    "start_utc_offset_seconds": -18000,
    "end_utc_offset_seconds": -18000,
    "civil_start_datetime": datetime(2026, 11, 19, 21, 3),
    "civil_end_datetime": datetime(2026, 11, 19, 21, 4),
    "civil_date": date(2026, 11, 19),
}
SAMPLE_ROW = {
    "sample_time": datetime(2026, 11, 20, 2, 3, 5, 600000, tzinfo=UTC),
    "utc_offset_seconds": -18000,
    "civil_datetime": datetime(2026, 11, 19, 21, 3, 5, 600000),
    "civil_date": date(2026, 11, 19),
}
DAILY_ROW = {"civil_date": date(2026, 11, 19)}

ROWS: dict[str, dict[str, Any]] = {
    "steps": {
        "user_key": "p-0042",
        **INTERVAL_ROW,
        **RAW_SOURCE_ROW,
        "step_count": 57,
        **TAIL_ROW,
    },
    "distance": {
        "user_key": "p-0042",
        **INTERVAL_ROW,
        **RECONCILED_SOURCE_ROW,
        "distance_millimeters": 41250,
        **TAIL_ROW,
    },
    "floors": {
        "user_key": "p-0042",
        **INTERVAL_ROW,
        **RAW_SOURCE_ROW,
        "floor_count": 0,
        **TAIL_ROW,
    },
    "active_zone_minutes": {
        "user_key": "p-0042",
        **INTERVAL_ROW,
        **RECONCILED_SOURCE_ROW,
        "heart_rate_zone": "CARDIO",
        "active_zone_minutes": 2,
        **TAIL_ROW,
    },
    "heart_rate": {
        "user_key": "p-0042",
        **SAMPLE_ROW,
        **RAW_SOURCE_ROW,
        "beats_per_minute": 64,
        "motion_context": "SEDENTARY",
        "sensor_location": "WRIST",
        **TAIL_ROW,
    },
    "heart_rate_variability": {
        "user_key": "p-0042",
        **SAMPLE_ROW,
        **RECONCILED_SOURCE_ROW,
        "rmssd_milliseconds": 41.5,
        "sdnn_milliseconds": None,
        **TAIL_ROW,
    },
    "daily_resting_heart_rate": {
        "user_key": "p-0042",
        **DAILY_ROW,
        **RECONCILED_SOURCE_ROW,
        "beats_per_minute": 58,
        "calculation_method": "WITH_SLEEP",
        **TAIL_ROW,
    },
    "daily_heart_rate_zones": {
        "user_key": "p-0042",
        **DAILY_ROW,
        **RAW_SOURCE_ROW,
        "zones": [
            {"zone_type": "LIGHT", "min_beats_per_minute": 97, "max_beats_per_minute": 116},
            {"zone_type": "PEAK", "min_beats_per_minute": 165, "max_beats_per_minute": 220},
        ],
        **TAIL_ROW,
    },
    "daily_heart_rate_variability": {
        "user_key": "p-0042",
        **DAILY_ROW,
        **RECONCILED_SOURCE_ROW,
        "average_heart_rate_variability_milliseconds": 38.25,
        "non_rem_heart_rate_beats_per_minute": 54,
        "entropy": 2.875,
        "deep_sleep_rmssd_milliseconds": None,
        **TAIL_ROW,
    },
    "daily_oxygen_saturation": {
        "user_key": "p-0042",
        **DAILY_ROW,
        **RECONCILED_SOURCE_ROW,
        "average_percent": 95.5,
        "lower_bound_percent": 93.0,
        "upper_bound_percent": 98.0,
        "standard_deviation_percent": 0.75,
        **TAIL_ROW,
    },
    "daily_respiratory_rate": {
        "user_key": "p-0042",
        **DAILY_ROW,
        **RECONCILED_SOURCE_ROW,
        "breaths_per_minute": 14.5,
        **TAIL_ROW,
    },
    "daily_vo2_max": {
        "user_key": "p-0042",
        **DAILY_ROW,
        **RECONCILED_SOURCE_ROW,
        "vo2_max_ml_per_kg_per_min": 44.25,
        "cardio_fitness_level": "GOOD",
        "estimated": False,
        "vo2_max_covariance": None,
        **TAIL_ROW,
    },
    # 23:10 on 18 Nov to 07:02 on 19 Nov local (UTC-05:00): civil_date is the wake-up day.
    "sleep": {
        "user_key": "p-0042",
        "start_time": datetime(2026, 11, 19, 4, 10, tzinfo=UTC),
        "end_time": datetime(2026, 11, 19, 12, 2, tzinfo=UTC),
        "start_utc_offset_seconds": -18000,
        "end_utc_offset_seconds": -18000,
        "civil_start_datetime": datetime(2026, 11, 18, 23, 10),
        "civil_end_datetime": datetime(2026, 11, 19, 7, 2),
        "civil_date": date(2026, 11, 19),
        **RAW_SOURCE_ROW,
        "data_point_id": "6258441025113981952",
        "sleep_type": "STAGES",
        "is_main_sleep": True,
        "is_nap": None,
        "is_processed": True,
        "is_manually_edited": None,
        "stages_status": "SUCCEEDED",
        "minutes_asleep": 421,
        "minutes_awake": 51,
        "minutes_in_sleep_period": 472,
        "minutes_to_fall_asleep": 0,
        "minutes_after_wake_up": 0,
        "stages": [
            {
                "stage_type": "LIGHT",
                "start_time": datetime(2026, 11, 19, 4, 10, tzinfo=UTC),
                "end_time": datetime(2026, 11, 19, 4, 40, tzinfo=UTC),
                "start_utc_offset_seconds": -18000,
                "end_utc_offset_seconds": -18000,
                "civil_start_datetime": datetime(2026, 11, 18, 23, 10),
                "civil_end_datetime": datetime(2026, 11, 18, 23, 40),
            },
            {
                "stage_type": "DEEP",
                "start_time": datetime(2026, 11, 19, 4, 40, tzinfo=UTC),
                "end_time": datetime(2026, 11, 19, 5, 25, tzinfo=UTC),
                "start_utc_offset_seconds": -18000,
                "end_utc_offset_seconds": -18000,
                "civil_start_datetime": datetime(2026, 11, 18, 23, 40),
                "civil_end_datetime": datetime(2026, 11, 19, 0, 25),
            },
        ],
        "stages_summary": [
            {"stage_type": "LIGHT", "minutes": 30, "segment_count": 1},
            {"stage_type": "REM", "minutes": None, "segment_count": None},
        ],
        "short_awakenings": [
            {
                "stage_type": "AWAKE",
                "start_time": datetime(2026, 11, 19, 4, 20, tzinfo=UTC),
                "end_time": datetime(2026, 11, 19, 4, 21, tzinfo=UTC),
                "start_utc_offset_seconds": -18000,
                "end_utc_offset_seconds": -18000,
                "civil_start_datetime": datetime(2026, 11, 18, 23, 20),
                "civil_end_datetime": datetime(2026, 11, 18, 23, 21),
            }
        ],
        "out_of_bed_segments": [],
        **TAIL_ROW,
    },
    "exercise": {
        "user_key": "p-0042",
        "start_time": datetime(2026, 11, 19, 12, 30, tzinfo=UTC),
        "end_time": datetime(2026, 11, 19, 13, 5, tzinfo=UTC),
        "start_utc_offset_seconds": 3600,
        "end_utc_offset_seconds": 3600,
        "civil_start_datetime": datetime(2026, 11, 19, 13, 30),
        "civil_end_datetime": datetime(2026, 11, 19, 14, 5),
        "civil_date": date(2026, 11, 19),
        **RAW_SOURCE_ROW,
        "data_point_id": "7301998822014400512",
        "exercise_type": "RUNNING",
        "display_name": "Run",
        "active_duration_seconds": 1722.5,
        "has_gps": True,
        "notes": None,
        "calories_kcal": 388.5,
        "distance_millimeters": 5012345.0,
        "steps": 5230,
        "average_heart_rate_bpm": 151,
        "active_zone_minutes": 52,
        "elevation_gain_millimeters": 41000.0,
        "average_speed_millimeters_per_second": 2910.0,
        "average_pace_seconds_per_meter": 0.34375,
        "run_vo2_max": 47.5,
        "heart_rate_zone_light_seconds": 120.0,
        "heart_rate_zone_moderate_seconds": 300.0,
        "heart_rate_zone_vigorous_seconds": 1200.0,
        "heart_rate_zone_peak_seconds": None,
        "average_cadence_steps_per_minute": 171.5,
        "average_ground_contact_time_seconds": 0.245,
        "average_stride_length_millimeters": 1012,
        "average_vertical_oscillation_millimeters": 82,
        "average_vertical_ratio": 8.1,
        "pool_length_millimeters": None,
        "total_swim_lengths": None,
        "exercise_events": [
            {
                "event_type": "PAUSE",
                "event_time": datetime(2026, 11, 19, 12, 40, tzinfo=UTC),
                "utc_offset_seconds": 3600,
                "civil_datetime": datetime(2026, 11, 19, 13, 40),
            }
        ],
        **TAIL_ROW,
    },
    "weight": {
        "user_key": "p-0042",
        **SAMPLE_ROW,
        **RAW_SOURCE_ROW,
        "source_recording_method": "MANUAL",
        "data_point_id": "w-20261119",
        "weight_grams": 72450.0,
        "notes": 'after "breakfast"',
        **TAIL_ROW,
    },
    "body_fat": {
        "user_key": "p-0042",
        **SAMPLE_ROW,
        **RECONCILED_SOURCE_ROW,
        "data_point_id": None,
        "body_fat_percent": 21.5,
        **TAIL_ROW,
    },
    **{
        table: {"user_key": "p-0042", **INTERVAL_ROW, **RAW_SOURCE_ROW, **values, **TAIL_ROW}
        for table, values in (
            ("active_energy_burned", {"energy_kcal": 1.75}),
            ("basal_energy_burned", {"energy_kcal": 1.1}),
            (
                "active_minutes",
                {"minutes_by_activity_level": [{"activity_level": "LIGHT", "active_minutes": 1}]},
            ),
            ("activity_level", {"activity_level_type": "SEDENTARY"}),
            ("sedentary_period", {}),
            ("time_in_heart_rate_zone", {"heart_rate_zone": "PEAK"}),
            ("altitude", {"gain_millimeters": -3048}),
            ("swim_lengths_data", {"stroke_count": 18, "swim_stroke_type": None}),
            ("menstrual_period", {"data_point_id": "mp-1", "notes": None}),
            (
                "electrocardiogram",
                {
                    "result_classification": "ATRIAL_FIBRILLATION",
                    "average_heart_rate_bpm": 104,
                    "lead_number": 1,
                    "sampling_frequency_hertz": 250,
                    "millivolts_scaling_factor": 1000,
                    "waveform_samples": [12, -7, 2048],
                    "device_model": "Sense 2",
                    "firmware_version": None,
                    "feature_version": "1.2",
                    "algorithm_version": None,
                    "service_version": None,
                },
            ),
            (
                "irregular_rhythm_notification",
                {
                    "alert_windows": [
                        {
                            "start_time": datetime(2026, 11, 20, 2, 3, tzinfo=UTC),
                            "end_time": datetime(2026, 11, 20, 2, 4, tzinfo=UTC),
                            "start_utc_offset_seconds": -18000,
                            "end_utc_offset_seconds": -18000,
                            "civil_start_datetime": datetime(2026, 11, 19, 21, 3),
                            "civil_end_datetime": datetime(2026, 11, 19, 21, 4),
                            "positive": True,
                            "heart_beats": [
                                {
                                    "beat_time": datetime(2026, 11, 20, 2, 3, 1, tzinfo=UTC),
                                    "utc_offset_seconds": -18000,
                                    "civil_datetime": datetime(2026, 11, 19, 21, 3, 1),
                                    "beats_per_minute": 97,
                                }
                            ],
                        }
                    ],
                    "device_model": "Pixel Watch 3",
                    "firmware_version": None,
                    "feature_version": None,
                    "algorithm_version": "2.0",
                    "service_version": None,
                },
            ),
        )
    },
    **{
        table: {"user_key": "p-0042", **SAMPLE_ROW, **RECONCILED_SOURCE_ROW, **values, **TAIL_ROW}
        for table, values in (
            ("oxygen_saturation", {"oxygen_saturation_percent": 95.5}),
            (
                "respiratory_rate_sleep_summary",
                {
                    "full_sleep_breaths_per_minute": 14.2,
                    "full_sleep_standard_deviation": None,
                    "full_sleep_signal_to_noise": 7.5,
                    **{
                        f"{stage}_sleep_{what}": None
                        for stage in ("deep", "light", "rem")
                        for what in ("breaths_per_minute", "standard_deviation", "signal_to_noise")
                    },
                },
            ),
            ("height", {"data_point_id": "h-1", "height_millimeters": 1715}),
            ("vo2_max", {"vo2_max_ml_per_kg_per_min": 44.5, "measurement_method": None}),
            ("run_vo2_max", {"run_vo2_max_ml_per_kg_per_min": 47.25}),
            (
                "blood_glucose",
                {
                    "data_point_id": None,
                    "blood_glucose_mg_per_dl": 104.0,
                    "measurement_source": "LAB_TEST",
                    "specimen": None,
                    "meal_type": None,
                    "measurement_timing": "FASTING",
                    "notes": None,
                },
            ),
            (
                "core_body_temperature",
                {
                    "data_point_id": "t-1",
                    "temperature_celsius": 37.1,
                    "measurement_location": "EAR",
                    "measurement_id": None,
                },
            ),
            ("moods", {"data_point_id": "m-1", "moods": ["CALM"], "valences": []}),
            ("symptoms", {"data_point_id": "s-1", "symptoms": ["HEADACHE", "FATIGUE"]}),
            ("ovulation_test", {"data_point_id": "o-1", "result": "NEGATIVE"}),
        )
    },
    "daily_sleep_temperature_derivations": {
        "user_key": "p-0042",
        **DAILY_ROW,
        **RAW_SOURCE_ROW,
        "nightly_temperature_celsius": 34.2,
        "baseline_temperature_celsius": 34.0,
        "relative_nightly_stddev_30d_celsius": 0.3,
        **TAIL_ROW,
    },
    "exercise_tcx_trackpoints": {
        "user_key": "p-0042",
        "trackpoint_time": datetime(2026, 11, 19, 12, 31, 4, tzinfo=UTC),
        "utc_offset_seconds": 3600,
        "civil_datetime": datetime(2026, 11, 19, 13, 31, 4),
        "civil_date": date(2026, 11, 19),
        **RAW_SOURCE_ROW,
        "data_point_id": "7301998822014400512",
        "lap_index": 0,
        "trackpoint_index": 17,
        "latitude_degrees": 52.370216,
        "longitude_degrees": 4.895168,
        "altitude_meters": 1.5,
        "distance_meters": 182.25,
        "heart_rate_bpm": 138,
        "cadence": None,
        "lap_start_time": datetime(2026, 11, 19, 12, 30, tzinfo=UTC),
        "lap_total_time_seconds": 331.0,
        "lap_distance_meters": 1000.0,
        "lap_calories_kcal": 74,
        "lap_intensity": "Active",
        "lap_trigger_method": "Distance",
        "sport": "Running",
        **TAIL_ROW,
    },
    "daily_activity_summary": {
        "user_key": "p-0042",
        **DAILY_ROW,
        "step_count": 9123,
        "distance_millimeters": 6702000,
        "floor_count": 0,
        "total_calories_kcal": 2243.5,
        "active_zone_minutes_fat_burn": 12,
        "active_zone_minutes_cardio": 8,
        "active_zone_minutes_peak": None,
        "active_zone_minutes_total": 20,
        **TAIL_ROW,
    },
    "legacy_daily_activity": {
        "user_key": "p-0042",
        **DAILY_ROW,
        "stream": "reconciled",
        "active_score": -1,
        "calories_out_kcal": 2243,
        "activity_calories_kcal": 812,
        "calories_bmr_kcal": 1519,
        "marginal_calories_kcal": 468,
        "steps": 9123,
        "floors": 0,
        "elevation_meters": 0.0,
        "sedentary_minutes": 702,
        "lightly_active_minutes": 183,
        "fairly_active_minutes": 21,
        "very_active_minutes": 14,
        "distances": [
            {"activity": "total", "distance_kilometers": 6.702},
            {"activity": "Run", "distance_kilometers": 5.012345},
        ],
        "goal_steps": 10000,
        "goal_floors": None,
        "goal_distance_kilometers": 8.05,
        "goal_calories_out_kcal": 2500,
        "goal_active_minutes": 30,
        **TAIL_ROW,
    },
    "legacy_heart_rate_zones": {
        "user_key": "p-0042",
        **DAILY_ROW,
        "stream": "reconciled",
        "zones": [
            {
                "zone_name": "Out of Range",
                "min_beats_per_minute": 30,
                "max_beats_per_minute": 97,
                "minutes": 1302,
                "calories_out_kcal": 1612.5,
                "custom": False,
            },
            {
                "zone_name": "Peak",
                "min_beats_per_minute": 165,
                "max_beats_per_minute": 220,
                "minutes": None,
                "calories_out_kcal": None,
                "custom": False,
            },
            {
                "zone_name": "Easy run",
                "min_beats_per_minute": 120,
                "max_beats_per_minute": 140,
                "minutes": 25,
                "calories_out_kcal": 210.25,
                "custom": True,
            },
        ],
        **TAIL_ROW,
    },
    "legacy_sleep": {
        "user_key": "p-0042",
        **DAILY_ROW,
        "stream": "reconciled",
        "data_point_id": "48309721045",
        "efficiency": 93,
        "info_code": 0,
        "log_type": "auto_detected",
        "thirty_day_average_minutes": [
            {"stage_type": "LIGHT", "minutes": 241},
            {"stage_type": "DEEP", "minutes": 68},
        ],
        **TAIL_ROW,
    },
    "legacy_cardio_score": {
        "user_key": "p-0042",
        **DAILY_ROW,
        "stream": "reconciled",
        "vo2_max_range": "44-48",
        "vo2_max_low": 44.0,
        "vo2_max_high": 48.0,
        **TAIL_ROW,
    },
    "legacy_weight": {
        "user_key": "p-0042",
        **DAILY_ROW,
        "stream": "reconciled",
        "data_point_id": "1763625160000",
        "bmi": 23.65,
        "log_source": None,
        **TAIL_ROW,
    },
}


def test_every_table_has_a_complete_example_row():
    assert set(ROWS) == set(TABLES)
    for table, row in ROWS.items():
        names = [f["name"] for f in load_avro_schema(table)["fields"]]
        assert sorted(row) == sorted(names), table


@pytest.mark.parametrize("table", TABLES)
def test_example_row_round_trips_through_an_avro_file(table):
    schema = fastavro.parse_schema(load_avro_schema(table))
    buffer = io.BytesIO()
    fastavro.writer(buffer, schema, [ROWS[table]])
    buffer.seek(0)
    assert list(fastavro.reader(buffer)) == [ROWS[table]]


@pytest.mark.parametrize(
    ("table", "missing", "reported_field"),
    [(table, "record_key", f"fitbeam.tables.{table}.record_key") for table in TABLES]
    + [
        ("steps", "step_count", "fitbeam.tables.steps.step_count"),
        ("sleep", "civil_date", "fitbeam.tables.sleep.civil_date"),
        ("heart_rate", "sample_time", "fitbeam.tables.heart_rate.sample_time"),
        ("exercise_tcx_trackpoints", "data_point_id", "exercise_tcx_trackpoints.data_point_id"),
        ("legacy_sleep", "data_point_id", "fitbeam.tables.legacy_sleep.data_point_id"),
        ("legacy_cardio_score", "vo2_max_low", "fitbeam.tables.legacy_cardio_score.vo2_max_low"),
        ("legacy_weight", "stream", "fitbeam.tables.legacy_weight.stream"),
    ],
)
def test_validation_rejects_a_row_missing_a_required_field(table, missing, reported_field):
    schema = fastavro.parse_schema(load_avro_schema(table))
    row = {k: v for k, v in ROWS[table].items() if k != missing}
    with pytest.raises(ValidationError) as excinfo:
        validate(row, schema, raise_errors=True)
    assert reported_field in str(excinfo.value)


def test_validation_rejects_a_legacy_zone_missing_its_custom_flag():
    schema = fastavro.parse_schema(load_avro_schema("legacy_heart_rate_zones"))
    zone = {k: v for k, v in ROWS["legacy_heart_rate_zones"]["zones"][0].items() if k != "custom"}
    row = {**ROWS["legacy_heart_rate_zones"], "zones": [zone]}
    with pytest.raises(ValidationError, match=r"legacy_heart_rate_zone\.custom"):
        validate(row, schema, raise_errors=True)


def test_validation_rejects_a_nested_stage_missing_its_type():
    schema = fastavro.parse_schema(load_avro_schema("sleep"))
    stage = {k: v for k, v in ROWS["sleep"]["stages"][0].items() if k != "stage_type"}
    row = {**ROWS["sleep"], "stages": [stage]}
    with pytest.raises(ValidationError, match=r"sleep_stage\.stage_type"):
        validate(row, schema, raise_errors=True)


def test_validation_accepts_missing_nullable_fields_but_not_missing_required_ones():
    schema = fastavro.parse_schema(load_avro_schema("heart_rate"))
    row = {k: v for k, v in ROWS["heart_rate"].items() if k not in ("motion_context", "stream")}
    with pytest.raises(ValidationError, match="stream"):
        validate(row, schema, raise_errors=True)
    row["stream"] = "raw"
    assert validate(row, schema, raise_errors=True)


# ------------------------------------------------------------------ Avro -> BigQuery mapping


def _record(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "record", "name": "t", "fields": list(fields)}


def test_maps_primitives_required_and_nullable():
    schema = _record(
        {"name": "a", "type": "long", "doc": "A count."},
        {"name": "b", "type": ["null", "int"], "default": None, "doc": "B."},
        {"name": "c", "type": "double", "doc": "C."},
        {"name": "d", "type": ["null", "float"], "default": None, "doc": "D."},
        {"name": "e", "type": "boolean", "doc": "E."},
        {"name": "f", "type": ["null", "string"], "default": None, "doc": "F."},
        {"name": "g", "type": "bytes", "doc": "G."},
        {"name": "h", "type": {"type": "string"}, "doc": "H."},
    )
    assert avro_to_bigquery_fields(schema) == [
        {"name": "a", "type": "INTEGER", "mode": "REQUIRED", "description": "A count."},
        {"name": "b", "type": "INTEGER", "mode": "NULLABLE", "description": "B."},
        {"name": "c", "type": "FLOAT", "mode": "REQUIRED", "description": "C."},
        {"name": "d", "type": "FLOAT", "mode": "NULLABLE", "description": "D."},
        {"name": "e", "type": "BOOLEAN", "mode": "REQUIRED", "description": "E."},
        {"name": "f", "type": "STRING", "mode": "NULLABLE", "description": "F."},
        {"name": "g", "type": "BYTES", "mode": "REQUIRED", "description": "G."},
        {"name": "h", "type": "STRING", "mode": "REQUIRED", "description": "H."},
    ]


def test_maps_each_logical_type():
    timestamp = {"type": "long", "logicalType": "timestamp-micros"}
    local = {"type": "long", "logicalType": "local-timestamp-micros"}
    day = {"type": "int", "logicalType": "date"}
    schema = _record(
        {"name": "ts", "type": timestamp, "doc": "Instant."},
        {"name": "lts", "type": local, "doc": "Wall clock."},
        {"name": "d", "type": day, "doc": "Day."},
        {"name": "maybe_ts", "type": ["null", timestamp], "default": None, "doc": "Maybe."},
        {"name": "maybe_d", "type": ["null", day], "default": None, "doc": "Maybe day."},
    )
    assert avro_to_bigquery_fields(schema) == [
        {"name": "ts", "type": "TIMESTAMP", "mode": "REQUIRED", "description": "Instant."},
        {"name": "lts", "type": "DATETIME", "mode": "REQUIRED", "description": "Wall clock."},
        {"name": "d", "type": "DATE", "mode": "REQUIRED", "description": "Day."},
        {"name": "maybe_ts", "type": "TIMESTAMP", "mode": "NULLABLE", "description": "Maybe."},
        {"name": "maybe_d", "type": "DATE", "mode": "NULLABLE", "description": "Maybe day."},
    ]


def test_maps_array_of_records_to_repeated_record_with_nested_fields():
    stage = {
        "type": "record",
        "name": "stage",
        "fields": [
            {"name": "kind", "type": "string", "doc": "Kind."},
            {
                "name": "at",
                "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}],
                "default": None,
                "doc": "When.",
            },
        ],
    }
    schema = _record(
        {"name": "stages", "type": {"type": "array", "items": stage}, "default": [], "doc": "S."},
        {"name": "tags", "type": {"type": "array", "items": "string"}, "default": [], "doc": "T."},
    )
    assert avro_to_bigquery_fields(schema) == [
        {
            "name": "stages",
            "type": "RECORD",
            "mode": "REPEATED",
            "description": "S.",
            "fields": [
                {"name": "kind", "type": "STRING", "mode": "REQUIRED", "description": "Kind."},
                {"name": "at", "type": "TIMESTAMP", "mode": "NULLABLE", "description": "When."},
            ],
        },
        {"name": "tags", "type": "STRING", "mode": "REPEATED", "description": "T."},
    ]


def test_maps_required_and_nullable_records():
    inner = {"type": "record", "name": "inner", "fields": [{"name": "x", "type": "double"}]}
    other = {"type": "record", "name": "other", "fields": [{"name": "y", "type": "boolean"}]}
    schema = _record(
        {"name": "r", "type": inner, "doc": "R."},
        {"name": "n", "type": ["null", other], "default": None},
    )
    assert avro_to_bigquery_fields(schema) == [
        {
            "name": "r",
            "type": "RECORD",
            "mode": "REQUIRED",
            "description": "R.",
            "fields": [{"name": "x", "type": "FLOAT", "mode": "REQUIRED", "description": ""}],
        },
        {
            "name": "n",
            "type": "RECORD",
            "mode": "NULLABLE",
            "description": "",
            "fields": [{"name": "y", "type": "BOOLEAN", "mode": "REQUIRED", "description": ""}],
        },
    ]


def test_union_with_null_second_is_nullable_too():
    schema = _record({"name": "a", "type": ["long", "null"], "doc": "A."})
    assert avro_to_bigquery_fields(schema) == [
        {"name": "a", "type": "INTEGER", "mode": "NULLABLE", "description": "A."}
    ]


@pytest.mark.parametrize(
    ("avro_type", "offending"),
    [
        (["null", "long", "string"], '["null", "long", "string"]'),
        (["long", "string"], '["long", "string"]'),
        (["null", "null"], '["null", "null"]'),
        ({"type": "map", "values": "long"}, '"type": "map"'),
        ({"type": "enum", "name": "Zone", "symbols": ["PEAK"]}, '"type": "enum"'),
        ({"type": "fixed", "name": "Id", "size": 16}, '"type": "fixed"'),
        ({"type": "long", "logicalType": "timestamp-millis"}, '"logicalType": "timestamp-millis"'),
        ({"type": "string", "logicalType": "uuid"}, '"logicalType": "uuid"'),
        ({"type": "long", "logicalType": "date"}, '"type": "long", "logicalType": "date"'),
        (
            {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
            '"logicalType": "decimal"',
        ),
        ("fitbeam.tables.sleep_stage", '"fitbeam.tables.sleep_stage"'),
        ("null", '"null"'),
        (["null", {"type": "array", "items": "long"}], "nullable array"),
        ({"type": "array", "items": ["null", "long"]}, 'items ["null", "long"]'),
        (
            {"type": "array", "items": {"type": "array", "items": "long"}},
            'items {"type": "array", "items": "long"}',
        ),
    ],
)
def test_unsupported_avro_types_raise_naming_field_and_type(avro_type, offending):
    schema = _record({"name": "bad_field", "type": avro_type, "doc": "Bad."})
    with pytest.raises(ValueError) as excinfo:
        avro_to_bigquery_fields(schema)
    message = str(excinfo.value)
    assert "field 'bad_field'" in message
    assert offending in message


def test_unsupported_nested_type_names_the_full_path():
    inner = {
        "type": "record",
        "name": "inner",
        "fields": [{"name": "counts", "type": {"type": "map", "values": "long"}}],
    }
    schema = _record({"name": "outer", "type": {"type": "array", "items": inner}})
    with pytest.raises(ValueError, match=r"field 'outer\.counts': Avro type .*\"map\""):
        avro_to_bigquery_fields(schema)


def test_description_longer_than_bigquery_allows_raises():
    schema = _record({"name": "wordy", "type": "long", "doc": "x" * 1025})
    with pytest.raises(ValueError, match=r"field 'wordy': doc is 1025 characters.* 1024"):
        avro_to_bigquery_fields(schema)
    ok = _record({"name": "wordy", "type": "long", "doc": "x" * 1024})
    assert avro_to_bigquery_fields(ok)[0]["description"] == "x" * 1024


@pytest.mark.parametrize("not_a_record", ["long", {"type": "array", "items": "long"}, None])
def test_non_record_schema_raises(not_a_record):
    with pytest.raises(ValueError, match="expected an Avro record schema"):
        avro_to_bigquery_fields(not_a_record)


def test_bigquery_table_schema_of_daily_heart_rate_zones_nests_zones():
    fields = bigquery_table_schema("daily_heart_rate_zones")["fields"]
    zones = next(f for f in fields if f["name"] == "zones")
    assert {k: zones[k] for k in ("name", "type", "mode")} == {
        "name": "zones",
        "type": "RECORD",
        "mode": "REPEATED",
    }
    assert [(f["name"], f["type"], f["mode"]) for f in zones["fields"]] == [
        ("zone_type", "STRING", "REQUIRED"),
        ("min_beats_per_minute", "INTEGER", "REQUIRED"),
        ("max_beats_per_minute", "INTEGER", "REQUIRED"),
    ]


@pytest.mark.parametrize("table", TABLES)
def test_partitioning_and_clustering_are_the_same_for_every_table(table):
    assert bigquery.PARTITION_FIELD == "civil_date"
    assert bigquery.CLUSTERING_FIELDS == ("user_key",)
    assert additional_bq_parameters(table) == {
        "timePartitioning": {"type": "DAY", "field": "civil_date"},
        "clustering": {"fields": ["user_key"]},
    }


# ------------------------------------------------------------------ golden files


def _golden_bigquery_path(table: str) -> Path:
    return GOLDEN_DIR / "bigquery" / f"{table}.json"


def _golden_bigquery_text(table: str) -> str:
    return json.dumps(bigquery_table_schema(table), indent=2, ensure_ascii=False) + "\n"


def _golden_ddl_text() -> str:
    return ddl(GOLDEN_PROJECT, GOLDEN_DATASET)


def regenerate_golden_files() -> list[Path]:
    """Rewrites every golden file from the current schemas; returns the paths written."""
    written = []
    for table in TABLES:
        path = _golden_bigquery_path(table)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_golden_bigquery_text(table), encoding="utf-8")
        written.append(path)
    ddl_path = GOLDEN_DIR / "ddl.sql"
    ddl_path.write_text(_golden_ddl_text(), encoding="utf-8")
    written.append(ddl_path)
    return written


def _compare_with_golden(path: Path, actual: str) -> None:
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path.relative_to(REPO_ROOT)} is missing. {REGENERATE_HINT}"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, (
        f"{path.relative_to(REPO_ROOT)} differs from what the schemas now produce. "
        f"{REGENERATE_HINT}"
    )


@pytest.mark.parametrize("table", TABLES)
def test_bigquery_schema_matches_golden_file(table):
    _compare_with_golden(_golden_bigquery_path(table), _golden_bigquery_text(table))


def test_ddl_matches_golden_file():
    _compare_with_golden(GOLDEN_DIR / "ddl.sql", _golden_ddl_text())


def test_no_stray_golden_files():
    stored = {p.stem for p in (GOLDEN_DIR / "bigquery").glob("*.json")}
    assert stored == set(TABLES), REGENERATE_HINT


# ------------------------------------------------------------------ DDL

_STRING_LITERAL = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def _statements_without_literals(text: str) -> list[str]:
    """Splits DDL into statements after blanking its string literals."""
    code = _STRING_LITERAL.sub('""', text)
    return [s.strip() for s in code.split(";") if s.strip()]


def test_ddl_only_creates_if_missing_and_adds_columns():
    statements = _statements_without_literals(_golden_ddl_text())
    assert len(statements) == 1 + 2 * len(ALL_TABLES)
    assert statements[0] == "CREATE SCHEMA IF NOT EXISTS `my-project.fitbit`"
    for statement in statements[1:]:
        upper = statement.upper()
        assert "OR REPLACE" not in upper
        assert "DROP" not in upper
        assert "DELETE" not in upper
        assert "TRUNCATE" not in upper
        if statement.startswith("ALTER TABLE"):
            clauses = [line for line in statement.splitlines()[1:] if line.startswith("  ")]
            top_level = [c for c in clauses if not c.startswith(("   ", "  >"))]
            assert top_level, statement
            assert all(c.startswith("  ADD COLUMN IF NOT EXISTS `") for c in top_level)
        else:
            assert statement.startswith("CREATE TABLE IF NOT EXISTS `my-project.fitbit.")


@pytest.mark.parametrize("table", TABLES)
def test_ddl_partitions_and_clusters_each_table(table):
    statements = _statements_without_literals(ddl("my-project", "fitbit", [table]))
    create = statements[1]
    assert create.startswith(f"CREATE TABLE IF NOT EXISTS `my-project.fitbit.{table}` (\n")
    assert "\n)\nPARTITION BY civil_date\nCLUSTER BY user_key\nOPTIONS(description=" in create


@pytest.mark.parametrize("table", TABLES)
def test_ddl_alter_adds_every_nullable_and_repeated_column(table):
    statements = _statements_without_literals(ddl("my-project", "fitbit", [table]))
    alter = statements[2]
    assert alter.startswith(f"ALTER TABLE `my-project.fitbit.{table}`\n")
    added = re.findall(r"^  ADD COLUMN IF NOT EXISTS `(\w+)`", alter, flags=re.MULTILINE)
    expected = [
        name
        for name, _, mode in EXPECTED_COLUMNS[table]
        if "." not in name and mode in ("NULLABLE", "REPEATED")
    ]
    assert added == expected
    assert " NOT NULL" not in "\n".join(
        line for line in alter.splitlines() if line.startswith("  ADD COLUMN")
    )


def test_table_ddl_renders_columns_structs_and_escaped_descriptions():
    schema = {
        "type": "record",
        "name": "demo",
        "doc": 'Table "demo" in C:\\data',
        "fields": [
            {"name": "user_key", "type": "string", "doc": 'Say "hi"\\bye\nnext'},
            {"name": "n", "type": ["null", "long"], "default": None, "doc": "N."},
            {
                "name": "items",
                "type": {
                    "type": "array",
                    "items": {
                        "type": "record",
                        "name": "item",
                        "fields": [
                            {"name": "at", "type": {"type": "int", "logicalType": "date"}},
                            {"name": "v", "type": ["null", "double"], "default": None, "doc": "V"},
                        ],
                    },
                },
                "default": [],
                "doc": "Items.",
            },
        ],
    }
    expected = (
        "CREATE TABLE IF NOT EXISTS `my-project.fitbit.demo` (\n"
        '  `user_key` STRING NOT NULL OPTIONS(description="Say \\"hi\\"\\\\bye\\nnext"),\n'
        '  `n` INT64 OPTIONS(description="N."),\n'
        "  `items` ARRAY<STRUCT<\n"
        '    `at` DATE NOT NULL OPTIONS(description=""),\n'
        '    `v` FLOAT64 OPTIONS(description="V")\n'
        '  >> OPTIONS(description="Items.")\n'
        ")\n"
        "PARTITION BY civil_date\n"
        "CLUSTER BY user_key\n"
        'OPTIONS(description="Table \\"demo\\" in C:\\\\data");\n'
        "\n"
        "ALTER TABLE `my-project.fitbit.demo`\n"
        '  ADD COLUMN IF NOT EXISTS `n` INT64 OPTIONS(description="N."),\n'
        "  ADD COLUMN IF NOT EXISTS `items` ARRAY<STRUCT<\n"
        '    `at` DATE NOT NULL OPTIONS(description=""),\n'
        '    `v` FLOAT64 OPTIONS(description="V")\n'
        '  >> OPTIONS(description="Items.");'
    )
    assert table_ddl("my-project", "fitbit", schema) == expected


def test_ddl_escapes_double_quote_and_backslash_in_descriptions():
    schema = _record({"name": "q", "type": "string", "doc": 'a "quoted" \\ backslash'})
    schema["doc"] = "Table."
    text = table_ddl("my-project", "fitbit", schema)
    assert 'OPTIONS(description="a \\"quoted\\" \\\\ backslash")' in text


def test_ddl_escapes_control_characters():
    schema = _record({"name": "c", "type": "string", "doc": "tab\tcr\rbell\x07"})
    text = table_ddl("my-project", "fitbit", schema)
    assert 'OPTIONS(description="tab\\tcr\\rbell\\x07")' in text


def test_table_ddl_without_addable_columns_has_no_alter():
    schema = _record({"name": "only", "type": "long", "doc": "Only."})
    text = table_ddl("my-project", "fitbit", schema)
    assert "ALTER TABLE" not in text
    assert text.endswith('OPTIONS(description="");')


def test_ddl_with_location_sets_it_on_the_dataset():
    text = ddl("my-project", "fitbit", ["steps"], location="EU")
    assert text.startswith(
        'CREATE SCHEMA IF NOT EXISTS `my-project.fitbit`\nOPTIONS(location="EU");'
    )


def test_ddl_keeps_table_order_and_subset():
    text = ddl("my-project", "fitbit", ["sleep", "steps"])
    creates = re.findall(r"^CREATE TABLE IF NOT EXISTS `my-project\.fitbit\.(\w+)`", text, re.M)
    assert creates == ["sleep", "steps"]


@pytest.mark.parametrize(
    "project",
    ["", "My-Project", "my_project", "1project", "proj", "a" * 31, "my-project-", "my project"],
)
def test_ddl_rejects_invalid_project(project):
    with pytest.raises(ValueError) as excinfo:
        ddl(project, "fitbit")
    message = str(excinfo.value)
    assert message.startswith("project must be a Google Cloud project ID")
    assert f"got {project!r}" in message
    assert "Example: my-project" in message


def test_ddl_rejects_a_project_that_would_break_out_of_the_identifier():
    with pytest.raises(ValueError, match="project must be"):
        ddl("my-project`; DROP SCHEMA x; --", "fitbit")


@pytest.mark.parametrize("project", ["my-project", "abcdef", "a1-b2-c3", "example.com:my-project"])
def test_ddl_accepts_valid_projects(project):
    assert ddl(project, "fitbit", ["steps"]).startswith(f"CREATE SCHEMA IF NOT EXISTS `{project}.")


@pytest.mark.parametrize("dataset", ["", "fit-bit", "fit bit", "fitbit`", "a" * 1025, "fitbït"])
def test_ddl_rejects_invalid_dataset(dataset):
    with pytest.raises(ValueError) as excinfo:
        ddl("my-project", dataset)
    message = str(excinfo.value)
    assert message.startswith("dataset must be a BigQuery dataset ID")
    shown = dataset if len(dataset) <= 80 else dataset[:80] + "..."
    assert f"got {shown!r}" in message
    assert "Example: fitbit" in message


def test_ddl_rejects_unknown_or_no_tables_and_bad_location():
    with pytest.raises(ValueError, match=r"table must be one of .*got 'stepz'"):
        ddl("my-project", "fitbit", ["steps", "stepz"])
    with pytest.raises(ValueError, match="tables must name at least one table"):
        ddl("my-project", "fitbit", [])
    with pytest.raises(ValueError, match=r"location must be .*got 'EU\"; x'"):
        ddl("my-project", "fitbit", location='EU"; x')


def test_main_prints_the_ddl(capsys):
    assert (
        bigquery.main(["--project", "my-project", "--dataset", "fitbit", "--table", "sleep"]) == 0
    )
    assert capsys.readouterr().out == ddl("my-project", "fitbit", ["sleep"])


def test_main_defaults_to_all_tables(capsys):
    assert bigquery.main(["--project", "my-project", "--dataset", "fitbit"]) == 0
    assert capsys.readouterr().out == _golden_ddl_text()


def test_main_reports_invalid_arguments_as_usage_errors(capsys):
    with pytest.raises(SystemExit) as excinfo:
        bigquery.main(["--project", "My_Project", "--dataset", "fitbit"], prog="fitbeam ddl")
    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: fitbeam ddl")
    assert "project must be a Google Cloud project ID" in err


# ------------------------------------------------------------------ docs/tables.md


def test_docs_tables_md_is_up_to_date():
    path = REPO_ROOT / "docs" / "tables.md"
    assert path.read_text(encoding="utf-8") == docs.render_markdown(), (
        "docs/tables.md is out of date with schemas/*.avsc; run `python -m schemas.docs`."
    )


def test_docs_have_a_section_and_every_column_for_each_table():
    text = docs.render_markdown()
    assert list(docs.TABLE_SUMMARY) == list(TABLES)
    sections = re.split(r"^## ", text, flags=re.MULTILINE)
    by_title = {s.split("\n", 1)[0]: s for s in sections[1:]}
    for table in TABLES:
        section = by_title[table]
        assert load_avro_schema(table)["doc"] in section
        for name, bq_type, mode in EXPECTED_COLUMNS[table]:
            assert f"| `{name}` | {bq_type} | {mode} | " in section, (table, name)


def test_docs_escape_pipes_in_cells():
    assert docs._cell("FAT_BURN|CARDIO\n PEAK") == "FAT_BURN\\|CARDIO PEAK"


def test_docs_record_key_example_is_the_sha256_it_claims():
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
    expected = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    assert expected == docs.RECORD_KEY_EXAMPLE
    assert f"# '{expected}'" in docs.render_markdown()


def test_docs_main_writes_the_file(tmp_path, capsys):
    out = tmp_path / "tables.md"
    assert docs.main(["--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == docs.render_markdown()
    assert capsys.readouterr().out == f"wrote {out}\n"


# ------------------------------------------------------------------ regeneration entry point


def main(argv: list[str] | None = None) -> int:
    """Regenerates the golden files: ``python -m tests.unit.test_schemas --regenerate``."""
    parser = argparse.ArgumentParser(prog="python -m tests.unit.test_schemas")
    parser.add_argument(
        "--regenerate", action="store_true", help="rewrite tests/golden/ from the schemas"
    )
    args = parser.parse_args(argv)
    if not args.regenerate:
        parser.error("nothing to do; pass --regenerate to rewrite the golden files")
    for path in regenerate_golden_files():
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
