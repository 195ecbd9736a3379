"""ReplayDeadLetters: dead-letter files back to exact calls and typed rows.

What one letter becomes is proven on the DoFn in tests/unit/test_replay.py;
here the composite reads a glob of files, skips blank lines, sorts letters
into `calls`, `rows` and `dead_letter`, counts what it skipped, and reads back
exactly what `WriteDeadLetters` wrote.
"""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from healthapi.elements import STREAM_RAW, ApiCall
from schemas.convert import to_bigquery_json
from tests.transforms.conftest import WALL, counter, wall_stamped
from tests.unit.test_rows import EXERCISE_GPS_ROW, STEPS_RAW_ROW
from transforms.dead_letters import DeadLetter, WriteDeadLetters
from transforms.replay import ReplayDeadLetters

STAMP = "2026-11-28T12:30:05.000000Z"
CALL = ApiCall("user-1", "list", "steps", "2026-11-20", "2026-11-23", STREAM_RAW)
TCX_CALL = ApiCall(
    "user-2",
    "tcx",
    "exercise",
    data_point_id="4740180907190888148",
    parent=(("data_point_id", "4740180907190888148"), ("exercise_type", "RUNNING")),
)


def letter(stage: str, original, **fields) -> DeadLetter:
    return DeadLetter(
        stage=stage,
        original=original,
        error_class=fields.pop("error_class", "X"),
        message="m",
        timestamp=STAMP,
        **fields,
    )


FETCH = letter("fetch", CALL, http_status=503, attempts=6, user_key="user-1")
DETAIL = letter("fetch_detail", TCX_CALL, user_key="user-2")
SCHEMA = letter("schema", STEPS_RAW_ROW, table="steps")
BIGQUERY = letter("bigquery", to_bigquery_json("exercise", EXERCISE_GPS_ROW), table="exercise")
BAD_MESSAGE = letter("parse_request", {"message": "x"}, replayable=False)
BAD_POINT = letter("rows", {"call": CALL.to_json(), "point": {}}, replayable=False)


def test_letters_in_a_glob_of_files_come_back_as_calls_and_rows(tmp_path):
    run = tmp_path / "run-1"
    run.mkdir()
    lines = [FETCH.to_json(), "", SCHEMA.to_json(), BAD_MESSAGE.to_json(), "  ", "not json"]
    (run / "dead-letters-a.jsonl").write_text("\n".join(lines) + "\n")
    others = [BIGQUERY.to_json(), BAD_POINT.to_json(), DETAIL.to_json()]
    (run / "dead-letters-b.jsonl").write_text("\n".join(others))

    p = test_pipeline.TestPipeline()
    out = p | ReplayDeadLetters(str(tmp_path / "run-*" / "*.jsonl"))
    assert_that(out.calls, equal_to([CALL, TCX_CALL]), label="calls")
    assert_that(
        out.rows,
        equal_to([("steps", STEPS_RAW_ROW), ("exercise", EXERCISE_GPS_ROW)]),
        label="rows",
    )
    assert_that(
        out.dead_letter | beam.Map(wall_stamped),
        equal_to(
            [
                DeadLetter(
                    stage="replay",
                    original="not json",
                    error_class="JSONDecodeError",
                    message="Expecting value: line 1 column 1 (char 0)",
                    timestamp=WALL,
                    replayable=False,
                )
            ]
        ),
        label="dead letters",
    )
    result = p.run()
    result.wait_until_finish()
    # The run report shows these: what came back, and what was left where it is.
    assert counter(result, "replayed_calls") == 2
    assert counter(result, "replayed_rows") == 2
    assert counter(result, "replay_skipped_parse_request") == 1
    assert counter(result, "replay_skipped_rows") == 1
    assert counter(result, "dead_letters_replay") == 1


def test_what_the_sink_wrote_the_replay_reads_back(tmp_path):
    with test_pipeline.TestPipeline() as p:
        _ = (
            p
            | beam.Create([FETCH, DETAIL, SCHEMA, BIGQUERY, BAD_MESSAGE])
            | WriteDeadLetters(str(tmp_path), "run-1")
        )

    with test_pipeline.TestPipeline() as p:
        out = p | ReplayDeadLetters(f"{tmp_path}/run-1/*.jsonl")
        assert_that(out.calls, equal_to([CALL, TCX_CALL]), label="calls")
        assert_that(
            out.rows,
            equal_to([("steps", STEPS_RAW_ROW), ("exercise", EXERCISE_GPS_ROW)]),
            label="rows",
        )
        assert_that(out.dead_letter, equal_to([]), label="no dead letters")


@pytest.mark.parametrize("pattern", ["", "   ", None])
def test_no_pattern_is_refused_when_the_graph_is_built(pattern):
    with pytest.raises(ValueError) as caught:
        ReplayDeadLetters(pattern)
    assert str(caught.value) == (
        "no dead-letter files to replay: give a path or glob, "
        "e.g. gs://my-bucket/dead-letters/run-*/*.jsonl"
    )
