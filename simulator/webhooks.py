"""The simulator's webhook emitter: what the Google Health API POSTs to a subscriber.

A subscriber is an HTTPS endpoint plus the exact `Authorization` header value
Google sends with every request to it (`endpointAuthorization.secret`, scheme
included, e.g. "Bearer ..."). The emitter plays Google's part:

- `register()` runs the verification handshake of `subscribers.create`: two
  POSTs of `{"type": "verification"}`, the first with the secret (the endpoint
  must answer 201), the second without it (401 or 403). Anything else raises
  `VerificationFailed`, as Google fails the create operation.
- `notify()` / `notify_change()` POST one notification: the secret, a
  signature header, and a metadata-only payload (fetch the data afterwards)::

      {"data": {"version": "1", "clientProvidedSubscriptionName": "...",
                "healthUserId": "...", "operation": "UPSERT" | "DELETE",
                "dataType": "steps",
                "intervals": [{"physicalTimeInterval": {...},
                               "civilDateTimeInterval": {...},
                               "civilIso8601TimeInterval": {...}}]}}

  `shape="flat"` sends the earlier form, with `civilIso8601TimeInterval`
  directly under `data` and no `intervals`. A non-2xx answer or no answer is
  retried with exponential backoff (`sleep` is injectable) up to
  `max_attempts`; Google retries for up to 7 days.

The signature is ECDSA P-256 with SHA-256 over the raw body bytes, base64 in
the header. What Google really sends is not fully confirmed (see
docs/notifications-relay.md): the discovery document (rev. 20261030) names
the header `GOOGLE-HEALTH-API-SIGNATURE`, earlier docs and observed traffic
`X-HEALTHAPI-SIGNATURE`; public client code reads the value as a Tink
signature (one version byte 0x01, a 4-byte key id, then the DER signature)
checked against a Tink JSON keyset. So both are settings here:
`signature_header` takes either name, and `signature_format` is `der` (the
bare DER signature) or `tink` (with the Tink prefix). The public key is
offered as PEM, as a JWK and as a Tink JSON keyset, whichever the receiver is
configured with.

Example::

    emitter = WebhookEmitter(sleep=lambda s: None)
    sub = emitter.register("fitbeam-relay", "http://127.0.0.1:8080/", "Bearer " + token)
    emitter.notify_change(sub, sim.users["user-1"], "steps", start_utc, end_utc)
    emitter.key.public_pem()    # what the receiver verifies with
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from simulator import timefmt
from simulator.synth import User

_LOGGER = logging.getLogger(__name__)

X_HEALTHAPI_SIGNATURE = "X-HEALTHAPI-SIGNATURE"  # earlier docs, observed live
GOOGLE_HEALTH_API_SIGNATURE = "GOOGLE-HEALTH-API-SIGNATURE"  # discovery rev. 20261002+
SIGNATURE_HEADERS = (X_HEALTHAPI_SIGNATURE, GOOGLE_HEALTH_API_SIGNATURE)
FORMAT_DER = "der"
FORMAT_TINK = "tink"
SHAPE_INTERVALS = "intervals"
SHAPE_FLAT = "flat"
UPSERT = "UPSERT"
DELETE = "DELETE"
VERIFICATION_BODY = b'{"type": "verification"}'

# Tink's wire values (tink/proto/common.proto, ecdsa.proto, tink.proto).
TINK_ECDSA_PUBLIC_KEY_URL = "type.googleapis.com/google.crypto.tink.EcdsaPublicKey"
TINK_SHA256, TINK_NIST_P256, TINK_DER = 3, 2, 2
TINK_VERSION_BYTE = b"\x01"


class VerificationFailed(Exception):
    """The endpoint failed the verification handshake (the subscriber is not created)."""


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, value: int | bytes) -> bytes:
    """One protobuf field: a varint, or a length-delimited byte string."""
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


class SigningKey:
    """The ECDSA P-256 key pair notifications are signed with.

    Args:
        private_key: the key; a new one when None.
        key_id: the key's id in the Tink keyset and the Tink signature prefix.
    """

    def __init__(self, private_key: ec.EllipticCurvePrivateKey | None = None, key_id: int = 1):
        self.private_key = private_key or ec.generate_private_key(ec.SECP256R1())
        if not isinstance(self.private_key.curve, ec.SECP256R1):
            raise ValueError(f"the key must be on P-256, not {self.private_key.curve.name}")
        if not 0 <= key_id < 2**32:
            raise ValueError(f"key_id must fit in 32 bits, got {key_id}")
        self.key_id = key_id

    def __repr__(self) -> str:
        return f"SigningKey(P-256, key_id={self.key_id})"

    def public_pem(self) -> str:
        """The public key as PEM (SubjectPublicKeyInfo)."""
        return (
            self.private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    def public_jwk(self) -> dict:
        """The public key as a JSON Web Key (RFC 7518 section 6.2)."""
        numbers = self.private_key.public_key().public_numbers()

        def b64url(n: int) -> str:
            return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode("ascii")

        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x),
            "y": b64url(numbers.y),
            "alg": "ES256",
            "use": "sig",
            "kid": str(self.key_id),
        }

    def tink_keyset(self) -> dict:
        """The public key as a Tink JSON keyset with one enabled key (TINK prefix)."""
        numbers = self.private_key.public_key().public_numbers()
        params = _field(1, TINK_SHA256) + _field(2, TINK_NIST_P256) + _field(3, TINK_DER)
        # Tink's Java implementation writes the coordinates as signed big-endian
        # integers, so a leading zero byte is common; receivers must accept it.
        key = (
            _field(2, params)
            + _field(3, b"\x00" + numbers.x.to_bytes(32, "big"))
            + _field(4, b"\x00" + numbers.y.to_bytes(32, "big"))
        )
        return {
            "primaryKeyId": self.key_id,
            "key": [
                {
                    "keyData": {
                        "typeUrl": TINK_ECDSA_PUBLIC_KEY_URL,
                        "value": base64.b64encode(key).decode("ascii"),
                        "keyMaterialType": "ASYMMETRIC_PUBLIC",
                    },
                    "status": "ENABLED",
                    "keyId": self.key_id,
                    "outputPrefixType": "TINK",
                }
            ],
        }

    def sign(self, body: bytes, signature_format: str = FORMAT_DER) -> str:
        """The base64 signature header value of `body`."""
        der = self.private_key.sign(body, ec.ECDSA(hashes.SHA256()))
        if signature_format == FORMAT_TINK:
            der = TINK_VERSION_BYTE + self.key_id.to_bytes(4, "big") + der
        elif signature_format != FORMAT_DER:
            raise ValueError(f"signature_format must be {FORMAT_DER!r} or {FORMAT_TINK!r}")
        return base64.b64encode(der).decode("ascii")


@dataclasses.dataclass(frozen=True)
class Subscriber:
    """A verified subscriber endpoint.

    Attributes:
        subscriber_id: the id chosen at creation (4-36 of a-z, 0-9, -).
        endpoint_uri: where notifications go.
        secret: the whole Authorization header value; never shown by repr.
        data_types: the kebab-case data types of its subscriber configs.
    """

    subscriber_id: str
    endpoint_uri: str
    secret: str = dataclasses.field(repr=False)
    data_types: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Interval:
    """A changed span of a user's data: two instants and the user's zone.

    Attributes:
        start, end: timezone-aware instants, start <= end.
        time_zone: the user's IANA zone; civil times are computed in it.
    """

    start: dt.datetime
    end: dt.datetime
    time_zone: str

    def __post_init__(self):
        for name in ("start", "end"):
            if getattr(self, name).utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware")
        if self.end < self.start:
            raise ValueError(f"end {self.end.isoformat()} is before start")

    def civil(self) -> tuple[dt.datetime, dt.datetime]:
        zone = ZoneInfo(self.time_zone)
        return (
            timefmt.local_datetime(self.start.timestamp(), zone),
            timefmt.local_datetime(self.end.timestamp(), zone),
        )

    def civil_iso8601_json(self) -> dict:
        start, end = self.civil()
        return {"startTime": start.isoformat(), "endTime": end.isoformat()}

    def to_json(self) -> dict:
        """The interval in its three representations."""
        start, end = self.civil()
        return {
            "physicalTimeInterval": {
                "startTime": timefmt.rfc3339(self.start.timestamp()),
                "endTime": timefmt.rfc3339(self.end.timestamp()),
            },
            "civilDateTimeInterval": {
                "startDateTime": timefmt.civil_datetime_json(start),
                "endDateTime": timefmt.civil_datetime_json(end),
            },
            "civilIso8601TimeInterval": self.civil_iso8601_json(),
        }


def notification_payload(
    health_user_id: str,
    data_type: str,
    operation: str,
    intervals: Sequence[Interval],
    subscription_name: str,
    shape: str = SHAPE_INTERVALS,
) -> dict:
    """The JSON of one notification.

    Args:
        health_user_id: the user's numeric healthUserId.
        data_type: kebab-case data type name, e.g. "steps".
        operation: UPSERT or DELETE.
        intervals: the changed spans (`shape="flat"` carries exactly one).
        subscription_name: `clientProvidedSubscriptionName`.
        shape: "intervals" (current) or "flat" (the earlier form).
    """
    data = {
        "version": "1",
        "clientProvidedSubscriptionName": subscription_name,
        "healthUserId": health_user_id,
        "operation": operation,
        "dataType": data_type,
    }
    if shape == SHAPE_INTERVALS:
        data["intervals"] = [i.to_json() for i in intervals]
    elif shape == SHAPE_FLAT:
        if len(intervals) != 1:
            raise ValueError(f"the flat shape carries one interval, got {len(intervals)}")
        data["civilIso8601TimeInterval"] = intervals[0].civil_iso8601_json()
    else:
        raise ValueError(f"shape must be {SHAPE_INTERVALS!r} or {SHAPE_FLAT!r}, got {shape!r}")
    return {"data": data}


@dataclasses.dataclass(frozen=True)
class Delivery:
    """How one notification went.

    Attributes:
        status: the last HTTP status, 0 when the last attempt got no answer.
        attempts: POSTs made.
        body: the bytes sent (the same on every attempt).
    """

    status: int
    attempts: int
    body: bytes

    @property
    def delivered(self) -> bool:
        return 200 <= self.status < 300


class WebhookEmitter:
    """Sends verification requests and signed notifications to subscribers.

    Args:
        key: the signing key (a new one when None).
        signature_header: GOOGLE-HEALTH-API-SIGNATURE or X-HEALTHAPI-SIGNATURE.
        signature_format: "der" or "tink" (see the module docstring).
        session: the HTTP session (a new one when None).
        sleep: waits between delivery attempts.
        max_attempts: POSTs per notification before giving up.
        first_backoff_seconds, max_backoff_seconds: the backoff doubles from the
            first value after each failed attempt, up to the second.
        timeout_seconds: (connect, read) timeout of one POST.
    """

    def __init__(
        self,
        key: SigningKey | None = None,
        signature_header: str = X_HEALTHAPI_SIGNATURE,
        signature_format: str = FORMAT_DER,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 5,
        first_backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
        timeout_seconds: float = 10.0,
    ):
        if signature_header.upper() not in SIGNATURE_HEADERS:
            raise ValueError(f"signature_header must be one of {', '.join(SIGNATURE_HEADERS)}")
        if signature_format not in (FORMAT_DER, FORMAT_TINK):
            raise ValueError(f"signature_format must be {FORMAT_DER!r} or {FORMAT_TINK!r}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self.key = key or SigningKey()
        self.signature_header = signature_header
        self.signature_format = signature_format
        self.session = session or requests.Session()
        self.sleep = sleep
        self.max_attempts = max_attempts
        self.first_backoff_seconds = first_backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.timeout_seconds = timeout_seconds
        self.deliveries: list[Delivery] = []

    def _post(self, uri: str, body: bytes, secret: str | None) -> int:
        headers = {
            "Content-Type": "application/json",
            self.signature_header: self.key.sign(body, self.signature_format),
        }
        if secret is not None:
            headers["Authorization"] = secret
        response = self.session.post(
            uri, data=body, headers=headers, timeout=self.timeout_seconds, allow_redirects=False
        )
        response.close()
        return response.status_code

    def register(
        self,
        subscriber_id: str,
        endpoint_uri: str,
        secret: str,
        data_types: Sequence[str] = ("steps",),
    ) -> Subscriber:
        """Verifies the endpoint as `subscribers.create` does and returns the subscriber.

        Raises:
            ValueError: a URI that is neither https nor http on loopback, or no secret.
            VerificationFailed: an answer other than 201 with the secret, or other
                than 401/403 without it, or no answer.
        """
        parts = urllib.parse.urlsplit(endpoint_uri)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ValueError(
                f"endpoint_uri must be https (http on loopback only), got {endpoint_uri[:80]!r}"
            )
        if not secret:
            raise ValueError("the endpoint authorization secret is required")
        for with_secret, wanted in ((True, (201,)), (False, (401, 403))):
            try:
                status = self._post(
                    endpoint_uri, VERIFICATION_BODY, secret if with_secret else None
                )
            except requests.RequestException as err:
                raise VerificationFailed(
                    f"verification of {endpoint_uri} got no answer ({type(err).__name__})"
                ) from None
            if status not in wanted:
                which = "with" if with_secret else "without"
                raise VerificationFailed(
                    f"verification of {endpoint_uri} {which} the Authorization header answered "
                    f"HTTP {status}; expected {' or '.join(map(str, wanted))}"
                )
        _LOGGER.info("subscriber %s verified at %s", subscriber_id, endpoint_uri)
        return Subscriber(subscriber_id, endpoint_uri, secret, tuple(data_types))

    def send(self, subscriber: Subscriber, body: bytes) -> Delivery:
        """POSTs `body`, signed, until a 2xx answer or `max_attempts` POSTs."""
        status, attempt = 0, 0
        backoff = self.first_backoff_seconds
        while attempt < self.max_attempts:
            if attempt:
                self.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_seconds)
            attempt += 1
            try:
                status = self._post(subscriber.endpoint_uri, body, subscriber.secret)
            except requests.RequestException as err:
                status = 0
                _LOGGER.info(
                    "notification to %s: attempt %d got no answer (%s)",
                    subscriber.subscriber_id,
                    attempt,
                    type(err).__name__,
                )
                continue
            if 200 <= status < 300:
                break
            _LOGGER.info(
                "notification to %s: attempt %d answered HTTP %d",
                subscriber.subscriber_id,
                attempt,
                status,
            )
        delivery = Delivery(status, attempt, body)
        self.deliveries.append(delivery)
        return delivery

    def notify(
        self,
        subscriber: Subscriber,
        health_user_id: str,
        data_type: str,
        operation: str,
        intervals: Sequence[Interval],
        shape: str = SHAPE_INTERVALS,
    ) -> Delivery:
        """Sends one notification about `intervals` of a user's `data_type`.

        Raises:
            ValueError: a data type outside the subscriber's configs (Google sends
                none), an unknown operation, or a bad shape.
        """
        if data_type not in subscriber.data_types:
            raise ValueError(
                f"subscriber {subscriber.subscriber_id} has no config for {data_type!r}"
            )
        if operation not in (UPSERT, DELETE):
            raise ValueError(f"operation must be {UPSERT} or {DELETE}, got {operation!r}")
        payload = notification_payload(
            health_user_id, data_type, operation, intervals, subscriber.subscriber_id, shape
        )
        return self.send(subscriber, json.dumps(payload).encode("utf-8"))

    def notify_change(
        self,
        subscriber: Subscriber,
        user: User,
        data_type: str,
        start: dt.datetime,
        end: dt.datetime,
        operation: str = UPSERT,
        shape: str = SHAPE_INTERVALS,
    ) -> Delivery:
        """`notify()` for one span of a simulator user (`sim.users["user-1"]`)."""
        interval = Interval(start, end, user.time_zone)
        return self.notify(subscriber, user.health_user_id, data_type, operation, [interval], shape)
