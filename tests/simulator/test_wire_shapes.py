"""Bodies as the live API writes them: set messages sent when zero, session intervals
without civil times, realistic data sources, sleep's short awakenings."""

from __future__ import annotations

import datetime as dt
import json

from simulator import timefmt
from tests.simulator.conftest import civil_filter, day_filter

D = dt.date
CHARGE = {"displayName": "Charge 6", "formFactor": "FITNESS_BAND", "manufacturer": "Fitbit"}
FITBIT_APP = {"packageName": "com.fitbit.FitbitMobile"}


def test_sleep_and_exercise_intervals_carry_no_civil_times_yet_filter_on_them(api):
    """user-1 ran on 2026-11-27 (New York): a civil-day filter still finds the run."""
    runs = api().all_points(
        "exercise", filter=day_filter("exercise", D(2026, 11, 27), D(2026, 11, 28))
    )
    assert [r["exercise"]["exerciseType"] for r in runs] == ["RUNNING"]
    interval = runs[0]["exercise"]["interval"]
    assert set(interval) == {"startTime", "startUtcOffset", "endTime", "endUtcOffset"}
    assert interval["startUtcOffset"] == "-18000s"
    sleeps = api().all_points("sleep", filter=day_filter("sleep", D(2026, 11, 27), D(2026, 11, 28)))
    assert sleeps
    for sleep in sleeps:
        assert set(sleep["sleep"]["interval"]) == {
            "startTime",
            "startUtcOffset",
            "endTime",
            "endUtcOffset",
        }
    steps = api().list("steps", filter=day_filter("steps", D(2026, 11, 27), D(2026, 11, 28)))
    assert "civilStartTime" in steps.json()["dataPoints"][0]["steps"]["interval"]


def test_exercise_zone_durations_and_metadata_are_set_messages(sim):
    """A yoga session never leaves the resting zones: every zone's Duration is "0s"."""
    truth = sim.ground_truth("user-1", "exercise", D(2026, 11, 3), D(2026, 11, 3))
    yoga = truth[0]["dataPoint"]["exercise"]
    assert yoga["exerciseType"] == "YOGA"
    assert yoga["exerciseMetadata"] == {}
    assert yoga["metricsSummary"]["heartRateZoneDurations"] == {
        "lightTime": "0s",
        "moderateTime": "0s",
        "vigorousTime": "0s",
        "peakTime": "0s",
    }
    run = sim.ground_truth("user-1", "exercise", D(2026, 11, 27), D(2026, 11, 27))[0]
    zones = run["dataPoint"]["exercise"]["metricsSummary"]["heartRateZoneDurations"]
    assert set(zones) == {"lightTime", "moderateTime", "vigorousTime", "peakTime"}
    assert sum(timefmt.parse_duration(v) for v in zones.values()) > 0


def test_sources_say_how_the_data_was_recorded(api):
    day = day_filter("sleep", D(2026, 11, 27), D(2026, 11, 28))
    sleep = api().all_points("sleep", filter=day)[0]["dataSource"]
    assert sleep == {
        "platform": "FITBIT",
        "recordingMethod": "DERIVED",
        "device": CHARGE,
        "application": FITBIT_APP,
    }
    run = api().all_points(
        "exercise", filter=day_filter("exercise", D(2026, 11, 27), D(2026, 11, 28))
    )[0]
    assert run["dataSource"]["recordingMethod"] == "ACTIVELY_MEASURED"
    steps = api().list("steps", filter=day_filter("steps", D(2026, 11, 27), D(2026, 11, 28)))
    assert steps.json()["dataPoints"][0]["dataSource"]["recordingMethod"] == "PASSIVELY_MEASURED"
    # user-2 and user-3 wear a Pixel Watch.
    watch = api("user-2").list(
        "heart-rate", filter=day_filter("heart-rate", D(2026, 11, 27), D(2026, 11, 28))
    )
    assert watch.json()["dataPoints"][0]["dataSource"]["device"] == {
        "displayName": "Pixel Watch 3",
        "formFactor": "WATCH",
        "manufacturer": "Google",
    }


def test_health_connect_weight_has_an_empty_device(api):
    """user-3's scale syncs through Health Connect: recording UNKNOWN, `"device": {}` sent."""
    history = (D(2026, 10, 1), D(2026, 11, 29))
    for data_type in ("weight", "body-fat"):
        response = api("user-3").list(data_type, filter=day_filter(data_type, *history))
        assert '"device":{}' in response.text
        sources = {json.dumps(p["dataSource"]) for p in response.json()["dataPoints"]}
        assert (
            json.dumps(
                {
                    "platform": "HEALTH_CONNECT",
                    "recordingMethod": "UNKNOWN",
                    "device": {},
                    "application": {"packageName": "com.withings.wiscale2"},
                }
            )
            in sources
        )
    # user-1's Aria scale is Fitbit's own.
    weights = api().all_points("weight", filter=day_filter("weight", *history))
    assert {p["dataSource"]["platform"] for p in weights} == {"FITBIT"}


def test_stages_sleeps_have_short_awakenings_inside_asleep_stages(sim):
    truth = sim.ground_truth("user-1", "sleep", D(2026, 11, 1), D(2026, 11, 27))
    stages_sleeps = [
        e["dataPoint"]["sleep"] for e in truth if e["dataPoint"]["sleep"]["type"] == "STAGES"
    ]
    assert len(stages_sleeps) >= 10
    for sleep in stages_sleeps:
        awakenings = sleep["shortAwakenings"]
        assert 1 <= len(awakenings) <= 8
        spans = [
            (timefmt.parse_rfc3339(s["startTime"]), timefmt.parse_rfc3339(s["endTime"]), s["type"])
            for s in sleep["stages"]
        ]
        for wake in awakenings:
            start, end = (timefmt.parse_rfc3339(wake[k]) for k in ("startTime", "endTime"))
            assert wake["type"] == "AWAKE"
            assert end - start in (60, 120)
            assert any(a <= start and end <= b and kind != "AWAKE" for a, b, kind in spans)
    classic = [
        e["dataPoint"]["sleep"] for e in truth if e["dataPoint"]["sleep"]["type"] == "CLASSIC"
    ]
    assert classic and all("shortAwakenings" not in s for s in classic)


def test_zero_offset_and_midnight_in_a_sample_body(api):
    """A UTC user's sample at civil midnight: `"utcOffset":"0s"` and `"time":{}` on the wire."""
    response = api("user-3").list(
        "heart-rate",
        filter=civil_filter(
            "heart-rate", "sample_time.civil_time", "2026-11-10T00:00:00", "2026-11-10T00:00:01"
        ),
    )
    assert response.json()["dataPoints"][0]["heartRate"]["sampleTime"] == {
        "physicalTime": "2026-11-10T00:00:00Z",
        "utcOffset": "0s",
        "civilTime": {"date": {"year": 2026, "month": 11, "day": 10}, "time": {}},
    }
    assert '"utcOffset":"0s","civilTime":{"date":{"year":2026,"month":11,"day":10},"time":{}}' in (
        response.text
    )
