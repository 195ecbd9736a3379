"""The list/reconcile `filter` language: errors, physical and civil bounds, per-type members."""

from __future__ import annotations

import collections
import datetime as dt

import pytest

from simulator import filters, points
from simulator.catalog import DATA_TYPES, read_scope
from tests.simulator.conftest import (
    ALL_SCOPES,
    Api,
    authorize,
    canonical,
    civil_filter,
    error_of,
)

D = dt.date
STEPS_FROM = 'steps.interval.start_time >= "2026-11-01T00:00:00Z"'


@pytest.fixture(scope="module")
def every_scope_api(sim):
    """An `Api` for user-1 with the read scope of every data type the simulator serves."""
    scopes = sorted({read_scope(t.scope) for t in DATA_TYPES.values()} | set(ALL_SCOPES))
    return Api(sim, authorize(sim, scopes=scopes).access_token)


@pytest.mark.parametrize(
    ("data_type", "text", "reason"),
    [
        ("steps", 'steps.interval.start_time >= "2026-11-01T00:00:00Z', "SYNTAX"),
        ("steps", 'steps.interval.start_time >= "2026-11-01" # x', "SYNTAX"),
        ("steps", "steps.interval.start_time >=", "MISSING_TOKEN"),
        ("steps", STEPS_FROM + " AND", "MISSING_TOKEN"),
        ("steps", 'steps.interval.start_time > "2026-11-01T00:00:00Z"', "UNEXPECTED_TOKEN"),
        ("steps", 'steps.interval.start_time <= "2026-11-01T00:00:00Z"', "UNEXPECTED_TOKEN"),
        (
            "steps",
            STEPS_FROM + ' OR steps.interval.start_time < "2026-10-01T00:00:00Z"',
            "UNEXPECTED_TOKEN",
        ),
        ("steps", STEPS_FROM + " " + STEPS_FROM, "UNEXPECTED_TOKEN"),
        (
            "heart-rate",
            'heartRate.sample_time.physical_time >= "2026-11-01T00:00:00Z"',
            "DATA_TYPE_RESTRICTION",
        ),
        (
            "steps",
            'distance.interval.start_time >= "2026-11-01T00:00:00Z"',
            "DATA_TYPE_RESTRICTION",
        ),
        (
            "exercise",
            'exercise.interval.start_time >= "2026-11-01T00:00:00Z"',
            "DATA_TYPE_MEMBER",
        ),
        ("sleep", 'sleep.interval.civil_start_time >= "2026-11-01"', "DATA_TYPE_MEMBER"),
        ("steps", 'steps.sample_time.physical_time >= "2026-11-01T00:00:00Z"', "DATA_TYPE_MEMBER"),
        # The ECG filter takes a lower bound only.
        (
            "electrocardiogram",
            'electrocardiogram.interval.start_time < "2026-11-01T00:00:00Z"',
            "UNEXPECTED_TOKEN",
        ),
        (
            "electrocardiogram",
            'electrocardiogram.interval.civil_start_time >= "2026-11-01"',
            "DATA_TYPE_MEMBER",
        ),
        (
            "irregular-rhythm-notification",
            'irregular_rhythm_notification.interval.start_time >= "2026-11-01T00:00:00Z"',
            "DATA_TYPE_MEMBER",
        ),
        (
            "oxygen-saturation",
            'oxygen_saturation.interval.start_time >= "2026-11-01T00:00:00Z"',
            "DATA_TYPE_MEMBER",
        ),
        (
            "active-minutes",
            'activeMinutes.interval.start_time >= "2026-11-01T00:00:00Z"',
            "DATA_TYPE_RESTRICTION",
        ),
    ],
)
def test_filter_errors_carry_the_api_reasons(every_scope_api, data_type, text, reason):
    # ECG and IRN cannot be reconciled at all (no member in ReconciledDataPoint).
    sessions = ("electrocardiogram", "irregular-rhythm-notification")
    for verb in ("",) if data_type in sessions else ("", ":reconcile"):
        response = every_scope_api.list(data_type, verb=verb, filter=text)
        error = error_of(response, 400, "INVALID_DATA_POINT_FILTER")
        assert detailed_reason(error) == "INVALID_DATA_POINT_FILTER_" + reason
        assert error["status"] == "INVALID_ARGUMENT"


def detailed_reason(error: dict) -> str:
    """The ErrorInfo's metadata.detailedReasons, after checking the BadRequest detail."""
    info, bad_request = error["details"]
    assert bad_request == {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [{"field": "filter", "description": error["message"]}],
    }
    return info["metadata"]["detailedReasons"]


def test_a_bad_filter_is_worded_as_the_live_api_words_it(api):
    text = 'exercise.interval.start_time >= "2026-11-01T00:00:00Z"'
    error = error_of(api().list("exercise", filter=text), 400, "INVALID_DATA_POINT_FILTER")
    message = (
        "Filter member 'interval.start_time' is not supported for data type 'exercise'; "
        "supported: interval.civil_start_time."
    )
    assert error == {
        "code": 400,
        "message": message,
        "status": "INVALID_ARGUMENT",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "INVALID_DATA_POINT_FILTER",
                "domain": "health.googleapis.com",
                "metadata": {
                    "service": "health.googleapis.com",
                    "detailedReasons": "INVALID_DATA_POINT_FILTER_DATA_TYPE_MEMBER",
                    "method": "google.devicesandservices.health.v4.DataPointsService"
                    ".ListDataPoints",
                },
            },
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": "filter", "description": message}],
            },
        ],
    }


