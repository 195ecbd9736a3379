"""Unit tests for simulator.discovery: literal bodies, exact violation lists.

Run: python -m pytest -q tests/unit/test_discovery.py
"""

import copy

import pytest

from simulator.discovery import (
    EXPLICIT_PRESENCE,
    DiscoveryValidator,
    SchemaViolation,
    load_discovery,
)

LIST = "ListDataPointsResponse"


def civil(day, hours, minutes):
    """A CivilDateTime as the API writes it: zero fields left out."""
    return {
        "date": {"year": 2026, "month": 11, "day": day},
        "time": {"hours": hours, "minutes": minutes},
    }


def steps_point(count="57"):
    """One minute of steps in New York (UTC-5), as listed with its data source."""
    return {
        "dataSource": {
            "platform": "FITBIT",
            "recordingMethod": "PASSIVELY_MEASURED",
            "device": {"displayName": "Charge 6", "formFactor": "FITNESS_BAND"},
        },
        "steps": {
            "interval": {
                "startTime": "2026-11-20T02:03:00Z",
                "startUtcOffset": "-18000s",
                "endTime": "2026-11-20T02:04:00Z",
                "endUtcOffset": "-18000s",
                "civilStartTime": civil(19, 21, 3),
                "civilEndTime": civil(19, 21, 4),
            },
            "count": count,
        },
    }


def heart_rate_point():
    """A heart-rate sample of a user in UTC: a zero offset is a value, not a default."""
    return {
        "heartRate": {
            "sampleTime": {
                "physicalTime": "2026-11-20T02:03:05.600Z",
                "utcOffset": "0s",
                "civilTime": {
                    "date": {"year": 2026, "month": 11, "day": 20},
                    "time": {"hours": 2, "minutes": 3, "seconds": 5, "nanos": 600000000},
                },
            },
            "beatsPerMinute": "64",
            "metadata": {"motionContext": "SEDENTARY", "sensorLocation": "WRIST"},
        }
    }


def list_body(*points):
    return {"dataPoints": list(points), "nextPageToken": "opaque-token"}


@pytest.fixture(scope="module")
def validator():
    return DiscoveryValidator()


def test_valid_list_response_has_no_violations(validator):
    body = list_body(steps_point(), heart_rate_point())

    assert validator.validate(body, LIST) == []
    validator.check(body, LIST)  # does not raise


def test_int64_given_as_number(validator):
    body = list_body(steps_point(), steps_point(), steps_point(), steps_point(count=57))

    assert validator.validate(body, LIST) == [
        "dataPoints[3].steps.count: int64 must be a JSON string, got int 57"
    ]


@pytest.mark.parametrize(
    ("count", "message"),
    [
        ("57.0", "int64 must be a base-10 integer string, got str '57.0'"),
        ("0057", "int64 must be a base-10 integer string, got str '0057'"),
        ("9223372036854775808", "int64 out of range, got '9223372036854775808'"),
    ],
)
def test_int64_string_must_be_a_canonical_integer_in_range(validator, count, message):
    assert validator.validate(list_body(steps_point(count=count)), LIST) == [
        f"dataPoints[0].steps.count: {message}"
    ]


def test_int32_given_as_string_in_a_nested_ref_path(validator):
    point = steps_point()
    point["steps"]["interval"]["civilStartTime"]["date"]["month"] = "11"

    assert validator.validate(list_body(point), LIST) == [
        "dataPoints[0].steps.interval.civilStartTime.date.month: "
        "int32 must be a JSON integer, got str '11'"
    ]


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        (True, "int32 must be a JSON integer, got bool True"),
        (21.0, "int32 must be a JSON integer, got float 21.0"),
        (2**31, "int32 out of range, got 2147483648"),
    ],
)
def test_int32_rejects_booleans_floats_and_overflow(validator, hours, message):
    point = steps_point()
    point["steps"]["interval"]["civilEndTime"]["time"]["hours"] = hours

    assert validator.validate(list_body(point), LIST) == [
        f"dataPoints[0].steps.interval.civilEndTime.time.hours: {message}"
    ]


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-11-20 02:03:00Z",  # no T
        "2026-11-20T02:03:00",  # no zone
        "2026-02-30T02:03:00Z",  # no such day
        "2026-11-20T24:00:00Z",  # no such hour
        "2026-11-20T02:03:00.1234567890Z",  # ten fractional digits
        "2026-11-20T02:03:00+0500",  # offset without colon
        "2026-11-20t02:03:00z",  # proto3 JSON writes upper case
    ],
)
def test_bad_rfc3339_timestamp(validator, timestamp):
    point = steps_point()
    point["steps"]["interval"]["startTime"] = timestamp

    assert validator.validate(list_body(point), LIST) == [
        "dataPoints[0].steps.interval.startTime: "
        f"google-datetime must be RFC 3339 with Z or an offset, got {timestamp!r}"
    ]


