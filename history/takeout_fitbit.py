"""Google Takeout, Fitbit layout (older exports): `Takeout/Fitbit/...` -> import units.

The older Takeout of a Fitbit account holds the account's data as the legacy Fitbit
system exported it: one JSON file per type and period under
`Takeout/Fitbit/Global Export Data/` (`<type>-YYYY-MM-DD.json`, the date being the
first day the file covers), with local times that carry no UTC offset, written
US-style (`"12/31/17 16:42:00"`, the two-digit year read as 20yy), values often as
strings, and CSV files in folders beside it. `parse` turns one file into one
`ImportUnit` of API-shaped reconciled data points (`rows.datapoints.rows_for_point(...,
"reconciled")` makes the rows) and `classify` says, from the path alone, what a file
holds. Pure and Beam-free; it never logs data values.

Files read (the data type they become, and how):

- `steps-DATE.json` -> `steps`: one point per entry, the minute `[time, time + 60 s)`,
  `count` = the value.
- `distance-DATE.json` -> `distance`: as steps; the value is centimetres, the API's
  `millimeters` is ten times it, computed in decimal (a fraction of a millimetre,
  which the API cannot hold, is rounded half up to a whole millimetre).
- `heart_rate-DATE.json` -> `heart-rate`: one sample per entry, `beatsPerMinute` =
  `value.bpm`. `value.confidence` has no column and is left out.
- `resting_heart_rate-DATE.json` (about a year a file) -> `daily-resting-heart-rate`:
  the day of `dateTime`, `beatsPerMinute` = `value.value` rounded half up to a whole
  beat (the API's value is an integer). `value.error` has no column; an entry whose
  value is 0 (no estimate that day) is left out.
- `sleep-DATE.json` (about 30 days a file) -> `sleep`: one point per legacy sleep log.
  `logId` -> the point's id; `startTime`/`endTime` -> the interval; `type`
  stages|classic -> `STAGES`|`CLASSIC`; `mainSleep` -> `metadata.mainSleep` (written
  only when true, as the API's JSON does, so a nap reads NULL as from the API);
  `levels.data[]` -> `stages` (level `wake`/`awake` -> AWAKE, `light`, `deep`, `rem`,
  `asleep`, `restless` upper-cased; end = start + `seconds`); `levels.shortData[]` ->
  `shortAwakenings`; `minutesAsleep`, `minutesToFallAsleep`, `minutesAfterWakeup` ->
  the summary's fields of the same meaning, `timeInBed` -> `minutesInSleepPeriod`,
  the `wake`/`awake` entry of `levels.summary` -> `minutesAwake` (the log's own
  `minutesAwake` counts restless minutes too in classic logs; the API's, as
  `simulator.render` models it, counts AWAKE stages only);
  `levels.summary` -> `stagesSummary` (entries with minutes or a count, by stage).
  `dateOfSleep`, `duration`, `efficiency`, `infoCode`, `logType` and
  `thirtyDayAvgMinutes` have no column.
- `exercise-N.json` (100 logs a file) or `exercise-DATE.json` -> `exercise`: `logId`
  -> id; `startTime` + `duration` (ms) -> the interval; `activityName` ->
  `displayName` and, through `EXERCISE_TYPES`, `exerciseType` (`OTHER` for a name not
  listed); `activeDuration` (ms) -> `activeDuration`; `calories` -> `caloriesKcal`;
  `steps`; `averageHeartRate`; `distance` with `distanceUnit` (Kilometer, Mile, Meter)
  -> `distanceMillimeters`; `hasGps` true -> `exerciseMetadata.hasGps`. Zeros are left
  out, as the API's JSON leaves them out (the columns read NULL, as from the API).
- `Heart Rate Variability/Daily Heart Rate Variability Summary - YYYY-MM-(DD).csv`
  (`timestamp,rmssd,nremhr,entropy`) -> `daily-heart-rate-variability`: the day of
  `timestamp`, `averageHeartRateVariabilityMilliseconds` = rmssd,
  `nonRemHeartRateBeatsPerMinute` = nremhr rounded half up, `entropy`.

Columns the layout does not carry, always NULL (empty for repeated records) in its
rows: every `source_*` column (reconciled rows have none anyway); heart_rate
`motion_context`, `sensor_location`; daily_resting_heart_rate `calculation_method`;
sleep `is_nap`, `is_processed`, `is_manually_edited`, `stages_status`,
`out_of_bed_segments`; exercise `pool_length_millimeters`, `notes`,
`active_zone_minutes`, `elevation_gain_millimeters` (the log's `elevationGain` unit is
the account's setting, not in the file), `average_speed_millimeters_per_second`,
`average_pace_seconds_per_meter` (`speed`/`pace` are in the account's units too),
`run_vo2_max`, `total_swim_lengths`, `heart_rate_zone_*_seconds` (the log's
`heartRateZones` are the legacy Out of Range/Fat Burn/Cardio/Peak zones, not the
API's light/moderate/vigorous/peak), the mobility metrics and `exercise_events`;
daily_heart_rate_variability `deep_sleep_rmssd_milliseconds`.

Files skipped (`Skipped` reasons):

- `unmapped`, known types with no fitbeam table of the same meaning: `calories`
  (per-minute total energy; fitbeam keeps active and basal energy apart),
  `sedentary_minutes`, `lightly_active_minutes`, `moderately_active_minutes`,
  `very_active_minutes` (daily totals per level; `active_minutes` holds per-interval
  levels), `time_in_heart_rate_zones`/`heart_rate_zones` (minutes per zone;
  `daily_heart_rate_zones` holds zone limits), `altitude` (unit not documented),
  `weight` (in the account's unit, kg or lb, which the file does not say),
  `demographic_vo2_max`, `run_vo2_max`, `swim_lengths_data`, `estimated_oxygen_variation`,
  `badge`, `Sleep Score/` (no table holds sleep scores), the other CSVs of
  `Heart Rate Variability/` (its per-sample details carry no SDNN and would need
  their own check) and the folders of `UNMAPPED_FOLDERS` (stress, readiness, SpO2,
  temperature, menstrual health, mindfulness, AZM CSVs).
- `no_data`: a file holding only `no data` (any file of the layout, read first).
- `empty`: a JSON file holding `[]` or a CSV file with a header only.
- `not_health`: `UserSensorCompressionToken*`, `UserActivityProbabilities*`, the
  account, profile, device and social folders.
- `superseded`: `Takeout/Fitbit/Physical Activity_GoogleData/`: Google's CSV copy of
  what the JSON files hold (`history.takeout_google` reads it under `Takeout/Google
  Health/`).
- `unknown`: any other file under `Takeout/Fitbit/`, the per-category folders
  (`Physical Activity/`, `Sleep/`) included: some exports are said to keep the same
  JSON files there, which this module does not read until an export shows whether
  they repeat `Global Export Data`.

Time: local times become instants by `history.units.utc_instants` in file order, with
the user's zone (`ParseContext.zone`): the repeated hour when clocks go back is told
apart by order, a time in the hour skipped when clocks go forward is read with the
offset before the change. Each point's `*UtcOffset` is the zone's offset at its instant.
A sleep log's own start, stages and end are one sequence; its short awakenings another.
A file has no more to tell the two passes apart: a first entry in the repeated hour
with no earlier entry of that hour before it is read as the first pass (a sleep stage
spanning the whole first pass, or a watch off the wrist through it, hides which).

Windows: a one-day file (steps, distance, heart rate) covers `[day 00:00, day+1
00:00)` of the date in its name, and an entry of another day makes the file
malformed. A multi-day file covers from the earlier of its name's date and its first
entry's day, to the day after its last entry's day, the day being the one the table's
window column (`schemas.views.WINDOW_COLUMN`) holds: a sleep's end, an exercise's
start, a daily value's date.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import decimal
import io
import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from history.units import (
    ImportUnit,
    MalformedFile,
    ParseContext,
    Skipped,
    date_json,
    interval,
    rfc3339,
    utc_instants,
    utc_offset,
)

LAYOUT = "takeout-fitbit"

ROOTS = ("Takeout/Fitbit/", "Fitbit/")
# Newer exports keep the same JSON under the Google Health root (its only copy of sleep and
# exercise); `history.takeout_google` reads that root's CSVs and leaves this folder to us.
GOOGLE_HEALTH_GLOBAL = "Takeout/Google Health/Global Export Data/"
GLOBAL = "Global Export Data"
HRV_FOLDER = "Heart Rate Variability"
HRV_SUMMARY = "Daily Heart Rate Variability Summary"
NO_DATA = "no data"
NOT_HEALTH_PREFIXES = ("UserSensorCompressionToken", "UserActivityProbabilities")
NOT_HEALTH_FOLDERS = frozenset(
    {
        "Account Access Events",
        "Application",
        "Devices",
        "Personal & Account",
        "Your Profile",
        "Social",
        "Commerce",
        "Paired Devices",
    }
)
SUPERSEDED_FOLDERS = frozenset({"Physical Activity_GoogleData"})
# Folders of health data with no fitbeam table of the same meaning.
UNMAPPED_FOLDERS = frozenset(
    {
        "Sleep Score",
        "Stress Score",
        "Temperature",
        "Oxygen Saturation (SpO2)",
        "Menstrual Health",
        "Mindfulness",
        "Active Zone Minutes (AZM)",
        "Daily Readiness",
        "Biometrics",
    }
)

# Global Export Data types read, file name type -> API data type.
READ_TYPES = {
    "steps": "steps",
    "distance": "distance",
    "heart_rate": "heart-rate",
    "resting_heart_rate": "daily-resting-heart-rate",
    "sleep": "sleep",
    "exercise": "exercise",
}
# Global Export Data types known and deliberately not read (see the module docstring).
UNMAPPED_TYPES = frozenset(
    {
        "calories",
        "sedentary_minutes",
        "lightly_active_minutes",
        "moderately_active_minutes",
        "very_active_minutes",
        "time_in_heart_rate_zones",
        "heart_rate_zones",
        "altitude",
        "weight",
        "demographic_vo2_max",
        "run_vo2_max",
        "swim_lengths_data",
        "estimated_oxygen_variation",
        "badge",
        "height",
        "bmi",
        "water_logs",
        "food_logs",
        "mindfulness_sessions",
    }
)
# The Fitbit app's names of the common logged activities -> the API's ExerciseType.
EXERCISE_TYPES = {
    "run": "RUNNING",
    "running": "RUNNING",
    "treadmill": "RUNNING",
    "walk": "WALKING",
    "walking": "WALKING",
    "bike": "BIKING",
    "outdoor bike": "BIKING",
    "biking": "BIKING",
    "swim": "SWIMMING",
    "swimming": "SWIMMING",
    "hike": "HIKING",
    "hiking": "HIKING",
    "yoga": "YOGA",
    "pilates": "PILATES",
    "workout": "WORKOUT",
    "hiit": "HIIT",
    "interval workout": "HIIT",
    "weights": "WEIGHTLIFTING",
    "weightlifting": "WEIGHTLIFTING",
    "strength training": "STRENGTH_TRAINING",
}
# Legacy exercise distance units -> millimetres per unit.
DISTANCE_UNITS = {
    "kilometer": Decimal(1_000_000),
    "mile": Decimal(1_609_344),
    "meter": Decimal(1_000),
}
# Legacy sleep levels -> the API's stage types, in the API's stagesSummary order.
SLEEP_LEVELS = {
    "wake": "AWAKE",
    "awake": "AWAKE",
    "light": "LIGHT",
    "deep": "DEEP",
    "rem": "REM",
    "asleep": "ASLEEP",
    "restless": "RESTLESS",
}
STAGE_ORDER = ("AWAKE", "LIGHT", "DEEP", "REM", "ASLEEP", "RESTLESS")
HRV_HEADER = ("timestamp", "rmssd", "nremhr", "entropy")

_DATED = re.compile(r"(?P<type>[a-z_0-9]+)-(?P<date>\d{4}-\d{2}-\d{2})\.json")
_NUMBERED = re.compile(r"(?P<type>[a-z_0-9]+)-(?P<n>\d+)\.json")
_HRV_NAME = re.compile(
    re.escape(HRV_SUMMARY) + r" - (?P<y>\d{4})-(?P<m>\d{2})-\(?(?P<d>\d{2})\)?\.csv"
)
_US_TIME = re.compile(r"(\d\d)/(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d)")
_ISO_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?")
_DECIMAL_TEXT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
# Beyond any measurement a file holds; larger numbers are refused, not computed with.
_MAX_DIGITS = 15
MINUTE = dt.timedelta(minutes=1)
DAY = dt.timedelta(days=1)


# --------------------------------------------------------------------------- classify


def _member(path: str) -> tuple[str, ...] | None:
    """The path's parts below the Fitbit root, or None when it is not under one."""
    if path.startswith(GOOGLE_HEALTH_GLOBAL):
        parts = tuple(p for p in path[len("Takeout/Google Health/") :].split("/") if p)
        return parts if len(parts) > 1 else None
    for root in ROOTS:
        if path.startswith(root):
            parts = tuple(part for part in path[len(root) :].split("/") if part)
            return parts or None
    return None


