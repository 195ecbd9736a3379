"""Deterministic synthetic users and their Fitbit-like data.

Everything is a pure function of (seed, user, civil day): the same inputs give
the same points on every run and machine, whatever order they are asked in.
The data is realistic enough to load and adversarial where pipelines go wrong:

- users in several time zones: `user-1` America/New_York (DST changes inside
  the data), `user-2` Pacific/Tongatapu (UTC+13), `user-3` Europe/London (UTC+0
  in winter, so offsets are omitted), `user-4` Asia/Kolkata (+05:30), ...;
- main sleeps that cross midnight, naps, classic and stages sleep;
- whole days without data (device not worn) and off-wrist gaps;
- exercises with GPS (TCX trackpoints with positions) and without;
- overlapping steps/distance from a phone and heart rate from a chest strap,
  on the same minutes and instants as the watch;
- dense heart rate (default one sample every 5 s while worn).

A point is attributed to one civil day, which is also the day it is generated
for: interval and sample points by the civil date of their (start) time, daily
points by their date, sleep by the civil date it ends on, exercise by the civil
date it starts on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import math
import random
from zoneinfo import ZoneInfo

from simulator import timefmt

TIME_ZONES = (
    "America/New_York",
    "Pacific/Tongatapu",
    "Europe/London",
    "Asia/Kolkata",
    "America/Los_Angeles",
    "Australia/Sydney",
    "UTC",
)

# dataSource of each synthetic source, as the API's DataSource message.
SOURCES: dict[str, dict] = {
    "watch": {
        "platform": "FITBIT",
        "recordingMethod": "PASSIVELY_MEASURED",
        "device": {
            "displayName": "Charge 6",
            "formFactor": "FITNESS_BAND",
            "manufacturer": "Fitbit",
        },
        "application": {"packageName": "com.fitbit.FitbitMobile"},
    },
    "scale": {
        "platform": "FITBIT",
        "recordingMethod": "PASSIVELY_MEASURED",
        "device": {"displayName": "Aria Air", "formFactor": "SCALE", "manufacturer": "Fitbit"},
        "application": {"packageName": "com.fitbit.FitbitMobile"},
    },
    "manual": {
        "platform": "FITBIT",
        "recordingMethod": "MANUAL",
        "application": {"packageName": "com.fitbit.FitbitMobile"},
    },
    "phone": {
        "platform": "HEALTH_CONNECT",
        "recordingMethod": "PASSIVELY_MEASURED",
        "device": {"displayName": "Pixel 9", "formFactor": "PHONE", "manufacturer": "Google"},
        "application": {"packageName": "com.google.android.apps.fitness"},
    },
    "chest": {
        "platform": "HEALTH_CONNECT",
        "recordingMethod": "ACTIVELY_MEASURED",
        "device": {"displayName": "HRM Pro", "formFactor": "CHEST_STRAP", "manufacturer": "Garmin"},
        "application": {"packageName": "com.garmin.android.apps.connectmobile"},
    },
    # A Pixel Watch: what `watch` stands for for users who wear one (`User.watch`).
    "pixel-watch": {
        "platform": "FITBIT",
        "recordingMethod": "PASSIVELY_MEASURED",
        "device": {"displayName": "Pixel Watch 3", "formFactor": "WATCH", "manufacturer": "Google"},
        "application": {"packageName": "com.fitbit.FitbitMobile"},
    },
    # A third-party scale whose readings reach the API through Health Connect: the live
    # API sends recording method UNKNOWN and an empty (set) device.
    "hc-scale": {
        "platform": "HEALTH_CONNECT",
        "recordingMethod": "UNKNOWN",
        "device": {},
        "application": {"packageName": "com.withings.wiscale2"},
    },
    "cgm": {
        "platform": "HEALTH_CONNECT",
        "recordingMethod": "PASSIVELY_MEASURED",
        "device": {"displayName": "Dexcom G7", "manufacturer": "Dexcom"},
        "application": {"packageName": "com.dexcom.g7"},
    },
}

# How the API says a watch's data was recorded, where it is not PASSIVELY_MEASURED:
# sleep and the daily derivations are DERIVED from other data, a tracked workout
# or an ECG the user starts is ACTIVELY_MEASURED.
RECORDING_METHODS = {
    "sleep": "DERIVED",
    "exercise": "ACTIVELY_MEASURED",
    "electrocardiogram": "ACTIVELY_MEASURED",
    "irregular-rhythm-notification": "DERIVED",
    "respiratory-rate-sleep-summary": "DERIVED",
    "daily-sleep-temperature-derivations": "DERIVED",
    "vo2-max": "DERIVED",
    "run-vo2-max": "DERIVED",
}


@functools.cache
def data_source(watch: str, data_type: str, source: str) -> dict:
    """The dataSource of a point of `data_type` from `source` for a wearer of `watch`.

    Args:
        watch: the user's watch source (`watch` or `pixel-watch`), what `watch` stands for.
        data_type: URL name of the point's data type.
        source: key of SOURCES the point was generated with.
    """
    held = SOURCES[watch if source == "watch" else source]
    method = RECORDING_METHODS.get(data_type)
    if method is None or source != "watch":
        return held
    return {**held, "recordingMethod": method}


# Which sources each data source family includes.
SOURCE_FAMILIES: dict[str, frozenset[str]] = {
    "all-sources": frozenset(SOURCES),
    "google-wearables": frozenset({"watch", "scale"}),
    "google-sources": frozenset(SOURCES),
    "self-sources": frozenset(),
}

# Reconciliation keeps, for each instant (samples) or start minute (intervals),
# the point of the first source in this order.
SOURCE_PRIORITY = ("watch", "scale", "hc-scale", "cgm", "chest", "phone", "manual")


def _digest(*parts: object) -> int:
    text = ":".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def numeric_id(*parts: object) -> str:
    """A 19-digit decimal id, stable for its parts (like the API's point ids)."""
    return str(10**18 + _digest(*parts) % (9 * 10**18))


@dataclasses.dataclass(frozen=True)
class User:
    """A synthetic user and the traits that shape their data."""

    user_id: str
    health_user_id: str
    legacy_user_id: str
    time_zone: str
    age: int
    resting_bpm: int
    weight_grams: float
    body_fat_percent: float
    daily_steps: int
    walk_stride_mm: int
    run_stride_mm: int
    home_lat: float
    home_lon: float
    history_start: dt.date
    # Traits of the newer data types, drawn apart so the ones above keep their values.
    watch: str = "watch"  # key of SOURCES the user's watch data comes from
    scale: str = "scale"  # key of SOURCES of the user's scale
    height_mm: int = 1700
    swimmer: bool = False
    glucose: str = ""  # "cgm" (sensor wear periods), "manual" (a few logs) or ""
    core_temperature: bool = False
    ecg: bool = False
    cycle_days: int = 0  # menstrual cycle length; 0 for users who log none
    cycle_anchor: dt.date = dt.date(2020, 1, 1)  # a first day of a period

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.time_zone)

    @property
    def max_bpm(self) -> int:
        return 220 - self.age


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def make_user(seed: int, index: int, history_start: dt.date) -> User:
    """The synthetic user `user-{index}` (1-based) of a simulator seeded with `seed`."""
    user_id = f"user-{index}"
    rng = random.Random(f"{seed}:{user_id}:traits")
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return User(
        user_id=user_id,
        health_user_id=numeric_id(seed, user_id, "health-user"),
        legacy_user_id="".join(rng.choice(alphabet) for _ in range(6)),
        time_zone=TIME_ZONES[(index - 1) % len(TIME_ZONES)],
        age=rng.randint(22, 68),
        resting_bpm=rng.randint(52, 68),
        weight_grams=round(rng.uniform(55_000, 95_000), -2),
        body_fat_percent=round(rng.uniform(14, 32), 1),
        daily_steps=rng.randint(5_000, 12_000),
        walk_stride_mm=rng.randint(680, 790),
        run_stride_mm=rng.randint(1_000, 1_250),
        home_lat=round(rng.uniform(-40, 55), 4),
        home_lon=round(rng.uniform(-120, 170), 4),
        history_start=history_start,
        **_newer_traits(seed, index, history_start),
    )


