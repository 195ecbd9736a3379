"""schemas.convert.checked_json: one strict pass that vouches only for what fastavro and
`loadable_problem` would pass, and converts as `to_bigquery_json` does."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo

import fastavro
import pytest

from schemas.bigquery import ALL_TABLES, USER_TABLES, load_avro_schema
from schemas.convert import checked_json, loadable_problem, to_bigquery_json, utc_text
from tests.unit.test_fuzz import SEED, mutated_row, sample_rows

SCHEMAS = {t: fastavro.parse_schema(load_avro_schema(t)) for t in ALL_TABLES}
HEART_RATE = next(row for table, row in sample_rows() if table == "heart_rate")


def test_it_vouches_for_every_table_s_rows_as_the_rows_stage_builds_them():
    rows = sample_rows()
    for table, row in rows:
        assert checked_json(table, row) == to_bigquery_json(table, row), table
    assert {table for table, _ in rows} == set(ALL_TABLES) - set(USER_TABLES)


def test_a_heart_rate_row_converts_to_bigquery_s_text_forms():
    ((_, row),) = [(t, r) for t, r in sample_rows() if t == "heart_rate"][:1]
    out = checked_json("heart_rate", row)
    assert out["sample_time"] == row["sample_time"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert out["civil_datetime"] == row["civil_datetime"].strftime("%Y-%m-%dT%H:%M:%S.%f")
    assert out["civil_date"] == row["civil_date"].isoformat()
    assert out["beats_per_minute"] == row["beats_per_minute"]


def _steps() -> dict:
    return next(row for table, row in sample_rows() if table == "steps")


@pytest.mark.parametrize(
    "change",
    [
        {"start_time": dt.datetime(2026, 11, 20, 2, 3)},  # naive TIMESTAMP
        {"start_time": dt.datetime(2026, 11, 20, tzinfo=zoneinfo.ZoneInfo("Europe/London"))},
        {"start_time": 1_795_000_000_000_000},  # fastavro's micros, not JSON's text
        {"civil_date": dt.datetime(2026, 11, 20)},  # a datetime is a date too
        {"civil_date": "2026-11-20"},
        {"step_count": True},  # a bool is an int to Python
        {"step_count": 2**63},
        {"step_count": 1.0},
        {"user_key": None},
        {"surprise": 1},
    ],
)
def test_what_it_cannot_vouch_for_is_left_to_the_full_checks(change):
    row = {**_steps(), **change}
    assert checked_json("steps", row) is None


def test_a_missing_field_or_an_unknown_table_is_left_to_the_full_checks():
    row = _steps()
    del row["source_platform"]
    assert checked_json("steps", row) is None
    with pytest.raises(ValueError, match="unknown table 'nope'"):
        checked_json("nope", _steps())


def test_what_it_vouches_for_passes_fastavro_and_loadable_problem_and_converts_alike():
    rng = random.Random(SEED + 7)
    rows = sample_rows()
    vouched = refused = 0
    for _ in range(3_000):
        table, row = mutated_row(rng, rows)
        if table not in ALL_TABLES:
            continue
        out = checked_json(table, row)
        if out is None:
            refused += 1
            continue
        vouched += 1
        assert fastavro.validate(row, SCHEMAS[table], raise_errors=False), (table, row)
        assert loadable_problem(table, row) is None, (table, row)
        assert out == to_bigquery_json(table, row), (table, row)
    assert vouched > 100 and refused > 1_000, (vouched, refused)


def test_times_formatted_one_after_another_keep_their_own_text():
    first = dt.datetime(2026, 11, 20, 2, 3, 5, tzinfo=dt.UTC)
    second = dt.datetime(2026, 11, 20, 2, 3, 5, 250, tzinfo=dt.UTC)
    london = dt.datetime(2026, 7, 1, 12, tzinfo=zoneinfo.ZoneInfo("Europe/London"))
    texts = [utc_text(t) for t in (first, second, first, first, london, london, second)]
    assert texts == [
        "2026-11-20T02:03:05.000000Z",
        "2026-11-20T02:03:05.000250Z",
        "2026-11-20T02:03:05.000000Z",
        "2026-11-20T02:03:05.000000Z",
        "2026-07-01T11:00:00.000000Z",
        "2026-07-01T11:00:00.000000Z",
        "2026-11-20T02:03:05.000250Z",
    ]


def test_times_have_six_fractional_digits_whatever_their_microseconds():
    naive = dt.datetime(987, 1, 2, 3, 4, 5)
    for micro, fraction in ((0, "000000"), (5, "000005"), (120_000, "120000")):
        moment = naive.replace(microsecond=micro)
        assert utc_text(moment.replace(tzinfo=dt.UTC)) == f"0987-01-02T03:04:05.{fraction}Z"
        assert to_bigquery_json("heart_rate", {**HEART_RATE, "civil_datetime": moment})[
            "civil_datetime"
        ] == (f"0987-01-02T03:04:05.{fraction}")
