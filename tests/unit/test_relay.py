"""The notifications relay and the simulator's webhook emitter.

Pure parts (signature checking, payload -> request messages, settings) are
called directly; the app gets hand-written fakes (publisher, user map reader,
clock). A few tests put the app on a loopback server and let the emitter talk
to it over HTTP; the real Pub/Sub round trip is in tests/e2e/test_relay.py.
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import http.client
import http.server
import json
import logging
import os
import re
import socket
import threading
import time

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from healthapi.elements import FetchRequest
from healthapi.messages import parse_request
from healthapi.settings import OptionsError
from relay import relay
from simulator import webhooks
from tests.fakes.secret_manager import FakeSecretManager

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 28, 11, 30, tzinfo=UTC)
TOPIC = "projects/fitbeam-local/topics/fitbeam-requests"
SECRET = "Bearer relay-" + "k" * 32
HEALTH_ID = "7108215177813058725"
USER_MAP = {HEALTH_ID: "user-1", "4000000000000000002": "user-2"}
NY = "America/New_York"

# One key for the module: generating keys is cheap, but one key keeps signatures comparable.
KEY = webhooks.SigningKey(key_id=0x2A17C0DE)
OTHER_KEY = webhooks.SigningKey(key_id=7)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def steps_message(day: str, user: str = "user-1") -> bytes:
    return b'{"data_types":["steps"],"date":"%s","user_id":"%s"}' % (day.encode(), user.encode())


class FakePublisher:
    """Records what is published; `fail` makes every publish's future raise it."""

    def __init__(self):
        self.published: list[tuple[str, bytes, dict]] = []
        self.fail: Exception | None = None

    def publish(self, topic: str, data: bytes, **attributes):
        future = concurrent.futures.Future()
        if self.fail is not None:
            future.set_exception(self.fail)
        else:
            self.published.append((topic, data, attributes))
            future.set_result(str(len(self.published)))
        return future


class Files:
    """A reader of the user map that tests can change, counting reads."""

    def __init__(self, text: str):
        self.text = text
        self.reads = 0

    def __call__(self, path: str) -> str:
        self.reads += 1
        return self.text


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def files() -> Files:
    return Files(json.dumps(USER_MAP))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(publisher, files, clock) -> relay.RelayApp:
    users = relay.UserMap("gs://bucket/user-map.json", reader=files, clock=clock)
    keys = relay.load_public_keys(KEY.public_pem())
    return relay.RelayApp(TOPIC, SECRET, keys, users, publisher, now=lambda: NOW, clock=clock)


def payload(
    intervals: list[dict] | None = None,
    data_type: str = "steps",
    operation: str = "UPSERT",
    health_user_id: str = HEALTH_ID,
    **data,
) -> dict:
    body = {
        "version": "1",
        "clientProvidedSubscriptionName": "fitbeam-relay",
        "healthUserId": health_user_id,
        "operation": operation,
        "dataType": data_type,
        **data,
    }
    if intervals is not None:
        body["intervals"] = intervals
    return {"data": body}


def civil(start: str, end: str) -> dict:
    return {"civilIso8601TimeInterval": {"startTime": start, "endTime": end}}


def post(
    app: relay.RelayApp,
    body: bytes | dict,
    secret: str | None = SECRET,
    key: webhooks.SigningKey | None = KEY,
    header: str = "X-HEALTHAPI-SIGNATURE",
    signature: str | None = None,
) -> relay.Reply:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["Authorization"] = secret
    if signature is None and key is not None:
        signature = key.sign(raw)
    if signature is not None:
        headers[header] = signature
    return app.handle("POST", headers, lambda: raw)


# --- signatures ------------------------------------------------------------------------


BODY = b'{"data": {"healthUserId": "1"}}'


def test_a_pem_key_verifies_a_der_signature_of_exactly_the_body():
    keys = relay.load_public_keys(KEY.public_pem())
    assert keys.verify(KEY.sign(BODY), BODY)
    assert not keys.verify(KEY.sign(BODY), BODY + b" ")
    assert not keys.verify(OTHER_KEY.sign(BODY), BODY)


def test_a_jwk_and_a_jwk_set_verify():
    assert relay.load_public_keys(json.dumps(KEY.public_jwk())).verify(KEY.sign(BODY), BODY)
    both = json.dumps({"keys": [OTHER_KEY.public_jwk(), KEY.public_jwk()]})
    assert relay.load_public_keys(both).verify(KEY.sign(BODY), BODY)


def test_a_tink_keyset_wants_the_tink_prefix_with_its_key_id():
    keys = relay.load_public_keys(json.dumps(KEY.tink_keyset()))
    assert keys.verify(KEY.sign(BODY, webhooks.FORMAT_TINK), BODY)
    assert not keys.verify(KEY.sign(BODY), BODY)  # no prefix
    # The right key under another key id.
    renamed = webhooks.SigningKey(KEY.private_key, key_id=KEY.key_id + 1)
    assert not keys.verify(renamed.sign(BODY, webhooks.FORMAT_TINK), BODY)


