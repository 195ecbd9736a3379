"""The answers of `:rollUp` and `:dailyRollUp`, from a checked data type and a request body.

rollUp aggregates physical windows of `windowSize` over `range` and answers them
oldest first; dailyRollUp aggregates civil windows of `windowSizeDays` days from
`range.start` and answers them newest first, as the live API does. Only the range
start must fall on a window boundary (a midnight): the last window is cut short
at the range's end, whatever its time of day. Both page by rolled-up points
(windows without data take no room) and send a `nextPageToken` only when more
remain; a range beyond the type's cap (14 or 90 days) is refused with
`INVALID_ROLLUP_QUERY_DURATION`. Bodies are read as proto3 JSON (`simulator.bodies`).
"""

from __future__ import annotations

import datetime as dt
import json
import math

from simulator import bodies, paging, timefmt
from simulator.catalog import ROLLUP_PAGE, DataType
from simulator.errors import ApiError, invalid
from simulator.store import DataStore
from simulator.synth import User

# Windows a rollUp answer aggregates at a time while it looks for points to page.
_ROLLUP_CHUNK = 1440
_TIME_FIELDS = ("hours", "minutes", "seconds", "nanos")


def roll_up(store: DataStore, user: User, data_type: DataType, body: dict, now: float) -> dict:
    """The RollUpDataPointsResponse of one request."""
    rng = bodies.message(body, "range")
    try:
        start = timefmt.parse_rfc3339(bodies.string(rng, "startTime", "range.startTime"))
        end = timefmt.parse_rfc3339(bodies.string(rng, "endTime", "range.endTime"))
    except ValueError as err:
        raise invalid("range.startTime and range.endTime must be RFC 3339 timestamps.") from err
    try:
        window = timefmt.parse_duration(bodies.string(body, "windowSize"))
    except ValueError as err:
        raise invalid('windowSize is required, e.g. "3600s".') from err
    if window < 1:
        raise invalid("windowSize must be at least 1 second.")
    if end <= start:
        raise invalid("range.endTime must be after range.startTime.")
    cap = data_type.rollup_range_days * 86400
    requested = paging.checked_page_size(bodies.int32(body, "pageSize"))
    page_size = paging.page_size(requested, ROLLUP_PAGE[1], ROLLUP_PAGE[0])
    # Observed live: pageSize x windowSize beyond the range cap is refused as well.
    if end - start > cap or (requested and page_size * window > cap):
        raise _range_too_long(data_type)
    family = bodies.string(body, "dataSourceFamily")
    fingerprint = json.dumps([data_type.name, start, end, window, family])
    cursor = paging.decode_token(bodies.string(body, "pageToken"), fingerprint)
    sources = paging.family_sources(family)
    # A page holds `page_size` rolled-up points; windows without data are left out and
    # take no room. The token names the next window with data, if any is left.
    index = cursor["o"] if cursor else 0
    count = math.ceil((end - start) / window) if _may_hold_data(user, start, end, now) else 0
    points: list[dict] = []
    next_index = None
    while index < count and next_index is None:
        edges = [
            (int(start + i * window), int(min(end, start + (i + 1) * window)))
            for i in range(index, min(count, index + max(page_size, _ROLLUP_CHUNK)))
        ]
        values = store.rollup_values(user, data_type.name, edges, sources)
        for i, ((w_start, w_end), value) in enumerate(zip(edges, values, strict=True)):
            if value is None:
                continue
            if len(points) == page_size:
                next_index = index + i
                break
            points.append(
                {
                    "startTime": timefmt.rfc3339(w_start),
                    "endTime": timefmt.rfc3339(w_end),
                    data_type.rollup_json_key: value,
                }
            )
        index += len(edges)
    return _page(points, next_index, fingerprint)


