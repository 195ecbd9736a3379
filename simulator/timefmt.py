"""proto3-JSON renderings of time values, as the Google Health API sends them.

Physical instants are epoch seconds (UTC) inside the simulator; civil values are
derived from them with the user's IANA zone, the way the real server computes
`civil*` fields from the per-point UTC offset.

Whole-second instants (every generated point's) take a fast path: fields by
integer arithmetic, the zone's offset looked up once per UTC hour. It gives
exactly what the `datetime` path gives (`tests/simulator/test_rendering.py`).
"""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

UTC = dt.UTC
_EPOCH_DAY = dt.date(1970, 1, 1)


@functools.lru_cache(maxsize=1 << 16)
def epoch_day(days: int) -> dt.date:
    """The UTC date `days` days after 1970-01-01."""
    return _EPOCH_DAY + dt.timedelta(days=days)


@functools.lru_cache(maxsize=1 << 16)
def _iso_day(days: int) -> str:
    return epoch_day(days).isoformat()


def rfc3339(epoch: float) -> str:
    """Formats an instant as RFC 3339 in UTC (`2026-11-20T02:03:05Z`), fraction if any."""
    if type(epoch) is int:
        days, seconds = divmod(epoch, 86400)
        return (
            f"{_iso_day(days)}T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z"
        )
    moment = dt.datetime.fromtimestamp(epoch, UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0") + "Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> float:
    """Parses an RFC 3339 timestamp with `Z` or an offset into epoch seconds.

    Raises:
        ValueError: if the text is not RFC 3339 with an explicit zone.
    """
    if not isinstance(text, str) or "T" not in text:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"RFC 3339 timestamp needs a zone: {text!r}")
    return moment.timestamp()


def duration(seconds: float) -> str:
    """proto3 Duration string: `"-18000s"`, `"1722.5s"`."""
    if type(seconds) is int:
        return f"{seconds}s"
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{seconds:.9f}".rstrip("0") + "s"


def parse_duration(text: str) -> float:
    """Parses a proto3 Duration string (`"3600s"`) into seconds.

    Raises:
        ValueError: if the text is not a duration.
    """
    if not isinstance(text, str) or not text.endswith("s"):
        raise ValueError(f"not a duration: {text!r}")
    return float(text[:-1])


def _offset_at(epoch: float, zone: ZoneInfo) -> int:
    return int(dt.datetime.fromtimestamp(epoch, zone).utcoffset().total_seconds())


@functools.lru_cache(maxsize=1 << 16)
def _hour_offset(hour: int, zone: ZoneInfo) -> int | None:
    """The zone's offset all through UTC hour `hour` since the epoch; None if it changes.

    An offset that is the same at the hour's first and last second holds in between:
    no zone changes its offset twice within an hour.
    """
    first = _offset_at(hour * 3600, zone)
    return first if first == _offset_at(hour * 3600 + 3599, zone) else None


def utc_offset_seconds(epoch: float, zone: ZoneInfo) -> int:
    """Seconds east of UTC of `zone` at the instant `epoch`."""
    offset = _hour_offset(int(epoch // 3600), zone)
    return _offset_at(epoch, zone) if offset is None else offset


def local_datetime(epoch: float, zone: ZoneInfo) -> dt.datetime:
    """Naive wall-clock time in `zone` at the instant `epoch`."""
    return dt.datetime.fromtimestamp(epoch, zone).replace(tzinfo=None)


def civil_datetime_json(civil: dt.datetime) -> dict:
    """CivilDateTime message; zero fields omitted, a midnight `time` sent as `{}`.

    proto3 JSON sends a set message even when all its fields are zero.
    """
    clock = {
        key: value
        for key, value in (
            ("hours", civil.hour),
            ("minutes", civil.minute),
            ("seconds", civil.second),
            ("nanos", civil.microsecond * 1000),
        )
        if value
    }
    return {"date": date_json(civil.date()), "time": clock}


def date_json(day: dt.date) -> dict:
    return {"year": day.year, "month": day.month, "day": day.day}


def civil_json_at(epoch: float, zone: ZoneInfo) -> dict:
    """`civil_datetime_json(local_datetime(epoch, zone))`, without datetimes for whole seconds."""
    if type(epoch) is not int:
        return civil_datetime_json(local_datetime(epoch, zone))
    days, seconds = divmod(epoch + utc_offset_seconds(epoch, zone), 86400)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return {
        "date": date_json(epoch_day(days)),
        "time": {
            key: value
            for key, value in (("hours", hours), ("minutes", minutes), ("seconds", seconds))
            if value
        },
    }


def offset_fields(prefix: str, epoch: float, zone: ZoneInfo | None) -> dict:
    """`{prefix}UtcOffset` entry: a set Duration, so `"0s"` in UTC; none without a zone."""
    if zone is None:
        return {}
    return {f"{prefix}UtcOffset": duration(utc_offset_seconds(epoch, zone))}


def interval_json(start: float, end: float, zone: ZoneInfo | None, civil: bool = True) -> dict:
    """ObservationTimeInterval / SessionTimeInterval.

    Args:
        zone: the user's zone; None for points recorded without UTC offsets, whose
            offsets are left out and whose civil times fall back to UTC.
        civil: with the server-computed civil times (sleep and exercise come without).
    """
    out = {
        "startTime": rfc3339(start),
        **offset_fields("start", start, zone),
        "endTime": rfc3339(end),
        **offset_fields("end", end, zone),
    }
    if civil:
        out["civilStartTime"] = civil_json_at(start, zone or UTC)
        out["civilEndTime"] = civil_json_at(end, zone or UTC)
    return out


def sample_time_json(epoch: float, zone: ZoneInfo) -> dict:
    """ObservationSampleTime with its server-computed civil time."""
    return {
        "physicalTime": rfc3339(epoch),
        "utcOffset": duration(utc_offset_seconds(epoch, zone)),
        "civilTime": civil_json_at(epoch, zone),
    }


def segment_json(start: float, end: float, zone: ZoneInfo) -> dict:
    """start/end times with offsets, as in SleepStage, SplitSummary and similar."""
    return {
        "startTime": rfc3339(start),
        **offset_fields("start", start, zone),
        "endTime": rfc3339(end),
        **offset_fields("end", end, zone),
    }


def civil_midnight(day: dt.date, zone: ZoneInfo) -> int:
    """Epoch seconds of the first instant of civil `day` in `zone`."""
    return int(dt.datetime.combine(day, dt.time(0), tzinfo=zone).timestamp())


def civil_to_epoch(civil: dt.datetime, zone: ZoneInfo) -> int:
    """Epoch seconds of a wall-clock time (first occurrence when it repeats)."""
    return int(civil.replace(tzinfo=zone).timestamp())
