"""Data points of each simulated data type for one user and civil day.

`points_for_day` is pure and cached; it returns every point the user's devices
recorded that day, from every source, newest first (the API's list order), not
yet filtered by visibility, edits or deletions (see `simulator.store`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Sequence

from simulator import health_points, minute_points, synth
from simulator.synth import ExercisePlan, Point, SleepPlan, User

DAY = dt.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class ExerciseValues:
    plan: ExercisePlan
    steps: int
    distance_mm: int
    average_bpm: int
    calories_kcal: float
    active_zone_minutes: int
    elevation_gain_mm: int
    zone_seconds: tuple[tuple[str, int], ...]  # (zone field, seconds)


def _sort(points: list[Point]) -> tuple[Point, ...]:
    return tuple(sorted(points, key=lambda p: (p.start, p.point_id), reverse=True))


def _interval_minutes(user: User, day: dt.date, values_of) -> list[Point]:
    """Minute intervals from a per-minute function returning [(source, value), ...]."""
    plan = synth.day_plan(user, day)
    minutes = synth.day_minutes(user, day)
    out = []
    for m in range(plan.minutes):
        start = plan.span_start + m * 60
        for source, value in values_of(minutes, m):
            out.append(Point(f"{source}-{start}", source, start, start + 60, day, value))
    return out


def _worn_minutes(
    user: User, day: dt.date, watch_values: Sequence[int], phone_values: Sequence[int] = ()
) -> list[Point]:
    """A watch point for every minute worn, zeros included; a phone point per nonzero minute.

    The API sends steps, distance, floors and altitude as explicit zeros while the
    watch is worn ("true zeros") and nothing while it is off the wrist, so a gap in
    the watch's minutes is a minute not worn. A phone is not worn: it records only
    the minutes it counted something in.

    Args:
        watch_values: the watch's value of each minute of the day (read where worn).
        phone_values: the phone's value of each minute (0 for none), or () for no phone.
    """
    plan = synth.day_plan(user, day)
    worn = synth.day_minutes(user, day).worn
    starts = range(plan.span_start, plan.span_end, 60)
    out = [
        Point(f"watch-{t}", "watch", t, t + 60, day, value)
        for t, value, on in zip(starts, watch_values, worn, strict=True)
        if on
    ]
    if phone_values:
        out += [
            Point(f"phone-{t}", "phone", t, t + 60, day, value)
            for t, value in zip(starts, phone_values, strict=True)
            if value
        ]
    return out


def _steps(user: User, day: dt.date) -> list[Point]:
    minutes = synth.day_minutes(user, day)
    return _worn_minutes(user, day, minutes.steps, minutes.phone_steps)


def _distance(user: User, day: dt.date) -> list[Point]:
    minutes = synth.day_minutes(user, day)
    walk, run = user.walk_stride_mm, user.run_stride_mm
    strides = [run if running else walk for running in minutes.running]
    watch = [steps * stride for steps, stride in zip(minutes.steps, strides, strict=True)]
    phone = [
        steps * (stride + 40) for steps, stride in zip(minutes.phone_steps, strides, strict=True)
    ]
    return _worn_minutes(user, day, watch, phone)


def _floor_minutes(user: User, day: dt.date) -> list[int]:
    """The minutes of the day (indices, ascending) a floor is climbed in: a bout's first ones."""
    plan = synth.day_plan(user, day)
    steps = synth.day_minutes(user, day).steps
    climbed = set()
    for bout in plan.bouts:
        for i in range(bout.floors):
            m = (bout.start - plan.span_start) // 60 + i
            if 0 <= m < plan.minutes and steps[m]:
                climbed.add(m)
    return sorted(climbed)


def _floors(user: User, day: dt.date) -> list[Point]:
    """One floor on each floor's minute, 0 on the other minutes worn."""
    values = [0] * synth.day_plan(user, day).minutes
    for m in _floor_minutes(user, day):
        values[m] = 1
    return _worn_minutes(user, day, values)


def _altitude(user: User, day: dt.date) -> list[Point]:
    """Altitude gained on the minutes a floor is climbed (about 3 m a floor), else 0."""
    rng = synth.noise_stream(user, day, "altitude")
    values = [0] * synth.day_plan(user, day).minutes
    for m in _floor_minutes(user, day):
        values[m] = 3048 + rng.randint(-250, 250)
    return _worn_minutes(user, day, values)


