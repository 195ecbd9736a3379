"""`fitbeam relay`: Google Health API webhook notifications -> request messages on Pub/Sub.

The Google Health API POSTs a notification to a subscriber endpoint when a
user's data changes (docs/notifications-relay.md). The relay is that
endpoint: a small HTTP server for Cloud Run that turns each notification into
the request messages of `healthapi.messages`, publishes them to the
topic the streaming pipeline reads, and answers at once::

    fitbeam relay --topic projects/my-project/topics/fitbeam-requests \\
        --user_map gs://my-bucket/relay/user-map.json \\
        --public_key /etc/fitbeam/webhook-keyset.json
    # the Authorization secret: env FITBEAM_RELAY_SECRET, or
    #   --secret_version projects/my-project/secrets/fitbeam-relay-secret/versions/latest

Each flag but --host also reads an environment variable (its help names it),
as Cloud Run passes settings; the server listens on $PORT (default 8080). The
secret is never a flag: command lines show in process lists. Run
`python -m relay.relay` or, once wired, `fitbeam relay`.

What it answers, in order of the checks:

- 503 with Retry-After, before reading anything: all `MAX_CONNECTIONS`
  connections are busy (one thread each).
- 400: framing headers that leave the body's end unclear (a Content-Length
  that is not one decimal number, a Transfer-Encoding other than one
  `chunked`, or both), or the Authorization or a signature header given twice.
- 401: no Authorization header, or not exactly the configured secret (compared
  in constant time). This is also the answer Google's verification handshake
  wants for its request without the header.
- While the body is read: 413 for a body over `MAX_BODY_BYTES` (chunk sizes
  are added up before a chunk is read); 400 for a chunk size that is not 1-8
  hex digits, a line not ending in CRLF, or over `MAX_TRAILER_LINES` trailer
  lines; 408 when the client stalls for `SOCKET_TIMEOUT_SECONDS`.
- 201: `{"type": "verification"}` with the right secret (the handshake).
- 403: no signature header, or a signature the configured public key does not
  verify. Google retries, so a key rotated on Google's side is not a loss if
  the relay is reconfigured within the retry period (7 days).
- 400: a signed notification the relay cannot read (not JSON, no
  `data.healthUserId`, no usable interval, a date the request contract
  refuses). The signature says it came from Google, so this means the payload
  changed shape: the 400 shows in Google's delivery logs, and Google's retries
  deliver it again once the relay is fixed.
- 204 without publishing: a user the user map does not know (with the
  AUTOMATIC policy every consenting user of the OAuth client is notified, not
  only the study's) or a data type fitbeam does not load. Both are understood
  and final; a retry could not change the answer, so Google should not retry.
- 503: Pub/Sub did not take the messages (Google retries: nothing is lost).
- 204: published.

Whenever the body was not read to its end (400, 401, 408, 413) the answer
says `Connection: close` and the connection is closed, so leftover bytes are
never read as a next request. Every wait for the client times out after
`SOCKET_TIMEOUT_SECONDS`, which also closes idle keep-alive connections.

Mapping (pure functions, `notification_messages`): the user is found by
`healthUserId` in the user map; `dataType` may be kebab-case, snake_case,
camelCase or `users/{id}/dataTypes/{type}`; each interval gives the civil dates
it touches, read from `civilIso8601TimeInterval`, else `civilDateTimeInterval`,
else `physicalTimeInterval` (UTC, widened by the extreme UTC offsets -12:00 and
+14:00, since the user's zone is unknown). Intervals are taken as half-open: an
end at exactly 00:00 does not touch that day. 17:29-17:34 on 2026-11-20 is
2026-11-20; 23:50 on the 20th to 00:10 on the 21st is both days. Touched dates
are merged into runs of consecutive days, one request message per run (split
at `max_range_days`), e.g. `{"data_types":["steps"],"date":"2026-11-20",
"user_id":"participant-017"}`. A DELETE is relayed as the same request: the
reload of that window makes the deletion visible in the `<table>_current` views.
The earlier payload shape, `civilIso8601TimeInterval` directly under `data`,
is read as one interval.

The user map (`--user_map`) is a JSON object from healthUserId to fitbeam user
key, local or gs://, `{"7108215177813058725": "participant-017"}`. It is read
at start and again when an unknown healthUserId arrives (at most once a
minute), so adding a user means updating the file, not redeploying. Write it
from the token store with the identity route (each user's token reads their
own healthUserId)::

    fitbeam relay user-map --users @users.txt --token_store file:///var/fitbeam/tokens \\
        > user-map.json

Logs never hold the secret, the Authorization header, a signature or a body.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import datetime as dt
import hashlib
import hmac
import http.server
import json
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from healthapi import datatypes
from healthapi import messages as request_messages
from healthapi.auth.store import check_user_key
from healthapi.messages import DEFAULT_MAX_RANGE_DAYS, BadRequest
from healthapi.settings import (
    GOOGLE_HEALTH_API,
    TOPIC_EXAMPLE,
    OptionsError,
    add_api_arguments,
    check_topic,
    check_url,
    parse_users,
    resolve_token_url,
)

_LOGGER = logging.getLogger(__name__)

ORIGIN = "relay"
ENV_TOPIC = "FITBEAM_RELAY_TOPIC"
ENV_SECRET = "FITBEAM_RELAY_SECRET"  # noqa: S105 - the variable's name, not a secret
ENV_SECRET_VERSION = "FITBEAM_RELAY_SECRET_VERSION"  # noqa: S105 - a variable's name
ENV_PUBLIC_KEY = "FITBEAM_RELAY_PUBLIC_KEY"
ENV_USER_MAP = "FITBEAM_RELAY_USER_MAP"
ENV_SIGNATURE_HEADERS = "FITBEAM_RELAY_SIGNATURE_HEADERS"
ENV_PORT = "PORT"  # set by Cloud Run
DEFAULT_PORT = 8080
# The discovery document (rev. 20261002+) names the first; earlier docs and
# observed traffic the second. Both are looked for, in this order.
SIGNATURE_HEADERS = ("GOOGLE-HEALTH-API-SIGNATURE", "X-HEALTHAPI-SIGNATURE")

SECRET_VERSION_EXAMPLE = "projects/my-project/secrets/fitbeam-relay-secret/versions/latest"  # noqa: S105
USER_MAP_EXAMPLE = "gs://my-bucket/relay/user-map.json"
PUBLIC_KEY_EXAMPLE = "/etc/fitbeam/webhook-keyset.json"
SECRET_EXAMPLE = '"Bearer $(openssl rand -hex 32)"'  # noqa: S105 - an example

MAX_BODY_BYTES = 256 * 1024  # a notification is a few hundred bytes
MAX_CHUNK_LINE_BYTES = 1024  # a chunk-size line with its extensions, or one trailer line
MAX_TRAILER_LINES = 32
# Each wait for the client (a request line, a header, a piece of the body, and
# the idle time between keep-alive requests) may last this long.
SOCKET_TIMEOUT_SECONDS = 30.0
# Connections served at once, one thread each; more are answered 503 at once.
# Cloud Run's --concurrency (40 in docs/notifications-relay.md) stays below it.
MAX_CONNECTIONS = 64
RETRY_AFTER_SECONDS = 5
# An unknown healthUserId is logged at most this often (each id apart), and
# connections refused for want of a slot at most this often.
QUIET_LOG_SECONDS = 600.0
BUSY_LOG_SECONDS = 60.0
MAX_SIGNATURE_CHARS = 1024
MIN_SECRET_CHARS = 16
PUBLISH_TIMEOUT_SECONDS = 10.0
USER_MAP_REFRESH_SECONDS = 60.0
# A notification touching more days than this is not a change notification.
MAX_NOTIFICATION_DAYS = 3660
# The extreme UTC offsets in use: Baker Island (-12:00) and Kiritimati (+14:00).
MIN_UTC_OFFSET = dt.timedelta(hours=-12)
MAX_UTC_OFFSET = dt.timedelta(hours=14)

_SECRET_VERSION = re.compile(
    r"^projects/[^/\s]+/secrets/[A-Za-z0-9_-]{1,255}(/versions/(latest|[1-9][0-9]*))?$"
)
_SECRET_FORM = re.compile(r"^[A-Za-z][A-Za-z0-9_-]* \S+$")
_HEALTH_USER_ID = re.compile(r"^[A-Za-z0-9-]{1,63}$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SIGNATURE_HEADER = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_CONTENT_LENGTH = re.compile(r"[0-9]{1,18}")  # fullmatch
# A chunk size (at most 8 hex digits: 4 GiB, far over the body limit anyway),
# optional extensions without control characters, CRLF (fullmatch).
_CHUNK_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,8})(;[\t\x20-\x7e]*)?\r\n")


# --- signatures ------------------------------------------------------------------


class PublicKeyError(ValueError):
    """A public key the relay cannot use."""


@dataclasses.dataclass(frozen=True)
class VerifyingKey:
    """One public key and how signatures made with it look.

    Attributes:
        key: the P-256 public key.
        prefix: bytes before the signature proper (Tink: 0x01 or 0x00 and the
            4-byte key id); empty for a bare signature.
        legacy: Tink's LEGACY prefix type, which signs the body plus one zero byte.
        p1363: the signature proper is r||s (IEEE P1363) rather than DER.
    """

    key: ec.EllipticCurvePublicKey
    prefix: bytes = b""
    legacy: bool = False
    p1363: bool = False


class PublicKeys:
    """The keys notifications may be signed with; any one verifying is enough.

    Build with `load_public_keys`, which reads PEM, a JWK (or JWK set) or a
    Tink JSON keyset.
    """

    def __init__(self, keys: Sequence[VerifyingKey]):
        if not keys:
            raise PublicKeyError("no usable public key")
        self.keys = tuple(keys)

    def __repr__(self) -> str:
        return f"PublicKeys({len(self.keys)} P-256 key(s))"

    def verify(self, signature: str, body: bytes) -> bool:
        """True when `signature` (the header value, base64) signs `body`."""
        raw = _b64decode(signature)
        if raw is None:
            return False
        for k in self.keys:
            if not raw.startswith(k.prefix):
                continue
            sig = raw[len(k.prefix) :]
            data = body + b"\x00" if k.legacy else body
            candidates = [sig]
            if len(sig) == 64:  # r||s; DER of P-256 is 8 to 72 bytes, rarely 64
                as_der = encode_dss_signature(
                    int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
                )
                candidates = [as_der, sig] if k.p1363 else [sig, as_der]
            for candidate in candidates:
                try:
                    k.key.verify(candidate, data, ec.ECDSA(hashes.SHA256()))
                    return True
                except (InvalidSignature, ValueError):
                    continue
        return False


def _b64decode(text: str) -> bytes | None:
    text = text.strip()
    if not text or len(text) > MAX_SIGNATURE_CHARS:
        return None
    padded = text + "=" * (-len(text) % 4)
    for altchars in (None, b"-_"):
        try:
            return base64.b64decode(padded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
    return None


def _p256(key: object) -> ec.EllipticCurvePublicKey:
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise PublicKeyError("the public key is not an ECDSA P-256 key")
    return key


def _point(x: int, y: int) -> ec.EllipticCurvePublicKey:
    try:
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except ValueError:
        raise PublicKeyError("the key's coordinates are not a point on P-256") from None


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise PublicKeyError("the Tink key material is not valid protobuf")
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def _proto_fields(data: bytes) -> dict[int, list[int | bytes]]:
    """The fields of one protobuf message: number -> values (varints and byte strings)."""
    fields: dict[int, list[int | bytes]] = {}
    i = 0
    while i < len(data):
        tag, i = _varint(data, i)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            length, i = _varint(data, i)
            if i + length > len(data):
                raise PublicKeyError("the Tink key material is not valid protobuf")
            value, i = data[i : i + length], i + length
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
            continue
        else:
            raise PublicKeyError("the Tink key material is not valid protobuf")
        fields.setdefault(number, []).append(value)
    return fields


def _one(fields: dict, number: int, kind: type, default=None):
    values = [v for v in fields.get(number, ()) if isinstance(v, kind)]
    return values[-1] if values else default


_TINK_ECDSA = "type.googleapis.com/google.crypto.tink.EcdsaPublicKey"
_TINK_SHA256, _TINK_NIST_P256, _TINK_IEEE_P1363 = 3, 2, 1
_TINK_PREFIX = {"TINK": b"\x01", "CRUNCHY": b"\x00", "LEGACY": b"\x00", "RAW": b""}


def _tink_key(entry: dict) -> VerifyingKey | None:
    """One key of a Tink keyset; None for a key that is not ENABLED."""
    if entry.get("status") != "ENABLED":
        return None
    data = entry.get("keyData") or {}
    if data.get("typeUrl") != _TINK_ECDSA:
        raise PublicKeyError(
            f"Tink key type {str(data.get('typeUrl'))[:80]!r} is not EcdsaPublicKey"
        )
    prefix_type = entry.get("outputPrefixType")
    if prefix_type not in _TINK_PREFIX:
        raise PublicKeyError(f"Tink output prefix type {str(prefix_type)[:20]!r} is unknown")
    try:
        material = base64.b64decode(str(data.get("value", "")), validate=True)
        key_id = int(entry.get("keyId", 0))
    except (binascii.Error, ValueError, TypeError):
        raise PublicKeyError("a Tink key's value or keyId is malformed") from None
    fields = _proto_fields(material)
    params = _proto_fields(_one(fields, 2, bytes, b""))
    if _one(params, 1, int, _TINK_SHA256) != _TINK_SHA256:
        raise PublicKeyError("the Tink key does not hash with SHA-256")
    if _one(params, 2, int, _TINK_NIST_P256) != _TINK_NIST_P256:
        raise PublicKeyError("the Tink key is not on NIST P-256")
    x, y = _one(fields, 3, bytes), _one(fields, 4, bytes)
    if x is None or y is None:
        raise PublicKeyError("the Tink key has no x or y coordinate")
    prefix = _TINK_PREFIX[prefix_type]
    if prefix:
        prefix += key_id.to_bytes(4, "big")
    return VerifyingKey(
        _point(int.from_bytes(x, "big"), int.from_bytes(y, "big")),
        prefix=prefix,
        legacy=prefix_type == "LEGACY",
        p1363=_one(params, 3, int, 0) == _TINK_IEEE_P1363,
    )


def _jwk_key(jwk: dict) -> VerifyingKey:
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise PublicKeyError("the JWK is not an EC key on P-256")

    def coordinate(name: str) -> int:
        text = str(jwk.get(name, ""))
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            raise PublicKeyError(f"the JWK's {name} is not base64url") from None
        if len(raw) != 32:
            raise PublicKeyError(f"the JWK's {name} is not 32 bytes")
        return int.from_bytes(raw, "big")

    return VerifyingKey(_point(coordinate("x"), coordinate("y")))


def load_public_keys(text: str) -> PublicKeys:
    """Public keys from PEM, a JWK, a JWK set ({"keys": [...]}) or a Tink JSON keyset.

    Raises:
        PublicKeyError: not one of these, or a key that is not ECDSA P-256 with SHA-256.
    """
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except (ValueError, UnsupportedAlgorithm, UnicodeEncodeError):
            raise PublicKeyError("the PEM text is not a public key") from None
        return PublicKeys([VerifyingKey(_p256(key))])
    try:
        obj = json.loads(text)
    except ValueError:
        raise PublicKeyError("not PEM, a JWK or a Tink JSON keyset") from None
    if not isinstance(obj, dict):
        raise PublicKeyError("not PEM, a JWK or a Tink JSON keyset")
    if "primaryKeyId" in obj or isinstance(obj.get("key"), list):
        keys = [_tink_key(k) for k in obj.get("key") or () if isinstance(k, dict)]
        return PublicKeys([k for k in keys if k is not None])
    if isinstance(obj.get("keys"), list):
        return PublicKeys([_jwk_key(k) for k in obj["keys"] if isinstance(k, dict)])
    if "kty" in obj:
        return PublicKeys([_jwk_key(obj)])
    raise PublicKeyError("not PEM, a JWK or a Tink JSON keyset")


# --- notifications ---------------------------------------------------------------


class BadNotification(ValueError):
    """A signed notification the relay cannot turn into requests.

    Attributes:
        reason: a stable code, e.g. "no_interval".
    """

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Notification:
    """What a notification says, reduced to what a reload needs.

    Attributes:
        health_user_id: the user's healthUserId.
        data_type: the data type as sent.
        operation: UPSERT, DELETE, or whatever else Google sends (all reload).
        spans: per interval, the first and last civil date it touches.
    """

    health_user_id: str
    data_type: str
    operation: str
    spans: tuple[tuple[dt.date, dt.date], ...]


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _half_open_dates(start: dt.datetime, end: dt.datetime) -> tuple[dt.date, dt.date]:
    """First and last civil date of [start, end); an instant is its own date."""
    if end < start:
        raise BadNotification("bad_interval", f"interval ends ({end}) before it starts ({start})")
    last = end.date()
    if end > start and end.time() == dt.time(0):
        last -= dt.timedelta(days=1)
    return start.date(), last


def _civil_iso(value: object, field: str) -> dt.datetime:
    if not isinstance(value, str):
        raise BadNotification("bad_interval", f"{field}={_short(value)} is not a date-time")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadNotification(
            "bad_interval", f"{field}={_short(value)} is not ISO 8601 (2026-11-20T17:29:00)"
        ) from None
    return moment.replace(tzinfo=None)  # civil: the wall clock as it read


def _civil_message(value: object, field: str) -> dt.datetime:
    """A CivilDateTime message: {"date": {year, month, day}, "time": {hours, ...}}."""
    if not isinstance(value, dict) or not isinstance(value.get("date"), dict):
        raise BadNotification("bad_interval", f"{field} is not a CivilDateTime")
    day, clock = value["date"], value.get("time") or {}
    try:
        return dt.datetime(
            int(day["year"]),
            int(day["month"]),
            int(day["day"]),
            int(clock.get("hours", 0)),
            int(clock.get("minutes", 0)),
            int(clock.get("seconds", 0)),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise BadNotification("bad_interval", f"{field} is not a valid CivilDateTime") from None


def _physical(value: object, field: str) -> dt.datetime:
    if not isinstance(value, str):
        raise BadNotification("bad_interval", f"{field}={_short(value)} is not a timestamp")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise BadNotification(
            "bad_interval", f"{field}={_short(value)} is not RFC 3339 with a zone"
        )
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def interval_dates(interval: Mapping) -> tuple[dt.date, dt.date]:
    """The first and last civil date one notification interval touches.

    Raises:
        BadNotification: no readable time interval.
    """
    iso = interval.get("civilIso8601TimeInterval")
    if isinstance(iso, dict):
        return _half_open_dates(
            _civil_iso(iso.get("startTime"), "civilIso8601TimeInterval.startTime"),
            _civil_iso(iso.get("endTime"), "civilIso8601TimeInterval.endTime"),
        )
    civil = interval.get("civilDateTimeInterval")
    if isinstance(civil, dict):
        return _half_open_dates(
            _civil_message(civil.get("startDateTime"), "civilDateTimeInterval.startDateTime"),
            _civil_message(civil.get("endDateTime"), "civilDateTimeInterval.endDateTime"),
        )
    physical = interval.get("physicalTimeInterval")
    if isinstance(physical, dict):
        start = _physical(physical.get("startTime"), "physicalTimeInterval.startTime")
        end = _physical(physical.get("endTime"), "physicalTimeInterval.endTime")
        if end < start:
            raise BadNotification("bad_interval", "physicalTimeInterval ends before it starts")
        # The user's zone is unknown: every civil date the span has anywhere.
        return _half_open_dates(start + MIN_UTC_OFFSET, end + MAX_UTC_OFFSET)
    raise BadNotification(
        "no_interval",
        "the interval has no civilIso8601TimeInterval, civilDateTimeInterval or "
        "physicalTimeInterval",
    )


def is_verification(obj: object) -> bool:
    return isinstance(obj, dict) and obj.get("type") == "verification" and "data" not in obj


def parse_notification(obj: object) -> Notification:
    """A notification's JSON (already parsed) -> `Notification`.

    Reads both shapes: `data.intervals` (a list), and the earlier one with the
    interval's fields directly under `data`. Unknown fields are ignored.

    Raises:
        BadNotification: the JSON lacks what a reload needs.
    """
    if not isinstance(obj, dict):
        raise BadNotification("not_an_object", "the body is not a JSON object")
    data = obj.get("data")
    if not isinstance(data, dict):
        raise BadNotification("no_data", "the body has no data object")
    user = data.get("healthUserId")
    if not isinstance(user, str) or not _HEALTH_USER_ID.match(user):
        raise BadNotification(
            "bad_user", f"data.healthUserId={_short(user)} is not 1-63 of A-Z a-z 0-9 -"
        )
    data_type = data.get("dataType")
    if not isinstance(data_type, str) or not data_type:
        raise BadNotification("bad_data_type", f"data.dataType={_short(data_type)} is not a name")
    operation = data.get("operation", "")
    if not isinstance(operation, str):
        raise BadNotification("bad_operation", f"data.operation={_short(operation)}")
    if "intervals" in data:
        intervals = data["intervals"]
        if not isinstance(intervals, list) or not intervals:
            raise BadNotification("no_interval", "data.intervals is not a non-empty list")
        if not all(isinstance(i, dict) for i in intervals):
            raise BadNotification("bad_interval", "data.intervals holds a non-object")
    else:
        intervals = [data]
    spans = tuple(interval_dates(i) for i in intervals)
    return Notification(user, data_type, operation, spans)


def fitbeam_data_type(name: str) -> str | None:
    """fitbeam's name (`heart-rate`) of a notification's data type, None if not loaded.

    Accepts kebab-case (`heart-rate`, the documented form), snake_case,
    camelCase and `users/{id}/dataTypes/heart-rate`.
    """
    text = name.rsplit("/dataTypes/", 1)[-1]
    text = _CAMEL.sub("-", text).lower().replace("_", "-")
    return text if text in datatypes.SPECS else None


def merged_spans(spans: Iterable[tuple[dt.date, dt.date]]) -> list[tuple[dt.date, dt.date]]:
    """Date spans merged into runs of consecutive days, in date order."""
    merged: list[tuple[dt.date, dt.date]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + dt.timedelta(days=1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def split_span(first: dt.date, last: dt.date, max_days: int) -> list[tuple[dt.date, dt.date]]:
    """first..last in consecutive pieces of at most `max_days` days."""
    pieces = []
    while first <= last:
        end = min(last, first + dt.timedelta(days=max_days - 1))
        pieces.append((first, end))
        first = end + dt.timedelta(days=1)
    return pieces


def notification_messages(
    notification: Notification,
    user_key: str,
    data_type: str,
    today: dt.date,
    max_range_days: int = DEFAULT_MAX_RANGE_DAYS,
) -> list[bytes]:
    """The request messages that reload what a notification says changed.

    Each message is checked with the request contract's own parser, so the
    pipeline never dead-letters what the relay published.

    Args:
        notification: the parsed notification.
        user_key: the fitbeam user key of its healthUserId.
        data_type: fitbeam's data type name (`fitbeam_data_type`).
        today: the UTC date now (future dates are judged by it).
        max_range_days: the longest range one message may ask for.

    Raises:
        BadNotification: too many days, or a message the contract refuses.
    """
    runs = merged_spans(notification.spans)
    days = sum((last - first).days + 1 for first, last in runs)
    if days > MAX_NOTIFICATION_DAYS:
        raise BadNotification(
            "too_many_days", f"the intervals touch {days} days (at most {MAX_NOTIFICATION_DAYS})"
        )
    messages = []
    for first, last in (p for run in runs for p in split_span(*run, max_range_days)):
        message = request_messages.request_message(user_key, first, last, [data_type])
        try:
            request_messages.parse_request(message, today, max_range_days)
        except BadRequest as bad:
            raise BadNotification(f"request_{bad.reason}", str(bad)) from None
        messages.append(message)
    return messages


# --- the user map ----------------------------------------------------------------


def read_text(path: str) -> str:
    """A local or gs:// file's text."""
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path) as f:
        return f.read().decode("utf-8")


