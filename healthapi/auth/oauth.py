"""Google OAuth 2.0 for fitbeam: the consent flow and authorised sessions.

Built on requests-oauthlib. The consent flow is the one Google documents for
installed apps: authorization code with PKCE (S256), a loopback redirect on
127.0.0.1 with a random port, a random `state` checked on return, and
`access_type=offline` so that a refresh token is issued.

`refresh` keeps the previous refresh token when the provider does not send a
new one (Google) and returns the rotated one when it does (legacy Fitbit);
callers store the result durably before using it.

`revoke` ends a grant at Google's revocation endpoint (consent withdrawal,
`fitbeam forget`).

Plain-http endpoints are allowed only on loopback addresses (the local
simulator); anything else must be https. Token requests carry the client
secret and the refresh token in their body, so they follow no redirect
(`RedirectRefused`): requests would re-send that body on a 307 or 308.
"""

from __future__ import annotations

import dataclasses
import http.server
import logging
import os
import threading
import time
import urllib.parse
import webbrowser
from collections.abc import Callable

import requests
from requests_oauthlib import OAuth2Session

from healthapi import urls

_LOGGER = logging.getLogger(__name__)

GOOGLE_AUTHORIZATION_URL = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
GOOGLE_REVOKE_URL = "https://oauth2.googleapis.com/revoke"
# A refresh holds the user's refresh lock (healthapi.auth.stores.LEASE_SECONDS).
REFRESH_TIMEOUT_SECONDS = 20.0


