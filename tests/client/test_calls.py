"""healthapi.calls: the retry discipline of one request, and whole calls against the simulator.

The first part drives `CallRunner.request` with scripted answers; the second runs
planned calls against the in-process simulator and holds what they return equal
to the simulator's ground truth, also when the API drops points at page
boundaries and when pages are small. Waits go to recording fakes or to the
simulator's clock, never to the wall clock.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import json

import pytest
import requests
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError

from healthapi import datatypes, planning
from healthapi.auth import oauth
from healthapi.auth.broker import TokenBroker
from healthapi.calls import CallFailed, CallRunner, fetch_list, fetch_summary, run_call
from healthapi.client import HealthApiClient, HealthApiError
from healthapi.elements import STREAM_RAW, STREAM_RECONCILED, ApiCall, ApiPage, FetchRequest
from healthapi.quota import UserRateLimiter
from healthapi.retry import RetryPolicy, Verdict
from simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Simulator, SimulatorConfig
from tests.client.conftest import START, visit

D = dt.date
SCOPES = datatypes.scopes_for(list(datatypes.SPECS))


class MemoryStore:
    """An in-memory token store."""

    def __init__(self, tokens: dict | None = None):
        self.tokens = dict(tokens or {})
        self.saves: list[str] = []

    def load(self, user_key):
        return self.tokens.get(user_key)

    def save(self, user_key, token):
        self.saves.append(user_key)
        self.tokens[user_key] = token

    def refresh_lock(self, user_key):
        return contextlib.nullcontext()  # one process: the broker's own lock suffices

    def load_client(self):
        return (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)

    def save_client(self, client_id, client_secret):
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class NoJitterPolicy(RetryPolicy):
    """The project's policy with the jitter drawn at its top: exact waits to assert."""

    def delay(self, attempt, verdict, rand=None):
        return super().delay(attempt, verdict, rand=lambda: 1.0)


def never_sleep(seconds: float) -> None:
    raise AssertionError(f"slept {seconds} s on the wall clock")


# -- CallRunner.request with scripted answers ----------------------------------------


NOW = 1_795_000_000.0
CLIENT = oauth.OAuthClient("client-id", "client-secret", token_url="https://example.test/token")


class Endpoint:
    """Stands in for the token endpoint: numbered tokens, or the scripted errors first."""

    def __init__(self, errors=()):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, client, old):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {
            "access_token": f"at-{self.calls}",
            "refresh_token": "rt",
            "expires_at": NOW + 3600,
        }


