"""Parents, resource names, data types and the users/me resources."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from simulator.catalog import DATA_TYPES, read_scope
from tests.simulator.conftest import (
    ACTIVITY,
    ALL_SCOPES,
    PROFILE,
    Api,
    authorize,
    day_filter,
    error_of,
)

D = dt.date
NOVEMBER = (D(2026, 11, 1), D(2026, 11, 27))
EVERY_READ_SCOPE = tuple(
    sorted({read_scope(t.scope) for t in DATA_TYPES.values()} | set(ALL_SCOPES))
)


def health_user_id(sim, user="user-1") -> str:
    return sim.users[user].health_user_id


@pytest.mark.parametrize("route", ["list", "reconcile", "rollUp", "dailyRollUp"])
def test_numeric_user_id_as_parent_is_a_bare_400(sim, api, route):
    """Collection calls refuse `users/{healthUserId}` as parent: 400 with no details.

    The discovery document (rev 20261030) says the parent may carry the numeric id; clients
    that used it live were refused with this bare 400 (fact sheet §2, [NET]). The simulator
    keeps the observed refusal: a client that passes here works whichever is true.
    """
    numeric = health_user_id(sim)
    collection = f"{numeric}/dataTypes/steps/dataPoints"
    if route == "list":
        response = api().get(collection)
    elif route == "reconcile":
        response = api().get(collection + ":reconcile")
    elif route == "rollUp":
        body = {
            "range": {"startTime": "2026-11-01T00:00:00Z", "endTime": "2026-11-02T00:00:00Z"},
            "windowSize": "3600s",
        }
        response = api().post(collection + ":rollUp", body)
    else:
        body = {
            "range": {
                "start": {"date": {"year": 2026, "month": 11, "day": 1}},
                "end": {"date": {"year": 2026, "month": 11, "day": 2}},
            }
        }
        response = api().post(collection + ":dailyRollUp", body)
    error = error_of(response, 400, None)
    assert error == {
        "code": 400,
        "message": "Request contains an invalid argument.",
        "status": "INVALID_ARGUMENT",
    }


@pytest.mark.parametrize("data_type", ["sleep", "exercise", "weight", "body-fat"])
def test_names_carry_the_19_digit_health_user_id(sim, api, data_type):
    numeric = health_user_id(sim)
    assert re.fullmatch(r"[1-9]\d{18}", numeric)
    assert api().get("me/identity").json()["healthUserId"] == numeric
    pattern = rf"users/{numeric}/dataTypes/{data_type}/dataPoints/[a-z0-9-]{{4,63}}"
    listed = api().all_points(data_type, filter=day_filter(data_type, *NOVEMBER))
    reconciled = api().all_points(
        data_type, verb=":reconcile", filter=day_filter(data_type, *NOVEMBER)
    )
    assert len(listed) >= 3
    assert all(re.fullmatch(pattern, p["name"]) for p in listed)
    assert [p["dataPointName"] for p in reconciled] == [p["name"] for p in listed]
    assert all("name" not in p and "dataSource" not in p for p in reconciled)


@pytest.mark.parametrize("data_type", ["steps", "heart-rate", "daily-resting-heart-rate"])
def test_points_of_non_identifiable_types_have_no_name(api, data_type):
    points = api().all_points(
        data_type, filter=day_filter(data_type, D(2026, 11, 5), D(2026, 11, 6))
    )
    assert len(points) > 0
    assert all(set(p) == {"dataSource", data_type_key(data_type)} for p in points)


def data_type_key(data_type: str) -> str:
    head, *rest = data_type.split("-")
    return head + "".join(part.capitalize() for part in rest)


def test_get_accepts_me_and_the_numeric_id(sim, api):
    entry = sim.ground_truth("user-1", "sleep", *NOVEMBER)[0]
    by_me = api().data_point("sleep", entry["id"])
    by_number = api().data_point("sleep", entry["id"], user=health_user_id(sim))
    assert by_me.status_code == by_number.status_code == 200
    assert by_me.json() == by_number.json() == entry["dataPoint"]
    # The returned name itself works as a path.
    assert api().get(entry["dataPoint"]["name"][len("users/") :]).json() == entry["dataPoint"]


def test_get_with_another_users_id_is_refused(sim, api):
    """Unconfirmed in the fact sheet; the simulator answers 403 PERMISSION_DENIED."""
    entry = sim.ground_truth("user-1", "sleep", *NOVEMBER)[0]
    response = api().data_point("sleep", entry["id"], user=health_user_id(sim, "user-2"))
    error_of(response, 403, "PERMISSION_DENIED_USER")


def test_get_unknown_id_is_404_resource_not_found(api):
    error = error_of(api().data_point("sleep", "1234567890123456789"), 404, "RESOURCE_NOT_FOUND")
    assert error == {
        "code": 404,
        "message": "Requested entity was not found.",
        "status": "NOT_FOUND",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "RESOURCE_NOT_FOUND",
                "domain": "health.googleapis.com",
                "metadata": {
                    "service": "health.googleapis.com",
                    "method": "google.devicesandservices.health.v4.DataPointsService.GetDataPoint",
                },
            }
        ],
    }


def test_get_of_another_users_point_is_404(sim, api):
    entry = sim.ground_truth("user-2", "sleep", *NOVEMBER)[0]
    error_of(api().data_point("sleep", entry["id"]), 404, "RESOURCE_NOT_FOUND")


@pytest.mark.parametrize("verb", ["", ":reconcile"])
def test_unknown_type_is_invalid_parent_collection(api, verb):
    response = api().list("stepz", verb=verb)
    error_of(response, 400, "INVALID_PARENT_DATA_TYPE_COLLECTION")


def test_unknown_type_in_rollups_and_get(api):
    rollup = api().rollup("heartrate", "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z")
    error_of(rollup, 400, "INVALID_PARENT_DATA_TYPE_COLLECTION")
    daily = api().daily_rollup("heart_rate", D(2026, 11, 1), D(2026, 11, 2))
    error_of(daily, 400, "INVALID_PARENT_DATA_TYPE_COLLECTION")
    error_of(api().data_point("sleeps", "1"), 400, "INVALID_PARENT_DATA_TYPE_COLLECTION")


@pytest.mark.parametrize("data_type", ["hydration-log", "nutrition-log", "food"])
def test_write_only_type_the_simulator_does_not_serve(api, data_type):
    """The nutrition types have no read scope (nutrition is write-only today)."""
    error_of(api().list(data_type), 400, "NOT_SIMULATED")


@pytest.mark.parametrize(
    "data_type",
    [
        "menstrual-period",
        "moods",
        "symptoms",
        "ovulation-test",
        "electrocardiogram",
        "irregular-rhythm-notification",
    ],
)
def test_types_a_reconciled_point_cannot_hold_are_listed_but_not_reconciled(sim, data_type):
    """ReconciledDataPoint's union has no member for the logged types, ECG and IRN."""
    api = Api(sim, authorize(sim, scopes=EVERY_READ_SCOPE).access_token)
    assert api.list(data_type).status_code == 200
    error_of(api.reconcile(data_type), 400, "UNSUPPORTED_DATA_TYPE_ACTION")


