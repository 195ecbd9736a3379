"""Replay: dead letters back to calls and typed rows, exactly as they left."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from healthapi import datatypes
from healthapi.elements import ApiCall
from rows import datapoints
from schemas.convert import from_bigquery_json, to_bigquery_json
from simulator import Simulator, SimulatorConfig
from transforms.dead_letters import DeadLetter
from transforms.replay import ReplayDeadLettersFn

START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC).timestamp()
DAY = dt.date(2026, 11, 20)
NOW = "2026-11-28T12:00:00.000000Z"


def replay(letter: DeadLetter | str) -> list:
    line = letter if isinstance(letter, str) else letter.to_json()
    return [(out.tag, out.value) for out in ReplayDeadLettersFn().process(line.encode())]


def one_row_per_table() -> dict[str, dict]:
    """A real row of every table fed from a list call, built from simulated points."""
    ctx = datapoints.RowContext("user-1", "run-1", dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
    out: dict[str, dict] = {}
    # Some types only some users have (ECG, cycles, glucose): the first user who has one.
    users = ("user-1", "user-2", "user-3", "user-4")
    with Simulator(SimulatorConfig(users=len(users), clock_speed=0, start_time=START)) as sim:
        for data_type in datatypes.DEFAULT_DATA_TYPES:
            if data_type == "total-calories":
                continue
            reconciled = datatypes.spec(data_type).reconcilable
            days = [DAY - dt.timedelta(days=back) for back in range(60)]
            truths = next(
                found
                for user in users
                for day in days  # the latest day with a point of this type
                if (found := sim.ground_truth(user, data_type, day, day, reconciled=reconciled))
            )
            for table, row in datapoints.rows_for_point(
                data_type, truths[0]["dataPoint"], ctx, "raw"
            ):
                out.setdefault(table, row)
    return out


def test_every_table_row_survives_a_schema_dead_letter():
    samples = one_row_per_table()
    assert set(samples) == {s.table for s in datatypes.SPECS.values() if s.table is not None}
    for table, row in samples.items():
        letter = DeadLetter(
            stage="schema",
            original=row,
            error_class="ValidationError",
            message="x",
            timestamp=NOW,
            table=table,
        )
        assert replay(letter) == [(ReplayDeadLettersFn.ROWS, (table, row))], table


def test_a_bigquery_dead_letter_row_is_read_back_from_bigquery_json():
    table, row = next(iter(one_row_per_table().items()))
    letter = DeadLetter(
        stage="bigquery",
        original=to_bigquery_json(table, row),
        error_class="BigQueryInsertError",
        message="[]",
        timestamp=NOW,
        table=table,
    )
    assert replay(letter) == [(ReplayDeadLettersFn.ROWS, (table, row))]


def test_failed_calls_come_back_as_the_same_calls():
    calls = [
        ApiCall("user-1", "list", "steps", "2026-11-20T00:00:00", "2026-11-21T00:00:00"),
        ApiCall("user-2", "summary", "summary", "2026-11-01", "2026-11-15", "raw"),
        ApiCall(
            "user-3",
            "tcx",
            "exercise",
            data_point_id="123",
            parent=(("data_point_id", "123"), ("start_time", "2026-11-20T07:00:00Z")),
        ),
    ]
    for stage, call in zip(["fetch", "fetch", "fetch_detail"], calls, strict=True):
        letter = DeadLetter(
            stage=stage,
            original=call,
            error_class="UNAVAILABLE",
            message="503",
            timestamp=NOW,
            http_status=503,
            attempts=6,
            user_key=call.user_key,
        )
        assert replay(letter) == [(ReplayDeadLettersFn.CALLS, call)]


def test_letters_that_cannot_succeed_again_are_skipped():
    bad_message = DeadLetter(
        stage="parse_request",
        original={"message": "x"},
        error_class="not_json",
        message="not JSON",
        timestamp=NOW,
        replayable=False,
    )
    assert replay(bad_message) == []


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("not json", "JSONDecodeError"),
        ('{"original": {}}', "NotADeadLetter"),
        ('{"stage": "rows", "replayable": true, "original": {}}', "NotADeadLetter"),
        ('{"stage": "fetch", "replayable": true, "original": {"kind": "list"}}', "NotADeadLetter"),
        (
            '{"stage": "schema", "replayable": true, "table": "nope", "original": {}}',
            "NotADeadLetter",
        ),
    ],
)
def test_a_line_that_is_not_a_replayable_letter_becomes_a_dead_letter(line, error):
    [(tag, letter)] = replay(line)
    assert (tag, letter.stage, letter.error_class, letter.replayable) == (
        ReplayDeadLettersFn.DEAD_LETTER,
        "replay",
        error,
        False,
    )
    assert json.loads(letter.to_json())["original"] == line


def test_row_and_call_rebuild_errors_are_named():
    with pytest.raises(ValueError, match="unknown table 'nope'"):
        from_bigquery_json("nope", {})
    with pytest.raises(ValueError, match="the call has no 'user_key'"):
        ApiCall.from_json({"kind": "list"})
    with pytest.raises(ValueError, match="does not parse"):
        from_bigquery_json("steps", {"civil_date": "2026-13-01"})


def _call(**changes) -> dict:
    call = {
        "user_key": "user-1",
        "kind": "list",
        "data_type": "steps",
        "start": "2026-11-20T00:00:00",
        "end": "2026-11-21T00:00:00",
        "stream": "raw",
    }
    return {**call, **changes}


NOT_CIVIL = "is not two civil times such as 2026-11-20 or 2026-11-20T06:00:00"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            _call(user_key="../user-1"),
            "invalid user key '../user-1': use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, e.g. 'participant-017'",
        ),
        (_call(kind="delete"), "call kind 'delete' is not list, summary, tcx or user"),
        (_call(data_type="nope"), "call data type 'nope' cannot be listed"),
        (_call(data_type="total-calories"), "call data type 'total-calories' cannot be listed"),
        (_call(stream="both"), "call stream 'both' is not reconciled or raw"),
        (_call(start="yesterday"), f"call window 'yesterday'..'2026-11-21T00:00:00' {NOT_CIVIL}"),
        (
            _call(start="\uff12\uff10\uff12\uff16-11-20"),
            f"call window '\uff12\uff10\uff12\uff16-11-20'..'2026-11-21T00:00:00' {NOT_CIVIL}",
        ),
        (
            _call(end="2026-11-20T00:00:00"),
            "call window '2026-11-20T00:00:00'..'2026-11-20T00:00:00' is empty",
        ),
        (
            _call(kind="summary", data_type="daily-activity-summary", end="2026-11-21"),
            f"call window '2026-11-20T00:00:00'..'2026-11-21' {NOT_CIVIL}",
        ),
        (
            _call(kind="tcx", data_type="exercise"),
            "a tcx call names an exercise and its data point id",
        ),
        (_call(data_point_id=["1"]), "call data_point_id must be a string"),
    ],
)
def test_a_call_that_planning_never_makes_is_not_replayed(call, message):
    # A replayed call is carried out as it reads: one no stage after replay can handle
    # (an unknown kind raised out of the fetch step) is refused at replay.
    line = json.dumps({"stage": "fetch", "replayable": True, "original": call})
    [(tag, letter)] = replay(line)
    assert (tag, letter.error_class) == (ReplayDeadLettersFn.DEAD_LETTER, "NotADeadLetter")
    assert letter.message == message


def test_summary_calls_replay_under_either_name_planning_has_given_them():
    for data_type in ("daily-activity-summary", "summary"):
        call = _call(kind="summary", data_type=data_type, start="2026-11-01", end="2026-11-15")
        line = json.dumps({"stage": "fetch", "replayable": True, "original": call})
        [(tag, replayed)] = replay(line)
        assert (tag, replayed) == (ReplayDeadLettersFn.CALLS, ApiCall.from_json(call))


@pytest.mark.parametrize("depth", [65, 900, 5000])
def test_a_line_nested_deeper_than_any_dead_letter_is_refused_before_it_is_walked(depth):
    line = '{"stage": "schema", "replayable": true, "table": "steps", "original": '
    line += '{"a": ' * depth + "1" + "}" * depth + "}"
    [(tag, letter)] = replay(line)
    assert (tag, letter.error_class) == (ReplayDeadLettersFn.DEAD_LETTER, "NotADeadLetter")
    assert letter.message.startswith("not a dead letter: JSON nested")
    assert json.loads(letter.to_json())["original"] == line[:2000]


@pytest.mark.parametrize("replayable", ["yes", 1, "false", None])
def test_only_a_letter_marked_replayable_true_is_replayed(replayable):
    line = json.dumps({"stage": "fetch", "replayable": replayable, "original": _call()})
    assert replay(line) == []


def test_a_replayed_row_with_a_number_for_a_date_or_time_is_refused():
    # fastavro would take an int as days or microseconds; the write step could not.
    with pytest.raises(ValueError, match="expected a date as text, got int"):
        from_bigquery_json("steps", {"civil_date": 20000})
    with pytest.raises(ValueError, match="expected a timestamp-micros as text, got float"):
        from_bigquery_json("steps", {"start_time": 1.5})
    with pytest.raises(ValueError, match="does not parse"):
        from_bigquery_json("steps", {"start_time": "0001-01-01T00:00:00+05:00"})
