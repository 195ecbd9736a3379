"""The relay's checks and answers (relay/app.py), called directly with hand-written fakes.

The same answers over real sockets, on the running server, are in test_wire.py.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import logging
import time

import pytest

from relay.app import BodyTooLarge, RelayApp, Reply
from relay.keys import load_public_keys
from relay.quiet import RefusalTally, Throttle
from relay.usermap import UserMap
from tests.relay.helpers import (
    FIVE_MINUTES,
    HEALTH_ID,
    HOSTILE,
    KEY,
    NOW,
    OTHER_KEY,
    SECRET,
    TOPIC,
    UNSAFE_IN_LOGS,
    USER_MAP,
    VERIFICATION,
    Clock,
    civil,
    formatters,
    payload,
    post,
    steps_message,
)


def test_the_handshake_wants_201_with_the_secret_and_401_without(app, publisher):
    assert post(app, VERIFICATION, key=None) == Reply(201)
    assert post(app, VERIFICATION, secret=None, key=None).status == 401
    assert post(app, VERIFICATION, secret="Bearer wrong", key=None).status == 401
    assert post(app, VERIFICATION, secret=SECRET + "x", key=None).status == 401
    assert publisher.published == []


def test_the_secret_is_compared_whole_and_case_sensitively(app):
    assert post(app, VERIFICATION, secret=SECRET.lower(), key=None).status == 401
    assert post(app, VERIFICATION, secret=SECRET.split(" ")[1], key=None).status == 401
    assert post(app, VERIFICATION, secret=f" {SECRET} ", key=None).status == 201


def test_without_the_secret_the_body_is_never_read(app):
    def read():
        raise AssertionError("the body of an unauthorized request was read")

    reply = app.handle("POST", {"X-HEALTHAPI-SIGNATURE": KEY.sign(b"{}")}, read)
    assert reply == Reply(401, b"unauthorized\n")


def test_only_post_is_served(app):
    assert app.handle("GET", {"Authorization": SECRET}, lambda: b"").status == 405


def test_a_notification_needs_a_valid_signature(app, publisher):
    body = payload([civil("2026-11-20T17:29:00", "2026-11-20T17:34:00")])
    assert post(app, body, key=None) == Reply(403, b"forbidden\n")
    assert post(app, body, key=OTHER_KEY).status == 403
    assert post(app, body, signature=KEY.sign(b"something else")).status == 403
    assert post(app, body, secret="Bearer " + "k" * 40).status == 401
    assert publisher.published == []


def test_either_signature_header_name_is_accepted_by_default(app, publisher):
    body = payload([civil("2026-11-20T17:29:00", "2026-11-20T17:34:00")])
    assert post(app, body, header="GOOGLE-HEALTH-API-SIGNATURE").status == 204
    assert post(app, body, header="x-healthapi-signature").status == 204
    assert len(publisher.published) == 2


def test_a_configured_header_name_is_the_only_one_looked_at(publisher, files, clock):
    users = UserMap("map.json", reader=files, clock=clock)
    keys = load_public_keys(KEY.public_pem())
    app = RelayApp(
        TOPIC, SECRET, keys, users, publisher, signature_headers=["X-HEALTHAPI-SIGNATURE"]
    )
    body = payload([civil("2026-11-20T17:29:00", "2026-11-20T17:34:00")])
    assert post(app, body, header="GOOGLE-HEALTH-API-SIGNATURE").status == 403


def message(*pairs: tuple[str, str]) -> http.client.HTTPMessage:
    """Headers as the server hands them to the app: a name may repeat."""
    headers = http.client.HTTPMessage()
    for name, value in pairs:
        headers[name] = value  # adds, never replaces
    return headers


@pytest.mark.parametrize(
    "pairs",
    [
        [("Authorization", SECRET), ("Authorization", SECRET)],
        [("Authorization", "Bearer wrong"), ("authorization", SECRET)],
        [
            ("Authorization", SECRET),
            ("X-HEALTHAPI-SIGNATURE", KEY.sign(VERIFICATION)),
            ("x-healthapi-signature", KEY.sign(VERIFICATION)),
        ],
    ],
)
def test_a_repeated_authorization_or_signature_header_is_refused_unread(app, pairs):
    def read():
        raise AssertionError("the body of a request with a repeated header was read")

    assert app.handle("POST", message(*pairs), read) == Reply(400, b"bad request\n")


def test_the_two_signature_header_names_are_not_a_repetition(app):
    headers = message(
        ("Authorization", SECRET),
        ("GOOGLE-HEALTH-API-SIGNATURE", KEY.sign(VERIFICATION)),
        ("X-HEALTHAPI-SIGNATURE", KEY.sign(VERIFICATION)),
    )
    assert app.handle("POST", headers, lambda: VERIFICATION) == Reply(201)


# --- outcomes: 400, 204 without publishing, 503 ------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not_json"),
        (b"[1, 2]", "not_an_object"),
        ({"type": "something"}, "no_data"),
        (
            payload([civil("2026-11-20T17:29:00", "2026-11-20T17:34:00")], health_user_id=""),
            "bad_user",
        ),
        # Matched whole: a healthUserId with a trailing newline is not one.
        (payload([FIVE_MINUTES], health_user_id=HEALTH_ID + "\n"), "bad_user"),
        (
            payload([civil("2026-11-20T17:29:00", "2026-11-20T17:34:00")], data_type=""),
            "bad_data_type",
        ),
        (payload([]), "no_interval"),
        (payload(None), "no_interval"),
        (payload([{"somethingNew": {}}]), "no_interval"),
        (payload(["2026-11-20"]), "bad_interval"),
        (payload([civil("2026-11-20T17:34:00", "2026-11-20T17:29:00")]), "bad_interval"),
        (payload([civil("yesterday", "2026-11-20T17:29:00")]), "bad_interval"),
        (payload([civil("2026-12-01T08:00:00", "2026-12-01T09:00:00")]), "request_future_date"),
        (payload([civil("2000-01-01T00:00:00", "2026-11-20T00:00:00")]), "too_many_days"),
    ],
)
def test_a_signed_notification_that_cannot_be_read_is_answered_400(app, publisher, body, reason):
    reply = post(app, body)
    assert reply == Reply(400, f"bad notification: {reason}\n".encode())
    assert publisher.published == []


def test_an_unsupported_data_type_is_acknowledged_and_dropped(app, publisher, caplog):
    body = payload([civil("2026-11-20T17:29:00", "2026-11-20T17:34:00")], data_type="hydration-log")
    with caplog.at_level(logging.INFO, logger="relay.app"):
        assert post(app, body) == Reply(204)
    assert publisher.published == []
    assert "fitbeam does not load this data type" in caplog.text


def test_an_unknown_user_is_acknowledged_and_the_map_re_read_at_most_once_a_minute(
    app, publisher, files, clock, caplog
):
    newcomer = "5000000000000000005"
    body = payload([civil("2026-11-20T17:29:00", "2026-11-20T17:34:00")], health_user_id=newcomer)
    assert files.reads == 1
    with caplog.at_level(logging.INFO, logger="relay.app"):
        assert post(app, body) == Reply(204)
    assert files.reads == 1  # read at start less than a minute ago
    assert f"healthUserId {newcomer} is not in the user map" in caplog.text
    # The user consents; the map is rewritten.
    files.text = json.dumps({**USER_MAP, newcomer: "user-5"})
    clock.now += 30
    assert post(app, body).status == 204
    assert files.reads == 1
    assert publisher.published == []
    clock.now += 31
    assert post(app, body).status == 204
    assert files.reads == 2
    assert [data for _, data, _ in publisher.published] == [steps_message("2026-11-20", "user-5")]


def test_unknown_users_are_logged_at_info_once_per_id_per_ten_minutes(app, clock, caplog):
    def notify(health_user_id: str) -> None:
        body = payload(
            [civil("2026-11-20T17:29:00", "2026-11-20T17:34:00")], health_user_id=health_user_id
        )
        assert post(app, body) == Reply(204)

    def lines() -> list[tuple[int, str]]:
        found = [
            (r.levelno, r.getMessage())
            for r in caplog.records
            if "not in the user map" in r.message
        ]
        caplog.clear()
        return found

    def line(health_user_id: str, held: int) -> tuple[int, str]:
        return (
            logging.INFO,
            f"notification UPSERT steps ignored (204): healthUserId {health_user_id} is not in "
            f"the user map gs://bucket/user-map.json (not a study user; {held} more for this "
            "id since it was last logged, logged at most every 600 s)",
        )

    with caplog.at_level(logging.INFO, logger="relay.app"):
        for _ in range(3):
            notify("5000000000000000005")
        notify("6000000000000000006")
        assert lines() == [line("5000000000000000005", 0), line("6000000000000000006", 0)]
        clock.now += 599
        notify("5000000000000000005")
        assert lines() == []
        clock.now += 1
        notify("5000000000000000005")
        assert lines() == [line("5000000000000000005", 3)]


def test_the_log_throttle_forgets_expired_keys_when_full():
    clock = Clock()
    throttle = Throttle(10, clock, max_keys=2)
    assert [throttle.due(k) for k in ("a", "b", "a")] == [0, 0, None]
    assert throttle.due("c") == 0  # full, nothing expired: everything forgotten
    assert throttle.due("a") == 0
    clock.now += 10
    assert throttle.due("d") == 0  # full again: the expired "c" and "a" go
    assert throttle.due("d") is None


def test_a_map_that_breaks_on_re_read_keeps_the_old_one(app, publisher, files, clock):
    files.text = "{broken"
    clock.now += 61
    body = payload([civil("2026-11-20T17:29:00", "2026-11-20T17:34:00")], health_user_id="9")
    assert post(app, body).status == 204
    assert files.reads == 2
    assert post(app, payload([civil("2026-11-20T17:29:00", "2026-11-20T17:34:00")])).status == 204
    assert [a["user_id"] for _, _, a in publisher.published] == ["user-1"]


def test_a_publish_failure_is_answered_503_so_google_retries(app, publisher):
    publisher.fail = TimeoutError("deadline exceeded")
    body = payload([civil("2026-11-20T17:29:00", "2026-11-20T17:34:00")])
    assert post(app, body) == Reply(503, b"try again later\n")


def test_publishing_has_one_deadline_for_all_the_messages(publisher, files, clock, caplog):
    class Stuck:
        """Takes every message and never confirms one."""

        def publish(self, topic, data, **attributes):
            return concurrent.futures.Future()

    users = UserMap("map.json", reader=files, clock=clock)
    keys = load_public_keys(KEY.public_pem())
    app = RelayApp(TOPIC, SECRET, keys, users, Stuck(), now=lambda: NOW, publish_timeout=0.3)
    days = [civil(f"2026-11-{d:02}T08:00:00", f"2026-11-{d:02}T09:00:00") for d in (1, 3, 5)]
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="relay.app"):
        assert post(app, payload(days)) == Reply(503, b"try again later\n")
    assert 0.25 < time.monotonic() - started < 2  # once for the three, not once each
    assert "publish to projects/fitbeam-local/topics/fitbeam-requests failed (TimeoutError: " in (
        caplog.text
    )
    assert "3 of 3 messages not confirmed in 0.3 s" in caplog.text


def test_no_log_line_holds_the_secret_a_signature_or_a_body(app, publisher, caplog):
    good = payload([civil("2026-11-20T17:29:00", "2026-11-20T17:34:00")])
    signatures = []
    with caplog.at_level(logging.DEBUG):
        for body, secret, key in [
            (VERIFICATION, SECRET, None),
            (VERIFICATION, None, None),
            (good, SECRET[:-1] + "x", KEY),
            (good, SECRET, OTHER_KEY),
            (good, SECRET, KEY),
            (b"{not json", SECRET, KEY),
            (payload([civil("x", "y")]), SECRET, KEY),
        ]:
            raw = json.dumps(body).encode() if isinstance(body, dict) else body
            signature = key.sign(raw) if key else None
            signatures.append(signature)
            post(app, raw, secret=secret, key=None, signature=signature)
        publisher.fail = RuntimeError("unavailable")
        post(app, good)
    text = caplog.text
    assert "relayed (204)" in text and "(400)" in text and "(503)" in text
    credential = SECRET.split(" ")[1]
    assert credential not in text and credential[:-1] not in text
    assert "Bearer" not in text and "Authorization:" not in text
    assert all(s not in text for s in signatures if s)
    assert 'healthUserId": ' not in text and "intervals" not in text


def test_both_content_length_and_transfer_encoding_are_refused_unread(app):
    def read():
        raise AssertionError("the body of an ambiguously framed request was read")

    headers = [
        ("Authorization", SECRET),
        ("Content-Length", "24"),
        ("Transfer-Encoding", "chunked"),
    ]
    assert app.handle("POST", headers, read) == Reply(400, b"bad request\n")


@pytest.mark.parametrize(
    ("error", "reply"),
    [
        (BodyTooLarge(), Reply(413, b"body too large\n")),
        (TimeoutError(), Reply(408, b"request timeout\n")),
    ],
)
def test_a_body_too_large_or_too_slow_is_413_or_408(app, publisher, error, reply):
    def read():
        raise error

    assert app.handle("POST", {"Authorization": SECRET}, read) == reply
    assert publisher.published == []


# --- logs: refusals counted, values escaped -------------------------------------------------


def refusal_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("requests refused")]


def test_a_flood_of_unauthenticated_requests_is_one_line_a_minute(app, clock, caplog):
    with caplog.at_level(logging.INFO, logger="relay.app"):
        for i in range(999):  # 999 requests in 50 s, then a GET
            clock.now = 1000 + i / 20
            secret = None if i % 4 else "Bearer wrong-" + "x" * 20
            assert post(app, VERIFICATION, secret=secret, key=None).status == 401
        clock.now = 1050
        assert app.handle("GET", {}, lambda: b"").status == 405
        first = refusal_lines(caplog)
        clock.now = 1059
        app.refusals.flush()  # not due: the minute since the first line has not passed
        clock.now = 1060
        app.refusals.flush()
    assert first == ["requests refused: 1 in 0 s (401 wrong Authorization header: 1)"]
    assert refusal_lines(caplog) == [
        first[0],
        "requests refused: 999 in 60 s (401 no Authorization header: 749, "
        "401 wrong Authorization header: 249, 405 not a POST: 1)",
    ]
    assert len(caplog.records) == 2  # nothing else was logged for them


def test_the_refusal_tally_logs_the_first_at_once_then_at_most_once_per_period(caplog):
    clock = Clock()
    tally = RefusalTally(logging.getLogger("tests.relay.tally"), seconds=60, clock=clock)
    with caplog.at_level(logging.INFO, logger="tests.relay.tally"):
        tally.add("401 a")
        clock.now += 59
        tally.add("401 a")
        tally.add("400 b")
        clock.now += 1
        tally.add("401 a")  # a minute since the last line: this one brings the summary
        tally.flush(force=True)  # nothing left to log
        clock.now += 600
        tally.add("400 b")  # after a quiet period: at once
    assert [r.getMessage() for r in caplog.records] == [
        "requests refused: 1 in 0 s (401 a: 1)",
        "requests refused: 3 in 1 s (400 b: 1, 401 a: 2)",
        "requests refused: 1 in 0 s (400 b: 1)",
    ]


@pytest.mark.parametrize(
    "body",
    [
        payload([FIVE_MINUTES], data_type="altitude" + HOSTILE),  # ignored, type logged
        payload([FIVE_MINUTES], operation="UPSERT" + HOSTILE),  # relayed, operation not shown
        payload([FIVE_MINUTES], health_user_id=HEALTH_ID + HOSTILE),  # 400, id logged
        payload([civil("2026-11-20" + HOSTILE, "2026-11-21")]),  # 400, value logged
        payload([FIVE_MINUTES], data_type=HOSTILE),  # ignored, type logged
        payload([{"physicalTimeInterval": {"startTime": HOSTILE, "endTime": "x"}}]),
    ],
)
def test_values_from_a_notification_are_escaped_in_text_and_json_logs(
    app, publisher, caplog, monkeypatch, body
):
    with caplog.at_level(logging.DEBUG):
        post(app, body)
    (record,) = caplog.records
    for kind, formatter in formatters(monkeypatch).items():
        line = formatter.format(record)
        assert not UNSAFE_IN_LOGS & set(line), (kind, line)
        if kind == "json":
            message = json.loads(line)["message"]
            assert not UNSAFE_IN_LOGS & set(message), message
        else:
            message = line
        # Where the value shows, it shows escaped (an unknown operation is not shown at all).
        assert message.count("forged") == message.count("\\nINFO relay.app: forged"), message
