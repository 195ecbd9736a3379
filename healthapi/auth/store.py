"""Where users' OAuth tokens live between runs: the contract every store keeps.

A token store maps a fitbeam user key to that user's token dict (as
requests-oauthlib returns it: access_token, refresh_token, expires_at, scope,
token_type). Writes are durable before they return: a refresh token that was
rotated by the provider and then lost would force the user to consent again.

Stores are chosen by URI (`token_store_from_uri`):

- `file:///abs/dir` or a plain path: `healthapi.auth.file_store`, one JSON file
  per user.
- `secretmanager://PROJECT/PREFIX`: `healthapi.auth.secret_manager_store`, one
  secret per user in Google Secret Manager.

Token contents are never logged, and `repr` of a store shows only its location.

Every store also offers `refresh_lock(user_key)`, a lock across processes
that the token broker holds while it refreshes a user's token, so that
workers and concurrent jobs never spend the same refresh token twice. The
lock yields a `Lease` that says how long it still holds (a Secret Manager
lease runs out; a file lock does not), so that a holder never starts a
refresh it might not finish in time. A lock not had within
`LOCK_WAIT_SECONDS` raises `LockTimeout`.

Consent withdrawal (`fitbeam forget`): `delete(user_key)` removes a user's
token; `mark_withdrawn(user_key, when)` deletes it too and leaves a tombstone
that holds only the time consent was withdrawn (RFC 3339, UTC), named by the
SHA-256 of the user key (`key_digest`) so that the store keeps no trace of the
key itself; `withdrawal(user_key)` reads it back (None: not withdrawn). A
token saved later (the participant consents again) clears the tombstone, and a
tombstone found beside a token is stale: the token wins.

Example:

    store = token_store_from_uri("secretmanager://my-project/fitbeam")
    store.save("participant-017", token)
    assert store.load("participant-017") == token
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import logging
import math
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Protocol

_LOGGER = logging.getLogger(__name__)

# Matched whole (fullmatch): `$` would also accept a trailing newline, which would then
# name a file and a secret.
_USER_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# urllib.parse drops tabs and line breaks from a URL, so a URI holding one would be read
# as another; refused instead.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_user_key(user_key: str) -> str:
    """Returns the key if it is a safe user key.

    Raises:
        ValueError: naming the bad key and the allowed form.
    """
    if not isinstance(user_key, str) or not _USER_KEY.fullmatch(user_key):
        raise ValueError(
            f"invalid user key {str(user_key)[:40]!r}: use 1-128 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit, e.g. 'participant-017'"
        )
    return user_key


def key_digest(user_key: str) -> str:
    """The SHA-256 of a user key, hex: what names a withdrawn user's tombstone.

    Whoever knows the key can compute it (`sha256sum` of the key without a
    newline) and find the tombstone or an audit record; it is not a secret, and
    a short key is easily guessed from it. It keeps the key itself out of the
    store after the participant is forgotten.
    """
    return hashlib.sha256(check_user_key(user_key).encode("utf-8")).hexdigest()


WITHDRAWN_EXAMPLE = "2026-12-06T10:58:34Z"


def check_withdrawal_time(when: str) -> str:
    """Returns `when` if it is an RFC 3339 UTC time such as 2026-12-06T10:58:34Z.

    Raises:
        ValueError: naming the value and a good example.
    """
    moment = None
    if isinstance(when, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", when):
        try:
            moment = dt.datetime.fromisoformat(when[:-1][:26] + "+00:00")
        except ValueError:
            moment = None
    if moment is None:
        raise ValueError(
            f"withdrawal time {str(when)[:40]!r} is not an RFC 3339 UTC time; "
            f"e.g. {WITHDRAWN_EXAMPLE}"
        )
    return when


def withdrawal_record(when: str) -> dict:
    """What a tombstone holds: the withdrawal time, nothing else."""
    return {"withdrawn_at": check_withdrawal_time(when)}


def withdrawal_time(record: dict | None) -> str | None:
    """The withdrawal time a tombstone holds, or None for none or a malformed one."""
    if not isinstance(record, dict):
        return None
    when = record.get("withdrawn_at")
    try:
        return check_withdrawal_time(when)
    except ValueError:
        return None


# The longest a refresh may hold a user's lock before others may take it over, and
# the longest anyone waits for it. Under the lock come a read of the token, one token
# request and one save; with Secret Manager's retries each store call can take a few
# minutes at worst, so the broker starts a refresh only while most of the lease is
# left (healthapi.auth.broker.MIN_LEASE_FOR_REFRESH_SECONDS).
LEASE_SECONDS = 300.0
LOCK_WAIT_SECONDS = 330.0
# Waiting for someone else's lock: polls back off from 0.5 s to 5 s (jittered), so
# waiters stay far below Secret Manager's per-project read quota.
_LOCK_POLL_FIRST_SECONDS = 0.5
_LOCK_POLL_MAX_SECONDS = 5.0


def _poll_delays(rand: Callable[[], float]) -> Iterator[float]:
    delay = _LOCK_POLL_FIRST_SECONDS
    while True:
        yield delay * (0.5 + rand())
        delay = min(delay * 1.5, _LOCK_POLL_MAX_SECONDS)


@dataclasses.dataclass(frozen=True)
class Lease:
    """A held refresh lock: until when it holds (epoch seconds; inf until released)."""

    expires_at: float = math.inf
    clock: Callable[[], float] = time.time

    def remaining(self) -> float:
        """Seconds before others may take the lock over."""
        return self.expires_at - self.clock()


class LockTimeout(Exception):
    """A user's refresh lock was held by someone else for longer than the wait allows."""


