"""The request message contract: good messages, and the catalogue of bad ones."""

from __future__ import annotations

import datetime as dt
import json

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from healthapi import datatypes
from healthapi.elements import FetchRequest
from healthapi.messages import (
    MAX_MESSAGE_BYTES,
    REASONS,
    BadRequest,
    parse_request,
    request_message,
    shown_message,
)
from transforms.requests import ParseRequests
from transforms.requests import _ParseRequestsFn as ParseRequestsFn

TODAY = dt.date(2026, 11, 28)
D = dt.date.fromisoformat
USER_KEY_RULE = (
    "use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit, "
    "e.g. 'participant-017'"
)
SUPPORTED = ", ".join(datatypes.SPECS)


def msg(**fields) -> bytes:
    return json.dumps(fields).encode()


# (name, message bytes, reason, exact error message)
CATALOGUE = [
    ("empty", b"", "empty_message", "the message is empty"),
    (
        "oversized",
        msg(user_id="user-1", date="2026-11-27", data_types=["steps"] * 2000),
        "message_too_large",
        f"18059 bytes; a request has at most {MAX_MESSAGE_BYTES}",
    ),
    ("latin-1", b'{"user_id":"J\xf6rg","date":"2026-11-27"}', "not_utf8", "byte 13 is not UTF-8"),
    (
        "form-encoded",
        b"user_id=user-1&date=2026-11-27",
        "not_json",
        "not JSON: Expecting value at line 1 column 1",
    ),
    (
        "truncated",
        b'{"user_id":"user-1","date":"2026-11-27"',
        "not_json",
        "not JSON: Expecting ',' delimiter at line 1 column 40",
    ),
    (
        "NaN",
        b'{"user_id":"user-1","date":"2026-11-27","x":NaN}',
        "not_json",
        "NaN is not valid JSON",
    ),
    ("deeply nested", b"[" * 5000 + b"]" * 5000, "not_json", "JSON nested too deeply"),
    (
        "duplicate key",
        b'{"user_id":"user-1","user_id":"user-2","date":"2026-11-27"}',
        "duplicate_key",
        "key 'user_id' appears twice",
    ),
    (
        "array",
        b'[{"user_id":"user-1","date":"2026-11-27"}]',
        "not_an_object",
        "expected a JSON object, got an array",
    ),
    ("null", b"null", "not_an_object", "expected a JSON object, got null"),
    ("number", b"17", "not_an_object", "expected a JSON object, got a number"),
    (
        "camelCase field",
        msg(user_id="user-1", date="2026-11-27", dataTypes=["steps"]),
        "unknown_field",
        "unknown field 'dataTypes'; the fields are user_id, date, start_date, end_date, "
        "data_types, source, stream",
    ),
    ("no user", msg(date="2026-11-27"), "missing_user", "user_id is required"),
    ("numeric user", msg(user_id=17, date="2026-11-27"), "bad_user", "user_id=17 must be a string"),
    (
        "path as user",
        msg(user_id="../tokens/user-2", date="2026-11-27"),
        "bad_user",
        f"invalid user key '../tokens/user-2': {USER_KEY_RULE}",
    ),
    (
        "empty user",
        msg(user_id="", date="2026-11-27"),
        "bad_user",
        f"invalid user key '': {USER_KEY_RULE}",
    ),
    ("no dates", msg(user_id="user-1"), "missing_dates", "give date, or start_date and end_date"),
    (
        "date and range",
        msg(user_id="user-1", date="2026-11-27", start_date="2026-11-01", end_date="2026-11-02"),
        "ambiguous_dates",
        "give either date or start_date and end_date, not both",
    ),
    (
        "start only",
        msg(user_id="user-1", start_date="2026-11-01"),
        "incomplete_range",
        "start_date needs end_date too",
    ),
    (
        "end only",
        msg(user_id="user-1", end_date="2026-11-01"),
        "incomplete_range",
        "end_date needs start_date too",
    ),
    (
        "day first",
        msg(user_id="user-1", date="27/11/2026"),
        "bad_date",
        "date='27/11/2026' is not a date YYYY-MM-DD",
    ),
    (
        "basic ISO form",
        msg(user_id="user-1", date="20261127"),
        "bad_date",
        "date='20261127' is not a date YYYY-MM-DD",
    ),
    (
        "datetime",
        msg(user_id="user-1", date="2026-11-27T00:00:00Z"),
        "bad_date",
        "date='2026-11-27T00:00:00Z' is not a date YYYY-MM-DD",
    ),
    (
        # Regex \d matches any script's digits; a date is written in ASCII digits.
        "full-width digits",
        msg(user_id="user-1", date="\uff12\uff10\uff12\uff16-\uff11\uff11-\uff12\uff17"),
        "bad_date",
        "date='\uff12\uff10\uff12\uff16-\uff11\uff11-\uff12\uff17' is not a date YYYY-MM-DD",
    ),
    (
        "Arabic-Indic digits",
        msg(
            user_id="user-1",
            start_date="\u0662\u0660\u0662\u0666-\u0661\u0661-\u0660\u0661",
            end_date="2026-11-02",
        ),
        "bad_date",
        "start_date='\u0662\u0660\u0662\u0666-\u0661\u0661-\u0660\u0661' is not a date YYYY-MM-DD",
    ),
    (
        "30 February",
        msg(user_id="user-1", date="2026-02-30"),
        "bad_date",
        "date='2026-02-30' is not a real date",
    ),
    (
        "date as number",
        msg(user_id="user-1", date=20261127),
        "bad_date",
        "date=20261127 is not a date YYYY-MM-DD",
    ),
    (
        "end before start",
        msg(user_id="user-1", start_date="2026-11-10", end_date="2026-11-01"),
        "end_before_start",
        "end_date 2026-11-01 is before start_date 2026-11-10",
    ),
    (
        "future",
        msg(user_id="user-1", date="2026-11-30"),
        "future_date",
        "2026-11-30 is in the future (it is at most 2026-11-29 anywhere now)",
    ),
    (
        "range too long",
        msg(user_id="user-1", start_date="2025-01-01", end_date="2026-11-27"),
        "range_too_long",
        "2025-01-01..2026-11-27 is 696 days; split it into ranges of at most 366",
    ),
    (
        "data_types as string",
        msg(user_id="user-1", date="2026-11-27", data_types="steps"),
        "bad_data_types",
        "data_types='steps' must be a non-empty list of names, e.g. [\"steps\"]",
    ),
    (
        "no data types",
        msg(user_id="user-1", date="2026-11-27", data_types=[]),
        "bad_data_types",
        'data_types=[] must be a non-empty list of names, e.g. ["steps"]',
    ),
    (
        "unknown data type",
        msg(user_id="user-1", date="2026-11-27", data_types=["steps", "ecg"]),
        "unknown_data_type",
        f"data type 'ecg' is not supported (supported: {SUPPORTED})",
    ),
    (
        "legacy source",
        msg(user_id="user-1", date="2026-11-27", source="fitbit-legacy"),
        "bad_source",
        "the legacy Fitbit Web API was turned off in November 2026; request source 'google-health'",
    ),
    (
        "unknown source",
        msg(user_id="user-1", date="2026-11-27", source="garmin"),
        "bad_source",
        "source='garmin' is unknown; use 'google-health'",
    ),
    (
        "unknown stream",
        msg(user_id="user-1", date="2026-11-27", stream="merged"),
        "bad_stream",
        "stream='merged' must be 'reconciled' or 'raw'",
    ),
]


