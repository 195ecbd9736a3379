"""Points of the sleep-derived, cardiac, logged and reproductive data types.

Each is generated from the same synthetic day as the older types (`synth.day_plan`,
`synth.day_minutes`): SpO2 samples fall in the minutes of a main sleep, the
respiratory-rate summary and the sleep temperature follow each main sleep, run
VO2 max follows a run. Which users have glucose, core temperature, ECG and
menstrual data is a trait of the user (`synth.User`); values are deterministic
from the seed (`synth.noise_stream`, `synth._digest`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import random

from simulator import synth
from simulator.synth import Point, SleepPlan, User

DAY = dt.timedelta(days=1)
ECG_HERTZ = 250
ECG_SECONDS = 30
ECG_SCALING = 10922  # waveform samples per millivolt
# An ECG reading's days of history without UTC offsets (synced from an older app).
ECG_WITHOUT_OFFSETS_DAYS = 21


def _overlapping_sleeps(user: User, day: dt.date) -> list[SleepPlan]:
    return [*synth.day_plan(user, day).sleeps, *synth.day_plan(user, day + DAY).sleeps]


def _main_sleep(user: User, day: dt.date) -> SleepPlan | None:
    return next((s for s in synth.day_plan(user, day).sleeps if s.main), None)


def _at(user: User, day: dt.date, hours: float) -> int:
    """Epoch of civil `day` at `hours`, to the second."""
    return synth._civil(day, 0, user.zone) + round(hours * 3600)


def _vo2_base(user: User) -> float:
    return 58 - 0.35 * user.age


# -- sleep-derived ---------------------------------------------------------------------


def oxygen_saturation(user: User, day: dt.date) -> list[Point]:
    """SpO2 each minute of a main sleep, with short dropouts and one longer gap a night."""
    plan = synth.day_plan(user, day)
    rng = synth.noise_stream(user, day, "spo2-samples")
    out = []
    for sleep in _overlapping_sleeps(user, day):
        if not sleep.main:
            continue
        gap_at = sleep.start + 60 * (synth._digest(user.health_user_id, sleep.start) % 300)
        gap_end = gap_at + 60 * (10 + synth._digest(sleep.start, "gap") % 25)
        for t in range(sleep.start, sleep.end, 60):
            if not plan.span_start <= t < plan.span_end or gap_at <= t < gap_end:
                continue
            if rng.random() < 0.06:
                continue
            percent = round(min(100.0, max(88.0, rng.gauss(96.2, 1.1))), 1)
            out.append(Point(f"watch-{t}", "watch", t, None, day, percent))
    return out


@dataclasses.dataclass(frozen=True)
class BreathingStats:
    breaths_per_minute: float
    signal_to_noise: float
    standard_deviation: float


def respiratory_rate_sleep_summary(user: User, day: dt.date) -> list[Point]:
    """One summary a main sleep, at its end; per-stage figures only for stages sleeps."""
    sleep = _main_sleep(user, day)
    if sleep is None:
        return []
    rng = synth.noise_stream(user, day, "respiratory-summary")
    full = rng.uniform(12.5, 17.0)

    def stats(shift: float) -> BreathingStats:
        return BreathingStats(
            round(full + shift + rng.gauss(0, 0.2), 1),
            round(rng.uniform(8, 30), 2),
            round(rng.uniform(0.4, 1.6), 2),
        )

    values = {"full": stats(0.0)}
    if not sleep.classic:
        values.update(deep=stats(-0.9), light=stats(0.1), rem=stats(0.8))
    return [Point(f"watch-{sleep.end}", "watch", sleep.end, None, day, values)]


def _menstrual_phase_shift(user: User, day: dt.date) -> float:
    """Nightly temperature rise of the luteal phase (after ovulation), in Celsius."""
    period = _period_containing_or_before(user, day)
    if period is None:
        return 0.0
    cycle_day = (day - period[0]).days
    return 0.3 if cycle_day >= user.cycle_days - 14 else 0.0


def daily_sleep_temperature_derivations(user: User, day: dt.date) -> list[Point]:
    sleep = _main_sleep(user, day)
    if sleep is None:
        return []
    rng = synth.noise_stream(user, day, "sleep-temperature")
    baseline = 33.6 + (synth._digest(user.health_user_id, "skin") % 80) / 100
    nightly = baseline + _menstrual_phase_shift(user, day) + rng.gauss(0, 0.15)
    if _sick(user, day):
        nightly += 0.9
    values = (round(nightly, 2), round(baseline, 2), round(rng.uniform(0.12, 0.38), 3))
    start = synth.day_plan(user, day).span_start
    return [Point(f"watch-{day.isoformat()}", "watch", start, None, day, values)]


# -- fitness ---------------------------------------------------------------------------


def vo2_max(user: User, day: dt.date) -> list[Point]:
    """Now and then after waking, from resting data; after a run, from the run."""
    plan = synth.day_plan(user, day)
    if not plan.worn:
        return []
    rng = synth.noise_stream(user, day, "vo2-samples")
    out = []
    sleep = _main_sleep(user, day)
    if sleep is not None and rng.random() < 0.12:
        t = sleep.end + 1200
        value = (round(_vo2_base(user) + rng.uniform(-1.5, 1.5), 2), "HEART_RATE_RATIO")
        out.append(Point(f"watch-{t}", "watch", t, None, day, value))
    ex = plan.exercise
    if ex is not None and ex.exercise_type == "RUNNING":
        t = ex.start + ex.minutes * 60 + 120
        value = (round(_vo2_base(user) + rng.uniform(-1.0, 2.0), 2), "FITBIT_RUN")
        out.append(Point(f"watch-{t}", "watch", t, None, day, value))
    return out


def run_vo2_max(user: User, day: dt.date) -> list[Point]:
    """One estimate after each run."""
    plan = synth.day_plan(user, day)
    ex = plan.exercise
    if ex is None or ex.exercise_type != "RUNNING":
        return []
    rng = synth.noise_stream(user, day, "run-vo2")
    t = ex.start + ex.minutes * 60 + 60
    value = round(_vo2_base(user) + 1.5 + rng.gauss(0, 1.2), 2)
    return [Point(f"watch-{t}", "watch", t, None, day, value)]


# -- measurements and logs --------------------------------------------------------------


def _named(user: User, data_type: str, t: int, source: str, day: dt.date, values) -> Point:
    point_id = synth.numeric_id(user.health_user_id, data_type, t, source)
    return Point(point_id, source, t, None, day, values)


def height(user: User, day: dt.date) -> list[Point]:
    """Entered by hand on the first day of history, then now and then; and written with
    each weigh-in by a Health Connect scale's app, from the height set in it."""
    rng = synth.noise_stream(user, day, "height")
    out = []
    if day == user.history_start or rng.random() < 0.02:
        t = _at(user, day, rng.uniform(7.5, 9.5))
        out.append(_named(user, "height", t, "manual", day, user.height_mm + rng.randint(-4, 4)))
    if user.scale == "hc-scale":
        for t, planned in synth.day_plan(user, day).weigh_ins:
            if planned == "scale" and all(p.start != t for p in out):
                out.append(_named(user, "height", t, user.scale, day, user.height_mm))
    return sorted(out, key=lambda p: p.start)


