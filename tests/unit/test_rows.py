"""rows.datapoints: API data points -> exact table rows, record keys and BigQuery JSON.

Inputs are literal proto3 JSON as the Google Health API sends it; expected rows are written out
by hand. Expected record keys are hashed here from the parts the schema docs list, in order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import pickle
import re
from zoneinfo import ZoneInfo

import fastavro
import pytest
from fastavro.validation import validate

from healthapi import datatypes
from history import legacy
from history.units import ImportUnit, ParseContext
from rows import daily_summary, datapoints, tcx
from rows.datapoints import RowContext, RowError
from schemas.bigquery import TABLES, load_avro_schema
from schemas.convert import to_bigquery_json
from schemas.docs import RECORD_KEY_EXAMPLE

UTC = dt.UTC
USER = "p-0042"
RUN_ID = "run-20261128"
INGEST = dt.datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
CTX = RowContext(USER, RUN_ID, INGEST)

WATCH = {
    "platform": "FITBIT",
    "recordingMethod": "PASSIVELY_MEASURED",
    "device": {"displayName": "Charge 6", "formFactor": "FITNESS_BAND", "manufacturer": "Fitbit"},
    "application": {"packageName": "com.fitbit.FitbitMobile"},
}
WATCH_COLUMNS = {
    "source_platform": "FITBIT",
    "source_recording_method": "PASSIVELY_MEASURED",
    "source_device_display_name": "Charge 6",
    "source_device_form_factor": "FITNESS_BAND",
    "source_device_manufacturer": "Fitbit",
    "source_application_package_name": "com.fitbit.FitbitMobile",
}
WATCH_KEY = (
    "FITBIT",
    "PASSIVELY_MEASURED",
    "Charge 6",
    "FITNESS_BAND",
    "Fitbit",
    "com.fitbit.FitbitMobile",
)
SCALE = {
    "platform": "FITBIT",
    "recordingMethod": "PASSIVELY_MEASURED",
    "device": {"displayName": "Aria Air", "formFactor": "SCALE", "manufacturer": "Fitbit"},
    "application": {"packageName": "com.fitbit.FitbitMobile"},
}
SCALE_COLUMNS = {
    "source_platform": "FITBIT",
    "source_recording_method": "PASSIVELY_MEASURED",
    "source_device_display_name": "Aria Air",
    "source_device_form_factor": "SCALE",
    "source_device_manufacturer": "Fitbit",
    "source_application_package_name": "com.fitbit.FitbitMobile",
}
NO_SOURCE = {
    "source_platform": None,
    "source_recording_method": None,
    "source_device_display_name": None,
    "source_device_form_factor": None,
    "source_device_manufacturer": None,
    "source_application_package_name": None,
}
NO_SOURCE_KEY = ("", "", "", "", "", "")


def key(*parts: str) -> str:
    """The documented recipe: SHA-256 hex of the parts joined with U+001F."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def civil(y: int, mo: int, d: int, **clock: int) -> dict:
    """A CivilDateTime as the API sends it: zero time fields (or all of `time`) left out."""
    out: dict = {"date": {"year": y, "month": mo, "day": d}}
    if clock:
        out["time"] = clock
    return out


def one_row(data_type: str, point: dict, stream: str, ctx: RowContext = CTX) -> tuple[str, dict]:
    pairs = datapoints.rows_for_point(data_type, point, ctx, stream)
    assert len(pairs) == 1
    return pairs[0]


def tail(record_key: str) -> dict:
    return {"record_key": record_key, "run_id": RUN_ID, "ingest_time": INGEST, "load_id": None}


# --------------------------------------------------------------------------- interval types

STEPS_RAW = {
    "dataSource": WATCH,
    "steps": {
        "interval": {
            "startTime": "2026-11-20T02:03:00Z",
            "startUtcOffset": "-18000s",
            "endTime": "2026-11-20T02:04:00Z",
            "endUtcOffset": "-18000s",
            "civilStartTime": civil(2026, 11, 19, hours=21, minutes=3),
            "civilEndTime": civil(2026, 11, 19, hours=21, minutes=4),
        },
        "count": "57",
    },
}
STEPS_RAW_ROW = {
    "user_key": USER,
    "start_time": dt.datetime(2026, 11, 20, 2, 3, tzinfo=UTC),
    "end_time": dt.datetime(2026, 11, 20, 2, 4, tzinfo=UTC),
    "start_utc_offset_seconds": -18000,
    "end_utc_offset_seconds": -18000,
    "civil_start_datetime": dt.datetime(2026, 11, 19, 21, 3),
    "civil_end_datetime": dt.datetime(2026, 11, 19, 21, 4),
    "civil_date": dt.date(2026, 11, 19),
    "stream": "raw",
    **WATCH_COLUMNS,
    "step_count": 57,
    **tail(key(USER, "steps", "raw", *WATCH_KEY, "2026-11-20T02:03:00.000000Z")),
}

STEPS_RECONCILED_NO_COUNT = {
    "steps": {
        "interval": {
            "startTime": "2026-11-20T02:03:00Z",
            "startUtcOffset": "-18000s",
            "endTime": "2026-11-20T02:04:00Z",
            "endUtcOffset": "-18000s",
            "civilStartTime": civil(2026, 11, 19, hours=21, minutes=3),
            "civilEndTime": civil(2026, 11, 19, hours=21, minutes=4),
        }
    },
}

DISTANCE_RAW = {
    "dataSource": WATCH,
    "distance": {
        "interval": {
            "startTime": "2026-11-20T14:10:00Z",
            "startUtcOffset": "3600s",
            "endTime": "2026-11-20T14:11:00Z",
            "endUtcOffset": "3600s",
            "civilStartTime": civil(2026, 11, 20, hours=15, minutes=10),
            "civilEndTime": civil(2026, 11, 20, hours=15, minutes=11),
        },
        "millimeters": "45210",
    },
}

FLOORS_RECONCILED = {
    "floors": {
        "interval": {
            "startTime": "2026-11-20T14:10:00Z",
            "startUtcOffset": "3600s",
            "endTime": "2026-11-20T14:11:00Z",
            "endUtcOffset": "3600s",
        },
        "count": "2",
    },
}

AZM_RAW = {
    "dataSource": WATCH,
    "activeZoneMinutes": {
        "interval": {
            "startTime": "2026-11-20T17:45:00Z",
            "startUtcOffset": "-18000s",
            "endTime": "2026-11-20T17:46:00Z",
            "endUtcOffset": "-18000s",
            "civilStartTime": civil(2026, 11, 20, hours=12, minutes=45),
            "civilEndTime": civil(2026, 11, 20, hours=12, minutes=46),
        },
        "heartRateZone": "CARDIO",
        "activeZoneMinutes": "2",
    },
}

AZM_RECONCILED = {
    "activeZoneMinutes": {
        "interval": {
            "startTime": "2026-11-20T17:45:00Z",
            "startUtcOffset": "-18000s",
            "endTime": "2026-11-20T17:46:00Z",
            "endUtcOffset": "-18000s",
        },
        "heartRateZone": "FAT_BURN",
        "activeZoneMinutes": "1",
    },
}


def test_steps_raw_point_becomes_the_documented_row():
    assert one_row("steps", STEPS_RAW, "raw") == ("steps", STEPS_RAW_ROW)


def test_reconciled_steps_have_null_sources_and_an_omitted_count_is_zero():
    assert one_row("steps", STEPS_RECONCILED_NO_COUNT, "reconciled") == (
        "steps",
        {
            **STEPS_RAW_ROW,
            "stream": "reconciled",
            **NO_SOURCE,
            "step_count": 0,
            **tail(key(USER, "steps", "reconciled", *NO_SOURCE_KEY, "2026-11-20T02:03:00.000000Z")),
        },
    )


def test_reconciled_rows_ignore_a_data_source_the_point_carries():
    point = {**STEPS_RECONCILED_NO_COUNT, "dataSource": WATCH}
    _, row = one_row("steps", point, "reconciled")
    assert {column: row[column] for column in NO_SOURCE} == NO_SOURCE


def test_distance_raw_row():
    assert one_row("distance", DISTANCE_RAW, "raw") == (
        "distance",
        {
            "user_key": USER,
            "start_time": dt.datetime(2026, 11, 20, 14, 10, tzinfo=UTC),
            "end_time": dt.datetime(2026, 11, 20, 14, 11, tzinfo=UTC),
            "start_utc_offset_seconds": 3600,
            "end_utc_offset_seconds": 3600,
            "civil_start_datetime": dt.datetime(2026, 11, 20, 15, 10),
            "civil_end_datetime": dt.datetime(2026, 11, 20, 15, 11),
            "civil_date": dt.date(2026, 11, 20),
            "stream": "raw",
            **WATCH_COLUMNS,
            "distance_millimeters": 45210,
            **tail(key(USER, "distance", "raw", *WATCH_KEY, "2026-11-20T14:10:00.000000Z")),
        },
    )


def test_floors_reconciled_row_computes_civil_times_the_api_left_out():
    assert one_row("floors", FLOORS_RECONCILED, "reconciled") == (
        "floors",
        {
            "user_key": USER,
            "start_time": dt.datetime(2026, 11, 20, 14, 10, tzinfo=UTC),
            "end_time": dt.datetime(2026, 11, 20, 14, 11, tzinfo=UTC),
            "start_utc_offset_seconds": 3600,
            "end_utc_offset_seconds": 3600,
            "civil_start_datetime": dt.datetime(2026, 11, 20, 15, 10),
            "civil_end_datetime": dt.datetime(2026, 11, 20, 15, 11),
            "civil_date": dt.date(2026, 11, 20),
            "stream": "reconciled",
            **NO_SOURCE,
            "floor_count": 2,
            **tail(
                key(USER, "floors", "reconciled", *NO_SOURCE_KEY, "2026-11-20T14:10:00.000000Z")
            ),
        },
    )


def test_active_zone_minutes_raw_and_reconciled_rows():
    common = {
        "user_key": USER,
        "start_time": dt.datetime(2026, 11, 20, 17, 45, tzinfo=UTC),
        "end_time": dt.datetime(2026, 11, 20, 17, 46, tzinfo=UTC),
        "start_utc_offset_seconds": -18000,
        "end_utc_offset_seconds": -18000,
        "civil_start_datetime": dt.datetime(2026, 11, 20, 12, 45),
        "civil_end_datetime": dt.datetime(2026, 11, 20, 12, 46),
        "civil_date": dt.date(2026, 11, 20),
    }
    assert one_row("active-zone-minutes", AZM_RAW, "raw") == (
        "active_zone_minutes",
        {
            **common,
            "stream": "raw",
            **WATCH_COLUMNS,
            "heart_rate_zone": "CARDIO",
            "active_zone_minutes": 2,
            **tail(
                key(USER, "active_zone_minutes", "raw", *WATCH_KEY, "2026-11-20T17:45:00.000000Z")
            ),
        },
    )
    assert one_row("active-zone-minutes", AZM_RECONCILED, "reconciled") == (
        "active_zone_minutes",
        {
            **common,
            "stream": "reconciled",
            **NO_SOURCE,
            "heart_rate_zone": "FAT_BURN",
            "active_zone_minutes": 1,
            **tail(
                key(
                    USER,
                    "active_zone_minutes",
                    "reconciled",
                    *NO_SOURCE_KEY,
                    "2026-11-20T17:45:00.000000Z",
                )
            ),
        },
    )


