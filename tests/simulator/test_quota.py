"""Request quotas on simulator time, the user's and the project's.

The user's is a sliding window (60 s unless configured); the project's are a sliding
minute and the calendar day in Pacific time, for every user together.
"""

from __future__ import annotations

import re

import pytest

from commands import cli
from simulator import DEFAULT_CLIENT_ID, SimulatorConfig
from simulator.api import project_number
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


# -- the project's quotas ---------------------------------------------------------------

PROJECT = project_number(DEFAULT_CLIENT_ID)
GET_IDENTITY = "google.devicesandservices.health.v4.HealthProfileService.GetIdentity"


def project_error(response, limit: str, name: str, value: int) -> None:
    """Asserts the 429 of one of the project's quotas, named as Google names it."""
    error = error_of(response, 429, "RATE_LIMIT_EXCEEDED")
    assert error == {
        "code": 429,
        "message": (
            f"Quota exceeded for quota metric 'Requests' and limit '{name}' of service "
            f"'health.googleapis.com' for consumer 'project_number:{PROJECT}'."
        ),
        "status": "RESOURCE_EXHAUSTED",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "RATE_LIMIT_EXCEEDED",
                "domain": "googleapis.com",
                "metadata": {
                    "service": "health.googleapis.com",
                    "quota_metric": "health.googleapis.com/default_requests",
                    "quota_limit": limit,
                    "quota_limit_value": str(value),
                    "consumer": f"projects/{PROJECT}",
                    "method": GET_IDENTITY,
                },
            }
        ],
    }
    assert "Retry-After" not in response.headers


def test_the_project_number_is_twelve_digits_and_stable():
    assert re.fullmatch(r"[1-9][0-9]{11}", PROJECT)
    assert project_number(DEFAULT_CLIENT_ID) == PROJECT
    assert project_number("other.apps.googleusercontent.com") != PROJECT


def test_the_project_quota_per_minute_counts_every_user(make_sim):
    sim = make_sim(project_quota_per_minute=3)
    first, second = users_api(sim, "user-1"), users_api(sim, "user-2")
    assert [identity(first), identity(second), identity(first)] == [200, 200, 200]
    response = second.get("me/identity")
    project_error(response, "DefaultRequestsPerMinutePerProject", "Requests per minute", 3)
    assert identity(first) == 429
    stats = sim.stats()
    assert stats["quotaRejectedByProject"] == {"DefaultRequestsPerMinutePerProject": 2}
    assert stats["quotaRejectedByUser"] == {}
    sim.advance(59)
    assert identity(second) == 429
    sim.advance(1)  # the first three leave the window
    assert [identity(second) for _ in range(4)] == [200, 200, 200, 429]


def test_a_request_the_project_refuses_does_not_use_the_users_quota(make_sim):
    sim = make_sim(project_quota_per_minute=3, quota_per_minute=2)
    first, second = users_api(sim, "user-1"), users_api(sim, "user-2")
    assert [identity(second), identity(second), identity(first)] == [200, 200, 200]
    sim.advance(1)
    assert [identity(first) for _ in range(3)] == [429, 429, 429]  # the project's
    sim.advance(59.5)  # the first three are gone; the refused ones were never counted
    assert [identity(first) for _ in range(3)] == [200, 200, 429]  # the user's
    assert sim.stats()["quotaRejectedByUser"] == {"user-1": 1}
    assert sim.stats()["quotaRejectedByProject"] == {"DefaultRequestsPerMinutePerProject": 3}


def test_a_request_the_user_quota_refuses_does_not_use_the_projects(make_sim):
    sim = make_sim(project_quota_per_minute=3, quota_per_minute=1)
    first, second = users_api(sim, "user-1"), users_api(sim, "user-2")
    assert [identity(first) for _ in range(5)] == [200, 429, 429, 429, 429]
    assert [identity(second) for _ in range(2)] == [200, 429]
    assert identity(users_api(sim, "user-3")) == 200  # the project's third
    assert identity(users_api(sim, "user-4")) == 429


def test_the_project_quota_per_day_starts_at_midnight_pacific_time(make_sim):
    # The suite's clock stands at 2026-11-28 12:00 UTC: 04:00 in Los Angeles.
    sim = make_sim(project_quota_per_day=2)
    assert [identity(users_api(sim, "user-1")), identity(users_api(sim, "user-2"))] == [200, 200]
    response = users_api(sim, "user-3").get("me/identity")
    project_error(response, "DefaultRequestsPerDayPerProject", "Requests per day", 2)
    sim.advance(20 * 3600 - 1)  # 23:59:59 in Los Angeles
    assert identity(users_api(sim, "user-1")) == 429
    sim.advance(1)  # midnight
    assert [identity(users_api(sim, "user-1")) for _ in range(3)] == [200, 200, 429]
    assert sim.stats()["quotaRejectedByProject"] == {"DefaultRequestsPerDayPerProject": 3}


def test_the_projects_quota_is_named_before_the_users(make_sim):
    sim = make_sim(project_quota_per_minute=1, quota_per_minute=1)
    api = users_api(sim)
    assert identity(api) == 200
    response = api.get("me/identity")
    project_error(response, "DefaultRequestsPerMinutePerProject", "Requests per minute", 1)


def test_project_quota_defaults_are_the_live_apis():
    defaults = SimulatorConfig()
    assert (defaults.project_quota_per_minute, defaults.project_quota_per_day) == (
        120_000,
        86_400_000,
    )
    assert (defaults.quota_per_minute, defaults.quota_window_seconds) == (300, 60.0)


@pytest.mark.parametrize("name", ["project_quota_per_minute", "project_quota_per_day"])
def test_a_project_quota_must_be_positive(name):
    with pytest.raises(ValueError, match=f"{name} must be at least 1, got 0"):
        config(**{name: 0})


def test_the_simulate_command_sets_the_project_quotas():
    args = cli.build_parser().parse_args(
        ["simulate", "--project-quota-per-minute", "7", "--project-quota-per-day", "70"]
    )
    assert (args.project_quota_per_minute, args.project_quota_per_day) == (7, 70)
    defaults = cli.build_parser().parse_args(["simulate"])
    assert (defaults.project_quota_per_minute, defaults.project_quota_per_day) == (
        120_000,
        86_400_000,
    )


def test_the_client_reads_whose_quota_each_429_spent(make_sim):
    """As the pipeline reads them: `error_from_response`, then `classify`."""
    from healthapi.client import error_from_response
    from healthapi.retry import PROJECT, USER, classify

    sim = make_sim(project_quota_per_minute=2, quota_per_minute=1)
    first, second = users_api(sim, "user-1"), users_api(sim, "user-2")
    assert identity(first) == 200
    by_user = classify(error_from_response(first.get("me/identity")))
    assert (by_user.status, by_user.quota) == (429, USER)
    assert identity(second) == 200
    by_project = classify(error_from_response(users_api(sim, "user-3").get("me/identity")))
    assert (by_project.status, by_project.quota) == (429, PROJECT)
    sim.advance(60)
    assert identity(first) == 200
    day_sim = make_sim(project_quota_per_day=1)
    assert identity(users_api(day_sim, "user-1")) == 200
    by_day = classify(error_from_response(users_api(day_sim, "user-2").get("me/identity")))
    assert (by_day.status, by_day.quota) == (429, PROJECT)
