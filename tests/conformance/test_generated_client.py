"""Google's generated client (PyPI google-devicesandservices-health) reads the simulator.

`DataPointsServiceClient` and `HealthProfileServiceClient` over their REST transport, the
endpoint set to the simulator (`http://` scheme) and a simulator access token as their
credentials, read every data type the simulator serves (list, reconcile where the API
reconciles the type, get, rollUp and dailyRollUp where the discovery document offers
them), exercise TCX exports, identity, profile, settings, the IRN profile and paired
devices.

The REST transport parses answers into the API's protos and drops fields the protos do
not know, so each answer is printed back to proto3 JSON and held equal to the simulator's
ground truth: a field the protos cannot carry, or a value they read differently, shows as
a difference. A failure is a simulator bug until shown otherwise.

Run alone: `.venv/bin/pytest -q tests/conformance/test_generated_client.py`.
"""

from __future__ import annotations

import datetime as dt

import pytest
from google.api_core import exceptions
from google.api_core.client_options import ClientOptions
from google.devicesandservices import health_v4
from google.oauth2.credentials import Credentials
from google.protobuf import duration_pb2, json_format, timestamp_pb2
from google.type import interval_pb2

from tests.conformance.conftest import (
    BAD_FILTER,
    DAILY_ROLL_UP,
    DOMAIN,
    IDENTIFIABLE,
    LISTABLE,
    MISSING_POINT_ID,
    RECONCILABLE,
    ROLL_UP,
    ROLLUP_WINDOW_SECONDS,
    USERS,
    check_daily_rollup,
    check_identity,
    check_irn_profile,
    check_paired_device,
    check_physical_rollup,
    check_profile,
    check_settings,
    check_tcx,
    exercises_to_export,
    field_violations,
    multiset,
    rollup_plan,
)

GETS_PER_TYPE = 4


def as_json(message) -> dict:
    """A proto-plus message as proto3 JSON (camelCase names, enum names, int64 strings)."""
    return json_format.MessageToDict(type(message).pb(message))


@pytest.fixture(scope="module")
def clients(sim, access_token):
    """`clients("user-1")`: (DataPointsServiceClient, HealthProfileServiceClient) as that user."""
    built = {}

    def build(user: str = "user-1"):
        if user not in built:
            options = {
                "credentials": Credentials(access_token(user)),
                "transport": "rest",
                "client_options": ClientOptions(api_endpoint=sim.base_url),
            }
            built[user] = (
                health_v4.DataPointsServiceClient(**options),
                health_v4.HealthProfileServiceClient(**options),
            )
        return built[user]

    return build


def list_request(case) -> dict:
    request = {"parent": f"users/me/dataTypes/{case.data_type}", "page_size": case.page_size()}
    if case.filter is not None:
        request["filter"] = case.filter
    return request


def page_sizes(pages) -> list[int]:
    return [len(page.data_points) for page in pages]


def full_pages(count: int, size: int) -> list[int]:
    """Page lengths when every page is full but the last, and none is empty."""
    return [min(size, count - i) for i in range(0, count, size)]


@pytest.mark.parametrize("data_type", LISTABLE)
def test_list(clients, cases, data_type):
    case = cases(data_type)
    points, _ = clients(case.user)
    pages = list(points.list_data_points(request=list_request(case)).pages)
    got = [as_json(p) for page in pages for p in page.data_points]
    assert multiset(got) == multiset(case.points)
    assert page_sizes(pages) == full_pages(len(got), case.page_size())


@pytest.mark.parametrize("data_type", RECONCILABLE)
def test_reconcile(clients, cases, data_type):
    case = cases(data_type)
    points, _ = clients(case.user)
    pages = list(points.reconcile_data_points(request=list_request(case)).pages)
    got = [as_json(p) for page in pages for p in page.data_points]
    assert multiset(got) == multiset(t["dataPoint"] for t in case.reconciled)
    assert page_sizes(pages) == full_pages(len(got), case.page_size())


@pytest.mark.parametrize("data_type", IDENTIFIABLE)
def test_get(clients, cases, data_type):
    case = cases(data_type)
    points, _ = clients(case.user)
    for point in case.points[-GETS_PER_TYPE:]:
        got = as_json(points.get_data_point(name=point["name"]))
        assert multiset([got]) == multiset([point])