def _active_zone_minutes(user: User, day: dt.date) -> list[Point]:
    def values(minutes, m):
        if not minutes.worn[m] or minutes.asleep[m]:
            return []
        zone = synth.zone_of(user, synth.heart_rate_at(user, minutes, m, 0.0))
        if zone is None:
            return []
        return [("watch", (zone, 1 if zone == "FAT_BURN" else 2))]

    return _interval_minutes(user, day, values)


def _heart_rate(user: User, day: dt.date, spacing: int) -> list[Point]:
    plan = synth.day_plan(user, day)
    minutes = synth.day_minutes(user, day)
    rng = synth.noise_stream(user, day, "heart-rate")
    gauss = rng.gauss
    out = []
    # Per minute, once: samples share their minute's base rate and motion.
    bases = [synth.heart_rate_base(user, minutes, m) for m in range(plan.minutes)]
    motions = [
        "ACTIVE" if steps or intensity else "SEDENTARY"
        for steps, intensity in zip(minutes.steps, minutes.intensity, strict=True)
    ]
    worn, span_start = minutes.worn, plan.span_start
    first = -(-span_start // spacing) * spacing
    for t in range(first, plan.span_end, spacing):
        m = (t - span_start) // 60
        if not worn[m]:
            continue
        bpm = max(35, min(210, round(bases[m] + gauss(0, 2.5))))
        out.append(Point(f"watch-{t}", "watch", t, None, day, (bpm, motions[m])))
    ex = plan.exercise
    if ex and ex.exercise_type == "RUNNING":
        for t in range(ex.start, ex.start + ex.minutes * 60, spacing):
            m = (t - plan.span_start) // 60
            if 0 <= m < plan.minutes:
                bpm = synth.heart_rate_at(user, minutes, m, rng.gauss(0, 1.5))
                out.append(Point(f"chest-{t}", "chest", t, None, day, (bpm, "ACTIVE")))
    return out


def _overlapping_sleeps(user: User, day: dt.date) -> list[SleepPlan]:
    """Sleeps that lie at least partly inside civil `day` (tonight's belongs to tomorrow)."""
    return [
        *synth.day_plan(user, day).sleeps,
        *synth.day_plan(user, day + DAY).sleeps,
    ]


def _heart_rate_variability(user: User, day: dt.date) -> list[Point]:
    plan = synth.day_plan(user, day)
    rng = synth.noise_stream(user, day, "hrv")
    out = []
    for sleep in _overlapping_sleeps(user, day):
        if not sleep.main:
            continue
        for t in range(sleep.start + 300, sleep.end, 300):
            if plan.span_start <= t < plan.span_end:
                rmssd = round(max(5.0, rng.gauss(42, 9)), 1)
                sdnn = round(rmssd * rng.uniform(1.1, 1.5), 1)
                out.append(Point(f"watch-{t}", "watch", t, None, day, (rmssd, sdnn)))
    return out


def _main_sleep(user: User, day: dt.date) -> SleepPlan | None:
    return next((s for s in synth.day_plan(user, day).sleeps if s.main), None)


def _daily(user: User, day: dt.date, label: str, needs_sleep: bool, make) -> list[Point]:
    plan = synth.day_plan(user, day)
    if not plan.worn:
        return []
    sleep = _main_sleep(user, day)
    if needs_sleep and (sleep is None or sleep.classic):
        return []
    rng = synth.noise_stream(user, day, label)
    return [Point(f"watch-{day.isoformat()}", "watch", plan.span_start, None, day, make(rng))]


def _daily_resting_heart_rate(user: User, day: dt.date) -> list[Point]:
    method = "WITH_SLEEP" if _main_sleep(user, day) else "ONLY_WITH_AWAKE_DATA"
    return _daily(
        user,
        day,
        "rhr",
        False,
        lambda rng: (user.resting_bpm + rng.randint(-3, 3), method),
    )


def _daily_heart_rate_zones(user: User, day: dt.date) -> list[Point]:
    reserve = user.max_bpm - user.resting_bpm

    def make(_rng):
        edges = [int(user.resting_bpm + f * reserve) for f in (0.3, 0.4, 0.7, 0.85)]
        return (
            ("LIGHT", edges[0], edges[1] - 1),
            ("MODERATE", edges[1], edges[2] - 1),
            ("VIGOROUS", edges[2], edges[3] - 1),
            ("PEAK", edges[3], user.max_bpm),
        )

    return _daily(user, day, "zones", False, make)


def _daily_heart_rate_variability(user: User, day: dt.date) -> list[Point]:
    def make(rng):
        average = round(rng.gauss(42, 6), 1)
        return (
            average,
            round(average * rng.uniform(1.05, 1.3), 1),
            round(rng.uniform(2.0, 3.2), 3),
            user.resting_bpm + rng.randint(-2, 4),
        )

    return _daily(user, day, "dhrv", True, make)


def _daily_oxygen_saturation(user: User, day: dt.date) -> list[Point]:
    def make(rng):
        average = round(rng.uniform(94.5, 98.2), 1)
        return (
            average,
            round(average - rng.uniform(1.0, 2.5), 1),
            round(min(100.0, average + rng.uniform(0.8, 2.0)), 1),
            round(rng.uniform(0.3, 1.1), 2),
        )

    return _daily(user, day, "spo2", True, make)


def _daily_respiratory_rate(user: User, day: dt.date) -> list[Point]:
    return _daily(user, day, "br", True, lambda rng: round(rng.uniform(12.5, 17.5), 1))


def _daily_vo2_max(user: User, day: dt.date) -> list[Point]:
    def make(rng):
        vo2 = round(58 - 0.35 * user.age + rng.uniform(-1.5, 1.5), 2)
        level = (
            "POOR"
            if vo2 < 30
            else "FAIR"
            if vo2 < 36
            else "AVERAGE"
            if vo2 < 42
            else "GOOD"
            if vo2 < 48
            else "VERY_GOOD"
            if vo2 < 54
            else "EXCELLENT"
        )
        return (vo2, level, rng.random() < 0.15, round(rng.uniform(0.5, 3.0), 3))

    return _daily(user, day, "vo2", False, make)


def _sleep(user: User, day: dt.date) -> list[Point]:
    return [
        Point(
            synth.numeric_id(user.health_user_id, "sleep", s.start),
            "watch",
            s.start,
            s.end,
            day,
            s,
        )
        for s in synth.day_plan(user, day).sleeps
    ]


def _exercise(user: User, day: dt.date) -> list[Point]:
    plan = synth.day_plan(user, day)
    ex = plan.exercise
    if ex is None:
        return []
    minutes = synth.day_minutes(user, day)
    rng = synth.noise_stream(user, day, "exercise")
    span = synth._minute_range(plan, ex.start, ex.start + ex.minutes * 60)
    steps = sum(minutes.steps[m] for m in span)
    stride = user.run_stride_mm if ex.exercise_type == "RUNNING" else user.walk_stride_mm
    bpms = [synth.heart_rate_at(user, minutes, m, 0.0) for m in span]
    zones = [synth.zone_of(user, b) for b in bpms]
    hr_zones = [synth.heart_rate_zone_of(user, b) for b in bpms]
    zone_seconds = tuple(
        (field, 60 * hr_zones.count(zone))
        for zone, field in (
            ("LIGHT", "lightTime"),
            ("MODERATE", "moderateTime"),
            ("VIGOROUS", "vigorousTime"),
            ("PEAK", "peakTime"),
        )
    )
    values = ExerciseValues(
        plan=ex,
        steps=steps,
        distance_mm=steps * stride if ex.gps else 0,
        average_bpm=round(sum(bpms) / len(bpms)) if bpms else 0,
        calories_kcal=round(
            sum(synth.total_calories_per_minute(user, minutes, m) for m in span), 1
        ),
        active_zone_minutes=sum(0 if z is None else 1 if z == "FAT_BURN" else 2 for z in zones),
        elevation_gain_mm=rng.randint(0, 40_000) if ex.gps else 0,
        zone_seconds=zone_seconds,
    )
    point_id = synth.numeric_id(user.health_user_id, "exercise", ex.start)
    return [Point(point_id, "watch", ex.start, ex.start + ex.minutes * 60, day, values)]


def _weight(user: User, day: dt.date) -> list[Point]:
    rng = synth.noise_stream(user, day, "weight")
    trend = 600 * ((day.toordinal() % 90) / 90 - 0.5)
    out = []
    for t, planned in synth.day_plan(user, day).weigh_ins:
        source = user.scale if planned == "scale" else planned
        grams = round(user.weight_grams + trend + rng.gauss(0, 350), -1)
        notes = "after dinner" if source == "manual" else None
        point_id = synth.numeric_id(user.health_user_id, "weight", t, source)
        out.append(Point(point_id, source, t, None, day, (grams, notes)))
    return out


def _body_fat(user: User, day: dt.date) -> list[Point]:
    rng = synth.noise_stream(user, day, "body-fat")
    out = []
    for t, planned in synth.day_plan(user, day).weigh_ins:
        if planned != "scale":
            continue
        source = user.scale
        percent = round(user.body_fat_percent + rng.gauss(0, 0.6), 1)
        point_id = synth.numeric_id(user.health_user_id, "body-fat", t, source)
        out.append(Point(point_id, source, t, None, day, percent))
    return out


_GENERATORS = {
    "steps": _steps,
    "distance": _distance,
    "floors": _floors,
    "active-zone-minutes": _active_zone_minutes,
    "heart-rate-variability": _heart_rate_variability,
    "daily-resting-heart-rate": _daily_resting_heart_rate,
    "daily-heart-rate-zones": _daily_heart_rate_zones,
    "daily-heart-rate-variability": _daily_heart_rate_variability,
    "daily-oxygen-saturation": _daily_oxygen_saturation,
    "daily-respiratory-rate": _daily_respiratory_rate,
    "daily-vo2-max": _daily_vo2_max,
    "sleep": _sleep,
    "exercise": _exercise,
    "weight": _weight,
    "body-fat": _body_fat,
    "altitude": _altitude,
    "active-energy-burned": minute_points.active_energy_burned,
    "basal-energy-burned": minute_points.basal_energy_burned,
    "active-minutes": minute_points.active_minutes,
    "activity-level": minute_points.activity_level,
    "sedentary-period": minute_points.sedentary_period,
    "time-in-heart-rate-zone": minute_points.time_in_heart_rate_zone,
    "swim-lengths-data": minute_points.swim_lengths_data,
    "menstrual-period": health_points.menstrual_period,
    "oxygen-saturation": health_points.oxygen_saturation,
    "respiratory-rate-sleep-summary": health_points.respiratory_rate_sleep_summary,
    "height": health_points.height,
    "vo2-max": health_points.vo2_max,
    "run-vo2-max": health_points.run_vo2_max,
    "blood-glucose": health_points.blood_glucose,
    "core-body-temperature": health_points.core_body_temperature,
    "moods": health_points.moods,
    "symptoms": health_points.symptoms,
    "ovulation-test": health_points.ovulation_test,
    "daily-sleep-temperature-derivations": health_points.daily_sleep_temperature_derivations,
    "electrocardiogram": health_points.electrocardiogram,
    "irregular-rhythm-notification": health_points.irregular_rhythm_notification,
}


@functools.lru_cache(maxsize=1024)
def points_for_day(
    user: User, data_type: str, day: dt.date, hr_spacing_seconds: int
) -> tuple[Point, ...]:
    """All points of a data type attributed to civil `day`, newest first.

    Args:
        user: the synthetic user.
        data_type: URL name of a listable data type.
        day: civil date in the user's zone.
        hr_spacing_seconds: heart-rate sample spacing.

    Returns:
        Points sorted by (start, point_id) descending.
    """
    if data_type == "heart-rate":
        return _sort(_heart_rate(user, day, hr_spacing_seconds))
    return _sort(_GENERATORS[data_type](user, day))


def calorie_minutes(user: User, day: dt.date) -> tuple[tuple[int, float], ...]:
    """(minute start epoch, kcal) for every minute of civil `day` the watch was worn.

    total-calories' basis. The API filters it on the wrist ("data presence and true
    zeros"): minutes off the wrist count nothing, so a window wholly off the wrist (an
    unworn day, a charge) rolls up to nothing, although basal energy is estimated there.
    """
    plan = synth.day_plan(user, day)
    minutes = synth.day_minutes(user, day)
    return tuple(
        (plan.span_start + m * 60, synth.total_calories_per_minute(user, minutes, m))
        for m in range(plan.minutes)
        if minutes.worn[m]
    )


def zone_calorie_minutes(user: User, day: dt.date) -> tuple[tuple[int, str, float], ...]:
    """(minute start epoch, heart-rate zone, kcal) of every minute of civil `day` spent in a
    zone: calories-in-heart-rate-zone's basis (the minutes of time-in-heart-rate-zone)."""
    plan = synth.day_plan(user, day)
    minutes = synth.day_minutes(user, day)
    out = []
    for m in range(plan.minutes):
        if minutes.worn[m] and not minutes.asleep[m]:
            zone = synth.heart_rate_zone_of(user, synth.heart_rate_at(user, minutes, m, 0.0))
            if zone is not None:
                kcal = synth.total_calories_per_minute(user, minutes, m)
                out.append((plan.span_start + m * 60, zone, kcal))
    return tuple(out)
