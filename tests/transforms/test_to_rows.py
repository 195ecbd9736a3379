"""ToRows: answers -> exact rows, one load_windows row per complete answer, detail calls.

Points, rows and TCX documents are the literal ones of tests/unit/test_rows.py
and tests/unit/test_tcx.py, whose row builders are proven there. Here the
composite is: every kind of answer reaches its builder with the run's context,
each answer's rows carry the id of its own `load_windows` row, whose count and
civil window are exact, exercises fan out to TCX calls, and what cannot become
a row is a dead letter, stamped by the clock, that leaves its window unloaded
when it is a summary or a TCX document.

Load ids are random (`<run id>-<16 hex digits>`); `name_loads` checks their
form and names each after its load_windows row, so that rows compare exactly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import apache_beam as beam
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from healthapi.elements import STREAM_RAW, ApiCall, ApiPage
from tests.transforms.conftest import NOW, NOW_TEXT, counter, fixed_clock
from tests.unit.test_rows import (
    EXERCISE_GPS,
    EXERCISE_GPS_ROW,
    INGEST,
    RUN_ID,
    STEPS_RAW,
    STEPS_RAW_ROW,
    USER,
    key,
)
from tests.unit.test_tcx import EXERCISE_ID, EXERCISE_ROW, TRACKPOINTS, TWO_LAPS, shared
from transforms.dead_letters import DeadLetter
from transforms.rows import ToRows

_LOAD_ID = re.compile(rf"{re.escape(RUN_ID)}-[0-9a-f]{{16}}")


def load_of(table: str) -> str:
    return f"<load of {table}>"


def name_loads(outputs: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """Each random load id, once checked for form, replaced by `load_of(its table)`.

    Ids without a load_windows row, or of another form, are left as they are,
    so that the comparison shows them.
    """
    names: dict[str, str] = {}
    for tag, value in outputs:
        if tag == "rows" and value[0] == "load_windows":
            row = value[1]
            if _LOAD_ID.fullmatch(row["load_id"]):
                name = load_of(row["table_name"])
                if name in names.values():
                    raise AssertionError(f"two loads of {row['table_name']}: name them apart")
                names[row["load_id"]] = name

    def renamed(row: dict) -> dict:
        out = dict(row)
        for column in ("load_id", "record_key") if "table_name" in row else ("load_id",):
            out[column] = names.get(row[column], row[column])
        return out

    named = []
    for tag, value in outputs:
        if tag == "rows":
            value = (value[0], renamed(value[1]))
        elif tag == "detail":
            value = dataclasses.replace(value, parent=tuple(renamed(dict(value.parent)).items()))
        named.append((tag, value))
    return named


def build(pages: list[ApiPage], **settings):
    """ToRows over `pages`: (rows and detail calls with named loads, dead letters)."""
    p = test_pipeline.TestPipeline()
    out = p | beam.Create(pages) | ToRows(RUN_ID, INGEST, clock=fixed_clock, **settings)
    named = (
        (
            out.rows | "TagRows" >> beam.Map(lambda pair: ("rows", pair)),
            out.detail | "TagDetail" >> beam.Map(lambda call: ("detail", call)),
        )
        | "Together" >> beam.Flatten()
        | "All" >> beam.combiners.ToList()
        | "NameLoads" >> beam.FlatMap(name_loads)
    )
    rows = named | "Rows" >> beam.Filter(lambda o: o[0] == "rows") | "Row" >> beam.Values()
    detail = named | "Detail" >> beam.Filter(lambda o: o[0] == "detail") | "Call" >> beam.Values()
    return p, rows, detail, out.dead_letter


def load_row(call: ApiCall, table: str, civil_date: dt.date, count: int, **window) -> dict:
    return {
        "user_key": USER,
        "civil_date": civil_date,
        "table_name": table,
        "stream": call.stream,
        "window_start": window.get("start"),
        "window_end": window.get("end"),
        "data_point_id": call.data_point_id or None,
        "row_count": count,
        "loaded_at": NOW,
        "load_id": load_of(table),
        "record_key": load_of(table),
        "run_id": RUN_ID,
        "ingest_time": INGEST,
        "origin": "api",
        "answered_at": None,
        "source_uri": None,
    }


def dead(stage: str, original: dict, error_class: str, message: str) -> DeadLetter:
    return DeadLetter(
        stage=stage,
        original=original,
        error_class=error_class,
        message=message,
        timestamp=NOW_TEXT,
        user_key=USER,
        replayable=False,
    )


def civil_day(day: int) -> dict:
    return {"date": {"year": 2026, "month": 11, "day": day}}


BAD_STEPS = {"steps": {"interval": STEPS_RAW["steps"]["interval"], "count": "lots"}}
STEPS_CALL = ApiCall(USER, "list", "steps", "2026-11-19", "2026-11-22", STREAM_RAW)
EXERCISE_CALL = ApiCall(USER, "list", "exercise", "2026-11-08", "2026-11-15", STREAM_RAW)
WEIGHT_CALL = ApiCall(USER, "list", "weight", "2026-11-01", "2026-11-28", STREAM_RAW)
SUMMARY_CALL = ApiCall(USER, "summary", "daily-activity-summary", "2026-11-20", "2026-11-21")
TCX_CALL = ApiCall(
    USER,
    "tcx",
    "exercise",
    stream=STREAM_RAW,
    data_point_id=EXERCISE_ID,
    parent=tuple(sorted(EXERCISE_ROW.items())),
)
SUMMARY_ROLLUPS = (
    ("steps", ({"civilStartTime": civil_day(20), "steps": {"countSum": "9123"}},)),
    ("total-calories", ({"civilStartTime": civil_day(20), "totalCalories": {"kcalSum": 2100.5}},)),
)


def test_every_kind_of_answer_becomes_its_rows_and_one_load_row():
    pages = [
        ApiPage(STEPS_CALL, points=(STEPS_RAW, BAD_STEPS)),
        ApiPage(EXERCISE_CALL, points=(EXERCISE_GPS,)),
        ApiPage(WEIGHT_CALL, points=()),
        ApiPage(SUMMARY_CALL, rollups=SUMMARY_ROLLUPS),
        ApiPage(TCX_CALL, tcx=TWO_LAPS),
    ]
    p, rows, detail, dead_letters = build(pages)
    exercise_row = {**EXERCISE_GPS_ROW, "load_id": load_of("exercise")}
    assert_that(
        rows,
        equal_to(
            [
                ("steps", {**STEPS_RAW_ROW, "load_id": load_of("steps")}),
                # The malformed point is a dead letter; its window still loaded, with one row.
                (
                    "load_windows",
                    load_row(
                        STEPS_CALL,
                        "steps",
                        dt.date(2026, 11, 19),
                        1,
                        start=dt.datetime(2026, 11, 19),
                        end=dt.datetime(2026, 11, 22),
                    ),
                ),
                ("exercise", exercise_row),
                (
                    "load_windows",
                    load_row(
                        EXERCISE_CALL,
                        "exercise",
                        dt.date(2026, 11, 8),
                        1,
                        start=dt.datetime(2026, 11, 8),
                        end=dt.datetime(2026, 11, 15),
                    ),
                ),
                # An empty window is a load too: the views then show none of its old rows.
                (
                    "load_windows",
                    load_row(
                        WEIGHT_CALL,
                        "weight",
                        dt.date(2026, 11, 1),
                        0,
                        start=dt.datetime(2026, 11, 1),
                        end=dt.datetime(2026, 11, 28),
                    ),
                ),
                (
                    "daily_activity_summary",
                    {
                        "user_key": USER,
                        "civil_date": dt.date(2026, 11, 20),
                        "step_count": 9123,
                        "distance_millimeters": None,
                        "floor_count": None,
                        "total_calories_kcal": 2100.5,
                        "active_zone_minutes_fat_burn": None,
                        "active_zone_minutes_cardio": None,
                        "active_zone_minutes_peak": None,
                        "active_zone_minutes_total": None,
                        "record_key": key(USER, "daily_activity_summary", "2026-11-20"),
                        "run_id": RUN_ID,
                        "ingest_time": INGEST,
                        "load_id": load_of("daily_activity_summary"),
                    },
                ),
                (
                    "load_windows",
                    load_row(
                        SUMMARY_CALL,
                        "daily_activity_summary",
                        dt.date(2026, 11, 20),
                        1,
                        start=dt.datetime(2026, 11, 20),
                        end=dt.datetime(2026, 11, 21),
                    ),
                ),
                *[
                    (
                        "exercise_tcx_trackpoints",
                        {
                            **shared(i),
                            **TRACKPOINTS[i],
                            "civil_datetime": dt.datetime(2026, 11, 11, 17, 41, 5 * i),
                            "load_id": load_of("exercise_tcx_trackpoints"),
                        },
                    )
                    for i in range(3)
                ],
                # A TCX load has no window: its exercise's id and civil date.
                (
                    "load_windows",
                    load_row(TCX_CALL, "exercise_tcx_trackpoints", dt.date(2026, 11, 11), 3),
                ),
            ]
        ),
        label="rows",
    )
    assert_that(
        detail,
        equal_to(
            [
                ApiCall(
                    USER,
                    "tcx",
                    "exercise",
                    stream=STREAM_RAW,
                    data_point_id="4740180907190888148",
                    parent=tuple(sorted(exercise_row.items())),
                )
            ]
        ),
        label="detail calls",
    )
    assert_that(
        dead_letters,
        equal_to(
            [
                dead(
                    "rows",
                    {"call": STEPS_CALL.to_json(), "point": BAD_STEPS},
                    "RowError",
                    "steps.count: expected an integer, got 'lots'",
                )
            ]
        ),
        label="dead letters",
    )
    p.run().wait_until_finish()


def test_a_summary_or_tcx_that_does_not_parse_is_a_dead_letter_and_loads_no_window():
    bad_rollups = (("steps", ({"steps": {"countSum": "1"}},)),)
    not_xml = "<TrainingCenterDatabase><Activities>"
    pages = [
        ApiPage(SUMMARY_CALL, rollups=bad_rollups),
        ApiPage(TCX_CALL, tcx=not_xml),
    ]
    p, rows, detail, dead_letters = build(pages)
    assert_that(rows, equal_to([]), label="no rows, no load")
    assert_that(detail, equal_to([]), label="no detail calls")
    assert_that(
        dead_letters,
        equal_to(
            [
                dead(
                    "rows",
                    {"call": SUMMARY_CALL.to_json(), "rollups": {"steps": bad_rollups[0][1]}},
                    "RowError",
                    "dailyRollUp[steps].civilStartTime: no civil date: KeyError('civilStartTime')",
                ),
                dead(
                    "tcx",
                    {"call": TCX_CALL.to_json(), "tcx_excerpt": not_xml},
                    "TcxError",
                    "TCX document is not well-formed XML: no element found: line 1, column 36",
                ),
            ]
        ),
        label="dead letters",
    )
    p.run().wait_until_finish()


def test_without_fan_out_an_exercise_asks_for_no_tcx():
    p, rows, detail, dead_letters = build(
        [ApiPage(EXERCISE_CALL, points=(EXERCISE_GPS,))], fan_out_tcx=False
    )
    assert_that(
        rows | beam.Map(lambda pair: pair[0]),
        equal_to(["exercise", "load_windows"]),
        label="tables",
    )
    assert_that(detail, equal_to([]), label="no detail calls")
    assert_that(dead_letters, equal_to([]), label="no dead letters")
    p.run().wait_until_finish()


@pytest.mark.parametrize(
    ("run_id", "ingest_time", "message"),
    [
        ("", INGEST, "run_id '' must be a non-empty string, e.g. run-20261201T000000Z-abc123"),
        (
            RUN_ID,
            dt.datetime(2026, 11, 28, 12),
            "ingest_time '2026-11-28 12:00:00' must be a UTC datetime",
        ),
        (
            RUN_ID,
            dt.datetime(2026, 11, 28, 13, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            "ingest_time '2026-11-28 13:00:00+01:00' must be a UTC datetime",
        ),
    ],
    ids=["no run id", "naive ingest time", "ingest time in Paris"],
)
def test_a_bad_run_id_or_ingest_time_is_refused_when_the_graph_is_built(
    run_id, ingest_time, message
):
    with pytest.raises(ValueError) as caught:
        ToRows(run_id, ingest_time)
    assert str(caught.value) == message


def test_fields_no_column_holds_are_counted_per_type_and_path_and_the_rows_still_load():
    steps = {
        **STEPS_RAW,
        "etag": "x",
        "steps": {**STEPS_RAW["steps"], "confidence": 0.9},
    }
    reconciled_like = {"steps": {**STEPS_RAW["steps"], "confidence": 0.5}}
    p, rows, _, dead_letters = build(
        [ApiPage(STEPS_CALL, points=(steps, reconciled_like, BAD_STEPS, STEPS_RAW))]
    )
    assert_that(
        rows | beam.Map(lambda pair: pair[0]),
        equal_to(["steps", "steps", "steps", "load_windows"]),
        label="tables",
    )
    assert_that(dead_letters | beam.Map(lambda d: d.stage), equal_to(["rows"]), label="dead")
    result = p.run()
    result.wait_until_finish()
    assert counter(result, "unmapped_fields/steps/steps.confidence") == 2
    assert counter(result, "unmapped_fields/steps/etag") == 1
    assert counter(result, "unmapped_fields/steps/steps.count") == 0


# -- an answer in several pages ------------------------------------------------------------


def _outputs(fn, page: ApiPage) -> list:
    return [(o.tag, o.value) if hasattr(o, "tag") else ("rows", o) for o in fn.process(page)]


def test_an_answer_in_pages_loads_page_by_page_and_counts_its_rows_once_at_the_last():
    from transforms.rows import _ToRowsFn

    call = ApiCall(USER, "list", "steps", "2026-11-20", "2026-11-21", STREAM_RAW)
    fn = _ToRowsFn(RUN_ID, INGEST, clock=fixed_clock)
    fn.start_bundle()
    first = _outputs(fn, ApiPage(call, points=(STEPS_RAW,), part=0, final=False, load_key="a"))
    second = _outputs(fn, ApiPage(call, points=(STEPS_RAW,), part=1, final=False, load_key="a"))
    last = _outputs(fn, ApiPage(call, points=(STEPS_RAW,), part=2, final=True, load_key="a"))
    load_id = f"{RUN_ID}-a"
    row = {**STEPS_RAW_ROW, "load_id": load_id}
    assert first == second == [("rows", ("steps", row))]
    window = {"start": dt.datetime(2026, 11, 20), "end": dt.datetime(2026, 11, 21)}
    expected_load = {
        **load_row(call, "steps", dt.date(2026, 11, 20), 3, **window),
        "load_id": load_id,
        "record_key": load_id,
    }
    assert last == [("rows", ("steps", row)), ("rows", ("load_windows", expected_load))]


def test_an_answer_whose_last_page_never_comes_records_no_load():
    from transforms.rows import _ToRowsFn

    call = ApiCall(USER, "list", "steps", "2026-11-20", "2026-11-21", STREAM_RAW)
    fn = _ToRowsFn(RUN_ID, INGEST, clock=fixed_clock)
    fn.start_bundle()
    out = _outputs(fn, ApiPage(call, points=(STEPS_RAW,), part=0, final=False, load_key="b"))
    other = ApiCall(USER, "list", "steps", "2026-11-21", "2026-11-22", STREAM_RAW)
    out += _outputs(fn, ApiPage(other, points=(), part=0, final=True, load_key="c"))
    loads = [value[1] for tag, value in out if tag == "rows" and value[0] == "load_windows"]
    # The failed answer's rows stay out of the views: no load row names them.
    assert [(row["load_id"], row["row_count"]) for row in loads] == [(f"{RUN_ID}-c", 0)]


def test_a_process_that_makes_rows_collects_cyclic_garbage_less_often_never_more():
    import gc

    from transforms.rows import GC_THRESHOLD, _ToRowsFn

    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        _ToRowsFn("run-1", NOW).setup()
        assert gc.get_threshold() == GC_THRESHOLD == (100_000, 50, 1_000)
        gc.set_threshold(500_000, 10, 10)  # a process that already collects less often
        _ToRowsFn("run-1", NOW).setup()
        assert gc.get_threshold() == (500_000, 10, 10)
    finally:
        gc.set_threshold(*before)
