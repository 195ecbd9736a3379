"""users.pairedDevices (list and get) and users.getIrnProfile, as the discovery document has them.

Paired devices are what study coordinators read to see who needs a nudge: the
battery status must agree with the level, the last sync is simulator time, and
the seeded users include a wearable that stopped syncing, a low battery and an
empty one.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from simulator.catalog import SCOPE_PREFIX
from simulator.discovery import load_discovery
from tests.simulator.conftest import (
    ACTIVITY,
    SETTINGS,
    START,
    VALIDATOR,
    Api,
    authorize,
    error_of,
)

IRN = SCOPE_PREFIX + "irn.readonly"
USERS = ("user-1", "user-2", "user-3", "user-4")
HOUR = 3600.0


def parse_time(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def settings_api(sim):
    clients = {u: Api(sim, authorize(sim, u, scopes=(SETTINGS, IRN)).access_token) for u in USERS}
    return clients.__getitem__


def devices_of(api: Api) -> list[dict]:
    response = api.get("me/pairedDevices", pageSize=100)
    assert response.status_code == 200, response.text
    VALIDATOR.check(response.json(), "ListPairedDevicesResponse")
    assert "nextPageToken" not in response.json()
    return response.json()["pairedDevices"]


def expected_status(level: int) -> str:
    """batteryStatus by level: High from 60%, Medium from 25%, Low from 10%, else Empty."""
    return "High" if level >= 60 else "Medium" if level >= 25 else "Low" if level >= 10 else "Empty"


@pytest.mark.parametrize("user", USERS)
def test_every_device_is_a_valid_paired_device_that_get_returns(sim, settings_api, user):
    held = devices_of(settings_api(user))
    numeric = sim.users[user].health_user_id
    assert held[0]["deviceType"] == "TRACKER"
    for device in held:
        match = re.fullmatch(rf"users/{numeric}/pairedDevices/([0-9]{{10}})", device["name"])
        assert match, device["name"]
        for parent in ("me", numeric):
            got = settings_api(user).get(f"{parent}/pairedDevices/{match[1]}")
            assert got.status_code == 200, got.text
            VALIDATOR.check(got.json(), "PairedDevice")
            assert got.json() == device
        assert device["batteryStatus"] == expected_status(device.get("batteryLevel", 0))
        assert parse_time(device["lastSyncTime"]) <= START
        assert re.fullmatch(r"([0-9A-F]{2}:){5}[0-9A-F]{2}", device["macAddress"])


def test_features_are_the_documents(settings_api):
    described = load_discovery()["schemas"]["PairedDevice"]["properties"]["features"]
    known = set(re.findall(r"`([A-Z0-9_]+)`", described["description"]))
    features = [
        f for u in USERS for d in devices_of(settings_api(u)) for f in d.get("features", [])
    ]
    assert {"HEART_RATE", "SLEEP", "SPO2"} <= set(features)
    assert set(features) <= known


@pytest.mark.parametrize("user", USERS)
def test_the_wearable_is_the_device_the_data_comes_from(sim, settings_api, user):
    wearable = devices_of(settings_api(user))[0]
    day = dt.date(2026, 11, 20)
    names = {
        t["dataPoint"]["dataSource"]["device"]["displayName"]
        for t in sim.ground_truth(user, "heart-rate", day, day)
        if t["dataPoint"]["dataSource"]["device"].get("formFactor") in ("WATCH", "FITNESS_BAND")
    }
    assert names == {wearable["deviceVersion"]}


def test_coordinators_see_who_needs_a_nudge(settings_api):
    """Seed 0: user-1 is fine, user-2's watch stopped syncing, user-3's and user-4's run down."""
    wearables = {u: devices_of(settings_api(u))[0] for u in USERS}
    hours_since = {u: (START - parse_time(d["lastSyncTime"])) / HOUR for u, d in wearables.items()}
    status = {u: d["batteryStatus"] for u, d in wearables.items()}
    assert hours_since["user-1"] <= 1 and status["user-1"] in ("High", "Medium")
    assert 48 <= hours_since["user-2"] <= 9 * 24
    assert hours_since["user-3"] <= 1 and status["user-3"] == "Low"
    assert status["user-4"] == "Empty" and hours_since["user-4"] >= 3
    assert 10 <= wearables["user-3"]["batteryLevel"] < 25
    assert wearables["user-4"].get("batteryLevel", 0) < 10


