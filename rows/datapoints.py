"""Turns Google Health API v4 data points into rows of fitbeam's BigQuery tables.

Pure and Beam-free: `transforms.rows` calls it once per data point, and it runs on every
heart-rate sample, so it does the least work it can. The value parsers and time columns are
in `rows.values`, each type's columns in `rows.points`, the record_key in `rows.keys`; the
names other modules use stay importable from here. The contract is `schemas/*.avsc`: every
row holds every field of its table's Avro schema, as Avro-native Python values (tz-aware UTC
`datetime` for timestamp-micros, naive `datetime` for local-timestamp-micros, `date` for
date, int, float, str, bool, None, and lists of dicts for repeated records).

Usage::

    ctx = RowContext(user_key="p-0042", run_id="run-1", ingest_time=run_start_utc)
    for table, row in rows_for_point("steps", point, ctx, "raw"):
        ...

How the API's proto3 JSON becomes columns:

- Timestamps are RFC 3339 (any fraction; beyond microseconds it is truncated); UTC offsets
  are duration strings (`"-18000s"`), 0 when absent. Civil datetimes are the API's `civil*`
  values when sent, else the instant shifted by its offset.
- The older count columns (step_count, floor_count, distance_millimeters,
  active_zone_minutes) store an absent count as 0. Otherwise a value is never invented:
  fields with explicit presence (the sleep summary's minutes, an interval's energy, an
  altitude gain) are sent even when zero, so one left out is unknown: NULL when the column
  is nullable, else the point is refused.
  The main measurement of each type (beats per minute, weight, energy, percentages,
  VO2 max, breaths per minute, zone limits) and required enums (heart-rate zone, exercise
  type, stage and zone types) must be present: a point without them raises `RowError`.
  Everything else is nullable and None when absent; a zero that is sent stays 0.
- Enumerations and free text are copied as sent.
- Fields a point holds beyond its type's plan are not dropped silently: `unmapped_fields`
  names them, and the rows step counts them per data type for the run report.
"""

from __future__ import annotations

from typing import Any

from rows.keys import MEASUREMENT_KEY, SOURCE_COLUMNS, STREAMS, record_key
from rows.points import SPECS, TABLE_OF, Shape, shape_of
from rows.values import RowContext, RowError, count, obj, opt_obj, zero_or_float

__all__ = [
    "MEASUREMENT_KEY",
    "SOURCE_COLUMNS",
    "STREAMS",
    "TABLE_OF",
    "RowContext",
    "RowError",
    "record_key",
    "rows_for_point",
    "unmapped_fields",
]

# rows.daily_summary reads counts with the parsers of the point types.
_count, _obj, _zero_or_float = count, obj, zero_or_float

_NULL_SOURCE = (None,) * len(SOURCE_COLUMNS)
_SOURCE_PATHS = (
    "dataSource.platform",
    "dataSource.recordingMethod",
    "dataSource.device.displayName",
    "dataSource.device.formFactor",
    "dataSource.device.manufacturer",
    "dataSource.application.packageName",
)


def _walk(body: dict, keys: tuple[str, ...], path: str) -> Any:
    """body[k1][k2]...; None as soon as a level is absent."""
    value: Any = body
    for key in keys:
        if value is None:
            return None
        if type(value) is not dict:
            raise RowError(path, f"a parent of this field is not a JSON object: {value!r:.60}")
        value = value.get(key)
    return value


def _source_values(source: Any) -> tuple[str | None, ...]:
    """dataSource -> the values of SOURCE_COLUMNS, None where the source reported nothing."""
    if source is None:
        return _NULL_SOURCE
    source = obj(source, "dataSource")
    device = opt_obj(source.get("device"), "dataSource.device")
    application = opt_obj(source.get("application"), "dataSource.application")
    values = (
        source.get("platform"),
        source.get("recordingMethod"),
        device.get("displayName"),
        device.get("formFactor"),
        device.get("manufacturer"),
        application.get("packageName"),
    )
    for value, path in zip(values, _SOURCE_PATHS, strict=True):
        if value is not None and type(value) is not str:
            raise RowError(path, f"expected a string, got {value!r:.60}")
    return values


def _point_id(point: dict, stream: str) -> str | None:
    """Last segment of `name` (raw) or `dataPointName` (reconciled); None when absent."""
    key = "name" if stream == "raw" else "dataPointName"
    name = point.get(key)
    if name is None:
        return None
    point_id = name.rpartition("/")[2] if type(name) is str else ""
    if not point_id:
        raise RowError(key, f"expected users/.../dataPoints/{{id}}, got {name!r:.100}")
    return point_id


