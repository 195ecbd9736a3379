"""The token broker: one place that hands out access tokens and refreshes them.

Rules it keeps, per user:

- one refresh at a time: callers that find the token expiring wait for the
  refresh under way instead of starting their own (refresh tokens may be
  single-use; two refreshes from one token would revoke the grant);
- the new token is stored durably before anyone uses it;
- after a 401, the token is refreshed only if it is still the one that was
  rejected (another caller may have refreshed it already);
- `invalid_grant` means the user must consent again: `NeedsConsent` is raised,
  remembered for the run, and never retried in a loop.

A broker is shared by every thread of a process (`shared_broker`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from oauthlib.oauth2.rfc6749.errors import InvalidGrantError, OAuth2Error

from transforms import oauth
from transforms.token_store import TokenStore

_LOGGER = logging.getLogger(__name__)

# Refresh this long before the provider's expiry, so a token never dies in flight.
EXPIRY_MARGIN_SECONDS = 120


class NeedsConsent(Exception):
    """The user has no usable grant: they must run the consent flow again."""

    def __init__(self, user_key: str, why: str):
        super().__init__(f"user {user_key!r} must consent again: {why}")
        self.user_key = user_key
        self.why = why


class TokenRefreshFailed(Exception):
    """The token endpoint failed in a way that may pass (5xx, network)."""


class TokenBroker:
    """Access tokens for many users from one token store.

    Args:
        store: where tokens live.
        client: the OAuth client used to refresh.
        clock: epoch seconds, injectable.
        refresh: `(client, token) -> new token`, injectable for tests.
        on_refresh: called with the user key after each successful refresh.
    """

    def __init__(
        self,
        store: TokenStore,
        client: oauth.OAuthClient,
        clock: Callable[[], float] = time.time,
        refresh: Callable[[oauth.OAuthClient, dict], dict] = oauth.refresh,
        on_refresh: Callable[[str], None] | None = None,
    ):
        self.store = store
        self.client = client
        self.clock = clock
        self._refresh = refresh
        self.on_refresh = on_refresh
        self._tokens: dict[str, dict] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._needs_consent: dict[str, str] = {}
        self.refreshes: dict[str, int] = {}

    def _lock(self, user_key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(user_key, threading.Lock())

    def access_token(self, user_key: str) -> str:
        """A valid access token for the user, refreshed first if it is about to expire.

        Raises:
            NeedsConsent: no token, or the grant is gone.
            TokenRefreshFailed: the token endpoint failed transiently.
        """
        with self._lock(user_key):
            token = self._current(user_key)
            if token.get("expires_at", 0) - EXPIRY_MARGIN_SECONDS <= self.clock():
                token = self._do_refresh(user_key, token)
            return token["access_token"]

    def after_unauthorized(self, user_key: str, rejected_access_token: str) -> str:
        """A new access token after the API answered 401 to `rejected_access_token`."""
        with self._lock(user_key):
            token = self._current(user_key)
            if token.get("access_token") != rejected_access_token:
                return token["access_token"]  # somebody refreshed meanwhile
            return self._do_refresh(user_key, token)["access_token"]

    def _current(self, user_key: str) -> dict:
        if user_key in self._needs_consent:
            raise NeedsConsent(user_key, self._needs_consent[user_key])
        token = self._tokens.get(user_key)
        if token is None:
            token = self.store.load(user_key)
            if not token or not token.get("refresh_token"):
                self._needs_consent[user_key] = "no token in the token store"
                raise NeedsConsent(user_key, self._needs_consent[user_key])
            self._tokens[user_key] = token
        return token

    def _do_refresh(self, user_key: str, token: dict) -> dict:
        try:
            new = self._refresh(self.client, token)
        except InvalidGrantError as err:
            self._needs_consent[user_key] = f"invalid_grant ({err.description or 'revoked'})"
            _LOGGER.warning("user %s: refresh token rejected; consent needed", user_key)
            raise NeedsConsent(user_key, self._needs_consent[user_key]) from err
        except OAuth2Error as err:
            # invalid_client and similar: configuration, not the user's grant.
            raise TokenRefreshFailed(f"token endpoint refused the refresh: {err.error}") from err
        except Exception as err:  # network errors, 5xx surfaced by requests
            raise TokenRefreshFailed(f"token refresh failed: {type(err).__name__}") from err
        # Durable first: a rotated refresh token that is not stored is lost for good.
        self.store.save(user_key, new)
        self._tokens[user_key] = new
        self.refreshes[user_key] = self.refreshes.get(user_key, 0) + 1
        if self.on_refresh:
            self.on_refresh(user_key)
        return new


_SHARED: dict[tuple, TokenBroker] = {}
_SHARED_LOCK = threading.Lock()


def shared_broker(key: tuple, factory: Callable[[], TokenBroker]) -> TokenBroker:
    """The process-wide broker for `key` (store location and client), made once."""
    with _SHARED_LOCK:
        broker = _SHARED.get(key)
        if broker is None:
            broker = _SHARED[key] = factory()
        return broker
