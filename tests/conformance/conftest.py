"""Fixtures and ground truth for the conformance tests: Google's own clients on the simulator.

Two clients that fitbeam does not write read the simulated API here: the discovery-based
client (`googleapiclient.discovery.build_from_document` on health.v4.json) and the generated
client of PyPI `google-devicesandservices-health` over its REST transport. Each test module
starts one simulator (frozen clock, seed 0, the suite's short history) and checks what the
client hands back against the simulator's ground truth, so a failure here is a place where
the simulator and the API's own clients disagree.

Which days are read, per data type (`Case`): two civil days before the frozen "now"
(heart rate one), on the type's civil or date filter member; a type with no point in
those days, or with no civil filter member, is read whole, without a filter, from the
first day of history. The first of the users with data is read.

Rollups are held to the reconciled ground truth: the rolled-up windows are exactly those
holding reconciled points, and a rollup field `<f>Sum`, `<f>Avg`, `<f>Min` or `<f>Max`
equals the sum, mean, minimum or maximum of the points' field `<f>` in its window (plus
the few fields named otherwise, in `_SPECIAL_ROLLUP_FIELDS`, and the totals per activity
level, heart-rate zone or period of `_GROUPED_ROLLUPS`; periods hours long are cut at the
windows' edges). Rollup-only types (total calories, calories in heart-rate zones) have no
points: their days equal the ground truth's, and their hours add up to those days. The
daily types' personal ranges are checked by the discovery schema only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from zoneinfo import ZoneInfo

import pytest

from simulator import Simulator
from simulator.catalog import DATA_TYPES, Kind
from simulator.discovery import load_discovery
from tests.simulator.conftest import HISTORY_START, START, VALIDATOR, authorize, config

USERS = tuple(f"user-{i}" for i in range(1, 5))
NOW = dt.datetime.fromtimestamp(START, dt.UTC)
# The two civil days before the frozen clock's day; heart rate (17,280 points a day) reads one.
SHORT_DAYS = (dt.date(2026, 11, 26), dt.date(2026, 11, 27))
HEART_RATE_DAY = (dt.date(2026, 11, 27), dt.date(2026, 11, 27))
# A sparse type's rollups read the week that ends on the civil day of its newest point.
SPARSE_ROLLUP_DAYS = 7
ROLLUP_WINDOW_SECONDS = 3600
# The simulator writes means to three decimals; Google's clients parse doubles exactly.
MEAN_TOLERANCE = 1e-3

# Every read-only scope the discovery document lists: the token may read everything.
READ_SCOPES = tuple(
    sorted(s for s in load_discovery()["auth"]["oauth2"]["scopes"] if s.endswith(".readonly"))
)

LISTABLE = sorted(name for name, t in DATA_TYPES.items() if t.kind is not Kind.ROLLUP_ONLY)
_SCHEMAS = load_discovery()["schemas"]
# reconcile answers ReconciledDataPoints, whose union lacks some types (the logged ones,
# electrocardiograms, irregular rhythm notifications): the API cannot reconcile those.
RECONCILABLE = [
    n for n in LISTABLE if DATA_TYPES[n].json_key in _SCHEMAS["ReconciledDataPoint"]["properties"]
]
NOT_RECONCILABLE = sorted(set(LISTABLE) - set(RECONCILABLE))
IDENTIFIABLE = sorted(name for name, t in DATA_TYPES.items() if t.identifiable)
# The rollups the discovery document offers: a data type rolls up when RollupDataPoint
# (rollUp) or DailyRollupDataPoint (dailyRollUp) has a member for it. The daily resting
# heart rate and daily HRV roll up daily into their personal ranges.
_PERSONAL_RANGES = {
    "daily-resting-heart-rate": "restingHeartRatePersonalRange",
    "daily-heart-rate-variability": "heartRateVariabilityPersonalRange",
}
ROLLUP_KEYS = {
    name: _PERSONAL_RANGES.get(name, t.json_key)
    for name, t in DATA_TYPES.items()
    if _PERSONAL_RANGES.get(name, t.json_key) in _SCHEMAS["DailyRollupDataPoint"]["properties"]
}
ROLL_UP = sorted(
    name for name, key in ROLLUP_KEYS.items() if key in _SCHEMAS["RollupDataPoint"]["properties"]
)
DAILY_ROLL_UP = sorted(ROLLUP_KEYS)
# A data point's keys other than its one data type value.
_POINT_ENVELOPE = frozenset({"name", "dataSource", "dataPointName"})
# Rollup fields whose point field is not named by the suffix rule: (data type, rollup field)
# -> (point field, aggregation, {point field: value} a point must match to count).
_SPECIAL_ROLLUP_FIELDS = {
    ("body-fat", "bodyFatPercentageAvg"): ("percentage", "Avg", {}),
    ("run-vo2-max", "rateAvg"): ("runVo2Max", "Avg", {}),
    ("run-vo2-max", "rateMin"): ("runVo2Max", "Min", {}),
    ("run-vo2-max", "rateMax"): ("runVo2Max", "Max", {}),
    ("active-zone-minutes", "sumInFatBurnHeartZone"): (
        "activeZoneMinutes",
        "Sum",
        {"heartRateZone": "FAT_BURN"},
    ),
    ("active-zone-minutes", "sumInCardioHeartZone"): (
        "activeZoneMinutes",
        "Sum",
        {"heartRateZone": "CARDIO"},
    ),
    ("active-zone-minutes", "sumInPeakHeartZone"): (
        "activeZoneMinutes",
        "Sum",
        {"heartRateZone": "PEAK"},
    ),
}


@dataclasses.dataclass(frozen=True)
class Case:
    """What a conformance test reads of one data type.

    Attributes:
        data_type: URL name.
        user: the simulator user read.
        first, last: inclusive civil days.
        filter: the list filter, or None to read the type whole.
        truth: the ground truth of [first, last], every source (oldest first).
        reconciled: the reconciled ground truth of the same days.
    """

    data_type: str
    user: str
    first: dt.date
    last: dt.date
    filter: str | None
    truth: tuple[dict, ...]
    reconciled: tuple[dict, ...]

    @property
    def points(self) -> list[dict]:
        return [t["dataPoint"] for t in self.truth]

    def page_size(self) -> int:
        """A page size that splits the points over two pages (or one, for a single point)."""
        return max(1, min(DATA_TYPES[self.data_type].max_page_size, -(-len(self.truth) // 2)))


def user_today(sim: Simulator, user: str) -> dt.date:
    return NOW.astimezone(ZoneInfo(sim.users[user].time_zone)).date()


def civil_filter_member(data_type: str) -> str | None:
    """The type's civil-time (or date) filter member, None when it has none."""
    members = DATA_TYPES[data_type].filter_members
    return next((m for m in members if "civil" in m or m == "date"), None)


