"""The user-level branch: PlanUserCalls, then FetchPages and UserRows against the simulator.

Calls are planned once per user in batch and once per request message when
streaming; the rows of each answer are held equal to rows written out by hand
from the simulator's answer to the same request sent directly; a scope a user
did not grant, and a malformed answer, are dead letters.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json

import apache_beam as beam
import pytest
import requests
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from healthapi import datatypes, user_resources
from healthapi.auth import oauth
from healthapi.auth.file_store import LocalFileTokenStore
from healthapi.calls import SCOPE_NOT_GRANTED
from healthapi.elements import ApiCall, ApiPage, FetchRequest
from healthapi.retry import RetryPolicy
from simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.transforms.conftest import (
    NOW,
    NOW_TEXT,
    WALL,
    fixed_clock,
    no_wait,
    token_url,
    wall_stamped,
)
from transforms.dead_letters import DeadLetter
from transforms.fetch import FetchPages
from transforms.user_tables import PlanUserCalls, UserRows, _OncePerMessageFn

D = dt.date
INGEST = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
TAIL = {"run_id": "run-u", "ingest_time": INGEST}
ALL_SCOPES = sorted({*datatypes.scopes_for(list(datatypes.SPECS)), *user_resources.SCOPES})
PROFILE_SCOPE = "https://www.googleapis.com/auth/googlehealth.profile.readonly"


def sha(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


DAY = D(2026, 11, 20)


def request(user: str, data_type: str, day: D = DAY) -> FetchRequest:
    return FetchRequest(user, data_type, day, day)


# -- planning -------------------------------------------------------------------------------


def test_batch_plans_the_user_calls_once_per_user_of_the_run():
    requests_ = [
        request("user-1", "steps"),
        request("user-1", "sleep"),
        request("user-2", "steps"),
        request("user-1", "steps", D(2026, 11, 21)),  # another message of the same user
    ]
    p = test_pipeline.TestPipeline()
    calls = p | beam.Create(requests_) | PlanUserCalls(streaming=False)
    assert_that(
        calls,
        equal_to(
            [
                *user_resources.user_calls("user-1"),
                *user_resources.user_calls("user-2"),
            ]
        ),
    )
    p.run().wait_until_finish()


def test_streaming_plans_them_once_per_request_message():
    # Two messages of user-1 (published at 10 and 20 s), one of user-2: the requests of one
    # message share its user, dates, stream and timestamp.
    stamped = [
        TimestampedValue(request("user-1", "steps"), 10),
        TimestampedValue(request("user-1", "sleep"), 10),
        TimestampedValue(request("user-1", "steps"), 20),
        TimestampedValue(request("user-2", "weight"), 20),
        TimestampedValue(request("user-2", "steps"), 20),
    ]
    p = test_pipeline.TestPipeline()
    calls = p | beam.Create(stamped) | PlanUserCalls(streaming=True)
    assert_that(
        calls,
        equal_to(
            [
                *user_resources.user_calls("user-1"),
                *user_resources.user_calls("user-1"),
                *user_resources.user_calls("user-2"),
            ]
        ),
    )
    p.run().wait_until_finish()


def test_one_message_gives_its_user_once_per_bundle():
    fn = _OncePerMessageFn()
    fn.start_bundle()
    got = [
        *fn.process(request("u", "steps"), timestamp=5),
        *fn.process(request("u", "sleep"), timestamp=5),
        *fn.process(request("u", "sleep", D(2026, 11, 21)), timestamp=5),
        *fn.process(request("u", "steps"), timestamp=6),
    ]
    assert got == ["u", "u", "u"]


def test_streaming_must_be_a_bool():
    with pytest.raises(ValueError, match="streaming=yes must be True or False"):
        PlanUserCalls(streaming="yes")


# -- rows -----------------------------------------------------------------------------------


def test_user_rows_are_exact_and_a_malformed_device_is_a_dead_letter():
    devices = ApiCall("user-1", "user", "paired-devices")
    settings = ApiCall("user-1", "user", "settings")
    good = {
        "name": "users/1234/pairedDevices/501",
        "deviceType": "TRACKER",
        "batteryLevel": 12,
        "batteryStatus": "Low",
        "lastSyncTime": "2026-11-25T08:00:00Z",
        "features": ["SPO2"],
    }
    bad = {"name": "users/1234/pairedDevices/502", "batteryLevel": "high"}
    pages = [
        ApiPage(devices, points=(good, bad), load_key="k1"),
        ApiPage(
            settings, points=({"timeZone": "Asia/Tokyo", "utcOffset": "32400s"},), load_key="k2"
        ),
    ]
    head = {"user_key": "user-1", "civil_date": D(2026, 11, 28), "loaded_at": NOW}
    expected = [
        (
            "paired_devices",
            {
                **head,
                "device_id": "501",
                "device_type": "TRACKER",
                "device_version": None,
                "battery_level": 12,
                "battery_status": "Low",
                "last_sync_time": dt.datetime(2026, 11, 25, 8, tzinfo=dt.UTC),
                "features": ["SPO2"],
                "record_key": sha("user-1", "paired_devices", "501", "2026-11-28"),
                **TAIL,
                "load_id": "run-u-k1",
            },
        ),
        (
            "user_settings",
            {
                **head,
                "utc_offset_seconds": 32400,
                "time_zone": "Asia/Tokyo",
                **dict.fromkeys(
                    (
                        "language_locale",
                        "distance_unit",
                        "weight_unit",
                        "height_unit",
                        "temperature_unit",
                        "water_unit",
                        "glucose_unit",
                        "swim_unit",
                        "stride_length_walking_type",
                        "stride_length_running_type",
                        "food_language_code",
                        "auto_stride_enabled",
                    )
                ),
                "record_key": sha("user-1", "user_settings"),
                **TAIL,
                "load_id": "run-u-k2",
            },
        ),
    ]
    letter = DeadLetter(
        stage="rows",
        original={"call": devices.to_json(), "item": bad},
        error_class="RowError",
        message="pairedDevice.batteryLevel: expected a whole number, got 'high'",
        timestamp=NOW_TEXT,
        user_key="user-1",
        replayable=False,
    )

    p = test_pipeline.TestPipeline()
    out = p | beam.Create(pages) | UserRows("run-u", INGEST, clock=fixed_clock)
    assert_that(out.rows, equal_to(expected), label="rows")
    assert_that(out.dead_letter, equal_to([letter]), label="dead letters")
    p.run().wait_until_finish()


def test_user_rows_check_their_settings():
    with pytest.raises(ValueError, match="run_id '' must be a non-empty string"):
        UserRows("", INGEST)
    with pytest.raises(ValueError, match="must be a UTC datetime"):
        UserRows("run-u", dt.datetime(2026, 11, 28))


# -- the branch against the simulator ----------------------------------------------------------


def authorise(sim, store: LocalFileTokenStore, scopes_of: dict[str, list[str]]) -> None:
    client = oauth.OAuthClient.for_base_url(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, sim.base_url)
    store.save_client(client.client_id, client.client_secret)
    for user, scopes in scopes_of.items():
        store.save(user, oauth.authorize(client, scopes, login_hint=user, open_url=_visit))


def _visit(url: str) -> None:
    requests.get(url, timeout=10)


def answer(sim, store, user: str, path: str) -> dict:
    response = requests.get(
        f"{sim.base_url}/v4/users/me/{path}",
        params={"pageSize": 100} if path == "pairedDevices" else {},
        headers={"Authorization": f"Bearer {store.load(user)['access_token']}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def expected_rows(sim, store, user: str) -> list[tuple]:
    """The user's rows, written out by hand from the simulator's answers."""
    head = {"user_key": user, "civil_date": D(2026, 11, 28), "loaded_at": NOW}
    rows = []
    devices = answer(sim, store, user, "pairedDevices")
    assert "nextPageToken" not in devices
    for d in devices["pairedDevices"]:
        device_id = d["name"].rsplit("/", 1)[1]
        sync = d.get("lastSyncTime")
        rows.append(
            (
                "paired_devices",
                user,
                {
                    **head,
                    "device_id": device_id,
                    "device_type": d.get("deviceType"),
                    "device_version": d.get("deviceVersion"),
                    "battery_level": d.get("batteryLevel"),
                    "battery_status": d.get("batteryStatus"),
                    "last_sync_time": sync and dt.datetime.fromisoformat(sync).astimezone(dt.UTC),
                    "features": d.get("features", []),
                    "record_key": sha(user, "paired_devices", device_id, "2026-11-28"),
                    **TAIL,
                },
            )
        )
    s = answer(sim, store, user, "settings")
    rows.append(
        (
            "user_settings",
            user,
            {
                **head,
                "utc_offset_seconds": int(s["utcOffset"][:-1]) if "utcOffset" in s else None,
                "time_zone": s.get("timeZone"),
                "language_locale": s.get("languageLocale"),
                "distance_unit": s.get("distanceUnit"),
                "weight_unit": s.get("weightUnit"),
                "height_unit": s.get("heightUnit"),
                "temperature_unit": s.get("temperatureUnit"),
                "water_unit": s.get("waterUnit"),
                "glucose_unit": s.get("glucoseUnit"),
                "swim_unit": s.get("swimUnit"),
                "stride_length_walking_type": s.get("strideLengthWalkingType"),
                "stride_length_running_type": s.get("strideLengthRunningType"),
                "food_language_code": s.get("foodLanguageCode"),
                "auto_stride_enabled": s.get("autoStrideEnabled"),
                "record_key": sha(user, "user_settings"),
                **TAIL,
            },
        )
    )
    irn = answer(sim, store, user, "irnProfile")
    update = irn.get("updateTime")
    rows.append(
        (
            "irn_profile",
            user,
            {
                **head,
                "onboarded": irn.get("onboardingStatus", False),
                "enrolled": irn.get("enrollmentStatus", False),
                "update_time": update and dt.datetime.fromisoformat(update).astimezone(dt.UTC),
                "record_key": sha(user, "irn_profile"),
                **TAIL,
            },
        )
    )
    return rows


def expected_profile(sim, store, user: str) -> tuple:
    p = answer(sim, store, user, "profile")
    start = p.get("membershipStartDate")
    return (
        "user_profile",
        user,
        {
            "user_key": user,
            "civil_date": D(2026, 11, 28),
            "loaded_at": NOW,
            "age": p.get("age"),
            "membership_start_date": start and D(**start),
            "auto_walking_stride_length_mm": p.get("autoWalkingStrideLengthMm"),
            "auto_running_stride_length_mm": p.get("autoRunningStrideLengthMm"),
            "user_configured_walking_stride_length_mm": p.get(
                "userConfiguredWalkingStrideLengthMm"
            ),
            "user_configured_running_stride_length_mm": p.get(
                "userConfiguredRunningStrideLengthMm"
            ),
            "record_key": sha(user, "user_profile"),
            **TAIL,
        },
    )


def without_body(letter: DeadLetter) -> DeadLetter:
    """The letter with its wall-clock stamp masked and the API's answer left out."""
    return dataclasses.replace(wall_stamped(letter), body="")