def daily_roll_up(
    store: DataStore, user: User, data_type: DataType, body: dict, now: float
) -> dict:
    """The DailyRollUpDataPointsResponse of one request.

    Pages hold `pageSize` rolled-up points (default and maximum 90, or 14 for the
    14-day types; larger values are truncated).
    """
    rng = bodies.message(body, "range")
    start = _civil_datetime(rng, "start")
    end = _civil_datetime(rng, "end")
    if start.time() != dt.time(0):
        raise invalid("range.start must be aligned with the aggregation window (midnight).")
    if end <= start:
        raise invalid("range.end must be after range.start.")
    if end - start > dt.timedelta(days=data_type.rollup_range_days):
        raise _range_too_long(data_type)
    window_days = bodies.int32(body, "windowSizeDays") or 1
    if window_days < 1:
        raise invalid("windowSizeDays must be a positive integer.")
    maximum = data_type.daily_rollup_page_size
    requested = paging.checked_page_size(bodies.int32(body, "pageSize"))
    page_size = paging.page_size(requested, maximum, maximum)
    family = bodies.string(body, "dataSourceFamily")
    sources = paging.family_sources(family)
    fingerprint = json.dumps(
        [data_type.name, start.isoformat(), end.isoformat(), window_days, family]
    )
    cursor = paging.decode_token(bodies.string(body, "pageToken"), fingerprint)
    # A window longer than the range is the whole range (and needs no date arithmetic).
    step = dt.timedelta(days=min(window_days, data_type.rollup_range_days))
    windows = []
    w_start = start
    while w_start < end:
        w_end = w_start + step if end - w_start > step else end
        windows.append((w_start, w_end))
        w_start = w_end
    edges = [
        (timefmt.civil_to_epoch(a, user.zone), timefmt.civil_to_epoch(b, user.zone))
        for a, b in windows
    ]
    # The store aggregates windows oldest first.
    if _may_hold_data(user, edges[0][0], edges[-1][1], now):
        values = store.rollup_values(user, data_type.name, edges, sources)
    else:
        values = [None] * len(edges)
    # Newest first; the token holds the index in that order of the next window to answer.
    newest_first = list(zip(windows, values, strict=True))[::-1]
    index = cursor["o"] if cursor else 0
    points: list[dict] = []
    next_index = None
    for i, ((w_start, w_end), value) in enumerate(newest_first[index:], start=index):
        if value is None:
            continue
        if len(points) == page_size:
            next_index = i
            break
        points.append(
            {
                "civilStartTime": _window_edge_json(w_start),
                "civilEndTime": _window_edge_json(w_end),
                data_type.rollup_json_key: value,
            }
        )
    return _page(points, next_index, fingerprint)


def _may_hold_data(user: User, start: float, end: float, now: float) -> bool:
    """Whether [start, end) meets the user's history (a day's margin either side).

    Ranges far outside it (the year 1, say) hold nothing, and are answered without
    date arithmetic that would leave the calendar.
    """
    first = timefmt.civil_midnight(user.history_start, user.zone) - 86400
    return end > first and start < now + 86400


def _range_too_long(data_type: DataType) -> ApiError:
    return invalid(
        f"The rollup query duration exceeds the maximum of "
        f"{data_type.rollup_range_days} days for {data_type.name!r}.",
        "INVALID_ROLLUP_QUERY_DURATION",
    )


def _civil_datetime(rng: dict, name: str) -> dt.datetime:
    """`range.start` or `range.end` of a dailyRollUp: a CivilDateTime with a date."""
    path = f"range.{name}"
    civil = bodies.message(rng, name, path)
    day = bodies.message(civil, "date", f"{path}.date")
    clock = bodies.message(civil, "time", f"{path}.time")
    parts = [bodies.int32(day, k, f"{path}.date.{k}") for k in ("year", "month", "day")]
    try:
        date = dt.date(*parts)
    except ValueError as err:
        raise invalid(f"{path} must be a CivilDateTime with a valid date: {day!r}.") from err
    fields = [bodies.int32(clock, k, f"{path}.time.{k}") for k in _TIME_FIELDS]
    try:
        time = dt.time(*fields[:3], fields[3] // 1000)
    except ValueError as err:
        raise invalid(f"{path}.time is not a valid time of day: {clock!r}.") from err
    return dt.datetime.combine(date, time)


def _window_edge_json(civil: dt.datetime) -> dict:
    """A dailyRollUp window's edge: a date, with the time of day only when not midnight."""
    if civil.time() == dt.time(0):
        return {"date": timefmt.date_json(civil.date())}
    return timefmt.civil_datetime_json(civil)


def _page(points: list[dict], next_index: int | None, fingerprint: str) -> dict:
    """A rollUp or dailyRollUp answer: its points, and a token when more remain."""
    payload: dict = {}
    if points:
        payload["rollupDataPoints"] = points
    if next_index is not None:
        payload["nextPageToken"] = paging.encode_token(fingerprint, {"o": next_index})
    return payload