def day_range_filter(data_type: str, first: dt.date, last: dt.date) -> str:
    """`{type}.{civil member} >= "first" AND ... < "last + 1"`: the civil days [first, last]."""
    name = DATA_TYPES[data_type].filter_name
    member = civil_filter_member(data_type)
    end = last + dt.timedelta(days=1)
    return f'{name}.{member} >= "{first.isoformat()}" AND {name}.{member} < "{end.isoformat()}"'


def make_case(sim: Simulator, data_type: str) -> Case:
    """Chooses the user and days read of a data type (see the module docstring)."""
    short = HEART_RATE_DAY if data_type == "heart-rate" else SHORT_DAYS
    if DATA_TYPES[data_type].kind is Kind.ROLLUP_ONLY:
        truth = tuple(sim.ground_truth(USERS[0], data_type, *short))
        return Case(data_type, USERS[0], *short, None, truth, truth)
    for user in USERS:
        if civil_filter_member(data_type) is not None:
            truth = sim.ground_truth(user, data_type, *short)
            if truth:
                return Case(
                    data_type,
                    user,
                    *short,
                    day_range_filter(data_type, *short),
                    tuple(truth),
                    tuple(sim.ground_truth(user, data_type, *short, reconciled=True)),
                )
        first, last = HISTORY_START, user_today(sim, user)
        truth = sim.ground_truth(user, data_type, first, last)
        if truth:
            reconciled = sim.ground_truth(user, data_type, first, last, reconciled=True)
            return Case(data_type, user, first, last, None, tuple(truth), tuple(reconciled))
    raise AssertionError(f"the simulator holds no {data_type} point for any of {USERS}")