def test_an_interval_crossing_local_midnight_stays_on_its_start_day():
    point = {
        "steps": {
            "interval": {
                "startTime": "2026-11-20T04:59:30Z",
                "startUtcOffset": "-18000s",
                "endTime": "2026-11-20T05:00:30Z",
                "endUtcOffset": "-18000s",
            },
            "count": "3",
        }
    }
    _, row = one_row("steps", point, "reconciled")
    assert row["civil_start_datetime"] == dt.datetime(2026, 11, 19, 23, 59, 30)
    assert row["civil_end_datetime"] == dt.datetime(2026, 11, 20, 0, 0, 30)
    assert row["civil_date"] == dt.date(2026, 11, 19)


# --------------------------------------------------------------------------- sample types

HEART_RATE_RAW = {
    "dataSource": WATCH,
    "heartRate": {
        "sampleTime": {
            "physicalTime": "2026-11-20T02:03:05Z",
            "utcOffset": "-18000s",
            "civilTime": civil(2026, 11, 19, hours=21, minutes=3, seconds=5),
        },
        "beatsPerMinute": "64",
        "metadata": {"motionContext": "SEDENTARY", "sensorLocation": "WRIST"},
    },
}
HEART_RATE_RECONCILED = {
    "heartRate": {
        "sampleTime": {
            "physicalTime": "2026-11-20T02:03:05.600Z",
            "utcOffset": "-18000s",
            "civilTime": civil(2026, 11, 19, hours=21, minutes=3, seconds=5, nanos=600000000),
        },
        "beatsPerMinute": "72",
    },
}
HRV_RAW = {
    "dataSource": WATCH,
    "heartRateVariability": {
        "sampleTime": {
            "physicalTime": "2026-11-20T08:15:00Z",
            "utcOffset": "-18000s",
            "civilTime": civil(2026, 11, 20, hours=3, minutes=15),
        },
        "rootMeanSquareOfSuccessiveDifferencesMilliseconds": 42.5,
        "standardDeviationMilliseconds": 51.25,
    },
}
HRV_RECONCILED = {
    "heartRateVariability": {
        "sampleTime": {"physicalTime": "2026-11-20T08:15:00Z", "utcOffset": "-18000s"},
        "rootMeanSquareOfSuccessiveDifferencesMilliseconds": 40,
    },
}
WEIGHT_RAW = {
    "name": "users/7108215177813058725/dataTypes/weight/dataPoints/2194543883845717114",
    "dataSource": SCALE,
    "weight": {
        "sampleTime": {
            "physicalTime": "2026-11-18T13:51:28Z",
            "utcOffset": "-18000s",
            "civilTime": civil(2026, 11, 18, hours=8, minutes=51, seconds=28),
        },
        "weightGrams": 73840.5,
        "notes": "after the morning run",
    },
}
WEIGHT_MANUAL_WITHOUT_NAME = {
    "dataSource": {
        "platform": "FITBIT",
        "recordingMethod": "MANUAL",
        "application": {"packageName": "com.fitbit.FitbitMobile"},
    },
    "weight": {
        "sampleTime": {"physicalTime": "2026-11-18T13:00:00Z", "utcOffset": "-18000s"},
        "weightGrams": 74000,
    },
}
BODY_FAT_RECONCILED = {
    "dataPointName": "users/7108215177813058725/dataTypes/body-fat/dataPoints/5550001",
    "bodyFat": {
        "sampleTime": {
            "physicalTime": "2026-11-18T13:51:28Z",
            "utcOffset": "-18000s",
            "civilTime": civil(2026, 11, 18, hours=8, minutes=51, seconds=28),
        },
        "percentage": 21.5,
    },
}


def test_heart_rate_raw_row():
    assert one_row("heart-rate", HEART_RATE_RAW, "raw") == (
        "heart_rate",
        {
            "user_key": USER,
            "sample_time": dt.datetime(2026, 11, 20, 2, 3, 5, tzinfo=UTC),
            "utc_offset_seconds": -18000,
            "civil_datetime": dt.datetime(2026, 11, 19, 21, 3, 5),
            "civil_date": dt.date(2026, 11, 19),
            "stream": "raw",
            **WATCH_COLUMNS,
            "beats_per_minute": 64,
            "motion_context": "SEDENTARY",
            "sensor_location": "WRIST",
            **tail(key(USER, "heart_rate", "raw", *WATCH_KEY, "2026-11-20T02:03:05.000000Z")),
        },
    )


def test_heart_rate_reconciled_row_keeps_the_fraction_of_a_second():
    assert one_row("heart-rate", HEART_RATE_RECONCILED, "reconciled") == (
        "heart_rate",
        {
            "user_key": USER,
            "sample_time": dt.datetime(2026, 11, 20, 2, 3, 5, 600000, tzinfo=UTC),
            "utc_offset_seconds": -18000,
            "civil_datetime": dt.datetime(2026, 11, 19, 21, 3, 5, 600000),
            "civil_date": dt.date(2026, 11, 19),
            "stream": "reconciled",
            **NO_SOURCE,
            "beats_per_minute": 72,
            "motion_context": None,
            "sensor_location": None,
            **tail(
                key(USER, "heart_rate", "reconciled", *NO_SOURCE_KEY, "2026-11-20T02:03:05.600000Z")
            ),
        },
    )


def test_heart_rate_variability_raw_and_reconciled_rows():
    common = {
        "user_key": USER,
        "sample_time": dt.datetime(2026, 11, 20, 8, 15, tzinfo=UTC),
        "utc_offset_seconds": -18000,
        "civil_datetime": dt.datetime(2026, 11, 20, 3, 15),
        "civil_date": dt.date(2026, 11, 20),
    }
    assert one_row("heart-rate-variability", HRV_RAW, "raw") == (
        "heart_rate_variability",
        {
            **common,
            "stream": "raw",
            **WATCH_COLUMNS,
            "rmssd_milliseconds": 42.5,
            "sdnn_milliseconds": 51.25,
            **tail(
                key(
                    USER, "heart_rate_variability", "raw", *WATCH_KEY, "2026-11-20T08:15:00.000000Z"
                )
            ),
        },
    )
    assert one_row("heart-rate-variability", HRV_RECONCILED, "reconciled") == (
        "heart_rate_variability",
        {
            **common,
            "stream": "reconciled",
            **NO_SOURCE,
            "rmssd_milliseconds": 40.0,
            "sdnn_milliseconds": None,
            **tail(
                key(
                    USER,
                    "heart_rate_variability",
                    "reconciled",
                    *NO_SOURCE_KEY,
                    "2026-11-20T08:15:00.000000Z",
                )
            ),
        },
    )


def test_weight_with_notes_is_keyed_by_its_data_point_id():
    assert one_row("weight", WEIGHT_RAW, "raw") == (
        "weight",
        {
            "user_key": USER,
            "sample_time": dt.datetime(2026, 11, 18, 13, 51, 28, tzinfo=UTC),
            "utc_offset_seconds": -18000,
            "civil_datetime": dt.datetime(2026, 11, 18, 8, 51, 28),
            "civil_date": dt.date(2026, 11, 18),
            "stream": "raw",
            **SCALE_COLUMNS,
            "data_point_id": "2194543883845717114",
            "weight_grams": 73840.5,
            "notes": "after the morning run",
            **tail(
                key(
                    USER,
                    "weight",
                    "raw",
                    "FITBIT",
                    "PASSIVELY_MEASURED",
                    "Aria Air",
                    "SCALE",
                    "Fitbit",
                    "com.fitbit.FitbitMobile",
                    "2194543883845717114",
                )
            ),
        },
    )


def test_manual_weight_without_name_or_device_is_keyed_by_its_sample_time():
    assert one_row("weight", WEIGHT_MANUAL_WITHOUT_NAME, "raw") == (
        "weight",
        {
            "user_key": USER,
            "sample_time": dt.datetime(2026, 11, 18, 13, 0, tzinfo=UTC),
            "utc_offset_seconds": -18000,
            "civil_datetime": dt.datetime(2026, 11, 18, 8, 0),
            "civil_date": dt.date(2026, 11, 18),
            "stream": "raw",
            "source_platform": "FITBIT",
            "source_recording_method": "MANUAL",
            "source_device_display_name": None,
            "source_device_form_factor": None,
            "source_device_manufacturer": None,
            "source_application_package_name": "com.fitbit.FitbitMobile",
            "data_point_id": None,
            "weight_grams": 74000.0,
            "notes": None,
            **tail(
                key(
                    USER,
                    "weight",
                    "raw",
                    "FITBIT",
                    "MANUAL",
                    "",
                    "",
                    "",
                    "com.fitbit.FitbitMobile",
                    "2026-11-18T13:00:00.000000Z",
                )
            ),
        },
    )


def test_body_fat_reconciled_takes_its_id_from_data_point_name():
    assert one_row("body-fat", BODY_FAT_RECONCILED, "reconciled") == (
        "body_fat",
        {
            "user_key": USER,
            "sample_time": dt.datetime(2026, 11, 18, 13, 51, 28, tzinfo=UTC),
            "utc_offset_seconds": -18000,
            "civil_datetime": dt.datetime(2026, 11, 18, 8, 51, 28),
            "civil_date": dt.date(2026, 11, 18),
            "stream": "reconciled",
            **NO_SOURCE,
            "data_point_id": "5550001",
            "body_fat_percent": 21.5,
            **tail(key(USER, "body_fat", "reconciled", *NO_SOURCE_KEY, "5550001")),
        },
    )


# --------------------------------------------------------------------------- daily types

RESTING_RAW = {
    "dataSource": WATCH,
    "dailyRestingHeartRate": {
        "date": {"year": 2026, "month": 11, "day": 19},
        "beatsPerMinute": "58",
        "dailyRestingHeartRateMetadata": {"calculationMethod": "WITH_SLEEP"},
    },
}
RESTING_RECONCILED = {
    "dailyRestingHeartRate": {
        "date": {"year": 2026, "month": 11, "day": 19},
        "beatsPerMinute": "59",
    },
}
ZONES_RAW = {
    "dataSource": WATCH,
    "dailyHeartRateZones": {
        "date": {"year": 2026, "month": 11, "day": 18},
        "heartRateZones": [
            {"heartRateZoneType": "LIGHT", "minBeatsPerMinute": "95", "maxBeatsPerMinute": "108"},
            {
                "heartRateZoneType": "MODERATE",
                "minBeatsPerMinute": "109",
                "maxBeatsPerMinute": "150",
            },
            {
                "heartRateZoneType": "VIGOROUS",
                "minBeatsPerMinute": "151",
                "maxBeatsPerMinute": "171",
            },
            {"heartRateZoneType": "PEAK", "minBeatsPerMinute": "172", "maxBeatsPerMinute": "193"},
        ],
    },
}
ZONES_RECONCILED_EMPTY = {"dailyHeartRateZones": {"date": {"year": 2026, "month": 11, "day": 18}}}
DAILY_HRV_RAW = {
    "dataSource": WATCH,
    "dailyHeartRateVariability": {
        "date": {"year": 2026, "month": 11, "day": 20},
        "averageHeartRateVariabilityMilliseconds": 38.2,
        "deepSleepRootMeanSquareOfSuccessiveDifferencesMilliseconds": 45.1,
        "entropy": 2.93,
        "nonRemHeartRateBeatsPerMinute": "54",
    },
}
DAILY_HRV_RECONCILED = {
    "dailyHeartRateVariability": {
        "date": {"year": 2026, "month": 11, "day": 20},
        "averageHeartRateVariabilityMilliseconds": 37,
    },
}
OXYGEN_RAW = {
    "dataSource": WATCH,
    "dailyOxygenSaturation": {
        "date": {"year": 2026, "month": 11, "day": 20},
        "averagePercentage": 96.4,
        "lowerBoundPercentage": 94.0,
        "upperBoundPercentage": 98.1,
        "standardDeviationPercentage": 0.7,
    },
}
OXYGEN_RECONCILED = {
    "dailyOxygenSaturation": {
        "date": {"year": 2026, "month": 11, "day": 20},
        "averagePercentage": 96,
        "lowerBoundPercentage": 93.5,
        "upperBoundPercentage": 98.5,
    },
}
RESPIRATORY_RAW = {
    "dataSource": WATCH,
    "dailyRespiratoryRate": {
        "date": {"year": 2026, "month": 11, "day": 20},
        "breathsPerMinute": 14.6,
    },
}
VO2_RAW = {
    "dataSource": WATCH,
    "dailyVo2Max": {
        "date": {"year": 2026, "month": 11, "day": 18},
        "vo2Max": 47.8,
        "cardioFitnessLevel": "GOOD",
        "estimated": True,
        "vo2MaxCovariance": 0.87,
    },
}
VO2_RECONCILED = {
    "dailyVo2Max": {"date": {"year": 2026, "month": 11, "day": 18}, "vo2Max": 44},
}


