"""Points of the activity types derived minute by minute from the synthetic day.

Energy, activity level, active minutes, sedentary periods and time in heart-rate
zones all read the same `synth.Minutes` as steps and heart rate, so the types
agree with each other: a minute's active and basal energy add up to its total
calories, a minute is active or sedentary by its steps and exercise, and its
heart-rate zone is that of its heart rate. Nothing is recorded while the watch
is not worn; energy and activity are the watch's alone.
"""

from __future__ import annotations

import datetime as dt

from simulator import synth
from simulator.synth import Point, User

# The activity level of active minutes, by the minute's activity level.
ACTIVE_MINUTE_LEVELS = {
    "LIGHTLY_ACTIVE": "LIGHT",
    "MODERATELY_ACTIVE": "MODERATE",
    "VERY_ACTIVE": "VIGOROUS",
}
POOL_LENGTH_MM = 25_000


def _minute_points(user: User, day: dt.date, value_of) -> list[Point]:
    """One watch point per minute for which `value_of(minutes, m)` is not None."""
    plan = synth.day_plan(user, day)
    minutes = synth.day_minutes(user, day)
    out = []
    for m in range(plan.minutes):
        value = value_of(minutes, m)
        if value is not None:
            start = plan.span_start + m * 60
            out.append(Point(f"watch-{start}", "watch", start, start + 60, day, value))
    return out


def active_energy_burned(user: User, day: dt.date) -> list[Point]:
    def value(minutes, m):
        if not minutes.worn[m]:
            return None
        kcal = round(synth.active_calories_per_minute(minutes, m), 3)
        return kcal or None

    return _minute_points(user, day, value)


def basal_energy_burned(user: User, day: dt.date) -> list[Point]:
    """Basal energy every minute of a day the watch was worn (it is estimated off-wrist too)."""
    if not synth.day_plan(user, day).worn:
        return []
    kcal = round(synth.basal_calories_per_minute(user), 4)
    return _minute_points(user, day, lambda minutes, m: kcal)


def activity_level(user: User, day: dt.date) -> list[Point]:
    return _minute_points(user, day, synth.activity_level)


def active_minutes(user: User, day: dt.date) -> list[Point]:
    def value(minutes, m):
        return ACTIVE_MINUTE_LEVELS.get(synth.activity_level(minutes, m))

    return _minute_points(user, day, value)


def time_in_heart_rate_zone(user: User, day: dt.date) -> list[Point]:
    def value(minutes, m):
        if not minutes.worn[m] or minutes.asleep[m]:
            return None
        return synth.heart_rate_zone_of(user, synth.heart_rate_at(user, minutes, m, 0.0))

    return _minute_points(user, day, value)


def sedentary_period(user: User, day: dt.date) -> list[Point]:
    """Runs of sedentary minutes (worn, awake), cut at the day's ends; values are None."""
    plan = synth.day_plan(user, day)
    minutes = synth.day_minutes(user, day)
    out = []
    run_start = None
    for m in range(plan.minutes + 1):
        sedentary = m < plan.minutes and synth.activity_level(minutes, m) == "SEDENTARY"
        if sedentary and run_start is None:
            run_start = m
        elif not sedentary and run_start is not None:
            start = plan.span_start + run_start * 60
            end = plan.span_start + m * 60
            out.append(Point(f"watch-{start}", "watch", start, end, day, None))
            run_start = None
    return out


def swim_lengths_data(user: User, day: dt.date) -> list[Point]:
    """Pool lengths of a swim workout: about 30-45 s each, a rest after every fourth."""
    plan = synth.day_plan(user, day)
    ex = plan.exercise
    if ex is None or ex.exercise_type != "SWIMMING":
        return []
    rng = synth.noise_stream(user, day, "swim-lengths")
    stroke = rng.choice(("FREESTYLE", "FREESTYLE", "BREASTSTROKE", "BACKSTROKE"))
    end = ex.start + ex.minutes * 60
    out = []
    t = ex.start
    lengths = 0
    while True:
        seconds = rng.randint(30, 45)
        if t + seconds > end:
            break
        if any(pause < t + seconds and t < resume for pause, resume in ex.pauses):
            t = max(resume for pause, resume in ex.pauses if pause < t + seconds)
            continue
        strokes = rng.randint(15, 22) if stroke != "BREASTSTROKE" else rng.randint(9, 14)
        out.append(Point(f"watch-{t}", "watch", t, t + seconds, day, (strokes, stroke)))
        lengths += 1
        t += seconds + (rng.randint(15, 40) if lengths % 4 == 0 else rng.randint(2, 6))
    return out