# -- time and values of points ------------------------------------------------------------


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def type_value(point: dict) -> dict:
    """The data type value of a data point (its one key besides name and data source)."""
    (key,) = set(point) - _POINT_ENVELOPE
    return point[key]


def physical_time(point: dict) -> dt.datetime | None:
    """When a point starts (interval) or was sampled; None for a daily point."""
    value = type_value(point)
    if "interval" in value:
        return parse_time(value["interval"]["startTime"])
    if "sampleTime" in value:
        return parse_time(value["sampleTime"]["physicalTime"])
    return None


def sort_key(point: dict) -> tuple:
    """A point's place in time for the newest-first check (daily points by date)."""
    when = physical_time(point)
    if when is not None:
        return (when.timestamp(),)
    day = type_value(point)["date"]
    return (day["year"], day["month"], day["day"])


def is_newest_first(points: list[dict]) -> bool:
    keys = [sort_key(p) for p in points]
    return all(a >= b for a, b in itertools.pairwise(keys))


def canonical(value: object) -> str:
    """A JSON value as an order-independent string; whole floats written as integers.

    The generated client prints a double 70 as 70.0; JSON makes no difference between them.
    """

    def whole(item):
        if isinstance(item, float) and item.is_integer():
            return int(item)
        if isinstance(item, dict):
            return {k: whole(v) for k, v in item.items()}
        if isinstance(item, list):
            return [whole(v) for v in item]
        return item

    return json.dumps(whole(value), sort_keys=True)


