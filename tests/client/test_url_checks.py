"""Endpoint URLs are read as the HTTP library reads them, and ambiguous ones are refused.

`urllib.parse` read `http://evil.example\\@127.0.0.1` as 127.0.0.1 (loopback, so plain
http passed) while requests, through urllib3, connects to evil.example and would have
sent a Bearer token there in the clear; the token URL inherited the same address.
Every place that checks an endpoint (`--api_base_url`/`--token_url`, the OAuth
transport check, the API client's origin guard, the Secret Manager endpoint) now
refuses such URLs with the same verdicts, and the loopback tests below show that no
request leaves for one: two real listeners on 127.0.0.1 stand for the checked address
and the address requests would really reach.
"""

from __future__ import annotations

import urllib.parse

import pytest
import requests

from healthapi import urls
from healthapi.auth import oauth
from healthapi.auth.secret_manager_store import SecretManagerTokenStore
from healthapi.client import HealthApiClient, RequestRefused
from healthapi.retry import RetryPolicy
from healthapi.settings import OptionsError, check_url
from tests.client.test_host_guard import Server, ok_json
from transforms.fetch import FetchFn, FetchPages

BACKSLASH = "holds a backslash, which URL parsers read differently"
USER_INFO = "holds user info (name@host), which URL parsers read differently"
CONTROL = "holds whitespace or a control character"
PERCENT = "holds a percent sign in its host"
QUERY = "has a query or fragment; give the endpoint alone"
TOKEN = "at-secret-123"  # a fake access token

# (URL, what check_endpoint returns, or the exact reason it refuses it)
VERDICTS = [
    ("http://evil.example\\@127.0.0.1", BACKSLASH),
    ("http://evil.example\\@127.0.0.1:8180/token", BACKSLASH),
    ("http://127.0.0.1:8180\\@evil.example", BACKSLASH),
    ("http://evil.example/\\@127.0.0.1", BACKSLASH),
    ("http://127.0.0.1@evil.example", USER_INFO),
    ("http://evil.example%5C@127.0.0.1", USER_INFO),
    ("http://evil.example;@127.0.0.1", USER_INFO),
    ("https://user:pw@health.googleapis.com", USER_INFO),
    ("http://127.0.0.1\t.evil.example", CONTROL),
    ("http://127.0.0.1\n.evil.example", CONTROL),
    ("http://evil.example\r\n@127.0.0.1", CONTROL),
    ("http://127.0.0.1 /token", CONTROL),
    ("http://\uff11\uff12\uff17.0.0.1", "holds a non-ASCII character"),
    ("http://[::1%25lo]:8180", PERCENT),
    ("http://127.0.0.1:80x", "does not parse as a URL"),
    ("ftp://127.0.0.1", urls.NOT_HTTP),
    ("127.0.0.1:8180", urls.NOT_HTTP),
    ("http://evil.example#@127.0.0.1", QUERY),
    ("http://127.0.0.1?@evil.example", QUERY),
    ("http://evil.example", urls.PLAIN_HTTP),
    ("http://127.0.0.1.evil.example", urls.PLAIN_HTTP),
    ("http://[::1]", "http://[::1]"),
    ("http://[::1]:8180/", "http://[::1]:8180"),
    ("http://127.0.0.1:8180", "http://127.0.0.1:8180"),
    ("http://LOCALHOST:8180/v4/", "http://LOCALHOST:8180/v4"),
    ("https://health.googleapis.com", "https://health.googleapis.com"),
    ("https://oauth2.googleapis.com/token", "https://oauth2.googleapis.com/token"),
]
REFUSED = [(url, why) for url, why in VERDICTS if not why.startswith(("http:", "https:"))]
AMBIGUOUS = [
    (url, why) for url, why in REFUSED if why not in (urls.PLAIN_HTTP, urls.NOT_HTTP, QUERY)
]
IDS = [repr(url) for url, _ in VERDICTS]


@pytest.mark.parametrize(("url", "verdict"), VERDICTS, ids=IDS)
def test_each_url_has_one_verdict(url, verdict):
    if verdict.startswith(("http:", "https:")):
        assert urls.check_endpoint(url) == verdict
        return
    with pytest.raises(ValueError) as caught:
        urls.check_endpoint(url)
    assert str(caught.value) == verdict


@pytest.mark.parametrize(("url", "verdict"), VERDICTS, ids=IDS)
def test_the_flags_give_the_same_verdict(url, verdict):
    if verdict.startswith(("http:", "https:")):
        assert check_url(url, "api_base_url", "https://health.googleapis.com") == verdict
        return
    with pytest.raises(OptionsError) as caught:
        check_url(url, "api_base_url", "https://health.googleapis.com")
    assert str(caught.value) == (
        f"--api_base_url={urls.shown(url)!r}: {verdict}; "
        "e.g. --api_base_url=https://health.googleapis.com"
    )


