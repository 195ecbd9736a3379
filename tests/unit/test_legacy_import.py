"""Unit tests of the legacy archive import: history.legacy and simulator.legacy_archive.

The proof at the end writes the default legacy archive of simulator users over days that
cross the end of daylight saving time in New York, parses every file, and holds the rows
equal, column by column, to the rows the Google Health API path gives for the same ground
truth (the simulator's reconciled points through rows_for_point); the legacy-only rows
equal values computed from that ground truth.

Run:

    python -m pytest -q tests/unit/test_legacy_import.py
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import math
import zipfile
from zoneinfo import ZoneInfo

import fastavro
import pytest

from history import legacy
from history.units import ImportUnit, MalformedFile, ParseContext, Skipped
from rows.datapoints import RowContext, rows_for_point
from rows.tcx import trackpoint_rows
from schemas.bigquery import TABLES, load_avro_schema
from simulator import legacy_archive, render, synth
from simulator import points as points_mod
from simulator.store import DataStore

NEW_YORK = ZoneInfo("America/New_York")
USER = "p-0001"
FITBIT_ID = "A1B2C3"
RUN = RowContext(USER, "run-1", dt.datetime(2026, 12, 6, tzinfo=dt.UTC))

HEART = f"get_heart_rate_by_date/20261101/get_heart_rate_by_date_{FITBIT_ID}.json"
SUMMARY = f"get_activity_summary_by_date/20261101/get_activity_summary_by_date_{FITBIT_ID}.json"
SLEEP = f"get_sleep_by_date/20261101/get_sleep_by_date_{FITBIT_ID}.json"
WEIGHT = f"get_body_weight_by_date/20261101/get_body_weight_by_date_{FITBIT_ID}.json"
CARDIO = f"get_cardio_score_by_date/20261101/get_cardio_score_by_date_{FITBIT_ID}.json"
TCX = f"get_activity_tcx_by_id/20261101/4242_get_activity_tcx_by_id_{FITBIT_ID}.tcx"


def _ctx(path: str, zone: ZoneInfo = NEW_YORK) -> ParseContext:
    return ParseContext(USER, zone, "archive!" + path)


def _parse(path: str, body, zone: ZoneInfo = NEW_YORK) -> list:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return list(legacy.parse(path, data, _ctx(path, zone)))


def _units(path: str, body) -> dict[str, ImportUnit]:
    return {u.data_type: u for u in _parse(path, body) if isinstance(u, ImportUnit)}


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (HEART, "heart-rate"),
        (SUMMARY, "legacy_daily_activity"),
        (SLEEP, "sleep"),
        (WEIGHT, "weight"),
        (CARDIO, "daily-vo2-max"),
        (TCX, "exercise_tcx_trackpoints"),
        ("bucket/archive/" + SLEEP, "sleep"),
        (
            f"get_activity_details_by_id/20261101/4242_get_activity_details_by_id_{FITBIT_ID}.json",
            Skipped(
                "get_activity_details_by_id/20261101/"
                f"4242_get_activity_details_by_id_{FITBIT_ID}.json",
                "unknown",
            ),
        ),
        # Not this layout: another endpoint in the name, a TCX without logId, a JSON with
        # one, a bad folder, a Takeout file.
        (f"get_sleep_by_date/20261101/get_heart_rate_by_date_{FITBIT_ID}.json", None),
        (f"get_activity_tcx_by_id/20261101/get_activity_tcx_by_id_{FITBIT_ID}.tcx", None),
        (f"get_sleep_by_date/20261101/42_get_sleep_by_date_{FITBIT_ID}.json", None),
        (f"get_sleep_by_date/2026-11-01/get_sleep_by_date_{FITBIT_ID}.json", None),
        (f"get_sleep_by_date/20261101/get_sleep_by_date_{FITBIT_ID}.csv", None),
        ("Takeout/Fitbit/Global Export Data/steps-2017-12-31.json", None),
        (f"unknown_endpoint/20261101/unknown_endpoint_{FITBIT_ID}.json", None),
    ],
)
def test_classify(path, expected):
    assert legacy.classify(path) == expected


def test_legacy_user_id():
    assert legacy.legacy_user_id(HEART) == FITBIT_ID
    assert legacy.legacy_user_id("b/" + TCX) == FITBIT_ID
    with pytest.raises(ValueError, match="not a legacy archive path"):
        legacy.legacy_user_id("Takeout/Fitbit/Global Export Data/steps-2017-12-31.json")


def test_window_columns_cover_every_legacy_table():
    assert set(legacy.LEGACY_WINDOW_COLUMN) == set(legacy.LEGACY_TABLES)
    assert set(legacy.LEGACY_TABLES) <= set(TABLES)
    for table in legacy.LEGACY_TABLES:
        fields = [f["name"] for f in load_avro_schema(table)["fields"]]
        assert fields[:3] == ["user_key", "civil_date", "stream"], table
        assert fields[-4:] == ["record_key", "run_id", "ingest_time", "load_id"], table
        assert legacy.LEGACY_WINDOW_COLUMN[table] == "DATETIME(t.civil_date)"


# --------------------------------------------------------------------------- DST


def test_intraday_times_across_the_repeated_hour_are_exact():
    times = ["00:59:30", "01:00:00", "01:30:00", "01:59:59", "01:00:00", "01:30:00", "02:00:00"]
    body = {
        "activities-heart": [{"dateTime": "2026-11-01", "value": {"restingHeartRate": 58}}],
        "activities-heart-intraday": {
            "dataset": [{"time": t, "value": 60 + i} for i, t in enumerate(times)],
            "datasetInterval": 1,
            "datasetType": "second",
        },
    }
    units = _units(HEART, body)
    heart = units["heart-rate"]
    assert (heart.start, heart.end) == ("2026-11-01T00:00:00", "2026-11-02T00:00:00")
    rows = [rows_for_point("heart-rate", p, RUN, "reconciled")[0][1] for p in heart.points]
    got = [(r["sample_time"], r["utc_offset_seconds"], r["civil_datetime"]) for r in rows]
    utc = dt.UTC
    edt, est = -4 * 3600, -5 * 3600

    def local(h, m, s):
        return dt.datetime(2026, 11, 1, h, m, s)

    assert got == [
        (dt.datetime(2026, 11, 1, 4, 59, 30, tzinfo=utc), edt, local(0, 59, 30)),
        (dt.datetime(2026, 11, 1, 5, 0, 0, tzinfo=utc), edt, local(1, 0, 0)),
        (dt.datetime(2026, 11, 1, 5, 30, 0, tzinfo=utc), edt, local(1, 30, 0)),
        (dt.datetime(2026, 11, 1, 5, 59, 59, tzinfo=utc), edt, local(1, 59, 59)),
        (dt.datetime(2026, 11, 1, 6, 0, 0, tzinfo=utc), est, local(1, 0, 0)),
        (dt.datetime(2026, 11, 1, 6, 30, 0, tzinfo=utc), est, local(1, 30, 0)),
        (dt.datetime(2026, 11, 1, 7, 0, 0, tzinfo=utc), est, local(2, 0, 0)),
    ]
    assert [r["beats_per_minute"] for r in rows] == list(range(60, 67))
    assert all(r["motion_context"] is None and r["sensor_location"] is None for r in rows)
    resting = units["daily-resting-heart-rate"].points
    assert resting == (
        {
            "dailyRestingHeartRate": {
                "date": {"year": 2026, "month": 11, "day": 1},
                "beatsPerMinute": "58",
            }
        },
    )


def test_a_sleep_across_the_repeated_hour_has_contiguous_stages():
    log = {
        "logId": 77,
        "dateOfSleep": "2026-11-01",
        "startTime": "2026-11-01T00:30:00.000",
        "endTime": "2026-11-01T02:30:00.000",
        "type": "stages",
        "isMainSleep": True,
        "minutesAsleep": 150,
        "levels": {
            "data": [
                {"dateTime": "2026-11-01T00:30:00.000", "level": "light", "seconds": 3600},
                {"dateTime": "2026-11-01T01:30:00.000", "level": "deep", "seconds": 3600},
                {"dateTime": "2026-11-01T01:30:00.000", "level": "rem", "seconds": 1800},
                {"dateTime": "2026-11-01T02:00:00.000", "level": "wake", "seconds": 1800},
            ],
            # Short awakenings in file order: 01:40 EDT, then 01:10 EST (the second 01:10).
            "shortData": [
                {"dateTime": "2026-11-01T01:40:00.000", "level": "wake", "seconds": 60},
                {"dateTime": "2026-11-01T01:10:00.000", "level": "wake", "seconds": 90},
            ],
        },
    }
    row = rows_for_point(
        "sleep", _units(SLEEP, {"sleep": [log]})["sleep"].points[0], RUN, "reconciled"
    )[0][1]
    assert row["start_time"] == dt.datetime(2026, 11, 1, 4, 30, tzinfo=dt.UTC)
    assert row["end_time"] == dt.datetime(2026, 11, 1, 7, 30, tzinfo=dt.UTC)
    assert (row["start_utc_offset_seconds"], row["end_utc_offset_seconds"]) == (-14400, -18000)
    starts = [s["start_time"] for s in row["stages"]]
    ends = [s["end_time"] for s in row["stages"]]
    assert starts[1:] == ends[:-1]
    assert ends[-1] == row["end_time"]
    assert [s["civil_start_datetime"].hour for s in row["stages"]] == [0, 1, 1, 2]
    assert [
        (s["start_time"], s["end_time"], s["start_utc_offset_seconds"])
        for s in row["short_awakenings"]
    ] == [
        (
            dt.datetime(2026, 11, 1, 5, 40, tzinfo=dt.UTC),
            dt.datetime(2026, 11, 1, 5, 41, tzinfo=dt.UTC),
            -14400,
        ),
        (
            dt.datetime(2026, 11, 1, 6, 10, tzinfo=dt.UTC),
            dt.datetime(2026, 11, 1, 6, 11, 30, tzinfo=dt.UTC),
            -18000,
        ),
    ]
    assert row["data_point_id"] == "77"
    assert row["civil_date"] == dt.date(2026, 11, 1)


# --------------------------------------------------------------------------- malformed


def _tcx_text(points: int = 2) -> str:
    tps = "".join(
        f"<Trackpoint><Time>2026-11-01T09:0{i}:00.000-05:00</Time>"
        f"<HeartRateBpm><Value>{100 + i}</Value></HeartRateBpm></Trackpoint>"
        for i in range(points)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/'
        'TrainingCenterDatabase/v2"><Activities><Activity Sport="Running">'
        "<Id>2026-11-01T09:00:00.000-05:00</Id>"
        '<Lap StartTime="2026-11-01T09:00:00.000-05:00"><Track>'
        f"{tps}</Track></Lap></Activity></Activities></TrainingCenterDatabase>"
    )


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        (HEART, b'{"activities-heart": [', "not JSON"),
        (HEART, b"\xff\xfe garbage", "not JSON"),
        (HEART, b"[1, 2]", "expected a JSON object"),
        (HEART, b"{}", "activities-heart: missing"),
        (HEART, b'{"activities-heart": {}}', "activities-heart: expected a list"),
        (
            HEART,
            b'{"activities-heart": [], "activities-heart-intraday": {"dataset": '
            b'[{"time": "25:00:00", "value": 60}]}}',
            "dataset[0].time: expected a time HH:mm:ss",
        ),
        (
            HEART,
            b'{"activities-heart": [], "activities-heart-intraday": {"dataset": '
            b'[{"time": "01:00:00", "value": "60"}]}}',
            "dataset[0].value: expected a whole number",
        ),
        (SUMMARY, b'{"activities": []}', "summary: missing"),
        (
            SUMMARY,
            b'{"summary": {}, "activities": [{"logId": 1, "name": "Run", "startDate": '
            b'"2026-11-01", "startTime": "9:00", "duration": 60000}]}',
            "activities[0].startTime: expected a time HH:mm",
        ),
        (
            SUMMARY,
            b'{"summary": {"steps": "12"}}',
            "summary.steps: expected a whole number",
        ),
        (SLEEP, b'{"sleep": [{"logId": 1, "dateOfSleep": "2026-11-01"}]}', "startTime: missing"),
        (
            SLEEP,
            b'{"sleep": [{"logId": 1, "dateOfSleep": "2026-11-01", "startTime": '
            b'"2026-11-01T00:00:00.000", "endTime": "2026-11-01T06:00:00.000", "type": '
            b'"stages", "levels": {"data": [{"dateTime": "2026-11-01T00:00:00.000", '
            b'"level": "dozing", "seconds": 60}]}}]}',
            "unknown sleep level",
        ),
        (
            SLEEP,
            b'{"sleep": [{"logId": 1, "dateOfSleep": "2026-11-01", "startTime": '
            b'"2026-11-01T00:00:00Z", "endTime": "2026-11-01T06:00:00.000", "type": "stages"}]}',
            "startTime: expected a local time without an offset",
        ),
        (
            SLEEP,
            b'{"sleep": [{"logId": 1, "dateOfSleep": "2026-11-01", "startTime": '
            b'"2026-11-01T22:00:00.000", "endTime": "2026-11-02T06:00:00.000", "type": "stages"}]}',
            "does not end on dateOfSleep 2026-11-01",
        ),
        (
            WEIGHT,
            b'{"weight": [{"logId": 1, "date": "2026-11-01", "time": "07:00:00"}]}',
            "weight[0].weight: missing",
        ),
        (WEIGHT, b'{"weight": [{"logId": 1, "date": "11/01/26"}]}', "expected a date"),
        (
            CARDIO,
            b'{"cardioScore": [{"dateTime": "2026-11-01", "value": {"vo2Max": "high"}}]}',
            "expected a number or a range",
        ),
        (CARDIO, b'{"cardioScore": [{"dateTime": "2026-11-01"}]}', "value: missing"),
        (TCX, _tcx_text().encode()[:-60], "not well-formed XML"),
        (TCX, b"", "no Activity Id"),
        (TCX, b"\xff\xfe\x00<", "not UTF-8"),
        (
            TCX,
            _tcx_text().replace("<Time>2026-11-01T09:01", "<Time>yesterday").encode(),
            "Trackpoint 1 Time",
        ),
        (
            f"get_activity_details_by_id/20261101/4_get_activity_details_by_id_{FITBIT_ID}.json",
            b"{}",
            "not a legacy archive file fitbeam reads",
        ),
        (f"get_sleep_by_date/20261341/get_sleep_by_date_{FITBIT_ID}.json", b"{}", "is not a date"),
    ],
)
def test_malformed_files_raise_malformed_file(path, data, message):
    with pytest.raises(MalformedFile) as raised:
        list(legacy.parse(path, data, _ctx(path)))
    assert message in str(raised.value)
    assert str(raised.value).startswith("archive!") or "not a legacy" in str(raised.value)


@pytest.mark.parametrize("path", [HEART, SUMMARY, SLEEP, WEIGHT, CARDIO])
def test_an_error_response_names_its_error_type(path):
    body = {
        "errors": [
            {
                "errorType": "insufficient_scope",
                "message": "This application does not have permission to access sleep data.",
            }
        ],
        "success": False,
    }
    with pytest.raises(
        MalformedFile,
        match="an error response, not data "
        r"\(errorType insufficient_scope\)",
    ):
        _parse(path, body)


def test_garbage_never_raises_anything_but_malformed_file():
    samples = [
        b"null",
        b"0",
        b'""',
        b"{",
        b'{"sleep": null}',
        b'{"sleep": [null]}',
        b'{"sleep": [{"logId": "x"}]}',
        b'{"weight": [{"logId": 1, "date": 5}]}',
        b'{"summary": [], "activities": 3}',
        b'{"summary": {"distances": [{}]}}',
        b'{"activities-heart": [{"dateTime": "2026-11-01", "value": {"heartRateZones": [1]}}]}',
        b'{"summary": {}, "activities": [{"logId": -1}]}',
        b'{"summary": {}, "activities": [{"logId": 1, "name": "x", "startDate": "2026-11-01",'
        b' "startTime": "09:00", "duration": 1e300}]}',
        b"[" * 100_000,
    ]
    refused = 0
    for path in (HEART, SUMMARY, SLEEP, WEIGHT, CARDIO, TCX):
        for data in samples:
            try:
                out = list(legacy.parse(path, data, _ctx(path)))
            except MalformedFile:
                refused += 1
                continue
            assert all(isinstance(u, ImportUnit | Skipped) for u in out), (path, data)
    assert refused >= len(samples) * 6 - 3  # a few samples are valid (empty) elsewhere


def test_empty_responses_are_skipped_as_empty():
    assert _parse(CARDIO, {"cardioScore": []}) == [Skipped("archive!" + CARDIO, "empty")]
    assert _parse(WEIGHT, {"weight": []}) == [Skipped("archive!" + WEIGHT, "empty")]
    tcx = _tcx_text(points=0).encode()
    assert _parse(TCX, tcx) == [Skipped("archive!" + TCX, "empty")]


def test_a_tcx_becomes_trackpoints_of_its_log_id():
    (unit,) = _parse(TCX, _tcx_text().encode())
    assert (unit.table, unit.data_point_id, unit.start, unit.end) == (
        "exercise_tcx_trackpoints",
        "4242",
        "",
        "",
    )
    rows = unit.rows
    assert [r["trackpoint_time"] for r in rows] == [
        dt.datetime(2026, 11, 1, 14, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 1, 14, 1, tzinfo=dt.UTC),
    ]
    assert {(r["utc_offset_seconds"], r["civil_date"], r["stream"]) for r in rows} == {
        (-18000, dt.date(2026, 11, 1), "reconciled")
    }
    assert rows[0]["civil_datetime"] == dt.datetime(2026, 11, 1, 9, 0)
    assert all(r["run_id"] is None and r["ingest_time"] is None for r in rows)
    # The seed's loader wrapped TCX as {"xml_data": ...}: the same rows.
    (wrapped,) = _parse(TCX, json.dumps({"xml_data": _tcx_text()}).encode())
    assert wrapped == unit


def test_cardio_score_number_and_range():
    body = {"cardioScore": [{"dateTime": "2026-11-01", "value": {"vo2Max": "44-48"}}]}
    (unit,) = _parse(CARDIO, body)
    (row,) = unit.rows
    assert (row["vo2_max_range"], row["vo2_max_low"], row["vo2_max_high"]) == ("44-48", 44.0, 48.0)
    body = {"cardioScore": [{"dateTime": "2026-11-01", "value": {"vo2Max": "45.27"}}]}
    (unit,) = _parse(CARDIO, body)
    assert unit.points == (
        {"dailyVo2Max": {"date": {"year": 2026, "month": 11, "day": 1}, "vo2Max": 45.27}},
    )


# --------------------------------------------------------------------------- the proof

USERS = legacy_archive.default_users()
FIRST, LAST = legacy_archive.DEFAULT_DAYS
SPACING = legacy_archive.DEFAULT_HR_SPACING_SECONDS
DAYS = [FIRST + dt.timedelta(days=i) for i in range((LAST - FIRST).days + 1)]

# Per table, the columns the legacy responses carry; every other column must be NULL
# (an empty list for a repeated column). Run columns are compared after stamping.
TIME_INTERVAL = {
    "start_time",
    "end_time",
    "start_utc_offset_seconds",
    "end_utc_offset_seconds",
    "civil_start_datetime",
    "civil_end_datetime",
    "civil_date",
}
TIME_SAMPLE = {"sample_time", "utc_offset_seconds", "civil_datetime", "civil_date"}
KEYS = {"user_key", "stream", "record_key", "run_id", "ingest_time", "load_id"}
CARRIED = {
    "heart_rate": KEYS | TIME_SAMPLE | {"beats_per_minute"},
    "daily_resting_heart_rate": KEYS | {"civil_date", "beats_per_minute"},
    "daily_vo2_max": KEYS | {"civil_date", "vo2_max_ml_per_kg_per_min"},
    "sleep": KEYS
    | TIME_INTERVAL
    | {
        "data_point_id",
        "sleep_type",
        "is_main_sleep",
        "minutes_asleep",
        "minutes_awake",
        "minutes_in_sleep_period",
        "minutes_to_fall_asleep",
        "minutes_after_wake_up",
        "stages",
        "stages_summary",
        "short_awakenings",
    },
    "exercise": KEYS
    | TIME_INTERVAL
    | {
        "data_point_id",
        "exercise_type",
        "display_name",
        "calories_kcal",
        "distance_millimeters",
        "steps",
    },
    "weight": KEYS | TIME_SAMPLE | {"data_point_id", "weight_grams"},
    "exercise_tcx_trackpoints": None,  # every column: the same TCX
}
# Rows of the default archive, per table: exact.
EXPECTED_COUNTS = {
    "heart_rate": 72312,
    "daily_resting_heart_rate": 26,
    "daily_vo2_max": 23,
    "sleep": 29,
    "exercise": 10,
    "weight": 15,
    "exercise_tcx_trackpoints": 274,
    "legacy_daily_activity": 28,
    "legacy_heart_rate_zones": 28,
    "legacy_sleep": 29,
    "legacy_cardio_score": 3,
    "legacy_weight": 15,
}


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> tuple[dict, collections.Counter, dict]:
    """The default archive, written, parsed file by file and made rows."""
    root = tmp_path_factory.mktemp("legacy") / "archive"
    files = legacy_archive.write_default_archive(root)
    by_fitbit_id = {u.legacy_user_id: u for u in USERS}
    tables: dict[str, list[dict]] = collections.defaultdict(list)
    skipped: collections.Counter = collections.Counter()
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        member = path.relative_to(root).as_posix()
        kind = legacy.classify(member)
        if kind is None or isinstance(kind, Skipped):
            skipped["unknown" if kind else "not_legacy"] += 1
            continue
        user = by_fitbit_id[legacy.legacy_user_id(member)]
        ctx = ParseContext(user.user_id, user.zone, member)
        for unit in legacy.parse(member, path.read_bytes(), ctx):
            if isinstance(unit, Skipped):
                skipped[unit.reason] += 1
                continue
            for point in unit.points:
                run = RowContext(user.user_id, RUN.run_id, RUN.ingest_time)
                for table, row in rows_for_point(unit.data_type, point, run, "reconciled"):
                    tables[table].append(row)
            if unit.rows:
                stamped = {"run_id": RUN.run_id, "ingest_time": RUN.ingest_time, "load_id": None}
                tables[unit.table].extend({**row, **stamped} for row in unit.rows)
    return tables, skipped, files


@pytest.fixture(scope="module")
def api() -> dict[str, list[dict]]:
    """What the Google Health API path gives for the same ground truth: reconciled rows."""
    store = DataStore({u.user_id: u for u in USERS}, SPACING, lambda: 2_000_000_000)
    tables: dict[str, list[dict]] = collections.defaultdict(list)
    truth: dict[tuple[str, str], list[dict]] = {}
    for user in USERS:
        run = RowContext(user.user_id, RUN.run_id, RUN.ingest_time)
        for data_type in (
            "heart-rate",
            "daily-resting-heart-rate",
            "daily-vo2-max",
            "sleep",
            "exercise",
            "weight",
            "steps",
            "floors",
            "distance",
            "altitude",
            "activity-level",
            "active-zone-minutes",
            "basal-energy-burned",
            "active-energy-burned",
        ):
            points = store.ground_truth(user.user_id, data_type, FIRST, LAST, reconciled=True)
            rows = [
                {
                    **rows_for_point(data_type, t["dataPoint"], run, "reconciled")[0][1],
                    "_civil": t["civilDate"],
                }
                for t in points
            ]
            truth[(user.user_id, data_type)] = rows
        exercises = {r["data_point_id"]: r for r in truth[(user.user_id, "exercise")]}
        for day in DAYS:
            for p in points_mod.points_for_day(user, "exercise", day, SPACING):
                tcx = render.render_tcx(user, p, False, SPACING)
                for table, row in trackpoint_rows(tcx, exercises[p.point_id], run):
                    tables[table].append(row)
        raw_weights = store.ground_truth(user.user_id, "weight", FIRST, LAST)
        truth[(user.user_id, "weight-source")] = [t["dataPoint"] for t in raw_weights]
    for (_, data_type), rows in truth.items():
        if data_type in (
            "heart-rate",
            "daily-resting-heart-rate",
            "daily-vo2-max",
            "sleep",
            "exercise",
            "weight",
        ):
            table = data_type.replace("-", "_")
            tables[table].extend({k: v for k, v in r.items() if k != "_civil"} for r in rows)
    tables["_truth"] = truth
    return tables


def _empty(value):
    return [] if isinstance(value, list) else None


def _expected_legacy_row(table: str, api_row: dict) -> dict:
    carried = CARRIED[table]
    if carried is None:
        return api_row
    out = {k: (v if k in carried else _empty(v)) for k, v in api_row.items()}
    if table == "exercise" and out["calories_kcal"] is not None:
        out["calories_kcal"] = float(round(api_row["calories_kcal"]))  # whole kcal
    return out


def _by_key(rows: list[dict]) -> dict[str, dict]:
    keyed = {r["record_key"]: r for r in rows}
    assert len(keyed) == len(rows), "duplicate record_key"
    return keyed


def test_the_archive_has_every_endpoint_and_pitfall(imported):
    _, skipped, files = imported
    assert files == {
        "get_activity_summary_by_date": 28,
        "get_heart_rate_by_date": 28,
        "get_body_weight_by_date": 28,
        "get_cardio_score_by_date": 28,
        "get_sleep_by_date": 28,
        "get_activity_tcx_by_id": 10,
        "get_activity_details_by_id": 1,
    }
    # Empty: 13 days without weigh-ins, 5 without a cardio score, 8 TCX without GPS.
    assert skipped == {"empty": 26, "unknown": 1}


def test_the_zip_holds_the_same_members(tmp_path):
    root = tmp_path / "archive"
    user = legacy_archive.default_users()[0]
    counts = legacy_archive.write_archive(
        [user], dt.date(2026, 10, 30), dt.date(2026, 10, 30), root
    )
    zipped = tmp_path / "archive.zip"
    members = legacy_archive.zip_archive(root, zipped)
    assert members == sum(counts.values()) == 7
    with zipfile.ZipFile(zipped) as archive:
        names = sorted(archive.namelist())
    assert names == sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert [legacy.classify(n) for n in names].count(None) == 0


def test_exact_row_counts_per_table(imported):
    tables, _, _ = imported
    assert {t: len(rows) for t, rows in tables.items()} == EXPECTED_COUNTS


@pytest.mark.parametrize("table", [t for t in CARRIED if t != "daily_vo2_max"])
def test_rows_equal_the_api_rows_column_by_column(imported, api, table):
    legacy_rows = _by_key(imported[0][table])
    api_rows = _by_key(api[table])
    assert set(legacy_rows) == set(api_rows)
    for key, api_row in api_rows.items():
        got = legacy_rows[key]
        assert set(got) == set(api_row), table
        expected = _expected_legacy_row(table, api_row)
        for column in api_row:
            assert got[column] == expected[column], (table, column, key)


def test_vo2_max_given_as_one_number_is_daily_vo2_max(imported, api):
    legacy_rows = _by_key(imported[0]["daily_vo2_max"])
    # Days the API marks estimated are ranges in the legacy response: legacy_cardio_score.
    api_rows = _by_key([r for r in api["daily_vo2_max"] if not r["estimated"]])
    assert set(legacy_rows) == set(api_rows)
    for key, api_row in api_rows.items():
        assert legacy_rows[key] == _expected_legacy_row("daily_vo2_max", api_row)


def test_every_trackpoint_has_its_exercise(imported):
    tables = imported[0]
    exercises = {(r["user_key"], r["stream"], r["data_point_id"]) for r in tables["exercise"]}
    trackpoints = {
        (r["user_key"], r["stream"], r["data_point_id"]) for r in tables["exercise_tcx_trackpoints"]
    }
    assert trackpoints and trackpoints <= exercises


def test_the_dst_day_is_in_the_proof(imported):
    offsets = {
        r["utc_offset_seconds"]
        for r in imported[0]["heart_rate"]
        if r["user_key"] == "user-1" and r["civil_date"] == dt.date(2026, 11, 1)
    }
    assert offsets == {-14400, -18000}
    repeated = [
        r
        for r in imported[0]["heart_rate"]
        if r["user_key"] == "user-1" and r["civil_datetime"] == dt.datetime(2026, 11, 1, 1, 30)
    ]
    assert len(repeated) == 2  # 01:30 EDT and 01:30 EST


# -- legacy-only rows from the ground truth


def _truth(api, user, data_type, day) -> list[dict]:
    return [r for r in api["_truth"][(user.user_id, data_type)] if r["_civil"] == day.isoformat()]


def _legacy_rows(imported, table) -> dict[tuple[str, object], dict]:
    out = {}
    for row in imported[0][table]:
        key = (row["user_key"], row.get("data_point_id") or row["civil_date"])
        out[key] = row
        fastavro.validation.validate(
            row, fastavro.parse_schema(load_avro_schema(table)), raise_errors=True
        )
    return out


def _zone_edges(user):
    reserve = user.max_bpm - user.resting_bpm
    return [int(user.resting_bpm + f * reserve) for f in (0.4, 0.7, 0.85)]


def test_legacy_daily_activity_equals_the_ground_truth(imported, api):
    rows = _legacy_rows(imported, "legacy_daily_activity")
    assert len(rows) == len(USERS) * len(DAYS)
    for user in USERS:
        for day in DAYS:

            def total(data_type, column, user=user, day=day):
                return sum(r[column] for r in _truth(api, user, data_type, day))

            levels = collections.Counter(
                r["activity_level_type"] for r in _truth(api, user, "activity-level", day)
            )
            level_at = {
                r["start_time"]: r["activity_level_type"]
                for r in _truth(api, user, "activity-level", day)
            }
            active = _truth(api, user, "active-energy-burned", day)
            marginal = sum(r["energy_kcal"] for r in active)
            in_activity = sum(
                r["energy_kcal"]
                for r in active
                if level_at.get(r["start_time"]) not in (None, "SEDENTARY")
            )
            basal = total("basal-energy-burned", "energy_kcal")
            km = total("distance", "distance_millimeters") / 1_000_000
            distances = [
                {"activity": "total", "distance_kilometers": km},
                {"activity": "tracker", "distance_kilometers": km},
                {"activity": "loggedActivities", "distance_kilometers": 0.0},
            ] + [
                {
                    "activity": e["display_name"],
                    "distance_kilometers": e["distance_millimeters"] / 1_000_000,
                }
                for e in _truth(api, user, "exercise", day)
                if e["distance_millimeters"]
            ]
            row = rows[(user.user_id, day)]
            values = {k: v for k, v in row.items() if k not in ("record_key", "ingest_time")}
            assert values == {
                "user_key": user.user_id,
                "civil_date": day,
                "stream": "reconciled",
                "active_score": -1,
                "calories_out_kcal": round(basal + marginal),
                "activity_calories_kcal": round(in_activity),
                "calories_bmr_kcal": round(basal),
                "marginal_calories_kcal": round(marginal),
                "steps": total("steps", "step_count"),
                "floors": total("floors", "floor_count"),
                "elevation_meters": total("altitude", "gain_millimeters") / 1000,
                "sedentary_minutes": levels["SEDENTARY"],
                "lightly_active_minutes": levels["LIGHTLY_ACTIVE"],
                "fairly_active_minutes": levels["MODERATELY_ACTIVE"],
                "very_active_minutes": levels["VERY_ACTIVE"],
                "distances": distances,
                "goal_steps": round(user.daily_steps, -3),
                "goal_floors": 10,
                "goal_distance_kilometers": 8.05,
                "goal_calories_out_kcal": round(synth.basal_calories_per_minute(user) * 1440 + 500),
                "goal_active_minutes": 30,
                "run_id": "run-1",
                "load_id": None,
            }, (user.user_id, day)


def test_legacy_heart_rate_zones_equal_the_ground_truth(imported, api):
    rows = _legacy_rows(imported, "legacy_heart_rate_zones")
    names = {"FAT_BURN": "Fat Burn", "CARDIO": "Cardio", "PEAK": "Peak"}
    for user in USERS:
        fat_burn, cardio, peak = _zone_edges(user)
        limits = [(30, fat_burn), (fat_burn, cardio), (cardio, peak), (peak, user.max_bpm)]
        for day in DAYS:
            energy = collections.defaultdict(float)
            for data_type in ("basal-energy-burned", "active-energy-burned"):
                for r in _truth(api, user, data_type, day):
                    energy[r["start_time"]] += r["energy_kcal"]
            zone_at = {
                r["start_time"]: names[r["heart_rate_zone"]]
                for r in _truth(api, user, "active-zone-minutes", day)
            }
            minutes = dict.fromkeys(("Out of Range", "Fat Burn", "Cardio", "Peak"), 0)
            kcal = dict.fromkeys(minutes, 0.0)
            for r in _truth(api, user, "activity-level", day):
                name = zone_at.get(r["start_time"], "Out of Range")
                minutes[name] += 1
                kcal[name] += energy[r["start_time"]]
            assert rows[(user.user_id, day)]["zones"] == [
                {
                    "zone_name": name,
                    "min_beats_per_minute": low,
                    "max_beats_per_minute": high,
                    "minutes": minutes[name],
                    "calories_out_kcal": round(kcal[name], 4),
                    "custom": False,
                }
                for name, (low, high) in zip(minutes, limits, strict=True)
            ]


def test_legacy_sleep_weight_and_cardio_score_equal_the_ground_truth(imported, api):
    sleeps = _legacy_rows(imported, "legacy_sleep")
    expected = {}
    for r in api["sleep"]:
        expected[(r["user_key"], r["data_point_id"])] = (
            round(100 * r["minutes_asleep"] / r["minutes_in_sleep_period"]),
            0,
            "auto_detected",
            [],
        )
    assert {
        k: (r["efficiency"], r["info_code"], r["log_type"], r["thirty_day_average_minutes"])
        for k, r in sleeps.items()
    } == expected
    assert all(
        r["civil_date"] == s["civil_date"]
        for r in api["sleep"]
        for k, s in sleeps.items()
        if k == (r["user_key"], r["data_point_id"])
    )

    weights = _legacy_rows(imported, "legacy_weight")
    heights = {u.user_id: u.height_mm / 1000 for u in USERS}
    names = {"SCALE": "Aria", "": "Web"}
    expected = {}
    for user in USERS:
        for point in api["_truth"][(user.user_id, "weight-source")]:
            point_id = point["name"].rpartition("/")[2]
            source = point["dataSource"]
            if source["platform"] == "HEALTH_CONNECT":
                name = "API"
            else:
                name = names[source.get("device", {}).get("formFactor", "")]
            expected[(user.user_id, point_id)] = name
    api_weights = {(r["user_key"], r["data_point_id"]): r for r in api["weight"]}
    assert set(weights) == set(expected) == set(api_weights)
    for key, row in weights.items():
        grams = api_weights[key]["weight_grams"]
        assert row["bmi"] == round(grams / 1000 / heights[key[0]] ** 2, 2)
        assert row["log_source"] == expected[key]
        assert row["civil_date"] == api_weights[key]["civil_date"]

    scores = _legacy_rows(imported, "legacy_cardio_score")
    expected = {}
    for r in api["daily_vo2_max"]:
        if r["estimated"]:
            low = math.floor(r["vo2_max_ml_per_kg_per_min"]) - 2
            expected[(r["user_key"], r["civil_date"])] = (f"{low}-{low + 4}", low, low + 4)
    assert {
        k: (r["vo2_max_range"], r["vo2_max_low"], r["vo2_max_high"]) for k, r in scores.items()
    } == expected
    assert len(expected) == 3


def test_legacy_rows_have_the_record_key_of_their_schema(imported):
    import hashlib

    for table in legacy.LEGACY_TABLES:
        for row in imported[0][table]:
            measurement = row.get("data_point_id") or row["civil_date"].isoformat()
            text = "\x1f".join([row["user_key"], table, "reconciled", *[""] * 6, measurement])
            assert row["record_key"] == hashlib.sha256(text.encode()).hexdigest()