def _newer_traits(seed: int, index: int, history_start: dt.date) -> dict:
    """Traits of the newer data types: which users have which devices and logs.

    Odd users log everything (menstrual cycles, ECGs, core temperature, swims); every
    fourth from user-1 wears a glucose sensor and every fourth from user-3 logs glucose
    by hand; users 2 and 3 of every four wear a Pixel Watch, users 3 and 4 a
    Health Connect scale.
    """
    rng = random.Random(f"{seed}:user-{index}:traits:newer")
    odd = index % 2 == 1
    return {
        "watch": "pixel-watch" if index % 4 in (2, 3) else "watch",
        "scale": "hc-scale" if index % 4 in (0, 3) else "scale",
        "height_mm": rng.randint(1_550, 1_900),
        "swimmer": odd,
        "glucose": {1: "cgm", 3: "manual"}.get(index % 4, ""),
        "core_temperature": odd,
        "ecg": odd,
        "cycle_days": rng.randint(26, 31) if odd else 0,
        "cycle_anchor": history_start - dt.timedelta(days=rng.randint(0, 25)),
    }


@dataclasses.dataclass(frozen=True, slots=True)
class Point:
    """One data point before rendering.

    Attributes:
        point_id: stable id within (user, data type); the API id for identifiable types.
        source: key of SOURCES.
        start: epoch seconds: interval/session start, sample time, or civil midnight (daily).
        end: epoch seconds, exclusive interval/session end; None for samples and daily points.
        day: the civil date the point is attributed to.
        values: type-specific payload, turned into JSON by `simulator.render`.
    """

    point_id: str
    source: str
    start: int
    end: int | None
    day: dt.date
    values: object


