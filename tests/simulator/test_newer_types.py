"""The newer data types agree with each other and with the older ones they derive from."""

from __future__ import annotations

import collections
import datetime as dt
import itertools

import pytest

from simulator import timefmt
from tests.simulator.conftest import Api, authorize, day_filter

D = dt.date
DAY = D(2026, 11, 10)
HISTORY = (D(2026, 10, 1), D(2026, 11, 28))


def values(sim, data_type: str, first=DAY, last=DAY, user="user-1") -> list[dict]:
    """The value objects of a type's ground truth (what sits under the union key)."""
    out = []
    for entry in sim.ground_truth(user, data_type, first, last):
        point = entry["dataPoint"]
        out.append(next(v for k, v in point.items() if k not in ("name", "dataSource")))
    return out


def start_of(body: dict) -> int:
    if "interval" in body:
        return int(timefmt.parse_rfc3339(body["interval"]["startTime"]))
    return int(timefmt.parse_rfc3339(body["sampleTime"]["physicalTime"]))


def end_of(body: dict) -> int:
    return int(timefmt.parse_rfc3339(body["interval"]["endTime"]))


def by_minute(bodies: list[dict]) -> dict[int, dict]:
    out = {start_of(b): b for b in bodies}
    assert len(out) == len(bodies), "one point a minute"
    return out


