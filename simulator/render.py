"""Renders simulated points as Google Health API v4 JSON (proto3 JSON) and TCX.

proto3 JSON rules followed throughout: camelCase keys, int64 values as JSON
strings, durations as `"Ns"`, timestamps in UTC with `Z`, and scalar fields
holding their default value (0, "", false, the `*_UNSPECIFIED` enum) omitted.
A message that is set is sent even when all its fields are zero, as the live
API does: `"utcOffset": "0s"` in UTC, `"time": {}` at midnight, `"device": {}`,
`"exerciseMetadata": {}`, `"peakTime": "0s"`.

Two renderings of a point give the same bytes: `render_point` builds the
dict (ground truth, `get`, edited points), `point_json` writes the compact
JSON text directly (list and reconcile pages, where nearly every point of a
run is rendered; it skips the dicts and the encoder for the dense types).
`tests/simulator/test_rendering.py` holds them equal.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from json.encoder import encode_basestring_ascii as _string
from xml.sax.saxutils import escape

from simulator import point_bodies, synth, timefmt
from simulator.catalog import DATA_TYPES
from simulator.points import ExerciseValues
from simulator.synth import Point, SleepPlan, User

STAGE_ORDER = ("AWAKE", "LIGHT", "DEEP", "REM", "ASLEEP", "RESTLESS")


def _nonzero(**fields) -> dict:
    """Drops proto3 default values of scalar fields (never use it on messages)."""
    return {k: v for k, v in fields.items() if v not in (None, 0, 0.0, "", "0", False)}


def _interval(user: User, p: Point) -> dict:
    return timefmt.interval_json(p.start, p.end, user.zone)


def _session_interval(user: User, p: Point) -> dict:
    """Sleep's and exercise's interval: the live API sends no civil times with them."""
    return timefmt.interval_json(p.start, p.end, user.zone, civil=False)


def _sample(user: User, p: Point) -> dict:
    return timefmt.sample_time_json(p.start, user.zone)


def _sleep_body(user: User, p: Point) -> dict:
    sleep: SleepPlan = p.values
    zone = user.zone
    stamp = timefmt.rfc3339(sleep.end + 600)
    stages = [
        {
            "type": kind,
            **timefmt.segment_json(start, end, zone),
            "createTime": stamp,
            "updateTime": stamp,
        }
        for kind, start, end in sleep.stages
    ]
    minutes: dict[str, int] = {}
    counts: dict[str, int] = {}
    for kind, start, end in sleep.stages:
        minutes[kind] = minutes.get(kind, 0) + (end - start) // 60
        counts[kind] = counts.get(kind, 0) + 1
    awake_kinds = {"AWAKE", "RESTLESS"}
    asleep = sum(v for k, v in minutes.items() if k not in awake_kinds)
    in_period = (sleep.end - sleep.start) // 60
    first_asleep = next((s for k, s, _ in sleep.stages if k not in awake_kinds), sleep.start)
    # SleepSummary fields have explicit presence: zeros are sent, not omitted.
    summary = {
        "minutesAsleep": str(asleep),
        "minutesAwake": str(minutes.get("AWAKE", 0)),
        "minutesInSleepPeriod": str(in_period),
        "minutesToFallAsleep": str((first_asleep - sleep.start) // 60),
        "minutesAfterWakeUp": str(
            (sleep.stages[-1][2] - sleep.stages[-1][1]) // 60
            if sleep.stages[-1][0] == "AWAKE"
            else 0
        ),
    }
    summary["stagesSummary"] = [
        {"type": kind, "minutes": str(minutes[kind]), "count": str(counts[kind])}
        for kind in STAGE_ORDER
        if kind in minutes
    ]
    if sleep.classic:
        status = "REJECTED_NAP" if not sleep.main else "REJECTED_COVERAGE"
    else:
        status = "SUCCEEDED"
    body = {
        "interval": _session_interval(user, p),
        "type": "CLASSIC" if sleep.classic else "STAGES",
        "stages": stages,
        "metadata": _nonzero(
            mainSleep=sleep.main, nap=not sleep.main, processed=True, stagesStatus=status
        ),
        "summary": summary,
        "createTime": stamp,
        "updateTime": stamp,
    }
    awakenings = [
        {
            "type": "AWAKE",
            **timefmt.segment_json(start, end, zone),
            "createTime": stamp,
            "updateTime": stamp,
        }
        for start, end in synth.short_awakenings(user, sleep)
    ]
    if awakenings:
        body["shortAwakenings"] = awakenings
    return body


def _exercise_body(user: User, p: Point) -> dict:
    v: ExerciseValues = p.values
    ex = v.plan
    zone = user.zone
    end = ex.start + ex.minutes * 60
    paused = sum(resume - pause for pause, resume in ex.pauses)
    active = ex.minutes * 60 - paused
    events = [{"exerciseEventType": "START", "eventTime": timefmt.rfc3339(ex.start)}]
    for pause, resume in ex.pauses:
        events.append({"exerciseEventType": "PAUSE", "eventTime": timefmt.rfc3339(pause)})
        events.append({"exerciseEventType": "RESUME", "eventTime": timefmt.rfc3339(resume)})
    events.append({"exerciseEventType": "STOP", "eventTime": timefmt.rfc3339(end)})
    for event in events:
        offset = timefmt.utc_offset_seconds(timefmt.parse_rfc3339(event["eventTime"]), zone)
        event["eventUtcOffset"] = timefmt.duration(offset)
    summary = _nonzero(
        caloriesKcal=v.calories_kcal,
        distanceMillimeters=float(v.distance_mm),
        steps=str(v.steps),
        averageHeartRateBeatsPerMinute=str(v.average_bpm),
        activeZoneMinutes=str(v.active_zone_minutes),
        elevationGainMillimeters=float(v.elevation_gain_mm),
    )
    if v.distance_mm:
        summary["averageSpeedMillimetersPerSecond"] = round(v.distance_mm / active, 3)
        summary["averagePaceSecondsPerMeter"] = round(active / (v.distance_mm / 1000), 4)
    if v.average_bpm:
        # A set message: every zone's Duration is sent, "0s" for a zone never reached.
        summary["heartRateZoneDurations"] = {
            field: timefmt.duration(sec) for field, sec in v.zone_seconds
        }
    body = {
        "interval": _session_interval(user, p),
        "exerciseType": ex.exercise_type,
        "displayName": ex.display_name,
        "activeDuration": timefmt.duration(active),
        "metricsSummary": summary,
        "exerciseEvents": events,
        "createTime": timefmt.rfc3339(end + 300),
        "updateTime": timefmt.rfc3339(end + 300),
    }
    if ex.exercise_type == "SWIMMING":
        metadata = {"poolLengthMillimeters": str(point_bodies.POOL_LENGTH_MM)}
    else:
        metadata = {"hasGps": True} if ex.gps else {}
    body["exerciseMetadata"] = metadata
    if ex.gps:
        splits = []
        for lap_start, lap_end, lap_mm in _laps(v):
            splits.append(
                {
                    **timefmt.segment_json(lap_start, lap_end, zone),
                    "splitType": "DISTANCE",
                    "metricsSummary": {"distanceMillimeters": float(lap_mm)},
                }
            )
        if splits:
            body["splits"] = splits
    return body


def _laps(v: ExerciseValues) -> list[tuple[int, int, int]]:
    """Kilometre laps (start, end, millimetres) of a GPS exercise; the last is partial."""
    ex = v.plan
    total = ex.minutes * 60
    if not v.distance_mm:
        return []
    per_second = v.distance_mm / total
    laps, t, done = [], 0, 0
    while done < v.distance_mm:
        length = min(1_000_000, v.distance_mm - done)
        seconds = max(1, round(length / per_second))
        stop = min(total, t + seconds)
        laps.append((ex.start + t, ex.start + stop, length))
        t, done = stop, done + length
    return laps


def render_body(user: User, data_type: str, p: Point) -> dict:
    """The type-specific value object of a point (what sits under its union key)."""
    v = p.values
    match data_type:
        case "steps" | "floors":
            return {"interval": _interval(user, p), "count": str(v)}
        case "distance":
            return {"interval": _interval(user, p), "millimeters": str(v)}
        case "active-zone-minutes":
            zone, amount = v
            return {
                "interval": _interval(user, p),
                "heartRateZone": zone,
                "activeZoneMinutes": str(amount),
            }
        case "heart-rate":
            bpm, motion = v
            sensor = "CHEST" if p.source == "chest" else "WRIST"
            return {
                "sampleTime": _sample(user, p),
                "beatsPerMinute": str(bpm),
                "metadata": {"motionContext": motion, "sensorLocation": sensor},
            }
        case "heart-rate-variability":
            rmssd, sdnn = v
            return {
                "sampleTime": _sample(user, p),
                "rootMeanSquareOfSuccessiveDifferencesMilliseconds": rmssd,
                "standardDeviationMilliseconds": sdnn,
            }
        case "daily-resting-heart-rate":
            bpm, method = v
            return {
                "date": timefmt.date_json(p.day),
                "beatsPerMinute": str(bpm),
                "dailyRestingHeartRateMetadata": {"calculationMethod": method},
            }
        case "daily-heart-rate-zones":
            return {
                "date": timefmt.date_json(p.day),
                "heartRateZones": [
                    {
                        "heartRateZoneType": kind,
                        "minBeatsPerMinute": str(lo),
                        "maxBeatsPerMinute": str(hi),
                    }
                    for kind, lo, hi in v
                ],
            }
        case "daily-heart-rate-variability":
            average, deep, entropy, non_rem = v
            return {
                "date": timefmt.date_json(p.day),
                "averageHeartRateVariabilityMilliseconds": average,
                "deepSleepRootMeanSquareOfSuccessiveDifferencesMilliseconds": deep,
                "entropy": entropy,
                "nonRemHeartRateBeatsPerMinute": str(non_rem),
            }
        case "daily-oxygen-saturation":
            average, lower, upper, stddev = v
            return {
                "date": timefmt.date_json(p.day),
                "averagePercentage": average,
                "lowerBoundPercentage": lower,
                "upperBoundPercentage": upper,
                "standardDeviationPercentage": stddev,
            }
        case "daily-respiratory-rate":
            return {"date": timefmt.date_json(p.day), "breathsPerMinute": v}
        case "daily-vo2-max":
            vo2, level, estimated, covariance = v
            return {
                "date": timefmt.date_json(p.day),
                "vo2Max": vo2,
                "cardioFitnessLevel": level,
                **({"estimated": True} if estimated else {}),
                "vo2MaxCovariance": covariance,
            }
        case "sleep":
            return _sleep_body(user, p)
        case "exercise":
            return _exercise_body(user, p)
        case "weight":
            grams, notes = v
            body = {"sampleTime": _sample(user, p), "weightGrams": grams}
            if notes:
                body["notes"] = notes
            return body
        case "body-fat":
            return {"sampleTime": _sample(user, p), "percentage": v}
    return point_bodies.render_body(user, data_type, p)


# The union key of each data type's value object (`heartRate`).
_JSON_KEYS = {name: t.json_key for name, t in DATA_TYPES.items()}


def point_name(user: User, data_type: str, p: Point) -> str:
    """Resource name of an identifiable point; names carry the numeric user id."""
    return f"users/{user.health_user_id}/dataTypes/{data_type}/dataPoints/{p.point_id}"


def render_point(user: User, data_type: str, p: Point, body: dict, reconciled: bool) -> dict:
    """A DataPoint (list/get) or ReconciledDataPoint (reconcile) around a rendered body."""
    out: dict = {}
    identifiable = DATA_TYPES[data_type].identifiable
    if reconciled:
        if identifiable:
            out["dataPointName"] = point_name(user, data_type, p)
    else:
        if identifiable:
            out["name"] = point_name(user, data_type, p)
        out["dataSource"] = synth.data_source(user.watch, data_type, p.source)
    out[_JSON_KEYS[data_type]] = body
    return out


# -- compact JSON text ---------------------------------------------------------

# What json.dumps(obj, separators=(",", ":")) writes, without building an encoder per call.
compact_json = json.JSONEncoder(separators=(",", ":")).encode


@functools.cache
def _date_text(days: int) -> str:
    day = timefmt.epoch_day(days)
    return f'{{"year":{day.year},"month":{day.month},"day":{day.day}}}'


@functools.cache
def _clock_text(seconds: int) -> str:
    """`,"time":{...}` of a civil time `seconds` after midnight; zero fields left out."""
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    fields = ",".join(
        f'"{key}":{value}'
        for key, value in (("hours", hours), ("minutes", minutes), ("seconds", seconds))
        if value
    )
    return f',"time":{{{fields}}}'


def _civil_text(civil_seconds: int) -> str:
    days, seconds = divmod(civil_seconds, 86400)
    return f'{{"date":{_date_text(days)}{_clock_text(seconds)}}}'


def _sample_text(epoch: int, zone) -> str:
    """`timefmt.sample_time_json` as compact JSON (whole-second instants)."""
    offset = timefmt.utc_offset_seconds(epoch, zone)
    return (
        f'{{"physicalTime":"{timefmt.rfc3339(epoch)}","utcOffset":"{offset}s",'
        f'"civilTime":{_civil_text(epoch + offset)}}}'
    )


def _interval_text(start: int, end: int, zone) -> str:
    """`timefmt.interval_json` as compact JSON (whole-second instants)."""
    start_offset = timefmt.utc_offset_seconds(start, zone)
    end_offset = timefmt.utc_offset_seconds(end, zone)
    return "".join(
        (
            f'{{"startTime":"{timefmt.rfc3339(start)}"',
            f',"startUtcOffset":"{start_offset}s"',
            f',"endTime":"{timefmt.rfc3339(end)}"',
            f',"endUtcOffset":"{end_offset}s"',
            f',"civilStartTime":{_civil_text(start + start_offset)}',
            f',"civilEndTime":{_civil_text(end + end_offset)}}}',
        )
    )


def _number(value) -> str:
    if type(value) is int or (type(value) is float and value - value == 0):
        return repr(value)  # what json writes for ints and finite floats
    return compact_json(value)


def _count_text(user: User, p: Point, field: str) -> str:
    return f'{{"interval":{_interval_text(p.start, p.end, user.zone)},"{field}":"{p.values}"}}'


def _active_zone_minutes_text(user: User, p: Point) -> str:
    zone, amount = p.values
    return (
        f'{{"interval":{_interval_text(p.start, p.end, user.zone)},'
        f'"heartRateZone":{_string(zone)},"activeZoneMinutes":"{amount}"}}'
    )


def _heart_rate_text(user: User, p: Point) -> str:
    bpm, motion = p.values
    sensor = "CHEST" if p.source == "chest" else "WRIST"
    return (
        f'{{"sampleTime":{_sample_text(p.start, user.zone)},"beatsPerMinute":"{bpm}",'
        f'"metadata":{{"motionContext":{_string(motion)},"sensorLocation":"{sensor}"}}}}'
    )


def _heart_rate_variability_text(user: User, p: Point) -> str:
    rmssd, sdnn = p.values
    return (
        f'{{"sampleTime":{_sample_text(p.start, user.zone)},'
        f'"rootMeanSquareOfSuccessiveDifferencesMilliseconds":{_number(rmssd)},'
        f'"standardDeviationMilliseconds":{_number(sdnn)}}}'
    )


def _interval_field_text(field: str, quote: bool):
    """Text of `{"interval":...,"<field>":<value>}` bodies: per-minute types with one value."""

    def text(user: User, p: Point) -> str:
        value = _string(p.values) if quote else _number(p.values)
        return f'{{"interval":{_interval_text(p.start, p.end, user.zone)},"{field}":{value}}}'

    return text


def _active_minutes_text(user: User, p: Point) -> str:
    return (
        f'{{"interval":{_interval_text(p.start, p.end, user.zone)},'
        f'"activeMinutesByActivityLevel":[{{"activityLevel":{_string(p.values)},'
        f'"activeMinutes":"1"}}]}}'
    )


def _oxygen_saturation_text(user: User, p: Point) -> str:
    return f'{{"sampleTime":{_sample_text(p.start, user.zone)},"percentage":{_number(p.values)}}}'


# Value objects written as text, for the types that have many points a day and no names
# (an identifiable type's point also carries its name: those go through render_point).
_BODY_TEXT = {
    name: text
    for name, text in {
        "steps": lambda user, p: _count_text(user, p, "count"),
        "floors": lambda user, p: _count_text(user, p, "count"),
        "distance": lambda user, p: _count_text(user, p, "millimeters"),
        "altitude": lambda user, p: _count_text(user, p, "gainMillimeters"),
        "active-zone-minutes": _active_zone_minutes_text,
        "heart-rate": _heart_rate_text,
        "heart-rate-variability": _heart_rate_variability_text,
        "active-energy-burned": _interval_field_text("kcal", quote=False),
        "basal-energy-burned": _interval_field_text("kcal", quote=False),
        "activity-level": _interval_field_text("activityLevelType", quote=True),
        "time-in-heart-rate-zone": _interval_field_text("heartRateZoneType", quote=True),
        "active-minutes": _active_minutes_text,
        "oxygen-saturation": _oxygen_saturation_text,
    }.items()
    if not DATA_TYPES[name].identifiable
}
_WHOLE_OR_NONE = (int, type(None))


@functools.cache
def _source_text(watch: str, data_type: str, source: str) -> str:
    return compact_json(synth.data_source(watch, data_type, source))


def point_json(user: User, data_type: str, p: Point, reconciled: bool) -> str:
    """`render_point` of an unedited point as compact JSON text, written directly.

    The same text as `compact_json(render_point(user, data_type, p,
    render_body(user, data_type, p), reconciled))`.
    """
    text = _BODY_TEXT.get(data_type)
    if text is None or type(p.start) is not int or type(p.end) not in _WHOLE_OR_NONE:
        body = render_body(user, data_type, p)
        return compact_json(render_point(user, data_type, p, body, reconciled))
    body = text(user, p)
    if reconciled:
        return f'{{"{_JSON_KEYS[data_type]}":{body}}}'
    source = _source_text(user.watch, data_type, p.source)
    return f'{{"dataSource":{source},"{_JSON_KEYS[data_type]}":{body}}}'


def page_json(points: list[str], next_token: str | None) -> bytes:
    """A list or reconcile answer from its points' JSON text: `{"dataPoints":[...],...}`."""
    fields = []
    if points:
        fields.append('"dataPoints":[' + ",".join(points) + "]")
    if next_token:
        fields.append('"nextPageToken":' + _string(next_token))
    return ("{" + ",".join(fields) + "}").encode()


