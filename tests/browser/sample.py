"""A hand-built study for the report's tests: four participants over 14 days.

The range (2026-10-22 to 2026-11-04) holds two DST days: 2026-10-25 is 25 hours
long in Europe/London, 2026-11-01 in America/New_York. participant-003 needs
attention (no sync for four days, a low battery, missing days); the others are fine.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

from study.model import (
    CONSENT_ACTIVE,
    ParticipantDay,
    ParticipantStatus,
    ReportData,
    TypeCompleteness,
)

START = dt.date(2026, 10, 22)
END = dt.date(2026, 11, 4)
NOW = dt.datetime(2026, 11, 5, 7, 30, tzinfo=dt.UTC)
ZONES = {
    "participant-001": "America/New_York",
    "participant-002": "Europe/London",
    "participant-003": "America/New_York",
    "participant-004": "Asia/Tokyo",
}
DST_DAYS = {("America/New_York", dt.date(2026, 11, 1)), ("Europe/London", dt.date(2026, 10, 25))}
# participant-003 stopped syncing: nothing after 2026-10-31, and two gaps before.
MISSING = {("participant-003", START + dt.timedelta(days=i)) for i in (3, 6, 10, 11, 12, 13)}
EXPECTED = ("distance", "heart_rate", "sleep", "steps")


def _day(rng: random.Random, key: str, day: dt.date) -> ParticipantDay:
    zone = ZONES[key]
    day_minutes = 1500 if (zone, day) in DST_DAYS else 1440
    worn = min(day_minutes, int(rng.gauss(900 if key != "participant-003" else 420, 180)))
    worn = max(worn, 30)
    heart = max(worn - rng.randint(0, 40), 0)
    slept = rng.random() > 0.15
    types = tuple(sorted(t for t in EXPECTED if t != "sleep" or slept))
    return ParticipantDay(
        user_key=key,
        civil_date=day,
        time_zone=zone,
        day_minutes=day_minutes,
        worn_minutes=worn,
        worn_minutes_heart_rate=heart,
        worn_minutes_disagree=worn - heart,
        heart_rate_coverage=round(heart / day_minutes, 4),
        step_count=int(max(rng.gauss(8500, 3000), 300) * worn / 900),
        main_sleep_recorded=slept,
        main_sleep_minutes=int(rng.gauss(420, 50)) if slept else None,
        data_types=types,
        expected_data_types=EXPECTED,
        completeness=len(types) / len(EXPECTED),
    )


def _status(key: str, days: list[ParticipantDay]) -> ParticipantStatus:
    mine = [d for d in days if d.user_key == key]
    last7 = [d for d in mine if d.civil_date > END - dt.timedelta(days=7)]
    attention = ()
    sync = NOW - dt.timedelta(hours=3 + 5 * int(key[-1]))
    battery, status = 40 + 15 * int(key[-1]), "Medium"
    if key == "participant-003":
        attention = ("no device sync for 4 days", "battery low (8%)")
        sync, battery, status = NOW - dt.timedelta(days=4, hours=6), 8, "Empty"
    if key in ("participant-001", "participant-004"):
        status = "High"
    return ParticipantStatus(
        user_key=key,
        consent=CONSENT_ACTIVE,
        consent_detail="",
        last_load=NOW - dt.timedelta(hours=6),
        last_sync=sync,
        device="Pixel Watch 3" if key != "participant-002" else "Fitbit Charge 6",
        battery_level=battery,
        battery_status=status,
        days_with_data_7=len(last7),
        days_with_data_30=len(mine),
        valid_days_7=sum(d.worn_minutes >= 600 for d in last7),
        valid_days_30=sum(d.worn_minutes >= 600 for d in mine),
        open_dead_letters=2 if key == "participant-003" else 0,
        attention=attention,
    )


def report_data() -> ReportData:
    """The four participants' fortnight, the same on every call."""
    rng = random.Random(14)
    days = [
        _day(rng, key, START + dt.timedelta(days=i))
        for key in ZONES
        for i in range((END - START).days + 1)
        if (key, START + dt.timedelta(days=i)) not in MISSING
    ]
    statuses = [_status(key, days) for key in ZONES]
    statuses.sort(key=lambda s: (not s.attention, s.user_key))
    completeness = [
        TypeCompleteness(table, sum(table in d.data_types for d in days), len(ZONES) * 14)
        for table in EXPECTED
    ]
    completeness.append(TypeCompleteness("weight", 3, 0))  # a scale no device list names
    return ReportData(
        dataset="my-project:fitbit",
        start_date=START,
        end_date=END,
        generated_at=NOW,
        valid_day_minutes=600,
        days=tuple(days),
        participants=tuple(statuses),
        completeness=tuple(completeness),
    )


def empty_report_data() -> ReportData:
    """A study with nothing loaded in its range."""
    return dataclasses.replace(report_data(), days=(), participants=(), completeness=())


def with_user_key(data: ReportData, old: str, new: str) -> ReportData:
    """The same study with one participant's key changed (e.g. to hostile text)."""

    def swap(item):
        return dataclasses.replace(item, user_key=new) if item.user_key == old else item

    return dataclasses.replace(
        data,
        days=tuple(swap(d) for d in data.days),
        participants=tuple(swap(p) for p in data.participants),
    )
