"""healthapi.datatypes: the client's catalogue agrees with the API's discovery document."""

from __future__ import annotations

import pytest

from healthapi import datatypes
from simulator.discovery import load_discovery


def test_every_json_key_is_a_datapoint_field_of_the_discovery_document():
    fields = load_discovery()["schemas"]["DataPoint"]["properties"]
    rollup = load_discovery()["schemas"]["DailyRollupDataPoint"]["properties"]
    for spec in datatypes.SPECS.values():
        assert spec.json_key in (rollup if spec.kind is datatypes.Kind.ROLLUP_ONLY else fields)


def test_scopes_exist_in_the_discovery_document():
    known = set(load_discovery()["auth"]["oauth2"]["scopes"])
    for spec in datatypes.SPECS.values():
        assert spec.scope in known
    assert {datatypes.LOCATION_SCOPE, datatypes.SETTINGS_SCOPE} <= known


def test_scopes_for_adds_settings_and_location_for_exercise():
    assert datatypes.scopes_for(["steps"]) == [
        "https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly",
        "https://www.googleapis.com/auth/googlehealth.settings.readonly",
    ]
    assert datatypes.scopes_for(["exercise", "sleep"]) == [
        "https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly",
        "https://www.googleapis.com/auth/googlehealth.location.readonly",
        "https://www.googleapis.com/auth/googlehealth.settings.readonly",
        "https://www.googleapis.com/auth/googlehealth.sleep.readonly",
    ]


def test_unknown_type_names_the_supported_ones():
    with pytest.raises(ValueError, match="unknown data type 'stepz'; supported: steps, distance"):
        datatypes.spec("stepz")


def test_names_and_caps():
    assert datatypes.spec("heart-rate").json_key == "heartRate"
    assert datatypes.spec("daily-vo2-max").json_key == "dailyVo2Max"
    assert datatypes.spec("active-zone-minutes").filter_name == "active_zone_minutes"
    assert (datatypes.spec("sleep").page_size, datatypes.spec("exercise").page_size) == (25, 25)
    assert datatypes.spec("total-calories").rollup_days == 14
