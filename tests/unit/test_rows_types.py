"""rows.datapoints for the data types read since version 0.4: literal points -> exact rows.

Points are written from the discovery document's schemas (health.v4.json) as the live API
sends them: proto3 JSON, int64 as strings, zero-valued messages as `{}` and zero offsets as
`"0s"`. Expected rows are written out by hand; record keys are hashed here from the parts
the schema docs list.
"""

from __future__ import annotations

import datetime as dt

import pytest

from healthapi import datatypes
from rows import datapoints
from rows.datapoints import RowError
from tests.unit.test_rows import (
    CTX,
    NO_SOURCE,
    NO_SOURCE_KEY,
    USER,
    WATCH,
    WATCH_COLUMNS,
    WATCH_KEY,
    civil,
    key,
    one_row,
    tail,
)

UTC = dt.UTC

# A one-minute interval of a user in New York (UTC-5): 21:03 local on 19 November.
INTERVAL = {
    "startTime": "2026-11-20T02:03:00Z",
    "startUtcOffset": "-18000s",
    "endTime": "2026-11-20T02:04:00Z",
    "endUtcOffset": "-18000s",
    "civilStartTime": civil(2026, 11, 19, hours=21, minutes=3),
    "civilEndTime": civil(2026, 11, 19, hours=21, minutes=4),
}
INTERVAL_COLUMNS = {
    "user_key": USER,
    "start_time": dt.datetime(2026, 11, 20, 2, 3, tzinfo=UTC),
    "end_time": dt.datetime(2026, 11, 20, 2, 4, tzinfo=UTC),
    "start_utc_offset_seconds": -18000,
    "end_utc_offset_seconds": -18000,
    "civil_start_datetime": dt.datetime(2026, 11, 19, 21, 3),
    "civil_end_datetime": dt.datetime(2026, 11, 19, 21, 4),
    "civil_date": dt.date(2026, 11, 19),
}
INTERVAL_KEY = "2026-11-20T02:03:00.000000Z"
# A sample of a user in London at midnight UTC: the civil time's `time` is a set message
# with every field zero, sent as {}.
SAMPLE = {
    "physicalTime": "2026-11-20T00:00:00Z",
    "utcOffset": "0s",
    "civilTime": {"date": {"year": 2026, "month": 11, "day": 20}, "time": {}},
}
SAMPLE_COLUMNS = {
    "user_key": USER,
    "sample_time": dt.datetime(2026, 11, 20, 0, 0, tzinfo=UTC),
    "utc_offset_seconds": 0,
    "civil_datetime": dt.datetime(2026, 11, 20, 0, 0),
    "civil_date": dt.date(2026, 11, 20),
}
SAMPLE_KEY = "2026-11-20T00:00:00.000000Z"
# Health Connect data: recording method UNKNOWN and an empty (all-zero) device.
PHONE = {
    "platform": "HEALTH_CONNECT",
    "recordingMethod": "UNKNOWN",
    "device": {},
    "application": {"packageName": "com.example.health"},
}
PHONE_COLUMNS = {
    "source_platform": "HEALTH_CONNECT",
    "source_recording_method": "UNKNOWN",
    "source_device_display_name": None,
    "source_device_form_factor": None,
    "source_device_manufacturer": None,
    "source_application_package_name": "com.example.health",
}
PHONE_KEY = ("HEALTH_CONNECT", "UNKNOWN", "", "", "", "com.example.health")


def raw_interval(json_key: str, **values) -> dict:
    return {"dataSource": WATCH, json_key: {"interval": INTERVAL, **values}}


def raw_interval_row(table: str, **values) -> dict:
    return {
        **INTERVAL_COLUMNS,
        "stream": "raw",
        **WATCH_COLUMNS,
        **values,
        **tail(key(USER, table, "raw", *WATCH_KEY, INTERVAL_KEY)),
    }


def sample_point(json_key: str, name: str | None = None, **values) -> dict:
    point = {"dataSource": PHONE, json_key: {"sampleTime": SAMPLE, **values}}
    if name is not None:
        point["name"] = f"users/me/dataTypes/{json_key}/dataPoints/{name}"
    return point