@dataclasses.dataclass(frozen=True)
class Bout:
    start: int  # epoch seconds, minute aligned
    minutes: int
    cadence: int  # steps per minute
    running: bool
    phone_carried: bool
    floors: int


@dataclasses.dataclass(frozen=True)
class SleepPlan:
    start: int
    end: int
    main: bool
    stages: tuple[tuple[str, int, int], ...]  # (type, start, end), contiguous
    classic: bool


@dataclasses.dataclass(frozen=True)
class ExercisePlan:
    start: int
    minutes: int
    exercise_type: str
    display_name: str
    gps: bool
    cadence: int  # 0 for exercises without steps
    intensity: float  # fraction of heart-rate reserve
    pauses: tuple[tuple[int, int], ...]  # (pause start, resume) epoch seconds


@dataclasses.dataclass(frozen=True)
class DayPlan:
    """Everything decided for one user and civil day, before points are made."""

    user: User
    day: dt.date
    span_start: int  # civil midnight
    span_end: int  # next civil midnight (23, 24 or 25 hours later)
    worn: bool
    off_wrist: tuple[tuple[int, int], ...]
    bouts: tuple[Bout, ...]
    exercise: ExercisePlan | None
    sleeps: tuple[SleepPlan, ...]  # ending on this day, main sleep first
    weigh_ins: tuple[tuple[int, str], ...]  # (epoch, source)

    @property
    def minutes(self) -> int:
        return (self.span_end - self.span_start) // 60


def _civil(day: dt.date, hours: float, zone: ZoneInfo) -> int:
    """Epoch of civil `day` at fractional `hours` after midnight (may pass 24)."""
    moment = dt.datetime.combine(day, dt.time(0)) + dt.timedelta(hours=hours)
    return timefmt.civil_to_epoch(moment, zone) // 60 * 60


_EXERCISES = (
    # type, display name, gps, cadence, intensity, minutes range
    ("RUNNING", "Run", True, 165, 0.72, (22, 55)),
    ("WALKING", "Walk", True, 112, 0.38, (25, 70)),
    ("YOGA", "Yoga", False, 0, 0.25, (30, 60)),
    ("WEIGHTLIFTING", "Weights", False, 0, 0.45, (30, 50)),
)


