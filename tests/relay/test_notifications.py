"""Notifications -> request messages (relay/notifications.py): dates, runs, the cap, extremes."""

from __future__ import annotations

import datetime as dt

import pytest

from healthapi.elements import FetchRequest
from healthapi.messages import parse_request
from relay.app import Reply
from relay.notifications import (
    MAX_DATE,
    MAX_MESSAGES,
    MIN_DATE,
    BadNotification,
    fitbeam_data_type,
    interval_dates,
    merged_spans,
    notification_messages,
    parse_notification,
    split_span,
)
from simulator import webhooks
from tests.relay.helpers import (
    FIVE_MINUTES,
    HEALTH_ID,
    NOW,
    NY,
    TOPIC,
    civil,
    payload,
    post,
    range_message,
    steps_message,
    utc,
)


def test_a_five_minute_interval_becomes_that_civil_date(app, publisher):
    body = payload([civil("2026-11-20T17:29:00", "2026-11-20T17:34:00")])
    assert post(app, body) == Reply(204)
    assert publisher.published == [
        (
            TOPIC,
            b'{"data_types":["steps"],"date":"2026-11-20","user_id":"user-1"}',
            {"user_id": "user-1", "origin": "relay", "operation": "UPSERT"},
        )
    ]


def test_an_interval_across_midnight_covers_both_dates(app, publisher):
    body = payload([civil("2026-11-20T23:50:00", "2026-11-21T00:10:00")], data_type="heart-rate")
    assert post(app, body).status == 204
    assert [data for _, data, _ in publisher.published] == [
        b'{"data_types":["heart-rate"],"end_date":"2026-11-21",'
        b'"start_date":"2026-11-20","user_id":"user-1"}'
    ]


def test_the_earlier_flat_shape_is_read(app, publisher):
    body = payload(
        None,
        civilIso8601TimeInterval={
            "startTime": "2026-11-20T17:29:00",
            "endTime": "2026-11-20T17:34:00",
        },
    )
    assert "intervals" not in body["data"]
    assert post(app, body).status == 204
    assert [data for _, data, _ in publisher.published] == [steps_message("2026-11-20")]


def test_a_delete_is_relayed_as_the_same_reload(app, publisher):
    body = payload([civil("2026-11-20T17:29:00", "2026-11-20T17:34:00")], operation="DELETE")
    assert post(app, body).status == 204
    assert publisher.published == [
        (
            TOPIC,
            steps_message("2026-11-20"),
            {"user_id": "user-1", "origin": "relay", "operation": "DELETE"},
        )
    ]


def test_the_emitters_full_payload_is_read_from_its_civil_interval(app, publisher):
    # 22:29Z is 17:29 in New York (UTC-5): the physical date would say the same
    # here, so take an instant where it does not: 03:10Z on the 21st is the 20th.
    interval = webhooks.Interval(utc("2026-11-21T03:10:00"), utc("2026-11-21T03:15:00"), NY)
    body = webhooks.notification_payload(HEALTH_ID, "steps", "UPSERT", [interval], "sub")
    assert body["data"]["intervals"][0]["civilIso8601TimeInterval"] == {
        "startTime": "2026-11-20T22:10:00",
        "endTime": "2026-11-20T22:15:00",
    }
    assert post(app, body).status == 204
    assert [data for _, data, _ in publisher.published] == [steps_message("2026-11-20")]


def test_intervals_merge_into_runs_of_consecutive_days(app, publisher):
    body = payload(
        [
            civil("2026-11-25T08:00:00", "2026-11-25T09:00:00"),
            civil("2026-11-20T08:00:00", "2026-11-20T09:00:00"),
            civil("2026-11-21T23:00:00", "2026-11-22T00:00:00"),  # ends at midnight: the 21st
            civil("2026-11-20T10:00:00", "2026-11-20T11:00:00"),
        ]
    )
    assert post(app, body).status == 204
    assert [data for _, data, _ in publisher.published] == [
        b'{"data_types":["steps"],"end_date":"2026-11-21","start_date":"2026-11-20",'
        b'"user_id":"user-1"}',
        steps_message("2026-11-25"),
    ]