def daily_head(day: dt.date, stream: str) -> dict:
    sources = WATCH_COLUMNS if stream == "raw" else NO_SOURCE
    return {"user_key": USER, "civil_date": day, "stream": stream, **sources}


def daily_key(table: str, stream: str, day: str) -> dict:
    sources = WATCH_KEY if stream == "raw" else NO_SOURCE_KEY
    return tail(key(USER, table, stream, *sources, day))


def test_daily_resting_heart_rate_rows():
    assert one_row("daily-resting-heart-rate", RESTING_RAW, "raw") == (
        "daily_resting_heart_rate",
        {
            **daily_head(dt.date(2026, 11, 19), "raw"),
            "beats_per_minute": 58,
            "calculation_method": "WITH_SLEEP",
            **daily_key("daily_resting_heart_rate", "raw", "2026-11-19"),
        },
    )
    assert one_row("daily-resting-heart-rate", RESTING_RECONCILED, "reconciled") == (
        "daily_resting_heart_rate",
        {
            **daily_head(dt.date(2026, 11, 19), "reconciled"),
            "beats_per_minute": 59,
            "calculation_method": None,
            **daily_key("daily_resting_heart_rate", "reconciled", "2026-11-19"),
        },
    )


def test_daily_heart_rate_zones_nest_every_zone_in_api_order():
    assert one_row("daily-heart-rate-zones", ZONES_RAW, "raw") == (
        "daily_heart_rate_zones",
        {
            **daily_head(dt.date(2026, 11, 18), "raw"),
            "zones": [
                {"zone_type": "LIGHT", "min_beats_per_minute": 95, "max_beats_per_minute": 108},
                {
                    "zone_type": "MODERATE",
                    "min_beats_per_minute": 109,
                    "max_beats_per_minute": 150,
                },
                {
                    "zone_type": "VIGOROUS",
                    "min_beats_per_minute": 151,
                    "max_beats_per_minute": 171,
                },
                {"zone_type": "PEAK", "min_beats_per_minute": 172, "max_beats_per_minute": 193},
            ],
            **daily_key("daily_heart_rate_zones", "raw", "2026-11-18"),
        },
    )
    assert one_row("daily-heart-rate-zones", ZONES_RECONCILED_EMPTY, "reconciled") == (
        "daily_heart_rate_zones",
        {
            **daily_head(dt.date(2026, 11, 18), "reconciled"),
            "zones": [],
            **daily_key("daily_heart_rate_zones", "reconciled", "2026-11-18"),
        },
    )


def test_daily_heart_rate_variability_rows():
    assert one_row("daily-heart-rate-variability", DAILY_HRV_RAW, "raw") == (
        "daily_heart_rate_variability",
        {
            **daily_head(dt.date(2026, 11, 20), "raw"),
            "average_heart_rate_variability_milliseconds": 38.2,
            "non_rem_heart_rate_beats_per_minute": 54,
            "entropy": 2.93,
            "deep_sleep_rmssd_milliseconds": 45.1,
            **daily_key("daily_heart_rate_variability", "raw", "2026-11-20"),
        },
    )
    assert one_row("daily-heart-rate-variability", DAILY_HRV_RECONCILED, "reconciled") == (
        "daily_heart_rate_variability",
        {
            **daily_head(dt.date(2026, 11, 20), "reconciled"),
            "average_heart_rate_variability_milliseconds": 37.0,
            "non_rem_heart_rate_beats_per_minute": None,
            "entropy": None,
            "deep_sleep_rmssd_milliseconds": None,
            **daily_key("daily_heart_rate_variability", "reconciled", "2026-11-20"),
        },
    )


def test_daily_oxygen_saturation_rows():
    assert one_row("daily-oxygen-saturation", OXYGEN_RAW, "raw") == (
        "daily_oxygen_saturation",
        {
            **daily_head(dt.date(2026, 11, 20), "raw"),
            "average_percent": 96.4,
            "lower_bound_percent": 94.0,
            "upper_bound_percent": 98.1,
            "standard_deviation_percent": 0.7,
            **daily_key("daily_oxygen_saturation", "raw", "2026-11-20"),
        },
    )
    assert one_row("daily-oxygen-saturation", OXYGEN_RECONCILED, "reconciled") == (
        "daily_oxygen_saturation",
        {
            **daily_head(dt.date(2026, 11, 20), "reconciled"),
            "average_percent": 96.0,
            "lower_bound_percent": 93.5,
            "upper_bound_percent": 98.5,
            "standard_deviation_percent": None,
            **daily_key("daily_oxygen_saturation", "reconciled", "2026-11-20"),
        },
    )


def test_daily_respiratory_rate_rows():
    assert one_row("daily-respiratory-rate", RESPIRATORY_RAW, "raw") == (
        "daily_respiratory_rate",
        {
            **daily_head(dt.date(2026, 11, 20), "raw"),
            "breaths_per_minute": 14.6,
            **daily_key("daily_respiratory_rate", "raw", "2026-11-20"),
        },
    )
    reconciled = {"dailyRespiratoryRate": RESPIRATORY_RAW["dailyRespiratoryRate"]}
    assert one_row("daily-respiratory-rate", reconciled, "reconciled") == (
        "daily_respiratory_rate",
        {
            **daily_head(dt.date(2026, 11, 20), "reconciled"),
            "breaths_per_minute": 14.6,
            **daily_key("daily_respiratory_rate", "reconciled", "2026-11-20"),
        },
    )


def test_daily_vo2_max_rows_and_an_absent_flag_is_null():
    assert one_row("daily-vo2-max", VO2_RAW, "raw") == (
        "daily_vo2_max",
        {
            **daily_head(dt.date(2026, 11, 18), "raw"),
            "vo2_max_ml_per_kg_per_min": 47.8,
            "cardio_fitness_level": "GOOD",
            "estimated": True,
            "vo2_max_covariance": 0.87,
            **daily_key("daily_vo2_max", "raw", "2026-11-18"),
        },
    )
    assert one_row("daily-vo2-max", VO2_RECONCILED, "reconciled") == (
        "daily_vo2_max",
        {
            **daily_head(dt.date(2026, 11, 18), "reconciled"),
            "vo2_max_ml_per_kg_per_min": 44.0,
            "cardio_fitness_level": None,
            "estimated": None,
            "vo2_max_covariance": None,
            **daily_key("daily_vo2_max", "reconciled", "2026-11-18"),
        },
    )


# --------------------------------------------------------------------------- sleep

# A New York night across the end of daylight saving time (2026-11-01 06:00Z: 02:00 EDT
# becomes 01:00 EST). Each stage carries its own offsets; the API sends no civil stage times.
SLEEP_DST_NIGHT = {
    "name": "users/7108215177813058725/dataTypes/sleep/dataPoints/6258000000000000001",
    "dataSource": WATCH,
    "sleep": {
        "interval": {
            "startTime": "2026-11-01T03:00:00Z",
            "startUtcOffset": "-14400s",
            "endTime": "2026-11-01T11:00:00Z",
            "endUtcOffset": "-18000s",
        },
        "type": "STAGES",
        "stages": [
            {
                "type": "LIGHT",
                "startTime": "2026-11-01T03:00:00Z",
                "startUtcOffset": "-14400s",
                "endTime": "2026-11-01T05:30:00Z",
                "endUtcOffset": "-14400s",
                "createTime": "2026-11-01T11:10:00Z",
            },
            {
                "type": "DEEP",
                "startTime": "2026-11-01T05:30:00Z",
                "startUtcOffset": "-14400s",
                "endTime": "2026-11-01T06:30:00Z",
                "endUtcOffset": "-18000s",
            },
            {
                "type": "REM",
                "startTime": "2026-11-01T06:30:00Z",
                "startUtcOffset": "-18000s",
                "endTime": "2026-11-01T10:40:00Z",
                "endUtcOffset": "-18000s",
            },
            {
                "type": "AWAKE",
                "startTime": "2026-11-01T10:40:00Z",
                "startUtcOffset": "-18000s",
                "endTime": "2026-11-01T11:00:00Z",
                "endUtcOffset": "-18000s",
            },
        ],
        "outOfBedSegments": [
            {
                "startTime": "2026-11-01T08:10:00Z",
                "startUtcOffset": "-18000s",
                "endTime": "2026-11-01T08:14:00Z",
                "endUtcOffset": "-18000s",
            }
        ],
        "shortAwakenings": [
            {
                "type": "AWAKE",
                "startTime": "2026-11-01T07:02:00Z",
                "startUtcOffset": "-18000s",
                "endTime": "2026-11-01T07:03:30Z",
                "endUtcOffset": "-18000s",
            }
        ],
        "metadata": {"mainSleep": True, "processed": True, "stagesStatus": "SUCCEEDED"},
        "summary": {
            "minutesAsleep": "460",
            "minutesAwake": "20",
            "minutesInSleepPeriod": "480",
            "minutesToFallAsleep": "0",
            "minutesAfterWakeUp": "20",
            "stagesSummary": [
                {"type": "LIGHT", "minutes": "150", "count": "1"},
                {"type": "DEEP", "minutes": "0", "count": "0"},
                {"type": "REM", "minutes": "250"},
            ],
        },
    },
}

