"""Rows <-> BigQuery JSON, both directions, driven by each table's Avro schema.

- `to_bigquery_json`: an Avro-native row (datetimes, dates) -> the JSON that
  BigQuery's insertAll and JSON load jobs accept; what `WriteTables` sends.
- `checked_json`: both at once for the common row: its JSON when one strict pass
  proves it fits its schema, else None (fastavro and `loadable_problem` then judge).
- `from_bigquery_json`: that JSON (as a dead letter keeps a row) -> the Avro-native
  row again; what a replay validates and loads.

Pure: no Beam, no network.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

from schemas.bigquery import ALL_TABLES, load_avro_schema

UTC = dt.UTC


# The last time utc_text formatted, and its text. A row's record_key formats its time just
# before the validate step converts the same datetime object, in the same fused stage.
_last_utc: tuple[dt.datetime | None, str] = (None, "")


def utc_text(value: dt.datetime) -> str:
    """RFC 3339 UTC with six fractional digits: 2026-11-20T02:03:05.000000Z."""
    global _last_utc
    last = _last_utc  # one read: another thread may replace it, never half of it
    if value is last[0]:
        return last[1]
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError(f"a TIMESTAMP value must be tz-aware, got {value!r:.60}")
        value = value.astimezone(UTC)
    # isoformat is faster than strftime and pads years below 1000; without timespec it
    # is faster still, and leaves out the fraction when it is 0. Drop its "+00:00".
    text = value.isoformat()
    text = text[:-6] + ".000000Z" if len(text) == 25 else text[:-6] + "Z"
    _last_utc = (value, text)
    return text


def _datetime_json(value: dt.datetime) -> str:
    text = value.isoformat()  # faster than timespec="microseconds", whose form it makes
    return text + ".000000" if len(text) == 19 else text


def _date_json(value: dt.date) -> str:
    return value.isoformat()


_LOGICAL_JSON = {
    "timestamp-micros": utc_text,
    "local-timestamp-micros": _datetime_json,
    "date": _date_json,
}

_Plan = tuple[tuple[str, Callable[[Any], Any] | None], ...]


def _record_plan(record: dict) -> _Plan:
    return tuple((field["name"], _json_converter(field["type"])) for field in record["fields"])


def _json_converter(avro_type: Any) -> Callable[[Any], Any] | None:
    """A function from an Avro-native value to insertAll JSON, or None when none is needed."""
    if isinstance(avro_type, list):
        (inner,) = [branch for branch in avro_type if branch != "null"]
        convert = _json_converter(inner)
        if convert is None:
            return None
        return lambda value: None if value is None else convert(value)
    if not isinstance(avro_type, dict):
        return None
    logical = avro_type.get("logicalType")
    if logical is not None:
        if logical not in _LOGICAL_JSON:
            raise ValueError(f"no BigQuery JSON form for Avro logical type {logical!r}")
        return _LOGICAL_JSON[logical]
    if avro_type["type"] == "record":
        plan = _record_plan(avro_type)
        return lambda value: _apply_plan(plan, value)
    if avro_type["type"] == "array":
        convert = _json_converter(avro_type["items"])
        if convert is None:
            return list
        return lambda values: [convert(value) for value in values]
    return None


def _apply_plan(plan: _Plan, row: Mapping[str, Any]) -> dict:
    return {name: row[name] if convert is None else convert(row[name]) for name, convert in plan}


@functools.cache
def _table_plan(table: str) -> _Plan:
    return _record_plan(load_avro_schema(table))


def to_bigquery_json(table: str, row: Mapping[str, Any]) -> dict:
    """Converts an Avro-native row into the JSON that BigQuery's tabledata.insertAll accepts.

    Driven by the table's Avro schema, read once per table: TIMESTAMP (timestamp-micros) as
    RFC 3339 UTC with six fractional digits (``"2026-11-20T02:03:05.000000Z"``), DATETIME
    (local-timestamp-micros) as ``"2026-11-19T21:03:05.000000"``, DATE as ``"2026-11-19"``;
    nested and repeated records converted field by field; everything else unchanged. These are
    BigQuery's canonical JSON forms, the same strings google-cloud-bigquery's own row
    encoder writes.

    Args:
        table: one of the fitbeam tables.
        row: a row of that table with every field present.

    Raises:
        ValueError: the table is unknown.
        KeyError: the row lacks a field of the schema.
    """
    return _apply_plan(_table_plan(table), row)


class TableRow(dict):
    """A row in BigQuery JSON that knows its table (the write's dynamic destination)."""

    def __init__(self, table: str, row: Mapping[str, Any]):
        super().__init__(row)
        self.table = table

    def __reduce__(self):
        return TableRow, (self.table, dict(self))

    def __repr__(self) -> str:
        return f"TableRow({self.table!r}, {dict.__repr__(self)})"


# --------------------------------------------------------------------------- what JSON can carry


class NotLoadable(ValueError):
    """A row that fits its Avro schema but that BigQuery JSON cannot carry as it is."""


def _is_timestamp(value: Any) -> bool:
    return isinstance(value, dt.datetime) and value.tzinfo is not None


def _is_datetime(value: Any) -> bool:
    return isinstance(value, dt.datetime)


def _is_date(value: Any) -> bool:
    return isinstance(value, dt.date)


_LOGICAL_TYPES: dict[str, Callable[[Any], bool]] = {
    "timestamp-micros": _is_timestamp,
    "local-timestamp-micros": _is_datetime,
    "date": _is_date,
}

# A check returns None when the value is fine, else what is wrong with it.
_Check = Callable[[Any], "str | None"]


def _logical_check(logical: str, name: str) -> _Check:
    fits = _LOGICAL_TYPES[logical]

    def check(value: Any) -> str | None:
        if value is None or fits(value):
            return None
        return f"a date or time field holds something else: {name} is {value!r:.60}"

    return check


def _float_check(name: str) -> _Check:
    def check(value: Any) -> str | None:
        if isinstance(value, float) and not math.isfinite(value):
            return f"{name}: {value} is not a number BigQuery JSON can hold"
        return None

    return check


def _field_check(avro_type: Any, name: str) -> _Check | None:
    """What a value of this Avro type must also be for BigQuery JSON; None: nothing more."""
    if isinstance(avro_type, list):
        (inner,) = [branch for branch in avro_type if branch != "null"]
        return _field_check(inner, name)
    if avro_type in ("float", "double"):
        return _float_check(name)
    if not isinstance(avro_type, dict):
        return None
    logical = avro_type.get("logicalType")
    if logical is not None:
        if logical not in _LOGICAL_TYPES:
            raise ValueError(f"no BigQuery JSON form for Avro logical type {logical!r}")
        return _logical_check(logical, name)
    if avro_type["type"] == "record":
        record = _record_check(avro_type, f"{name}.")
        return lambda value: None if value is None else record(value)
    if avro_type["type"] == "array":
        item = _field_check(avro_type["items"], f"{name}[]")
        if item is None:
            return None
        return lambda values: next((p for p in map(item, values or ()) if p), None)
    if avro_type["type"] in ("float", "double"):
        return _float_check(name)
    return None


def _record_check(record: dict, prefix: str = "") -> _Check:
    names = frozenset(field["name"] for field in record["fields"])
    checks = tuple(
        (field["name"], check)
        for field in record["fields"]
        if (check := _field_check(field["type"], prefix + field["name"])) is not None
    )

    def check(row: Any) -> str | None:
        if not isinstance(row, Mapping):
            return f"{prefix or 'the row'} is not a record"
        if row.keys() != names:
            missing = sorted(names - row.keys())
            if missing:
                return f"the row has no field {prefix}{missing[0]!r}"
            unknown = sorted(str(k) for k in row.keys() - names)
            return f"the row has fields its table does not have: {', '.join(unknown)[:200]}"
        for name, field_check in checks:
            problem = field_check(row[name])
            if problem:
                return problem
        return None

    return check


@functools.cache
def _table_check(table: str) -> _Check:
    return _record_check(load_avro_schema(table))


def loadable_problem(table: str, row: Mapping[str, Any]) -> str | None:
    """What stops a row that fits its Avro schema from being written as BigQuery JSON.

    fastavro reads a missing field as null, ignores a field the schema does not
    have, takes an int for a date or a timestamp and passes NaN; BigQuery JSON
    can carry none of these as meant. The check is built once per table from its
    Avro schema and builds no text unless something is wrong.

    Returns:
        None when `to_bigquery_json` can convert the row faithfully; else the first
        problem, naming the field.

    Raises:
        ValueError: the table is unknown.
    """
    return _table_check(table)(row)


# --------------------------------------------------------------------------- one pass, strict


class _Unproven(Exception):
    """Raised inside `checked_json` where a value is not of the plain kind it vouches for."""


_LONG = (-(2**63), 2**63 - 1)
_INT = (-(2**31), 2**31 - 1)
_NoneType = type(None)

_Convert = Callable[[Any], Any]


def _exactly(kinds: tuple[type, ...]) -> _Convert:
    def convert(value: Any) -> Any:
        if type(value) in kinds:
            return value
        raise _Unproven

    return convert


def _whole(low: int, high: int, nullable: bool) -> _Convert:
    def convert(value: Any) -> Any:
        if type(value) is int and low <= value <= high:
            return value
        if nullable and value is None:
            return None
        raise _Unproven

    return convert


def _finite(nullable: bool) -> _Convert:
    def convert(value: Any) -> Any:
        kind = type(value)
        if (kind is float and math.isfinite(value)) or kind is int:
            return value
        if nullable and value is None:
            return None
        raise _Unproven

    return convert


def _utc() -> _Convert:
    last: tuple[Any, str] = (None, "")  # the field's last value: a run's rows share one

    def convert(value: Any) -> Any:
        nonlocal last
        if value is last[0]:
            return last[1]
        # Only datetimes already in UTC: utc_text's conversion of others can overflow.
        if type(value) is dt.datetime and value.tzinfo is UTC:
            text = utc_text(value)
            last = (value, text)
            return text
        raise _Unproven

    return convert


def _local() -> _Convert:
    def convert(value: Any) -> Any:
        if type(value) is dt.datetime and value.tzinfo is None:
            return _datetime_json(value)
        raise _Unproven

    return convert


def _day() -> _Convert:
    last: tuple[Any, str] = (None, "")  # rows of one day follow each other

    def convert(value: Any) -> Any:
        nonlocal last
        if type(value) is dt.date:
            if value != last[0]:
                last = (value, value.isoformat())
            return last[1]
        raise _Unproven

    return convert


_STRICT_LOGICAL: dict[str, Callable[[], _Convert]] = {
    "timestamp-micros": _utc,
    "local-timestamp-micros": _local,
    "date": _day,
}


def _or_null(convert: _Convert) -> _Convert:
    return lambda value: None if value is None else convert(value)


def _strict_converter(avro_type: Any, nullable: bool = False) -> _Convert:
    """value -> its BigQuery JSON, raising _Unproven unless the value is plainly of the type."""
    if isinstance(avro_type, list):
        branches = [branch for branch in avro_type if branch != "null"]
        if len(branches) != 1:
            return _unproven
        return _strict_converter(branches[0], nullable=len(avro_type) == 2)
    if isinstance(avro_type, dict) and "logicalType" in avro_type:
        make = _STRICT_LOGICAL.get(avro_type["logicalType"])
        convert = _unproven if make is None else make()
        return _or_null(convert) if nullable else convert
    kind = avro_type["type"] if isinstance(avro_type, dict) else avro_type
    plain = {"string": str, "boolean": bool}.get(kind)
    if plain is not None:
        return _exactly((plain, _NoneType) if nullable else (plain,))
    if kind in ("int", "long"):
        return _whole(*(_INT if kind == "int" else _LONG), nullable)
    if kind in ("float", "double"):
        return _finite(nullable)
    if kind == "record":
        convert = _strict_record(avro_type)
    elif kind == "array":
        item = _strict_converter(avro_type["items"])

        def convert(values: Any) -> Any:
            if type(values) is list or type(values) is tuple:
                return [item(value) for value in values]
            raise _Unproven

    else:  # null alone, bytes, enum, fixed, map: left to fastavro
        return _unproven
    return _or_null(convert) if nullable else convert


def _unproven(value: Any) -> Any:
    raise _Unproven


def _strict_record(record: dict) -> _Convert:
    names = frozenset(field["name"] for field in record["fields"])
    steps = tuple((field["name"], _strict_converter(field["type"])) for field in record["fields"])

    def convert(row: Any) -> dict:
        if type(row) is not dict or row.keys() != names:
            raise _Unproven
        return {name: step(row[name]) for name, step in steps}

    return convert


@functools.cache
def _table_strict(table: str) -> _Convert:
    return _strict_record(load_avro_schema(table))


def checked_json(table: str, row: Any) -> dict | None:
    """The row's BigQuery JSON when one strict pass proves the row good, else None.

    The pass vouches only for rows of the plainest kind: a dict with exactly the
    table's fields, each value of the exact Python type its Avro type holds (str, bool,
    an int in range, a finite float or an int for a float, a UTC datetime for a
    TIMESTAMP, a naive one for a DATETIME, a date for a DATE, lists of those, nested
    dicts alike). Such a row passes fastavro's validation and `loadable_problem`, and
    the JSON returned is `to_bigquery_json`'s. None says only that this pass cannot
    vouch: fastavro and `loadable_problem` then decide, and name what is wrong. It
    is about five times cheaper than they are, so the common case pays for one pass.

    Raises:
        ValueError: the table is unknown.
    """
    if table not in ALL_TABLES:
        raise ValueError(f"unknown table {str(table)[:60]!r}")
    try:
        return _table_strict(table)(row)
    except _Unproven:
        return None


# --------------------------------------------------------------------------- back from JSON


def _timestamp(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return moment.astimezone(dt.UTC)


_LOGICAL: dict[str, Callable[[str], Any]] = {
    "date": dt.date.fromisoformat,
    "timestamp-micros": _timestamp,
    "local-timestamp-micros": dt.datetime.fromisoformat,
}


def _typed(schema: Any, value: Any) -> Any:
    """A JSON value turned back into what the Avro type holds (dates, datetimes)."""
    if value is None:
        return None
    if isinstance(schema, list):  # a union with null: the one other branch
        branches = [s for s in schema if s != "null"]
        return _typed(branches[0], value) if len(branches) == 1 else value
    if isinstance(schema, dict):
        logical = schema.get("logicalType")
        if logical in _LOGICAL:
            # BigQuery JSON writes dates and times as text; anything else (an int, which
            # fastavro would accept as days or microseconds) is not what was written.
            if not isinstance(value, str):
                raise ValueError(f"expected a {logical} as text, got {type(value).__name__}")
            return _LOGICAL[logical](value)
        if schema.get("type") == "record" and isinstance(value, dict):
            return {f["name"]: _typed(f["type"], value.get(f["name"])) for f in schema["fields"]}
        if schema.get("type") == "array" and isinstance(value, list):
            return [_typed(schema["items"], v) for v in value]
    return value


def from_bigquery_json(table: str, obj: dict) -> dict:
    """A row from a dead letter (JSON), with the Python types its Avro schema holds.

    Dead letters keep rows as JSON: dates and times as ISO 8601 strings. Fields
    the schema does not know are kept, so that validation names them.

    Raises:
        ValueError: the table is unknown or a date or time does not parse.
    """
    if table not in ALL_TABLES:
        raise ValueError(f"unknown table {table[:60]!r}")
    schema = load_avro_schema(table)
    try:
        row = _typed(schema, obj)
    except (ValueError, OverflowError) as err:  # OverflowError: out of range in UTC
        raise ValueError(f"a date or time of the row does not parse: {err}") from None
    row.update({k: v for k, v in obj.items() if k not in row})
    return row