class TokenStore(Protocol):
    def load(self, user_key: str) -> dict | None: ...

    def save(self, user_key: str, token: dict) -> None:
        """Stores the token durably; clears a withdrawal (the user consented again)."""

    def delete(self, user_key: str) -> bool:
        """Removes the user's token; True if there was one."""

    def mark_withdrawn(self, user_key: str, when: str) -> None:
        """Deletes the user's token and records the RFC 3339 time consent was withdrawn."""

    def withdrawal(self, user_key: str) -> str | None:
        """When the user withdrew consent (RFC 3339), or None: not withdrawn, or consented
        again since."""

    def refresh_lock(self, user_key: str) -> contextlib.AbstractContextManager[Lease]: ...

    def load_client(self) -> tuple[str, str]: ...

    def save_client(self, client_id: str, client_secret: str) -> None: ...


CLOUD_STORE_EXAMPLE = "secretmanager://my-project/fitbeam"
FILE_STORE_EXAMPLE = "file:///var/fitbeam/tokens"


def check_no_control(uri: str, example: str) -> str:
    """Returns the URI if it holds no control character (a tab or line break, say).

    Raises:
        ValueError: naming the URI and a good example.
    """
    if _CONTROL.search(uri):
        raise ValueError(f"token store URI {uri[:80]!r} holds a control character; e.g. {example}")
    return uri


def token_store_from_uri(uri: str) -> TokenStore:
    """Builds the token store a URI names (see the module docstring for the forms).

    Nothing is read or written: the store connects on first use.

    Raises:
        ValueError: for an unsupported scheme or a malformed URI, with an example
            of a good one.
    """
    example = CLOUD_STORE_EXAMPLE if uri.startswith("secretmanager:") else FILE_STORE_EXAMPLE
    parsed = urllib.parse.urlsplit(check_no_control(uri, example))
    if parsed.scheme == "secretmanager":
        # Imported here: the Secret Manager client is slow to import and only some runs use it.
        from healthapi.auth.secret_manager_store import SecretManagerTokenStore

        return SecretManagerTokenStore.from_uri(uri)
    if parsed.scheme in ("", "file"):
        path = parsed.path if parsed.scheme == "file" else uri
        if not path:
            raise ValueError(
                f"token store URI {uri[:80]!r} has no path; e.g. file:///var/fitbeam/tokens"
            )
        from healthapi.auth.file_store import LocalFileTokenStore

        return LocalFileTokenStore(path)
    raise ValueError(
        f"unsupported token store {uri[:80]!r}; use a directory such as "
        f"file:///var/fitbeam/tokens, or Secret Manager such as {CLOUD_STORE_EXAMPLE}"
    )