@pytest.mark.parametrize(("url", "reason"), AMBIGUOUS, ids=[repr(u) for u, _ in AMBIGUOUS])
def test_the_oauth_transport_check_refuses_an_ambiguous_url(url, reason):
    with pytest.raises(ValueError) as caught:
        oauth.check_transport("https://oauth2.googleapis.com/token", url)
    assert str(caught.value) == f"OAuth and API endpoint {urls.shown(url)!r} {reason}"


@pytest.mark.parametrize(("url", "reason"), AMBIGUOUS, ids=[repr(u) for u, _ in AMBIGUOUS])
def test_the_secret_manager_endpoint_refuses_an_ambiguous_url(url, reason):
    uri = "secretmanager://my-project/fitbeam?endpoint=" + urllib.parse.quote(url, safe="")
    with pytest.raises(ValueError) as caught:
        SecretManagerTokenStore.from_uri(uri)
    assert str(caught.value).startswith(
        f"invalid Secret Manager endpoint {urls.shown(url)!r} in the token store: use https://"
    )


def test_a_fragment_that_looks_like_user_info_is_judged_by_the_host_both_parsers_read():
    # No ambiguity: '#' and '?' end the host for both parsers. The flags refuse the query
    # or fragment; the transport check judges the host alone.
    with pytest.raises(ValueError) as caught:
        oauth.check_transport("http://evil.example#@127.0.0.1")
    assert str(caught.value) == (
        "OAuth and API endpoints must use https (plain http is allowed on 127.0.0.1 only); "
        "got http://evil.example#@127.0.0.1"
    )
    oauth.check_transport("http://127.0.0.1?@evil.example")


def test_a_message_never_shows_user_info():
    assert urls.shown("https://user:secret@health.googleapis.com/x") == (
        "https://[user info]@health.googleapis.com/x"
    )
    with pytest.raises(OptionsError) as caught:
        check_url("https://user:secret@example.test", "token_url", oauth.GOOGLE_TOKEN_URL)
    assert "secret" not in str(caught.value)


# --------------------------------------------------------------------------- on the wire


@pytest.fixture
def checked():
    """The address the old check read: loopback, so plain http passed."""
    with Server(ok_json) as server:
        yield server


@pytest.fixture
def reached():
    """The address requests really connects to (evil.example, in the audit's example)."""
    with Server(ok_json) as server:
        yield server


def _two_faced(reached: Server, checked: Server) -> str:
    return f"http://127.0.0.1:{reached.server_address[1]}\\@127.0.0.1:{checked.server_address[1]}"


def test_the_two_parsers_disagree_and_requests_goes_where_urllib_parse_does_not_look(
    checked, reached
):
    # The premise: what urllib.parse checks is not where the request goes.
    url = _two_faced(reached, checked)
    assert urllib.parse.urlsplit(url).port == checked.server_address[1]
    assert requests.get(url, timeout=5).status_code == 200
    assert (len(reached.seen), checked.seen) == (1, [])


def test_no_request_leaves_for_an_ambiguous_endpoint(checked, reached):
    url = _two_faced(reached, checked)
    with pytest.raises(ValueError, match="holds a backslash"):
        oauth.check_transport(url, url + "/token")
    with pytest.raises(ValueError, match="holds a backslash"):
        HealthApiClient(requests.Session(), url)
    client = oauth.OAuthClient.for_base_url("client-id", "client-secret", url)
    token = {"access_token": TOKEN, "refresh_token": "rt-secret", "token_type": "Bearer"}
    with pytest.raises(ValueError, match="holds a backslash"):
        oauth.refresh(client, token)
    with pytest.raises(ValueError, match="holds a backslash"):
        FetchPages(url, "memory://x", url + "/token", 10, RetryPolicy())
    fn = FetchFn(url, "memory://x", url + "/token", 10, RetryPolicy())
    with pytest.raises(ValueError, match="holds a backslash"):
        fn.setup()
    with pytest.raises(OptionsError, match="holds a backslash"):
        check_url(url, "api_base_url", "https://health.googleapis.com")
    assert (reached.seen, checked.seen) == ([], [])


def test_the_api_client_sends_no_token_to_an_ambiguous_url_on_its_own_host(checked, reached):
    # The origin guard read the URL as the API's own origin, and requests went elsewhere.
    client = HealthApiClient(requests.Session(), checked.url)
    with pytest.raises(RequestRefused) as caught:
        client.request("GET", _two_faced(reached, checked) + "/v4/users/me/settings", TOKEN)
    assert (caught.value.status, caught.value.reason) == (0, "OFF_HOST_URL")
    assert caught.value.message == (
        f"refused to send an API request to http://127.0.0.1:{reached.server_address[1]}: "
        f"API requests go only to {checked.url}"
    )
    assert (reached.seen, checked.seen) == ([], [])