class _NoDebug(logging.Filter):
    """Drops DEBUG records: requests-oauthlib logs request bodies and token dicts there."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


# Quieter than DEBUG by default, and filtered at the source: a filter on a logger
# holds for the records it creates even when someone turns its level (or a
# parent's) down to DEBUG.
for _name in ("requests_oauthlib", "oauthlib"):
    logging.getLogger(_name).setLevel(logging.INFO)
for _name in list(logging.Logger.manager.loggerDict):
    if _name.split(".")[0] in ("requests_oauthlib", "oauthlib"):
        logging.getLogger(_name).addFilter(_NoDebug())


class RedirectRefused(Exception):
    """The token endpoint answered a redirect; token requests never follow one."""


def _refuse_redirects(response, *args, **kwargs):
    """Response hook: raises on a 3xx before requests can follow it."""
    if 300 <= response.status_code < 400:
        raise RedirectRefused(
            f"the token endpoint answered HTTP {response.status_code}; "
            "token requests do not follow redirects"
        )
    return response


def _token_session(client_id: str, **kwargs) -> OAuth2Session:
    """An OAuth2Session that follows no redirect (TLS verification stays on)."""
    session = OAuth2Session(client_id, **kwargs)
    session.hooks["response"].append(_refuse_redirects)
    return session


@dataclasses.dataclass(frozen=True)
class OAuthClient:
    """An OAuth client registration and the endpoints it talks to.

    The secret never appears in `repr`.
    """

    client_id: str
    client_secret: str = dataclasses.field(repr=False)
    authorization_url: str = GOOGLE_AUTHORIZATION_URL
    token_url: str = GOOGLE_TOKEN_URL

    @classmethod
    def for_base_url(cls, client_id: str, client_secret: str, base_url: str) -> OAuthClient:
        """A client whose endpoints live under one base URL (the local simulator)."""
        base = base_url.rstrip("/")
        return cls(client_id, client_secret, base + "/o/oauth2/v2/auth", base + "/token")


def check_transport(*endpoints: str) -> None:
    """Refuses plain http except on loopback, where it lets oauthlib use it.

    oauthlib insists on https. The local simulator is served over plain http on
    127.0.0.1, so for loopback URLs (only) the process opts out of that check.
    Hosts are read as requests reads them (`healthapi.urls`): a URL that URL
    parsers could take for different hosts is refused before anything is sent.

    Raises:
        ValueError: for a plain-http URL that is not a loopback address, or an
            ambiguous one.
    """
    insecure, bad = False, []
    for url in endpoints:
        try:
            scheme, host, _ = urls.origin(url)
        except ValueError as err:
            raise ValueError(f"OAuth and API endpoint {urls.shown(url)!r} {err}") from None
        if scheme == "https":
            continue
        if host in urls.LOOPBACK_HOSTS:
            insecure = True
        else:
            bad.append(urls.shown(url))
    if bad:
        raise ValueError(
            "OAuth and API endpoints must use https (plain http is allowed on 127.0.0.1 "
            "only); got " + ", ".join(bad)
        )
    if insecure:
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


class _CallbackHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.callback_path = self.path
        body = b"fitbeam: authorisation received. You can close this window.\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.received.set()

    def log_message(self, format, *args):
        pass  # the callback URL carries the authorization code


class ConsentError(RuntimeError):
    """The user or the provider did not complete the consent flow."""


def authorize(
    client: OAuthClient,
    scopes: list[str],
    login_hint: str | None = None,
    open_url: Callable[[str], object] = webbrowser.open,
    timeout_seconds: float = 300.0,
) -> dict:
    """Runs Google's consent flow and returns the new token.

    Args:
        client: the OAuth client and endpoints.
        scopes: scopes to ask for.
        login_hint: account to pre-select (the simulator consents for it).
        open_url: shows the consent page to the user: a browser by default.
        timeout_seconds: how long to wait for the redirect back.

    Returns:
        The token dict (access_token, refresh_token, expires_at, scope, ...).

    Raises:
        ConsentError: on a provider error, a missing refresh token or a timeout.
    """
    server = http.server.HTTPServer(("127.0.0.1", 0), _CallbackHandler)
    server.received = threading.Event()
    server.callback_path = None
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    redirect_uri = f"http://127.0.0.1:{server.server_port}/oauth2callback"
    try:
        check_transport(client.authorization_url, client.token_url)
        session = _token_session(
            client.client_id, redirect_uri=redirect_uri, scope=scopes, pkce="S256"
        )
        url, _state = session.authorization_url(
            client.authorization_url,
            access_type="offline",
            prompt="consent",
            **({"login_hint": login_hint} if login_hint else {}),
        )
        open_url(url)
        if not server.received.wait(timeout_seconds):
            raise ConsentError(f"no answer from the consent page within {timeout_seconds} s")
        callback = urllib.parse.urljoin(redirect_uri, server.callback_path)
        error = urllib.parse.parse_qs(urllib.parse.urlsplit(callback).query).get("error")
        if error:
            raise ConsentError(f"consent was not given: {error[0]}")
        # oauthlib checks `state` against the one it sent (MismatchingStateError). The
        # loopback redirect is plain http by design (RFC 8252) and never leaves this
        # machine; oauthlib only parses it, so it is handed over as https.
        try:
            token = session.fetch_token(
                client.token_url,
                authorization_response=callback.replace("http://", "https://", 1),
                client_secret=client.client_secret,
                include_client_id=True,
            )
        except Warning as changed:
            # Google's granular consent lets users untick scopes; oauthlib raises
            # this warning with the token attached. Keep the token, report below.
            token = changed.token
    finally:
        server.server_close()
    if not token.get("refresh_token"):
        raise ConsentError("the provider issued no refresh token (offline access refused)")
    granted = set(token.get("scope") or [])
    missing = sorted(set(scopes) - granted)
    if missing:
        # Google lets users untick scopes; data needing them will answer 403.
        _LOGGER.warning("consent granted without these scopes: %s", ", ".join(missing))
    return dict(token)


def refresh(client: OAuthClient, token: dict) -> dict:
    """Exchanges the token's refresh token for a new access token.

    Raises:
        RedirectRefused: the token endpoint answered a redirect.
        oauthlib.oauth2.OAuth2Error: the token endpoint refused (`invalid_grant`, ...).
    """
    check_transport(client.token_url)
    with _token_session(client.client_id, token=token) as session:
        new = session.refresh_token(
            client.token_url,
            refresh_token=token["refresh_token"],
            client_id=client.client_id,
            client_secret=client.client_secret,
            timeout=REFRESH_TIMEOUT_SECONDS,
        )
    new = dict(new)
    # Google keeps the refresh token unless it rotates it; never drop the old one.
    new.setdefault("refresh_token", token["refresh_token"])
    return new


# What `revoke` found: the grant was live and is revoked now, or it was gone already.
REVOKED = "revoked"
ALREADY_REVOKED = "already_revoked"
REVOKE_TIMEOUT_SECONDS = 20.0
REVOKE_ATTEMPTS = 3


class RevokeFailed(Exception):
    """The revocation endpoint did not confirm; the grant may still be live.

    Attributes:
        status: the HTTP status, 0 when there was no answer.
        retriable: a network error, 429 or 5xx: trying again later may work.
    """

    def __init__(self, message: str, status: int = 0, retriable: bool = False):
        super().__init__(message)
        self.status = status
        self.retriable = retriable


def _oauth_error(response) -> str:
    """The `error` code of an OAuth error answer, or "" (the body is never shown whole)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return error[:60] if isinstance(error, str) else ""