def sample_row(table: str, point_id: str | None = None, identifiable: bool = False, **values):
    ids = {"data_point_id": point_id} if identifiable else {}
    measurement = point_id if point_id is not None else SAMPLE_KEY
    return {
        **SAMPLE_COLUMNS,
        "stream": "raw",
        **PHONE_COLUMNS,
        **ids,
        **values,
        **tail(key(USER, table, "raw", *PHONE_KEY, measurement)),
    }


# --------------------------------------------------------------------------- interval types

ACTIVE_ENERGY = raw_interval("activeEnergyBurned", kcal=1.75)
BASAL_ENERGY = raw_interval("basalEnergyBurned", kcal=0)  # explicit presence: a zero is sent
ACTIVE_MINUTES = raw_interval(
    "activeMinutes",
    activeMinutesByActivityLevel=[
        {"activityLevel": "MODERATE", "activeMinutes": "1"},
        {"activityLevel": "LIGHT", "activeMinutes": "0"},
    ],
)
ACTIVITY_LEVEL = raw_interval("activityLevel", activityLevelType="LIGHTLY_ACTIVE")
SEDENTARY = raw_interval("sedentaryPeriod")
TIME_IN_ZONE = raw_interval("timeInHeartRateZone", heartRateZoneType="VIGOROUS")
ALTITUDE = raw_interval("altitude", gainMillimeters="-3048")
SWIM_LENGTH = raw_interval("swimLengthsData", strokeCount="18", swimStrokeType="FREESTYLE")
# Logged by hand over five days, reconciled, with its id.
MENSTRUAL_PERIOD = {
    "dataPointName": "users/me/dataTypes/menstrual-period/dataPoints/mp-1",
    "menstrualPeriod": {
        "interval": {
            "startTime": "2026-11-02T05:00:00Z",
            "startUtcOffset": "-18000s",
            "endTime": "2026-11-07T05:00:00Z",
            "endUtcOffset": "-18000s",
            "civilStartTime": civil(2026, 11, 2),
            "civilEndTime": civil(2026, 11, 7),
        },
        "notes": "light",
    },
}


@pytest.mark.parametrize(
    ("data_type", "point", "expected"),
    [
        (
            "active-energy-burned",
            ACTIVE_ENERGY,
            raw_interval_row("active_energy_burned", energy_kcal=1.75),
        ),
        (
            "basal-energy-burned",
            BASAL_ENERGY,
            raw_interval_row("basal_energy_burned", energy_kcal=0.0),
        ),
        (
            "active-minutes",
            ACTIVE_MINUTES,
            raw_interval_row(
                "active_minutes",
                minutes_by_activity_level=[
                    {"activity_level": "MODERATE", "active_minutes": 1},
                    {"activity_level": "LIGHT", "active_minutes": 0},
                ],
            ),
        ),
        (
            "activity-level",
            ACTIVITY_LEVEL,
            raw_interval_row("activity_level", activity_level_type="LIGHTLY_ACTIVE"),
        ),
        ("sedentary-period", SEDENTARY, raw_interval_row("sedentary_period")),
        (
            "time-in-heart-rate-zone",
            TIME_IN_ZONE,
            raw_interval_row("time_in_heart_rate_zone", heart_rate_zone="VIGOROUS"),
        ),
        ("altitude", ALTITUDE, raw_interval_row("altitude", gain_millimeters=-3048)),
        (
            "swim-lengths-data",
            SWIM_LENGTH,
            raw_interval_row("swim_lengths_data", stroke_count=18, swim_stroke_type="FREESTYLE"),
        ),
    ],
)
def test_interval_types(data_type, point, expected):
    table = data_type.replace("-", "_")
    assert one_row(data_type, point, "raw") == (table, expected)


