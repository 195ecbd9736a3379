"""Request messages: what to load, as JSON, from Pub/Sub, a file or a replay.

One parser serves every way requests arrive (`fitbeam run --streaming` from a
Pub/Sub subscription, `fitbeam run --requests_file` in batch, and replays), so
a message means the same thing wherever it comes from::

    {"user_id": "participant-017", "date": "2026-11-27"}
    {"user_id": "participant-017", "start_date": "2026-11-01", "end_date": "2026-11-07",
     "data_types": ["steps", "heart-rate"], "stream": "raw"}

Fields:
    user_id: the fitbeam user key (required; the token store's key).
    date: one civil date, YYYY-MM-DD; or
    start_date, end_date: an inclusive civil range, at most `max_range_days` days.
    data_types: the API's data type names (default: every supported type).
    source: the API: `google-health` (the default and the only live one).
    stream: `reconciled` (default; one stream per type, as the app shows) or
        `raw` (every device and app separately).

A message that breaks a rule raises `BadRequest` with a stable `reason` code
(the catalogue is `REASONS`) and a message a person can act on; the Beam step
`transforms.requests.ParseRequests` turns it into a dead letter and carries on.
Beam-free: the relay and `fitbeam enqueue` use the same contract.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from healthapi import datatypes
from healthapi.auth.store import check_user_key
from healthapi.elements import STREAM_RAW, STREAM_RECONCILED, FetchRequest
from healthapi.nesting import nested_deeper_than

DEFAULT_MAX_RANGE_DAYS = 366
# What a dead letter keeps of a bad message.
SHOWN_MESSAGE_CHARS = 2000
# A request is a few hundred bytes; anything near this size is not a request.
MAX_MESSAGE_BYTES = 16 * 1024
# A request nests two levels (the object, its data_types list). JSON nested much deeper is
# not a request, and walking it (to show it in a dead letter) could exhaust the stack.
MAX_NESTING = 32
SOURCE_GOOGLE_HEALTH = "google-health"
SOURCE_FITBIT_LEGACY = "fitbit-legacy"
FIELDS = ("user_id", "date", "start_date", "end_date", "data_types", "source", "stream")

REASONS = {
    "empty_message": "the message has no data",
    "message_too_large": "the message is larger than a request can be",
    "not_utf8": "the data is not UTF-8 text",
    "not_json": "the text is not JSON",
    "duplicate_key": "a key appears twice in one object",
    "not_an_object": "the JSON is not an object",
    "unknown_field": "a field this contract does not define",
    "missing_user": "no user_id",
    "bad_user": "user_id is not a valid user key",
    "missing_dates": "neither date nor start_date/end_date",
    "ambiguous_dates": "both date and start_date/end_date",
    "incomplete_range": "start_date without end_date, or the reverse",
    "bad_date": "a date that is not a real YYYY-MM-DD civil date",
    "end_before_start": "end_date before start_date",
    "future_date": "a date after today everywhere on Earth",
    "range_too_long": "more days than the configured maximum",
    "bad_data_types": "data_types is not a non-empty list of strings",
    "unknown_data_type": "a data type this pipeline does not load",
    "bad_source": "an unknown or retired source",
    "bad_stream": "stream is neither reconciled nor raw",
}

# ASCII digits only: `\d` would also match full-width or Arabic-Indic ones.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SECRET_KEY = re.compile(r"token|secret|authori[sz]ation|password|credential", re.IGNORECASE)
_SECRET_TEXT = re.compile(r"(?i)(bearer\s+)\S+|ya29\.[\w.-]+|1//[\w.-]{20,}")


class BadRequest(ValueError):
    """A request message that breaks the contract.

    Attributes:
        reason: a code from `REASONS`.
    """

    def __init__(self, reason: str, message: str, user_key: str = ""):
        super().__init__(message)
        self.reason = reason
        self.user_key = user_key


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise BadRequest("duplicate_key", f"key {key[:40]!r} appears twice")
        seen[key] = value
    return seen


def _no_constant(name: str) -> None:
    raise BadRequest("not_json", f"{name} is not valid JSON")


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        # Python converts at most sys.get_int_max_str_digits() (4300) digits.
        digits = len(text.lstrip("-"))
        raise BadRequest("not_json", f"a number of {digits} digits is too long") from None


def _short(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _date(obj: dict, field: str) -> dt.date:
    value = obj[field]
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise BadRequest("bad_date", f"{field}={_short(value)} is not a date YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadRequest("bad_date", f"{field}={_short(value)} is not a real date") from None


def _dates(obj: dict) -> tuple[dt.date, dt.date]:
    has_range = "start_date" in obj or "end_date" in obj
    if "date" in obj and has_range:
        raise BadRequest("ambiguous_dates", "give either date or start_date and end_date, not both")
    if "date" in obj:
        day = _date(obj, "date")
        return day, day
    if not has_range:
        raise BadRequest("missing_dates", "give date, or start_date and end_date")
    for field, other in (("start_date", "end_date"), ("end_date", "start_date")):
        if field not in obj:
            raise BadRequest("incomplete_range", f"{other} needs {field} too")
    start, end = _date(obj, "start_date"), _date(obj, "end_date")
    if end < start:
        raise BadRequest("end_before_start", f"end_date {end} is before start_date {start}")
    return start, end


def _data_types(obj: dict) -> tuple[str, ...]:
    if "data_types" not in obj:
        return datatypes.DEFAULT_DATA_TYPES
    names = obj["data_types"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise BadRequest(
            "bad_data_types",
            f'data_types={_short(names)} must be a non-empty list of names, e.g. ["steps"]',
        )
    for name in names:
        if name not in datatypes.SPECS:
            raise BadRequest(
                "unknown_data_type",
                f"data type {_short(name)} is not supported (supported: "
                f"{', '.join(datatypes.SPECS)})",
            )
    return tuple(dict.fromkeys(names))


def parse_request(
    data: bytes,
    today: dt.date,
    max_range_days: int = DEFAULT_MAX_RANGE_DAYS,
) -> list[FetchRequest]:
    """One request message -> one FetchRequest per data type.

    Args:
        data: the message bytes.
        today: the UTC date now; dates after UTC's tomorrow are in the future
            everywhere (the far east is at most 14 hours ahead).
        max_range_days: the longest range one message may ask for.

    Raises:
        BadRequest: the message breaks the contract (see `REASONS`).
    """
    if not data:
        raise BadRequest("empty_message", "the message is empty")
    if len(data) > MAX_MESSAGE_BYTES:
        raise BadRequest(
            "message_too_large", f"{len(data)} bytes; a request has at most {MAX_MESSAGE_BYTES}"
        )
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadRequest("not_utf8", f"byte {err.start} is not UTF-8") from None
    try:
        obj = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_int=_whole_number,
        )
    except json.JSONDecodeError as err:
        raise BadRequest(
            "not_json", f"not JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ) from None
    except RecursionError:
        raise BadRequest("not_json", "JSON nested too deeply") from None
    if nested_deeper_than(obj, MAX_NESTING):
        raise BadRequest("not_json", "JSON nested too deeply")
    if not isinstance(obj, dict):
        kind = {list: "an array", str: "a string", type(None): "null", bool: "a boolean"}
        raise BadRequest(
            "not_an_object", f"expected a JSON object, got {kind.get(type(obj), 'a number')}"
        )
    if "user_id" not in obj:
        raise BadRequest("missing_user", "user_id is required")
    user = obj["user_id"]
    if not isinstance(user, str):
        raise BadRequest("bad_user", f"user_id={_short(user)} must be a string")
    try:
        check_user_key(user)
    except ValueError as err:
        raise BadRequest("bad_user", str(err)) from None
    try:
        return _requests_of(obj, user, today, max_range_days)
    except BadRequest as bad:
        bad.user_key = user
        raise


def _requests_of(obj: dict, user: str, today: dt.date, max_range_days: int) -> list[FetchRequest]:
    unknown = sorted(set(obj) - set(FIELDS))
    if unknown:
        raise BadRequest(
            "unknown_field",
            f"unknown field {_short(unknown[0])}; the fields are {', '.join(FIELDS)}",
        )
    start, end = _dates(obj)
    latest = today + dt.timedelta(days=1)
    if end > latest:
        raise BadRequest(
            "future_date", f"{end} is in the future (it is at most {latest} anywhere now)"
        )
    days = (end - start).days + 1
    if days > max_range_days:
        raise BadRequest(
            "range_too_long",
            f"{start}..{end} is {days} days; split it into ranges of at most {max_range_days}",
        )
    source = obj.get("source", SOURCE_GOOGLE_HEALTH)
    if source == SOURCE_FITBIT_LEGACY:
        raise BadRequest(
            "bad_source",
            "the legacy Fitbit Web API was turned off in November 2026; "
            f"request source {SOURCE_GOOGLE_HEALTH!r}",
        )
    if source != SOURCE_GOOGLE_HEALTH:
        raise BadRequest(
            "bad_source", f"source={_short(source)} is unknown; use {SOURCE_GOOGLE_HEALTH!r}"
        )
    stream = obj.get("stream", STREAM_RECONCILED)
    if stream not in (STREAM_RECONCILED, STREAM_RAW):
        raise BadRequest(
            "bad_stream", f"stream={_short(stream)} must be {STREAM_RECONCILED!r} or {STREAM_RAW!r}"
        )
    return [FetchRequest(user, t, start, end, stream) for t in _data_types(obj)]


def request_message(
    user_id: str,
    start: dt.date,
    end: dt.date | None = None,
    data_types: list[str] | tuple[str, ...] | None = None,
) -> bytes:
    """The message asking for `user_id`'s data over start..end (compact JSON)."""
    obj: dict = {"user_id": user_id}
    if end is None or end == start:
        obj["date"] = start.isoformat()
    else:
        obj["start_date"], obj["end_date"] = start.isoformat(), end.isoformat()
    if data_types:
        obj["data_types"] = list(data_types)
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def _redact(value: object) -> object:
    if isinstance(value, dict):
        return {
            k: "[redacted]" if _SECRET_KEY.search(str(k)) else _redact(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, str):
        return _SECRET_TEXT.sub(lambda m: (m.group(1) or "") + "[redacted]", value)
    return value


def shown_message(data: bytes) -> object:
    """What a dead letter keeps of a bad message: JSON if it parses, else text.

    Anything that looks like a credential is redacted: a message is not supposed to
    hold one, but a mistaken producer must not get one copied into the sink.
    """
    text = bytes(data[: SHOWN_MESSAGE_CHARS * 2]).decode("utf-8", "replace")
    try:
        # ValueError: not JSON, or a number too long to convert.
        shown = json.loads(text)
    except (ValueError, RecursionError):
        return _redact(text[:SHOWN_MESSAGE_CHARS])
    if nested_deeper_than(shown, MAX_NESTING):
        return _redact(text[:SHOWN_MESSAGE_CHARS])
    return _redact(shown)
