"""Writes the original system's archive of legacy Fitbit Web API responses for simulator users.

The system fitbeam replaces saved each raw response of the legacy Fitbit Web API to GCS as
`{endpoint}/{YYYYMMDD}/{[logId_]endpoint_userId}.{json|tcx}`, one per endpoint, user and
day (a TCX per logged activity). This module writes such an archive from the simulator's
ground truth (`simulator.points.points_for_day`, reconciled as `DataStore.reconcile`
does, and `simulator.render`), in the legacy response shapes of
`docs/fitbit-web-api-and-seed.md` §2.5, so that `history.legacy` can be tested against
what the Google Health API path gives for the same data.

Usage::

    python -m simulator.legacy_archive /tmp/legacy-archive        # the default archive
    python -m simulator.legacy_archive /tmp/legacy-archive --zip   # and a zip of it

What each response holds, from the ground truth of its user and civil day:

- get_heart_rate_by_date: the reconciled heart-rate samples as the intraday dataset
  (local `HH:mm:ss`, in time order, so the hour repeated when clocks go back appears
  twice), the day's resting heart rate, and the legacy zones: Out of Range, Fat Burn,
  Cardio and Peak, whose limits are the resting rate plus 40, 70 and 85 % of the
  heart-rate reserve (the simulator's Active Zone Minutes zones), with the minutes of
  active-zone-minutes in each zone (Out of Range: the other minutes worn and awake) and
  the energy (basal plus active) of those minutes.
- get_activity_summary_by_date: the day's exercise as a logged activity (logId = the
  exercise's point id; whole kilocalories; kilometres), and a summary of reconciled
  totals: steps, floors, distance, elevation (altitude gain), minutes per activity level,
  caloriesBMR (basal energy), marginalCalories (active energy), activityCalories (active
  energy of the active minutes), caloriesOut (their sum), activeScore -1; distances
  total, tracker, loggedActivities and the activity's; goals from the user's traits.
- get_sleep_by_date: the sleeps that ended that day (logId = the sleep's point id) with
  stages as `levels.data`, short awakenings as `levels.shortData`, the summary minutes the
  API sends, efficiency (minutes asleep over time in bed), infoCode 0.
- get_body_weight_by_date: the day's weigh-ins (logId = the point id) with BMI from the
  user's height and the legacy source name.
- get_cardio_score_by_date: VO2 max as one number, or as a range around it (floor - 2 to
  floor + 2) on the days the API marks it estimated; no entry on days without a value.
- get_activity_tcx_by_id: the exercise's TCX as `simulator.render.render_tcx` writes it
  (no partial data), its times written as local times with their UTC offset, as the
  legacy API did.

Pitfalls included: days without data (a watch not worn: empty responses), and a response
of an endpoint fitbeam does not read (`get_activity_details_by_id`). A malformed file is
only made by the tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
import sys
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from simulator import points as points_mod
from simulator import render, synth, timefmt
from simulator.store import DataStore
from simulator.synth import Point, User

__all__ = [
    "DEFAULT_DAYS",
    "DEFAULT_HR_SPACING_SECONDS",
    "DEFAULT_USERS",
    "ENDPOINTS",
    "default_users",
    "member_path",
    "write_archive",
    "write_default_archive",
    "zip_archive",
]

ENDPOINTS = (
    "get_activity_summary_by_date",
    "get_heart_rate_by_date",
    "get_body_weight_by_date",
    "get_cardio_score_by_date",
    "get_sleep_by_date",
    "get_activity_tcx_by_id",
)
# An endpoint the original system could save but never parsed.
UNREAD_ENDPOINT = "get_activity_details_by_id"

# The default archive: users 1 to 4 (America/New_York, Pacific/Tongatapu, Europe/London,
# Asia/Kolkata) over a week around the end of daylight saving time in New York
# (2026-11-01); it holds a day user-4 did not wear the watch and estimated VO2 max days.
DEFAULT_USERS = 4
DEFAULT_DAYS = (dt.date(2026, 10, 29), dt.date(2026, 11, 4))
DEFAULT_HR_SPACING_SECONDS = 30
_SEED = 0
_HISTORY_START = dt.date(2026, 10, 1)

# exerciseType -> the legacy activityId (and its name as the activity's parent).
ACTIVITY_IDS = {
    "RUNNING": 90009,
    "WALKING": 90013,
    "BIKING": 90001,
    "SWIMMING": 90024,
    "YOGA": 52001,
    "WEIGHTLIFTING": 2050,
}
_STAGE_LEVELS = {"AWAKE": "wake", "LIGHT": "light", "DEEP": "deep", "REM": "rem"}
_CLASSIC_LEVELS = {"AWAKE": "awake", "ASLEEP": "asleep", "RESTLESS": "restless"}
_WEIGHT_SOURCES = {"scale": "Aria", "hc-scale": "API", "manual": "Web"}
# Legacy zones: name and lower edge as a fraction of the heart-rate reserve.
_ZONES = (("Fat Burn", 0.4, "FAT_BURN"), ("Cardio", 0.7, "CARDIO"), ("Peak", 0.85, "PEAK"))
_ACTIVE_LEVELS = frozenset({"LIGHTLY_ACTIVE", "MODERATELY_ACTIVE", "VERY_ACTIVE"})
_TCX_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.000Z")


def default_users() -> list[User]:
    """The users of the default archive."""
    return [synth.make_user(_SEED, i, _HISTORY_START) for i in range(1, DEFAULT_USERS + 1)]


def member_path(endpoint: str, day: dt.date, legacy_user_id: str, log_id: str = "") -> str:
    """`{endpoint}/{YYYYMMDD}/{[logId_]endpoint_userId}.{json|tcx}`."""
    ext = "tcx" if endpoint == "get_activity_tcx_by_id" else "json"
    prefix = f"{log_id}_" if log_id else ""
    return f"{endpoint}/{day:%Y%m%d}/{prefix}{endpoint}_{legacy_user_id}.{ext}"


def _reconciled(user: User, data_type: str, day: dt.date, spacing: int) -> list[Point]:
    """The day's reconciled points of a type, oldest first."""
    newest_first = list(points_mod.points_for_day(user, data_type, day, spacing))
    return list(reversed(DataStore.reconcile(newest_first)))