@pytest.mark.parametrize(
    ("interval", "dates"),
    [
        (civil("2026-11-20T17:29:00", "2026-11-20T17:34:00"), ("2026-11-20", "2026-11-20")),
        (civil("2026-11-20T17:29:00.250", "2026-11-20T17:34:00"), ("2026-11-20", "2026-11-20")),
        (civil("2026-11-20T23:50:00", "2026-11-21T00:10:00"), ("2026-11-20", "2026-11-21")),
        (civil("2026-11-20T00:00:00", "2026-11-21T00:00:00"), ("2026-11-20", "2026-11-20")),
        (civil("2026-11-21T00:00:00", "2026-11-21T00:00:00"), ("2026-11-21", "2026-11-21")),
        (
            {
                "civilDateTimeInterval": {
                    "startDateTime": {"date": {"year": 2026, "month": 11, "day": 20}},
                    "endDateTime": {
                        "date": {"year": 2026, "month": 11, "day": 21},
                        "time": {"minutes": 10},
                    },
                }
            },
            ("2026-11-20", "2026-11-21"),
        ),
        # Only UTC: every civil date the span has in any zone (-12:00 .. +14:00).
        (
            {
                "physicalTimeInterval": {
                    "startTime": "2026-11-20T10:00:00Z",
                    "endTime": "2026-11-20T10:05:00Z",
                }
            },
            ("2026-11-19", "2026-11-21"),
        ),
        (
            {
                "physicalTimeInterval": {
                    "startTime": "2026-11-20T12:00:00Z",
                    "endTime": "2026-11-20T09:59:00Z",
                }
            },
            None,
        ),
        # The civil form wins over the physical one.
        (
            {
                "physicalTimeInterval": {
                    "startTime": "2026-11-20T22:29:00Z",
                    "endTime": "2026-11-20T22:34:00Z",
                },
                **civil("2026-11-20T17:29:00", "2026-11-20T17:34:00"),
            },
            ("2026-11-20", "2026-11-20"),
        ),
    ],
)
def test_interval_dates(interval, dates):
    if dates is None:
        with pytest.raises(BadNotification, match="ends before it starts"):
            interval_dates(interval)
        return
    first, last = map(dt.date.fromisoformat, dates)
    assert interval_dates(interval) == (first, last)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("steps", "steps"),
        ("heart-rate", "heart-rate"),
        ("heartRate", "heart-rate"),
        ("heart_rate", "heart-rate"),
        ("HEART_RATE", "heart-rate"),
        ("users/7108215177813058725/dataTypes/heart-rate", "heart-rate"),
        ("dailyRestingHeartRate", "daily-resting-heart-rate"),
        ("daily-vo2-max", "daily-vo2-max"),
        ("altitude", "altitude"),
        ("activeMinutes", "active-minutes"),
        # Write-only today (no read scope): fitbeam loads no nutrition type.
        ("hydration-log", None),
        ("nutritionLog", None),
        ("", None),
    ],
)
def test_fitbeam_data_type(name, expected):
    assert fitbeam_data_type(name) == expected


def test_spans_merge_when_they_overlap_or_touch_and_split_at_the_range_limit():
    d = dt.date.fromisoformat
    spans = [
        (d("2026-01-05"), d("2026-01-12")),
        (d("2026-01-01"), d("2026-01-10")),
        (d("2026-01-13"), d("2026-01-13")),
        (d("2026-01-15"), d("2026-01-15")),
    ]
    assert merged_spans(spans) == [
        (d("2026-01-01"), d("2026-01-13")),
        (d("2026-01-15"), d("2026-01-15")),
    ]
    assert split_span(d("2026-01-01"), d("2026-01-13"), 5) == [
        (d("2026-01-01"), d("2026-01-05")),
        (d("2026-01-06"), d("2026-01-10")),
        (d("2026-01-11"), d("2026-01-13")),
    ]


def test_a_range_longer_than_a_message_may_ask_for_becomes_several_messages():
    notification = parse_notification(
        payload([civil("2026-01-01T08:00:00", "2026-01-13T09:00:00")])
    )
    assert notification_messages(notification, "user-1", "steps", NOW.date(), 5) == [
        b'{"data_types":["steps"],"end_date":"2026-01-05","start_date":"2026-01-01",'
        b'"user_id":"user-1"}',
        b'{"data_types":["steps"],"end_date":"2026-01-10","start_date":"2026-01-06",'
        b'"user_id":"user-1"}',
        b'{"data_types":["steps"],"end_date":"2026-01-13","start_date":"2026-01-11",'
        b'"user_id":"user-1"}',
    ]


