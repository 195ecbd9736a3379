"""Paging and ordering of list, reconcile and rollUp, as the discovery document describes.

Page sizes (default and maximum per method) are read out of `health.v4.json`; a page
is full unless it is the last, no answer is an empty page with a token, and a token
comes only when more points remain. Short pages are an opt-in of the simulator.
"""

from __future__ import annotations

import collections
import datetime as dt
import math
import re

import pytest

from simulator import Simulator, catalog
from simulator.discovery import load_discovery
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
def test_opt_in_short_pages_give_empty_pages_with_tokens_and_nothing_twice(
    make_sim, budget, data_type, page_size
):
    """With `scan_days_per_page`, a list call scans that many civil days, then answers.

    Off by default. A server may answer short pages, empty ones included, before the end
    (AIP-158); whether the live API does is unconfirmed, so clients must follow tokens
    through such pages, and this switch lets tests make some.
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
    """An `Api` on a simulator with a year of data."""
    with Simulator(config(history_start=D(2025, 11, 1))) as sim:
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


# -- page sizes and tokens as the discovery document describes them ------------------------


def _method(resource: str, name: str) -> dict:
    users = load_discovery()["resources"]["users"]["resources"]
    if resource == "pairedDevices":
        return users["pairedDevices"]["methods"][name]
    return users["dataTypes"]["resources"]["dataPoints"]["methods"][name]


def _request_page_size(schema: str) -> str:
    return load_discovery()["schemas"][schema]["properties"]["pageSize"]["description"]


def _sizes(text: str, default: str, maximum: str) -> tuple[int, int]:
    return int(re.search(default, text)[1]), int(re.search(maximum, text)[1])


def test_page_sizes_are_the_discovery_documents():
    for verb in ("list", "reconcile"):
        text = _method("dataPoints", verb)["parameters"]["pageSize"]["description"]
        assert _sizes(text, r"at most (\d+) data points", r"maximum page size is (\d+);") == (
            catalog.LIST_PAGE
        )
        assert _sizes(
            text,
            r"`exercise` and `sleep` the default page size is (\d+)",
            r"maximum page size for `exercise` and `sleep` is (\d+)",
        ) == (catalog.SESSION_PAGE)
    text = _request_page_size("RollUpDataPointsRequest")
    assert _sizes(text, r"at most (\d+) data points", r"maximum page size is (\d+);") == (
        catalog.ROLLUP_PAGE
    )
    text = _request_page_size("DailyRollUpDataPointsRequest")
    assert _sizes(text, r"at most `(\d+)` data points", r"maximum page size is `(\d+)`\.") == (
        catalog.DAILY_ROLLUP_PAGE
    )
    short = re.search(r"the default and maximum page size is `(\d+)`", text)[1]
    assert (int(short), int(short)) == catalog.SHORT_DAILY_ROLLUP_PAGE
    text = _method("pairedDevices", "list")["parameters"]["pageSize"]["description"]
    assert _sizes(text, r"at most (\d+) devices", r"maximum value is (\d+)\.") == (
        catalog.PAIRED_DEVICES_PAGE
    )
    assert catalog.LIST_PAGE == (1440, 10000)
    assert catalog.SESSION_PAGE == (25, 25)
    assert catalog.DAILY_ROLLUP_PAGE == (90, 90)
    assert catalog.SHORT_DAILY_ROLLUP_PAGE == (14, 14)
    assert catalog.PAIRED_DEVICES_PAGE == (5, 100)


def page_sizes(pages: list[dict], key: str = "dataPoints") -> list[int]:
    return [len(body.get(key, [])) for body in pages]


@pytest.mark.parametrize(
    ("data_type", "first", "last", "page_size", "verb"),
    [
        # Weeks of data in one page: the old 14-day scan gave empty pages with tokens here.
        ("daily-resting-heart-rate", D(2026, 10, 1), D(2026, 11, 27), None, ""),
        ("weight", D(2026, 10, 1), D(2026, 11, 27), None, ":reconcile"),
        ("sleep", D(2026, 11, 1), D(2026, 11, 20), None, ""),
        # Six days of a watch worn nearly all day: 8,318 minutes, true zeros included.
        ("steps", D(2026, 11, 4), D(2026, 11, 9), 10000, ":reconcile"),
    ],
)
def test_a_window_that_fits_a_page_is_one_answer_without_a_token(
    sim, api, data_type, first, last, page_size, verb
):
    pages = api().pages(
        data_type,
        verb,
        filter=day_filter(data_type, first, last + dt.timedelta(days=1)),
        pageSize=page_size,
    )
    expected = truth_counter(sim, "user-1", data_type, first, last, bool(verb))
    assert len(pages) == 1
    assert "nextPageToken" not in pages[0]
    assert collections.Counter(map(canonical, pages[0]["dataPoints"])) == expected
    size = page_size or catalog.DATA_TYPES[data_type].default_page_size
    assert 14 < len(pages[0]["dataPoints"]) <= size


@pytest.mark.parametrize(
    ("data_type", "first", "last", "page_size", "verb"),
    [
        ("heart-rate", D(2026, 11, 20), D(2026, 11, 21), 10000, ":reconcile"),
        ("heart-rate", D(2026, 11, 20), D(2026, 11, 20), 10000, ""),
        ("steps", D(2026, 10, 1), D(2026, 11, 27), 1000, ""),
        ("weight", D(2026, 10, 1), D(2026, 11, 27), 4, ""),
        ("sleep", D(2026, 10, 1), D(2026, 11, 27), None, ":reconcile"),
        ("exercise", D(2026, 10, 1), D(2026, 11, 27), 2, ""),
    ],
)
def test_every_page_but_the_last_is_full_and_none_is_empty(
    sim, api, data_type, first, last, page_size, verb
):
    pages = api().pages(
        data_type,
        verb,
        filter=day_filter(data_type, first, last + dt.timedelta(days=1)),
        pageSize=page_size,
    )
    size = page_size or catalog.DATA_TYPES[data_type].default_page_size
    total = sum(truth_counter(sim, "user-1", data_type, first, last, bool(verb)).values())
    full, rest = divmod(total, size)
    assert page_sizes(pages) == [size] * full + ([rest] if rest else [])
    assert len(pages) == math.ceil(total / size) > 1
    assert ["nextPageToken" in body for body in pages] == [True] * (len(pages) - 1) + [False]


@pytest.mark.parametrize("extra", [0, 1, -1])
def test_a_token_only_when_more_points_remain(sim, api, extra):
    """A page size of exactly the window's points: one page, and no token for nothing."""
    first, last = D(2026, 10, 1), D(2026, 11, 27)
    text = day_filter("weight", first, last + dt.timedelta(days=1))
    total = sum(truth_counter(sim, "user-1", "weight", first, last).values())
    pages = api().pages("weight", filter=text, pageSize=total + extra)
    if extra >= 0:
        assert page_sizes(pages) == [total]
        assert "nextPageToken" not in pages[0]
    else:
        assert page_sizes(pages) == [total - 1, 1]