def _tcx_time(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def render_tcx(user: User, p: Point, partial_data: bool, hr_spacing_seconds: int = 5) -> str:
    """Garmin TCX v2 document of an exercise, as `:exportExerciseTcx?alt=media` returns it.

    Exercises without GPS carry no trackpoints unless `partial_data` is true, in
    which case trackpoints carry time, heart rate and distance but no position.
    """
    v: ExerciseValues = p.values
    ex = v.plan
    sport = {"RUNNING": "Running", "WALKING": "Walking"}.get(ex.exercise_type, "Other")
    minutes = synth.day_minutes(user, p.day)
    plan = synth.day_plan(user, p.day)
    laps = _laps(v) or [(ex.start, ex.start + ex.minutes * 60, 0)]
    per_second = v.distance_mm / 1000 / (ex.minutes * 60)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/'
        'TrainingCenterDatabase/v2">',
        "<Activities>",
        f'<Activity Sport="{sport}">',
        f"<Id>{_tcx_time(ex.start)}</Id>",
    ]
    with_points = ex.gps or partial_data
    for lap_start, lap_end, lap_mm in laps:
        share = (lap_end - lap_start) / (ex.minutes * 60)
        parts.append(f'<Lap StartTime="{_tcx_time(lap_start)}">')
        parts.append(f"<TotalTimeSeconds>{lap_end - lap_start:.1f}</TotalTimeSeconds>")
        parts.append(f"<DistanceMeters>{lap_mm / 1000:.1f}</DistanceMeters>")
        parts.append(f"<Calories>{round(v.calories_kcal * share)}</Calories>")
        parts.append("<Intensity>Active</Intensity>")
        parts.append(
            "<TriggerMethod>Distance</TriggerMethod>"
            if ex.gps
            else "<TriggerMethod>Manual</TriggerMethod>"
        )
        if with_points:
            parts.append("<Track>")
            for t in range(lap_start, lap_end, hr_spacing_seconds):
                m = (t - plan.span_start) // 60
                bpm = synth.heart_rate_at(user, minutes, m, 0.0) if 0 <= m < plan.minutes else 0
                elapsed = t - ex.start
                parts.append("<Trackpoint>")
                parts.append(f"<Time>{_tcx_time(t)}</Time>")
                if ex.gps:
                    lat, lon = synth.track_position(user, ex, elapsed)
                    parts.append(
                        f"<Position><LatitudeDegrees>{lat}</LatitudeDegrees>"
                        f"<LongitudeDegrees>{lon}</LongitudeDegrees></Position>"
                    )
                    parts.append(
                        f"<AltitudeMeters>{30 + 5 * ((elapsed // 60) % 7):.1f}</AltitudeMeters>"
                    )
                parts.append(f"<DistanceMeters>{elapsed * per_second:.1f}</DistanceMeters>")
                if bpm:
                    parts.append(f"<HeartRateBpm><Value>{bpm}</Value></HeartRateBpm>")
                parts.append("</Trackpoint>")
            parts.append("</Track>")
        parts.append("</Lap>")
    parts.append(f"<Notes>{escape(ex.display_name)}</Notes>")
    parts += ["</Activity>", "</Activities>", "</TrainingCenterDatabase>"]
    return "\n".join(parts) + "\n"
