"""What the relay tests share: a signing key, the secret, payload builders, hand-written fakes."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import logging

from commands import logs
from relay.app import RelayApp, Reply
from simulator import webhooks

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 28, 11, 30, tzinfo=UTC)
TOPIC = "projects/fitbeam-local/topics/fitbeam-requests"
SECRET = "Bearer relay-" + "k" * 32
HEALTH_ID = "7108215177813058725"
USER_MAP = {HEALTH_ID: "user-1", "4000000000000000002": "user-2"}
NY = "America/New_York"
VERIFICATION = b'{"type": "verification"}'

# One key for the tests: generating keys is cheap, but one key keeps signatures comparable.
KEY = webhooks.SigningKey(key_id=0x2A17C0DE)
OTHER_KEY = webhooks.SigningKey(key_id=7)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def steps_message(day: str, user: str = "user-1") -> bytes:
    return b'{"data_types":["steps"],"date":"%s","user_id":"%s"}' % (day.encode(), user.encode())


def range_message(first: str, last: str, data_type: str = "steps", user: str = "user-1") -> bytes:
    return b'{"data_types":["%s"],"end_date":"%s","start_date":"%s","user_id":"%s"}' % (
        data_type.encode(),
        last.encode(),
        first.encode(),
        user.encode(),
    )


class FakePublisher:
    """Records what is published; `fail` makes every publish's future raise it."""

    def __init__(self):
        self.published: list[tuple[str, bytes, dict]] = []
        self.fail: Exception | None = None

    def publish(self, topic: str, data: bytes, **attributes):
        future = concurrent.futures.Future()
        if self.fail is not None:
            future.set_exception(self.fail)
        else:
            self.published.append((topic, data, attributes))
            future.set_result(str(len(self.published)))
        return future


class Files:
    """A reader of the user map that tests can change, counting reads."""

    def __init__(self, text: str):
        self.text = text
        self.reads = 0

    def __call__(self, path: str) -> str:
        self.reads += 1
        return self.text


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def payload(
    intervals: list[dict] | None = None,
    data_type: str = "steps",
    operation: str = "UPSERT",
    health_user_id: str = HEALTH_ID,
    **data,
) -> dict:
    body = {
        "version": "1",
        "clientProvidedSubscriptionName": "fitbeam-relay",
        "healthUserId": health_user_id,
        "operation": operation,
        "dataType": data_type,
        **data,
    }
    if intervals is not None:
        body["intervals"] = intervals
    return {"data": body}


def civil(start: str, end: str) -> dict:
    return {"civilIso8601TimeInterval": {"startTime": start, "endTime": end}}


FIVE_MINUTES = civil("2026-11-20T17:29:00", "2026-11-20T17:34:00")


def post(
    app: RelayApp,
    body: bytes | dict,
    secret: str | None = SECRET,
    key: webhooks.SigningKey | None = KEY,
    header: str = "X-HEALTHAPI-SIGNATURE",
    signature: str | None = None,
) -> Reply:
    """One POST through `RelayApp.handle`, signed with `key` unless a signature is given."""
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["Authorization"] = secret
    if signature is None and key is not None:
        signature = key.sign(raw)
    if signature is not None:
        headers[header] = signature
    return app.handle("POST", headers, lambda: raw)


# A value that would forge a log line, clear a terminal or turn text around if logged raw.
HOSTILE = "x\nINFO relay.app: forged\r\x1b[2J\u2028\u202e\x85"
UNSAFE_IN_LOGS = {chr(c) for c in range(32)} | {"\x7f", "\x85", "\u2028", "\u2029", "\u202e"}


def formatters(monkeypatch) -> dict[str, logging.Formatter]:
    """The formatters `commands.logs.configure` installs for text and JSON logs."""
    found = {}
    for kind in ("text", "json"):
        captured: dict = {}
        monkeypatch.setattr(logging, "basicConfig", lambda _c=captured, **kw: _c.update(kw))
        logs.configure(environ={"FITBEAM_LOG_FORMAT": kind})
        (handler,) = captured["handlers"]
        found[kind] = handler.formatter
    return found
