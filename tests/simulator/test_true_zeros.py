"""True zeros: the watch's steps, distance, floors and altitude cover exactly the minutes worn.

The Google Health API ("data presence and true zeros") sends these types as explicit
zero points while the device is on the wrist and nothing while it is off, so a gap in
`list` is a minute not worn; roll-ups answer a true zero for a window worn without
movement and nothing for a window wholly off the wrist (total calories as well).
"""

from __future__ import annotations

import datetime as dt

import pytest

from rows import datapoints
from simulator import synth, timefmt
from tests.simulator.conftest import day_filter

D = dt.date
DAY = dt.timedelta(days=1)
WORN = D(2026, 11, 10)  # user-1: worn, off the wrist 17:33-18:38Z, the phone walks meanwhile
UNWORN = D(2026, 10, 20)  # user-1: the watch was not worn at all
WEARABLES = "users/me/dataSourceFamilies/google-wearables"
# Data type -> the int64 field of its value object.
TRUE_ZERO_TYPES = {
    "steps": "count",
    "distance": "millimeters",
    "floors": "count",
    "altitude": "gainMillimeters",
}


def body_key(data_type: str) -> str:
    head, *rest = data_type.split("-")
    return head + "".join(part.capitalize() for part in rest)


def start_of(body: dict) -> int:
    return int(timefmt.parse_rfc3339(body["interval"]["startTime"]))


def listed(api, data_type: str, day: dt.date, user: str = "user-1", verb: str = "") -> list[dict]:
    return api(user).all_points(
        data_type, verb=verb, filter=day_filter(data_type, day, day + DAY), pageSize=10000
    )


def by_source(points: list[dict], data_type: str) -> dict[str, dict[int, int]]:
    """{"watch"|"phone": {minute start: value}} of listed points."""
    field = TRUE_ZERO_TYPES[data_type]
    out: dict[str, dict[int, int]] = {"watch": {}, "phone": {}}
    for p in points:
        source = "phone" if p["dataSource"]["device"]["formFactor"] == "PHONE" else "watch"
        body = p[body_key(data_type)]
        assert start_of(body) not in out[source], "one point a minute and source"
        out[source][start_of(body)] = int(body[field])
    return out


def worn_minutes(sim, user: str, day: dt.date) -> set[int]:
    """The minute starts of a civil day the watch was worn, from the day's plan."""
    plan = synth.day_plan(sim.users[user], day)
    worn = synth.day_minutes(sim.users[user], day).worn
    return {plan.span_start + 60 * m for m, on in enumerate(worn) if on}


def wrist_heart_rate_minutes(api, day: dt.date, user: str) -> set[int]:
    beats = listed(api, "heart-rate", day, user)
    return {
        int(timefmt.parse_rfc3339(b["heartRate"]["sampleTime"]["physicalTime"])) // 60 * 60
        for b in beats
        if b["heartRate"]["metadata"]["sensorLocation"] == "WRIST"
    }


@pytest.mark.parametrize("user", ["user-1", "user-2"])
@pytest.mark.parametrize("data_type", list(TRUE_ZERO_TYPES))
def test_the_watch_covers_exactly_the_minutes_worn(sim, api, data_type, user):
    watch = by_source(listed(api, data_type, WORN, user), data_type)["watch"]
    worn = worn_minutes(sim, user, WORN)
    assert set(watch) == worn
    # The minutes worn are the minutes with heart rate from the wrist, as the API sees them.
    assert worn == wrist_heart_rate_minutes(api, WORN, user)
    # A day of 1,440 minutes less the charge; mostly true zeros.
    assert 1300 < len(watch) < 1440
    zeros = sum(1 for v in watch.values() if v == 0)
    assert zeros > len(watch) // 2
    if data_type in ("floors", "altitude"):
        assert 0 < len(watch) - zeros < 60
        assert {v > 0 for v in watch.values()} == {True, False}


@pytest.mark.parametrize("data_type", list(TRUE_ZERO_TYPES))
def test_an_off_wrist_gap_has_no_watch_points(sim, api, data_type):
    (gap,) = synth.day_plan(sim.users["user-1"], WORN).off_wrist
    points = by_source(listed(api, data_type, WORN), data_type)
    inside = {m for m in points["watch"] if gap[0] <= m < gap[1]}
    assert inside == set()
    assert gap[0] - 60 in points["watch"] and gap[1] in points["watch"]
    if data_type in ("steps", "distance"):
        # The phone walked on while the watch charged: its points stay, none of them zero.
        assert any(gap[0] <= m < gap[1] for m in points["phone"])


@pytest.mark.parametrize("data_type", list(TRUE_ZERO_TYPES))
def test_an_unworn_day_has_no_points_and_no_roll_ups(sim, api, data_type):
    assert sim.ground_truth("user-1", data_type, UNWORN, UNWORN) == []
    assert api().list(data_type, filter=day_filter(data_type, UNWORN, UNWORN + DAY)).json() == {}
    assert (
        api().reconcile(data_type, filter=day_filter(data_type, UNWORN, UNWORN + DAY)).json() == {}
    )
    daily = api().daily_rollup(data_type, UNWORN - DAY, UNWORN + 2 * DAY).json()
    days = [D(**p["civilStartTime"]["date"]) for p in daily["rollupDataPoints"]]
    assert days == [UNWORN + DAY, UNWORN - DAY]