def parse_user_map(text: str) -> dict[str, str]:
    """`{"<healthUserId>": "<user key>", ...}` -> dict.

    Raises:
        ValueError: not such an object, or a bad id or key.
    """
    try:
        obj = json.loads(text)
    except ValueError as err:
        raise ValueError(f"not JSON ({err.args[0][:60]})") from None
    if not isinstance(obj, dict):
        raise ValueError('not a JSON object {"<healthUserId>": "<user key>"}')
    for health_id, user_key in obj.items():
        if not _HEALTH_USER_ID.match(health_id):
            raise ValueError(f"healthUserId {_short(health_id)} is not 1-63 of A-Z a-z 0-9 -")
        if not isinstance(user_key, str):
            raise ValueError(f"the user key of {health_id} is not a string")
        check_user_key(user_key)
    return dict(obj)


class UserMap:
    """healthUserId -> fitbeam user key, re-read when an unknown id arrives.

    Args:
        source: the map's path (local or gs://).
        reader: path -> text (injectable).
        clock: monotonic seconds (injectable).
        refresh_seconds: the least time between two reads.

    Raises:
        ValueError: the map cannot be read at start.
    """

    def __init__(
        self,
        source: str,
        reader: Callable[[str], str] = read_text,
        clock: Callable[[], float] = time.monotonic,
        refresh_seconds: float = USER_MAP_REFRESH_SECONDS,
    ):
        self.source = source
        self.reader = reader
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._map = self._read()
        self._read_at = clock()

    def _read(self) -> dict[str, str]:
        try:
            text = self.reader(self.source)
        except (OSError, UnicodeDecodeError) as err:
            raise ValueError(f"cannot read it ({type(err).__name__})") from None
        return parse_user_map(text)

    def __len__(self) -> int:
        return len(self._map)

    def lookup(self, health_user_id: str) -> str | None:
        """The user key, or None when the map (re-read if due) does not name the id."""
        found = self._map.get(health_user_id)
        if found is not None:
            return found
        with self._lock:
            if self.clock() - self._read_at < self.refresh_seconds:
                return self._map.get(health_user_id)
            self._read_at = self.clock()
            try:
                self._map = self._read()
            except Exception as err:  # any failure: keep serving with the map we have
                _LOGGER.warning(
                    "user map %s not re-read, the old one stays: %s: %s",
                    self.source,
                    type(err).__name__,
                    str(err)[:200],
                )
            else:
                _LOGGER.info("user map %s re-read: %d users", self.source, len(self._map))
            return self._map.get(health_user_id)


