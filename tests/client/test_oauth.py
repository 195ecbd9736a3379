"""The consent flow and refresh (healthapi.auth.oauth) against the simulator's OAuth server."""

from __future__ import annotations

import urllib.parse

import pytest
import requests
from oauthlib.oauth2.rfc6749.errors import MismatchingStateError

from healthapi import datatypes
from healthapi.auth import oauth
from simulator import DEFAULT_CLIENT_ID, Simulator, SimulatorConfig
from tests.client.conftest import START, visit

SCOPES = datatypes.scopes_for(["steps", "exercise"])


def test_authorize_returns_a_token_that_reads_data(sim, client):
    token = oauth.authorize(client, SCOPES, login_hint="user-2", open_url=visit)

    assert token["refresh_token"].startswith("sim-rt-")
    assert token["token_type"] == "Bearer"
    assert sorted(token["scope"]) == SCOPES
    assert token["expires_at"] == pytest.approx(
        token["expires_in"] + __import__("time").time(), abs=5
    )
    who = requests.get(
        f"{sim.base_url}/v4/users/me/identity",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=10,
    ).json()
    assert who["healthUserId"] == sim.users["user-2"].health_user_id


def test_authorize_sends_pkce_s256_state_and_offline_access(sim, client):
    seen = {}

    def inspect_then_visit(url):
        seen.update(urllib.parse.parse_qs(urllib.parse.urlsplit(url).query))
        visit(url)

    oauth.authorize(client, SCOPES, login_hint="user-1", open_url=inspect_then_visit)

    assert seen["code_challenge_method"] == ["S256"]
    assert len(seen["code_challenge"][0]) == 43
    assert len(seen["state"][0]) >= 20
    assert seen["access_type"] == ["offline"]
    assert seen["redirect_uri"][0].startswith("http://127.0.0.1:")
    assert seen["scope"] == [" ".join(SCOPES)]


def test_authorize_rejects_a_tampered_state(sim, client):
    def tamper(url):
        parts = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qs(parts.query)
        query["state"] = ["forged-state"]
        visit(parts._replace(query=urllib.parse.urlencode(query, doseq=True)).geturl())

    with pytest.raises(MismatchingStateError):
        oauth.authorize(client, SCOPES, login_hint="user-1", open_url=tamper)


def test_authorize_reports_a_refused_consent(sim, client):
    with pytest.raises(oauth.ConsentError, match="access_denied"):
        oauth.authorize(client, SCOPES, login_hint="nobody", open_url=visit)


def test_authorize_times_out_when_nobody_answers(sim, client):
    with pytest.raises(oauth.ConsentError, match="no answer"):
        oauth.authorize(
            client, SCOPES, login_hint="user-1", open_url=lambda url: None, timeout_seconds=0.2
        )


def test_authorize_warns_about_unticked_scopes(caplog):
    config = SimulatorConfig(
        clock_speed=0, start_time=START, denied_scopes={"user-1": frozenset({"location.readonly"})}
    )
    with Simulator(config) as sim:
        client = oauth.OAuthClient.for_base_url(
            DEFAULT_CLIENT_ID, "fitbeam-local-secret", sim.base_url
        )
        token = oauth.authorize(client, SCOPES, login_hint="user-1", open_url=visit)

    assert datatypes.LOCATION_SCOPE not in token["scope"]
    assert f"consent granted without these scopes: {datatypes.LOCATION_SCOPE}" in caplog.text


def test_refresh_keeps_googles_refresh_token_and_renews_access(sim, client):
    token = oauth.authorize(client, SCOPES, login_hint="user-1", open_url=visit)
    sim.advance(3600)

    new = oauth.refresh(client, token)

    assert new["refresh_token"] == token["refresh_token"]
    assert new["access_token"] != token["access_token"]
    assert sim.stats()["refreshesByUser"] == {"user-1": 1}


def test_refresh_returns_the_rotated_token_in_rotating_mode():
    config = SimulatorConfig(clock_speed=0, start_time=START, rotating_refresh_tokens=True)
    with Simulator(config) as sim:
        client = oauth.OAuthClient.for_base_url(
            DEFAULT_CLIENT_ID, "fitbeam-local-secret", sim.base_url
        )
        token = oauth.authorize(client, SCOPES, login_hint="user-1", open_url=visit)
        new = oauth.refresh(client, token)
        newer = oauth.refresh(client, new)

    assert len({token["refresh_token"], new["refresh_token"], newer["refresh_token"]}) == 3


def test_plain_http_is_refused_off_loopback():
    with pytest.raises(ValueError, match=r"plain http is allowed on 127\.0\.0\.1 only"):
        oauth.check_transport("https://oauth2.googleapis.com/token", "http://example.com/token")
    oauth.check_transport("https://oauth2.googleapis.com/token")


def test_client_secret_is_not_in_repr():
    client = oauth.OAuthClient("id-123", "very-secret-value")
    assert "very-secret-value" not in repr(client)
