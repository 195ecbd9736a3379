"""`fitbeam enqueue`: the message, civil dates per time zone, option checks, the run.

The run tests use a fixed `--date` or a hand-written time zone reader and a
fake publisher; the real settings route and Pub/Sub are in
tests/e2e/test_enqueue.py.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json

import pytest

from commands import enqueue
from healthapi import calls, datatypes, messages
from healthapi.elements import FetchRequest
from healthapi.retry import Verdict
from healthapi.settings import OptionsError

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 28, 11, 30, tzinfo=UTC)
TOPIC = "projects/my-project/topics/fitbeam-requests"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# --- the message -------------------------------------------------------------


def test_request_message_is_compact_json_with_sorted_keys():
    assert enqueue.request_message("user-1", dt.date(2026, 11, 27)) == (
        b'{"date":"2026-11-27","user_id":"user-1"}'
    )


def test_request_message_keeps_data_types_in_the_order_given():
    message = enqueue.request_message("user-2", dt.date(2026, 11, 28), ["steps", "heart-rate"])
    assert (
        message == b'{"data_types":["steps","heart-rate"],"date":"2026-11-28","user_id":"user-2"}'
    )
    assert json.loads(message) == {
        "user_id": "user-2",
        "date": "2026-11-28",
        "data_types": ["steps", "heart-rate"],
    }


def test_request_message_is_what_the_parser_reads():
    message = enqueue.request_message("user-2", dt.date(2026, 11, 29), ["steps", "heart-rate"])
    # Kiritimati's and Tongatapu's "today" is UTC's tomorrow: still not in the future.
    assert messages.parse_request(message, today=dt.date(2026, 11, 28)) == [
        FetchRequest("user-2", "steps", dt.date(2026, 11, 29), dt.date(2026, 11, 29), "reconciled"),
        FetchRequest(
            "user-2", "heart-rate", dt.date(2026, 11, 29), dt.date(2026, 11, 29), "reconciled"
        ),
    ]


def test_request_message_refuses_a_datetime():
    with pytest.raises(TypeError) as err:
        enqueue.request_message("user-1", NOW)
    assert str(err.value) == "date must be a datetime.date, got datetime"


# --- civil dates in each user's zone ------------------------------------------


@pytest.mark.parametrize(
    ("zone", "today", "yesterday"),
    [
        ("Pacific/Kiritimati", "2026-11-29", "2026-11-28"),  # UTC+14: 01:30 on the 29th
        ("Pacific/Tongatapu", "2026-11-29", "2026-11-28"),  # UTC+13: 00:30 on the 29th
        ("Asia/Kolkata", "2026-11-28", "2026-11-27"),
        ("Europe/London", "2026-11-28", "2026-11-27"),
        ("UTC", "2026-11-28", "2026-11-27"),
        ("America/New_York", "2026-11-28", "2026-11-27"),
        ("Pacific/Pago_Pago", "2026-11-28", "2026-11-27"),  # UTC-11: 00:30 on the 28th
    ],
)
def test_civil_dates_at_one_instant_across_zones(zone, today, yesterday):
    assert enqueue.civil_today(NOW, zone) == dt.date.fromisoformat(today)
    assert enqueue.civil_yesterday(NOW, zone) == dt.date.fromisoformat(yesterday)


def test_the_far_east_and_far_west_are_a_day_apart():
    instant = at("2026-11-28T10:59:59+00:00")
    # One second before 11:00Z Pago Pago is still on the 27th while Kiritimati is on the 29th.
    assert enqueue.civil_today(instant, "Pacific/Pago_Pago") == dt.date(2026, 11, 27)
    assert enqueue.civil_today(instant, "Pacific/Kiritimati") == dt.date(2026, 11, 29)
    assert enqueue.civil_yesterday(instant, "Pacific/Pago_Pago") == dt.date(2026, 11, 26)
    assert enqueue.civil_yesterday(instant, "Pacific/Kiritimati") == dt.date(2026, 11, 28)


@pytest.mark.parametrize(
    ("instant", "zone", "yesterday"),
    [
        # New York falls back at 06:00Z on 2026-11-01: at 04:30Z it is 00:30 EDT (UTC-4)
        # on the 1st; a fixed UTC-5 would say 23:30 on the 31st.
        ("2026-11-01T04:30:00+00:00", "America/New_York", "2026-10-31"),
        ("2026-11-02T04:30:00+00:00", "America/New_York", "2026-10-31"),  # 23:30 EST, 1st
        # New York springs forward at 07:00Z on 2026-03-08: at 04:30Z it is 23:30 EST on the 7th.
        ("2026-03-08T04:30:00+00:00", "America/New_York", "2026-03-06"),
        ("2026-03-09T03:30:00+00:00", "America/New_York", "2026-03-07"),  # 23:30 EDT, 8th
        # London leaves summer time at 01:00Z on 2026-10-25: 23:30Z on the 24th is 00:30 BST.
        ("2026-10-24T23:30:00+00:00", "Europe/London", "2026-10-24"),
        ("2026-10-25T23:30:00+00:00", "Europe/London", "2026-10-24"),  # 23:30 GMT, 25th
        # Sydney enters summer time at 16:00Z on 2026-10-03 (UTC+11): 13:30Z on the 4th is
        # 00:30 on the 5th; a fixed UTC+10 would say 23:30 on the 4th.
        ("2026-10-04T13:30:00+00:00", "Australia/Sydney", "2026-10-04"),
        ("2026-10-03T13:30:00+00:00", "Australia/Sydney", "2026-10-02"),  # 23:30 AEST, 3rd
    ],
)
def test_civil_yesterday_on_daylight_saving_days(instant, zone, yesterday):
    assert enqueue.civil_yesterday(at(instant), zone) == dt.date.fromisoformat(yesterday)


def test_civil_yesterday_of_an_instant_with_another_offset_is_the_same():
    tokyo_time = at("2026-11-28T20:30:00+09:00")  # 11:30Z
    assert enqueue.civil_yesterday(tokyo_time, "Pacific/Pago_Pago") == dt.date(2026, 11, 27)


@pytest.mark.parametrize(
    ("instant", "zone", "message"),
    [
        (
            dt.datetime(2026, 11, 28, 11, 30),
            "UTC",
            "now_utc must be timezone-aware, got 2026-11-28T11:30:00",
        ),
        (NOW, "Mars/Olympus", "unknown IANA time zone 'Mars/Olympus'"),
        (NOW, "../etc/passwd", "unknown IANA time zone '../etc/passwd'"),
        (NOW, "", "unknown IANA time zone ''"),
    ],
)
def test_civil_dates_refuse_a_naive_instant_and_an_unknown_zone(instant, zone, message):
    with pytest.raises(ValueError) as err:
        enqueue.civil_yesterday(instant, zone)
    assert str(err.value) == message


# --- option checks -----------------------------------------------------------


def resolve(*flags: str) -> enqueue.EnqueueConfig:
    args = enqueue.build_parser().parse_args(list(flags))
    return enqueue.resolve(args, NOW)


GOOD = ["--users=user-1,user-2", "--date=yesterday", f"--topic={TOPIC}", "--token_store=/tokens"]


def with_flag(flag: str, value: str | None) -> list[str]:
    """GOOD with `flag` replaced (or removed when value is None)."""
    kept = [f for f in GOOD if not f.startswith(f"--{flag}=")]
    return kept if value is None else [*kept, f"--{flag}={value}"]


def test_good_options_resolve():
    config = resolve(*GOOD)
    assert config == enqueue.EnqueueConfig(
        users=("user-1", "user-2"),
        date="yesterday",
        fixed_date=None,
        topic=TOPIC,
        data_types=None,
        api_base_url="https://health.googleapis.com",
        token_url="https://oauth2.googleapis.com/token",
        token_store="/tokens",
        dry_run=False,
    )


def test_a_fixed_date_needs_no_token_store_and_data_types_are_kept_in_order():
    config = resolve(
        "--users=user-1",
        "--date=2026-11-27",
        f"--topic={TOPIC}",
        "--data_types=heart-rate,steps,heart-rate",
        "--api_base_url=http://127.0.0.1:8180",
    )
    assert config.fixed_date == dt.date(2026, 11, 27)
    assert config.date == "2026-11-27"
    assert config.data_types == ("heart-rate", "steps")
    assert config.token_store == ""
    assert config.token_url == "http://127.0.0.1:8180/token"


def test_today_in_the_far_east_is_not_in_the_future():
    # At 11:30Z Kiritimati is already on the 29th.
    config = resolve(*with_flag("date", "2026-11-29"))
    assert config.fixed_date == dt.date(2026, 11, 29)


def test_users_from_a_file(tmp_path):
    path = tmp_path / "users.txt"
    path.write_text("user-1\n# a comment\n\nuser-3  # trailing comment\n")
    assert resolve(*with_flag("users", f"@{path}")).users == ("user-1", "user-3")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            with_flag("date", None),
            "--date='': is required; e.g. --date=yesterday",
        ),
        (
            with_flag("date", "last-week"),
            "--date='last-week': is not yesterday, today or a civil date YYYY-MM-DD; "
            "e.g. --date=yesterday",
        ),
        (
            with_flag("date", "2026-02-30"),
            "--date='2026-02-30': is not yesterday, today or a civil date YYYY-MM-DD; "
            "e.g. --date=yesterday",
        ),
        (
            with_flag("date", "2026-11-30"),
            "--date='2026-11-30': is in the future everywhere (the latest civil date on Earth "
            "is 2026-11-29); e.g. --date=yesterday",
        ),
        (
            with_flag("topic", None),
            f"--topic='': is required; e.g. --topic={TOPIC}",
        ),
        (
            with_flag("topic", "fitbeam-requests"),
            "--topic='fitbeam-requests': is not projects/<project id: 6-30 of a-z 0-9 ->/topics/"
            "<name: 3-255 characters, starting with a letter, not with goog>; "
            f"e.g. --topic={TOPIC}",
        ),
        (
            with_flag("topic", "projects/proj/topics/requests"),
            "--topic='projects/proj/topics/requests': is not projects/<project id: 6-30 of a-z "
            "0-9 ->/topics/<name: 3-255 characters, starting with a letter, not with goog>; "
            f"e.g. --topic={TOPIC}",
        ),
        (
            with_flag("topic", "projects/my-project/topics/goog-requests"),
            "--topic='projects/my-project/topics/goog-requests': is not projects/<project id: "
            "6-30 of a-z 0-9 ->/topics/<name: 3-255 characters, starting with a letter, not "
            f"with goog>; e.g. --topic={TOPIC}",
        ),
        (
            with_flag("users", "user-1,bad user"),
            "--users='bad user': invalid user key 'bad user': use 1-128 letters, digits, '.', "
            "'_' or '-', starting with a letter or digit, e.g. 'participant-017'; "
            "e.g. --users=user-1",
        ),
        (
            with_flag("users", "user-1,user-1"),
            "--users='user-1,user-1': names 'user-1' twice; e.g. --users=user-1,user-2",
        ),
        (
            with_flag("users", None),
            "--users='': is required; e.g. --users=user-1,user-2",
        ),
        (
            with_flag("data_types", "steps,sleeps"),
            "--data_types='sleeps': is not a supported data type (supported: "
            f"{', '.join(datatypes.SPECS)}); e.g. --data_types=steps,heart-rate",
        ),
        (
            with_flag("token_store", None),
            "--token_store='': is required with --date=yesterday (it reads each user's time "
            "zone); e.g. --token_store=file:///var/fitbeam/tokens",
        ),
        (
            with_flag("token_store", "s3://bucket/tokens"),
            "--token_store='s3://bucket/tokens': unsupported token store 's3://bucket/tokens'; "
            "use a directory such as file:///var/fitbeam/tokens, or Secret Manager such as "
            "secretmanager://my-project/fitbeam; e.g. --token_store=file:///var/fitbeam/tokens",
        ),
        (
            with_flag("api_base_url", "http://health.example.com"),
            "--api_base_url='http://health.example.com': plain http is allowed on loopback only; "
            "e.g. --api_base_url=https://health.googleapis.com",
        ),
        (
            with_flag("api_base_url", "https://health.example.com"),
            "--token_url='': is required with a non-Google --api_base_url; "
            "e.g. --token_url=https://oauth2.googleapis.com/token",
        ),
    ],
)
def test_bad_options_are_named_with_an_example(flags, message):
    with pytest.raises(OptionsError) as err:
        resolve(*flags)
    assert str(err.value) == message


def test_main_prints_a_bad_option_and_exits_2(capsys):
    assert enqueue.main(with_flag("date", "tomorrow")) == 2
    assert capsys.readouterr().err == (
        "fitbeam enqueue: --date='tomorrow': is not yesterday, today or a civil date "
        "YYYY-MM-DD; e.g. --date=yesterday\n"
    )


# --- the run, with a fake publisher -------------------------------------------


class FakePublisher:
    """Records publishes; message ids count from 17; `fail_for` users fail."""

    def __init__(self, fail_for: tuple[str, ...] = ()):
        self.fail_for = fail_for
        self.sent: list[tuple[str, bytes, dict]] = []
        self.stopped = False

    def publish(self, topic: str, data: bytes, **attributes: str):
        self.sent.append((topic, data, attributes))
        future: concurrent.futures.Future = concurrent.futures.Future()
        if attributes["user_id"] in self.fail_for:
            future.set_exception(RuntimeError("504 Deadline Exceeded"))
        else:
            future.set_result(str(16 + len(self.sent)))
        return future

    def stop(self):
        self.stopped = True


def drive(argv, publisher=None, time_zones=None):
    lines, errors = [], []
    result = enqueue.run(
        argv,
        now=lambda: NOW,
        publisher=lambda: publisher,
        out=lines.append,
        err=errors.append,
        time_zones=time_zones,
    )
    return result, lines, errors


ZONES = {
    "user-1": "America/New_York",
    "user-2": "Pacific/Tongatapu",
    "user-3": "Pacific/Kiritimati",
    "user-4": "Pacific/Pago_Pago",
}


def zones_or_failure(user: str) -> str:
    if user == "user-5":
        verdict = Verdict(False, False, 0, "NEEDS_CONSENT", "user 'user-5' must consent again")
        raise calls.CallFailed(verdict, attempts=1)
    if user == "user-6":
        raise ValueError("the settings name no timeZone")
    return ZONES[user]


def test_yesterday_is_each_users_own_and_failures_do_not_stop_the_others():
    publisher = FakePublisher()
    argv = with_flag("users", "user-1,user-5,user-2,user-3,user-6,user-4")
    result, lines, errors = drive(argv, publisher, zones_or_failure)
    assert [(topic, json.loads(data), attrs) for topic, data, attrs in publisher.sent] == [
        (TOPIC, {"user_id": u, "date": d}, {"user_id": u, "origin": "enqueue"})
        for u, d in [
            ("user-1", "2026-11-27"),
            ("user-2", "2026-11-28"),
            ("user-3", "2026-11-28"),
            ("user-4", "2026-11-27"),
        ]
    ]
    assert lines == [
        "user-1 2026-11-27 (America/New_York) -> message id 17",
        "user-2 2026-11-28 (Pacific/Tongatapu) -> message id 18",
        "user-3 2026-11-28 (Pacific/Kiritimati) -> message id 19",
        "user-4 2026-11-27 (Pacific/Pago_Pago) -> message id 20",
        f"published 4 of 6 messages to {TOPIC}; 2 failed: user-5, user-6",
    ]
    assert errors == [
        "user-5: not enqueued: time zone not read: NEEDS_CONSENT after 1 attempt: "
        "user 'user-5' must consent again",
        "user-6: not enqueued: time zone not read: ValueError: the settings name no timeZone",
    ]
    assert result.exit_code == 1
    assert publisher.stopped


def test_a_fixed_date_is_everyones_and_data_types_go_in_the_message():
    publisher = FakePublisher()
    argv = [
        "--users=user-1,user-2",
        "--date=2026-11-20",
        f"--topic={TOPIC}",
        "--data_types=steps,heart-rate",
    ]
    result, lines, errors = drive(argv, publisher)
    assert [data for _, data, _ in publisher.sent] == [
        b'{"data_types":["steps","heart-rate"],"date":"2026-11-20","user_id":"user-1"}',
        b'{"data_types":["steps","heart-rate"],"date":"2026-11-20","user_id":"user-2"}',
    ]
    assert lines == [
        "user-1 2026-11-20 -> message id 17",
        "user-2 2026-11-20 -> message id 18",
        f"published 2 of 2 messages to {TOPIC}",
    ]
    assert errors == []
    assert result.exit_code == 0


def test_a_failed_publish_is_reported_and_the_others_are_published():
    publisher = FakePublisher(fail_for=("user-2",))
    argv = ["--users=user-1,user-2,user-3", "--date=2026-11-20", f"--topic={TOPIC}"]
    result, lines, errors = drive(argv, publisher)
    assert lines == [
        "user-1 2026-11-20 -> message id 17",
        "user-3 2026-11-20 -> message id 19",
        f"published 2 of 3 messages to {TOPIC}; 1 failed: user-2",
    ]
    assert errors == [
        "user-2: not enqueued: publish failed: RuntimeError: 504 Deadline Exceeded",
    ]
    assert result.failures == (
        enqueue.Failure("user-2", "publish", "publish failed: RuntimeError: 504 Deadline Exceeded"),
    )
    assert result.exit_code == 1


def test_dry_run_prints_the_messages_and_publishes_nothing():
    def no_publisher():
        raise AssertionError("a dry run must not make a publisher")

    lines, errors = [], []
    result = enqueue.run(
        [*with_flag("users", "user-2,user-4"), "--dry_run"],
        now=lambda: NOW,
        publisher=no_publisher,
        out=lines.append,
        err=errors.append,
        time_zones=ZONES.__getitem__,
    )
    assert lines == [
        'user-2 2026-11-28 (Pacific/Tongatapu) -> would publish {"date":"2026-11-28",'
        '"user_id":"user-2"}',
        'user-4 2026-11-27 (Pacific/Pago_Pago) -> would publish {"date":"2026-11-27",'
        '"user_id":"user-4"}',
        f"dry run: 2 of 2 messages not published to {TOPIC}",
    ]
    assert errors == []
    assert result.published == ()
    assert result.exit_code == 0
