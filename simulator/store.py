"""The simulator's view of its users' data: what is visible now, edits, deletions.

Generated points (`simulator.points`) are immutable; this store lays the
simulator clock (points in the future are not there yet), edits and deletions
on top, reconciles sources, rolls data up, and answers ground-truth questions.
"""

from __future__ import annotations

import bisect
import collections
import copy
import datetime as dt
import functools
import threading
from collections.abc import Callable, Iterator

from simulator import points as points_mod
from simulator import render, synth, timefmt
from simulator.catalog import DATA_TYPES, Kind
from simulator.synth import Point, User

DAY = dt.timedelta(days=1)
_DELETED = object()
_ALL_SOURCES = synth.SOURCE_FAMILIES["all-sources"]
# Reconciled or source-filtered day lists kept (a few MB each for a day of heart rate).
_STREAMS_KEPT = 256
_SOURCE_RANK = {s: i for i, s in enumerate(synth.SOURCE_PRIORITY)}
# Rollup-only types aggregated from every minute's calories.
_CALORIE_TYPES = frozenset({"total-calories", "calories-in-heart-rate-zone"})
# Types whose points are periods that a rollup splits among the windows they overlap.
_SPLIT_BY_WINDOW = frozenset({"sedentary-period"})
# Days of daily values a personal range is drawn from (dailyRollUp of these types).
PERSONAL_RANGE_DAYS = {"daily-resting-heart-rate": 30, "daily-heart-rate-variability": 30}


@functools.lru_cache(maxsize=4096)
def _all_visible_from(user: User, data_type: str, day: dt.date, hr_spacing_seconds: int) -> int:
    """The instant from which every generated point of a civil day is visible."""
    kind = DATA_TYPES[data_type].kind
    if kind is Kind.DAILY:
        return timefmt.civil_midnight(day + DAY, user.zone)
    generated = points_mod.points_for_day(user, data_type, day, hr_spacing_seconds)
    if kind is Kind.SAMPLE:
        return max((p.start for p in generated), default=0)
    return max((p.end for p in generated), default=0)