def test_a_tink_keyset_skips_disabled_keys_and_takes_raw_ones_without_prefix():
    disabled = KEY.tink_keyset()
    disabled["key"][0]["status"] = "DISABLED"
    raw = OTHER_KEY.tink_keyset()
    raw["key"][0]["outputPrefixType"] = "RAW"
    keys = relay.load_public_keys(
        json.dumps({"primaryKeyId": 7, "key": [*disabled["key"], *raw["key"]]})
    )
    assert len(keys.keys) == 1
    assert keys.verify(OTHER_KEY.sign(BODY), BODY)
    assert not keys.verify(KEY.sign(BODY, webhooks.FORMAT_TINK), BODY)


def test_an_ieee_p1363_signature_verifies_too():
    r, s = decode_dss_signature(base64.b64decode(KEY.sign(BODY)))
    p1363 = base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()
    assert relay.load_public_keys(KEY.public_pem()).verify(p1363, BODY)


@pytest.mark.parametrize("signature", ["", "not base64!", "QUJD", "A" * 2000])
def test_a_garbled_signature_does_not_verify(signature):
    assert not relay.load_public_keys(KEY.public_pem()).verify(signature, BODY)


def test_urlsafe_base64_without_padding_is_read():
    der = base64.b64decode(KEY.sign(BODY))
    text = base64.urlsafe_b64encode(der).rstrip(b"=").decode()
    assert relay.load_public_keys(KEY.public_pem()).verify(text, BODY)


def pem(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (pem(rsa.generate_private_key(65537, 2048)), "not an ECDSA P-256 key"),
        (pem(ec.generate_private_key(ec.SECP384R1())), "not an ECDSA P-256 key"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "not a public key"),
        ("hello", "not PEM, a JWK or a Tink JSON keyset"),
        ('{"kty": "RSA"}', "not an EC key on P-256"),
        ('{"primaryKeyId": 1, "key": []}', "no usable public key"),
    ],
)
def test_unusable_keys_are_refused(text, why):
    with pytest.raises(relay.PublicKeyError, match=why):
        relay.load_public_keys(text)


def test_a_tink_key_on_another_curve_is_refused():
    keyset = KEY.tink_keyset()
    material = bytearray(base64.b64decode(keyset["key"][0]["keyData"]["value"]))
    # params = 12 06 | 08 03 10 02 18 02: hash SHA256, curve NIST_P256, encoding DER.
    assert material[:8] == bytes([0x12, 0x06, 0x08, 0x03, 0x10, 0x02, 0x18, 0x02])
    material[5] = 0x03  # NIST_P384
    keyset["key"][0]["keyData"]["value"] = base64.b64encode(bytes(material)).decode()
    with pytest.raises(relay.PublicKeyError, match="not on NIST P-256"):
        relay.load_public_keys(json.dumps(keyset))


# --- handshake and authorization -------------------------------------------------------


VERIFICATION = b'{"type": "verification"}'


def test_the_handshake_wants_201_with_the_secret_and_401_without(app, publisher):
    assert post(app, VERIFICATION, key=None) == relay.Reply(201)
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
    assert reply == relay.Reply(401, b"unauthorized\n")


def test_only_post_is_served(app):
    assert app.handle("GET", {"Authorization": SECRET}, lambda: b"").status == 405


def test_a_notification_needs_a_valid_signature(app, publisher):
    body = payload([civil("2026-11-20T17:29:00", "2026-11-20T17:34:00")])
    assert post(app, body, key=None) == relay.Reply(403, b"forbidden\n")
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
    users = relay.UserMap("map.json", reader=files, clock=clock)
    keys = relay.load_public_keys(KEY.public_pem())
    app = relay.RelayApp(
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

    assert app.handle("POST", message(*pairs), read) == relay.Reply(400, b"bad request\n")


def test_the_two_signature_header_names_are_not_a_repetition(app):
    headers = message(
        ("Authorization", SECRET),
        ("GOOGLE-HEALTH-API-SIGNATURE", KEY.sign(VERIFICATION)),
        ("X-HEALTHAPI-SIGNATURE", KEY.sign(VERIFICATION)),
    )
    assert app.handle("POST", headers, lambda: VERIFICATION) == relay.Reply(201)


# --- notifications -> request messages ---------------------------------------------------


def test_a_five_minute_interval_becomes_that_civil_date(app, publisher):
    body = payload([civil("2026-11-20T17:29:00", "2026-11-20T17:34:00")])
    assert post(app, body) == relay.Reply(204)
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
        with pytest.raises(relay.BadNotification, match="ends before it starts"):
            relay.interval_dates(interval)
        return
    first, last = map(dt.date.fromisoformat, dates)
    assert relay.interval_dates(interval) == (first, last)


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
        ("altitude", None),
        ("active-minutes", None),
        ("", None),
    ],
)
def test_fitbeam_data_type(name, expected):
    assert relay.fitbeam_data_type(name) == expected


