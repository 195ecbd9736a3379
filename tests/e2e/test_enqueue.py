"""`fitbeam enqueue` end to end: simulator settings route -> Pub/Sub emulator.

The three simulated users live in New York (UTC-5), Tongatapu (UTC+13) and
London (UTC+0). At 2026-11-28T11:30Z it is already 00:30 on the 29th in
Tongatapu, so "yesterday" there is the 28th while it is the 27th for the
other two. Each test publishes to a topic of its own and pulls what arrived;
the emulators are the session's (`local_gcp` in conftest.py).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from commands import enqueue
from healthapi.auth.file_store import LocalFileTokenStore
from localdev.demo import authorise_users
from simulator import Simulator, SimulatorConfig
from tests.e2e.helpers import fresh_topic, pull

START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC).timestamp()
NOW = dt.datetime(2026, 11, 28, 11, 30, tzinfo=dt.UTC)
USERS = ["user-1", "user-2", "user-3"]
ZONES = {"user-1": "America/New_York", "user-2": "Pacific/Tongatapu", "user-3": "Europe/London"}


@pytest.fixture
def topic(local_gcp):
    """A fresh topic and its subscription: (topic path, subscription path)."""
    with fresh_topic("enqueue") as paths:
        yield paths


def enqueue_run(sim, store, topic_path, users, *extra):
    lines, errors = [], []
    argv = [
        f"--users={','.join(users)}",
        "--date=yesterday",
        f"--topic={topic_path}",
        f"--api_base_url={sim.base_url}",
        f"--token_store={store.root}",
        *extra,
    ]
    result = enqueue.run(
        argv, now=lambda: NOW, out=lines.append, err=errors.append, sleep=lambda s: None
    )
    return result, lines, errors


def test_yesterday_in_each_users_zone_reaches_pub_sub(topic, tmp_path):
    topic_path, sub_path = topic
    store = LocalFileTokenStore(tmp_path / "tokens")
    with Simulator(SimulatorConfig(users=3, clock_speed=0, start_time=START)) as sim:
        assert {u: sim.users[u].time_zone for u in USERS} == ZONES
        authorise_users(sim, USERS, store)
        result, lines, errors = enqueue_run(
            sim, store, topic_path, USERS, "--data_types=steps,heart-rate"
        )
    messages = pull(sub_path, expected=3)

    expected = {("user-1", "2026-11-27"), ("user-2", "2026-11-28"), ("user-3", "2026-11-27")}
    assert {(m.attributes["user_id"], json.loads(m.data)["date"]) for m in messages} == expected
    assert len(messages) == 3
    for m in messages:
        user = m.attributes["user_id"]
        assert dict(m.attributes) == {"user_id": user, "origin": "enqueue"}
        day = json.loads(m.data)["date"]
        assert m.data == (
            b'{"data_types":["steps","heart-rate"],"date":"%s","user_id":"%s"}'
            % (day.encode(), user.encode())
        )
    ids = {m.attributes["user_id"]: m.message_id for m in messages}
    assert lines == [
        f"user-1 2026-11-27 (America/New_York) -> message id {ids['user-1']}",
        f"user-2 2026-11-28 (Pacific/Tongatapu) -> message id {ids['user-2']}",
        f"user-3 2026-11-27 (Europe/London) -> message id {ids['user-3']}",
        f"published 3 of 3 messages to {topic_path}",
    ]
    assert errors == []
    assert result.exit_code == 0


def test_a_user_without_a_token_is_reported_and_the_others_published(topic, tmp_path):
    topic_path, sub_path = topic
    store = LocalFileTokenStore(tmp_path / "tokens")
    with Simulator(SimulatorConfig(users=3, clock_speed=0, start_time=START)) as sim:
        authorise_users(sim, ["user-1", "user-2"], store)  # user-3 never consented
        result, lines, errors = enqueue_run(sim, store, topic_path, USERS)
    messages = pull(sub_path, expected=2)

    assert {(m.attributes["user_id"], json.loads(m.data)["date"]) for m in messages} == {
        ("user-1", "2026-11-27"),
        ("user-2", "2026-11-28"),
    }
    assert len(messages) == 2
    assert errors == [
        "user-3: not enqueued: time zone not read: NEEDS_CONSENT after 1 attempt: "
        "user 'user-3' must consent again: no token in the token store"
    ]
    assert lines[-1] == f"published 2 of 3 messages to {topic_path}; 1 failed: user-3"
    assert result.exit_code == 1
    # Nothing printed carries a token.
    printed = "\n".join(lines + errors)
    for user in ("user-1", "user-2"):
        token = store.load(user)
        assert token["access_token"] not in printed
        assert token["refresh_token"] not in printed
