"""rows.daily_summary: the rows do not depend on the order dailyRollUp windows come in.

The live API answers a dailyRollUp newest window first, and a range may come in
several pages; the windows here are literal answers in the discovery document's
shape (DailyRollupDataPoint).
"""

from __future__ import annotations

import datetime as dt

from rows import daily_summary
from rows.datapoints import RowContext

CTX = RowContext("p-0042", "run-1", dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC), "run-1-k")


def window(day: int, key: str, value: dict) -> dict:
    return {
        "civilStartTime": {"date": {"year": 2026, "month": 11, "day": day}},
        "civilEndTime": {"date": {"year": 2026, "month": 11, "day": day + 1}},
        key: value,
    }


STEPS = [window(d, "steps", {"countSum": str(1000 * d)}) for d in (3, 2, 1)]  # newest first
KCAL = [window(d, "totalCalories", {"kcalSum": 2000.5 + d}) for d in (1, 3, 2)]


def test_newest_first_windows_give_each_day_its_own_values_in_date_order():
    rollups = (("steps", tuple(STEPS)), ("total-calories", tuple(KCAL)))

    rows = daily_summary.summary_rows(daily_summary.summary_windows(rollups), CTX)

    assert [(r["civil_date"], r["step_count"], r["total_calories_kcal"]) for _, r in rows] == [
        (dt.date(2026, 11, 1), 1000, 2001.5),
        (dt.date(2026, 11, 2), 2000, 2002.5),
        (dt.date(2026, 11, 3), 3000, 2003.5),
    ]


def test_the_order_of_the_windows_does_not_change_the_rows():
    forward = (("steps", tuple(reversed(STEPS))), ("total-calories", tuple(sorted(KCAL, key=str))))
    backward = (("steps", tuple(STEPS)), ("total-calories", tuple(KCAL)))

    assert daily_summary.summary_rows(
        daily_summary.summary_windows(forward), CTX
    ) == daily_summary.summary_rows(daily_summary.summary_windows(backward), CTX)
