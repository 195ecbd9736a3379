"""Writes simulator users' data as a Google Takeout of the older Fitbit layout.

The export a user downloads from Takeout holds one person's account: `write_export`
writes one per user from the simulator's ground truth (the reconciled stream the
API's `:reconcile` answers, `simulator.store.DataStore`), in the shapes of the real
files that `history.takeout_fitbit` reads: `Takeout/Fitbit/Global Export Data/
<type>-YYYY-MM-DD.json` with US-ordered local times without an offset, values as
strings, distances in centimetres, legacy sleep and exercise logs, and the daily
heart-rate-variability CSVs. Periods as Takeout cuts them: intraday types one file a
day, sleep 30 days a file, resting heart rate one file a year, exercise 100 logs a
file (`exercise-0.json`), heart-rate variability a month a file. A day of an
intraday type without data is a file holding `no data`, as Takeout writes it; so is
the type the simulator has none of (`altitude`); and a non-health file
(`UserSensorCompressionToken`) is written beside them.

Usage::

    users = [synth.make_user(0, 1, dt.date(2026, 1, 1))]
    counts = write_export(users, dt.date(2026, 10, 30), dt.date(2026, 11, 3), Path("out"))
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path

from simulator import render, synth, timefmt
from simulator.points import ExerciseValues
from simulator.store import DataStore
from simulator.synth import Point, SleepPlan, User

DAY = dt.timedelta(days=1)
ROOT = "Takeout/Fitbit/"
GLOBAL = ROOT + "Global Export Data/"
HRV = ROOT + "Heart Rate Variability/"
INTRADAY = {"steps": "steps", "distance": "distance", "heart-rate": "heart_rate"}
SLEEP_DAYS = 30
EXERCISES_PER_FILE = 100
# The simulator's default heart-rate sample spacing (what `fitbeam run` reads from it).
HR_SPACING_SECONDS = 5
# Legacy sleep level names of the API's stage types, per log type.
STAGES_LEVELS = {"AWAKE": "wake", "LIGHT": "light", "DEEP": "deep", "REM": "rem"}
CLASSIC_LEVELS = {"AWAKE": "awake", "ASLEEP": "asleep", "RESTLESS": "restless"}


def _us(epoch: int, user: User) -> str:
    return timefmt.local_datetime(epoch, user.zone).strftime("%m/%d/%y %H:%M:%S")


def _iso(epoch: int, user: User) -> str:
    return timefmt.local_datetime(epoch, user.zone).strftime("%Y-%m-%dT%H:%M:%S.000")


def _days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += DAY


def _json(entries: list) -> bytes:
    # Takeout writes its JSON indented, with a space before the colon.
    return json.dumps(entries, indent=2, separators=(",", " : ")).encode()


def _centimetres(millimetres: int) -> str:
    return format(Decimal(millimetres) / 10, "f")


def _intraday_entry(user: User, data_type: str, p: Point) -> dict:
    if data_type == "steps":
        return {"dateTime": _us(p.start, user), "value": str(p.values)}
    if data_type == "distance":
        return {"dateTime": _us(p.start, user), "value": _centimetres(p.values)}
    bpm, _motion = p.values
    # The watch's confidence is not in the simulator's data: 2 stands for any.
    return {"dateTime": _us(p.start, user), "value": {"bpm": bpm, "confidence": 2}}


def _sleep_log(user: User, p: Point) -> dict:
    sleep: SleepPlan = p.values
    summary = render.render_body(user, "sleep", p)["summary"]
    levels = CLASSIC_LEVELS if sleep.classic else STAGES_LEVELS
    totals = {s["type"]: s for s in summary["stagesSummary"]}
    minutes_awake = sum(
        int(totals[kind]["minutes"]) for kind in ("AWAKE", "RESTLESS") if kind in totals
    )
    asleep = int(summary["minutesAsleep"])
    in_bed = int(summary["minutesInSleepPeriod"])
    log = {
        "logId": int(p.point_id),
        "dateOfSleep": p.day.isoformat(),
        "startTime": _iso(sleep.start, user),
        "endTime": _iso(sleep.end, user),
        "duration": (sleep.end - sleep.start) * 1000,
        "minutesToFallAsleep": int(summary["minutesToFallAsleep"]),
        "minutesAsleep": asleep,
        # The legacy log counts restless minutes as awake.
        "minutesAwake": minutes_awake,
        "minutesAfterWakeup": int(summary["minutesAfterWakeUp"]),
        "timeInBed": in_bed,
        "efficiency": round(100 * asleep / in_bed) if in_bed else 0,
        "type": "classic" if sleep.classic else "stages",
        "infoCode": 0,
        "logType": "auto_detected",
        "levels": {
            "summary": {
                level: {
                    "count": int(totals[kind]["count"]) if kind in totals else 0,
                    "minutes": int(totals[kind]["minutes"]) if kind in totals else 0,
                }
                for kind, level in levels.items()
            },
            "data": [
                {"dateTime": _iso(start, user), "level": levels[kind], "seconds": end - start}
                for kind, start, end in sleep.stages
            ],
        },
        "mainSleep": sleep.main,
    }
    short = synth.short_awakenings(user, sleep)
    if short:
        log["levels"]["shortData"] = [
            {"dateTime": _iso(start, user), "level": "wake", "seconds": end - start}
            for start, end in short
        ]
    return log


def _exercise_log(user: User, p: Point) -> dict:
    v: ExerciseValues = p.values
    ex = v.plan
    paused = sum(resume - pause for pause, resume in ex.pauses)
    log = {
        "logId": int(p.point_id),
        "activityName": ex.display_name,
        "averageHeartRate": v.average_bpm,
        "calories": v.calories_kcal,
        "duration": ex.minutes * 60_000,
        "activeDuration": (ex.minutes * 60 - paused) * 1000,
        "steps": v.steps,
        "logType": "auto_detected",
        "lastModified": _us(p.end + 300, user),
        "startTime": _us(ex.start, user),
        "originalStartTime": _us(ex.start, user),
        "originalDuration": ex.minutes * 60_000,
        "elevationGain": v.elevation_gain_mm / 1000,
        "hasGps": ex.gps,
    }
    if v.distance_mm:
        log["distance"] = float(Decimal(v.distance_mm) / 1_000_000)
        log["distanceUnit"] = "Kilometer"
    return log


def _hrv_csv(user: User, points: Iterable[Point]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("timestamp", "rmssd", "nremhr", "entropy"))
    for p in points:
        average, _deep, entropy, non_rem = p.values
        writer.writerow((f"{p.day.isoformat()}T00:00:00", average, non_rem, entropy))
    return out.getvalue().encode()


def export_files(user: User, first_day: dt.date, last_day: dt.date) -> dict[str, bytes]:
    """The members of one user's Takeout (path -> bytes) for civil days first..last.

    Args:
        user: the simulator user.
        first_day, last_day: inclusive civil days in the user's zone (a point's day is
            the one the simulator attributes it to: a sleep's end, an exercise's start).
    """
    # The export is made days after its last day: every point of it is there.
    made = float(timefmt.civil_midnight(last_day + 3 * DAY, user.zone))
    store = DataStore({user.user_id: user}, HR_SPACING_SECONDS, lambda: made)

    def points(data_type: str, day: dt.date) -> list[Point]:
        return list(reversed(store.day_stream(user, data_type, day, reconciled=True)))

    files: dict[str, bytes] = {}
    for day in _days(first_day, last_day):
        for data_type, name in INTRADAY.items():
            path = f"{GLOBAL}{name}-{day.isoformat()}.json"
            entries = [_intraday_entry(user, data_type, p) for p in points(data_type, day)]
            files[path] = _json(entries) if entries else b"no data"
    chunk = first_day
    while chunk <= last_day:
        stop = min(last_day, chunk + dt.timedelta(days=SLEEP_DAYS - 1))
        logs = [_sleep_log(user, p) for d in _days(chunk, stop) for p in points("sleep", d)]
        files[f"{GLOBAL}sleep-{chunk.isoformat()}.json"] = _json(logs) if logs else b"no data"
        chunk = stop + DAY
    year_start = first_day
    while year_start <= last_day:
        stop = min(last_day, dt.date(year_start.year, 12, 31))
        entries = [
            {
                "dateTime": p.day.strftime("%m/%d/%y 00:00:00"),
                "value": {
                    "date": p.day.strftime("%m/%d/%y"),
                    "value": float(p.values[0]),
                    "error": 6.5,
                },
            }
            for d in _days(year_start, stop)
            for p in points("daily-resting-heart-rate", d)
        ]
        path = f"{GLOBAL}resting_heart_rate-{year_start.isoformat()}.json"
        files[path] = _json(entries) if entries else b"no data"
        year_start = stop + DAY
    logs = [
        _exercise_log(user, p) for d in _days(first_day, last_day) for p in points("exercise", d)
    ]
    for i in range(0, max(1, len(logs)), EXERCISES_PER_FILE):
        part = logs[i : i + EXERCISES_PER_FILE]
        files[f"{GLOBAL}exercise-{i}.json"] = _json(part) if part else b"no data"
    month = first_day
    while month <= last_day:
        following = (month.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        stop = min(last_day, following - DAY)
        daily = [p for d in _days(month, stop) for p in points("daily-heart-rate-variability", d)]
        name = f"Daily Heart Rate Variability Summary - {month:%Y-%m}-({month:%d}).csv"
        files[HRV + name] = _hrv_csv(user, daily)
        month = stop + DAY
    # A type the simulator has no data of, and a file that is not health data.
    files[f"{GLOBAL}altitude-{first_day.isoformat()}.json"] = b"no data"
    files[f"{GLOBAL}UserSensorCompressionToken-{first_day.isoformat()}.json"] = b'{"token":"x"}'
    return files


def _kind(path: str) -> str:
    """The count key of a member: its file type (`steps`, `exercise`, `hrv_summary`)."""
    name = path.rpartition("/")[2]
    if name.startswith("UserSensorCompressionToken"):
        return "not_health"
    if name.startswith("Daily Heart Rate Variability Summary"):
        return "hrv_summary"
    return re.sub(r"-(\d{4}-\d{2}-\d{2}|\d+)\.json$", "", name)


def write_export(
    users: Iterable[User], first_day: dt.date, last_day: dt.date, out: Path, zip: bool = False
) -> dict[str, int]:
    """Writes each user's Takeout: `out/Takeout/...` for one user, else `out/<user_id>/`.

    Args:
        users: simulator users (`simulator.synth.make_user`).
        first_day, last_day: inclusive civil days in each user's zone.
        out: the folder to write in.
        zip: write `takeout.zip` (members under `Takeout/`) in place of the folder.

    Returns:
        Files written per kind (`steps`, `sleep`, `hrv_summary`, `no_data`,
        `not_health`...), over all users.
    """
    users = list(users)
    counts: dict[str, int] = {}
    for user in users:
        root = out if len(users) == 1 else out / user.user_id
        root.mkdir(parents=True, exist_ok=True)
        files = export_files(user, first_day, last_day)
        for path, data in files.items():
            kind = "no_data" if data == b"no data" else _kind(path)
            counts[kind] = counts.get(kind, 0) + 1
        if zip:
            with zipfile.ZipFile(root / "takeout.zip", "w", zipfile.ZIP_DEFLATED) as archive:
                for path, data in files.items():
                    archive.writestr(path, data)
        else:
            for path, data in files.items():
                target = root / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
    return counts
