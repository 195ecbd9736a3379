"""history.takeout_fitbit: the older Takeout layout -> units, and the rows they make.

Literal files with exact expected points (DST days included), malformed files refused
with MalformedFile, and the ground-truth proof: a simulator user's export written by
`simulator.takeout_fitbit`, read back, gives the rows the API path gives for the same
days (`DataStore.ground_truth(..., reconciled=True)` through `rows_for_point`), column
by column, for every column the layout carries; the others are NULL.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import zipfile
from zoneinfo import ZoneInfo

import pytest

from history import takeout_fitbit as tf
from history.units import ImportUnit, MalformedFile, ParseContext, Skipped
from rows.datapoints import TABLE_OF, RowContext, rows_for_point
from simulator import synth, timefmt
from simulator import takeout_fitbit as generator
from simulator.store import DataStore

UTC = dt.UTC
NEW_YORK = ZoneInfo("America/New_York")
G = "Takeout/Fitbit/Global Export Data/"
HRV_PATH = (
    "Takeout/Fitbit/Heart Rate Variability/Daily Heart Rate Variability Summary - 2021-06-(01).csv"
)
ROW_CTX = RowContext("p-0001", "run-1", dt.datetime(2026, 12, 6, 12, tzinfo=UTC))


def ctx(source: str = "export.zip!member", zone: ZoneInfo = NEW_YORK) -> ParseContext:
    return ParseContext("p-0001", zone, source)


def parse(path: str, data, zone: ZoneInfo = NEW_YORK) -> list:
    if not isinstance(data, bytes):
        data = json.dumps(data).encode()
    return list(tf.parse(path, data, ctx(path, zone)))


# --------------------------------------------------------------------------- classify


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (G + "steps-2017-12-31.json", "steps"),
        (G + "distance-2017-12-31.json", "distance"),
        (G + "heart_rate-2017-12-31.json", "heart-rate"),
        (G + "resting_heart_rate-2018-01-01.json", "daily-resting-heart-rate"),
        (G + "sleep-2018-01-01.json", "sleep"),
        (G + "exercise-0.json", "exercise"),
        (G + "exercise-100.json", "exercise"),
        (G + "exercise-2018-01-01.json", "exercise"),
        # Newer exports: the same JSON under the Google Health root.
        ("Takeout/Google Health/Global Export Data/sleep-2026-10-01.json", "sleep"),
        ("Takeout/Google Health/Global Export Data/exercise-0.json", "exercise"),
        (
            "Takeout/Fitbit/Heart Rate Variability/"
            "Daily Heart Rate Variability Summary - 2021-06-(01).csv",
            "daily-heart-rate-variability",
        ),
        ("Fitbit/Global Export Data/steps-2017-12-31.json", "steps"),
        (G + "calories-2017-12-31.json", "unmapped"),
        (G + "sedentary_minutes-2017-12-31.json", "unmapped"),
        (G + "very_active_minutes-2017-12-31.json", "unmapped"),
        (G + "time_in_heart_rate_zones-2017-12-31.json", "unmapped"),
        (G + "weight-2017-12-31.json", "unmapped"),
        (G + "altitude-2017-12-31.json", "unmapped"),
        ("Takeout/Fitbit/Sleep Score/sleep_score.csv", "unmapped"),
        (
            "Takeout/Fitbit/Heart Rate Variability/Heart Rate Variability Details - 2021-06-01.csv",
            "unmapped",
        ),
        (G + "UserSensorCompressionToken-2017-12-31.json", "not_health"),
        ("Takeout/Fitbit/UserActivityProbabilities/probabilities.csv", "not_health"),
        ("Takeout/Fitbit/Your Profile/Profile.csv", "not_health"),
        ("Takeout/Fitbit/Physical Activity_GoogleData/steps_2026-11-01.csv", "superseded"),
        (G + "steps.json", "unknown"),
        (G + "steps-12.json", "unknown"),
        (G + "mystery-2017-12-31.json", "unknown"),
        ("Takeout/Fitbit/Something New/file.json", "unknown"),
        ("Takeout/Google Health/Physical Activity_GoogleData/steps_2026-11-01.csv", None),
        ("Takeout/archive_browser.html", None),
        ("steps/20261101/p-1.json", None),
    ],
)
def test_classify(path, expected):
    found = tf.classify(path)
    if isinstance(found, Skipped):
        assert found == Skipped(path, expected)
    else:
        assert found == expected


# --------------------------------------------------------------------------- shapes


def test_steps_on_the_fall_back_day_resolve_the_repeated_hour_by_order():
    entries = [
        {"dateTime": "11/01/26 00:59:00", "value": "3"},
        {"dateTime": "11/01/26 01:00:00", "value": "10"},
        {"dateTime": "11/01/26 01:59:00", "value": "0"},
        {"dateTime": "11/01/26 01:00:00", "value": "20"},
        {"dateTime": "11/01/26 01:30:00", "value": "21"},
        {"dateTime": "11/01/26 02:00:00", "value": "30"},
    ]
    (unit,) = parse(G + "steps-2026-11-01.json", entries)

    def step(start, start_offset, end, end_offset, count):
        return {
            "steps": {
                "interval": {
                    "startTime": start,
                    "startUtcOffset": start_offset,
                    "endTime": end,
                    "endUtcOffset": end_offset,
                },
                "count": count,
            }
        }

    assert unit == ImportUnit(
        user_key="p-0001",
        data_type="steps",
        start="2026-11-01T00:00:00",
        end="2026-11-02T00:00:00",
        source=G + "steps-2026-11-01.json",
        points=(
            step("2026-11-01T04:59:00Z", "-14400s", "2026-11-01T05:00:00Z", "-14400s", "3"),
            step("2026-11-01T05:00:00Z", "-14400s", "2026-11-01T05:01:00Z", "-14400s", "10"),
            # The first pass's last minute ends when clocks go back.
            step("2026-11-01T05:59:00Z", "-14400s", "2026-11-01T06:00:00Z", "-18000s", "0"),
            step("2026-11-01T06:00:00Z", "-18000s", "2026-11-01T06:01:00Z", "-18000s", "20"),
            step("2026-11-01T06:30:00Z", "-18000s", "2026-11-01T06:31:00Z", "-18000s", "21"),
            step("2026-11-01T07:00:00Z", "-18000s", "2026-11-01T07:01:00Z", "-18000s", "30"),
        ),
    )
    rows = [rows_for_point("steps", p, ROW_CTX, "reconciled")[0][1] for p in unit.points]
    assert [r["civil_start_datetime"] for r in rows] == [
        dt.datetime(2026, 11, 1, 0, 59),
        dt.datetime(2026, 11, 1, 1, 0),
        dt.datetime(2026, 11, 1, 1, 59),
        dt.datetime(2026, 11, 1, 1, 0),
        dt.datetime(2026, 11, 1, 1, 30),
        dt.datetime(2026, 11, 1, 2, 0),
    ]
    assert [r["step_count"] for r in rows] == [3, 10, 0, 20, 21, 30]


def test_heart_rate_on_the_spring_forward_day():
    entries = [
        {"dateTime": "03/08/26 01:59:55", "value": {"bpm": 61, "confidence": 3}},
        {"dateTime": "03/08/26 03:00:00", "value": {"bpm": 62, "confidence": 2}},
    ]
    (unit,) = parse(G + "heart_rate-2026-03-08.json", entries)
    assert unit.start == "2026-03-08T00:00:00"
    assert unit.end == "2026-03-09T00:00:00"
    assert unit.points == (
        {
            "heartRate": {
                "sampleTime": {"physicalTime": "2026-03-08T06:59:55Z", "utcOffset": "-18000s"},
                "beatsPerMinute": "61",
            }
        },
        {
            "heartRate": {
                "sampleTime": {"physicalTime": "2026-03-08T07:00:00Z", "utcOffset": "-14400s"},
                "beatsPerMinute": "62",
            }
        },
    )
    ((_, row),) = rows_for_point("heart-rate", unit.points[1], ROW_CTX, "reconciled")
    assert row["civil_datetime"] == dt.datetime(2026, 3, 8, 3, 0)
    assert row["beats_per_minute"] == 62
    assert row["motion_context"] is None and row["sensor_location"] is None


def test_distance_centimetres_become_millimetres_exactly():
    entries = [
        {"dateTime": "12/31/17 16:42:00", "value": "4110"},
        {"dateTime": "12/31/17 16:43:00", "value": "8418.5"},
        {"dateTime": "12/31/17 16:44:00", "value": "0.05"},
        {"dateTime": "12/31/17 16:45:00", "value": "0"},
    ]
    (unit,) = parse(G + "distance-2017-12-31.json", entries, ZoneInfo("UTC"))
    assert [p["distance"]["millimeters"] for p in unit.points] == ["41100", "84185", "1", "0"]
    assert unit.points[0]["distance"]["interval"] == {
        "startTime": "2017-12-31T16:42:00Z",
        "startUtcOffset": "0s",
        "endTime": "2017-12-31T16:43:00Z",
        "endUtcOffset": "0s",
    }


def test_resting_heart_rate_year_file():
    entries = [
        {
            "dateTime": "12/30/18 00:00:00",
            "value": {"date": "12/30/18", "value": 59.5, "error": 6.7},
        },
        {
            "dateTime": "12/31/18 00:00:00",
            "value": {"date": "12/31/18", "value": 0.0, "error": 0.0},
        },
        {
            "dateTime": "01/02/19 00:00:00",
            "value": {"date": "01/02/19", "value": 58.2, "error": 6.7},
        },
    ]
    (unit,) = parse(G + "resting_heart_rate-2018-01-01.json", entries)
    assert (unit.start, unit.end) == ("2018-01-01T00:00:00", "2019-01-03T00:00:00")
    assert unit.points == (
        {
            "dailyRestingHeartRate": {
                "date": {"year": 2018, "month": 12, "day": 30},
                "beatsPerMinute": "60",
            }
        },
        {
            "dailyRestingHeartRate": {
                "date": {"year": 2019, "month": 1, "day": 2},
                "beatsPerMinute": "58",
            }
        },
    )


SLEEP_LOG = {
    "logId": 17386918523,
    "dateOfSleep": "2026-11-01",
    "startTime": "2026-10-31T23:30:00.000",
    "endTime": "2026-11-01T06:30:00.000",
    "duration": 28800000,
    "minutesToFallAsleep": 0,
    "minutesAsleep": 440,
    "minutesAwake": 40,
    "minutesAfterWakeup": 0,
    "timeInBed": 480,
    "efficiency": 92,
    "type": "stages",
    "infoCode": 0,
    "levels": {
        "summary": {
            "deep": {"count": 1, "minutes": 120, "thirtyDayAvgMinutes": 96},
            "wake": {"count": 1, "minutes": 40, "thirtyDayAvgMinutes": 50},
            "light": {"count": 1, "minutes": 200, "thirtyDayAvgMinutes": 240},
            "rem": {"count": 1, "minutes": 120, "thirtyDayAvgMinutes": 100},
        },
        "data": [
            {"dateTime": "2026-10-31T23:30:00.000", "level": "light", "seconds": 12000},
            # 02:50 EDT + 2 h = 01:50 EST, after clocks went back at 02:00 EDT.
            {"dateTime": "2026-11-01T01:50:00.000", "level": "deep", "seconds": 7200},
            {"dateTime": "2026-11-01T01:50:00.000", "level": "rem", "seconds": 7200},
            {"dateTime": "2026-11-01T03:50:00.000", "level": "wake", "seconds": 2400},
        ],
        "shortData": [
            {"dateTime": "2026-11-01T01:55:00.000", "level": "wake", "seconds": 60},
            # After 01:55 in file order: the repeated 01:05, in EST.
            {"dateTime": "2026-11-01T01:05:00.000", "level": "wake", "seconds": 120},
            {"dateTime": "2026-11-01T04:10:00.000", "level": "wake", "seconds": 60},
        ],
    },
    "mainSleep": True,
}


def test_sleep_log_becomes_an_api_sleep_across_the_fall_back():
    (unit,) = parse(G + "sleep-2026-11-01.json", [SLEEP_LOG])
    assert (unit.start, unit.end) == ("2026-11-01T00:00:00", "2026-11-02T00:00:00")
    (point,) = unit.points

    def seg(kind, start, start_offset, end, end_offset):
        return {
            "type": kind,
            "startTime": start,
            "startUtcOffset": start_offset,
            "endTime": end,
            "endUtcOffset": end_offset,
        }

    assert point == {
        "dataPointName": "users/-/dataTypes/sleep/dataPoints/17386918523",
        "sleep": {
            "interval": {
                "startTime": "2026-11-01T03:30:00Z",
                "startUtcOffset": "-14400s",
                "endTime": "2026-11-01T11:30:00Z",
                "endUtcOffset": "-18000s",
            },
            "type": "STAGES",
            "stages": [
                seg("LIGHT", "2026-11-01T03:30:00Z", "-14400s", "2026-11-01T06:50:00Z", "-18000s"),
                # The first 01:50 is the first pass (EDT), the second the repeated one.
                seg("DEEP", "2026-11-01T05:50:00Z", "-14400s", "2026-11-01T07:50:00Z", "-18000s"),
                seg("REM", "2026-11-01T06:50:00Z", "-18000s", "2026-11-01T08:50:00Z", "-18000s"),
                seg("AWAKE", "2026-11-01T08:50:00Z", "-18000s", "2026-11-01T09:30:00Z", "-18000s"),
            ],
            "shortAwakenings": [
                seg("AWAKE", "2026-11-01T05:55:00Z", "-14400s", "2026-11-01T05:56:00Z", "-14400s"),
                seg("AWAKE", "2026-11-01T06:05:00Z", "-18000s", "2026-11-01T06:07:00Z", "-18000s"),
                seg("AWAKE", "2026-11-01T09:10:00Z", "-18000s", "2026-11-01T09:11:00Z", "-18000s"),
            ],
            "metadata": {"mainSleep": True},
            "summary": {
                "minutesAsleep": "440",
                "minutesInSleepPeriod": "480",
                "minutesToFallAsleep": "0",
                "minutesAfterWakeUp": "0",
                "minutesAwake": "40",
                "stagesSummary": [
                    {"type": "AWAKE", "minutes": "40", "count": "1"},
                    {"type": "LIGHT", "minutes": "200", "count": "1"},
                    {"type": "DEEP", "minutes": "120", "count": "1"},
                    {"type": "REM", "minutes": "120", "count": "1"},
                ],
            },
        },
    }
    ((_, row),) = rows_for_point("sleep", point, ROW_CTX, "reconciled")
    assert row["data_point_id"] == "17386918523"
    assert row["civil_date"] == dt.date(2026, 11, 1)
    assert row["civil_end_datetime"] == dt.datetime(2026, 11, 1, 6, 30)
    assert (row["is_main_sleep"], row["is_nap"], row["stages_status"]) == (True, None, None)


def test_exercise_log_becomes_an_api_exercise():
    log = {
        "logId": 33445279392,
        "activityName": "Run",
        "activityTypeId": 90009,
        "averageHeartRate": 139,
        "calories": 243,
        "distance": 2.087447,
        "distanceUnit": "Mile",
        "duration": 1168000,
        "activeDuration": 1167500,
        "steps": 2927,
        "logType": "tracker",
        "startTime": "03/08/26 18:25:35",
        "elevationGain": 17.998688,
        "hasGps": False,
    }
    (unit,) = parse(G + "exercise-0.json", [log, {**log, "logId": 1, "activityName": "Zumba"}])
    assert (unit.start, unit.end) == ("2026-03-08T00:00:00", "2026-03-09T00:00:00")
    assert unit.points[0] == {
        "dataPointName": "users/-/dataTypes/exercise/dataPoints/33445279392",
        "exercise": {
            "interval": {
                "startTime": "2026-03-08T22:25:35Z",
                "startUtcOffset": "-14400s",
                "endTime": "2026-03-08T22:45:03Z",
                "endUtcOffset": "-14400s",
            },
            "exerciseType": "RUNNING",
            "displayName": "Run",
            "activeDuration": "1167.5s",
            "metricsSummary": {
                "caloriesKcal": 243.0,
                # 2.087447 mi x 1,609,344 mm/mi, exactly.
                "distanceMillimeters": 3359420.304768,
                "steps": "2927",
                "averageHeartRateBeatsPerMinute": "139",
            },
        },
    }
    assert unit.points[1]["exercise"]["exerciseType"] == "OTHER"
    assert unit.points[1]["exercise"]["displayName"] == "Zumba"


def test_hrv_summary_csv():
    data = (
        b"timestamp,rmssd,nremhr,entropy\n"
        b"2021-06-01T00:00:00,41.3,58.5,2.345\n"
        b"2021-06-03T00:00:00,40,57,\n"
    )
    (unit,) = parse(HRV_PATH, data)
    assert (unit.start, unit.end) == ("2021-06-01T00:00:00", "2021-06-04T00:00:00")
    assert unit.points == (
        {
            "dailyHeartRateVariability": {
                "date": {"year": 2021, "month": 6, "day": 1},
                "averageHeartRateVariabilityMilliseconds": 41.3,
                "nonRemHeartRateBeatsPerMinute": "59",
                "entropy": 2.345,
            }
        },
        {
            "dailyHeartRateVariability": {
                "date": {"year": 2021, "month": 6, "day": 3},
                "averageHeartRateVariabilityMilliseconds": 40.0,
                "nonRemHeartRateBeatsPerMinute": "57",
            }
        },
    )


@pytest.mark.parametrize("data", [b"no data", b"no data\n", b"\xef\xbb\xbfNo Data \r\n"])
def test_no_data_files_are_skipped(data):
    for path in (G + "steps-2026-11-01.json", G + "calories-2026-11-01.json"):
        assert parse(path, data) == [Skipped(path, "no_data")]


def test_empty_and_skipped_files():
    assert parse(G + "steps-2026-11-01.json", b"[]") == [
        Skipped(G + "steps-2026-11-01.json", "empty")
    ]
    path = G + "calories-2026-11-01.json"
    assert parse(path, b"not even read") == [Skipped(path, "unmapped")]
    path = G + "UserSensorCompressionToken-2026-11-01.json"
    assert parse(path, b"\x00\x01") == [Skipped(path, "not_health")]


# --------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        (G + "steps-2026-11-01.json", b'[{"dateTime": ', "not valid JSON"),
        (
            G + "steps-2026-11-01.json",
            b'[{"dateTime": "11/01/26 00:00:00", "value": "1"}, {"da',
            "not valid JSON",
        ),
        (G + "steps-2026-11-01.json", b"\xff\xfe[]", "not UTF-8"),
        (G + "steps-2026-11-01.json", b'{"dateTime": "11/01/26 00:00:00"}', "expected a JSON list"),
        (G + "steps-2026-11-01.json", b'"steps"', "expected a JSON list"),
        (G + "steps-2026-11-01.json", b"[1]", "entry 0: expected a JSON object"),
        (G + "steps-2026-11-01.json", b'[{"value": "1"}]', "entry 0 dateTime"),
        (
            G + "steps-2026-11-01.json",
            b'[{"dateTime": "2026-11-01 00:00", "value": "1"}]',
            "entry 0 dateTime",
        ),
        (
            G + "steps-2026-11-01.json",
            b'[{"dateTime": "02/30/26 00:00:00", "value": "1"}]',
            "not a real time",
        ),
        (
            G + "steps-2026-11-01.json",
            b'[{"dateTime": "11/01/26 00:00:00", "value": "ten"}]',
            "entry 0 value",
        ),
        (
            G + "steps-2026-11-01.json",
            b'[{"dateTime": "11/01/26 00:00:00", "value": "1.5"}]',
            "whole number",
        ),
        (
            G + "steps-2026-11-01.json",
            b'[{"dateTime": "11/01/26 00:00:00", "value": NaN}]',
            "not valid JSON",
        ),
        (
            G + "steps-2026-11-01.json",
            b'[{"dateTime": "11/01/26 00:00:00"}]',
            "entry 0 value: missing",
        ),
        (
            G + "steps-2026-11-01.json",
            b'[{"dateTime": "11/02/26 00:00:00", "value": "1"}]',
            "not on the file's day",
        ),
        (
            G + "distance-2026-11-01.json",
            b'[{"dateTime": "11/01/26 00:00:00", "value": "-3"}]',
            "at least 0",
        ),
        (
            G + "heart_rate-2026-11-01.json",
            b'[{"dateTime": "11/01/26 00:00:00", "value": 80}]',
            "JSON object",
        ),
        (
            G + "heart_rate-2026-11-01.json",
            b'[{"dateTime": "11/01/26 00:00:00", "value": {"bpm": true}}]',
            "value.bpm",
        ),
        (
            G + "resting_heart_rate-2026-01-01.json",
            b'[{"dateTime": "11/01/26 00:00:00", "value": {}}]',
            "value.value: missing",
        ),
        (G + "sleep-2026-11-01.json", json.dumps([{**SLEEP_LOG, "logId": "x1"}]).encode(), "logId"),
        (G + "sleep-2026-11-01.json", json.dumps([{**SLEEP_LOG, "type": "deep"}]).encode(), "type"),
        (
            G + "sleep-2026-11-01.json",
            json.dumps([{**SLEEP_LOG, "startTime": None}]).encode(),
            "startTime",
        ),
        (
            G + "sleep-2026-11-01.json",
            json.dumps([{**SLEEP_LOG, "levels": {"data": [{"level": "nap"}]}}]).encode(),
            "level",
        ),
        (
            G + "exercise-0.json",
            b'[{"logId": 1, "activityName": "Run", "startTime": "03/08/26 18:25:35"}]',
            "duration: missing",
        ),
        (
            G + "exercise-0.json",
            b'[{"logId": 1, "activityName": "Run", "startTime": "03/08/26 18:25:35",'
            b' "duration": 1, "distance": 2}]',
            "distanceUnit",
        ),
        (
            HRV_PATH,
            b"date,rmssd\n2021-06-01,40\n",
            "unexpected header",
        ),
        (
            HRV_PATH,
            b"timestamp,rmssd,nremhr,entropy\n2021-06-01T00:00:00,forty,57,2\n",
            "rmssd",
        ),
        ("Takeout/Google Health/x.csv", b"[]", "not a file of the Takeout Fitbit layout"),
    ],
)
def test_malformed_files_raise_malformed_file(path, data, message):
    with pytest.raises(MalformedFile, match=message):
        list(tf.parse(path, data, ctx(path)))


def test_every_truncation_of_a_sleep_file_is_malformed():
    data = json.dumps([SLEEP_LOG]).encode()
    for cut in range(0, len(data), 7):
        with pytest.raises(MalformedFile, match="not valid JSON"):
            list(tf.parse(G + "sleep-2026-11-01.json", data[:cut], ctx()))


def test_mutated_files_give_rows_or_malformed_file_and_nothing_else():
    """Seeded byte and value mutations of valid files: MalformedFile or loadable units."""
    rng = random.Random(15)
    log = {**SLEEP_LOG, "levels": {**SLEEP_LOG["levels"]}}
    exercise = {
        "logId": 1,
        "activityName": "Run",
        "startTime": "03/08/26 18:25:35",
        "duration": 1168000,
        "activeDuration": 1167500,
        "calories": 243.5,
        "distance": 2.5,
        "distanceUnit": "Kilometer",
        "steps": 2927,
    }
    valid = {
        G + "steps-2026-11-01.json": [{"dateTime": "11/01/26 01:00:00", "value": "12"}],
        G + "heart_rate-2026-11-01.json": [
            {"dateTime": "11/01/26 01:00:05", "value": {"bpm": 61, "confidence": 3}}
        ],
        G + "resting_heart_rate-2026-01-01.json": [
            {"dateTime": "11/01/26 00:00:00", "value": {"date": "11/01/26", "value": 59.4}}
        ],
        G + "sleep-2026-11-01.json": [log],
        G + "exercise-0.json": [exercise],
    }
    odd = [None, True, -1, 1e308, "", "x", "99999999999999999999999", [], {}, "9999-12-31T23:59:59"]
    cases = []
    for path, entries in valid.items():
        data = json.dumps(entries).encode()
        for _ in range(150):
            raw = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                raw[rng.randrange(len(raw))] = rng.randrange(256)
            cases.append((path, bytes(raw)))
        for key in entries[0]:
            for value in odd:
                cases.append((path, json.dumps([{**entries[0], key: value}]).encode()))
    cases.append((HRV_PATH, b"timestamp,rmssd,nremhr,entropy\n9999-12-31T00:00:00,1,2,3\n"))
    cases.append(
        (G + "steps-9999-12-31.json", b'[{"dateTime": "12/31/99 00:00:00", "value": "1"}]')
    )
    loaded = 0
    for path, data in cases:
        try:
            units = list(tf.parse(path, data, ctx(path)))
        except MalformedFile:
            continue
        for unit in units:
            for point in getattr(unit, "points", ()):
                rows_for_point(unit.data_type, point, ROW_CTX, "reconciled")
                loaded += 1
    assert loaded > 50


# --------------------------------------------------------------------------- ground truth

# Per table, the columns the layout does not carry: NULL (or empty) in its rows.
NOT_CARRIED = {
    "steps": set(),
    "distance": set(),
    "heart_rate": {"motion_context", "sensor_location"},
    "daily_resting_heart_rate": {"calculation_method"},
    "sleep": {
        "is_nap",
        "is_processed",
        "is_manually_edited",
        "stages_status",
        "out_of_bed_segments",
    },
    "exercise": {
        "pool_length_millimeters",
        "notes",
        "active_zone_minutes",
        "elevation_gain_millimeters",
        "average_speed_millimeters_per_second",
        "average_pace_seconds_per_meter",
        "run_vo2_max",
        "total_swim_lengths",
        "heart_rate_zone_light_seconds",
        "heart_rate_zone_moderate_seconds",
        "heart_rate_zone_vigorous_seconds",
        "heart_rate_zone_peak_seconds",
        "average_cadence_steps_per_minute",
        "average_ground_contact_time_seconds",
        "average_stride_length_millimeters",
        "average_vertical_oscillation_millimeters",
        "average_vertical_ratio",
        "exercise_events",
    },
    "daily_heart_rate_variability": {"deep_sleep_rmssd_milliseconds"},
}
READ = (*tf.READ_TYPES.values(), "daily-heart-rate-variability")


def _import_rows(files: dict[str, bytes], zone: ZoneInfo) -> tuple[dict[str, list], list]:
    """Rows of every file of an export, and its units and skips."""
    rows: dict[str, list] = {}
    units = []
    for path, data in sorted(files.items()):
        kind = tf.classify(path)
        assert kind is not None, path
        for unit in tf.parse(path, data, ParseContext(ROW_CTX.user_key, zone, path)):
            units.append(unit)
            if isinstance(unit, Skipped):
                continue
            for point in unit.points:
                for table, row in rows_for_point(unit.data_type, point, ROW_CTX, "reconciled"):
                    rows.setdefault(table, []).append(row)
    return rows, units


def _api_rows(user: synth.User, first: dt.date, last: dt.date) -> dict[str, list]:
    made = float(timefmt.civil_midnight(last + dt.timedelta(days=3), user.zone))
    store = DataStore({user.user_id: user}, generator.HR_SPACING_SECONDS, lambda: made)
    rows: dict[str, list] = {}
    for data_type in READ:
        for truth in store.ground_truth(user.user_id, data_type, first, last, reconciled=True):
            for table, row in rows_for_point(data_type, truth["dataPoint"], ROW_CTX, "reconciled"):
                rows.setdefault(table, []).append(row)
    return rows


SKIPPED_FALL = [
    ("UserSensorCompressionToken-2026-10-30.json", "not_health"),
    ("altitude-2026-10-30.json", "no_data"),
]
# 2026-03-09: user-1 did not wear the watch: its intraday files hold `no data`.
SKIPPED_SPRING = [
    ("UserSensorCompressionToken-2026-03-06.json", "not_health"),
    ("altitude-2026-03-06.json", "no_data"),
    ("distance-2026-03-09.json", "no_data"),
    ("heart_rate-2026-03-09.json", "no_data"),
    ("steps-2026-03-09.json", "no_data"),
]


def _order(row: dict):
    return (row.get("start_time") or row.get("sample_time") or row["civil_date"]).isoformat()


@pytest.mark.parametrize(
    ("first", "last", "skipped"),
    [
        (dt.date(2026, 10, 30), dt.date(2026, 11, 2), SKIPPED_FALL),
        (dt.date(2026, 3, 6), dt.date(2026, 3, 9), SKIPPED_SPRING),
    ],
    ids=["fall-back", "spring-forward"],
)
def test_generated_export_gives_the_api_rows(first, last, skipped):
    user = synth.make_user(0, 1, dt.date(2026, 1, 1))
    assert user.time_zone == "America/New_York"
    files = generator.export_files(user, first, last)
    mine, units = _import_rows(files, user.zone)
    truth = _api_rows(user, first, last)
    assert (
        sorted((u.source.rpartition("/")[2], u.reason) for u in units if isinstance(u, Skipped))
        == skipped
    )
    units = [u for u in units if not isinstance(u, Skipped)]
    assert {t: len(r) for t, r in mine.items()} == {t: len(r) for t, r in truth.items()}
    for table, expected in truth.items():
        got = sorted(mine[table], key=_order)
        expected = sorted(expected, key=_order)
        skip = NOT_CARRIED[table]
        for have, want in zip(got, expected, strict=True):
            assert set(have) == set(want)
            for column in skip:
                assert have[column] in (None, []), (table, column)
            assert {k: v for k, v in have.items() if k not in skip} == {
                k: v for k, v in want.items() if k not in skip
            }, table
    # Every row lies inside the window of its unit (the window column of its view).
    for unit in units:
        for point in unit.points:
            ((_, row),) = rows_for_point(unit.data_type, point, ROW_CTX, "reconciled")
            at = (
                {
                    "sleep": row.get("civil_end_datetime"),
                    "exercise": row.get("civil_start_datetime"),
                }.get(unit.data_type)
                or row.get("civil_start_datetime")
                or row.get("civil_datetime")
            )
            at = at or dt.datetime.combine(row["civil_date"], dt.time())
            assert unit.start <= at.isoformat() < unit.end, (unit.source, at)


def test_default_export_written_as_folder_and_zip(tmp_path):
    user = synth.make_user(0, 1, dt.date(2026, 1, 1))
    first, last = dt.date(2026, 10, 30), dt.date(2026, 11, 2)
    counts = generator.write_export([user], first, last, tmp_path / "dir")
    assert counts == {
        "steps": 4,
        "distance": 4,
        "heart_rate": 4,
        "sleep": 1,
        "resting_heart_rate": 1,
        "exercise": 1,
        "hrv_summary": 2,
        "no_data": 1,
        "not_health": 1,
    }
    on_disk = {
        str(p.relative_to(tmp_path / "dir")): p.read_bytes()
        for p in (tmp_path / "dir").rglob("*")
        if p.is_file()
    }
    assert on_disk == generator.export_files(user, first, last)
    generator.write_export([user], first, last, tmp_path / "zip", zip=True)
    with zipfile.ZipFile(io.BytesIO((tmp_path / "zip" / "takeout.zip").read_bytes())) as archive:
        assert {n: archive.read(n) for n in archive.namelist()} == on_disk
    two = generator.write_export(
        [user, synth.make_user(0, 3, dt.date(2026, 1, 1))], first, first, tmp_path / "two"
    )
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["user-1", "user-3"]
    assert two["steps"] == 2
    # The default export's rows per table.
    rows, _ = _import_rows(on_disk, user.zone)
    assert {table: len(r) for table, r in rows.items()} == ROWS_PER_TABLE


ROWS_PER_TABLE = {
    "steps": 5628,
    "distance": 5628,
    "heart_rate": 67440,
    "daily_resting_heart_rate": 4,
    "sleep": 5,
    "exercise": 2,
    "daily_heart_rate_variability": 2,
}
assert set(NOT_CARRIED) == {TABLE_OF[t] for t in READ}