@functools.lru_cache(maxsize=4096)
def day_plan(user: User, day: dt.date) -> DayPlan:
    """Plans one civil day of a user (pure, cached)."""
    zone = user.zone
    rng = random.Random(f"{user.health_user_id}:{day.isoformat()}:plan")
    span_start = timefmt.civil_midnight(day, zone)
    span_end = timefmt.civil_midnight(day + dt.timedelta(days=1), zone)
    worn = rng.random() >= 0.06

    sleeps: list[SleepPlan] = []
    if worn:
        bed = rng.uniform(-2.0, 0.75)  # hours relative to this day's midnight
        wake = rng.uniform(6.0, 8.5)
        sleeps.append(_sleep_plan(rng, _civil(day, bed, zone), _civil(day, wake, zone), True))
        if rng.random() < 0.2:
            nap_start = _civil(day, rng.uniform(12.5, 15.5), zone)
            sleeps.append(_sleep_plan(rng, nap_start, nap_start + rng.randint(20, 90) * 60, False))

    off_wrist: list[tuple[int, int]] = []
    if worn:
        charge = _civil(day, rng.uniform(9.0, 20.0), zone)
        off_wrist.append((charge, charge + rng.randint(30, 80) * 60))

    exercise = None
    if worn and rng.random() < 0.35:
        kind, name, gps, cadence, intensity, (lo, hi) = rng.choice(_EXERCISES)
        start = _civil(day, rng.choice((rng.uniform(8.6, 9.6), rng.uniform(17.0, 19.0))), zone)
        minutes = rng.randint(lo, hi)
        pauses = ()
        if rng.random() < 0.3:
            pause = start + rng.randint(5, minutes - 5) * 60
            pauses = ((pause, pause + 120),)
        exercise = ExercisePlan(start, minutes, kind, name, gps, cadence, intensity, pauses)
        # Swims replace half of a swimmer's indoor workouts; drawn apart from the plan's
        # stream, so every other decision of the day stays as it was.
        swim = not gps and user.swimmer and noise_stream(user, day, "swim").random() < 0.5
        if swim:
            exercise = dataclasses.replace(
                exercise,
                exercise_type="SWIMMING",
                display_name="Swim",
                gps=False,
                cadence=0,
                intensity=0.55,
            )

    bouts: list[Bout] = []
    target = user.daily_steps * rng.uniform(0.5, 1.4)
    walked = 0.0
    while worn and walked < target:
        start = _civil(day, rng.uniform(8.0, 21.5), zone)
        minutes = rng.randint(3, 25)
        cadence = rng.randint(85, 125)
        bouts.append(Bout(start, minutes, cadence, False, rng.random() < 0.6, rng.randint(0, 3)))
        walked += minutes * cadence
    if exercise and exercise.cadence:
        bouts.append(
            Bout(
                exercise.start,
                exercise.minutes,
                exercise.cadence,
                exercise.exercise_type == "RUNNING",
                True,
                0,
            )
        )

    weigh_ins: list[tuple[int, str]] = []
    if rng.random() < 0.4:
        weigh_ins.append((_civil(day, rng.uniform(6.0, 9.0), zone) + rng.randint(0, 59), "scale"))
        if rng.random() < 0.25:
            weigh_ins.append((_civil(day, rng.uniform(19.0, 22.0), zone), "manual"))

    return DayPlan(
        user=user,
        day=day,
        span_start=span_start,
        span_end=span_end,
        worn=worn,
        off_wrist=tuple(off_wrist),
        bouts=tuple(bouts),
        exercise=exercise,
        sleeps=tuple(sleeps),
        weigh_ins=tuple(weigh_ins),
    )


def _sleep_plan(rng: random.Random, start: int, end: int, main: bool) -> SleepPlan:
    classic = not main or rng.random() < 0.1
    stages: list[tuple[str, int, int]] = []
    t = start
    if classic:
        cycle = ("ASLEEP", "RESTLESS", "ASLEEP", "AWAKE")
        weights = (40, 6, 30, 3)
    else:
        cycle = ("LIGHT", "DEEP", "LIGHT", "REM", "AWAKE")
        weights = (25, 18, 15, 20, 3)
    i = 0
    while t < end:
        kind = cycle[i % len(cycle)]
        length = max(1, int(rng.uniform(0.5, 1.5) * weights[i % len(weights)])) * 60
        stop = min(end, t + length)
        stages.append((kind, t, stop))
        t = stop
        i += 1
    return SleepPlan(start, end, main, tuple(stages), classic)


