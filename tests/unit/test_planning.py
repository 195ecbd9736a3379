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
    # Types reconcile does not serve are listed in the raw stream (tested below).
    stream = STREAM_RECONCILED if datatypes.spec(data_type).reconcilable else STREAM_RAW
    assert {(c.user_key, c.kind, c.data_type, c.stream) for c in calls} == {
        ("u1", "list", data_type, stream)
    }
    return [(c.start, c.end) for c in calls]


# -- plan_calls: list windows -------------------------------------------------------


def test_window_sizes_come_from_the_densest_cadence():
    # 16 pages of 10,000 points: 111 days at one interval a minute, 9 at one heart-rate
    # sample every 5 s (222 hours, cut to whole days), 555 at one HRV sample every 5 min.
    assert planning.CALL_POINTS == 160_000
    assert planning.WINDOW_HOURS == {
        "steps": 111 * 24,
        "distance": 111 * 24,
        "floors": 111 * 24,
        "active-zone-minutes": 111 * 24,
        "heart-rate": 9 * 24,
        "heart-rate-variability": 555 * 24,
        "daily-resting-heart-rate": 160_000 * 24,
        "daily-heart-rate-zones": 160_000 * 24,
        "daily-heart-rate-variability": 160_000 * 24,
        "daily-oxygen-saturation": 160_000 * 24,
        "daily-respiratory-rate": 160_000 * 24,
        "daily-vo2-max": 160_000 * 24,
        "sleep": 40_000 * 24,
        "exercise": 40_000 * 24,
        "weight": 20_000 * 24,
        "body-fat": 20_000 * 24,
        # One a minute: 111 days.
        "active-energy-burned": 111 * 24,
        "basal-energy-burned": 111 * 24,
        "active-minutes": 111 * 24,
        "activity-level": 111 * 24,
        "sedentary-period": 111 * 24,
        "time-in-heart-rate-zone": 111 * 24,
        "altitude": 111 * 24,
        "swim-lengths-data": 111 * 24,
        "oxygen-saturation": 111 * 24,
        "blood-glucose": 111 * 24,
        "core-body-temperature": 111 * 24,
        # Four a day: 40,000 days; eight: 20,000; 24: 6,666.
        "menstrual-period": 40_000 * 24,
        "respiratory-rate-sleep-summary": 40_000 * 24,
        "run-vo2-max": 40_000 * 24,
        "irregular-rhythm-notification": 40_000 * 24,
        "height": 20_000 * 24,
        "vo2-max": 20_000 * 24,
        "moods": 6_666 * 24,
        "symptoms": 6_666 * 24,
        "ovulation-test": 6_666 * 24,
        "electrocardiogram": 6_666 * 24,
        "daily-sleep-temperature-derivations": 160_000 * 24,
    }


@pytest.mark.parametrize(
    ("max_per_day", "hours"),
    [
        (160_000, 24),  # exactly a day
        (160_001, 23),  # under a day: whole hours
        (864_000, 4),  # a sample every 0.1 s
        (3_840_000, 1),
        (10**9, 1),  # never less than an hour
        (6_666, 576),  # 24 days and a fraction: whole days
    ],
)
def test_window_hours_of_a_cadence(max_per_day, hours):
    spec = datatypes.DataTypeSpec("x", datatypes.Kind.SAMPLE, "s", "m", max_per_day)
    assert planning.window_hours(spec) == hours


def test_total_calories_have_no_list_window():
    with pytest.raises(ValueError, match="'total-calories' cannot be listed"):
        planning.window_hours(datatypes.spec("total-calories"))


@pytest.mark.parametrize(
    "data_type",
    sorted(
        set(planning.WINDOW_HOURS) - {"heart-rate"},
    ),
)
def test_a_90_day_backfill_is_one_call_of_every_type_but_heart_rate(data_type):
    assert windows(data_type, D(2026, 8, 30), D(2026, 11, 27)) == [("2026-08-30", "2026-11-28")]


def test_steps_a_year_is_four_windows_of_111_days_at_most():
    assert windows("steps", D(2026, 1, 1), D(2026, 12, 31)) == [
        ("2026-01-01", "2026-04-22"),
        ("2026-04-22", "2026-08-11"),
        ("2026-08-11", "2026-11-30"),
        ("2026-11-30", "2027-01-01"),
    ]