def _name_parts(path: str) -> tuple[str, str | None] | None:
    """A Global Export Data file's (type, date text or None for a numbered file)."""
    name = path.rpartition("/")[2]
    found = _DATED.fullmatch(name)
    if found:
        return found["type"], found["date"]
    found = _NUMBERED.fullmatch(name)
    if found:
        return found["type"], None
    return None


def classify(path: str) -> str | Skipped | None:
    """What a member of a Takeout holds, from its path alone.

    Args:
        path: the member's '/'-separated path from the export's root
            (`Takeout/Fitbit/Global Export Data/steps-2017-12-31.json`).

    Returns:
        The API data type (`steps`); Skipped `not_health`, `unmapped`, `superseded` or
        `unknown` for the other files under `Takeout/Fitbit/`; None for a path that is
        not under `Takeout/Fitbit/` (or an extracted `Fitbit/`, or the newer exports'
        `Takeout/Google Health/Global Export Data/`, whose JSON is the same; the other
        files under `Takeout/Google Health/` are `history.takeout_google`'s).
    """
    parts = _member(path)
    if parts is None:
        return None
    name = parts[-1]
    if any(part.startswith(NOT_HEALTH_PREFIXES) for part in parts):
        return Skipped(path, "not_health")
    folder = parts[0] if len(parts) > 1 else ""
    if folder in NOT_HEALTH_FOLDERS:
        return Skipped(path, "not_health")
    if folder in SUPERSEDED_FOLDERS:
        return Skipped(path, "superseded")
    if folder == GLOBAL and len(parts) == 2:
        named = _name_parts(name)
        if named is None:
            return Skipped(path, "unknown")
        kind, date_text = named
        if kind in READ_TYPES:
            # Only exercise logs come in numbered files (`exercise-100.json`).
            if date_text is not None or kind == "exercise":
                return READ_TYPES[kind]
            return Skipped(path, "unknown")
        if kind in UNMAPPED_TYPES:
            return Skipped(path, "unmapped")
        return Skipped(path, "unknown")
    if folder == HRV_FOLDER and len(parts) == 2:
        if _HRV_NAME.fullmatch(name):
            return "daily-heart-rate-variability"
        return Skipped(path, "unmapped")
    if folder in UNMAPPED_FOLDERS:
        return Skipped(path, "unmapped")
    return Skipped(path, "unknown")


