"""Google Takeout, Google Health layout: `Takeout/Google Health/...` CSVs -> import units.

The newer Takeout exports of a Fitbit account put Google's CSV re-export of the
account's data under `Takeout/Google Health/Physical Activity_GoogleData/`: one CSV
per data type and UTC day (`heart_rate_2026-11-01.csv`), or one per type for the
whole history (`weight.csv`, `daily_resting_heart_rate.csv`). Each has a header row,
UTC timestamps ending in `Z` and a trailing `data source` column. This module reads
them into `history.units.ImportUnit`s of API-shaped **reconciled** data points (no
`dataSource`), which `rows.datapoints.rows_for_point(..., "reconciled")` turns into
rows. Pure and Beam-free; `LAYOUT`, `classify`, `parse` and `data_types_present` are
what the import's dispatcher calls.

Supported files (under `Physical Activity_GoogleData/`; the date part `_YYYY-MM-DD`
may also be written `-YYYY-MM-DD`) and the header each must have, columns in this
order (names compared without case; any other header is a `MalformedFile` naming
this one):

==================================  ========================  ====================================
file                                API data type             header
==================================  ========================  ====================================
`heart_rate_<date>.csv`             heart-rate                timestamp, beats per minute,
                                                              data source
`heart_rate_variability_<date>.csv` heart-rate-variability    timestamp, root mean square of
                                                              successive differences ms, standard
                                                              deviation ms, data source
`oxygen_saturation_<date>.csv`      oxygen-saturation         timestamp, oxygen saturation
                                                              percentage, data source
`steps_<date>.csv`                  steps                     timestamp, steps, data source
`distance_<date>.csv`               distance                  timestamp, distance, data source
`active_energy_burned_<date>.csv`   active-energy-burned      timestamp, kilocalories, data source
`sedentary_period_<date>.csv`       sedentary-period          start time, end time, data source
`weight.csv` (or `weight_<date>`)   weight                    timestamp, weight grams, data source
`body_fat_<date>.csv`               body-fat                  timestamp, body fat percentage,
                                                              data source
`daily_resting_heart_rate.csv`      daily-resting-heart-rate  timestamp, beats per minute,
                                                              data source
`daily_respiratory_rate.csv`        daily-respiratory-rate    timestamp, breaths per minute,
                                                              data source
`daily_oxygen_saturation.csv`       daily-oxygen-saturation   timestamp, average percentage, lower
                                                              bound percentage, upper bound
                                                              percentage, baseline percentage,
                                                              standard deviation percentage,
                                                              data source
==================================  ========================  ====================================

The headers of heart rate, steps, distance, weight, body fat and the daily files are
the ones public importers read from real exports (FloorLamp/allos, whose fixtures
copy a real export's shapes); `active_energy_burned`'s `Kilocalories` comes from that
importer's code only, and the headers of `sedentary_period`, `heart_rate_variability`
and `oxygen_saturation` from a published catalogue of a real export only.

Units and values: distance is in metres (millimetres = metres x 1000, rounded to the
nearest millimetre), weight in grams, energy in kilocalories, percentages as they
are. Counts and beats per minute must be whole numbers (`72` or `72.0`), except the
daily resting heart rate, which the export writes with a fraction (`66.876`) and the
API as a whole number: it is rounded to the nearest beat, halves up. An empty cell,
`NaN`, or any other text where a number belongs makes the file malformed. Real exports
may leave the zero minutes of steps and distance out, where the API sends a zero: such
a minute then has no row.

Times:

- A row's `timestamp` is an instant in UTC (`2026-11-01T05:59:55Z`, fraction
  allowed). The point's UTC offset is the user's zone's (`ParseContext.zone`) at that
  instant, so civil times follow DST. Steps, distance and active energy are the
  per-minute streams: each row is the minute `[timestamp, timestamp + 60 s)`.
  Sedentary periods carry their own `start time` and `end time`.
- The daily files stamp each day at a UTC time (`2026-06-11T00:00:00Z`) that is a
  label, not a measurement: the date part is taken as the user's civil date, never
  converted through the zone (which would move every day of a user west of UTC one
  day back). A bare `YYYY-MM-DD` is read the same way.
- A unit's window: for the daily files, from the first date 00:00 to the day after the
  last; for the others, the civil span of the UTC days the file covers, from 00:00 UTC
  of its first day (the earlier of the file name's date and its first entry's) to
  00:00 UTC after its last entry's day, each turned into the user's civil time. The
  day files of consecutive UTC days thus have adjoining, not overlapping, windows.
  The window is widened where needed so that it holds every point's civil time.

The `data source` column: it names the device or app that recorded the row
(`Charge 6`, `Pixel Watch 3`, `Fitbit App`, `Phone Health Connect`, `Garmin Connect
Health Connect`). Rows that reached Fitbit through Health Connect (the source ends in
`Health Connect`) repeat measurements the watch also made: the export holds every
source's rows, the reconciled stream one per time. So, per file, one row is kept per
timestamp (per start for intervals, per date for daily values): a row whose source is
not Health Connect before one that is, and among equals the first in the file. A
Health Connect row alone at its time is kept, as the API's reconciled stream keeps
another source's point where the watch has none. The source itself is not stored:
reconciled rows have no source columns.

Columns the layout does not carry, NULL in the rows it makes: heart_rate.motion_context
and sensor_location; weight.notes; weight and body_fat data_point_id (the export has no
point ids, so their record_key is made from the sample time, not the API's id);
daily_resting_heart_rate.calculation_method; the source columns of every table
(reconciled). daily_oxygen_saturation's `baseline percentage` has no column: not read.

Skipped (`history.units.Skipped` reasons):

- `no_data`: a file holding only `no data` (how the export writes an empty type);
  `empty`: a header and no rows.
- `not_health`: `UserActivityProbabilities` and `UserSensorCompressionToken` (machine
  learning and sensor internals, most of the export's bytes), never read.
- `unmapped`: files of a known type with no fitbeam table that holds them exactly:
  `calories_*` (total energy per minute; the API's total calories are a rollup only, and
  the per-minute stream leaves minutes out), `calories_in_heart_rate_zone_*`,
  `time_in_heart_rate_zone_*` (daily zone totals, not the API's per-minute intervals),
  `daily_heart_rate_zones.csv` (zone limits as a pseudo-JSON cell under placeholder 1970
  dates), `respiratory_rate_sleep_summary_*` (milli-breaths, columns unknown),
  `daily_readiness*` (no table), `floors_*`, `altitude_*`, `activity_level_*`,
  `active_zone_minutes_*`, `height_*`, `core_body_temperature_*`, `body_temperature_*`
  (columns not known well enough to map exactly), `live_pace_*`, `gps_location_*`,
  `cardio_load_*`, `hydration_log_*`, `heart_rate_notification_*`,
  `mindfulness_session_*` (no table).
- `superseded`: `resting_heart_rate_*` repeats `daily_resting_heart_rate.csv`.
- `unknown`: any other file under `Takeout/Google Health/` (readmes, the other folders).

`Takeout/Google Health/Global Export Data/` holds the older layout's JSON (the only
copy of sleep and exercise): `classify` leaves it to `history.takeout_fitbit` (None).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable, Iterator
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from history.units import (
    ImportUnit,
    MalformedFile,
    ParseContext,
    Skipped,
    rfc3339,
    utc_offset,
)

LAYOUT = "takeout-google"
ROOT = "Takeout/Google Health/"
ACTIVITY_FOLDER = "Physical Activity_GoogleData"
NOT_HEALTH = ("UserActivityProbabilities", "UserSensorCompressionToken")
NO_DATA = "no data"
HEALTH_CONNECT_SUFFIX = "health connect"

UTC = dt.UTC
_MINUTE = dt.timedelta(minutes=1)
_SECOND = dt.timedelta(seconds=1)
_DAY = dt.timedelta(days=1)

# A member of the activity folder: a family stem, then an optional date, then .csv.
_MEMBER = re.compile(r"(?P<stem>[a-z_]+?)(?:[-_](?P<date>\d{4}-\d{2}-\d{2}))?\.csv", re.I)
_INSTANT = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z")
_DATE_LABEL = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z)?")
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
# Larger numbers (10^15 and up) are no measurement: refused before they become ints.
_MAX_DIGITS = 14
# Years a time may have: the zone's offsets and the window's next day stay in range.
_YEARS = range(1900, 3000)


# --------------------------------------------------------------------------- values


def _decimal(text: str, where: str) -> Decimal:
    if not _NUMBER.fullmatch(text):
        raise MalformedFile(f"{where}: expected a number, got {text[:20]!r}")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise MalformedFile(f"{where}: expected a number, got {text[:20]!r}") from None
    if value and value.adjusted() > _MAX_DIGITS:
        raise MalformedFile(f"{where}: number out of range: {text[:20]!r}")
    return value


def _whole(text: str, where: str) -> int:
    value = _decimal(text, where)
    if value != value.to_integral_value():
        raise MalformedFile(f"{where}: expected a whole number, got {text[:20]!r}")
    return int(value)


def _float(text: str, where: str) -> float:
    return float(_decimal(text, where))


def _rounded(text: str, where: str) -> int:
    return int(_decimal(text, where).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _millimetres(text: str, where: str) -> int:
    return int((_decimal(text, where) * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _instant(text: str, where: str) -> dt.datetime:
    """`2026-11-01T05:59:55.5Z` -> tz-aware UTC datetime (fraction cut to microseconds)."""
    match = _INSTANT.fullmatch(text)
    if match is None:
        raise MalformedFile(
            f"{where}: expected a UTC time such as 2026-11-01T05:59:55Z, got {text[:40]!r}"
        )
    year, month, day, hour, minute, second, fraction = match.groups()
    if int(year) not in _YEARS:
        raise MalformedFile(f"{where}: year out of range: {text[:40]!r}")
    micros = int((fraction or "0").ljust(6, "0")[:6])
    try:
        return dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros, UTC
        )
    except ValueError:
        raise MalformedFile(f"{where}: not a valid time: {text[:40]!r}") from None


def _date_label(text: str, where: str) -> dt.date:
    """The civil date a daily row is for: the date part of its stamp, as written."""
    match = _DATE_LABEL.fullmatch(text)
    if match is None:
        raise MalformedFile(
            f"{where}: expected a date such as 2026-06-11T00:00:00Z, got {text[:40]!r}"
        )
    if int(match[1]) not in _YEARS:
        raise MalformedFile(f"{where}: year out of range: {text[:40]!r}")
    try:
        return dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        raise MalformedFile(f"{where}: not a valid date: {text[:40]!r}") from None


def _civil(moment: dt.datetime, ctx: ParseContext) -> dt.datetime:
    return moment.astimezone(ctx.zone).replace(tzinfo=None)


# --------------------------------------------------------------------------- families

SAMPLE, INTERVAL, DAILY = "sample", "interval", "daily"


@dataclasses.dataclass(frozen=True)
class _Family:
    """One kind of CSV: its data type, header, how its rows sit in time, its values.

    Attributes:
        data_type: the API data type of its points.
        json_key: the DataPoint union key of the value object.
        header: the expected columns, `data source` last.
        kind: SAMPLE (a `timestamp` instant), INTERVAL (a minute from `timestamp`, or
            `start time`..`end time`), DAILY (a date label).
        values: (column index, value key, converter) per value column.
    """

    data_type: str
    json_key: str
    header: tuple[str, ...]
    kind: str
    values: tuple[tuple[int, str, Callable[[str, str], object]], ...]


def _text(convert):
    """A converter whose value the API sends as an int64 string."""
    return lambda text, where: str(convert(text, where))


_FAMILIES: dict[str, _Family] = {
    "heart_rate": _Family(
        "heart-rate",
        "heartRate",
        ("timestamp", "beats per minute", "data source"),
        SAMPLE,
        ((1, "beatsPerMinute", _text(_whole)),),
    ),
    "heart_rate_variability": _Family(
        "heart-rate-variability",
        "heartRateVariability",
        (
            "timestamp",
            "root mean square of successive differences ms",
            "standard deviation ms",
            "data source",
        ),
        SAMPLE,
        (
            (1, "rootMeanSquareOfSuccessiveDifferencesMilliseconds", _float),
            (2, "standardDeviationMilliseconds", _float),
        ),
    ),
    "oxygen_saturation": _Family(
        "oxygen-saturation",
        "oxygenSaturation",
        ("timestamp", "oxygen saturation percentage", "data source"),
        SAMPLE,
        ((1, "percentage", _float),),
    ),
    "steps": _Family(
        "steps",
        "steps",
        ("timestamp", "steps", "data source"),
        INTERVAL,
        ((1, "count", _text(_whole)),),
    ),
    "distance": _Family(
        "distance",
        "distance",
        ("timestamp", "distance", "data source"),
        INTERVAL,
        ((1, "millimeters", _text(_millimetres)),),
    ),
    "active_energy_burned": _Family(
        "active-energy-burned",
        "activeEnergyBurned",
        ("timestamp", "kilocalories", "data source"),
        INTERVAL,
        ((1, "kcal", _float),),
    ),
    "sedentary_period": _Family(
        "sedentary-period",
        "sedentaryPeriod",
        ("start time", "end time", "data source"),
        INTERVAL,
        (),
    ),
    "weight": _Family(
        "weight",
        "weight",
        ("timestamp", "weight grams", "data source"),
        SAMPLE,
        ((1, "weightGrams", _float),),
    ),
    "body_fat": _Family(
        "body-fat",
        "bodyFat",
        ("timestamp", "body fat percentage", "data source"),
        SAMPLE,
        ((1, "percentage", _float),),
    ),
    "daily_resting_heart_rate": _Family(
        "daily-resting-heart-rate",
        "dailyRestingHeartRate",
        ("timestamp", "beats per minute", "data source"),
        DAILY,
        ((1, "beatsPerMinute", _text(_rounded)),),
    ),
    "daily_respiratory_rate": _Family(
        "daily-respiratory-rate",
        "dailyRespiratoryRate",
        ("timestamp", "breaths per minute", "data source"),
        DAILY,
        ((1, "breathsPerMinute", _float),),
    ),
    "daily_oxygen_saturation": _Family(
        "daily-oxygen-saturation",
        "dailyOxygenSaturation",
        (
            "timestamp",
            "average percentage",
            "lower bound percentage",
            "upper bound percentage",
            "baseline percentage",
            "standard deviation percentage",
            "data source",
        ),
        DAILY,
        (
            (1, "averagePercentage", _float),
            (2, "lowerBoundPercentage", _float),
            (3, "upperBoundPercentage", _float),
            (5, "standardDeviationPercentage", _float),
        ),
    ),
}

# Known files left out on purpose (module docstring): stem -> Skipped reason.
_LEFT_OUT = {
    **dict.fromkeys(
        (
            "calories",
            "calories_in_heart_rate_zone",
            "time_in_heart_rate_zone",
            "daily_heart_rate_zones",
            "respiratory_rate_sleep_summary",
            "daily_readiness",
            "floors",
            "altitude",
            "activity_level",
            "active_zone_minutes",
            "height",
            "core_body_temperature",
            "body_temperature",
            "live_pace",
            "gps_location",
            "cardio_load",
            "hydration_log",
            "heart_rate_notification",
            "mindfulness_session",
        ),
        "unmapped",
    ),
    "resting_heart_rate": "superseded",
}


def _family_of(path: str) -> tuple[str, str | None] | Skipped | None:
    """(family stem, the file name's date or None), a Skipped, or None (not this layout)."""
    if not path.startswith(ROOT):
        return None
    rest = path[len(ROOT) :]
    if rest.startswith("Global Export Data/"):
        return None
    if any(marker in path for marker in NOT_HEALTH):
        return Skipped(path, "not_health")
    folder, _, name = rest.rpartition("/")
    match = _MEMBER.fullmatch(name) if folder == ACTIVITY_FOLDER else None
    if match is None:
        return Skipped(path, "unknown")
    stem = match["stem"].lower()
    if stem in _FAMILIES:
        return stem, match["date"]
    return Skipped(path, _LEFT_OUT.get(stem, "unknown"))


def classify(path: str) -> str | Skipped | None:
    """The API data type a member holds, a Skipped, or None when it is not this layout's.

    Args:
        path: the member's '/'-separated path from the export's root
            (`Takeout/Google Health/Physical Activity_GoogleData/steps_2026-11-01.csv`).

    Returns:
        The data type (`steps`); Skipped `not_health`, `unmapped`, `superseded` or
        `unknown` for other files under `Takeout/Google Health/`; None for anything
        else, `Takeout/Google Health/Global Export Data/` included. Reads nothing.
    """
    found = _family_of(path)
    if found is None or isinstance(found, Skipped):
        return found
    return _FAMILIES[found[0]].data_type


def data_types_present(paths: Iterable[str]) -> set[str]:
    """The API data types the files of this layout among `paths` hold (by name only)."""
    out = set()
    for path in paths:
        found = classify(path)
        if isinstance(found, str):
            out.add(found)
    return out


# --------------------------------------------------------------------------- parsing


def _is_health_connect(source: str) -> bool:
    return source.strip().lower().endswith(HEALTH_CONNECT_SUFFIX)


def _table(data: bytes, name: str, family: _Family) -> list[list[str]] | Skipped:
    """The file's data rows (cells stripped), after checking its encoding and header."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise MalformedFile(f"{name}: not UTF-8 text (byte {err.start})") from None
    if text.strip().lower() == NO_DATA:
        return Skipped("", "no_data")
    if "\x00" in text:
        raise MalformedFile(f"{name}: holds NUL bytes, not CSV text")
    try:
        table = [row for row in csv.reader(io.StringIO(text, newline=""), strict=True) if row]
    except csv.Error as err:
        raise MalformedFile(f"{name}: not readable as CSV ({err})") from None
    if not table:
        return Skipped("", "empty")
    header = tuple(cell.strip().lower() for cell in table[0])
    if header != family.header:
        raise MalformedFile(
            f"{name}: unexpected header {','.join(header)[:120]!r}; "
            f"expected {','.join(family.header)!r}"
        )
    rows = []
    width = len(family.header)
    for number, row in enumerate(table[1:], start=2):
        if len(row) != width:
            raise MalformedFile(f"{name}: line {number} has {len(row)} cells, expected {width}")
        rows.append([cell.strip() for cell in row])
    if not rows:
        return Skipped("", "empty")
    return rows


def parse(path: str, data: bytes, ctx: ParseContext) -> Iterator[ImportUnit | Skipped]:
    """One CSV of the layout -> one ImportUnit of reconciled points, or a Skipped.

    Args:
        path: the member's path, as `classify` takes it.
        data: the file's bytes.
        ctx: whose file, and the user's zone (for the points' UTC offsets).

    Yields:
        One `ImportUnit` of every kept row's point over the file's window (module
        docstring), or one `Skipped` (`no_data`, `empty`, or what `classify` says).

    Raises:
        MalformedFile: not UTF-8, not CSV, an unexpected header, a row of the wrong
            width, a bad time or a bad number; the message names the line.
    """
    found = _family_of(path)
    if found is None:
        raise MalformedFile(f"{path[-120:]}: not a file of the Google Health layout")
    if isinstance(found, Skipped):
        yield Skipped(ctx.source, found.reason)
        return
    stem, named = found
    family = _FAMILIES[stem]
    name = path.rpartition("/")[2]
    rows = _table(data, name, family)
    if isinstance(rows, Skipped):
        yield Skipped(ctx.source, rows.reason)
        return
    name_day = _date_label(named, name) if named else None
    if family.kind == DAILY:
        yield _daily_unit(rows, name, family, ctx)
    else:
        yield _timed_unit(rows, name, name_day, family, ctx)


def _body(row: list[str], family: _Family, where: str) -> dict:
    return {
        key: convert(row[i], f"{where} {family.header[i]!r}") for i, key, convert in family.values
    }


def _keep(candidates: dict, key, source: str, entry) -> None:
    """Keeps, per key, the first row not from Health Connect, else the first row."""
    held = candidates.get(key)
    health_connect = _is_health_connect(source)
    if held is None or (held[0] and not health_connect):
        candidates[key] = (health_connect, entry)


def _daily_unit(rows: list[list[str]], name: str, family: _Family, ctx: ParseContext):
    kept: dict[dt.date, tuple[bool, dict]] = {}
    for number, row in enumerate(rows, start=2):
        where = f"{name}: line {number}"
        day = _date_label(row[0], f"{where} 'timestamp'")
        body = {"date": {"year": day.year, "month": day.month, "day": day.day}}
        body.update(_body(row, family, where))
        _keep(kept, day, row[-1], body)
    days = sorted(kept)
    points = tuple({family.json_key: kept[day][1]} for day in days)
    return ImportUnit(
        user_key=ctx.user_key,
        data_type=family.data_type,
        start=f"{days[0].isoformat()}T00:00:00",
        end=f"{(days[-1] + _DAY).isoformat()}T00:00:00",
        source=ctx.source,
        points=points,
    )


def _timed_unit(
    rows: list[list[str]],
    name: str,
    name_day: dt.date | None,
    family: _Family,
    ctx: ParseContext,
):
    kept: dict[dt.datetime, tuple[bool, tuple[dt.datetime, dt.datetime | None, dict]]] = {}
    for number, row in enumerate(rows, start=2):
        where = f"{name}: line {number}"
        start = _instant(row[0], f"{where} {family.header[0]!r}")
        end = None
        if family.kind == INTERVAL:
            if family.header[1] == "end time":
                end = _instant(row[1], f"{where} 'end time'")
                if end < start:
                    raise MalformedFile(f"{where}: 'end time' is before 'start time'")
            else:
                end = start + _MINUTE
        _keep(kept, start, row[-1], (start, end, _body(row, family, where)))
    points = []
    for moment in sorted(kept):
        start, end, values = kept[moment][1]
        if end is None:
            body = {
                "sampleTime": {
                    "physicalTime": rfc3339(start),
                    "utcOffset": utc_offset(start, ctx.zone),
                }
            }
        else:
            body = {
                "interval": {
                    "startTime": rfc3339(start),
                    "startUtcOffset": utc_offset(start, ctx.zone),
                    "endTime": rfc3339(end),
                    "endUtcOffset": utc_offset(end, ctx.zone),
                }
            }
        body.update(values)
        points.append({family.json_key: body})
    instants = sorted(kept)
    first_day = instants[0].date() if name_day is None else min(name_day, instants[0].date())
    after_last = dt.datetime.combine(instants[-1].date() + _DAY, dt.time(), UTC)
    start = _civil(dt.datetime.combine(first_day, dt.time(), UTC), ctx)
    end = _civil(after_last, ctx)
    # DST can put a point's civil time outside the civil image of its UTC days.
    civil_times = [_civil(moment, ctx) for moment in instants]
    start = min(start, min(civil_times).replace(microsecond=0))
    end = max(end, max(civil_times).replace(microsecond=0) + _SECOND)
    return ImportUnit(
        user_key=ctx.user_key,
        data_type=family.data_type,
        start=start.isoformat(timespec="seconds"),
        end=end.isoformat(timespec="seconds"),
        source=ctx.source,
        points=tuple(points),
    )
