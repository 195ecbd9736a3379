"""Fixtures of the relay tests: an app on hand-written fakes (publisher, user map reader, clock)."""

from __future__ import annotations

import json

import pytest

from relay.app import RelayApp
from relay.keys import load_public_keys
from relay.usermap import UserMap
from tests.relay.helpers import KEY, NOW, SECRET, TOPIC, USER_MAP, Clock, FakePublisher, Files


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
def app(publisher, files, clock) -> RelayApp:
    users = UserMap("gs://bucket/user-map.json", reader=files, clock=clock)
    keys = load_public_keys(KEY.public_pem())
    return RelayApp(TOPIC, SECRET, keys, users, publisher, now=lambda: NOW, clock=clock)
