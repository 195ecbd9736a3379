"""Request bodies as proto3 JSON, and the dailyRollUp range as the live API reads it.

A body means what its message would: `null` is the field's default, int32 fields take
numbers written as strings, and a value the parser refuses answers 400 with a
google.rpc.BadRequest naming the field.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.simulator.conftest import check_error, date_json, error_of

D = dt.date
DAY = dt.timedelta(days=1)
ROLLUP = "me/dataTypes/steps/dataPoints:rollUp"
DAILY = "me/dataTypes/steps/dataPoints:dailyRollUp"
HOURS = {"startTime": "2026-11-10T00:00:00Z", "endTime": "2026-11-12T00:00:00Z"}


def daily_range(first: D, end: D, **end_time) -> dict:
    end_json: dict = {"date": date_json(end)}
    if end_time:
        end_json["time"] = end_time
    return {"start": {"date": date_json(first)}, "end": end_json}


@pytest.mark.parametrize(
    "extra",
    [
        {"pageSize": None, "pageToken": None, "dataSourceFamily": None},
        {"pageSize": 0, "pageToken": "", "dataSourceFamily": ""},
        {"pageSize": "0"},
    ],
)
def test_null_and_zero_roll_up_fields_are_their_defaults(api, extra):
    plain = api().post(ROLLUP, {"range": HOURS, "windowSize": "3600s"})
    nulled = api().post(ROLLUP, {"range": HOURS, "windowSize": "3600s", **extra})
    assert plain.status_code == nulled.status_code == 200
    assert nulled.json() == plain.json()
    assert len(plain.json()["rollupDataPoints"]) == 48  # every hour worn


@pytest.mark.parametrize("size", [10, "10", 10.0, "1e1", "10.0"])
def test_roll_up_page_size_as_a_number_or_a_string(api, size):
    body = api().post(ROLLUP, {"range": HOURS, "windowSize": "3600s", "pageSize": size}).json()
    assert len(body["rollupDataPoints"]) == 10
    assert body["nextPageToken"]


def test_daily_roll_up_fields_as_strings_and_nulls(api):
    plain = (
        api()
        .post(DAILY, {"range": daily_range(D(2026, 11, 2), D(2026, 11, 9)), "windowSizeDays": 3})
        .json()
    )
    as_text = {
        "range": {
            "start": {"date": {"year": "2026", "month": "11", "day": "2"}, "time": None},
            "end": {"date": {"year": "2026", "month": "11", "day": "9"}},
        },
        "windowSizeDays": "3",
        "pageSize": None,
        "pageToken": None,
        "dataSourceFamily": None,
    }
    assert api().post(DAILY, as_text).json() == plain
    assert len(plain["rollupDataPoints"]) == 3
    unset_window = api().post(DAILY, {**as_text, "windowSizeDays": None}).json()
    assert len(unset_window["rollupDataPoints"]) == 7  # one window a day by default
    paged = api().post(DAILY, {**as_text, "pageSize": "2"}).json()
    assert paged["rollupDataPoints"] == plain["rollupDataPoints"][:2]
    assert paged["nextPageToken"]


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("pageSize", "ten", "page_size"),
        ("pageSize", 10.5, "page_size"),
        ("pageSize", True, "page_size"),
        ("pageSize", "2147483648", "page_size"),
        ("pageSize", [10], "page_size"),
    ],
)
def test_a_value_the_parser_refuses_names_its_field(api, field, value, path):
    response = api().post(ROLLUP, {"range": HOURS, "windowSize": "3600s", field: value})
    assert response.status_code == 400
    check_error(response)
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    (violation,) = error["details"]  # a BadRequest, no ErrorInfo
    assert violation["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert [v["field"] for v in violation["fieldViolations"]] == [path]


def test_refused_int32_answers_a_bad_request_naming_the_field(api):
    response = api().post(
        DAILY, {"range": daily_range(D(2026, 11, 2), D(2026, 11, 9)), "windowSizeDays": "3.5"}
    )
    assert response.status_code == 400
    message = "Invalid value at 'window_size_days' (TYPE_INT32), \"3.5\""
    assert response.json() == {
        "error": {
            "code": 400,
            "message": message,
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": "window_size_days", "description": message}],
                }
            ],
        }
    }


@pytest.mark.parametrize(
    "body",
    [
        {"range": None, "windowSize": "3600s"},
        {"range": {"startTime": None, "endTime": "2026-11-12T00:00:00Z"}, "windowSize": "3600s"},
        {"range": HOURS, "windowSize": None},
    ],
)
def test_a_required_field_sent_as_null_is_missing(api, body):
    error_of(api().post(ROLLUP, body), 400, None)


def test_a_null_daily_range_is_missing(api):
    error_of(api().post(DAILY, {"range": None}), 400, None)
    error_of(api().post(DAILY, {"range": {"start": None, "end": None}}), 400, None)


# -- the dailyRollUp range -------------------------------------------------------------------


def reconciled_steps(sim, day: D, before_hour: int = 24) -> int:
    """user-1's reconciled steps of a civil day that start before a civil hour."""
    total = 0
    for entry in sim.ground_truth("user-1", "steps", day, day, reconciled=True):
        interval = entry["dataPoint"]["steps"]["interval"]
        if interval["civilStartTime"].get("time", {}).get("hours", 0) < before_hour:
            total += int(entry["dataPoint"]["steps"]["count"])
    return total


