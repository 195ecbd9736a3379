"""commands.logs: JSON lines on Google Cloud, text elsewhere."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from commands import logs


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "text"),
        ({"K_SERVICE": "fitbeam-relay"}, "json"),
        ({"CLOUD_RUN_JOB": "fitbeam-enqueue"}, "json"),
        ({"FLEX_TEMPLATE_PYTHON_PY_FILE": "/template/main.py"}, "json"),
        ({"K_SERVICE": "x", "FITBEAM_LOG_FORMAT": "text"}, "text"),
        ({"FITBEAM_LOG_FORMAT": " JSON "}, "json"),
    ],
)
def test_the_format_follows_the_environment(environ, expected):
    assert logs.log_format(environ) == expected


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match=r"FITBEAM_LOG_FORMAT='xml': use json or text"):
        logs.log_format({"FITBEAM_LOG_FORMAT": "xml"})


def test_a_record_is_one_json_object_cloud_logging_understands():
    record = logging.LogRecord(
        "healthapi.auth.broker",
        logging.WARNING,
        __file__,
        1,
        "user %s: consent needed",
        ("participant-017",),
        None,
    )
    record.created = 1_795_000_000.25
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line) == {
        "severity": "WARNING",
        "message": "user participant-017: consent needed",
        "logger": "healthapi.auth.broker",
        "time": "2026-11-18T11:06:40.250+00:00",
    }


def test_an_exception_goes_in_one_line_with_its_trace():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = json.loads(logs.JsonFormatter().format(record))
    assert entry["severity"] == "ERROR"
    assert entry["stack_trace"].startswith("Traceback (most recent call last):")
    assert entry["stack_trace"].endswith("RuntimeError: boom")
