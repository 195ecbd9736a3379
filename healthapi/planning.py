"""Plans API calls: each request becomes the fewest calls the API's caps allow.

A `FetchRequest` (user, data type, inclusive civil dates) becomes:

- for listed types, one `list` call per civil window, the window sized so that
  its points fit in one page of the largest size the API serves (10,000, or 25
  for sleep and exercise). One page per call matters beyond the call count:
  the API can drop points that share the timestamp of a page's last point, so
  the fetch step re-reads that timestamp whenever a window does need more pages;
- for `total-calories` (rollup-only), the daily activity summary: one
  `summary` call per 14 days (the API's rollup range cap for total calories),
  which rolls up steps, distance, floors, total calories and active zone
  minutes per civil day.

Windows are civil (the user's wall clock), so a civil day never straddles two
calls' worth of a type, whatever the user's UTC offset or DST.
"""

from __future__ import annotations

import datetime as dt

from healthapi import datatypes
from healthapi.elements import ApiCall, FetchRequest

# Civil hours of data one call asks for, by data type. Chosen from the densest
# day a user can produce so that a window fits one page: heart rate at one
# sample every 5 s is 17,280 points a day, from up to two sources.
WINDOW_HOURS: dict[str, int] = {
    "steps": 24 * 3,
    "distance": 24 * 3,
    "floors": 24 * 31,
    "active-zone-minutes": 24 * 7,
    "heart-rate": 6,
    "heart-rate-variability": 24 * 7,
    "daily-resting-heart-rate": 24 * 366,
    "daily-heart-rate-zones": 24 * 366,
    "daily-heart-rate-variability": 24 * 366,
    "daily-oxygen-saturation": 24 * 366,
    "daily-respiratory-rate": 24 * 366,
    "daily-vo2-max": 24 * 366,
    "sleep": 24 * 7,
    "exercise": 24 * 7,
    "weight": 24 * 366,
    "body-fat": 24 * 366,
}


def civil_text(moment: dt.datetime) -> str:
    """A civil filter literal: `YYYY-MM-DD` at midnight, else `YYYY-MM-DDTHH:MM:SS`."""
    if moment.time() == dt.time(0):
        return moment.date().isoformat()
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def plan_calls(request: FetchRequest) -> list[ApiCall]:
    """The calls that fetch one request, oldest window first."""
    spec = datatypes.spec(request.data_type)
    if spec.kind is datatypes.Kind.ROLLUP_ONLY:
        calls = []
        day = request.start_date
        while day <= request.end_date:
            end = min(
                request.end_date + dt.timedelta(days=1),
                day + dt.timedelta(days=datatypes.SUMMARY_DAYS),
            )
            calls.append(
                ApiCall(
                    request.user_key,
                    "summary",
                    "daily-activity-summary",
                    day.isoformat(),
                    end.isoformat(),
                    request.stream,
                )
            )
            day = end
        return calls
    step = dt.timedelta(hours=WINDOW_HOURS[spec.name])
    start = dt.datetime.combine(request.start_date, dt.time(0))
    stop = dt.datetime.combine(request.end_date + dt.timedelta(days=1), dt.time(0))
    calls = []
    while start < stop:
        end = min(stop, start + step)
        calls.append(
            ApiCall(
                request.user_key,
                "list",
                spec.name,
                civil_text(start),
                civil_text(end),
                request.stream,
            )
        )
        start = end
    return calls


def window_filter(call: ApiCall) -> str:
    """The `filter` of a list call: its civil window on the type's window member."""
    spec = datatypes.spec(call.data_type)
    field = f"{spec.filter_name}.{spec.window_member}"
    start, end = call.start, call.end
    if spec.window_member == "date":
        # Daily types filter on whole dates; windows are whole days for them.
        start, end = start[:10], end[:10]
    return f'{field} >= "{start}" AND {field} < "{end}"'


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
