"""ReadRequests and ParseRequests: the CLI's requests and files of request messages.

The message contract itself (every reason, every limit) is proven on the
parser in tests/unit/test_request_messages.py; here the composite is: which
source it reads, that blank lines are no requests, that a glob reads every
file, that `max_range_days` and `clock` reach the parser, and that a bad line
becomes a whole, exact dead letter beside the good ones.
"""

from __future__ import annotations

import datetime as dt
import json

import apache_beam as beam
import pytest
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from healthapi.elements import STREAM_RAW, FetchRequest
from healthapi.messages import request_message
from tests.transforms.conftest import NOW_TEXT, fixed_clock
from transforms.dead_letters import DeadLetter
from transforms.requests import ParseRequests, ReadRequests

D = dt.date.fromisoformat


def bad_letter(original, reason: str, message: str, user_key: str = "") -> DeadLetter:
    return DeadLetter(
        stage="parse_request",
        original={"message": original},
        error_class=reason,
        message=message,
        timestamp=NOW_TEXT,
        user_key=user_key,
        replayable=False,
    )


def test_requests_from_the_command_line_pass_as_they_are():
    requests = [
        FetchRequest("user-1", "steps", D("2026-11-20"), D("2026-11-21")),
        FetchRequest("user-2", "sleep", D("2026-11-20"), D("2026-11-21"), STREAM_RAW),
    ]
    with test_pipeline.TestPipeline() as p:
        out = p | ReadRequests(requests=requests)
        assert_that(out["requests"], equal_to(requests), label="requests")
        assert_that(out["dead_letter"], equal_to([]), label="no dead letters")


def test_a_requests_file_gives_its_requests_and_a_dead_letter_per_bad_line(tmp_path):
    eight_days = {"user_id": "user-3", "start_date": "2026-11-13", "end_date": "2026-11-20"}
    lines = [
        request_message("user-1", D("2026-11-20"), data_types=["steps"]),
        b"",
        b"not json",
        b"   ",
        json.dumps(eight_days).encode(),
        request_message("user-2", D("2026-11-14"), D("2026-11-20"), ["sleep", "weight"]),
        request_message("user-1", D("2026-11-30"), data_types=["steps"]),
    ]
    (tmp_path / "requests-1.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    # A second file of the same glob, without a final newline.
    (tmp_path / "requests-2.jsonl").write_bytes(
        request_message("user-3", D("2026-11-27"), data_types=["weight"])
    )

    with test_pipeline.TestPipeline() as p:
        out = p | ReadRequests(
            requests_file=str(tmp_path / "requests-*.jsonl"), max_range_days=7, clock=fixed_clock
        )

        assert_that(
            out["requests"],
            equal_to(
                [
                    FetchRequest("user-1", "steps", D("2026-11-20"), D("2026-11-20")),
                    FetchRequest("user-2", "sleep", D("2026-11-14"), D("2026-11-20")),
                    FetchRequest("user-2", "weight", D("2026-11-14"), D("2026-11-20")),
                    FetchRequest("user-3", "weight", D("2026-11-27"), D("2026-11-27")),
                ]
            ),
            label="requests",
        )
        assert_that(
            out["dead_letter"],
            equal_to(
                [
                    bad_letter(
                        "not json", "not_json", "not JSON: Expecting value at line 1 column 1"
                    ),
                    # max_range_days reached the parser: 8 days are one too many.
                    bad_letter(
                        eight_days,
                        "range_too_long",
                        "2026-11-13..2026-11-20 is 8 days; split it into ranges of at most 7",
                        "user-3",
                    ),
                    # The clock reached the parser: at 2026-11-28T23:59Z the 30th is ahead
                    # everywhere on Earth.
                    bad_letter(
                        {"data_types": ["steps"], "date": "2026-11-30", "user_id": "user-1"},
                        "future_date",
                        "2026-11-30 is in the future (it is at most 2026-11-29 anywhere now)",
                        "user-1",
                    ),
                ]
            ),
            label="dead letters",
        )


def test_parse_requests_reads_pubsub_messages_and_keeps_their_ids():
    messages = [
        PubsubMessage(
            request_message("user-1", D("2026-11-20"), data_types=["steps"]), {}, message_id="1"
        ),
        PubsubMessage(b'{"user_id": "user-1"}', {"origin": "test"}, message_id="2"),
    ]
    with test_pipeline.TestPipeline() as p:
        out = p | beam.Create(messages) | ParseRequests(clock=fixed_clock)
        assert_that(
            out.requests,
            equal_to([FetchRequest("user-1", "steps", D("2026-11-20"), D("2026-11-20"))]),
            label="requests",
        )
        assert_that(
            out.dead_letter,
            equal_to(
                [
                    DeadLetter(
                        stage="parse_request",
                        original={"message": {"user_id": "user-1"}, "message_id": "2"},
                        error_class="missing_dates",
                        message="give date, or start_date and end_date",
                        timestamp=NOW_TEXT,
                        user_key="user-1",
                        replayable=False,
                    )
                ]
            ),
            label="dead letters",
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {},
            "give exactly one source of requests, not none: FetchRequests, a requests file "
            "(requests.jsonl) or a Pub/Sub subscription "
            "(projects/my-project/subscriptions/fitbeam-requests)",
        ),
        (
            {
                "requests": [FetchRequest("user-1", "steps", D("2026-11-20"), D("2026-11-20"))],
                "requests_file": "requests.jsonl",
            },
            "give exactly one source of requests, not ['requests', 'requests_file']: "
            "FetchRequests, a requests file (requests.jsonl) or a Pub/Sub subscription "
            "(projects/my-project/subscriptions/fitbeam-requests)",
        ),
        (
            {"requests_file": "requests.jsonl", "max_range_days": 0},
            "max_range_days=0 must be a whole number of days of at least 1, e.g. 366",
        ),
    ],
    ids=["no source", "two sources", "no days"],
)
def test_a_bad_source_is_refused_when_the_graph_is_built(kwargs, message):
    with pytest.raises(ValueError) as caught:
        ReadRequests(**kwargs)
    assert str(caught.value) == message