def revoke(
    token: dict,
    revoke_url: str = GOOGLE_REVOKE_URL,
    session=None,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Revokes the grant a token belongs to, at Google's revocation endpoint.

    As Google documents it (developers.google.com/identity/protocols/oauth2,
    "Revoking a token"): a form-encoded POST of `token=...` to the endpoint; 200
    means revoked, 400 `invalid_token` that the token is expired or revoked
    already. The refresh token is sent (revoking it ends the whole grant, the
    access tokens with it), the access token when there is none. No redirect is
    followed (the body holds the token) and the token is never logged.
    Network errors, 429 and 5xx are tried `REVOKE_ATTEMPTS` times in all, 1 s and
    2 s apart.

    Args:
        token: the token dict from the store.
        revoke_url: the endpoint; the simulator's `revoke_url` locally.
        session: sends the request (`requests.Session`-like); default a new session.
        sleep: waits between attempts (injectable).

    Returns:
        `REVOKED`, or `ALREADY_REVOKED` for `invalid_token` (nothing left to end).

    Raises:
        RevokeFailed: any other answer, a redirect, or no answer; `retriable`
            says whether trying again later may work.
        ValueError: the token holds neither a refresh nor an access token, or the
            endpoint is plain http off loopback.
    """
    value = token.get("refresh_token") or token.get("access_token")
    if not isinstance(value, str) or not value:
        raise ValueError("the token holds neither a refresh token nor an access token to revoke")
    check_transport(revoke_url)
    own = session is None
    session = session or requests.Session()
    try:
        for attempt in range(1, REVOKE_ATTEMPTS + 1):
            try:
                response = session.post(
                    revoke_url,
                    data={"token": value},
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                    allow_redirects=False,
                    timeout=REVOKE_TIMEOUT_SECONDS,
                )
            except requests.RequestException as err:
                failure = RevokeFailed(
                    f"the revocation endpoint did not answer ({type(err).__name__})",
                    retriable=True,
                )
            else:
                status = response.status_code
                if status == 200:
                    return REVOKED
                error = _oauth_error(response)
                if status == 400 and error == "invalid_token":
                    return ALREADY_REVOKED
                retriable = status == 429 or status >= 500
                failure = RevokeFailed(
                    f"the revocation endpoint answered HTTP {status}"
                    + (f" {error}" if error else ""),
                    status=status,
                    retriable=retriable,
                )
            if not failure.retriable or attempt == REVOKE_ATTEMPTS:
                raise failure
            _LOGGER.warning("revoking a grant: %s; trying again (attempt %d)", failure, attempt)
            sleep(float(2 ** (attempt - 1)))
        raise AssertionError("unreachable")
    finally:
        if own:
            session.close()