@dataclasses.dataclass(frozen=True)
class Glucose:
    mg_dl: float
    source: str  # measurementSource
    specimen: str
    timing: str | None = None
    meal: str | None = None
    notes: str | None = None


def _cgm_worn(user: User, day: dt.date) -> bool:
    """A sensor lasts ten days; a CGM user wears one ten days in thirty."""
    offset = synth._digest(user.health_user_id, "cgm") % 30
    return (day.toordinal() + offset) % 30 < 10


def blood_glucose(user: User, day: dt.date) -> list[Point]:
    rng = synth.noise_stream(user, day, "glucose")
    if user.glucose == "cgm" and _cgm_worn(user, day):
        plan = synth.day_plan(user, day)
        meals = [_at(user, day, h + rng.uniform(-0.5, 0.5)) for h in (7.5, 12.75, 19.0)]
        first = -(-plan.span_start // 300) * 300
        out = []
        for t in range(first, plan.span_end, 300):
            if rng.random() < 0.03:
                continue  # a missed reading
            # A meal's rise peaks 45 minutes after it and fades over two hours.
            rise = sum(48 * x * math.exp(1 - x) for x in ((t - m) / 2700 for m in meals) if x >= 0)
            mg_dl = round(max(55.0, 92 + rise + rng.gauss(0, 4)), 1)
            value = Glucose(mg_dl, "CONTINUOUS_GLUCOSE_MONITORING", "INTERSTITIAL_FLUID")
            out.append(_named(user, "blood-glucose", t, "cgm", day, value))
        return out
    if user.glucose == "manual" and rng.random() < 0.35:
        out = []
        t = _at(user, day, rng.uniform(6.5, 7.5))
        fasting = Glucose(
            round(rng.gauss(96, 7), 1),
            "SELF_MONITORING_BLOOD_GLUCOSE",
            "CAPILLARY_BLOOD",
            "FASTING",
            "BREAKFAST",
        )
        out.append(_named(user, "blood-glucose", t, "manual", day, fasting))
        if rng.random() < 0.5:
            t = _at(user, day, rng.uniform(20.0, 21.0))
            after = Glucose(
                round(rng.gauss(128, 14), 1),
                "SELF_MONITORING_BLOOD_GLUCOSE",
                "CAPILLARY_BLOOD",
                "AFTER_MEAL",
                "DINNER",
                "pasta" if rng.random() < 0.3 else None,
            )
            out.append(_named(user, "blood-glucose", t, "manual", day, after))
        return out
    return []


def _sick(user: User, day: dt.date) -> bool:
    """A three-day cold, about every seven weeks."""
    block = day.toordinal() // 50
    first = synth._digest(user.health_user_id, "sick", block) % 47
    return 0 <= day.toordinal() - block * 50 - first < 3


def core_body_temperature(user: User, day: dt.date) -> list[Point]:
    """Thermometer readings: now and then, and two or three a day while sick."""
    if not user.core_temperature:
        return []
    rng = synth.noise_stream(user, day, "core-temperature")
    sick = _sick(user, day)
    count = rng.randint(2, 3) if sick else int(rng.random() < 0.06)
    location = "MOUTH" if synth._digest(user.health_user_id, "thermometer") % 2 else "FOREHEAD"
    out = []
    for hours in sorted(rng.uniform(7.0, 22.0) for _ in range(count)):
        celsius = rng.uniform(37.9, 39.1) if sick else rng.gauss(36.7, 0.2)
        t = _at(user, day, hours)
        value = (round(celsius, 1), location)
        out.append(_named(user, "core-body-temperature", t, "manual", day, value))
    return out


_MOODS_BY_VALENCE = {
    "PLEASANT": ("HAPPY", "CALM", "CONTENT", "GRATEFUL", "ENERGIZED", "RELIEVED"),
    "BASELINE": ("NEUTRAL", "INDIFFERENT", "BORED"),
    "UNPLEASANT": ("STRESSED", "ANXIOUS", "FATIGUED", "SAD", "IRRITATED", "OVERWHELMED"),
}


def moods(user: User, day: dt.date) -> list[Point]:
    rng = synth.noise_stream(user, day, "moods")
    if rng.random() >= 0.15:
        return []
    valence = rng.choice(("PLEASANT", "PLEASANT", "BASELINE", "UNPLEASANT"))
    chosen = tuple(sorted(rng.sample(_MOODS_BY_VALENCE[valence], rng.randint(1, 2))))
    t = _at(user, day, rng.uniform(18.0, 22.5))
    return [_named(user, "moods", t, "manual", day, (chosen, (valence,)))]


def symptoms(user: User, day: dt.date) -> list[Point]:
    """Logged on a period's first days, while sick, and now and then otherwise."""
    rng = synth.noise_stream(user, day, "symptoms")
    logged: list[str] = []
    period = _period_containing_or_before(user, day)
    if period is not None and 0 <= (day - period[0]).days < 2:
        logged += ["CRAMPS", "BLOATED"]
    if _sick(user, day) and rng.random() < 0.7:
        logged += ["FEVER", "COUGH", "FATIGUE"]
    if not logged and rng.random() < 0.06:
        logged.append(rng.choice(("HEADACHE", "BACK_PAIN", "INSOMNIA", "NAUSEA")))
    if not logged:
        return []
    t = _at(user, day, rng.uniform(8.0, 21.0))
    return [_named(user, "symptoms", t, "manual", day, tuple(logged))]


# -- menstrual cycle ----------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _period(user: User, k: int) -> tuple[dt.date, int]:
    """The k-th period from the user's anchor: (first day, days)."""
    jitter = synth._digest(user.health_user_id, "cycle", k) % 5 - 2
    first = user.cycle_anchor + dt.timedelta(days=k * user.cycle_days + jitter)
    return first, 4 + synth._digest(user.health_user_id, "period", k) % 3


def _period_containing_or_before(user: User, day: dt.date) -> tuple[dt.date, int] | None:
    """The latest period that starts on or before `day`; None for users who log none."""
    if not user.cycle_days:
        return None
    k = (day - user.cycle_anchor).days // user.cycle_days
    for i in (k + 1, k, k - 1):
        period = _period(user, i)
        if period[0] <= day:
            return period
    return _period(user, k - 2)


def menstrual_period(user: User, day: dt.date) -> list[Point]:
    """A period logged as whole civil days, from its first day's midnight to its last's end."""
    period = _period_containing_or_before(user, day)
    if period is None or period[0] != day:
        return []
    first, days = period
    start = synth._civil(first, 0, user.zone)
    end = synth._civil(first + dt.timedelta(days=days), 0, user.zone)
    notes = "heavy flow" if synth._digest(user.health_user_id, first) % 4 == 0 else None
    point_id = synth.numeric_id(user.health_user_id, "menstrual-period", start)
    return [Point(point_id, "manual", start, end, day, notes)]


def ovulation_test(user: User, day: dt.date) -> list[Point]:
    """Morning LH tests around mid-cycle; positive on the surge before ovulation."""
    period = _period_containing_or_before(user, day)
    if period is None:
        return []
    ovulation = user.cycle_days - 14
    cycle_day = (day - period[0]).days
    if not ovulation - 4 <= cycle_day <= ovulation + 1:
        return []
    rng = synth.noise_stream(user, day, "ovulation")
    if rng.random() < 0.2:
        return []
    if cycle_day in (ovulation - 1, ovulation):
        result = "LUTEINIZING_HORMONE_SURGE" if rng.random() < 0.5 else "POSITIVE"
    else:
        result = "INDETERMINATE" if rng.random() < 0.05 else "NEGATIVE"
    t = _at(user, day, rng.uniform(7.0, 9.0))
    return [_named(user, "ovulation-test", t, "manual", day, result)]


# -- ECG and irregular rhythm notifications ---------------------------------------------


@dataclasses.dataclass(frozen=True)
class EcgReading:
    average_bpm: int
    classification: str
    with_offsets: bool  # false for the oldest readings, synced without UTC offsets


def electrocardiogram(user: User, day: dt.date) -> list[Point]:
    """A 30 s reading a few times a month, started by the user during the day."""
    plan = synth.day_plan(user, day)
    if not user.ecg or not plan.worn:
        return []
    rng = synth.noise_stream(user, day, "ecg")
    if rng.random() >= 0.1:
        return []
    start = _at(user, day, rng.uniform(10.0, 21.0))
    draw = rng.random()
    if draw < 0.8:
        classification, bpm = "NORMAL_SINUS_RHYTHM", rng.randint(58, 92)
    elif draw < 0.9:
        classification, bpm = "INCONCLUSIVE", rng.randint(60, 100)
    elif draw < 0.94:
        classification, bpm = "INCONCLUSIVE_HIGH_HEART_RATE", rng.randint(121, 140)
    elif draw < 0.98:
        classification, bpm = "ATRIAL_FIBRILLATION", rng.randint(80, 115)
    else:
        classification, bpm = "UNREADABLE", rng.randint(60, 90)
    reading = EcgReading(
        bpm, classification, day >= user.history_start + dt.timedelta(ECG_WITHOUT_OFFSETS_DAYS)
    )
    return [Point(f"watch-{start}", "watch", start, start + ECG_SECONDS, day, reading)]


@functools.lru_cache(maxsize=64)
def ecg_waveform(seed_text: str, average_bpm: int, irregular: bool) -> tuple[int, ...]:
    """7,500 samples (30 s at 250 Hz) of a lead-I ECG: P, QRS and T waves a beat, noise.

    Millivolts are `sample / ECG_SCALING`.
    """
    rng = random.Random(seed_text)
    count = ECG_HERTZ * ECG_SECONDS
    mv = [rng.gauss(0, 0.015) for _ in range(count)]
    # (offset from the R peak in s, amplitude in mV, width in s) of each wave.
    # Atrial fibrillation has no P wave and irregular beat-to-beat intervals.
    p_wave = () if irregular else ((-0.2, 0.12, 0.025),)
    waves = (
        *p_wave,
        (-0.03, -0.1, 0.008),
        (0.0, 1.1, 0.01),
        (0.03, -0.2, 0.008),
        (0.28, 0.3, 0.04),
    )
    beat = 0.3
    period = 60 / average_bpm
    while beat < ECG_SECONDS:
        for offset, amplitude, width in waves:
            centre = beat + offset
            lo = max(0, int((centre - 4 * width) * ECG_HERTZ))
            hi = min(count, int((centre + 4 * width) * ECG_HERTZ) + 1)
            for i in range(lo, hi):
                mv[i] += amplitude * math.exp(-(((i / ECG_HERTZ - centre) / width) ** 2) / 2)
        beat += period * (rng.uniform(0.6, 1.4) if irregular else rng.uniform(0.97, 1.03))
    return tuple(round(v * ECG_SCALING) for v in mv)


@dataclasses.dataclass(frozen=True)
class AlertWindow:
    start: int
    end: int
    positive: bool
    beats: tuple[tuple[int, int], ...]  # (epoch second, bpm) of each beat's reading


def irregular_rhythm_notification(user: User, day: dt.date) -> list[Point]:
    """After every ninth main sleep or so of a user with episodes of AFib (the ECG users,
    whose IRN profile is enrolled): four 5-minute windows of irregular tachograms."""
    sleep = _main_sleep(user, day)
    if not user.ecg or sleep is None:
        return []
    if day.toordinal() % 9 != synth.phase(user, "irn-night", 9):
        return []
    rng = synth.noise_stream(user, day, "irn")
    # Within the night's last hours, which always lie in the day the sleep ends on.
    first = sleep.end - 60 * rng.randint(90, 180)
    windows = []
    for w in range(4):
        start = first + w * 900
        beats = tuple((start + s, rng.randint(55, 125)) for s in range(0, 300, rng.randint(4, 6)))
        windows.append(AlertWindow(start, start + 300, w != 2 or rng.random() < 0.5, beats))
    return [Point(f"watch-{first}", "watch", first, windows[-1].end, day, tuple(windows))]
