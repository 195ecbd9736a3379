"""bench.study_quota: its figures and its goals, on literal inputs."""

from __future__ import annotations

import math

from bench.study_quota import (
    count_by_minute,
    goal_lines,
    per_minute_use,
    project_use,
    share_429,
    users_complete,
    worker_of,
)


def test_share_429_counts_every_429_over_every_request():
    assert share_429([200, 429, 200, 200, 429, 503, 200, 200]) == 0.25
    assert share_429([]) == 0.0


def test_project_use_is_counted_requests_over_what_the_quota_allows_while_work_remains():
    # 30 requests over 30 s, the quota allowing 1 a second (60 a minute): the span is
    # 29 s from the first to the last, so 30 / 29.
    sent = [100.0 + i for i in range(30)]
    assert project_use(sent, 60) == 30 / 29
    assert project_use([0.0, 60.0], 6000) == 2 / 6000
    assert math.isnan(project_use([5.0], 60))
    assert math.isnan(project_use([5.0, 5.0], 60))


def test_per_minute_use_covers_whole_minutes_only():
    sent = [0.0, 10.0, 59.9, 60.0, 130.0, 150.0]
    assert per_minute_use(sent, 0.0, 150.0, 4) == [0.75, 0.25]


def test_count_by_minute_runs_to_the_last_minute_with_one():
    assert count_by_minute([10.0, 30.0, 130.0, 179.9], 0.0) == [2, 0, 2]
    assert count_by_minute([], 0.0) == []


def test_users_complete_are_those_with_no_failed_call():
    assert users_complete(["u1", "u2", "u3"], ["u2", "u2"]) == 2
    assert users_complete(["u1"], []) == 1


def test_each_user_is_owned_by_exactly_one_worker_whatever_asks():
    users = [f"user-{i}" for i in range(1, 201)]
    owners = [worker_of(u, 4) for u in users]
    assert owners == [worker_of(u, 4) for u in users]  # stable, as a key's owner is
    assert set(owners) == {0, 1, 2, 3}
    assert worker_of("user-1", 4) == 0  # crc32, not Python's salted hash
    assert worker_of("user-1", 1) == 0


def test_goal_lines_say_each_figure_beside_its_goal():
    lines = goal_lines({"share_429": 0.0042, "project_use": 0.8, "users_complete": 199}, 200)
    assert lines == [
        ("share of requests answered 429: 0.42%; goal under 1%", True),
        ("project quota use while work remains: 80%; goal 80% or more", True),
        ("users complete: 199 of 200; goal all 200", False),
    ]
    [(_, met_429), (_, met_use), _] = goal_lines(
        {"share_429": 0.01, "project_use": 0.79, "users_complete": 3}, 3
    )
    assert (met_429, met_use) == (False, False)
