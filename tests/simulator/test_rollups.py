"""rollUp and dailyRollUp: values against the ground truth, caps, windows and paging."""

from __future__ import annotations

import collections
import datetime as dt

import pytest

from simulator import timefmt
from tests.simulator.conftest import day_filter, error_of

D = dt.date
DAY = dt.timedelta(days=1)
WEARABLES = "users/me/dataSourceFamilies/google-wearables"


def daily_sums(sim, user, data_type, field, first, last, reconciled=True, source=None):
    """Per civil day, the sum of `field` over the ground truth (int64 strings)."""
    sums: dict[str, int] = collections.Counter()
    key = data_type.replace("-", " ").title().replace(" ", "")
    key = key[0].lower() + key[1:]
    for entry in sim.ground_truth(user, data_type, first, last, reconciled=reconciled):
        point = entry["dataPoint"]
        if source and point["dataSource"]["device"]["displayName"] != source:
            continue
        sums[entry["civilDate"]] += int(point[key][field])
    return sums


def rollup_by_day(body: dict, key: str, field: str) -> dict[str, int]:
    out = {}
    for point in body.get("rollupDataPoints", []):
        day = point["civilStartTime"]["date"]
        out[f"{day['year']:04d}-{day['month']:02d}-{day['day']:02d}"] = int(point[key][field])
    return out


@pytest.mark.parametrize("user", ["user-1", "user-2"])
def test_daily_steps_equal_the_reconciled_ground_truth(sim, api, user):
    first, end = D(2026, 10, 20), D(2026, 11, 3)  # user-1: unworn 10-20, DST change 11-01
    response = api(user).daily_rollup("steps", first, end)
    assert response.status_code == 200
    body = response.json()
    assert "nextPageToken" not in body
    got = rollup_by_day(body, "steps", "countSum")
    assert got == daily_sums(sim, user, "steps", "count", first, end - DAY)
    assert len(got) >= 13
    windows = [(p["civilStartTime"], p["civilEndTime"]) for p in body["rollupDataPoints"]]
    for start, stop in windows:
        start_day = D(**start["date"])
        assert D(**stop["date"]) == start_day + DAY
        assert "time" not in start and "time" not in stop


def test_reconcile_and_rollups_do_not_double_count_two_sources(sim, api):
    day = D(2026, 11, 10)
    text = day_filter("steps", day, day + DAY)
    listed = api().all_points("steps", filter=text, pageSize=10000)
    reconciled = api().all_points("steps", verb=":reconcile", filter=text, pageSize=10000)
    by_start = collections.defaultdict(set)
    for p in listed:
        by_start[p["steps"]["interval"]["startTime"]].add(p["dataSource"]["device"]["displayName"])
    both = [t for t, devices in by_start.items() if devices == {"Charge 6", "Pixel 9"}]
    assert len(both) > 30
    assert len(reconciled) == len(by_start)
    naive = sum(int(p["steps"]["count"]) for p in listed)
    merged = sum(int(p["steps"]["count"]) for p in reconciled)
    daily = rollup_by_day(api().daily_rollup("steps", day, day + DAY).json(), "steps", "countSum")
    assert daily == {day.isoformat(): merged}
    assert naive > merged
    hourly = (
        api()
        .rollup(
            "steps",
            timefmt.rfc3339(timefmt.civil_midnight(day, sim.users["user-1"].zone)),
            timefmt.rfc3339(timefmt.civil_midnight(day + DAY, sim.users["user-1"].zone)),
            "3600s",
        )
        .json()
    )
    assert sum(int(p["steps"]["countSum"]) for p in hourly["rollupDataPoints"]) == merged