@pytest.mark.parametrize(
    ("data_type", "text"),
    [
        ("steps", 'steps.interval.start_time >= "2026-11-01"'),
        ("steps", 'steps.interval.civil_start_time >= "2026-11-01T00:00:00Z"'),
        ("steps", 'steps.interval.civil_start_time >= "2026-11-01T00:00"'),
        ("daily-resting-heart-rate", 'daily_resting_heart_rate.date >= "2026-11-01T00:00:00"'),
        ("weight", 'weight.sample_time.physical_time >= "yesterday"'),
    ],
)
def test_literal_that_does_not_fit_its_member_is_invalid_filter_format(api, data_type, text):
    error = error_of(api().list(data_type, filter=text), 400, "INVALID_DATA_POINT_FILTER")
    assert detailed_reason(error) == "INVALID_FILTER_FORMAT"


def counter(points) -> collections.Counter:
    return collections.Counter(map(canonical, points))


def truth(sim, user, data_type, first, last, keep=lambda p: True):
    points = sim.ground_truth(user, data_type, first, last)
    return counter(t["dataPoint"] for t in points if keep(t["dataPoint"]))


def test_civil_day_and_utc_day_differ_for_a_utc_plus_13_user(sim, api):
    """user-2 lives in Pacific/Tongatapu: civil 2026-11-10 is 2026-11-09T11:00Z..11-10T11:00Z."""
    civil = api("user-2").all_points(
        "steps",
        filter=civil_filter("steps", "interval.civil_start_time", "2026-11-10", "2026-11-11"),
        pageSize=10000,
    )
    physical = api("user-2").all_points(
        "steps",
        filter=civil_filter(
            "steps", "interval.start_time", "2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z"
        ),
        pageSize=10000,
    )
    assert counter(civil) == truth(sim, "user-2", "steps", D(2026, 11, 10), D(2026, 11, 10))

    def in_utc_day(point):
        return "2026-11-10T" <= point["steps"]["interval"]["startTime"] < "2026-11-11T"

    expected = truth(sim, "user-2", "steps", D(2026, 11, 10), D(2026, 11, 11), in_utc_day)
    assert counter(physical) == expected
    assert len(civil) > 100
    assert len(physical) > 100
    assert counter(civil) != counter(physical)
    # The UTC day starts at 13:00 civil time on 2026-11-10.
    earliest = min(p["steps"]["interval"]["startTime"] for p in physical)
    assert earliest.startswith("2026-11-10T")
    first = next(p for p in physical if p["steps"]["interval"]["startTime"] == earliest)
    assert first["steps"]["interval"]["civilStartTime"]["date"] == {
        "year": 2026,
        "month": 11,
        "day": 10,
    }
    assert first["steps"]["interval"]["civilStartTime"]["time"]["hours"] >= 13


def test_civil_bounds_with_a_time_of_day(sim, api):
    points = api().all_points(
        "heart-rate",
        filter=civil_filter(
            "heart-rate", "sample_time.civil_time", "2026-11-27T12:00:00", "2026-11-27T12:01:00"
        ),
    )
    times = sorted(p["heartRate"]["sampleTime"]["physicalTime"] for p in points)
    # user-1 is at UTC-5 in late November; one sample every 5 seconds.
    assert times == [f"2026-11-27T17:00:{s:02d}Z" for s in range(0, 60, 5)]


def test_sleep_filters_on_end_time(sim, api):
    by_end = api().all_points(
        "sleep",
        filter=civil_filter(
            "sleep", "interval.end_time", "2026-11-02T05:00:00Z", "2026-11-05T05:00:00Z"
        ),
    )

    def ends_inside(point):
        return "2026-11-02T05:00:00Z" <= point["sleep"]["interval"]["endTime"] < "2026-11-05T05"

    expected = truth(sim, "user-1", "sleep", D(2026, 11, 1), D(2026, 11, 5), ends_inside)
    assert counter(by_end) == expected
    assert len(by_end) >= 3


def test_sleep_accepts_or(sim, api):
    text = (
        civil_filter("sleep", "interval.civil_end_time", "2026-11-02", "2026-11-03")
        + " OR "
        + civil_filter("sleep", "interval.civil_end_time", "2026-11-06", "2026-11-07")
    )
    # AIP-160: OR binds tighter than AND, so a bare `a AND b OR c AND d` is `a AND (b OR c) AND d`.
    assert api().list("sleep", filter=text).status_code == 200
    grouped = "(" + text.replace(" OR ", ") OR (") + ")"
    points = api().all_points("sleep", filter=grouped)
    expected = truth(sim, "user-1", "sleep", D(2026, 11, 2), D(2026, 11, 2)) + truth(
        sim, "user-1", "sleep", D(2026, 11, 6), D(2026, 11, 6)
    )
    assert counter(points) == expected
    assert len(points) >= 3  # 2026-11-06 has a nap as well as the night


