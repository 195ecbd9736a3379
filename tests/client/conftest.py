"""Fixtures for the Beam-free client modules: a running simulator on a frozen clock."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from healthapi.auth import oauth
from simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Simulator, SimulatorConfig

# 2026-11-28 12:00 UTC: the simulator's clock stands still here unless a test moves it.
START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC).timestamp()


def visit(url: str) -> None:
    """Stands in for the browser on the simulator's auto-consenting page."""
    requests.get(url, timeout=10)


@pytest.fixture
def sim():
    with Simulator(SimulatorConfig(users=3, clock_speed=0, start_time=START)) as running:
        yield running


@pytest.fixture
def client(sim) -> oauth.OAuthClient:
    return oauth.OAuthClient.for_base_url(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, sim.base_url)