# --- the app ---------------------------------------------------------------------


class BodyTooLarge(Exception):
    """The request body is larger than `MAX_BODY_BYTES`."""


class BadFraming(ValueError):
    """The request's body framing is broken: Content-Length, Transfer-Encoding or a chunk.

    Where the body ends is then unknown, so the connection is closed after the
    answer: leftover bytes must never be read as the next request.
    """


class _Throttle:
    """Decides whether an event of one key is logged now: at most once per `seconds` per key.

    Args:
        seconds: the least time between two logged events of one key.
        clock: monotonic seconds (injectable).
        max_keys: keys remembered; when full, expired keys are dropped, and if
            none has expired, all are (a flood of new keys then logs, briefly, more).
    """

    def __init__(
        self, seconds: float, clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000
    ):
        self.seconds = seconds
        self.clock = clock
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._seen: dict[str, list] = {}  # key -> [last logged at, events held back since]

    def due(self, key: str) -> int | None:
        """None to stay quiet; else log now, and this many events of `key` were held back."""
        with self._lock:
            now = self.clock()
            entry = self._seen.get(key)
            if entry is not None and now - entry[0] < self.seconds:
                entry[1] += 1
                return None
            if entry is None and len(self._seen) >= self.max_keys:
                self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.seconds}
                if len(self._seen) >= self.max_keys:
                    self._seen.clear()
            self._seen[key] = [now, 0]
            return entry[1] if entry is not None else 0