def _local(epoch: int, user: User) -> dt.datetime:
    return timefmt.local_datetime(epoch, user.zone)


def _sleep_time(epoch: int, user: User) -> str:
    return _local(epoch, user).strftime("%Y-%m-%dT%H:%M:%S.000")


# --------------------------------------------------------------------------- responses


def heart_rate_response(user: User, day: dt.date, spacing: int) -> dict:
    samples = _reconciled(user, "heart-rate", day, spacing)
    dataset = [
        {"time": _local(p.start, user).strftime("%H:%M:%S"), "value": p.values[0]} for p in samples
    ]
    value: dict = {"customHeartRateZones": [], "heartRateZones": heart_rate_zones(user, day)}
    resting = _reconciled(user, "daily-resting-heart-rate", day, spacing)
    if resting:
        value["restingHeartRate"] = resting[0].values[0]
    return {
        "activities-heart": [{"dateTime": day.isoformat(), "value": value}],
        "activities-heart-intraday": {
            "dataset": dataset,
            "datasetInterval": spacing,
            "datasetType": "second",
        },
    }


def zone_edges(user: User) -> tuple[int, int, int]:
    """Lower limits of the legacy Fat Burn, Cardio and Peak zones, in bpm."""
    reserve = user.max_bpm - user.resting_bpm
    return tuple(int(user.resting_bpm + f * reserve) for _, f, _ in _ZONES)


