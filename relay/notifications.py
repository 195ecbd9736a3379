"""Webhook notifications -> the request messages that reload what changed (pure functions).

A notification names a user (`healthUserId`), a data type, an operation and
one or more time intervals (docs/notifications-relay.md). `parse_notification`
reads it, `fitbeam_data_type` maps its data type to fitbeam's name, and
`notification_messages` turns it into request messages in the contract of
`healthapi.messages`::

    n = parse_notification(json.loads(body))
    notification_messages(n, "participant-017", "steps", today)
    # [b'{"data_types":["steps"],"date":"2026-11-20","user_id":"participant-017"}']

Each interval gives the civil dates it touches, read from
`civilIso8601TimeInterval`, else `civilDateTimeInterval`, else
`physicalTimeInterval` (UTC, widened by the extreme UTC offsets -12:00 and
+14:00, since the user's zone is unknown). Intervals are half-open: an end at
exactly 00:00 does not touch that day. The dates are merged into runs of
consecutive days, one message per run (split at `max_range_days`); past
`MAX_MESSAGES` messages, one range from the first to the last date replaces
the runs. The earlier payload shape, `civilIso8601TimeInterval` directly under
`data`, is read as one interval.

Every date must lie in `MIN_DATE`..`MAX_DATE`, so no date arithmetic here can
overflow: a year 0001, 9999 or 1e300 is a `BadNotification` (answered 400),
never an exception the server would answer 500.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping

from healthapi import datatypes
from healthapi import messages as request_messages
from healthapi.messages import DEFAULT_MAX_RANGE_DAYS, BadRequest
from relay.quiet import shown

# The operations the API documents; anything else still reloads, but is not
# passed on as a message attribute.
OPERATIONS = ("UPSERT", "DELETE")
# A notification touching more days than this is not a change notification.
MAX_NOTIFICATION_DAYS = 3660
# The most request messages one notification becomes. Past it, one range from
# the first to the last date touched replaces the runs: more days are
# reloaded, none is missed.
MAX_MESSAGES = 16
# No device wrote data before the Unix epoch; the upper bound only keeps the
# arithmetic below (a day or 14 hours added) inside what `datetime` can hold.
# Dates after tomorrow are refused later, by the request contract.
MIN_DATE = dt.date(1970, 1, 1)
MAX_DATE = dt.date(9998, 12, 31)
# The extreme UTC offsets in use: Baker Island (-12:00) and Kiritimati (+14:00).
MIN_UTC_OFFSET = dt.timedelta(hours=-12)
MAX_UTC_OFFSET = dt.timedelta(hours=14)

HEALTH_USER_ID = re.compile(r"[A-Za-z0-9-]{1,63}")  # fullmatch: `$` would let "1\n" through
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_CIVIL_NUMBER = re.compile(r"-?[0-9]{1,9}")  # proto3 JSON may write an int32 as a string


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
        operation: UPSERT or DELETE; "" for anything else Google sends (it reloads too).
        spans: per interval, the first and last civil date it touches.
    """

    health_user_id: str
    data_type: str
    operation: str
    spans: tuple[tuple[dt.date, dt.date], ...]


def _in_range(moment: dt.datetime, field: str) -> dt.datetime:
    if not MIN_DATE <= moment.date() <= MAX_DATE:
        raise BadNotification(
            "date_out_of_range", f"{field} is on {moment.date()}, outside {MIN_DATE}..{MAX_DATE}"
        )
    return moment


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
        raise BadNotification("bad_interval", f"{field}={shown(value)} is not a date-time")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadNotification(
            "bad_interval", f"{field}={shown(value)} is not ISO 8601 (2026-11-20T17:29:00)"
        ) from None
    return _in_range(moment.replace(tzinfo=None), field)  # civil: the wall clock as it read