def test_the_catalogue_covers_every_reason():
    assert len(CATALOGUE) >= 15
    assert {reason for _, _, reason, _ in CATALOGUE} == set(REASONS)


@pytest.mark.parametrize(
    ("data", "reason", "message"), [c[1:] for c in CATALOGUE], ids=[c[0] for c in CATALOGUE]
)
def test_bad_message(data, reason, message):
    with pytest.raises(BadRequest) as caught:
        parse_request(data, TODAY)
    assert (caught.value.reason, str(caught.value)) == (reason, message)


def test_one_date_becomes_one_request_per_data_type():
    got = parse_request(msg(user_id="user-1", date="2026-11-27"), TODAY)
    assert got == [
        FetchRequest("user-1", t, D("2026-11-27"), D("2026-11-27"))
        for t in datatypes.DEFAULT_DATA_TYPES
    ]


def test_range_with_types_and_raw_stream():
    data = msg(
        user_id="participant-017",
        start_date="2026-11-01",
        end_date="2026-11-07",
        data_types=["heart-rate", "steps", "heart-rate"],
        source="google-health",
        stream="raw",
    )
    assert parse_request(data, TODAY) == [
        FetchRequest("participant-017", "heart-rate", D("2026-11-01"), D("2026-11-07"), "raw"),
        FetchRequest("participant-017", "steps", D("2026-11-01"), D("2026-11-07"), "raw"),
    ]


def test_limits_are_inclusive():
    # UTC's tomorrow is already today in the far east (UTC+14).
    assert parse_request(msg(user_id="u", date="2026-11-29", data_types=["steps"]), TODAY) == [
        FetchRequest("u", "steps", D("2026-11-29"), D("2026-11-29"))
    ]
    year = msg(user_id="u", start_date="2025-11-28", end_date="2026-11-28", data_types=["steps"])
    assert len(parse_request(year, TODAY)) == 1
    longer = msg(user_id="u", start_date="2025-11-27", end_date="2026-11-28")
    with pytest.raises(BadRequest, match="is 367 days"):
        parse_request(longer, TODAY)
    with pytest.raises(BadRequest, match="at most 30"):
        parse_request(year, TODAY, max_range_days=30)