def test_every_message_parses_cleanly_with_the_request_parser():
    notification = parse_notification(
        payload(
            [
                civil("2026-11-20T23:50:00", "2026-11-21T00:10:00"),
                civil("2026-11-27T06:00:00", "2026-11-27T07:00:00"),
            ],
            data_type="sleep",
        )
    )
    messages = notification_messages(notification, "user-1", "sleep", NOW.date())
    parsed = [parse_request(m, NOW.date()) for m in messages]
    d = dt.date.fromisoformat
    assert parsed == [
        [FetchRequest("user-1", "sleep", d("2026-11-20"), d("2026-11-21"), "reconciled")],
        [FetchRequest("user-1", "sleep", d("2026-11-27"), d("2026-11-27"), "reconciled")],
    ]


# --- the cap: a bounded number of messages per notification ------------------------------


def days_apart(last: dt.date, count: int, step: int) -> list[dt.date]:
    """`count` dates ending at `last`, `step` days apart, oldest first."""
    return [last - dt.timedelta(days=step * i) for i in reversed(range(count))]


def one_hour_each(days: list[dt.date]) -> list[dict]:
    return [civil(f"{d}T08:00:00", f"{d}T09:00:00") for d in days]


def test_1500_separate_days_become_the_covering_range_in_nine_messages(app, publisher):
    days = days_apart(dt.date(2026, 11, 26), 1500, step=2)  # every other day: 1,500 runs
    assert (days[0], len(merged_spans((d, d) for d in days))) == (dt.date(2018, 9, 11), 1500)
    assert post(app, payload(one_hour_each(days))) == Reply(204)
    assert [data for _, data, _ in publisher.published] == [
        range_message("2018-09-11", "2019-09-11"),
        range_message("2019-09-12", "2020-09-11"),
        range_message("2020-09-12", "2021-09-12"),
        range_message("2021-09-13", "2022-09-13"),
        range_message("2022-09-14", "2023-09-14"),
        range_message("2023-09-15", "2024-09-14"),
        range_message("2024-09-15", "2025-09-15"),
        range_message("2025-09-16", "2026-09-16"),
        range_message("2026-09-17", "2026-11-26"),
    ]


def test_1500_adjacent_days_merge_into_one_run(app, publisher):
    days = days_apart(dt.date(2026, 11, 26), 1500, step=1)
    assert post(app, payload(one_hour_each(days))) == Reply(204)
    assert [data for _, data, _ in publisher.published] == [
        range_message("2022-10-19", "2023-10-19"),
        range_message("2023-10-20", "2024-10-19"),
        range_message("2024-10-20", "2025-10-20"),
        range_message("2025-10-21", "2026-10-21"),
        range_message("2026-10-22", "2026-11-26"),
    ]


def test_up_to_the_cap_each_run_is_its_own_message_and_past_it_one_range():
    days = days_apart(dt.date(2026, 11, 26), 17, step=2)  # 2026-10-25, 10-27, ..., 11-26
    sixteen = parse_notification(payload(one_hour_each(days[1:])))
    seventeen = parse_notification(payload(one_hour_each(days)))
    assert MAX_MESSAGES == 16
    assert notification_messages(sixteen, "user-1", "steps", NOW.date()) == [
        steps_message(str(d)) for d in days[1:]
    ]
    assert notification_messages(seventeen, "user-1", "steps", NOW.date()) == [
        range_message("2026-10-25", "2026-11-26")
    ]


def test_past_the_cap_a_covering_range_over_ten_years_is_refused():
    days = [dt.date(2000, 1, 1), *days_apart(dt.date(2026, 11, 26), 16, step=2)]
    notification = parse_notification(payload(one_hour_each(days)))
    with pytest.raises(BadNotification, match="the 9827 days from 2000-01-01 to 2026-11-26") as bad:
        notification_messages(notification, "user-1", "steps", NOW.date())
    assert bad.value.reason == "too_many_days"


# --- extreme dates: 400, never 500 ---------------------------------------------------------


def civil_message(year, month=1, day=1, hours=0) -> dict:
    return {"date": {"year": year, "month": month, "day": day}, "time": {"hours": hours}}


