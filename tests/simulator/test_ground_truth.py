"""Ground truth (Python and admin HTTP route) and upstream edits and deletions."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from simulator.store import PointNotFound
from tests.simulator.conftest import Api, authorize, check_error, day_filter, error_of

D = dt.date
DAY = D(2026, 11, 10)
NEXT = DAY + dt.timedelta(days=1)


def admin_truth(sim, user, data_type, first, last, view=None) -> requests.Response:
    params = {"startDate": first.isoformat(), "endDate": last.isoformat()}
    if view:
        params["view"] = view
    url = f"{sim.base_url}/admin/v1/users/{user}/dataTypes/{data_type}/groundTruth"
    return requests.get(url, params=params, timeout=30)


def admin_point(sim, user, data_type, point_id, verb, body) -> requests.Response:
    url = f"{sim.base_url}/admin/v1/users/{user}/dataTypes/{data_type}/dataPoints/{point_id}:{verb}"
    return requests.post(url, json=body, timeout=30)


@pytest.mark.parametrize(
    ("user", "data_type", "first", "last", "view"),
    [
        ("user-1", "steps", DAY, DAY, None),
        ("user-1", "steps", DAY, DAY, "reconciled"),
        ("user-2", "sleep", D(2026, 11, 1), D(2026, 11, 20), None),
        ("user-3", "weight", D(2026, 10, 1), D(2026, 11, 28), None),
        ("user-1", "total-calories", D(2026, 11, 1), D(2026, 11, 7), None),
        ("user-1", "calories-in-heart-rate-zone", D(2026, 11, 1), D(2026, 11, 7), None),
        ("user-1", "activity-level", DAY, DAY, None),
        ("user-3", "blood-glucose", D(2026, 10, 1), D(2026, 11, 28), None),
        ("user-1", "electrocardiogram", D(2026, 10, 1), D(2026, 11, 28), None),
        ("user-1", "menstrual-period", D(2026, 10, 1), D(2026, 11, 28), None),
    ],
)
def test_admin_route_agrees_with_python(sim, user, data_type, first, last, view):
    response = admin_truth(sim, user, data_type, first, last, view)
    assert response.status_code == 200
    points = response.json()["points"]
    assert points == sim.ground_truth(user, data_type, first, last, reconciled=view is not None)
    assert len(points) >= 2


def test_ground_truth_is_oldest_first_and_attributed_to_civil_days(sim):
    truth = sim.ground_truth("user-1", "steps", DAY, NEXT)
    starts = [t["dataPoint"]["steps"]["interval"]["startTime"] for t in truth]
    assert starts == sorted(starts)
    assert {t["civilDate"] for t in truth} == {"2026-11-10", "2026-11-11"}
    for entry in truth:
        civil = entry["dataPoint"]["steps"]["interval"]["civilStartTime"]["date"]
        assert D(**civil).isoformat() == entry["civilDate"]


@pytest.mark.parametrize(
    "params",
    [
        {"startDate": "2026-11-10"},
        {"startDate": "10/11/2026"},
        {},
    ],
)
def test_admin_ground_truth_bad_requests(sim, params):
    url = f"{sim.base_url}/admin/v1/users/user-1/dataTypes/steps/groundTruth"
    response = requests.get(url, params=params, timeout=10)
    if params == {"startDate": "2026-11-10"}:  # endDate defaults to startDate
        assert response.json()["points"] == sim.ground_truth("user-1", "steps", DAY, DAY)
        return
    assert response.status_code == 400
    check_error(response)


def test_admin_ground_truth_unknown_user_or_type(sim):
    for user, data_type in (("user-99", "steps"), ("user-1", "stepz")):
        response = admin_truth(sim, user, data_type, DAY, DAY)
        assert response.status_code == 400
        check_error(response)


def both_sources_minute(sim) -> tuple[dict, dict]:
    """A watch point and the phone point of the same minute on DAY (user-1)."""
    truth = sim.ground_truth("user-1", "steps", DAY, DAY)
    by_id = {t["id"]: t for t in truth}
    watch = next(
        t for t in truth if t["id"].startswith("watch-") and "phone-" + t["id"][6:] in by_id
    )
    return watch, by_id["phone-" + watch["id"][6:]]


def steps_of_day(api) -> int:
    body = api.daily_rollup("steps", DAY, NEXT).json()
    return int(body["rollupDataPoints"][0]["steps"]["countSum"])


def reconciled_sum(sim) -> int:
    truth = sim.ground_truth("user-1", "steps", DAY, DAY, reconciled=True)
    return sum(int(t["dataPoint"]["steps"]["count"]) for t in truth)


def listed(api, data_type="steps", verb=""):
    return api.all_points(data_type, verb=verb, filter=day_filter(data_type, DAY, NEXT))


def test_editing_a_point_changes_list_reconcile_and_rollups(make_sim):
    sim = make_sim()
    api = Api(sim, authorize(sim).access_token)
    watch, _ = both_sources_minute(sim)
    before = steps_of_day(api)
    assert before == reconciled_sum(sim)
    old = int(watch["dataPoint"]["steps"]["count"])
    new = sim.edit_point("user-1", "steps", watch["id"], DAY, {"count": str(old + 1000)})
    assert new["count"] == str(old + 1000)
    edited = {**watch["dataPoint"], "steps": {**watch["dataPoint"]["steps"], "count": new["count"]}}
    assert edited in listed(api)
    assert watch["dataPoint"] not in listed(api)
    reconciled = [p for p in listed(api, verb=":reconcile") if p["steps"] == edited["steps"]]
    assert len(reconciled) == 1
    assert steps_of_day(api) == before + 1000 == reconciled_sum(sim)
    entry = next(t for t in sim.ground_truth("user-1", "steps", DAY, DAY) if t["id"] == watch["id"])
    assert entry["dataPoint"] == edited


def test_editing_over_http_changes_get_list_and_rollups(make_sim):
    sim = make_sim()
    api = Api(sim, authorize(sim).access_token)
    first, last = D(2026, 10, 1), D(2026, 11, 27)
    entry = next(
        t
        for t in sim.ground_truth("user-1", "weight", first, last)
        if t["dataPoint"]["dataSource"]["device"].get("displayName") == "Aria Air"
    )
    day = D.fromisoformat(entry["civilDate"])
    response = admin_point(
        sim,
        "user-1",
        "weight",
        entry["id"],
        "edit",
        {"civilDate": entry["civilDate"], "patch": {"weightGrams": 123456.0}},
    )
    assert response.status_code == 200
    assert response.json()["value"]["weightGrams"] == 123456.0
    got = api.data_point("weight", entry["id"]).json()
    assert got["weight"]["weightGrams"] == 123456.0
    assert got == {
        **entry["dataPoint"],
        "weight": {**entry["dataPoint"]["weight"], "weightGrams": 123456.0},
    }
    in_list = api.all_points("weight", filter=day_filter("weight", day, day + dt.timedelta(1)))
    assert got in in_list
    weights = [p["weight"]["weightGrams"] for p in in_list]
    rollup = api.daily_rollup("weight", day, day + dt.timedelta(1)).json()
    assert rollup["rollupDataPoints"][0]["weight"]["weightGramsAvg"] == round(
        sum(weights) / len(weights), 3
    )


def test_a_patch_with_null_removes_a_field(make_sim):
    sim = make_sim()
    truth = sim.ground_truth("user-1", "weight", D(2026, 10, 1), D(2026, 11, 27))
    manual = next(t for t in truth if "notes" in t["dataPoint"]["weight"])
    day = D.fromisoformat(manual["civilDate"])
    value = sim.edit_point("user-1", "weight", manual["id"], day, {"notes": None})
    assert "notes" not in value
    again = next(
        t for t in sim.ground_truth("user-1", "weight", day, day) if t["id"] == manual["id"]
    )
    assert "notes" not in again["dataPoint"]["weight"]


def test_deleting_a_point_removes_it_everywhere(make_sim):
    sim = make_sim()
    api = Api(sim, authorize(sim).access_token)
    watch, phone = both_sources_minute(sim)
    before = steps_of_day(api)
    sim.delete_point("user-1", "steps", watch["id"], DAY)
    assert watch["dataPoint"] not in listed(api)
    assert phone["dataPoint"] in listed(api)
    assert watch["id"] not in {t["id"] for t in sim.ground_truth("user-1", "steps", DAY, DAY)}
    # With the watch's minute gone, reconciliation falls back to the phone's.
    reconciled = listed(api, verb=":reconcile")
    minute = watch["dataPoint"]["steps"]["interval"]["startTime"]
    assert [p["steps"] for p in reconciled if p["steps"]["interval"]["startTime"] == minute] == [
        phone["dataPoint"]["steps"]
    ]
    expected = (
        before
        - int(watch["dataPoint"]["steps"]["count"])
        + int(phone["dataPoint"]["steps"]["count"])
    )
    assert steps_of_day(api) == expected == reconciled_sum(sim)


def test_deleting_over_http_removes_a_sleep(make_sim):
    sim = make_sim()
    api = Api(sim, authorize(sim).access_token)
    entry = sim.ground_truth("user-1", "sleep", DAY, DAY)[0]
    response = admin_point(
        sim, "user-1", "sleep", entry["id"], "delete", {"civilDate": "2026-11-10"}
    )
    assert response.status_code == 200
    assert response.json() == {}
    error_of(api.data_point("sleep", entry["id"]), 404, "RESOURCE_NOT_FOUND")
    assert entry["dataPoint"] not in listed(api, "sleep")
    assert entry not in sim.ground_truth("user-1", "sleep", DAY, DAY)


def test_unknown_points_are_404(make_sim):
    sim = make_sim()
    for verb, body in (
        ("edit", {"civilDate": "2026-11-10", "patch": {"count": "1"}}),
        ("delete", {"civilDate": "2026-11-10"}),
    ):
        response = admin_point(sim, "user-1", "steps", "watch-1", verb, body)
        assert response.status_code == 404
        check_error(response)
    # A real id on another day is not found either: edits name the point's civil day.
    watch, _ = both_sources_minute(sim)
    wrong_day = admin_point(
        sim, "user-1", "steps", watch["id"], "delete", {"civilDate": "2026-11-11"}
    )
    assert wrong_day.status_code == 404
    with pytest.raises(PointNotFound):
        sim.edit_point("user-1", "steps", "watch-1", DAY, {"count": "1"})
    with pytest.raises(PointNotFound):
        sim.delete_point("user-1", "sleep", "1234", DAY)
    assert watch in sim.ground_truth("user-1", "steps", DAY, DAY)


def test_editing_a_newer_type_changes_its_list_and_rollups(make_sim):
    sim = make_sim()
    api = Api(sim, authorize(sim).access_token)
    day = D(2026, 11, 27)
    entry = sim.ground_truth("user-1", "altitude", day, day)[0]
    gain = int(entry["dataPoint"]["altitude"]["gainMillimeters"])
    start = entry["dataPoint"]["altitude"]["interval"]["startTime"]

    def rolled() -> int:
        body = api.rollup("altitude", start, start.replace(":00Z", ":59Z"), "60s").json()
        return int(body["rollupDataPoints"][0]["altitude"]["gainMillimetersSum"])

    assert rolled() == gain
    value = sim.edit_point("user-1", "altitude", entry["id"], day, {"gainMillimeters": "9000"})
    assert value["gainMillimeters"] == "9000"
    assert rolled() == 9000
    listed_now = api.all_points(
        "altitude", filter=day_filter("altitude", day, day + dt.timedelta(1))
    )
    assert {"gainMillimeters": "9000"}.items() <= next(
        p["altitude"] for p in listed_now if p["altitude"]["interval"]["startTime"] == start
    ).items()