@pytest.mark.parametrize("verb", ["", ":reconcile"])
def test_total_calories_is_rollup_only(api, verb):
    error_of(api().list("total-calories", verb=verb), 400, "UNSUPPORTED_DATA_TYPE_ACTION")


@pytest.mark.parametrize(
    "data_type", ["sleep", "daily-heart-rate-zones", "heart-rate-variability", "oxygen-saturation"]
)
def test_rollups_of_a_type_without_rollups(api, data_type):
    rollup = api().rollup(data_type, "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z")
    error_of(rollup, 400, "UNSUPPORTED_DATA_TYPE_ACTION")
    daily = api().daily_rollup(data_type, D(2026, 11, 1), D(2026, 11, 2))
    error_of(daily, 400, "UNSUPPORTED_DATA_TYPE_ACTION")


@pytest.mark.parametrize("data_type", ["daily-resting-heart-rate", "daily-heart-rate-variability"])
def test_personal_ranges_roll_up_by_civil_day_only(api, data_type):
    """RollupDataPoint has no personal-range values; DailyRollupDataPoint has."""
    rollup = api().rollup(data_type, "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z")
    error_of(rollup, 400, "UNSUPPORTED_DATA_TYPE_ACTION")


@pytest.mark.parametrize("data_type", ["steps", "heart-rate", "daily-vo2-max"])
def test_get_of_a_non_identifiable_type(api, data_type):
    error_of(api().data_point(data_type, "watch-1794000000"), 400, "UNSUPPORTED_DATA_TYPE_ACTION")


