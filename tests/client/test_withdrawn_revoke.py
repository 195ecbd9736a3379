"""healthapi.auth.oauth.revoke: ending a grant at the revocation endpoint.

Against the simulator's endpoint (a revoked grant refreshes no more) and against
a scripted session for the answers the simulator does not give (5xx, other 4xx,
redirects, no answer). The token never shows in an error or a log line.
"""

from __future__ import annotations

import logging

import pytest
import requests
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError

from healthapi.auth import oauth
from healthapi.auth.file_store import LocalFileTokenStore
from localdev.demo import authorise_users
from simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

TOKEN = {"access_token": "at-revoke-me", "refresh_token": "rt-revoke-me", "expires_at": 1.0}
URL = "https://oauth2.example.test/revoke"


class Answer:
    def __init__(self, status: int, body: str = "{}"):
        self.status_code = status
        self.text = body

    def json(self):
        import json

        return json.loads(self.text)


class Session:
    """Records each POST and answers from a script (an exception is raised)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.posts: list[tuple] = []

    def post(self, url, **kwargs):
        self.posts.append((url, kwargs))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def test_the_simulators_grant_is_revoked_and_refreshes_no_more(sim, tmp_path):
    store = LocalFileTokenStore(tmp_path)
    authorise_users(sim, ["user-1", "user-2"], store)
    token = store.load("user-1")
    client = oauth.OAuthClient.for_base_url(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, sim.base_url)

    assert oauth.revoke(token, sim.revoke_url) == oauth.REVOKED

    with pytest.raises(InvalidGrantError):
        oauth.refresh(client, token)
    assert oauth.refresh(client, store.load("user-2"))["access_token"]  # others keep theirs
    assert sim.stats()["requests"]["revoke"] == {"200": 1}


def test_an_unknown_token_is_already_revoked(sim):
    assert oauth.revoke({"refresh_token": "never-issued"}, sim.revoke_url) == (
        oauth.ALREADY_REVOKED
    )


def test_the_refresh_token_is_sent_form_encoded_without_following_redirects():
    session = Session(Answer(200))
    assert oauth.revoke(TOKEN, URL, session=session) == oauth.REVOKED
    assert session.posts == [
        (
            URL,
            {
                "data": {"token": "rt-revoke-me"},
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
                "allow_redirects": False,
                "timeout": oauth.REVOKE_TIMEOUT_SECONDS,
            },
        )
    ]


def test_the_access_token_is_sent_when_there_is_no_refresh_token():
    session = Session(Answer(200))
    oauth.revoke({"access_token": "at-only"}, URL, session=session)
    assert session.posts[0][1]["data"] == {"token": "at-only"}


def test_invalid_token_means_already_revoked():
    body = '{"error": "invalid_token", "error_description": "Token expired or revoked"}'
    assert oauth.revoke(TOKEN, URL, session=Session(Answer(400, body))) == oauth.ALREADY_REVOKED


@pytest.mark.parametrize(
    "failure",
    [Answer(503, "busy"), Answer(429), requests.ConnectionError("rt-revoke-me refused")],
    ids=["503", "429", "no-answer"],
)
def test_transient_failures_are_tried_three_times_then_fail_retriably(failure, caplog):
    sleeps: list[float] = []
    session = Session(failure, failure, failure)
    with caplog.at_level(logging.DEBUG), pytest.raises(oauth.RevokeFailed) as caught:
        oauth.revoke(TOKEN, URL, session=session, sleep=sleeps.append)
    assert caught.value.retriable is True
    assert len(session.posts) == 3
    assert sleeps == [1.0, 2.0]
    assert "revoke-me" not in str(caught.value) + caplog.text


def test_a_transient_failure_then_success_is_revoked():
    session = Session(Answer(502), Answer(200))
    assert oauth.revoke(TOKEN, URL, session=session, sleep=lambda s: None) == oauth.REVOKED


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (Answer(400, '{"error": "invalid_request"}'), "HTTP 400 invalid_request"),
        (Answer(401, "not json rt-revoke-me"), "HTTP 401"),
        (Answer(302), "HTTP 302"),
    ],
)
def test_other_answers_fail_at_once_and_not_retriably(answer, message):
    session = Session(answer)
    with pytest.raises(oauth.RevokeFailed) as caught:
        oauth.revoke(TOKEN, URL, session=session)
    assert str(caught.value) == f"the revocation endpoint answered {message}"
    assert (caught.value.retriable, caught.value.status) == (False, answer.status_code)
    assert len(session.posts) == 1


def test_a_token_without_anything_to_revoke_is_refused():
    with pytest.raises(ValueError, match="neither a refresh token nor an access token"):
        oauth.revoke({"expires_at": 1.0}, URL, session=Session())


def test_plain_http_off_loopback_is_refused_before_sending():
    session = Session()
    with pytest.raises(ValueError, match="must use https"):
        oauth.revoke(TOKEN, "http://oauth2.example.test/revoke", session=session)
    assert session.posts == []
