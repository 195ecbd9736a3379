"""Google's discovery-based client (googleapiclient) reads the simulator.

`build_from_document` on the shipped health.v4.json, its endpoint overridden to the
simulator, with a simulator access token as its credentials, calls every reading method
the simulator serves, for every data type it serves. Every answer is validated against
the discovery document's response schema by the strict validator (simulator.discovery)
and held to the simulator's ground truth (see conftest.py). A failure is a simulator bug
until shown otherwise.

Run alone: `.venv/bin/pytest -q tests/conformance/test_discovery_client.py`.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError

from simulator.catalog import DATA_TYPES
from simulator.discovery import load_discovery
from tests.conformance.conftest import (
    BAD_FILTER,
    DAILY_ROLL_UP,
    DOMAIN,
    IDENTIFIABLE,
    LISTABLE,
    MISSING_POINT_ID,
    NOT_RECONCILABLE,
    RECONCILABLE,
    ROLL_UP,
    USERS,
    VALIDATOR,
    canonical,
    check_daily_rollup,
    check_identity,
    check_irn_profile,
    check_paired_device,
    check_physical_rollup,
    check_profile,
    check_settings,
    check_tcx,
    error_info,
    exercises_to_export,
    field_violations,
    is_newest_first,
    multiset,
    physical_time,
    rfc3339,
    rollup_plan,
    violations,
)

METHOD = "health.users.dataTypes.dataPoints."
# Identifiable points fetched one by one with `get`, per type (the newest ones).
GETS_PER_TYPE = 8


@pytest.fixture(scope="module")
def service(sim, access_token):
    """`service("user-1")`: the discovery client of health v4 on the simulator, as that user."""
    built = {}

    def build(user: str = "user-1"):
        if user not in built:
            built[user] = build_from_document(
                load_discovery(),
                credentials=Credentials(access_token(user)),
                client_options={"api_endpoint": sim.base_url + "/"},
            )
        return built[user]

    return build


# The DataPoint union's members that no read scope covers: the nutrition types, written
# under googlehealth.nutrition.writeonly, which has no read-only twin.
WRITE_ONLY = frozenset({"food", "foodMeasurementUnit", "hydrationLog", "nutritionLog"})


def test_every_readable_data_point_type_is_served():
    """The tests below cover what the simulator serves; it must serve every readable type."""
    document = load_discovery()
    scopes = document["auth"]["oauth2"]["scopes"]
    assert "https://www.googleapis.com/auth/googlehealth.nutrition.readonly" not in scopes
    members = set(document["schemas"]["DataPoint"]["properties"]) - {"name", "dataSource"}
    assert members >= WRITE_ONLY
    served = {t.json_key for t in DATA_TYPES.values()}
    assert sorted(members - WRITE_ONLY - served) == []


def read_pages(collection, verb: str, **params) -> list[dict]:
    """Calls list or reconcile and follows `<verb>_next` to the end."""
    pages = []
    request = getattr(collection, verb)(**params)
    while request is not None:
        pages.append(request.execute())
        request = getattr(collection, f"{verb}_next")(request, pages[-1])
        assert len(pages) < 100, "paging does not end"
    return pages


def list_params(case) -> dict:
    params = {"parent": f"users/me/dataTypes/{case.data_type}", "pageSize": case.page_size()}
    if case.filter is not None:
        params["filter"] = case.filter
    return params


@pytest.mark.parametrize(
    ("data_type", "verb"),
    [(t, "list") for t in LISTABLE] + [(t, "reconcile") for t in RECONCILABLE],
)
def test_list_and_reconcile(service, cases, data_type, verb):
    case = cases(data_type)
    points = service(case.user).users().dataTypes().dataPoints()
    pages = read_pages(points, verb, **list_params(case))
    assert [violations(page, METHOD + verb) for page in pages] == [[] for _ in pages]
    got = [p for page in pages for p in page.get("dataPoints", [])]
    truth = case.reconciled if verb == "reconcile" else case.truth
    assert multiset(got) == multiset(t["dataPoint"] for t in truth)
    assert is_newest_first(got)
    # A page is full unless it is the last, and none is empty.
    size = case.page_size()
    assert [len(page.get("dataPoints", [])) for page in pages] == [
        min(size, len(got) - i) for i in range(0, len(got), size)
    ]


FAMILY = "users/me/dataSourceFamilies/"
# Above this many points a type is read by family for one hour only.
DENSE_POINTS = 5000
# google-wearables: "Google and Fitbit tracker devices (such as Fitbit trackers and Pixel
# Watch)", without manually logged data (the dataSourceFamily parameter's description).
GOOGLE_MAKERS = ("Fitbit", "Google")
TRACKERS = ("FITNESS_BAND", "WATCH")


def is_tracker_point(point: dict) -> bool:
    """Measured by a Fitbit or Google band or watch: google-wearables must hold it."""
    source = point.get("dataSource", {})
    device = source.get("device", {})
    return (
        source.get("recordingMethod") != "MANUAL"
        and device.get("manufacturer") in GOOGLE_MAKERS
        and device.get("formFactor") in TRACKERS
    )


def may_be_wearable(point: dict) -> bool:
    """Neither logged by hand nor from another maker's device (a Fitbit scale may be in)."""
    source = point.get("dataSource", {})
    return (
        source.get("recordingMethod") != "MANUAL"
        and source.get("device", {}).get("manufacturer") in GOOGLE_MAKERS
    )


