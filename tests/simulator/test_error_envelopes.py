"""The error envelope's details: ErrorInfo and google.rpc.BadRequest, built and checked."""

from __future__ import annotations

import logging

import requests

from simulator.discovery import DiscoveryValidator
from simulator.errors import ApiError, invalid_filter, not_found

VALIDATOR = DiscoveryValidator()
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


def test_invalid_filter_envelope():
    body = invalid_filter("Unexpected token '>'.", "INVALID_DATA_POINT_FILTER_UNEXPECTED_TOKEN")
    assert body.envelope("rpc.Method") == {
        "error": {
            "code": 400,
            "message": "Unexpected token '>'.",
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "INVALID_DATA_POINT_FILTER",
                    "domain": "health.googleapis.com",
                    "metadata": {
                        "service": "health.googleapis.com",
                        "detailedReasons": "INVALID_DATA_POINT_FILTER_UNEXPECTED_TOKEN",
                        "method": "rpc.Method",
                    },
                },
                {
                    "@type": BAD_REQUEST,
                    "fieldViolations": [
                        {"field": "filter", "description": "Unexpected token '>'."}
                    ],
                },
            ],
        }
    }
    assert VALIDATOR.validate_error(body.envelope("rpc.Method"), 400) == []


def test_not_found_envelope():
    envelope = not_found().envelope()
    assert envelope["error"]["status"] == "NOT_FOUND"
    assert [d["reason"] for d in envelope["error"]["details"]] == ["RESOURCE_NOT_FOUND"]
    assert VALIDATOR.validate_error(envelope, 404) == []


def test_a_bad_request_without_error_info():
    envelope = ApiError(400, "Invalid value", field_violations=(("page_size", "x"),)).envelope()
    assert envelope["error"]["details"] == [
        {"@type": BAD_REQUEST, "fieldViolations": [{"field": "page_size", "description": "x"}]}
    ]


def test_the_validator_checks_bad_request_details():
    def error_with(violation: object) -> dict:
        detail = {"@type": BAD_REQUEST, "fieldViolations": [violation]}
        return {
            "error": {
                "code": 400,
                "message": "m",
                "status": "INVALID_ARGUMENT",
                "details": [detail],
            }
        }

    assert VALIDATOR.validate_error(error_with({"field": "filter", "description": "d"})) == []
    assert VALIDATOR.validate_error(error_with({"field": "filter"})) == [
        "error.details[0].fieldViolations[0].description: required field missing"
    ]
    assert VALIDATOR.validate_error(
        error_with({"field": "filter", "description": "d", "why": "x"})
    ) == [
        "error.details[0].fieldViolations[0].why: unknown property of "
        "google.rpc.BadRequest.FieldViolation"
    ]
    assert VALIDATOR.validate_error(error_with({"field": 3, "description": "d"})) == [
        "error.details[0].fieldViolations[0].field: expected string, got int 3"
    ]


class _Broken:
    """An app whose every request raises, as a simulator bug would."""

    def handle(self, method, path, headers, body):
        raise KeyError("active-energy-burned")


def test_a_simulator_bug_is_a_500_envelope_not_a_dropped_connection(make_sim, caplog):
    sim = make_sim()
    sim._server.app = _Broken()
    with caplog.at_level(logging.ERROR, logger="simulator.server"):
        response = requests.get(
            f"{sim.base_url}/v4/users/me/dataTypes/steps/dataPoints?pageToken=secret-ish",
            timeout=10,
        )
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}
    }
    assert VALIDATOR.validate_error(response.json(), 500) == []
    assert "simulator error on GET /v4/users/me/dataTypes/steps/dataPoints" in caplog.text
    assert "secret-ish" not in caplog.text