@dataclasses.dataclass(frozen=True)
class Minutes:
    """Per-minute state of one civil day, indexed from the day's first minute."""

    worn: tuple[bool, ...]
    asleep: tuple[bool, ...]
    steps: tuple[int, ...]  # watch
    phone_steps: tuple[int, ...]
    running: tuple[bool, ...]
    intensity: tuple[float, ...]  # fraction of heart-rate reserve from exercise, else 0


@functools.lru_cache(maxsize=512)
def day_minutes(user: User, day: dt.date) -> Minutes:
    """Per-minute state of a day, from its plan and the neighbouring night's sleep."""
    plan = day_plan(user, day)
    count = plan.minutes
    rng = random.Random(f"{user.health_user_id}:{day.isoformat()}:minutes")
    worn = [plan.worn] * count
    for start, end in plan.off_wrist:
        for m in _minute_range(plan, start, end):
            worn[m] = False
    asleep = [False] * count
    # Tonight's sleep belongs to tomorrow's plan but lies partly in this day.
    tomorrow = day_plan(user, day + dt.timedelta(days=1))
    for sleep in (*plan.sleeps, *tomorrow.sleeps):
        for m in _minute_range(plan, sleep.start, sleep.end):
            asleep[m] = True
    steps = [0] * count
    phone = [0] * count
    running = [False] * count
    intensity = [0.0] * count
    for bout in plan.bouts:
        for m in _minute_range(plan, bout.start, bout.start + bout.minutes * 60):
            if asleep[m]:
                continue
            count_here = max(1, int(rng.gauss(bout.cadence, bout.cadence * 0.08)))
            steps[m] = count_here if worn[m] else 0
            running[m] = bout.running
            if bout.phone_carried:
                phone[m] = max(1, int(count_here * rng.uniform(0.85, 1.1)))
    for m in range(count):
        if worn[m] and not asleep[m] and not steps[m] and rng.random() < 0.12:
            steps[m] = rng.randint(1, 30)
    if plan.exercise:
        ex = plan.exercise
        for m in _minute_range(plan, ex.start, ex.start + ex.minutes * 60):
            intensity[m] = ex.intensity
    return Minutes(
        tuple(worn), tuple(asleep), tuple(steps), tuple(phone), tuple(running), tuple(intensity)
    )


