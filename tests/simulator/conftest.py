"""Fixtures and helpers for the simulator's tests.

Everything runs against real simulators on loopback with a frozen clock
(`clock_speed=0`): only `sim.advance()` moves time, so expiry and quota tests
need no sleeping. The session-wide `sim` is shared and must not be mutated
(no clock moves, edits, faults or revocations); tests that change state build
their own with `make_sim`.

Every error answer of the API (`/v4/...`) that a test sees through `Api` is
checked against the Google error envelope of the discovery document, whether
the test looks at it or not.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import secrets
import urllib.parse

import pytest
import requests

from simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Simulator, SimulatorConfig
from simulator.catalog import DATA_TYPES, SCOPE_PREFIX
from simulator.discovery import DiscoveryValidator

# 2026-11-28 12:00 UTC: the simulators' clocks stand still here unless a test moves one.
START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC).timestamp()
# First day with data: keeps full scans short while covering the DST change of 2026-11-01.
HISTORY_START = dt.date(2026, 10, 1)
REDIRECT_URI = "http://127.0.0.1:8765/callback"

ACTIVITY = SCOPE_PREFIX + "activity_and_fitness.readonly"
METRICS = SCOPE_PREFIX + "health_metrics_and_measurements.readonly"
SLEEP = SCOPE_PREFIX + "sleep.readonly"
LOCATION = SCOPE_PREFIX + "location.readonly"
PROFILE = SCOPE_PREFIX + "profile.readonly"
SETTINGS = SCOPE_PREFIX + "settings.readonly"
ECG = SCOPE_PREFIX + "ecg.readonly"
IRN = SCOPE_PREFIX + "irn.readonly"
REPRODUCTIVE = SCOPE_PREFIX + "reproductive_health.readonly"
SYMPTOMS = SCOPE_PREFIX + "logged_symptoms.readonly"
MINDFULNESS = SCOPE_PREFIX + "mindfulness.readonly"
# Every read scope of the discovery document (nutrition has none: it is write-only).
ALL_SCOPES = (
    ACTIVITY,
    METRICS,
    SLEEP,
    LOCATION,
    PROFILE,
    SETTINGS,
    ECG,
    IRN,
    REPRODUCTIVE,
    SYMPTOMS,
    MINDFULNESS,
)

VALIDATOR = DiscoveryValidator()


def config(**overrides) -> SimulatorConfig:
    """The suite's simulator settings: frozen clock, fixed seed, short history."""
    settings = {
        "seed": 0,
        "users": 4,
        "clock_speed": 0,
        "start_time": START,
        "history_start": HISTORY_START,
        "quota_per_minute": 1_000_000,
    }
    settings.update(overrides)
    return SimulatorConfig(**settings)


@pytest.fixture(scope="session")
def sim():
    """A shared, read-only simulator: 4 users, seed 0, frozen at START."""
    with Simulator(config()) as running:
        yield running


@pytest.fixture
def make_sim():
    """Builds and starts simulators for tests that change state; stops them afterwards."""
    started = []

    def make(sleep=None, **overrides) -> Simulator:
        kwargs = {"sleep": sleep} if sleep is not None else {}
        running = Simulator(config(**overrides), **kwargs)
        running.start()
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()


# -- OAuth ---------------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    """A PKCE verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def authorization_redirect(sim: Simulator, **overrides) -> requests.Response:
    """GETs the authorization endpoint as a browser would, without following the redirect."""
    params = {
        "client_id": DEFAULT_CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": " ".join(ALL_SCOPES),
        "login_hint": "user-1",
        "state": "state-123",
        "access_type": "offline",
    }
    params.update(overrides)
    params = {k: v for k, v in params.items() if v is not None}
    return requests.get(sim.authorization_url, params=params, allow_redirects=False, timeout=10)


def redirect_query(response: requests.Response) -> dict[str, str]:
    """The query of a 302 back to the redirect URI."""
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def token_request(sim: Simulator, form: dict, basic: tuple[str, str] | None = None):
    """POSTs to the token endpoint; client credentials go in the form unless `basic`."""
    if basic is None:
        form = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET, **form}
    return requests.post(sim.token_url, data=form, auth=basic, timeout=10)


@dataclasses.dataclass
class Grant:
    """What one authorization gave: the token response and how it was obtained."""

    token: dict
    scopes: tuple[str, ...]

    @property
    def access_token(self) -> str:
        return self.token["access_token"]