def test_hourly_heart_rate_matches_the_reconciled_samples(sim, api):
    """2026-11-27 has a run with a chest strap: its samples duplicate the watch's instants."""
    truth = sim.ground_truth("user-1", "heart-rate", D(2026, 11, 27), D(2026, 11, 27), True)
    by_hour = collections.defaultdict(list)
    for entry in truth:
        sample = entry["dataPoint"]["heartRate"]
        by_hour[sample["sampleTime"]["physicalTime"][:13]].append(int(sample["beatsPerMinute"]))
    response = api().rollup("heart-rate", "2026-11-27T05:00:00Z", "2026-11-28T05:00:00Z", "3600s")
    got = {p["startTime"][:13]: p["heartRate"] for p in response.json()["rollupDataPoints"]}
    assert got == {
        hour: {
            "beatsPerMinuteAvg": round(sum(v) / len(v), 3),
            "beatsPerMinuteMax": float(max(v)),
            "beatsPerMinuteMin": float(min(v)),
        }
        for hour, v in by_hour.items()
    }
    assert len(got) >= 20


def test_windows_without_data_are_left_out(api):
    """A window the watch was worn in is a sum, zero while asleep; one not worn is left out."""
    body = api().rollup("steps", "2026-11-10T05:00:00Z", "2026-11-11T05:00:00Z", "3600s").json()
    hours = {p["startTime"]: p["steps"]["countSum"] for p in body["rollupDataPoints"]}
    assert len(hours) == 24
    assert hours["2026-11-10T08:00:00Z"] == "0"  # 03:00 in New York, asleep
    # 2026-10-20 was not worn in New York (04:00Z to 04:00Z): no window at all.
    body = api().rollup("steps", "2026-10-20T05:00:00Z", "2026-10-21T04:00:00Z", "3600s").json()
    assert body == {}


@pytest.mark.parametrize(
    ("data_type", "days"), [("heart-rate", 14), ("total-calories", 14), ("steps", 90)]
)
def test_range_caps(api, data_type, days):
    start = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)
    at_cap = api().rollup(
        data_type,
        timefmt.rfc3339(start.timestamp()),
        timefmt.rfc3339((start + dt.timedelta(days=days)).timestamp()),
        "86400s",
    )
    assert at_cap.status_code == 200
    over = api().rollup(
        data_type,
        timefmt.rfc3339(start.timestamp()),
        timefmt.rfc3339((start + dt.timedelta(days=days, seconds=1)).timestamp()),
        "86400s",
    )
    error_of(over, 400, "INVALID_ROLLUP_QUERY_DURATION")
    daily_at_cap = api().daily_rollup(data_type, D(2026, 8, 1), D(2026, 8, 1) + days * DAY)
    assert daily_at_cap.status_code == 200
    daily_over = api().daily_rollup(data_type, D(2026, 8, 1), D(2026, 8, 2) + days * DAY)
    error_of(daily_over, 400, "INVALID_ROLLUP_QUERY_DURATION")


def test_page_size_times_window_is_held_to_the_cap(api):
    """Observed [NET]: pageSize x windowSize beyond the range cap is refused."""
    response = api().rollup(
        "heart-rate", "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", "3600s", pageSize=400
    )
    error_of(response, 400, "INVALID_ROLLUP_QUERY_DURATION")
    fits = api().rollup(
        "heart-rate", "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", "3600s", pageSize=336
    )
    assert fits.status_code == 200


def test_last_window_is_truncated(api):
    body = (
        api()
        .rollup("total-calories", "2026-11-10T00:00:00Z", "2026-11-10T05:30:00Z", "7200s")
        .json()
    )
    assert [(p["startTime"], p["endTime"]) for p in body["rollupDataPoints"]] == [
        ("2026-11-10T00:00:00Z", "2026-11-10T02:00:00Z"),
        ("2026-11-10T02:00:00Z", "2026-11-10T04:00:00Z"),
        ("2026-11-10T04:00:00Z", "2026-11-10T05:30:00Z"),
    ]
    assert "nextPageToken" not in body