def test_a_menstrual_period_spans_days_and_belongs_to_its_first():
    assert one_row("menstrual-period", MENSTRUAL_PERIOD, "reconciled") == (
        "menstrual_period",
        {
            "user_key": USER,
            "start_time": dt.datetime(2026, 11, 2, 5, tzinfo=UTC),
            "end_time": dt.datetime(2026, 11, 7, 5, tzinfo=UTC),
            "start_utc_offset_seconds": -18000,
            "end_utc_offset_seconds": -18000,
            "civil_start_datetime": dt.datetime(2026, 11, 2),
            "civil_end_datetime": dt.datetime(2026, 11, 7),
            "civil_date": dt.date(2026, 11, 2),
            "stream": "reconciled",
            **NO_SOURCE,
            "data_point_id": "mp-1",
            "notes": "light",
            **tail(key(USER, "menstrual_period", "reconciled", *NO_SOURCE_KEY, "mp-1")),
        },
    )


@pytest.mark.parametrize(
    ("data_type", "point", "path"),
    [
        ("active-energy-burned", raw_interval("activeEnergyBurned"), "activeEnergyBurned.kcal"),
        ("altitude", raw_interval("altitude"), "altitude.gainMillimeters"),
        ("swim-lengths-data", raw_interval("swimLengthsData"), "swimLengthsData.strokeCount"),
        (
            "active-minutes",
            raw_interval(
                "activeMinutes", activeMinutesByActivityLevel=[{"activityLevel": "LIGHT"}]
            ),
            r"activeMinutes.activeMinutesByActivityLevel\[0\].activeMinutes",
        ),
    ],
)
def test_a_value_the_api_always_sends_is_never_invented(data_type, point, path):
    # These fields have explicit presence: the API writes a zero as 0, so one left out is
    # unknown and the point is refused rather than loaded with a made-up 0.
    with pytest.raises(RowError, match=f"^{path}: missing$"):
        one_row(data_type, point, "raw")


def test_active_minutes_without_levels_is_an_empty_list():
    point = raw_interval("activeMinutes")
    assert one_row("active-minutes", point, "raw")[1]["minutes_by_activity_level"] == []


# --------------------------------------------------------------------------- sample types

OXYGEN = sample_point("oxygenSaturation", percentage=95.5)
RESPIRATORY = sample_point(
    "respiratoryRateSleepSummary",
    fullSleepStats={"breathsPerMinute": 14.2, "standardDeviation": 1.1, "signalToNoise": 7.5},
    deepSleepStats={"breathsPerMinute": 13.0},
    remSleepStats={},
)
HEIGHT = sample_point("height", "h-1", heightMillimeters="1715")
VO2 = sample_point("vo2Max", vo2Max=44.5, measurementMethod="COOPER_TEST")
RUN_VO2 = sample_point("runVo2Max", runVo2Max=47.25)
GLUCOSE = sample_point(
    "bloodGlucose",
    "bg-7",
    bloodGlucoseMilligramsPerDeciliter=104,
    measurementSource="CONTINUOUS_GLUCOSE_MONITORING",
    specimen="INTERSTITIAL_FLUID",
    mealType="BREAKFAST",
    measurementTiming="AFTER_MEAL",
)
CORE_TEMPERATURE = sample_point(
    "coreBodyTemperature", "t-1", temperatureCelsius=37.1, measurementLocation="MOUTH", id="x9"
)
MOODS = sample_point("moods", "m-1", moods=["CALM", "HAPPY"], valences=["PLEASANT"])
SYMPTOMS = sample_point("symptoms", "s-1", symptoms=["HEADACHE"])
OVULATION = sample_point("ovulationTest", "o-1", result="LUTEINIZING_HORMONE_SURGE")