class Script:
    """`send(token)` that answers from a script: an exception is raised, a value returned."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.tokens: list[str] = []

    def __call__(self, token):
        self.tokens.append(token)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


@dataclasses.dataclass
class Rig:
    runner: CallRunner
    endpoint: Endpoint
    store: MemoryStore
    sleeps: list
    statuses: list
    retries: list


def rig(max_attempts=4, refresh_errors=(), tokens=None, expires_at=NOW + 3600) -> Rig:
    store = MemoryStore(
        tokens
        if tokens is not None
        else {"u1": {"access_token": "at-0", "refresh_token": "rt", "expires_at": expires_at}}
    )
    endpoint = Endpoint(refresh_errors)
    broker = TokenBroker(store, CLIENT, clock=lambda: NOW, refresh=endpoint)
    sleeps, statuses, retries = [], [], []
    runner = CallRunner(
        broker,
        UserRateLimiter(1000, clock=lambda: NOW, sleep=never_sleep),
        NoJitterPolicy(max_attempts=max_attempts, base_delay_seconds=1.0, max_delay_seconds=60.0),
        sleep=sleeps.append,
        on_status=statuses.append,
        on_retry=lambda: retries.append(True),
    )
    return Rig(runner, endpoint, store, sleeps, statuses, retries)


def http(status, reason="REASON", retry_after=None) -> HealthApiError:
    return HealthApiError(status, reason, f"status {status}", f"body {status}", retry_after)


def test_a_first_success_is_returned_as_is():
    r = rig()
    send = Script({"dataPoints": []})

    assert r.runner.request("u1", send) == {"dataPoints": []}
    assert send.tokens == ["at-0"]
    assert (r.sleeps, r.statuses, r.retries) == ([], [200], [])


def test_5xx_429_and_connection_errors_are_retried_with_backoff():
    r = rig(max_attempts=6)
    send = Script(
        http(503, "UNAVAILABLE"),
        http(500),
        requests.ConnectionError("reset"),
        http(429, "RATE_LIMIT_EXCEEDED"),
        requests.ReadTimeout("slow"),
        "done",
    )

    assert r.runner.request("u1", send) == "done"
    assert r.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert r.statuses == [503, 500, 0, 429, 0, 200]
    assert len(r.retries) == 5
    assert send.tokens == ["at-0"] * 6


def test_a_retry_after_hint_sets_the_wait():
    r = rig()
    send = Script(http(429, "RATE_LIMIT_EXCEEDED", retry_after=7.0), http(503), "done")

    assert r.runner.request("u1", send) == "done"
    assert r.sleeps == [7.0, 2.0]


def test_a_broken_200_body_is_retried():
    r = rig()
    send = Script(HealthApiError(200, "MALFORMED_RESPONSE", "invalid JSON"), "done")

    assert r.runner.request("u1", send) == "done"
    assert r.sleeps == [1.0]
    assert r.statuses == [200, 200]


def test_retries_give_up_after_max_attempts():
    r = rig(max_attempts=4)
    send = Script(*[http(503, "UNAVAILABLE")] * 4)

    with pytest.raises(CallFailed) as caught:
        r.runner.request("u1", send)

    assert caught.value.attempts == 4
    assert caught.value.replayable is True
    assert caught.value.verdict == Verdict(
        True, False, 503, "UNAVAILABLE", "status 503", "body 503", None
    )
    assert str(caught.value) == "UNAVAILABLE: status 503"
    assert r.sleeps == [1.0, 2.0, 4.0]  # no wait after the last attempt
    assert len(r.retries) == 3
    assert send.answers == []


def test_a_single_attempt_policy_never_retries():
    r = rig(max_attempts=1)
    with pytest.raises(CallFailed) as caught:
        r.runner.request("u1", Script(requests.ConnectionError("reset")))
    assert (caught.value.attempts, caught.value.verdict.reason) == (1, "CONNECTION_ERROR")
    assert r.sleeps == []


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (400, "INVALID_DATA_POINT_FILTER_SYNTAX"),
        (403, "ACCESS_TOKEN_SCOPE_INSUFFICIENT"),
        (404, None),
    ],
)
def test_permanent_4xx_are_not_retried(status, reason):
    r = rig()
    send = Script(http(status, reason), "never")

    with pytest.raises(CallFailed) as caught:
        r.runner.request("u1", send)

    assert caught.value.attempts == 1
    assert caught.value.replayable is False
    assert caught.value.verdict.status == status
    assert caught.value.verdict.reason == (reason or f"HTTP_{status}")
    assert (r.sleeps, r.statuses, r.retries) == ([], [status], [])
    assert send.answers == ["never"]


def test_an_unexpected_exception_is_a_permanent_failure():
    r = rig()
    with pytest.raises(CallFailed) as caught:
        r.runner.request("u1", Script(KeyError("nextPageToken")))
    assert caught.value.verdict.reason == "KeyError"
    assert (caught.value.attempts, caught.value.replayable) == (1, False)


def test_one_refresh_after_a_401_then_success():
    r = rig()
    send = Script(http(401, "ACCESS_TOKEN_EXPIRED"), "done")

    assert r.runner.request("u1", send) == "done"
    assert send.tokens == ["at-0", "at-1"]
    assert r.endpoint.calls == 1
    assert r.store.tokens["u1"]["access_token"] == "at-1"
    assert r.sleeps == []  # a refresh is not a backoff
    assert r.statuses == [401, 200]


def test_a_second_401_is_permanent():
    r = rig()
    send = Script(http(401, "ACCESS_TOKEN_EXPIRED"), http(401, "ACCESS_TOKEN_EXPIRED"), "never")

    with pytest.raises(CallFailed) as caught:
        r.runner.request("u1", send)

    assert caught.value.attempts == 2
    assert caught.value.replayable is False
    assert caught.value.verdict.status == 401
    assert r.endpoint.calls == 1
    assert send.tokens == ["at-0", "at-1"]


def test_a_401_whose_grant_is_gone_needs_consent():
    r = rig(refresh_errors=[InvalidGrantError(description="revoked")])
    send = Script(http(401, "ACCESS_TOKEN_EXPIRED"), "never")

    with pytest.raises(CallFailed) as caught:
        r.runner.request("u1", send)

    assert caught.value.verdict.reason == "NEEDS_CONSENT"
    assert caught.value.verdict.status == 401
    assert caught.value.verdict.retriable is False
    assert caught.value.attempts == 1
    assert caught.value.replayable is True  # after consent, the call can be replayed
    assert "invalid_grant (revoked)" in caught.value.verdict.message


def test_a_transient_refresh_failure_after_a_401_is_retried_with_backoff():
    r = rig(refresh_errors=[requests.ConnectionError("token endpoint down")])
    send = Script(http(401, "ACCESS_TOKEN_EXPIRED"), http(401, "ACCESS_TOKEN_EXPIRED"), "done")

    assert r.runner.request("u1", send) == "done"
    assert send.tokens == ["at-0", "at-0", "at-2"]
    assert r.endpoint.calls == 2
    assert r.sleeps == [1.0]
    assert r.store.tokens["u1"]["access_token"] == "at-2"


def test_a_token_endpoint_that_stays_down_after_a_401_gives_up_replayable():
    down = [requests.ConnectionError("token endpoint down")] * 3
    r = rig(max_attempts=3, refresh_errors=down)
    send = Script(*[http(401, "ACCESS_TOKEN_EXPIRED")] * 3)

    with pytest.raises(CallFailed) as caught:
        r.runner.request("u1", send)

    assert caught.value.attempts == 3
    assert caught.value.replayable is True
    assert caught.value.verdict.reason == "TOKEN_REFRESH_FAILED"
    assert r.sleeps == [1.0, 2.0]
    assert r.endpoint.calls == 3


def test_a_user_without_a_token_fails_at_once_and_replayably():
    r = rig(tokens={})
    send = Script("never")

    with pytest.raises(CallFailed) as caught:
        r.runner.request("u1", send)

    assert caught.value.verdict == Verdict(
        False,
        False,
        0,
        "NEEDS_CONSENT",
        "user 'u1' must consent again: no token in the token store",
    )
    assert (caught.value.attempts, caught.value.replayable) == (1, True)
    assert send.tokens == []


def test_a_failed_refresh_of_an_expired_token_is_retried():
    r = rig(refresh_errors=[requests.ConnectionError("down")], expires_at=NOW - 1)
    send = Script("done")

    assert r.runner.request("u1", send) == "done"
    assert send.tokens == ["at-2"]
    assert r.sleeps == [1.0]


def test_every_attempt_takes_a_quota_slot():
    taken: list[str] = []

    class CountingLimiter(UserRateLimiter):
        def acquire(self, user_key):
            taken.append(user_key)
            return 0.0

    r = rig()
    r.runner.limiter = CountingLimiter(1)
    r.runner.request("u1", Script(http(503), http(401), "done"))
    assert taken == ["u1", "u1", "u1"]


def test_the_token_is_taken_after_the_quota_wait():
    # Under an hourly budget the wait for a slot can outlast the token held before it.
    now = [NOW]
    store = MemoryStore(
        {"u1": {"access_token": "at-0", "refresh_token": "rt", "expires_at": NOW + 600}}
    )
    broker = TokenBroker(store, CLIENT, clock=lambda: now[0], refresh=Endpoint(()))

    class SlowLimiter(UserRateLimiter):
        def acquire(self, user_key):
            now[0] += 900  # waited a quarter of an hour for the slot
            return 900.0

    runner = CallRunner(broker, SlowLimiter(1), NoJitterPolicy(max_attempts=1))
    send = Script("done")
    assert runner.request("u1", send) == "done"
    assert send.tokens == ["at-1"]  # refreshed after the wait, not the expired at-0


# -- whole calls against the simulator -----------------------------------------------


class SmallPages(HealthApiClient):
    """The real client, asking for small pages and recording each list request."""

    def __init__(self, session, base_url, page_size):
        super().__init__(session, base_url)
        self.small = page_size
        self.requests: list[tuple[str, str | None]] = []

    def list_page(self, token, data_type, filter_text=None, page_token=None, **kwargs):
        self.requests.append((filter_text, page_token))
        kwargs["page_size"] = self.small
        return super().list_page(token, data_type, filter_text, page_token, **kwargs)


@dataclasses.dataclass
class Live:
    sim: Simulator
    runner: CallRunner
    store: MemoryStore
    sleeps: list
    statuses: list


def sim_time_token(sim, token: dict) -> dict:
    """A token whose expiry is on the simulator's clock (requests-oauthlib uses the wall's)."""
    return {**token, "expires_at": sim.clock.now() + float(token["expires_in"])}


def live(sim, users=("user-1", "user-2", "user-3"), max_attempts=6, broker_clock=None) -> Live:
    """A runner for real users of `sim`: tokens, quota and waits all on simulator time."""
    client = oauth.OAuthClient.for_base_url(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, sim.base_url)
    store = MemoryStore(
        {
            u: sim_time_token(sim, oauth.authorize(client, SCOPES, login_hint=u, open_url=visit))
            for u in users
        }
    )
    broker = TokenBroker(
        store,
        client,
        clock=broker_clock or sim.clock.now,
        refresh=lambda c, t: sim_time_token(sim, oauth.refresh(c, t)),
    )
    limiter = UserRateLimiter(sim.config.quota_per_minute, clock=sim.clock.now, sleep=sim.advance)
    sleeps: list[float] = []
    statuses: list[int] = []
    runner = CallRunner(
        broker,
        limiter,
        NoJitterPolicy(max_attempts=max_attempts),
        sleep=sleeps.append,
        on_status=statuses.append,
    )
    return Live(sim, runner, store, sleeps, statuses)


def api(sim) -> HealthApiClient:
    return HealthApiClient(requests.Session(), sim.base_url)


def canonical(points) -> list[str]:
    return sorted(json.dumps(p, sort_keys=True) for p in points)


def truth(sim, user, data_type, first, last, stream) -> list[str]:
    got = sim.ground_truth(user, data_type, first, last, reconciled=stream == STREAM_RECONCILED)
    return canonical(t["dataPoint"] for t in got)


def civil_datetime(civil: dict) -> dt.datetime:
    t = civil.get("time", {})
    return dt.datetime(
        **civil["date"],
        hour=t.get("hours", 0),
        minute=t.get("minutes", 0),
        second=t.get("seconds", 0),
    )


def window_truth(sim, call: ApiCall) -> list[str]:
    """Ground truth of a list call's civil window: its days, cut to its hours for samples."""
    start = dt.datetime.fromisoformat(call.start)
    end = dt.datetime.fromisoformat(call.end)
    last = (end - dt.timedelta(seconds=1)).date()
    days = sim.ground_truth(
        call.user_key, call.data_type, start.date(), last, call.stream == STREAM_RECONCILED
    )
    key = datatypes.spec(call.data_type).json_key

    def inside(point: dict) -> bool:
        sample = point[key].get("sampleTime")
        if sample is None:
            assert start.time() == end.time() == dt.time(0), "part-day window of a non-sample type"
            return True
        return start <= civil_datetime(sample["civilTime"]) < end

    return canonical(t["dataPoint"] for t in days if inside(t["dataPoint"]))


