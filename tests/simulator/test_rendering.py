"""The fast renderings give exactly the bytes of the `datetime`-and-dict renderings.

`simulator.timefmt` formats whole-second instants by integer arithmetic with the
zone's offset looked up once per UTC hour, and `simulator.render.point_json`
writes list and reconcile points as JSON text. Both are held here to the slow
path they replace, on every synthetic time zone and across their DST changes.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from zoneinfo import ZoneInfo

import pytest

from simulator import points, render, synth, timefmt
from simulator.catalog import DATA_TYPES

UTC = dt.UTC
# The users' zones, and zones whose offsets or DST steps are not whole hours.
ZONES = [
    *synth.TIME_ZONES,
    "Australia/Lord_Howe",  # DST step of 30 minutes
    "Asia/Kathmandu",  # +05:45
    "America/St_Johns",  # -03:30 with DST
    "Pacific/Chatham",  # +12:45 / +13:45
]


def reference_offset(epoch: float, zone: ZoneInfo) -> int:
    return int(dt.datetime.fromtimestamp(epoch, zone).utcoffset().total_seconds())


def reference_rfc3339(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reference_sample_time(epoch: int, zone: ZoneInfo) -> dict:
    # The offset is a set Duration: "0s" in UTC, never left out.
    return {
        "physicalTime": reference_rfc3339(epoch),
        "utcOffset": f"{reference_offset(epoch, zone)}s",
        "civilTime": timefmt.civil_datetime_json(timefmt.local_datetime(epoch, zone)),
    }


def transitions(zone: ZoneInfo, first: int, last: int) -> list[int]:
    """Instants (to the second) where the zone's offset changes in [first, last)."""
    found = []
    for hour in range(first, last, 3600):
        if reference_offset(hour, zone) != reference_offset(hour + 3600, zone):
            lo, hi = hour, hour + 3600  # offset(lo) != offset(hi): bisect to the second
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if reference_offset(mid, zone) == reference_offset(lo, zone):
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
    return found


def instants(zone: ZoneInfo) -> list[int]:
    """Seconds around every offset change of 2025-2027, and a random spread."""
    first = int(dt.datetime(2025, 1, 1, tzinfo=UTC).timestamp())
    last = int(dt.datetime(2028, 1, 1, tzinfo=UTC).timestamp())
    out = []
    for change in transitions(zone, first, last):
        out += range(change - 3 * 3600, change + 3 * 3600, 13)
        out += [change - 1, change, change + 1]
    rng = random.Random(zone.key)
    out += [rng.randrange(first, last) for _ in range(2000)]
    return out


@pytest.mark.parametrize("name", ZONES)
def test_time_fields_match_datetime(name):
    zone = ZoneInfo(name)
    moments = instants(zone)
    for epoch in moments:
        assert timefmt.utc_offset_seconds(epoch, zone) == reference_offset(epoch, zone), epoch
        assert timefmt.rfc3339(epoch) == reference_rfc3339(epoch), epoch
        assert timefmt.sample_time_json(epoch, zone) == reference_sample_time(epoch, zone), epoch
    # Fractions still take the datetime path.
    assert timefmt.rfc3339(1_790_000_000.25) == "2026-09-21T14:13:20.25Z"
    assert timefmt.duration(-18000) == "-18000s"
    assert timefmt.duration(1722.5) == "1722.5s"


def test_zones_with_offset_changes_are_in_the_sweep():
    """The sweep above must meet DST changes, half-hour steps included, or it proves little."""
    first = int(dt.datetime(2025, 1, 1, tzinfo=UTC).timestamp())
    last = int(dt.datetime(2028, 1, 1, tzinfo=UTC).timestamp())
    counts = {name: len(transitions(ZoneInfo(name), first, last)) for name in ZONES}
    assert counts["America/New_York"] == 6
    assert counts["Australia/Lord_Howe"] == 6
    assert counts["Asia/Kolkata"] == 0
    steps = {
        reference_offset(t, ZoneInfo("Australia/Lord_Howe"))
        - reference_offset(t - 1, ZoneInfo("Australia/Lord_Howe"))
        for t in transitions(ZoneInfo("Australia/Lord_Howe"), first, last)
    }
    assert steps == {1800, -1800}


def users() -> list[synth.User]:
    return [
        synth.make_user(0, i, dt.date(2025, 11, 1)) for i in range(1, len(synth.TIME_ZONES) + 1)
    ]


def days_around_dst(user: synth.User) -> list[dt.date]:
    """The civil days of the user's 2026 offset changes and their neighbours (or two days)."""
    zone = user.zone
    first = int(dt.datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    last = int(dt.datetime(2027, 1, 1, tzinfo=UTC).timestamp())
    changes = [timefmt.local_datetime(t, zone).date() for t in transitions(zone, first, last)]
    days = {d + dt.timedelta(days=k) for d in changes for k in (-1, 0, 1)}
    return sorted(days or {dt.date(2026, 6, 30), dt.date(2026, 7, 1)})


LISTABLE = [name for name, t in DATA_TYPES.items() if t.listable]


@pytest.mark.parametrize("user", users(), ids=lambda u: u.time_zone)
def test_point_json_is_the_dict_rendering(user):
    """Every point of every listed type, both views, across the user's DST days."""
    rendered = 0
    for day in days_around_dst(user):
        for data_type in LISTABLE:
            # An odd spacing reaches every seconds value of the civil clock.
            for p in points.points_for_day(user, data_type, day, 37):
                for reconciled in (False, True):
                    body = render.render_body(user, data_type, p)
                    expected = json.dumps(
                        render.render_point(user, data_type, p, body, reconciled),
                        separators=(",", ":"),
                    )
                    assert render.point_json(user, data_type, p, reconciled) == expected
                    rendered += 1
    assert rendered > 5_000


def test_the_dense_types_take_the_text_path():
    """The types with many points a day are written as text (else the test above proves less)."""
    assert set(render._BODY_TEXT) == {
        "steps",
        "floors",
        "distance",
        "altitude",
        "active-zone-minutes",
        "heart-rate",
        "heart-rate-variability",
        "active-energy-burned",
        "basal-energy-burned",
        "active-minutes",
        "activity-level",
        "time-in-heart-rate-zone",
        "oxygen-saturation",
    }


@pytest.mark.parametrize(
    "points_text, token",
    [([], None), ([], "abc"), (['{"a":1}'], None), (['{"a":1}', '{"b":"\\u00e9"}'], "t=\\/")],
)
def test_page_json_is_json_dumps(points_text, token):
    payload: dict = {}
    if points_text:
        payload["dataPoints"] = [json.loads(t) for t in points_text]
    if token:
        payload["nextPageToken"] = token
    expected = json.dumps(payload, separators=(",", ":")).encode()
    assert render.page_json(points_text, token) == expected
