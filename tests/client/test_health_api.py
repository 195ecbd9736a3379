"""healthapi.client against the simulator: paging, rollups, errors."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from healthapi import datatypes
from healthapi.auth import oauth
from healthapi.client import HealthApiClient, HealthApiError
from simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Simulator, SimulatorConfig
from tests.client.conftest import START, visit

SCOPES = datatypes.scopes_for(list(datatypes.SPECS))


def _token(sim, user="user-1") -> str:
    client = oauth.OAuthClient.for_base_url(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, sim.base_url)
    return oauth.authorize(client, SCOPES, login_hint=user, open_url=visit)["access_token"]


def test_list_all_follows_empty_pages_that_carry_a_token():
    # One civil day scanned per call: days without a weigh-in give empty pages with a token.
    config = SimulatorConfig(users=1, clock_speed=0, start_time=START, scan_days_per_page=1)
    with Simulator(config) as sim:
        api = HealthApiClient(requests.Session(), sim.base_url)
        token = _token(sim)
        flt = (
            'weight.sample_time.civil_time >= "2026-11-01" AND '
            'weight.sample_time.civil_time < "2026-11-15"'
        )
        pages = []
        page_token = None
        while True:
            page = api.list_page(token, "weight", filter_text=flt, page_token=page_token)
            pages.append(page)
            if not page.next_page_token:
                break
            page_token = page.next_page_token
        listed = list(api.list_all(token, "weight", filter_text=flt))
        truth = sim.ground_truth("user-1", "weight", dt.date(2026, 11, 1), dt.date(2026, 11, 14))

    assert any(not p.points and p.next_page_token for p in pages)
    assert sorted(p["name"] for p in listed) == sorted(t["dataPoint"]["name"] for t in truth)
    assert len(truth) > 0


def test_daily_rollup_matches_reconciled_ground_truth(sim):
    api = HealthApiClient(requests.Session(), sim.base_url)
    token = _token(sim, "user-2")

    windows = api.daily_rollup(token, "steps", dt.date(2026, 11, 20), dt.date(2026, 11, 23))

    got = {
        dt.date(**w["civilStartTime"]["date"]).isoformat(): int(w["steps"]["countSum"])
        for w in windows
    }
    truth: dict[str, int] = {}
    for t in sim.ground_truth(
        "user-2", "steps", dt.date(2026, 11, 20), dt.date(2026, 11, 22), reconciled=True
    ):
        truth[t["civilDate"]] = truth.get(t["civilDate"], 0) + int(t["dataPoint"]["steps"]["count"])
    assert got == truth


def test_errors_carry_status_and_reason(sim):
    api = HealthApiClient(requests.Session(), sim.base_url)
    token = _token(sim)

    with pytest.raises(HealthApiError) as caught:
        api.list_page(token, "steps", filter_text='steps.interval.start_time > "2026-11-01"')

    # The live API's wording: the ErrorInfo reason, and the cause in its metadata.
    assert caught.value.status == 400
    assert caught.value.reason == "INVALID_DATA_POINT_FILTER"
    assert caught.value.detailed_reasons == "INVALID_DATA_POINT_FILTER_UNEXPECTED_TOKEN"
    assert token not in str(caught.value)
    assert token not in caught.value.body_excerpt


def test_expired_token_is_a_401_with_its_reason(sim):
    api = HealthApiClient(requests.Session(), sim.base_url)
    token = _token(sim)
    sim.advance(3600)

    with pytest.raises(HealthApiError) as caught:
        api.settings(token)

    assert (caught.value.status, caught.value.reason) == (401, "ACCESS_TOKEN_EXPIRED")