def fetch_request(run: Live, client, request: FetchRequest) -> list[dict]:
    """Every point of a request, call by call as planned."""
    points: list[dict] = []
    for call in planning.plan_calls(request):
        page = run_call(run.runner, client, call)
        assert page == ApiPage(call, points=page.points)
        points.extend(page.points)
    return points


@pytest.fixture
def run(sim) -> Live:
    return live(sim)


@pytest.mark.parametrize(
    ("user", "data_type", "first", "last", "stream"),
    [
        ("user-1", "steps", D(2026, 11, 9), D(2026, 11, 12), STREAM_RAW),
        ("user-1", "steps", D(2026, 11, 9), D(2026, 11, 12), STREAM_RECONCILED),
        ("user-2", "distance", D(2026, 11, 1), D(2026, 11, 3), STREAM_RAW),
        ("user-3", "floors", D(2026, 10, 20), D(2026, 11, 27), STREAM_RAW),
        ("user-2", "active-zone-minutes", D(2026, 11, 1), D(2026, 11, 20), STREAM_RAW),
        ("user-2", "heart-rate", D(2026, 11, 5), D(2026, 11, 5), STREAM_RAW),
        ("user-1", "heart-rate", D(2026, 11, 1), D(2026, 11, 1), STREAM_RECONCILED),
        ("user-3", "heart-rate-variability", D(2026, 11, 1), D(2026, 11, 14), STREAM_RAW),
        ("user-1", "daily-resting-heart-rate", D(2026, 1, 1), D(2026, 11, 27), STREAM_RAW),
        ("user-2", "daily-heart-rate-zones", D(2026, 9, 1), D(2026, 11, 27), STREAM_RAW),
        ("user-3", "daily-vo2-max", D(2026, 9, 1), D(2026, 11, 27), STREAM_RECONCILED),
        ("user-1", "sleep", D(2026, 10, 1), D(2026, 11, 27), STREAM_RAW),
        ("user-2", "exercise", D(2026, 9, 1), D(2026, 11, 27), STREAM_RAW),
        ("user-3", "weight", D(2025, 11, 1), D(2026, 11, 27), STREAM_RAW),
        ("user-1", "body-fat", D(2025, 11, 1), D(2026, 11, 27), STREAM_RECONCILED),
    ],
)
def test_planned_calls_return_exactly_the_ground_truth(run, user, data_type, first, last, stream):
    got = fetch_request(run, api(run.sim), FetchRequest(user, data_type, first, last, stream))

    expected = truth(run.sim, user, data_type, first, last, stream)
    assert canonical(got) == expected
    assert len(expected) > 0
    assert run.sleeps == []