def test_last_daily_window_is_truncated(sim, api):
    body = api().daily_rollup("steps", D(2026, 11, 2), D(2026, 11, 9), windowSizeDays=3).json()
    assert [
        (D(**p["civilStartTime"]["date"]), D(**p["civilEndTime"]["date"]))
        for p in body["rollupDataPoints"]
    ] == [
        # Newest first, as the live API answers; the last window is cut short.
        (D(2026, 11, 8), D(2026, 11, 9)),
        (D(2026, 11, 5), D(2026, 11, 8)),
        (D(2026, 11, 2), D(2026, 11, 5)),
    ]
    sums = daily_sums(sim, "user-1", "steps", "count", D(2026, 11, 2), D(2026, 11, 8))
    assert [int(p["steps"]["countSum"]) for p in body["rollupDataPoints"]] == [
        sums["2026-11-08"],
        sum(sums[str(D(2026, 11, 2) + i * DAY)] for i in range(3, 6)),
        sum(sums[str(D(2026, 11, 2) + i * DAY)] for i in range(0, 3)),
    ]


def test_roll_up_pages_follow_tokens(api):
    args = ("steps", "2026-11-10T00:00:00Z", "2026-11-12T00:00:00Z", "3600s")
    whole = api().rollup(*args).json()
    assert "nextPageToken" not in whole
    points, token, sizes = [], None, []
    while True:
        extra = {"pageToken": token} if token else {}
        body = api().rollup(*args, pageSize=10, **extra).json()
        sizes.append(len(body.get("rollupDataPoints", [])))
        points += body.get("rollupDataPoints", [])
        token = body.get("nextPageToken")
        if not token:
            break
    # 48 hourly windows, all worn (the nights' are true zeros): 10 rolled-up points a page.
    assert sizes == [10, 10, 10, 10, 8]
    assert points == whole["rollupDataPoints"]
    changed = api().rollup(
        "steps", "2026-11-10T00:00:00Z", "2026-11-12T00:00:00Z", "1800s", pageToken=body_token(api)
    )
    error_of(changed, 400, "INVALID_PAGE_TOKEN")


def body_token(api) -> str:
    body = (
        api()
        .rollup("steps", "2026-11-10T00:00:00Z", "2026-11-12T00:00:00Z", "3600s", pageSize=10)
        .json()
    )
    return body["nextPageToken"]


def test_daily_roll_up_pages_when_page_size_is_below_the_windows(api):
    """A pageSize below the number of windows pages with nextPageToken, newest first."""
    whole = api().daily_rollup("steps", D(2026, 11, 1), D(2026, 11, 11)).json()
    assert len(whole["rollupDataPoints"]) == 10
    assert "nextPageToken" not in whole
    first = api().daily_rollup("steps", D(2026, 11, 1), D(2026, 11, 11), pageSize=9).json()
    assert len(first["rollupDataPoints"]) == 9
    second = (
        api()
        .daily_rollup(
            "steps", D(2026, 11, 1), D(2026, 11, 11), pageSize=9, pageToken=first["nextPageToken"]
        )
        .json()
    )
    assert "nextPageToken" not in second
    assert first["rollupDataPoints"] + second["rollupDataPoints"] == whole["rollupDataPoints"]
    assert [D(**p["civilStartTime"]["date"]) for p in second["rollupDataPoints"]] == [
        D(2026, 11, 1)
    ]


def test_daily_roll_up_start_must_be_midnight(api):
    body = {
        "range": {
            "start": {"date": {"year": 2026, "month": 11, "day": 1}, "time": {"hours": 6}},
            "end": {"date": {"year": 2026, "month": 11, "day": 3}},
        }
    }
    response = api().post("me/dataTypes/steps/dataPoints:dailyRollUp", body)
    error_of(response, 400, None)


def test_total_calories_daily_values_equal_the_ground_truth(sim, api):
    first, end = D(2026, 10, 28), D(2026, 11, 11)
    body = api().daily_rollup("total-calories", first, end).json()
    got = {
        str(D(**p["civilStartTime"]["date"])): p["totalCalories"]["kcalSum"]
        for p in body["rollupDataPoints"]
    }
    truth = sim.ground_truth("user-1", "total-calories", first, end - DAY)
    assert got == {t["civilDate"]: t["kcal"] for t in truth}
    assert len(got) == 14
    # 2026-11-01 has 25 hours in New York.
    assert got["2026-11-01"] > 0


