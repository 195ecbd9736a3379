"""What the client sends, and user-level calls: page sizes, data source families, dailyRollUp
pages in any order, the paired devices, profile, settings and IRN profile.

Requests are recorded on the wire (a recording `requests.Session`) against the
in-process simulator, whose answers to the same request sent directly are the
ground truth; the dailyRollUp's paging and newest-first order, and the paired
devices' paging, are also driven with literal answers from a fake client.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
import requests

from healthapi import datatypes, user_resources
from healthapi.auth import oauth
from healthapi.calls import (
    SCOPE_NOT_GRANTED,
    CallFailed,
    call_pages,
    daily_rollup_windows,
    fetch_summary,
    fetch_user_resource,
    run_call,
)
from healthapi.client import HealthApiClient, Page
from healthapi.elements import STREAM_RAW, ApiCall, ApiPage
from healthapi.retry import Verdict
from simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.client.conftest import visit
from tests.client.test_calls import live

D = dt.date
ALL_SCOPES = sorted({*datatypes.scopes_for(list(datatypes.SPECS)), *user_resources.SCOPES})
WEARABLES = "users/me/dataSourceFamilies/google-wearables"


class RecordingSession(requests.Session):
    """A session that records what each API request asked for: (method, path, query, body)."""

    def __init__(self):
        super().__init__()
        self.sent: list[tuple[str, str, dict, dict | None]] = []

    def request(self, method, url, params=None, json=None, **kwargs):
        path = url.split("/v4/", 1)[-1]
        self.sent.append((method, path, dict(params or {}), json))
        return super().request(method, url, params=params, json=json, **kwargs)


def token_for(sim, user: str, scopes: list[str]) -> str:
    client = oauth.OAuthClient.for_base_url(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, sim.base_url)
    return oauth.authorize(client, scopes, login_hint=user, open_url=visit)["access_token"]


def direct(sim, token: str, path: str, **params) -> dict:
    """The simulator's answer to one request sent by hand: the ground truth on the wire."""
    response = requests.get(
        f"{sim.base_url}/v4/{path}",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


class OneToken:
    """A runner that sends every request once with the same token (no quota, no retry)."""

    def __init__(self):
        self.requests = 0

    def request(self, user_key, send):
        self.requests += 1
        return send("fake-access-token")


# -- page sizes and data source families on the wire -----------------------------------


def test_list_and_reconcile_always_send_the_types_page_size(sim):
    token = token_for(sim, "user-1", ALL_SCOPES)
    session = RecordingSession()
    client = HealthApiClient(session, sim.base_url)

    client.list_page(token, "heart-rate")
    client.list_page(token, "sleep", reconcile=True)
    client.list_page(token, "steps", page_size=7)

    assert session.sent == [
        ("GET", "users/me/dataTypes/heart-rate/dataPoints", {"pageSize": "10000"}, None),
        ("GET", "users/me/dataTypes/sleep/dataPoints:reconcile", {"pageSize": "25"}, None),
        ("GET", "users/me/dataTypes/steps/dataPoints", {"pageSize": "7"}, None),
    ]


def test_a_source_family_goes_on_list_reconcile_and_daily_rollup_but_not_on_sleeps_list(sim):
    token = token_for(sim, "user-1", ALL_SCOPES)
    session = RecordingSession()
    client = HealthApiClient(session, sim.base_url, source_family="google-wearables")

    client.list_page(token, "steps", filter_text='steps.interval.civil_start_time >= "2026-11-20"')
    client.list_page(token, "sleep", reconcile=True)
    client.list_page(token, "sleep")  # the API refuses a family here: for sleep, reconcile
    client.daily_rollup_page(token, "floors", D(2026, 11, 20), D(2026, 11, 23))

    assert session.sent == [
        (
            "GET",
            "users/me/dataTypes/steps/dataPoints",
            {
                "filter": 'steps.interval.civil_start_time >= "2026-11-20"',
                "pageSize": "10000",
                "dataSourceFamily": WEARABLES,
            },
            None,
        ),
        (
            "GET",
            "users/me/dataTypes/sleep/dataPoints:reconcile",
            {"pageSize": "25", "dataSourceFamily": WEARABLES},
            None,
        ),
        ("GET", "users/me/dataTypes/sleep/dataPoints", {"pageSize": "25"}, None),
        (
            "POST",
            "users/me/dataTypes/floors/dataPoints:dailyRollUp",
            {},
            {
                "range": {
                    "start": {"date": {"year": 2026, "month": 11, "day": 20}},
                    "end": {"date": {"year": 2026, "month": 11, "day": 23}},
                },
                "windowSizeDays": 1,
                "pageSize": 3,
                "dataSourceFamily": WEARABLES,
            },
        ),
    ]


def test_all_sources_is_the_apis_default_and_is_not_sent(sim):
    token = token_for(sim, "user-1", ALL_SCOPES)
    session = RecordingSession()
    HealthApiClient(session, sim.base_url, source_family="all-sources").list_page(token, "steps")
    assert session.sent == [
        ("GET", "users/me/dataTypes/steps/dataPoints", {"pageSize": "10000"}, None)
    ]


def test_an_unknown_source_family_is_refused_when_the_client_is_made():
    with pytest.raises(ValueError, match="source_family='self-sources' is not one of"):
        HealthApiClient(requests.Session(), source_family="self-sources")


def test_the_simulator_answers_a_planned_list_call_from_the_family_asked_for(sim):
    """The raw steps of a day from the wearables only: fewer than from every source, and
    exactly what the simulator answers the same request sent by hand."""
    run = live(sim, users=("user-2",))
    token = run.store.tokens["user-2"]["access_token"]
    call = ApiCall("user-2", "list", "steps", "2026-11-20", "2026-11-21", STREAM_RAW)
    flt = (
        'steps.interval.civil_start_time >= "2026-11-20" AND '
        'steps.interval.civil_start_time < "2026-11-21"'
    )

    every = run_call(run.runner, HealthApiClient(requests.Session(), sim.base_url), call)
    wearables = run_call(
        run.runner,
        HealthApiClient(requests.Session(), sim.base_url, source_family="google-wearables"),
        call,
    )

    expected = direct(
        sim,
        token,
        "users/me/dataTypes/steps/dataPoints",
        filter=flt,
        pageSize=10000,
        dataSourceFamily=WEARABLES,
    )
    assert "nextPageToken" not in expected
    assert wearables.points == tuple(expected["dataPoints"])
    assert 0 < len(wearables.points) < len(every.points)


# -- dailyRollUp: pages followed, any order ---------------------------------------------


def window(day: D, steps: int) -> dict:
    nxt = day + dt.timedelta(days=1)
    return {
        "civilStartTime": {"date": {"year": day.year, "month": day.month, "day": day.day}},
        "civilEndTime": {"date": {"year": nxt.year, "month": nxt.month, "day": nxt.day}},
        "steps": {"countSum": str(steps)},
    }


@dataclasses.dataclass
class RollupPages:
    """A client whose dailyRollUp answers newest window first, `per_page` windows a page."""

    per_page: int
    asked: list = dataclasses.field(default_factory=list)

    def daily_rollup_page(self, token, data_type, start, end, page_size=None, page_token=None):
        self.asked.append((data_type, start, end, page_size, page_token))
        days = [start + dt.timedelta(days=i) for i in range((end - start).days)]
        newest_first = [window(d, 1000 + d.day) for d in reversed(days)]
        offset = int(page_token or 0)
        rest = newest_first[offset + self.per_page :]
        return Page(
            tuple(newest_first[offset : offset + self.per_page]),
            str(offset + self.per_page) if rest else None,
        )


def test_daily_rollup_pages_are_followed_and_the_windows_put_in_date_order():
    fake = RollupPages(per_page=2)
    runner = OneToken()

    got = daily_rollup_windows(runner, fake, "u", "steps", D(2026, 11, 1), D(2026, 11, 6))

    assert got == [window(D(2026, 11, d), 1000 + d) for d in (1, 2, 3, 4, 5)]
    assert fake.asked == [
        ("steps", D(2026, 11, 1), D(2026, 11, 6), 5, None),
        ("steps", D(2026, 11, 1), D(2026, 11, 6), 5, "2"),
        ("steps", D(2026, 11, 1), D(2026, 11, 6), 5, "4"),
    ]
    assert runner.requests == 3  # each page is a request of its own: quota and retries


def test_a_summary_of_newest_first_pages_has_each_types_days_in_order():
    fake = RollupPages(per_page=4)
    call = ApiCall("u", "summary", "daily-activity-summary", "2026-11-01", "2026-11-11")

    rollups = dict(fetch_summary(OneToken(), fake, call))

    assert list(rollups) == list(datatypes.SUMMARY_TYPES)
    for windows in rollups.values():
        assert [w["civilStartTime"]["date"]["day"] for w in windows] == list(range(1, 11))
    # Ten days a type: the page size asked is the range's ten windows (14 at most for
    # total calories, 90 for the others); the fake's pages of four took three requests.
    assert {a[3] for a in fake.asked} == {10}
    assert len(fake.asked) == 3 * len(datatypes.SUMMARY_TYPES)


def test_the_page_size_of_a_daily_rollup_is_its_windows_at_most_90():
    fake = RollupPages(per_page=100)
    daily_rollup_windows(OneToken(), fake, "u", "steps", D(2026, 1, 1), D(2026, 3, 31))
    daily_rollup_windows(OneToken(), fake, "u", "total-calories", D(2026, 1, 1), D(2026, 1, 15))
    assert [a[3] for a in fake.asked] == [89, 14]


# -- user-level calls ---------------------------------------------------------------------


def user_call(resource: str, user: str = "user-1") -> ApiCall:
    return ApiCall(user, "user", resource)


def granted(sim, user: str, scopes: list[str]):
    """A live runner for `user` whose stored token carries exactly `scopes`."""
    run = live(sim, users=(user,))
    client = oauth.OAuthClient.for_base_url(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, sim.base_url)
    token = oauth.authorize(client, scopes, login_hint=user, open_url=visit)
    run.store.tokens[user] = {**token, "expires_at": sim.clock.now() + 3600}
    return run, token["access_token"]


@pytest.mark.parametrize(
    ("resource", "path"),
    [
        (user_resources.PROFILE, "users/me/profile"),
        (user_resources.SETTINGS, "users/me/settings"),
        (user_resources.IRN_PROFILE, "users/me/irnProfile"),
    ],
)
def test_a_user_resource_is_the_apis_answer(sim, resource, path):
    run, token = granted(sim, "user-2", ALL_SCOPES)
    call = user_call(resource, "user-2")

    page = run_call(run.runner, HealthApiClient(requests.Session(), sim.base_url), call)

    assert page == ApiPage(call, points=(direct(sim, token, path),))
    assert run.statuses == [200]


def test_the_paired_devices_are_listed_in_pages_of_100(sim):
    run, token = granted(sim, "user-3", ALL_SCOPES)
    session = RecordingSession()
    call = user_call(user_resources.PAIRED_DEVICES, "user-3")

    pages = list(call_pages(run.runner, HealthApiClient(session, sim.base_url), call, "k"))

    expected = direct(sim, token, "users/me/pairedDevices", pageSize=100)
    assert "nextPageToken" not in expected
    assert pages == [ApiPage(call, points=tuple(expected["pairedDevices"]), load_key="k")]
    assert len(pages[0].points) >= 1
    assert session.sent == [("GET", "users/me/pairedDevices", {"pageSize": "100"}, None)]


def test_paired_devices_pages_are_followed_to_the_end():
    class TwoPages:
        def __init__(self):
            self.tokens = []

        def paired_devices_page(self, token, page_token=None):
            self.tokens.append(page_token)
            if page_token is None:
                return Page(({"name": "users/me/pairedDevices/1"},), "next")
            return Page(({"name": "users/me/pairedDevices/2"},), None)

    fake = TwoPages()
    got = fetch_user_resource(OneToken(), fake, user_call(user_resources.PAIRED_DEVICES))
    assert got == ({"name": "users/me/pairedDevices/1"}, {"name": "users/me/pairedDevices/2"})
    assert fake.tokens == [None, "next"]


@pytest.mark.parametrize(
    ("resource", "method", "scope"),
    [
        (user_resources.PROFILE, "users.getProfile", "profile.readonly"),
        (user_resources.IRN_PROFILE, "users.getIrnProfile", "irn.readonly"),
    ],
)
def test_a_scope_the_user_did_not_grant_is_a_clear_replayable_failure(sim, resource, method, scope):
    without = [s for s in ALL_SCOPES if not s.endswith(scope)]
    run, _ = granted(sim, "user-1", without)

    with pytest.raises(CallFailed) as caught:
        run_call(run.runner, HealthApiClient(requests.Session(), sim.base_url), user_call(resource))

    failed = caught.value
    assert failed.verdict == Verdict(
        False,
        False,
        403,
        SCOPE_NOT_GRANTED,
        f"{method} needs the scope https://www.googleapis.com/auth/googlehealth.{scope}, "
        "which user 'user-1' did not grant: authorize the user again "
        "(fitbeam authorize), or load without user tables (--user_tables=false)",
        failed.verdict.body,
    )
    assert json.loads(failed.verdict.body)["error"]["code"] == 403
    assert (failed.attempts, failed.replayable) == (1, True)
    assert run.sleeps == []


@pytest.mark.parametrize(
    ("data_type", "scope"),
    [
        ("menstrual-period", "reproductive_health.readonly"),
        ("electrocardiogram", "ecg.readonly"),
        ("moods", "mindfulness.readonly"),
    ],
)
def test_a_data_type_whose_scope_was_not_granted_is_a_clear_replayable_failure(
    sim, data_type, scope
):
    without = [s for s in ALL_SCOPES if not s.endswith(scope)]
    run, _ = granted(sim, "user-1", without)
    call = ApiCall(
        "user-1", "list", data_type, start="2026-11-20", end="2026-11-21", stream=STREAM_RAW
    )
    client = HealthApiClient(requests.Session(), sim.base_url)

    with pytest.raises(CallFailed) as caught:
        list(call_pages(run.runner, client, call, "k"))

    failed = caught.value
    assert (failed.verdict.status, failed.verdict.reason) == (403, SCOPE_NOT_GRANTED)
    assert failed.verdict.message == (
        f"{data_type} needs the scope https://www.googleapis.com/auth/googlehealth.{scope}, "
        "which user 'user-1' did not grant: authorize the user again (fitbeam authorize), "
        f"or leave {data_type} out of --data_types"
    )
    assert (failed.attempts, failed.replayable) == (1, True)


def test_user_calls_round_trip_as_dead_letters_keep_them():
    for call in user_resources.user_calls("participant-017"):
        assert ApiCall.from_json(call.to_json()) == call
    assert [c.data_type for c in user_resources.user_calls("u")] == [
        "paired-devices",
        "profile",
        "settings",
        "irn-profile",
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"data_type": "devices"}, "a user call's resource 'devices' is not one of"),
        ({"start": "2026-11-01"}, "a user call has no window, data point id or parent"),
    ],
)
def test_a_user_call_planning_never_makes_is_refused(changes, message):
    obj = {**ApiCall("u", "user", "profile").to_json(), **changes}
    with pytest.raises(ValueError, match=message):
        ApiCall.from_json(obj)