def heart_rate_zones(user: User, day: dt.date) -> list[dict]:
    """The legacy default zones of a day: limits, minutes and energy in each."""
    energy: dict[int, float] = {}
    for data_type in ("basal-energy-burned", "active-energy-burned"):
        for p in _reconciled(user, data_type, day, 60):
            energy[p.start] = energy.get(p.start, 0.0) + p.values
    awake = [p.start for p in _reconciled(user, "activity-level", day, 60)]
    in_zone = {p.start: p.values[0] for p in _reconciled(user, "active-zone-minutes", day, 60)}
    minutes = {"Out of Range": 0, **{name: 0 for name, _, _ in _ZONES}}
    kcal = dict.fromkeys(minutes, 0.0)
    names = {key: name for name, _, key in _ZONES}
    for start in awake:
        name = names[in_zone[start]] if start in in_zone else "Out of Range"
        minutes[name] += 1
        kcal[name] += energy.get(start, 0.0)
    fat_burn, cardio, peak = zone_edges(user)
    limits = {
        "Out of Range": (30, fat_burn),
        "Fat Burn": (fat_burn, cardio),
        "Cardio": (cardio, peak),
        "Peak": (peak, user.max_bpm),
    }
    return [
        {
            "caloriesOut": round(kcal[name], 4),
            "max": limits[name][1],
            "min": limits[name][0],
            "minutes": minutes[name],
            "name": name,
        }
        for name in minutes
    ]


def goals(user: User) -> dict:
    """The user's daily goals: from their traits (the simulator has none of its own)."""
    return {
        "activeMinutes": 30,
        "caloriesOut": round(synth.basal_calories_per_minute(user) * 1440 + 500),
        "distance": 8.05,
        "floors": 10,
        "steps": round(user.daily_steps, -3),
    }


def _activity(user: User, p: Point) -> dict:
    v: points_mod.ExerciseValues = p.values
    ex = v.plan
    local = _local(ex.start, user)
    activity_id = ACTIVITY_IDS.get(ex.exercise_type, 17151)
    activity = {
        "activityId": activity_id,
        "activityParentId": activity_id,
        "activityParentName": ex.display_name,
        "calories": round(v.calories_kcal),
        "description": "",
        "duration": ex.minutes * 60_000,
        "hasActiveZoneMinutes": True,
        "hasStartTime": True,
        "isFavorite": False,
        "lastModified": timefmt.rfc3339(ex.start + ex.minutes * 60 + 300),
        "logId": int(p.point_id),
        "name": ex.display_name,
        "startDate": local.date().isoformat(),
        "startTime": local.strftime("%H:%M"),
    }
    if v.distance_mm:
        activity["distance"] = v.distance_mm / 1_000_000
    if v.steps:
        activity["steps"] = v.steps
    return activity


def activity_summary_response(user: User, day: dt.date, spacing: int) -> dict:
    def total(data_type: str) -> float:
        return sum(p.values for p in _reconciled(user, data_type, day, 60))

    levels = [p.values for p in _reconciled(user, "activity-level", day, 60)]
    active_energy = _reconciled(user, "active-energy-burned", day, 60)
    level_at = {p.start: p.values for p in _reconciled(user, "activity-level", day, 60)}
    marginal = sum(p.values for p in active_energy)
    activity_energy = sum(
        p.values for p in active_energy if level_at.get(p.start) in _ACTIVE_LEVELS
    )
    basal = total("basal-energy-burned")
    distance_km = total("distance") / 1_000_000
    exercises = _reconciled(user, "exercise", day, spacing)
    activities = [_activity(user, p) for p in exercises]
    distances = [
        {"activity": "total", "distance": distance_km},
        {"activity": "tracker", "distance": distance_km},
        {"activity": "loggedActivities", "distance": 0.0},
    ]
    distances += [
        {"activity": a["name"], "distance": a["distance"]} for a in activities if "distance" in a
    ]
    summary = {
        "activeScore": -1,
        "activityCalories": round(activity_energy),
        "caloriesBMR": round(basal),
        "caloriesOut": round(basal + marginal),
        "distances": distances,
        "elevation": total("altitude") / 1000,
        "fairlyActiveMinutes": levels.count("MODERATELY_ACTIVE"),
        "floors": total("floors"),
        "heartRateZones": heart_rate_zones(user, day),
        "lightlyActiveMinutes": levels.count("LIGHTLY_ACTIVE"),
        "marginalCalories": round(marginal),
        "sedentaryMinutes": levels.count("SEDENTARY"),
        "steps": total("steps"),
        "veryActiveMinutes": levels.count("VERY_ACTIVE"),
    }
    resting = _reconciled(user, "daily-resting-heart-rate", day, spacing)
    if resting:
        summary["restingHeartRate"] = resting[0].values[0]
    return {"activities": activities, "goals": goals(user), "summary": summary}