@pytest.mark.parametrize(
    ("data_type", "point", "expected"),
    [
        (
            "oxygen-saturation",
            OXYGEN,
            sample_row("oxygen_saturation", oxygen_saturation_percent=95.5),
        ),
        (
            "respiratory-rate-sleep-summary",
            RESPIRATORY,
            sample_row(
                "respiratory_rate_sleep_summary",
                full_sleep_breaths_per_minute=14.2,
                full_sleep_standard_deviation=1.1,
                full_sleep_signal_to_noise=7.5,
                deep_sleep_breaths_per_minute=13.0,
                deep_sleep_standard_deviation=None,
                deep_sleep_signal_to_noise=None,
                light_sleep_breaths_per_minute=None,
                light_sleep_standard_deviation=None,
                light_sleep_signal_to_noise=None,
                rem_sleep_breaths_per_minute=None,
                rem_sleep_standard_deviation=None,
                rem_sleep_signal_to_noise=None,
            ),
        ),
        ("height", HEIGHT, sample_row("height", "h-1", True, height_millimeters=1715)),
        (
            "vo2-max",
            VO2,
            sample_row("vo2_max", vo2_max_ml_per_kg_per_min=44.5, measurement_method="COOPER_TEST"),
        ),
        ("run-vo2-max", RUN_VO2, sample_row("run_vo2_max", run_vo2_max_ml_per_kg_per_min=47.25)),
        (
            "blood-glucose",
            GLUCOSE,
            sample_row(
                "blood_glucose",
                "bg-7",
                True,
                blood_glucose_mg_per_dl=104.0,
                measurement_source="CONTINUOUS_GLUCOSE_MONITORING",
                specimen="INTERSTITIAL_FLUID",
                meal_type="BREAKFAST",
                measurement_timing="AFTER_MEAL",
                notes=None,
            ),
        ),
        (
            "core-body-temperature",
            CORE_TEMPERATURE,
            sample_row(
                "core_body_temperature",
                "t-1",
                True,
                temperature_celsius=37.1,
                measurement_location="MOUTH",
                measurement_id="x9",
            ),
        ),
        (
            "moods",
            MOODS,
            sample_row("moods", "m-1", True, moods=["CALM", "HAPPY"], valences=["PLEASANT"]),
        ),
        ("symptoms", SYMPTOMS, sample_row("symptoms", "s-1", True, symptoms=["HEADACHE"])),
        (
            "ovulation-test",
            OVULATION,
            sample_row("ovulation_test", "o-1", True, result="LUTEINIZING_HORMONE_SURGE"),
        ),
    ],
)
def test_sample_types(data_type, point, expected):
    table = data_type.replace("-", "_")
    assert one_row(data_type, point, "raw") == (table, expected)


def test_a_sample_without_its_measurement_is_refused():
    with pytest.raises(RowError, match=r"^oxygenSaturation\.percentage: missing$"):
        one_row("oxygen-saturation", sample_point("oxygenSaturation"), "raw")
    with pytest.raises(RowError, match=r"fullSleepStats\.breathsPerMinute: missing"):
        one_row(
            "respiratory-rate-sleep-summary", sample_point("respiratoryRateSleepSummary"), "raw"
        )


def test_moods_left_out_are_empty_lists_and_bad_ones_are_refused():
    row = one_row("moods", sample_point("moods"), "raw")[1]
    assert (row["moods"], row["valences"], row["data_point_id"]) == ([], [], None)
    with pytest.raises(RowError, match=r"^moods\.moods: expected a list of strings"):
        one_row("moods", sample_point("moods", moods=["CALM", 3]), "raw")


# --------------------------------------------------------------------------- daily type

SLEEP_TEMPERATURE = {
    "dailySleepTemperatureDerivations": {
        "date": {"year": 2026, "month": 11, "day": 20},
        "nightlyTemperatureCelsius": 34.2,
        "baselineTemperatureCelsius": 34.0,
    },
}


def test_daily_sleep_temperature_derivations():
    assert one_row("daily-sleep-temperature-derivations", SLEEP_TEMPERATURE, "reconciled") == (
        "daily_sleep_temperature_derivations",
        {
            "user_key": USER,
            "civil_date": dt.date(2026, 11, 20),
            "stream": "reconciled",
            **NO_SOURCE,
            "nightly_temperature_celsius": 34.2,
            "baseline_temperature_celsius": 34.0,
            "relative_nightly_stddev_30d_celsius": None,
            **tail(
                key(
                    USER,
                    "daily_sleep_temperature_derivations",
                    "reconciled",
                    *NO_SOURCE_KEY,
                    "2026-11-20",
                )
            ),
        },
    )


