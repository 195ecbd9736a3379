"""The synthetic data: determinism, time zones, sleep, exercise, sources, visibility."""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import json
import xml.etree.ElementTree as ET

import pytest

from simulator import timefmt
from tests.simulator.conftest import START, Api, authorize, civil_filter, day_filter

D = dt.date
TCX_NS = {"t": "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"}


def sample_times(points: list[dict]) -> dict[str, dict]:
    return {p["heartRate"]["sampleTime"]["physicalTime"]: p["heartRate"] for p in points}


# -- determinism -------------------------------------------------------------------------

REQUESTS = [
    ("steps", day_filter("steps", D(2026, 11, 10), D(2026, 11, 11))),
    ("sleep", day_filter("sleep", D(2026, 11, 1), D(2026, 11, 20))),
    ("weight", day_filter("weight", D(2026, 10, 1), D(2026, 11, 20))),
    ("daily-heart-rate-variability", None),
]


def bodies(sim) -> list[bytes]:
    api = Api(sim, authorize(sim, "user-2").access_token)
    out = [api.list(t, filter=f, pageSize=10000).content for t, f in REQUESTS]
    out.append(api.get("me/identity").content)
    return out


def test_same_seed_same_bodies_other_seed_other_bodies(make_sim):
    first, again, other = (bodies(make_sim(seed=s)) for s in (11, 11, 12))
    assert first == again
    assert all(a != b for a, b in zip(first, other, strict=True))
    assert all(len(body) > 80 for body in first)


# -- time zones ------------------------------------------------------------------------------


def test_dst_user_offsets_change_on_2026_11_01(api):
    """user-1 lives in America/New_York; the clocks go back at 2026-11-01T06:00Z."""
    points = api().all_points(
        "heart-rate",
        filter=civil_filter(
            "heart-rate",
            "sample_time.physical_time",
            "2026-11-01T05:59:50Z",
            "2026-11-01T06:00:10Z",
        ),
    )
    assert sorted(sample_times(points)) == [
        "2026-11-01T05:59:50Z",
        "2026-11-01T05:59:55Z",
        "2026-11-01T06:00:00Z",
        "2026-11-01T06:00:05Z",
    ]
    by_time = sample_times(points)
    assert by_time["2026-11-01T05:59:55Z"]["sampleTime"]["utcOffset"] == "-14400s"
    assert by_time["2026-11-01T05:59:55Z"]["sampleTime"]["civilTime"]["time"] == {
        "hours": 1,
        "minutes": 59,
        "seconds": 55,
    }
    assert by_time["2026-11-01T06:00:00Z"]["sampleTime"]["utcOffset"] == "-18000s"
    assert by_time["2026-11-01T06:00:00Z"]["sampleTime"]["civilTime"]["time"] == {"hours": 1}


