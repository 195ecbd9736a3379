"""What the composite tests share: a frozen simulator, its users' tokens, fixed times.

Each composite runs in a `TestPipeline` on `beam.Create` input (or files under
`tmp_path`) and its outputs are held equal to literal expectations. Composites
that call the API call the in-process simulator, whose clock stands still at
`START`; users are authorised through its OAuth consent flow into a
`LocalFileTokenStore` under `tmp_path`. No emulator is started.

Dead letters of `FetchPages`, `ValidateRows` and `ReplayDeadLetters` are
stamped with the wall clock (those composites take no clock); `wall_stamped`
checks such a stamp's form and replaces it with `WALL`, so that the rest of the
letter can be compared exactly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
from apache_beam.metrics.metric import MetricsFilter

from healthapi.auth import oauth
from healthapi.auth.file_store import LocalFileTokenStore
from localdev.demo import authorise_users
from simulator import Simulator, SimulatorConfig

# 2026-11-28 12:00 UTC: the simulator's clock stands still here.
START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC).timestamp()
NOW = dt.datetime(2026, 11, 28, 23, 59, tzinfo=dt.UTC)
NOW_TEXT = "2026-11-28T23:59:00.000000Z"
USERS = ("user-1", "user-2", "user-3")
WALL = "<wall clock>"
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")


def fixed_clock() -> dt.datetime:
    """The composites' `clock=`: always NOW (module level, so it pickles)."""
    return NOW


def no_wait(seconds: float) -> None:
    """The fetch's `sleep=`: retries go on at once."""


def wall_stamped(letter):
    """A dead letter whose RFC 3339 wall-clock timestamp is replaced by WALL.

    A stamp of another form is left as it is, so that the comparison shows it.
    """
    if not _RFC3339.fullmatch(letter.timestamp):
        return letter
    return dataclasses.replace(letter, timestamp=WALL)


def counter(result, name: str) -> int:
    """The committed value of a `fitbeam` counter of a finished pipeline (0 if never set)."""
    found = result.metrics().query(MetricsFilter().with_namespace("fitbeam").with_name(name))
    return sum(c.committed for c in found["counters"])


def sim_config(**overrides) -> SimulatorConfig:
    """Three users, seed 0, a frozen clock and no quota worth mentioning."""
    settings = {
        "users": 3,
        "clock_speed": 0,
        "start_time": START,
        "quota_per_minute": 1_000_000,
    }
    settings.update(overrides)
    return SimulatorConfig(**settings)


@pytest.fixture
def sim():
    """A simulator of this test's own (tests revoke grants and inject faults)."""
    with Simulator(sim_config()) as running:
        yield running


@pytest.fixture
def tokens(sim, tmp_path) -> LocalFileTokenStore:
    """The OAuth client and every user's token, consented through the simulator."""
    store = LocalFileTokenStore(tmp_path / "tokens")
    authorise_users(sim, list(USERS), store)
    return store


def token_url(sim: Simulator) -> str:
    return oauth.OAuthClient.for_base_url("id", "secret", sim.base_url).token_url