def multiset(points: Iterable[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for point in points:
        key = canonical(point)
        counts[key] = counts.get(key, 0) + 1
    return counts


def violations(body: dict, method_id: str) -> list[str]:
    """Violations of a method's response schema by a response body (the strict validator)."""
    return VALIDATOR.validate(body, VALIDATOR.response_schema(method_id))


# -- rollups --------------------------------------------------------------------------------


def civil_midnight(day: dt.date, zone: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), ZoneInfo(zone)).astimezone(dt.UTC)


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass(frozen=True)
class RollupPlan:
    """The rollups read of a data type and what they must answer.

    Attributes:
        first, last: the inclusive civil days rolled up.
        start, end: the rollUp range, the civil midnights of first and last + 1 as instants.
        zone: the user's time zone.
        points: the reconciled ground-truth points of those days.
        civil_dates: the civil day each point is attributed to.
        daily_truth: for rollup-only types (no points), the ground truth's rolled-up value
            of each civil day with data.
    """

    data_type: str
    user: str
    first: dt.date
    last: dt.date
    start: dt.datetime
    end: dt.datetime
    zone: str
    points: tuple[dict, ...]
    civil_dates: tuple[str, ...]
    daily_truth: dict[str, dict]

    def windows(self) -> list[tuple[dt.datetime, dt.datetime]]:
        step = dt.timedelta(seconds=ROLLUP_WINDOW_SECONDS)
        count = math.ceil((self.end - self.start) / step)
        return [
            (self.start + i * step, min(self.end, self.start + (i + 1) * step))
            for i in range(count)
        ]

    def physical_buckets(self) -> dict[str, list[dict]] | None:
        """Reconciled values per rollUp window with data, keyed by the window's startTime.

        None when the points have no physical time (daily points), so cannot be placed.
        """
        if any(physical_time(p) is None for p in self.points):
            return None
        windows = [(rfc3339(s), s, e) for s, e in self.windows()]
        if self.data_type in _SPLIT_BY_WINDOW:
            return _split(self.points, windows)
        buckets: dict[str, list[dict]] = {}
        for point in self.points:
            offset = (physical_time(point) - self.start).total_seconds()
            if not 0 <= offset < (self.end - self.start).total_seconds():
                continue
            key, _, _ = windows[int(offset // ROLLUP_WINDOW_SECONDS)]
            buckets.setdefault(key, []).append(type_value(point))
        return buckets

    def daily_buckets(self) -> dict[str, list[dict]]:
        """Reconciled values per civil day with data, keyed by the day (YYYY-MM-DD)."""
        if self.data_type in _SPLIT_BY_WINDOW:
            days = [
                self.first + dt.timedelta(days=i) for i in range((self.last - self.first).days + 1)
            ]
            windows = [
                (
                    day.isoformat(),
                    civil_midnight(day, self.zone),
                    civil_midnight(day + dt.timedelta(days=1), self.zone),
                )
                for day in days
            ]
            return _split(self.points, windows)
        buckets: dict[str, list[dict]] = {}
        for point, day in zip(self.points, self.civil_dates, strict=True):
            buckets.setdefault(day, []).append(type_value(point))
        return buckets


def _split(points: Iterable[dict], windows: list[tuple]) -> dict[str, list[dict]]:
    """Periods cut at the edges of the (key, start, end) windows they overlap."""
    buckets: dict[str, list[dict]] = {}
    for point in points:
        value = type_value(point)
        start = parse_time(value["interval"]["startTime"])
        end = parse_time(value["interval"]["endTime"])
        for key, w_start, w_end in windows:
            if start < w_end and w_start < end:
                interval = {
                    "startTime": rfc3339(max(start, w_start)),
                    "endTime": rfc3339(min(end, w_end)),
                }
                buckets.setdefault(key, []).append({**value, "interval": interval})
    return buckets


def rollup_plan(sim: Simulator, case: Case) -> RollupPlan:
    """The days a type's rollups read: the case's short days, or a week of a sparse type."""
    cap = DATA_TYPES[case.data_type].rollup_range_days or SPARSE_ROLLUP_DAYS
    first, last = case.first, case.last
    if DATA_TYPES[case.data_type].kind is Kind.ROLLUP_ONLY:
        first, last = SHORT_DAYS
    elif case.filter is None:
        last = dt.date.fromisoformat(case.reconciled[-1]["civilDate"])
        first = max(HISTORY_START, last - dt.timedelta(days=min(cap, SPARSE_ROLLUP_DAYS) - 1))
    zone = sim.users[case.user].time_zone
    truth = sim.ground_truth(case.user, case.data_type, first, last, reconciled=True)
    with_points = [t for t in truth if "dataPoint" in t]
    daily = {t["civilDate"]: _rolled_up_truth(t) for t in truth if "dataPoint" not in t}
    return RollupPlan(
        case.data_type,
        case.user,
        first,
        last,
        civil_midnight(first, zone),
        civil_midnight(last + dt.timedelta(days=1), zone),
        zone,
        tuple(t["dataPoint"] for t in with_points),
        tuple(t["civilDate"] for t in with_points),
        daily,
    )


def _rolled_up_truth(entry: dict) -> dict:
    """A rollup-only type's ground truth of one day as its rolled-up value."""
    value = {k: v for k, v in entry.items() if k != "civilDate"}
    if set(value) == {"kcal"}:  # total calories: {"civilDate", "kcal"}
        return {"kcalSum": value["kcal"]}
    return value


def rolled_up_totals(value: dict) -> dict[str, float]:
    """A rollup-only value as totals that add up over windows: kcal, or kcal per zone."""
    if "kcalSum" in value:
        return {"kcal": float(value["kcalSum"])}
    return {
        e.get("heartRateZone", ""): float(e.get("kcal", 0))
        for e in value.get("caloriesInHeartRateZones", [])
    }


def _sum_totals(values: Iterable[dict]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for value in values:
        for k, v in rolled_up_totals(value).items():
            totals[k] = totals.get(k, 0) + v
    return totals


def _totals_mismatch(got: dict[str, float], expected: dict[str, float], slack: float) -> bool:
    keys = {k for k, v in {**got, **expected}.items() if v}
    return any(not math.isclose(got.get(k, 0), expected.get(k, 0), abs_tol=slack) for k in keys)


def _number(value: object) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _interval_seconds(value: dict) -> float:
    interval = value["interval"]
    return (parse_time(interval["endTime"]) - parse_time(interval["startTime"])).total_seconds()


def _duration_seconds(text: str) -> float:
    return float(text.removesuffix("s"))


# Types whose points are periods (hours long): a rollup counts the part of a period inside
# each window, not the whole period in the window it starts in.
_SPLIT_BY_WINDOW = frozenset({"sedentary-period"})
# Rollups that total per group (activity level, heart-rate zone): data type -> (rollup list
# member, its group field, its amount field, the amount's reader, the (group, amount) pairs
# of a point).
_GROUPED_ROLLUPS = {
    "active-minutes": (
        "activeMinutesRollupByActivityLevel",
        "activityLevel",
        "activeMinutesSum",
        int,
        lambda v: [
            (e.get("activityLevel"), int(e["activeMinutes"]))
            for e in v.get("activeMinutesByActivityLevel", [])
        ],
    ),
    "activity-level": (
        "activityLevelRollupsByActivityLevelType",
        "activityLevelType",
        "totalDuration",
        _duration_seconds,
        lambda v: [(v.get("activityLevelType"), _interval_seconds(v))],
    ),
    "time-in-heart-rate-zone": (
        "timeInHeartRateZones",
        "heartRateZone",
        "duration",
        _duration_seconds,
        lambda v: [(v.get("heartRateZoneType"), _interval_seconds(v))],
    ),
    # One group: the periods' time.
    "sedentary-period": (
        None,
        None,
        "durationSum",
        _duration_seconds,
        lambda v: [(None, _interval_seconds(v))],
    ),
}


def _grouped_mismatches(data_type: str, values: list[dict], rolled: dict) -> list[str]:
    """A grouped rollup against its points: the non-zero total of each group."""
    member, group, amount, read, pairs = _GROUPED_ROLLUPS[data_type]
    expected: dict = {}
    for value in values:
        for key, quantity in pairs(value):
            expected[key] = expected.get(key, 0) + quantity
    if member is None:
        got = {None: read(rolled[amount])} if amount in rolled else {}
    else:
        got = {e.get(group): read(e[amount]) for e in rolled.get(member, []) if amount in e}
    got = {k: v for k, v in got.items() if v}
    expected = {k: v for k, v in expected.items() if v}
    same = got.keys() == expected.keys() and all(
        math.isclose(got[k], expected[k], abs_tol=MEAN_TOLERANCE) for k in got
    )
    return [] if same else [f"{member or amount}: {got}, the points give {expected}"]


def rollup_value_mismatches(data_type: str, values: list[dict], rolled: dict) -> list[str]:
    """How a window's rolled-up value differs from its reconciled points' values.

    A field is held to the points when they carry the field it aggregates (see the module
    docstring); the others are left to the schema. int64 sums (JSON strings) must be exact,
    doubles within MEAN_TOLERANCE.
    """
    if data_type in _GROUPED_ROLLUPS:
        return _grouped_mismatches(data_type, values, rolled)
    problems = []
    for field, got in rolled.items():
        special = _SPECIAL_ROLLUP_FIELDS.get((data_type, field))
        if special is not None:
            base, how, match = special
        elif field[-3:] in ("Sum", "Avg", "Min", "Max"):
            base, how, match = field[:-3], field[-3:], {}
        else:
            continue
        chosen = [v for v in values if all(v.get(k) == x for k, x in match.items())]
        numbers = [_number(v[base]) for v in chosen if base in v]
        if any(n is None for n in numbers) or not any(base in v for v in values):
            continue  # no point field of that name: the schema alone speaks for it
        if how == "Sum":
            expected = sum(numbers)
        elif not numbers:
            problems.append(f"{field}: {got!r} from a window with no {base}")
            continue
        elif how == "Avg":
            expected = sum(numbers) / len(numbers)
        else:
            expected = min(numbers) if how == "Min" else max(numbers)
        if isinstance(got, str):
            if got != str(expected):
                problems.append(f"{field}: {got!r}, the points give {str(expected)!r}")
        elif not math.isclose(float(got), float(expected), abs_tol=MEAN_TOLERANCE):
            problems.append(f"{field}: {got!r}, the points give {expected!r}")
    return problems


def _rollup_values(plan: RollupPlan, rolled: list[dict], bounds: set[str]) -> tuple[list, list]:
    """Each rolled-up point's value (None where it lacks the type's member) and the problems."""
    key = ROLLUP_KEYS[plan.data_type]
    problems, values = [], []
    for point in rolled:
        members = sorted(set(point) - bounds)
        if members != [key]:
            problems.append(f"rolled-up point with members {members}, expected [{key!r}]")
        values.append(point.get(key))
    return values, problems


def check_physical_rollup(plan: RollupPlan, rolled: list[dict]) -> list[str]:
    """Every problem of rollUp's rolled-up points against the plan's ground truth."""
    values, problems = _rollup_values(plan, rolled, {"startTime", "endTime"})
    windows = {rfc3339(s): rfc3339(e) for s, e in plan.windows()}
    got = {}
    for point, value in zip(rolled, values, strict=True):
        if windows.get(point["startTime"]) != point["endTime"]:
            problems.append(f"window {point['startTime']}..{point['endTime']} is not a window")
        got[point["startTime"]] = value or {}
    if DATA_TYPES[plan.data_type].kind is Kind.ROLLUP_ONLY:
        # No points to place in hours: the hours must add up to the days' ground truth.
        hours = _sum_totals(got.values())
        days = _sum_totals(plan.daily_truth.values())
        slack = MEAN_TOLERANCE * (len(got) + len(plan.daily_truth) + 1)
        if _totals_mismatch(hours, days, slack):
            problems.append(f"totals over the range {hours}, the ground truth {days}")
        return problems
    buckets = plan.physical_buckets()
    if buckets is None:
        return problems
    if sorted(got) != sorted(buckets):
        missing = sorted(set(buckets) - set(got))
        extra = sorted(set(got) - set(buckets))
        problems.append(f"windows with data: missing {missing[:5]}, unexpected {extra[:5]}")
    for start in sorted(set(got) & set(buckets)):
        problems += [
            f"{start}: {p}"
            for p in rollup_value_mismatches(plan.data_type, buckets[start], got[start])
        ]
    return problems


def check_daily_rollup(plan: RollupPlan, rolled: list[dict]) -> list[str]:
    """Every problem of dailyRollUp's rolled-up points against the plan's ground truth."""
    values, problems = _rollup_values(plan, rolled, {"civilStartTime", "civilEndTime"})
    got = {}
    for point, value in zip(rolled, values, strict=True):
        start = dt.date(**point["civilStartTime"]["date"])
        end = dt.date(**point["civilEndTime"]["date"])
        if end != start + dt.timedelta(days=1) or not plan.first <= start <= plan.last:
            problems.append(f"window {start}..{end} is not a day of {plan.first}..{plan.last}")
        for bound in ("civilStartTime", "civilEndTime"):
            if point[bound].get("time", {}) != {}:
                problems.append(f"{start}: {bound} is not a midnight: {point[bound]}")
        got[start.isoformat()] = value or {}
    if list(got) != sorted(got, reverse=True):
        problems.append(f"windows are not newest first: {list(got)}")
    if DATA_TYPES[plan.data_type].kind is Kind.ROLLUP_ONLY:
        for day in sorted(set(got) & set(plan.daily_truth)):
            value, expected = rolled_up_totals(got[day]), rolled_up_totals(plan.daily_truth[day])
            if _totals_mismatch(value, expected, MEAN_TOLERANCE):
                problems.append(f"{day}: {value}, the ground truth {expected}")
        buckets = dict.fromkeys(plan.daily_truth)
    else:
        buckets = plan.daily_buckets()
        if DATA_TYPES[plan.data_type].kind is not Kind.DAILY:
            for day in sorted(set(got) & set(buckets)):
                problems += [
                    f"{day}: {p}"
                    for p in rollup_value_mismatches(plan.data_type, buckets[day], got[day])
                ]
    if sorted(got) != sorted(buckets):
        problems.append(f"days with data: {sorted(got)}, the ground truth {sorted(buckets)}")
    return problems


# -- users/me resources ---------------------------------------------------------------------


def check_identity(sim: Simulator, user: str, identity: dict) -> list[str]:
    held = sim.users[user]
    expected = {
        "name": "users/me/identity",
        "healthUserId": held.health_user_id,
        "legacyUserId": held.legacy_user_id,
    }
    return [] if identity == expected else [f"identity {identity}, expected {expected}"]


def check_profile(sim: Simulator, user: str, profile: dict) -> list[str]:
    held = sim.users[user]
    expected = {
        "name": f"users/{held.health_user_id}/profile",
        "age": held.age,
        "membershipStartDate": {
            "year": held.history_start.year,
            "month": held.history_start.month,
            "day": held.history_start.day,
        },
        "autoWalkingStrideLengthMm": held.walk_stride_mm,
        "autoRunningStrideLengthMm": held.run_stride_mm,
    }
    return [
        f"profile.{k}: {profile.get(k)!r}, expected {v!r}"
        for k, v in expected.items()
        if profile.get(k) != v
    ]


def check_settings(sim: Simulator, user: str, settings: dict) -> list[str]:
    held = sim.users[user]
    offset = int(NOW.astimezone(ZoneInfo(held.time_zone)).utcoffset().total_seconds())
    problems = []
    if settings.get("name") != f"users/{held.health_user_id}/settings":
        problems.append(f"settings.name {settings.get('name')!r}")
    if settings.get("timeZone") != held.time_zone:
        problems.append(f"settings.timeZone {settings.get('timeZone')!r}, not {held.time_zone}")
    # A zero offset may be left out (the simulator's reading) or sent as "0s".
    if settings.get("utcOffset", "0s") != f"{offset}s":
        problems.append(f"settings.utcOffset {settings.get('utcOffset')!r}, expected {offset}s")
    return problems


def check_irn_profile(sim: Simulator, user: str, irn: dict) -> list[str]:
    held = sim.users[user]
    problems = []
    if irn.get("name") not in ("users/me/irnProfile", f"users/{held.health_user_id}/irnProfile"):
        problems.append(f"irnProfile.name {irn.get('name')!r}")
    if "updateTime" in irn and parse_time(irn["updateTime"]) > NOW:
        problems.append(f"irnProfile.updateTime {irn['updateTime']} is after now ({NOW})")
    if irn.get("enrollmentStatus") and not irn.get("onboardingStatus"):
        problems.append("irnProfile: enrolled without being onboarded")
    return problems


def check_paired_device(sim: Simulator, user: str, device: dict) -> list[str]:
    held = sim.users[user]
    problems = []
    prefix = f"users/{held.health_user_id}/pairedDevices/"
    name = device.get("name", "")
    if not name.startswith(prefix) or "/" in name[len(prefix) :] or name == prefix:
        problems.append(f"pairedDevice.name {name!r} is not under {prefix}")
    if "lastSyncTime" in device and parse_time(device["lastSyncTime"]) > NOW:
        problems.append(f"pairedDevice.lastSyncTime {device['lastSyncTime']} is after now")
    if not 0 <= device.get("batteryLevel", 0) <= 100:
        problems.append(f"pairedDevice.batteryLevel {device['batteryLevel']} is not a percentage")
    return problems


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim():
    """One simulator per module: 4 users, seed 0, frozen at START (read-only)."""
    with Simulator(config()) as running:
        yield running


@pytest.fixture(scope="module")
def access_token(sim):
    """`access_token("user-2")`: a token with every read scope, through the consent flow."""
    held: dict[str, str] = {}

    def token(user: str) -> str:
        if user not in held:
            held[user] = authorize(sim, user, READ_SCOPES).access_token
        return held[user]

    return token


@pytest.fixture(scope="module")
def cases(sim):
    """`cases("steps")`: the type's Case, chosen once per module."""
    held: dict[str, Case] = {}

    def case(data_type: str) -> Case:
        if data_type not in held:
            held[data_type] = make_case(sim, data_type)
        return held[data_type]

    return case


# -- errors ------------------------------------------------------------------------------------

# A point id of the right shape that no simulated point has.
MISSING_POINT_ID = "0000-not-a-point"
# A filter whose civil date cannot be: the API answers INVALID_DATA_POINT_FILTER.
BAD_FILTER = 'steps.interval.civil_start_time >= "2026-13-01"'
DOMAIN = "health.googleapis.com"


def error_info(details: list[dict]) -> list[dict]:
    return [d for d in details if d.get("@type") == "type.googleapis.com/google.rpc.ErrorInfo"]


def field_violations(details: list[dict]) -> list[str]:
    """The fields a google.rpc.BadRequest detail names."""
    return [
        violation["field"]
        for d in details
        if d.get("@type") == "type.googleapis.com/google.rpc.BadRequest"
        for violation in d.get("fieldViolations", [])
    ]


# -- exercise TCX ------------------------------------------------------------------------------


def exercises_to_export(sim: Simulator, user: str) -> list[dict]:
    """The user's newest exercise with GPS and newest without, over the whole history."""
    truth = sim.ground_truth(user, "exercise", HISTORY_START, user_today(sim, user))
    newest: dict[bool, dict] = {}
    for entry in truth:  # oldest first: later entries replace earlier ones
        point = entry["dataPoint"]
        newest[point["exercise"].get("exerciseMetadata", {}).get("hasGps", False)] = point
    return [newest[gps] for gps in sorted(newest)]


_TCX = "{http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2}"


def check_tcx(point: dict, tcx: str, partial: bool) -> list[str]:
    """How an exported TCX document disagrees with its exercise.

    One activity, starting (Id and first lap) when the exercise starts; trackpoints when the
    exercise has GPS or `partialData` asked for them, positions only with GPS.
    """
    # The TCX comes from the simulator on loopback, not from an untrusted party.
    root = ET.fromstring(tcx.encode("utf-8"))  # noqa: S314
    activities = root.findall(f"{_TCX}Activities/{_TCX}Activity")
    if len(activities) != 1:
        return [f"{len(activities)} activities, expected 1"]
    start = parse_time(point["exercise"]["interval"]["startTime"])
    problems = []
    identifier = activities[0].find(f"{_TCX}Id")
    if identifier is None or parse_time(identifier.text) != start:
        problems.append(f"Id {getattr(identifier, 'text', None)!r}, the exercise starts {start}")
    laps = activities[0].findall(f"{_TCX}Lap")
    if not laps or parse_time(laps[0].get("StartTime")) != start:
        problems.append(f"first lap {laps[0].get('StartTime') if laps else None!r} != {start}")
    gps = point["exercise"].get("exerciseMetadata", {}).get("hasGps", False)
    trackpoints = root.findall(f".//{_TCX}Trackpoint")
    positions = root.findall(f".//{_TCX}Trackpoint/{_TCX}Position")
    if bool(trackpoints) != (gps or partial):
        problems.append(f"{len(trackpoints)} trackpoints (GPS {gps}, partialData {partial})")
    if bool(positions) != gps:
        problems.append(f"{len(positions)} positions (GPS {gps})")
    return problems