def test_spans_merge_when_they_overlap_or_touch_and_split_at_the_range_limit():
    d = dt.date.fromisoformat
    spans = [
        (d("2026-01-05"), d("2026-01-12")),
        (d("2026-01-01"), d("2026-01-10")),
        (d("2026-01-13"), d("2026-01-13")),
        (d("2026-01-15"), d("2026-01-15")),
    ]
    assert relay.merged_spans(spans) == [
        (d("2026-01-01"), d("2026-01-13")),
        (d("2026-01-15"), d("2026-01-15")),
    ]
    assert relay.split_span(d("2026-01-01"), d("2026-01-13"), 5) == [
        (d("2026-01-01"), d("2026-01-05")),
        (d("2026-01-06"), d("2026-01-10")),
        (d("2026-01-11"), d("2026-01-13")),
    ]


def test_a_range_longer_than_a_message_may_ask_for_becomes_several_messages():
    notification = relay.parse_notification(
        payload([civil("2026-01-01T08:00:00", "2026-01-13T09:00:00")])
    )
    assert relay.notification_messages(notification, "user-1", "steps", NOW.date(), 5) == [
        b'{"data_types":["steps"],"end_date":"2026-01-05","start_date":"2026-01-01",'
        b'"user_id":"user-1"}',
        b'{"data_types":["steps"],"end_date":"2026-01-10","start_date":"2026-01-06",'
        b'"user_id":"user-1"}',
        b'{"data_types":["steps"],"end_date":"2026-01-13","start_date":"2026-01-11",'
        b'"user_id":"user-1"}',
    ]


def test_every_message_parses_cleanly_with_the_request_parser():
    notification = relay.parse_notification(
        payload(
            [
                civil("2026-11-20T23:50:00", "2026-11-21T00:10:00"),
                civil("2026-11-27T06:00:00", "2026-11-27T07:00:00"),
            ],
            data_type="sleep",
        )
    )
    messages = relay.notification_messages(notification, "user-1", "sleep", NOW.date())
    parsed = [parse_request(m, NOW.date()) for m in messages]
    d = dt.date.fromisoformat
    assert parsed == [
        [FetchRequest("user-1", "sleep", d("2026-11-20"), d("2026-11-21"), "reconciled")],
        [FetchRequest("user-1", "sleep", d("2026-11-27"), d("2026-11-27"), "reconciled")],
    ]


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
    assert reply == relay.Reply(400, f"bad notification: {reason}\n".encode())
    assert publisher.published == []


def test_an_unsupported_data_type_is_acknowledged_and_dropped(app, publisher, caplog):
    body = payload([civil("2026-11-20T17:29:00", "2026-11-20T17:34:00")], data_type="altitude")
    with caplog.at_level(logging.INFO, logger="relay.relay"):
        assert post(app, body) == relay.Reply(204)
    assert publisher.published == []
    assert "fitbeam does not load this data type" in caplog.text


def test_an_unknown_user_is_acknowledged_and_the_map_re_read_at_most_once_a_minute(
    app, publisher, files, clock, caplog
):
    newcomer = "5000000000000000005"
    body = payload([civil("2026-11-20T17:29:00", "2026-11-20T17:34:00")], health_user_id=newcomer)
    assert files.reads == 1
    with caplog.at_level(logging.INFO, logger="relay.relay"):
        assert post(app, body) == relay.Reply(204)
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
        assert post(app, body) == relay.Reply(204)

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

    with caplog.at_level(logging.INFO, logger="relay.relay"):
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
    throttle = relay._Throttle(10, clock, max_keys=2)
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
    assert post(app, body) == relay.Reply(503, b"try again later\n")


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


# --- settings ----------------------------------------------------------------------------


def args(*argv: str, env: dict | None = None) -> relay.RelayConfig:
    env = {} if env is None else env
    return relay.resolve(relay.build_parser(env).parse_args(list(argv)), env)


GOOD = ["--topic", TOPIC, "--public_key", KEY.public_pem(), "--user_map", "map.json"]