# An afternoon nap, CLASSIC, reconciled; stages out of order, summary zeros left out.
CLASSIC_NAP = {
    "dataPointName": "users/7108215177813058725/dataTypes/sleep/dataPoints/7001",
    "sleep": {
        "interval": {
            "startTime": "2026-11-21T19:10:00Z",
            "startUtcOffset": "-18000s",
            "endTime": "2026-11-21T19:55:00Z",
            "endUtcOffset": "-18000s",
            "civilStartTime": civil(2026, 11, 21, hours=14, minutes=10),
            "civilEndTime": civil(2026, 11, 21, hours=14, minutes=55),
        },
        "type": "CLASSIC",
        "stages": [
            {
                "type": "ASLEEP",
                "startTime": "2026-11-21T19:45:00Z",
                "startUtcOffset": "-18000s",
                "endTime": "2026-11-21T19:55:00Z",
                "endUtcOffset": "-18000s",
            },
            {
                "type": "ASLEEP",
                "startTime": "2026-11-21T19:10:00Z",
                "startUtcOffset": "-18000s",
                "endTime": "2026-11-21T19:40:00Z",
                "endUtcOffset": "-18000s",
            },
            {
                "type": "RESTLESS",
                "startTime": "2026-11-21T19:40:00Z",
                "startUtcOffset": "-18000s",
                "endTime": "2026-11-21T19:45:00Z",
                "endUtcOffset": "-18000s",
            },
        ],
        "metadata": {"nap": True, "processed": True, "stagesStatus": "REJECTED_NAP"},
        "summary": {
            "minutesAsleep": "40",
            "minutesInSleepPeriod": "45",
            "minutesToFallAsleep": "0",
        },
    },
}

SLEEP_UNPROCESSED = {
    "sleep": {
        "interval": {
            "startTime": "2026-11-22T23:30:00Z",
            "endTime": "2026-11-23T06:30:00Z",
        },
        "metadata": {"mainSleep": True, "manuallyEdited": True},
    },
}


def test_sleep_across_midnight_and_a_dst_change_belongs_to_its_wake_up_day():
    assert one_row("sleep", SLEEP_DST_NIGHT, "raw") == (
        "sleep",
        {
            "user_key": USER,
            "start_time": dt.datetime(2026, 11, 1, 3, 0, tzinfo=UTC),
            "end_time": dt.datetime(2026, 11, 1, 11, 0, tzinfo=UTC),
            "start_utc_offset_seconds": -14400,
            "end_utc_offset_seconds": -18000,
            "civil_start_datetime": dt.datetime(2026, 10, 31, 23, 0),
            "civil_end_datetime": dt.datetime(2026, 11, 1, 6, 0),
            "civil_date": dt.date(2026, 11, 1),
            "stream": "raw",
            **WATCH_COLUMNS,
            "data_point_id": "6258000000000000001",
            "sleep_type": "STAGES",
            "is_main_sleep": True,
            "is_nap": None,
            "is_processed": True,
            "is_manually_edited": None,
            "stages_status": "SUCCEEDED",
            "minutes_asleep": 460,
            "minutes_awake": 20,
            "minutes_in_sleep_period": 480,
            "minutes_to_fall_asleep": 0,
            "minutes_after_wake_up": 20,
            "stages_summary": [
                {"stage_type": "LIGHT", "minutes": 150, "segment_count": 1},
                {"stage_type": "DEEP", "minutes": 0, "segment_count": 0},
                {"stage_type": "REM", "minutes": 250, "segment_count": None},
            ],
            "short_awakenings": [
                {
                    "stage_type": "AWAKE",
                    "start_time": dt.datetime(2026, 11, 1, 7, 2, tzinfo=UTC),
                    "end_time": dt.datetime(2026, 11, 1, 7, 3, 30, tzinfo=UTC),
                    "start_utc_offset_seconds": -18000,
                    "end_utc_offset_seconds": -18000,
                    "civil_start_datetime": dt.datetime(2026, 11, 1, 2, 2),
                    "civil_end_datetime": dt.datetime(2026, 11, 1, 2, 3, 30),
                }
            ],
            "out_of_bed_segments": [
                {
                    "start_time": dt.datetime(2026, 11, 1, 8, 10, tzinfo=UTC),
                    "end_time": dt.datetime(2026, 11, 1, 8, 14, tzinfo=UTC),
                    "start_utc_offset_seconds": -18000,
                    "end_utc_offset_seconds": -18000,
                    "civil_start_datetime": dt.datetime(2026, 11, 1, 3, 10),
                    "civil_end_datetime": dt.datetime(2026, 11, 1, 3, 14),
                }
            ],
            "stages": [
                {
                    "stage_type": "LIGHT",
                    "start_time": dt.datetime(2026, 11, 1, 3, 0, tzinfo=UTC),
                    "end_time": dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
                    "start_utc_offset_seconds": -14400,
                    "end_utc_offset_seconds": -14400,
                    "civil_start_datetime": dt.datetime(2026, 10, 31, 23, 0),
                    "civil_end_datetime": dt.datetime(2026, 11, 1, 1, 30),
                },
                {
                    "stage_type": "DEEP",
                    "start_time": dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
                    "end_time": dt.datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
                    "start_utc_offset_seconds": -14400,
                    "end_utc_offset_seconds": -18000,
                    # An hour of deep sleep that the wall clock does not see.
                    "civil_start_datetime": dt.datetime(2026, 11, 1, 1, 30),
                    "civil_end_datetime": dt.datetime(2026, 11, 1, 1, 30),
                },
                {
                    "stage_type": "REM",
                    "start_time": dt.datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
                    "end_time": dt.datetime(2026, 11, 1, 10, 40, tzinfo=UTC),
                    "start_utc_offset_seconds": -18000,
                    "end_utc_offset_seconds": -18000,
                    "civil_start_datetime": dt.datetime(2026, 11, 1, 1, 30),
                    "civil_end_datetime": dt.datetime(2026, 11, 1, 5, 40),
                },
                {
                    "stage_type": "AWAKE",
                    "start_time": dt.datetime(2026, 11, 1, 10, 40, tzinfo=UTC),
                    "end_time": dt.datetime(2026, 11, 1, 11, 0, tzinfo=UTC),
                    "start_utc_offset_seconds": -18000,
                    "end_utc_offset_seconds": -18000,
                    "civil_start_datetime": dt.datetime(2026, 11, 1, 5, 40),
                    "civil_end_datetime": dt.datetime(2026, 11, 1, 6, 0),
                },
            ],
            **tail(key(USER, "sleep", "raw", *WATCH_KEY, "6258000000000000001")),
        },
    )


def test_classic_nap_sorts_its_stages_and_reads_omitted_summary_minutes_as_null():
    # The API sends a zero as 0 (minutesToFallAsleep): a minute field it leaves out is unknown.
    assert one_row("sleep", CLASSIC_NAP, "reconciled") == (
        "sleep",
        {
            "user_key": USER,
            "start_time": dt.datetime(2026, 11, 21, 19, 10, tzinfo=UTC),
            "end_time": dt.datetime(2026, 11, 21, 19, 55, tzinfo=UTC),
            "start_utc_offset_seconds": -18000,
            "end_utc_offset_seconds": -18000,
            "civil_start_datetime": dt.datetime(2026, 11, 21, 14, 10),
            "civil_end_datetime": dt.datetime(2026, 11, 21, 14, 55),
            "civil_date": dt.date(2026, 11, 21),
            "stream": "reconciled",
            **NO_SOURCE,
            "data_point_id": "7001",
            "sleep_type": "CLASSIC",
            "is_main_sleep": None,
            "is_nap": True,
            "is_processed": True,
            "is_manually_edited": None,
            "stages_status": "REJECTED_NAP",
            "minutes_asleep": 40,
            "minutes_awake": None,
            "minutes_in_sleep_period": 45,
            "minutes_to_fall_asleep": 0,
            "minutes_after_wake_up": None,
            "stages_summary": [],
            "short_awakenings": [],
            "out_of_bed_segments": [],
            "stages": [
                {
                    "stage_type": "ASLEEP",
                    "start_time": dt.datetime(2026, 11, 21, 19, 10, tzinfo=UTC),
                    "end_time": dt.datetime(2026, 11, 21, 19, 40, tzinfo=UTC),
                    "start_utc_offset_seconds": -18000,
                    "end_utc_offset_seconds": -18000,
                    "civil_start_datetime": dt.datetime(2026, 11, 21, 14, 10),
                    "civil_end_datetime": dt.datetime(2026, 11, 21, 14, 40),
                },
                {
                    "stage_type": "RESTLESS",
                    "start_time": dt.datetime(2026, 11, 21, 19, 40, tzinfo=UTC),
                    "end_time": dt.datetime(2026, 11, 21, 19, 45, tzinfo=UTC),
                    "start_utc_offset_seconds": -18000,
                    "end_utc_offset_seconds": -18000,
                    "civil_start_datetime": dt.datetime(2026, 11, 21, 14, 40),
                    "civil_end_datetime": dt.datetime(2026, 11, 21, 14, 45),
                },
                {
                    "stage_type": "ASLEEP",
                    "start_time": dt.datetime(2026, 11, 21, 19, 45, tzinfo=UTC),
                    "end_time": dt.datetime(2026, 11, 21, 19, 55, tzinfo=UTC),
                    "start_utc_offset_seconds": -18000,
                    "end_utc_offset_seconds": -18000,
                    "civil_start_datetime": dt.datetime(2026, 11, 21, 14, 45),
                    "civil_end_datetime": dt.datetime(2026, 11, 21, 14, 55),
                },
            ],
            **tail(key(USER, "sleep", "reconciled", *NO_SOURCE_KEY, "7001")),
        },
    )


def test_sleep_without_summary_stages_or_name_has_null_minutes_and_is_keyed_by_start():
    assert one_row("sleep", SLEEP_UNPROCESSED, "reconciled") == (
        "sleep",
        {
            "user_key": USER,
            "start_time": dt.datetime(2026, 11, 22, 23, 30, tzinfo=UTC),
            "end_time": dt.datetime(2026, 11, 23, 6, 30, tzinfo=UTC),
            "start_utc_offset_seconds": 0,
            "end_utc_offset_seconds": 0,
            "civil_start_datetime": dt.datetime(2026, 11, 22, 23, 30),
            "civil_end_datetime": dt.datetime(2026, 11, 23, 6, 30),
            "civil_date": dt.date(2026, 11, 23),
            "stream": "reconciled",
            **NO_SOURCE,
            "data_point_id": None,
            "sleep_type": None,
            "is_main_sleep": True,
            "is_nap": None,
            "is_processed": None,
            "is_manually_edited": True,
            "stages_status": None,
            "minutes_asleep": None,
            "minutes_awake": None,
            "minutes_in_sleep_period": None,
            "minutes_to_fall_asleep": None,
            "minutes_after_wake_up": None,
            "stages_summary": [],
            "short_awakenings": [],
            "out_of_bed_segments": [],
            "stages": [],
            **tail(key(USER, "sleep", "reconciled", *NO_SOURCE_KEY, "2026-11-22T23:30:00.000000Z")),
        },
    )


# --------------------------------------------------------------------------- exercise