def test_a_single_day_is_one_window():
    assert windows("steps", D(2026, 11, 28), D(2026, 11, 28)) == [("2026-11-28", "2026-11-29")]
    assert windows("distance", D(2026, 2, 28), D(2026, 2, 28)) == [("2026-02-28", "2026-03-01")]
    assert windows("heart-rate", D(2026, 11, 1), D(2026, 11, 1)) == [("2026-11-01", "2026-11-02")]


def test_heart_rate_is_read_nine_civil_days_at_a_time():
    assert windows("heart-rate", D(2026, 11, 1), D(2026, 11, 30)) == [
        ("2026-11-01", "2026-11-10"),
        ("2026-11-10", "2026-11-19"),
        ("2026-11-19", "2026-11-28"),
        ("2026-11-28", "2026-12-01"),
    ]


def test_windows_are_civil_so_a_dst_day_is_cut_like_any_other():
    # 2026-11-01 is 25 hours long in New York and 2026-03-29 23 hours in London;
    # the plan does not know the user's zone and needs not to.
    assert windows("heart-rate", D(2026, 3, 22), D(2026, 4, 1)) == [
        ("2026-03-22", "2026-03-31"),
        ("2026-03-31", "2026-04-02"),
    ]


def test_heart_rate_variability_reads_555_days_a_call():
    assert windows("heart-rate-variability", D(2025, 1, 1), D(2026, 12, 31)) == [
        ("2025-01-01", "2026-07-10"),
        ("2026-07-10", "2027-01-01"),
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
        "sleep",
        "exercise",
    ],
)
def test_sparse_types_read_any_request_in_one_call(data_type):
    assert windows(data_type, D(2000, 1, 1), D(2026, 11, 28)) == [("2000-01-01", "2026-11-29")]