def test_fetch_list_of_one_window_is_that_windows_ground_truth(run):
    call = ApiCall("user-2", "list", "steps", "2026-11-10", "2026-11-11", STREAM_RAW)

    got = fetch_list(run.runner, api(run.sim), call)

    assert isinstance(got, tuple)
    assert canonical(got) == truth(
        run.sim, "user-2", "steps", D(2026, 11, 10), D(2026, 11, 10), STREAM_RAW
    )


def test_fetch_list_of_a_part_day_window(run):
    call = ApiCall(
        "user-1", "list", "heart-rate", "2026-11-10T06:00:00", "2026-11-10T12:00:00", STREAM_RAW
    )

    got = fetch_list(run.runner, api(run.sim), call)

    expected = window_truth(run.sim, call)
    assert canonical(got) == expected
    assert len(expected) == 6 * 3600 // 5  # one sample every 5 s from the watch
    whole_day = ApiCall("user-1", "list", "heart-rate", "2026-11-10", "2026-11-11", STREAM_RAW)
    assert len(window_truth(run.sim, whole_day)) > len(expected)


def test_an_empty_window_is_an_empty_tuple(run):
    call = ApiCall("user-1", "list", "weight", "2024-01-01", "2024-02-01", STREAM_RAW)
    assert fetch_list(run.runner, api(run.sim), call) == ()


# Small pages force page boundaries; the fault drops the points tied with each page's last.


@pytest.fixture
def dropping_sim():
    config = SimulatorConfig(users=3, clock_speed=0, start_time=START, faults="page-drop=1")
    with Simulator(config) as running:
        yield running


def plain_pages(sim, token, data_type, filter_text, page_size, reconcile) -> list[dict]:
    client = HealthApiClient(requests.Session(), sim.base_url)
    return list(
        client.list_all(
            token, data_type, filter_text=filter_text, page_size=page_size, reconcile=reconcile
        )
    )


