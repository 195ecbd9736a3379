"""The token broker: one place that hands out access tokens and refreshes them.

Rules it keeps, per user:

- one refresh at a time, everywhere: callers in this process that find the
  token expiring wait for the refresh under way (a lock per user), and a
  refresh holds the token store's `refresh_lock` for the user, which other
  processes (Dataflow workers, a backfill beside the streaming job) take too.
  Refresh tokens may be single-use: two refreshes from one token would revoke
  the grant;
- under that lock the stored token is read again first: when another process
  has refreshed meanwhile, its token is taken as it is and nothing is refreshed;
- the new token is stored durably before anyone uses it; when the save fails
  the new token is kept aside, and the next caller stores it before using it
  (it is never refreshed again from the old, possibly spent, refresh token);
- after a 401, the token is refreshed only if it is still the one that was
  rejected (another caller may have refreshed it already);
- a refresh starts only while most of the lock's lease is left
  (`MIN_LEASE_FOR_REFRESH_SECONDS`): a holder too slow to finish before others
  may take the lock over gives up (to retry later) instead of racing them;
- the lock failing to be had (busy, or the store failing) is a transient
  `TokenRefreshFailed`, and after a `LockTimeout` the user's refreshes fail at
  once for `BUSY_BACKOFF_SECONDS` instead of every thread waiting again;
- `invalid_grant` means the user must consent again: `NeedsConsent` is raised
  and never retried in a loop. It is remembered for `CONSENT_RECHECK_SECONDS`;
  then the store is read again, so a user who consented meanwhile (`fitbeam
  authorize`) is picked up by a running job. (When the store already holds
  another refresh token, another process rotated it: that token is taken.)
- a user with no token whose store records a withdrawal (`fitbeam forget`)
  raises `ConsentWithdrawn` instead, remembered the same way; `refuse_withdrawn`
  lets callers refuse such a user's later calls before spending any quota on
  them. The store is asked about a withdrawal only when it holds no token.

A broker is shared by every thread of a process (`shared_broker`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable

from oauthlib.oauth2.rfc6749.errors import InvalidGrantError, OAuth2Error

from healthapi.auth import oauth
from healthapi.auth.store import Lease, LockTimeout, TokenStore, token_store_from_uri

_LOGGER = logging.getLogger(__name__)

# Refresh this long before the provider's expiry, so a token never dies in flight.
EXPIRY_MARGIN_SECONDS = 120
# A refresh starts only with this much of the refresh lock's lease left: the token
# request and the save of the new token must end before others may take it over.
MIN_LEASE_FOR_REFRESH_SECONDS = 200.0
# After a user's lock could not be had, their refreshes fail at once for this long.
BUSY_BACKOFF_SECONDS = 60.0
# A user found needing consent is not asked about again for this long.
CONSENT_RECHECK_SECONDS = 600.0


class NeedsConsent(Exception):
    """The user has no usable grant: they must run the consent flow again."""

    def __init__(self, user_key: str, why: str):
        super().__init__(f"user {user_key!r} must consent again: {why}")
        self.user_key = user_key
        self.why = why


class ConsentWithdrawn(NeedsConsent):
    """The participant withdrew consent (`fitbeam forget`); nothing may be fetched for them.

    Attributes:
        withdrawn_at: when, RFC 3339 UTC, as the token store recorded it.
    """

    def __init__(self, user_key: str, withdrawn_at: str):
        super().__init__(user_key, f"consent withdrawn on {withdrawn_at}")
        self.args = (
            f"user {user_key!r}: the participant withdrew consent on {withdrawn_at}; they "
            f"must consent again with fitbeam authorize --user {user_key}",
        )
        self.withdrawn_at = withdrawn_at


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
        # user -> (why, when, the refresh token that failed or None)
        self._needs_consent: dict[str, tuple[str, float, str | None]] = {}
        # user -> when they withdrew consent (the store's record), for those found withdrawn
        self._withdrawn: dict[str, str] = {}
        self._busy_until: dict[str, float] = {}
        # user -> (refreshed token whose save failed, the refresh token it replaced)
        self._unsaved: dict[str, tuple[dict, str | None]] = {}
        self.refreshes: dict[str, int] = {}
        self.adopted: dict[str, int] = {}

    def _lock(self, user_key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(user_key, threading.Lock())

    def access_token(self, user_key: str) -> str:
        """A valid access token for the user, refreshed first if it is about to expire.

        Raises:
            NeedsConsent: no token, or the grant is gone.
            TokenRefreshFailed: the token endpoint or the store failed transiently.
        """
        with self._lock(user_key):
            token = self._current(user_key)
            if self._expiring(token):
                token = self._refresh_shared(user_key, rejected=None)
            return token["access_token"]

    def after_unauthorized(self, user_key: str, rejected_access_token: str) -> str:
        """A new access token after the API answered 401 to `rejected_access_token`."""
        with self._lock(user_key):
            token = self._current(user_key)
            if token.get("access_token") != rejected_access_token:
                return token["access_token"]  # somebody refreshed meanwhile
            return self._refresh_shared(user_key, rejected_access_token)["access_token"]

    def refuse_withdrawn(self, user_key: str) -> None:
        """Raises ConsentWithdrawn for a user found withdrawn (and not rechecked yet).

        Reads nothing: it answers from what this broker learnt, so callers can
        refuse a withdrawn user's calls before they take any quota.
        """
        when = self._withdrawn.get(user_key)
        if when is not None and user_key in self._needs_consent:
            _, since, _ = self._needs_consent[user_key]
            if self.clock() - since < CONSENT_RECHECK_SECONDS:
                raise ConsentWithdrawn(user_key, when)

    def _expiring(self, token: dict) -> bool:
        return token.get("expires_at", 0) - EXPIRY_MARGIN_SECONDS <= self.clock()

    def _current(self, user_key: str) -> dict:
        if user_key in self._needs_consent:
            self._recheck_consent(user_key)
        if user_key in self._unsaved:
            self._save_unsaved(user_key)
        token = self._tokens.get(user_key)
        if token is None:
            token = self._load(user_key)
            self._tokens[user_key] = token
        return token

    def _consent_needed(self, user_key: str, why: str, refresh_token: str | None) -> NeedsConsent:
        self._needs_consent[user_key] = (why, self.clock(), refresh_token)
        self._tokens.pop(user_key, None)
        return NeedsConsent(user_key, why)

    def _recheck_consent(self, user_key: str) -> None:
        """Raises NeedsConsent again, unless it is time to look and the store has a new grant."""
        why, since, failed = self._needs_consent[user_key]
        if self.clock() - since < CONSENT_RECHECK_SECONDS:
            if user_key in self._withdrawn:
                raise ConsentWithdrawn(user_key, self._withdrawn[user_key])
            raise NeedsConsent(user_key, why)
        del self._needs_consent[user_key]
        self._withdrawn.pop(user_key, None)
        stored = self._load(user_key)  # raises NeedsConsent (remembered again) if none
        if failed is not None and stored.get("refresh_token") == failed:
            raise self._consent_needed(user_key, why, failed)
        _LOGGER.info("user %s: a new grant is in the token store", user_key)
        self._tokens[user_key] = stored

    def _load(self, user_key: str) -> dict:
        try:
            token = self.store.load(user_key)
        except Exception as err:  # the store's own retries are spent
            raise TokenRefreshFailed(
                f"reading the token store failed: {type(err).__name__}"
            ) from err
        if not token or not token.get("refresh_token") or not token.get("access_token"):
            withdrawn_at = self._withdrawal(user_key) if not token else None
            if withdrawn_at is not None:
                _LOGGER.warning(
                    "user %s withdrew consent on %s; their calls are refused",
                    user_key,
                    withdrawn_at,
                )
                self._consent_needed(user_key, f"consent withdrawn on {withdrawn_at}", None)
                self._withdrawn[user_key] = withdrawn_at
                raise ConsentWithdrawn(user_key, withdrawn_at)
            raise self._consent_needed(user_key, "no token in the token store", None)
        return token

    def _withdrawal(self, user_key: str) -> str | None:
        """When the store says the user withdrew consent, or None (also for a store without
        withdrawals)."""
        withdrawal = getattr(self.store, "withdrawal", None)
        if withdrawal is None:
            return None
        try:
            return withdrawal(user_key)
        except Exception as err:  # the store's own retries are spent
            raise TokenRefreshFailed(
                f"reading the token store failed: {type(err).__name__}"
            ) from err

    def _refresh_shared(self, user_key: str, rejected: str | None) -> dict:
        """Refreshes under the store's lock, unless another process already has."""
        busy_until = self._busy_until.get(user_key, 0.0)
        if self.clock() < busy_until:
            raise TokenRefreshFailed(
                f"user {user_key!r}: the refresh lock was busy; trying again after "
                f"{busy_until - self.clock():.0f} s"
            )
        with contextlib.ExitStack() as held:
            try:
                lease = held.enter_context(self.store.refresh_lock(user_key))
            except LockTimeout as err:
                self._busy_until[user_key] = self.clock() + BUSY_BACKOFF_SECONDS
                raise TokenRefreshFailed(str(err)) from err
            except Exception as err:  # the store failed to lock, its retries spent
                raise TokenRefreshFailed(
                    f"taking the refresh lock failed: {type(err).__name__}"
                ) from err
            stored = self._load(user_key)
            if not self._expiring(stored) and stored["access_token"] != rejected:
                # Another process refreshed while this one held an older token.
                self._tokens[user_key] = stored
                self.adopted[user_key] = self.adopted.get(user_key, 0) + 1
                return stored
            left = lease.remaining() if isinstance(lease, Lease) else math.inf
            if left < MIN_LEASE_FOR_REFRESH_SECONDS:
                # The store was slow: a refresh now might end after others may take
                # the lock over, and they would spend the same refresh token.
                raise TokenRefreshFailed(
                    f"user {user_key!r}: only {left:.0f} s of the refresh lease left"
                )
            return self._do_refresh(user_key, stored)

    def _do_refresh(self, user_key: str, token: dict) -> dict:
        try:
            new = self._refresh(self.client, token)
        except InvalidGrantError as err:
            stored = self._load(user_key)
            if stored.get("refresh_token") != token.get("refresh_token"):
                # Rotated by a process that held the lock past its lease: use its token.
                _LOGGER.warning("user %s: refresh token was rotated elsewhere; using it", user_key)
                self._tokens[user_key] = stored
                return stored if not self._expiring(stored) else self._do_refresh(user_key, stored)
            _LOGGER.warning("user %s: refresh token rejected; consent needed", user_key)
            why = f"invalid_grant ({err.description or 'revoked'})"
            raise self._consent_needed(user_key, why, token.get("refresh_token")) from err
        except OAuth2Error as err:
            # invalid_client and similar: configuration, not the user's grant.
            raise TokenRefreshFailed(f"token endpoint refused the refresh: {err.error}") from err
        except Exception as err:  # network errors, 5xx surfaced by requests
            raise TokenRefreshFailed(f"token refresh failed: {type(err).__name__}") from err
        self.refreshes[user_key] = self.refreshes.get(user_key, 0) + 1
        self._save(user_key, new, spent=token.get("refresh_token"))
        if self.on_refresh:
            self.on_refresh(user_key)
        return new

    def _save(self, user_key: str, new: dict, spent: str | None) -> None:
        """Stores a refreshed token durably, then hands it out.

        Raises:
            TokenRefreshFailed: the store failed; the token waits in `_unsaved`.
        """
        try:
            self.store.save(user_key, new)
        except Exception as err:
            # A rotated refresh token lives only here now: keep it, never refresh again
            # from the old one, and store it before anyone uses it.
            self._unsaved[user_key] = (new, spent)
            self._tokens.pop(user_key, None)
            _LOGGER.error(
                "user %s: the refreshed token could not be stored (%s); it is kept in "
                "memory and stored before its first use",
                user_key,
                type(err).__name__,
            )
            raise TokenRefreshFailed(
                f"the refreshed token could not be stored: {type(err).__name__}"
            ) from err
        self._unsaved.pop(user_key, None)
        self._tokens[user_key] = new

    def _save_unsaved(self, user_key: str) -> None:
        """Stores a token whose save failed, under the lock, unless the store moved on.

        Raises:
            TokenRefreshFailed: the lock or the store failed again.
        """
        new, spent = self._unsaved[user_key]
        try:
            with self.store.refresh_lock(user_key):
                stored = self._load(user_key)
                if stored.get("refresh_token") not in (spent, new.get("refresh_token")):
                    # Someone consented again since: their grant wins.
                    del self._unsaved[user_key]
                    self._tokens[user_key] = stored
                    return
                self._save(user_key, new, spent)
        except (NeedsConsent, TokenRefreshFailed):
            raise
        except Exception as err:  # the lock could not be had
            raise TokenRefreshFailed(
                f"storing the refreshed token failed: {type(err).__name__}"
            ) from err


def broker_for(token_store_uri: str, token_url: str) -> TokenBroker:
    """A broker over the store a URI names, refreshing with the OAuth client kept there.

    Raises:
        ValueError: a bad URI, or no OAuth client in the store (the message says how
            to store one).
    """
    store = token_store_from_uri(token_store_uri)
    client_id, client_secret = store.load_client()
    return TokenBroker(store, oauth.OAuthClient(client_id, client_secret, token_url=token_url))


_SHARED: dict[tuple, TokenBroker] = {}
_SHARED_LOCK = threading.Lock()


def shared_broker(key: tuple, factory: Callable[[], TokenBroker]) -> TokenBroker:
    """The process-wide broker for `key` (store location and client), made once."""
    with _SHARED_LOCK:
        broker = _SHARED.get(key)
        if broker is None:
            broker = _SHARED[key] = factory()
        return broker
