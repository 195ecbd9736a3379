"""ValidateRows: rows that fit their table's Avro schema pass, as BigQuery JSON TableRows;
the others are `schema` letters.

The rows are the literal ones of tests/unit/test_rows.py. Dead letters are
stamped with the wall clock (the composite takes no clock); see `wall_stamped`.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.convert import to_bigquery_json
from tests.transforms.conftest import WALL, counter, wall_stamped
from tests.unit.test_rows import EXERCISE_GPS_ROW, STEPS_RAW_ROW, USER
from transforms.dead_letters import DeadLetter
from transforms.validate import ValidateRows

TEXT_COUNT = {**STEPS_RAW_ROW, "step_count": "57"}
NO_KEY = {k: v for k, v in STEPS_RAW_ROW.items() if k != "record_key"}


def refused(table: str, row: dict, error_class: str, message: str) -> DeadLetter:
    return DeadLetter(
        stage="schema",
        original=row,
        error_class=error_class,
        message=message,
        timestamp=WALL,
        user_key=USER,
        table=table,
    )


def test_rows_that_fit_pass_and_the_others_are_replayable_schema_dead_letters():
    good = [("steps", STEPS_RAW_ROW), ("exercise", EXERCISE_GPS_ROW)]
    p = test_pipeline.TestPipeline()
    out = (
        p
        | beam.Create(
            [good[0], ("steps", TEXT_COUNT), ("steps", NO_KEY), ("nope", STEPS_RAW_ROW), good[1]]
        )
        | ValidateRows()
    )
    assert_that(
        out.rows | beam.Map(lambda row: (row.table, dict(row))),
        equal_to([(table, to_bigquery_json(table, row)) for table, row in good]),
        label="rows",
    )
    assert_that(
        out.dead_letter | beam.Map(wall_stamped),
        equal_to(
            [
                refused(
                    "steps",
                    TEXT_COUNT,
                    "ValidationError",
                    "[\n  \"fitbeam.tables.steps.step_count is <57> of type <class 'str'> "
                    'expected long"\n]',
                ),
                refused(
                    "steps",
                    NO_KEY,
                    "ValidationError",
                    '[\n  "Field(fitbeam.tables.steps.record_key) is None expected string"\n]',
                ),
                refused("nope", STEPS_RAW_ROW, "KeyError", "'nope'"),
            ]
        ),
        label="dead letters",
    )
    result = p.run()
    result.wait_until_finish()
    assert counter(result, "rows_valid_steps") == 1
    assert counter(result, "rows_valid_exercise") == 1
    assert counter(result, "dead_letters_schema") == 3


def test_a_row_without_a_nullable_column_is_a_schema_dead_letter_not_a_failed_write():
    # fastavro reads the missing column as null; WriteTables' to_bigquery_json would raise
    # KeyError on it and fail the run.
    row = {k: v for k, v in EXERCISE_GPS_ROW.items() if k != "notes"}
    with test_pipeline.TestPipeline() as p:
        out = p | beam.Create([("exercise", row)]) | ValidateRows()
        assert_that(out.rows, equal_to([]), label="no rows")
        assert_that(
            out.dead_letter | beam.Map(lambda d: (d.stage, d.table, d.user_key, d.original)),
            equal_to([("schema", "exercise", USER, row)]),
            label="dead letters",
        )


def test_a_row_with_a_column_its_table_does_not_have_is_a_schema_dead_letter():
    row = {**EXERCISE_GPS_ROW, "surprise": 1}
    with test_pipeline.TestPipeline() as p:
        out = p | beam.Create([("exercise", row)]) | ValidateRows()
        assert_that(out.rows, equal_to([]), label="no rows")
        assert_that(
            out.dead_letter | beam.Map(lambda d: (d.stage, d.table, d.user_key, d.original)),
            equal_to([("schema", "exercise", USER, row)]),
            label="dead letters",
        )
