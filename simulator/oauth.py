"""Google OAuth 2.0 as a client meets it, for synthetic users.

- Authorization endpoint: auto-consents for the synthetic user named by
  `login_hint`, checks client id, loopback redirect URI, response type, scopes
  and PKCE, and redirects back with a single-use code and the echoed `state`.
- Token endpoint: `authorization_code` (redirect URI and PKCE verifier checked)
  and `refresh_token` grants; client authentication by form fields or HTTP
  Basic. Access tokens live 3600 s of simulator time.
- Refresh tokens are reusable, as with Google. With `rotating=True` they are
  single-use and rotate as legacy Fitbit's did: each refresh returns a new one,
  and presenting an already-rotated one revokes the whole grant (`invalid_grant`).
- Revocation endpoint: revokes the grant a token belongs to.

Tokens are random, opaque and held only in memory.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import secrets
import threading
import urllib.parse
from collections.abc import Callable

from simulator.catalog import KNOWN_SCOPES

ACCESS_TOKEN_SECONDS = 3600
CODE_SECONDS = 600


class OAuthError(Exception):
    """An OAuth error response: `error` code, description and HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclasses.dataclass
class Grant:
    """What a user consented to for a client; tokens of the grant die with it."""

    grant_id: str
    user_id: str
    scopes: tuple[str, ...]
    revoked: bool = False


@dataclasses.dataclass
class AccessToken:
    grant: Grant
    expires_at: float
    scopes: tuple[str, ...]


@dataclasses.dataclass
class RefreshToken:
    grant: Grant
    rotated: bool = False


@dataclasses.dataclass
class _Code:
    client_id: str
    redirect_uri: str
    user_id: str
    scopes: tuple[str, ...]
    challenge: str | None
    challenge_method: str | None
    offline: bool
    expires_at: float


def _is_loopback(uri: str) -> bool:
    parsed = urllib.parse.urlsplit(uri)
    return parsed.scheme == "http" and parsed.hostname in ("127.0.0.1", "localhost", "::1")


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