# --------------------------------------------------------------------------- values


@dataclasses.dataclass(frozen=True)
class _File:
    """The file being read: its name for messages, and the user's zone."""

    name: str
    ctx: ParseContext

    def fail(self, where: str, why: str) -> MalformedFile:
        return MalformedFile(f"{self.name}: {where}: {why}")


def _short(value: Any) -> str:
    return repr(value)[:40]


def _us_time(text: Any, f: _File, where: str) -> dt.datetime:
    """`"12/31/17 16:42:00"` -> naive local datetime."""
    found = _US_TIME.fullmatch(text) if type(text) is str else None
    if found is None:
        raise f.fail(where, f"expected a time such as '12/31/17 16:42:00', got {_short(text)}")
    month, day, year, hour, minute, second = (int(x) for x in found.groups())
    try:
        return dt.datetime(2000 + year, month, day, hour, minute, second)
    except ValueError:
        raise f.fail(where, f"not a real time: {_short(text)}") from None


def _iso_time(text: Any, f: _File, where: str) -> dt.datetime:
    """`"2018-02-01T22:36:00.000"` -> naive local datetime."""
    found = _ISO_TIME.fullmatch(text) if type(text) is str else None
    if found is None:
        raise f.fail(
            where, f"expected a time such as '2018-02-01T22:36:00.000', got {_short(text)}"
        )
    *fields, fraction = found.groups()
    micros = int((fraction or "0").ljust(6, "0"))
    try:
        return dt.datetime(*(int(x) for x in fields), micros)
    except ValueError:
        raise f.fail(where, f"not a real time: {_short(text)}") from None