@pytest.mark.parametrize(
    "timestamp",
    ["2026-11-20T02:03:00.123456789Z", "2026-11-19T21:03:00-05:00", "2026-11-20T07:33:00+05:30"],
)
def test_good_rfc3339_timestamps(validator, timestamp):
    point = steps_point()
    point["steps"]["interval"]["startTime"] = timestamp

    assert validator.validate(list_body(point), LIST) == []


@pytest.mark.parametrize("offset", ["-5h", "-18000", "-18000 s", "1.5e3s", "01s", "1.1234567891s"])
def test_bad_duration(validator, offset):
    point = steps_point()
    point["steps"]["interval"]["endUtcOffset"] = offset

    assert validator.validate(list_body(point), LIST) == [
        "dataPoints[0].steps.interval.endUtcOffset: google-duration must be seconds with an 's' "
        f"suffix such as '3600s' or '-1.5s', got {offset!r}"
    ]


@pytest.mark.parametrize("offset", ["3600s", "-14400s", "1.5s", "-0.000000001s", "19800s"])
def test_good_durations(validator, offset):
    point = steps_point()
    point["steps"]["interval"]["endUtcOffset"] = offset

    assert validator.validate(list_body(point), LIST) == []


def test_unknown_property_names_its_schema(validator):
    point = steps_point()
    point["steps"]["colour"] = "red"
    point["extra"] = 1
    body = list_body(point)
    body["kind"] = "health#list"

    assert validator.validate(body, LIST) == [
        "dataPoints[0].steps.colour: unknown property of Steps",
        "dataPoints[0].extra: unknown property of DataPoint",
        "kind: unknown property of ListDataPointsResponse",
    ]


def test_unknown_enum_value(validator):
    point = steps_point()
    point["dataSource"]["device"]["formFactor"] = "SMARTWATCH"

    assert validator.validate(list_body(point), LIST) == [
        "dataPoints[0].dataSource.device.formFactor: unknown enum value 'SMARTWATCH'"
    ]


def test_explicit_zero_values_must_be_omitted(validator):
    point = steps_point()
    point["steps"]["interval"]["civilStartTime"]["time"]["seconds"] = 0
    point["dataSource"]["platform"] = "PLATFORM_UNSPECIFIED"
    daily = {
        "dailyVo2Max": {
            "date": {"year": 2026, "month": 11, "day": 19},
            "vo2Max": 44.5,
            "estimated": False,
        }
    }
    body = {"dataPoints": [point, daily], "nextPageToken": ""}

    assert validator.validate(body, LIST) == [
        "dataPoints[0].dataSource.platform: default value 'PLATFORM_UNSPECIFIED' must be omitted",
        "dataPoints[0].steps.interval.civilStartTime.time.seconds: default value 0 must be omitted",
        "dataPoints[1].dailyVo2Max.estimated: default value False must be omitted",
        "nextPageToken: default value '' must be omitted",
    ]


def test_empty_repeated_field_must_be_omitted(validator):
    assert validator.validate({"dataPoints": []}, LIST) == [
        "dataPoints: default value [] must be omitted"
    ]


def test_zero_values_inside_arrays_are_legal(validator):
    point = {"electrocardiogram": {"waveformSamples": [0, 12, -3, 0]}}
    symptoms = {"symptoms": {"symptoms": ["SYMPTOM_VALUE_UNSPECIFIED", "HEADACHE"]}}

    assert validator.validate(list_body(point, symptoms), LIST) == []


def test_explicit_presence_fields_may_be_zero(validator):
    # Steps.count is `optional` in the proto, so a set zero is written as "0".
    body = list_body(steps_point(count="0"))

    assert validator.validate(body, LIST) == []
    assert DiscoveryValidator(explicit_presence=()).validate(body, LIST) == [
        "dataPoints[0].steps.count: default value '0' must be omitted"
    ]


def test_strict_defaults_off_accepts_zero_values():
    point = steps_point(count="0")
    point["steps"]["interval"]["civilStartTime"]["time"]["seconds"] = 0
    point["dataSource"]["platform"] = "PLATFORM_UNSPECIFIED"
    body = {"dataPoints": [point], "nextPageToken": ""}
    lenient = DiscoveryValidator(strict_defaults=False, explicit_presence=())

    assert lenient.validate(body, LIST) == []


