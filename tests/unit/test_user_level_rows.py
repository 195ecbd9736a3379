"""rows.user_level: user-level answers into rows, with literal answers and exact rows.

The answers are written from the discovery document's schemas (PairedDevice,
Profile, Settings, IrnProfile); every row is checked against its table's Avro
schema as well.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import pathlib

import fastavro
import pytest
from fastavro.validation import validate

from healthapi import user_resources
from rows.datapoints import RowContext, RowError
from rows.user_level import user_record_key, user_row, user_rows

UTC = dt.UTC
SCHEMAS = pathlib.Path(__file__).parents[2] / "schemas"
INGEST = dt.datetime(2026, 11, 28, 12, tzinfo=UTC)
LOADED = dt.datetime(2026, 11, 28, 12, 3, 4, 500000, tzinfo=UTC)
CTX = RowContext("p-0042", "run-1", INGEST, "run-1-abc")
TAIL = {"run_id": "run-1", "ingest_time": INGEST, "load_id": "run-1-abc"}
HEAD = {"user_key": "p-0042", "civil_date": dt.date(2026, 11, 28), "loaded_at": LOADED}


def sha(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def schema(table: str):
    return fastavro.parse_schema(json.loads((SCHEMAS / f"{table}.avsc").read_text()))


CHARGE = {
    "name": "users/1234567890/pairedDevices/2871639210",
    "deviceType": "TRACKER",
    "deviceVersion": "Charge 6",
    "batteryLevel": 64,
    "batteryStatus": "Medium",
    "lastSyncTime": "2026-11-28T11:45:00.123456789Z",
    "macAddress": "0A:1B:2C:3D:4E:5F",
    "features": ["HEART_RATE", "SLEEP", "GPS"],
}
SCALE = {"name": "users/me/pairedDevices/77", "deviceType": "SCALE", "batteryLevel": "90"}


def test_paired_devices_become_one_snapshot_row_each():
    got = user_rows(user_resources.PAIRED_DEVICES, [CHARGE, SCALE], CTX, LOADED)

    assert got == [
        (
            "paired_devices",
            {
                **HEAD,
                "device_id": "2871639210",
                "device_type": "TRACKER",
                "device_version": "Charge 6",
                "battery_level": 64,
                "battery_status": "Medium",
                "last_sync_time": dt.datetime(2026, 11, 28, 11, 45, 0, 123456, tzinfo=UTC),
                "features": ["HEART_RATE", "SLEEP", "GPS"],
                "record_key": sha("p-0042", "paired_devices", "2871639210", "2026-11-28"),
                **TAIL,
            },
        ),
        (
            "paired_devices",
            {
                **HEAD,
                "device_id": "77",
                "device_type": "SCALE",
                "device_version": None,
                "battery_level": 90,  # int32 as proto3 JSON may write it: a string
                "battery_status": None,
                "last_sync_time": None,
                "features": [],
                "record_key": sha("p-0042", "paired_devices", "77", "2026-11-28"),
                **TAIL,
            },
        ),
    ]
    for _, row in got:
        assert validate(row, schema("paired_devices"), raise_errors=True)


def test_a_device_loaded_again_the_same_day_is_a_version_of_the_same_record():
    later = dt.datetime(2026, 11, 28, 23, 59, tzinfo=UTC)
    next_day = dt.datetime(2026, 11, 29, 0, 1, tzinfo=UTC)
    keys = [
        user_row(user_resources.PAIRED_DEVICES, CHARGE, CTX, at)[1]["record_key"]
        for at in (LOADED, later, next_day)
    ]
    assert keys[0] == keys[1] != keys[2]


def test_the_profile_row_leaves_what_the_answer_leaves_out_null():
    profile = {
        "name": "users/1234567890/profile",
        "age": 37,
        "membershipStartDate": {"year": 2019, "month": 3, "day": 14},
        "autoWalkingStrideLengthMm": 712,
        "autoRunningStrideLengthMm": "1104",
    }
    [(table, row)] = user_rows(user_resources.PROFILE, [profile], CTX, LOADED)

    assert table == "user_profile"
    assert row == {
        **HEAD,
        "age": 37,
        "membership_start_date": dt.date(2019, 3, 14),
        "auto_walking_stride_length_mm": 712,
        "auto_running_stride_length_mm": 1104,
        "user_configured_walking_stride_length_mm": None,
        "user_configured_running_stride_length_mm": None,
        "record_key": sha("p-0042", "user_profile"),
        **TAIL,
    }
    assert validate(row, schema("user_profile"), raise_errors=True)


def test_the_settings_row_keeps_time_zone_offset_and_units():
    settings = {
        "name": "users/1234567890/settings",
        "timeZone": "America/New_York",
        "utcOffset": "-18000s",
        "distanceUnit": "DISTANCE_UNIT_MILES",
        "weightUnit": "WEIGHT_UNIT_POUNDS",
        "languageLocale": "en_US",
        "autoStrideEnabled": False,
    }
    [(table, row)] = user_rows(user_resources.SETTINGS, [settings], CTX, LOADED)

    assert table == "user_settings"
    assert row == {
        **HEAD,
        "utc_offset_seconds": -18000,
        "time_zone": "America/New_York",
        "language_locale": "en_US",
        "distance_unit": "DISTANCE_UNIT_MILES",
        "weight_unit": "WEIGHT_UNIT_POUNDS",
        "height_unit": None,
        "temperature_unit": None,
        "water_unit": None,
        "glucose_unit": None,
        "swim_unit": None,
        "stride_length_walking_type": None,
        "stride_length_running_type": None,
        "food_language_code": None,
        "auto_stride_enabled": False,
        "record_key": sha("p-0042", "user_settings"),
        **TAIL,
    }
    assert validate(row, schema("user_settings"), raise_errors=True)


@pytest.mark.parametrize(("sent", "seconds"), [("0s", 0), ("3600s", 3600), (None, None)])
def test_a_utc_offset_of_zero_is_zero_and_an_absent_one_null(sent, seconds):
    settings = {"timeZone": "Etc/UTC"} if sent is None else {"utcOffset": sent}
    [(_, row)] = user_rows(user_resources.SETTINGS, [settings], CTX, LOADED)
    assert row["utc_offset_seconds"] == seconds


def test_the_irn_profile_reads_an_absent_required_boolean_as_false():
    irn = {"name": "users/me/irnProfile", "onboardingStatus": True}
    [(table, row)] = user_rows(user_resources.IRN_PROFILE, [irn], CTX, LOADED)

    assert table == "irn_profile"
    assert row == {
        **HEAD,
        "onboarded": True,
        "enrolled": False,
        "update_time": None,
        "record_key": sha("p-0042", "irn_profile"),
        **TAIL,
    }
    assert validate(row, schema("irn_profile"), raise_errors=True)
    [(_, full)] = user_rows(
        user_resources.IRN_PROFILE,
        [
            {
                "onboardingStatus": True,
                "enrollmentStatus": True,
                "updateTime": "2026-11-27T22:10:00Z",
            }
        ],
        CTX,
        LOADED,
    )
    assert (full["enrolled"], full["update_time"]) == (
        True,
        dt.datetime(2026, 11, 27, 22, 10, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("resource", "item", "field"),
    [
        (user_resources.PAIRED_DEVICES, {"deviceType": "TRACKER"}, "pairedDevice.name"),
        (
            user_resources.PAIRED_DEVICES,
            {**CHARGE, "batteryLevel": 64.5},
            "pairedDevice.batteryLevel",
        ),
        (user_resources.PAIRED_DEVICES, {**CHARGE, "features": "GPS"}, "pairedDevice.features"),
        (
            user_resources.PAIRED_DEVICES,
            {**CHARGE, "lastSyncTime": "2026-11-28 11:45"},
            "pairedDevice.lastSyncTime",
        ),
        (
            user_resources.PROFILE,
            {"membershipStartDate": {"year": 2019}},
            "profile.membershipStartDate",
        ),
        (user_resources.SETTINGS, {"utcOffset": "-5h"}, "settings.utcOffset"),
        (user_resources.SETTINGS, {"timeZone": 5}, "settings.timeZone"),
        (user_resources.IRN_PROFILE, {"enrollmentStatus": "yes"}, "irnProfile.enrollmentStatus"),
        (user_resources.PROFILE, ["not", "an", "object"], "profile"),
    ],
)
def test_a_malformed_answer_names_its_field(resource, item, field):
    with pytest.raises(RowError) as caught:
        user_row(resource, item, CTX, LOADED)
    assert caught.value.field == field


def test_loaded_at_must_be_utc_and_the_resource_known():
    with pytest.raises(ValueError, match="must be a UTC datetime"):
        user_row(user_resources.PROFILE, {}, CTX, dt.datetime(2026, 11, 28, 12))
    with pytest.raises(ValueError, match="unknown user-level resource 'devices'"):
        user_row("devices", {}, CTX, LOADED)


def test_the_record_key_joins_user_table_and_values_as_the_docs_say():
    assert user_record_key("paired_devices", "u", "7", dt.date(2026, 1, 2), None) == sha(
        "u", "paired_devices", "7", "2026-01-02", ""
    )