def test_settings_come_from_the_environment_as_cloud_run_passes_them():
    env = {
        "FITBEAM_RELAY_TOPIC": TOPIC,
        "FITBEAM_RELAY_SECRET": SECRET + "\n",
        "FITBEAM_RELAY_PUBLIC_KEY": json.dumps(KEY.tink_keyset()),
        "FITBEAM_RELAY_USER_MAP": "gs://bucket/map.json",
        "FITBEAM_RELAY_SIGNATURE_HEADERS": "X-HEALTHAPI-SIGNATURE",
        "PORT": "9090",
    }
    config = args(env=env)
    assert config == relay.RelayConfig(
        topic=TOPIC,
        secret=SECRET,
        secret_version="",
        public_key=json.dumps(KEY.tink_keyset()),
        user_map="gs://bucket/map.json",
        signature_headers=("X-HEALTHAPI-SIGNATURE",),
        host="0.0.0.0",  # noqa: S104 - the default, compared
        port=9090,
    )
    assert SECRET not in repr(config)


def test_the_public_key_may_be_a_file(tmp_path):
    path = tmp_path / "key.pem"
    path.write_text(KEY.public_pem())
    config = args(
        "--topic", TOPIC, "--public_key", str(path), "--user_map", "m.json",
        env={"FITBEAM_RELAY_SECRET": SECRET},
    )  # fmt: skip
    assert config.public_key == KEY.public_pem().strip()
    assert config.port == 8080
    assert config.signature_headers == ("GOOGLE-HEALTH-API-SIGNATURE", "X-HEALTHAPI-SIGNATURE")


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (GOOD[2:], {"FITBEAM_RELAY_SECRET": SECRET}, "--topic='': is required"),
        (
            ["--topic", "projects/x/topics/t", *GOOD[2:]],
            {"FITBEAM_RELAY_SECRET": SECRET},
            "--topic=",
        ),
        (GOOD, {}, "--secret_version='': is required"),
        (
            [*GOOD, "--secret_version", "projects/p/secrets/s"],
            {"FITBEAM_RELAY_SECRET": SECRET},
            "are both set",
        ),
        ([*GOOD, "--secret_version", "my-secret"], {}, "is not projects/<p>/secrets/<s>"),
        (GOOD[:2] + GOOD[4:], {"FITBEAM_RELAY_SECRET": SECRET}, "--public_key='': is required"),
        (
            [*GOOD[:2], "--public_key", "/nonexistent/key.pem", *GOOD[4:]],
            {"FITBEAM_RELAY_SECRET": SECRET},
            "cannot read the file",
        ),
        (GOOD[:4], {"FITBEAM_RELAY_SECRET": SECRET}, "--user_map='': is required"),
        ([*GOOD, "--port", "http"], {"FITBEAM_RELAY_SECRET": SECRET}, "is not a port number"),
        ([*GOOD, "--signature_headers", "X: Y"], {"FITBEAM_RELAY_SECRET": SECRET}, "header names"),
    ],
)
def test_bad_settings_name_the_flag(argv, env, message):
    with pytest.raises(OptionsError, match=re.escape(message)):
        args(*argv, env=env)


@pytest.mark.parametrize(
    "secret", ["Bearer shortsecret", "Token-without-a-scheme-" + "k" * 30, "Bearer", " "]
)
def test_a_weak_or_malformed_secret_is_refused_without_showing_it(secret):
    with pytest.raises(OptionsError) as caught:
        args(*GOOD, env={"FITBEAM_RELAY_SECRET": secret})
    assert str(caught.value) == (
        "env FITBEAM_RELAY_SECRET: must hold the whole Authorization header value: a scheme, "
        "a space and at least 16 characters of credentials, "
        'e.g. "Bearer $(openssl rand -hex 32)"'
    )


def test_a_secret_version_without_a_version_reads_the_latest():
    config = args(*GOOD, "--secret_version", "projects/my-project/secrets/relay", env={})
    assert config.secret_version == "projects/my-project/secrets/relay/versions/latest"
    assert config.secret == ""


def secret_client(fake: FakeSecretManager):
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import secretmanager

    return lambda: secretmanager.SecretManagerServiceClient(
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=fake.endpoint),
    )


def test_the_secret_is_read_from_secret_manager(publisher):
    def build(name: str) -> relay.RelayApp:
        config = args(*GOOD, "--secret_version", f"projects/my-project/secrets/{name}", env={})
        return relay.build_app(
            config,
            publisher_factory=lambda: publisher,
            secret_client_factory=secret_client(fake),
            reader=lambda path: json.dumps(USER_MAP),
        )

    with FakeSecretManager() as fake:
        fake.create_secret("my-project", "relay")
        fake.add_version("my-project", "relay", (SECRET + "\n").encode())
        fake.create_secret("my-project", "weak")
        fake.add_version("my-project", "weak", b"Bearer 1234")
        app = build("relay")
        with pytest.raises(OptionsError, match=r"cannot be read \(NotFound\)"):
            build("gone")
        with pytest.raises(OptionsError) as weak:
            build("weak")
    assert str(weak.value).startswith(
        "secret projects/my-project/secrets/weak/versions/latest: must hold the whole "
        "Authorization header value"
    )
    assert "1234" not in str(weak.value)
    assert post(app, VERIFICATION, key=None).status == 201
    assert post(app, VERIFICATION, secret=None, key=None).status == 401


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{broken", "not JSON"),
        ('["user-1"]', "not a JSON object"),
        ('{"12 34": "user-1"}', "is not 1-63 of"),
        ('{"1234": 5}', "is not a string"),
        ('{"1234": "../etc"}', "invalid user key"),
    ],
)
def test_a_bad_user_map_stops_the_start(text, why, publisher):
    config = args(*GOOD, env={"FITBEAM_RELAY_SECRET": SECRET})
    with pytest.raises(OptionsError, match=why):
        relay.build_app(config, publisher_factory=lambda: publisher, reader=lambda p: text)