# --------------------------------------------------------------------------- sessions

WAVEFORM = [120, -35, 0, 2047, -2048]
# A historical reading: no UTC offsets and no civil times, so its civil columns are UTC.
ECG_HISTORICAL = {
    "dataSource": WATCH,
    "electrocardiogram": {
        "interval": {"startTime": "2024-03-10T23:59:45Z", "endTime": "2024-03-11T00:00:15Z"},
        "resultClassification": "NORMAL_SINUS_RHYTHM",
        "beatsPerMinuteAvg": "71",
        "leadNumber": 1,
        "samplingFrequencyHertz": 250,
        "millivoltsScalingFactor": 1000,
        "waveformSamples": WAVEFORM,
        "medicalDeviceInfo": {
            "deviceModel": "Sense 2",
            "firmwareVersion": "60.20001.194.86",
            "featureVersion": "1.2",
        },
    },
}
ECG_HISTORICAL_ROW = {
    "user_key": USER,
    "start_time": dt.datetime(2024, 3, 10, 23, 59, 45, tzinfo=UTC),
    "end_time": dt.datetime(2024, 3, 11, 0, 0, 15, tzinfo=UTC),
    "start_utc_offset_seconds": 0,
    "end_utc_offset_seconds": 0,
    "civil_start_datetime": dt.datetime(2024, 3, 10, 23, 59, 45),
    "civil_end_datetime": dt.datetime(2024, 3, 11, 0, 0, 15),
    "civil_date": dt.date(2024, 3, 10),
    "stream": "raw",
    **WATCH_COLUMNS,
    "result_classification": "NORMAL_SINUS_RHYTHM",
    "average_heart_rate_bpm": 71,
    "lead_number": 1,
    "sampling_frequency_hertz": 250,
    "millivolts_scaling_factor": 1000,
    "waveform_samples": WAVEFORM,
    "device_model": "Sense 2",
    "firmware_version": "60.20001.194.86",
    "feature_version": "1.2",
    "algorithm_version": None,
    "service_version": None,
    **tail(key(USER, "electrocardiogram", "raw", *WATCH_KEY, "2024-03-10T23:59:45.000000Z")),
}


def test_an_ecg_reading_is_one_row_with_its_waveform_and_utc_civil_times():
    assert one_row("electrocardiogram", ECG_HISTORICAL, "raw") == (
        "electrocardiogram",
        ECG_HISTORICAL_ROW,
    )


def test_a_full_ecg_waveform_keeps_its_7500_samples_in_order():
    samples = [(i * 37) % 4001 - 2000 for i in range(7500)]
    point = {"electrocardiogram": {**ECG_HISTORICAL["electrocardiogram"]}}
    point["electrocardiogram"]["waveformSamples"] = samples
    assert one_row("electrocardiogram", point, "raw")[1]["waveform_samples"] == samples
    # int64 written as strings are read as numbers too; anything else is refused.
    point["electrocardiogram"]["waveformSamples"] = ["5", 6, "-7"]
    assert one_row("electrocardiogram", point, "raw")[1]["waveform_samples"] == [5, 6, -7]
    point["electrocardiogram"]["waveformSamples"] = [1, 2.5]
    with pytest.raises(RowError, match=r"^electrocardiogram\.waveformSamples\[1\]: expected"):
        one_row("electrocardiogram", point, "raw")


def test_an_ecg_reading_with_offsets_has_local_civil_times():
    point = {
        "electrocardiogram": {
            "interval": {
                "startTime": "2026-11-20T15:00:00Z",
                "startUtcOffset": "3600s",
                "endTime": "2026-11-20T15:00:30Z",
                "endUtcOffset": "3600s",
            }
        }
    }
    row = one_row("electrocardiogram", point, "reconciled")[1]
    assert (row["civil_start_datetime"], row["civil_end_datetime"], row["waveform_samples"]) == (
        dt.datetime(2026, 11, 20, 16, 0),
        dt.datetime(2026, 11, 20, 16, 0, 30),
        [],
    )