def test_windows_come_newest_first_and_the_last_is_cut_short(sim, api):
    body = api().post(
        DAILY, {"range": daily_range(D(2026, 11, 2), D(2026, 11, 9)), "windowSizeDays": 3}
    )
    points = body.json()["rollupDataPoints"]
    assert [(p["civilStartTime"], p["civilEndTime"]) for p in points] == [
        ({"date": date_json(D(2026, 11, 8))}, {"date": date_json(D(2026, 11, 9))}),
        ({"date": date_json(D(2026, 11, 5))}, {"date": date_json(D(2026, 11, 8))}),
        ({"date": date_json(D(2026, 11, 2))}, {"date": date_json(D(2026, 11, 5))}),
    ]
    days = [D(2026, 11, 2) + i * DAY for i in range(7)]
    assert [int(p["steps"]["countSum"]) for p in points] == [
        reconciled_steps(sim, days[6]),
        sum(reconciled_steps(sim, d) for d in days[3:6]),
        sum(reconciled_steps(sim, d) for d in days[0:3]),
    ]


def test_only_the_range_start_must_be_aligned(sim, api):
    """An end with a time of day cuts the last window short there, rather than failing."""
    body = api().post(DAILY, {"range": daily_range(D(2026, 11, 8), D(2026, 11, 10), hours=12)})
    assert body.status_code == 200, body.text
    points = body.json()["rollupDataPoints"]
    assert [(p["civilStartTime"], p["civilEndTime"]) for p in points] == [
        (
            {"date": date_json(D(2026, 11, 10))},
            {"date": date_json(D(2026, 11, 10)), "time": {"hours": 12}},
        ),
        ({"date": date_json(D(2026, 11, 9))}, {"date": date_json(D(2026, 11, 10))}),
        ({"date": date_json(D(2026, 11, 8))}, {"date": date_json(D(2026, 11, 9))}),
    ]
    morning = reconciled_steps(sim, D(2026, 11, 10), before_hour=12)
    assert 0 < morning < reconciled_steps(sim, D(2026, 11, 10))
    assert int(points[0]["steps"]["countSum"]) == morning
    assert int(points[1]["steps"]["countSum"]) == reconciled_steps(sim, D(2026, 11, 9))


@pytest.mark.parametrize("start_time", [{"hours": 6}, {"minutes": 1}, {"nanos": 1000}])
def test_a_range_start_off_the_window_is_refused(api, start_time):
    rng = daily_range(D(2026, 11, 1), D(2026, 11, 3))
    rng["start"]["time"] = start_time
    error_of(api().post(DAILY, {"range": rng}), 400, None)


def test_the_range_cap_counts_the_end_time(api):
    """90 days for steps: an end past midnight of the 90th day is over the cap."""
    at_cap = api().post(DAILY, {"range": daily_range(D(2026, 8, 1), D(2026, 8, 1) + 90 * DAY)})
    assert at_cap.status_code == 200
    over = api().post(
        DAILY, {"range": daily_range(D(2026, 8, 1), D(2026, 8, 1) + 90 * DAY, seconds=1)}
    )
    error_of(over, 400, "INVALID_ROLLUP_QUERY_DURATION")


def test_ranges_far_from_the_data_are_empty_answers(api):
    """The calendar's edges and the largest int32 window answer nothing, never a dropped call."""
    far = {"range": daily_range(D(1, 1, 1), D(1, 1, 31)), "windowSizeDays": 2**31 - 1}
    response = api().post(DAILY, far)
    assert (response.status_code, response.json()) == (200, {})
    late = {"range": daily_range(D(9999, 12, 1), D(9999, 12, 31)), "windowSizeDays": 7}
    response = api().post(DAILY, late)
    assert (response.status_code, response.json()) == (200, {})
    ancient = {"startTime": "0001-01-01T00:00:00Z", "endTime": "0001-01-02T00:00:00Z"}
    response = api().post(ROLLUP, {"range": ancient, "windowSize": "3600s"})
    assert (response.status_code, response.json()) == (200, {})


def test_one_window_longer_than_the_range_covers_the_range(sim, api):
    body = (
        api()
        .post(DAILY, {"range": daily_range(D(2026, 11, 2), D(2026, 11, 5)), "windowSizeDays": 400})
        .json()
    )
    (point,) = body["rollupDataPoints"]
    assert (point["civilStartTime"], point["civilEndTime"]) == (
        {"date": date_json(D(2026, 11, 2))},
        {"date": date_json(D(2026, 11, 5))},
    )
    days = [D(2026, 11, 2), D(2026, 11, 3), D(2026, 11, 4)]
    assert int(point["steps"]["countSum"]) == sum(reconciled_steps(sim, d) for d in days)