# -- a filter without an upper bound (electrocardiograms) -------------------------------------


def ecg(start: str) -> dict:
    return {"electrocardiogram": {"interval": {"startTime": start, "endTime": start}}}


def test_an_open_ended_call_keeps_only_the_points_that_start_before_its_end():
    class Answers:
        """ECG readings from the window's start on, newest first, two a page."""

        def __init__(self):
            self.asked = []

        def list_page(self, token, data_type, filter_text=None, page_token=None, **kwargs):
            self.asked.append((data_type, filter_text, page_token))
            pages = {
                None: (
                    (ecg("2026-11-30T08:00:00Z"), ecg("2026-11-21T00:00:00Z")),
                    "2",
                ),
                "2": ((ecg("2026-11-20T23:59:59.999Z"), ecg("2026-11-02T07:00:00+01:00")), None),
            }
            return Page(*pages[page_token])

    fake = Answers()
    call = ApiCall("u", "list", "electrocardiogram", "2026-11-01", "2026-11-21", STREAM_RAW)

    pages = list(call_pages(OneToken(), fake, call, "k"))

    assert pages == [
        ApiPage(call, points=(), part=0, final=False, load_key="k"),
        ApiPage(
            call,
            points=(ecg("2026-11-20T23:59:59.999Z"), ecg("2026-11-02T07:00:00+01:00")),
            part=1,
            final=True,
            load_key="k",
        ),
    ]
    assert fake.asked == [
        (
            "electrocardiogram",
            'electrocardiogram.interval.start_time >= "2026-11-01T00:00:00Z"',
            None,
        ),
        (
            "electrocardiogram",
            'electrocardiogram.interval.start_time >= "2026-11-01T00:00:00Z"',
            "2",
        ),
    ]


def test_open_ended_calls_read_each_reading_once_against_the_simulator(sim):
    run = live(sim, users=("user-1",))
    client = HealthApiClient(requests.Session(), sim.base_url)
    got = []
    for first, last in ((D(2026, 10, 1), D(2026, 10, 15)), (D(2026, 10, 16), D(2026, 10, 31))):
        call = ApiCall(
            "user-1",
            "list",
            "electrocardiogram",
            first.isoformat(),
            (last + dt.timedelta(days=1)).isoformat(),
            STREAM_RAW,
        )
        got.extend(run_call(run.runner, client, call).points)

    start, end = "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z"
    truth = [
        t["dataPoint"]
        for t in sim.ground_truth("user-1", "electrocardiogram", D(2026, 9, 30), D(2026, 11, 1))
        if start <= t["dataPoint"]["electrocardiogram"]["interval"]["startTime"] < end
    ]
    later = sim.ground_truth("user-1", "electrocardiogram", D(2026, 11, 2), D(2026, 11, 28))
    assert len(truth) >= 2 and later, "readings inside the windows and after them"
    assert sorted(json.dumps(p, sort_keys=True) for p in got) == sorted(
        json.dumps(p, sort_keys=True) for p in truth
    )