@dataclasses.dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""


NO_CONTENT = Reply(204)
CREATED = Reply(201)
BAD_REQUEST = Reply(400, b"bad request\n")
UNAUTHORIZED = Reply(401, b"unauthorized\n")
FORBIDDEN = Reply(403, b"forbidden\n")
TOO_LARGE = Reply(413, b"body too large\n")
TIMED_OUT = Reply(408, b"request timeout\n")


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()


class RelayApp:
    """Turns one HTTP request into one `Reply` (see the module docstring).

    Args:
        topic: the request topic, projects/<p>/topics/<t>.
        secret: the whole Authorization header value Google sends.
        keys: the public keys signatures are checked with.
        users: healthUserId -> user key.
        publisher: `.publish(topic, data, **attributes)` -> future.
        signature_headers: header names to look for, in order.
        now: the current UTC instant (injectable).
        max_range_days: the longest range one message may ask for.
        clock: monotonic seconds, for quieting repeated log lines (injectable).
    """

    def __init__(
        self,
        topic: str,
        secret: str,
        keys: PublicKeys,
        users: UserMap,
        publisher,
        signature_headers: Sequence[str] = SIGNATURE_HEADERS,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        max_range_days: int = DEFAULT_MAX_RANGE_DAYS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.topic = topic
        # Only a digest is kept: compare_digest then sees equal lengths, and the
        # secret itself is in no attribute a debugger or repr might print.
        self._secret_digest = _digest(secret)
        self.keys = keys
        self.users = users
        self.publisher = publisher
        self.signature_headers = tuple(h.lower() for h in signature_headers)
        self.now = now
        self.max_range_days = max_range_days
        # With the AUTOMATIC policy every consenting user of the OAuth client is
        # notified; one line per user per QUIET_LOG_SECONDS, not per notification.
        self._unknown_users = _Throttle(QUIET_LOG_SECONDS, clock)

    def __repr__(self) -> str:
        return f"RelayApp(topic={self.topic!r}, {self.keys!r}, {len(self.users)} users)"

    def authorized(self, headers: Mapping[str, str]) -> bool:
        given = headers.get("authorization")
        if given is None:
            return False
        return hmac.compare_digest(_digest(given.strip()), self._secret_digest)

    def _signature(self, headers: Mapping[str, str]) -> tuple[str, str] | None:
        for name in self.signature_headers:
            if name in headers:
                return name, headers[name]
        return None

    def handle(
        self, method: str, headers: Mapping[str, str], read_body: Callable[[], bytes]
    ) -> Reply:
        """Answers one request; `read_body` is called only once the secret matched.

        Args:
            method: the HTTP method.
            headers: the request headers; `items()` may name a header twice
                (`http.client.HTTPMessage` does), and a repeated Authorization
                or signature header is refused with 400.
            read_body: returns the body, or raises `BodyTooLarge`, `BadFraming`
                or `TimeoutError`.
        """
        if method != "POST":
            return Reply(405, b"method not allowed\n")
        pairs = [(k.lower(), v) for k, v in headers.items()]
        names = [k for k, _ in pairs]
        repeated = [h for h in ("authorization", *self.signature_headers) if names.count(h) > 1]
        if repeated:
            # Which copy counts is ambiguous (proxies disagree), so neither does.
            _LOGGER.info("request refused (400): header %s given more than once", repeated[0])
            return BAD_REQUEST
        headers = dict(pairs)
        if not self.authorized(headers):
            why = "wrong" if "authorization" in headers else "no"
            _LOGGER.info("request refused (401): %s Authorization header", why)
            return UNAUTHORIZED
        try:
            body = read_body()
        except BodyTooLarge:
            _LOGGER.warning("request refused (413): body over %d bytes", MAX_BODY_BYTES)
            return TOO_LARGE
        except BadFraming as bad:
            _LOGGER.warning("request refused (400): %s", bad)
            return BAD_REQUEST
        except TimeoutError:
            _LOGGER.info("request refused (408): the body did not arrive in time")
            return TIMED_OUT
        try:
            obj = json.loads(body)
        except (ValueError, RecursionError):
            obj = None
        if is_verification(obj):
            _LOGGER.info("verification request answered (201)")
            return CREATED
        signature = self._signature(headers)
        if signature is None or not self.keys.verify(signature[1], body):
            what = (
                "no signature header" if signature is None else f"bad signature in {signature[0]}"
            )
            _LOGGER.warning("notification refused (403): %s", what)
            return FORBIDDEN
        try:
            if obj is None:
                raise BadNotification("not_json", "the body is not JSON")
            notification = parse_notification(obj)
        except BadNotification as bad:
            return self._bad(bad)
        return self._relay(notification)

    def _bad(self, bad: BadNotification) -> Reply:
        _LOGGER.error("signed notification not understood (400): %s: %s", bad.reason, bad)
        return Reply(400, f"bad notification: {bad.reason}\n".encode())

    def _relay(self, n: Notification) -> Reply:
        data_type = fitbeam_data_type(n.data_type)
        if data_type is None:
            _LOGGER.info(
                "notification %s %s for healthUserId %s ignored (204): fitbeam does not load "
                "this data type",
                n.operation,
                _short(n.data_type),
                n.health_user_id,
            )
            return NO_CONTENT
        user_key = self.users.lookup(n.health_user_id)
        if user_key is None:
            held = self._unknown_users.due(n.health_user_id)
            if held is not None:
                _LOGGER.info(
                    "notification %s %s ignored (204): healthUserId %s is not in the user map "
                    "%s (not a study user; %d more for this id since it was last logged, "
                    "logged at most every %d s)",
                    n.operation,
                    data_type,
                    n.health_user_id,
                    self.users.source,
                    held,
                    QUIET_LOG_SECONDS,
                )
            return NO_CONTENT
        try:
            messages = notification_messages(
                n, user_key, data_type, self.now().date(), self.max_range_days
            )
        except BadNotification as bad:
            return self._bad(bad)
        try:
            ids = self._publish(messages, user_key, n.operation)
        except Exception as err:  # any publish failure: Google retries on 503
            _LOGGER.error(
                "notification %s %s for %s not relayed (503): publish to %s failed (%s: %s)",
                n.operation,
                data_type,
                user_key,
                self.topic,
                type(err).__name__,
                str(err)[:200],
            )
            return Reply(503, b"try again later\n")
        _LOGGER.info(
            "notification %s %s for %s relayed (204): %s as message(s) %s",
            n.operation,
            data_type,
            user_key,
            ", ".join(m.decode("utf-8") for m in messages),
            ", ".join(ids),
        )
        return NO_CONTENT

    def _publish(self, messages: list[bytes], user_key: str, operation: str) -> list[str]:
        attributes = {"user_id": user_key, "origin": ORIGIN}
        if operation:
            attributes["operation"] = operation[:64]
        futures = [self.publisher.publish(self.topic, m, **attributes) for m in messages]
        return [f.result(timeout=PUBLISH_TIMEOUT_SECONDS) for f in futures]


# --- the HTTP server -------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "fitbeam-relay"
    sys_version = ""

    def setup(self) -> None:
        # Every read and write waits at most this long. A timed-out wait for the
        # next request closes the connection quietly (BaseHTTPRequestHandler).
        self.timeout = self.server.socket_timeout
        super().setup()

    def _framing(self) -> int | None:
        """The body length Content-Length gives (0 without one); None for a chunked body.

        Raises:
            BadFraming: Transfer-Encoding other than one `chunked`, both it and
                Content-Length (a request smuggling pattern), or a Content-Length
                that is not one decimal number.
        """
        encodings = self.headers.get_all("Transfer-Encoding") or []
        lengths = self.headers.get_all("Content-Length") or []
        if encodings:
            if lengths:
                raise BadFraming("both Transfer-Encoding and Content-Length")
            if (
                len(encodings) > 1
                or encodings[0].strip().lower() != "chunked"
                or self.request_version == "HTTP/1.0"
            ):
                raise BadFraming("a Transfer-Encoding other than HTTP/1.1 chunked")
            return None
        if not lengths:
            return 0
        if len(lengths) > 1 or not _CONTENT_LENGTH.fullmatch(lengths[0].strip()):
            raise BadFraming("Content-Length is not one decimal number")
        return int(lengths[0])

    def _read_body(self) -> bytes:
        if self._length is None:
            body = self._read_chunked()
        elif self._length > MAX_BODY_BYTES:
            raise BodyTooLarge
        else:
            body = self.rfile.read(self._length) if self._length else b""
            if len(body) < self._length:
                raise BadFraming("the body ended before its Content-Length")
        self._body_complete = True
        return body

    def _line(self, what: str) -> bytes:
        line = self.rfile.readline(MAX_CHUNK_LINE_BYTES + 1)
        if len(line) > MAX_CHUNK_LINE_BYTES or not line.endswith(b"\r\n"):
            raise BadFraming(f"{what} is not a CRLF line of at most {MAX_CHUNK_LINE_BYTES} bytes")
        return line

    def _read_chunked(self) -> bytes:
        """A chunked body (RFC 9112 7.1), strictly: sizes are 1-8 hex digits, lines end in CRLF.

        The sizes are added up against `MAX_BODY_BYTES` before a chunk is read;
        extensions and up to `MAX_TRAILER_LINES` trailer lines are read and dropped.
        """
        body = bytearray()
        while True:
            found = _CHUNK_SIZE_LINE.fullmatch(self._line("a chunk-size line"))
            if found is None:
                raise BadFraming("a chunk size is not 1-8 hex digits")
            size = int(found.group(1), 16)
            if size == 0:
                break
            if len(body) + size > MAX_BODY_BYTES:
                raise BodyTooLarge
            chunk = self.rfile.read(size)
            if len(chunk) < size or self.rfile.read(2) != b"\r\n":
                raise BadFraming("a chunk is shorter than its size or not followed by CRLF")
            body += chunk
        for _ in range(MAX_TRAILER_LINES + 1):
            if self._line("a trailer line") == b"\r\n":
                return bytes(body)
        raise BadFraming(f"more than {MAX_TRAILER_LINES} trailer lines")

    def _serve(self) -> None:
        self._body_complete = False
        try:
            self._length = self._framing()
        except BadFraming as bad:
            # Before the secret is checked, so INFO like a 401; after it, the app warns.
            _LOGGER.info("request refused (400): %s", bad)
            self.close_connection = True
            self._reply(BAD_REQUEST)
            return
        try:
            reply = self.server.app.handle(self.command, self.headers, self._read_body)
        except Exception:  # a bug must not leave the connection hanging
            _LOGGER.exception("request failed (500)")
            reply = Reply(500, b"internal error\n")
        if self._length != 0 and not self._body_complete:
            # An unread or half-read body would be taken for the next request.
            self.close_connection = True
        self._reply(reply)

    def _reply(self, reply: Reply) -> None:
        self.send_response(reply.status)
        if reply.body:
            self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)

    do_POST = _serve
    do_GET = _serve
    do_PUT = _serve
    do_DELETE = _serve
    do_PATCH = _serve

    def log_message(self, format, *args):  # BaseHTTPRequestHandler's signature
        pass  # every reply is logged by the app, without headers


