"""healthapi.datatypes: the client's catalogue agrees with the API's discovery document."""

from __future__ import annotations

import re

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


def _data_points_method(name: str) -> dict:
    resources = load_discovery()["resources"]["users"]["resources"]["dataTypes"]["resources"]
    return resources["dataPoints"]["methods"][name]


def test_page_sizes_are_the_discovery_documents():
    for method in ("list", "reconcile"):
        text = _data_points_method(method)["parameters"]["pageSize"]["description"]
        assert re.search(r"The maximum page size is (\d+);", text)[1] == "10000"
        sessions = re.search(r"maximum page size for `exercise` and `sleep` is (\d+)\.", text)
        assert sessions[1] == "25"
    assert (datatypes.MAX_PAGE_SIZE, datatypes.SESSION_PAGE_SIZE) == (10000, 25)
    for spec in datatypes.SPECS.values():
        expected = 25 if spec.name in ("sleep", "exercise") else 10000
        assert spec.page_size == expected, spec.name


def test_rollup_ranges_are_the_discovery_documents():
    text = load_discovery()["schemas"]["RollUpDataPointsRequest"]["properties"]["range"][
        "description"
    ]
    short = re.search(r"The maximum range for (.+?) is 14 days\.", text)[1]
    fourteen = set(re.findall(r"`([a-z-]+)`", short))
    assert fourteen == {
        "calories-in-heart-rate-zone",
        "heart-rate",
        "active-minutes",
        "total-calories",
    }
    assert "The maximum range for all other data types is 90 days." in text
    for spec in datatypes.SPECS.values():
        if spec.rollup_days is not None:
            assert spec.rollup_days == (14 if spec.name in fourteen else 90), spec.name


def test_every_listed_type_has_a_densest_cadence():
    per_day = {n: s.max_per_day for n, s in datatypes.SPECS.items()}
    assert per_day == {
        "steps": 1440,
        "distance": 1440,
        "floors": 1440,
        "active-zone-minutes": 1440,
        "heart-rate": 17280,
        "heart-rate-variability": 288,
        "daily-resting-heart-rate": 1,
        "daily-heart-rate-zones": 1,
        "daily-heart-rate-variability": 1,
        "daily-oxygen-saturation": 1,
        "daily-respiratory-rate": 1,
        "daily-vo2-max": 1,
        "sleep": 4,
        "exercise": 4,
        "weight": 8,
        "body-fat": 8,
        "total-calories": 0,  # not listed
    }
