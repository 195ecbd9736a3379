"""Value objects of the newer data types, as the discovery document shapes them.

`render_body` gives the object under a point's union key (`activityLevel`,
`electrocardiogram`, ...) for the types of `simulator.minute_points` and
`simulator.health_points`; `simulator.render` wraps it into a DataPoint and
writes the dense per-minute ones as text directly.
"""

from __future__ import annotations

from simulator import health_points, timefmt
from simulator.health_points import AlertWindow, BreathingStats, EcgReading, Glucose
from simulator.minute_points import ACTIVE_MINUTE_LEVELS, POOL_LENGTH_MM
from simulator.synth import Point, User

__all__ = ["ACTIVE_MINUTE_LEVELS", "POOL_LENGTH_MM", "render_body"]

# MedicalDeviceInfo of the ECG and IRN features of the watch.
MEDICAL_DEVICE_INFO = {
    "deviceModel": "Charge 6",
    "firmwareVersion": "202.67.12",
    "algorithmVersion": "2.1.0",
    "featureVersion": "1.3",
    "serviceVersion": "4.2.0",
}


def _interval(user: User, p: Point) -> dict:
    return timefmt.interval_json(p.start, p.end, user.zone)


def _sample(user: User, p: Point) -> dict:
    return timefmt.sample_time_json(p.start, user.zone)


def _breathing(stats: BreathingStats) -> dict:
    return {
        "breathsPerMinute": stats.breaths_per_minute,
        "signalToNoise": stats.signal_to_noise,
        "standardDeviation": stats.standard_deviation,
    }


def _glucose(user: User, p: Point) -> dict:
    v: Glucose = p.values
    body = {
        "sampleTime": _sample(user, p),
        "bloodGlucoseMilligramsPerDeciliter": v.mg_dl,
        "measurementSource": v.source,
        "specimen": v.specimen,
    }
    if v.timing:
        body["measurementTiming"] = v.timing
    if v.meal:
        body["mealType"] = v.meal
    if v.notes:
        body["notes"] = v.notes
    return body


def _electrocardiogram(user: User, p: Point) -> dict:
    v: EcgReading = p.values
    samples = health_points.ecg_waveform(
        f"{user.health_user_id}:{p.start}:ecg",
        v.average_bpm,
        v.classification == "ATRIAL_FIBRILLATION",
    )
    return {
        "interval": timefmt.interval_json(p.start, p.end, user.zone if v.with_offsets else None),
        "resultClassification": v.classification,
        "beatsPerMinuteAvg": str(v.average_bpm),
        "leadNumber": 1,
        "samplingFrequencyHertz": health_points.ECG_HERTZ,
        "millivoltsScalingFactor": health_points.ECG_SCALING,
        "waveformSamples": list(samples),
        "medicalDeviceInfo": MEDICAL_DEVICE_INFO,
    }


def _alert_window(user: User, w: AlertWindow) -> dict:
    zone = user.zone
    out = timefmt.interval_json(w.start, w.end, zone)
    if w.positive:
        out["positive"] = True
    out["heartBeats"] = [
        {**timefmt.sample_time_json(t, zone), "beatsPerMinute": bpm} for t, bpm in w.beats
    ]
    return out


def _irregular_rhythm_notification(user: User, p: Point) -> dict:
    return {
        "interval": _interval(user, p),
        "alertWindows": [_alert_window(user, w) for w in p.values],
        "medicalDeviceInfo": MEDICAL_DEVICE_INFO,
    }


def render_body(user: User, data_type: str, p: Point) -> dict:
    """The value object of a point of one of the newer types."""
    v = p.values
    match data_type:
        case "active-energy-burned" | "basal-energy-burned":
            return {"interval": _interval(user, p), "kcal": v}
        case "active-minutes":
            return {
                "interval": _interval(user, p),
                "activeMinutesByActivityLevel": [{"activityLevel": v, "activeMinutes": "1"}],
            }
        case "activity-level":
            return {"interval": _interval(user, p), "activityLevelType": v}
        case "sedentary-period":
            return {"interval": _interval(user, p)}
        case "time-in-heart-rate-zone":
            return {"interval": _interval(user, p), "heartRateZoneType": v}
        case "altitude":
            return {"interval": _interval(user, p), "gainMillimeters": str(v)}
        case "swim-lengths-data":
            strokes, stroke = v
            return {
                "interval": _interval(user, p),
                "strokeCount": str(strokes),
                "swimStrokeType": stroke,
            }
        case "menstrual-period":
            body = {"interval": _interval(user, p)}
            if v:
                body["notes"] = v
            return body
        case "oxygen-saturation":
            return {"sampleTime": _sample(user, p), "percentage": v}
        case "respiratory-rate-sleep-summary":
            body = {"sampleTime": _sample(user, p)}
            for stage, stats in v.items():
                body[f"{stage}SleepStats"] = _breathing(stats)
            return body
        case "height":
            return {"sampleTime": _sample(user, p), "heightMillimeters": str(v)}
        case "vo2-max":
            vo2, method = v
            return {"sampleTime": _sample(user, p), "vo2Max": vo2, "measurementMethod": method}
        case "run-vo2-max":
            return {"sampleTime": _sample(user, p), "runVo2Max": v}
        case "blood-glucose":
            return _glucose(user, p)
        case "core-body-temperature":
            celsius, location = v
            return {
                "sampleTime": _sample(user, p),
                "temperatureCelsius": celsius,
                "measurementLocation": location,
            }
        case "moods":
            chosen, valences = v
            return {
                "sampleTime": _sample(user, p),
                "moods": list(chosen),
                "valences": list(valences),
            }
        case "symptoms":
            return {"sampleTime": _sample(user, p), "symptoms": list(v)}
        case "ovulation-test":
            return {"sampleTime": _sample(user, p), "result": v}
        case "daily-sleep-temperature-derivations":
            nightly, baseline, stddev = v
            return {
                "date": timefmt.date_json(p.day),
                "nightlyTemperatureCelsius": nightly,
                "baselineTemperatureCelsius": baseline,
                "relativeNightlyStddev30dCelsius": stddev,
            }
        case "electrocardiogram":
            return _electrocardiogram(user, p)
        case "irregular-rhythm-notification":
            return _irregular_rhythm_notification(user, p)
    raise KeyError(data_type)
