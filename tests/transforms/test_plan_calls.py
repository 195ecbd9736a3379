"""PlanCalls: requests -> the exact calls, and only FetchRequests go in.

The planning rules (windows per data type, the roll-up cap, civil days) are
proven on `healthapi.planning`; here the composite applies them to every
request, keeps each request's user and stream, and refuses, when the graph is
built, a PCollection that is not of FetchRequests.
"""

from __future__ import annotations

import datetime as dt

import apache_beam as beam
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.typehints.decorators import TypeCheckError

from healthapi.elements import STREAM_RAW, STREAM_RECONCILED, ApiCall, FetchRequest
from transforms.plan import PlanCalls

D = dt.date.fromisoformat


def test_each_request_becomes_its_windows_calls():
    requests = [
        FetchRequest("user-1", "heart-rate", D("2026-11-20"), D("2026-11-20"), STREAM_RAW),
        FetchRequest("user-2", "total-calories", D("2026-11-01"), D("2026-11-20")),
        FetchRequest("user-2", "steps", D("2026-11-01"), D("2026-11-07")),
        FetchRequest("user-3", "weight", D("2026-11-01"), D("2026-11-27")),
    ]
    with test_pipeline.TestPipeline() as p:
        calls = p | beam.Create(requests) | PlanCalls()
        assert_that(
            calls,
            equal_to(
                [
                    # Heart rate: one call, its window up to 16 full pages (9 days).
                    ApiCall("user-1", "list", "heart-rate", "2026-11-20", "2026-11-21", STREAM_RAW),
                    # Total calories: the daily activity summary, up to 630 days a call.
                    ApiCall(
                        "user-2",
                        "summary",
                        "daily-activity-summary",
                        "2026-11-01",
                        "2026-11-21",
                        STREAM_RECONCILED,
                    ),
                    # Steps: up to 111 days a call.
                    ApiCall("user-2", "list", "steps", "2026-11-01", "2026-11-08"),
                    # Weight: one window for a sparse type.
                    ApiCall("user-3", "list", "weight", "2026-11-01", "2026-11-28"),
                ]
            ),
            label="calls",
        )


def test_only_fetch_requests_are_planned():
    p = test_pipeline.TestPipeline()
    lines = p | beam.Create(['{"user_id": "user-1"}']).with_output_types(str)
    with pytest.raises(TypeCheckError, match=r"requires PCollections of type .*FetchRequest"):
        _ = lines | PlanCalls()
