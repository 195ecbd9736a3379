"""The relay's application: the checks and answers of one request, with no HTTP server in it.

`RelayApp` answers a request in two steps, so that the body of a request
without the secret is never read (relay/server.py reads it in between):

- `admit(method, headers)` before the body: 405 for anything but POST; 400
  for an Authorization or signature header given twice (which copy counts
  would be ambiguous, and proxies disagree) or for both Content-Length and
  Transfer-Encoding (a smuggling pattern); 401 without exactly the
  configured secret (compared in constant time). These refusals are counted
  and logged as one summary line a minute (`quiet.RefusalTally`), since
  anyone can send them.
- `answer(headers, body)` after it: 201 for the verification handshake; 403
  without a signature the configured key verifies; 400 for a signed
  notification the relay cannot read (Google's retries deliver it again
  once the relay is fixed); 204 without publishing for a data type fitbeam
  does not load or a user the map does not know (final: a retry cannot
  change the answer); 503 when Pub/Sub did not take the messages (Google
  retries); otherwise 204 once every message is published.

`handle(method, headers, read_body)` does both for callers that read the body
synchronously (the unit tests). Each answer is one log line at most; values
from a notification pass through `quiet.shown`, and a secret, an
Authorization header, a signature or a body is never logged.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from healthapi.messages import DEFAULT_MAX_RANGE_DAYS
from relay.keys import PublicKeys
from relay.notifications import (
    OPERATIONS,
    BadNotification,
    Notification,
    fitbeam_data_type,
    is_verification,
    notification_messages,
    parse_notification,
)
from relay.quiet import RefusalTally, Throttle, shown
from relay.usermap import UserMap

_LOGGER = logging.getLogger(__name__)

ORIGIN = "relay"
# The discovery document (rev. 20261002+) names the first; earlier docs and
# observed traffic the second. Both are looked for, in this order.
SIGNATURE_HEADERS = ("GOOGLE-HEALTH-API-SIGNATURE", "X-HEALTHAPI-SIGNATURE")
MAX_BODY_BYTES = 256 * 1024  # a notification is a few hundred bytes
# All the messages of one notification must be confirmed within this time.
PUBLISH_TIMEOUT_SECONDS = 10.0
# An unknown healthUserId is logged at most this often (each id apart).
QUIET_LOG_SECONDS = 600.0
# Refusals of requests without the secret: one summary line at most this often.
REFUSAL_LOG_SECONDS = 60.0

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


class BodyTooLarge(Exception):
    """The request body is larger than `MAX_BODY_BYTES`."""


@dataclasses.dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""


NO_CONTENT = Reply(204)
CREATED = Reply(201)
BAD_REQUEST = Reply(400, b"bad request\n")
UNAUTHORIZED = Reply(401, b"unauthorized\n")
FORBIDDEN = Reply(403, b"forbidden\n")
METHOD_NOT_ALLOWED = Reply(405, b"method not allowed\n")
TIMED_OUT = Reply(408, b"request timeout\n")
TOO_LARGE = Reply(413, b"body too large\n")
INTERNAL_ERROR = Reply(500, b"internal error\n")
TRY_LATER = Reply(503, b"try again later\n")


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()


def _pairs(headers: Headers) -> list[tuple[str, str]]:
    """(lower-case name, value) of every header line, repeats kept."""
    items = headers.items() if hasattr(headers, "items") else headers
    return [(name.lower(), value) for name, value in items]


class RelayApp:
    """Turns one HTTP request into one `Reply` (see the module docstring).

    Args:
        topic: the request topic, projects/<p>/topics/<t>.
        secret: the whole Authorization header value Google sends.
        keys: the public keys signatures are checked with.
        users: healthUserId -> user key.
        publisher: `.publish(topic, data, **attributes)` -> a concurrent future.
        signature_headers: header names to look for, in order.
        now: the current UTC instant (injectable).
        max_range_days: the longest range one message may ask for.
        clock: monotonic seconds, for quieting repeated log lines (injectable).
        publish_timeout: seconds all the messages of one notification may take to be
            confirmed together; past it the answer is 503.
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
        publish_timeout: float = PUBLISH_TIMEOUT_SECONDS,
    ):
        self.topic = topic
        self.publish_timeout = publish_timeout
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
        self._unknown_users = Throttle(QUIET_LOG_SECONDS, clock)
        self.refusals = RefusalTally(_LOGGER, REFUSAL_LOG_SECONDS, clock)

    def __repr__(self) -> str:
        return f"RelayApp(topic={self.topic!r}, {self.keys!r}, {len(self.users)} users)"

    def _authorized(self, given: str | None) -> bool:
        if given is None:
            return False
        return hmac.compare_digest(_digest(given.strip()), self._secret_digest)

    def admit(self, method: str, headers: Headers) -> Reply | None:
        """The answer to give before the body is read, or None to read it and call `answer`.

        Args:
            method: the HTTP method.
            headers: the request headers; a name may repeat (pairs, or a
                mapping whose `items()` repeats it as `http.client.HTTPMessage` does).
        """
        if method != "POST":
            self.refusals.add("405 not a POST")
            return METHOD_NOT_ALLOWED
        pairs = _pairs(headers)
        names = [name for name, _ in pairs]
        if any(names.count(h) > 1 for h in ("authorization", *self.signature_headers)):
            # Which copy counts is ambiguous (proxies disagree), so neither does.
            self.refusals.add("400 Authorization or signature header repeated")
            return BAD_REQUEST
        if "content-length" in names and "transfer-encoding" in names:
            # RFC 9112 6.3: a smuggling pattern; h11 would let Transfer-Encoding win and
            # keep the connection open. Refused unread, and the connection is closed.
            self.refusals.add("400 both Content-Length and Transfer-Encoding")
            return BAD_REQUEST
        given = dict(pairs).get("authorization")
        if not self._authorized(given):
            self.refusals.add(
                "401 no Authorization header" if given is None else "401 wrong Authorization header"
            )
            return UNAUTHORIZED
        return None

    def body_refused(self, error: Exception) -> Reply:
        """The answer when the body could not be read: too large, or too slow."""
        if isinstance(error, BodyTooLarge):
            _LOGGER.warning("request refused (413): body over %d bytes", MAX_BODY_BYTES)
            return TOO_LARGE
        _LOGGER.info("request refused (408): the body did not arrive in time")
        return TIMED_OUT

    def handle(self, method: str, headers: Headers, read_body: Callable[[], bytes]) -> Reply:
        """`admit`, then `read_body` (only once the secret matched), then `answer`.

        Args:
            read_body: returns the body, or raises `BodyTooLarge` or `TimeoutError`.
        """
        reply = self.admit(method, headers)
        if reply is not None:
            return reply
        try:
            body = read_body()
        except (BodyTooLarge, TimeoutError) as error:
            return self.body_refused(error)
        return self.answer(headers, body)

    def _signature(self, headers: dict[str, str]) -> tuple[str, str] | None:
        for name in self.signature_headers:
            if name in headers:
                return name, headers[name]
        return None

    def answer(self, headers: Headers, body: bytes) -> Reply:
        """The answer to an admitted request whose body has been read."""
        fields = dict(_pairs(headers))
        try:
            obj = json.loads(body)
        except (ValueError, RecursionError):
            obj = None
        if is_verification(obj):
            _LOGGER.info("verification request answered (201)")
            return CREATED
        signature = self._signature(fields)
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
        # The message quotes request values only through quiet.shown.
        _LOGGER.error("signed notification not understood (400): %s: %s", bad.reason, bad)
        return Reply(400, f"bad notification: {bad.reason}\n".encode())

    def _relay(self, n: Notification) -> Reply:
        operation = n.operation or "(another operation)"
        data_type = fitbeam_data_type(n.data_type)
        if data_type is None:
            _LOGGER.info(
                "notification %s %s for healthUserId %s ignored (204): fitbeam does not load "
                "this data type",
                operation,
                shown(n.data_type),
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
                    operation,
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
                operation,
                data_type,
                user_key,
                self.topic,
                type(err).__name__,
                shown(str(err), 200),
            )
            return TRY_LATER
        _LOGGER.info(
            "notification %s %s for %s relayed (204): %s as message(s) %s",
            operation,
            data_type,
            user_key,
            ", ".join(m.decode("utf-8") for m in messages),
            ", ".join(ids),
        )
        return NO_CONTENT

    def _publish(self, messages: list[bytes], user_key: str, operation: str) -> list[str]:
        """Publishes every message; their ids, once all are confirmed.

        Raises:
            TimeoutError: not all were confirmed within `publish_timeout` seconds together.
            Exception: whatever a publish future raised.
        """
        attributes = {"user_id": user_key, "origin": ORIGIN}
        if operation in OPERATIONS:
            attributes["operation"] = operation
        futures = [self.publisher.publish(self.topic, m, **attributes) for m in messages]
        _, pending = concurrent.futures.wait(futures, timeout=self.publish_timeout)
        if pending:
            raise TimeoutError(
                f"{len(pending)} of {len(futures)} messages not confirmed in "
                f"{self.publish_timeout:g} s"
            )
        return [f.result() for f in futures]
