"""The per-user request quota: a sliding window (60 s unless configured) of simulator time."""

from __future__ import annotations

import pytest

from tests.simulator.conftest import Api, authorize, config, error_of


def users_api(sim, user="user-1") -> Api:
    return Api(sim, authorize(sim, user).access_token)


def identity(api: Api) -> int:
    return api.get("me/identity").status_code


def test_request_over_the_quota_is_429_without_retry_after(make_sim):
    sim = make_sim(quota_per_minute=3)
    api = users_api(sim)
    assert [identity(api) for _ in range(3)] == [200, 200, 200]
    response = api.list("steps")
    error = error_of(response, 429, "RATE_LIMIT_EXCEEDED")
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert error["details"][0]["metadata"]["quota_limit_value"] == "3"
    assert "Retry-After" not in response.headers
    assert sim.stats()["quotaRejectedByUser"] == {"user-1": 1}


def test_retry_after_when_configured(make_sim):
    sim = make_sim(quota_per_minute=1, retry_after_seconds=17)
    api = users_api(sim)
    assert identity(api) == 200
    response = api.get("me/identity")
    error_of(response, 429, "RATE_LIMIT_EXCEEDED")
    assert response.headers["Retry-After"] == "17"


def test_the_window_slides_with_simulator_time(make_sim):
    sim = make_sim(quota_per_minute=3)
    api = users_api(sim)
    assert [identity(api) for _ in range(2)] == [200, 200]
    sim.advance(30)
    assert [identity(api) for _ in range(2)] == [200, 429]
    sim.advance(29)  # 59 s after the first two
    assert identity(api) == 429
    sim.advance(1)  # the first two leave the window
    assert [identity(api) for _ in range(3)] == [200, 200, 429]
    sim.advance(30)  # the one from t=30 leaves too
    assert [identity(api) for _ in range(2)] == [200, 429]


def test_rejected_requests_do_not_use_quota(make_sim):
    """Unconfirmed for the real API; the simulator's documented choice."""
    sim = make_sim(quota_per_minute=2)
    api = users_api(sim)
    assert [identity(api) for _ in range(6)] == [200, 200, 429, 429, 429, 429]
    sim.advance(60)
    assert [identity(api) for _ in range(3)] == [200, 200, 429]


def test_quotas_are_per_user(make_sim):
    sim = make_sim(quota_per_minute=2)
    first, second = users_api(sim, "user-1"), users_api(sim, "user-2")
    assert [identity(first) for _ in range(3)] == [200, 200, 429]
    assert [identity(second) for _ in range(3)] == [200, 200, 429]
    # A second grant of the same user shares the user's quota.
    assert identity(users_api(sim, "user-1")) == 429
    assert sim.stats()["quotaRejectedByUser"] == {"user-1": 2, "user-2": 1}


def test_default_quota_is_300_a_minute(make_sim):
    sim = make_sim(quota_per_minute=300)
    api = users_api(sim)
    assert {identity(api) for _ in range(300)} == {200}
    assert identity(api) == 429


def test_the_window_can_be_an_hour(make_sim):
    sim = make_sim(quota_per_minute=2, quota_window_seconds=3600)
    api = users_api(sim)
    assert [identity(api) for _ in range(3)] == [200, 200, 429]
    sim.advance(60)
    assert identity(api) == 429  # a minute is not enough
    sim.advance(3540)  # the first two are an hour old, and so is the access token
    api = users_api(sim)
    assert [identity(api) for _ in range(3)] == [200, 200, 429]


def test_a_window_must_be_above_zero():
    with pytest.raises(ValueError, match="quota_window_seconds must be above 0, got 0"):
        config(quota_window_seconds=0)
