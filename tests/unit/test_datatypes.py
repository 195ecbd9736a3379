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
    assert datatypes.scopes_for(["steps"], user_tables=False) == [
        "https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly",
        "https://www.googleapis.com/auth/googlehealth.settings.readonly",
    ]
    assert datatypes.scopes_for(["exercise", "sleep"], user_tables=False) == [
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
        "active-energy-burned": 1440,
        "basal-energy-burned": 1440,
        "active-minutes": 1440,
        "activity-level": 1440,
        "sedentary-period": 1440,
        "time-in-heart-rate-zone": 1440,
        "altitude": 1440,
        "swim-lengths-data": 1440,
        "menstrual-period": 4,
        "oxygen-saturation": 1440,
        "respiratory-rate-sleep-summary": 4,
        "height": 8,
        "vo2-max": 8,
        "run-vo2-max": 4,
        "blood-glucose": 1440,
        "core-body-temperature": 1440,
        "moods": 24,
        "symptoms": 24,
        "ovulation-test": 24,
        "daily-sleep-temperature-derivations": 1,
        "electrocardiogram": 24,
        "irregular-rhythm-notification": 4,
    }


def test_the_newer_types_scopes_kinds_and_members():
    facts = {
        n: (s.kind.value, s.scope_family, s.window_member, s.identifiable, s.table)
        for n, s in datatypes.SPECS.items()
    }
    interval = ("interval", "activity_and_fitness", "interval.civil_start_time", False)
    metrics = "health_metrics_and_measurements"
    sample = "sample_time.civil_time"
    assert {n: facts[n] for n in list(facts)[17:]} == {
        "active-energy-burned": (*interval, "active_energy_burned"),
        "basal-energy-burned": (*interval, "basal_energy_burned"),
        "active-minutes": (*interval, "active_minutes"),
        "activity-level": (*interval, "activity_level"),
        "sedentary-period": (*interval, "sedentary_period"),
        "time-in-heart-rate-zone": (*interval, "time_in_heart_rate_zone"),
        "altitude": (*interval, "altitude"),
        "swim-lengths-data": (*interval, "swim_lengths_data"),
        "menstrual-period": (
            "interval",
            "reproductive_health",
            "interval.civil_start_time",
            True,
            "menstrual_period",
        ),
        "oxygen-saturation": ("sample", metrics, sample, False, "oxygen_saturation"),
        "respiratory-rate-sleep-summary": (
            "sample",
            metrics,
            sample,
            False,
            "respiratory_rate_sleep_summary",
        ),
        "height": ("sample", metrics, sample, True, "height"),
        "vo2-max": ("sample", "activity_and_fitness", sample, False, "vo2_max"),
        "run-vo2-max": ("sample", "activity_and_fitness", sample, False, "run_vo2_max"),
        "blood-glucose": ("sample", metrics, sample, True, "blood_glucose"),
        "core-body-temperature": ("sample", metrics, sample, True, "core_body_temperature"),
        "moods": ("sample", "mindfulness", sample, True, "moods"),
        "symptoms": ("sample", "logged_symptoms", sample, True, "symptoms"),
        "ovulation-test": ("sample", "reproductive_health", sample, True, "ovulation_test"),
        "daily-sleep-temperature-derivations": (
            "daily",
            metrics,
            "date",
            False,
            "daily_sleep_temperature_derivations",
        ),
        "electrocardiogram": (
            "session",
            "ecg",
            "interval.start_time",
            False,
            "electrocardiogram",
        ),
        "irregular-rhythm-notification": (
            "session",
            "irn",
            "interval.civil_start_time",
            False,
            "irregular_rhythm_notification",
        ),
    }
    assert [n for n, s in datatypes.SPECS.items() if s.open_ended] == ["electrocardiogram"]


def test_scopes_for_the_newer_families():
    assert datatypes.scopes_for(
        ["electrocardiogram", "irregular-rhythm-notification", "moods", "symptoms", "height"],
        user_tables=False,
    ) == [
        "https://www.googleapis.com/auth/googlehealth.ecg.readonly",
        "https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly",
        "https://www.googleapis.com/auth/googlehealth.irn.readonly",
        "https://www.googleapis.com/auth/googlehealth.logged_symptoms.readonly",
        "https://www.googleapis.com/auth/googlehealth.mindfulness.readonly",
        "https://www.googleapis.com/auth/googlehealth.settings.readonly",
    ]
    assert datatypes.scopes_for(["menstrual-period", "ovulation-test"], user_tables=False) == [
        "https://www.googleapis.com/auth/googlehealth.reproductive_health.readonly",
        "https://www.googleapis.com/auth/googlehealth.settings.readonly",
    ]


def test_the_user_level_tables_need_the_profile_and_irn_scopes():
    from healthapi import user_resources

    assert datatypes.scopes_for(["steps"]) == [
        "https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly",
        "https://www.googleapis.com/auth/googlehealth.irn.readonly",
        "https://www.googleapis.com/auth/googlehealth.profile.readonly",
        "https://www.googleapis.com/auth/googlehealth.settings.readonly",
    ]
    assert set(user_resources.SCOPES) <= set(datatypes.scopes_for([]))