def test_explicit_presence_names_exist_in_the_document():
    schemas = load_discovery()["schemas"]
    missing = [
        name
        for name in sorted(EXPLICIT_PRESENCE)
        if name.partition(".")[2]
        not in schemas.get(name.partition(".")[0], {}).get("properties", {})
    ]

    assert missing == []
    assert len(EXPLICIT_PRESENCE) == 107


def test_null_values_are_violations(validator):
    point = steps_point()
    point["dataSource"]["device"]["manufacturer"] = None
    body = {"dataPoints": [point, None], "nextPageToken": None}

    assert validator.validate(body, LIST) == [
        "dataPoints[0].dataSource.device.manufacturer: null must be omitted",
        "dataPoints[1]: null must be omitted",
        "nextPageToken: null must be omitted",
    ]


def test_wrong_container_types(validator):
    assert validator.validate({"dataPoints": {"steps": {}}}, LIST) == [
        "dataPoints: expected array, got dict"
    ]
    assert validator.validate({"dataPoints": ["steps"]}, LIST) == [
        "dataPoints[0]: expected object, got str 'steps'"
    ]
    assert validator.validate([], LIST) == ["<root>: expected object, got list"]


def test_every_violation_is_reported_with_its_array_index(validator):
    first, second = steps_point(), heart_rate_point()
    first["steps"]["count"] = 12
    second["heartRate"]["sampleTime"]["physicalTime"] = "yesterday"
    second["heartRate"]["metadata"]["sensorLocation"] = "ANKLE"

    assert validator.validate(list_body(first, second), LIST) == [
        "dataPoints[0].steps.count: int64 must be a JSON string, got int 12",
        "dataPoints[1].heartRate.sampleTime.physicalTime: "
        "google-datetime must be RFC 3339 with Z or an offset, got 'yesterday'",
        "dataPoints[1].heartRate.metadata.sensorLocation: unknown enum value 'ANKLE'",
    ]


@pytest.mark.parametrize(
    ("weight", "expected"),
    [
        (70500.5, []),
        (70500, []),
        ("NaN", []),
        ("Infinity", []),
        ("70500.5", ["double must be a JSON number, got str '70500.5'"]),
        (True, ["double must be a JSON number, got bool True"]),
        (
            float("inf"),
            ['double must be finite or a string "NaN", "Infinity", "-Infinity", got inf'],
        ),
    ],
)
def test_double_values(validator, weight, expected):
    point = {
        "weight": {
            "sampleTime": {"physicalTime": "2026-11-20T07:00:00Z", "utcOffset": "-18000s"},
            "weightGrams": weight,
        }
    }

    assert validator.validate(list_body(point), LIST) == [
        f"dataPoints[0].weight.weightGrams: {message}" for message in expected
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("PFRyYWluaW5nQ2VudGVyRGF0YWJhc2UvPg==", []),
        ("PFRyYWluaW5nQ2VudGVyRGF0YWJhc2UvPg", []),  # unpadded
        ("-_-_", []),  # URL-safe alphabet
        ("not base64!", ["data: byte must be base64, got str 'not base64!'"]),
        ("A", ["data: byte must be base64, got str 'A'"]),
    ],
)
def test_byte_values(validator, data, expected):
    assert validator.validate({"contentType": "application/xml", "data": data}, "HttpBody") == (
        expected
    )


def test_response_and_request_schemas_by_method(validator):
    assert validator.response_schema("health.users.dataTypes.dataPoints.list") == LIST
    assert validator.response_schema("health.users.dataTypes.dataPoints.reconcile") == (
        "ReconcileDataPointsResponse"
    )
    assert validator.response_schema("health.users.getIdentity") == "Identity"
    assert validator.request_schema("health.users.dataTypes.dataPoints.rollUp") == (
        "RollUpDataPointsRequest"
    )
    assert validator.request_schema("health.users.dataTypes.dataPoints.list") is None


def test_unknown_method_and_schema_are_errors(validator):
    with pytest.raises(ValueError, match=r"method 'health\.users\.list' is not in the discovery"):
        validator.response_schema("health.users.list")
    with pytest.raises(ValueError, match="schema 'DataPoints' is not in the discovery"):
        validator.validate({}, "DataPoints")


def test_check_raises_with_every_violation(validator):
    point = steps_point(count=5)
    point["steps"]["colour"] = "red"

    with pytest.raises(SchemaViolation) as raised:
        validator.check(list_body(point), LIST)

    assert raised.value.violations == (
        "dataPoints[0].steps.count: int64 must be a JSON string, got int 5",
        "dataPoints[0].steps.colour: unknown property of Steps",
    )
    assert str(raised.value) == (
        "2 violation(s) of ListDataPointsResponse:\n"
        "dataPoints[0].steps.count: int64 must be a JSON string, got int 5\n"
        "dataPoints[0].steps.colour: unknown property of Steps"
    )
    assert isinstance(raised.value, ValueError)