def test_last_sync_follows_the_simulator_clock(make_sim):
    sim = make_sim()

    def read() -> dict[str, list[dict]]:
        # Access tokens last an hour: a new grant each time.
        return {
            u: devices_of(Api(sim, authorize(sim, u, scopes=(SETTINGS,)).access_token))
            for u in USERS
        }

    before = read()
    sim.advance(6 * HOUR)
    after = read()
    now = START + 6 * HOUR
    # user-1's wearable syncs every 15 to 60 minutes.
    synced = parse_time(after["user-1"][0]["lastSyncTime"])
    assert now - HOUR < synced <= now
    assert synced > parse_time(before["user-1"][0]["lastSyncTime"])
    # user-2's watch stopped: its last sync stays where it was.
    assert after["user-2"][0] == before["user-2"][0]
    assert [d["name"] for u in USERS for d in after[u]] == [
        d["name"] for u in USERS for d in before[u]
    ]


def test_devices_are_the_seeds(make_sim, sim, settings_api):
    again = make_sim()
    other = make_sim(seed=1)
    mine = devices_of(settings_api("user-1"))
    assert devices_of(Api(again, authorize(again, scopes=(SETTINGS,)).access_token)) == mine
    theirs = devices_of(Api(other, authorize(other, scopes=(SETTINGS,)).access_token))
    assert {d["macAddress"] for d in theirs}.isdisjoint({d["macAddress"] for d in mine})


def test_paired_devices_page(settings_api):
    held = devices_of(settings_api("user-1"))
    assert len(held) >= 2
    pages, token = [], None
    while True:
        params = {"pageSize": 1, **({"pageToken": token} if token else {})}
        body = settings_api("user-1").get("me/pairedDevices", **params).json()
        pages.append(body["pairedDevices"])
        token = body.get("nextPageToken")
        if not token:
            break
    assert pages == [[d] for d in held]


def test_an_unknown_or_another_users_device_is_404(sim, settings_api):
    error_of(settings_api("user-1").get("me/pairedDevices/123"), 404, "RESOURCE_NOT_FOUND")
    theirs = devices_of(settings_api("user-2"))[0]["name"].rsplit("/", 1)[1]
    error_of(settings_api("user-1").get(f"me/pairedDevices/{theirs}"), 404, "RESOURCE_NOT_FOUND")
    numeric = sim.users["user-2"].health_user_id
    error_of(
        settings_api("user-1").get(f"{numeric}/pairedDevices/{theirs}"),
        403,
        "PERMISSION_DENIED_USER",
    )


def test_paired_devices_need_the_settings_scope(sim):
    api = Api(sim, authorize(sim, scopes=(ACTIVITY, IRN)).access_token)
    error_of(api.get("me/pairedDevices"), 403, "ACCESS_TOKEN_SCOPE_INSUFFICIENT")
    error_of(api.get("me/pairedDevices/123"), 403, "ACCESS_TOKEN_SCOPE_INSUFFICIENT")


# -- users.getIrnProfile -----------------------------------------------------------------------


def test_irn_profile(sim, settings_api):
    """ECG users (odd ones) have onboarded and are enrolled; updateTime is their last sync."""
    for user in USERS:
        numeric = sim.users[user].health_user_id
        body = settings_api(user).get("me/irnProfile").json()
        VALIDATOR.check(body, "IrnProfile")
        assert settings_api(user).get(f"{numeric}/irnProfile").json() == body
        assert body["name"] == f"users/{numeric}/irnProfile"
        if sim.users[user].ecg:
            wearable = devices_of(settings_api(user))[0]
            assert body == {
                "name": f"users/{numeric}/irnProfile",
                "enrollmentStatus": True,
                "onboardingStatus": True,
                "updateTime": wearable["lastSyncTime"],
            }
        else:
            assert "enrollmentStatus" not in body
            assert "updateTime" not in body
    assert [sim.users[u].ecg for u in USERS] == [True, False, True, False]


def test_irn_profile_needs_the_irn_scope(sim, settings_api):
    api = Api(sim, authorize(sim, scopes=(SETTINGS, ACTIVITY)).access_token)
    error_of(api.get("me/irnProfile"), 403, "ACCESS_TOKEN_SCOPE_INSUFFICIENT")
    other = sim.users["user-2"].health_user_id
    error_of(settings_api("user-1").get(f"{other}/irnProfile"), 403, "PERMISSION_DENIED_USER")