class AuthServer:
    """In-memory state of the simulated Google authorization server.

    Args:
        client_id, client_secret: the one registered OAuth client.
        users: known synthetic user ids.
        now: the simulator clock (epoch seconds).
        rotating: single-use rotating refresh tokens (legacy Fitbit behaviour).
        denied_scopes: per user, scopes the user leaves unticked on the consent screen.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        users: set[str],
        now: Callable[[], float],
        rotating: bool = False,
        denied_scopes: dict[str, set[str]] | None = None,
    ):
        self.client_id = client_id
        self._client_secret = client_secret
        self.users = users
        self.now = now
        self.rotating = rotating
        self.denied_scopes = denied_scopes or {}
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, RefreshToken] = {}
        self._issued_codes: list[str] = []  # codes are dropped when used; tests want them all
        self._lock = threading.Lock()
        self.refreshes_by_user: dict[str, int] = {}
        self.invalid_grants = 0

    # -- authorization endpoint --------------------------------------------

    def authorize(self, params: dict[str, str]) -> str:
        """Handles an authorization request; returns the redirect URL.

        Raises:
            OAuthError: for errors Google shows on its own page (bad client or
                redirect URI); errors it reports to the client come back in
                the redirect URL instead.
        """
        if params.get("client_id") != self.client_id:
            raise OAuthError("invalid_client", "The OAuth client was not found.", 401)
        redirect_uri = params.get("redirect_uri", "")
        if not _is_loopback(redirect_uri):
            raise OAuthError(
                "redirect_uri_mismatch",
                "The redirect URI must be a loopback address (http://127.0.0.1:PORT/...).",
            )
        state = params.get("state")

        def back(**fields: str) -> str:
            if state is not None:
                fields["state"] = state
            sep = "&" if urllib.parse.urlsplit(redirect_uri).query else "?"
            return redirect_uri + sep + urllib.parse.urlencode(fields)

        if params.get("response_type") != "code":
            return back(error="unsupported_response_type")
        scopes = tuple(params.get("scope", "").split())
        if not scopes or any(s not in KNOWN_SCOPES for s in scopes):
            return back(error="invalid_scope")
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method")
        if challenge is not None and (method or "plain") not in ("S256", "plain"):
            return back(error="invalid_request", error_description="bad code_challenge_method")
        if method is not None and challenge is None:
            return back(error="invalid_request", error_description="code_challenge missing")
        user_id = params.get("login_hint")
        if user_id not in self.users:
            return back(error="access_denied")
        denied = self.denied_scopes.get(user_id, set())
        granted = tuple(s for s in scopes if not any(s.endswith(d) for d in denied))
        code = "sim-code-" + secrets.token_urlsafe(24)
        with self._lock:
            self._issued_codes.append(code)
            self._codes[code] = _Code(
                client_id=self.client_id,
                redirect_uri=redirect_uri,
                user_id=user_id,
                scopes=granted,
                challenge=challenge,
                challenge_method=(method or "plain") if challenge else None,
                offline=params.get("access_type") == "offline",
                expires_at=self.now() + CODE_SECONDS,
            )
        return back(code=code, scope=" ".join(granted))

    # -- token endpoint -----------------------------------------------------

    def _check_client(self, form: dict[str, str], basic: tuple[str, str] | None) -> None:
        client_id, secret = basic or (form.get("client_id"), form.get("client_secret"))
        if client_id != self.client_id or not secrets.compare_digest(
            str(secret or ""), self._client_secret
        ):
            raise OAuthError("invalid_client", "Unauthorized", 401)

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> dict:
        """Handles a token request; returns the JSON response body.

        Raises:
            OAuthError: with Google's error codes (invalid_client, invalid_grant, ...).
        """
        self._check_client(form, basic)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange_code(form)
        if grant_type == "refresh_token":
            return self._refresh_grant(form)
        raise OAuthError("unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _issue_access(self, grant: Grant) -> dict:
        token = "sim-at-" + secrets.token_urlsafe(32)
        self._access[token] = AccessToken(grant, self.now() + ACCESS_TOKEN_SECONDS, grant.scopes)
        return {
            "access_token": token,
            "expires_in": ACCESS_TOKEN_SECONDS - 1,
            "scope": " ".join(grant.scopes),
            "token_type": "Bearer",
        }

    def _issue_refresh(self, grant: Grant) -> str:
        token = "sim-rt-" + secrets.token_urlsafe(32)
        self._refresh[token] = RefreshToken(grant)
        return token

    def _exchange_code(self, form: dict[str, str]) -> dict:
        with self._lock:
            code = self._codes.pop(form.get("code", ""), None)
            if code is None or code.expires_at < self.now():
                self.invalid_grants += 1
                raise OAuthError("invalid_grant", "Malformed auth code.")
            if form.get("redirect_uri") != code.redirect_uri:
                raise OAuthError("redirect_uri_mismatch", "Bad Request")
            if code.challenge is not None:
                verifier = form.get("code_verifier")
                if not verifier:
                    raise OAuthError("invalid_grant", "Missing code verifier.")
                expected = _s256(verifier) if code.challenge_method == "S256" else verifier
                if not secrets.compare_digest(expected, code.challenge):
                    raise OAuthError("invalid_grant", "Invalid code verifier.")
            grant = Grant("g-" + secrets.token_hex(8), code.user_id, code.scopes)
            body = self._issue_access(grant)
            if code.offline:
                body["refresh_token"] = self._issue_refresh(grant)
            return body

    def _refresh_grant(self, form: dict[str, str]) -> dict:
        with self._lock:
            held = self._refresh.get(form.get("refresh_token", ""))
            if held is None or held.grant.revoked:
                self.invalid_grants += 1
                raise OAuthError("invalid_grant", "Token has been expired or revoked.")
            if held.rotated:
                # A rotated token presented again: treat the grant as stolen.
                held.grant.revoked = True
                self.invalid_grants += 1
                raise OAuthError("invalid_grant", "Refresh token was already used.")
            user = held.grant.user_id
            self.refreshes_by_user[user] = self.refreshes_by_user.get(user, 0) + 1
            body = self._issue_access(held.grant)
            if self.rotating:
                held.rotated = True
                body["refresh_token"] = self._issue_refresh(held.grant)
            return body

    # -- revocation and token checks -------------------------------------------

    def revoke(self, token: str) -> None:
        """Revokes the grant of an access or refresh token.

        Raises:
            OAuthError: `invalid_token` when the token is unknown.
        """
        with self._lock:
            held = self._access.get(token) or self._refresh.get(token)
            if held is None:
                raise OAuthError("invalid_token", "Token expired or revoked")
            held.grant.revoked = True

    def check_access(self, token: str) -> AccessToken | str:
        """The live access token, or why it is not: 'unknown', 'expired' or 'revoked'."""
        held = self._access.get(token)
        if held is None:
            return "unknown"
        if held.grant.revoked:
            return "revoked"
        if held.expires_at <= self.now():
            return "expired"
        return held

    def user_of(self, token: str) -> str | None:
        """The user an access token, refresh token or code was issued for, live or not."""
        with self._lock:
            held = self._access.get(token) or self._refresh.get(token)
            if held is not None:
                return held.grant.user_id
            code = self._codes.get(token)
            return code.user_id if code else None

    def issued_secrets(self) -> frozenset[str]:
        """Every access token, refresh token and code ever issued, and the client secret.

        For leak tests: none of these may show in a client's logs or outputs.
        """
        with self._lock:
            return frozenset(
                [*self._access, *self._refresh, *self._issued_codes, self._client_secret]
            )

    def expire_all_access_tokens(self) -> None:
        """Makes every access token expired now (for refresh-race tests)."""
        with self._lock:
            now = self.now()
            for held in self._access.values():
                held.expires_at = min(held.expires_at, now)