def test_zeros_are_sent_as_int64_zero_strings(sim, api):
    """The four fields have explicit presence in the API's protos: a zero is written "0"."""
    zone = sim.users["user-1"].zone
    three_am = timefmt.civil_to_epoch(dt.datetime.combine(WORN, dt.time(3)), zone)
    for data_type, field in TRUE_ZERO_TYPES.items():
        for p in listed(api, data_type, WORN):
            body = p[body_key(data_type)]
            assert isinstance(body[field], str), p
            if start_of(body) == three_am:  # asleep, the watch on
                assert body[field] == "0"
                assert p["dataSource"]["device"]["displayName"] == "Charge 6"
                break
        else:
            pytest.fail(f"no {data_type} point at 03:00 while asleep")


@pytest.mark.parametrize("data_type", ["steps", "distance"])
def test_the_phone_sends_no_zeros(sim, api, data_type):
    for day in (WORN, D(2026, 11, 11), D(2026, 11, 27)):
        phone = by_source(listed(api, data_type, day), data_type)["phone"]
        assert phone
        assert min(phone.values()) > 0


@pytest.mark.parametrize("data_type", ["steps", "distance"])
def test_the_reconciled_stream_is_the_watch_where_worn_else_the_phone(sim, api, data_type):
    points = by_source(listed(api, data_type, WORN), data_type)
    watch, phone = points["watch"], points["phone"]
    # A watch zero never hides the phone's movement: where both counted, both moved.
    assert all(watch[m] > 0 for m in set(watch) & set(phone))
    expected = {**phone, **watch}
    reconciled = listed(api, data_type, WORN, verb=":reconcile")
    got = {start_of(p[body_key(data_type)]): p for p in reconciled}
    assert len(got) == len(reconciled)
    assert {m: int(p[body_key(data_type)][TRUE_ZERO_TYPES[data_type]]) for m, p in got.items()} == (
        expected
    )
    assert all("dataSource" not in p for p in reconciled)
    daily = api().daily_rollup(data_type, WORN, WORN + DAY).json()["rollupDataPoints"]
    field = "countSum" if data_type == "steps" else "millimetersSum"
    assert int(daily[0][body_key(data_type)][field]) == sum(expected.values())


def test_roll_ups_send_true_zeros_and_leave_out_the_time_off_the_wrist(sim, api):
    (gap,) = synth.day_plan(sim.users["user-1"], WORN).off_wrist
    zone = sim.users["user-1"].zone
    night = timefmt.civil_to_epoch(dt.datetime.combine(WORN, dt.time(2)), zone)
    hours = api().rollup(
        "steps", timefmt.rfc3339(night), timefmt.rfc3339(night + 3 * 3600), "3600s"
    )
    # Asleep, the watch on: each hour is a true zero, not a window left out.
    assert [p["steps"] for p in hours.json()["rollupDataPoints"]] == [{"countSum": "0"}] * 3
    # Minute windows around the charge: the watch's types and total calories answer the
    # minutes worn only; steps from every source also the phone's minutes in the gap.
    first, end = gap[0] - 600, gap[1] + 600
    for data_type, family in [
        ("floors", None),
        ("altitude", None),
        ("steps", WEARABLES),
        ("total-calories", None),
    ]:
        extra = {"dataSourceFamily": family} if family else {}
        body = (
            api()
            .rollup(data_type, timefmt.rfc3339(first), timefmt.rfc3339(end), "60s", **extra)
            .json()
        )
        starts = {int(timefmt.parse_rfc3339(p["startTime"])) for p in body["rollupDataPoints"]}
        assert starts == set(range(first, gap[0], 60)) | set(range(gap[1], end, 60)), data_type
    phone_steps = api().rollup("steps", timefmt.rfc3339(gap[0]), timefmt.rfc3339(gap[1]))
    assert int(phone_steps.json()["rollupDataPoints"][0]["steps"]["countSum"]) > 0


def test_total_calories_roll_up_nothing_on_a_day_not_worn(sim, api):
    body = api().daily_rollup("total-calories", UNWORN - DAY, UNWORN + 2 * DAY).json()
    days = [D(**p["civilStartTime"]["date"]) for p in body["rollupDataPoints"]]
    assert days == [UNWORN + DAY, UNWORN - DAY]
    assert [
        t["civilDate"]
        for t in sim.ground_truth("user-1", "total-calories", UNWORN - DAY, UNWORN + DAY)
    ] == [
        str(UNWORN - DAY),
        str(UNWORN + DAY),
    ]


@pytest.mark.parametrize(
    ("data_type", "column"),
    [
        ("steps", "step_count"),
        ("distance", "distance_millimeters"),
        ("floors", "floor_count"),
        ("altitude", "gain_millimeters"),
    ],
)
def test_zero_points_load_as_zero_rows(sim, api, data_type, column):
    """The pipeline's rows read a true zero as 0 (not NULL) and find no field unmapped."""
    ctx = datapoints.RowContext("user-1", "run-1", dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
    field = TRUE_ZERO_TYPES[data_type]
    for verb, stream in (("", "raw"), (":reconcile", "reconciled")):
        zeros = [
            p
            for p in listed(api, data_type, WORN, verb=verb)
            if p[body_key(data_type)][field] == "0"
        ]
        assert len(zeros) > 600
        for p in zeros[:50]:
            assert datapoints.unmapped_fields(data_type, p) == []
            ((table, row),) = datapoints.rows_for_point(data_type, p, ctx, stream)
            assert (table, row[column], row["stream"]) == (data_type.replace("-", "_"), 0, stream)