def test_tcx_of_a_non_exercise_point(sim, api):
    entry = sim.ground_truth("user-1", "sleep", *NOVEMBER)[0]
    response = api().get(f"me/dataTypes/sleep/dataPoints/{entry['id']}:exportExerciseTcx")
    error_of(response, 400, "UNSUPPORTED_DATA_TYPE_ACTION")


def test_unknown_route_is_404(api):
    error_of(api().get("me/dataTypes/steps"), 404, None)
    error_of(api().post("me/dataTypes/steps/dataPoints", {}), 404, None)


# -- data source families ------------------------------------------------------------


def test_data_source_family_selects_sources(api):
    text = day_filter("steps", D(2026, 11, 10), D(2026, 11, 11))
    everything = api().all_points("steps", filter=text, pageSize=10000)
    wearables = api().all_points(
        "steps",
        filter=text,
        pageSize=10000,
        dataSourceFamily="users/me/dataSourceFamilies/google-wearables",
    )
    mine = api().list(
        "steps", filter=text, dataSourceFamily="users/me/dataSourceFamilies/self-sources"
    )
    devices = {p["dataSource"]["device"]["displayName"] for p in everything}
    assert devices == {"Charge 6", "Pixel 9"}
    assert wearables == [
        p for p in everything if p["dataSource"]["device"]["displayName"] == "Charge 6"
    ]
    assert mine.status_code == 200
    assert mine.json() == {}


def test_data_source_family_is_refused_for_sleep_list_but_not_reconcile(api):
    family = "users/me/dataSourceFamilies/all-sources"
    error_of(
        api().list("sleep", dataSourceFamily=family), 400, "INVALID_DATA_POINT_DATA_SOURCE_FAMILY"
    )
    assert api().reconcile("sleep", dataSourceFamily=family).status_code == 200


def test_unknown_data_source_family(api):
    response = api().list("steps", dataSourceFamily="users/me/dataSourceFamilies/everything")
    error_of(response, 400, "INVALID_DATA_POINT_DATA_SOURCE_FAMILY")


# -- users/me resources ----------------------------------------------------------------


def test_identity(sim, api):
    body = api("user-2").get("me/identity").json()
    user = sim.users["user-2"]
    assert body == {
        "name": "users/me/identity",
        "healthUserId": user.health_user_id,
        "legacyUserId": user.legacy_user_id,
    }
    assert re.fullmatch(r"[1-9]\d{18}", body["healthUserId"])
    assert re.fullmatch(r"[A-Z0-9]{6}", body["legacyUserId"])
    by_number = api("user-2").get(f"{user.health_user_id}/identity")
    assert by_number.json() == body


def test_profile_stride_lengths_need_the_activity_scope(sim):
    """Profile.auto*StrideLengthMm are only sent with activity_and_fitness.readonly [D]."""
    user = sim.users["user-1"]
    base = {
        "name": f"users/{user.health_user_id}/profile",
        "age": user.age,
        "membershipStartDate": {"year": 2026, "month": 10, "day": 1},
    }
    only_profile = Api(sim, authorize(sim, scopes=(PROFILE,)).access_token)
    assert only_profile.get("me/profile").json() == base
    with_activity = Api(sim, authorize(sim, scopes=(PROFILE, ACTIVITY)).access_token)
    assert with_activity.get("me/profile").json() == {
        **base,
        "autoWalkingStrideLengthMm": user.walk_stride_mm,
        "autoRunningStrideLengthMm": user.run_stride_mm,
    }


@pytest.mark.parametrize(
    ("user", "zone", "offset"),
    [
        ("user-1", "America/New_York", "-18000s"),
        ("user-2", "Pacific/Tongatapu", "46800s"),
        ("user-3", "Europe/London", "0s"),
        ("user-4", "Asia/Kolkata", "19800s"),
    ],
)
def test_settings_time_zone_and_offset(api, user, zone, offset):
    """utcOffset is a Duration message: set, it is sent even when zero (UTC in winter)."""
    body = api(user).get("me/settings").json()
    assert body["timeZone"] == zone
    assert body["utcOffset"] == offset
