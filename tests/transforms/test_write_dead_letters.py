"""WriteDeadLetters: every letter as one exact JSON line under `<root>/<run id>/`.

The letters hold what the stages put in them: a request message, an ApiCall
with its parent exercise (dates and datetimes), a typed row, a body longer
than the excerpt. Each line is compared with the JSON written out here by
hand. How a streaming bundle is cut into files is proven on the DoFn in
tests/unit/test_dead_letter_files.py.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import apache_beam as beam
import pytest
from apache_beam.testing import test_pipeline

from healthapi.elements import STREAM_RAW, ApiCall
from transforms.dead_letters import DeadLetter, WriteDeadLetters

STAMP = "2026-11-28T12:30:05.000000Z"
EXERCISE = ApiCall(
    "user-2",
    "tcx",
    "exercise",
    stream=STREAM_RAW,
    data_point_id="4740180907190888148",
    parent=(
        ("civil_date", dt.date(2026, 11, 11)),
        ("data_point_id", "4740180907190888148"),
        ("start_time", dt.datetime(2026, 11, 11, 4, 41, tzinfo=dt.UTC)),
    ),
)
LETTERS = [
    DeadLetter(
        stage="parse_request",
        original={"message": "not json", "message_id": "4711"},
        error_class="not_json",
        message="not JSON: Expecting value at line 1 column 1",
        timestamp=STAMP,
        replayable=False,
    ),
    DeadLetter(
        stage="fetch_detail",
        original=EXERCISE,
        error_class="UNAVAILABLE",
        message="The service is currently unavailable.",
        timestamp=STAMP,
        http_status=503,
        body="x" * 2500,
        attempts=6,
        user_key="user-2",
    ),
    DeadLetter(
        stage="schema",
        original={
            "user_key": "user-1",
            "civil_date": dt.date(2026, 11, 19),
            "start_time": dt.datetime(2026, 11, 20, 2, 3, tzinfo=dt.UTC),
            "civil_start_datetime": dt.datetime(2026, 11, 19, 21, 3),
            "step_count": "57",
        },
        error_class="ValidationError",
        message="step_count is <57> of type <class 'str'> expected long",
        timestamp=STAMP,
        user_key="user-1",
        table="steps",
    ),
]
# What each letter must look like in the file, written out by hand.
LINES = [
    {
        "stage": "parse_request",
        "original": {"message": "not json", "message_id": "4711"},
        "error_class": "not_json",
        "message": "not JSON: Expecting value at line 1 column 1",
        "timestamp": STAMP,
        "http_status": 0,
        "body": "",
        "attempts": 1,
        "user_key": "",
        "table": "",
        "replayable": False,
    },
    {
        "stage": "fetch_detail",
        "original": {
            "user_key": "user-2",
            "kind": "tcx",
            "data_type": "exercise",
            "start": "",
            "end": "",
            "stream": "raw",
            "data_point_id": "4740180907190888148",
            "parent": {
                "civil_date": "2026-11-11",
                "data_point_id": "4740180907190888148",
                "start_time": "2026-11-11T04:41:00+00:00",
            },
        },
        "error_class": "UNAVAILABLE",
        "message": "The service is currently unavailable.",
        "timestamp": STAMP,
        "http_status": 503,
        "body": "x" * 2000,
        "attempts": 6,
        "user_key": "user-2",
        "table": "",
        "replayable": True,
    },
    {
        "stage": "schema",
        "original": {
            "user_key": "user-1",
            "civil_date": "2026-11-19",
            "start_time": "2026-11-20T02:03:00+00:00",
            "civil_start_datetime": "2026-11-19T21:03:00",
            "step_count": "57",
        },
        "error_class": "ValidationError",
        "message": "step_count is <57> of type <class 'str'> expected long",
        "timestamp": STAMP,
        "http_status": 0,
        "body": "",
        "attempts": 1,
        "user_key": "user-1",
        "table": "steps",
        "replayable": True,
    },
]


def by_stage(lines: list[dict]) -> list[dict]:
    return sorted(lines, key=lambda d: d["stage"])


def test_batch_letters_are_one_file_of_exact_sorted_key_json_lines(tmp_path):
    with test_pipeline.TestPipeline() as p:
        _ = p | beam.Create(LETTERS) | WriteDeadLetters(str(tmp_path), "run-1")

    assert [f.name for f in tmp_path.iterdir()] == ["run-1"]
    [written] = list((tmp_path / "run-1").iterdir())
    assert written.name == "dead-letters-00000-of-00001.jsonl"
    lines = written.read_text(encoding="utf-8").splitlines()
    assert by_stage([json.loads(line) for line in lines]) == by_stage(LINES)
    # Keys sorted and no spaces added: one letter, one grep-able line.
    assert sorted(lines) == sorted(json.dumps(d, sort_keys=True) for d in LINES)


def test_streaming_letters_are_files_named_by_time_holding_the_same_lines(tmp_path):
    with test_pipeline.TestPipeline() as p:
        _ = p | beam.Create(LETTERS) | WriteDeadLetters(f"{tmp_path}/", "run-1", streaming=True)

    files = list((tmp_path / "run-1").iterdir())
    assert files
    assert all(
        re.fullmatch(r"dead-letters-\d{8}T\d{6}Z-[0-9a-f]{12}\.jsonl", f.name) for f in files
    ), [f.name for f in files]
    lines = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert by_stage(lines) == by_stage(LINES)


@pytest.mark.parametrize(
    ("root", "run_id", "message"),
    [
        (
            "",
            "run-1",
            "dead-letter root '' is empty or padded: use a folder, e.g. "
            "gs://my-bucket/dead-letters or /var/fitbeam/dead-letters",
        ),
        (
            " gs://b/dead-letters",
            "run-1",
            "dead-letter root ' gs://b/dead-letters' is empty or padded: use a folder, e.g. "
            "gs://my-bucket/dead-letters or /var/fitbeam/dead-letters",
        ),
        ("gs://b/dead-letters", "", "run id '' must be a non-empty name without '/'"),
        ("gs://b/dead-letters", "a/b", "run id 'a/b' must be a non-empty name without '/'"),
    ],
    ids=["no root", "padded root", "no run id", "run id with a slash"],
)
def test_a_bad_root_or_run_id_is_refused_when_the_graph_is_built(root, run_id, message):
    with pytest.raises(ValueError) as caught:
        WriteDeadLetters(root, run_id)
    assert str(caught.value) == message