def test_unfiltered_heart_rate_reconcile_pages_are_full_to_the_end(make_sim):
    """No scan budget: a wide query with little data a day still answers full pages."""
    sim = make_sim(users=1, history_start=D(2026, 11, 26))
    api = Api(sim, authorize(sim).access_token)
    pages = api.pages("heart-rate", ":reconcile", pageSize=10000)
    total = sum(
        truth_counter(sim, "user-1", "heart-rate", D(2026, 11, 26), D(2026, 11, 28), True).values()
    )
    full, rest = divmod(total, 10000)
    assert page_sizes(pages) == [10000] * full + ([rest] if rest else [])


def rollup_pages(api: Api, *args, **extra) -> list[dict]:
    bodies, token = [], None
    while True:
        more = {"pageToken": token} if token else {}
        response = api.rollup(*args, **extra, **more)
        assert response.status_code == 200, response.text
        bodies.append(response.json())
        token = bodies[-1].get("nextPageToken")
        if not token:
            return bodies


@pytest.mark.parametrize("page_size", [1, 7, 23, 24, 25, 200])
def test_roll_up_pages_hold_page_size_points_and_no_empty_page(api, page_size):
    """rollUp pages count rolled-up points; windows without data take no room."""
    # user-1 did not wear the watch on 2026-10-20 (04:00Z to 04:00Z): those 24 hours roll
    # up to nothing; every hour worn is a window, a true zero at night.
    args = ("steps", "2026-10-20T00:00:00Z", "2026-10-22T00:00:00Z", "3600s")
    whole = api().rollup(*args).json()["rollupDataPoints"]
    assert len(whole) == 24  # of 48 hourly windows
    pages = rollup_pages(api(), *args, pageSize=page_size)
    full, rest = divmod(24, page_size)
    assert page_sizes(pages, "rollupDataPoints") == [page_size] * full + ([rest] if rest else [])
    assert [p for body in pages for p in body["rollupDataPoints"]] == whole


def test_roll_up_default_page_is_1440_points(make_sim):
    sim = make_sim(users=1)
    api = Api(sim, authorize(sim).access_token)
    args = ("heart-rate", "2026-11-20T00:00:00Z", "2026-11-22T00:00:00Z", "60s")
    pages = rollup_pages(api, *args)
    sizes = page_sizes(pages, "rollupDataPoints")
    assert sizes[0] == 1440
    assert sizes[:-1] == [1440] * (len(sizes) - 1) and 0 < sizes[-1] <= 1440
    assert sum(sizes) > 1440


def daily_rollup_pages(api: Api, *args, **extra) -> list[dict]:
    bodies, token = [], None
    while True:
        more = {"pageToken": token} if token else {}
        response = api.daily_rollup(*args, **extra, **more)
        assert response.status_code == 200, response.text
        bodies.append(response.json())
        token = bodies[-1].get("nextPageToken")
        if not token:
            return bodies
        assert len(bodies) < 100, "paging does not end"


def window_starts(points: list[dict]) -> list[D]:
    return [D(**p["civilStartTime"]["date"]) for p in points]