def one_hour_if_dense(case) -> tuple[dict, list[dict]]:
    """The list parameters and points of a case; a dense type's (heart rate's) cut to the
    hour of its first point from another maker's device (a chest strap), by physical time."""
    if len(case.points) <= DENSE_POINTS:
        return list_params(case), case.points
    anchor = next((p for p in case.points if not may_be_wearable(p)), case.points[0])
    start = physical_time(anchor).replace(minute=0, second=0)
    end = start + dt.timedelta(hours=1)
    member = next(m for m in DATA_TYPES[case.data_type].filter_members if "civil" not in m)
    name = DATA_TYPES[case.data_type].filter_name
    in_hour = [p for p in case.points if start <= physical_time(p) < end]
    return {
        "parent": f"users/me/dataTypes/{case.data_type}",
        "pageSize": max(1, -(-len(in_hour) // 2)),
        "filter": f'{name}.{member} >= "{rfc3339(start)}" AND {name}.{member} < "{rfc3339(end)}"',
    }, in_hour


@pytest.mark.parametrize("data_type", [t for t in LISTABLE if t != "sleep"])
def test_list_by_data_source_family(service, cases, data_type):
    """all-sources and google-sources hold every simulated point (none was written through
    the API by another client); self-sources holds none (nothing was written by this one);
    google-wearables the band's and watch's points, never logged ones or other makers'."""
    case = cases(data_type)
    points = service(case.user).users().dataTypes().dataPoints()
    params, truth = one_hour_if_dense(case)

    def listed(family: str) -> list[dict]:
        pages = read_pages(points, "list", **params, dataSourceFamily=FAMILY + family)
        assert [violations(page, METHOD + "list") for page in pages] == [[] for _ in pages]
        return [p for page in pages for p in page.get("dataPoints", [])]

    everything = multiset(truth)
    assert multiset(listed("all-sources")) == everything
    assert multiset(listed("google-sources")) == everything
    assert listed("self-sources") == []
    wearables = listed("google-wearables")
    answered = set(multiset(wearables))
    assert multiset(wearables) == multiset(
        p for p in truth if is_tracker_point(p) or (canonical(p) in answered and may_be_wearable(p))
    )


def test_sleep_list_refuses_a_data_source_family(service, cases):
    """The parameter's description: sleep cannot be listed by family (reconcile can)."""
    case = cases("sleep")
    points = service(case.user).users().dataTypes().dataPoints()
    request = points.list(**list_params(case), dataSourceFamily=FAMILY + "google-wearables")
    with pytest.raises(HttpError) as refused:
        request.execute()
    status = refused.value.resp.status
    assert status == 400
    body = json.loads(refused.value.content)
    assert VALIDATOR.validate_error(body, status) == []
    assert body["error"]["status"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize("data_type", NOT_RECONCILABLE)
def test_reconcile_refuses_types_a_reconciled_point_cannot_hold(service, cases, data_type):
    """ReconciledDataPoint has no member for these types: a 200 could only break the schema."""
    case = cases(data_type)
    points = service(case.user).users().dataTypes().dataPoints()
    with pytest.raises(HttpError) as refused:
        points.reconcile(parent=f"users/me/dataTypes/{data_type}").execute()
    status = refused.value.resp.status
    assert status == 400
    assert VALIDATOR.validate_error(json.loads(refused.value.content), status) == []


@pytest.mark.parametrize("data_type", IDENTIFIABLE)
def test_get(service, cases, data_type):
    case = cases(data_type)
    points = service(case.user).users().dataTypes().dataPoints()
    newest = [t["dataPoint"] for t in case.truth[-GETS_PER_TYPE:]]
    for point in newest:
        got = points.get(name=point["name"]).execute()
        assert violations(got, METHOD + "get") == []
        assert got == point


def test_export_exercise_tcx(sim, service):
    exported = exercises_to_export(sim, "user-1")
    assert [p["exercise"].get("exerciseMetadata", {}).get("hasGps", False) for p in exported] == [
        False,
        True,
    ]
    points = service("user-1").users().dataTypes().dataPoints()
    for point in exported:
        for partial in (False, True):
            body = points.exportExerciseTcx(name=point["name"], partialData=partial).execute()
            assert violations(body, METHOD + "exportExerciseTcx") == []
            assert check_tcx(point, body["tcxData"], partial) == []
            media = points.exportExerciseTcx_media(name=point["name"], partialData=partial)
            assert media.execute().decode("utf-8") == body["tcxData"]


def roll_up_pages(points, plan) -> list[dict]:
    pages, token = [], None
    while True:
        body = {
            "range": {"startTime": rfc3339(plan.start), "endTime": rfc3339(plan.end)},
            "windowSize": "3600s",
        }
        if token:
            body["pageToken"] = token
        pages.append(
            points.rollUp(parent=f"users/me/dataTypes/{plan.data_type}", body=body).execute()
        )
        token = pages[-1].get("nextPageToken")
        if not token:
            return pages
        assert len(pages) < 100, "paging does not end"


@pytest.mark.parametrize("data_type", ROLL_UP)
def test_roll_up(sim, service, cases, data_type):
    plan = rollup_plan(sim, cases(data_type))
    points = service(plan.user).users().dataTypes().dataPoints()
    pages = roll_up_pages(points, plan)
    assert [violations(page, METHOD + "rollUp") for page in pages] == [[] for _ in pages]
    rolled = [p for page in pages for p in page.get("rollupDataPoints", [])]
    assert check_physical_rollup(plan, rolled) == []


def date_json(day: dt.date) -> dict:
    return {"year": day.year, "month": day.month, "day": day.day}


@pytest.mark.parametrize("data_type", DAILY_ROLL_UP)
def test_daily_roll_up(sim, service, cases, data_type):
    plan = rollup_plan(sim, cases(data_type))
    points = service(plan.user).users().dataTypes().dataPoints()
    body = {
        "range": {
            "start": {"date": date_json(plan.first)},
            "end": {"date": date_json(plan.last + dt.timedelta(days=1))},
        }
    }
    parent = f"users/me/dataTypes/{data_type}"
    page = points.dailyRollUp(parent=parent, body=body).execute()
    assert violations(page, METHOD + "dailyRollUp") == []
    assert "nextPageToken" not in page  # the whole range fits the default page
    rolled = page.get("rollupDataPoints", [])
    assert check_daily_rollup(plan, rolled) == []
    # A page size below the number of windows pages through them, one window a page.
    pages = [points.dailyRollUp(parent=parent, body={**body, "pageSize": 1}).execute()]
    while "nextPageToken" in pages[-1]:
        token = pages[-1]["nextPageToken"]
        next_body = {**body, "pageSize": 1, "pageToken": token}
        pages.append(points.dailyRollUp(parent=parent, body=next_body).execute())
        assert len(pages) <= len(rolled) + 1, "paging does not end"
    assert [violations(p, METHOD + "dailyRollUp") for p in pages] == [[] for _ in pages]
    one_a_page = [[window] for window in rolled] if rolled else [[]]
    assert [p.get("rollupDataPoints", []) for p in pages] == one_a_page


@pytest.mark.parametrize("user", USERS)
def test_identity_profile_settings(sim, service, user):
    users = service(user).users()
    identity = users.getIdentity(name="users/me/identity").execute()
    profile = users.getProfile(name="users/me/profile").execute()
    settings = users.getSettings(name="users/me/settings").execute()
    assert violations(identity, "health.users.getIdentity") == []
    assert violations(profile, "health.users.getProfile") == []
    assert violations(settings, "health.users.getSettings") == []
    assert check_identity(sim, user, identity) == []
    assert check_profile(sim, user, profile) == []
    assert check_settings(sim, user, settings) == []


@pytest.mark.parametrize("user", USERS)
def test_irn_profile(sim, service, user):
    irn = service(user).users().getIrnProfile(name="users/me/irnProfile").execute()
    assert violations(irn, "health.users.getIrnProfile") == []
    assert check_irn_profile(sim, user, irn) == []


@pytest.mark.parametrize("user", USERS)
def test_paired_devices_list_and_get(sim, service, user):
    devices = service(user).users().pairedDevices()
    whole = devices.list(parent="users/me").execute()
    assert violations(whole, "health.users.pairedDevices.list") == []
    listed = whole.get("pairedDevices", [])
    assert len(listed) >= 1
    assert "nextPageToken" not in whole
    # One device a page gives the same devices, in the same order.
    one_by_one = read_pages(devices, "list", parent="users/me", pageSize=1)
    assert [violations(page, "health.users.pairedDevices.list") for page in one_by_one] == [
        [] for _ in one_by_one
    ]
    assert [d for page in one_by_one for d in page["pairedDevices"]] == listed
    assert len(one_by_one) == len(listed)
    for device in listed:
        assert check_paired_device(sim, user, device) == []
        got = devices.get(name=device["name"]).execute()
        assert violations(got, "health.users.pairedDevices.get") == []
        assert got == device


def http_error(call) -> tuple[int, dict]:
    """The status and parsed body of the HttpError a discovery client call raises."""
    with pytest.raises(HttpError) as raised:
        call.execute()
    return raised.value.resp.status, json.loads(raised.value.content)


def test_errors_missing_point_and_bad_filter(service):
    points = service().users().dataTypes().dataPoints()
    missing = f"users/me/dataTypes/{IDENTIFIABLE[0]}/dataPoints/{MISSING_POINT_ID}"
    status, body = http_error(points.get(name=missing))
    assert (status, VALIDATOR.validate_error(body, status)) == (404, [])
    assert [(i["reason"], i["domain"]) for i in error_info(body["error"]["details"])] == [
        ("RESOURCE_NOT_FOUND", DOMAIN)
    ]
    status, body = http_error(points.list(parent="users/me/dataTypes/steps", filter=BAD_FILTER))
    assert (status, VALIDATOR.validate_error(body, status)) == (400, [])
    details = body["error"]["details"]
    (info,) = error_info(details)
    assert (info["reason"], info["domain"]) == ("INVALID_DATA_POINT_FILTER", DOMAIN)
    assert info["metadata"]["detailedReasons"] != ""
    assert field_violations(details) == ["filter"]