def _minute_range(plan: DayPlan, start: int, end: int) -> range:
    first = max(0, (start - plan.span_start) // 60)
    last = min(plan.minutes, -(-(end - plan.span_start) // 60))
    return range(first, max(first, last))


def heart_rate_base(user: User, minutes: Minutes, m: int) -> float:
    """Heart rate for minute `m` of a day before noise."""
    if minutes.intensity[m]:
        return user.resting_bpm + minutes.intensity[m] * (user.max_bpm - user.resting_bpm)
    if minutes.asleep[m]:
        return user.resting_bpm - 5
    if minutes.steps[m] > 60:
        return user.resting_bpm + 25 + (minutes.steps[m] - 60) * 0.3
    return user.resting_bpm + 12


def heart_rate_at(user: User, minutes: Minutes, m: int, noise: float) -> int:
    """Heart rate for minute `m` of a day, with the caller's noise added."""
    return max(35, min(210, round(heart_rate_base(user, minutes, m) + noise)))


def zone_of(user: User, bpm: int) -> str | None:
    """Active-zone-minutes zone of a heart rate (Karvonen, as Fitbit documents)."""
    reserve = (bpm - user.resting_bpm) / (user.max_bpm - user.resting_bpm)
    if reserve >= 0.85:
        return "PEAK"
    if reserve >= 0.70:
        return "CARDIO"
    if reserve >= 0.40:
        return "FAT_BURN"
    return None


def heart_rate_zone_edges(user: User) -> tuple[int, int, int, int]:
    """Lower edges of the LIGHT, MODERATE, VIGOROUS and PEAK heart-rate zones (bpm)."""
    reserve = user.max_bpm - user.resting_bpm
    return tuple(int(user.resting_bpm + f * reserve) for f in (0.3, 0.4, 0.7, 0.85))


def heart_rate_zone_of(user: User, bpm: int) -> str | None:
    """Heart-rate zone of a rate (daily-heart-rate-zones' edges); None below LIGHT."""
    light, moderate, vigorous, peak = heart_rate_zone_edges(user)
    if bpm >= peak:
        return "PEAK"
    if bpm >= vigorous:
        return "VIGOROUS"
    if bpm >= moderate:
        return "MODERATE"
    if bpm >= light:
        return "LIGHT"
    return None


def basal_calories_per_minute(user: User) -> float:
    """Basal energy of one minute in kcal (Mifflin-St Jeor, a 172 cm male)."""
    return (10 * user.weight_grams / 1000 + 6.25 * 172 - 5 * user.age + 5) / 1440


def active_calories_per_minute(minutes: Minutes, m: int) -> float:
    """Energy above basal of one minute in kcal: steps and exercise."""
    return minutes.steps[m] * (0.07 if minutes.running[m] else 0.045) + minutes.intensity[m] * 6.0


def total_calories_per_minute(user: User, minutes: Minutes, m: int) -> float:
    """Energy of one minute in kcal: basal rate plus steps and exercise."""
    bmr = basal_calories_per_minute(user)
    active = minutes.steps[m] * (0.07 if minutes.running[m] else 0.045)
    return bmr + active + minutes.intensity[m] * 6.0


def activity_level(minutes: Minutes, m: int) -> str | None:
    """Activity level of a minute from its movement; None while not worn or asleep."""
    if not minutes.worn[m] or minutes.asleep[m]:
        return None
    steps, intensity = minutes.steps[m], minutes.intensity[m]
    if intensity >= 0.6 or steps >= 130:
        return "VERY_ACTIVE"
    if intensity >= 0.4 or steps >= 100:
        return "MODERATELY_ACTIVE"
    if intensity > 0 or steps >= 40:
        return "LIGHTLY_ACTIVE"
    return "SEDENTARY"


def track_position(user: User, exercise: ExercisePlan, seconds: float) -> tuple[float, float]:
    """Latitude/longitude along a loop around the user's home for an exercise."""
    speed = 3.1 if exercise.exercise_type == "RUNNING" else 1.4  # m/s
    radius = speed * exercise.minutes * 60 / (2 * math.pi)
    angle = seconds * speed / max(radius, 1.0)
    lat = user.home_lat + radius * math.sin(angle) / 111_320
    lon = user.home_lon + radius * (1 - math.cos(angle)) / (
        111_320 * math.cos(math.radians(user.home_lat))
    )
    return round(lat, 7), round(lon, 7)


def short_awakenings(user: User, sleep: SleepPlan) -> tuple[tuple[int, int], ...]:
    """Brief wakes (1-2 minutes) inside the asleep stages of a stages sleep.

    They lie within the stages (which stay as they are) and are not counted as awake
    in the summary, as the API's short awakenings are not.
    """
    if sleep.classic:
        return ()
    rng = random.Random(f"{user.health_user_id}:{sleep.start}:short-awakenings")
    asleep = [(start, end) for kind, start, end in sleep.stages if kind != "AWAKE"]
    out = []
    for start, end in rng.sample(asleep, min(len(asleep), rng.randint(3, 8))):
        length = rng.randint(1, 2) * 60
        if end - start > length + 120:
            at = start + 60 * rng.randint(1, (end - start - length) // 60 - 1)
            out.append((at, at + length))
    return tuple(sorted(out))


def noise_stream(user: User, day: dt.date, label: str) -> random.Random:
    """A seeded random stream for one (user, day, purpose)."""
    return random.Random(f"{user.health_user_id}:{day.isoformat()}:{label}")
