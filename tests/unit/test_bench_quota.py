"""bench.quota: its figures and its backlog, on literal inputs."""

from __future__ import annotations

import math
import random
import threading

from bench.quota import Backlog, budget_use, expiring_on, most_within
from healthapi.elements import ApiCall


def call(user: str, start: str) -> ApiCall:
    return ApiCall(user, "list", "steps", start, "2026-11-04")


def test_budget_use_is_per_period_and_pro_rata_in_the_last():
    periods = budget_use([0.0, 10.0, 20.0, 70.0, 130.0], 0.0, 130.0, (3, 60.0))
    assert [covered for covered, _ in periods] == [1.0, 1.0, 10.0 / 60.0]
    assert [use for _, use in periods] == [1.0, 1 / 3, 2.0]


def test_budget_use_of_work_done_within_the_first_period():
    [(covered, use)] = budget_use([100.0, 101.0, 102.0], 100.0, 102.0, (300, 60.0))
    assert covered == 2.0 / 60.0
    assert use == 0.3


def test_budget_use_of_a_single_request_at_the_start():
    assert budget_use([5.0], 5.0, 5.0, (300, 60.0)) == [(0.0, math.inf)]


def test_most_within_counts_any_interval_not_only_whole_seconds():
    assert most_within([5.0, 0.0, 0.5, 0.99, 1.0], 1.0) == 3
    assert most_within([0.0, 0.5, 1.2, 1.4, 1.45, 3.0], 1.0) == 4
    assert most_within([], 1.0) == 0


def test_the_backlog_hands_out_every_call_once_then_none():
    work = [call("u1", "2026-11-01"), call("u2", "2026-11-01"), call("u1", "2026-11-04")]
    backlog = Backlog(work, random.Random(0))
    taken = []
    while (c := backlog.take()) is not None:
        taken.append(c)
        backlog.finish()
    assert sorted(taken, key=repr) == sorted(work, key=repr)


def test_a_worker_waits_for_the_calls_a_call_under_way_may_add():
    backlog = Backlog([call("u1", "2026-11-01")], random.Random(0))
    first = backlog.take()
    got = []
    waiter = threading.Thread(target=lambda: got.append(backlog.take()))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive()  # nothing queued, but the call under way may add one

    detail = call("u1", "2026-11-02")
    backlog.put(detail)
    backlog.finish()
    waiter.join(10)
    assert (first, got) == (call("u1", "2026-11-01"), [detail])
    backlog.finish()
    assert backlog.take() is None


def test_expiry_is_restamped_on_the_simulators_clock():
    token = {"access_token": "a", "expires_in": 3599, "expires_at": 1.0}
    assert expiring_on(lambda: 1000.0, token) == {
        "access_token": "a",
        "expires_in": 3599,
        "expires_at": 4599.0,
    }
    assert expiring_on(lambda: 1000.0, {"access_token": "a"}) == {"access_token": "a"}