def test_every_schema_of_the_document_accepts_an_empty_object(validator):
    # Walks each schema once; fails on a type or format the validator does not know.
    assert {name: validator.validate({}, name) for name in load_discovery()["schemas"]} == {
        name: [] for name in load_discovery()["schemas"]
    }


def test_maps_dates_uint64_and_nested_resources_of_a_custom_document():
    doc = {
        "schemas": {
            "Thing": {
                "id": "Thing",
                "type": "object",
                "properties": {
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "day": {"type": "string", "format": "date"},
                    "size": {"type": "string", "format": "uint64"},
                    "mask": {"type": "string", "format": "google-fieldmask"},
                },
            }
        },
        "resources": {
            "a": {
                "resources": {
                    "b": {"methods": {"get": {"id": "x.a.b.get", "response": {"$ref": "Thing"}}}}
                }
            }
        },
    }
    validator = DiscoveryValidator(doc)
    thing = {
        "labels": {"env": "dev", "empty": ""},
        "day": "2026-11-20",
        "size": "18446744073709551615",
    }
    bad = {"labels": {"n": 1}, "day": "2026-13-01", "size": "-1", "mask": ""}

    assert validator.response_schema("x.a.b.get") == "Thing"
    assert validator.validate(thing, "Thing") == []
    assert validator.validate(bad, "Thing") == [
        "labels.n: expected string, got int 1",
        "day: date must be YYYY-MM-DD, got '2026-13-01'",
        "size: uint64 out of range, got '-1'",
    ]


# The standard Google error envelope.


def rate_limited():
    return {
        "error": {
            "code": 429,
            "message": "Quota exceeded for quota metric 'Read requests per user per minute'.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "RATE_LIMIT_EXCEEDED",
                    "domain": "googleapis.com",
                    "metadata": {
                        "service": "health.googleapis.com",
                        "quota_limit": "ReadRequestsPerMinutePerUser",
                    },
                }
            ],
        }
    }


def test_valid_rate_limit_error(validator):
    assert validator.validate_error(rate_limited(), http_status=429) == []


def test_error_code_must_match_status(validator):
    body = rate_limited()
    body["error"]["code"] = 400

    assert validator.validate_error(body, http_status=429) == [
        "error.code: 400 does not match status RESOURCE_EXHAUSTED, which maps to 429",
        "error.code: 400 differs from the HTTP status 429",
    ]


def test_error_message_is_required(validator):
    body = rate_limited()
    del body["error"]["message"]

    assert validator.validate_error(body) == ["error.message: required field missing"]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("INVALID_ARGUMENT", 400),
        ("FAILED_PRECONDITION", 400),
        ("UNAUTHENTICATED", 401),
        ("PERMISSION_DENIED", 403),
        ("NOT_FOUND", 404),
        ("INTERNAL", 500),
        ("UNAVAILABLE", 503),
        ("DEADLINE_EXCEEDED", 504),
    ],
)
def test_canonical_codes_map_to_http_status(validator, status, code):
    body = {"error": {"code": code, "message": "m", "status": status}}

    assert validator.validate_error(body, http_status=code) == []


def test_error_status_must_be_a_canonical_error_name(validator):
    assert validator.validate_error(
        {"error": {"code": 429, "message": "m", "status": "TOO_MANY"}}
    ) == ["error.status: 'TOO_MANY' is not a google.rpc.Code name of an error"]
    assert validator.validate_error({"error": {"code": 200, "message": "m", "status": "OK"}}) == [
        "error.status: 'OK' is not a google.rpc.Code name of an error"
    ]


def test_error_envelope_shape(validator):
    assert validator.validate_error({"code": 400}) == [
        "error: required field missing",
        "code: unknown property",
    ]
    assert validator.validate_error(
        {"error": {"code": "400", "message": "m", "status": "INVALID_ARGUMENT", "reason": "x"}}
    ) == [
        "error.code: int32 must be a JSON integer, got str '400'",
        "error.reason: unknown property",
    ]


def test_error_details_are_checked_as_any(validator):
    body = rate_limited()
    info = body["error"]["details"][0]
    info["reason"] = 7
    info["metadata"]["retries"] = 3
    info["retryDelay"] = "30s"
    body["error"]["details"] += [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"},
        {"retryDelay": "30s"},
    ]

    assert validator.validate_error(copy.deepcopy(body)) == [
        "error.details[0].reason: expected string, got int 7",
        "error.details[0].metadata.retries: expected string, got int 3",
        "error.details[0].retryDelay: unknown property of google.rpc.ErrorInfo",
        "error.details[2]: an Any needs a string @type",
    ]