def test_a_long_window_near_the_end_of_the_calendar_does_not_overflow():
    assert windows("daily-vo2-max", D(9999, 1, 1), D(9999, 12, 30)) == [
        ("9999-01-01", "9999-12-31")
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
    calls = plan_calls(
        FetchRequest("p-17", "heart-rate", D(2026, 11, 1), D(2026, 11, 12), STREAM_RAW)
    )
    assert calls == [
        ApiCall("p-17", "list", "heart-rate", "2026-11-01", "2026-11-10", STREAM_RAW),
        ApiCall("p-17", "list", "heart-rate", "2026-11-10", "2026-11-13", STREAM_RAW),
    ]


def test_an_unknown_type_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown data type 'stepz'"):
        plan_calls(FetchRequest("u1", "stepz", D(2026, 11, 1), D(2026, 11, 1)))


# -- plan_calls: the daily activity summary ---------------------------------------------


def summary(first: dt.date, last: dt.date) -> list[ApiCall]:
    return plan_calls(FetchRequest("u1", "total-calories", first, last))


def test_total_calories_become_summary_calls_of_630_days():
    assert summary(D(2025, 1, 1), D(2026, 12, 31)) == [
        ApiCall("u1", "summary", "daily-activity-summary", "2025-01-01", "2026-09-23"),
        ApiCall("u1", "summary", "daily-activity-summary", "2026-09-23", "2027-01-01"),
    ]


def test_90_days_are_one_summary_call():
    assert summary(D(2026, 8, 30), D(2026, 11, 27)) == [
        ApiCall("u1", "summary", "daily-activity-summary", "2026-08-30", "2026-11-28")
    ]


def test_exactly_630_days_is_one_summary_call_and_631_is_two():
    assert [(c.start, c.end) for c in summary(D(2025, 1, 1), D(2026, 9, 22))] == [
        ("2025-01-01", "2026-09-23")
    ]
    assert [(c.start, c.end) for c in summary(D(2025, 1, 1), D(2026, 9, 23))] == [
        ("2025-01-01", "2026-09-23"),
        ("2026-09-23", "2026-09-24"),
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


def test_summary_calls_span_whole_ranges_of_every_rolled_up_type():
    assert datatypes.SUMMARY_TYPES == (
        "steps",
        "distance",
        "floors",
        "total-calories",
        "active-zone-minutes",
    )
    assert [datatypes.spec(t).rollup_days for t in datatypes.SUMMARY_TYPES] == [90, 90, 90, 14, 90]
    # The least common multiple: a summary call never cuts a type's range short.
    assert datatypes.SUMMARY_DAYS == 630


# -- required_calls ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data_type", "points", "days", "stream", "expected"),
    [
        # Whole pages of 10,000 per user, one call for a user without data.
        ("heart-rate", [1_450_272, 1_434_816, 0], 90, STREAM_RECONCILED, {"reconcile": 291}),
        ("heart-rate", [10_000], 90, STREAM_RECONCILED, {"reconcile": 1}),
        ("heart-rate", [10_001], 90, STREAM_RAW, {"list": 2}),
        ("heart-rate-variability", [7_958, 7_914], 90, STREAM_RAW, {"list": 2}),
        ("daily-vo2-max", [87], 3650, STREAM_RECONCILED, {"reconcile": 1}),
        # Pages of 25 for sleep and exercise.
        ("sleep", [100, 101], 90, STREAM_RAW, {"list": 9}),
        # One TCX export per exercise.
        ("exercise", [25, 0], 90, STREAM_RECONCILED, {"reconcile": 2, "exportExerciseTcx": 25}),
        ("exercise", [0], 90, STREAM_RAW, {"list": 1}),
        # Summary types: one dailyRollUp per 90 days (14 for total calories) per user too.
        ("steps", [19_398, 9_999], 90, STREAM_RECONCILED, {"reconcile": 3, "dailyRollUp": 2}),
        ("floors", [668], 91, STREAM_RAW, {"list": 1, "dailyRollUp": 2}),
        ("total-calories", [0, 0, 0], 90, STREAM_RECONCILED, {"dailyRollUp": 21}),
        ("total-calories", [5], 14, STREAM_RECONCILED, {"dailyRollUp": 1}),
        ("total-calories", [5], 15, STREAM_RECONCILED, {"dailyRollUp": 2}),
        # Nothing to backfill.
        ("steps", [], 90, STREAM_RECONCILED, {}),
        ("steps", [100], 0, STREAM_RECONCILED, {}),
    ],
)
def test_required_calls(data_type, points, days, stream, expected):
    assert planning.required_calls(data_type, points, days, stream) == expected


def test_required_calls_of_exercise_without_tcx():
    assert planning.required_calls("exercise", [22, 26], 90, exercise_tcx=False) == {"reconcile": 3}


def test_required_calls_without_the_summary():
    assert planning.required_calls("steps", [19_398], 90, with_summary=False) == {"reconcile": 2}
    # Total calories are the summary: they always need their rollups.
    assert planning.required_calls("total-calories", [0], 28, with_summary=False) == {
        "dailyRollUp": 2
    }


def test_required_calls_of_an_unknown_type():
    with pytest.raises(ValueError, match="unknown data type 'stepz'"):
        planning.required_calls("stepz", [1], 1)


# -- page boundaries -----------------------------------------------------------------------


def test_only_the_raw_stream_re_reads_page_boundaries():
    assert planning.boundary_rereads(ApiCall("u1", "list", "steps", stream=STREAM_RAW))
    assert not planning.boundary_rereads(ApiCall("u1", "list", "steps", stream=STREAM_RECONCILED))


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
    for data_type in set(planning.WINDOW_HOURS) - {"electrocardiogram"}:
        spec = datatypes.spec(data_type)
        for c in plan_calls(FetchRequest("u1", data_type, D(2026, 11, 1), D(2026, 11, 3))):
            member = f"{spec.filter_name}.{spec.window_member}"
            start, end = c.start, c.end
            if spec.window_member == "date":
                start, end = start[:10], end[:10]
            assert window_filter(c) == f'{member} >= "{start}" AND {member} < "{end}"'


@pytest.mark.parametrize(
    ("data_type", "expected"),
    [
        (
            "irregular-rhythm-notification",
            'irregular_rhythm_notification.interval.civil_start_time >= "2026-11-01" AND '
            'irregular_rhythm_notification.interval.civil_start_time < "2026-11-08"',
        ),
        (
            "menstrual-period",
            'menstrual_period.interval.civil_start_time >= "2026-11-01" AND '
            'menstrual_period.interval.civil_start_time < "2026-11-08"',
        ),
        (
            "oxygen-saturation",
            'oxygen_saturation.sample_time.civil_time >= "2026-11-01" AND '
            'oxygen_saturation.sample_time.civil_time < "2026-11-08"',
        ),
        (
            "daily-sleep-temperature-derivations",
            'daily_sleep_temperature_derivations.date >= "2026-11-01" AND '
            'daily_sleep_temperature_derivations.date < "2026-11-08"',
        ),
        # The API takes only `>=` on an ECG's physical start.
        ("electrocardiogram", 'electrocardiogram.interval.start_time >= "2026-11-01T00:00:00Z"'),
    ],
)
def test_window_filter_of_the_newer_types(data_type, expected):
    assert window_filter(call(data_type, "2026-11-01", "2026-11-08")) == expected


def test_an_ecg_window_within_a_day_is_bounded_below_in_utc():
    c = call("electrocardiogram", "2026-11-01T06:00:00", "2026-11-02")
    assert window_filter(c) == 'electrocardiogram.interval.start_time >= "2026-11-01T06:00:00Z"'
    assert planning.window_end(c) == dt.datetime(2026, 11, 2, tzinfo=dt.UTC)


def test_only_open_ended_list_calls_have_a_window_end():
    assert planning.window_end(call("steps", "2026-11-01", "2026-11-08")) is None
    assert planning.window_end(call("sleep", "2026-11-01", "2026-11-08")) is None
    assert planning.window_end(call("electrocardiogram", "2026-11-01", "2026-11-08")) == (
        dt.datetime(2026, 11, 8, tzinfo=dt.UTC)
    )


def ecg(start: str) -> dict:
    return {"electrocardiogram": {"interval": {"startTime": start, "endTime": start}}}


def test_ecg_windows_keep_each_reading_exactly_once():
    # Twenty-seven years of ECG are two windows of 6,666 days; each asks for every reading
    # from its start on, and keeps only those that start before its end.
    calls = plan_calls(FetchRequest("u1", "electrocardiogram", D(2000, 1, 1), D(2026, 12, 31)))
    assert [(c.start, c.end) for c in calls] == [
        ("2000-01-01", "2018-04-02"),
        ("2018-04-02", "2027-01-01"),
    ]
    assert [window_filter(c) for c in calls] == [
        'electrocardiogram.interval.start_time >= "2000-01-01T00:00:00Z"',
        'electrocardiogram.interval.start_time >= "2018-04-02T00:00:00Z"',
    ]
    readings = [
        "2000-01-01T00:00:00Z",
        "2018-04-01T23:59:59.999999Z",
        "2018-04-02T00:00:00Z",
        "2018-04-01T22:30:00-02:00",  # 2018-04-02T00:30Z
        "2026-12-31T23:59:59Z",
        "2027-01-01T00:00:00Z",  # after the request: in no window
    ]
    kept = []
    for c in calls:
        start = dt.datetime.fromisoformat(window_filter(c).split('"')[1])
        answer = [r for r in readings if dt.datetime.fromisoformat(r) >= start]
        end = planning.window_end(c)
        kept.append([r for r in answer if planning.keeps_point(c.data_type, ecg(r), end)])
    assert kept == [
        ["2000-01-01T00:00:00Z", "2018-04-01T23:59:59.999999Z"],
        ["2018-04-02T00:00:00Z", "2018-04-01T22:30:00-02:00", "2026-12-31T23:59:59Z"],
    ]


@pytest.mark.parametrize(
    "point",
    [
        {},
        {"electrocardiogram": {}},
        {"electrocardiogram": {"interval": {}}},
        {"electrocardiogram": {"interval": {"startTime": "noon"}}},
        {"electrocardiogram": {"interval": {"startTime": "2027-01-01T00:00:00"}}},
        {"electrocardiogram": "x"},
    ],
)
def test_a_reading_without_a_readable_start_is_kept_for_the_rows_step(point):
    end = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    assert planning.keeps_point("electrocardiogram", point, end) is True


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


# -- types without a reconciled form --------------------------------------------------------


@pytest.mark.parametrize(
    "data_type",
    [
        "electrocardiogram",
        "irregular-rhythm-notification",
        "menstrual-period",
        "moods",
        "symptoms",
        "ovulation-test",
    ],
)
def test_a_type_reconcile_does_not_serve_is_listed_in_the_raw_stream(data_type):
    request = FetchRequest("u1", data_type, D(2026, 11, 1), D(2026, 11, 3), STREAM_RECONCILED)
    assert {c.stream for c in plan_calls(request)} == {STREAM_RAW}
    assert planning.required_calls(data_type, [3], 3, STREAM_RECONCILED) == {"list": 1}


def test_a_reconcilable_type_keeps_the_stream_asked_for():
    for stream in (STREAM_RAW, STREAM_RECONCILED):
        request = FetchRequest("u1", "oxygen-saturation", D(2026, 11, 1), D(2026, 11, 3), stream)
        assert {c.stream for c in plan_calls(request)} == {stream}