def rows_for_point(
    data_type: str, point: dict, ctx: RowContext, stream: str
) -> list[tuple[str, dict]]:
    """Turns one API data point into rows.

    Args:
        data_type: the API data type name, one of `TABLE_OF` (`heart-rate`).
        point: one element of `dataPoints`: from the list method (stream "raw"; has
            `dataSource` and, for identifiable types such as sleep and weight, `name`) or from
            `:reconcile` (stream "reconciled"; no `dataSource`, maybe `dataPointName`).
        ctx: the user and run.
        stream: "raw" or "reconciled". Reconciled rows get null source columns whatever
            the point holds.

    Returns:
        (table, row) pairs; today always exactly one.

    Raises:
        RowError: the point is malformed (the error names the JSON field and why), or the
            data type or stream is unknown.
    """
    spec = SPECS.get(data_type)
    if spec is None:
        raise RowError(
            "data_type",
            f"unknown data type {data_type!r:.60}; known: {', '.join(SPECS)}",
        )
    if stream != "raw" and stream != "reconciled":
        raise RowError("stream", f"expected 'raw' or 'reconciled', got {stream!r:.60}")
    if type(point) is not dict:
        raise RowError("dataPoint", f"expected a JSON object, got {point!r:.60}")
    json_key = spec.json_key
    body = obj(point.get(json_key), json_key)
    try:
        row: dict[str, Any] = {"user_key": ctx.user_key}
        spec.place(body, json_key, row)
        row["stream"] = stream
        sources = _source_values(point.get("dataSource")) if stream == "raw" else _NULL_SOURCE
        row.update(zip(SOURCE_COLUMNS, sources, strict=True))
        if spec.has_id:
            row["data_point_id"] = _point_id(point, stream)
        for column, keys, convert, path in spec.fields:
            value = body.get(keys) if type(keys) is str else _walk(body, keys, path)
            row[column] = convert(value, path)
        if spec.details is not None:
            spec.details(body, json_key, row)
    except (AttributeError, TypeError) as err:
        # A value of an unexpected JSON type somewhere the checks above did not look.
        raise RowError(json_key, f"unexpected shape: {err}") from None
    except OverflowError as err:
        # A year, an offset or a number beyond what dates and floats hold.
        raise RowError(json_key, f"a date or number out of range: {err}") from None
    try:
        row["record_key"] = record_key(spec.table, row)
    except UnicodeEncodeError:
        # A lone surrogate (JSON "\ud800") in a name or source column: no text at all.
        raise RowError(json_key, "a text value is not valid Unicode (a lone surrogate)") from None
    row["run_id"] = ctx.run_id
    row["ingest_time"] = ctx.ingest_time
    row["load_id"] = ctx.load_id
    return [(spec.table, row)]


# --------------------------------------------------------------------------- unmapped fields

# A data source's fields. The web client ids name the app that wrote the data, which the
# package name already does for the apps that have one: not kept.
_SOURCE_SHAPE: Shape = shape_of(
    (
        "platform",
        "recordingMethod",
        "device.displayName",
        "device.formFactor",
        "device.manufacturer",
        "application.packageName",
        "application.webClientId",
        "application.googleWebClientId",
    ),
    "dataSource.",
)
_POINT_KEYS = frozenset(("name", "dataPointName", "dataSource"))
# Per data type, the keys a point may hold: its value object's and the envelope's.
_POINT_SHAPES = {name: _POINT_KEYS | {spec.json_key} for name, spec in SPECS.items()}


def unmapped_fields(data_type: str, point: Any) -> list[str]:
    """The fields of a point that its type's row plan neither reads nor leaves out on purpose.

    An API change (a new field) shows here instead of being dropped silently. Cheap on the
    hot path: one set comparison per level of the point, and deeper levels only where a
    known field holds an object; the paths of levels are made once, with the plans.
    Lists of objects are checked element by element.

    Args:
        data_type: the API data type name.
        point: one element of `dataPoints`, as `rows_for_point` takes it.

    Returns:
        Each unknown field once, as a JSON path (`heartRate.metadata.newField`, `sleep.
        stages[].newField`, `dataSource.newField`); empty for an unknown type or a point
        that is not an object (the rows step dead-letters those).
    """
    spec = SPECS.get(data_type)
    if spec is None or type(point) is not dict:
        return []
    out: list[str] = []
    envelope = _POINT_SHAPES[data_type]
    if not envelope.issuperset(point):
        out.extend(k for k in point if k not in envelope)
    body = point.get(spec.json_key)
    if type(body) is dict:
        _unknown(body, spec.shape, out)
    source = point.get("dataSource")
    if type(source) is dict:
        _unknown(source, _SOURCE_SHAPE, out)
    # The elements of a list repeat the same unknown field: name it once.
    return list(dict.fromkeys(out)) if out else out


def _unknown(value: dict, shape: Shape, out: list[str]) -> None:
    known, where, nested = shape
    if not known.issuperset(value):
        out.extend(where + k for k in value if k not in known)
    for key, inner, items in nested:
        child = value.get(key)
        if child is None:
            continue
        kind = type(child)
        if kind is dict:
            _unknown(child, inner, out)
        elif kind is list:
            for item in child:
                if type(item) is dict:
                    _unknown(item, items, out)