def _decimal(value: Any, f: _File, where: str) -> Decimal:
    """A number written as a JSON number or a string -> Decimal (exact)."""
    if type(value) is int or type(value) is Decimal:
        number = Decimal(value)
    elif type(value) is str and _DECIMAL_TEXT.fullmatch(value.strip()):
        number = Decimal(value.strip())
    else:
        what = "missing" if value is None else f"expected a number, got {_short(value)}"
        raise f.fail(where, what)
    if not number.is_finite() or number.adjusted() > _MAX_DIGITS:
        raise f.fail(where, f"expected a finite number below 1e15, got {_short(value)}")
    return number


def _count(value: Any, f: _File, where: str) -> int:
    """A non-negative whole number (a JSON integer or integer text)."""
    number = _decimal(value, f, where)
    if number != number.to_integral_value() or number < 0:
        raise f.fail(where, f"expected a whole number of at least 0, got {_short(value)}")
    return int(number)


def _positive(value: Any, f: _File, where: str) -> Decimal:
    number = _decimal(value, f, where)
    if number < 0:
        raise f.fail(where, f"expected a number of at least 0, got {_short(value)}")
    return number


def _half_up(number: Decimal) -> int:
    return int(number.quantize(Decimal(1), rounding=decimal.ROUND_HALF_UP))


