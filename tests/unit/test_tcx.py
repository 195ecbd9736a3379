"""rows.tcx: TCX exports -> exact exercise_tcx_trackpoints rows; hostile XML refused."""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib

import fastavro
import pytest
from fastavro.validation import validate

from rows import datapoints, tcx
from rows.datapoints import RowContext, RowError
from rows.tcx import TcxError
from schemas.bigquery import load_avro_schema

UTC = dt.UTC
USER = "p-0042"
RUN_ID = "run-20261128"
INGEST = dt.datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CTX = RowContext(USER, RUN_ID, INGEST)
SOURCE_COLUMNS = {
    "source_platform": "FITBIT",
    "source_recording_method": "PASSIVELY_MEASURED",
    "source_device_display_name": "Charge 6",
    "source_device_form_factor": "FITNESS_BAND",
    "source_device_manufacturer": "Fitbit",
    "source_application_package_name": "com.fitbit.FitbitMobile",
}
SOURCE_KEY = (
    "FITBIT",
    "PASSIVELY_MEASURED",
    "Charge 6",
    "FITNESS_BAND",
    "Fitbit",
    "com.fitbit.FitbitMobile",
)
EXERCISE_ID = "4740180907190888148"

# The parts of an exercise row (Tonga, UTC+13) that trackpoint rows use, plus some they don't.
EXERCISE_ROW = {
    "user_key": USER,
    "start_time": dt.datetime(2026, 11, 11, 4, 41, tzinfo=UTC),
    "start_utc_offset_seconds": 46800,
    "end_utc_offset_seconds": 46800,
    "civil_start_datetime": dt.datetime(2026, 11, 11, 17, 41),
    "civil_date": dt.date(2026, 11, 11),
    "stream": "raw",
    **SOURCE_COLUMNS,
    "data_point_id": EXERCISE_ID,
    "exercise_type": "RUNNING",
    "has_gps": True,
}

# Two laps; the first trackpoint has no position yet (no GPS fix), the last no heart rate.
# The Garmin extension's cadence must not be read as the TCX Cadence.
TWO_LAPS = """<?xml version="1.0" encoding="UTF-8"?>
<TrainingCenterDatabase
    xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
    xmlns:ns3="http://www.garmin.com/xmlschemas/ActivityExtension/v2">
  <Activities>
    <Activity Sport="Running">
      <Id>2026-11-11T04:41:00.000Z</Id>
      <Lap StartTime="2026-11-11T04:41:00.000Z">
        <TotalTimeSeconds>10.0</TotalTimeSeconds>
        <DistanceMeters>25.5</DistanceMeters>
        <Calories>3</Calories>
        <Intensity>Active</Intensity>
        <TriggerMethod>Manual</TriggerMethod>
        <Track>
          <Trackpoint>
            <Time>2026-11-11T04:41:00.000Z</Time>
            <AltitudeMeters>12.0</AltitudeMeters>
            <DistanceMeters>0.0</DistanceMeters>
            <HeartRateBpm><Value>131</Value></HeartRateBpm>
            <Cadence>84</Cadence>
          </Trackpoint>
          <Trackpoint>
            <Time>2026-11-11T04:41:05.000Z</Time>
            <Position>
              <LatitudeDegrees>-21.1393</LatitudeDegrees>
              <LongitudeDegrees>-175.2049</LongitudeDegrees>
            </Position>
            <AltitudeMeters>12.4</AltitudeMeters>
            <DistanceMeters>12.7</DistanceMeters>
            <HeartRateBpm><Value>135</Value></HeartRateBpm>
            <Extensions><ns3:TPX><ns3:Speed>2.54</ns3:Speed><ns3:Cadence>86</ns3:Cadence></ns3:TPX>
            </Extensions>
          </Trackpoint>
        </Track>
      </Lap>
      <Lap StartTime="2026-11-11T04:41:10.000Z">
        <TotalTimeSeconds>5.0</TotalTimeSeconds>
        <Calories>2</Calories>
        <Intensity>Resting</Intensity>
        <Track>
          <Trackpoint>
            <Time>2026-11-11T04:41:10.000Z</Time>
            <Position>
              <LatitudeDegrees>-21.1392</LatitudeDegrees>
              <LongitudeDegrees>-175.2048</LongitudeDegrees>
            </Position>
            <DistanceMeters>25.5</DistanceMeters>
          </Trackpoint>
        </Track>
      </Lap>
      <Notes>Run</Notes>
    </Activity>
  </Activities>
</TrainingCenterDatabase>
"""