def test_dst_day_has_25_civil_hours(api):
    day = api().all_points(
        "heart-rate",
        filter=day_filter("heart-rate", D(2026, 11, 1), D(2026, 11, 2)),
        pageSize=10000,
    )
    times = sorted(sample_times(day))
    assert times[0] == "2026-11-01T04:00:00Z"  # midnight EDT
    assert times[-1] == "2026-11-02T04:59:55Z"  # 23:59:55 EST
    # 01:30 happens twice that night.
    repeated = api().all_points(
        "heart-rate",
        filter=civil_filter(
            "heart-rate", "sample_time.civil_time", "2026-11-01T01:30:00", "2026-11-01T01:31:00"
        ),
    )
    assert sorted(sample_times(repeated)) == [
        f"2026-11-01T{hour}:30:{s:02d}Z" for hour in ("05", "06") for s in range(0, 60, 5)
    ]
    hourly = (
        api()
        .rollup("total-calories", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z", "3600s")
        .json()["rollupDataPoints"]
    )
    assert len(hourly) == 25
    daily = api().daily_rollup("total-calories", D(2026, 11, 1), D(2026, 11, 2)).json()
    kcal = daily["rollupDataPoints"][0]["totalCalories"]["kcalSum"]
    assert sum(h["totalCalories"]["kcalSum"] for h in hourly) == pytest.approx(kcal, abs=0.013)


def test_utc_plus_13_user(api):
    points = api("user-2").all_points(
        "steps", filter=day_filter("steps", D(2026, 11, 10), D(2026, 11, 11))
    )
    assert len(points) > 100
    offsets = {
        (p["steps"]["interval"]["startUtcOffset"], p["steps"]["interval"]["endUtcOffset"])
        for p in points
    }
    assert offsets == {("46800s", "46800s")}
    first = min(points, key=lambda p: p["steps"]["interval"]["startTime"])["steps"]["interval"]
    start = timefmt.parse_rfc3339(first["startTime"])
    civil = first["civilStartTime"]
    assert dt.datetime.fromtimestamp(start + 46800, dt.UTC).replace(tzinfo=None) == dt.datetime(
        civil["date"]["year"],
        civil["date"]["month"],
        civil["date"]["day"],
        civil.get("time", {}).get("hours", 0),
        civil.get("time", {}).get("minutes", 0),
    )


def test_london_user_in_winter_has_zero_offsets_sent(api):
    """At UTC+0 the offsets are sent as "0s": a set Duration message is printed even when
    zero, as the live API does (only historical ECGs come without offsets)."""
    november = api("user-3").all_points(
        "steps", filter=day_filter("steps", D(2026, 11, 10), D(2026, 11, 11))
    )
    assert len(november) > 100
    for point in november:
        interval = point["steps"]["interval"]
        assert interval["startUtcOffset"] == interval["endUtcOffset"] == "0s"
        assert set(interval) == {
            "startTime",
            "startUtcOffset",
            "endTime",
            "endUtcOffset",
            "civilStartTime",
            "civilEndTime",
        }
    samples = api("user-3").all_points(
        "heart-rate",
        filter=civil_filter(
            "heart-rate", "sample_time.civil_time", "2026-11-10T12:00:00", "2026-11-10T12:01:00"
        ),
    )
    assert [p["heartRate"]["sampleTime"]["utcOffset"] for p in samples] == ["0s"] * 12
    # At 12:00:00 civil time the seconds are zero: left out of the set TimeOfDay.
    assert samples[-1]["heartRate"]["sampleTime"]["civilTime"]["time"] == {"hours": 12}
    october = api("user-3").all_points(
        "steps", filter=day_filter("steps", D(2026, 10, 20), D(2026, 10, 21))
    )
    assert {p["steps"]["interval"]["startUtcOffset"] for p in october} == {"3600s"}


def test_a_midnight_civil_time_is_an_empty_time_of_day(api):
    """proto3 JSON prints a set message with all fields zero as `{}`, not leaving it out."""
    steps = api("user-1").all_points(
        "steps",
        filter=civil_filter(
            "steps", "interval.civil_start_time", "2026-11-10T00:00:00", "2026-11-10T00:01:00"
        ),
    )
    basal = api("user-1").all_points(
        "basal-energy-burned",
        filter=civil_filter(
            "basal-energy-burned",
            "interval.civil_start_time",
            "2026-11-10T00:00:00",
            "2026-11-10T00:01:00",
        ),
    )
    assert len(basal) == 1
    for point in [*steps, *basal]:
        body = next(v for k, v in point.items() if k != "dataSource")
        assert body["interval"]["civilStartTime"] == {
            "date": {"year": 2026, "month": 11, "day": 10},
            "time": {},
        }
        assert body["interval"]["civilEndTime"]["time"] == {"minutes": 1}


def civil_of(instant: str, offset: str) -> dt.datetime:
    """The civil time of an instant at its UTC offset (what a client derives for sessions)."""
    return dt.datetime.fromtimestamp(
        timefmt.parse_rfc3339(instant) + timefmt.parse_duration(offset), dt.UTC
    ).replace(tzinfo=None)


# -- sleep ------------------------------------------------------------------------------------


def test_sleep_is_attributed_to_the_day_it_ends(sim):
    truth = sim.ground_truth("user-1", "sleep", D(2026, 10, 1), D(2026, 11, 28))
    crossing = 0
    for entry in truth:
        interval = entry["dataPoint"]["sleep"]["interval"]
        assert "civilStartTime" not in interval and "civilEndTime" not in interval
        start = civil_of(interval["startTime"], interval["startUtcOffset"]).date()
        end = civil_of(interval["endTime"], interval["endUtcOffset"]).date()
        assert entry["civilDate"] == end.isoformat()
        crossing += start < end
    assert crossing >= 10


def test_a_night_that_crosses_midnight_is_listed_on_its_end_date(sim, api):
    truth = sim.ground_truth("user-1", "sleep", D(2026, 11, 2), D(2026, 11, 20))
    night = next(
        e
        for e in truth
        if civil_of(e["dataPoint"]["sleep"]["interval"]["startTime"], "-18000s").date()
        != D.fromisoformat(e["civilDate"])
    )
    end = D.fromisoformat(night["civilDate"])
    on_end_day = api().all_points("sleep", filter=day_filter("sleep", end, end + dt.timedelta(1)))
    on_start_day = api().all_points("sleep", filter=day_filter("sleep", end - dt.timedelta(1), end))
    assert night["dataPoint"] in on_end_day
    assert night["dataPoint"] not in on_start_day


def test_naps_and_main_sleeps(sim):
    truth = [e["dataPoint"]["sleep"] for e in sim.ground_truth("user-1", "sleep", *NOV)]
    naps = [s for s in truth if s["metadata"].get("nap")]
    mains = [s for s in truth if s["metadata"].get("mainSleep")]
    assert len(naps) >= 3
    assert len(naps) + len(mains) == len(truth)
    assert all("mainSleep" not in s["metadata"] for s in naps)
    assert {s["type"] for s in naps} == {"CLASSIC"}
    assert "STAGES" in {s["type"] for s in mains}
    for sleep in truth:
        stages = sleep["stages"]
        assert stages[0]["startTime"] == sleep["interval"]["startTime"]
        assert stages[-1]["endTime"] == sleep["interval"]["endTime"]
        assert all(a["endTime"] == b["startTime"] for a, b in itertools.pairwise(stages))
        minutes = sum(int(s["minutes"]) for s in sleep["summary"]["stagesSummary"])
        assert minutes == int(sleep["summary"]["minutesInSleepPeriod"])


NOV = (D(2026, 11, 1), D(2026, 11, 27))


# -- days without data ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data_type", ["steps", "heart-rate", "sleep", "floors", "daily-resting-heart-rate"]
)
def test_a_day_without_the_device_has_no_data(sim, api, data_type):
    """user-1 did not wear the watch on 2026-10-20: no points at all, not zero rows."""
    day = D(2026, 10, 20)
    assert sim.ground_truth("user-1", data_type, day, day) == []
    assert (
        api().list(data_type, filter=day_filter(data_type, day, day + dt.timedelta(1))).json() == {}
    )
    around = sim.ground_truth("user-1", data_type, day - dt.timedelta(1), day + dt.timedelta(1))
    assert len(around) > 0