def _sleep_log(user: User, p: Point) -> dict:
    sleep: synth.SleepPlan = p.values
    body = render.render_body(user, "sleep", p)
    api = body["summary"]
    names = _CLASSIC_LEVELS if sleep.classic else _STAGE_LEVELS
    time_in_bed = int(api["minutesInSleepPeriod"])
    asleep = int(api["minutesAsleep"])
    return {
        "dateOfSleep": p.day.isoformat(),
        "duration": (sleep.end - sleep.start) * 1000,
        "efficiency": round(100 * asleep / time_in_bed) if time_in_bed else 0,
        "endTime": _sleep_time(sleep.end, user),
        "infoCode": 0,
        "isMainSleep": sleep.main,
        "levels": {
            "data": [
                {
                    "dateTime": _sleep_time(start, user),
                    "level": names[kind],
                    "seconds": end - start,
                }
                for kind, start, end in sleep.stages
            ],
            "shortData": [
                {"dateTime": _sleep_time(start, user), "level": "wake", "seconds": end - start}
                for start, end in synth.short_awakenings(user, sleep)
            ],
            "summary": {
                names[total["type"]]: {
                    "count": int(total["count"]),
                    "minutes": int(total["minutes"]),
                }
                for total in api["stagesSummary"]
            },
        },
        "logId": int(p.point_id),
        "logType": "auto_detected",
        "minutesAfterWakeup": int(api["minutesAfterWakeUp"]),
        "minutesAsleep": asleep,
        "minutesAwake": int(api["minutesAwake"]),
        "minutesToFallAsleep": int(api["minutesToFallAsleep"]),
        "startTime": _sleep_time(sleep.start, user),
        "timeInBed": time_in_bed,
        "type": "classic" if sleep.classic else "stages",
    }


def sleep_response(user: User, day: dt.date, spacing: int) -> dict:
    logs = [_sleep_log(user, p) for p in _reconciled(user, "sleep", day, spacing)]
    stages: dict[str, int] = {}
    for log in logs:
        if log["type"] == "stages":
            for level, total in log["levels"]["summary"].items():
                stages[level] = stages.get(level, 0) + total["minutes"]
    return {
        "sleep": logs,
        "summary": {
            "stages": stages,
            "totalMinutesAsleep": sum(log["minutesAsleep"] for log in logs),
            "totalSleepRecords": len(logs),
            "totalTimeInBed": sum(log["timeInBed"] for log in logs),
        },
    }


def bmi(user: User, grams: float) -> float:
    return round(grams / 1000 / (user.height_mm / 1000) ** 2, 2)


def weight_response(user: User, day: dt.date, spacing: int) -> dict:
    logs = []
    for p in _reconciled(user, "weight", day, spacing):
        grams, _notes = p.values
        logs.append(
            {
                "bmi": bmi(user, grams),
                "date": day.isoformat(),
                "logId": int(p.point_id),
                "source": _WEIGHT_SOURCES.get(p.source, "API"),
                "time": _local(p.start, user).strftime("%H:%M:%S"),
                "weight": grams / 1000,
            }
        )
    return {"weight": logs}


def vo2_max_text(vo2: float, estimated: bool) -> str:
    """One number, or a range around it where the score is an estimate."""
    if not estimated:
        return str(vo2)
    low = math.floor(vo2) - 2
    return f"{low}-{low + 4}"


def cardio_score_response(user: User, day: dt.date, spacing: int) -> dict:
    entries = []
    for p in _reconciled(user, "daily-vo2-max", day, spacing):
        vo2, _level, estimated, _covariance = p.values
        entries.append(
            {"dateTime": day.isoformat(), "value": {"vo2Max": vo2_max_text(vo2, estimated)}}
        )
    return {"cardioScore": entries}