IRN = {
    "dataSource": WATCH,
    "irregularRhythmNotification": {
        "interval": {
            "startTime": "2026-11-20T01:00:00Z",
            "startUtcOffset": "-18000s",
            "endTime": "2026-11-20T03:00:00Z",
            "endUtcOffset": "-18000s",
            "civilStartTime": civil(2026, 11, 19, hours=20),
            "civilEndTime": civil(2026, 11, 19, hours=22),
        },
        "alertWindows": [
            {
                "startTime": "2026-11-20T01:00:00Z",
                "startUtcOffset": "-18000s",
                "endTime": "2026-11-20T02:00:00Z",
                "endUtcOffset": "-18000s",
                "positive": True,
                "heartBeats": [
                    {
                        "physicalTime": "2026-11-20T01:00:00.800Z",
                        "utcOffset": "-18000s",
                        "civilTime": civil(2026, 11, 19, hours=20, nanos=800000000),
                        "beatsPerMinute": 75,
                    },
                    {"physicalTime": "2026-11-20T01:00:01.500Z", "beatsPerMinute": 86},
                ],
            },
            {"startTime": "2026-11-20T02:00:00Z", "endTime": "2026-11-20T03:00:00Z"},
        ],
        "medicalDeviceInfo": {"deviceModel": "Pixel Watch 3", "algorithmVersion": "2.0"},
    },
}


def test_an_irregular_rhythm_notification_nests_its_windows_and_beats():
    assert one_row("irregular-rhythm-notification", IRN, "raw") == (
        "irregular_rhythm_notification",
        {
            "user_key": USER,
            "start_time": dt.datetime(2026, 11, 20, 1, tzinfo=UTC),
            "end_time": dt.datetime(2026, 11, 20, 3, tzinfo=UTC),
            "start_utc_offset_seconds": -18000,
            "end_utc_offset_seconds": -18000,
            "civil_start_datetime": dt.datetime(2026, 11, 19, 20),
            "civil_end_datetime": dt.datetime(2026, 11, 19, 22),
            "civil_date": dt.date(2026, 11, 19),
            "stream": "raw",
            **WATCH_COLUMNS,
            "alert_windows": [
                {
                    "start_time": dt.datetime(2026, 11, 20, 1, tzinfo=UTC),
                    "end_time": dt.datetime(2026, 11, 20, 2, tzinfo=UTC),
                    "start_utc_offset_seconds": -18000,
                    "end_utc_offset_seconds": -18000,
                    "civil_start_datetime": dt.datetime(2026, 11, 19, 20),
                    "civil_end_datetime": dt.datetime(2026, 11, 19, 21),
                    "positive": True,
                    "heart_beats": [
                        {
                            "beat_time": dt.datetime(2026, 11, 20, 1, 0, 0, 800000, tzinfo=UTC),
                            "utc_offset_seconds": -18000,
                            "civil_datetime": dt.datetime(2026, 11, 19, 20, 0, 0, 800000),
                            "beats_per_minute": 75,
                        },
                        {
                            "beat_time": dt.datetime(2026, 11, 20, 1, 0, 1, 500000, tzinfo=UTC),
                            "utc_offset_seconds": 0,
                            "civil_datetime": dt.datetime(2026, 11, 20, 1, 0, 1, 500000),
                            "beats_per_minute": 86,
                        },
                    ],
                },
                {
                    "start_time": dt.datetime(2026, 11, 20, 2, tzinfo=UTC),
                    "end_time": dt.datetime(2026, 11, 20, 3, tzinfo=UTC),
                    "start_utc_offset_seconds": 0,
                    "end_utc_offset_seconds": 0,
                    "civil_start_datetime": dt.datetime(2026, 11, 20, 2),
                    "civil_end_datetime": dt.datetime(2026, 11, 20, 3),
                    "positive": None,
                    "heart_beats": [],
                },
            ],
            "device_model": "Pixel Watch 3",
            "firmware_version": None,
            "feature_version": None,
            "algorithm_version": "2.0",
            "service_version": None,
            **tail(
                key(
                    USER,
                    "irregular_rhythm_notification",
                    "raw",
                    *WATCH_KEY,
                    "2026-11-20T01:00:00.000000Z",
                )
            ),
        },
    )


