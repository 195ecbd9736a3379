"""The simulator's webhook emitter (simulator/webhooks.py), against a scripted endpoint.

The emitter plays Google's part: the verification handshake, signed
notifications in both payload shapes, retries with capped backoff. The relay
itself answers it in test_wire.py and tests/e2e/test_relay.py.
"""

from __future__ import annotations

import base64
import http.server
import json
import threading

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from relay.keys import load_public_keys
from simulator import webhooks
from tests.relay.helpers import HEALTH_ID, KEY, NY, SECRET, utc

BODY = b'{"data": {"healthUserId": "1"}}'


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
    keys = load_public_keys(KEY.public_pem())
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