def authorize(
    sim: Simulator, user: str = "user-1", scopes=ALL_SCOPES, offline: bool = True
) -> Grant:
    """Authorises a synthetic user through the real HTTP flow (PKCE S256, state)."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(8)
    query = redirect_query(
        authorization_redirect(
            sim,
            login_hint=user,
            scope=" ".join(scopes),
            state=state,
            code_challenge=challenge,
            code_challenge_method="S256",
            access_type="offline" if offline else "online",
        )
    )
    assert query["state"] == state
    response = token_request(
        sim,
        {
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 200, response.text
    return Grant(response.json(), tuple(scopes))


# -- API -----------------------------------------------------------------------


def check_error(response: requests.Response) -> None:
    """Asserts that an API error answer is a valid Google error envelope."""
    body = response.json()
    problems = VALIDATOR.validate_error(body, response.status_code)
    assert problems == [], f"{response.request.method} {response.url}: {problems}"


def _check_api_errors(response: requests.Response, *args, **kwargs) -> None:
    path = urllib.parse.urlsplit(response.url).path
    if response.status_code >= 400 and path.startswith("/v4/"):
        check_error(response)


def error_of(response: requests.Response, code: int, reason: str | None) -> dict:
    """Asserts an error answer's status and ErrorInfo reason (None: no details); returns it."""
    assert response.status_code == code, response.text
    check_error(response)
    error = response.json()["error"]
    if reason is None:
        assert "details" not in error, error
    else:
        reasons = [d["reason"] for d in error["details"] if "reason" in d]
        assert reasons == [reason], error
    return error


def civil_filter(data_type: str, member: str, start: str, end: str) -> str:
    """`{t}.{member} >= "start" AND {t}.{member} < "end"` with the snake_case prefix."""
    name = data_type.replace("-", "_")
    return f'{name}.{member} >= "{start}" AND {name}.{member} < "{end}"'


class Api:
    """A thin client of the simulated Google Health API for one access token."""

    def __init__(self, sim: Simulator, access_token: str):
        self.base = sim.base_url + "/v4/users/"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {access_token}"
        self.session.hooks["response"].append(_check_api_errors)

    def get(self, path: str, **params) -> requests.Response:
        return self.session.get(self.base + path, params=params, timeout=30)

    def post(self, path: str, body: dict) -> requests.Response:
        return self.session.post(self.base + path, json=body, timeout=30)

    def list(self, data_type: str, user: str = "me", verb: str = "", **params):
        params = {k: v for k, v in params.items() if v is not None}
        return self.get(f"{user}/dataTypes/{data_type}/dataPoints{verb}", **params)

    def reconcile(self, data_type: str, **params):
        return self.list(data_type, verb=":reconcile", **params)

    def pages(self, data_type: str, verb: str = "", **params) -> list[dict]:
        """Follows nextPageToken to the end; returns every page body."""
        bodies = []
        token = None
        while True:
            response = self.list(data_type, verb=verb, pageToken=token, **params)
            assert response.status_code == 200, response.text
            bodies.append(response.json())
            token = bodies[-1].get("nextPageToken")
            if not token:
                return bodies
            assert len(bodies) < 1000, "paging does not end"

    def all_points(self, data_type: str, verb: str = "", **params) -> list[dict]:
        return [
            p for body in self.pages(data_type, verb, **params) for p in body.get("dataPoints", [])
        ]

    def data_point(self, data_type: str, point_id: str, user: str = "me"):
        return self.get(f"{user}/dataTypes/{data_type}/dataPoints/{point_id}")

    def rollup(self, data_type: str, start: str, end: str, window: str = "86400s", **extra):
        body = {"range": {"startTime": start, "endTime": end}, "windowSize": window, **extra}
        return self.post(f"me/dataTypes/{data_type}/dataPoints:rollUp", body)

    def daily_rollup(self, data_type: str, start: dt.date, end: dt.date, **extra):
        body = {
            "range": {
                "start": {"date": date_json(start)},
                "end": {"date": date_json(end)},
            },
            **extra,
        }
        return self.post(f"me/dataTypes/{data_type}/dataPoints:dailyRollUp", body)


def date_json(day: dt.date) -> dict:
    return {"year": day.year, "month": day.month, "day": day.day}


def canonical(point: dict) -> str:
    """A data point as a hashable, order-independent string."""
    return json.dumps(point, sort_keys=True)


@pytest.fixture(scope="session")
def grants(sim):
    """Access grants with every read scope, one per user of the shared simulator (lazy)."""
    held: dict[str, Grant] = {}

    def grant(user: str) -> Grant:
        if user not in held:
            held[user] = authorize(sim, user)
        return held[user]

    return grant


@pytest.fixture(scope="session")
def api(sim, grants):
    """An `Api` for a user of the shared simulator: `api("user-2")`."""
    clients: dict[str, Api] = {}

    def client(user: str = "user-1") -> Api:
        if user not in clients:
            clients[user] = Api(sim, grants(user).access_token)
        return clients[user]

    return client


def day_filter(data_type: str, first: dt.date, end: dt.date) -> str:
    """A filter for the civil days [first, end) on the type's civil (or date) member."""
    members = DATA_TYPES[data_type].filter_members
    member = next((m for m in members if "civil" in m or m == "date"), None)
    if member is None:
        # Electrocardiogram: a lower bound on the instant only (a day early covers every
        # zone); the caller keeps the points before `end` itself.
        since = dt.datetime.combine(first - dt.timedelta(days=1), dt.time(), dt.UTC)
        name = data_type.replace("-", "_")
        return f'{name}.{members[0]} >= "{since.strftime("%Y-%m-%dT%H:%M:%SZ")}"'
    return civil_filter(data_type, member, first.isoformat(), end.isoformat())