def test_a_beat_without_its_rate_is_refused_with_its_path():
    point = {"irregularRhythmNotification": {**IRN["irregularRhythmNotification"]}}
    point["irregularRhythmNotification"]["alertWindows"] = [
        {
            "startTime": "2026-11-20T01:00:00Z",
            "endTime": "2026-11-20T02:00:00Z",
            "heartBeats": [{"physicalTime": "2026-11-20T01:00:00Z"}],
        }
    ]
    with pytest.raises(
        RowError,
        match=r"^irregularRhythmNotification\.alertWindows\[0\]\.heartBeats\[0\]\.beatsPerMinute: "
        "missing$",
    ):
        one_row("irregular-rhythm-notification", point, "raw")


# --------------------------------------------------------------------------- sleep summary


def test_a_sleep_with_a_stages_summary_but_no_stages_keeps_its_minutes_per_stage():
    point = {
        "sleep": {
            "interval": {
                "startTime": "2026-11-22T23:30:00Z",
                "startUtcOffset": "0s",
                "endTime": "2026-11-23T06:30:00Z",
                "endUtcOffset": "0s",
            },
            "summary": {
                "minutesAsleep": "400",
                "minutesAwake": "0",
                "stagesSummary": [
                    {"type": "DEEP", "minutes": "70", "count": "4"},
                    {"type": "AWAKE", "minutes": "0", "count": "0"},
                ],
            },
        }
    }
    row = one_row("sleep", point, "reconciled")[1]
    assert {k: row[k] for k in row if k.startswith(("minutes_", "stages"))} == {
        "minutes_asleep": 400,
        "minutes_awake": 0,
        "minutes_in_sleep_period": None,
        "minutes_to_fall_asleep": None,
        "minutes_after_wake_up": None,
        "stages": [],
        "stages_status": None,
        "stages_summary": [
            {"stage_type": "DEEP", "minutes": 70, "segment_count": 4},
            {"stage_type": "AWAKE", "minutes": 0, "segment_count": 0},
        ],
    }
    assert (row["civil_start_datetime"], row["civil_date"]) == (
        dt.datetime(2026, 11, 22, 23, 30),
        dt.date(2026, 11, 23),
    )


def test_an_empty_sleep_summary_is_all_unknown():
    point = {
        "sleep": {
            "interval": {"startTime": "2026-11-22T23:30:00Z", "endTime": "2026-11-23T06:30:00Z"},
            "summary": {},
        }
    }
    row = one_row("sleep", point, "reconciled")[1]
    assert [row[k] for k in row if k.startswith("minutes_")] == [None] * 5


# --------------------------------------------------------------------------- unmapped fields


def test_a_point_of_known_fields_has_nothing_unmapped():
    for data_type, point, _ in NEW_SAMPLE_POINTS:
        assert datapoints.unmapped_fields(data_type, point) == [], data_type


def test_unknown_fields_are_named_by_their_path_once():
    point = {
        "name": "users/me/dataTypes/sleep/dataPoints/1",
        "dataSource": {**WATCH, "region": "EU", "device": {"serial": "x"}},
        "etag": "abc",
        "sleep": {
            "interval": {
                "startTime": "2026-11-22T23:30:00Z",
                "endTime": "2026-11-23T06:30:00Z",
                "timeZone": "Europe/London",
            },
            "createTime": "2026-11-23T07:00:00Z",
            "outOfBedSegments": [{"startTime": "2026-11-23T02:00:00Z", "note": "x"}],
            "stages": [{"type": "LIGHT", "depth": 1}, {"type": "DEEP", "depth": 2}],
            "summary": {"minutesAsleep": "1", "score": 80},
            "sleepScore": 81,
        },
    }
    assert datapoints.unmapped_fields("sleep", point) == [
        "etag",
        "sleep.sleepScore",
        "sleep.interval.timeZone",
        "sleep.summary.score",
        "sleep.stages[].depth",
        "sleep.outOfBedSegments[].note",
        "dataSource.region",
        "dataSource.device.serial",
    ]