def _text(number: Decimal) -> str:
    """A Decimal as plain JSON-number text (no exponent)."""
    return format(number.normalize(), "f") if number else "0"


def _local_day(moment: dt.datetime, f: _File) -> dt.date:
    return moment.astimezone(f.ctx.zone).date()


def _civil(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00"


def _obj(value: Any, f: _File, where: str) -> dict:
    if type(value) is not dict:
        what = "missing" if value is None else f"expected a JSON object, got {_short(value)}"
        raise f.fail(where, what)
    return value


def _list(value: Any, f: _File, where: str) -> list:
    if value is None:
        return []
    if type(value) is not list:
        raise f.fail(where, f"expected a JSON list, got {_short(value)}")
    return value


# --------------------------------------------------------------------------- parse


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_entries(data: bytes, f: _File) -> list | None:
    """The file's top-level list; None when it is empty."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise MalformedFile(f"{f.name}: not UTF-8 text (byte {err.start})") from None
    try:
        entries = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as err:
        raise MalformedFile(f"{f.name}: not valid JSON ({str(err)[:80]})") from None
    if type(entries) is not list:
        raise MalformedFile(
            f"{f.name}: expected a JSON list of entries, got {type(entries).__name__}"
        )
    return entries or None


def _window(first: dt.date, last: dt.date) -> tuple[str, str]:
    return _civil(first), _civil(last + DAY)


def _unit(data_type: str, f: _File, start: str, end: str, points: list) -> ImportUnit:
    return ImportUnit(
        user_key=f.ctx.user_key,
        data_type=data_type,
        start=start,
        end=end,
        source=f.ctx.source,
        points=tuple(points),
    )


def _intraday(
    data_type: str, entries: list, day: dt.date, f: _File, value_of: Callable
) -> ImportUnit:
    """A one-day file of per-minute or per-sample entries."""
    times, values = [], []
    for i, entry in enumerate(entries):
        where = f"entry {i}"
        entry = _obj(entry, f, where)
        local = _us_time(entry.get("dateTime"), f, where + " dateTime")
        if local.date() != day:
            raise f.fail(where, f"dateTime {local:%m/%d/%y %H:%M:%S} is not on the file's day")
        times.append(local)
        values.append(value_of(entry.get("value"), where + " value"))
    points = []
    key = {"steps": "steps", "distance": "distance", "heart-rate": "heartRate"}[data_type]
    for moment, value in zip(utc_instants(times, f.ctx.zone), values, strict=True):
        if data_type == "heart-rate":
            body = {
                "sampleTime": {
                    "physicalTime": rfc3339(moment),
                    "utcOffset": utc_offset(moment, f.ctx.zone),
                },
                "beatsPerMinute": value,
            }
        else:
            body = {"interval": interval(moment, moment + MINUTE, f.ctx.zone), **value}
        points.append({key: body})
    start, end = _window(day, day)
    return _unit(data_type, f, start, end, points)


def _steps_value(f: _File) -> Callable:
    return lambda value, where: {"count": str(_count(value, f, where))}


def _distance_value(f: _File) -> Callable:
    def value_of(value: Any, where: str) -> dict:
        millimetres = _positive(value, f, where) * 10
        return {"millimeters": str(_half_up(millimetres))}

    return value_of


def _heart_rate_value(f: _File) -> Callable:
    def value_of(value: Any, where: str) -> str:
        value = _obj(value, f, where)
        bpm = _count(value.get("bpm"), f, where + ".bpm")
        return str(bpm)

    return value_of


def _resting(entries: list, first: dt.date | None, f: _File) -> ImportUnit:
    points, days = [], []
    for i, entry in enumerate(entries):
        where = f"entry {i}"
        entry = _obj(entry, f, where)
        day = _us_time(entry.get("dateTime"), f, where + " dateTime").date()
        value = _obj(entry.get("value"), f, where + " value")
        bpm = _positive(value.get("value"), f, where + " value.value")
        days.append(day)
        if bpm == 0:
            continue  # the export's day without an estimate
        points.append(
            {
                "dailyRestingHeartRate": {
                    "date": date_json(day),
                    "beatsPerMinute": str(_half_up(bpm)),
                }
            }
        )
    start, end = _window(min(first or days[0], min(days)), max(days))
    return _unit("daily-resting-heart-rate", f, start, end, points)


def _segments(items: list, f: _File, where: str) -> list[tuple[str, dt.datetime, int]]:
    """levels.data / shortData -> (API stage type, naive local start, seconds)."""
    out = []
    for j, item in enumerate(items):
        at = f"{where}[{j}]"
        item = _obj(item, f, at)
        level = item.get("level")
        stage = SLEEP_LEVELS.get(level) if type(level) is str else None
        if stage is None:
            raise f.fail(at + ".level", f"expected a sleep level, got {_short(level)}")
        local = _iso_time(item.get("dateTime"), f, at + ".dateTime")
        seconds = _count(item.get("seconds"), f, at + ".seconds")
        out.append((stage, local, seconds))
    return out


def _log_id(value: Any, f: _File, where: str) -> str:
    """A legacy log id (a JSON integer, or digits) -> the point id the rows keep."""
    if (type(value) is int and value >= 0) or (
        type(value) is str and value.isascii() and value.isdigit()
    ):
        return str(int(value))
    raise f.fail(where, f"expected a whole number, got {_short(value)}")


def _sleep_point(log: dict, f: _File, where: str) -> tuple[dict, dt.date]:
    log_id = _log_id(log.get("logId"), f, where + ".logId")
    kind = log.get("type")
    if kind not in ("stages", "classic"):
        raise f.fail(where + ".type", f"expected 'stages' or 'classic', got {_short(kind)}")
    local_start = _iso_time(log.get("startTime"), f, where + ".startTime")
    local_end = _iso_time(log.get("endTime"), f, where + ".endTime")
    levels = log.get("levels")
    levels = {} if levels is None else _obj(levels, f, where + ".levels")
    stages = _segments(
        _list(levels.get("data"), f, where + ".levels.data"), f, where + ".levels.data"
    )
    short = _segments(
        _list(levels.get("shortData"), f, where + ".levels.shortData"),
        f,
        where + ".levels.shortData",
    )
    # The log's times in file order: its start (unless the first stage starts then),
    # the stages', its end.
    times = [local for _, local, _ in stages]
    lead = not stages or local_start != stages[0][1]
    if lead:
        times.insert(0, local_start)
    times.append(local_end)
    instants = utc_instants(times, f.ctx.zone)
    start, end = instants[0], instants[-1]
    stage_starts = instants[1:-1] if lead else instants[:-1]
    if end < start:
        raise f.fail(where + ".endTime", "is before startTime")

    def segment(stage: str, moment: dt.datetime, seconds: int) -> dict:
        stop = moment + dt.timedelta(seconds=seconds)
        return {"type": stage, **interval(moment, stop, f.ctx.zone)}

    body: dict = {
        "interval": interval(start, end, f.ctx.zone),
        "type": kind.upper(),
        "stages": [
            segment(stage, moment, seconds)
            for (stage, _, seconds), moment in zip(stages, stage_starts, strict=True)
        ],
    }
    if short:
        short_starts = utc_instants([local for _, local, _ in short], f.ctx.zone)
        body["shortAwakenings"] = [
            segment(stage, moment, seconds)
            for (stage, _, seconds), moment in zip(short, short_starts, strict=True)
        ]
    main = log.get("mainSleep")
    if main is not None and type(main) is not bool:
        raise f.fail(where + ".mainSleep", f"expected true or false, got {_short(main)}")
    if main:
        body["metadata"] = {"mainSleep": True}
    summary: dict = {}
    for key, api_key in (
        ("minutesAsleep", "minutesAsleep"),
        ("timeInBed", "minutesInSleepPeriod"),
        ("minutesToFallAsleep", "minutesToFallAsleep"),
        ("minutesAfterWakeup", "minutesAfterWakeUp"),
    ):
        if log.get(key) is not None:
            summary[api_key] = str(_count(log[key], f, f"{where}.{key}"))
    totals = levels.get("summary")
    totals = {} if totals is None else _obj(totals, f, where + ".levels.summary")
    by_stage: dict[str, dict] = {}
    for level, total in totals.items():
        at = f"{where}.levels.summary.{level}"
        stage = SLEEP_LEVELS.get(level)
        if stage is None:
            raise f.fail(at, "not a sleep level")
        total = _obj(total, f, at)
        minutes = _count(total.get("minutes"), f, at + ".minutes")
        count = _count(total.get("count", 0), f, at + ".count")
        if stage == "AWAKE":
            summary["minutesAwake"] = str(minutes)
        if minutes or count:
            by_stage[stage] = {"type": stage, "minutes": str(minutes), "count": str(count)}
    if by_stage:
        summary["stagesSummary"] = [by_stage[s] for s in STAGE_ORDER if s in by_stage]
    if summary:
        body["summary"] = summary
    point = {"dataPointName": f"users/-/dataTypes/sleep/dataPoints/{log_id}", "sleep": body}
    return point, _local_day(end, f)


def _exercise_point(log: dict, f: _File, where: str) -> tuple[dict, dt.date]:
    log_id = _log_id(log.get("logId"), f, where + ".logId")
    name = log.get("activityName")
    if type(name) is not str or not name:
        raise f.fail(where + ".activityName", f"expected a name, got {_short(name)}")
    local_start = _us_time(log.get("startTime"), f, where + ".startTime")
    duration = _count(log.get("duration"), f, where + ".duration")
    (start,) = utc_instants([local_start], f.ctx.zone)
    end = start + dt.timedelta(milliseconds=duration)
    body: dict = {
        "interval": interval(start, end, f.ctx.zone),
        "exerciseType": EXERCISE_TYPES.get(name.strip().lower(), "OTHER"),
        "displayName": name,
    }
    if log.get("activeDuration") is not None:
        active = _count(log["activeDuration"], f, where + ".activeDuration")
        body["activeDuration"] = _text(Decimal(active) / 1000) + "s"
    summary: dict = {}
    if log.get("calories") is not None:
        calories = _positive(log["calories"], f, where + ".calories")
        if calories:
            summary["caloriesKcal"] = float(calories)
    if log.get("distance") is not None:
        distance = _positive(log["distance"], f, where + ".distance")
        unit = log.get("distanceUnit")
        per_unit = DISTANCE_UNITS.get(unit.lower()) if type(unit) is str else None
        if per_unit is None:
            raise f.fail(
                where + ".distanceUnit", f"expected Kilometer, Mile or Meter, got {_short(unit)}"
            )
        if distance:
            summary["distanceMillimeters"] = float(distance * per_unit)
    for key, api_key in (
        ("steps", "steps"),
        ("averageHeartRate", "averageHeartRateBeatsPerMinute"),
    ):
        if log.get(key) is not None:
            value = _count(log[key], f, f"{where}.{key}")
            if value:
                summary[api_key] = str(value)
    if summary:
        body["metricsSummary"] = summary
    gps = log.get("hasGps")
    if gps is not None and type(gps) is not bool:
        raise f.fail(where + ".hasGps", f"expected true or false, got {_short(gps)}")
    if gps:
        body["exerciseMetadata"] = {"hasGps": True}
    point = {"dataPointName": f"users/-/dataTypes/exercise/dataPoints/{log_id}", "exercise": body}
    return point, local_start.date()


def _logs(
    data_type: str, entries: list, first: dt.date | None, f: _File, point_of: Callable
) -> ImportUnit:
    points, days = [], []
    for i, entry in enumerate(entries):
        where = f"entry {i}"
        point, day = point_of(_obj(entry, f, where), f, where)
        points.append(point)
        days.append(day)
    start, end = _window(min(first or min(days), min(days)), max(days))
    return _unit(data_type, f, start, end, points)


def _hrv_summary(data: bytes, first: dt.date, f: _File) -> ImportUnit | Skipped:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise MalformedFile(f"{f.name}: not UTF-8 text (byte {err.start})") from None
    if "\x00" in text:
        raise MalformedFile(f"{f.name}: holds NUL bytes, not CSV text")
    try:
        table = [row for row in csv.reader(io.StringIO(text, newline=""), strict=True) if row]
    except csv.Error as err:
        raise MalformedFile(f"{f.name}: not readable as CSV ({err})") from None
    if not table:
        return Skipped(f.ctx.source, "empty")
    header = tuple(cell.strip().lower() for cell in table[0])
    if header != HRV_HEADER:
        raise MalformedFile(
            f"{f.name}: unexpected header {','.join(header)[:80]!r}; "
            f"expected {','.join(HRV_HEADER)!r}"
        )
    if len(table) == 1:
        return Skipped(f.ctx.source, "empty")
    points, days = [], []
    for i, row in enumerate(table[1:], start=2):
        where = f"line {i}"
        if len(row) != len(HRV_HEADER):
            raise f.fail(where, f"expected {len(HRV_HEADER)} cells, got {len(row)}")
        stamp, rmssd, nremhr, entropy = (cell.strip() for cell in row)
        day = _iso_time(stamp, f, where + " timestamp").date()
        days.append(day)
        body: dict = {"date": date_json(day)}
        if rmssd:
            body["averageHeartRateVariabilityMilliseconds"] = float(
                _positive(rmssd, f, where + " rmssd")
            )
        if nremhr:
            body["nonRemHeartRateBeatsPerMinute"] = str(
                _half_up(_positive(nremhr, f, where + " nremhr"))
            )
        if entropy:
            body["entropy"] = float(_positive(entropy, f, where + " entropy"))
        points.append({"dailyHeartRateVariability": body})
    start, end = _window(min(first, min(days)), max(days))
    return _unit("daily-heart-rate-variability", f, start, end, points)


def _is_no_data(data: bytes) -> bool:
    return len(data) < 64 and data.lstrip(b"\xef\xbb\xbf").strip().lower() == NO_DATA.encode()


def parse(path: str, data: bytes, ctx: ParseContext) -> Iterator[ImportUnit | Skipped]:
    """One file's bytes -> its import unit, or a Skipped.

    Args:
        path: the member's path from the export's root (what `classify` takes).
        data: the file's bytes.
        ctx: whose file it is, the user's zone, and the name units carry.

    Yields:
        One `ImportUnit` of the file's points, or one `Skipped` (`no_data`, `empty`, or
        what `classify` says of a file this module does not read).

    Raises:
        MalformedFile: the file cannot be read (not UTF-8, not JSON or CSV, not a list
            of entries, an entry without its time or with a value that is not a
            number, a time that is not one, an entry of another day in a one-day file).
    """
    try:
        yield from _parse(path, data, ctx)
    except (OverflowError, decimal.InvalidOperation):
        # A time or duration past what datetimes hold (year 9999).
        raise MalformedFile(f"{ctx.source}: a time or duration out of range") from None


def _parse(path: str, data: bytes, ctx: ParseContext) -> Iterator[ImportUnit | Skipped]:
    f = _File(ctx.source, ctx)
    kind = classify(path)
    if kind is None:
        raise MalformedFile(f"{ctx.source}: not a file of the Takeout Fitbit layout")
    if _is_no_data(data):
        yield Skipped(ctx.source, "no_data")
        return
    if isinstance(kind, Skipped):
        yield Skipped(ctx.source, kind.reason)
        return
    name = path.rpartition("/")[2]
    if kind == "daily-heart-rate-variability":
        found = _HRV_NAME.fullmatch(name)
        try:
            first = dt.date(int(found["y"]), int(found["m"]), int(found["d"]))
        except ValueError:
            raise MalformedFile(f"{f.name}: its name's date is not a real day") from None
        yield _hrv_summary(data, first, f)
        return
    _, date_text = _name_parts(name)
    try:
        first = dt.date.fromisoformat(date_text) if date_text else None
    except ValueError:
        raise MalformedFile(f"{f.name}: its name's date is not a real day") from None
    entries = _json_entries(data, f)
    if entries is None:
        yield Skipped(ctx.source, "empty")
        return
    yield _read(kind, entries, first, f)


def _read(kind: str, entries: list, first: dt.date | None, f: _File) -> ImportUnit:
    """The unit of a Global Export Data file's entries."""
    if kind == "steps":
        return _intraday(kind, entries, first, f, _steps_value(f))
    if kind == "distance":
        return _intraday(kind, entries, first, f, _distance_value(f))
    if kind == "heart-rate":
        return _intraday(kind, entries, first, f, _heart_rate_value(f))
    if kind == "daily-resting-heart-rate":
        return _resting(entries, first, f)
    if kind == "sleep":
        return _logs(kind, entries, first, f, _sleep_point)
    return _logs(kind, entries, first, f, _exercise_point)