@pytest.mark.parametrize(
    ("user", "data_type", "window", "stream", "page_size"),
    [
        # A day worn is some 1,400 watch minutes (true zeros) and the phone's: pages of 25
        # and 30 keep the reads of a day under the user's 300 requests a minute.
        ("user-1", "steps", ("2026-11-10", "2026-11-11"), STREAM_RAW, 25),
        ("user-2", "steps", ("2026-11-10", "2026-11-13"), STREAM_RAW, 50),
        ("user-3", "distance", ("2026-11-20", "2026-11-21"), STREAM_RAW, 30),
        # Chest strap and watch share timestamps during an exercise at 09:02 local time.
        ("user-2", "heart-rate", ("2026-11-05T06:00:00", "2026-11-05T12:00:00"), STREAM_RAW, 333),
    ],
)
def test_points_dropped_at_page_boundaries_are_read_back(
    dropping_sim, user, data_type, window, stream, page_size
):
    run = live(dropping_sim, users=(user,))
    client = SmallPages(requests.Session(), dropping_sim.base_url, page_size)
    call = ApiCall(user, "list", data_type, *window, stream)
    expected = window_truth(dropping_sim, call)

    # The fault bites: paging alone loses points.
    token = run.runner.broker.access_token(user)
    naive = plain_pages(
        dropping_sim, token, data_type, planning.window_filter(call), page_size, False
    )
    assert len(naive) < len(expected)

    got = fetch_list(run.runner, client, call)

    assert canonical(got) == expected
    assert len(got) == len(expected)  # no point twice
    pages = [t for f, t in client.requests if f == planning.window_filter(call)]
    tie_reads = [f for f, _ in client.requests if f != planning.window_filter(call)]
    assert len(tie_reads) == len(pages) - 1  # one re-read per page boundary
    assert len(pages) >= len(naive) // page_size


