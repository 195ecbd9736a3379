"""Injected faults, seen on the wire, and their reproducibility."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests

from tests.simulator.conftest import Api, authorize, canonical, day_filter, error_of, token_request

DAY_FILTER = day_filter("steps", dt.date(2026, 11, 10), dt.date(2026, 11, 11))


def faulty(make_sim, spec: str, **overrides):
    """A simulator with `spec` switched on after user-1 was authorised (the token is clean)."""
    calls = []
    sim = make_sim(sleep=calls.append, **overrides)
    grant = authorize(sim)
    sim.set_faults(spec)
    return sim, Api(sim, grant.access_token), grant, calls


@pytest.mark.parametrize(
    ("kind", "status"), [("500", "INTERNAL"), ("503", "UNAVAILABLE"), ("504", "DEADLINE_EXCEEDED")]
)
def test_server_errors(make_sim, kind, status):
    sim, api, _, _ = faulty(make_sim, f"{kind}=1")
    error = error_of(api.list("steps"), int(kind), None)
    assert error["status"] == status
    assert sim.stats()["faultsInjected"] == {kind: 1}


def test_injected_429(make_sim):
    _, api, _, _ = faulty(make_sim, "429=1")
    response = api.get("me/identity")
    error_of(response, 429, "RATE_LIMIT_EXCEEDED")
    assert "Retry-After" not in response.headers


def test_reset_closes_the_connection(make_sim):
    _, api, _, _ = faulty(make_sim, "reset=1")
    with pytest.raises(requests.exceptions.ConnectionError):
        api.list("steps")


def test_truncate_sends_half_a_body(make_sim):
    sim, api, _, _ = faulty(make_sim, "")
    whole = api.list("steps", filter=DAY_FILTER).content
    sim.set_faults("truncate=1")
    response = api.list("steps", filter=DAY_FILTER)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.content == whole[: len(whole) // 2]
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_content_type_sends_html(make_sim):
    _, api, _, _ = faulty(make_sim, "content-type=1")
    response = api.list("steps")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert response.text.startswith("<html>")


def test_slow_calls_the_injected_sleep(make_sim):
    sim, api, _, calls = faulty(make_sim, "slow=1:1.5")
    response = api.list("steps", filter=DAY_FILTER)
    assert response.status_code == 200
    assert len(response.json()["dataPoints"]) > 100
    assert calls == [1.5]
    sim.set_faults("slow=1")
    api.get("me/identity")
    assert calls == [1.5, 2.0]


def test_token_faults_hit_only_the_token_endpoint(make_sim):
    sim, api, grant, _ = faulty(make_sim, "token.503=1")
    assert api.list("steps").status_code == 200
    response = token_request(
        sim, {"grant_type": "refresh_token", "refresh_token": grant.token["refresh_token"]}
    )
    assert response.status_code == 503
    sim.set_faults("")
    response = token_request(
        sim, {"grant_type": "refresh_token", "refresh_token": grant.token["refresh_token"]}
    )
    assert response.status_code == 200
    assert sim.stats()["faultsInjected"] == {"token.503": 1}


def test_faults_switched_by_the_admin_route(make_sim):
    sim, api, _, _ = faulty(make_sim, "")
    response = requests.post(sim.base_url + "/admin/v1/faults", json={"spec": "504=1"}, timeout=10)
    assert response.json() == {"spec": "504=1"}
    error_of(api.list("steps"), 504, None)
    bad = requests.post(sim.base_url + "/admin/v1/faults", json={"spec": "418=1"}, timeout=10)
    assert bad.status_code == 400
    error_of(api.list("steps"), 504, None)


def expected_with_tie_drops(points: list[dict], page_size: int) -> tuple[list[dict], int]:
    """What paging `points` (in list order) gives when every boundary drops its ties."""
    out, dropped, i = [], 0, 0
    start = lambda p: p["steps"]["interval"]["startTime"]  # noqa: E731
    while i < len(points):
        page = points[i : i + page_size]
        out += page
        i += len(page)
        if i < len(points):
            while i < len(points) and start(points[i]) == start(page[-1]):
                i += 1
                dropped += 1
    return out, dropped


def test_page_drop_skips_the_ties_of_each_page_boundary(make_sim):
    _, api, _, _ = faulty(make_sim, "page-drop=1")
    whole = api.list("steps", filter=DAY_FILTER, pageSize=10000).json()
    assert "nextPageToken" not in whole
    paged = api.all_points("steps", filter=DAY_FILTER, pageSize=15)
    expected, dropped = expected_with_tie_drops(whole["dataPoints"], 15)
    assert dropped == 5
    assert paged == expected
    assert len(paged) == len(whole["dataPoints"]) - dropped
    missing = {canonical(p) for p in whole["dataPoints"]} - {canonical(p) for p in paged}
    assert {json.loads(p)["dataSource"]["device"]["displayName"] for p in missing} == {"Pixel 9"}


def statuses(sim, api, paths) -> list[int]:
    return [api.get(path).status_code for path in paths]


PATHS = [
    f"me/dataTypes/{t}/dataPoints"
    for t in ("steps", "sleep", "weight", "exercise", "daily-vo2-max")
] * 4 + ["me/identity", "me/settings", "me/profile"] * 4


def test_same_seed_same_decisions_other_fault_seed_other_decisions(make_sim):
    runs = []
    for fault_seed in (None, None, 99):
        sim, api, _, _ = faulty(make_sim, "503=0.3,429=0.1", seed=5, fault_seed=fault_seed)
        runs.append(statuses(sim, api, PATHS))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert set(runs[0]) == {200, 429, 503}
    assert 0.2 < runs[0].count(503) / len(PATHS) < 0.45


def test_a_retry_is_drawn_afresh(make_sim):
    sim, api, _, _ = faulty(make_sim, "503=0.5", seed=3)
    tries = {path: statuses(sim, api, [path] * 6) for path in dict.fromkeys(PATHS)}
    assert any(s[0] == 503 and 200 in s for s in tries.values())
    assert any(s[0] == 200 and 503 in s for s in tries.values())
    assert all(set(s) <= {200, 503} for s in tries.values())


def test_decisions_do_not_depend_on_the_order_of_users(make_sim):
    """Concurrent users send identical `users/me` requests; each user's faults stay the same."""
    outcomes = []
    for order in (("user-1", "user-2"), ("user-2", "user-1")):
        sim = make_sim(seed=4)
        apis = {user: Api(sim, authorize(sim, user).access_token) for user in order}
        sim.set_faults("503=0.5")
        seen = {user: [] for user in order}
        for path in PATHS:
            for user in order:
                seen[user].append(apis[user].get(path).status_code)
        outcomes.append(seen)
    assert outcomes[0] == outcomes[1]
    assert outcomes[0]["user-1"] != outcomes[0]["user-2"]


def test_token_endpoint_decisions_are_reproducible(make_sim):
    """Codes and refresh tokens are random, so they cannot decide which token call fails."""
    runs = []
    for _ in range(2):
        sim = make_sim(seed=6)
        grants = {user: authorize(sim, user) for user in ("user-1", "user-2")}
        sim.set_faults("token.503=0.5")
        statuses = []
        for _ in range(8):
            for grant in grants.values():
                response = token_request(
                    sim,
                    {"grant_type": "refresh_token", "refresh_token": grant.token["refresh_token"]},
                )
                statuses.append(response.status_code)
        runs.append(statuses)
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 503}
