"""healthapi.retry: which failures are retried, refreshed or permanent, and how long to wait."""

from __future__ import annotations

import random

import pytest
import requests

from healthapi.client import HealthApiError
from healthapi.retry import RETRIABLE_STATUSES, RetryPolicy, Verdict, classify


def api_error(status, reason="SOME_REASON", retry_after=None) -> HealthApiError:
    return HealthApiError(status, reason, f"message {status}", f"body {status}", retry_after)


def verdict(wait_hint=None) -> Verdict:
    return Verdict(True, False, 503, "UNAVAILABLE", "down", wait_hint_seconds=wait_hint)


# -- classify -------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 500, 501, 502, 503, 504, 599])
def test_429_408_and_every_5xx_are_retriable(status):
    assert classify(api_error(status)) == Verdict(
        retriable=True,
        refresh_token=False,
        status=status,
        reason="SOME_REASON",
        message=f"message {status}",
        body=f"body {status}",
        wait_hint_seconds=None,
    )


@pytest.mark.parametrize("status", [400, 403, 404, 405, 409, 410, 412, 422])
def test_other_4xx_are_permanent(status):
    got = classify(api_error(status))
    assert (got.retriable, got.refresh_token, got.status) == (False, False, status)


def test_401_asks_for_a_token_refresh_and_is_not_retriable_by_itself():
    assert classify(api_error(401, "ACCESS_TOKEN_EXPIRED")) == Verdict(
        retriable=False,
        refresh_token=True,
        status=401,
        reason="ACCESS_TOKEN_EXPIRED",
        message="message 401",
        body="body 401",
    )


def test_a_200_with_a_broken_body_is_retriable():
    error = HealthApiError(200, "MALFORMED_RESPONSE", "invalid JSON", '{"dataPoi')
    assert classify(error) == Verdict(
        True, False, 200, "MALFORMED_RESPONSE", "invalid JSON", '{"dataPoi'
    )


def test_the_retry_after_hint_is_carried():
    assert classify(api_error(429, "RATE_LIMIT_EXCEEDED", retry_after=7.5)).wait_hint_seconds == 7.5


def test_a_missing_reason_falls_back_to_the_status():
    assert classify(api_error(404, reason=None)).reason == "HTTP_404"
    assert classify(api_error(503, reason="")).reason == "HTTP_503"


@pytest.mark.parametrize(
    "error",
    [
        requests.Timeout("read timed out"),
        requests.ReadTimeout("read timed out"),
        requests.ConnectTimeout("read timed out"),  # a ConnectionError too: timeout wins
    ],
)
def test_timeouts_are_retriable(error):
    assert classify(error) == Verdict(True, False, 0, "TIMEOUT", "read timed out")


@pytest.mark.parametrize(
    "error",
    [
        requests.ConnectionError("connection reset by peer"),
        requests.exceptions.ChunkedEncodingError("connection reset by peer"),
    ],
)
def test_connection_errors_and_resets_are_retriable(error):
    assert classify(error) == Verdict(
        True, False, 0, "CONNECTION_ERROR", "connection reset by peer"
    )


def test_anything_else_is_permanent_and_named_by_its_class():
    assert classify(KeyError("dataPoints")) == Verdict(False, False, 0, "KeyError", "'dataPoints'")
    assert classify(ValueError("bad")) == Verdict(False, False, 0, "ValueError", "bad")


def test_messages_of_other_errors_are_truncated_to_300_characters():
    assert classify(requests.ConnectionError("x" * 1000)).message == "x" * 300
    assert classify(ValueError("y" * 301)).message == "y" * 300


def test_the_retriable_status_set():
    assert frozenset({408, 429, 500, 502, 503, 504}) == RETRIABLE_STATUSES


# -- RetryPolicy -------------------------------------------------------------------


def test_default_policy():
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.base_delay_seconds, policy.max_delay_seconds) == (
        6,
        1.0,
        60.0,
    )


def test_backoff_doubles_from_the_base_and_stops_at_the_cap():
    policy = RetryPolicy(max_attempts=10, base_delay_seconds=1.0, max_delay_seconds=60.0)
    ceilings = [policy.delay(n, verdict(), rand=lambda: 1.0) for n in range(1, 10)]
    assert ceilings == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]


def test_backoff_is_full_jitter_below_the_ceiling():
    policy = RetryPolicy(base_delay_seconds=0.5, max_delay_seconds=30.0)
    assert policy.delay(3, verdict(), rand=lambda: 0.25) == 0.5
    assert policy.delay(3, verdict(), rand=lambda: 0.0) == 0.0
    assert policy.delay(10, verdict(), rand=lambda: 0.5) == 15.0


def test_default_jitter_stays_within_each_ceiling():
    policy = RetryPolicy(max_attempts=8)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (7, 60.0)]:
        waits = [policy.delay(attempt, verdict()) for _ in range(200)]
        assert all(0.0 <= w < ceiling for w in waits)
        assert max(waits) > ceiling / 2  # jittered, not fixed at zero


def test_a_seeded_random_gives_reproducible_waits():
    policy = RetryPolicy()
    first = [policy.delay(n, verdict(), rand=random.Random(7).random) for n in range(1, 6)]
    again = [policy.delay(n, verdict(), rand=random.Random(7).random) for n in range(1, 6)]
    assert first == again
    assert first == [random.Random(7).random() * 2 ** (n - 1) for n in range(1, 6)]


def test_the_server_hint_replaces_backoff_and_jitter():
    policy = RetryPolicy(base_delay_seconds=1.0, max_delay_seconds=60.0)
    assert policy.delay(1, verdict(wait_hint=7.0), rand=lambda: 0.0) == 7.0
    assert policy.delay(5, verdict(wait_hint=2.5), rand=lambda: 1.0) == 2.5
    assert policy.delay(1, verdict(wait_hint=0.0), rand=lambda: 1.0) == 0.0


def test_the_server_hint_is_bounded():
    policy = RetryPolicy(max_delay_seconds=60.0)
    assert policy.delay(1, verdict(wait_hint=3600.0)) == 60.0
    assert policy.delay(1, verdict(wait_hint=-5.0)) == 0.0


def test_a_hint_from_a_classified_429_is_honoured():
    policy = RetryPolicy(max_delay_seconds=60.0)
    seen = classify(api_error(429, "RATE_LIMIT_EXCEEDED", retry_after=12.0))
    assert policy.delay(1, seen, rand=lambda: 0.0) == 12.0


def test_late_attempts_of_a_long_policy_wait_the_cap():
    policy = RetryPolicy(max_attempts=5000, max_delay_seconds=60.0)
    assert policy.delay(5000, verdict(), rand=lambda: 1.0) == 60.0


@pytest.mark.parametrize("attempts", [0, -1, -100])
def test_max_attempts_below_one_is_refused(attempts):
    with pytest.raises(ValueError, match=f"max_attempts must be at least 1, got {attempts}"):
        RetryPolicy(max_attempts=attempts)


def test_a_single_attempt_is_allowed():
    assert RetryPolicy(max_attempts=1).max_attempts == 1


def test_policy_and_verdict_are_frozen_values():
    assert RetryPolicy(3, 2.0, 10.0) == RetryPolicy(3, 2.0, 10.0)
    with pytest.raises(AttributeError):
        RetryPolicy().max_attempts = 3
    with pytest.raises(AttributeError):
        verdict().retriable = False
