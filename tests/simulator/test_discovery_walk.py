"""Every route of every simulated data type answers bodies that the discovery document accepts.

The validator is strict (unknown fields, int64 as numbers, written defaults, bad enums
are violations), so "zero violations" is a real claim. While walking, the list,
reconcile and get answers are also held equal to the simulator's ground truth.
"""

from __future__ import annotations

import collections
import datetime as dt

import pytest

from simulator.catalog import DATA_TYPES, Kind
from simulator.discovery import load_discovery
from tests.simulator.conftest import VALIDATOR, canonical, day_filter

METHOD = "health.users.dataTypes.dataPoints."

# A week around the DST change of user-1 (2026-11-01); heart rate gets one day, being dense.
WEEK = (dt.date(2026, 10, 29), dt.date(2026, 11, 5))
HR_DAY = (dt.date(2026, 11, 1), dt.date(2026, 11, 2))
# Sleep and exercise are sparse: a month gives naps, GPS and non-GPS exercises.
MONTH = (dt.date(2026, 10, 20), dt.date(2026, 11, 20))
# Logged, rare and per-workout types: all of the history, the frozen clock's day included
# (so electrocardiogram's filter, which has no upper bound, needs none).
HISTORY = (dt.date(2026, 10, 1), dt.date(2026, 11, 29))
SPARSE = {
    "menstrual-period",
    "ovulation-test",
    "height",
    "blood-glucose",
    "core-body-temperature",
    "moods",
    "symptoms",
    "vo2-max",
    "run-vo2-max",
    "swim-lengths-data",
    "electrocardiogram",
    "irregular-rhythm-notification",
}


def window(data_type: str) -> tuple[dt.date, dt.date]:
    if data_type == "heart-rate":
        return HR_DAY
    if data_type in SPARSE:
        return HISTORY
    if DATA_TYPES[data_type].kind is Kind.SESSION or data_type in ("weight", "body-fat"):
        return MONTH
    return WEEK


def assert_valid(body: dict, method: str) -> None:
    schema = VALIDATOR.response_schema(method)
    assert VALIDATOR.validate(body, schema) == []


LISTABLE = sorted(name for name, t in DATA_TYPES.items() if t.listable)
ROLLABLE = sorted(name for name, t in DATA_TYPES.items() if t.rollup_range_days and t.roll_up)
DAILY_ROLLABLE = sorted(name for name, t in DATA_TYPES.items() if t.rollup_range_days)
IDENTIFIABLE = sorted(name for name, t in DATA_TYPES.items() if t.identifiable)


def test_every_readable_type_of_the_document_is_walked():
    """The 38 data types with a read scope, and only those, are listed here (nutrition is
    write-only: the document has no nutrition.readonly scope)."""
    union = load_discovery()["schemas"]["DataPoint"]["properties"]
    document = {key for key in union if key not in ("name", "dataSource")}
    nutrition = {"food", "foodMeasurementUnit", "hydrationLog", "nutritionLog"}
    assert {DATA_TYPES[name].json_key for name in LISTABLE} == document - nutrition
    assert len(LISTABLE) == 38


# user-3 (Europe/London, UTC+0 in November) shows bodies with offsets omitted; one
# heart-rate day, user-1's, is enough.
USER_TYPES = [("user-1", t) for t in LISTABLE] + [
    ("user-3", t) for t in LISTABLE if t != "heart-rate"
]


ROUTES = [
    (user, data_type, verb)
    for user, data_type in USER_TYPES
    for verb in ("", ":reconcile")
    if DATA_TYPES[data_type].reconcilable or not verb
]


@pytest.mark.parametrize(("user", "data_type", "verb"), ROUTES)
def test_list_and_reconcile_validate_and_match_ground_truth(sim, api, user, data_type, verb):
    first, end = window(data_type)
    pages = api(user).pages(
        data_type, verb, filter=day_filter(data_type, first, end), pageSize=10000
    )
    method = METHOD + ("reconcile" if verb else "list")
    for body in pages:
        assert_valid(body, method)
    got = [p for body in pages for p in body.get("dataPoints", [])]
    truth = sim.ground_truth(
        user, data_type, first, end - dt.timedelta(days=1), reconciled=bool(verb)
    )
    assert len(truth) > 0
    assert collections.Counter(map(canonical, got)) == collections.Counter(
        canonical(t["dataPoint"]) for t in truth
    )