FIRST_LAP = {
    "sport": "Running",
    "lap_index": 0,
    "lap_start_time": dt.datetime(2026, 11, 11, 4, 41, 0, tzinfo=UTC),
    "lap_total_time_seconds": 10.0,
    "lap_distance_meters": 25.5,
    "lap_calories_kcal": 3,
    "lap_intensity": "Active",
    "lap_trigger_method": "Manual",
}
SECOND_LAP = {
    "sport": "Running",
    "lap_index": 1,
    "lap_start_time": dt.datetime(2026, 11, 11, 4, 41, 10, tzinfo=UTC),
    "lap_total_time_seconds": 5.0,
    "lap_distance_meters": None,
    "lap_calories_kcal": 2,
    "lap_intensity": "Resting",
    "lap_trigger_method": None,
}
TRACKPOINTS = [
    {
        **FIRST_LAP,
        "trackpoint_index": 0,
        "trackpoint_time": dt.datetime(2026, 11, 11, 4, 41, 0, tzinfo=UTC),
        "latitude_degrees": None,
        "longitude_degrees": None,
        "altitude_meters": 12.0,
        "distance_meters": 0.0,
        "heart_rate_bpm": 131,
        "cadence": 84,
    },
    {
        **FIRST_LAP,
        "trackpoint_index": 1,
        "trackpoint_time": dt.datetime(2026, 11, 11, 4, 41, 5, tzinfo=UTC),
        "latitude_degrees": -21.1393,
        "longitude_degrees": -175.2049,
        "altitude_meters": 12.4,
        "distance_meters": 12.7,
        "heart_rate_bpm": 135,
        "cadence": None,
    },
    {
        **SECOND_LAP,
        "trackpoint_index": 2,
        "trackpoint_time": dt.datetime(2026, 11, 11, 4, 41, 10, tzinfo=UTC),
        "latitude_degrees": -21.1392,
        "longitude_degrees": -175.2048,
        "altitude_meters": None,
        "distance_meters": 25.5,
        "heart_rate_bpm": None,
        "cadence": None,
    },
]


def key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def shared(index: int) -> dict:
    return {
        "user_key": USER,
        "utc_offset_seconds": 46800,
        "civil_date": dt.date(2026, 11, 11),
        "stream": "raw",
        **SOURCE_COLUMNS,
        "data_point_id": EXERCISE_ID,
        "record_key": key(
            USER, "exercise_tcx_trackpoints", "raw", *SOURCE_KEY, EXERCISE_ID, str(index)
        ),
        "run_id": RUN_ID,
        "ingest_time": INGEST,
        "load_id": None,
    }


def test_parse_tcx_reads_every_trackpoint_with_its_lap():
    assert tcx.parse_tcx(TWO_LAPS) == TRACKPOINTS


def test_trackpoint_rows_of_a_two_lap_file():
    assert tcx.trackpoint_rows(TWO_LAPS, EXERCISE_ROW, CTX) == [
        (
            "exercise_tcx_trackpoints",
            {
                **shared(0),
                **TRACKPOINTS[0],
                "civil_datetime": dt.datetime(2026, 11, 11, 17, 41, 0),
            },
        ),
        (
            "exercise_tcx_trackpoints",
            {
                **shared(1),
                **TRACKPOINTS[1],
                "civil_datetime": dt.datetime(2026, 11, 11, 17, 41, 5),
            },
        ),
        (
            "exercise_tcx_trackpoints",
            {
                **shared(2),
                **TRACKPOINTS[2],
                "civil_datetime": dt.datetime(2026, 11, 11, 17, 41, 10),
            },
        ),
    ]


def test_trackpoint_rows_validate_against_the_schema():
    schema = load_avro_schema("exercise_tcx_trackpoints")
    parsed = fastavro.parse_schema(schema)
    for table, row in tcx.trackpoint_rows(TWO_LAPS, EXERCISE_ROW, CTX):
        assert table == "exercise_tcx_trackpoints"
        assert set(row) == {field["name"] for field in schema["fields"]}
        assert validate(row, parsed, raise_errors=True)


def test_a_trackpoint_after_local_midnight_stays_on_the_exercises_civil_date():
    late = """<TrainingCenterDatabase
        xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"><Activities>
      <Activity Sport="Other"><Lap StartTime="2026-11-11T10:50:00Z"><Track>
        <Trackpoint><Time>2026-11-11T11:00:05Z</Time></Trackpoint>
      </Track></Lap></Activity></Activities></TrainingCenterDatabase>"""
    ((_, row),) = tcx.trackpoint_rows(late, EXERCISE_ROW, CTX)
    assert row["civil_datetime"] == dt.datetime(2026, 11, 12, 0, 0, 5)
    assert row["civil_date"] == dt.date(2026, 11, 11)


def test_a_document_without_namespace_parses_like_the_namespaced_one():
    plain = TWO_LAPS.replace(
        'xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"', ""
    )
    assert tcx.parse_tcx(plain) == TRACKPOINTS