_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 16\r\n"
    b"Retry-After: %d\r\n"
    b"Connection: close\r\n"
    b"\r\n"
    b"try again later\n"
) % RETRY_AFTER_SECONDS


class _Server(http.server.ThreadingHTTPServer):
    """One thread per connection, at most `max_connections` at once; others get 503 at once.

    The accepting thread takes a slot before it starts a connection's thread,
    and the thread gives it back when the connection ends, so threads never
    outnumber the slots. A refused connection is answered by the accepting
    thread without reading the request: 503, Retry-After, closed.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        app: RelayApp,
        socket_timeout: float,
        max_connections: int,
    ):
        super().__init__(address, _Handler)
        self.app = app
        self.socket_timeout = socket_timeout
        self.max_connections = max_connections
        self._slots = threading.BoundedSemaphore(max_connections)
        self._busy = _Throttle(BUSY_LOG_SECONDS)

    def process_request(self, request, client_address) -> None:
        if not self._slots.acquire(blocking=False):
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started: nobody else gives the slot back
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _refuse(self, request) -> None:
        held = self._busy.due("busy")
        if held is not None:
            _LOGGER.warning(
                "connection refused (503): all %d connections busy (%d more refused since "
                "last logged)",
                self.max_connections,
                held,
            )
        try:
            request.settimeout(1.0)
            request.sendall(_BUSY)
            # Take what already arrived, so that closing does not reset the
            # connection and lose the answer; never wait for more.
            request.setblocking(False)
            drained = 0
            while drained < 65536:
                data = request.recv(8192)
                if not data:
                    break
                drained += len(data)
        except OSError:  # includes BlockingIOError: nothing more to read
            pass
        finally:
            self.shutdown_request(request)

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError):  # a client that reset or stalled: ordinary
            _LOGGER.info("connection ended: %s", type(error).__name__)
        else:
            _LOGGER.exception("connection failed")


class RelayServer:
    """The app on an HTTP server (port 0 picks a free one); a context manager.

    Args:
        app: answers each request.
        host, port: where to listen.
        socket_timeout: seconds each wait for the client may last (an idle
            keep-alive connection is closed after it; a body that stalls gets 408).
        max_connections: connections served at once (one thread each); more
            are answered 503 with Retry-After at once.

    Raises:
        ValueError: socket_timeout is not positive or max_connections is under 1.
    """

    def __init__(
        self,
        app: RelayApp,
        host: str = "127.0.0.1",
        port: int = 0,
        socket_timeout: float = SOCKET_TIMEOUT_SECONDS,
        max_connections: int = MAX_CONNECTIONS,
    ):
        if not socket_timeout > 0:
            raise ValueError(f"socket_timeout={socket_timeout!r} is not positive, e.g. 30")
        if max_connections < 1:
            raise ValueError(f"max_connections={max_connections!r} is under 1, e.g. 64")
        self.app = app
        self._server = _Server((host, port), app, socket_timeout, max_connections)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._server.server_address[0]}:{self.port}/"

    def start(self) -> str:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fitbeam-relay",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> RelayServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Serves in the calling thread until SIGTERM (Cloud Run's stop) or Ctrl-C."""

        def stop(signum, frame):
            threading.Thread(target=self._server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        try:
            self._server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self._server.server_close()


# --- configuration ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RelayConfig:
    """Validated settings of one `fitbeam relay`.

    Attributes:
        topic: projects/<project>/topics/<topic>.
        secret: the Authorization header value, or "" when read from Secret Manager.
        secret_version: projects/<p>/secrets/<s>/versions/<v>, or "".
        public_key: PEM, JWK or Tink keyset text (read from the file when a path was given).
        user_map: the user map's path (local or gs://).
        signature_headers: signature header names, in the order looked for.
        host, port: where to listen.
    """

    topic: str
    secret: str = dataclasses.field(repr=False)
    secret_version: str
    public_key: str = dataclasses.field(repr=False)
    user_map: str
    signature_headers: tuple[str, ...]
    host: str
    port: int


def build_parser(env: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(
        prog="fitbeam relay",
        description="Serve the webhook endpoint that relays Google Health API notifications "
        "to the request topic (`fitbeam relay user-map --help` writes the user map).",
    )
    parser.add_argument(
        "--topic",
        default=env.get(ENV_TOPIC, ""),
        help=f"Request topic, e.g. {TOPIC_EXAMPLE} (env {ENV_TOPIC}).",
    )
    parser.add_argument(
        "--secret_version",
        default=env.get(ENV_SECRET_VERSION, ""),
        help="Secret Manager version holding the Authorization header value, e.g. "
        f"{SECRET_VERSION_EXAMPLE} (env {ENV_SECRET_VERSION}); or give the value itself in "
        f"env {ENV_SECRET}.",
    )
    parser.add_argument(
        "--public_key",
        default=env.get(ENV_PUBLIC_KEY, ""),
        help="The key notifications are signed with: a file (local or gs://) or the text of "
        f"a PEM key, a JWK or a Tink JSON keyset, e.g. {PUBLIC_KEY_EXAMPLE} "
        f"(env {ENV_PUBLIC_KEY}).",
    )
    parser.add_argument(
        "--user_map",
        default=env.get(ENV_USER_MAP, ""),
        help='JSON file {"<healthUserId>": "<user key>"}, local or gs://, e.g. '
        f"{USER_MAP_EXAMPLE} (env {ENV_USER_MAP}).",
    )
    parser.add_argument(
        "--signature_headers",
        default=env.get(ENV_SIGNATURE_HEADERS, ",".join(SIGNATURE_HEADERS)),
        help="Signature header names, comma-separated, looked for in this order "
        f"(default {','.join(SIGNATURE_HEADERS)}; env {ENV_SIGNATURE_HEADERS}).",
    )
    parser.add_argument(
        "--host",
        default="0.0.0.0",  # noqa: S104 - Cloud Run reaches the container on its interface
        help="Address to listen on (default 0.0.0.0).",
    )
    parser.add_argument(
        "--port",
        default=env.get(ENV_PORT, str(DEFAULT_PORT)),
        help=f"Port to listen on (default ${ENV_PORT}, else {DEFAULT_PORT}).",
    )
    return parser


class SecretError(OptionsError):
    """A secret the relay will not use; the message says where it came from, never what it is."""

    def __init__(self, where: str, why: str):
        ValueError.__init__(self, f"{where}: {why}, e.g. {SECRET_EXAMPLE}")
        self.flag = where


def check_secret(secret: str, where: str) -> str:
    """The secret without surrounding whitespace (`echo` adds a newline).

    Args:
        secret: the Authorization header value Google sends.
        where: where it came from, for the error message.

    Raises:
        SecretError: not "<scheme> <credentials>" with enough credential characters.
            The value itself is never shown.
    """
    secret = secret.strip()
    if not _SECRET_FORM.match(secret) or len(secret.split(" ", 1)[1]) < MIN_SECRET_CHARS:
        raise SecretError(
            where,
            "must hold the whole Authorization header value: a scheme, a space and at least "
            f"{MIN_SECRET_CHARS} characters of credentials",
        )
    return secret


def _public_key_text(value: str) -> str:
    if not value:
        raise OptionsError("public_key", "", "is required", PUBLIC_KEY_EXAMPLE)
    text = value.strip()
    if text.startswith(("-----BEGIN", "{")):
        return text
    try:
        return read_text(value).strip()
    except (OSError, UnicodeDecodeError) as err:
        raise OptionsError(
            "public_key", value, f"cannot read the file ({type(err).__name__})", PUBLIC_KEY_EXAMPLE
        ) from None


def _signature_headers(value: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    if not names or not all(_SIGNATURE_HEADER.match(n) for n in names):
        raise OptionsError(
            "signature_headers", value, "is not a list of header names", ",".join(SIGNATURE_HEADERS)
        )
    return names


def resolve(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> RelayConfig:
    """Checks every setting.

    Raises:
        OptionsError: the first bad value found (a secret is never shown).
    """
    env = os.environ if env is None else env
    topic = check_topic(args.topic)
    secret = env.get(ENV_SECRET, "")
    version = args.secret_version
    if secret and version:
        raise OptionsError(
            "secret_version", version, f"and env {ENV_SECRET} are both set; give one", None
        )  # the env value is not shown
    if not secret and not version:
        raise OptionsError(
            "secret_version",
            "",
            f"is required (or the secret itself in env {ENV_SECRET})",
            SECRET_VERSION_EXAMPLE,
        )
    if version and not _SECRET_VERSION.match(version):
        raise OptionsError(
            "secret_version",
            version,
            "is not projects/<p>/secrets/<s>[/versions/<n>|latest]",
            SECRET_VERSION_EXAMPLE,
        )
    if version and "/versions/" not in version:
        version += "/versions/latest"
    if secret:
        secret = check_secret(secret, f"env {ENV_SECRET}")
    public_key = _public_key_text(args.public_key)
    if not args.user_map:
        raise OptionsError("user_map", "", "is required", USER_MAP_EXAMPLE)
    try:
        port = int(args.port)
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        raise OptionsError("port", args.port, "is not a port number", str(DEFAULT_PORT)) from None
    return RelayConfig(
        topic=topic,
        secret=secret,
        secret_version=version,
        public_key=public_key,
        user_map=args.user_map,
        signature_headers=_signature_headers(args.signature_headers),
        host=args.host,
        port=port,
    )


def _secret_manager_client():
    from google.cloud import secretmanager

    return secretmanager.SecretManagerServiceClient(transport="rest")


def read_secret_version(name: str, client_factory: Callable[[], object]) -> str:
    """The text of one Secret Manager secret version.

    Raises:
        OptionsError: it cannot be read (the message names the version, never the value).
    """
    try:
        response = client_factory().access_secret_version(name=name)
        return response.payload.data.decode("utf-8")
    except Exception as err:  # any API or decoding error means the relay cannot start
        raise OptionsError(
            "secret_version", name, f"cannot be read ({type(err).__name__})", None
        ) from None


def _pubsub_publisher():
    from google.cloud import pubsub_v1

    return pubsub_v1.PublisherClient()


def build_app(
    config: RelayConfig,
    publisher_factory: Callable[[], object] = _pubsub_publisher,
    secret_client_factory: Callable[[], object] = _secret_manager_client,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    reader: Callable[[str], str] = read_text,
) -> RelayApp:
    """The app of `config`: reads the secret, the key and the user map.

    Raises:
        OptionsError: one of them cannot be read or used.
    """
    secret = config.secret
    if config.secret_version:
        secret = check_secret(
            read_secret_version(config.secret_version, secret_client_factory),
            f"secret {config.secret_version}",
        )
    try:
        keys = load_public_keys(config.public_key)
    except PublicKeyError as err:
        raise OptionsError("public_key", "(the key)", str(err), PUBLIC_KEY_EXAMPLE) from None
    try:
        users = UserMap(config.user_map, reader=reader)
    except ValueError as err:
        raise OptionsError("user_map", config.user_map, str(err), USER_MAP_EXAMPLE) from None
    return RelayApp(
        config.topic,
        secret,
        keys,
        users,
        publisher_factory(),
        signature_headers=config.signature_headers,
        now=now,
    )


# --- fitbeam relay user-map ------------------------------------------------------


def user_map_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fitbeam relay user-map",
        description="Print the relay's user map: each user's healthUserId, read from the "
        "identity route with their own token.",
    )
    parser.add_argument("--users", help="User keys, comma-separated, or @PATH (local or gs://).")
    parser.add_argument(
        "--token_store", help="Where the tokens live, e.g. file:///var/fitbeam/tokens."
    )
    add_api_arguments(parser)
    return parser


def identity_reader(token_store: str, api_base_url: str, token_url: str) -> Callable[[str], str]:
    """user key -> healthUserId, through the identity route and the project's call discipline."""
    import requests

    from healthapi import calls
    from healthapi.auth import oauth
    from healthapi.auth.broker import broker_for
    from healthapi.client import HealthApiClient
    from healthapi.quota import UserRateLimiter
    from healthapi.retry import RetryPolicy

    try:
        oauth.check_transport(api_base_url, token_url)
    except ValueError as err:
        raise OptionsError("api_base_url", api_base_url, str(err), None) from None
    try:
        broker = broker_for(token_store, token_url)
    except ValueError as err:
        raise OptionsError("token_store", token_store, str(err), None) from None
    runner = calls.CallRunner(broker=broker, limiter=UserRateLimiter(300), policy=RetryPolicy())
    client = HealthApiClient(requests.Session(), api_base_url)

    def health_user_id(user: str) -> str:
        body = runner.request(user, client.identity)
        found = body.get("healthUserId") if isinstance(body, dict) else None
        if not isinstance(found, str) or not _HEALTH_USER_ID.match(found):
            raise ValueError("the identity route named no valid healthUserId")
        return found

    return health_user_id


def user_map_main(
    argv: list[str],
    reader_factory: Callable[[str, str, str], Callable[[str], str]] = identity_reader,
    out: Callable[[str], None] = print,
    err: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> int:
    """`fitbeam relay user-map`: 0 when every user was read, 1 otherwise, 2 on bad options."""
    try:
        args = user_map_parser().parse_args(argv)
        users = parse_users(args.users)
        if not args.token_store:
            raise OptionsError("token_store", "", "is required", "file:///var/fitbeam/tokens")
        api = check_url(args.api_base_url, "api_base_url", GOOGLE_HEALTH_API)
        health_user_id = reader_factory(
            args.token_store, api, resolve_token_url(api, args.token_url)
        )
    except OptionsError as error:
        err(f"fitbeam relay user-map: {error}")
        return 2
    except SystemExit as exit_:
        return int(exit_.code or 0)
    found: dict[str, str] = {}
    failed = 0
    for user in users:
        try:
            found[health_user_id(user)] = user
        except Exception as error:  # reported per user; the others still go
            failed += 1
            verdict = getattr(error, "verdict", None)
            if verdict is not None:
                text = f"{verdict.reason}: {verdict.message[:200]}"
            else:
                text = f"{type(error).__name__}: {str(error)[:200]}"
            err(f"{user}: healthUserId not read: {text}")
    out(json.dumps(dict(sorted(found.items())), indent=2))
    return 1 if failed else 0


# --- entry point -----------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """`fitbeam relay`: serves until stopped; 2 on bad settings.

    `fitbeam relay user-map ...` prints the user map instead (`user_map_main`).
    """
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["user-map"]:
        return user_map_main(argv[1:])
    try:
        config = resolve(build_parser().parse_args(argv))
        app = build_app(config)
        server = RelayServer(app, config.host, config.port)
    except OptionsError as error:
        print(f"fitbeam relay: {error}", file=sys.stderr)
        return 2
    except SystemExit as exit_:  # argparse: --help, or a flag it does not know
        return int(exit_.code or 0)
    except OSError as error:  # the port is taken
        print(f"fitbeam relay: cannot listen on port {config.port}: {error}", file=sys.stderr)
        return 2
    _LOGGER.info(
        "relay listening on %s:%d for %s; users in the map: %d",
        config.host,
        server.port,
        config.topic,
        len(app.users),
    )
    server.serve_forever()
    return 0


if __name__ == "__main__":
    from commands import logs

    logs.configure()
    sys.exit(main())
