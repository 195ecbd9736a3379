"""Reads exercise TCX files into exercise_tcx_trackpoints rows.

The Google Health API's exportExerciseTcx method returns one exercise as a Garmin Training
Center XML (TCX v2) document. This module parses such documents generically: any TCX
namespace version (or none), any of the optional elements missing, several activities, laps
and tracks. Pure and Beam-free; `rows.datapoints` calls `trackpoint_rows` per export.

Usage::

    points = parse_tcx(tcx_text)  # one dict per Trackpoint, in file order
    pairs = trackpoint_rows(tcx_text, exercise_row, ctx)  # ("exercise_tcx_trackpoints", row)

The standard library's XML parser resolves internal entities and there is no defusedxml
here, so a document that declares a DTD or an entity is refused before parsing: TCX never
needs one, and refusing them rules out entity-expansion attacks such as "billion laughs".
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from rows.datapoints import SOURCE_COLUMNS, STREAMS, RowContext, RowError, record_key

__all__ = ["TABLE", "TcxError", "parse_tcx", "trackpoint_rows"]

TABLE = "exercise_tcx_trackpoints"

# Every published TCX schema version lives under this namespace prefix.
_TCX_NAMESPACE = "{http://www.garmin.com/xmlschemas/TrainingCenterDatabase/"
# XML spells them in capitals; a lower-case spelling is not XML either, so refuse it too.
_FORBIDDEN = re.compile(r"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
# ASCII digits only: `\d` would also match full-width or Arabic-Indic ones.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# No zone is further than 14 hours from UTC; the same slack as rows.datapoints.
_MAX_OFFSET_SECONDS = 18 * 3600
_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class TcxError(ValueError):
    """A TCX document that cannot be read: not XML, not TCX, or a value that is not valid."""


# --------------------------------------------------------------------------- parsing


def _text(tcx: str | bytes) -> str:
    """The document as text, decoded the way an XML parser would decode it."""
    if isinstance(tcx, str):
        return tcx
    if not isinstance(tcx, bytes | bytearray):
        raise TcxError(f"expected TCX as str or bytes, got {type(tcx).__name__}")
    data = bytes(tcx)
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), None)
    if encoding is None:
        declared = _DECLARED_ENCODING.match(data)
        encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        return data.decode(encoding)
    except (LookupError, UnicodeDecodeError) as err:
        raise TcxError(f"cannot decode the TCX document as {encoding}: {err}") from None


def _local(tag: Any) -> str | None:
    """The local name of a TCX element (TCX namespace or none); None for other namespaces."""
    if not isinstance(tag, str):
        return None
    if tag[0] != "{":
        return tag
    if tag.startswith(_TCX_NAMESPACE):
        return tag[tag.index("}") + 1 :]
    return None


def _children(element: ET.Element) -> dict[str, ET.Element]:
    """First TCX child element per local name."""
    out: dict[str, ET.Element] = {}
    for child in element:
        name = _local(child.tag)
        if name is not None and name not in out:
            out[name] = child
    return out


def _value(element: ET.Element | None) -> str | None:
    """Stripped text of an element; None when the element is absent or empty."""
    if element is None or element.text is None:
        return None
    text = element.text.strip()
    return text or None


def _float(text: str | None, where: str) -> float | None:
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise TcxError(f"{where}: expected a number, got {text!r:.60}")
    return number


def _int(text: str | None, where: str) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    number = _float(text, where)
    if not number.is_integer():
        raise TcxError(f"{where}: expected a whole number, got {text!r:.60}")
    return int(number)


def _time(text: str | None, where: str) -> dt.datetime | None:
    """xsd:dateTime -> tz-aware UTC datetime; a time without a zone is UTC, as TCX intends."""
    if text is None:
        return None
    try:
        if len(text) < 19 or text[10] != "T":
            raise ValueError(text)
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise TcxError(
            f"{where}: expected a time such as 2026-11-20T02:03:05Z, got {text!r:.60}"
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01T00:00:00+05:00 is before year 1 in UTC
        raise TcxError(f"{where}: {text!r:.60} is out of range in UTC") from None


def parse_tcx(tcx: str | bytes) -> list[dict[str, Any]]:
    """Parses a TCX document into one dict per Trackpoint, in file order.

    Each dict holds the trackpoint columns of exercise_tcx_trackpoints: sport, lap_index,
    lap_start_time, lap_total_time_seconds, lap_distance_meters, lap_calories_kcal,
    lap_intensity, lap_trigger_method, trackpoint_index, trackpoint_time (tz-aware UTC),
    latitude_degrees, longitude_degrees, altitude_meters, distance_meters, heart_rate_bpm and
    cadence. Values keep TCX's units; text values are as written; a missing element or
    attribute is None. Laps and trackpoints are counted from 0 across the whole file;
    trackpoints of several Track elements in a lap follow each other.

    Args:
        tcx: the document, as text or as bytes (a BOM or the XML declaration gives the
            encoding; UTF-8 otherwise).

    Raises:
        TcxError: the document declares a DTD or entity, is not well-formed XML, is not a
            TrainingCenterDatabase, has a trackpoint without Time, or a value is not valid.
    """
    text = _text(tcx)
    forbidden = _FORBIDDEN.search(text)
    if forbidden:
        raise TcxError(
            f"TCX document contains {forbidden.group(0)}: DTDs and entity declarations are "
            "refused (TCX needs none, and they allow entity-expansion attacks)"
        )
    try:
        root = ET.fromstring(text)  # noqa: S314 - DTDs and entities refused above
    except ET.ParseError as err:
        raise TcxError(f"TCX document is not well-formed XML: {err}") from None
    if _local(root.tag) != "TrainingCenterDatabase":
        raise TcxError(f"not a TCX document: the root element is {root.tag!r:.100}")
    points: list[dict[str, Any]] = []
    lap_index = 0
    for activities in root:
        if _local(activities.tag) != "Activities":
            continue
        # iter() also finds the activities of a MultiSportSession, in document order.
        for activity in activities.iter():
            if _local(activity.tag) != "Activity":
                continue
            sport = activity.get("Sport")
            for lap in activity:
                if _local(lap.tag) != "Lap":
                    continue
                _read_lap(lap, lap_index, sport, points)
                lap_index += 1
    return points


def _read_lap(lap: ET.Element, lap_index: int, sport: str | None, points: list[dict]) -> None:
    where = f"Lap {lap_index}"
    fields = _children(lap)
    lap_columns = {
        "sport": sport,
        "lap_index": lap_index,
        "lap_start_time": _time(lap.get("StartTime"), where + " StartTime"),
        "lap_total_time_seconds": _float(
            _value(fields.get("TotalTimeSeconds")), where + " TotalTimeSeconds"
        ),
        "lap_distance_meters": _float(
            _value(fields.get("DistanceMeters")), where + " DistanceMeters"
        ),
        "lap_calories_kcal": _int(_value(fields.get("Calories")), where + " Calories"),
        "lap_intensity": _value(fields.get("Intensity")),
        "lap_trigger_method": _value(fields.get("TriggerMethod")),
    }
    for track in lap:
        if _local(track.tag) != "Track":
            continue
        for trackpoint in track:
            if _local(trackpoint.tag) != "Trackpoint":
                continue
            index = len(points)
            where = f"Trackpoint {index}"
            tp = _children(trackpoint)
            position = _children(tp["Position"]) if "Position" in tp else {}
            heart_rate = _children(tp["HeartRateBpm"]) if "HeartRateBpm" in tp else {}
            moment = _time(_value(tp.get("Time")), where + " Time")
            if moment is None:
                raise TcxError(f"{where} (in lap {lap_index}) has no Time")
            points.append(
                {
                    **lap_columns,
                    "trackpoint_index": index,
                    "trackpoint_time": moment,
                    "latitude_degrees": _float(
                        _value(position.get("LatitudeDegrees")), where + " LatitudeDegrees"
                    ),
                    "longitude_degrees": _float(
                        _value(position.get("LongitudeDegrees")), where + " LongitudeDegrees"
                    ),
                    "altitude_meters": _float(
                        _value(tp.get("AltitudeMeters")), where + " AltitudeMeters"
                    ),
                    "distance_meters": _float(
                        _value(tp.get("DistanceMeters")), where + " DistanceMeters"
                    ),
                    "heart_rate_bpm": _int(
                        _value(heart_rate.get("Value")), where + " HeartRateBpm/Value"
                    ),
                    "cadence": _int(_value(tp.get("Cadence")), where + " Cadence"),
                }
            )


# --------------------------------------------------------------------------- rows


def _exercise_value(exercise_row: Mapping[str, Any], column: str) -> Any:
    try:
        return exercise_row[column]
    except KeyError:
        raise RowError(f"exercise.{column}", "missing from the exercise row") from None


def trackpoint_rows(
    tcx: str | bytes, exercise_row: Mapping[str, Any], ctx: RowContext
) -> list[tuple[str, dict]]:
    """exercise_tcx_trackpoints rows of one exercise's TCX export.

    Args:
        tcx: the document returned by exportExerciseTcx.
        exercise_row: the exercise's row (as `rows.rows_for_point` made it); its stream,
            source_* columns, data_point_id, start_utc_offset_seconds and civil_date are
            copied. civil_date may also be given as a `YYYY-MM-DD` string.
        ctx: the user and run.

    Returns:
        ("exercise_tcx_trackpoints", row) pairs in trackpoint order; none for a file
        without trackpoints.

    Raises:
        TcxError: the document cannot be read (see `parse_tcx`).
        RowError: the exercise row lacks a needed column or has no data_point_id.
    """
    data_point_id = _exercise_value(exercise_row, "data_point_id")
    if not isinstance(data_point_id, str) or not data_point_id:
        raise RowError("exercise.data_point_id", f"expected an id, got {data_point_id!r:.60}")
    offset = _exercise_value(exercise_row, "start_utc_offset_seconds")
    if type(offset) is not int:
        raise RowError("exercise.start_utc_offset_seconds", f"expected seconds, got {offset!r:.60}")
    if abs(offset) > _MAX_OFFSET_SECONDS:
        raise RowError("exercise.start_utc_offset_seconds", f"{offset} is beyond any UTC offset")
    civil_date = _exercise_value(exercise_row, "civil_date")
    if isinstance(civil_date, str) and _ISO_DATE.fullmatch(civil_date):
        # A form-correct day not in the calendar (2026-13-01) stays text: refused below.
        with contextlib.suppress(ValueError):
            civil_date = dt.date.fromisoformat(civil_date)
    if type(civil_date) is not dt.date:
        raise RowError("exercise.civil_date", f"expected a date, got {civil_date!r:.60}")
    stream = _exercise_value(exercise_row, "stream")
    if stream not in STREAMS:
        raise RowError("exercise.stream", f"expected one of {STREAMS}, got {stream!r:.60}")
    sources = {column: _exercise_value(exercise_row, column) for column in SOURCE_COLUMNS}
    for column, value in sources.items():
        if value is not None and type(value) is not str:
            raise RowError(f"exercise.{column}", f"expected text, got {value!r:.60}")
    shared = {
        "user_key": ctx.user_key,
        "utc_offset_seconds": offset,
        "civil_date": civil_date,
        "stream": stream,
        **sources,
        "data_point_id": data_point_id,
    }
    shift = dt.timedelta(seconds=offset)
    out = []
    for point in parse_tcx(tcx):
        try:
            # TCX times carry no zone: the exercise's start offset gives the wall clock.
            civil = (point["trackpoint_time"] + shift).replace(tzinfo=None)
        except OverflowError:
            raise TcxError(
                f"Trackpoint {point['trackpoint_index']}: its wall-clock time is out of range"
            ) from None
        row = {**shared, **point, "civil_datetime": civil}
        row["record_key"] = record_key(TABLE, row)
        row["run_id"] = ctx.run_id
        row["ingest_time"] = ctx.ingest_time
        row["load_id"] = ctx.load_id
        out.append((TABLE, row))
    return out