def _civil_number(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _CIVIL_NUMBER.fullmatch(value):
        return int(value)
    raise ValueError("not an integer")


def _civil_message(value: object, field: str) -> dt.datetime:
    """A CivilDateTime message: {"date": {year, month, day}, "time": {hours, ...}}."""
    if not isinstance(value, dict) or not isinstance(value.get("date"), dict):
        raise BadNotification("bad_interval", f"{field} is not a CivilDateTime")
    day, clock = value["date"], value.get("time") or {}
    try:
        year, *rest = [
            _civil_number(day["year"]),
            _civil_number(day["month"]),
            _civil_number(day["day"]),
            _civil_number(clock.get("hours", 0)),
            _civil_number(clock.get("minutes", 0)),
            _civil_number(clock.get("seconds", 0)),
        ]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise BadNotification("bad_interval", f"{field} is not a valid CivilDateTime") from None
    if not MIN_DATE.year <= year <= MAX_DATE.year:
        raise BadNotification(
            "date_out_of_range",
            f"{field}.date.year={shown(day['year'])} is outside {MIN_DATE.year}..{MAX_DATE.year}",
        )
    try:
        moment = dt.datetime(year, *rest)
    except (ValueError, OverflowError):
        raise BadNotification("bad_interval", f"{field} is not a valid CivilDateTime") from None
    return _in_range(moment, field)


def _physical(value: object, field: str) -> dt.datetime:
    if not isinstance(value, str):
        raise BadNotification("bad_interval", f"{field}={shown(value)} is not a timestamp")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise BadNotification("bad_interval", f"{field}={shown(value)} is not RFC 3339 with a zone")
    _in_range(moment.replace(tzinfo=None), field)  # before the shift to UTC can overflow
    return _in_range(moment.astimezone(dt.UTC).replace(tzinfo=None), field)


def interval_dates(interval: Mapping) -> tuple[dt.date, dt.date]:
    """The first and last civil date one notification interval touches.

    Raises:
        BadNotification: no readable time interval, or a date out of range.
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
    if not isinstance(user, str) or not HEALTH_USER_ID.fullmatch(user):
        raise BadNotification(
            "bad_user", f"data.healthUserId={shown(user)} is not 1-63 of A-Z a-z 0-9 -"
        )
    data_type = data.get("dataType")
    if not isinstance(data_type, str) or not data_type:
        raise BadNotification("bad_data_type", f"data.dataType={shown(data_type)} is not a name")
    operation = data.get("operation", "")
    if not isinstance(operation, str):
        raise BadNotification("bad_operation", f"data.operation={shown(operation)}")
    if "intervals" in data:
        intervals = data["intervals"]
        if not isinstance(intervals, list) or not intervals:
            raise BadNotification("no_interval", "data.intervals is not a non-empty list")
        if not all(isinstance(i, dict) for i in intervals):
            raise BadNotification("bad_interval", "data.intervals holds a non-object")
    else:
        intervals = [data]
    spans = tuple(interval_dates(i) for i in intervals)
    return Notification(user, data_type, operation if operation in OPERATIONS else "", spans)


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
        if merged and (first - merged[-1][1]).days <= 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def split_span(first: dt.date, last: dt.date, max_days: int) -> list[tuple[dt.date, dt.date]]:
    """first..last in consecutive pieces of at most `max_days` days (ordinals: no overflow)."""
    pieces = []
    start, end = first.toordinal(), last.toordinal()
    while start <= end:
        stop = min(end, start + max_days - 1)
        pieces.append((dt.date.fromordinal(start), dt.date.fromordinal(stop)))
        start = stop + 1
    return pieces


def _days(spans: Iterable[tuple[dt.date, dt.date]]) -> int:
    return sum((last - first).days + 1 for first, last in spans)


def notification_messages(
    notification: Notification,
    user_key: str,
    data_type: str,
    today: dt.date,
    max_range_days: int = DEFAULT_MAX_RANGE_DAYS,
) -> list[bytes]:
    """The request messages that reload what a notification says changed: at most `MAX_MESSAGES`.

    The dates are merged into runs of consecutive days, one message per run
    (split at `max_range_days`). When that would be more than `MAX_MESSAGES`
    messages, the range from the first to the last date is requested instead,
    in pieces of `max_range_days`. Each message is checked with the request
    contract's own parser, so the pipeline never dead-letters what the relay
    published.

    Args:
        notification: the parsed notification.
        user_key: the fitbeam user key of its healthUserId.
        data_type: fitbeam's data type name (`fitbeam_data_type`).
        today: the UTC date now (future dates are judged by it).
        max_range_days: the longest range one message may ask for.

    Raises:
        BadNotification: too many days (touched, or in the covering range when
            it is used), or a message the contract refuses.
    """
    runs = merged_spans(notification.spans)
    days = _days(runs)
    if days > MAX_NOTIFICATION_DAYS:
        raise BadNotification(
            "too_many_days", f"the intervals touch {days} days (at most {MAX_NOTIFICATION_DAYS})"
        )
    pieces = [piece for run in runs for piece in split_span(*run, max_range_days)]
    if len(pieces) > MAX_MESSAGES:
        covering = (runs[0][0], runs[-1][1])
        pieces = split_span(*covering, max_range_days)
        days = _days([covering])
        if days > MAX_NOTIFICATION_DAYS or len(pieces) > MAX_MESSAGES:
            raise BadNotification(
                "too_many_days",
                f"{len(runs)} separate runs of days, and the {days} days from "
                f"{covering[0]} to {covering[1]} are more than one notification may reload",
            )
    messages = []
    for first, last in pieces:
        message = request_messages.request_message(user_key, first, last, [data_type])
        try:
            request_messages.parse_request(message, today, max_range_days)
        except BadRequest as bad:
            raise BadNotification(f"request_{bad.reason}", str(bad)) from None
        messages.append(message)
    return messages
