"""Plans API calls: each request becomes the fewest calls the API's caps allow.

A `FetchRequest` (user, data type, inclusive civil dates) becomes:

- for listed types, one `list` call per civil window (electrocardiograms: a window in
  UTC that their filter bounds below only; `keeps_point` drops the points past its
  end). The API caps the size of a page (10,000 points; 25 for sleep and exercise),
  not the span of a call, so a call pages through its window in full pages and a
  window is cut only to bound what one call's answer holds, which is one element in
  the pipeline: at most `CALL_POINTS` points at the type's densest cadence
  (`window_hours`). Nine days of heart rate, 111 of steps, and one window for any
  request of the sparse types;
- for `total-calories` (rollup-only), the daily activity summary: one `summary`
  call per `SUMMARY_DAYS` days, which rolls up steps, distance, floors, total
  calories and active zone minutes per civil day, each type in ranges as long as
  the API allows for it (`healthapi.calls.fetch_summary`).

The API can drop points that share the timestamp of a page's last point. A
reconciled stream has one point per instant, so nothing there can share it; in
the raw stream (every source) the fetch step re-reads that timestamp after each
page boundary (`boundary_rereads`, `tie_filter`).

Windows are civil (the user's wall clock), so a civil day never straddles two
calls' worth of a type, whatever the user's UTC offset or DST.

The reconcile method serves most types, not all: the logged ones (menstrual periods,
moods, symptoms, ovulation tests) and the medical sessions (electrocardiograms,
irregular rhythm notifications) have no reconciled form, and are listed in the raw
stream (`stream_of`) even when the request asks for the reconciled one.

`required_calls` defines the yardstick of the plan: the calls the API's caps
force on a backfill (`bench.calls` measures the plan against it).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

from healthapi import datatypes
from healthapi.elements import STREAM_RAW, STREAM_RECONCILED, ApiCall, FetchRequest

# The most points one list call is planned to read, at its type's densest cadence: 16
# pages of the largest size. A call's answer is one pipeline element (about 250 MB of
# heart-rate points at this size); a window's last page is the only one not full, about
# a sixteenth more calls when the data comes at that cadence, less when windows are few.
CALL_PAGES = 16
CALL_POINTS = CALL_PAGES * datatypes.MAX_PAGE_SIZE

# API methods, as `required_calls` and the simulator's counts name them.
LIST = "list"
RECONCILE = "reconcile"
DAILY_ROLLUP = "dailyRollUp"
EXPORT_TCX = "exportExerciseTcx"


def window_hours(spec: datatypes.DataTypeSpec) -> int:
    """Civil hours of data one list call asks for: `CALL_POINTS` at the densest cadence.

    Whole days when that is a day or more, so that windows start at midnight.

    Raises:
        ValueError: for a type that cannot be listed (total calories).
    """
    if spec.kind is datatypes.Kind.ROLLUP_ONLY or spec.max_per_day < 1:
        raise ValueError(f"{spec.name!r} cannot be listed; summary calls read it")
    hours = CALL_POINTS * 24 // spec.max_per_day
    if hours >= 24:
        return hours - hours % 24
    return max(1, hours)


# Civil hours per list call, by data type (the catalogue's facts through `window_hours`).
WINDOW_HOURS: dict[str, int] = {
    name: window_hours(spec)
    for name, spec in datatypes.SPECS.items()
    if spec.kind is not datatypes.Kind.ROLLUP_ONLY
}


def civil_text(moment: dt.datetime) -> str:
    """A civil filter literal: `YYYY-MM-DD` at midnight, else `YYYY-MM-DDTHH:MM:SS`."""
    if moment.time() == dt.time(0):
        return moment.date().isoformat()
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _tiles(start: dt.datetime, stop: dt.datetime, step: dt.timedelta):
    """[start, stop) cut into [a, b) pieces of `step`, the last one shorter."""
    while start < stop:
        # Compared before adding: a long step from a date near the year 9999 overflows.
        end = stop if stop - start <= step else start + step
        yield start, end
        start = end


def plan_calls(request: FetchRequest) -> list[ApiCall]:
    """The calls that fetch one request, oldest window first."""
    spec = datatypes.spec(request.data_type)
    start = dt.datetime.combine(request.start_date, dt.time(0))
    stop = dt.datetime.combine(request.end_date, dt.time(0)) + dt.timedelta(days=1)
    if spec.kind is datatypes.Kind.ROLLUP_ONLY:
        step = dt.timedelta(days=datatypes.SUMMARY_DAYS)
        return [
            ApiCall(
                request.user_key,
                "summary",
                "daily-activity-summary",
                a.date().isoformat(),
                b.date().isoformat(),
                request.stream,
            )
            for a, b in _tiles(start, stop, step)
        ]
    step = dt.timedelta(hours=WINDOW_HOURS[spec.name])
    stream = stream_of(spec, request.stream)
    return [
        ApiCall(request.user_key, "list", spec.name, civil_text(a), civil_text(b), stream)
        for a, b in _tiles(start, stop, step)
    ]


def stream_of(spec: datatypes.DataTypeSpec, asked: str) -> str:
    """The stream a type is read in: the one asked for, raw when it cannot be reconciled."""
    return asked if spec.reconcilable else STREAM_RAW


def required_calls(
    data_type: str,
    points_per_user: Sequence[int],
    days: int,
    stream: str = STREAM_RECONCILED,
    with_summary: bool = True,
    exercise_tcx: bool = True,
) -> dict[str, int]:
    """The calls the API's caps force on a backfill of one data type, by API method.

    This defines "required". For each user:

    - a listed type needs one `list` call (raw stream) or `reconcile` call (reconciled)
      per page its points fill at the type's largest page size (10,000; 25 for sleep and
      exercise), and one when there are none: max(1, ceil(points / page_size)). The API
      caps the page, not the span of a call, so the whole backfill is one window;
    - a type of the daily activity summary, when the backfill includes the summary (it
      does whenever total calories are asked for), needs one `dailyRollUp` per range the
      API allows it (14 days for total calories, 90 for the others): ceil(days /
      rollup_days). One answer holds every day of its range (the page cap is the range
      cap), so it never needs a second page;
    - exercise needs one `exportExerciseTcx` per exercise when the backfill exports TCX
      (the pipeline does): the API exports one exercise a call.

    Tie re-reads, empty pages and windows cut short are the client's cost, not the
    API's: they are not required.

    Args:
        data_type: the API's name of the type.
        points_per_user: per user, the points the stream holds in the backfill's days
            (ignored for total calories, which cannot be listed).
        days: civil days backfilled per user.
        stream: `reconciled` or `raw`: which list method reads the type.
        with_summary: whether the backfill includes the daily activity summary.
        exercise_tcx: whether each exercise's TCX is exported.

    Returns:
        Calls by method (`list`, `reconcile`, `dailyRollUp`, `exportExerciseTcx`),
        methods with none left out.
    """
    spec = datatypes.spec(data_type)
    out: dict[str, int] = {}
    if days < 1 or not points_per_user:
        return out
    if spec.kind is not datatypes.Kind.ROLLUP_ONLY:
        method = RECONCILE if stream_of(spec, stream) == STREAM_RECONCILED else LIST
        out[method] = sum(max(1, math.ceil(n / spec.page_size)) for n in points_per_user)
    if data_type in datatypes.SUMMARY_TYPES and (
        with_summary or spec.kind is datatypes.Kind.ROLLUP_ONLY
    ):
        out[DAILY_ROLLUP] = len(points_per_user) * math.ceil(days / spec.rollup_days)
    if data_type == "exercise" and exercise_tcx and sum(points_per_user):
        out[EXPORT_TCX] = sum(points_per_user)
    return out


def boundary_rereads(call: ApiCall) -> bool:
    """Whether the fetch re-reads the last timestamp of a page before following its token.

    The API can drop the points that share the timestamp of a page's last point. The
    reconciled stream merges every source into one series, one point per instant: no
    other point can share the timestamp, so there is nothing to re-read. The raw stream
    keeps a point per source, and two sources often record the same instant.
    """
    return call.stream == STREAM_RAW


def window_filter(call: ApiCall) -> str:
    """The `filter` of a list call: its civil window on the type's window member.

    Electrocardiograms filter only on their physical start, and only with `>=`: the
    window's bounds are read as UTC (historical readings carry no UTC offset, so their
    civil times are UTC too), the call asks for every reading from the window's start,
    and `keeps_point` drops those that start at or after its end.
    """
    spec = datatypes.spec(call.data_type)
    field = f"{spec.filter_name}.{spec.window_member}"
    start, end = call.start, call.end
    if spec.window_member == "date":
        # Daily types filter on whole dates; windows are whole days for them.
        start, end = start[:10], end[:10]
    elif spec.window_member == "interval.start_time":
        start = _utc_literal(start)
    if spec.open_ended:
        return f'{field} >= "{start}"'
    return f'{field} >= "{start}" AND {field} < "{end}"'


def _utc_literal(civil: str) -> str:
    """A window bound (`civil_text`) read as UTC: an RFC 3339 literal."""
    moment = dt.datetime.fromisoformat(civil)
    return f"{moment:%Y-%m-%dT%H:%M:%S}Z"


def window_end(call: ApiCall) -> dt.datetime | None:
    """The UTC instant a call's open-ended filter cannot stop at, or None when it can.

    Only types whose filter takes no upper bound (`DataTypeSpec.open_ended`) have one:
    their points must start before it to belong to the call's window.
    """
    if call.kind != LIST or not datatypes.spec(call.data_type).open_ended:
        return None
    return dt.datetime.fromisoformat(call.end).replace(tzinfo=dt.UTC)


def keeps_point(data_type: str, point: dict, end: dt.datetime) -> bool:
    """Whether a point of an open-ended call starts before its window's `end`.

    The API answers an open-ended filter with every point from the window's start on;
    the later ones belong to later windows, which read them again, so each point is kept
    by exactly one window. A point without a readable start is kept: the rows step
    dead-letters it, once, with its error.

    Args:
        data_type: the API's name of the type.
        point: one element of the answer's `dataPoints`.
        end: `window_end` of the call.
    """
    try:
        stamp = point[datatypes.spec(data_type).json_key]["interval"]["startTime"]
        moment = dt.datetime.fromisoformat(stamp)
        if moment.tzinfo is None:
            return True
        return moment < end
    except (KeyError, TypeError, ValueError, OverflowError):
        return True


def tie_filter(data_type: str, point: dict) -> str | None:
    """A filter selecting the points that share `point`'s sort timestamp, or None.

    Used after a page boundary, where the API may drop points tied with the
    page's last point. Sessions (sleep, exercise) are ordered by start time but
    cannot be filtered on it, and two sessions never share a start: None.
    """
    spec = datatypes.spec(data_type)
    try:
        body = point.get(spec.json_key, {})
        if spec.kind is datatypes.Kind.INTERVAL:
            field, stamp = "interval.start_time", body.get("interval", {}).get("startTime")
        elif spec.kind is datatypes.Kind.SAMPLE:
            field = "sample_time.physical_time"
            stamp = body.get("sampleTime", {}).get("physicalTime")
        elif spec.kind is datatypes.Kind.DAILY:
            d = body.get("date") or {}
            day = dt.date(d["year"], d["month"], d["day"])
            nxt = day + dt.timedelta(days=1)
            return f'{spec.filter_name}.date >= "{day}" AND {spec.filter_name}.date < "{nxt}"'
        else:
            return None
        if not stamp:
            return None
        moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        after = moment.replace(microsecond=0) + dt.timedelta(seconds=1)
    # A malformed point has no tie to re-read; the rows step dead-letters it.
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
        return None
    name = f"{spec.filter_name}.{field}"
    return f'{name} >= "{stamp}" AND {name} < "{after:%Y-%m-%dT%H:%M:%SZ}"'


def requests_for(
    users: list[str], data_types: list[str], start: dt.date, end: dt.date, stream: str
) -> list[FetchRequest]:
    """One request per (user, data type) over the same civil dates (the command line's)."""
    return [FetchRequest(u, t, start, end, stream) for u in users for t in data_types]


def detail_call(call: ApiCall, exercise_row: dict) -> ApiCall:
    """The one function that plans a detail call: an exercise's TCX export.

    Args:
        call: the list call whose answer held the exercise.
        exercise_row: the exercise's row; the trackpoints hang from it.
    """
    return ApiCall(
        user_key=call.user_key,
        kind="tcx",
        data_type="exercise",
        stream=call.stream,
        data_point_id=exercise_row["data_point_id"],
        parent=tuple(sorted(exercise_row.items())),
    )