def civil_interval(start: dict, end: dict) -> dict:
    return {"civilDateTimeInterval": {"startDateTime": start, "endDateTime": end}}


def physical(start: str, end: str) -> dict:
    return {"physicalTimeInterval": {"startTime": start, "endTime": end}}


@pytest.mark.parametrize(
    ("interval", "reason"),
    [
        (civil("0001-01-01T00:00:00", "0001-01-02T00:00:00"), "date_out_of_range"),
        (civil("9999-12-31T00:00:00", "9999-12-31T01:00:00"), "date_out_of_range"),
        (civil("2026-11-20T00:00:00", "9999-12-31T23:59:59"), "date_out_of_range"),
        (physical("0001-01-01T00:00:00Z", "0001-01-01T00:05:00Z"), "date_out_of_range"),
        (physical("0001-01-01T00:30:00+01:00", "2026-11-20T00:00:00Z"), "date_out_of_range"),
        (physical("9999-12-31T23:00:00Z", "9999-12-31T23:59:59Z"), "date_out_of_range"),
        (physical("2026-11-20T00:00:00Z", "9999-12-31T23:59:59-12:00"), "date_out_of_range"),
        (civil_interval(civil_message(1), civil_message(1, day=2)), "date_out_of_range"),
        (civil_interval(civil_message(9999), civil_message(9999)), "date_out_of_range"),
        (civil_interval(civil_message(10**300), civil_message(2026)), "date_out_of_range"),
        (civil_interval(civil_message("-5"), civil_message(2026)), "date_out_of_range"),
        (civil_interval(civil_message(1e300), civil_message(2026)), "bad_interval"),
        (civil_interval(civil_message(float("inf")), civil_message(2026)), "bad_interval"),
        (civil_interval(civil_message(True), civil_message(2026)), "bad_interval"),
        (civil_interval(civil_message(2026, hours=10**20), civil_message(2026)), "bad_interval"),
        (civil_interval(civil_message(2026, month=13), civil_message(2026)), "bad_interval"),
        (civil("2030-01-01T00:00:00", "2030-01-01T01:00:00"), "request_future_date"),
    ],
)
def test_an_extreme_date_is_a_400_with_its_reason(app, publisher, interval, reason):
    assert post(app, payload([interval])) == Reply(400, f"bad notification: {reason}\n".encode())
    assert publisher.published == []


def test_the_earliest_and_latest_dates_read_are_the_documented_ones():
    assert (dt.date(1970, 1, 1), dt.date(9998, 12, 31)) == (MIN_DATE, MAX_DATE)
    assert interval_dates(civil("1970-01-01T00:00:00", "1970-01-01T00:01:00")) == (
        MIN_DATE,
        MIN_DATE,
    )
    with pytest.raises(BadNotification, match=r"is on 1969-12-31, outside 1970-01-01\.\."):
        interval_dates(civil("1969-12-31T23:59:00", "1970-01-01T00:01:00"))
    # Spans at the very end of what a date can hold merge and split without overflowing.
    end = dt.date(9999, 12, 31)
    assert merged_spans([(end, end), (end - dt.timedelta(days=1), end)]) == [
        (end - dt.timedelta(days=1), end)
    ]
    assert split_span(end - dt.timedelta(days=2), end, 2) == [
        (end - dt.timedelta(days=2), end - dt.timedelta(days=1)),
        (end, end),
    ]


# --- operations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "attributes"),
    [
        ("UPSERT", {"user_id": "user-1", "origin": "relay", "operation": "UPSERT"}),
        ("DELETE", {"user_id": "user-1", "origin": "relay", "operation": "DELETE"}),
        ("upsert", {"user_id": "user-1", "origin": "relay"}),
        ("MERGE", {"user_id": "user-1", "origin": "relay"}),
        ("UPSERT\nINFO relay: forged", {"user_id": "user-1", "origin": "relay"}),
        ("", {"user_id": "user-1", "origin": "relay"}),
    ],
)
def test_only_known_operations_become_message_attributes(app, publisher, operation, attributes):
    assert post(app, payload([FIVE_MINUTES], operation=operation)) == Reply(204)
    assert publisher.published == [(TOPIC, steps_message("2026-11-20"), attributes)]