def test_message_of_exactly_the_size_limit_is_read():
    base = msg(user_id="user-1", date="2026-11-27", data_types=["steps"])
    padded = base[:-1] + b" " * (MAX_MESSAGE_BYTES - len(base)) + b"}"
    assert len(padded) == MAX_MESSAGE_BYTES
    assert len(parse_request(padded, TODAY)) == 1
    with pytest.raises(BadRequest, match=f"^{MAX_MESSAGE_BYTES + 1} bytes"):
        parse_request(padded + b" ", TODAY)


def test_reason_carries_the_user_once_known():
    with pytest.raises(BadRequest) as caught:
        parse_request(msg(user_id="user-1", date="2026-13-01"), TODAY)
    assert caught.value.user_key == "user-1"
    with pytest.raises(BadRequest) as caught:
        parse_request(msg(user_id=3, date="2026-11-01"), TODAY)
    assert caught.value.user_key == ""


def test_request_message_round_trips():
    one = request_message("user-1", D("2026-11-27"))
    assert one == b'{"date":"2026-11-27","user_id":"user-1"}'
    several = request_message("user-1", D("2026-11-01"), D("2026-11-07"), ["sleep", "steps"])
    assert several == (
        b'{"data_types":["sleep","steps"],"end_date":"2026-11-07",'
        b'"start_date":"2026-11-01","user_id":"user-1"}'
    )
    assert parse_request(several, TODAY) == [
        FetchRequest("user-1", "sleep", D("2026-11-01"), D("2026-11-07")),
        FetchRequest("user-1", "steps", D("2026-11-01"), D("2026-11-07")),
    ]


def test_shown_message_redacts_credentials():
    data = json.dumps(
        {
            "user_id": "user-1",
            "access_token": "ya29.secret-access",
            "nested": {"Authorization": "Bearer abc", "note": "Bearer ya29.other here"},
            "list": ["1//0refresh-token-value-xxxxxxxx"],
        }
    ).encode()
    assert shown_message(data) == {
        "user_id": "user-1",
        "access_token": "[redacted]",
        "nested": {"Authorization": "[redacted]", "note": "Bearer [redacted] here"},
        "list": ["[redacted]"],
    }
    assert shown_message(b"token=ya29.abc.def&x=1") == "token=[redacted]&x=1"
    assert shown_message(b"\xff\xfe") == "\ufffd\ufffd"


class FixedClock:
    def __call__(self) -> dt.datetime:
        return dt.datetime(2026, 11, 28, 23, 59, tzinfo=dt.UTC)


def test_parse_requests_in_a_pipeline_keeps_good_messages_beside_bad_ones():
    good = [
        msg(user_id="user-1", date="2026-11-27", data_types=["steps"]),
        msg(user_id="user-2", start_date="2026-11-20", end_date="2026-11-21", data_types=["sleep"]),
    ]
    bad = [c[1] for c in CATALOGUE]
    expected_dead = [(c[2], c[3]) for c in CATALOGUE]
    with TestPipeline() as p:
        out = p | beam.Create(good[:1] + bad + good[1:]) | ParseRequests(clock=FixedClock())
        assert_that(
            out.requests,
            equal_to(
                [
                    FetchRequest("user-1", "steps", D("2026-11-27"), D("2026-11-27")),
                    FetchRequest("user-2", "sleep", D("2026-11-20"), D("2026-11-21")),
                ]
            ),
            label="requests",
        )
        assert_that(
            out.dead_letter | beam.Map(lambda d: (d.error_class, d.message)),
            equal_to(expected_dead),
            label="dead letters",
        )
        assert_that(
            out.dead_letter | beam.Map(lambda d: (d.stage, d.replayable, d.timestamp)),
            equal_to([("parse_request", False, "2026-11-28T23:59:00.000000Z")] * len(bad)),
            label="stage",
        )


def test_dead_letter_keeps_the_message_and_its_id():
    class Message:
        data = msg(user_id="user-1", date="2026-11-31", access_token="ya29.x")
        message_id = "4711"

    fn = ParseRequestsFn(clock=FixedClock())
    [tagged] = list(fn.process(Message()))
    letter = tagged.value
    assert tagged.tag == ParseRequestsFn.DEAD_LETTER
    assert json.loads(letter.to_json()) == {
        "attempts": 1,
        "body": "",
        "error_class": "unknown_field",
        "http_status": 0,
        "message": "unknown field 'access_token'; the fields are user_id, date, start_date, "
        "end_date, data_types, source, stream",
        "original": {
            "message": {"user_id": "user-1", "date": "2026-11-31", "access_token": "[redacted]"},
            "message_id": "4711",
        },
        "replayable": False,
        "stage": "parse_request",
        "table": "",
        "timestamp": "2026-11-28T23:59:00.000000Z",
        "user_key": "user-1",
    }
