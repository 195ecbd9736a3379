"""What an import reads out of one file: windows of API-shaped points, skips and errors.

Pure and Beam-free. A parser of one archive layout (`history.takeout_fitbit`,
`history.takeout_google`, `history.legacy`) turns each file it is given into
`ImportUnit`s and `Skipped` notes, and raises `MalformedFile` for a file it cannot
read; `transforms.imports` makes rows and `load_windows` rows of the units (origin
`takeout` or `legacy`) and dead letters of the errors.

Local times without an offset are made instants by `utc_instants` (the user's zone,
the repeated hour of a DST change told apart by the order of the file).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

UTC = dt.UTC


class MalformedFile(ValueError):
    """A file that is not what its name says: the import dead-letters it and goes on.

    The message names what is wrong and where (`steps-2017-12-31.json: entry 12 has no
    dateTime`); it never quotes more than a short excerpt of the file.
    """


@dataclasses.dataclass(frozen=True)
class ImportUnit:
    """One user's data of one type over one civil window, from one file.

    Either `points` (for a data type of `rows.datapoints.SPECS`, e.g. `steps`,
    `heart-rate`, `sleep`): data points shaped as the API's `:reconcile` sends them,
    which `rows.datapoints.rows_for_point(data_type, point, ctx, "reconciled")` turns
    into rows; or `rows` of a legacy-only `table`, complete but for `run_id`,
    `ingest_time` and `load_id`, which the import stamps.

    The window is what the file covers, in civil time: the import writes one
    `load_windows` row for it, so in the `<table>_current` views a later import of
    the same window replaces this one, and an API load that covers it wins over it
    (`schemas.views`).

    Attributes:
        user_key: whose data.
        data_type: the API data type name of `points`, or the legacy-only table of `rows`.
        start: inclusive civil start, `YYYY-MM-DDTHH:MM:SS`.
        end: exclusive civil end, same form.
        source: the file it came from (`<archive>!<member>` inside a zip).
        points: API-shaped data points (dicts).
        rows: rows of `table`.
        table: the legacy-only table `rows` belong to; empty for points.
        data_point_id: for a TCX export's trackpoints, the exercise's id: the load is
            recorded by exercise (as `fitbeam run` records a TCX export), not by window;
            `start` and `end` are then empty.
    """

    user_key: str
    data_type: str
    start: str
    end: str
    source: str
    points: tuple = ()
    rows: tuple = ()
    table: str = ""
    data_point_id: str = ""


@dataclasses.dataclass(frozen=True)
class ParseContext:
    """Whose file a parser reads, and the zone its local times are in.

    Attributes:
        user_key: the user the file's data is stamped with.
        zone: the user's IANA time zone, for local times without an offset.
        source: the file's name as units and dead letters show it
            (`<archive>!<member>` inside a zip).
    """

    user_key: str
    zone: ZoneInfo
    source: str


@dataclasses.dataclass(frozen=True)
class Skipped:
    """A file read and deliberately not imported, counted by reason.

    Reasons: `no_data` (a file holding only `no data`), `not_health` (such as
    `UserSensorCompressionToken`), `unknown` (a file no parser knows), `superseded`
    (a type the export holds in both layouts: read from one only), `empty` (a file
    with no entries), `unmapped` (health data no fitbeam table holds as it is, such
    as per-minute total calories: each parser's docstring lists them and why).
    """

    source: str
    reason: str


def utc_instants(local_times: Iterable[dt.datetime], zone: ZoneInfo) -> list[dt.datetime]:
    """Local wall-clock times in file order -> UTC instants, DST included.

    In the hour repeated when clocks go back, the same local time happens twice:
    a time no later than one already read in that hour is its second occurrence
    (PEP 495 `fold=1`). A time that never happened, in the gap when clocks go
    forward, is read with the offset in force before the change, as a clock that
    was not yet moved shows it (PEP 495 `fold=0`).

    Args:
        local_times: naive datetimes, in the order the file lists them (ascending,
            the repeated hour twice).
        zone: the user's IANA time zone.

    Returns:
        tz-aware UTC datetimes, one per input, in order.
    """
    out: list[dt.datetime] = []
    latest_ambiguous: dt.datetime | None = None
    for naive in local_times:
        fold = 0
        first = naive.replace(tzinfo=zone, fold=0)
        second = naive.replace(tzinfo=zone, fold=1)
        if first.utcoffset() != second.utcoffset() and first.utcoffset() > second.utcoffset():
            # Ambiguous (clocks went back): the first pass has the larger offset.
            if latest_ambiguous is not None and naive <= latest_ambiguous:
                fold = 1
            latest_ambiguous = naive if fold == 0 else latest_ambiguous
        out.append(naive.replace(tzinfo=zone, fold=fold).astimezone(UTC))
    return out


def offset_seconds(instant: dt.datetime, zone: ZoneInfo) -> int:
    """The zone's UTC offset at an instant, in seconds (for an API point's `*UtcOffset`)."""
    return int(instant.astimezone(zone).utcoffset().total_seconds())


# --------------------------------------------------------------------------- API shapes
# The pieces of an API data point the parsers build, written once.


def rfc3339(moment: dt.datetime) -> str:
    """An instant as the API writes it: UTC, `Z`, a fraction only when there is one."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def utc_offset(moment: dt.datetime, zone: ZoneInfo) -> str:
    """The zone's UTC offset at an instant as an API duration string (`"-18000s"`)."""
    return f"{offset_seconds(moment, zone)}s"


def interval(start: dt.datetime, end: dt.datetime, zone: ZoneInfo) -> dict:
    """An API `interval` (instants with their offsets; civil times are derived from them)."""
    return {
        "startTime": rfc3339(start),
        "startUtcOffset": utc_offset(start, zone),
        "endTime": rfc3339(end),
        "endUtcOffset": utc_offset(end, zone),
    }


def date_json(day: dt.date) -> dict:
    """An API `Date` message."""
    return {"year": day.year, "month": day.month, "day": day.day}