# A GPS run of a user in Tonga (UTC+13).
EXERCISE_GPS = {
    "name": "users/2551913711607256235/dataTypes/exercise/dataPoints/4740180907190888148",
    "dataSource": WATCH,
    "exercise": {
        "interval": {
            "startTime": "2026-11-11T04:41:00Z",
            "startUtcOffset": "46800s",
            "endTime": "2026-11-11T05:25:00Z",
            "endUtcOffset": "46800s",
        },
        "exerciseType": "RUNNING",
        "displayName": "Run",
        "activeDuration": "2580.5s",
        "exerciseMetadata": {"hasGps": True},
        "metricsSummary": {
            "caloriesKcal": 371.4,
            "distanceMillimeters": 5012345.0,
            "steps": "5200",
            "averageHeartRateBeatsPerMinute": "151",
            "activeZoneMinutes": "62",
            "elevationGainMillimeters": 38707.0,
            "averageSpeedMillimetersPerSecond": 1942.4,
            "averagePaceSecondsPerMeter": 0.5148,
            "runVo2Max": 48.2,
            "heartRateZoneDurations": {
                "moderateTime": "600s",
                "vigorousTime": "1500.5s",
                "peakTime": "480s",
            },
            "mobilityMetrics": {
                "avgCadenceStepsPerMinute": 168.5,
                "avgGroundContactTimeDuration": "0.251s",
                "avgStrideLengthMillimeters": "1093",
                "avgVerticalRatio": 7.9,
            },
        },
        "exerciseEvents": [
            {
                "exerciseEventType": "PAUSE",
                "eventTime": "2026-11-11T05:00:00Z",
                "eventUtcOffset": "46800s",
            },
            {"exerciseEventType": "START", "eventTime": "2026-11-11T04:41:00Z"},
        ],
        "splits": [],
    },
}
EXERCISE_GPS_ROW = {
    "user_key": USER,
    "start_time": dt.datetime(2026, 11, 11, 4, 41, tzinfo=UTC),
    "end_time": dt.datetime(2026, 11, 11, 5, 25, tzinfo=UTC),
    "start_utc_offset_seconds": 46800,
    "end_utc_offset_seconds": 46800,
    "civil_start_datetime": dt.datetime(2026, 11, 11, 17, 41),
    "civil_end_datetime": dt.datetime(2026, 11, 11, 18, 25),
    "civil_date": dt.date(2026, 11, 11),
    "stream": "raw",
    **WATCH_COLUMNS,
    "data_point_id": "4740180907190888148",
    "exercise_type": "RUNNING",
    "display_name": "Run",
    "active_duration_seconds": 2580.5,
    "has_gps": True,
    "notes": None,
    "calories_kcal": 371.4,
    "distance_millimeters": 5012345.0,
    "steps": 5200,
    "average_heart_rate_bpm": 151,
    "active_zone_minutes": 62,
    "elevation_gain_millimeters": 38707.0,
    "average_speed_millimeters_per_second": 1942.4,
    "average_pace_seconds_per_meter": 0.5148,
    "run_vo2_max": 48.2,
    "heart_rate_zone_light_seconds": None,
    "heart_rate_zone_moderate_seconds": 600.0,
    "heart_rate_zone_vigorous_seconds": 1500.5,
    "heart_rate_zone_peak_seconds": 480.0,
    "average_cadence_steps_per_minute": 168.5,
    "average_ground_contact_time_seconds": 0.251,
    "average_stride_length_millimeters": 1093,
    "average_vertical_oscillation_millimeters": None,
    "average_vertical_ratio": 7.9,
    "pool_length_millimeters": None,
    "total_swim_lengths": None,
    # Ordered by time; an event without an offset is at UTC.
    "exercise_events": [
        {
            "event_type": "START",
            "event_time": dt.datetime(2026, 11, 11, 4, 41, tzinfo=UTC),
            "utc_offset_seconds": 0,
            "civil_datetime": dt.datetime(2026, 11, 11, 4, 41),
        },
        {
            "event_type": "PAUSE",
            "event_time": dt.datetime(2026, 11, 11, 5, 0, tzinfo=UTC),
            "utc_offset_seconds": 46800,
            "civil_datetime": dt.datetime(2026, 11, 11, 18, 0),
        },
    ],
    **tail(key(USER, "exercise", "raw", *WATCH_KEY, "4740180907190888148")),
}

# Logged by hand by a UTC user: offsets "0s" (proto3 writes a set zero), no civil times, an
# empty exerciseMetadata (a set message whose fields are all zero), an explicit zero.
EXERCISE_MANUAL = {
    "exercise": {
        "interval": {
            "startTime": "2026-11-14T08:52:00Z",
            "startUtcOffset": "0s",
            "endTime": "2026-11-14T09:27:00Z",
            "endUtcOffset": "0s",
        },
        "exerciseMetadata": {},
        "exerciseType": "OTHER",
        "displayName": "Garden work",
        "notes": "Raking leaves",
        "metricsSummary": {"caloriesKcal": 150, "steps": "0"},
    },
}


def test_exercise_with_gps_metrics():
    assert one_row("exercise", EXERCISE_GPS, "raw") == ("exercise", EXERCISE_GPS_ROW)


def test_exercise_without_gps_keeps_an_explicit_zero_and_nulls_the_rest():
    assert one_row("exercise", EXERCISE_MANUAL, "reconciled") == (
        "exercise",
        {
            "user_key": USER,
            "start_time": dt.datetime(2026, 11, 14, 8, 52, tzinfo=UTC),
            "end_time": dt.datetime(2026, 11, 14, 9, 27, tzinfo=UTC),
            "start_utc_offset_seconds": 0,
            "end_utc_offset_seconds": 0,
            "civil_start_datetime": dt.datetime(2026, 11, 14, 8, 52),
            "civil_end_datetime": dt.datetime(2026, 11, 14, 9, 27),
            "civil_date": dt.date(2026, 11, 14),
            "stream": "reconciled",
            **NO_SOURCE,
            "data_point_id": None,
            "exercise_type": "OTHER",
            "display_name": "Garden work",
            "active_duration_seconds": None,
            "has_gps": None,
            "notes": "Raking leaves",
            "calories_kcal": 150.0,
            "distance_millimeters": None,
            "steps": 0,
            "average_heart_rate_bpm": None,
            "active_zone_minutes": None,
            "elevation_gain_millimeters": None,
            "average_speed_millimeters_per_second": None,
            "average_pace_seconds_per_meter": None,
            "run_vo2_max": None,
            "heart_rate_zone_light_seconds": None,
            "heart_rate_zone_moderate_seconds": None,
            "heart_rate_zone_vigorous_seconds": None,
            "heart_rate_zone_peak_seconds": None,
            "average_cadence_steps_per_minute": None,
            "average_ground_contact_time_seconds": None,
            "average_stride_length_millimeters": None,
            "average_vertical_oscillation_millimeters": None,
            "average_vertical_ratio": None,
            "pool_length_millimeters": None,
            "total_swim_lengths": None,
            "exercise_events": [],
            **tail(
                key(USER, "exercise", "reconciled", *NO_SOURCE_KEY, "2026-11-14T08:52:00.000000Z")
            ),
        },
    )


# --------------------------------------------------------------------------- time zones


def heart_rate_sample(physical: str, offset: str | None, civil_time: dict | None = None) -> dict:
    sample: dict = {"physicalTime": physical}
    if offset is not None:
        sample["utcOffset"] = offset
    if civil_time is not None:
        sample["civilTime"] = civil_time
    return {"heartRate": {"sampleTime": sample, "beatsPerMinute": "60"}}


@pytest.mark.parametrize("with_api_civil", [False, True])
def test_the_repeated_hour_at_the_end_of_dst_gives_equal_civil_times_and_distinct_keys(
    with_api_civil,
):
    # 2026-11-01 in New York: 05:30Z is 01:30 EDT (-4 h), 06:30Z is 01:30 EST (-5 h).
    first = heart_rate_sample(
        "2026-11-01T05:30:00Z", "-14400s", civil(2026, 11, 1, hours=1, minutes=30)
    )
    second = heart_rate_sample(
        "2026-11-01T06:30:00Z", "-18000s", civil(2026, 11, 1, hours=1, minutes=30)
    )
    if not with_api_civil:
        del first["heartRate"]["sampleTime"]["civilTime"]
        del second["heartRate"]["sampleTime"]["civilTime"]
    _, a = one_row("heart-rate", first, "reconciled")
    _, b = one_row("heart-rate", second, "reconciled")
    assert (a["utc_offset_seconds"], b["utc_offset_seconds"]) == (-14400, -18000)
    assert a["civil_datetime"] == b["civil_datetime"] == dt.datetime(2026, 11, 1, 1, 30)
    assert a["civil_date"] == b["civil_date"] == dt.date(2026, 11, 1)
    assert a["record_key"] == key(
        USER, "heart_rate", "reconciled", *NO_SOURCE_KEY, "2026-11-01T05:30:00.000000Z"
    )
    assert b["record_key"] == key(
        USER, "heart_rate", "reconciled", *NO_SOURCE_KEY, "2026-11-01T06:30:00.000000Z"
    )
    assert a["record_key"] != b["record_key"]


def test_utc_user_without_offsets_or_civil_times_has_offset_zero_and_civil_equal_to_utc():
    _, row = one_row("heart-rate", heart_rate_sample("2026-11-20T23:59:59Z", None), "reconciled")
    assert row["utc_offset_seconds"] == 0
    assert row["civil_datetime"] == dt.datetime(2026, 11, 20, 23, 59, 59)
    assert row["civil_date"] == dt.date(2026, 11, 20)


def test_utc_user_with_a_midnight_civil_time_that_omits_time():
    point = heart_rate_sample("2026-11-21T00:00:00Z", None, civil(2026, 11, 21))
    _, row = one_row("heart-rate", point, "reconciled")
    assert (row["utc_offset_seconds"], row["civil_datetime"], row["civil_date"]) == (
        0,
        dt.datetime(2026, 11, 21, 0, 0),
        dt.date(2026, 11, 21),
    )


@pytest.mark.parametrize("with_api_civil", [False, True])
def test_utc_plus_13_user_is_already_on_the_next_day(with_api_civil):
    api_civil = civil(2026, 11, 21, minutes=30) if with_api_civil else None
    point = heart_rate_sample("2026-11-20T11:30:00Z", "46800s", api_civil)
    _, row = one_row("heart-rate", point, "reconciled")
    assert row["sample_time"] == dt.datetime(2026, 11, 20, 11, 30, tzinfo=UTC)
    assert row["utc_offset_seconds"] == 46800
    assert row["civil_datetime"] == dt.datetime(2026, 11, 21, 0, 30)
    assert row["civil_date"] == dt.date(2026, 11, 21)


def test_when_api_civil_time_disagrees_with_the_offset_the_api_wins():
    point = heart_rate_sample("2026-11-20T11:30:00Z", "46800s", civil(2026, 11, 20, hours=23))
    _, row = one_row("heart-rate", point, "reconciled")
    assert row["civil_datetime"] == dt.datetime(2026, 11, 20, 23, 0)
    assert row["civil_date"] == dt.date(2026, 11, 20)


@pytest.mark.parametrize(
    ("physical", "expected"),
    [
        ("2026-11-20T02:03:05.1Z", dt.datetime(2026, 11, 20, 2, 3, 5, 100000, tzinfo=UTC)),
        ("2026-11-20T02:03:05.123456Z", dt.datetime(2026, 11, 20, 2, 3, 5, 123456, tzinfo=UTC)),
        # Nanoseconds are truncated to the microseconds BigQuery keeps.
        ("2026-11-20T02:03:05.123456789Z", dt.datetime(2026, 11, 20, 2, 3, 5, 123456, tzinfo=UTC)),
        # RFC 3339 allows an offset instead of Z; the instant is what counts.
        ("2026-11-19T21:03:05-05:00", dt.datetime(2026, 11, 20, 2, 3, 5, tzinfo=UTC)),
    ],
)
def test_rfc3339_forms(physical, expected):
    _, row = one_row("heart-rate", heart_rate_sample(physical, None), "reconciled")
    assert row["sample_time"] == expected
    assert row["sample_time"].tzinfo is UTC