def test_the_types_reconcile_has_no_member_for_are_not_reconciled(api):
    """ReconciledDataPoint lacks ECG, IRN and the logged reproductive, mood and symptom types."""
    members = load_discovery()["schemas"]["ReconciledDataPoint"]["properties"]
    refused = sorted(name for name in LISTABLE if DATA_TYPES[name].json_key not in members)
    assert refused == sorted(n for n in LISTABLE if not DATA_TYPES[n].reconcilable)
    assert refused == [
        "electrocardiogram",
        "irregular-rhythm-notification",
        "menstrual-period",
        "moods",
        "ovulation-test",
        "symptoms",
    ]
    for name in refused:
        response = api().reconcile(name)
        assert response.status_code == 400, (name, response.text)
        reasons = [d.get("reason") for d in response.json()["error"].get("details", [])]
        assert "UNSUPPORTED_DATA_TYPE_ACTION" in reasons, (name, reasons)


@pytest.mark.parametrize("data_type", ROLLABLE)
def test_roll_up_validates(api, data_type):
    response = api().rollup(data_type, "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z", "3600s")
    assert response.status_code == 200, response.text
    body = response.json()
    assert_valid(body, METHOD + "rollUp")
    if data_type in ("steps", "distance", "heart-rate", "total-calories"):
        assert len(body["rollupDataPoints"]) > 10


def days_with_data(sim, data_type: str) -> tuple[dt.date, dt.date]:
    """A range of user-1's within the type's rollup cap that ends on its latest point's day."""
    if not DATA_TYPES[data_type].listable:
        return dt.date(2026, 11, 1), dt.date(2026, 11, 15)
    truth = sim.ground_truth("user-1", data_type, *HISTORY)
    last = dt.date.fromisoformat(truth[-1]["civilDate"]) + dt.timedelta(days=1)
    return last - dt.timedelta(days=min(14, DATA_TYPES[data_type].rollup_range_days)), last


@pytest.mark.parametrize("data_type", DAILY_ROLLABLE)
def test_daily_roll_up_validates(sim, api, data_type):
    response = api().daily_rollup(data_type, *days_with_data(sim, data_type))
    assert response.status_code == 200, response.text
    body = response.json()
    assert_valid(body, METHOD + "dailyRollUp")
    assert len(body["rollupDataPoints"]) >= 1
    assert all(DATA_TYPES[data_type].rollup_json_key in p for p in body["rollupDataPoints"])


@pytest.mark.parametrize("data_type", IDENTIFIABLE)
@pytest.mark.parametrize("user", ["user-1", "user-3"])
def test_get_validates_and_equals_the_listed_point(sim, api, user, data_type):
    truth = sim.ground_truth(user, data_type, *(HISTORY if data_type in SPARSE else MONTH))
    assert len(truth) >= 1
    # Thirty points spread over the window are enough (a glucose sensor gives thousands).
    for entry in truth[:: -(-len(truth) // 30)]:
        response = api(user).data_point(data_type, entry["id"])
        assert response.status_code == 200, response.text
        assert_valid(response.json(), METHOD + "get")
        assert response.json() == entry["dataPoint"]


def test_export_exercise_tcx_json_form_validates(sim, api):
    truth = sim.ground_truth("user-1", "exercise", *MONTH)
    gps = {
        e["id"]: e["dataPoint"]["exercise"].get("exerciseMetadata", {}).get("hasGps", False)
        for e in truth
    }
    assert set(gps.values()) == {True, False}
    for point_id in gps:
        for partial in ("false", "true"):
            response = api().get(
                f"me/dataTypes/exercise/dataPoints/{point_id}:exportExerciseTcx",
                partialData=partial,
            )
            assert response.status_code == 200, response.text
            assert response.headers["Content-Type"].startswith("application/json")
            assert_valid(response.json(), METHOD + "exportExerciseTcx")
            assert response.json()["tcxData"].startswith("<?xml")


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("me/identity", "health.users.getIdentity"),
        ("me/profile", "health.users.getProfile"),
        ("me/settings", "health.users.getSettings"),
        ("me/pairedDevices", "health.users.pairedDevices.list"),
    ],
)
@pytest.mark.parametrize("user", ["user-1", "user-2", "user-3"])
def test_user_resources_validate(api, path, method, user):
    response = api(user).get(path)
    assert response.status_code == 200, response.text
    assert_valid(response.json(), method)


def test_paired_devices_pages_validate(api):
    first = api().get("me/pairedDevices", pageSize=1)
    assert first.status_code == 200
    assert_valid(first.json(), "health.users.pairedDevices.list")
    assert len(first.json()["pairedDevices"]) == 1
    second = api().get("me/pairedDevices", pageSize=1, pageToken=first.json()["nextPageToken"])
    assert_valid(second.json(), "health.users.pairedDevices.list")
    assert len(second.json()["pairedDevices"]) == 1
    assert "nextPageToken" not in second.json()
    everything = api().get("me/pairedDevices").json()["pairedDevices"]
    assert everything == first.json()["pairedDevices"] + second.json()["pairedDevices"]