def test_export_exercise_tcx(sim, clients):
    exported = exercises_to_export(sim, "user-1")
    assert len(exported) == 2  # one with GPS, one without
    points, _ = clients("user-1")
    for point in exported:
        for partial in (False, True):
            request = {"name": point["name"], "partial_data": partial}
            tcx = points.export_exercise_tcx(request=request).tcx_data
            assert check_tcx(point, tcx, partial) == []


def timestamp(moment: dt.datetime) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=int(moment.timestamp()))


@pytest.mark.parametrize("data_type", ROLL_UP)
def test_roll_up(sim, clients, cases, data_type):
    plan = rollup_plan(sim, cases(data_type))
    points, _ = clients(plan.user)
    pager = points.roll_up_data_points(
        request={
            "parent": f"users/me/dataTypes/{data_type}",
            "range_": interval_pb2.Interval(
                start_time=timestamp(plan.start), end_time=timestamp(plan.end)
            ),
            "window_size": duration_pb2.Duration(seconds=ROLLUP_WINDOW_SECONDS),
        }
    )
    assert check_physical_rollup(plan, [as_json(p) for p in pager]) == []


def civil_midnight(day: dt.date) -> dict:
    return {"date": {"year": day.year, "month": day.month, "day": day.day}}


@pytest.mark.parametrize("data_type", DAILY_ROLL_UP)
def test_daily_roll_up(sim, clients, cases, data_type):
    plan = rollup_plan(sim, cases(data_type))
    points, _ = clients(plan.user)
    response = points.daily_roll_up_data_points(
        request={
            "parent": f"users/me/dataTypes/{data_type}",
            "range_": {
                "start": civil_midnight(plan.first),
                "end": civil_midnight(plan.last + dt.timedelta(days=1)),
            },
        }
    )
    rolled = [as_json(p) for p in response.rollup_data_points]
    assert check_daily_rollup(plan, rolled) == []


@pytest.mark.parametrize("user", USERS)
def test_identity_profile_settings_irn_profile(sim, clients, user):
    _, profiles = clients(user)
    assert check_identity(sim, user, as_json(profiles.get_identity(name="users/me/identity"))) == []
    assert check_profile(sim, user, as_json(profiles.get_profile(name="users/me/profile"))) == []
    assert check_settings(sim, user, as_json(profiles.get_settings(name="users/me/settings"))) == []
    irn = as_json(profiles.get_irn_profile(name="users/me/irnProfile"))
    assert check_irn_profile(sim, user, irn) == []


@pytest.mark.parametrize("user", USERS)
def test_paired_devices(sim, clients, user):
    _, profiles = clients(user)
    listed = [as_json(d) for d in profiles.list_paired_devices(parent="users/me")]
    one_a_page = [
        as_json(d)
        for d in profiles.list_paired_devices(request={"parent": "users/me", "page_size": 1})
    ]
    assert len(listed) >= 1
    assert one_a_page == listed
    for device in listed:
        assert check_paired_device(sim, user, device) == []
        assert as_json(profiles.get_paired_device(name=device["name"])) == device


def test_errors_missing_point_and_bad_filter(clients):
    """google.api_core reads the simulator's error envelopes as it reads Google's."""
    points, _ = clients()
    missing = f"users/me/dataTypes/{IDENTIFIABLE[0]}/dataPoints/{MISSING_POINT_ID}"
    with pytest.raises(exceptions.NotFound) as not_found:
        points.get_data_point(name=missing)
    assert (not_found.value.reason, not_found.value.domain) == ("RESOURCE_NOT_FOUND", DOMAIN)
    with pytest.raises(exceptions.BadRequest) as bad:
        list(
            points.list_data_points(
                request={"parent": "users/me/dataTypes/steps", "filter": BAD_FILTER}
            )
        )
    assert (bad.value.reason, bad.value.domain) == ("INVALID_DATA_POINT_FILTER", DOMAIN)
    assert bad.value.metadata["detailedReasons"] != ""
    assert field_violations(bad.value.details) == ["filter"]