@pytest.mark.parametrize(
    "body",
    [
        {"range": {"startTime": "2026-11-01T00:00:00Z", "endTime": "2026-11-02T00:00:00Z"}},
        {
            "range": {"startTime": "2026-11-01T00:00:00Z", "endTime": "2026-11-02T00:00:00Z"},
            "windowSize": "0.5s",
        },
        {
            "range": {"startTime": "2026-11-02T00:00:00Z", "endTime": "2026-11-01T00:00:00Z"},
            "windowSize": "3600s",
        },
        {"range": {"startTime": "2026-11-01", "endTime": "2026-11-02"}, "windowSize": "3600s"},
    ],
)
def test_bad_roll_up_requests(api, body):
    error_of(api().post("me/dataTypes/steps/dataPoints:rollUp", body), 400, None)


def test_roll_ups_honour_the_data_source_family(sim, api):
    """With google-wearables, the phone's steps (e.g. while the watch charges) are left out."""
    first, end = D(2026, 11, 10), D(2026, 11, 17)
    everything = rollup_by_day(api().daily_rollup("steps", first, end).json(), "steps", "countSum")
    wearables = rollup_by_day(
        api().daily_rollup("steps", first, end, dataSourceFamily=WEARABLES).json(),
        "steps",
        "countSum",
    )
    watch = daily_sums(
        sim, "user-1", "steps", "count", first, end - DAY, reconciled=False, source="Charge 6"
    )
    assert wearables == watch
    assert everything == daily_sums(sim, "user-1", "steps", "count", first, end - DAY)
    assert all(wearables[d] <= everything[d] for d in everything)
    assert wearables != everything
    hourly = (
        api()
        .rollup(
            "steps",
            "2026-11-10T05:00:00Z",
            "2026-11-11T05:00:00Z",
            "86400s",
            dataSourceFamily=WEARABLES,
        )
        .json()
    )
    assert int(hourly["rollupDataPoints"][0]["steps"]["countSum"]) == wearables["2026-11-10"]
    bad = api().rollup(
        "steps",
        "2026-11-10T05:00:00Z",
        "2026-11-11T05:00:00Z",
        "86400s",
        dataSourceFamily="users/me/dataSourceFamilies/nope",
    )
    error_of(bad, 400, "INVALID_DATA_POINT_DATA_SOURCE_FAMILY")


# -- the newer types ------------------------------------------------------------------------


def hourly(api, data_type: str, day: str) -> dict[str, dict]:
    """The user-1 rollUp of a UTC day in hourly windows, by window start."""
    body = api().rollup(data_type, f"{day}T00:00:00Z", f"{day}T23:59:59Z", "3600s").json()
    return {p["startTime"]: p[body_key(data_type)] for p in body.get("rollupDataPoints", [])}


def body_key(data_type: str) -> str:
    head, *rest = data_type.split("-")
    return head + "".join(part.capitalize() for part in rest)