def test_user_map_command_prints_the_map_and_reports_failures():
    lines, errors = [], []
    ids = {"user-1": "1111", "user-2": "2222"}

    def reader_factory(store, api, token_url):
        assert (store, api, token_url) == (
            "file:///tokens",
            "https://health.googleapis.com",
            "https://oauth2.googleapis.com/token",
        )

        def health_user_id(user):
            if user not in ids:
                raise ValueError("the identity route named no valid healthUserId")
            return ids[user]

        return health_user_id

    code = relay.user_map_main(
        ["--users", "user-2,user-1,user-3", "--token_store", "file:///tokens"],
        reader_factory=reader_factory,
        out=lines.append,
        err=errors.append,
    )
    assert code == 1
    assert json.loads(lines[0]) == {"1111": "user-1", "2222": "user-2"}
    assert errors == [
        "user-3: healthUserId not read: ValueError: the identity route named no valid healthUserId"
    ]
    assert relay.parse_user_map(lines[0]) == {"1111": "user-1", "2222": "user-2"}


def test_user_map_command_checks_its_options():
    errors = []
    code = relay.user_map_main(["--users", "user-1"], err=errors.append)
    assert code == 2
    assert errors == [
        "fitbeam relay user-map: --token_store='': is required; "
        "e.g. --token_store=file:///var/fitbeam/tokens"
    ]


# --- over HTTP: the emitter and the server -----------------------------------------------