# --------------------------------------------------------------------------- record_key


def test_record_key_of_the_documented_example():
    source = {
        "platform": "FITBIT",
        "recordingMethod": "PASSIVELY_MEASURED",
        "device": {"displayName": "Charge 6", "formFactor": "FITNESS_BAND"},
        "application": {"packageName": "com.google.fitbit"},
    }
    point = {**STEPS_RAW, "dataSource": source}
    _, row = one_row("steps", point, "raw")
    assert row["record_key"] == RECORD_KEY_EXAMPLE
    assert datapoints.record_key("steps", row) == RECORD_KEY_EXAMPLE


def test_the_same_measurement_fetched_twice_has_the_same_key():
    later_run = RowContext(USER, "run-20261129", dt.datetime(2026, 11, 29, 6, tzinfo=UTC))
    again = {
        "dataSource": dict(WATCH),
        # A later fetch: the civil times are left out and the count was revised.
        "steps": {
            "interval": {
                "startTime": "2026-11-20T02:03:00.000Z",
                "startUtcOffset": "-18000s",
                "endTime": "2026-11-20T02:04:00Z",
                "endUtcOffset": "-18000s",
            },
            "count": "60",
        },
    }
    _, first = one_row("steps", STEPS_RAW, "raw")
    _, second = one_row("steps", again, "raw", later_run)
    assert first["record_key"] == second["record_key"]
    assert (second["run_id"], second["step_count"]) == ("run-20261129", 60)


def test_a_different_minute_source_stream_or_user_gives_a_different_key():
    next_minute = {
        **STEPS_RAW,
        "steps": {
            **STEPS_RAW["steps"],
            "interval": {
                **STEPS_RAW["steps"]["interval"],
                "startTime": "2026-11-20T02:04:00Z",
                "endTime": "2026-11-20T02:05:00Z",
            },
        },
    }
    phone = {
        "platform": "HEALTH_CONNECT",
        "recordingMethod": "PASSIVELY_MEASURED",
        "device": {"displayName": "Pixel 9", "formFactor": "PHONE", "manufacturer": "Google"},
        "application": {"packageName": "com.google.android.apps.fitness"},
    }
    keys = {
        one_row("steps", STEPS_RAW, "raw")[1]["record_key"],
        one_row("steps", next_minute, "raw")[1]["record_key"],
        one_row("steps", {**STEPS_RAW, "dataSource": phone}, "raw")[1]["record_key"],
        one_row("steps", STEPS_RAW, "reconciled")[1]["record_key"],
        one_row("steps", STEPS_RAW, "raw", RowContext("p-0043", RUN_ID, INGEST))[1]["record_key"],
    }
    assert len(keys) == 5


def test_measurement_keys_follow_the_schema_docs():
    # Each schema's record_key doc ends with "the measurement key, which here is ...".
    phrases = {
        (("start_time",),): "start_time",
        (("sample_time",),): "sample_time",
        (("civil_date",),): "civil_date",
        (("data_point_id", "start_time"),): "data_point_id (start_time when data_point_id is null)",
        (
            ("data_point_id", "sample_time"),
        ): "data_point_id (sample_time when data_point_id is null)",
        (("data_point_id",), ("trackpoint_index",)): "data_point_id followed by trackpoint_index",
        # legacy_sleep and legacy_weight: the legacy logId, which every log has.
        (("data_point_id",),): "data_point_id",
    }
    for table in TABLES:
        doc = next(f["doc"] for f in load_avro_schema(table)["fields"] if f["name"] == "record_key")
        stated = re.search(r"the measurement key, which here is (.+?)\. Nulls", doc).group(1)
        assert phrases[datapoints.MEASUREMENT_KEY[table]] == stated, table
        prefix = (
            "user_key, 'daily_activity_summary', and"
            if table == "daily_activity_summary"
            else (
                f"user_key, '{table}', stream, source_platform, source_recording_method, "
                "source_device_display_name, source_device_form_factor, "
                "source_device_manufacturer, source_application_package_name, and"
            )
        )
        assert prefix in " ".join(doc.split()), table


def test_record_key_of_literal_rows():
    summary = {"user_key": USER, "civil_date": dt.date(2026, 11, 20), "step_count": None}
    assert datapoints.record_key("daily_activity_summary", summary) == key(
        USER, "daily_activity_summary", "2026-11-20"
    )
    trackpoint = {
        "user_key": USER,
        "stream": "raw",
        **WATCH_COLUMNS,
        "data_point_id": "4740180907190888148",
        "trackpoint_index": 12,
    }
    assert datapoints.record_key("exercise_tcx_trackpoints", trackpoint) == key(
        USER, "exercise_tcx_trackpoints", "raw", *WATCH_KEY, "4740180907190888148", "12"
    )
    # A legacy table has no source columns: its key has six empty source values.
    legacy_sleep = {"user_key": USER, "stream": "reconciled", **NO_SOURCE}
    legacy_sleep |= {"civil_date": dt.date(2026, 11, 20), "data_point_id": "48309721045"}
    assert datapoints.record_key("legacy_sleep", legacy_sleep) == key(
        USER, "legacy_sleep", "reconciled", *NO_SOURCE_KEY, "48309721045"
    )
    cardio = {"user_key": USER, "stream": "reconciled", **NO_SOURCE}
    cardio |= {"civil_date": dt.date(2026, 11, 20)}
    assert datapoints.record_key("legacy_cardio_score", cardio) == key(
        USER, "legacy_cardio_score", "reconciled", *NO_SOURCE_KEY, "2026-11-20"
    )


# --------------------------------------------------------------------------- malformed points

INTERVAL = STEPS_RAW["steps"]["interval"]


@pytest.mark.parametrize(
    ("data_type", "point", "stream", "field"),
    [
        ("steps", {"steps": {"count": "5"}}, "raw", "steps.interval"),
        ("steps", {"dataSource": WATCH}, "raw", "steps"),
        (
            "steps",
            {"steps": {"interval": {**INTERVAL, "startTime": "2026-11-20 02:03:00Z"}}},
            "raw",
            "steps.interval.startTime",
        ),
        (
            "steps",
            {"steps": {"interval": {**INTERVAL, "endTime": "2026-11-20T02:03:61Z"}}},
            "raw",
            "steps.interval.endTime",
        ),
        (
            "steps",
            {"steps": {"interval": {**INTERVAL, "endTime": "2026-11-20T02:02:00Z"}}},
            "raw",
            "steps.interval.endTime",
        ),
        ("steps", {"steps": {"interval": INTERVAL, "count": "57 steps"}}, "raw", "steps.count"),
        ("steps", {"steps": {"interval": INTERVAL, "count": 5.5}}, "raw", "steps.count"),
        (
            "steps",
            {"steps": {"interval": {**INTERVAL, "startUtcOffset": "-5h"}}},
            "raw",
            "steps.interval.startUtcOffset",
        ),
        (
            "steps",
            {"steps": {"interval": {**INTERVAL, "civilStartTime": civil(2026, 13, 1)}}},
            "raw",
            "steps.interval.civilStartTime",
        ),
        ("stepz", STEPS_RAW, "raw", "data_type"),
        ("steps", STEPS_RAW, "both", "stream"),
        (
            "heart-rate",
            heart_rate_sample("yesterday", None),
            "raw",
            "heartRate.sampleTime.physicalTime",
        ),
        (
            "heart-rate",
            {"heartRate": {"sampleTime": {"physicalTime": "2026-11-20T02:03:05"}}},
            "raw",
            "heartRate.sampleTime.physicalTime",
        ),
        (
            "heart-rate",
            {"heartRate": {"sampleTime": {"physicalTime": "2026-11-20T02:03:05Z"}}},
            "raw",
            "heartRate.beatsPerMinute",
        ),
        (
            "heart-rate",
            {"heartRate": {**HEART_RATE_RAW["heartRate"], "metadata": "ACTIVE"}},
            "raw",
            "heartRate.metadata.motionContext",
        ),
        (
            "weight",
            {"weight": {**WEIGHT_RAW["weight"], "weightGrams": "NaN"}},
            "raw",
            "weight.weightGrams",
        ),
        (
            "weight",
            {**WEIGHT_RAW, "name": "users/1/dataTypes/weight/dataPoints/"},
            "raw",
            "name",
        ),
        (
            "weight",
            {**WEIGHT_RAW, "dataSource": {"device": {"displayName": 6}}},
            "raw",
            "dataSource.device.displayName",
        ),
        (
            "daily-resting-heart-rate",
            {"dailyRestingHeartRate": {"beatsPerMinute": "58"}},
            "raw",
            "dailyRestingHeartRate.date",
        ),
        (
            "daily-vo2-max",
            {"dailyVo2Max": {**VO2_RAW["dailyVo2Max"], "estimated": "yes"}},
            "raw",
            "dailyVo2Max.estimated",
        ),
        (
            "daily-heart-rate-zones",
            {"dailyHeartRateZones": {**ZONES_RAW["dailyHeartRateZones"], "heartRateZones": {}}},
            "raw",
            "dailyHeartRateZones.heartRateZones",
        ),
        (
            "daily-heart-rate-zones",
            {
                "dailyHeartRateZones": {
                    **ZONES_RAW["dailyHeartRateZones"],
                    "heartRateZones": [{"minBeatsPerMinute": "95", "maxBeatsPerMinute": "108"}],
                }
            },
            "raw",
            "dailyHeartRateZones.heartRateZones[0].heartRateZoneType",
        ),
        (
            "sleep",
            {
                "sleep": {
                    **SLEEP_DST_NIGHT["sleep"],
                    "stages": [
                        {"startTime": "2026-11-01T03:00:00Z", "endTime": "2026-11-01T04:00:00Z"}
                    ],
                }
            },
            "raw",
            "sleep.stages[0].type",
        ),
        (
            "exercise",
            {"exercise": {**EXERCISE_GPS["exercise"], "activeDuration": "43 minutes"}},
            "raw",
            "exercise.activeDuration",
        ),
        (
            "exercise",
            {"exercise": {"interval": EXERCISE_MANUAL["exercise"]["interval"]}},
            "raw",
            "exercise.exerciseType",
        ),
    ],
)
def test_malformed_points_raise_row_error_naming_the_field(data_type, point, stream, field):
    with pytest.raises(RowError) as caught:
        datapoints.rows_for_point(data_type, point, CTX, stream)
    assert caught.value.field == field
    assert str(caught.value).startswith(field + ": ")


def test_row_error_message_says_why_and_survives_pickling():
    with pytest.raises(RowError) as caught:
        datapoints.rows_for_point(
            "steps", {"steps": {"interval": INTERVAL, "count": "lots"}}, CTX, "raw"
        )
    assert str(caught.value) == "steps.count: expected an integer, got 'lots'"
    copy = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own bytes
    assert (type(copy), copy.field, copy.reason) == (RowError, "steps.count", caught.value.reason)
    assert isinstance(copy, ValueError)


def test_row_context_needs_a_tz_aware_ingest_time_and_stores_it_in_utc():
    with pytest.raises(ValueError, match="ingest_time must be a tz-aware datetime"):
        RowContext(USER, RUN_ID, dt.datetime(2026, 11, 28, 12))
    with pytest.raises(ValueError, match="user_key must be a non-empty string"):
        RowContext("", RUN_ID, INGEST)
    paris = dt.timezone(dt.timedelta(hours=1))
    ctx = RowContext(USER, RUN_ID, dt.datetime(2026, 11, 28, 13, tzinfo=paris))
    assert ctx.ingest_time == INGEST
    assert ctx.ingest_time.tzinfo is UTC