@pytest.mark.parametrize(
    ("user", "data_type", "window", "stream", "page_size"),
    [
        ("user-1", "steps", ("2026-11-10", "2026-11-11"), STREAM_RECONCILED, 9),
        ("user-2", "heart-rate", ("2026-11-05", "2026-11-06"), STREAM_RECONCILED, 1000),
        ("user-3", "weight", ("2025-11-01", "2026-11-28"), STREAM_RAW, 4),
        ("user-1", "daily-resting-heart-rate", ("2025-11-01", "2026-11-28"), STREAM_RAW, 6),
        ("user-2", "daily-heart-rate-variability", ("2026-06-01", "2026-11-28"), STREAM_RAW, 5),
        ("user-1", "sleep", ("2026-09-01", "2026-11-28"), STREAM_RAW, 3),
        ("user-2", "exercise", ("2026-06-01", "2026-11-28"), STREAM_RAW, 2),
        ("user-3", "heart-rate-variability", ("2026-11-01", "2026-11-08"), STREAM_RECONCILED, 25),
    ],
)
def test_small_pages_with_the_drop_fault_give_the_ground_truth(
    dropping_sim, user, data_type, window, stream, page_size
):
    run = live(dropping_sim, users=(user,))
    client = SmallPages(requests.Session(), dropping_sim.base_url, page_size)
    call = ApiCall(user, "list", data_type, *window, stream)
    expected = window_truth(dropping_sim, call)

    got = fetch_list(run.runner, client, call)

    assert canonical(got) == expected
    pages = [t for f, t in client.requests if f == planning.window_filter(call)]
    tie_reads = len(client.requests) - len(pages)
    if stream == STREAM_RAW and datatypes.spec(data_type).kind is not datatypes.Kind.SESSION:
        # Dropped ties leave fewer points to page through; each boundary is re-read.
        assert len(pages) <= -(-len(expected) // page_size)
        assert tie_reads == len(pages) - 1
    else:
        # One point per instant (reconciled) or no two sessions starting together: the
        # fault has nothing to drop, and nothing is re-read.
        assert len(pages) == -(-len(expected) // page_size)
        assert tie_reads == 0
    assert run.statuses == [200] * len(client.requests)


def test_many_small_pages_without_faults(run):
    client = SmallPages(requests.Session(), run.sim.base_url, 3)
    call = ApiCall("user-3", "list", "steps", "2026-11-10", "2026-11-11", STREAM_RAW)
    expected = truth(run.sim, "user-3", "steps", D(2026, 11, 10), D(2026, 11, 10), STREAM_RAW)

    got = fetch_list(run.runner, client, call)

    assert canonical(got) == expected
    assert len(got) == len(expected)
    pages = [t for f, t in client.requests if f == planning.window_filter(call)]
    assert len(pages) == len(expected) // 3 + 1
    assert pages[0] is None and all(pages[1:])


def test_pages_of_25_for_sessions_are_followed_to_the_end(run):
    call = ApiCall("user-2", "list", "exercise", "2025-11-01", "2026-11-28", STREAM_RAW)
    client = SmallPages(requests.Session(), run.sim.base_url, 25)
    expected = truth(run.sim, "user-2", "exercise", D(2025, 11, 1), D(2026, 11, 27), STREAM_RAW)

    got = fetch_list(run.runner, client, call)

    assert canonical(got) == expected
    assert len(expected) > 50
    assert sum(1 for f, _ in client.requests if f == planning.window_filter(call)) > 2


def test_empty_pages_that_carry_a_token_are_followed():
    config = SimulatorConfig(users=1, clock_speed=0, start_time=START, scan_days_per_page=1)
    with Simulator(config) as sim:
        run = live(sim, users=("user-1",))
        client = SmallPages(requests.Session(), sim.base_url, 2)
        call = ApiCall("user-1", "list", "weight", "2026-08-01", "2026-11-28", STREAM_RAW)
        expected = truth(sim, "user-1", "weight", D(2026, 8, 1), D(2026, 11, 27), STREAM_RAW)

        got = fetch_list(run.runner, client, call)

    assert canonical(got) == expected
    assert len(client.requests) > 119  # at least one page per civil day scanned


# -- retries and tokens against the simulator ------------------------------------------


def test_injected_faults_are_retried_until_the_ground_truth_is_complete():
    faults = "500=0.1,503=0.1,504=0.05,429=0.05,reset=0.05,truncate=0.05,content-type=0.05"
    config = SimulatorConfig(users=1, clock_speed=0, start_time=START, faults=faults)
    with Simulator(config) as sim:
        run = live(sim, users=("user-1",), max_attempts=10)
        client = SmallPages(requests.Session(), sim.base_url, 20)
        call = ApiCall("user-1", "list", "steps", "2026-11-10", "2026-11-11", STREAM_RAW)
        expected = truth(sim, "user-1", "steps", D(2026, 11, 10), D(2026, 11, 10), STREAM_RAW)

        got = fetch_list(run.runner, client, call)
        injected = sim.stats()["faultsInjected"]

    assert canonical(got) == expected
    counts = collections.Counter(run.statuses)
    assert counts[500] == injected["500"]
    assert counts[503] == injected["503"]
    assert counts[504] == injected["504"]
    assert counts[429] == injected["429"]
    assert counts[0] == injected["reset"]
    # Every attempt reports its status once; broken 200 bodies report 200 and are retried.
    assert len(run.statuses) == len(client.requests)
    assert counts[200] == len(client.requests) - sum(
        injected[k] for k in ("500", "503", "504", "429", "reset")
    )
    assert len(run.sleeps) == sum(injected.values())
    assert all(s in (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0) for s in run.sleeps)


def test_the_servers_retry_after_is_the_wait():
    config = SimulatorConfig(
        users=1, clock_speed=0, start_time=START, faults="429=0.5", retry_after_seconds=7
    )
    with Simulator(config) as sim:
        run = live(sim, users=("user-1",), max_attempts=20)
        call = ApiCall("user-1", "list", "sleep", "2026-11-01", "2026-11-08", STREAM_RAW)
        got = fetch_list(run.runner, api(sim), call)
        injected = sim.stats()["faultsInjected"]["429"]

    assert canonical(got) == truth(
        sim, "user-1", "sleep", D(2026, 11, 1), D(2026, 11, 7), STREAM_RAW
    )
    assert injected > 0
    assert run.sleeps == [7.0] * injected


def test_retries_exhausted_against_a_failing_server():
    config = SimulatorConfig(users=1, clock_speed=0, start_time=START, faults="503=1")
    with Simulator(config) as sim:
        run = live(sim, users=("user-1",), max_attempts=3)
        call = ApiCall("user-1", "list", "steps", "2026-11-10", "2026-11-11", STREAM_RAW)
        with pytest.raises(CallFailed) as caught:
            run_call(run.runner, api(sim), call)

    assert caught.value.attempts == 3
    assert caught.value.replayable is True
    assert (caught.value.verdict.status, caught.value.verdict.reason) == (503, "UNAVAILABLE")
    assert run.sleeps == [1.0, 2.0]


def test_an_expired_token_is_refreshed_once_after_the_401(sim):
    # The broker's clock lags: it still believes in the token the API now rejects.
    run = live(sim, users=("user-1",), broker_clock=lambda: START)
    old = run.store.tokens["user-1"]["access_token"]
    sim.advance(3600)
    call = ApiCall("user-1", "list", "sleep", "2026-11-01", "2026-11-08", STREAM_RAW)

    got = fetch_list(run.runner, api(sim), call)

    assert canonical(got) == truth(
        sim, "user-1", "sleep", D(2026, 11, 1), D(2026, 11, 7), STREAM_RAW
    )
    assert run.statuses == [401, 200]
    assert run.store.saves == ["user-1"]
    assert run.store.tokens["user-1"]["access_token"] != old
    assert sim.stats()["refreshesByUser"] == {"user-1": 1}
    assert run.sleeps == []


def test_an_expiring_token_is_refreshed_before_the_call(sim):
    run = live(sim, users=("user-1",))
    sim.advance(3600 - 100)  # within the broker's margin, still valid for the API
    call = ApiCall("user-1", "list", "weight", "2026-11-01", "2026-11-08", STREAM_RAW)

    fetch_list(run.runner, api(sim), call)

    assert run.statuses == [200]
    assert sim.stats()["refreshesByUser"] == {"user-1": 1}
    assert run.store.saves == ["user-1"]


def test_a_revoked_grant_needs_consent(sim):
    run = live(sim, users=("user-1",))
    token = run.store.tokens["user-1"]
    response = requests.post(sim.revoke_url, data={"token": token["refresh_token"]}, timeout=10)
    assert response.status_code == 200
    call = ApiCall("user-1", "list", "steps", "2026-11-10", "2026-11-11", STREAM_RAW)

    with pytest.raises(CallFailed) as caught:
        run_call(run.runner, api(sim), call)

    assert caught.value.verdict.reason == "NEEDS_CONSENT"
    assert caught.value.verdict.status == 401
    assert caught.value.attempts == 1
    assert sim.stats()["invalidGrants"] == 1


def test_the_quota_keeps_calls_under_the_servers_limit():
    config = SimulatorConfig(users=1, clock_speed=0, start_time=START, quota_per_minute=10)
    with Simulator(config) as sim:
        run = live(sim, users=("user-1",))
        client = SmallPages(requests.Session(), sim.base_url, 10)
        call = ApiCall("user-1", "list", "steps", "2026-11-10", "2026-11-11", STREAM_RECONCILED)
        before = sim.clock.now()

        got = fetch_list(run.runner, client, call)
        stats = sim.stats()
        waited = sim.clock.now() - before

    assert canonical(got) == truth(
        sim, "user-1", "steps", D(2026, 11, 10), D(2026, 11, 10), STREAM_RECONCILED
    )
    assert stats["quotaRejectedByUser"] == {}
    assert 429 not in run.statuses
    assert waited == 60.0 * ((len(client.requests) - 1) // 10)


# -- summaries and TCX -------------------------------------------------------------------


def daily_sums(sim, user, data_type, first, last, measure) -> dict[str, object]:
    sums: dict[str, int] = {}
    for t in sim.ground_truth(user, data_type, first, last, reconciled=True):
        sums[t["civilDate"]] = sums.get(t["civilDate"], 0) + measure(t["dataPoint"])
    return sums


def by_day(windows, key, field) -> dict[str, object]:
    return {D(**w["civilStartTime"]["date"]).isoformat(): w[key][field] for w in windows}


def test_the_summary_call_rolls_up_each_type_per_civil_day(run):
    call = ApiCall("user-2", "summary", "daily-activity-summary", "2026-11-01", "2026-11-15")

    page = run_call(run.runner, api(run.sim), call)

    assert page == ApiPage(call, rollups=page.rollups)
    assert [t for t, _ in page.rollups] == list(datatypes.SUMMARY_TYPES)
    rollups = dict(page.rollups)
    first, last = D(2026, 11, 1), D(2026, 11, 14)
    steps = daily_sums(run.sim, "user-2", "steps", first, last, lambda p: int(p["steps"]["count"]))
    assert {d: int(v) for d, v in by_day(rollups["steps"], "steps", "countSum").items()} == steps
    assert len(steps) == 14
    distance = daily_sums(
        run.sim, "user-2", "distance", first, last, lambda p: int(p["distance"]["millimeters"])
    )
    assert {
        d: int(v) for d, v in by_day(rollups["distance"], "distance", "millimetersSum").items()
    } == distance
    floors = daily_sums(
        run.sim, "user-2", "floors", first, last, lambda p: int(p["floors"]["count"])
    )
    assert {d: int(v) for d, v in by_day(rollups["floors"], "floors", "countSum").items()} == floors
    kcal = {
        t["civilDate"]: t["kcal"]
        for t in run.sim.ground_truth("user-2", "total-calories", first, last)
    }
    assert by_day(rollups["total-calories"], "totalCalories", "kcalSum") == kcal
    assert len(kcal) == 14
    azm = daily_sums(
        run.sim,
        "user-2",
        "active-zone-minutes",
        first,
        last,
        lambda p: int(p["activeZoneMinutes"]["activeZoneMinutes"]),
    )
    got_azm = {
        D(**w["civilStartTime"]["date"]).isoformat(): sum(
            int(v) for v in w["activeZoneMinutes"].values()
        )
        for w in rollups["active-zone-minutes"]
    }
    assert got_azm == azm


def test_fetch_summary_asks_one_daily_rollup_per_type(run):
    asked: list[tuple] = []

    class Recording(HealthApiClient):
        def daily_rollup_page(self, token, data_type, start, end_exclusive, **kwargs):
            asked.append((data_type, start, end_exclusive))
            return super().daily_rollup_page(token, data_type, start, end_exclusive, **kwargs)

    call = ApiCall("user-1", "summary", "daily-activity-summary", "2026-11-29", "2026-12-01")
    client = Recording(requests.Session(), run.sim.base_url)

    fetch_summary(run.runner, client, call)

    assert asked == [(t, D(2026, 11, 29), D(2026, 12, 1)) for t in datatypes.SUMMARY_TYPES]


def test_a_summary_rolls_each_type_up_in_ranges_of_its_own_cap(run):
    asked: list[tuple] = []

    class Recording(HealthApiClient):
        def daily_rollup_page(self, token, data_type, start, end_exclusive, **kwargs):
            asked.append((data_type, start, end_exclusive))
            return super().daily_rollup_page(token, data_type, start, end_exclusive, **kwargs)

    (call,) = planning.plan_calls(
        FetchRequest("user-2", "total-calories", D(2026, 8, 30), D(2026, 11, 27))
    )
    page = run_call(run.runner, Recording(requests.Session(), run.sim.base_url), call)

    whole = (D(2026, 8, 30), D(2026, 11, 28))  # 90 days: one dailyRollUp for the 90-day types
    fortnights = [
        (
            D(2026, 8, 30) + dt.timedelta(days=14 * i),
            D(2026, 8, 30) + dt.timedelta(days=14 * i + 14),
        )
        for i in range(6)
    ] + [(D(2026, 11, 22), D(2026, 11, 28))]
    assert asked == [
        ("steps", *whole),
        ("distance", *whole),
        ("floors", *whole),
        *[("total-calories", *f) for f in fortnights],
        ("active-zone-minutes", *whole),
    ]
    assert sum(planning.required_calls("total-calories", [0], 90).values()) == 7
    kcal = {
        t["civilDate"]: t["kcal"]
        for t in run.sim.ground_truth("user-2", "total-calories", D(2026, 8, 30), D(2026, 11, 27))
    }
    assert by_day(dict(page.rollups)["total-calories"], "totalCalories", "kcalSum") == kcal
    assert len(kcal) > 80


def test_a_planned_month_of_summaries_covers_every_day(run):
    request = FetchRequest("user-3", "total-calories", D(2026, 10, 1), D(2026, 10, 31))
    days = []
    for call in planning.plan_calls(request):
        page = run_call(run.runner, api(run.sim), call)
        days += list(by_day(dict(page.rollups)["total-calories"], "totalCalories", "kcalSum"))
    assert days == [(D(2026, 10, 1) + dt.timedelta(days=i)).isoformat() for i in range(31)]


def exercise_ids(sim, user) -> list[str]:
    return [t["id"] for t in sim.ground_truth(user, "exercise", D(2026, 11, 1), D(2026, 11, 27))]


def test_tcx_export_of_one_exercise(run):
    exercise_id = exercise_ids(run.sim, "user-2")[0]
    call = ApiCall("user-2", "tcx", "exercise", data_point_id=exercise_id)

    page = run_call(run.runner, api(run.sim), call)

    token = run.store.tokens["user-2"]["access_token"]
    direct = requests.get(
        f"{run.sim.base_url}/v4/users/me/dataTypes/exercise/dataPoints/"
        f"{exercise_id}:exportExerciseTcx",
        params={"alt": "media", "partialData": "true"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert direct.status_code == 200
    assert page == ApiPage(call, tcx=direct.text)
    assert page.tcx.lstrip().startswith("<?xml")
    assert "<TrainingCenterDatabase" in page.tcx


def test_tcx_export_of_an_unknown_exercise_is_permanent(run):
    call = ApiCall("user-2", "tcx", "exercise", data_point_id="1234567890123456789")

    with pytest.raises(CallFailed) as caught:
        run_call(run.runner, api(run.sim), call)

    assert (caught.value.verdict.status, caught.value.attempts) == (404, 1)
    assert caught.value.replayable is False


def test_an_unknown_call_kind_is_refused(run):
    with pytest.raises(ValueError, match="unknown call kind 'get'"):
        run_call(run.runner, api(run.sim), ApiCall("user-1", "get", "steps"))


# -- the calls a planned backfill makes, counted at the simulator ------------------------------


def points_held(sim, user, data_type, first, last, stream) -> int:
    return len(sim.ground_truth(user, data_type, first, last, stream == STREAM_RECONCILED))


@pytest.mark.parametrize(
    ("data_type", "first", "last", "stream"),
    [
        ("steps", D(2026, 8, 30), D(2026, 11, 27), STREAM_RECONCILED),
        ("steps", D(2026, 8, 30), D(2026, 11, 27), STREAM_RAW),
        ("heart-rate", D(2026, 11, 24), D(2026, 11, 26), STREAM_RECONCILED),
        ("heart-rate-variability", D(2026, 8, 30), D(2026, 11, 27), STREAM_RECONCILED),
        ("daily-resting-heart-rate", D(2025, 11, 1), D(2026, 11, 27), STREAM_RECONCILED),
        ("sleep", D(2026, 8, 30), D(2026, 11, 27), STREAM_RAW),
        ("exercise", D(2026, 8, 30), D(2026, 11, 27), STREAM_RECONCILED),
        ("weight", D(2025, 11, 1), D(2026, 11, 27), STREAM_RECONCILED),
    ],
)
def test_a_planned_backfill_makes_exactly_the_required_calls(run, data_type, first, last, stream):
    """One window each: full pages, no empty page, no re-read in the reconciled stream."""
    got = fetch_request(run, api(run.sim), FetchRequest("user-1", data_type, first, last, stream))

    held = points_held(run.sim, "user-1", data_type, first, last, stream)
    assert len(got) == held
    # The list calls of the plan only: no summary, no TCX exports (the rows stage asks).
    required = planning.required_calls(
        data_type, [held], (last - first).days + 1, stream, with_summary=False, exercise_tcx=False
    )
    made = run.sim.stats()["callsByDataType"][data_type]
    if stream == STREAM_RAW and data_type == "steps":
        # Phone and watch share minutes: each page boundary is re-read once.
        (method,) = required
        assert made == {method: 2 * required[method] - 1}
    else:
        assert made == required
    assert sum(required.values()) == -(-held // datatypes.spec(data_type).page_size)
