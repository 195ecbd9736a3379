"""history.takeout_google and simulator.takeout_google: the Google Health layout of Takeout.

Literal files with exact expected units (classification, DST offsets, the date labels of
daily values, Health Connect duplicates, malformed files), then the ground-truth proof:
a generated export of a New York user across the 2026-11-01 DST change, parsed file by
file, makes exactly the rows the simulated API's reconciled answer makes.
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import zipfile
from zoneinfo import ZoneInfo

import pytest

from history import takeout_google as tg
from history.units import ImportUnit, MalformedFile, ParseContext, Skipped
from rows.datapoints import TABLE_OF, RowContext, rows_for_point
from schemas import views
from simulator import synth
from simulator import takeout_google as gen
from simulator.store import DataStore

NEW_YORK = ZoneInfo("America/New_York")
CTX = ParseContext(user_key="p-0042", zone=NEW_YORK, source="export.zip!member")
ROW_CTX = RowContext(
    user_key="p-0042", run_id="import-1", ingest_time=dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
)
A = "Takeout/Google Health/Physical Activity_GoogleData/"


def parse(name: str, text: str | bytes, ctx: ParseContext = CTX) -> list:
    data = text.encode() if isinstance(text, str) else text
    return list(tg.parse(A + name, data, ctx))


def rows_of(unit: ImportUnit) -> list[dict]:
    out = []
    for point in unit.points:
        ((_, row),) = rows_for_point(unit.data_type, point, ROW_CTX, "reconciled")
        out.append(row)
    return out


# --------------------------------------------------------------------------- classify


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (A + "heart_rate_2026-11-01.csv", "heart-rate"),
        (A + "heart_rate-2026-06-10.csv", "heart-rate"),
        (A + "steps_2026-06-01.csv", "steps"),
        (A + "distance_2026-06-01.csv", "distance"),
        (A + "active_energy_burned_2026-06-01.csv", "active-energy-burned"),
        (A + "sedentary_period_2026-06-01.csv", "sedentary-period"),
        (A + "heart_rate_variability_2026-06-01.csv", "heart-rate-variability"),
        (A + "oxygen_saturation_2026-06-01.csv", "oxygen-saturation"),
        (A + "weight.csv", "weight"),
        (A + "body_fat_2018-06-01.csv", "body-fat"),
        (A + "daily_resting_heart_rate.csv", "daily-resting-heart-rate"),
        (A + "daily_respiratory_rate.csv", "daily-respiratory-rate"),
        (A + "daily_oxygen_saturation.csv", "daily-oxygen-saturation"),
        (A + "calories_2026-06-01.csv", Skipped(A + "calories_2026-06-01.csv", "unmapped")),
        (A + "daily_heart_rate_zones.csv", Skipped(A + "daily_heart_rate_zones.csv", "unmapped")),
        (A + "floors_2026-06-01.csv", Skipped(A + "floors_2026-06-01.csv", "unmapped")),
        (
            A + "resting_heart_rate_2026-05-27.csv",
            Skipped(A + "resting_heart_rate_2026-05-27.csv", "superseded"),
        ),
        (A + "made_up_2026-06-01.csv", Skipped(A + "made_up_2026-06-01.csv", "unknown")),
        (A + "README.txt", Skipped(A + "README.txt", "unknown")),
        (
            "Takeout/Google Health/Health Fitness Data_GoogleData/UserActivityProbabilities_1.csv",
            Skipped(
                "Takeout/Google Health/Health Fitness Data_GoogleData/"
                "UserActivityProbabilities_1.csv",
                "not_health",
            ),
        ),
        (
            "Takeout/Google Health/Health Fitness Data_GoogleData/UserSensorCompressionToken.csv",
            Skipped(
                "Takeout/Google Health/Health Fitness Data_GoogleData/"
                "UserSensorCompressionToken.csv",
                "not_health",
            ),
        ),
        (
            "Takeout/Google Health/Biometrics/Glucose 2611.csv",
            Skipped("Takeout/Google Health/Biometrics/Glucose 2611.csv", "unknown"),
        ),
        ("Takeout/Google Health/Global Export Data/sleep-2026-06-09.json", None),
        ("Takeout/Fitbit/Global Export Data/steps-2017-12-31.json", None),
        ("Takeout/YouTube/history.json", None),
        ("Physical Activity_GoogleData/heart_rate_2026-11-01.csv", None),
    ],
)
def test_classify(path, expected):
    assert tg.classify(path) == expected


def test_data_types_present_names_the_types_of_this_layout_only():
    paths = [
        A + "heart_rate_2026-11-01.csv",
        A + "heart_rate_2026-11-02.csv",
        A + "weight.csv",
        A + "calories_2026-11-01.csv",
        "Takeout/Google Health/Global Export Data/steps-2026-11-01.json",
        "Takeout/Fitbit/Global Export Data/sleep-2026-11-01.json",
    ]
    assert tg.data_types_present(paths) == {"heart-rate", "weight"}
    assert tg.data_types_present([]) == set()


# --------------------------------------------------------------------------- times


def test_heart_rate_offsets_follow_the_zone_across_the_autumn_dst_change():
    text = (
        "timestamp,beats per minute,data source\n"
        "2026-11-01T05:59:55Z,61,Charge 6\n"
        "2026-11-01T06:00:00Z,62.0,Charge 6\n"
        "2026-11-01T06:00:00.250Z,63,Charge 6\n"
    )
    [unit] = parse("heart_rate_2026-11-01.csv", text)
    assert unit == ImportUnit(
        user_key="p-0042",
        data_type="heart-rate",
        # 00:00 UTC on Nov 1 is 20:00 EDT on Oct 31; 00:00 UTC on Nov 2 is 19:00 EST.
        start="2026-10-31T20:00:00",
        end="2026-11-01T19:00:00",
        source="export.zip!member",
        points=(
            {
                "heartRate": {
                    "sampleTime": {
                        "physicalTime": "2026-11-01T05:59:55Z",
                        "utcOffset": "-14400s",
                    },
                    "beatsPerMinute": "61",
                }
            },
            {
                "heartRate": {
                    "sampleTime": {
                        "physicalTime": "2026-11-01T06:00:00Z",
                        "utcOffset": "-18000s",
                    },
                    "beatsPerMinute": "62",
                }
            },
            {
                "heartRate": {
                    "sampleTime": {
                        "physicalTime": "2026-11-01T06:00:00.25Z",
                        "utcOffset": "-18000s",
                    },
                    "beatsPerMinute": "63",
                }
            },
        ),
    )
    rows = rows_of(unit)
    assert [(r["civil_datetime"], r["utc_offset_seconds"]) for r in rows] == [
        (dt.datetime(2026, 11, 1, 1, 59, 55), -14400),
        (dt.datetime(2026, 11, 1, 1, 0, 0), -18000),
        (dt.datetime(2026, 11, 1, 1, 0, 0, 250000), -18000),
    ]
    assert [r["beats_per_minute"] for r in rows] == [61, 62, 63]
    assert {r["motion_context"] for r in rows} == {None}


def test_a_minute_of_steps_across_the_change_has_two_offsets():
    text = "timestamp,steps,data source\n2026-11-01T05:59:30Z,12,Charge 6\n"
    [unit] = parse("steps_2026-11-01.csv", text)
    assert unit.points == (
        {
            "steps": {
                "interval": {
                    "startTime": "2026-11-01T05:59:30Z",
                    "startUtcOffset": "-14400s",
                    "endTime": "2026-11-01T06:00:30Z",
                    "endUtcOffset": "-18000s",
                },
                "count": "12",
            }
        },
    )
    [row] = rows_of(unit)
    assert (row["civil_start_datetime"], row["civil_end_datetime"]) == (
        dt.datetime(2026, 11, 1, 1, 59, 30),
        dt.datetime(2026, 11, 1, 1, 0, 30),
    )
    assert (row["step_count"], row["civil_date"]) == (12, dt.date(2026, 11, 1))


def test_spring_forward_skips_an_hour_of_civil_time():
    text = (
        "timestamp,beats per minute,data source\n"
        "2026-03-08T06:59:59Z,70,Charge 6\n"
        "2026-03-08T07:00:00Z,71,Charge 6\n"
    )
    [unit] = parse("heart_rate_2026-03-08.csv", text)
    assert (unit.start, unit.end) == ("2026-03-07T19:00:00", "2026-03-08T20:00:00")
    assert [(r["civil_datetime"], r["utc_offset_seconds"]) for r in rows_of(unit)] == [
        (dt.datetime(2026, 3, 8, 1, 59, 59), -18000),
        (dt.datetime(2026, 3, 8, 3, 0, 0), -14400),
    ]


def test_a_multi_day_file_spans_its_utc_days_in_civil_time():
    text = (
        "timestamp,distance,data source\n"
        "2026-06-03T10:00:00Z,1.5,Charge 6\n"
        "2026-06-01T00:00:00Z,0.7625,Charge 6\n"
    )
    [unit] = parse("distance_2026-06-01.csv", text)
    assert (unit.start, unit.end) == ("2026-05-31T20:00:00", "2026-06-03T20:00:00")
    # Metres to millimetres, to the nearest millimetre, in time order.
    assert [p["distance"]["millimeters"] for p in unit.points] == ["763", "1500"]


def test_daily_values_are_dated_by_their_label_not_converted_and_rounded_to_whole_beats():
    text = (
        "timestamp,beats per minute,data source\n"
        "2026-06-10T00:00:00Z,66.876,Fitbit App\n"
        "2026-06-11T12:00:00Z,60.5,Fitbit App\n"
        "2026-06-12,59,Fitbit App\n"
    )
    [unit] = parse("daily_resting_heart_rate.csv", text)
    assert (unit.start, unit.end) == ("2026-06-10T00:00:00", "2026-06-13T00:00:00")
    assert unit.points == (
        {
            "dailyRestingHeartRate": {
                "date": {"year": 2026, "month": 6, "day": 10},
                "beatsPerMinute": "67",
            }
        },
        {
            "dailyRestingHeartRate": {
                "date": {"year": 2026, "month": 6, "day": 11},
                "beatsPerMinute": "61",
            }
        },
        {
            "dailyRestingHeartRate": {
                "date": {"year": 2026, "month": 6, "day": 12},
                "beatsPerMinute": "59",
            }
        },
    )
    rows = rows_of(unit)
    assert [(r["civil_date"], r["beats_per_minute"]) for r in rows] == [
        (dt.date(2026, 6, 10), 67),
        (dt.date(2026, 6, 11), 61),
        (dt.date(2026, 6, 12), 59),
    ]
    assert {r["calculation_method"] for r in rows} == {None}


def test_daily_oxygen_saturation_reads_four_columns_and_not_the_baseline():
    text = (
        "timestamp,average percentage,lower bound percentage,upper bound percentage,"
        "baseline percentage,standard deviation percentage,data source\n"
        "2026-06-11T00:00:00Z,94.8,93.2,96.5,0.0,0.41,Charge 6\n"
    )
    [unit] = parse("daily_oxygen_saturation.csv", text)
    assert unit.points == (
        {
            "dailyOxygenSaturation": {
                "date": {"year": 2026, "month": 6, "day": 11},
                "averagePercentage": 94.8,
                "lowerBoundPercentage": 93.2,
                "upperBoundPercentage": 96.5,
                "standardDeviationPercentage": 0.41,
            }
        },
    )


def test_sedentary_periods_carry_their_own_end():
    text = "start time,end time,data source\n2026-06-01T13:00:00Z,2026-06-01T14:30:00Z,Charge 6\n"
    [unit] = parse("sedentary_period_2026-06-01.csv", text)
    assert unit.points == (
        {
            "sedentaryPeriod": {
                "interval": {
                    "startTime": "2026-06-01T13:00:00Z",
                    "startUtcOffset": "-14400s",
                    "endTime": "2026-06-01T14:30:00Z",
                    "endUtcOffset": "-14400s",
                }
            }
        },
    )


def test_a_weight_has_no_point_id_nor_notes():
    text = 'timestamp,weight grams,data source\n2026-07-25T10:12:44Z,64900,"Aria Air"\n'
    [unit] = parse("weight.csv", text)
    assert (unit.start, unit.end) == ("2026-07-24T20:00:00", "2026-07-25T20:00:00")
    [row] = rows_of(unit)
    assert (row["weight_grams"], row["notes"], row["data_point_id"]) == (64900.0, None, None)
    assert row["civil_datetime"] == dt.datetime(2026, 7, 25, 6, 12, 44)


# --------------------------------------------------------------------------- duplicates


def test_one_row_per_time_is_kept_preferring_a_source_other_than_health_connect():
    text = (
        "timestamp,steps,data source\n"
        # Health Connect first, the watch second: the watch's row is kept.
        "2026-06-10T16:39:00Z,500,Phone Health Connect\n"
        "2026-06-10T16:39:00Z,34,Charge 6\n"
        # Only Health Connect at this minute (the watch was off the wrist): kept.
        "2026-06-10T16:40:00Z,66,Phone Health Connect\n"
        # Two sources that are not Health Connect: the first in the file.
        "2026-06-10T16:41:00Z,10,Charge 6\n"
        "2026-06-10T16:41:00Z,11,Fitbit App\n"
        # Two Health Connect rows: the first; the case of the suffix does not matter.
        "2026-06-10T16:42:00Z,7,Garmin Connect HEALTH CONNECT\n"
        "2026-06-10T16:42:00Z,8,Phone Health Connect\n"
        # A Health Connect row after the watch's: still the watch's.
        "2026-06-10T16:43:00Z,20,Charge 6\n"
        "2026-06-10T16:43:00Z,21,Phone Health Connect\n"
    )
    [unit] = parse("steps_2026-06-10.csv", text)
    assert [(p["steps"]["interval"]["startTime"], p["steps"]["count"]) for p in unit.points] == [
        ("2026-06-10T16:39:00Z", "34"),
        ("2026-06-10T16:40:00Z", "66"),
        ("2026-06-10T16:41:00Z", "10"),
        ("2026-06-10T16:42:00Z", "7"),
        ("2026-06-10T16:43:00Z", "20"),
    ]


def test_a_daily_value_repeated_through_health_connect_is_kept_once():
    text = (
        "timestamp,breaths per minute,data source\n"
        "2026-06-11T00:00:00Z,14.1,Phone Health Connect\n"
        "2026-06-11T00:00:00Z,13.8,Fitbit App\n"
    )
    [unit] = parse("daily_respiratory_rate.csv", text)
    assert unit.points == (
        {
            "dailyRespiratoryRate": {
                "date": {"year": 2026, "month": 6, "day": 11},
                "breathsPerMinute": 13.8,
            }
        },
    )


# --------------------------------------------------------------------------- skips, errors


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("no data", "no_data"),
        ("no data\n", "no_data"),
        ("\ufeffNo Data\r\n", "no_data"),
        ("timestamp,beats per minute,data source\n", "empty"),
        ("", "empty"),
    ],
)
def test_files_without_rows_are_skipped(text, reason):
    assert parse("heart_rate_2026-11-01.csv", text) == [Skipped("export.zip!member", reason)]


def test_parse_skips_what_classify_skips_and_refuses_another_layout():
    assert list(tg.parse(A + "calories_2026-06-01.csv", b"garbage", CTX)) == [
        Skipped("export.zip!member", "unmapped")
    ]
    with pytest.raises(MalformedFile, match="not a file of the Google Health layout"):
        list(tg.parse("Takeout/Fitbit/Global Export Data/steps-2017-12-31.json", b"[]", CTX))


HEART = "timestamp,beats per minute,data source\n"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "heart_rate_2026-11-01.csv",
            b"time,bpm,data source\n2026-11-01T05:00:00Z,60,Charge 6\n",
            "unexpected header 'time,bpm,data source'; "
            "expected 'timestamp,beats per minute,data source'",
        ),
        (
            "heart_rate_2026-11-01.csv",
            b"timestamp,beats per minute\n2026-11-01T05:00:00Z,60\n",
            "expected 'timestamp,beats per minute,data source'",
        ),
        (
            "heart_rate_2026-11-01.csv",
            (HEART + "2026-11-01 05:00:00,60,Charge 6\n").encode(),
            "line 2 'timestamp': expected a UTC time",
        ),
        (
            "heart_rate_2026-11-01.csv",
            (HEART + "2026-11-01T05:00:00,60,Charge 6\n").encode(),
            "expected a UTC time",
        ),
        (
            "heart_rate_2026-11-01.csv",
            (HEART + "2026-02-30T05:00:00Z,60,Charge 6\n").encode(),
            "not a valid time",
        ),
        (
            "heart_rate_2026-11-01.csv",
            (HEART + "2026-11-01T05:00:00Z,sixty,Charge 6\n").encode(),
            "line 2 'beats per minute': expected a number, got 'sixty'",
        ),
        (
            "heart_rate_2026-11-01.csv",
            (HEART + "2026-11-01T05:00:00Z,NaN,Charge 6\n").encode(),
            "expected a number",
        ),
        (
            "heart_rate_2026-11-01.csv",
            (HEART + "2026-11-01T05:00:00Z,,Charge 6\n").encode(),
            "expected a number",
        ),
        (
            "heart_rate_2026-11-01.csv",
            (HEART + "2026-11-01T05:00:00Z,72.5,Charge 6\n").encode(),
            "expected a whole number, got '72.5'",
        ),
        (
            "heart_rate_2026-11-01.csv",
            (HEART + "2026-11-01T05:00:00Z,60,Charge 6\n2026-11-01T05:00:05Z,6").encode(),
            "line 3 has 2 cells, expected 3",
        ),
        (
            "heart_rate_2026-11-01.csv",
            (HEART + "2026-11-01T05:00:00Z,60,Charge 6\n2026-11-01T05:0").encode(),
            "line 3 has 1 cells, expected 3",
        ),
        (
            "heart_rate_2026-11-01.csv",
            (HEART + '2026-11-01T05:00:00Z,60,"Charge 6\n').encode(),
            "not readable as CSV",
        ),
        ("heart_rate_2026-11-01.csv", HEART.encode("utf-16"), "not UTF-8 text"),
        (
            "heart_rate_2026-11-01.csv",
            (HEART + "2026-11-01T05:00:00Z,60,Montr\xe9al\n").encode("latin-1"),
            "not UTF-8 text",
        ),
        ("heart_rate_2026-11-01.csv", b"\x00\x01\x02garbage", "NUL bytes"),
        ("heart_rate_2026-11-01.csv", b'[{"dateTime": 1}]', "unexpected header"),
        (
            "daily_resting_heart_rate.csv",
            (HEART + "06/10/26,60,Fitbit App\n").encode(),
            "expected a date such as 2026-06-11T00:00:00Z",
        ),
        (
            "sedentary_period_2026-06-01.csv",
            b"start time,end time,data source\n"
            b"2026-06-01T14:00:00Z,2026-06-01T13:00:00Z,Charge 6\n",
            "'end time' is before 'start time'",
        ),
        (
            "heart_rate_2026-13-01.csv",
            (HEART + "2026-11-01T05:00:00Z,60,Charge 6\n").encode(),
            "not a valid date",
        ),
        (
            "heart_rate_2026-11-01.csv",
            (HEART + "2026-11-01T05:00:00Z,1e999999999,Charge 6\n").encode(),
            "number out of range",
        ),
        (
            "heart_rate_2026-11-01.csv",
            (HEART + "9999-12-31T23:59:59Z,60,Charge 6\n").encode(),
            "year out of range",
        ),
        (
            "daily_respiratory_rate.csv",
            b"timestamp,breaths per minute,data source\n0001-01-01T00:00:00Z,14,Fitbit App\n",
            "year out of range",
        ),
    ],
)
def test_malformed_files_raise_malformed_file_naming_the_problem(name, data, message):
    with pytest.raises(MalformedFile) as caught:
        parse(name, data)
    assert message in str(caught.value)
    assert str(caught.value).startswith(name)


# --------------------------------------------------------------------------- ground truth

FIRST, LAST = dt.date(2026, 10, 30), dt.date(2026, 11, 2)  # across 2026-11-01 in New York
# Rows per table of the default export (user-1 of seed 0, America/New_York, FIRST..LAST).
EXPECTED_ROWS = {
    "heart_rate": 67440,
    "heart_rate_variability": 345,
    "oxygen_saturation": 1529,
    "steps": 5628,
    "distance": 5628,
    "active_energy_burned": 725,
    "sedentary_period": 28,
    "body_fat": 3,
    "weight": 4,
    "daily_resting_heart_rate": 4,
    "daily_respiratory_rate": 2,
    "daily_oxygen_saturation": 2,
}
# Per table, the columns the layout does not carry: NULL in its rows.
NOT_CARRIED = {
    "heart_rate": ("motion_context", "sensor_location"),
    "weight": ("notes", "data_point_id"),
    "body_fat": ("data_point_id",),
    "daily_resting_heart_rate": ("calculation_method",),
}
# The record_key of a weight or body fat row is made from its point id when there is one.
KEYED_BY_ID = {"weight", "body_fat"}


@pytest.fixture(scope="module")
def user():
    return synth.make_user(0, 1, dt.date(2026, 10, 1))


@pytest.fixture(scope="module")
def export(user, tmp_path_factory):
    path = tmp_path_factory.mktemp("takeout") / "takeout-20261206.zip"
    counts = gen.write_export(user, FIRST, LAST, path, zip=True)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return counts, members


def _imported(user, members) -> tuple[dict[str, list[dict]], collections.Counter, list]:
    ctx = ParseContext(user_key=ROW_CTX.user_key, zone=user.zone, source="")
    tables: dict[str, list[dict]] = collections.defaultdict(list)
    skipped: collections.Counter = collections.Counter()
    units = []
    for path, data in members.items():
        assert tg.classify(path) is not None, path
        for item in tg.parse(path, data, ctx):
            if isinstance(item, Skipped):
                skipped[item.reason] += 1
                continue
            units.append(item)
            for point in item.points:
                ((table, row),) = rows_for_point(item.data_type, point, ROW_CTX, "reconciled")
                tables[table].append(row)
    return tables, skipped, units


def _api(user) -> dict[str, list[dict]]:
    store = DataStore({user.user_id: user}, gen.HR_SPACING_SECONDS, now=lambda: 2_000_000_000)
    tables: dict[str, list[dict]] = collections.defaultdict(list)
    for data_type in gen.DATA_TYPES:
        for held in store.ground_truth(user.user_id, data_type, FIRST, LAST, reconciled=True):
            ((table, row),) = rows_for_point(data_type, held["dataPoint"], ROW_CTX, "reconciled")
            tables[table].append(row)
    return tables


def _comparable(table: str, row: dict) -> tuple:
    left_out = set(NOT_CARRIED.get(table, ()))
    if table in KEYED_BY_ID:
        left_out.add("record_key")
    return tuple(sorted((k, repr(v)) for k, v in row.items() if k not in left_out))


def test_the_generated_export_imports_as_the_apis_reconciled_rows(user, export):
    counts, members = export
    imported, skipped, units = _imported(user, members)
    api = _api(user)

    assert {table: len(rows) for table, rows in imported.items()} == EXPECTED_ROWS
    assert {table: len(rows) for table, rows in api.items()} == EXPECTED_ROWS
    for table, rows in imported.items():
        for column in NOT_CARRIED.get(table, ()):
            assert {row[column] for row in rows} == {None}, (table, column)
        assert sorted(_comparable(table, r) for r in rows) == sorted(
            _comparable(table, r) for r in api[table]
        ), table

    # Exported rows beyond the reconciled ones are the Health Connect duplicates.
    written = {k: v for k, v in counts.items() if k not in ("files", "no_data_files", "calories")}
    assert written == {**EXPECTED_ROWS, "heart_rate": 67704, "steps": 5780, "distance": 5780}
    assert counts["calories"] > 0
    assert skipped == {"no_data": 2, "unmapped": 5, "not_health": 2, "unknown": 1}
    assert counts["no_data_files"] == 3
    assert counts["files"] == len(members) == sum(skipped.values()) + len(units)


def test_every_units_window_holds_its_rows_window_column(user, export):
    _, members = export
    _, _, units = _imported(user, members)
    windows: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    for unit in units:
        start, end = (dt.datetime.fromisoformat(t) for t in (unit.start, unit.end))
        windows[unit.data_type].append((start, end))
        for row in rows_of(unit):
            column = views.WINDOW_COLUMN[TABLE_OF[unit.data_type]]
            value = row["civil_date"] if column.startswith("DATETIME") else row[column[2:]]
            value = (
                value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time())
            )
            assert start <= value < end, (unit.source, value)
    # The day files of one type adjoin and do not overlap.
    for spans in windows.values():
        spans.sort()
        for (_, end), (next_start, _) in itertools.pairwise(spans):
            assert end <= next_start


def test_the_export_holds_health_connect_rows_at_the_watchs_times(user, export):
    _, members = export
    day = members[gen.FOLDER + "steps_2026-10-31.csv"].decode().splitlines()
    assert day[0] == "timestamp,steps,data source"
    times = collections.defaultdict(list)
    for line in day[1:]:
        stamp, _, source = line.split(",")
        times[stamp].append(source)
    shared = [sources for sources in times.values() if len(sources) > 1]
    assert shared and all(s == ["Phone Health Connect", "Charge 6"] for s in shared)
    assert members[gen.FOLDER + "body_fat_2026-11-02.csv"] == b"no data"


def test_the_folder_export_writes_the_zips_members(user, export, tmp_path):
    counts, members = export
    assert gen.write_export(user, FIRST, LAST, tmp_path) == counts
    written = {
        p.relative_to(tmp_path).as_posix(): p.read_bytes()
        for p in tmp_path.rglob("*")
        if p.is_file()
    }
    assert written == members


def test_any_truncation_or_corruption_of_a_real_file_is_read_or_malformed(user, export):
    _, members = export
    for name in ("steps_2026-11-01.csv", "daily_oxygen_saturation.csv", "weight.csv"):
        data = members[gen.FOLDER + name]
        cuts = [data[:n] for n in range(0, len(data), max(1, len(data) // 300))]
        flips = [
            data[:n] + bytes([data[n] ^ 0x55]) + data[n + 1 :] for n in range(0, len(data), 97)
        ]
        for variant in (*cuts, *flips):
            try:
                out = parse(name, variant, ParseContext("p-0042", user.zone, "x"))
            except MalformedFile:
                continue
            assert all(isinstance(item, ImportUnit | Skipped) for item in out)