# --------------------------------------------------------------------------- daily summary


def test_summary_rows_per_day_with_nulls_for_missing_types_and_zeros_for_empty_sums():
    windows = {
        dt.date(2026, 11, 21): {"steps": {}, "total-calories": {"kcalSum": 1650}},
        dt.date(2026, 11, 20): {
            "steps": {"countSum": "9123"},
            "distance": {"millimetersSum": "6804512"},
            "floors": {"countSum": "12"},
            "total-calories": {"kcalSum": 2100.5},
            "active-zone-minutes": {
                "sumInFatBurnHeartZone": "14",
                "sumInCardioHeartZone": "6",
            },
        },
        dt.date(2026, 11, 22): {},
        dt.date(2026, 11, 23): {"steps": None},
        dt.date(2026, 11, 24): None,
    }
    assert daily_summary.summary_rows(windows, CTX) == [
        (
            "daily_activity_summary",
            {
                "user_key": USER,
                "civil_date": dt.date(2026, 11, 20),
                "step_count": 9123,
                "distance_millimeters": 6804512,
                "floor_count": 12,
                "total_calories_kcal": 2100.5,
                "active_zone_minutes_fat_burn": 14,
                "active_zone_minutes_cardio": 6,
                "active_zone_minutes_peak": 0,
                "active_zone_minutes_total": 20,
                **tail(key(USER, "daily_activity_summary", "2026-11-20")),
            },
        ),
        (
            "daily_activity_summary",
            {
                "user_key": USER,
                "civil_date": dt.date(2026, 11, 21),
                "step_count": 0,
                "distance_millimeters": None,
                "floor_count": None,
                "total_calories_kcal": 1650.0,
                "active_zone_minutes_fat_burn": None,
                "active_zone_minutes_cardio": None,
                "active_zone_minutes_peak": None,
                "active_zone_minutes_total": None,
                **tail(key(USER, "daily_activity_summary", "2026-11-21")),
            },
        ),
    ]


@pytest.mark.parametrize(
    ("windows", "field"),
    [
        ({dt.date(2026, 11, 20): {"heart-rate": {}}}, "dailyRollUp[2026-11-20]"),
        ({"2026-11-20": {"steps": {}}}, "civil_date"),
        ({dt.date(2026, 11, 20): {"steps": "9123"}}, "dailyRollUp[2026-11-20].steps"),
        (
            {dt.date(2026, 11, 20): {"floors": {"countSum": "twelve"}}},
            "dailyRollUp[2026-11-20].floors.countSum",
        ),
    ],
)
def test_summary_rows_reject_malformed_windows(windows, field):
    with pytest.raises(RowError) as caught:
        daily_summary.summary_rows(windows, CTX)
    assert caught.value.field == field


# --------------------------------------------------------------------------- the contract

SAMPLE_POINTS = [
    ("steps", STEPS_RAW, "raw"),
    ("steps", STEPS_RECONCILED_NO_COUNT, "reconciled"),
    ("distance", DISTANCE_RAW, "raw"),
    ("floors", FLOORS_RECONCILED, "reconciled"),
    ("active-zone-minutes", AZM_RAW, "raw"),
    ("active-zone-minutes", AZM_RECONCILED, "reconciled"),
    ("heart-rate", HEART_RATE_RAW, "raw"),
    ("heart-rate", HEART_RATE_RECONCILED, "reconciled"),
    ("heart-rate-variability", HRV_RAW, "raw"),
    ("heart-rate-variability", HRV_RECONCILED, "reconciled"),
    ("daily-resting-heart-rate", RESTING_RAW, "raw"),
    ("daily-resting-heart-rate", RESTING_RECONCILED, "reconciled"),
    ("daily-heart-rate-zones", ZONES_RAW, "raw"),
    ("daily-heart-rate-zones", ZONES_RECONCILED_EMPTY, "reconciled"),
    ("daily-heart-rate-variability", DAILY_HRV_RAW, "raw"),
    ("daily-heart-rate-variability", DAILY_HRV_RECONCILED, "reconciled"),
    ("daily-oxygen-saturation", OXYGEN_RAW, "raw"),
    ("daily-oxygen-saturation", OXYGEN_RECONCILED, "reconciled"),
    ("daily-respiratory-rate", RESPIRATORY_RAW, "raw"),
    ("daily-vo2-max", VO2_RAW, "raw"),
    ("daily-vo2-max", VO2_RECONCILED, "reconciled"),
    ("sleep", SLEEP_DST_NIGHT, "raw"),
    ("sleep", CLASSIC_NAP, "reconciled"),
    ("sleep", SLEEP_UNPROCESSED, "reconciled"),
    ("exercise", EXERCISE_GPS, "raw"),
    ("exercise", EXERCISE_MANUAL, "reconciled"),
    ("weight", WEIGHT_RAW, "raw"),
    ("weight", WEIGHT_MANUAL_WITHOUT_NAME, "raw"),
    ("body-fat", BODY_FAT_RECONCILED, "reconciled"),
]

TCX = """<?xml version="1.0" encoding="UTF-8"?>
<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">
 <Activities><Activity Sport="Running"><Id>2026-11-11T04:41:00.000Z</Id>
  <Lap StartTime="2026-11-11T04:41:00.000Z"><TotalTimeSeconds>300.0</TotalTimeSeconds>
   <Track><Trackpoint><Time>2026-11-11T04:41:00.000Z</Time>
    <Position><LatitudeDegrees>-21.1393</LatitudeDegrees>
     <LongitudeDegrees>-175.2049</LongitudeDegrees></Position>
    <HeartRateBpm><Value>140</Value></HeartRateBpm></Trackpoint>
   <Trackpoint><Time>2026-11-11T04:41:05.000Z</Time></Trackpoint></Track></Lap>
 </Activity></Activities></TrainingCenterDatabase>
"""


# One response of each legacy Fitbit Web API endpoint with a legacy-only table, as the
# original system's archive holds them (history.legacy), for a New York user on 20 Nov.
LEGACY_ZONE = ZoneInfo("America/New_York")
LEGACY_FILES = {
    "get_activity_summary_by_date/20261120/get_activity_summary_by_date_A1B2C3.json": {
        "activities": [],
        "goals": {"activeMinutes": 30, "caloriesOut": 2500, "distance": 8.05, "steps": 10000},
        "summary": {
            "activeScore": -1,
            "activityCalories": 812,
            "caloriesBMR": 1519,
            "caloriesOut": 2243,
            "distances": [
                {"activity": "total", "distance": 6.702},
                {"activity": "tracker", "distance": 6.702},
            ],
            "elevation": 0,
            "fairlyActiveMinutes": 21,
            "floors": 0,
            "lightlyActiveMinutes": 183,
            "marginalCalories": 468,
            "sedentaryMinutes": 702,
            "steps": 9123,
            "veryActiveMinutes": 14,
        },
    },
    "get_heart_rate_by_date/20261120/get_heart_rate_by_date_A1B2C3.json": {
        "activities-heart": [
            {
                "dateTime": "2026-11-20",
                "value": {
                    "customHeartRateZones": [
                        {"name": "Easy run", "min": 120, "max": 140, "minutes": 25}
                    ],
                    "heartRateZones": [
                        {
                            "name": "Out of Range",
                            "min": 30,
                            "max": 97,
                            "minutes": 1302,
                            "caloriesOut": 1612.5,
                        },
                        {"name": "Peak", "min": 165, "max": 220, "minutes": 0, "caloriesOut": 0},
                    ],
                    "restingHeartRate": 58,
                },
            }
        ]
    },
    "get_sleep_by_date/20261120/get_sleep_by_date_A1B2C3.json": {
        "sleep": [
            {
                "dateOfSleep": "2026-11-20",
                "duration": 4500000,
                "efficiency": 93,
                "endTime": "2026-11-20T00:25:00.000",
                "infoCode": 0,
                "isMainSleep": True,
                "levels": {
                    "data": [
                        {"dateTime": "2026-11-19T23:10:00.000", "level": "light", "seconds": 1800},
                        {"dateTime": "2026-11-19T23:40:00.000", "level": "deep", "seconds": 2700},
                    ],
                    "summary": {
                        "deep": {"count": 1, "minutes": 45, "thirtyDayAvgMinutes": 68},
                        "light": {"count": 1, "minutes": 30, "thirtyDayAvgMinutes": 241},
                    },
                },
                "logId": 48309721045,
                "logType": "auto_detected",
                "minutesAsleep": 75,
                "minutesAwake": 0,
                "startTime": "2026-11-19T23:10:00.000",
                "timeInBed": 75,
                "type": "stages",
            }
        ]
    },
    "get_body_weight_by_date/20261120/get_body_weight_by_date_A1B2C3.json": {
        "weight": [
            {
                "bmi": 23.65,
                "date": "2026-11-20",
                "logId": 1763625160000,
                "source": "Aria",
                "time": "07:52:40",
                "weight": 72.45,
            }
        ]
    },
    "get_cardio_score_by_date/20261120/get_cardio_score_by_date_A1B2C3.json": {
        "cardioScore": [{"dateTime": "2026-11-20", "value": {"vo2Max": "44-48"}}]
    },
}


def legacy_rows() -> list[tuple[str, dict]]:
    """The legacy-only rows of LEGACY_FILES, stamped with the run as the import stamps them."""
    out = []
    for path, body in LEGACY_FILES.items():
        ctx = ParseContext(USER, LEGACY_ZONE, "archive.zip!" + path)
        for unit in legacy.parse(path, json.dumps(body).encode(), ctx):
            if isinstance(unit, ImportUnit) and unit.table:
                stamp = {"run_id": RUN_ID, "ingest_time": INGEST, "load_id": "import-1-0"}
                out += [(unit.table, {**row, **stamp}) for row in unit.rows]
    return out


def test_legacy_rows_of_literal_responses():
    day = dt.date(2026, 11, 20)
    common = {"user_key": USER, "civil_date": day, "stream": "reconciled"}

    def expected(table: str, measurement: str, values: dict) -> tuple[str, dict]:
        record = key(USER, table, "reconciled", *NO_SOURCE_KEY, measurement)
        return table, {**common, **values, **tail(record), "load_id": "import-1-0"}

    assert legacy_rows() == [
        expected(
            "legacy_daily_activity",
            "2026-11-20",
            {
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
                    {"activity": "tracker", "distance_kilometers": 6.702},
                ],
                "goal_steps": 10000,
                "goal_floors": None,
                "goal_distance_kilometers": 8.05,
                "goal_calories_out_kcal": 2500,
                "goal_active_minutes": 30,
            },
        ),
        expected(
            "legacy_heart_rate_zones",
            "2026-11-20",
            {
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
                        "minutes": 0,
                        "calories_out_kcal": 0.0,
                        "custom": False,
                    },
                    {
                        "zone_name": "Easy run",
                        "min_beats_per_minute": 120,
                        "max_beats_per_minute": 140,
                        "minutes": 25,
                        "calories_out_kcal": None,
                        "custom": True,
                    },
                ]
            },
        ),
        expected(
            "legacy_sleep",
            "48309721045",
            {
                "data_point_id": "48309721045",
                "efficiency": 93,
                "info_code": 0,
                "log_type": "auto_detected",
                "thirty_day_average_minutes": [
                    {"stage_type": "DEEP", "minutes": 68},
                    {"stage_type": "LIGHT", "minutes": 241},
                ],
            },
        ),
        expected(
            "legacy_weight",
            "1763625160000",
            {"data_point_id": "1763625160000", "bmi": 23.65, "log_source": "Aria"},
        ),
        expected(
            "legacy_cardio_score",
            "2026-11-20",
            {"vo2_max_range": "44-48", "vo2_max_low": 44.0, "vo2_max_high": 48.0},
        ),
    ]


