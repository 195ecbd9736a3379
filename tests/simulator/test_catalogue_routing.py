"""Every data type of the catalogue is routed from the catalogue alone.

For each listable type and each filter member the catalogue gives it, a list
bounded on that member answers exactly the ground-truth points inside the bounds
(the upper bound only where the type takes one: electrocardiogram's filter is
`>=` only). Identifiable types answer `get`, the others refuse it, and each
type's default page holds the discovery document's number of points.
"""

from __future__ import annotations

import collections
import datetime as dt

import pytest

from simulator.catalog import DATA_TYPES, read_scope
from tests.simulator.conftest import (
    ALL_SCOPES,
    HISTORY_START,
    Api,
    authorize,
    canonical,
    error_of,
)

D = dt.date
DAY = dt.timedelta(days=1)
TODAY = D(2026, 11, 28)
USERS = ("user-1", "user-2", "user-3", "user-4")
LISTABLE = [name for name, t in DATA_TYPES.items() if t.listable]
CASES = [(name, member) for name in LISTABLE for member in DATA_TYPES[name].filter_members]


@pytest.fixture(scope="module")
def apis(sim):
    scopes = sorted({read_scope(t.scope) for t in DATA_TYPES.values()} | set(ALL_SCOPES))
    held: dict[str, Api] = {}

    def api(user: str) -> Api:
        if user not in held:
            held[user] = Api(sim, authorize(sim, user, scopes=scopes).access_token)
        return held[user]

    return api


def window(sim, data_type: str) -> tuple[str, D, D]:
    """(user, first, last): two dense days, or the whole history of a sparse type.

    The filters run to noon of `last`: with the 22nd as `last`, they hold the two days
    counted (but for their first hours, for a user east of UTC).
    """
    short = {
        u: len(sim.ground_truth(u, data_type, D(2026, 11, 20), D(2026, 11, 21))) for u in USERS
    }
    user = max(short, key=short.get)
    if short[user] >= 3:
        return user, D(2026, 11, 20), D(2026, 11, 22)
    whole = {u: len(sim.ground_truth(u, data_type, HISTORY_START, TODAY)) for u in USERS}
    user = max(whole, key=whole.get)
    assert whole[user] > 0, f"no {data_type} point for any user"
    return user, HISTORY_START, TODAY


def instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def civil(body: dict, time_key: str, civil_key: str, offset_key: str) -> dt.datetime:
    """A civil time: the one the point carries, else its instant plus its UTC offset."""
    if civil_key in body:
        value = body[civil_key]
        clock = value.get("time", {})
        return dt.datetime(
            **value["date"],
            hour=clock.get("hours", 0),
            minute=clock.get("minutes", 0),
            second=clock.get("seconds", 0),
        )
    offset = float(body.get(offset_key, "0s")[:-1])
    return (instant(body[time_key]) + dt.timedelta(seconds=offset)).replace(tzinfo=None)


def member_value(point: dict, data_type: str, member: str) -> object:
    body = point[DATA_TYPES[data_type].json_key]
    match member:
        case "date":
            return D(**body["date"])
        case "interval.start_time":
            return instant(body["interval"]["startTime"])
        case "interval.end_time":
            return instant(body["interval"]["endTime"])
        case "sample_time.physical_time":
            return instant(body["sampleTime"]["physicalTime"])
        case "interval.civil_start_time":
            return civil(body["interval"], "startTime", "civilStartTime", "startUtcOffset")
        case "interval.civil_end_time":
            return civil(body["interval"], "endTime", "civilEndTime", "endUtcOffset")
        case "sample_time.civil_time":
            return civil(body["sampleTime"], "physicalTime", "civilTime", "utcOffset")
    raise KeyError(member)


def bounds(member: str, first: D, last: D) -> tuple[str, str, object, object]:
    """Filter literals from `first` to noon of `last`, and the values they stand for."""
    noon = dt.datetime.combine(last, dt.time(12))
    if member == "date":
        return first.isoformat(), last.isoformat(), first, last
    if "civil" in member:
        return first.isoformat(), noon.isoformat(), dt.datetime.combine(first, dt.time()), noon
    low = dt.datetime.combine(first, dt.time(), dt.UTC)
    high = noon.replace(tzinfo=dt.UTC)
    return f"{first}T00:00:00Z", f"{noon.isoformat()}Z", low, high


@pytest.mark.parametrize(("data_type", "member"), CASES)
def test_each_filter_member_selects_the_ground_truth(sim, apis, data_type, member):
    user, first, last = window(sim, data_type)
    spec = DATA_TYPES[data_type]
    low_text, high_text, low, high = bounds(member, first, last)
    field = f"{spec.filter_name}.{member}"
    text = f'{field} >= "{low_text}"'
    if spec.upper_bounds:
        text += f' AND {field} < "{high_text}"'
    else:
        high = None
    listed = apis(user).all_points(data_type, filter=text, pageSize=10000)
    truth_last = TODAY if high is None else min(TODAY, last + DAY)
    expected = collections.Counter(
        canonical(t["dataPoint"])
        for t in sim.ground_truth(user, data_type, max(HISTORY_START, first - DAY), truth_last)
        if member_value(t["dataPoint"], data_type, member) >= low
        and (high is None or member_value(t["dataPoint"], data_type, member) < high)
    )
    assert collections.Counter(map(canonical, listed)) == expected
    assert sum(expected.values()) > 0


@pytest.mark.parametrize("data_type", LISTABLE)
def test_get_follows_the_catalogue(sim, apis, data_type):
    user, first, last = window(sim, data_type)
    truth = sim.ground_truth(user, data_type, first, last)
    if DATA_TYPES[data_type].identifiable:
        point = truth[-1]["dataPoint"]
        got = apis(user).get(point["name"][len("users/") :])
        assert got.status_code == 200, got.text
        assert got.json() == point
    else:
        assert all("name" not in t["dataPoint"] for t in truth)
        refused = apis(user).data_point(data_type, "1234567890123456789")
        error_of(refused, 400, "UNSUPPORTED_DATA_TYPE_ACTION")


@pytest.mark.parametrize(
    ("data_type", "expected"),
    [
        ("activity-level", 1440),
        ("basal-energy-burned", 1440),
        ("oxygen-saturation", 1440),
        ("heart-rate", 50),
        ("sleep", 25),
    ],
)
def test_default_page_without_a_page_size(apis, data_type, expected):
    """1,440 by default, 25 for sleep and exercise, 50 for heart rate (as live)."""
    body = apis("user-1").list(data_type).json()
    assert len(body["dataPoints"]) == expected
    assert body["nextPageToken"]


@pytest.mark.parametrize("data_type", ["activity-level", "oxygen-saturation"])
def test_page_size_above_the_maximum_is_capped_at_10000(apis, data_type):
    body = apis("user-1").list(data_type, pageSize=20000).json()
    assert len(body["dataPoints"]) == 10000
    assert body["nextPageToken"]
