"""schemas.convert.loadable_problem: what BigQuery JSON cannot carry, named, found cheaply."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from rows import datapoints
from schemas.convert import loadable_problem, to_bigquery_json
from tests.unit.test_rows import CTX, SLEEP_DST_NIGHT, STEPS_RAW_ROW

UTC = dt.UTC


def _sleep_row() -> dict:
    ((table, row),) = datapoints.rows_for_point("sleep", SLEEP_DST_NIGHT, CTX, "raw")
    assert table == "sleep" and row["stages"]
    return row


def test_a_good_row_has_no_problem_and_converts():
    assert loadable_problem("steps", STEPS_RAW_ROW) is None
    assert loadable_problem("sleep", _sleep_row()) is None
    to_bigquery_json("sleep", _sleep_row())  # what the check passes converts


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"source_platform": dataclasses.MISSING}, "the row has no field 'source_platform'"),
        ({"surprise": 1}, "the row has fields its table does not have: surprise"),
        (
            {"start_time": 1_795_000_000_000_000},
            "a date or time field holds something else: start_time is 1795000000000000",
        ),
        (
            {"start_time": dt.datetime(2026, 11, 20, 2, 3)},
            "a date or time field holds something else: start_time is "
            "datetime.datetime(2026, 11, 20, 2, 3)",
        ),
        (
            {"civil_date": "2026-11-19"},
            "a date or time field holds something else: civil_date is '2026-11-19'",
        ),
    ],
)
def test_a_flat_row_names_its_first_problem(change, problem):
    row = {**STEPS_RAW_ROW, **change}
    row = {k: v for k, v in row.items() if v is not dataclasses.MISSING}
    assert loadable_problem("steps", row) == problem


def test_a_float_that_is_not_a_number_is_named():
    row = datapoints.rows_for_point(
        "weight",
        {
            "weight": {
                "sampleTime": {"physicalTime": "2026-11-20T07:00:00Z", "utcOffset": "0s"},
                "weightGrams": 70000.0,
            },
            "name": "users/me/dataTypes/weight/dataPoints/1",
        },
        CTX,
        "reconciled",
    )[0][1]
    assert loadable_problem("weight", row) is None
    assert loadable_problem("weight", {**row, "weight_grams": float("nan")}) == (
        "weight_grams: nan is not a number BigQuery JSON can hold"
    )
    assert loadable_problem("weight", {**row, "weight_grams": float("-inf")}) == (
        "weight_grams: -inf is not a number BigQuery JSON can hold"
    )


def test_a_nested_record_is_checked_field_by_field():
    row = _sleep_row()
    stage = {**row["stages"][0], "start_time": 12}
    assert loadable_problem("sleep", {**row, "stages": [stage, *row["stages"][1:]]}) == (
        "a date or time field holds something else: stages[].start_time is 12"
    )
    extra = {**row["stages"][0], "why": "x"}
    assert loadable_problem("sleep", {**row, "stages": [extra]}) == (
        "the row has fields its table does not have: why"
    )


def test_an_unknown_table_is_an_error():
    with pytest.raises(ValueError, match="nope"):
        loadable_problem("nope", STEPS_RAW_ROW)