class Scripted(http.server.BaseHTTPRequestHandler):
    """Answers POSTs with the statuses in `server.statuses`, recording each request."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((dict(self.headers), body))
        status = self.server.statuses.pop(0)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):
        pass


@pytest.fixture
def scripted():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    server.statuses, server.seen = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def url_of(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/hook"


def test_the_emitter_verifies_then_retries_with_backoff(scripted):
    sleeps = []
    emitter = webhooks.WebhookEmitter(KEY, sleep=sleeps.append, max_attempts=4)
    scripted.statuses = [201, 401]
    sub = emitter.register("fitbeam-relay", url_of(scripted), SECRET, ["steps"])
    assert sub == webhooks.Subscriber("fitbeam-relay", url_of(scripted), SECRET, ("steps",))
    assert SECRET not in repr(sub)
    (h1, b1), (h2, b2) = scripted.seen
    assert b1 == b2 == b'{"type": "verification"}'
    assert h1["Authorization"] == SECRET and "Authorization" not in h2
    assert h1["Content-Type"] == "application/json"

    scripted.statuses = [500, 503, 204]
    interval = webhooks.Interval(utc("2026-11-20T22:29:00"), utc("2026-11-20T22:34:00"), NY)
    delivery = emitter.notify(sub, HEALTH_ID, "steps", webhooks.DELETE, [interval])
    assert (delivery.status, delivery.attempts, delivery.delivered) == (204, 3, True)
    assert sleeps == [1.0, 2.0]
    sent = scripted.seen[2:]
    assert len(sent) == 3 and all(body == delivery.body for _, body in sent)
    headers = sent[0][0]
    assert headers["Authorization"] == SECRET
    keys = relay.load_public_keys(KEY.public_pem())
    assert keys.verify(headers["X-HEALTHAPI-SIGNATURE"], delivery.body)
    assert json.loads(delivery.body) == {
        "data": {
            "version": "1",
            "clientProvidedSubscriptionName": "fitbeam-relay",
            "healthUserId": HEALTH_ID,
            "operation": "DELETE",
            "dataType": "steps",
            "intervals": [
                {
                    "physicalTimeInterval": {
                        "startTime": "2026-11-20T22:29:00Z",
                        "endTime": "2026-11-20T22:34:00Z",
                    },
                    "civilDateTimeInterval": {
                        "startDateTime": {
                            "date": {"year": 2026, "month": 11, "day": 20},
                            "time": {"hours": 17, "minutes": 29},
                        },
                        "endDateTime": {
                            "date": {"year": 2026, "month": 11, "day": 20},
                            "time": {"hours": 17, "minutes": 34},
                        },
                    },
                    "civilIso8601TimeInterval": {
                        "startTime": "2026-11-20T17:29:00",
                        "endTime": "2026-11-20T17:34:00",
                    },
                }
            ],
        }
    }


def test_the_emitter_gives_up_after_max_attempts_with_capped_backoff(scripted):
    sleeps = []
    emitter = webhooks.WebhookEmitter(
        KEY, sleep=sleeps.append, max_attempts=5, first_backoff_seconds=10, max_backoff_seconds=25
    )
    sub = webhooks.Subscriber("s", url_of(scripted), SECRET, ("steps",))
    scripted.statuses = [400] * 5
    delivery = emitter.send(sub, b"{}")
    assert (delivery.status, delivery.attempts, delivery.delivered) == (400, 5, False)
    assert sleeps == [10, 20, 25, 25]


@pytest.mark.parametrize(
    ("statuses", "message"),
    [
        ([200, 401], "with the Authorization header answered HTTP 200; expected 201"),
        ([201, 201], "without the Authorization header answered HTTP 201; expected 401 or 403"),
        ([201, 404], "answered HTTP 404; expected 401 or 403"),
    ],
)
def test_a_failed_handshake_raises(scripted, statuses, message):
    scripted.statuses = statuses
    with pytest.raises(webhooks.VerificationFailed, match=message):
        webhooks.WebhookEmitter(KEY).register("s", url_of(scripted), SECRET)


def test_the_emitter_refuses_what_google_would_not_send():
    emitter = webhooks.WebhookEmitter(KEY)
    with pytest.raises(ValueError, match="must be https"):
        emitter.register("s", "http://example.com/hook", SECRET)
    sub = webhooks.Subscriber("s", "https://example.com/", SECRET, ("steps",))
    interval = webhooks.Interval(utc("2026-11-20T22:29:00"), utc("2026-11-20T22:34:00"), NY)
    with pytest.raises(ValueError, match="no config for 'sleep'"):
        emitter.notify(sub, HEALTH_ID, "sleep", "UPSERT", [interval])
    with pytest.raises(ValueError, match="operation must be"):
        emitter.notify(sub, HEALTH_ID, "steps", "MERGE", [interval])
    with pytest.raises(ValueError, match="signature_header"):
        webhooks.WebhookEmitter(KEY, signature_header="X-SIGNATURE")


def test_the_flat_shape_carries_the_civil_interval_under_data():
    interval = webhooks.Interval(utc("2026-11-20T22:29:00"), utc("2026-11-20T22:34:00"), NY)
    body = webhooks.notification_payload(
        HEALTH_ID, "steps", "UPSERT", [interval], "sub", webhooks.SHAPE_FLAT
    )
    assert body == {
        "data": {
            "version": "1",
            "clientProvidedSubscriptionName": "sub",
            "healthUserId": HEALTH_ID,
            "operation": "UPSERT",
            "dataType": "steps",
            "civilIso8601TimeInterval": {
                "startTime": "2026-11-20T17:29:00",
                "endTime": "2026-11-20T17:34:00",
            },
        }
    }


def test_the_tink_signature_carries_the_version_byte_and_key_id():
    raw = base64.b64decode(KEY.sign(BODY, webhooks.FORMAT_TINK))
    assert raw[:5] == b"\x01\x2a\x17\xc0\xde"
    KEY.private_key.public_key().verify(raw[5:], BODY, ec.ECDSA(hashes.SHA256()))


def test_the_server_answers_the_emitter_and_closes_after_unread_bodies(app, publisher):
    emitter = webhooks.WebhookEmitter(
        KEY, signature_header=webhooks.GOOGLE_HEALTH_API_SIGNATURE, sleep=lambda s: None
    )
    with relay.RelayServer(app) as server:
        sub = emitter.register("fitbeam-relay", server.url, SECRET, ["steps"])
        interval = webhooks.Interval(utc("2026-11-20T22:29:00"), utc("2026-11-20T22:34:00"), NY)
        delivery = emitter.notify(sub, HEALTH_ID, "steps", "UPSERT", [interval], "flat")
        assert (delivery.status, delivery.attempts) == (204, 1)
        with requests.Session() as session:
            # Refused before its body is read; the next request on a fresh connection works.
            refused = session.post(server.url, data=b"x" * 5000)
            assert (refused.status_code, refused.headers.get("Connection")) == (401, "close")
            too_big = session.post(
                server.url,
                data=b"x" * (relay.MAX_BODY_BYTES + 1),
                headers={"Authorization": SECRET},
            )
            assert (too_big.status_code, too_big.headers.get("Connection")) == (413, "close")
            chunked = session.post(
                server.url,
                data=iter([b'{"type": ', b'"verification"}']),
                headers={"Authorization": SECRET},
            )
            assert chunked.status_code == 201
            assert session.get(server.url).status_code == 405
    assert [data for _, data, _ in publisher.published] == [steps_message("2026-11-20")]


def test_main_exits_2_on_bad_settings_and_0_on_help(monkeypatch, capsys):
    for name in list(os.environ):
        if name.startswith("FITBEAM_RELAY_") or name == "PORT":
            monkeypatch.delenv(name)
    monkeypatch.setenv("FITBEAM_RELAY_SECRET", "Bearer " + "k" * 8)
    assert relay.main(GOOD) == 2
    err = capsys.readouterr().err
    assert err.startswith("fitbeam relay: env FITBEAM_RELAY_SECRET: must hold")
    assert "k" * 8 not in err
    assert relay.main(["--help"]) == 0
    assert "FITBEAM_RELAY_USER_MAP" in capsys.readouterr().out


# --- the server on the wire: framing, timeouts, connections ------------------------------

# Sent after each malformed request: answered too if the connection stayed open
# and the server took leftover bytes for a next request.
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: relay\r\n\r\n"


def raw_request(*headers: str, body: bytes = b"") -> bytes:
    head = "\r\n".join(["POST / HTTP/1.1", "Host: relay", *headers]) + "\r\n\r\n"
    return head.encode("latin-1") + body


def exchange(server: relay.RelayServer, data: bytes, wait: float = 5.0) -> bytes:
    """Sends `data` on a new connection; what came back once the server closed it.

    Raises:
        TimeoutError: the server kept the connection open for `wait` seconds.
    """
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as sock:
        sock.sendall(data)
        return read_to_eof(sock)


def read_to_eof(sock: socket.socket) -> bytes:
    received = b""
    while data := sock.recv(65536):
        received += data
    return received


def responses(raw: bytes) -> list[tuple[int, str | None, bytes]]:
    """(status, Connection header, body) of each response in `raw`, in order."""
    found = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        status, *lines = head.decode("latin-1").split("\r\n")
        fields = dict(line.split(": ", 1) for line in lines)
        length = int(fields["Content-Length"])
        found.append((int(status.split(" ")[1]), fields.get("Connection"), rest[:length]))
        raw = rest[length:]
    return found


BAD_REQUEST = (400, "close", b"bad request\n")
TOO_LARGE = (413, "close", b"body too large\n")
AUTH = f"Authorization: {SECRET}"
CHUNKED = "Transfer-Encoding: chunked"


@pytest.fixture
def server(app):
    with relay.RelayServer(app) as running:
        yield running


@pytest.mark.parametrize(
    "size_line",
    [
        b"-1\r\n",  # read(-1) would read until the client gives up
        b"zz\r\n",
        b"0x18\r\n",  # int(..., 16) takes this and the next four
        b"+18\r\n",
        b"1_8\r\n",
        b" 18\r\n",
        b"18 \r\n",
        b"000000018\r\n",  # nine digits
        b"18;ext\x00\r\n",  # a control character in an extension
        b"18\n",  # no CR
        b"18;" + b"x" * 2000 + b"\r\n",  # a size line over 1024 bytes
    ],
)
def test_a_chunk_size_out_of_format_is_400_and_closes(server, size_line):
    assert len(VERIFICATION) == 0x18
    chunks = size_line + VERIFICATION + b"\r\n0\r\n\r\n"
    sent = raw_request(AUTH, CHUNKED, body=chunks) + SMUGGLED
    assert responses(exchange(server, sent)) == [BAD_REQUEST]


@pytest.mark.parametrize(
    "chunks",
    [
        b"19\r\n" + VERIFICATION + b"\r\n0\r\n\r\n",  # the chunk is one byte short
        b"18\r\n" + VERIFICATION + b"XX0\r\n\r\n",  # no CRLF after the chunk
        b"18\r\n" + VERIFICATION + b"\r\n0\r\n" + b"X-Trailer: 1\r\n" * 33 + b"\r\n",
        b"18\r\n" + VERIFICATION + b"\r\n0\r\nX-Trailer: " + b"1" * 2000 + b"\r\n\r\n",
    ],
    ids=["short-chunk", "no-crlf-after-chunk", "33-trailers", "long-trailer"],
)
def test_a_chunked_body_out_of_format_is_400_and_closes(server, chunks):
    sent = raw_request(AUTH, CHUNKED, body=chunks) + SMUGGLED
    assert responses(exchange(server, sent)) == [BAD_REQUEST]


def test_a_well_formed_chunked_body_with_extensions_and_trailers_is_read(server):
    chunks = b"5;name=value\r\n" + VERIFICATION[:5] + b"\r\n13\r\n" + VERIFICATION[5:]
    chunks += b"\r\n0\r\n" + b"X-Trailer: 1\r\n" * 32 + b"\r\n"
    sent = raw_request(AUTH, CHUNKED, body=chunks) + raw_request(AUTH, "Connection: close")
    assert responses(exchange(server, sent)) == [
        (201, None, b""),
        (403, "close", b"forbidden\n"),  # the same connection goes on
    ]


def test_chunk_sizes_are_added_up_against_the_body_limit_before_reading(server):
    first = b"a" * 200_000
    # The second chunk's data is never sent: the size alone takes the body over 256 KiB.
    chunks = b"%x\r\n%s\r\n%x\r\n" % (len(first), first, relay.MAX_BODY_BYTES - len(first) + 1)
    sent = raw_request(AUTH, CHUNKED, body=chunks)
    assert responses(exchange(server, sent)) == [TOO_LARGE]
    one = b"%x\r\n" % (relay.MAX_BODY_BYTES + 1)
    assert responses(exchange(server, raw_request(AUTH, CHUNKED, body=one))) == [TOO_LARGE]


def test_a_content_length_over_the_limit_is_413_and_closes(server):
    sent = raw_request(AUTH, f"Content-Length: {relay.MAX_BODY_BYTES + 1}")
    assert responses(exchange(server, sent)) == [TOO_LARGE]


@pytest.mark.parametrize(
    "framing",
    [
        ["Content-Length: -1"],
        ["Content-Length: abc"],
        ["Content-Length: +24"],
        ["Content-Length: 0x18"],
        ["Content-Length: 24, 24"],
        ["Content-Length: 24", "Content-Length: 24"],
        ["Content-Length: " + "9" * 19],
        ["Content-Length: 24", CHUNKED],
        [CHUNKED, CHUNKED],
        ["Transfer-Encoding: gzip, chunked"],
        ["Transfer-Encoding: identity"],
    ],
)
def test_framing_headers_that_leave_the_end_unclear_are_400_and_close(server, framing):
    sent = raw_request(AUTH, *framing, body=b"18\r\n" + VERIFICATION + b"\r\n0\r\n\r\n")
    assert responses(exchange(server, sent + SMUGGLED)) == [BAD_REQUEST]


def test_a_body_shorter_than_its_content_length_is_400(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(raw_request(AUTH, "Content-Length: 24", body=VERIFICATION[:10]))
        sock.shutdown(socket.SHUT_WR)
        assert responses(read_to_eof(sock)) == [BAD_REQUEST]


def test_a_repeated_authorization_header_is_400_on_the_wire(server):
    sent = raw_request(AUTH, AUTH, f"Content-Length: {len(VERIFICATION)}", body=VERIFICATION)
    assert responses(exchange(server, sent)) == [BAD_REQUEST]
    once = raw_request(AUTH, f"Content-Length: {len(VERIFICATION)}", "Connection: close")
    assert responses(exchange(server, once + VERIFICATION)) == [(201, "close", b"")]


def test_a_stalled_client_is_cut_off_after_the_socket_timeout(app):
    with relay.RelayServer(app, socket_timeout=0.2) as server:
        started = time.monotonic()
        # Idle before the request, and idle after one on a kept-alive connection.
        assert exchange(server, b"") == b""
        kept = raw_request(AUTH, f"Content-Length: {len(VERIFICATION)}", body=VERIFICATION)
        assert responses(exchange(server, kept)) == [(201, None, b"")]
        # Stalled in the middle of the body.
        stalled = raw_request(AUTH, f"Content-Length: {len(VERIFICATION)}", body=b'{"type"')
        assert responses(exchange(server, stalled)) == [(408, "close", b"request timeout\n")]
        assert time.monotonic() - started < 4


def test_connections_beyond_the_limit_get_503_and_the_slot_comes_back(app):
    with relay.RelayServer(app, max_connections=1) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as first:
            first.sendall(b"POST / HTTP/1.1\r\n")  # holds the only slot
            refused = exchange(server, b"")
            assert refused == (
                b"HTTP/1.1 503 Service Unavailable\r\n"
                b"Content-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: 16\r\n"
                b"Retry-After: 5\r\n"
                b"Connection: close\r\n"
                b"\r\n"
                b"try again later\n"
            )
            first.sendall(
                b"Host: relay\r\n%s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                % (AUTH.encode(), len(VERIFICATION), VERIFICATION)
            )
            assert responses(read_to_eof(first)) == [(201, "close", b"")]
        # The slot is given back once the first connection's thread ends.
        again = raw_request(AUTH, f"Content-Length: {len(VERIFICATION)}", "Connection: close")
        deadline = time.monotonic() + 5
        while (answer := responses(exchange(server, again + VERIFICATION)))[0][0] == 503:
            assert time.monotonic() < deadline, "the slot was never given back"
            time.sleep(0.01)
        assert answer == [(201, "close", b"")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"socket_timeout": 0}, "socket_timeout=0 is not positive"), ({"max_connections": 0}, "max")],
)
def test_the_server_checks_its_limits(app, kwargs, message):
    with pytest.raises(ValueError, match=message):
        relay.RelayServer(app, **kwargs)