def test_unmapped_fields_of_odd_points_are_empty_or_named():
    assert datapoints.unmapped_fields("heart-rate", "not a point") == []
    assert datapoints.unmapped_fields("no-such-type", {"x": 1}) == []
    assert datapoints.unmapped_fields("heart-rate", {"heartRate": "x", "dataSource": 5}) == []
    assert datapoints.unmapped_fields("heart-rate", {"steps": {}}) == ["steps"]


NEW_SAMPLE_POINTS = [
    ("active-energy-burned", ACTIVE_ENERGY, "raw"),
    ("basal-energy-burned", BASAL_ENERGY, "raw"),
    ("active-minutes", ACTIVE_MINUTES, "raw"),
    ("activity-level", ACTIVITY_LEVEL, "raw"),
    ("sedentary-period", SEDENTARY, "raw"),
    ("time-in-heart-rate-zone", TIME_IN_ZONE, "raw"),
    ("altitude", ALTITUDE, "raw"),
    ("swim-lengths-data", SWIM_LENGTH, "raw"),
    ("menstrual-period", MENSTRUAL_PERIOD, "reconciled"),
    ("oxygen-saturation", OXYGEN, "raw"),
    ("respiratory-rate-sleep-summary", RESPIRATORY, "raw"),
    ("height", HEIGHT, "raw"),
    ("vo2-max", VO2, "raw"),
    ("run-vo2-max", RUN_VO2, "raw"),
    ("blood-glucose", GLUCOSE, "raw"),
    ("core-body-temperature", CORE_TEMPERATURE, "raw"),
    ("moods", MOODS, "raw"),
    ("symptoms", SYMPTOMS, "raw"),
    ("ovulation-test", OVULATION, "raw"),
    ("daily-sleep-temperature-derivations", SLEEP_TEMPERATURE, "reconciled"),
    ("electrocardiogram", ECG_HISTORICAL, "raw"),
    ("irregular-rhythm-notification", IRN, "raw"),
]
"""One point of each type read since version 0.4 (`tests.unit.test_rows.all_sample_rows`)."""


def test_simulated_points_of_every_newer_type_become_valid_rows_with_nothing_unmapped():
    import fastavro
    from fastavro.validation import validate

    from schemas.bigquery import load_avro_schema
    from simulator import Simulator, SimulatorConfig

    start = dt.datetime(2026, 11, 28, 12, tzinfo=UTC).timestamp()
    simulator = Simulator(SimulatorConfig(users=3, clock_speed=0, start_time=start))
    rows: dict[str, int] = {}
    for data_type, _, _ in NEW_SAMPLE_POINTS:
        table = datapoints.TABLE_OF[data_type]
        schema = fastavro.parse_schema(load_avro_schema(table))
        rows[table] = 0
        # Eight weeks of the sparse types (an ECG or a height is rare, and so is a swim),
        # two days of the dense ones, at most 300 points a user.
        dense = datatypes.spec(data_type).max_per_day >= 1440 and data_type != "swim-lengths-data"
        first = dt.date(2026, 11, 26) if dense else dt.date(2026, 10, 1)
        for user in ("user-1", "user-2", "user-3"):
            truth = simulator.ground_truth(user, data_type, first, dt.date(2026, 11, 27), False)
            for expected in truth[:: max(1, len(truth) // 300)]:
                point = expected["dataPoint"]
                assert datapoints.unmapped_fields(data_type, point) == [], point
                ((_, row),) = datapoints.rows_for_point(data_type, point, CTX, "raw")
                assert row["civil_date"].isoformat() == expected["civilDate"], expected
                validate(row, schema, raise_errors=True)
                rows[table] += 1
    assert sorted(table for table, n in rows.items() if n == 0) == []