def test_elements_of_other_namespaces_are_ignored():
    document = """<t:TrainingCenterDatabase
        xmlns:t="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
        xmlns:x="urn:example:other">
      <t:Activities><t:Activity Sport="Biking"><t:Lap StartTime="2026-11-11T04:41:00Z">
        <x:Calories>999</x:Calories><t:Calories>7</t:Calories>
        <t:Track><t:Trackpoint><t:Time>2026-11-11T04:41:00Z</t:Time>
          <x:Cadence>200</x:Cadence><t:Cadence>90</t:Cadence></t:Trackpoint>
          <x:Trackpoint><t:Time>2026-11-11T04:41:01Z</t:Time></x:Trackpoint>
        </t:Track></t:Lap></t:Activity></t:Activities></t:TrainingCenterDatabase>"""
    (point,) = tcx.parse_tcx(document)
    assert (point["sport"], point["lap_calories_kcal"], point["cadence"]) == ("Biking", 7, 90)


def test_laps_and_trackpoints_are_counted_across_activities_and_tracks():
    document = """<TrainingCenterDatabase><Activities>
      <Activity Sport="Running"><Lap StartTime="2026-11-11T04:41:00Z">
        <Track><Trackpoint><Time>2026-11-11T04:41:00Z</Time></Trackpoint></Track>
        <Track><Trackpoint><Time>2026-11-11T04:42:00Z</Time></Trackpoint></Track>
      </Lap></Activity>
      <Activity><Lap><Track><Trackpoint><Time>2026-11-11T05:00:00Z</Time></Trackpoint>
      </Track></Lap></Activity>
    </Activities></TrainingCenterDatabase>"""
    points = tcx.parse_tcx(document)
    assert [(p["sport"], p["lap_index"], p["trackpoint_index"]) for p in points] == [
        ("Running", 0, 0),
        ("Running", 0, 1),
        (None, 1, 2),
    ]
    assert points[2]["lap_start_time"] is None


def test_times_without_zone_are_utc_and_times_with_an_offset_are_converted():
    document = """<TrainingCenterDatabase><Activities><Activity Sport="Running">
      <Lap StartTime="2026-11-11T05:41:00+01:00"><Track>
        <Trackpoint><Time>2026-11-11T04:41:00</Time></Trackpoint>
        <Trackpoint><Time>2026-11-11T05:41:01.250+01:00</Time></Trackpoint>
      </Track></Lap></Activity></Activities></TrainingCenterDatabase>"""
    first, second = tcx.parse_tcx(document)
    assert first["lap_start_time"] == dt.datetime(2026, 11, 11, 4, 41, tzinfo=UTC)
    assert first["trackpoint_time"] == dt.datetime(2026, 11, 11, 4, 41, tzinfo=UTC)
    assert second["trackpoint_time"] == dt.datetime(2026, 11, 11, 4, 41, 1, 250000, tzinfo=UTC)
    assert second["trackpoint_time"].tzinfo is UTC


def test_an_exercise_without_trackpoints_gives_no_rows():
    document = """<?xml version="1.0" encoding="UTF-8"?>
<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">
<Activities><Activity Sport="Other"><Id>2026-11-14T08:52:00.000Z</Id>
<Lap StartTime="2026-11-14T08:52:00.000Z"><TotalTimeSeconds>2100.0</TotalTimeSeconds>
<Calories>95</Calories><Intensity>Active</Intensity><TriggerMethod>Manual</TriggerMethod></Lap>
</Activity></Activities></TrainingCenterDatabase>"""
    assert tcx.trackpoint_rows(document, EXERCISE_ROW, CTX) == []


