"""The simulated Google OAuth 2.0 endpoints and how the API treats their tokens."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from simulator.catalog import SCOPE_PREFIX
from tests.simulator.conftest import (
    ACTIVITY,
    ALL_SCOPES,
    LOCATION,
    METRICS,
    REDIRECT_URI,
    Api,
    authorization_redirect,
    authorize,
    error_of,
    pkce_pair,
    redirect_query,
    token_request,
)

NOVEMBER = (dt.date(2026, 11, 1), dt.date(2026, 11, 27))


def code_for(sim, verifier_challenge=None, **overrides) -> tuple[str, str]:
    """An authorization code for user-1 and the PKCE verifier it was bound to."""
    verifier, challenge = verifier_challenge or pkce_pair()
    query = redirect_query(
        authorization_redirect(
            sim, code_challenge=challenge, code_challenge_method="S256", **overrides
        )
    )
    return query["code"], verifier


def exchange(sim, code: str, verifier: str | None, redirect_uri: str = REDIRECT_URI, **kw):
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        form["code_verifier"] = verifier
    return token_request(sim, form, **kw)


def refresh(sim, refresh_token: str) -> requests.Response:
    return token_request(sim, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def oauth_error(response: requests.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error


def steps_status(sim, access_token: str) -> requests.Response:
    return Api(sim, access_token).list("steps", pageSize=1)


# -- authorization endpoint -------------------------------------------------------


def test_code_flow_echoes_state_and_grants_what_was_asked(sim):
    verifier, challenge = pkce_pair()
    query = redirect_query(
        authorization_redirect(
            sim, state="opaque-Ω", code_challenge=challenge, code_challenge_method="S256"
        )
    )
    assert query["state"] == "opaque-Ω"
    assert set(query["scope"].split()) == set(ALL_SCOPES)
    response = exchange(sim, query["code"], verifier)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "refresh_token", "scope", "token_type"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3599
    assert set(body["scope"].split()) == set(ALL_SCOPES)
    assert response.headers["Cache-Control"] == "no-store"
    assert steps_status(sim, body["access_token"]).status_code == 200


def test_unknown_login_hint_is_denied_in_the_redirect(sim):
    query = redirect_query(authorization_redirect(sim, login_hint="nobody", state="s1"))
    assert query == {"error": "access_denied", "state": "s1"}


def test_non_loopback_redirect_uri_is_refused_on_googles_own_page(sim):
    response = authorization_redirect(sim, redirect_uri="https://example.com/callback")
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.json()["error"] == "redirect_uri_mismatch"


def test_unknown_client_is_refused_on_googles_own_page(sim):
    response = authorization_redirect(sim, client_id="someone-else.apps.googleusercontent.com")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_unknown_scope_is_reported_in_the_redirect(sim):
    query = redirect_query(authorization_redirect(sim, scope="https://example.com/scope"))
    assert query == {"error": "invalid_scope", "state": "state-123"}


# -- code exchange ------------------------------------------------------------------


def test_wrong_pkce_verifier_is_invalid_grant(sim):
    code, _ = code_for(sim)
    oauth_error(exchange(sim, code, pkce_pair()[0]), 400, "invalid_grant")


def test_missing_pkce_verifier_is_invalid_grant(sim):
    code, _ = code_for(sim)
    oauth_error(exchange(sim, code, None), 400, "invalid_grant")


def test_code_is_single_use(sim):
    code, verifier = code_for(sim)
    assert exchange(sim, code, verifier).status_code == 200
    oauth_error(exchange(sim, code, verifier), 400, "invalid_grant")


def test_redirect_uri_must_match_at_exchange(sim):
    code, verifier = code_for(sim)
    response = exchange(sim, code, verifier, redirect_uri="http://127.0.0.1:9999/other")
    oauth_error(response, 400, "redirect_uri_mismatch")


def test_bad_client_secret_in_the_form_is_invalid_client(sim):
    code, verifier = code_for(sim)
    response = requests.post(
        sim.token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": "wrong",
        },
        timeout=10,
    )
    oauth_error(response, 401, "invalid_client")


def test_client_credentials_by_basic_auth(sim):
    code, verifier = code_for(sim)
    bad = exchange(sim, code, verifier, basic=(DEFAULT_CLIENT_ID, "wrong"))
    oauth_error(bad, 401, "invalid_client")
    # A refused client does not consume the code.
    good = exchange(sim, code, verifier, basic=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET))
    assert good.status_code == 200, good.text


def test_online_access_gives_no_refresh_token(sim):
    grant = authorize(sim, offline=False)
    assert "refresh_token" not in grant.token
    assert steps_status(sim, grant.access_token).status_code == 200


# -- access tokens on the API ------------------------------------------------------


def test_missing_and_unknown_bearer_tokens_are_401(sim):
    bare = requests.get(sim.base_url + "/v4/users/me/dataTypes/steps/dataPoints", timeout=10)
    error_of(bare, 401, "CREDENTIALS_MISSING")
    assert bare.headers["WWW-Authenticate"].startswith("Bearer")
    error_of(steps_status(sim, "sim-at-forged"), 401, "ACCESS_TOKEN_TYPE_UNSUPPORTED")


def test_access_token_expires_after_an_hour_and_refresh_fixes_it(make_sim):
    sim = make_sim()
    grant = authorize(sim)
    sim.advance(3599)
    assert steps_status(sim, grant.access_token).status_code == 200
    sim.advance(1)
    expired = steps_status(sim, grant.access_token)
    error = error_of(expired, 401, "ACCESS_TOKEN_EXPIRED")
    assert error["status"] == "UNAUTHENTICATED"
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]
    renewed = refresh(sim, grant.token["refresh_token"])
    assert renewed.status_code == 200
    assert steps_status(sim, renewed.json()["access_token"]).status_code == 200


def test_google_refresh_tokens_are_reusable_and_not_rotated(make_sim):
    sim = make_sim()
    grant = authorize(sim)
    first = refresh(sim, grant.token["refresh_token"])
    second = refresh(sim, grant.token["refresh_token"])
    for response in (first, second):
        assert response.status_code == 200
        assert set(response.json()) == {"access_token", "expires_in", "scope", "token_type"}
    assert first.json()["access_token"] != second.json()["access_token"]
    assert sim.stats()["refreshesByUser"] == {"user-1": 2}


def test_rotating_refresh_tokens_are_single_use_and_reuse_revokes_the_grant(make_sim):
    sim = make_sim(rotating_refresh_tokens=True)
    grant = authorize(sim)
    original = grant.token["refresh_token"]
    first = refresh(sim, original)
    assert first.status_code == 200
    newest = first.json()["refresh_token"]
    assert newest != original
    second = refresh(sim, newest)
    assert second.status_code == 200
    newest = second.json()["refresh_token"]
    access = second.json()["access_token"]
    assert steps_status(sim, access).status_code == 200
    # Presenting a rotated token again looks like theft: the whole grant dies.
    oauth_error(refresh(sim, original), 400, "invalid_grant")
    oauth_error(refresh(sim, newest), 400, "invalid_grant")
    error_of(steps_status(sim, access), 401, "ACCESS_TOKEN_TYPE_UNSUPPORTED")
    assert sim.stats()["invalidGrants"] == 2


def test_revoke_kills_access_and_refresh_tokens_of_the_grant(make_sim):
    sim = make_sim()
    grant = authorize(sim)
    other = authorize(sim, "user-2")
    response = requests.post(
        sim.revoke_url, data={"token": grant.token["refresh_token"]}, timeout=10
    )
    assert response.status_code == 200
    error_of(steps_status(sim, grant.access_token), 401, "ACCESS_TOKEN_TYPE_UNSUPPORTED")
    oauth_error(refresh(sim, grant.token["refresh_token"]), 400, "invalid_grant")
    assert steps_status(sim, other.access_token).status_code == 200
    unknown = requests.post(sim.revoke_url, data={"token": "sim-rt-unknown"}, timeout=10)
    oauth_error(unknown, 400, "invalid_token")


def test_unsupported_grant_type(sim):
    oauth_error(token_request(sim, {"grant_type": "password"}), 400, "unsupported_grant_type")


# -- scopes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "scopes"),
    [
        ("me/dataTypes/steps/dataPoints", (METRICS,)),
        ("me/dataTypes/heart-rate/dataPoints", (ACTIVITY,)),
        ("me/dataTypes/sleep/dataPoints", (ACTIVITY, METRICS)),
        ("me/profile", (ACTIVITY,)),
        ("me/settings", (ACTIVITY,)),
        ("me/pairedDevices", (ACTIVITY,)),
    ],
)
def test_missing_scope_is_403(sim, path, scopes):
    api = Api(sim, authorize(sim, scopes=scopes).access_token)
    error = error_of(api.get(path), 403, "ACCESS_TOKEN_SCOPE_INSUFFICIENT")
    assert error["status"] == "PERMISSION_DENIED"


def test_tcx_export_needs_activity_and_location(sim):
    exercise = sim.ground_truth("user-1", "exercise", *NOVEMBER)[0]["id"]
    path = f"me/dataTypes/exercise/dataPoints/{exercise}:exportExerciseTcx"
    for scopes in ((ACTIVITY,), (LOCATION,)):
        api = Api(sim, authorize(sim, scopes=scopes).access_token)
        error_of(api.get(path, alt="media"), 403, "ACCESS_TOKEN_SCOPE_INSUFFICIENT")
    api = Api(sim, authorize(sim, scopes=(ACTIVITY, LOCATION)).access_token)
    assert api.get(path, alt="media").status_code == 200


def test_scopes_denied_at_consent_are_not_granted(make_sim):
    sim = make_sim(denied_scopes={"user-3": frozenset({"location.readonly"})})
    grant = authorize(sim, "user-3")
    assert LOCATION not in grant.token["scope"].split()
    assert set(grant.token["scope"].split()) == set(ALL_SCOPES) - {LOCATION}
    exercise = sim.ground_truth("user-3", "exercise", *NOVEMBER)[0]["id"]
    api = Api(sim, grant.access_token)
    assert api.data_point("exercise", exercise).status_code == 200
    path = f"me/dataTypes/exercise/dataPoints/{exercise}:exportExerciseTcx"
    error_of(api.get(path), 403, "ACCESS_TOKEN_SCOPE_INSUFFICIENT")
    # Other users consent to everything.
    assert LOCATION in authorize(sim, "user-1").token["scope"].split()


@pytest.mark.parametrize("scope", [LOCATION, SCOPE_PREFIX + "sleep.writeonly"])
def test_identity_accepts_any_health_scope(sim, scope):
    """The discovery document lists every read and write scope for users.getIdentity."""
    api = Api(sim, authorize(sim, scopes=(scope,)).access_token)
    response = api.get("me/identity")
    assert response.status_code == 200
    assert response.json()["name"] == "users/me/identity"


def test_identity_needs_a_health_scope(sim):
    api = Api(sim, authorize(sim, scopes=("openid", "email")).access_token)
    error_of(api.get("me/identity"), 403, "ACCESS_TOKEN_SCOPE_INSUFFICIENT")


def test_unlinked_user_gets_account_not_linked(make_sim):
    sim = make_sim(unlinked_users=frozenset({"user-2"}))
    unlinked = Api(sim, authorize(sim, "user-2").access_token)
    for path in ("me/dataTypes/steps/dataPoints", "me/identity"):
        error = error_of(unlinked.get(path), 400, "ACCOUNT_NOT_LINKED")
        assert error["status"] == "FAILED_PRECONDITION"
    linked = Api(sim, authorize(sim, "user-1").access_token)
    assert linked.get("me/identity").status_code == 200


def test_admin_routes_expire_tokens_and_move_the_clock(make_sim):
    sim = make_sim()
    grant = authorize(sim)
    admin = sim.base_url + "/admin/v1/"
    assert requests.post(admin + "tokens:expire", timeout=10).json() == {}
    error_of(steps_status(sim, grant.access_token), 401, "ACCESS_TOKEN_EXPIRED")
    fresh = authorize(sim)
    moved = requests.post(admin + "clock:advance", json={"seconds": 3600}, timeout=10)
    assert moved.json() == {"now": "2026-11-28T13:00:00Z"}
    assert requests.get(admin + "clock", timeout=10).json() == {"now": "2026-11-28T13:00:00Z"}
    error_of(steps_status(sim, fresh.access_token), 401, "ACCESS_TOKEN_EXPIRED")
    users = requests.get(admin + "users", timeout=10).json()["users"]
    assert [u["userId"] for u in users] == ["user-1", "user-2", "user-3", "user-4"]
    assert users[0]["healthUserId"] == sim.users["user-1"].health_user_id
