"""The Secret Manager token store: one secret per user, for Dataflow and teams.

`secretmanager://PROJECT/PREFIX` in `--token_store`. Each user's token is the
latest version of secret `PREFIX-user-KEY` (KEY with `_` written `_5F` and `.`
written `_2E`); each save adds a version and then destroys the older enabled
ones (Secret Manager bills every version that is not destroyed, and a daily
refresh adds one a day). The OAuth client is secret `PREFIX-oauth-client`.
`?endpoint=http://127.0.0.1:PORT` points it at a local fake or emulator (plain
http only on a loopback address; https anywhere).

The refresh lock is a lease written into the secret's annotations with its
etag (compare-and-swap), which lapses after `LEASE_SECONDS` if its holder dies.
See `healthapi.auth.store` for the contract.

Consent withdrawal: `delete` deletes the user's secret (every version, and its
name); `mark_withdrawn` deletes it and keeps a tombstone, the small secret
`PREFIX-user-_withdrawn_<sha256 of the key>` holding `{"withdrawn_at": "<RFC
3339 time>"}`. Its name starts with `PREFIX-user-`, so the workers' token grants
(deploy/terraform/iam.tf) let them read it, yet it is no user's secret: an encoded
user key never starts with `_`. It names no key, so after `fitbeam forget` no secret
of the store does. A save that has to create the user's secret (the first after a
withdrawal) deletes the tombstone.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import random
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import requests
from google.api_core import exceptions as google_errors

from healthapi import urls
from healthapi.auth.store import (
    CLOUD_STORE_EXAMPLE,
    LEASE_SECONDS,
    LOCK_WAIT_SECONDS,
    Lease,
    LockTimeout,
    _poll_delays,
    check_no_control,
    check_user_key,
    key_digest,
    withdrawal_record,
    withdrawal_time,
)
from healthapi.retry import RetryPolicy, Verdict

_LOGGER = logging.getLogger(__name__)

SECRET_LABELS = {"app": "fitbeam"}
USER_INFIX = "-user-"
# After USER_INFIX: an encoded user key starts with a letter or digit, never '_'.
WITHDRAWN_INFIX = "_withdrawn_"
CLIENT_SUFFIX = "-oauth-client"

# Names are matched whole (fullmatch): `$` would also accept a trailing newline.
_PROJECT = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,99}")
_MAX_SECRET_ID = 255
# Secret ids allow [A-Za-z0-9_-] only. '_' always starts an escape, so decoding is unambiguous.
_ESCAPES = {"_": "_5F", ".": "_2E"}
_UNESCAPES = {v: k for k, v in _ESCAPES.items()}
_ENCODED_KEY = re.compile(r"(?:[A-Za-z0-9-]|_5F|_2E)+")
_USER_INFIX_IN_PREFIX = re.compile(r"-user(-|$)")

# Retried: the service or the network failed in a way that may pass. Through REST
# a 504 is GatewayTimeout and a 429 TooManyRequests; through gRPC the same failures
# are their subclasses DeadlineExceeded and ResourceExhausted.
_TRANSIENT = (
    google_errors.InternalServerError,
    google_errors.BadGateway,
    google_errors.ServiceUnavailable,
    google_errors.GatewayTimeout,
    google_errors.TooManyRequests,
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
SECRET_MANAGER_RETRY = RetryPolicy(max_attempts=5, base_delay_seconds=0.5, max_delay_seconds=8.0)
_CALL_TIMEOUT_SECONDS = 30.0


def encode_user_key(user_key: str) -> str:
    """The secret-id form of a user key: `_` becomes `_5F` and `.` becomes `_2E`.

    Raises:
        ValueError: for a key that is not a valid user key.
    """
    return "".join(_ESCAPES.get(c, c) for c in check_user_key(user_key))


def decode_user_key(encoded: str) -> str:
    """The user key that `encode_user_key` turned into `encoded`.

    Raises:
        ValueError: when `encoded` is not the output of `encode_user_key`.
    """
    if not isinstance(encoded, str) or not _ENCODED_KEY.fullmatch(encoded):
        raise ValueError(
            f"{str(encoded)[:60]!r} is not an encoded user key: use letters, digits, '-', "
            "'_5F' or '_2E', e.g. 'participant_5F017'"
        )
    key = re.sub("_5F|_2E", lambda m: _UNESCAPES[m.group()], encoded)
    return check_user_key(key)


def _check_project(project: str) -> str:
    if not isinstance(project, str) or not _PROJECT.fullmatch(project):
        raise ValueError(
            f"invalid Google Cloud project id {str(project)[:40]!r} in the token store: use "
            "6-30 lowercase letters, digits or '-', starting with a letter and not ending "
            f"with '-', e.g. {CLOUD_STORE_EXAMPLE}"
        )
    return project


def _check_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise ValueError(
            f"invalid secret prefix {str(prefix)[:40]!r} in the token store: use 1-100 letters, "
            f"digits, '_' or '-', starting with a letter, e.g. {CLOUD_STORE_EXAMPLE}"
        )
    if _USER_INFIX_IN_PREFIX.search(prefix):
        # fitbeam-user-x-user-KEY would be both store fitbeam-user-x's secret for KEY and
        # store fitbeam's for x-user-KEY (and inside fitbeam's IAM grants, iam.tf).
        raise ValueError(
            f"invalid secret prefix {prefix[:40]!r} in the token store: it may not hold "
            f"'{USER_INFIX}' nor end with '{USER_INFIX[:-1]}', which would make its secrets "
            f"those of another prefix's users, e.g. {CLOUD_STORE_EXAMPLE}"
        )
    return prefix


def _check_endpoint(endpoint: str) -> str:
    """The endpoint without a trailing slash, if it is https, or http on loopback."""
    bad = ValueError(
        f"invalid Secret Manager endpoint {urls.shown(endpoint)!r} in the token store: use "
        "https://HOST[:PORT], or http:// on a loopback address (127.0.0.1, localhost or ::1), "
        f"e.g. {CLOUD_STORE_EXAMPLE}?endpoint=http://127.0.0.1:8085"
    )
    try:
        # Read as the HTTP library reads it; an ambiguous URL is refused. Plain http only
        # where nobody else can listen in: a fake or emulator on this host.
        checked = urls.check_endpoint(endpoint)
    except ValueError:
        raise bad from None
    if urllib.parse.urlsplit(endpoint).path not in ("", "/"):
        raise bad
    return checked


def _rpc_status(err: google_errors.GoogleAPICallError) -> str:
    """The canonical status name ("FAILED_PRECONDITION") of an API error.

    gRPC errors carry it as a code; REST errors only in the JSON body, since
    the REST transport maps each HTTP code to one class (every 400 is a
    BadRequest, every 409 a Conflict).
    """
    if err.grpc_status_code is not None:
        return err.grpc_status_code.name
    try:
        return str(err.response.json()["error"]["status"])
    except Exception:  # no response, or not Google's error shape
        return ""


def _version_number(version_name: str) -> int:
    return int(version_name.rsplit("/", 1)[1])


class SecretManagerTokenStore:
    """Tokens in Google Secret Manager, one secret per user, one version per save.

    A save adds a version to `PREFIX-user-KEY` (creating the secret on first
    use, with automatic replication and the label app=fitbeam) and, only once
    that version is stored, destroys the older enabled versions: the latest
    version is always the current token, the old refresh tokens are gone, and
    a user's secret costs one version however often it is refreshed (every
    version not destroyed is billed, disabled ones too). Destroying is tidying
    up; when it fails the save still stands and a warning is logged. Versions
    someone disabled by hand are left alone. The OAuth client is kept the same way in
    `PREFIX-oauth-client`, as JSON `{"client_id": ..., "client_secret": ...}`.

    Calls go through the REST transport, with or without an endpoint, so that
    what the tests exercise against the local fake is what runs in production.
    The client is made on first use and never pickled: Beam pickles the DoFns
    that name a store, and each worker makes its own client.

    Retry policy: 500, 502, 503, 504 and 429 answers, connection errors and
    timeouts are retried with jittered exponential backoff (`policy`: by
    default 5 attempts in all, waits of at most 0.5 s, 1 s, 2 s and 4 s); other
    errors propagate at once. The client library's own retries are turned off,
    so that waits go through `sleep`.

    Refresh lock: a lease in the user's secret's annotations
    (`fitbeam-refresh-lease: "<lease id> <expiry, epoch seconds>"`), written
    with the etag the secret was read with, so that of two processes taking
    it at once one succeeds and the other sees FAILED_PRECONDITION and reads
    again. A live lease held by another is waited for (polled with jitter); one
    past its expiry is taken over. Releasing removes it, with the etag too.

    Args:
        project: the Google Cloud project id.
        prefix: starts the name of every secret of this store.
        endpoint: `https://HOST[:PORT]`, or `http://` on loopback, for a fake or
            an emulator; None for Google's. With an endpoint the client sends no
            credentials: the worker's Google credentials never go to a host
            named in a URI.
        sleep: waits between attempts (injectable).
        policy: how often and how long to retry.
        rand: a number in [0, 1) for the jitter (injectable).
        clock: epoch seconds, for lease expiry (injectable).
        lease_seconds: how long a refresh lease lasts if its holder never releases it.
        wait_seconds: how long `refresh_lock` waits for another holder's lease.

    Raises:
        ValueError: for an invalid project, prefix or endpoint.
    """

    def __init__(
        self,
        project: str,
        prefix: str,
        endpoint: str | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        policy: RetryPolicy = SECRET_MANAGER_RETRY,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
        lease_seconds: float = LEASE_SECONDS,
        wait_seconds: float = LOCK_WAIT_SECONDS,
    ):
        self.project = _check_project(project)
        self.prefix = _check_prefix(prefix)
        self.endpoint = None if endpoint is None else _check_endpoint(endpoint)
        self.sleep = sleep
        self.policy = policy
        self.rand = rand
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.wait_seconds = wait_seconds
        self._client: Any = None
        self._client_lock = threading.Lock()

    @classmethod
    def from_uri(cls, uri: str, **kwargs) -> SecretManagerTokenStore:
        """The store `secretmanager://PROJECT/PREFIX[?endpoint=URL]` names.

        Raises:
            ValueError: naming what is wrong, with an example of a good URI.
        """
        parsed = urllib.parse.urlsplit(check_no_control(uri, CLOUD_STORE_EXAMPLE))
        if parsed.scheme != "secretmanager" or parsed.fragment:
            raise ValueError(
                f"token store URI {uri[:80]!r} is not secretmanager://PROJECT/PREFIX, "
                f"e.g. {CLOUD_STORE_EXAMPLE}"
            )
        prefix = parsed.path[1:] if parsed.path.startswith("/") else parsed.path
        if "/" in prefix:
            raise ValueError(
                f"token store URI {uri[:80]!r} has more than one path segment: use "
                f"secretmanager://PROJECT/PREFIX, e.g. {CLOUD_STORE_EXAMPLE}"
            )
        options = urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)
        names = [name for name, _ in options]
        if any(name != "endpoint" for name in names) or len(names) > 1:
            raise ValueError(
                f"token store URI {uri[:80]!r}: the only option is one endpoint, "
                f"e.g. {CLOUD_STORE_EXAMPLE}?endpoint=http://127.0.0.1:8085"
            )
        endpoint = options[0][1] if options else None
        return cls(_check_project(parsed.netloc), prefix, endpoint, **kwargs)

    def __repr__(self) -> str:
        return f"SecretManagerTokenStore(project={self.project!r}, prefix={self.prefix!r})"

    def __getstate__(self) -> dict:
        # The client holds sessions and locks; each unpickled copy makes its own.
        state = self.__dict__.copy()
        state["_client"] = None
        del state["_client_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._client_lock = threading.Lock()

    # -- names -----------------------------------------------------------------------

    def secret_id(self, user_key: str) -> str:
        """The id of the secret that holds a user's token.

        Raises:
            ValueError: for an invalid user key, or one too long once encoded.
        """
        secret_id = f"{self.prefix}{USER_INFIX}{encode_user_key(user_key)}"
        if len(secret_id) > _MAX_SECRET_ID:
            raise ValueError(
                f"user key {user_key[:40]!r} is too long for a secret id with prefix "
                f"{self.prefix!r}: with '_' and '.' written as 3 characters each, "
                f"'{self.prefix}{USER_INFIX}' and the key must fit in {_MAX_SECRET_ID}"
            )
        return secret_id

    def user_key(self, secret_id: str) -> str:
        """The user key whose token secret `secret_id` is (`secret_id`'s inverse).

        Raises:
            ValueError: when `secret_id` is not a user secret of this store.
        """
        start = f"{self.prefix}{USER_INFIX}"
        if not secret_id.startswith(start):
            raise ValueError(f"secret {secret_id[:80]!r} does not start with {start!r}")
        return decode_user_key(secret_id[len(start) :])

    def withdrawal_secret_id(self, user_key: str) -> str:
        """The id of the secret that records a user's withdrawal (see the module docstring)."""
        return f"{self.prefix}{USER_INFIX}{WITHDRAWN_INFIX}{key_digest(user_key)}"

    @property
    def client_secret_id(self) -> str:
        """The id of the secret that holds the OAuth client."""
        return f"{self.prefix}{CLIENT_SUFFIX}"

    # -- the TokenStore protocol ---------------------------------------------------------

    def load(self, user_key: str) -> dict | None:
        """The user's token, or None when the user has none (no secret, no enabled version).

        Raises:
            ValueError: the stored version is not a JSON object (its contents are not shown).
        """
        secret_id = self.secret_id(user_key)
        data = self._read(secret_id)
        if data is None:
            return None
        token = self._json_object(data)
        if token is None:
            raise ValueError(f"secret {secret_id!r} does not hold a JSON token object")
        return token

    def save(self, user_key: str, token: dict) -> None:
        """Stores the token as the user's latest version; durable when this returns.

        When the user's secret had to be created (their first consent, or the first
        after a withdrawal), their withdrawal secret is deleted: they consented again.
        A refresh's save finds the secret there and costs nothing more.
        """
        secret_id = self.secret_id(user_key)
        created = self._write(secret_id, json.dumps(token, sort_keys=True).encode())
        if created:
            self._delete_secret(self.withdrawal_secret_id(user_key))

    def delete(self, user_key: str) -> bool:
        """Deletes the user's secret with every version of it (and a refresh lease in it).

        Returns:
            True when the secret was there.
        """
        return self._delete_secret(self.secret_id(user_key))

    def mark_withdrawn(self, user_key: str, when: str) -> None:
        """Deletes the user's secret, then stores their withdrawal secret.

        Raises:
            ValueError: `when` is not an RFC 3339 UTC time.
        """
        record = withdrawal_record(when)
        self.delete(user_key)
        self._write(
            self.withdrawal_secret_id(user_key), json.dumps(record, sort_keys=True).encode()
        )

    def withdrawal(self, user_key: str) -> str | None:
        """When the user withdrew consent, or None (never, or a token was saved since)."""
        data = self._read(self.withdrawal_secret_id(user_key))
        when = None if data is None else withdrawal_time(self._json_object(data))
        if when is not None and self._read(self.secret_id(user_key)) is not None:
            return None  # consented again after a crash left the tombstone: the token wins
        return when

    @contextlib.contextmanager
    def refresh_lock(self, user_key: str) -> Iterator[Lease]:
        """Holds the user's refresh lease (see the class docstring) across processes.

        A user with no secret has no token to refresh: nothing is locked.

        Raises:
            LockTimeout: another holder's lease stayed live for `wait_seconds`.
            google.api_core.exceptions.GoogleAPIError: Secret Manager failed
                (after the retries of the class docstring).
        """
        secret_id = self.secret_id(user_key)
        taken = self._take_lease(secret_id)
        if taken is None:
            yield Lease()
            return
        lease_id, expires_at, secret = taken
        try:
            yield Lease(expires_at, self.clock)
        finally:
            self._drop_lease(secret_id, lease_id, secret)

    def _take_lease(self, secret_id: str) -> tuple[str, float, Any] | None:
        """(lease id, expiry, the secret as written, for its etag), or None: no secret."""
        api = self._api()
        name = self._secret_name(secret_id)
        lease_id = uuid.uuid4().hex
        deadline = self.clock() + self.wait_seconds
        delays = _poll_delays(self.rand)
        while True:
            try:
                secret = self._call("GetSecret", secret_id, api.get_secret, name=name)
            except google_errors.NotFound:
                return None
            annotations = dict(secret.annotations)
            held_by, until = _parse_lease(annotations.get(LEASE_ANNOTATION, ""))
            now = self.clock()
            if held_by == lease_id:
                return lease_id, until, None  # written, although its answer was lost
            if not (held_by and until > now):
                until = now + self.lease_seconds
                annotations[LEASE_ANNOTATION] = f"{lease_id} {until:.3f}"
                written = self._update_annotations(secret_id, name, annotations, secret.etag)
                if written is not None:
                    return lease_id, until, written
            # Held by another, or taken by another between our read and our write.
            if now >= deadline:
                raise LockTimeout(
                    f"secret {secret_id!r}: another refresh held the lease for "
                    f"{self.wait_seconds:.0f} s"
                )
            self.sleep(next(delays))

    def _drop_lease(self, secret_id: str, lease_id: str, written: Any) -> None:
        """Removes our lease; never raises (a lease left behind lapses by itself).

        First with the etag our lease was written with (no read needed); when the
        secret changed since, by reading it again.
        """
        api = self._api()
        name = self._secret_name(secret_id)
        try:
            secret = written
            for _ in range(5):
                if secret is None:
                    secret = self._call("GetSecret", secret_id, api.get_secret, name=name)
                annotations = dict(secret.annotations)
                if _parse_lease(annotations.get(LEASE_ANNOTATION, ""))[0] != lease_id:
                    return  # lapsed and taken over: not ours to remove
                del annotations[LEASE_ANNOTATION]
                if self._update_annotations(secret_id, name, annotations, secret.etag):
                    return
                secret = None
        except (google_errors.GoogleAPIError, requests.RequestException) as err:
            _LOGGER.warning(
                "secret %s: releasing the refresh lease failed with %s; it lapses in %.0f s",
                secret_id,
                type(err).__name__,
                self.lease_seconds,
            )

    def _update_annotations(self, secret_id: str, name: str, annotations: dict, etag: str) -> Any:
        """Writes the annotations if the secret still has `etag`.

        Returns:
            The secret as written (with its new etag), or None when the etag changed.
        """
        api = self._api()
        try:
            return self._call(
                "UpdateSecret",
                secret_id,
                api.update_secret,
                secret={"name": name, "annotations": annotations, "etag": etag},
                update_mask={"paths": ["annotations"]},
            )
        except (google_errors.FailedPrecondition, google_errors.BadRequest) as err:
            if _rpc_status(err) != "FAILED_PRECONDITION":
                raise
            return None

    def load_client(self) -> tuple[str, str]:
        """The OAuth client (id, secret) kept in `PREFIX-oauth-client`.

        Raises:
            ValueError: when it has not been stored (saying how to store it), or
                is not the expected JSON.
        """
        secret_id = self.client_secret_id
        data = self._read(secret_id)
        if data is None:
            raise ValueError(
                f"no OAuth client in Secret Manager: secret {secret_id!r} in project "
                f"{self.project!r} is missing or has no enabled version; store it with "
                "SecretManagerTokenStore.save_client(client_id, client_secret), or with "
                f"`gcloud secrets create {secret_id} --project={self.project} "
                "--labels=app=fitbeam --data-file=client.json` where client.json holds "
                '{"client_id": "...", "client_secret": "..."}'
            )
        client = self._json_object(data)
        if (
            client is None
            or not isinstance(client.get("client_id"), str)
            or not isinstance(client.get("client_secret"), str)
        ):
            raise ValueError(
                f"secret {secret_id!r} in project {self.project!r} must hold JSON "
                '{"client_id": "...", "client_secret": "..."}'
            )
        return client["client_id"], client["client_secret"]

    def save_client(self, client_id: str, client_secret: str) -> None:
        """Stores the OAuth client as the latest version of `PREFIX-oauth-client`."""
        payload = {"client_id": client_id, "client_secret": client_secret}
        self._write(self.client_secret_id, json.dumps(payload, sort_keys=True).encode())

    # -- Secret Manager ------------------------------------------------------------------

    def _api(self) -> Any:
        with self._client_lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _make_client(self) -> Any:
        # Imported here: the client library takes a third of a second to import, and
        # most users of this module (option parsing, the file store) never need it.
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import secretmanager

        if self.endpoint is None:
            return secretmanager.SecretManagerServiceClient(transport="rest")
        return secretmanager.SecretManagerServiceClient(
            transport="rest",
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=self.endpoint),
        )

    def _call(self, rpc: str, secret_id: str, call: Callable[..., Any], /, **request) -> Any:
        """`call(**request)`, retried by the policy in the class docstring."""
        for attempt in itertools.count(1):
            try:
                return call(**request, retry=None, timeout=_CALL_TIMEOUT_SECONDS)
            except _TRANSIENT as err:
                if attempt >= self.policy.max_attempts:
                    raise
                status = getattr(err, "code", None)
                verdict = Verdict(
                    retriable=True,
                    refresh_token=False,
                    status=status if isinstance(status, int) else 0,
                    reason=type(err).__name__,
                    message="",
                )
                delay = self.policy.delay(attempt, verdict, self.rand)
                _LOGGER.warning(
                    "Secret Manager %s on secret %s failed with %s (attempt %d of %d); "
                    "retrying in %.2f s",
                    rpc,
                    secret_id,
                    type(err).__name__,
                    attempt,
                    self.policy.max_attempts,
                    delay,
                )
                self.sleep(delay)
        raise AssertionError("unreachable")  # itertools.count never ends

    def _secret_name(self, secret_id: str) -> str:
        return f"projects/{self.project}/secrets/{secret_id}"

    def _read(self, secret_id: str) -> bytes | None:
        """The payload of the latest version, or None when there is none to read."""
        api = self._api()
        name = f"{self._secret_name(secret_id)}/versions/latest"
        try:
            response = self._call(
                "AccessSecretVersion", secret_id, api.access_secret_version, name=name
            )
        except google_errors.NotFound:
            return None
        except google_errors.BadRequest as err:
            if _rpc_status(err) != "FAILED_PRECONDITION":
                raise
            # `latest` is the newest version even when someone disabled or destroyed it
            # by hand; fall back to the newest version that is still enabled.
            enabled = self._enabled_versions(secret_id)
            if not enabled:
                return None
            try:
                response = self._call(
                    "AccessSecretVersion", secret_id, api.access_secret_version, name=enabled[0]
                )
            except (google_errors.NotFound, google_errors.BadRequest):
                return None  # disabled or destroyed meanwhile
        payload = response.payload
        if "data_crc32c" in payload and payload.data_crc32c != _crc32c(payload.data):
            raise ValueError(f"secret {secret_id!r}: the payload read does not match its checksum")
        return payload.data

    def _delete_secret(self, secret_id: str) -> bool:
        """Deletes a secret and all its versions; False when there was none."""
        api = self._api()
        try:
            self._call(
                "DeleteSecret", secret_id, api.delete_secret, name=self._secret_name(secret_id)
            )
        except google_errors.NotFound:
            return False
        _LOGGER.info("deleted secret %s in project %s", secret_id, self.project)
        return True

    def _write(self, secret_id: str, data: bytes) -> bool:
        """Adds `data` as the secret's latest version; True when the secret was created."""
        api = self._api()
        parent = self._secret_name(secret_id)
        # With the checksum, the service refuses a payload damaged on the way.
        payload = {"data": data, "data_crc32c": _crc32c(data)}
        try:
            version = self._call(
                "AddSecretVersion",
                secret_id,
                api.add_secret_version,
                parent=parent,
                payload=payload,
            )
            created = False
        except google_errors.NotFound:
            self._create_secret(secret_id)
            version = self._call(
                "AddSecretVersion",
                secret_id,
                api.add_secret_version,
                parent=parent,
                payload=payload,
            )
            created = True
        self._destroy_older(secret_id, _version_number(version.name))
        return created

    def _create_secret(self, secret_id: str) -> None:
        api = self._api()
        secret = {"replication": {"automatic": {}}, "labels": SECRET_LABELS}
        try:
            self._call(
                "CreateSecret",
                secret_id,
                api.create_secret,
                parent=f"projects/{self.project}",
                secret_id=secret_id,
                secret=secret,
            )
            _LOGGER.info("created secret %s in project %s", secret_id, self.project)
        except google_errors.Conflict:
            pass  # created by a concurrent save; adding the version is all that is left

    def _enabled_versions(self, secret_id: str) -> list[str]:
        """Names of the secret's enabled versions, newest first."""
        api = self._api()

        def list_all(**request):
            # Every page is read before anything is destroyed, so paging never races it.
            return [v.name for v in api.list_secret_versions(**request)]

        names = self._call(
            "ListSecretVersions",
            secret_id,
            list_all,
            request={"parent": self._secret_name(secret_id), "filter": "state:ENABLED"},
        )
        return sorted(names, key=_version_number, reverse=True)

    def _destroy_older(self, secret_id: str, newest: int) -> None:
        """Destroys the enabled versions older than `newest`; never raises for the API.

        Only older ones: a concurrent save's newer version must stay enabled.
        """
        api = self._api()
        try:
            older = [n for n in self._enabled_versions(secret_id) if _version_number(n) < newest]
        except (google_errors.GoogleAPIError, requests.RequestException) as err:
            _LOGGER.warning(
                "secret %s: version %d is saved, but listing the older versions failed "
                "with %s; they stay enabled",
                secret_id,
                newest,
                type(err).__name__,
            )
            return
        failed: list[int] = []
        errors: set[str] = set()
        for name in older:
            try:
                self._call("DestroySecretVersion", secret_id, api.destroy_secret_version, name=name)
            except (google_errors.GoogleAPIError, requests.RequestException) as err:
                failed.append(_version_number(name))
                errors.add(type(err).__name__)
        if failed:
            _LOGGER.warning(
                "secret %s: version %d is saved, but destroying older versions %s failed "
                "with %s; they stay enabled until the next save",
                secret_id,
                newest,
                ", ".join(map(str, sorted(failed))),
                ", ".join(sorted(errors)),
            )

    @staticmethod
    def _json_object(data: bytes) -> dict | None:
        # The decoder's exception keeps the whole document; none of it may escape.
        try:
            value = json.loads(data)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


LEASE_ANNOTATION = "fitbeam-refresh-lease"


def _parse_lease(value: str) -> tuple[str, float]:
    """`(lease id, expiry)` of a lease annotation; `("", 0.0)` for none or a garbled one."""
    parts = value.split()
    if len(parts) != 2:
        return "", 0.0
    try:
        return parts[0], float(parts[1])
    except ValueError:
        return "", 0.0


def _crc32c(data: bytes) -> int:
    import google_crc32c  # with the client library, only when Secret Manager is used

    return google_crc32c.value(data)