def legacy_tcx(user: User, p: Point, spacing: int) -> str:
    """`render_tcx` of an exercise, its UTC times rewritten as local times with offsets."""
    zone = user.zone

    def local(found: re.Match) -> str:
        moment = dt.datetime.fromisoformat(found.group(0).replace("Z", "+00:00"))
        return moment.astimezone(zone).isoformat(timespec="milliseconds")

    return _TCX_TIME.sub(local, render.render_tcx(user, p, False, spacing))


# --------------------------------------------------------------------------- the archive

_RESPONSES = {
    "get_activity_summary_by_date": activity_summary_response,
    "get_heart_rate_by_date": heart_rate_response,
    "get_body_weight_by_date": weight_response,
    "get_cardio_score_by_date": cardio_score_response,
    "get_sleep_by_date": sleep_response,
}


def write_archive(
    users: Iterable[User],
    first_day: dt.date,
    last_day: dt.date,
    root: Path,
    hr_spacing_seconds: int = DEFAULT_HR_SPACING_SECONDS,
) -> dict[str, int]:
    """Writes the legacy archive of `users` over civil days `first_day`..`last_day`.

    Args:
        users: simulator users (`simulator.synth.make_user`); each file is named after the
            user's `legacy_user_id`.
        first_day, last_day: inclusive civil dates in each user's zone.
        root: the folder the archive's layout starts at (created if missing).
        hr_spacing_seconds: the heart-rate sample spacing of the ground truth.

    Returns:
        The number of files written per endpoint.
    """
    if last_day < first_day:
        raise ValueError(f"last_day {last_day} is before first_day {first_day}")
    counts = dict.fromkeys((*ENDPOINTS, UNREAD_ENDPOINT), 0)
    unread_written = False
    for user in users:
        day = first_day
        while day <= last_day:
            for endpoint, respond in _RESPONSES.items():
                body = respond(user, day, hr_spacing_seconds)
                _write(root, member_path(endpoint, day, user.legacy_user_id), json.dumps(body))
                counts[endpoint] += 1
            for p in _reconciled(user, "exercise", day, hr_spacing_seconds):
                path = member_path("get_activity_tcx_by_id", day, user.legacy_user_id, p.point_id)
                _write(root, path, legacy_tcx(user, p, hr_spacing_seconds))
                counts["get_activity_tcx_by_id"] += 1
                if not unread_written:
                    path = member_path(UNREAD_ENDPOINT, day, user.legacy_user_id, p.point_id)
                    _write(root, path, json.dumps({"activity": {}}))
                    counts[UNREAD_ENDPOINT] += 1
                    unread_written = True
            day += dt.timedelta(days=1)
    return counts


def _write(root: Path, member: str, text: str) -> None:
    path = root / member
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def zip_archive(root: Path, zip_path: Path) -> int:
    """Zips an archive folder (members relative to `root`); returns the member count."""
    members = sorted(p for p in root.rglob("*") if p.is_file())
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in members:
            archive.write(path, path.relative_to(root).as_posix())
    return len(members)


def write_default_archive(root: Path) -> dict[str, int]:
    """The default archive: `DEFAULT_USERS` users over `DEFAULT_DAYS`."""
    return write_archive(default_users(), *DEFAULT_DAYS, root, DEFAULT_HR_SPACING_SECONDS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulator.legacy_archive",
        description="Write the default legacy Fitbit Web API archive of simulator users.",
    )
    parser.add_argument("root", type=Path, help="folder to write, e.g. /tmp/legacy-archive")
    parser.add_argument("--zip", action="store_true", help="also write <root>.zip")
    args = parser.parse_args(argv)
    counts = write_default_archive(args.root)
    if args.zip:
        zip_archive(args.root, args.root.with_suffix(".zip"))
    for endpoint, count in counts.items():
        print(f"{endpoint}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