def _deep_merge(base: dict, patch: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        elif value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _merge_patches(held: dict, patch: dict) -> dict:
    """Combines two edits of a point; unlike `_deep_merge` it keeps None (a removal)."""
    out = copy.deepcopy(held)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge_patches(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class PointNotFound(KeyError):
    pass


class DataStore:
    """Thread-safe access to the synthetic data of all users.

    Args:
        users: synthetic users by user id.
        hr_spacing_seconds: heart-rate sample spacing.
        now: callable returning the simulator's current epoch seconds.
    """

    def __init__(self, users: dict[str, User], hr_spacing_seconds: int, now: Callable[[], float]):
        self.users = users
        self.hr_spacing_seconds = hr_spacing_seconds
        self.now = now
        self._overrides: dict[tuple[str, str, str], object] = {}
        # (user id, data type) of every edit or deletion: the other days' lists are cached.
        self._changed: set[tuple[str, str]] = set()
        self._streams: dict[tuple, tuple[Point, ...]] = {}
        self._lock = threading.Lock()

    # -- points -------------------------------------------------------------

    def today(self, user: User) -> dt.date:
        return timefmt.local_datetime(self.now(), user.zone).date()

    def _visible(self, user: User, data_type: str, p: Point, now: float) -> bool:
        kind = DATA_TYPES[data_type].kind
        if kind is Kind.DAILY:
            return timefmt.civil_midnight(p.day + DAY, user.zone) <= now
        if kind is Kind.SAMPLE:
            return p.start <= now
        return p.end <= now

    def _complete(self, user: User, data_type: str, day: dt.date, now: float) -> bool:
        """Whether a day's points are all visible now and none was ever edited or deleted."""
        return (user.user_id, data_type) not in self._changed and now >= _all_visible_from(
            user, data_type, day, self.hr_spacing_seconds
        )

    def day_points(self, user: User, data_type: str, day: dt.date) -> list[Point]:
        """Visible, undeleted points of one civil day, newest first."""
        if day < user.history_start or day > self.today(user):
            return []
        now = self.now()
        generated = points_mod.points_for_day(user, data_type, day, self.hr_spacing_seconds)
        if self._complete(user, data_type, day, now):
            return list(generated)
        overrides = self._overrides
        return [
            p
            for p in generated
            if self._visible(user, data_type, p, now)
            and overrides.get((user.user_id, data_type, p.point_id)) is not _DELETED
        ]

    def day_stream(
        self,
        user: User,
        data_type: str,
        day: dt.date,
        sources: frozenset[str] = _ALL_SOURCES,
        reconciled: bool = False,
    ) -> tuple[Point, ...]:
        """`day_points` of the given sources, reconciled if asked: what list pages read.

        Kept once the day is complete (every point visible, none edited or deleted),
        so the pages of a long read each find their days ready.
        """
        key = (user.user_id, data_type, day, sources, reconciled)
        held = self._streams.get(key)
        if held is not None:
            if self._complete(user, data_type, day, self.now()):
                return held
            with self._lock:
                self._streams.pop(key, None)
        points = self.day_points(user, data_type, day)
        if sources != _ALL_SOURCES:
            points = [p for p in points if p.source in sources]
        if reconciled:
            points = self.reconcile(points)
        stream = tuple(points)
        if stream and self._complete(user, data_type, day, self.now()):
            with self._lock:
                if len(self._streams) >= _STREAMS_KEPT:
                    self._streams.pop(next(iter(self._streams)))  # the oldest
                self._streams[key] = stream
        return stream

    def iter_points(
        self, user: User, data_type: str, first_day: dt.date | None, last_day: dt.date | None
    ) -> Iterator[Point]:
        """Visible points between two civil days (inclusive, None = open), newest first."""
        first = max(first_day or user.history_start, user.history_start)
        day = min(last_day or self.today(user), self.today(user))
        while day >= first:
            yield from self.day_points(user, data_type, day)
            day -= DAY

    def body(self, user: User, data_type: str, p: Point) -> dict:
        """The rendered value object of a point, with any edit applied."""
        body = render.render_body(user, data_type, p)
        patch = self._overrides.get((user.user_id, data_type, p.point_id))
        if isinstance(patch, dict):
            body = _deep_merge(body, patch)
        return body

    def point_json(self, user: User, data_type: str, p: Point, reconciled: bool) -> str:
        """A list or reconcile point as compact JSON text, with any edit applied."""
        if (user.user_id, data_type) in self._changed and self.edited(user, data_type, p):
            body = self.body(user, data_type, p)
            return render.compact_json(render.render_point(user, data_type, p, body, reconciled))
        return render.point_json(user, data_type, p, reconciled)

    def edited(self, user: User, data_type: str, p: Point) -> bool:
        return isinstance(self._overrides.get((user.user_id, data_type, p.point_id)), dict)

    @staticmethod
    def reconcile(points: list[Point]) -> list[Point]:
        """Keeps one point per start instant: the first source in SOURCE_PRIORITY.

        Of points with one start, the first of the best-ranked source stays, in place.
        """
        rank = _SOURCE_RANK
        out: list[Point] = []
        held = None
        for p in points:
            if held is None or p.start < held.start:
                if held is not None:
                    out.append(held)
                held = p
            elif p.start == held.start:
                if rank[p.source] < rank[held.source]:
                    held = p
            else:
                break  # not newest first: equal starts may lie apart
        else:
            if held is not None:
                out.append(held)
            return out
        best: dict[int, Point] = {}
        for p in points:
            held = best.get(p.start)
            if held is None or rank[p.source] < rank[held.source]:
                best[p.start] = p
        keep = {id(p) for p in best.values()}
        return [p for p in points if id(p) in keep]

    def find(self, user: User, data_type: str, point_id: str, day: dt.date | None) -> Point:
        """A visible point by id; searches backwards from today when `day` is None.

        Raises:
            PointNotFound: no such visible point.
        """
        days = [day] if day else None
        if days is None:
            days = []
            d = self.today(user)
            while d >= user.history_start:
                days.append(d)
                d -= DAY
        for d in days:
            for p in self.day_points(user, data_type, d):
                if p.point_id == point_id:
                    return p
        raise PointNotFound(point_id)

    # -- edits --------------------------------------------------------------

    def edit_point(
        self, user_id: str, data_type: str, point_id: str, day: dt.date, patch: dict
    ) -> dict:
        """Changes values of a point upstream (a later fetch sees the new values).

        Args:
            patch: merged into the point's value object; a None value removes a field.

        Returns:
            The point's new value object.
        """
        user = self.users[user_id]
        p = self.find(user, data_type, point_id, day)
        with self._lock:
            key = (user_id, data_type, point_id)
            held = self._overrides.get(key)
            self._overrides[key] = _merge_patches(held if isinstance(held, dict) else {}, patch)
            self._changed.add((user_id, data_type))
        return self.body(user, data_type, p)

    def delete_point(self, user_id: str, data_type: str, point_id: str, day: dt.date) -> None:
        """Deletes a point upstream (later fetches and rollups no longer see it)."""
        user = self.users[user_id]
        self.find(user, data_type, point_id, day)
        with self._lock:
            self._overrides[(user_id, data_type, point_id)] = _DELETED
            self._changed.add((user_id, data_type))

    # -- rollups ------------------------------------------------------------

    def _measure(self, user: User, data_type: str, p: Point) -> object:
        """The quantity a rollup aggregates for one point (edits included)."""
        if (user.user_id, data_type) in self._changed and self.edited(user, data_type, p):
            body = self.body(user, data_type, p)
            match data_type:
                case "steps" | "floors":
                    return int(body.get("count", "0"))
                case "distance":
                    return int(body.get("millimeters", "0"))
                case "active-zone-minutes":
                    return (body.get("heartRateZone"), int(body.get("activeZoneMinutes", "0")))
                case "heart-rate":
                    return int(body.get("beatsPerMinute", "0"))
                case "weight":
                    return body.get("weightGrams", 0.0)
                case "body-fat":
                    return body.get("percentage", 0.0)
                case "blood-glucose":
                    return body.get("bloodGlucoseMilligramsPerDeciliter", 0.0)
                case "core-body-temperature":
                    return body.get("temperatureCelsius", 0.0)
                case "active-energy-burned":
                    return body.get("kcal", 0.0)
                case "altitude":
                    return int(body.get("gainMillimeters", "0"))
                case "swim-lengths-data":
                    return int(body.get("strokeCount", "0"))
                case "run-vo2-max":
                    return body.get("runVo2Max", 0.0)
                case "activity-level":
                    return body.get("activityLevelType")
                case "time-in-heart-rate-zone":
                    return body.get("heartRateZoneType")
        v = p.values
        match data_type:
            case "heart-rate" | "weight" | "core-body-temperature" | "daily-resting-heart-rate":
                return v[0]
            case "daily-heart-rate-variability":
                return v[0]
            case "blood-glucose":
                return v.mg_dl
            case "swim-lengths-data":
                return v[0]
            case "sedentary-period":
                return p.end - p.start
        return v

    def rollup_values(
        self,
        user: User,
        data_type: str,
        windows: list[tuple[int, int]],
        sources: frozenset[str] = synth.SOURCE_FAMILIES["all-sources"],
    ) -> list[dict | None]:
        """Aggregates reconciled data per physical window [start, end); None = no data.

        Args:
            sources: the sources of the request's data source family.
        """
        if not windows:
            return []
        if data_type in _CALORIE_TYPES and "watch" not in sources:
            return [None] * len(windows)  # derived from the watch's data only
        if data_type in PERSONAL_RANGE_DAYS:
            return self._personal_ranges(user, data_type, windows, sources)
        lo, hi = windows[0][0], windows[-1][1]
        first = timefmt.local_datetime(lo, user.zone).date() - DAY
        last = timefmt.local_datetime(hi, user.zone).date() + DAY
        buckets: list[list] = [[] for _ in windows]
        starts = [w[0] for w in windows]
        if data_type in _CALORIE_TYPES:
            now = self.now()
            day = max(first, user.history_start)
            while day <= min(last, self.today(user)):
                if data_type == "total-calories":
                    measures = (
                        (start, kcal) for start, kcal in points_mod.calorie_minutes(user, day)
                    )
                else:
                    measures = (
                        (start, (zone, kcal))
                        for start, zone, kcal in points_mod.zone_calorie_minutes(user, day)
                    )
                for start, measure in measures:
                    if lo <= start < hi and start + 60 <= now:
                        i = bisect.bisect_right(starts, start) - 1
                        if start < windows[i][1]:
                            buckets[i].append(measure)
                day += DAY
        else:
            for d in range((last - first).days + 1):
                day = first + dt.timedelta(days=d)
                points = [p for p in self.day_points(user, data_type, day) if p.source in sources]
                for p in self.reconcile(points):
                    if data_type in _SPLIT_BY_WINDOW:
                        # A period counts in each window by the part of it that lies there.
                        if p.start < hi and p.end > lo:
                            i = max(0, bisect.bisect_right(starts, p.start) - 1)
                            while i < len(windows) and windows[i][0] < p.end:
                                w_start, w_end = windows[i]
                                part = min(p.end, w_end) - max(p.start, w_start)
                                if part > 0:
                                    buckets[i].append(part)
                                i += 1
                    elif lo <= p.start < hi:
                        i = bisect.bisect_right(starts, p.start) - 1
                        if p.start < windows[i][1]:
                            buckets[i].append(self._measure(user, data_type, p))
        return [aggregate(data_type, b) if b else None for b in buckets]

    def _personal_ranges(
        self, user: User, data_type: str, windows: list[tuple[int, int]], sources: frozenset[str]
    ) -> list[dict | None]:
        """The personal range of a daily type at the end of each window with a value.

        The range is the mean of the daily values of the `PERSONAL_RANGE_DAYS` days up
        to the window's last day, plus and minus their standard deviation (at least
        one unit, so a single day still gives a range).
        """
        span = PERSONAL_RANGE_DAYS[data_type]
        out: list[dict | None] = []
        for w_start, w_end in windows:
            first = timefmt.local_datetime(w_start, user.zone).date()
            last = timefmt.local_datetime(w_end - 1, user.zone).date()
            daily: dict[dt.date, float] = {}
            day = last - dt.timedelta(days=span - 1)
            while day <= last:
                for p in self.day_points(user, data_type, day):
                    if p.source in sources:
                        daily[day] = float(self._measure(user, data_type, p))
                day += DAY
            if not any(first <= d <= last for d in daily):
                out.append(None)
                continue
            values = list(daily.values())
            mean = sum(values) / len(values)
            spread = max(1.0, (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5)
            out.append(aggregate(data_type, [round(mean - spread, 1), round(mean + spread, 1)]))
        return out

    # -- ground truth -------------------------------------------------------

    def ground_truth(
        self,
        user_id: str,
        data_type: str,
        start_date: dt.date,
        end_date: dt.date,
        reconciled: bool = False,
    ) -> list[dict]:
        """Exactly the points the API holds now for a user, type and civil-day window.

        Args:
            start_date, end_date: inclusive civil dates (the attribution day of each point).
            reconciled: the reconciled stream instead of every source's points.

        Returns:
            `{"id", "civilDate", "dataPoint"}` dicts, oldest first; `dataPoint` is
            exactly what `list` (or `reconcile`) returns for the point. For
            `total-calories` (rollup-only) one `{"civilDate", "kcal"}` per day; for
            `calories-in-heart-rate-zone` one `{"civilDate", "caloriesInHeartRateZones"}`.
        """
        user = self.users[user_id]
        out = []
        day = start_date
        while day <= end_date:
            if data_type in _CALORIE_TYPES:
                values = self.daily_values(user, data_type, day, 1, 1)
                if values[0] is not None and data_type == "total-calories":
                    out.append({"civilDate": day.isoformat(), "kcal": values[0]["kcalSum"]})
                elif values[0] is not None:
                    out.append({"civilDate": day.isoformat(), **values[0]})
            else:
                pts = self.day_points(user, data_type, day)
                if reconciled:
                    pts = self.reconcile(pts)
                for p in reversed(pts):
                    body = self.body(user, data_type, p)
                    out.append(
                        {
                            "id": p.point_id,
                            "civilDate": day.isoformat(),
                            "dataPoint": render.render_point(user, data_type, p, body, reconciled),
                        }
                    )
            day += DAY
        return out

    def daily_values(
        self,
        user: User,
        data_type: str,
        start: dt.date,
        days: int,
        window_days: int,
        sources: frozenset[str] = synth.SOURCE_FAMILIES["all-sources"],
    ) -> list[dict | None]:
        """dailyRollUp aggregation: civil windows of `window_days` from `start`."""
        windows = []
        for i in range(0, days, window_days):
            w_start = start + dt.timedelta(days=i)
            w_end = start + dt.timedelta(days=min(days, i + window_days))
            windows.append(
                (
                    timefmt.civil_midnight(w_start, user.zone),
                    timefmt.civil_midnight(w_end, user.zone),
                )
            )
        return self.rollup_values(user, data_type, windows, sources)


def aggregate(data_type: str, values: list) -> dict:
    """Rollup value object of a window from its points' measures.

    Rollup sums have explicit presence in the API's protos, so a zero is sent.
    """
    match data_type:
        case "steps" | "floors":
            return {"countSum": str(sum(values))}
        case "distance":
            return {"millimetersSum": str(sum(values))}
        case "active-zone-minutes":
            sums = {"FAT_BURN": 0, "CARDIO": 0, "PEAK": 0}
            for zone, amount in values:
                sums[zone] = sums.get(zone, 0) + amount
            fields = {
                "sumInFatBurnHeartZone": sums["FAT_BURN"],
                "sumInCardioHeartZone": sums["CARDIO"],
                "sumInPeakHeartZone": sums["PEAK"],
            }
            return {k: str(v) for k, v in fields.items()}
        case "heart-rate":
            return {
                "beatsPerMinuteAvg": round(sum(values) / len(values), 3),
                "beatsPerMinuteMax": float(max(values)),
                "beatsPerMinuteMin": float(min(values)),
            }
        case "weight":
            return {"weightGramsAvg": round(sum(values) / len(values), 3)}
        case "body-fat":
            return {"bodyFatPercentageAvg": round(sum(values) / len(values), 3)}
        case "total-calories" | "active-energy-burned":
            return {"kcalSum": round(sum(values), 3)}
        case "calories-in-heart-rate-zone":
            sums: dict[str, float] = collections.defaultdict(float)
            for zone, kcal in values:
                sums[zone] += kcal
            return {
                "caloriesInHeartRateZones": [
                    {"heartRateZone": zone, "kcal": round(sums[zone], 3)}
                    for zone in ("LIGHT", "MODERATE", "VIGOROUS", "PEAK")
                    if zone in sums
                ]
            }
        case "daily-resting-heart-rate":
            return {"beatsPerMinuteMin": values[0], "beatsPerMinuteMax": values[1]}
        case "daily-heart-rate-variability":
            return {
                "averageHeartRateVariabilityMillisecondsMin": values[0],
                "averageHeartRateVariabilityMillisecondsMax": values[1],
            }
        case "active-minutes":
            levels = collections.Counter(values)
            return {
                "activeMinutesRollupByActivityLevel": [
                    {"activityLevel": level, "activeMinutesSum": str(levels[level])}
                    for level in ("LIGHT", "MODERATE", "VIGOROUS")
                    if levels[level]
                ]
            }
        case "activity-level":
            levels = collections.Counter(values)
            return {
                "activityLevelRollupsByActivityLevelType": [
                    {"activityLevelType": level, "totalDuration": f"{60 * levels[level]}s"}
                    for level in ("SEDENTARY", "LIGHTLY_ACTIVE", "MODERATELY_ACTIVE", "VERY_ACTIVE")
                    if levels[level]
                ]
            }
        case "time-in-heart-rate-zone":
            zones = collections.Counter(values)
            return {
                "timeInHeartRateZones": [
                    {"heartRateZone": zone, "duration": f"{60 * zones[zone]}s"}
                    for zone in ("LIGHT", "MODERATE", "VIGOROUS", "PEAK")
                    if zones[zone]
                ]
            }
        case "sedentary-period":
            return {"durationSum": f"{sum(values)}s"}
        case "altitude":
            return {"gainMillimetersSum": str(sum(values))}
        case "swim-lengths-data":
            return {"strokeCountSum": str(sum(values))}
        case "run-vo2-max":
            return {
                "rateAvg": round(sum(values) / len(values), 3),
                "rateMax": max(values),
                "rateMin": min(values),
            }
        case "blood-glucose":
            return {"bloodGlucoseMilligramsPerDeciliterAvg": round(sum(values) / len(values), 3)}
        case "core-body-temperature":
            return {
                "temperatureCelsiusAvg": round(sum(values) / len(values), 3),
                "temperatureCelsiusMax": max(values),
                "temperatureCelsiusMin": min(values),
            }
    raise KeyError(data_type)