def truth_by_hour(sim, data_type: str, day: str) -> dict[str, list[dict]]:
    """Ground-truth value objects of user-1 by the UTC hour they start in."""
    civil = D.fromisoformat(day)
    out = collections.defaultdict(list)
    for entry in sim.ground_truth("user-1", data_type, civil - DAY, civil + DAY):
        body = entry["dataPoint"][body_key(data_type)]
        start = timefmt.parse_rfc3339(body["interval"]["startTime"])
        hour = timefmt.rfc3339(int(start) // 3600 * 3600)
        if hour.startswith(day):
            out[hour].append(body)
    return out


def test_newer_interval_types_roll_up_their_points(sim, api):
    day = "2026-11-27"  # user-1 ran this evening
    energy = truth_by_hour(sim, "active-energy-burned", day)
    assert hourly(api, "active-energy-burned", day) == {
        hour: {"kcalSum": round(sum(b["kcal"] for b in bodies), 3)}
        for hour, bodies in energy.items()
    }
    altitude = truth_by_hour(sim, "altitude", day)
    assert altitude
    assert hourly(api, "altitude", day) == {
        hour: {"gainMillimetersSum": str(sum(int(b["gainMillimeters"]) for b in bodies))}
        for hour, bodies in altitude.items()
    }
    levels = truth_by_hour(sim, "activity-level", day)
    order = ("SEDENTARY", "LIGHTLY_ACTIVE", "MODERATELY_ACTIVE", "VERY_ACTIVE")
    expected = {}
    for hour, bodies in levels.items():
        counts = collections.Counter(b["activityLevelType"] for b in bodies)
        expected[hour] = {
            "activityLevelRollupsByActivityLevelType": [
                {"activityLevelType": level, "totalDuration": f"{60 * counts[level]}s"}
                for level in order
                if counts[level]
            ]
        }
    assert hourly(api, "activity-level", day) == expected
    zones = truth_by_hour(sim, "time-in-heart-rate-zone", day)
    got = hourly(api, "time-in-heart-rate-zone", day)
    assert set(got) == set(zones)
    for hour, bodies in zones.items():
        counts = collections.Counter(b["heartRateZoneType"] for b in bodies)
        assert {
            z["heartRateZone"]: timefmt.parse_duration(z["duration"])
            for z in got[hour]["timeInHeartRateZones"]
        } == {zone: 60 * n for zone, n in counts.items()}
    assert "VIGOROUS" in {
        z for bodies in zones.values() for b in bodies for z in [b["heartRateZoneType"]]
    }


def test_sedentary_time_is_split_among_the_windows_a_period_overlaps(sim, api):
    day = D(2026, 11, 10)
    periods = [
        entry["dataPoint"]["sedentaryPeriod"]["interval"]
        # The UTC day begins in New York's evening before.
        for entry in sim.ground_truth("user-1", "sedentary-period", day - DAY, day)
    ]
    spans = [
        (int(timefmt.parse_rfc3339(i["startTime"])), int(timefmt.parse_rfc3339(i["endTime"])))
        for i in periods
    ]
    assert any(end - start > 3600 for start, end in spans)
    got = hourly(api, "sedentary-period", "2026-11-10")
    first = int(timefmt.parse_rfc3339("2026-11-10T00:00:00Z"))
    expected = {}
    for h in range(24):
        lo, hi = first + h * 3600, first + (h + 1) * 3600
        if h == 23:
            hi -= 1  # the range ends at 23:59:59
        seconds = sum(max(0, min(end, hi) - max(start, lo)) for start, end in spans)
        if seconds:
            expected[timefmt.rfc3339(lo)] = {"durationSum": f"{seconds}s"}
    assert got == expected
    assert all(timefmt.parse_duration(v["durationSum"]) <= 3600 for v in got.values())


def test_swim_strokes_roll_up(sim, api):
    day = "2026-11-13"  # a swim
    lengths = truth_by_hour(sim, "swim-lengths-data", day)
    assert lengths
    assert hourly(api, "swim-lengths-data", day) == {
        hour: {"strokeCountSum": str(sum(int(b["strokeCount"]) for b in bodies))}
        for hour, bodies in lengths.items()
    }


@pytest.mark.parametrize(
    ("data_type", "field", "key", "low", "high"),
    [
        (
            "daily-resting-heart-rate",
            "beatsPerMinute",
            "restingHeartRatePersonalRange",
            "beatsPerMinuteMin",
            "beatsPerMinuteMax",
        ),
        (
            "daily-heart-rate-variability",
            "averageHeartRateVariabilityMilliseconds",
            "heartRateVariabilityPersonalRange",
            "averageHeartRateVariabilityMillisecondsMin",
            "averageHeartRateVariabilityMillisecondsMax",
        ),
    ],
)
def test_daily_personal_ranges_span_the_last_thirty_days(
    sim, api, data_type, field, key, low, high
):
    """A day's range: the mean of the 30 days up to it, plus and minus their deviation."""
    first, end = D(2026, 11, 10), D(2026, 11, 17)
    truth = {
        e["civilDate"]: float(e["dataPoint"][body_key(data_type)][field])
        for e in sim.ground_truth("user-1", data_type, first - 29 * DAY, end - DAY)
    }
    body = api().daily_rollup(data_type, first, end).json()
    got = {D(**p["civilStartTime"]["date"]).isoformat(): p[key] for p in body["rollupDataPoints"]}
    expected = {}
    day = first
    while day < end:
        if day.isoformat() in truth:
            recent = [v for d, v in truth.items() if day - 29 * DAY <= D.fromisoformat(d) <= day]
            mean = sum(recent) / len(recent)
            spread = max(1.0, (sum((v - mean) ** 2 for v in recent) / len(recent)) ** 0.5)
            expected[day.isoformat()] = {
                low: round(mean - spread, 1),
                high: round(mean + spread, 1),
            }
        day += DAY
    assert len(expected) >= 5
    assert got == expected
    assert (
        api().rollup(data_type, "2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z").status_code == 400
    )


@pytest.mark.parametrize(
    ("data_type", "user", "field", "key", "stats"),
    [
        (
            "blood-glucose",
            "user-1",
            "bloodGlucoseMilligramsPerDeciliter",
            "bloodGlucose",
            {"bloodGlucoseMilligramsPerDeciliterAvg": "avg"},
        ),
        (
            "core-body-temperature",
            "user-1",
            "temperatureCelsius",
            "coreBodyTemperature",
            {
                "temperatureCelsiusAvg": "avg",
                "temperatureCelsiusMax": "max",
                "temperatureCelsiusMin": "min",
            },
        ),
        ("run-vo2-max", "user-1", "runVo2Max", "runVo2Max", {"rateAvg": "avg", "rateMax": "max"}),
    ],
)
def test_sample_types_roll_up_daily(sim, api, data_type, user, field, key, stats):
    first, end = D(2026, 10, 1), D(2026, 11, 28)
    by_day = collections.defaultdict(list)
    for entry in sim.ground_truth(user, data_type, first, end - DAY, reconciled=True):
        by_day[entry["civilDate"]].append(entry["dataPoint"][key][field])
    assert by_day
    body = api(user).daily_rollup(data_type, first, end).json()
    got = {D(**p["civilStartTime"]["date"]).isoformat(): p[key] for p in body["rollupDataPoints"]}
    assert set(got) == set(by_day)
    for day, values in by_day.items():
        computed = {
            "avg": round(sum(values) / len(values), 3),
            "max": max(values),
            "min": min(values),
        }
        for name, stat in stats.items():
            # The average may differ in its last rounded digit: the sums run in other orders.
            assert got[day][name] == pytest.approx(computed[stat], abs=0.0011), (day, name)


def test_calories_in_heart_rate_zones_are_the_zone_minutes_calories(sim, api):
    day = "2026-11-27"  # a run
    zones = truth_by_hour(sim, "time-in-heart-rate-zone", day)
    got = hourly(api, "calories-in-heart-rate-zone", day)
    totals = hourly(api, "total-calories", day)
    assert set(got) == set(zones)
    for hour, bodies in zones.items():
        by_zone = {z["heartRateZone"]: z["kcal"] for z in got[hour]["caloriesInHeartRateZones"]}
        assert set(by_zone) == {b["heartRateZoneType"] for b in bodies}
        assert sum(by_zone.values()) <= totals[hour]["kcalSum"] + 0.001
    # The run's hour: most of that hour's calories were burned in a zone.
    best = max(got, key=lambda h: sum(z["kcal"] for z in got[h]["caloriesInHeartRateZones"]))
    in_zones = sum(z["kcal"] for z in got[best]["caloriesInHeartRateZones"])
    assert in_zones > 0.5 * totals[best]["kcalSum"]
    assert api().list("calories-in-heart-rate-zone").status_code == 400
