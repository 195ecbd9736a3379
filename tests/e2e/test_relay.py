"""The notifications relay end to end: simulator emitter -> relay over HTTP -> Pub/Sub emulator.

The three simulated users live in New York (UTC-5), Tongatapu (UTC+13) and
London (UTC+0); they consent, and `fitbeam relay user-map` reads each one's
healthUserId from the simulator's identity route into the user map, which is
uploaded to the Cloud Storage emulator and read from gs:// (without Beam). The
relay runs on Hypercorn on a free loopback port; the simulator's emitter registers it (the
verification handshake) and sends signed notifications. What reaches the
topic is pulled from the emulator's subscription and must be exactly the
expected request messages, each of which the pipeline's request parser reads
without complaint. Runs twice: a PEM key with bare DER signatures under
X-HEALTHAPI-SIGNATURE, and a Tink keyset with Tink signatures under
GOOGLE-HEALTH-API-SIGNATURE (the two forms the real API may use).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import uuid

import pytest
from google.cloud import storage

from healthapi.auth.file_store import LocalFileTokenStore
from healthapi.elements import FetchRequest
from healthapi.messages import parse_request
from localdev.demo import authorise_users
from relay.config import ENV_PUBLIC_KEY, ENV_SECRET, build_app, build_parser, resolve
from relay.main import user_map_main
from relay.server import RelayServer
from simulator import Simulator, SimulatorConfig, webhooks
from tests.e2e.helpers import fresh_topic, pull

START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC).timestamp()
NOW = dt.datetime(2026, 11, 28, 11, 30, tzinfo=dt.UTC)
USERS = ["user-1", "user-2", "user-3"]
ZONES = {"user-1": "America/New_York", "user-2": "Pacific/Tongatapu", "user-3": "Europe/London"}


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.fixture
def topic(local_gcp):
    """A fresh topic and its subscription: (topic path, subscription path)."""
    with fresh_topic("relay") as paths:
        yield paths


@pytest.fixture
def bucket(local_gcp):
    """A fresh bucket on the Cloud Storage emulator for the user map, deleted afterwards."""
    created = storage.Client().create_bucket(f"relay-{uuid.uuid4().hex[:12]}")
    yield created
    created.delete(force=True)


@pytest.mark.parametrize(
    ("key_form", "signature_format", "header"),
    [
        ("pem", webhooks.FORMAT_DER, webhooks.X_HEALTHAPI_SIGNATURE),
        ("tink", webhooks.FORMAT_TINK, webhooks.GOOGLE_HEALTH_API_SIGNATURE),
    ],
)
def test_signed_notifications_become_request_messages_on_pub_sub(
    topic, bucket, tmp_path, key_form, signature_format, header
):
    topic_path, sub_path = topic
    store = LocalFileTokenStore(tmp_path / "tokens")
    key = webhooks.SigningKey(key_id=0x1F2E3D4C)
    emitter = webhooks.WebhookEmitter(
        key, signature_header=header, signature_format=signature_format, sleep=lambda s: None
    )
    secret = "Bearer " + secrets.token_hex(32)
    public_key = key.public_pem() if key_form == "pem" else json.dumps(key.tink_keyset())

    with Simulator(SimulatorConfig(users=3, clock_speed=0, start_time=START)) as sim:
        assert {u: sim.users[u].time_zone for u in USERS} == ZONES
        authorise_users(sim, USERS, store)
        lines, errors = [], []
        code = user_map_main(
            [
                f"--users={','.join(USERS)}",
                f"--token_store={store.root}",
                f"--api_base_url={sim.base_url}",
            ],
            out=lines.append,
            err=errors.append,
        )
        health = {u: sim.users[u].health_user_id for u in USERS}

    assert (code, errors) == (0, [])
    assert json.loads(lines[0]) == {health[u]: u for u in USERS}
    bucket.blob("relay/user-map.json").upload_from_string(lines[0])
    user_map = f"gs://{bucket.name}/relay/user-map.json"

    env = {ENV_SECRET: secret, ENV_PUBLIC_KEY: public_key}
    argv = ["--topic", topic_path, "--user_map", user_map, "--host", "127.0.0.1"]
    config = resolve(build_parser(env).parse_args(argv), env)
    app = build_app(config, now=lambda: NOW)
    assert len(app.users) == 3

    with RelayServer(app, config.host, 0) as server:
        sub = emitter.register(
            "fitbeam-relay", server.url, secret, ["steps", "heart-rate", "sleep", "hydration-log"]
        )
        users = {u: sim.users[u] for u in USERS}
        deliveries = [
            # 22:29Z-22:34Z is 17:29-17:34 in New York.
            emitter.notify_change(
                sub,
                users["user-1"],
                "steps",
                utc("2026-11-20T22:29:00"),
                utc("2026-11-20T22:34:00"),
            ),
            # 10:50Z-11:10Z is 23:50 on the 20th to 00:10 on the 21st in Tongatapu.
            emitter.notify_change(
                sub,
                users["user-2"],
                "heart-rate",
                utc("2026-11-20T10:50:00"),
                utc("2026-11-20T11:10:00"),
            ),
            # A deleted nap in London, in the earlier payload shape.
            emitter.notify_change(
                sub,
                users["user-3"],
                "sleep",
                utc("2026-11-26T13:00:00"),
                utc("2026-11-26T13:40:00"),
                operation=webhooks.DELETE,
                shape=webhooks.SHAPE_FLAT,
            ),
            # Not loaded by fitbeam (nutrition is write-only): acknowledged, nothing published.
            emitter.notify_change(
                sub,
                users["user-1"],
                "hydration-log",
                utc("2026-11-20T22:29:00"),
                utc("2026-11-20T22:34:00"),
            ),
            # A user of the OAuth client who is not in the study.
            emitter.notify(
                sub,
                "4242424242424242424",
                "steps",
                webhooks.UPSERT,
                [webhooks.Interval(utc("2026-11-20T22:29:00"), utc("2026-11-20T22:34:00"), "UTC")],
            ),
        ]
        # Signed with another key: refused, and Google would retry.
        forger = webhooks.WebhookEmitter(
            webhooks.SigningKey(key_id=key.key_id),
            signature_header=header,
            signature_format=signature_format,
            max_attempts=2,
            sleep=lambda s: None,
        )
        forged = forger.notify_change(
            sub, users["user-1"], "steps", utc("2026-11-21T22:29:00"), utc("2026-11-21T22:34:00")
        )

    assert [(d.status, d.attempts) for d in deliveries] == [(204, 1)] * 5
    assert (forged.status, forged.attempts) == (403, 2)

    messages = pull(sub_path, expected=3, timeout=10.0)
    got = sorted((m.data, dict(m.attributes)) for m in messages)
    assert got == sorted(
        [
            (
                b'{"data_types":["steps"],"date":"2026-11-20","user_id":"user-1"}',
                {"user_id": "user-1", "origin": "relay", "operation": "UPSERT"},
            ),
            (
                b'{"data_types":["heart-rate"],"end_date":"2026-11-21",'
                b'"start_date":"2026-11-20","user_id":"user-2"}',
                {"user_id": "user-2", "origin": "relay", "operation": "UPSERT"},
            ),
            (
                b'{"data_types":["sleep"],"date":"2026-11-26","user_id":"user-3"}',
                {"user_id": "user-3", "origin": "relay", "operation": "DELETE"},
            ),
        ]
    )
    d = dt.date.fromisoformat
    parsed = sorted(
        (r for m in messages for r in parse_request(m.data, NOW.date())),
        key=lambda r: r.user_key,
    )
    assert parsed == [
        FetchRequest("user-1", "steps", d("2026-11-20"), d("2026-11-20"), "reconciled"),
        FetchRequest("user-2", "heart-rate", d("2026-11-20"), d("2026-11-21"), "reconciled"),
        FetchRequest("user-3", "sleep", d("2026-11-26"), d("2026-11-26"), "reconciled"),
    ]
    # Nothing more arrives: the unsupported type, the unknown user and the forgery
    # published nothing.
    assert pull(sub_path, expected=1, timeout=3.0) == []
