"""Paging and ordering of list and reconcile."""

from __future__ import annotations

import collections
import datetime as dt

import pytest

from simulator import Simulator
from tests.simulator.conftest import Api, authorize, canonical, config, day_filter, error_of

D = dt.date


def start_of(point: dict) -> str:
    """The RFC 3339 start (or sample time, or date) a point is ordered by."""
    (body,) = (v for k, v in point.items() if k not in ("name", "dataSource", "dataPointName"))
    if "interval" in body:
        return body["interval"]["startTime"]
    if "sampleTime" in body:
        return body["sampleTime"]["physicalTime"]
    day = body["date"]
    return f"{day['year']:04d}-{day['month']:02d}-{day['day']:02d}"


def truth_counter(sim, user, data_type, first, last, reconciled=False):
    truth = sim.ground_truth(user, data_type, first, last, reconciled=reconciled)
    return collections.Counter(canonical(t["dataPoint"]) for t in truth)


@pytest.mark.parametrize(
    ("data_type", "first", "last", "page_size", "verb"),
    [
        ("steps", D(2026, 10, 30), D(2026, 11, 2), 300, ""),
        ("steps", D(2026, 10, 30), D(2026, 11, 2), 333, ":reconcile"),
        ("heart-rate", D(2026, 11, 27), D(2026, 11, 27), 4000, ""),
        ("sleep", D(2026, 10, 1), D(2026, 11, 28), 10, ""),
        ("exercise", D(2026, 10, 1), D(2026, 11, 28), 4, ""),
        ("weight", D(2026, 10, 1), D(2026, 11, 28), 3, ""),
        ("daily-resting-heart-rate", D(2026, 10, 1), D(2026, 11, 28), 7, ""),
    ],
)
def test_following_tokens_gives_exactly_the_ground_truth_in_order(
    sim, api, data_type, first, last, page_size, verb
):
    pages = api().pages(
        data_type,
        verb,
        filter=day_filter(data_type, first, last + dt.timedelta(days=1)),
        pageSize=page_size,
    )
    points = [p for body in pages for p in body.get("dataPoints", [])]
    assert len(pages) >= 3
    assert all(len(body.get("dataPoints", [])) <= page_size for body in pages)
    counts = collections.Counter(map(canonical, points))
    assert max(counts.values()) == 1
    assert counts == truth_counter(sim, "user-1", data_type, first, last, bool(verb))
    starts = [start_of(p) for p in points]
    assert starts == sorted(starts, reverse=True)


def test_unfiltered_list_walks_back_to_the_first_day(sim, api):
    pages = api().pages("sleep")
    points = [p for body in pages for p in body.get("dataPoints", [])]
    assert collections.Counter(map(canonical, points)) == truth_counter(
        sim, "user-1", "sleep", D(2026, 10, 1), D(2026, 11, 28)
    )
    assert all(len(body.get("dataPoints", [])) <= 25 for body in pages)


@pytest.mark.parametrize("budget", [1, 2])
@pytest.mark.parametrize(
    ("data_type", "page_size"), [("steps", 150), ("sleep", 1), ("exercise", 1)]
)
def test_scan_budget_gives_empty_pages_with_tokens_and_nothing_twice(
    make_sim, budget, data_type, page_size
):
    """A list call scans at most `scan_days_per_page` civil days, then answers what it has.

    Whether the real API stops early like this is unconfirmed (the fact sheet leaves the
    maximum span per call open); the simulator's documented choice is a day budget, and a
    client must follow tokens through empty pages.
    """
    sim = make_sim(scan_days_per_page=budget)
    api = Api(sim, authorize(sim).access_token)
    first, last = D(2026, 11, 1), D(2026, 11, 14)
    pages = api.pages(
        data_type,
        filter=day_filter(data_type, first, last + dt.timedelta(days=1)),
        pageSize=page_size,
    )
    empty_with_token = [b for b in pages if "dataPoints" not in b and "nextPageToken" in b]
    assert len(empty_with_token) >= 1
    assert all(b == {"nextPageToken": b["nextPageToken"]} for b in empty_with_token)
    points = [p for body in pages for p in body.get("dataPoints", [])]
    counts = collections.Counter(map(canonical, points))
    assert max(counts.values()) == 1
    assert counts == truth_counter(sim, "user-1", data_type, first, last)
    starts = [start_of(p) for p in points]
    assert starts == sorted(starts, reverse=True)


@pytest.fixture(scope="module")
def wide_api():
    """An `Api` on a simulator with a year of data whose list calls scan every day."""
    with Simulator(config(scan_days_per_page=1000, history_start=D(2025, 11, 1))) as sim:
        yield Api(sim, authorize(sim).access_token)


def test_default_page_size_is_1440(wide_api):
    body = wide_api.list("steps").json()
    assert len(body["dataPoints"]) == 1440
    assert body["nextPageToken"]


def test_page_size_above_10000_is_silently_capped(wide_api):
    response = wide_api.list(
        "heart-rate",
        filter=day_filter("heart-rate", D(2026, 11, 27), D(2026, 11, 28)),
        pageSize=25000,
    )
    assert response.status_code == 200
    assert len(response.json()["dataPoints"]) == 10000
    assert response.json()["nextPageToken"]


@pytest.mark.parametrize("data_type", ["sleep", "exercise"])
@pytest.mark.parametrize("page_size", [None, 26, 10000])
def test_sleep_and_exercise_pages_hold_at_most_25(wide_api, data_type, page_size):
    response = wide_api.list(data_type, pageSize=page_size)
    assert response.status_code == 200
    assert len(response.json()["dataPoints"]) == 25
    assert response.json()["nextPageToken"]


def test_page_token_is_bound_to_the_query(api):
    """Reusing a token with another filter is refused.

    The real API's answer to a mismatched token is unconfirmed; the simulator's documented
    choice is 400 INVALID_PAGE_TOKEN (AIP-158: other parameters must stay the same).
    """
    first = day_filter("steps", D(2026, 11, 10), D(2026, 11, 13))
    token = api().list("steps", filter=first, pageSize=100).json()["nextPageToken"]
    other = day_filter("steps", D(2026, 11, 10), D(2026, 11, 12))
    error_of(
        api().list("steps", filter=other, pageSize=100, pageToken=token), 400, "INVALID_PAGE_TOKEN"
    )
    error_of(api().reconcile("steps", filter=first, pageToken=token), 400, "INVALID_PAGE_TOKEN")
    error_of(api().list("steps", filter=first, pageToken="not-a-token"), 400, "INVALID_PAGE_TOKEN")
    # The same query with another page size goes on.
    assert api().list("steps", filter=first, pageSize=7, pageToken=token).status_code == 200


@pytest.mark.parametrize("page_size", ["-1", "ten"])
def test_bad_page_size_is_400(api, page_size):
    error_of(api().list("steps", pageSize=page_size), 400, None)


def test_empty_result_is_an_empty_object(api):
    """No data at all (user-1 did not wear the device on 2026-10-20): `{}`, no token."""
    response = api().list("steps", filter=day_filter("steps", D(2026, 10, 20), D(2026, 10, 21)))
    assert response.status_code == 200
    assert response.json() == {}
