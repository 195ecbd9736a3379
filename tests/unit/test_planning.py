"""healthapi.planning: requests -> civil windows, summary chunks and filters, exactly."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from healthapi import datatypes, planning
from healthapi.elements import STREAM_RAW, STREAM_RECONCILED, ApiCall, FetchRequest
from healthapi.planning import civil_text, plan_calls, tie_filter, window_filter

D = dt.date


def windows(data_type: str, first: dt.date, last: dt.date) -> list[tuple[str, str]]:
    calls = plan_calls(FetchRequest("u1", data_type, first, last))
    assert {(c.user_key, c.kind, c.data_type, c.stream) for c in calls} == {
        ("u1", "list", data_type, STREAM_RECONCILED)
    }
    return [(c.start, c.end) for c in calls]


# -- plan_calls: list windows -------------------------------------------------------


def test_steps_one_week_is_three_three_day_windows():
    assert windows("steps", D(2026, 11, 1), D(2026, 11, 7)) == [
        ("2026-11-01", "2026-11-04"),
        ("2026-11-04", "2026-11-07"),
        ("2026-11-07", "2026-11-08"),
    ]


def test_a_single_day_is_one_window():
    assert windows("steps", D(2026, 11, 28), D(2026, 11, 28)) == [("2026-11-28", "2026-11-29")]
    assert windows("distance", D(2026, 2, 28), D(2026, 2, 28)) == [("2026-02-28", "2026-03-01")]


def test_heart_rate_is_read_six_civil_hours_at_a_time():
    assert windows("heart-rate", D(2026, 11, 1), D(2026, 11, 2)) == [
        ("2026-11-01", "2026-11-01T06:00:00"),
        ("2026-11-01T06:00:00", "2026-11-01T12:00:00"),
        ("2026-11-01T12:00:00", "2026-11-01T18:00:00"),
        ("2026-11-01T18:00:00", "2026-11-02"),
        ("2026-11-02", "2026-11-02T06:00:00"),
        ("2026-11-02T06:00:00", "2026-11-02T12:00:00"),
        ("2026-11-02T12:00:00", "2026-11-02T18:00:00"),
        ("2026-11-02T18:00:00", "2026-11-03"),
    ]


def test_windows_are_civil_so_a_dst_day_is_cut_like_any_other():
    # 2026-11-01 is 25 hours long in New York and 2026-03-29 23 hours in London;
    # the plan does not know the user's zone and needs not to.
    assert windows("heart-rate", D(2026, 3, 29), D(2026, 3, 29)) == [
        ("2026-03-29", "2026-03-29T06:00:00"),
        ("2026-03-29T06:00:00", "2026-03-29T12:00:00"),
        ("2026-03-29T12:00:00", "2026-03-29T18:00:00"),
        ("2026-03-29T18:00:00", "2026-03-30"),
    ]


def test_floors_one_month_windows_cross_a_month_end():
    assert windows("floors", D(2026, 1, 15), D(2026, 3, 20)) == [
        ("2026-01-15", "2026-02-15"),
        ("2026-02-15", "2026-03-18"),
        ("2026-03-18", "2026-03-21"),
    ]


@pytest.mark.parametrize("data_type", ["sleep", "exercise", "active-zone-minutes"])
def test_weekly_types(data_type):
    assert windows(data_type, D(2026, 12, 20), D(2027, 1, 5)) == [
        ("2026-12-20", "2026-12-27"),
        ("2026-12-27", "2027-01-03"),
        ("2027-01-03", "2027-01-06"),
    ]


def test_heart_rate_variability_is_weekly():
    assert windows("heart-rate-variability", D(2026, 11, 1), D(2026, 11, 14)) == [
        ("2026-11-01", "2026-11-08"),
        ("2026-11-08", "2026-11-15"),
    ]


@pytest.mark.parametrize(
    "data_type",
    [
        "daily-resting-heart-rate",
        "daily-heart-rate-zones",
        "daily-heart-rate-variability",
        "daily-oxygen-saturation",
        "daily-respiratory-rate",
        "daily-vo2-max",
        "weight",
        "body-fat",
    ],
)
def test_sparse_types_are_read_366_days_at_a_time(data_type):
    assert windows(data_type, D(2024, 1, 1), D(2026, 11, 28)) == [
        ("2024-01-01", "2025-01-01"),  # 2024 is a leap year: 366 days
        ("2025-01-01", "2026-01-02"),
        ("2026-01-02", "2026-11-29"),
    ]


def test_windows_tile_the_range_without_gap_or_overlap():
    for data_type in planning.WINDOW_HOURS:
        calls = plan_calls(FetchRequest("u1", data_type, D(2025, 12, 30), D(2026, 3, 2)))
        assert calls[0].start == "2025-12-30"
        assert calls[-1].end == "2026-03-03"
        for before, after in itertools.pairwise(calls):
            assert before.end == after.start
        assert len(calls) == -(-63 * 24 // planning.WINDOW_HOURS[data_type])


def test_every_listed_type_has_a_window_size():
    listed = {n for n, s in datatypes.SPECS.items() if s.kind is not datatypes.Kind.ROLLUP_ONLY}
    assert set(planning.WINDOW_HOURS) == listed


def test_an_empty_range_plans_nothing():
    assert plan_calls(FetchRequest("u1", "steps", D(2026, 11, 2), D(2026, 11, 1))) == []
    assert plan_calls(FetchRequest("u1", "total-calories", D(2026, 11, 2), D(2026, 11, 1))) == []


def test_the_stream_and_user_are_carried_into_every_call():
    calls = plan_calls(FetchRequest("p-17", "steps", D(2026, 11, 1), D(2026, 11, 4), STREAM_RAW))
    assert calls == [
        ApiCall("p-17", "list", "steps", "2026-11-01", "2026-11-04", STREAM_RAW),
        ApiCall("p-17", "list", "steps", "2026-11-04", "2026-11-05", STREAM_RAW),
    ]


def test_an_unknown_type_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown data type 'stepz'"):
        plan_calls(FetchRequest("u1", "stepz", D(2026, 11, 1), D(2026, 11, 1)))


# -- plan_calls: the daily activity summary ---------------------------------------------


def summary(first: dt.date, last: dt.date) -> list[ApiCall]:
    return plan_calls(FetchRequest("u1", "total-calories", first, last))


def test_total_calories_become_summary_calls_of_14_days():
    assert summary(D(2026, 11, 1), D(2026, 11, 30)) == [
        ApiCall("u1", "summary", "daily-activity-summary", "2026-11-01", "2026-11-15"),
        ApiCall("u1", "summary", "daily-activity-summary", "2026-11-15", "2026-11-29"),
        ApiCall("u1", "summary", "daily-activity-summary", "2026-11-29", "2026-12-01"),
    ]


def test_exactly_14_days_is_one_summary_call_and_15_is_two():
    assert [(c.start, c.end) for c in summary(D(2026, 11, 1), D(2026, 11, 14))] == [
        ("2026-11-01", "2026-11-15")
    ]
    assert [(c.start, c.end) for c in summary(D(2026, 11, 1), D(2026, 11, 15))] == [
        ("2026-11-01", "2026-11-15"),
        ("2026-11-15", "2026-11-16"),
    ]


def test_one_summary_day():
    assert [(c.start, c.end) for c in summary(D(2026, 12, 31), D(2026, 12, 31))] == [
        ("2026-12-31", "2027-01-01")
    ]


def test_summary_calls_keep_the_stream():
    calls = plan_calls(
        FetchRequest("u1", "total-calories", D(2026, 11, 1), D(2026, 11, 2), STREAM_RAW)
    )
    assert [c.stream for c in calls] == [STREAM_RAW]


def test_summary_covers_the_rolled_up_types_in_chunks_the_api_allows():
    assert datatypes.SUMMARY_TYPES == (
        "steps",
        "distance",
        "floors",
        "total-calories",
        "active-zone-minutes",
    )
    assert datatypes.SUMMARY_DAYS == 14
    # The tightest rollup cap among them (total-calories) sets the chunk.
    assert min(datatypes.spec(t).rollup_days for t in datatypes.SUMMARY_TYPES) == 14


# -- civil_text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (dt.datetime(2026, 11, 1), "2026-11-01"),
        (dt.datetime(2026, 11, 1, 6), "2026-11-01T06:00:00"),
        (dt.datetime(2026, 11, 1, 0, 0, 1), "2026-11-01T00:00:01"),
        (dt.datetime(2026, 11, 1, 23, 59, 59), "2026-11-01T23:59:59"),
        (dt.datetime(2026, 11, 1, 0, 30), "2026-11-01T00:30:00"),
        (dt.datetime(1999, 1, 2, 3, 4, 5), "1999-01-02T03:04:05"),
    ],
)
def test_civil_text(moment, text):
    assert civil_text(moment) == text


# -- window_filter ------------------------------------------------------------------------


def call(data_type: str, start: str, end: str) -> ApiCall:
    return ApiCall("u1", "list", data_type, start, end)


@pytest.mark.parametrize(
    ("data_type", "start", "end", "expected"),
    [
        (
            "steps",
            "2026-11-01",
            "2026-11-04",
            'steps.interval.civil_start_time >= "2026-11-01" AND '
            'steps.interval.civil_start_time < "2026-11-04"',
        ),
        (
            "active-zone-minutes",
            "2026-11-01",
            "2026-11-08",
            'active_zone_minutes.interval.civil_start_time >= "2026-11-01" AND '
            'active_zone_minutes.interval.civil_start_time < "2026-11-08"',
        ),
        (
            "heart-rate",
            "2026-11-01T06:00:00",
            "2026-11-01T12:00:00",
            'heart_rate.sample_time.civil_time >= "2026-11-01T06:00:00" AND '
            'heart_rate.sample_time.civil_time < "2026-11-01T12:00:00"',
        ),
        (
            "heart-rate",
            "2026-11-01T18:00:00",
            "2026-11-02",
            'heart_rate.sample_time.civil_time >= "2026-11-01T18:00:00" AND '
            'heart_rate.sample_time.civil_time < "2026-11-02"',
        ),
        (
            "weight",
            "2025-01-01",
            "2026-01-02",
            'weight.sample_time.civil_time >= "2025-01-01" AND '
            'weight.sample_time.civil_time < "2026-01-02"',
        ),
        (
            "daily-resting-heart-rate",
            "2025-01-01",
            "2026-01-02",
            'daily_resting_heart_rate.date >= "2025-01-01" AND '
            'daily_resting_heart_rate.date < "2026-01-02"',
        ),
        (
            "daily-vo2-max",
            "2026-11-01T00:00:00",
            "2026-11-02T00:00:00",
            'daily_vo2_max.date >= "2026-11-01" AND daily_vo2_max.date < "2026-11-02"',
        ),
        (
            "sleep",
            "2026-11-01",
            "2026-11-08",
            'sleep.interval.civil_end_time >= "2026-11-01" AND '
            'sleep.interval.civil_end_time < "2026-11-08"',
        ),
        (
            "exercise",
            "2026-11-01",
            "2026-11-08",
            'exercise.interval.civil_start_time >= "2026-11-01" AND '
            'exercise.interval.civil_start_time < "2026-11-08"',
        ),
    ],
)
def test_window_filter(data_type, start, end, expected):
    assert window_filter(call(data_type, start, end)) == expected


def test_every_planned_window_has_a_filter_on_its_types_member():
    for data_type in planning.WINDOW_HOURS:
        spec = datatypes.spec(data_type)
        for c in plan_calls(FetchRequest("u1", data_type, D(2026, 11, 1), D(2026, 11, 3))):
            member = f"{spec.filter_name}.{spec.window_member}"
            start, end = c.start, c.end
            if spec.window_member == "date":
                start, end = start[:10], end[:10]
            assert window_filter(c) == f'{member} >= "{start}" AND {member} < "{end}"'


# -- tie_filter ---------------------------------------------------------------------------


def test_tie_filter_for_an_interval_point():
    point = {"steps": {"interval": {"startTime": "2026-11-20T02:03:00Z"}, "count": "57"}}
    assert tie_filter("steps", point) == (
        'steps.interval.start_time >= "2026-11-20T02:03:00Z" AND '
        'steps.interval.start_time < "2026-11-20T02:03:01Z"'
    )


def test_tie_filter_for_a_sample_point_with_a_fraction():
    point = {"heartRate": {"sampleTime": {"physicalTime": "2026-11-20T02:03:05.600Z"}}}
    assert tie_filter("heart-rate", point) == (
        'heart_rate.sample_time.physical_time >= "2026-11-20T02:03:05.600Z" AND '
        'heart_rate.sample_time.physical_time < "2026-11-20T02:03:06Z"'
    )


def test_tie_filter_crosses_midnight_and_the_year():
    point = {"weight": {"sampleTime": {"physicalTime": "2026-12-31T23:59:59Z"}}}
    assert tie_filter("weight", point) == (
        'weight.sample_time.physical_time >= "2026-12-31T23:59:59Z" AND '
        'weight.sample_time.physical_time < "2027-01-01T00:00:00Z"'
    )


def test_tie_filter_for_a_daily_point_is_its_date():
    point = {"dailyRestingHeartRate": {"date": {"year": 2026, "month": 11, "day": 30}}}
    assert tie_filter("daily-resting-heart-rate", point) == (
        'daily_resting_heart_rate.date >= "2026-11-30" AND '
        'daily_resting_heart_rate.date < "2026-12-01"'
    )


def test_tie_filter_reads_reconciled_points_too():
    point = {
        "dataPointName": "users/me/dataTypes/distance/dataPoints/x",
        "distance": {"interval": {"startTime": "2026-11-20T02:03:00Z"}},
    }
    assert tie_filter("distance", point) == (
        'distance.interval.start_time >= "2026-11-20T02:03:00Z" AND '
        'distance.interval.start_time < "2026-11-20T02:03:01Z"'
    )


@pytest.mark.parametrize(
    ("data_type", "point"),
    [
        ("sleep", {"sleep": {"interval": {"startTime": "2026-11-20T02:03:00Z"}}}),
        ("exercise", {"exercise": {"interval": {"startTime": "2026-11-20T02:03:00Z"}}}),
        ("steps", {"steps": {"count": "5"}}),
        ("steps", {}),
        ("heart-rate", {"heartRate": {"sampleTime": {}}}),
        ("daily-vo2-max", {"dailyVo2Max": {"date": {"year": 2026, "month": 2, "day": 30}}}),
        ("daily-vo2-max", {"dailyVo2Max": {"date": {"year": 2026, "month": 2}}}),
        ("daily-vo2-max", {"dailyVo2Max": {}}),
        ("daily-vo2-max", {"dailyVo2Max": {"date": "2026-02-01"}}),
    ],
)
def test_no_tie_filter_for_sessions_or_points_without_a_timestamp(data_type, point):
    assert tie_filter(data_type, point) is None