def test_daily_roll_up_answers_a_range_within_its_default_page_at_once(api):
    body = api().daily_rollup("steps", D(2026, 9, 1), D(2026, 11, 28)).json()
    assert "nextPageToken" not in body
    # History starts 2026-10-01; user-1 did not wear the device on 2026-10-20.
    starts = window_starts(body["rollupDataPoints"])
    assert starts == [D(2026, 11, 27) - dt.timedelta(days=i) for i in range(58) if i != 38]


@pytest.mark.parametrize(
    ("data_type", "first", "end", "page_size"),
    [
        ("steps", D(2026, 11, 1), D(2026, 11, 11), 3),
        ("steps", D(2026, 10, 15), D(2026, 11, 28), 10),
        ("steps", D(2026, 11, 1), D(2026, 11, 11), 1),
        ("heart-rate", D(2026, 11, 1), D(2026, 11, 15), 4),
        ("total-calories", D(2026, 11, 1), D(2026, 11, 15), 13),
    ],
)
def test_daily_roll_up_pages_below_the_window_count(api, data_type, first, end, page_size):
    """A pageSize below the windows' count pages with tokens: every window once, newest first."""
    whole = api().daily_rollup(data_type, first, end).json()
    assert "nextPageToken" not in whole
    pages = daily_rollup_pages(api(), data_type, first, end, pageSize=page_size)
    sizes = page_sizes(pages, "rollupDataPoints")
    full, rest = divmod(len(whole["rollupDataPoints"]), page_size)
    assert sizes == [page_size] * full + ([rest] if rest else [])
    assert len(pages) > 1
    assert ["nextPageToken" in body for body in pages] == [True] * (len(pages) - 1) + [False]
    points = [p for body in pages for p in body["rollupDataPoints"]]
    assert points == whole["rollupDataPoints"]
    starts = window_starts(points)
    assert starts == sorted(starts, reverse=True)
    assert len(set(starts)) == len(starts)


def test_daily_roll_up_page_token_is_bound_to_the_request(api):
    token = (
        api()
        .daily_rollup("steps", D(2026, 11, 1), D(2026, 11, 11), pageSize=3)
        .json()["nextPageToken"]
    )
    changed = api().daily_rollup(
        "steps", D(2026, 11, 1), D(2026, 11, 11), pageSize=3, windowSizeDays=2, pageToken=token
    )
    error_of(changed, 400, "INVALID_PAGE_TOKEN")
    other_type = api().daily_rollup("floors", D(2026, 11, 1), D(2026, 11, 11), pageToken=token)
    error_of(other_type, 400, "INVALID_PAGE_TOKEN")
    # Another page size goes on from the same place.
    again = api().daily_rollup(
        "steps", D(2026, 11, 1), D(2026, 11, 11), pageSize=5, pageToken=token
    )
    assert window_starts(again.json()["rollupDataPoints"]) == [
        D(2026, 11, 7),
        D(2026, 11, 6),
        D(2026, 11, 5),
        D(2026, 11, 4),
        D(2026, 11, 3),
    ]


# -- heart rate's live default page ---------------------------------------------------------


@pytest.mark.parametrize("verb", ["", ":reconcile"])
@pytest.mark.parametrize("page_size", [None, 0])
def test_heart_rate_without_a_page_size_comes_50_a_page(api, verb, page_size):
    """Live, an unset pageSize gives heart rate 50 points a page, not the documented 1,440."""
    text = day_filter("heart-rate", D(2026, 11, 27), D(2026, 11, 28))
    body = api().list("heart-rate", verb=verb, filter=text, pageSize=page_size).json()
    assert len(body["dataPoints"]) == 50
    assert body["nextPageToken"]
    asked = api().list("heart-rate", verb=verb, filter=text, pageSize=1440).json()
    assert len(asked["dataPoints"]) == 1440
    assert asked["dataPoints"][:50] == body["dataPoints"]


@pytest.mark.parametrize(
    ("data_type", "size"),
    [("steps", 1440), ("heart-rate-variability", None), ("daily-resting-heart-rate", None)],
)
def test_other_types_keep_the_documented_default_page(wide_api, data_type, size):
    """Types other than heart rate keep 1,440 (or all of a short history) without a pageSize."""
    body = wide_api.list(data_type).json()
    points = len(body["dataPoints"])
    if size is None:
        assert 50 < points <= 1440
        assert ("nextPageToken" in body) is (points == 1440)
    else:
        assert points == size


def test_calls_are_counted_per_data_type_and_method(make_sim):
    sim = make_sim(users=1)
    api = Api(sim, authorize(sim).access_token)
    api.list("steps")
    api.list("steps", pageSize="-1")  # refused, but made
    api.reconcile("steps")
    api.daily_rollup("steps", D(2026, 11, 1), D(2026, 11, 2))
    api.rollup("heart-rate", "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z")
    api.get("me/identity")
    assert sim.stats()["callsByDataType"] == {
        "heart-rate": {"rollUp": 1},
        "steps": {"dailyRollUp": 1, "list": 2, "reconcile": 1},
    }
