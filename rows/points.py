"""Per data type: which JSON fields become which columns of its table.

One `PointSpec` per point data type of `healthapi.datatypes` (`SPECS`): its plain columns
(column, JSON key path, parser), the function that writes its nested columns (sleep stages,
heart-rate zones, ECG device, IRN alert windows...), and every field of its discovery-document
schema that fitbeam reads or deliberately leaves out. `rows.datapoints` builds rows from
these plans; the fields a point carries beyond them are counted as unmapped
(`rows.datapoints.unmapped_fields`), and `tests/unit/test_discovery_coverage.py` holds the
plans to the discovery document.

Values follow `rows.values`. The API writes a field with explicit presence whenever it is
set, zero included (an interval's energy, an altitude gain, the sleep summary's minutes): when
such a field is left out it is unknown, so a required one refuses the point and an optional
one is NULL. The older count columns (step_count, floor_count, distance_millimeters,
active_zone_minutes) keep reading an absent count as 0. Enumerations are kept as strings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from healthapi import datatypes
from rows.values import (
    RowError,
    civil,
    count,
    instant,
    int_list,
    obj,
    objects,
    opt_bool,
    opt_float,
    opt_int,
    opt_seconds,
    opt_str,
    place_daily,
    place_interval,
    place_sample,
    place_session_end,
    str_list,
    to_float,
    to_int,
    to_str,
    utc_offset,
)

# --------------------------------------------------------------------------- nested values


def _segments(items: Any, path: str, typed: bool = True) -> list[dict]:
    """Sleep stages, short awakenings or out-of-bed segments -> records by start time.

    The API sends no civil times for them: they are computed from instant and offset.
    Out-of-bed segments have no stage type (`typed`).
    """
    out = []
    for i, item in enumerate(objects(items, path)):
        where = f"{path}[{i}]"
        item = obj(item, where)
        start = instant(item.get("startTime"), where + ".startTime")
        end = instant(item.get("endTime"), where + ".endTime")
        if end < start:
            raise RowError(where + ".endTime", f"{end.isoformat()} is before startTime")
        start_offset, start_shift = utc_offset(
            item.get("startUtcOffset"), where + ".startUtcOffset"
        )
        end_offset, end_shift = utc_offset(item.get("endUtcOffset"), where + ".endUtcOffset")
        segment = {"stage_type": to_str(item.get("type"), where + ".type")} if typed else {}
        out.append(
            {
                **segment,
                "start_time": start,
                "end_time": end,
                "start_utc_offset_seconds": start_offset,
                "end_utc_offset_seconds": end_offset,
                "civil_start_datetime": (start + start_shift).replace(tzinfo=None),
                "civil_end_datetime": (end + end_shift).replace(tzinfo=None),
            }
        )
    out.sort(key=lambda segment: segment["start_time"])
    return out


_SLEEP_SUMMARY = {
    "minutes_asleep": "minutesAsleep",
    "minutes_awake": "minutesAwake",
    "minutes_in_sleep_period": "minutesInSleepPeriod",
    "minutes_to_fall_asleep": "minutesToFallAsleep",
    "minutes_after_wake_up": "minutesAfterWakeUp",
}


def _sleep_details(body: dict, path: str, row: dict) -> None:
    summary = body.get("summary")
    # The summary's fields have explicit presence and the API sends a zero as 0: a field
    # it leaves out is unknown, not zero.
    summary = {} if summary is None else obj(summary, path + ".summary")
    for column, key in _SLEEP_SUMMARY.items():
        row[column] = opt_int(summary.get(key), f"{path}.summary.{key}")
    where = path + ".summary.stagesSummary"
    totals = []
    for i, total in enumerate(objects(summary.get("stagesSummary"), where)):
        at = f"{where}[{i}]"
        total = obj(total, at)
        totals.append(
            {
                "stage_type": to_str(total.get("type"), at + ".type"),
                "minutes": opt_int(total.get("minutes"), at + ".minutes"),
                "segment_count": opt_int(total.get("count"), at + ".count"),
            }
        )
    row["stages_summary"] = totals
    row["stages"] = _segments(body.get("stages"), path + ".stages")
    row["short_awakenings"] = _segments(body.get("shortAwakenings"), path + ".shortAwakenings")
    row["out_of_bed_segments"] = _segments(
        body.get("outOfBedSegments"), path + ".outOfBedSegments", typed=False
    )


def _heart_rate_zones(body: dict, path: str, row: dict) -> None:
    path = path + ".heartRateZones"
    out = []
    for i, zone in enumerate(objects(body.get("heartRateZones"), path)):
        where = f"{path}[{i}]"
        zone = obj(zone, where)
        out.append(
            {
                "zone_type": to_str(zone.get("heartRateZoneType"), where + ".heartRateZoneType"),
                "min_beats_per_minute": to_int(
                    zone.get("minBeatsPerMinute"), where + ".minBeatsPerMinute"
                ),
                "max_beats_per_minute": to_int(
                    zone.get("maxBeatsPerMinute"), where + ".maxBeatsPerMinute"
                ),
            }
        )
    row["zones"] = out


def _exercise_events(body: dict, path: str, row: dict) -> None:
    path = path + ".exerciseEvents"
    out = []
    for i, event in enumerate(objects(body.get("exerciseEvents"), path)):
        where = f"{path}[{i}]"
        event = obj(event, where)
        moment = instant(event.get("eventTime"), where + ".eventTime")
        offset, shift = utc_offset(event.get("eventUtcOffset"), where + ".eventUtcOffset")
        out.append(
            {
                "event_type": to_str(event.get("exerciseEventType"), where + ".exerciseEventType"),
                "event_time": moment,
                "utc_offset_seconds": offset,
                "civil_datetime": (moment + shift).replace(tzinfo=None),
            }
        )
    out.sort(key=lambda event: event["event_time"])
    row["exercise_events"] = out


def _active_minutes(body: dict, path: str, row: dict) -> None:
    path = path + ".activeMinutesByActivityLevel"
    out = []
    for i, level in enumerate(objects(body.get("activeMinutesByActivityLevel"), path)):
        where = f"{path}[{i}]"
        level = obj(level, where)
        name = level.get("activityLevel")
        out.append(
            {
                # proto3 leaves an enum at its zero value out.
                "activity_level": "ACTIVITY_LEVEL_UNSPECIFIED"
                if name is None
                else to_str(name, where + ".activityLevel"),
                "active_minutes": to_int(level.get("activeMinutes"), where + ".activeMinutes"),
            }
        )
    row["minutes_by_activity_level"] = out


def _alert_windows(body: dict, path: str, row: dict) -> None:
    path = path + ".alertWindows"
    out = []
    for i, window in enumerate(objects(body.get("alertWindows"), path)):
        where = f"{path}[{i}]"
        window = obj(window, where)
        start = instant(window.get("startTime"), where + ".startTime")
        end = instant(window.get("endTime"), where + ".endTime")
        start_offset, start_shift = utc_offset(
            window.get("startUtcOffset"), where + ".startUtcOffset"
        )
        end_offset, end_shift = utc_offset(window.get("endUtcOffset"), where + ".endUtcOffset")
        beats = []
        for j, beat in enumerate(objects(window.get("heartBeats"), where + ".heartBeats")):
            at = f"{where}.heartBeats[{j}]"
            beat = obj(beat, at)
            moment = instant(beat.get("physicalTime"), at + ".physicalTime")
            offset, shift = utc_offset(beat.get("utcOffset"), at + ".utcOffset")
            beats.append(
                {
                    "beat_time": moment,
                    "utc_offset_seconds": offset,
                    "civil_datetime": civil(
                        beat.get("civilTime"), moment, shift, at + ".civilTime"
                    ),
                    "beats_per_minute": to_int(beat.get("beatsPerMinute"), at + ".beatsPerMinute"),
                }
            )
        out.append(
            {
                "start_time": start,
                "end_time": end,
                "start_utc_offset_seconds": start_offset,
                "end_utc_offset_seconds": end_offset,
                "civil_start_datetime": civil(
                    window.get("civilStartTime"), start, start_shift, where + ".civilStartTime"
                ),
                "civil_end_datetime": civil(
                    window.get("civilEndTime"), end, end_shift, where + ".civilEndTime"
                ),
                "positive": opt_bool(window.get("positive"), where + ".positive"),
                "heart_beats": beats,
            }
        )
    row["alert_windows"] = out


# --------------------------------------------------------------------------- per-type table

Place = Callable[[dict, str, dict], None]
Convert = Callable[[Any, str], Any]
# The fields a point may hold at one level: the keys known there, and the known keys whose
# values (objects, or lists of objects) are checked in turn, each with the JSON path its
# fields are named by (`sleep.summary.`, `sleep.stages[].`). Civil times, dates and lists of
# numbers are leaves.
Shape = tuple[frozenset[str], str, tuple[tuple[str, "Shape", "Shape"], ...]]

_INTERVAL_PATHS = (
    "interval.startTime",
    "interval.endTime",
    "interval.startUtcOffset",
    "interval.endUtcOffset",
    "interval.civilStartTime",
    "interval.civilEndTime",
)
_SAMPLE_PATHS = ("sampleTime.physicalTime", "sampleTime.utcOffset", "sampleTime.civilTime")
_DAILY_PATHS = ("date",)
_TIME_PATHS = {
    datatypes.Kind.INTERVAL: _INTERVAL_PATHS,
    datatypes.Kind.SESSION: _INTERVAL_PATHS,
    datatypes.Kind.SAMPLE: _SAMPLE_PATHS,
    datatypes.Kind.DAILY: _DAILY_PATHS,
}


@dataclasses.dataclass(frozen=True)
class PointSpec:
    """How one data type becomes rows.

    Attributes:
        data_type: the API data type name.
        table: the BigQuery table.
        json_key: the DataPoint union key holding the value object.
        place: writes the time columns.
        fields: (column, key or key path, converter, JSON path for errors) per plain column.
        details: writes nested columns (sleep summary and stages, zones...), or None.
        has_id: the table has a data_point_id column.
        read_paths: every JSON path (below the value object; `[]` marks a list) the row
            reads, its time fields included.
        detail_columns: the columns `details` writes.
        not_mapped: fields of the type's schema left out on purpose, with the reason.
        shape: the known fields, level by level (from `read_paths` and `not_mapped`).
    """

    data_type: str
    table: str
    json_key: str
    place: Place
    fields: tuple[tuple[str, str | tuple[str, ...], Convert, str], ...]
    details: Place | None
    has_id: bool
    read_paths: tuple[str, ...]
    detail_columns: tuple[str, ...]
    not_mapped: Mapping[str, str]
    shape: Shape


def shape_of(paths, prefix: str) -> Shape:
    """The `Shape` of dotted paths (`stages[].type`: `[]` marks a list of objects).

    Args:
        paths: the known field paths below the level.
        prefix: the JSON path of the level, ending in `.` (`sleep.`).

    Returns:
        (known keys, prefix, nested levels): each nested level is (key, its shape when it
        holds an object, its shape when it holds a list of objects).
    """
    tree: dict = {}
    for path in paths:
        node = tree
        for part in path.replace("[]", "").split("."):
            node = node.setdefault(part, {})

    def build(node: dict, where: str) -> Shape:
        nested = tuple(
            (k, build(v, f"{where}{k}."), build(v, f"{where}{k}[].")) for k, v in node.items() if v
        )
        return frozenset(node), where, nested

    return build(tree, prefix)


def _spec(
    data_type: str,
    fields: tuple[tuple[str, str, Convert], ...] = (),
    details: Place | None = None,
    detail_paths: tuple[str, ...] = (),
    detail_columns: tuple[str, ...] = (),
    not_mapped: Mapping[str, str] | None = None,
) -> PointSpec:
    """A data type's row plan: its columns here, everything else from the catalogue.

    The table, the JSON key, whether points carry an id and how they sit in
    time (a session that belongs to the day it ends, as sleep does, is placed
    by its end) come from `healthapi.datatypes`, where each is written once.
    """
    catalogued = datatypes.spec(data_type)
    table, json_key = catalogued.table, catalogued.json_key
    place = place_session_end if catalogued.day_from_end else _PLACES[catalogued.kind]
    compiled = []
    for column, dotted, convert in fields:
        keys = tuple(dotted.split("."))
        compiled.append(
            (column, keys[0] if len(keys) == 1 else keys, convert, f"{json_key}.{dotted}")
        )
    read = (*_TIME_PATHS[catalogued.kind], *(dotted for _, dotted, _ in fields), *detail_paths)
    skipped = dict(not_mapped or {})
    return PointSpec(
        data_type,
        table,
        json_key,
        place,
        tuple(compiled),
        details,
        catalogued.identifiable,
        read,
        detail_columns,
        skipped,
        shape_of((*read, *skipped), json_key + "."),
    )


_PLACES: dict[datatypes.Kind, Place] = {
    datatypes.Kind.INTERVAL: place_interval,
    datatypes.Kind.SAMPLE: place_sample,
    datatypes.Kind.DAILY: place_daily,
    datatypes.Kind.SESSION: place_interval,
}

_SEGMENT = ("type", "startTime", "endTime", "startUtcOffset", "endUtcOffset")
_SEGMENT_TIMES = {
    "createTime": "when the API stored the segment, not a measurement",
    "updateTime": "when the API last changed the segment, not a measurement",
}
_STORE_TIMES = {
    "createTime": "when the API stored the point, not a measurement",
    "updateTime": "when the API last changed the point, not a measurement",
}
_DEVICE_INFO = (
    ("device_model", "medicalDeviceInfo.deviceModel", opt_str),
    ("firmware_version", "medicalDeviceInfo.firmwareVersion", opt_str),
    ("feature_version", "medicalDeviceInfo.featureVersion", opt_str),
    ("algorithm_version", "medicalDeviceInfo.algorithmVersion", opt_str),
    ("service_version", "medicalDeviceInfo.serviceVersion", opt_str),
)


def _stats(stage: str, label: str, required: bool) -> tuple[tuple[str, str, Convert], ...]:
    key = f"{stage}SleepStats"
    return (
        (
            f"{label}_breaths_per_minute",
            f"{key}.breathsPerMinute",
            to_float if required else opt_float,
        ),
        (f"{label}_standard_deviation", f"{key}.standardDeviation", opt_float),
        (f"{label}_signal_to_noise", f"{key}.signalToNoise", opt_float),
    )


SPECS: dict[str, PointSpec] = {
    spec.data_type: spec
    for spec in (
        _spec("steps", (("step_count", "count", count),)),
        _spec("distance", (("distance_millimeters", "millimeters", count),)),
        _spec("floors", (("floor_count", "count", count),)),
        _spec(
            "active-zone-minutes",
            (
                ("heart_rate_zone", "heartRateZone", to_str),
                ("active_zone_minutes", "activeZoneMinutes", count),
            ),
        ),
        _spec(
            "heart-rate",
            (
                ("beats_per_minute", "beatsPerMinute", to_int),
                ("motion_context", "metadata.motionContext", opt_str),
                ("sensor_location", "metadata.sensorLocation", opt_str),
            ),
        ),
        _spec(
            "heart-rate-variability",
            (
                (
                    "rmssd_milliseconds",
                    "rootMeanSquareOfSuccessiveDifferencesMilliseconds",
                    opt_float,
                ),
                ("sdnn_milliseconds", "standardDeviationMilliseconds", opt_float),
            ),
            not_mapped={
                "metadata": "frequency powers: heart_rate_variability has no columns for them",
            },
        ),
        _spec(
            "daily-resting-heart-rate",
            (
                ("beats_per_minute", "beatsPerMinute", to_int),
                ("calculation_method", "dailyRestingHeartRateMetadata.calculationMethod", opt_str),
            ),
        ),
        _spec(
            "daily-heart-rate-zones",
            details=_heart_rate_zones,
            detail_paths=tuple(
                f"heartRateZones[].{k}"
                for k in ("heartRateZoneType", "minBeatsPerMinute", "maxBeatsPerMinute")
            ),
            detail_columns=("zones",),
        ),
        _spec(
            "daily-heart-rate-variability",
            (
                (
                    "average_heart_rate_variability_milliseconds",
                    "averageHeartRateVariabilityMilliseconds",
                    opt_float,
                ),
                ("non_rem_heart_rate_beats_per_minute", "nonRemHeartRateBeatsPerMinute", opt_int),
                ("entropy", "entropy", opt_float),
                (
                    "deep_sleep_rmssd_milliseconds",
                    "deepSleepRootMeanSquareOfSuccessiveDifferencesMilliseconds",
                    opt_float,
                ),
            ),
        ),
        _spec(
            "daily-oxygen-saturation",
            (
                ("average_percent", "averagePercentage", to_float),
                ("lower_bound_percent", "lowerBoundPercentage", to_float),
                ("upper_bound_percent", "upperBoundPercentage", to_float),
                ("standard_deviation_percent", "standardDeviationPercentage", opt_float),
            ),
        ),
        _spec(
            "daily-respiratory-rate",
            (("breaths_per_minute", "breathsPerMinute", to_float),),
        ),
        _spec(
            "daily-vo2-max",
            (
                ("vo2_max_ml_per_kg_per_min", "vo2Max", to_float),
                ("cardio_fitness_level", "cardioFitnessLevel", opt_str),
                ("estimated", "estimated", opt_bool),
                ("vo2_max_covariance", "vo2MaxCovariance", opt_float),
            ),
        ),
        _spec(
            "sleep",
            (
                ("sleep_type", "type", opt_str),
                ("is_main_sleep", "metadata.mainSleep", opt_bool),
                ("is_nap", "metadata.nap", opt_bool),
                ("is_processed", "metadata.processed", opt_bool),
                ("is_manually_edited", "metadata.manuallyEdited", opt_bool),
                ("stages_status", "metadata.stagesStatus", opt_str),
            ),
            details=_sleep_details,
            detail_paths=(
                *(f"summary.{key}" for key in _SLEEP_SUMMARY.values()),
                "summary.stagesSummary[].type",
                "summary.stagesSummary[].minutes",
                "summary.stagesSummary[].count",
                *(f"stages[].{key}" for key in _SEGMENT),
                *(f"shortAwakenings[].{key}" for key in _SEGMENT),
                *(f"outOfBedSegments[].{key}" for key in _SEGMENT[1:]),
            ),
            detail_columns=(
                *_SLEEP_SUMMARY,
                "stages_summary",
                "stages",
                "short_awakenings",
                "out_of_bed_segments",
            ),
            not_mapped={
                **_STORE_TIMES,
                **{f"stages[].{k}": why for k, why in _SEGMENT_TIMES.items()},
                **{f"shortAwakenings[].{k}": why for k, why in _SEGMENT_TIMES.items()},
                "metadata.externalId": "the source's own id of the sleep, not a measurement",
            },
        ),
        _spec(
            "exercise",
            (
                ("exercise_type", "exerciseType", to_str),
                ("display_name", "displayName", opt_str),
                ("active_duration_seconds", "activeDuration", opt_seconds),
                ("has_gps", "exerciseMetadata.hasGps", opt_bool),
                ("pool_length_millimeters", "exerciseMetadata.poolLengthMillimeters", opt_int),
                ("notes", "notes", opt_str),
                ("calories_kcal", "metricsSummary.caloriesKcal", opt_float),
                ("distance_millimeters", "metricsSummary.distanceMillimeters", opt_float),
                ("steps", "metricsSummary.steps", opt_int),
                (
                    "average_heart_rate_bpm",
                    "metricsSummary.averageHeartRateBeatsPerMinute",
                    opt_int,
                ),
                ("active_zone_minutes", "metricsSummary.activeZoneMinutes", opt_int),
                (
                    "elevation_gain_millimeters",
                    "metricsSummary.elevationGainMillimeters",
                    opt_float,
                ),
                (
                    "average_speed_millimeters_per_second",
                    "metricsSummary.averageSpeedMillimetersPerSecond",
                    opt_float,
                ),
                (
                    "average_pace_seconds_per_meter",
                    "metricsSummary.averagePaceSecondsPerMeter",
                    opt_float,
                ),
                ("run_vo2_max", "metricsSummary.runVo2Max", opt_float),
                ("total_swim_lengths", "metricsSummary.totalSwimLengths", opt_float),
                (
                    "heart_rate_zone_light_seconds",
                    "metricsSummary.heartRateZoneDurations.lightTime",
                    opt_seconds,
                ),
                (
                    "heart_rate_zone_moderate_seconds",
                    "metricsSummary.heartRateZoneDurations.moderateTime",
                    opt_seconds,
                ),
                (
                    "heart_rate_zone_vigorous_seconds",
                    "metricsSummary.heartRateZoneDurations.vigorousTime",
                    opt_seconds,
                ),
                (
                    "heart_rate_zone_peak_seconds",
                    "metricsSummary.heartRateZoneDurations.peakTime",
                    opt_seconds,
                ),
                (
                    "average_cadence_steps_per_minute",
                    "metricsSummary.mobilityMetrics.avgCadenceStepsPerMinute",
                    opt_float,
                ),
                (
                    "average_ground_contact_time_seconds",
                    "metricsSummary.mobilityMetrics.avgGroundContactTimeDuration",
                    opt_seconds,
                ),
                (
                    "average_stride_length_millimeters",
                    "metricsSummary.mobilityMetrics.avgStrideLengthMillimeters",
                    opt_int,
                ),
                (
                    "average_vertical_oscillation_millimeters",
                    "metricsSummary.mobilityMetrics.avgVerticalOscillationMillimeters",
                    opt_int,
                ),
                (
                    "average_vertical_ratio",
                    "metricsSummary.mobilityMetrics.avgVerticalRatio",
                    opt_float,
                ),
            ),
            details=_exercise_events,
            detail_paths=(
                "exerciseEvents[].exerciseEventType",
                "exerciseEvents[].eventTime",
                "exerciseEvents[].eventUtcOffset",
            ),
            detail_columns=("exercise_events",),
            not_mapped={
                **_STORE_TIMES,
                "splits": "laps and splits: not captured yet",
                "splitSummaries": "laps and splits: not captured yet",
            },
        ),
        _spec("weight", (("weight_grams", "weightGrams", to_float), ("notes", "notes", opt_str))),
        _spec("body-fat", (("body_fat_percent", "percentage", to_float),)),
        _spec("active-energy-burned", (("energy_kcal", "kcal", to_float),)),
        _spec("basal-energy-burned", (("energy_kcal", "kcal", to_float),)),
        _spec(
            "active-minutes",
            details=_active_minutes,
            detail_paths=(
                "activeMinutesByActivityLevel[].activityLevel",
                "activeMinutesByActivityLevel[].activeMinutes",
            ),
            detail_columns=("minutes_by_activity_level",),
        ),
        _spec("activity-level", (("activity_level_type", "activityLevelType", to_str),)),
        _spec("sedentary-period"),
        _spec("time-in-heart-rate-zone", (("heart_rate_zone", "heartRateZoneType", to_str),)),
        _spec("altitude", (("gain_millimeters", "gainMillimeters", to_int),)),
        _spec(
            "swim-lengths-data",
            (
                ("stroke_count", "strokeCount", to_int),
                ("swim_stroke_type", "swimStrokeType", opt_str),
            ),
        ),
        _spec("menstrual-period", (("notes", "notes", opt_str),)),
        _spec("oxygen-saturation", (("oxygen_saturation_percent", "percentage", to_float),)),
        _spec(
            "respiratory-rate-sleep-summary",
            (
                *_stats("full", "full_sleep", True),
                *_stats("deep", "deep_sleep", False),
                *_stats("light", "light_sleep", False),
                *_stats("rem", "rem_sleep", False),
            ),
        ),
        _spec("height", (("height_millimeters", "heightMillimeters", to_int),)),
        _spec(
            "vo2-max",
            (
                ("vo2_max_ml_per_kg_per_min", "vo2Max", to_float),
                ("measurement_method", "measurementMethod", opt_str),
            ),
        ),
        _spec("run-vo2-max", (("run_vo2_max_ml_per_kg_per_min", "runVo2Max", to_float),)),
        _spec(
            "blood-glucose",
            (
                ("blood_glucose_mg_per_dl", "bloodGlucoseMilligramsPerDeciliter", to_float),
                ("measurement_source", "measurementSource", opt_str),
                ("specimen", "specimen", opt_str),
                ("meal_type", "mealType", opt_str),
                ("measurement_timing", "measurementTiming", opt_str),
                ("notes", "notes", opt_str),
            ),
        ),
        _spec(
            "core-body-temperature",
            (
                ("temperature_celsius", "temperatureCelsius", to_float),
                ("measurement_location", "measurementLocation", opt_str),
                ("measurement_id", "id", opt_str),
            ),
        ),
        _spec("moods", (("moods", "moods", str_list), ("valences", "valences", str_list))),
        _spec("symptoms", (("symptoms", "symptoms", str_list),)),
        _spec("ovulation-test", (("result", "result", opt_str),)),
        _spec(
            "daily-sleep-temperature-derivations",
            (
                ("nightly_temperature_celsius", "nightlyTemperatureCelsius", to_float),
                ("baseline_temperature_celsius", "baselineTemperatureCelsius", opt_float),
                (
                    "relative_nightly_stddev_30d_celsius",
                    "relativeNightlyStddev30dCelsius",
                    opt_float,
                ),
            ),
        ),
        _spec(
            "electrocardiogram",
            (
                ("result_classification", "resultClassification", opt_str),
                ("average_heart_rate_bpm", "beatsPerMinuteAvg", opt_int),
                ("lead_number", "leadNumber", opt_int),
                ("sampling_frequency_hertz", "samplingFrequencyHertz", opt_int),
                ("millivolts_scaling_factor", "millivoltsScalingFactor", opt_int),
                ("waveform_samples", "waveformSamples", int_list),
                *_DEVICE_INFO,
            ),
        ),
        _spec(
            "irregular-rhythm-notification",
            _DEVICE_INFO,
            details=_alert_windows,
            detail_paths=(
                *(
                    f"alertWindows[].{k}"
                    for k in (
                        "startTime",
                        "endTime",
                        "startUtcOffset",
                        "endUtcOffset",
                        "civilStartTime",
                        "civilEndTime",
                        "positive",
                    )
                ),
                *(
                    f"alertWindows[].heartBeats[].{k}"
                    for k in ("physicalTime", "utcOffset", "civilTime", "beatsPerMinute")
                ),
            ),
            detail_columns=("alert_windows",),
        ),
    )
}

TABLE_OF: dict[str, str] = {data_type: spec.table for data_type, spec in SPECS.items()}
"""API data type name (`heart-rate`) -> the table its points go to (`heart_rate`)."""
