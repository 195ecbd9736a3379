"""The API client stays on its host: no request, token or secret goes anywhere else.

`HealthApiClient.request` sends only to the configured API origin and follows
no redirect; token requests follow no redirect either; TLS verification stays
on and plain http is refused off loopback. Each redirect test runs two real
HTTP servers on loopback, one answering the redirect and one standing for the
other host, and holds that the other one received nothing.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import sys
import threading
from collections.abc import Callable

import pytest
import requests

from healthapi.auth import oauth
from healthapi.auth.broker import TokenBroker
from healthapi.calls import CallFailed, CallRunner
from healthapi.client import HealthApiClient, RequestRefused
from healthapi.elements import ApiCall
from healthapi.quota import UserRateLimiter
from healthapi.retry import RetryPolicy
from transforms.fetch import FetchFn

NOW = 1_795_000_000.0
TOKEN = "at-secret-123"  # a fake access token, searched for in what the client keeps

Answer = Callable[[str, str], tuple[int, dict[str, str], bytes]]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append((self.command, self.path, dict(self.headers), body))
        status, headers, payload = self.server.answer(self.command, self.path)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _serve
    do_POST = _serve

    def log_message(self, format, *args):  # BaseHTTPRequestHandler's signature
        pass


class Server(http.server.ThreadingHTTPServer):
    """A loopback HTTP server that records every request and answers with `answer`."""

    daemon_threads = True

    def __init__(self, answer: Answer):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self.seen: list[tuple[str, str, dict, bytes]] = []
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> Server:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request, client_address):
        # A client that refused an answer hangs up without reading on: not an error here.
        if not isinstance(sys.exc_info()[1], ConnectionResetError):
            super().handle_error(request, client_address)


def ok_json(method: str, path: str):
    return 200, {"Content-Type": "application/json"}, b"{}"


def redirect_to(location: str, status: int = 302) -> Answer:
    return lambda method, path: (status, {"Location": location}, b"moved")


@pytest.fixture
def other():
    """The host a redirect points at; it must never be reached."""
    with Server(ok_json) as server:
        yield server


# -- redirects from the API --------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_host_is_refused_and_not_followed(other, status):
    with Server(redirect_to(other.url + "/v4/users/me/settings", status)) as api:
        client = HealthApiClient(requests.Session(), api.url)
        with pytest.raises(RequestRefused) as caught:
            client.settings(TOKEN)

    assert (caught.value.status, caught.value.reason) == (status, "REDIRECT_REFUSED")
    assert caught.value.message == (
        f"the API answered HTTP {status} redirecting to {other.url}; "
        "API requests do not follow redirects"
    )
    assert caught.value.body_excerpt == "moved"
    assert [(m, p) for m, p, _, _ in api.seen] == [("GET", "/v4/users/me/settings")]
    assert api.seen[0][2]["Authorization"] == f"Bearer {TOKEN}"
    assert other.seen == []


def test_a_redirect_on_the_same_host_is_refused_too():
    with Server(redirect_to("/v4/users/me/elsewhere")) as api:
        client = HealthApiClient(requests.Session(), api.url)
        with pytest.raises(RequestRefused) as caught:
            client.list_page(TOKEN, "steps")

    assert caught.value.message == (
        f"the API answered HTTP 302 redirecting to {api.url}; API requests do not follow redirects"
    )
    assert len(api.seen) == 1


def test_a_redirect_becomes_one_permanent_dead_letter_without_the_token(other):
    """Through FetchFn: no retry, no refresh, nothing for the other host, no token kept."""

    class Store:
        def load(self, user_key):
            return {"access_token": TOKEN, "refresh_token": "rt-secret", "expires_at": NOW + 3600}

        def save(self, user_key, token):
            raise AssertionError("no refresh expected")

    with Server(redirect_to(other.url + "/tcx", 307)) as api:
        fn = FetchFn(
            api.url,
            token_store_uri="memory://host-guard",
            token_url=api.url + "/token",
            quota_per_minute=1000,
            policy=RetryPolicy(max_attempts=5),
            broker_factory=lambda: TokenBroker(
                Store(), oauth.OAuthClient("id", "secret"), clock=lambda: NOW
            ),
            sleep=lambda seconds: pytest.fail(f"slept {seconds} s: a redirect was retried"),
        )
        fn.setup()
        try:
            out = list(fn.process(ApiCall("u1", "tcx", "exercise", data_point_id="42")))
        finally:
            fn.teardown()

    [tagged] = out
    letter = tagged.value
    assert tagged.tag == FetchFn.DEAD_LETTER
    assert (letter.error_class, letter.http_status, letter.attempts, letter.replayable) == (
        "REDIRECT_REFUSED",
        307,
        1,
        False,
    )
    assert letter.message == (
        f"the API answered HTTP 307 redirecting to {other.url}; "
        "API requests do not follow redirects"
    )
    assert TOKEN not in letter.to_json()
    assert len(api.seen) == 1
    assert other.seen == []


# -- URLs off the API origin ---------------------------------------------------------


def test_a_url_off_the_api_origin_is_refused_before_anything_is_sent(other):
    with Server(ok_json) as api:
        client = HealthApiClient(requests.Session(), api.url)
        api_port, other_port = api.server_address[1], other.server_address[1]
        refused = {}
        for url in (
            f"{other.url}/v4/users/me/settings",  # another port
            f"http://localhost:{api_port}/v4/users/me/settings",  # another host name
            f"https://127.0.0.1:{api_port}/v4/users/me/settings",  # another scheme
            f"http://127.0.0.1:{api_port}@127.0.0.1:{other_port}/v4/",  # user info trick
            f"http://127.0.0.1:{api_port}.example.test/v4/",  # not a port
            "/v4/users/me/settings",  # relative: no host at all
        ):
            with pytest.raises(RequestRefused) as caught:
                client.request("GET", url, TOKEN)
            assert (caught.value.status, caught.value.reason) == (0, "OFF_HOST_URL")
            refused[url] = caught.value.message
        assert client.request("GET", f"{api.url}/v4/users/me/settings", TOKEN).status_code == 200

    suffix = f": API requests go only to {api.url}"
    assert list(refused.values()) == [
        f"refused to send an API request to {other.url}{suffix}",
        f"refused to send an API request to http://localhost:{api_port}{suffix}",
        f"refused to send an API request to https://127.0.0.1:{api_port}{suffix}",
        f"refused to send an API request to {other.url}{suffix}",
        f"refused to send an API request to an unparsable URL{suffix}",
        f"refused to send an API request to a URL without a host{suffix}",
    ]
    assert len(api.seen) == 1
    assert other.seen == []


def test_an_exercise_id_from_an_answer_stays_one_path_segment():
    tcx = b"<?xml version='1.0'?><TrainingCenterDatabase/>"
    with Server(lambda m, p: (200, {"Content-Type": "application/vnd.garmin.tcx+xml"}, tcx)) as api:
        HealthApiClient(requests.Session(), api.url).export_tcx(TOKEN, "../../settings?x=1#")

    assert api.seen[0][1] == (
        "/v4/users/me/dataTypes/exercise/dataPoints/"
        "..%2F..%2Fsettings%3Fx%3D1%23:exportExerciseTcx?alt=media&partialData=true"
    )


# -- the token endpoint --------------------------------------------------------------


def expired_token() -> dict:
    return {
        "access_token": TOKEN,
        "refresh_token": "rt-secret",
        "token_type": "Bearer",
        "expires_at": NOW - 10,
    }


@pytest.mark.parametrize("status", [302, 307, 308])
def test_the_token_endpoint_redirect_is_not_followed_with_the_secret(other, status):
    with Server(redirect_to(other.url + "/token", status)) as token_endpoint:
        client = oauth.OAuthClient("id", "client-secret", token_url=token_endpoint.url + "/token")
        with pytest.raises(oauth.RedirectRefused) as caught:
            oauth.refresh(client, expired_token())

    assert str(caught.value) == (
        f"the token endpoint answered HTTP {status}; token requests do not follow redirects"
    )
    assert len(token_endpoint.seen) == 1
    assert b"client-secret" in token_endpoint.seen[0][3]  # it went there, and only there
    assert other.seen == []


def test_a_token_endpoint_redirect_is_a_permanent_failure_of_the_call(other):
    class Store:
        def load(self, user_key):
            return expired_token()

        def save(self, user_key, token):
            raise AssertionError("nothing to save")

        def refresh_lock(self, user_key):
            return contextlib.nullcontext()

    with Server(redirect_to(other.url + "/token", 307)) as token_endpoint:
        client = oauth.OAuthClient("id", "client-secret", token_url=token_endpoint.url + "/token")
        runner = CallRunner(
            TokenBroker(Store(), client, clock=lambda: NOW),
            UserRateLimiter(1000, clock=lambda: NOW),
            RetryPolicy(max_attempts=5),
            sleep=lambda seconds: pytest.fail(f"slept {seconds} s: a redirect was retried"),
        )
        with pytest.raises(CallFailed) as caught:
            runner.request("u1", lambda token: pytest.fail("the API was called"))

    verdict = caught.value.verdict
    assert (verdict.reason, verdict.retriable, caught.value.attempts) == (
        "TOKEN_REDIRECT_REFUSED",
        False,
        1,
    )
    assert verdict.message == (
        "the token endpoint answered HTTP 307; token requests do not follow redirects"
    )
    assert len(token_endpoint.seen) == 1
    assert other.seen == []


# -- TLS and transport ---------------------------------------------------------------


def test_a_session_without_tls_verification_is_refused():
    session = requests.Session()
    session.verify = False
    with pytest.raises(ValueError) as caught:
        HealthApiClient(session, "https://health.googleapis.com")
    assert str(caught.value) == "TLS verification must stay on: the session has verify=False"


@pytest.mark.parametrize("base_url", ["ftp://health.example.test", "health.googleapis.com"])
def test_a_base_url_needs_a_scheme_and_a_host(base_url):
    with pytest.raises(ValueError) as caught:
        HealthApiClient(requests.Session(), base_url)
    assert str(caught.value) == (
        f"the API base URL needs an http(s) scheme and a host; got {base_url!r}, "
        "e.g. 'https://health.googleapis.com'"
    )


def test_fetch_sessions_verify_tls():
    fn = FetchFn(
        "https://health.googleapis.com",
        token_store_uri="memory://verify",
        token_url=oauth.GOOGLE_TOKEN_URL,
        quota_per_minute=10,
        policy=RetryPolicy(),
        broker_factory=lambda: TokenBroker(None, oauth.OAuthClient("id", "secret")),
    )
    fn.setup()
    try:
        assert fn.session.verify is True
        assert fn.client.session is fn.session
    finally:
        fn.teardown()


@pytest.mark.parametrize(
    "url",
    [
        "http://health.example.test",
        "http://10.0.0.1:8080/token",
        "http://127.0.0.1.nip.io/token",
        "http://localhost.example.test/token",
    ],
)
def test_plain_http_off_loopback_is_refused(url):
    with pytest.raises(ValueError) as caught:
        oauth.check_transport("https://oauth2.googleapis.com/token", url)
    assert str(caught.value) == (
        "OAuth and API endpoints must use https (plain http is allowed on 127.0.0.1 only); "
        f"got {url}"
    )


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8180", "http://localhost:8180/token", "http://[::1]:8180/"]
)
def test_plain_http_on_loopback_is_allowed(url, monkeypatch):
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
    oauth.check_transport(url)
    # oauthlib's own https check is lifted only for it, only once loopback is seen.
    assert os.environ["OAUTHLIB_INSECURE_TRANSPORT"] == "1"


def test_https_alone_leaves_oauthlibs_check_on(monkeypatch):
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
    oauth.check_transport("https://oauth2.googleapis.com/token", "https://health.googleapis.com")
    assert "OAUTHLIB_INSECURE_TRANSPORT" not in os.environ


def test_fetch_refuses_plain_http_off_loopback_at_setup():
    fn = FetchFn(
        "http://health.example.test",
        token_store_uri="memory://plain-http",
        token_url=oauth.GOOGLE_TOKEN_URL,
        quota_per_minute=10,
        policy=RetryPolicy(),
    )
    with pytest.raises(ValueError, match=r"^OAuth and API endpoints must use https"):
        fn.setup()