# -- exercise ---------------------------------------------------------------------------------


def tcx(api, point_id: str, **params) -> ET.Element:
    response = api.get(
        f"me/dataTypes/exercise/dataPoints/{point_id}:exportExerciseTcx", alt="media", **params
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.garmin.tcx+xml"
    return ET.fromstring(response.content)  # noqa: S314 - the simulator's own output


def test_exercises_with_and_without_gps(sim, api):
    truth = sim.ground_truth("user-1", "exercise", *NOV)
    metadata = [e["dataPoint"]["exercise"]["exerciseMetadata"] for e in truth]
    with_gps = [e for e, m in zip(truth, metadata, strict=True) if m.get("hasGps")]
    without = [e for e, m in zip(truth, metadata, strict=True) if not m.get("hasGps")]
    assert with_gps and without
    # Set but empty without GPS (hasGps false is a default); a swim gives its pool length.
    assert {"{}", '{"hasGps": true}', '{"poolLengthMillimeters": "25000"}'} == {
        json.dumps(m) for m in metadata
    }

    run = with_gps[0]
    summary = run["dataPoint"]["exercise"]["metricsSummary"]
    assert float(summary["distanceMillimeters"]) > 0
    doc = tcx(api(), run["id"])
    trackpoints = doc.findall(".//t:Trackpoint", TCX_NS)
    assert len(trackpoints) > 100
    assert all(tp.find("t:Position", TCX_NS) is not None for tp in trackpoints)
    assert doc.find(".//t:Activity", TCX_NS).get("Sport") in ("Running", "Walking")

    indoor = without[0]
    assert "distanceMillimeters" not in indoor["dataPoint"]["exercise"]["metricsSummary"]
    assert tcx(api(), indoor["id"]).findall(".//t:Trackpoint", TCX_NS) == []
    partial = tcx(api(), indoor["id"], partialData="true").findall(".//t:Trackpoint", TCX_NS)
    assert len(partial) > 100
    assert all(tp.find("t:Position", TCX_NS) is None for tp in partial)
    assert all(tp.find("t:HeartRateBpm/t:Value", TCX_NS) is not None for tp in partial)


def test_exercise_summary_fields(sim):
    for entry in sim.ground_truth("user-1", "exercise", *NOV):
        exercise = entry["dataPoint"]["exercise"]
        interval = exercise["interval"]
        span = timefmt.parse_rfc3339(interval["endTime"]) - timefmt.parse_rfc3339(
            interval["startTime"]
        )
        active = timefmt.parse_duration(exercise["activeDuration"])
        assert 0 < active <= span
        events = [e["exerciseEventType"] for e in exercise["exerciseEvents"]]
        assert events[0] == "START" and events[-1] == "STOP"
        assert int(exercise["metricsSummary"]["averageHeartRateBeatsPerMinute"]) > 50


# -- sources ----------------------------------------------------------------------------------


def test_two_sources_on_the_same_minute_and_instant(api):
    steps = api().all_points(
        "steps", filter=day_filter("steps", D(2026, 11, 10), D(2026, 11, 11)), pageSize=10000
    )
    devices = collections.defaultdict(set)
    for p in steps:
        devices[p["steps"]["interval"]["startTime"]].add(p["dataSource"]["device"]["displayName"])
    assert sum(d == {"Charge 6", "Pixel 9"} for d in devices.values()) > 30
    # 2026-11-27: a run with a chest strap.
    beats = api().all_points(
        "heart-rate",
        filter=day_filter("heart-rate", D(2026, 11, 27), D(2026, 11, 28)),
        pageSize=10000,
    )
    sensors = collections.defaultdict(set)
    for p in beats:
        sensors[p["heartRate"]["sampleTime"]["physicalTime"]].add(
            (p["dataSource"]["device"]["displayName"], p["heartRate"]["metadata"]["sensorLocation"])
        )
    both = [t for t, s in sensors.items() if s == {("Charge 6", "WRIST"), ("HRM Pro", "CHEST")}]
    assert len(both) > 100


@pytest.mark.parametrize("spacing", [5, 15])
def test_heart_rate_spacing_follows_the_setting(make_sim, spacing):
    sim = make_sim(hr_spacing_seconds=spacing)
    truth = sim.ground_truth("user-1", "heart-rate", D(2026, 11, 10), D(2026, 11, 10))
    times = sorted(
        timefmt.parse_rfc3339(e["dataPoint"]["heartRate"]["sampleTime"]["physicalTime"])
        for e in truth
    )
    assert all(t % spacing == 0 for t in times)
    gaps = collections.Counter(b - a for a, b in itertools.pairwise(times))
    assert gaps.most_common(1)[0][0] == spacing
    assert min(gaps) == spacing
    assert 0.85 * 86400 / spacing < len(times) < 86400 / spacing


# -- visibility -------------------------------------------------------------------------------


def test_data_in_the_future_appears_as_time_passes(make_sim):
    sim = make_sim()
    api = Api(sim, authorize(sim).access_token)
    today = D(2026, 11, 28)  # 07:00 in New York at START

    def visible(data_type):
        return sim.ground_truth("user-1", data_type, today, today)

    steps_before = api.all_points(
        "steps", filter=day_filter("steps", today, today + dt.timedelta(1))
    )
    assert len(steps_before) == len(visible("steps"))
    assert all(
        timefmt.parse_rfc3339(p["steps"]["interval"]["endTime"]) <= START for p in steps_before
    )
    beats = visible("heart-rate")
    assert max(e["dataPoint"]["heartRate"]["sampleTime"]["physicalTime"] for e in beats) <= (
        "2026-11-28T12:00:00Z"
    )
    assert visible("daily-resting-heart-rate") == []
    naps_before = [e for e in visible("sleep") if e["dataPoint"]["sleep"]["metadata"].get("nap")]
    assert naps_before == []

    sim.advance(18 * 3600)  # 2026-11-29 01:00 in New York
    api = Api(sim, authorize(sim).access_token)  # the first token has expired
    steps_after = api.all_points(
        "steps", filter=day_filter("steps", today, today + dt.timedelta(1))
    )
    assert len(steps_after) > len(steps_before) + 100
    assert len(visible("daily-resting-heart-rate")) == 1
    assert [e["dataPoint"]["sleep"]["metadata"].get("nap") for e in visible("sleep")].count(
        True
    ) == 1