def test_bytes_with_a_bom_or_a_declared_encoding():
    assert tcx.parse_tcx(codecs.BOM_UTF8 + TWO_LAPS.encode("utf-8")) == TRACKPOINTS
    latin = TWO_LAPS.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').replace(
        'Sport="Running"', 'Sport="Course à pied"'
    )
    points = tcx.parse_tcx(latin.encode("iso-8859-1"))
    assert {p["sport"] for p in points} == {"Course à pied"}
    assert tcx.parse_tcx(TWO_LAPS.encode("utf-16")) == TRACKPOINTS


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<TrainingCenterDatabase><Activities><Activity Sport="&lol3;"/></Activities>
</TrainingCenterDatabase>"""


@pytest.mark.parametrize(
    ("document", "marker"),
    [
        (BILLION_LAUGHS, "<!DOCTYPE"),
        (BILLION_LAUGHS.encode("utf-8"), "<!DOCTYPE"),
        (BILLION_LAUGHS.encode("utf-16"), "<!DOCTYPE"),
        ('<!ENTITY x "y"><TrainingCenterDatabase/>', "<!ENTITY"),
        ('<!doctype t SYSTEM "file:///etc/passwd"><TrainingCenterDatabase/>', "<!doctype"),
    ],
)
def test_dtds_and_entities_are_refused_before_parsing(document, marker):
    with pytest.raises(TcxError, match=f"contains {marker}: DTDs and entity declarations"):
        tcx.parse_tcx(document)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("<TrainingCenterDatabase><Activities>", "not well-formed XML: no element found"),
        ("", "not well-formed XML"),
        ("<gpx><trk/></gpx>", "not a TCX document: the root element is 'gpx'"),
        (
            "<TrainingCenterDatabase><Activities><Activity><Lap><Track><Trackpoint>"
            "<DistanceMeters>1</DistanceMeters></Trackpoint></Track></Lap></Activity>"
            "</Activities></TrainingCenterDatabase>",
            "Trackpoint 0 \\(in lap 0\\) has no Time",
        ),
        (
            "<TrainingCenterDatabase><Activities><Activity><Lap><Track><Trackpoint>"
            "<Time>2026-11-11T04:41:00Z</Time><HeartRateBpm><Value>fast</Value></HeartRateBpm>"
            "</Trackpoint></Track></Lap></Activity></Activities></TrainingCenterDatabase>",
            "Trackpoint 0 HeartRateBpm/Value: expected a number, got 'fast'",
        ),
        (
            "<TrainingCenterDatabase><Activities><Activity><Lap StartTime='noon'/></Activity>"
            "</Activities></TrainingCenterDatabase>",
            "Lap 0 StartTime: expected a time",
        ),
        (b"<TrainingCenterDatabase>\xff</TrainingCenterDatabase>", "cannot decode .* as utf-8"),
        (b'<?xml version="1.0" encoding="klingon"?><a/>', "cannot decode the TCX document as"),
    ],
)
def test_unreadable_documents_raise_tcx_error(document, message):
    with pytest.raises(TcxError, match=message):
        tcx.parse_tcx(document)


def test_exercise_row_needs_an_id_and_accepts_an_iso_civil_date():
    with pytest.raises(RowError) as caught:
        tcx.trackpoint_rows(TWO_LAPS, {**EXERCISE_ROW, "data_point_id": None}, CTX)
    assert caught.value.field == "exercise.data_point_id"
    without_stream = {k: v for k, v in EXERCISE_ROW.items() if k != "stream"}
    with pytest.raises(RowError, match=r"exercise\.stream: missing from the exercise row"):
        tcx.trackpoint_rows(TWO_LAPS, without_stream, CTX)
    replayed = {**EXERCISE_ROW, "civil_date": "2026-11-11"}
    assert tcx.trackpoint_rows(TWO_LAPS, replayed, CTX) == tcx.trackpoint_rows(
        TWO_LAPS, EXERCISE_ROW, CTX
    )


def test_the_simulators_export_of_a_gps_exercise():
    from simulator import Simulator, SimulatorConfig, render

    start = dt.datetime(2026, 11, 28, 12, tzinfo=UTC).timestamp()
    simulator = Simulator(SimulatorConfig(users=3, clock_speed=0, start_time=start))
    truth = simulator.ground_truth(
        "user-2", "exercise", dt.date(2026, 11, 11), dt.date(2026, 11, 11)
    )
    (exercise,) = [t for t in truth if t["dataPoint"]["exercise"]["exerciseType"] == "WALKING"]
    ctx = RowContext("user-2", RUN_ID, INGEST)
    ((_, exercise_row),) = datapoints.rows_for_point("exercise", exercise["dataPoint"], ctx, "raw")
    user = simulator.users["user-2"]
    point = simulator.store.find(user, "exercise", exercise["id"], None)
    document = render.render_tcx(user, point, partial_data=False)

    out = tcx.trackpoint_rows(document, exercise_row, ctx)

    parsed = fastavro.parse_schema(load_avro_schema("exercise_tcx_trackpoints"))
    assert len(out) == document.count("<Trackpoint>") > 100
    assert [row["trackpoint_index"] for _, row in out] == list(range(len(out)))
    assert sorted({row["lap_index"] for _, row in out}) == [0, 1, 2, 3]
    for _, row in out:
        validate(row, parsed, raise_errors=True)
        assert row["civil_date"] == exercise_row["civil_date"] == dt.date(2026, 11, 11)
        assert row["latitude_degrees"] is not None
        assert row["civil_datetime"] == (row["trackpoint_time"] + dt.timedelta(hours=13)).replace(
            tzinfo=None
        )
    first = out[0][1]
    assert (first["trackpoint_time"], first["sport"], first["lap_trigger_method"]) == (
        exercise_row["start_time"],
        "Walking",
        "Distance",
    )
