"""Validate JSON bodies against the Google Health API discovery document.

The simulator must answer exactly as health.googleapis.com would, and the authority on the shape
of every body is the API's discovery document, ``health.v4.json``, as shipped inside the
``google-api-python-client`` package. This module reads the schemas of that document and checks
instances against them strictly, the way a proto3 JSON printer would have written them: unknown
fields, ``null``, numbers where int64 strings belong, malformed timestamps and durations, unknown
enum values and explicitly written default values are all violations.

Usage::

    from simulator.discovery import DiscoveryValidator

    validator = DiscoveryValidator()
    schema = validator.response_schema("health.users.dataTypes.dataPoints.list")
    problems = validator.validate(body, schema)  # [] when the body is valid
    validator.check(body, schema)  # or raise SchemaViolation
    validator.validate_error(error_body, http_status=429)  # the Google error envelope

Each violation is one string that starts with the path of the offending value, e.g.
``dataPoints[3].steps.count: int64 must be a JSON string, got int 57``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import importlib.resources
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

DOCUMENT = "discovery_cache/documents/health.v4.json"

# Fields declared `optional` (explicit presence) in the google.devicesandservices.health.v4 protos,
# read from the descriptors of the GAPIC package google-devicesandservices-health 0.1.5. The
# discovery document cannot say which fields have presence, but it matters: a proto3 JSON printer
# writes such a field whenever it is set, zero included, so `"count": "0"` is a legitimate step
# count. Every other singular scalar is written only when it differs from its default.
EXPLICIT_PRESENCE = frozenset(
    """
    ActiveEnergyBurned.kcal ActiveEnergyBurnedRollupValue.kcalSum
    ActiveMinutesByActivityLevel.activeMinutes ActiveMinutesRollupByActivityLevel.activeMinutesSum
    ActiveZoneMinutes.activeZoneMinutes ActiveZoneMinutesRollupValue.sumInCardioHeartZone
    ActiveZoneMinutesRollupValue.sumInFatBurnHeartZone
    ActiveZoneMinutesRollupValue.sumInPeakHeartZone Altitude.gainMillimeters
    AltitudeRollupValue.gainMillimetersSum BasalEnergyBurned.kcal
    BloodGlucose.bloodGlucoseMilligramsPerDeciliter
    BloodGlucoseRollupValue.bloodGlucoseMilligramsPerDeciliterAvg BodyFat.percentage
    BodyFatRollupValue.bodyFatPercentageAvg CaloriesInHeartRateZoneValue.kcal
    CoreBodyTemperature.temperatureCelsius CoreBodyTemperatureRollupValue.temperatureCelsiusAvg
    CoreBodyTemperatureRollupValue.temperatureCelsiusMax
    CoreBodyTemperatureRollupValue.temperatureCelsiusMin
    DailyHeartRateVariability.averageHeartRateVariabilityMilliseconds
    DailyHeartRateVariability.deepSleepRootMeanSquareOfSuccessiveDifferencesMilliseconds
    DailyHeartRateVariability.entropy DailyHeartRateVariability.nonRemHeartRateBeatsPerMinute
    DailyOxygenSaturation.averagePercentage DailyOxygenSaturation.lowerBoundPercentage
    DailyOxygenSaturation.standardDeviationPercentage DailyOxygenSaturation.upperBoundPercentage
    DailyRespiratoryRate.breathsPerMinute DailyRestingHeartRate.beatsPerMinute
    DailySleepTemperatureDerivations.baselineTemperatureCelsius
    DailySleepTemperatureDerivations.nightlyTemperatureCelsius
    DailySleepTemperatureDerivations.relativeNightlyStddev30dCelsius DailyVO2Max.vo2Max
    DailyVO2Max.vo2MaxCovariance Distance.millimeters DistanceRollupValue.millimetersSum
    Electrocardiogram.beatsPerMinuteAvg Electrocardiogram.leadNumber
    Electrocardiogram.millivoltsScalingFactor Electrocardiogram.samplingFrequencyHertz
    EnergyQuantity.kcal EnergyQuantityRollup.kcalSum ExerciseMetadata.poolLengthMillimeters
    Floors.count FloorsRollupValue.countSum FoodServing.amount HeartBeat.beatsPerMinute
    HeartRate.beatsPerMinute HeartRateRollupValue.beatsPerMinuteAvg
    HeartRateRollupValue.beatsPerMinuteMax HeartRateRollupValue.beatsPerMinuteMin
    HeartRateVariability.rootMeanSquareOfSuccessiveDifferencesMilliseconds
    HeartRateVariability.standardDeviationMilliseconds
    HeartRateVariabilityPersonalRangeRollupValue.averageHeartRateVariabilityMillisecondsMax
    HeartRateVariabilityPersonalRangeRollupValue.averageHeartRateVariabilityMillisecondsMin
    HeartRateZone.maxBeatsPerMinute HeartRateZone.minBeatsPerMinute Height.heightMillimeters
    MetricsSummary.activeZoneMinutes MetricsSummary.averageHeartRateBeatsPerMinute
    MetricsSummary.averagePaceSecondsPerMeter MetricsSummary.averageSpeedMillimetersPerSecond
    MetricsSummary.caloriesKcal MetricsSummary.distanceMillimeters
    MetricsSummary.elevationGainMillimeters MetricsSummary.runVo2Max MetricsSummary.steps
    MetricsSummary.totalSwimLengths MobilityMetrics.avgCadenceStepsPerMinute
    MobilityMetrics.avgStrideLengthMillimeters MobilityMetrics.avgVerticalOscillationMillimeters
    MobilityMetrics.avgVerticalRatio OxygenSaturation.percentage Profile.autoRunningStrideLengthMm
    Profile.autoWalkingStrideLengthMm Profile.userConfiguredRunningStrideLengthMm
    Profile.userConfiguredWalkingStrideLengthMm
    RespiratoryRateSleepSummaryStatistics.breathsPerMinute
    RespiratoryRateSleepSummaryStatistics.signalToNoise
    RespiratoryRateSleepSummaryStatistics.standardDeviation
    RestingHeartRatePersonalRangeRollupValue.beatsPerMinuteMax
    RestingHeartRatePersonalRangeRollupValue.beatsPerMinuteMin RunVO2Max.runVo2Max
    RunVO2MaxRollupValue.rateAvg RunVO2MaxRollupValue.rateMax RunVO2MaxRollupValue.rateMin
    Serving.amount SleepSummary.minutesAfterWakeUp SleepSummary.minutesAsleep
    SleepSummary.minutesAwake SleepSummary.minutesInSleepPeriod SleepSummary.minutesToFallAsleep
    StageSummary.count StageSummary.minutes Steps.count StepsRollupValue.countSum
    SwimLengthsData.strokeCount SwimLengthsDataRollupValue.strokeCountSum
    TotalCaloriesRollupValue.kcalSum VO2Max.vo2Max VolumeQuantity.milliliters
    VolumeQuantityRollup.millilitersSum Weight.weightGrams WeightQuantity.grams
    WeightQuantityRollup.gramsSum WeightRollupValue.weightGramsAvg
    """.split()  # noqa: SIM905 - a word list reads better than 107 quoted strings
)

# google.rpc.Code names and the HTTP status Google's front end answers each with
# (google/rpc/code.proto). OK is not an error, so it has no place in an error envelope.
HTTP_STATUS_BY_CODE = {
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
}

ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"

# Messages that travel inside google.protobuf.Any values (Status.details) and that we check,
# written in the discovery dialect. An Any of any other @type is accepted as an object.
_KNOWN_ANY = {
    ERROR_INFO_TYPE: {
        "id": "google.rpc.ErrorInfo",
        "type": "object",
        "properties": {
            "@type": {"type": "string"},
            "reason": {"type": "string"},
            "domain": {"type": "string"},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    BAD_REQUEST_TYPE: {
        "id": "google.rpc.BadRequest",
        "type": "object",
        "properties": {
            "@type": {"type": "string"},
            "fieldViolations": {
                "type": "array",
                "items": {
                    "id": "google.rpc.BadRequest.FieldViolation",
                    "type": "object",
                    "required": ["field", "description"],
                    "properties": {
                        "field": {"type": "string"},
                        "description": {"type": "string"},
                        "reason": {"type": "string"},
                        "localizedMessage": {
                            "type": "object",
                            "properties": {
                                "locale": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
    },
}

# Well-known message types that the discovery dialect spells as string formats. Messages have
# presence, so "0s" (a UTC offset of zero) or the epoch are values, never defaults.
_MESSAGE_FORMATS = frozenset({"google-datetime", "google-duration", "google-fieldmask"})

_INT_RANGES = {
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}
_DECIMAL = re.compile(r"0|-?[1-9][0-9]*")
_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d{1,9})?(?:Z|[+-](\d\d):(\d\d))"
)
_DURATION = re.compile(r"-?(0|[1-9][0-9]*)(?:\.[0-9]{1,9})?s")
_MAX_DURATION_SECONDS = 315_576_000_000  # +-10,000 years, the range of google.protobuf.Duration
_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)")
_NON_FINITE = ("NaN", "Infinity", "-Infinity")


class SchemaViolation(ValueError):
    """A body does not conform to its discovery schema.

    Attributes:
        violations: every path-qualified violation found, in document order.
    """

    def __init__(self, schema_name: str, violations: Iterable[str]):
        self.violations = tuple(violations)
        super().__init__(
            f"{len(self.violations)} violation(s) of {schema_name}:\n" + "\n".join(self.violations)
        )


@functools.cache
def load_discovery() -> dict:
    """Returns the health v4 discovery document shipped in google-api-python-client.

    The result is cached and shared: treat it as read-only.
    """
    resource = importlib.resources.files("googleapiclient") / DOCUMENT
    return json.loads(resource.read_text(encoding="utf-8"))


def _describe(value: Any) -> str:
    """Names a JSON value for a message: its Python type, and its value when it is a scalar."""
    if isinstance(value, dict | list):
        return type(value).__name__
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _integer(value: Any, fmt: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{fmt} must be a JSON integer, got {_describe(value)}"
    low, high = _INT_RANGES.get(fmt, (-math.inf, math.inf))
    return None if low <= value <= high else f"{fmt} out of range, got {value}"


def _integer_string(value: Any, fmt: str) -> str | None:
    if not isinstance(value, str):
        return f"{fmt} must be a JSON string, got {_describe(value)}"
    if not _DECIMAL.fullmatch(value):
        return f"{fmt} must be a base-10 integer string, got {_describe(value)}"
    low, high = _INT_RANGES[fmt]
    return None if low <= int(value) <= high else f"{fmt} out of range, got {value!r}"


def _number(value: Any, fmt: str) -> str | None:
    if isinstance(value, str) and value in _NON_FINITE:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{fmt} must be a JSON number, got {_describe(value)}"
    if not math.isfinite(value):
        return f'{fmt} must be finite or a string "NaN", "Infinity", "-Infinity", got {value}'
    return None


def _string(value: Any, fmt: str) -> str | None:
    return None if isinstance(value, str) else f"expected string, got {_describe(value)}"


def _boolean(value: Any, fmt: str) -> str | None:
    return None if isinstance(value, bool) else f"expected boolean, got {_describe(value)}"


def _datetime(value: Any, fmt: str) -> str | None:
    problem = _string(value, fmt)
    if problem:
        return problem
    match = _RFC3339.fullmatch(value)
    try:
        if not match:
            raise ValueError(value)
        year, month, day, hour, minute, second, off_hour, off_minute = match.groups()
        datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
        if off_hour is not None and (int(off_hour) > 23 or int(off_minute) > 59):
            raise ValueError(value)
    except ValueError:
        return f"{fmt} must be RFC 3339 with Z or an offset, got {value!r}"
    return None


def _duration(value: Any, fmt: str) -> str | None:
    problem = _string(value, fmt)
    if problem:
        return problem
    match = _DURATION.fullmatch(value)
    if not match or int(match.group(1)) > _MAX_DURATION_SECONDS:
        return f"{fmt} must be seconds with an 's' suffix such as '3600s' or '-1.5s', got {value!r}"
    return None


def _byte(value: Any, fmt: str) -> str | None:
    problem = _string(value, fmt)
    if problem:
        return problem
    # proto3 JSON parsers take the standard or the URL-safe alphabet, padded or not.
    standard = value.replace("-", "+").replace("_", "/")
    try:
        base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except binascii.Error:
        return f"{fmt} must be base64, got {_describe(value)}"
    return None


def _date(value: Any, fmt: str) -> str | None:
    problem = _string(value, fmt)
    if problem:
        return problem
    match = _DATE.fullmatch(value)
    try:
        if not match:
            raise ValueError(value)
        datetime.date(*(int(part) for part in match.groups()))
    except ValueError:
        return f"{fmt} must be YYYY-MM-DD, got {value!r}"
    return None


# Checks of scalar values, keyed by the schema's format or, without one, by its type. Each
# returns what is wrong, or None.
_SCALAR_CHECKS: dict[str, Callable[[Any, str], str | None]] = {
    "string": _string,
    "boolean": _boolean,
    "integer": _integer,
    "number": _number,
    "int32": _integer,
    "uint32": _integer,
    "int64": _integer_string,
    "uint64": _integer_string,
    "double": _number,
    "float": _number,
    "google-datetime": _datetime,
    "google-duration": _duration,
    "google-fieldmask": _string,
    "byte": _byte,
    "date": _date,
}


def _is_default(value: Any, schema: dict) -> bool:
    """Tells whether a valid value is the proto3 default that a JSON printer leaves out."""
    if "enum" in schema:
        return value == schema["enum"][0]
    if schema.get("format") in _MESSAGE_FORMATS:
        return False
    if schema.get("format") in ("int64", "uint64"):
        return value == "0"
    if isinstance(value, bool):
        return value is False
    if isinstance(value, int | float):
        return value == 0
    return value in ("", [])


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _methods(resources: dict) -> Iterator[dict]:
    for resource in resources.values():
        yield from resource.get("methods", {}).values()
        yield from _methods(resource.get("resources", {}))


class DiscoveryValidator:
    """Checks JSON instances against the schemas of a discovery document.

    Rules, in the discovery "schema" dialect read as proto3 JSON:

    - ``$ref`` is resolved; ``type`` is one of object, array, string, integer, number, boolean
      or any; ``items`` checks array elements and ``additionalProperties`` map values.
    - An object property that its schema does not declare is a violation; so is ``null``.
    - ``format``: int64/uint64 are JSON strings holding a base-10 integer in range; int32/uint32
      are JSON integers in range (not booleans); double/float are JSON numbers (integers allowed,
      booleans not) or the strings "NaN", "Infinity", "-Infinity"; google-datetime is RFC 3339
      with ``Z`` or an offset and up to 9 fractional digits; google-duration is seconds with an
      ``s`` suffix; byte is base64; date is YYYY-MM-DD; google-fieldmask is a string.
    - ``enum`` values must be listed.
    - With ``strict_defaults``, a singular field set to its default is a violation, because a
      proto3 JSON printer omits it: 0, "0" (int64), "", false, [], and the first enum value.
      Array elements may be zero. Durations, timestamps and field masks are messages and never
      defaults, and neither are the fields named in ``explicit_presence``.
    - An object whose ``additionalProperties`` are ``type: any`` is a google.protobuf.Any and
      needs a string ``@type``; a ``google.rpc.ErrorInfo`` or ``google.rpc.BadRequest`` is checked
      field by field, other types are accepted as objects.
    - ``required`` (not a discovery keyword; validate_error's envelope uses it) lists properties
      that must be present.

    Output-only (``readOnly``) fields need nothing special: responses may carry them.
    """

    def __init__(
        self,
        doc: dict | None = None,
        *,
        strict_defaults: bool = True,
        explicit_presence: Iterable[str] = EXPLICIT_PRESENCE,
    ):
        """Builds a validator.

        Args:
            doc: a parsed discovery document; the health v4 one from load_discovery() if None.
            strict_defaults: flag singular fields written with their proto3 default value.
            explicit_presence: "Schema.property" names of fields whose zero value is written
                when set (proto3 ``optional``); strict_defaults does not apply to them.
        """
        self._doc = load_discovery() if doc is None else doc
        self._schemas: dict[str, dict] = self._doc.get("schemas", {})
        self._strict_defaults = strict_defaults
        self._explicit_presence = frozenset(explicit_presence)
        self._methods = {
            method["id"]: method
            for method in _methods({"": self._doc})  # the document is the root resource
        }

    def _schema(self, name: str) -> dict:
        try:
            return self._schemas[name]
        except KeyError:
            raise ValueError(
                f"schema {name[:80]!r} is not in the discovery document; "
                "use a schema id such as 'ListDataPointsResponse'"
            ) from None

    def _method(self, method_id: str) -> dict:
        try:
            return self._methods[method_id]
        except KeyError:
            raise ValueError(
                f"method {method_id[:80]!r} is not in the discovery document; "
                "use a method id such as 'health.users.dataTypes.dataPoints.list'"
            ) from None

    def response_schema(self, method_id: str) -> str:
        """Returns the name of the schema a method answers with.

        Args:
            method_id: a discovery method id, e.g. "health.users.dataTypes.dataPoints.list".

        Raises:
            ValueError: the method is unknown or has no response body.
        """
        response = self._method(method_id).get("response")
        if response is None:
            raise ValueError(f"method {method_id!r} has no response body")
        return response["$ref"]

    def request_schema(self, method_id: str) -> str | None:
        """Returns the name of a method's request body schema, or None if it takes no body.

        Args:
            method_id: a discovery method id, e.g. "health.users.dataTypes.dataPoints.rollUp".

        Raises:
            ValueError: the method is unknown.
        """
        request = self._method(method_id).get("request")
        return None if request is None else request["$ref"]

    def validate(self, instance: Any, schema_name: str) -> list[str]:
        """Returns every violation of a schema by a parsed JSON instance; [] means valid.

        Args:
            instance: the body as json.loads returns it.
            schema_name: a schema id of the document, e.g. "ListDataPointsResponse".

        Raises:
            ValueError: the schema is not in the document.
        """
        violations: list[str] = []
        self._walk(instance, self._schema(schema_name), "", False, violations)
        return violations

    def check(self, instance: Any, schema_name: str) -> None:
        """Raises SchemaViolation, listing every violation, unless the instance is valid."""
        violations = self.validate(instance, schema_name)
        if violations:
            raise SchemaViolation(schema_name, violations)

    def validate_error(self, body: Any, http_status: int | None = None) -> list[str]:
        """Returns every violation of the standard Google error envelope; [] means valid.

        The envelope, ``{"error": {"code", "message", "status", "details"}}``, is
        google.rpc.Status from the document plus the canonical code's name in ``status``.
        ``code``, ``message`` and ``status`` are required, ``status`` must be a google.rpc.Code
        name other than OK, and ``code`` the HTTP status Google maps that name to.

        Args:
            body: the parsed error body.
            http_status: the status line of the response, if ``code`` should be held to it.
        """
        status_schema = self._schema("Status")
        envelope = {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "status"],
                    "properties": status_schema["properties"] | {"status": {"type": "string"}},
                }
            },
        }
        violations: list[str] = []
        self._walk(body, envelope, "", False, violations)
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return violations
        code, status = error.get("code"), error.get("status")
        code_is_int = isinstance(code, int) and not isinstance(code, bool)
        if isinstance(status, str):
            expected = HTTP_STATUS_BY_CODE.get(status)
            if expected is None:
                violations.append(
                    f"error.status: {status!r} is not a google.rpc.Code name of an error"
                )
            elif code_is_int and code != expected:
                violations.append(
                    f"error.code: {code} does not match status {status}, which maps to {expected}"
                )
        if http_status is not None and code_is_int and code != http_status:
            violations.append(f"error.code: {code} differs from the HTTP status {http_status}")
        return violations

    def _walk(
        self, value: Any, schema: dict, path: str, check_default: bool, out: list[str]
    ) -> None:
        """Appends to `out` the violations of `schema` by `value` found at `path`.

        `check_default` is True for a singular field without explicit presence, the only kind of
        value that a proto3 JSON printer leaves out when it holds its default. Array elements,
        map values and the root are never defaults.
        """
        if "$ref" in schema:
            schema = self._schema(schema["$ref"])
        kind = schema.get("type")
        if kind == "any":
            return
        where = path or "<root>"
        if value is None:
            out.append(f"{where}: null must be omitted")
            return
        if kind == "object":
            if not isinstance(value, dict):
                out.append(f"{where}: expected object, got {_describe(value)}")
                return
            self._walk_object(value, schema, path, out)
        elif kind == "array":
            if not isinstance(value, list):
                out.append(f"{where}: expected array, got {_describe(value)}")
                return
            for index, item in enumerate(value):
                self._walk(item, schema["items"], f"{path}[{index}]", False, out)
        else:
            check = _SCALAR_CHECKS.get(schema.get("format") or kind)
            if check is None:
                raise ValueError(f"unsupported schema type/format at {where}: {schema}")
            problem = check(value, schema.get("format") or kind)
            if problem is None and "enum" in schema and value not in schema["enum"]:
                problem = f"unknown enum value {value!r}"
            if problem:
                out.append(f"{where}: {problem}")
                return
        if check_default and self._strict_defaults and _is_default(value, schema):
            out.append(f"{where}: default value {value!r} must be omitted")

    def _walk_object(self, value: dict, schema: dict, path: str, out: list[str]) -> None:
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        if extra is not None and extra.get("type") == "any":  # a google.protobuf.Any
            type_url = value.get("@type")
            if not isinstance(type_url, str):
                out.append(f"{path or '<root>'}: an Any needs a string @type")
                return
            if type_url not in _KNOWN_ANY:
                return
            schema = _KNOWN_ANY[type_url]
            properties, extra = schema["properties"], None
        name = schema.get("id")
        for key in schema.get("required", ()):
            if key not in value:
                out.append(f"{_join(path, key)}: required field missing")
        for key, item in value.items():
            where = _join(path, key)
            if key in properties:
                check_default = f"{name}.{key}" not in self._explicit_presence
                self._walk(item, properties[key], where, check_default, out)
            elif extra is not None:
                self._walk(item, extra, where, False, out)
            else:
                out.append(f"{where}: unknown property" + (f" of {name}" if name else ""))