def without_load_id(pair) -> tuple:
    table, row = pair
    assert row["load_id"].startswith("run-u-")  # the load's random key follows
    return table, row["user_key"], {k: v for k, v in row.items() if k != "load_id"}


def test_the_branch_loads_every_users_resources_and_letters_a_missing_scope(sim, tmp_path):
    store = LocalFileTokenStore(tmp_path / "tokens")
    # user-2 did not grant the profile scope.
    authorise(
        sim,
        store,
        {
            "user-1": ALL_SCOPES,
            "user-2": [s for s in ALL_SCOPES if s != PROFILE_SCOPE],
        },
    )
    expected = [
        *expected_rows(sim, store, "user-1"),
        expected_profile(sim, store, "user-1"),
        *expected_rows(sim, store, "user-2"),
    ]
    assert sum(1 for e in expected if e[0] == "paired_devices") >= 2
    missing_scope = DeadLetter(
        stage="fetch",
        original=ApiCall("user-2", "user", "profile"),
        error_class=SCOPE_NOT_GRANTED,
        message=f"users.getProfile needs the scope {PROFILE_SCOPE}, which user 'user-2' did not "
        "grant: authorize the user again (fitbeam authorize), or load without user "
        "tables (--user_tables=false)",
        timestamp=WALL,
        http_status=403,
        user_key="user-2",
        replayable=True,
    )

    p = test_pipeline.TestPipeline()
    calls = (
        p
        | beam.Create(
            [request("user-1", "steps"), request("user-2", "sleep"), request("user-1", "sleep")]
        )
        | PlanUserCalls()
    )
    fetched = calls | FetchPages(
        api_base_url=sim.base_url,
        token_store_uri=str(store.root),
        token_url=token_url(sim),
        quota_per_minute=10_000,
        policy=RetryPolicy(max_attempts=2),
        sleep=no_wait,
        clock=fixed_clock,  # the answers' time: the snapshots' loaded_at
    )
    built = fetched.pages | UserRows("run-u", INGEST, clock=fixed_clock)
    assert_that(built.rows | beam.Map(without_load_id), equal_to(expected), label="rows")
    assert_that(built.dead_letter, equal_to([]), label="row letters")
    assert_that(
        fetched.dead_letter | "Masked" >> beam.Map(without_body),
        equal_to([missing_scope]),
        label="fetch letters",
    )
    assert_that(
        fetched.dead_letter | "Reason" >> beam.Map(lambda d: json.loads(d.body)["error"]["code"]),
        equal_to([403]),
        label="the API's answer kept",
    )
    p.run().wait_until_finish()
