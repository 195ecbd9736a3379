"""Values of Google Health API v4 data points: proto3 JSON -> Avro-native Python values.

The parsers every row builder shares (`rows.points`, `rows.datapoints`, `rows.daily_summary`):
each takes a JSON value and the JSON path it came from, returns the column's value, and raises
`RowError` naming the path when the value is malformed. They run on every heart-rate sample,
so they check types with `type(x) is` and do the least work they can. Also here: the
`RowContext` every row of a user and run shares, and the functions that write a point's time
columns (interval, sample, daily date).

How the API's proto3 JSON becomes values:

- Timestamps are RFC 3339 (any fraction; beyond microseconds it is truncated); UTC offsets
  are duration strings (`"-18000s"`, `"0s"` for UTC), 0 when absent. Civil datetimes are the
  API's `civil*` values when sent, else the instant shifted by its offset.
- int64 arrives as a JSON string or number, double as a number or string; both must be
  finite. `count` and `zero_or_float` read an absent value as proto3's default 0; the `opt_`
  parsers read it as None (unknown); the others raise.
- A zero-valued message is a set message: `{}` (`"time": {}` at midnight, `"device": {}`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from typing import Any

UTC = dt.UTC

_MAX_OFFSET_SECONDS = 18 * 3600


class RowError(ValueError):
    """A data point that cannot become a row.

    Attributes:
        field: the offending field as a JSON path (`heartRate.sampleTime.physicalTime`).
        reason: what is wrong with it.
    """

    def __init__(self, field: str, reason: str):
        # Both go to ValueError so that the exception pickles and unpickles intact.
        super().__init__(field, reason)
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


@dataclasses.dataclass(frozen=True)
class RowContext:
    """What every row of one user in one run shares.

    Attributes:
        user_key: the participant's pseudonymous key.
        run_id: the run's identifier.
        ingest_time: the run's start, stamped once per run; tz-aware (stored in UTC).
        load_id: the load (one API answer) the rows come from; see `load_windows`.
    """

    user_key: str
    run_id: str
    ingest_time: dt.datetime
    load_id: str | None = None

    def __post_init__(self):
        if not isinstance(self.user_key, str) or not self.user_key:
            raise ValueError(
                f"user_key must be a non-empty string, such as 'p-0042'; got {self.user_key!r:.60}"
            )
        if not isinstance(self.run_id, str) or not self.run_id:
            raise ValueError(f"run_id must be a non-empty string; got {self.run_id!r:.60}")
        moment = self.ingest_time
        if not isinstance(moment, dt.datetime) or moment.utcoffset() is None:
            raise ValueError(
                "ingest_time must be a tz-aware datetime, such as "
                f"datetime(2026, 11, 28, 12, tzinfo=datetime.UTC); got {moment!r:.60}"
            )
        if moment.tzinfo is not UTC:
            object.__setattr__(self, "ingest_time", moment.astimezone(UTC))


def missing_or(value: Any, what: str) -> str:
    return "missing" if value is None else f"{what}, got {value!r:.60}"


def instant(value: Any, path: str) -> dt.datetime:
    """RFC 3339 timestamp -> tz-aware UTC datetime (fraction truncated to microseconds)."""
    # fromisoformat also takes ISO 8601 forms RFC 3339 forbids (no seconds, a space, basic
    # format), so check the fixed positions first; it does the rest in C.
    if (
        type(value) is not str
        or len(value) < 20
        or value[10] != "T"
        or value[4] != "-"
        or value[7] != "-"
        or value[13] != ":"
        or value[16] != ":"
    ):
        raise RowError(path, missing_or(value, "expected an RFC 3339 timestamp"))
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise RowError(path, f"expected an RFC 3339 timestamp, got {value!r:.60}") from None
    zone = moment.tzinfo
    if zone is not UTC:
        if zone is None:
            raise RowError(path, f"timestamp has no Z or UTC offset: {value!r:.60}")
        moment = moment.astimezone(UTC)
    return moment


# Offset text -> (seconds, timedelta). Users have a handful of offsets, so parse each once.
_OFFSETS: dict[str, tuple[int, dt.timedelta]] = {}
_ZERO_OFFSET = (0, dt.timedelta(0))


def utc_offset(value: Any, path: str) -> tuple[int, dt.timedelta]:
    """proto3 Duration string (`"-18000s"`) -> (seconds east of UTC, timedelta); absent = 0."""
    if value is None:
        return _ZERO_OFFSET
    cached = _OFFSETS.get(value) if type(value) is str else None
    if cached is not None:
        return cached
    seconds = None
    if type(value) is str and value.endswith("s"):
        try:
            number = float(value[:-1])
        except ValueError:
            number = math.nan
        if number.is_integer() and abs(number) <= _MAX_OFFSET_SECONDS:
            seconds = int(number)
    if seconds is None:
        raise RowError(
            path, f"expected a UTC offset in whole seconds such as '-18000s', got {value!r:.60}"
        )
    result = (seconds, dt.timedelta(seconds=seconds))
    if len(_OFFSETS) < 1024:
        _OFFSETS[value] = result
    return result


def civil(value: Any, moment: dt.datetime, shift: dt.timedelta, path: str) -> dt.datetime:
    """The naive wall-clock datetime of an instant: the API's CivilDateTime when sent.

    Sleep and exercise intervals come without civil times from the live API (other types
    carry them): their civil times are the instant shifted by its UTC offset. A time of
    day at midnight is a set message with every field zero, `"time": {}`.
    """
    if value is None:
        return (moment + shift).replace(tzinfo=None)
    # The server derives civil times from the same instant and offset, so the two agree. If
    # they ever disagree, the API's value wins: it is what the schema documents and what the
    # Fitbit app showed the user.
    try:
        day = value["date"]
        clock = value.get("time")
        if clock is None:
            return dt.datetime(day["year"], day["month"], day["day"])
        return dt.datetime(
            day["year"],
            day["month"],
            day["day"],
            clock.get("hours", 0),
            clock.get("minutes", 0),
            clock.get("seconds", 0),
            clock.get("nanos", 0) // 1000,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RowError(path, f"expected a CivilDateTime, got {value!r:.100}") from None


def date_of(value: Any, path: str) -> dt.date:
    """google.type.Date `{"year", "month", "day"}` -> date."""
    try:
        return dt.date(value["year"], value["month"], value["day"])
    except (KeyError, TypeError, ValueError):
        raise RowError(path, missing_or(value, "expected a date {year, month, day}")) from None


# proto3 JSON writes int64 as an optionally signed run of ASCII digits; Python's int()
# and float() would also take other scripts' digits, spaces and '_'.
_INT_TEXT = re.compile(r"-?[0-9]+")
_FLOAT_TEXT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def to_int(value: Any, path: str) -> int:
    """proto3 int64 (a JSON string, or a number) -> int."""
    kind = type(value)
    if kind is str:
        if _INT_TEXT.fullmatch(value):
            try:
                return int(value)
            except ValueError:  # more digits than int() converts
                pass
    elif kind is int:
        return value
    elif kind is float and value.is_integer():
        return int(value)
    raise RowError(path, missing_or(value, "expected an integer"))


def to_float(value: Any, path: str) -> float:
    """proto3 double (a JSON number, or a string) -> finite float."""
    kind = type(value)
    if kind is int:
        return float(value)
    number = math.nan
    if kind is float:
        number = value
    elif kind is str and _FLOAT_TEXT.fullmatch(value):
        number = float(value)
    if math.isfinite(number):
        return number
    raise RowError(path, missing_or(value, "expected a finite number"))


def to_str(value: Any, path: str) -> str:
    if type(value) is str:
        return value
    raise RowError(path, missing_or(value, "expected a string"))


def seconds(value: Any, path: str) -> float:
    """proto3 Duration (`"1722.5s"`) -> seconds as float."""
    if type(value) is str and value.endswith("s"):
        try:
            number = float(value[:-1])
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return number
    raise RowError(path, missing_or(value, "expected a duration such as '1722.5s'"))


def count(value: Any, path: str) -> int:
    """An integer that proto3 leaves out when it is 0."""
    return 0 if value is None else to_int(value, path)


def zero_or_float(value: Any, path: str) -> float:
    """A double that proto3 leaves out when it is 0."""
    return 0.0 if value is None else to_float(value, path)


def opt_int(value: Any, path: str) -> int | None:
    return None if value is None else to_int(value, path)


def opt_float(value: Any, path: str) -> float | None:
    return None if value is None else to_float(value, path)


def opt_str(value: Any, path: str) -> str | None:
    return None if value is None else to_str(value, path)


def opt_seconds(value: Any, path: str) -> float | None:
    return None if value is None else seconds(value, path)


def opt_bool(value: Any, path: str) -> bool | None:
    if value is None or type(value) is bool:
        return value
    raise RowError(path, f"expected true or false, got {value!r:.60}")


def obj(value: Any, path: str) -> dict:
    if type(value) is dict:
        return value
    raise RowError(path, missing_or(value, "expected a JSON object"))


def opt_obj(value: Any, path: str) -> dict:
    """A nested message that may be absent: absent reads as empty."""
    return {} if value is None else obj(value, path)


# --------------------------------------------------------------------------- time columns


def place_interval(body: dict, path: str, row: dict, civil_date_at_end: bool = False) -> None:
    """interval{startTime, startUtcOffset, endTime, endUtcOffset, civil*} -> time columns."""
    path = path + ".interval"
    interval = obj(body.get("interval"), path)
    start = instant(interval.get("startTime"), path + ".startTime")
    end = instant(interval.get("endTime"), path + ".endTime")
    if end < start:
        raise RowError(path + ".endTime", f"{end.isoformat()} is before startTime")
    start_offset, start_shift = utc_offset(interval.get("startUtcOffset"), path + ".startUtcOffset")
    end_offset, end_shift = utc_offset(interval.get("endUtcOffset"), path + ".endUtcOffset")
    civil_start = civil(
        interval.get("civilStartTime"), start, start_shift, path + ".civilStartTime"
    )
    civil_end = civil(interval.get("civilEndTime"), end, end_shift, path + ".civilEndTime")
    row["start_time"] = start
    row["end_time"] = end
    row["start_utc_offset_seconds"] = start_offset
    row["end_utc_offset_seconds"] = end_offset
    row["civil_start_datetime"] = civil_start
    row["civil_end_datetime"] = civil_end
    row["civil_date"] = (civil_end if civil_date_at_end else civil_start).date()


def place_session_end(body: dict, path: str, row: dict) -> None:
    """Sleep: an interval that belongs to the civil day it ends on (the wake-up day)."""
    place_interval(body, path, row, civil_date_at_end=True)


def place_sample(body: dict, path: str, row: dict) -> None:
    """sampleTime{physicalTime, utcOffset, civilTime} -> time columns."""
    path = path + ".sampleTime"
    sample = obj(body.get("sampleTime"), path)
    moment = instant(sample.get("physicalTime"), path + ".physicalTime")
    offset, shift = utc_offset(sample.get("utcOffset"), path + ".utcOffset")
    wall = civil(sample.get("civilTime"), moment, shift, path + ".civilTime")
    row["sample_time"] = moment
    row["utc_offset_seconds"] = offset
    row["civil_datetime"] = wall
    row["civil_date"] = wall.date()


def place_daily(body: dict, path: str, row: dict) -> None:
    """date{year, month, day}, already the user's local day -> civil_date."""
    row["civil_date"] = date_of(body.get("date"), path + ".date")


# --------------------------------------------------------------------------- repeated values


def str_list(value: Any, path: str) -> list[str]:
    """A repeated string (enum values, free text); absent reads as empty."""
    if value is None:
        return []
    if type(value) is list and all(type(item) is str for item in value):
        return value
    raise RowError(path, f"expected a list of strings, got {value!r:.60}")


def int_list(value: Any, path: str) -> list[int]:
    """A repeated int32/int64 (an ECG waveform: 7,500 numbers); absent reads as empty."""
    if value is None:
        return []
    if type(value) is not list:
        raise RowError(path, f"expected a list of integers, got {value!r:.60}")
    # int32 arrives as JSON numbers: the common case is checked in one pass, and only a
    # list with strings (int64) or integral floats is converted element by element.
    if all(type(item) is int for item in value):
        return value
    return [to_int(item, f"{path}[{i}]") for i, item in enumerate(value)]


def objects(value: Any, path: str) -> list:
    """A repeated message; absent reads as empty."""
    if value is None:
        return []
    if type(value) is list:
        return value
    raise RowError(path, f"expected a list, got {value!r:.60}")
