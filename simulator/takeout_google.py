"""Writes a Google Takeout export in the Google Health layout from the simulator's data.

The export of one synthetic user over civil days `first_day..last_day`, as the newer
Takeout writes a Fitbit account: CSVs under `Takeout/Google Health/Physical
Activity_GoogleData/` with UTC timestamps ending in `Z` and a `data source` column,
in the shapes `history.takeout_google` reads (its docstring lists the files and
headers). Every source's points are written, as the export holds them, so the
Health Connect rows (the phone's steps and distance, the chest strap's heart rate, a
Health Connect scale) repeat the watch's times: the importer must keep one per time.
Written from `simulator.points.points_for_day`, the same ground truth the simulated
API serves, so an import of the export can be held equal to the API's reconciled
answer (`tests/unit/test_takeout_google.py`).

Per UTC day, one file of each intraday type (`heart_rate_2026-11-01.csv`); a day with
none of a type's points gets a file holding just `no data`, as real exports do. Weight
and the daily values are one file each for the whole span. Also written: the
per-minute total calories (`calories_*.csv`, which the importer skips as unmapped),
two non-health files (`UserSensorCompressionToken_1.csv`,
`UserActivityProbabilities_1.csv`) and an empty glucose file.

Where a real export differs: it may leave zero minutes of steps and distance out; this
one writes the simulator's zeros (minutes worn), as the API sends them.

Usage::

    user = synth.make_user(0, 1, dt.date(2026, 10, 1))
    counts = write_export(user, dt.date(2026, 10, 30), dt.date(2026, 11, 2), Path("out"))
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections import defaultdict
from pathlib import Path

from simulator import points as points_mod
from simulator import synth, timefmt
from simulator.synth import Point, User

ROOT = "Takeout/Google Health/"
FOLDER = ROOT + "Physical Activity_GoogleData/"
HR_SPACING_SECONDS = 5
DAY = dt.timedelta(days=1)

# The `data source` text of each simulator source other than the watch (whose text is
# its device's name): Health Connect sources are named `<app> Health Connect`.
SOURCE_NAMES = {
    "scale": "Aria Air",
    "manual": "Fitbit App",
    "phone": "Phone Health Connect",
    "chest": "Garmin Connect Health Connect",
    "hc-scale": "Withings Health Connect",
    "cgm": "Dexcom Health Connect",
}


def _number(value) -> str:
    """A number as the export writes it: ints plain, floats by their shortest repr."""
    return str(value) if type(value) is int else repr(float(value))


def _metres(millimetres: int) -> str:
    return f"{millimetres // 1000}.{millimetres % 1000:03d}"


# Per-UTC-day families: (file stem, data type, header, values of a point -> cells).
_DAY_FILES = (
    ("heart_rate", "heart-rate", "timestamp,beats per minute", lambda v: [str(v[0])]),
    (
        "heart_rate_variability",
        "heart-rate-variability",
        "timestamp,root mean square of successive differences ms,standard deviation ms",
        lambda v: [_number(v[0]), _number(v[1])],
    ),
    (
        "oxygen_saturation",
        "oxygen-saturation",
        "timestamp,oxygen saturation percentage",
        lambda v: [_number(v)],
    ),
    ("steps", "steps", "timestamp,steps", lambda v: [str(v)]),
    ("distance", "distance", "timestamp,distance", lambda v: [_metres(v)]),
    (
        "active_energy_burned",
        "active-energy-burned",
        "timestamp,Kilocalories",
        lambda v: [_number(v)],
    ),
    ("sedentary_period", "sedentary-period", "start time,end time", None),
    ("body_fat", "body-fat", "timestamp,body fat percentage", lambda v: [_number(v)]),
)
# Whole-span families: (file name, data type, header, values -> cells).
_SPAN_FILES = (
    ("weight.csv", "weight", "timestamp,weight grams", lambda v: [_number(v[0])]),
    (
        "daily_resting_heart_rate.csv",
        "daily-resting-heart-rate",
        "timestamp,beats per minute",
        lambda v: [str(v[0])],
    ),
    (
        "daily_respiratory_rate.csv",
        "daily-respiratory-rate",
        "timestamp,breaths per minute",
        lambda v: [_number(v)],
    ),
    (
        "daily_oxygen_saturation.csv",
        "daily-oxygen-saturation",
        "timestamp,average percentage,lower bound percentage,upper bound percentage,"
        "baseline percentage,standard deviation percentage",
        # The simulator has no baseline: its cell is left empty.
        lambda v: [_number(v[0]), _number(v[1]), _number(v[2]), "", _number(v[3])],
    ),
)
DATA_TYPES = tuple(t for _, t, _, _ in _DAY_FILES) + tuple(t for _, t, _, _ in _SPAN_FILES)


def source_name(user: User, source: str) -> str:
    """The `data source` text of a simulator source for this user."""
    if source == "watch":
        return synth.SOURCES[user.watch]["device"]["displayName"]
    return SOURCE_NAMES[source]


def _is_health_connect(source: str) -> bool:
    return synth.SOURCES[source]["platform"] == "HEALTH_CONNECT"


def _cell(text: str) -> str:
    return f'"{text}"' if "," in text or '"' in text else text


def _lines(user: User, header: str, rows: list[tuple[list[str], str]]) -> str:
    out = [header + ",data source"]
    out += [",".join([*cells, _cell(source_name(user, source))]) for cells, source in rows]
    return "\n".join(out) + "\n"


def _points(user: User, data_type: str, first_day: dt.date, last_day: dt.date) -> list[Point]:
    out = []
    day = first_day
    while day <= last_day:
        out += points_mod.points_for_day(user, data_type, day, HR_SPACING_SECONDS)
        day += DAY
    # In time order; at one time a Health Connect row comes first, so that keeping the
    # first row of a time would keep the wrong one.
    out.sort(key=lambda p: (p.start, not _is_health_connect(p.source), p.source))
    return out


def export_files(
    user: User, first_day: dt.date, last_day: dt.date
) -> tuple[dict[str, bytes], dict[str, int]]:
    """The export's members (path -> bytes) and the data rows written per family.

    Args:
        user: the synthetic user.
        first_day, last_day: the civil days (inclusive) whose points are written.

    Returns:
        (members, counts): counts has the rows of each family (file stem, `weight`...)
        and `files` and `no_data_files`.
    """
    zone = user.zone
    span_start = timefmt.civil_midnight(first_day, zone)
    span_end = timefmt.civil_midnight(last_day + DAY, zone)
    utc_days = []
    day = timefmt.epoch_day(span_start // 86400)
    while day <= timefmt.epoch_day((span_end - 1) // 86400):
        utc_days.append(day)
        day += DAY
    files: dict[str, bytes] = {}
    counts: dict[str, int] = defaultdict(int)
    no_data = 0
    for stem, data_type, header, cells in _DAY_FILES:
        by_day: dict[dt.date, list] = defaultdict(list)
        for p in _points(user, data_type, first_day, last_day):
            if cells is None:
                row = [timefmt.rfc3339(p.start), timefmt.rfc3339(p.end)]
            else:
                row = [timefmt.rfc3339(p.start), *cells(p.values)]
            by_day[timefmt.epoch_day(p.start // 86400)].append((row, p.source))
        for day in utc_days:
            path = f"{FOLDER}{stem}_{day.isoformat()}.csv"
            rows = by_day.get(day)
            if rows:
                files[path] = _lines(user, header, rows).encode()
                counts[stem] += len(rows)
            else:
                files[path] = b"no data"
                no_data += 1
    for name, data_type, header, cells in _SPAN_FILES:
        rows = []
        for p in _points(user, data_type, first_day, last_day):
            # Daily values are stamped at 00:00 UTC of their day: a label, not a time.
            if data_type.startswith("daily-"):
                stamp = f"{p.day.isoformat()}T00:00:00Z"
            else:
                stamp = timefmt.rfc3339(p.start)
            rows.append(([stamp, *cells(p.values)], p.source))
        stem = name.removesuffix(".csv")
        if rows:
            files[FOLDER + name] = _lines(user, header, rows).encode()
            counts[stem] += len(rows)
        else:
            files[FOLDER + name] = b"no data"
            no_data += 1
    # Total calories per minute (skipped by the importer: no table holds them).
    calories: dict[dt.date, list] = defaultdict(list)
    civil = first_day
    while civil <= last_day:
        for start, kcal in points_mod.calorie_minutes(user, civil):
            row = [timefmt.rfc3339(start), _number(round(kcal, 4))]
            calories[timefmt.epoch_day(start // 86400)].append((row, "watch"))
        civil += DAY
    for day in utc_days:
        rows = calories.get(day)
        if rows:
            files[f"{FOLDER}calories_{day.isoformat()}.csv"] = _lines(
                user, "timestamp,calories", rows
            ).encode()
            counts["calories"] += len(rows)
    other = ROOT + "Health Fitness Data_GoogleData/"
    files[other + "UserSensorCompressionToken_1.csv"] = b"token\n" + bytes(range(1, 200)) + b"\n"
    files[other + "UserActivityProbabilities_1.csv"] = b"timestamp,probabilities\n0,[0.1]\n"
    files[ROOT + "Biometrics/Glucose 2611.csv"] = b"no data"
    counts["files"] = len(files)
    counts["no_data_files"] = no_data + 1
    return files, dict(counts)


def write_export(
    user: User, first_day: dt.date, last_day: dt.date, out: Path, zip: bool = False
) -> dict[str, int]:
    """Writes the export of `user` over civil days `first_day..last_day`.

    Args:
        out: the folder the `Takeout/...` tree is written under, or with `zip` the zip
            file to write (its members start with `Takeout/`).
        zip: write one zip file instead of a folder.

    Returns:
        The data rows written per family (file stem: `heart_rate`, `weight`...), and
        `files` and `no_data_files`.
    """
    files, counts = export_files(user, first_day, last_day)
    if zip:
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, data in files.items():
                archive.writestr(path, data)
    else:
        for path, data in files.items():
            target = out / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return counts