def test_or_binds_tighter_than_and(sim, api):
    text = (
        'sleep.interval.civil_end_time >= "2026-11-02" AND '
        'sleep.interval.civil_end_time < "2026-11-03" OR '
        'sleep.interval.civil_end_time >= "2026-11-27"'
    )
    # = from 2026-11-02 AND (before 2026-11-03 OR from 2026-11-27)
    points = api().all_points("sleep", filter=text)
    expected = truth(sim, "user-1", "sleep", D(2026, 11, 2), D(2026, 11, 2)) + truth(
        sim, "user-1", "sleep", D(2026, 11, 27), D(2026, 11, 28)
    )
    assert counter(points) == expected


def civil_start(interval: dict) -> dt.datetime:
    """A session's civil start: its instant plus its UTC offset (sessions carry no civil times)."""
    assert "civilStartTime" not in interval
    start = dt.datetime.fromisoformat(interval["startTime"].replace("Z", "+00:00"))
    offset = dt.timedelta(seconds=float(interval.get("startUtcOffset", "0s")[:-1]))
    return (start + offset).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("bound", "count"),
    [("2026-10-30T09:05:00", 4), ("2026-10-30T09:05:01", 3), ("2026-10-31T19:50:01", 2)],
)
def test_exercise_filters_on_civil_start_time(sim, api, bound, count):
    """user-1 exercises at 2026-10-30 09:05, swims at 10-31 19:50 (their pool day), does
    yoga at 11-03 09:11 and swims at 11-07 19:42 (civil)."""
    points = api().all_points(
        "exercise",
        filter=civil_filter("exercise", "interval.civil_start_time", bound, "2026-11-08"),
    )
    lower = dt.datetime.fromisoformat(bound)

    def starts_inside(point):
        return civil_start(point["exercise"]["interval"]) >= lower

    expected = truth(sim, "user-1", "exercise", D(2026, 10, 30), D(2026, 11, 7), starts_inside)
    assert counter(points) == expected
    assert len(points) == count


def test_daily_types_filter_on_date(sim, api):
    points = api().all_points(
        "daily-resting-heart-rate",
        filter=civil_filter("daily-resting-heart-rate", "date", "2026-11-02", "2026-11-05"),
    )
    assert [p["dailyRestingHeartRate"]["date"]["day"] for p in points] == [4, 3, 2]
    assert counter(points) == truth(
        sim, "user-1", "daily-resting-heart-rate", D(2026, 11, 2), D(2026, 11, 4)
    )


# -- the compiled predicate ---------------------------------------------------------------

FALL_BACK = D(2026, 11, 1)  # user-1 (America/New_York): 01:00-02:00 happens twice


@pytest.mark.parametrize(
    ("data_type", "text"),
    [
        (
            "heart-rate",
            civil_filter(
                "heart-rate", "sample_time.civil_time", "2026-11-01T01:00:00", "2026-11-01T01:30:05"
            ),
        ),
        (
            "heart-rate",
            civil_filter(
                "heart-rate", "sample_time.civil_time", "2026-11-01", "2026-11-01T01:00:00"
            ),
        ),
        (
            "heart-rate",
            civil_filter(
                "heart-rate",
                "sample_time.physical_time",
                "2026-11-01T05:30:00Z",
                "2026-11-01T06:30:00Z",
            ),
        ),
        (
            "steps",
            civil_filter(
                "steps", "interval.civil_start_time", "2026-11-01T01:59:00", "2026-11-01T12:00:00"
            ),
        ),
        (
            "sleep",
            'sleep.interval.civil_end_time >= "2026-11-01T06:00:00" OR '
            'sleep.interval.end_time < "2026-10-31T12:00:00Z"',
        ),
        (
            "sleep",
            '(sleep.interval.civil_end_time >= "2026-10-31" AND '
            'sleep.interval.civil_end_time < "2026-11-02") OR '
            'sleep.interval.civil_end_time >= "2026-11-02T07:00:00"',
        ),
        (
            "daily-resting-heart-rate",
            'daily_resting_heart_rate.date >= "2026-11-01" AND '
            'daily_resting_heart_rate.date < "2026-11-02"',
        ),
    ],
)
def test_compiled_filter_agrees_with_the_filter_tree(sim, data_type, text):
    """`Filter.matches` compares civil times on seconds; `_evaluate` on datetimes: same answers."""
    user = sim.users["user-1"]
    flt = filters.parse_filter(text, DATA_TYPES[data_type], user.zone)
    answers = collections.Counter()
    for day in (FALL_BACK - dt.timedelta(days=1), FALL_BACK, FALL_BACK + dt.timedelta(days=1)):
        for p in points.points_for_day(user, data_type, day, 5):
            expected = filters._evaluate(flt.node, p, user.zone)
            assert flt.matches(p) is expected, (p.point_id, text)
            answers[expected] += 1
    assert answers[True] and answers[False]