def worn_awake_minutes(sim, user="user-1", day=DAY) -> set[int]:
    """Minutes with a watch heart-rate sample (worn) outside every sleep (awake)."""
    beats = values(sim, "heart-rate", day, day, user)
    worn = {start_of(b) // 60 * 60 for b in beats if b["metadata"]["sensorLocation"] == "WRIST"}
    sleeps = values(sim, "sleep", day, day + dt.timedelta(days=1), user)
    return {m for m in worn if not any(start_of(s) <= m < end_of(s) for s in sleeps)}


def test_active_and_basal_energy_add_up_to_total_calories(sim, api):
    basal = by_minute(values(sim, "basal-energy-burned"))
    active = by_minute(values(sim, "active-energy-burned"))
    assert len(basal) == 1440  # estimated every minute of a day the watch was worn
    assert set(active) < set(basal)
    assert all(b["kcal"] > 0 for b in active.values())
    # Total calories are filtered on the wrist: the minutes worn, those with the watch's steps
    # (true zeros included); basal energy is estimated through the charge as well.
    steps = {
        start_of(e["dataPoint"]["steps"]): int(e["dataPoint"]["steps"]["count"])
        for e in sim.ground_truth("user-1", "steps", DAY, DAY)
        if e["dataPoint"]["dataSource"]["device"]["formFactor"] != "PHONE"
    }
    assert set(active) <= set(steps) < set(basal)
    total = api().daily_rollup("total-calories", DAY, DAY + dt.timedelta(days=1)).json()
    kcal = total["rollupDataPoints"][0]["totalCalories"]["kcalSum"]
    assert sum(basal[m]["kcal"] for m in steps) + sum(
        b["kcal"] for b in active.values()
    ) == pytest.approx(kcal, abs=1.0)
    # Active energy only in minutes with movement: steps or an exercise.
    assert set(active) <= {m for m, n in steps.items() if n} | exercise_minutes(sim)


def exercise_minutes(sim, day=DAY) -> set[int]:
    return {m for e in values(sim, "exercise", day, day) for m in range(start_of(e), end_of(e), 60)}


def test_activity_level_covers_the_worn_awake_minutes(sim):
    levels = by_minute(values(sim, "activity-level"))
    assert set(levels) == worn_awake_minutes(sim)
    counts = collections.Counter(b["activityLevelType"] for b in levels.values())
    assert counts["SEDENTARY"] > counts["LIGHTLY_ACTIVE"] > 0
    # 2026-10-20: the watch was not worn; nothing at all.
    assert values(sim, "activity-level", D(2026, 10, 20), D(2026, 10, 20)) == []
    assert values(sim, "basal-energy-burned", D(2026, 10, 20), D(2026, 10, 20)) == []


def test_active_minutes_are_the_active_levels(sim):
    levels = by_minute(values(sim, "activity-level"))
    active = by_minute(values(sim, "active-minutes"))
    names = {"LIGHTLY_ACTIVE": "LIGHT", "MODERATELY_ACTIVE": "MODERATE", "VERY_ACTIVE": "VIGOROUS"}
    assert {
        m: names[b["activityLevelType"]]
        for m, b in levels.items()
        if b["activityLevelType"] in names
    } == {m: b["activeMinutesByActivityLevel"][0]["activityLevel"] for m, b in active.items()}
    assert {b["activeMinutesByActivityLevel"][0]["activeMinutes"] for b in active.values()} == {"1"}


def test_sedentary_periods_are_the_runs_of_sedentary_minutes(sim):
    sedentary = sorted(
        m
        for m, b in by_minute(values(sim, "activity-level")).items()
        if b["activityLevelType"] == "SEDENTARY"
    )
    periods = sorted((start_of(b), end_of(b)) for b in values(sim, "sedentary-period"))
    assert [m for start, end in periods for m in range(start, end, 60)] == sedentary
    # Maximal runs: no period ends where the next begins.
    assert all(a[1] < b[0] for a, b in itertools.pairwise(periods))


def test_time_in_heart_rate_zone_follows_the_heart_rate(sim):
    day = D(2026, 11, 27)  # a run
    zones = values(sim, "daily-heart-rate-zones", day, day)[0]["heartRateZones"]
    edges = {
        z["heartRateZoneType"]: (int(z["minBeatsPerMinute"]), int(z["maxBeatsPerMinute"]))
        for z in zones
    }
    beats = collections.defaultdict(list)
    for b in values(sim, "heart-rate", day, day):
        if b["metadata"]["sensorLocation"] == "WRIST":
            beats[start_of(b) // 60 * 60].append(int(b["beatsPerMinute"]))
    in_zone = by_minute(values(sim, "time-in-heart-rate-zone", day, day))
    assert len(in_zone) > 10
    for minute, body in in_zone.items():
        low, high = edges[body["heartRateZoneType"]]
        mean = sum(beats[minute]) / len(beats[minute])
        assert low - 3 <= mean <= high + 3, (minute, body, mean)
    # Minutes well below the light zone are in none.
    light_floor = edges["LIGHT"][0]
    resting = [m for m, b in beats.items() if max(b) < light_floor - 8]
    assert resting and not set(resting) & set(in_zone)


def test_altitude_is_about_three_metres_a_floor(sim):
    floors = {start_of(b): int(b["count"]) for b in values(sim, "floors", *HISTORY[:1] * 2)}
    gains = {
        start_of(b): int(b["gainMillimeters"]) for b in values(sim, "altitude", *HISTORY[:1] * 2)
    }
    # Both cover the minutes worn, true zeros included; a gain only where a floor is climbed.
    assert set(gains) == set(floors)
    assert {m for m, g in gains.items() if g} == {m for m, n in floors.items() if n}
    week = (D(2026, 11, 1), D(2026, 11, 7))
    floors = {start_of(b) for b in values(sim, "floors", *week) if b["count"] != "0"}
    gains = [
        int(b["gainMillimeters"])
        for b in values(sim, "altitude", *week)
        if b["gainMillimeters"] != "0"
    ]
    assert len(gains) == len(floors) > 5
    assert all(2_798 <= g <= 3_298 for g in gains)


def test_swim_lengths_lie_in_swim_workouts(sim):
    swims = [e for e in values(sim, "exercise", *HISTORY) if e["exerciseType"] == "SWIMMING"]
    lengths = values(sim, "swim-lengths-data", *HISTORY)
    assert swims and len(lengths) > 20 * len(swims)
    for swim in swims:
        assert swim["exerciseMetadata"] == {"poolLengthMillimeters": "25000"}
    for body in lengths:
        assert any(start_of(s) <= start_of(body) < end_of(body) <= end_of(s) for s in swims)
        assert 30 <= end_of(body) - start_of(body) <= 45
        assert body["swimStrokeType"] in ("FREESTYLE", "BREASTSTROKE", "BACKSTROKE")
    spans = sorted((start_of(b), end_of(b)) for b in lengths)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_oxygen_saturation_samples_each_minute_of_main_sleeps_with_gaps(sim):
    week = (D(2026, 11, 2), D(2026, 11, 8))
    sleeps = [
        s
        for s in values(sim, "sleep", week[0], week[1] + dt.timedelta(days=1))
        if s["metadata"].get("mainSleep")
    ]
    samples = sorted(start_of(b) for b in values(sim, "oxygen-saturation", *week))
    assert len(set(samples)) == len(samples)
    assert all(t % 60 == 0 for t in samples)
    assert all(any(start_of(s) <= t < end_of(s) for s in sleeps) for t in samples)
    gaps = [b - a for a, b in itertools.pairwise(samples) if 60 < b - a < 4 * 3600]
    assert any(g >= 600 for g in gaps)  # the night's longer dropout
    percentages = [b["percentage"] for b in values(sim, "oxygen-saturation", *week)]
    assert min(percentages) >= 88 and max(percentages) <= 100


def test_one_respiratory_summary_and_sleep_temperature_per_main_sleep(sim):
    month = (D(2026, 11, 1), D(2026, 11, 27))
    mains = [s for s in values(sim, "sleep", *month) if s["metadata"].get("mainSleep")]
    summaries = values(sim, "respiratory-rate-sleep-summary", *month)
    assert sorted(start_of(b) for b in summaries) == sorted(end_of(s) for s in mains)
    for summary in summaries:
        sleep = next(s for s in mains if end_of(s) == start_of(summary))
        stages = {"fullSleepStats", "deepSleepStats", "lightSleepStats", "remSleepStats"}
        expected = stages if sleep["type"] == "STAGES" else {"fullSleepStats"}
        assert set(summary) - {"sampleTime"} == expected
    temperatures = sim.ground_truth("user-1", "daily-sleep-temperature-derivations", *month)
    days_with_main_sleep = {
        timefmt.local_datetime(end_of(s), timefmt.ZoneInfo("America/New_York")).date().isoformat()
        for s in mains
    }
    assert {t["civilDate"] for t in temperatures} == days_with_main_sleep


def test_run_vo2_max_follows_each_run(sim):
    runs = [e for e in values(sim, "exercise", *HISTORY) if e["exerciseType"] == "RUNNING"]
    estimates = values(sim, "run-vo2-max", *HISTORY)
    assert len(runs) >= 3
    assert sorted(start_of(b) for b in estimates) == sorted(end_of(r) + 60 for r in runs)
    methods = collections.Counter(b["measurementMethod"] for b in values(sim, "vo2-max", *HISTORY))
    assert methods["FITBIT_RUN"] == len(runs) and methods["HEART_RATE_RATIO"] >= 1


def test_glucose_from_a_sensor_for_some_users_and_logs_for_others(sim):
    cgm = values(sim, "blood-glucose", *HISTORY)
    assert {b["measurementSource"] for b in cgm} == {"CONTINUOUS_GLUCOSE_MONITORING"}
    times = sorted(start_of(b) for b in cgm)
    steps = collections.Counter(b - a for a, b in itertools.pairwise(times))
    assert steps.most_common(1)[0][0] == 300
    days = {e["civilDate"] for e in sim.ground_truth("user-1", "blood-glucose", *HISTORY)}
    assert 10 <= len(days) <= 25  # ten-day sensors, ten days in thirty
    logged = values(sim, "blood-glucose", *HISTORY, user="user-3")
    assert 0 < len(logged) < 100
    assert {b["specimen"] for b in logged} == {"CAPILLARY_BLOOD"}
    assert values(sim, "blood-glucose", *HISTORY, user="user-2") == []


def test_ecg_readings_are_thirty_seconds_at_250_hz(sim):
    readings = values(sim, "electrocardiogram", *HISTORY)
    assert 2 <= len(readings) <= 12
    for ecg in readings:
        assert end_of(ecg) - start_of(ecg) == 30
        samples = ecg["waveformSamples"]
        assert len(samples) == 7_500 == 30 * ecg["samplingFrequencyHertz"]
        assert all(type(s) is int for s in samples)
        peak_mv = max(samples) / ecg["millivoltsScalingFactor"]
        assert 0.8 <= peak_mv <= 1.6
        assert ecg["medicalDeviceInfo"]["deviceModel"] == "Charge 6"
    historical = [e for e in readings if "startUtcOffset" not in e["interval"]]
    recent = [e for e in readings if "startUtcOffset" in e["interval"]]
    assert historical and recent
    for ecg in historical:
        # No offset: the civil time is UTC's.
        utc = dt.datetime.fromtimestamp(start_of(ecg), dt.UTC)
        civil = ecg["interval"]["civilStartTime"]
        assert (civil["date"]["day"], civil["time"].get("hours", 0)) == (utc.day, utc.hour)
        assert start_of(ecg) < timefmt.civil_midnight(D(2026, 10, 22), timefmt.UTC) + 86400
    assert values(sim, "electrocardiogram", *HISTORY, user="user-2") == []


def test_irregular_rhythm_notifications_carry_alert_windows_and_beats(sim):
    notifications = values(sim, "irregular-rhythm-notification", *HISTORY)
    # After one main sleep in nine: 59 days hold 6 or 7 such nights, less nights not worn.
    assert 5 <= len(notifications) <= 7
    nights = [start_of(irn) // 86400 for irn in notifications]
    assert all((b - a) % 9 == 0 for a, b in itertools.pairwise(nights))
    for irn in notifications:
        windows = irn["alertWindows"]
        assert len(windows) == 4
        assert start_of(irn) == start_of({"interval": windows[0]})
        assert end_of(irn) == end_of({"interval": windows[-1]})
        for window in windows:
            beats = [int(timefmt.parse_rfc3339(b["physicalTime"])) for b in window["heartBeats"]]
            assert len(beats) >= 50
            assert all(
                start_of({"interval": window}) <= t < end_of({"interval": window}) for t in beats
            )


def test_menstrual_periods_are_monthly_with_ovulation_tests_mid_cycle(sim):
    periods = values(sim, "menstrual-period", *HISTORY)
    assert len(periods) == 2
    firsts = [start_of(p) for p in periods]
    assert 22 <= (firsts[1] - firsts[0]) / 86400 <= 36
    for period in periods:
        assert period["interval"]["civilStartTime"]["time"] == {}
        assert 4 <= round((end_of(period) - start_of(period)) / 86400) <= 6
    tests = values(sim, "ovulation-test", *HISTORY)
    # Days since the period before (those before the first listed period have none listed).
    since = [
        (start_of(t) - max(f for f in firsts if f <= start_of(t))) / 86400
        for t in tests
        if start_of(t) > firsts[0]
    ]
    assert len(since) >= 3
    assert all(8 <= d <= 19 for d in since), since
    assert {"NEGATIVE"} < {t["result"] for t in tests}
    assert values(sim, "menstrual-period", *HISTORY, user="user-2") == []


@pytest.mark.parametrize("data_type", ["moods", "symptoms", "height", "core-body-temperature"])
def test_logged_types_are_occasional(sim, data_type):
    entries = sim.ground_truth("user-1", data_type, *HISTORY)
    assert 1 <= len(entries) <= 30
    assert {e["dataPoint"]["dataSource"]["recordingMethod"] for e in entries} == {"MANUAL"}
    assert all(e["dataPoint"]["name"].endswith(e["id"]) for e in entries)


def test_the_new_types_list_by_civil_day(api):
    """Civil-day filters pick the newer minute types' points of that day only."""
    points = api().all_points(
        "activity-level", filter=day_filter("activity-level", DAY, DAY + dt.timedelta(days=1))
    )
    dates = {(p["activityLevel"]["interval"]["civilStartTime"]["date"]["day"]) for p in points}
    assert dates == {10}


def test_newer_types_are_the_same_for_a_seed(make_sim):
    def bodies(seed: int) -> list[bytes]:
        sim = make_sim(seed=seed)
        api = Api(sim, authorize(sim, "user-1").access_token)
        return [
            api.list(t, filter=day_filter(t, *HISTORY), pageSize=10000).content
            for t in ("electrocardiogram", "menstrual-period", "moods", "oxygen-saturation")
        ]

    first, again, other = bodies(11), bodies(11), bodies(12)
    assert first == again
    assert all(a != b for a, b in zip(first, other, strict=True))
