"""healthapi.auth.broker: when the broker refreshes, what it stores first, and what it refuses.

Everything is injected: a fake clock, an in-memory token store that records
what happens to it, and a refresh function that stands in for the token
endpoint. Concurrency is arranged with barriers and events, never sleeps.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time

import pytest
import requests
from google.api_core import exceptions as google_errors
from oauthlib.oauth2.rfc6749.errors import InvalidClientError, InvalidGrantError

from healthapi.auth import oauth
from healthapi.auth.broker import (
    CONSENT_RECHECK_SECONDS,
    EXPIRY_MARGIN_SECONDS,
    MIN_LEASE_FOR_REFRESH_SECONDS,
    NeedsConsent,
    TokenBroker,
    TokenRefreshFailed,
    shared_broker,
)
from healthapi.auth.store import Lease, LockTimeout

NOW = 1_795_000_000.0
CLIENT = oauth.OAuthClient("client-id", "client-secret", token_url="https://example.test/token")


def token(n: int, expires_at: float, refresh: str = "rt-0") -> dict:
    return {
        "access_token": f"at-{n}",
        "refresh_token": refresh,
        "expires_at": expires_at,
        "token_type": "Bearer",
    }


class MemoryStore:
    """A token store in memory; `events` records loads and saves in order."""

    def __init__(self, tokens: dict | None = None, events: list | None = None):
        self.tokens = dict(tokens or {})
        self.events = events if events is not None else []
        self.fail_saves = False

    def load(self, user_key):
        self.events.append(("load", user_key))
        return self.tokens.get(user_key)

    def save(self, user_key, value):
        if self.fail_saves:
            raise OSError("disk full")
        self.events.append(("save", user_key, value["access_token"]))
        self.tokens[user_key] = value

    @contextlib.contextmanager
    def refresh_lock(self, user_key):
        self.events.append(("lock", user_key))
        try:
            yield
        finally:
            self.events.append(("unlock", user_key))

    def load_client(self):
        return ("client-id", "client-secret")

    def save_client(self, client_id, client_secret):
        raise NotImplementedError


class FakeEndpoint:
    """Stands in for `oauth.refresh`: numbered access tokens, one hour each."""

    def __init__(self, clock, events: list, errors: list | None = None):
        self.clock = clock
        self.events = events
        self.errors = list(errors or [])
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.hold = lambda: None  # runs inside the first refresh only

    def __call__(self, client, old: dict) -> dict:
        with self.lock:
            assert client is CLIENT
            self.calls.append((old["access_token"], old["refresh_token"]))
            n = len(self.calls)
        if n == 1:
            self.hold()
        self.events.append(("refresh", old["access_token"]))
        if self.errors:
            raise self.errors.pop(0)
        return token(n, self.clock() + 3600, refresh=f"rt-{n}")


class Clock:
    def __init__(self, now: float = NOW):
        self.now = now

    def __call__(self) -> float:
        return self.now


def broker_with(tokens: dict, errors: list | None = None, on_refresh=None):
    events: list = []
    clock = Clock()
    store = MemoryStore(tokens, events)
    endpoint = FakeEndpoint(clock, events, errors)
    broker = TokenBroker(store, CLIENT, clock=clock, refresh=endpoint, on_refresh=on_refresh)
    return broker, store, endpoint, clock, events


# -- when to refresh -------------------------------------------------------------


def test_the_margin_is_two_minutes():
    assert EXPIRY_MARGIN_SECONDS == 120


def test_a_fresh_token_is_handed_out_as_stored():
    broker, _, endpoint, _, events = broker_with({"u1": token(0, NOW + 3600)})

    assert broker.access_token("u1") == "at-0"
    assert broker.access_token("u1") == "at-0"
    assert endpoint.calls == []
    assert broker.refreshes == {}
    assert events == [("load", "u1")]  # loaded once, then held


@pytest.mark.parametrize(
    ("seconds_left", "refreshed"),
    [
        (3600, False),
        (121, False),
        (120.5, False),
        (120, True),
        (119, True),
        (0, True),
        (-600, True),
    ],
)
def test_refresh_when_within_the_margin_of_expiry(seconds_left, refreshed):
    broker, _, endpoint, _, _ = broker_with({"u1": token(0, NOW + seconds_left)})

    got = broker.access_token("u1")

    assert got == ("at-1" if refreshed else "at-0")
    assert len(endpoint.calls) == (1 if refreshed else 0)


def test_a_token_without_expiry_is_refreshed():
    stored = token(0, 0.0)
    del stored["expires_at"]
    broker, _, endpoint, _, _ = broker_with({"u1": stored})

    assert broker.access_token("u1") == "at-1"
    assert endpoint.calls == [("at-0", "rt-0")]


def test_the_clock_decides_when_a_held_token_expires():
    broker, _, endpoint, clock, _ = broker_with({"u1": token(0, NOW + 3600)})
    assert broker.access_token("u1") == "at-0"

    clock.now = NOW + 3600 - 121
    assert broker.access_token("u1") == "at-0"
    clock.now = NOW + 3600 - 120
    assert broker.access_token("u1") == "at-1"
    # The new token lives an hour from the refresh.
    clock.now = NOW + 3600 - 120 + 3600 - 121
    assert broker.access_token("u1") == "at-1"
    assert endpoint.calls == [("at-0", "rt-0")]
    assert broker.refreshes == {"u1": 1}


# -- durable first -----------------------------------------------------------------


def test_the_new_token_is_saved_before_it_is_handed_out():
    refreshed_users: list[str] = []
    broker, store, _, _, events = broker_with(
        {"u1": token(0, NOW - 1)}, on_refresh=refreshed_users.append
    )

    got = broker.access_token("u1")
    events.append(("handed out", got))

    assert events == [
        ("load", "u1"),
        ("lock", "u1"),
        ("load", "u1"),  # read again under the lock: another process may have refreshed
        ("refresh", "at-0"),
        ("save", "u1", "at-1"),
        ("unlock", "u1"),
        ("handed out", "at-1"),
    ]
    assert store.tokens["u1"] == token(1, NOW + 3600, refresh="rt-1")
    assert refreshed_users == ["u1"]


def test_a_failed_save_hands_out_nothing_and_the_next_caller_stores_it_first():
    broker, store, endpoint, _, events = broker_with({"u1": token(0, NOW - 1)})
    store.fail_saves = True

    with pytest.raises(TokenRefreshFailed, match="could not be stored: OSError"):
        broker.access_token("u1")
    assert store.tokens["u1"]["access_token"] == "at-0"
    with pytest.raises(TokenRefreshFailed, match="could not be stored"):
        broker.access_token("u1")  # still failing: still nothing handed out

    # The refresh token may have rotated: never refresh again from the old one.
    store.fail_saves = False
    assert broker.access_token("u1") == "at-1"
    assert store.tokens["u1"] == token(1, NOW + 3600, refresh="rt-1")
    assert endpoint.calls == [("at-0", "rt-0")]
    # Stored under the lock, after checking the store still held the spent token.
    assert events[-4:] == [("lock", "u1"), ("load", "u1"), ("save", "u1", "at-1"), ("unlock", "u1")]


def test_an_unsaved_token_yields_to_a_grant_stored_meanwhile():
    broker, store, endpoint, _, _ = broker_with({"u1": token(0, NOW - 1)})
    store.fail_saves = True
    with pytest.raises(TokenRefreshFailed):
        broker.access_token("u1")
    store.fail_saves = False
    store.tokens["u1"] = token(5, NOW + 3600, refresh="rt-new-consent")  # consented again

    assert broker.access_token("u1") == "at-5"
    assert store.tokens["u1"]["refresh_token"] == "rt-new-consent"
    assert len(endpoint.calls) == 1


def test_on_refresh_is_called_after_the_save():
    seen: list = []

    def on_refresh(user_key):
        seen.append((user_key, store.tokens[user_key]["access_token"]))

    broker, store, _, _, _ = broker_with({"u1": token(0, NOW - 1)}, on_refresh=on_refresh)
    broker.access_token("u1")
    assert seen == [("u1", "at-1")]


# -- after a 401 -------------------------------------------------------------------


def test_after_unauthorized_refreshes_a_still_current_token():
    broker, store, endpoint, _, _ = broker_with({"u1": token(0, NOW + 3600)})
    assert broker.access_token("u1") == "at-0"

    assert broker.after_unauthorized("u1", "at-0") == "at-1"
    assert endpoint.calls == [("at-0", "rt-0")]
    assert store.tokens["u1"]["access_token"] == "at-1"
    assert broker.access_token("u1") == "at-1"


def test_after_unauthorized_does_not_refresh_a_token_already_replaced():
    broker, _, endpoint, _, _ = broker_with({"u1": token(0, NOW + 3600)})
    broker.access_token("u1")
    broker.after_unauthorized("u1", "at-0")

    # A second caller that was also rejected with at-0 gets at-1 without a refresh.
    assert broker.after_unauthorized("u1", "at-0") == "at-1"
    assert broker.after_unauthorized("u1", "at-0") == "at-1"
    assert len(endpoint.calls) == 1
    assert broker.refreshes == {"u1": 1}


def test_after_unauthorized_with_nothing_held_loads_then_refreshes():
    broker, _, endpoint, _, events = broker_with({"u1": token(0, NOW + 3600)})

    assert broker.after_unauthorized("u1", "at-0") == "at-1"
    assert events[:4] == [("load", "u1"), ("lock", "u1"), ("load", "u1"), ("refresh", "at-0")]
    assert len(endpoint.calls) == 1


# -- other processes ----------------------------------------------------------------


def test_a_token_refreshed_by_another_process_is_taken_without_refreshing():
    broker, store, endpoint, clock, events = broker_with({"u1": token(0, NOW + 600)})
    assert broker.access_token("u1") == "at-0"
    # Later at-0 nears its expiry; another worker has refreshed and stored at-7 (with
    # the rotated refresh token rt-7).
    clock.now = NOW + 590
    store.tokens["u1"] = token(7, NOW + 4000, refresh="rt-7")
    events.clear()

    assert broker.access_token("u1") == "at-7"
    assert endpoint.calls == []
    assert broker.refreshes == {}
    assert broker.adopted == {"u1": 1}
    assert events == [("lock", "u1"), ("load", "u1"), ("unlock", "u1")]  # held: no load first


def test_after_a_401_a_token_stored_by_another_process_is_taken():
    broker, store, endpoint, _, _ = broker_with({"u1": token(0, NOW + 3600)})
    assert broker.access_token("u1") == "at-0"
    store.tokens["u1"] = token(7, NOW + 3600, refresh="rt-7")

    assert broker.after_unauthorized("u1", "at-0") == "at-7"
    assert endpoint.calls == []


def test_after_a_401_the_stored_token_is_refreshed_when_it_is_the_rejected_one():
    broker, _, endpoint, _, _ = broker_with({"u1": token(0, NOW + 3600)})
    assert broker.access_token("u1") == "at-0"

    assert broker.after_unauthorized("u1", "at-0") == "at-1"
    assert endpoint.calls == [("at-0", "rt-0")]


def test_invalid_grant_after_another_process_rotated_the_token_takes_the_stored_one():
    # A process whose lease lapsed refreshed beside this one: the refresh token this
    # one sent is spent, but the store holds the rotated one.
    broker, store, endpoint, _, _ = broker_with(
        {"u1": token(0, NOW - 1)}, errors=[InvalidGrantError(description="already used")]
    )

    def rotated_meanwhile():
        store.tokens["u1"] = token(9, NOW + 3600, refresh="rt-9")

    endpoint.hold = rotated_meanwhile
    assert broker.access_token("u1") == "at-9"
    assert broker.access_token("u1") == "at-9"
    assert len(endpoint.calls) == 1


def test_a_lock_timeout_is_transient_and_the_user_is_not_waited_for_again_for_a_while():
    broker, store, endpoint, clock, _ = broker_with({"u1": token(0, NOW - 1)})
    tries: list[str] = []

    def busy(user_key):
        tries.append(user_key)
        raise LockTimeout("user 'u1': the refresh lock was held for 330 s")

    store.refresh_lock = busy
    with pytest.raises(TokenRefreshFailed, match="held for 330 s"):
        broker.access_token("u1")
    clock.now += 59
    with pytest.raises(
        TokenRefreshFailed, match="the refresh lock was busy; trying again after 1 s"
    ):
        broker.access_token("u1")
    clock.now += 1
    with pytest.raises(TokenRefreshFailed, match="held for 330 s"):
        broker.access_token("u1")
    assert tries == ["u1", "u1"]
    assert endpoint.calls == []


@pytest.mark.parametrize(
    "error",
    [google_errors.TooManyRequests("quota"), google_errors.PermissionDenied("no"), OSError("io")],
)
def test_any_failure_to_lock_is_a_transient_refresh_failure(error):
    broker, store, endpoint, _, _ = broker_with({"u1": token(0, NOW - 1)})

    def failing(user_key):
        raise error

    store.refresh_lock = failing
    with pytest.raises(
        TokenRefreshFailed, match=f"taking the refresh lock failed: {type(error).__name__}"
    ):
        broker.access_token("u1")
    assert endpoint.calls == []


def test_a_refresh_does_not_start_on_a_lease_about_to_lapse():
    """A slow store ate the lease: refreshing now could outlast it and race the next holder."""
    broker, store, endpoint, clock, events = broker_with({"u1": token(0, NOW - 1)})

    @contextlib.contextmanager
    def short_lease(user_key):
        events.append(("lock", user_key))
        try:
            yield Lease(expires_at=clock() + MIN_LEASE_FOR_REFRESH_SECONDS - 1, clock=clock)
        finally:
            events.append(("unlock", user_key))

    store.refresh_lock = short_lease
    with pytest.raises(TokenRefreshFailed, match="only 199 s of the refresh lease left"):
        broker.access_token("u1")
    assert endpoint.calls == []
    assert events[-1] == ("unlock", "u1")  # released all the same

    store.refresh_lock = lambda user_key: contextlib.nullcontext(
        Lease(expires_at=clock() + MIN_LEASE_FOR_REFRESH_SECONDS, clock=clock)
    )
    assert broker.access_token("u1") == "at-1"


def test_the_lock_is_released_when_the_refresh_fails():
    broker, _, _, _, events = broker_with(
        {"u1": token(0, NOW - 1)}, errors=[requests.ConnectionError("down")]
    )
    with pytest.raises(TokenRefreshFailed):
        broker.access_token("u1")
    assert events[-2:] == [("refresh", "at-0"), ("unlock", "u1")]


def test_a_user_who_consents_again_is_picked_up_after_the_recheck_time():
    broker, store, endpoint, clock, _ = broker_with(
        {"u1": token(0, NOW - 1)}, errors=[InvalidGrantError(description="revoked")]
    )
    with pytest.raises(NeedsConsent):
        broker.access_token("u1")
    store.tokens["u1"] = token(8, NOW + 7200, refresh="rt-consented")  # fitbeam authorize

    clock.now += CONSENT_RECHECK_SECONDS - 1
    with pytest.raises(NeedsConsent, match="invalid_grant"):
        broker.access_token("u1")  # not asked about again yet
    clock.now += 1
    assert broker.access_token("u1") == "at-8"
    assert len(endpoint.calls) == 1


def test_a_user_still_without_a_new_grant_stays_in_need_of_consent():
    broker, _, endpoint, clock, events = broker_with(
        {"u1": token(0, NOW - 1)}, errors=[InvalidGrantError(description="revoked")]
    )
    with pytest.raises(NeedsConsent):
        broker.access_token("u1")
    clock.now += CONSENT_RECHECK_SECONDS
    events.clear()
    with pytest.raises(NeedsConsent, match="invalid_grant"):
        broker.access_token("u1")
    assert events == [("load", "u1")]  # looked, found the same spent grant
    assert len(endpoint.calls) == 1
    with pytest.raises(NeedsConsent):
        broker.access_token("u1")
    assert events == [("load", "u1")]  # and will not look again for a while


# -- consent needed ------------------------------------------------------------------


def test_invalid_grant_needs_consent_and_is_remembered():
    broker, store, endpoint, _, _ = broker_with(
        {"u1": token(0, NOW - 1), "u2": token(10, NOW - 1, refresh="rt-u2")},
        errors=[InvalidGrantError(description="Token has been expired or revoked.")],
    )

    with pytest.raises(NeedsConsent) as caught:
        broker.access_token("u1")
    assert caught.value.user_key == "u1"
    assert caught.value.why == "invalid_grant (Token has been expired or revoked.)"
    assert str(caught.value) == (
        "user 'u1' must consent again: invalid_grant (Token has been expired or revoked.)"
    )

    # Never retried: neither by a later caller nor after a 401.
    for _ in range(3):
        with pytest.raises(NeedsConsent, match="invalid_grant"):
            broker.access_token("u1")
    with pytest.raises(NeedsConsent, match="invalid_grant"):
        broker.after_unauthorized("u1", "at-0")
    assert endpoint.calls == [("at-0", "rt-0")]
    assert store.tokens["u1"]["access_token"] == "at-0"  # nothing saved

    # Other users are not affected.
    assert broker.access_token("u2") == "at-2"


def test_invalid_grant_without_description_says_revoked():
    broker, _, _, _, _ = broker_with({"u1": token(0, NOW - 1)}, errors=[InvalidGrantError()])
    with pytest.raises(NeedsConsent) as caught:
        broker.access_token("u1")
    assert caught.value.why == "invalid_grant (revoked)"


def test_no_stored_token_needs_consent_and_the_store_is_asked_once():
    broker, _, endpoint, _, events = broker_with({})

    for _ in range(3):
        with pytest.raises(NeedsConsent) as caught:
            broker.access_token("nobody")
        assert caught.value.why == "no token in the token store"
    assert events == [("load", "nobody")]
    assert endpoint.calls == []


def test_a_stored_token_without_refresh_token_needs_consent():
    stored = token(0, NOW + 3600)
    del stored["refresh_token"]
    broker, _, _, _, _ = broker_with({"u1": stored})

    with pytest.raises(NeedsConsent, match="no token in the token store"):
        broker.access_token("u1")


# -- transient failures --------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (requests.ConnectionError("reset"), "token refresh failed: ConnectionError"),
        (requests.Timeout("slow"), "token refresh failed: Timeout"),
        (requests.HTTPError("503"), "token refresh failed: HTTPError"),
        (InvalidClientError(), "token endpoint refused the refresh: invalid_client"),
    ],
)
def test_other_refresh_failures_are_transient_and_retried_next_time(error, message):
    broker, store, endpoint, _, _ = broker_with({"u1": token(0, NOW - 1)}, errors=[error])

    with pytest.raises(TokenRefreshFailed) as caught:
        broker.access_token("u1")
    assert str(caught.value) == message
    assert caught.value.__cause__ is error
    assert store.tokens["u1"]["access_token"] == "at-0"
    assert broker.refreshes == {}

    # Not remembered: the next caller refreshes (with the same refresh token) and succeeds.
    assert broker.access_token("u1") == "at-2"
    assert endpoint.calls == [("at-0", "rt-0"), ("at-0", "rt-0")]
    assert broker.refreshes == {"u1": 1}


def test_a_transient_failure_after_a_401_can_be_retried():
    broker, _, endpoint, _, _ = broker_with(
        {"u1": token(0, NOW + 3600)}, errors=[requests.ConnectionError("reset")]
    )
    broker.access_token("u1")

    with pytest.raises(TokenRefreshFailed):
        broker.after_unauthorized("u1", "at-0")
    assert broker.after_unauthorized("u1", "at-0") == "at-2"
    assert len(endpoint.calls) == 2


# -- one refresh at a time --------------------------------------------------------------


def _inside(ident: int, code) -> bool:
    frame = sys._current_frames().get(ident)
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back
    return False


def run_together(n: int, method, endpoint: FakeEndpoint, *args) -> list:
    """Calls `method(*args)` in n threads released at once by a barrier.

    The first refresh does not return before every other thread has entered
    `method` too: a correct broker parks them on the user's lock, one without it
    lets them reach the token endpoint as well. Returns each thread's
    result, or the exception it raised.
    """
    start = threading.Barrier(n)
    results: list = [None] * n
    threads: list[threading.Thread] = []

    def hold():
        # Spins (no sleep) until each other thread is inside `method` or done with it.
        others = [t for t in threads if t.ident != threading.get_ident()]
        deadline = time.monotonic() + 10
        while not all(not t.is_alive() or _inside(t.ident, method.__code__) for t in others):
            assert time.monotonic() < deadline, "the other threads never called the broker"

    endpoint.hold = hold

    def work(i):
        start.wait(10)
        try:
            results[i] = method(*args)
        except Exception as err:  # reported to the test as a value
            results[i] = err

    threads.extend(threading.Thread(target=work, args=(i,)) for i in range(n))
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)
    return results


def test_sixteen_threads_and_an_expired_token_make_exactly_one_refresh():
    broker, store, endpoint, _, events = broker_with({"u1": token(0, NOW - 1)})

    results = run_together(16, broker.access_token, endpoint, "u1")

    assert results == ["at-1"] * 16
    assert endpoint.calls == [("at-0", "rt-0")]
    assert [e for e in events if e[0] == "save"] == [("save", "u1", "at-1")]
    assert broker.refreshes == {"u1": 1}
    assert store.tokens["u1"]["refresh_token"] == "rt-1"


def test_sixteen_threads_rejected_with_the_same_token_make_exactly_one_refresh():
    broker, _, endpoint, _, _ = broker_with({"u1": token(0, NOW + 3600)})
    broker.access_token("u1")

    results = run_together(16, broker.after_unauthorized, endpoint, "u1", "at-0")

    assert results == ["at-1"] * 16
    assert endpoint.calls == [("at-0", "rt-0")]


def test_sixteen_threads_and_a_revoked_grant_make_exactly_one_refresh():
    broker, _, endpoint, _, _ = broker_with(
        {"u1": token(0, NOW - 1)}, errors=[InvalidGrantError(description="revoked")]
    )

    results = run_together(16, broker.access_token, endpoint, "u1")

    assert all(isinstance(r, NeedsConsent) for r in results)
    assert {r.why for r in results} == {"invalid_grant (revoked)"}
    assert endpoint.calls == [("at-0", "rt-0")]


def test_a_refresh_for_one_user_does_not_hold_up_another():
    events: list = []
    clock = Clock()
    store = MemoryStore({"u1": token(0, NOW - 1), "u2": token(20, NOW + 3600)}, events)
    inside = threading.Event()
    release = threading.Event()

    def slow_refresh(client, old):
        inside.set()
        assert release.wait(10)
        return token(1, NOW + 3600, refresh="rt-1")

    broker = TokenBroker(store, CLIENT, clock=clock, refresh=slow_refresh)
    got: list[str] = []
    worker = threading.Thread(target=lambda: got.append(broker.access_token("u1")))
    worker.start()
    assert inside.wait(10)

    assert broker.access_token("u2") == "at-20"  # while u1's refresh is under way

    release.set()
    worker.join(10)
    assert got == ["at-1"]


# -- shared brokers --------------------------------------------------------------------


def test_shared_broker_is_made_once_per_key():
    made: list[TokenBroker] = []

    def factory():
        made.append(TokenBroker(MemoryStore(), CLIENT))
        return made[-1]

    key = ("memory://test_tokens", "client-id", "one")
    first = shared_broker(key, factory)
    assert shared_broker(key, factory) is first
    other = shared_broker((*key[:2], "two"), factory)
    assert other is not first
    assert made == [first, other]