def all_sample_rows() -> list[tuple[str, dict]]:
    # Imported here: tests.unit.test_rows_types imports this module's helpers.
    from tests.unit.test_rows_types import NEW_SAMPLE_POINTS

    out = []
    for data_type, point, stream in SAMPLE_POINTS + NEW_SAMPLE_POINTS:
        out += datapoints.rows_for_point(data_type, point, CTX, stream)
    out += daily_summary.summary_rows(
        {
            dt.date(2026, 11, 20): {
                "steps": {"countSum": "9123"},
                "active-zone-minutes": {"sumInPeakHeartZone": "4"},
            },
            dt.date(2026, 11, 21): {"total-calories": {}},
        },
        CTX,
    )
    out += tcx.trackpoint_rows(TCX, EXERCISE_GPS_ROW, CTX)
    out += legacy_rows()
    return out


def test_every_row_has_exactly_its_tables_fields_and_validates_with_fastavro():
    covered = set()
    for table, row in all_sample_rows():
        schema = load_avro_schema(table)
        assert set(row) == {field["name"] for field in schema["fields"]}, table
        assert validate(row, fastavro.parse_schema(schema), raise_errors=True)
        covered.add(table)
    assert covered == set(TABLES)


def test_table_of_agrees_with_the_data_type_catalogue():
    catalogue = {
        name: spec.table for name, spec in datatypes.SPECS.items() if spec.table is not None
    }
    assert catalogue == datapoints.TABLE_OF


def test_simulated_points_of_three_time_zones_across_a_dst_change():
    from simulator import Simulator, SimulatorConfig

    start = dt.datetime(2026, 11, 28, 12, tzinfo=UTC).timestamp()
    simulator = Simulator(SimulatorConfig(users=3, clock_speed=0, start_time=start))
    schemas = {t: fastavro.parse_schema(load_avro_schema(t)) for t in TABLES}
    keys = set()
    count = 0
    # user-1 is in New York (DST ends 2026-11-01), user-2 in Tonga (UTC+13), user-3 in London.
    for user in ("user-1", "user-2", "user-3"):
        ctx = RowContext(user, RUN_ID, INGEST)
        for data_type in datapoints.TABLE_OF:
            first = dt.date(2026, 10, 31)
            if data_type == "heart-rate":
                # The simulator makes dense heart rate slowly: only New York's DST day.
                if user != "user-1":
                    continue
                first = dt.date(2026, 11, 1)
            for stream in ("raw", "reconciled"):
                truth = simulator.ground_truth(
                    user, data_type, first, dt.date(2026, 11, 1), stream == "reconciled"
                )
                if data_type == "heart-rate":
                    truth = truth[::20]
                for expected in truth:
                    ((table, row),) = datapoints.rows_for_point(
                        data_type, expected["dataPoint"], ctx, stream
                    )
                    assert row["civil_date"].isoformat() == expected["civilDate"], expected
                    validate(row, schemas[table], raise_errors=True)
                    keys.add(row["record_key"])
                    count += 1
    assert count > 3000
    assert len(keys) == count


# --------------------------------------------------------------------------- BigQuery JSON


def test_to_bigquery_json_of_a_sleep_row_converts_nested_times():
    _, row = one_row("sleep", CLASSIC_NAP, "reconciled")
    assert to_bigquery_json("sleep", row) == {
        "user_key": USER,
        "start_time": "2026-11-21T19:10:00.000000Z",
        "end_time": "2026-11-21T19:55:00.000000Z",
        "start_utc_offset_seconds": -18000,
        "end_utc_offset_seconds": -18000,
        "civil_start_datetime": "2026-11-21T14:10:00.000000",
        "civil_end_datetime": "2026-11-21T14:55:00.000000",
        "civil_date": "2026-11-21",
        "stream": "reconciled",
        **NO_SOURCE,
        "data_point_id": "7001",
        "sleep_type": "CLASSIC",
        "is_main_sleep": None,
        "is_nap": True,
        "is_processed": True,
        "is_manually_edited": None,
        "stages_status": "REJECTED_NAP",
        "minutes_asleep": 40,
        "minutes_awake": None,
        "minutes_in_sleep_period": 45,
        "minutes_to_fall_asleep": 0,
        "minutes_after_wake_up": None,
        "stages_summary": [],
        "short_awakenings": [],
        "out_of_bed_segments": [],
        "stages": [
            {
                "stage_type": "ASLEEP",
                "start_time": "2026-11-21T19:10:00.000000Z",
                "end_time": "2026-11-21T19:40:00.000000Z",
                "start_utc_offset_seconds": -18000,
                "end_utc_offset_seconds": -18000,
                "civil_start_datetime": "2026-11-21T14:10:00.000000",
                "civil_end_datetime": "2026-11-21T14:40:00.000000",
            },
            {
                "stage_type": "RESTLESS",
                "start_time": "2026-11-21T19:40:00.000000Z",
                "end_time": "2026-11-21T19:45:00.000000Z",
                "start_utc_offset_seconds": -18000,
                "end_utc_offset_seconds": -18000,
                "civil_start_datetime": "2026-11-21T14:40:00.000000",
                "civil_end_datetime": "2026-11-21T14:45:00.000000",
            },
            {
                "stage_type": "ASLEEP",
                "start_time": "2026-11-21T19:45:00.000000Z",
                "end_time": "2026-11-21T19:55:00.000000Z",
                "start_utc_offset_seconds": -18000,
                "end_utc_offset_seconds": -18000,
                "civil_start_datetime": "2026-11-21T14:45:00.000000",
                "civil_end_datetime": "2026-11-21T14:55:00.000000",
            },
        ],
        "record_key": key(USER, "sleep", "reconciled", *NO_SOURCE_KEY, "7001"),
        "run_id": RUN_ID,
        "ingest_time": "2026-11-28T12:00:00.000000Z",
        "load_id": None,
    }


def test_to_bigquery_json_of_a_heart_rate_row_keeps_microseconds():
    _, row = one_row("heart-rate", HEART_RATE_RECONCILED, "reconciled")
    assert to_bigquery_json("heart_rate", row) == {
        "user_key": USER,
        "sample_time": "2026-11-20T02:03:05.600000Z",
        "utc_offset_seconds": -18000,
        "civil_datetime": "2026-11-19T21:03:05.600000",
        "civil_date": "2026-11-19",
        "stream": "reconciled",
        **NO_SOURCE,
        "beats_per_minute": 72,
        "motion_context": None,
        "sensor_location": None,
        "record_key": row["record_key"],
        "run_id": RUN_ID,
        "ingest_time": "2026-11-28T12:00:00.000000Z",
        "load_id": None,
    }


def test_to_bigquery_json_of_nullable_timestamps_and_a_summary_row():
    trackpoint = {
        "user_key": USER,
        "trackpoint_time": dt.datetime(2026, 11, 11, 4, 41, 5, tzinfo=UTC),
        "utc_offset_seconds": 46800,
        "civil_datetime": dt.datetime(2026, 11, 11, 17, 41, 5),
        "civil_date": dt.date(2026, 11, 11),
        "stream": "raw",
        **WATCH_COLUMNS,
        "data_point_id": "4740180907190888148",
        "lap_index": 0,
        "trackpoint_index": 1,
        "latitude_degrees": None,
        "longitude_degrees": None,
        "altitude_meters": 31.5,
        "distance_meters": 6.6,
        "heart_rate_bpm": None,
        "cadence": 84,
        "lap_start_time": None,
        "lap_total_time_seconds": 300.0,
        "lap_distance_meters": None,
        "lap_calories_kcal": 45,
        "lap_intensity": "Active",
        "lap_trigger_method": None,
        "sport": "Running",
        "record_key": "k",
        "run_id": RUN_ID,
        "ingest_time": INGEST,
        "load_id": "run-20261128-0123456789abcdef",
    }
    as_json = to_bigquery_json("exercise_tcx_trackpoints", trackpoint)
    assert as_json == {
        **trackpoint,
        "trackpoint_time": "2026-11-11T04:41:05.000000Z",
        "civil_datetime": "2026-11-11T17:41:05.000000",
        "civil_date": "2026-11-11",
        "ingest_time": "2026-11-28T12:00:00.000000Z",
    }
    trackpoint["lap_start_time"] = dt.datetime(2026, 11, 11, 4, 41, tzinfo=UTC)
    as_json = to_bigquery_json("exercise_tcx_trackpoints", trackpoint)
    assert as_json["lap_start_time"] == "2026-11-11T04:41:00.000000Z"

    ((_, summary),) = daily_summary.summary_rows(
        {dt.date(2026, 11, 20): {"steps": {"countSum": "9"}}}, CTX
    )
    assert to_bigquery_json("daily_activity_summary", summary) == {
        **summary,
        "civil_date": "2026-11-20",
        "ingest_time": "2026-11-28T12:00:00.000000Z",
    }


# --------------------------------------------------------------------------- hostile values


@pytest.mark.parametrize("count", ["1_000", " 7 ", "\u0661\u0662", "\uff11\uff12", "7.5", ""])
def test_an_integer_is_ascii_digits_only(count):
    point = {**STEPS_RAW, "steps": {**STEPS_RAW["steps"], "count": count}}
    with pytest.raises(RowError) as err:
        datapoints.rows_for_point("steps", point, CTX, "raw")
    assert err.value.field == "steps.count"


@pytest.mark.parametrize("grams", ["\uff17\uff10", " 70", "7_0", "nan", "1e400"])
def test_a_number_is_ascii_and_finite_only(grams):
    point = {
        "weight": {
            "sampleTime": {"physicalTime": "2026-11-20T07:00:00Z", "utcOffset": "0s"},
            "weightGrams": grams,
        },
        "name": "users/me/dataTypes/weight/dataPoints/1",
    }
    with pytest.raises(RowError) as err:
        datapoints.rows_for_point("weight", point, CTX, "reconciled")
    assert err.value.field == "weight.weightGrams"


def test_a_lone_surrogate_in_a_source_is_a_row_error_not_a_crash():
    source = {**STEPS_RAW["dataSource"], "platform": "\ud800"}
    with pytest.raises(RowError, match="lone surrogate"):
        datapoints.rows_for_point("steps", {**STEPS_RAW, "dataSource": source}, CTX, "raw")


def test_a_date_beyond_the_calendar_is_a_row_error_not_a_crash():
    # No civil end sent: it is the instant shifted by its offset, past year 9999.
    interval = {**STEPS_RAW["steps"]["interval"], "endUtcOffset": "64000s"}
    interval["endTime"] = "9999-12-31T23:59:59Z"
    del interval["civilEndTime"]
    point = {**STEPS_RAW, "steps": {**STEPS_RAW["steps"], "interval": interval}}
    with pytest.raises(RowError):
        datapoints.rows_for_point("steps", point, CTX, "raw")
