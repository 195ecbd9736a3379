"""BigQuery schemas and DDL for fitbeam's output tables, derived from schemas/*.avsc.

The Avro record schemas in this package are the single source of truth for the tables. This
module maps them to BigQuery JSON schemas (usable as ``WriteToBigQuery(schema=...)``) and to
non-destructive BigQuery DDL. It is pure: no Beam, no network, no credentials.

The mapping is the mirror of Beam's ``apache_beam/io/gcp/bigquery_avro_tools.py``: one
declarative type table plus small recursive functions. Modes come from the Avro shape (a union
with null is NULLABLE, an array is REPEATED, anything else is REQUIRED) and types from
``_AVRO_TO_BIGQUERY_TYPES``. Anything the table does not know raises ``ValueError``.

Print the DDL (``--table`` may be repeated; the default is every table)::

    python -m schemas.bigquery --project my-project --dataset fitbit > ddl.sql
    python -m schemas.bigquery --project my-project --dataset fitbit --table sleep
    bq query --use_legacy_sql=false < ddl.sql

and, once the tables exist, the views (``--views``: every ``<table>_current`` view and the
study's ``participant_days``)::

    python -m schemas.bigquery --project my-project --dataset fitbit --views > views.sql
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any

import fastavro

__all__ = [
    "ALL_TABLES",
    "CLUSTERING_FIELDS",
    "LOAD_LOG_TABLE",
    "PARTITION_FIELD",
    "TABLES",
    "USER_TABLES",
    "additional_bq_parameters",
    "avro_to_bigquery_fields",
    "bigquery_table_schema",
    "ddl",
    "load_avro_schema",
    "main",
    "table_ddl",
    "table_description",
    "views_ddl",
]

TABLES: tuple[str, ...] = (
    "steps",
    "distance",
    "floors",
    "active_zone_minutes",
    "heart_rate",
    "heart_rate_variability",
    "daily_resting_heart_rate",
    "daily_heart_rate_zones",
    "daily_heart_rate_variability",
    "daily_oxygen_saturation",
    "daily_respiratory_rate",
    "daily_vo2_max",
    "sleep",
    "exercise",
    "weight",
    "body_fat",
    "active_energy_burned",
    "basal_energy_burned",
    "active_minutes",
    "activity_level",
    "sedentary_period",
    "time_in_heart_rate_zone",
    "altitude",
    "swim_lengths_data",
    "menstrual_period",
    "oxygen_saturation",
    "respiratory_rate_sleep_summary",
    "height",
    "vo2_max",
    "run_vo2_max",
    "blood_glucose",
    "core_body_temperature",
    "moods",
    "symptoms",
    "ovulation_test",
    "daily_sleep_temperature_derivations",
    "electrocardiogram",
    "irregular_rhythm_notification",
    "exercise_tcx_trackpoints",
    "daily_activity_summary",
    "legacy_daily_activity",
    "legacy_heart_rate_zones",
    "legacy_sleep",
    "legacy_cardio_score",
    "legacy_weight",
)

# User-level snapshots: one row per user (and paired device) per load, not data points.
USER_TABLES: tuple[str, ...] = ("paired_devices", "user_profile", "user_settings", "irn_profile")
# The bookkeeping table of loads: which (user, table, civil window) each load covered.
LOAD_LOG_TABLE = "load_windows"
ALL_TABLES: tuple[str, ...] = (*TABLES, *USER_TABLES, LOAD_LOG_TABLE)

# Every table is partitioned by day on civil_date and clustered by user_key.
PARTITION_FIELD = "civil_date"
CLUSTERING_FIELDS: tuple[str, ...] = ("user_key",)

# Avro type name, or (Avro base type, logicalType), -> BigQuery type. This table is the only
# place where types are mapped: whatever is missing here is rejected, including the logical
# types BigQuery could hold but fitbeam does not use (timestamp-millis, decimal, uuid...).
_AVRO_TO_BIGQUERY_TYPES: dict[str | tuple[str, str], str] = {
    "long": "INTEGER",
    "int": "INTEGER",
    "double": "FLOAT",
    "float": "FLOAT",
    "boolean": "BOOLEAN",
    "string": "STRING",
    "bytes": "BYTES",
    "record": "RECORD",
    ("long", "timestamp-micros"): "TIMESTAMP",
    ("long", "local-timestamp-micros"): "DATETIME",
    ("int", "date"): "DATE",
}

# BigQuery JSON schema type -> GoogleSQL type, for DDL.
_BIGQUERY_TO_SQL_TYPES: dict[str, str] = {
    "INTEGER": "INT64",
    "FLOAT": "FLOAT64",
    "BOOLEAN": "BOOL",
    "STRING": "STRING",
    "BYTES": "BYTES",
    "TIMESTAMP": "TIMESTAMP",
    "DATETIME": "DATETIME",
    "DATE": "DATE",
}

# BigQuery limits (characters).
_MAX_COLUMN_DESCRIPTION = 1024
_MAX_TABLE_DESCRIPTION = 16384

# Google Cloud project IDs: 6-30 lowercase letters, digits and hyphens, starting with a letter
# and not ending with a hyphen; legacy domain-scoped IDs carry a "domain:" prefix.
_PROJECT_RE = re.compile(r"(?:[a-z][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")
_DATASET_RE = re.compile(r"[A-Za-z0-9_]{1,1024}")
_LOCATION_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


# --------------------------------------------------------------------------- Avro schemas


def load_avro_schema(table: str) -> dict[str, Any]:
    """Returns the Avro record schema of a table, as a fresh dict.

    The packaged ``<table>.avsc`` is read and checked with ``fastavro.parse_schema`` once per
    process; every call returns a new dict, so callers may modify it.

    Args:
        table: One of ``TABLES``, such as ``"steps"``.

    Returns:
        The schema as parsed from JSON (not fastavro's parsed form).

    Raises:
        ValueError: If ``table`` is not a fitbeam table, or its file is not a valid Avro record
            schema named after the table.
    """
    _check_table(table)
    return json.loads(_read_avsc(table))


@functools.cache
def _read_avsc(table: str) -> str:
    text = resources.files(__package__).joinpath(f"{table}.avsc").read_text(encoding="utf-8")
    schema = json.loads(text)
    try:
        fastavro.parse_schema(schema)
    except Exception as e:  # fastavro raises several unrelated exception types
        raise ValueError(f"schemas/{table}.avsc is not a valid Avro schema: {e}") from e
    if schema.get("type") != "record" or schema.get("name") != table:
        raise ValueError(f"schemas/{table}.avsc must hold a record schema named {table!r}")
    return text


def _check_table(table: str) -> None:
    if table not in ALL_TABLES:
        raise ValueError(
            f"table must be one of the fitbeam tables; got {_shorten(table)!r}. "
            f"Valid tables: {', '.join(ALL_TABLES)}"
        )


# --------------------------------------------------------------------------- Avro -> BigQuery


def avro_to_bigquery_fields(avro_record_schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Maps an Avro record schema to BigQuery JSON schema fields.

    Each field becomes ``{"name", "type", "mode", "description"}`` plus ``"fields"`` for
    records. ``["null", T]`` is NULLABLE, an array is REPEATED (an array of records is a
    REPEATED RECORD), anything else is REQUIRED; types come from one type table (long/int ->
    INTEGER, double/float -> FLOAT, boolean -> BOOLEAN, string -> STRING, bytes -> BYTES,
    record -> RECORD, timestamp-micros -> TIMESTAMP, local-timestamp-micros -> DATETIME,
    date -> DATE). A field without ``doc`` gets an empty description.

    Args:
        avro_record_schema: An Avro record schema as a dict, such as ``load_avro_schema(t)``.

    Returns:
        The BigQuery fields, in Avro field order.

    Raises:
        ValueError: On anything without a BigQuery equivalent, naming the field path and the
            Avro type: unions other than with null, nullable arrays, arrays of arrays or of
            unions, maps, enums, fixed, named type references, unknown logical types, and
            descriptions longer than BigQuery's 1024 characters.
    """
    if not isinstance(avro_record_schema, dict) or avro_record_schema.get("type") != "record":
        raise ValueError(
            f"expected an Avro record schema (a dict with type 'record'); "
            f"got {_shorten(repr(avro_record_schema))}"
        )
    return _fields(avro_record_schema, parent_path="")


def _fields(record: dict[str, Any], parent_path: str) -> list[dict[str, Any]]:
    return [_field(field, parent_path) for field in record.get("fields", [])]


def _field(field: dict[str, Any], parent_path: str) -> dict[str, Any]:
    path = f"{parent_path}.{field['name']}" if parent_path else field["name"]
    mode, element = _mode_and_element(field["type"], path)
    bigquery_type = _bigquery_type(element, path)
    description = field.get("doc", "")
    if len(description) > _MAX_COLUMN_DESCRIPTION:
        raise ValueError(
            f"field {path!r}: doc is {len(description)} characters; BigQuery column "
            f"descriptions hold at most {_MAX_COLUMN_DESCRIPTION}"
        )
    result: dict[str, Any] = {
        "name": field["name"],
        "type": bigquery_type,
        "mode": mode,
        "description": description,
    }
    if bigquery_type == "RECORD":
        if not isinstance(element, dict) or not isinstance(element.get("fields"), list):
            raise ValueError(
                f"field {path!r}: record type {json.dumps(element)} has no fields list"
            )
        result["fields"] = _fields(element, parent_path=path)
    return result


def _mode_and_element(avro_type: Any, path: str) -> tuple[str, Any]:
    """Splits a field's Avro type into a BigQuery mode and the type of its values."""
    if isinstance(avro_type, list):
        non_null = [branch for branch in avro_type if branch != "null"]
        if len(avro_type) != 2 or len(non_null) != 1:
            raise ValueError(
                f"field {path!r}: unsupported union {json.dumps(avro_type)}; only a union of "
                f'"null" and one other type maps to a NULLABLE column'
            )
        element = non_null[0]
        if _is_array(element):
            raise ValueError(
                f"field {path!r}: nullable array {json.dumps(avro_type)} is not supported; "
                f'BigQuery arrays cannot be NULL, so use a plain array with "default": []'
            )
        return "NULLABLE", element
    if _is_array(avro_type):
        items = avro_type.get("items")
        if isinstance(items, list) or _is_array(items):
            raise ValueError(
                f"field {path!r}: array items {json.dumps(items)} are not supported; BigQuery "
                f"arrays hold neither NULLs nor arrays"
            )
        return "REPEATED", items
    return "REQUIRED", avro_type


def _bigquery_type(avro_type: Any, path: str) -> str:
    key = _type_key(avro_type)
    if key is None or key not in _AVRO_TO_BIGQUERY_TYPES:
        raise ValueError(
            f"field {path!r}: Avro type {json.dumps(avro_type)} has no BigQuery mapping; "
            f"supported: {', '.join(_describe_key(k) for k in _AVRO_TO_BIGQUERY_TYPES)}"
        )
    return _AVRO_TO_BIGQUERY_TYPES[key]


def _type_key(avro_type: Any) -> str | tuple[str, str] | None:
    """Returns the type table key of a non-union, non-array Avro type, or None."""
    if isinstance(avro_type, str):
        return avro_type
    if isinstance(avro_type, dict) and isinstance(avro_type.get("type"), str):
        logical_type = avro_type.get("logicalType")
        if logical_type is None:
            return avro_type["type"]
        if isinstance(logical_type, str):
            return (avro_type["type"], logical_type)
    return None


def _is_array(avro_type: Any) -> bool:
    return isinstance(avro_type, dict) and avro_type.get("type") == "array"


def _describe_key(key: str | tuple[str, str]) -> str:
    return key if isinstance(key, str) else f"{key[0]}/{key[1]}"


# --------------------------------------------------------------------------- table schemas


def bigquery_table_schema(table: str) -> dict[str, list[dict[str, Any]]]:
    """Returns a table's BigQuery schema, ``{"fields": [...]}``, for ``WriteToBigQuery(schema=)``.

    Args:
        table: One of ``TABLES``.

    Raises:
        ValueError: If ``table`` is unknown or its schema cannot be mapped.
    """
    return {"fields": avro_to_bigquery_fields(load_avro_schema(table))}


def table_description(table: str) -> str:
    """Returns a table's description: the doc of its Avro record."""
    return load_avro_schema(table).get("doc", "")


def additional_bq_parameters(table: str) -> dict[str, Any]:
    """Returns partitioning and clustering for ``WriteToBigQuery(additional_bq_parameters=)``.

    These apply only when BigQueryIO creates the table; tables made with ``ddl()`` already
    have them.

    Args:
        table: One of ``TABLES`` (all tables share the same layout).
    """
    _check_table(table)
    return {
        "timePartitioning": {"type": "DAY", "field": PARTITION_FIELD},
        "clustering": {"fields": list(CLUSTERING_FIELDS)},
    }


# --------------------------------------------------------------------------- DDL


def ddl(
    project: str,
    dataset: str,
    tables: Iterable[str] = ALL_TABLES,
    location: str | None = None,
) -> str:
    """Returns non-destructive BigQuery DDL creating or extending fitbeam's dataset and tables.

    The script holds ``CREATE SCHEMA IF NOT EXISTS``, then for each table a ``CREATE TABLE IF
    NOT EXISTS`` (partitioned by civil_date, clustered by user_key, with table and column
    descriptions) and an ``ALTER TABLE ... ADD COLUMN IF NOT EXISTS`` for every NULLABLE and
    REPEATED top-level column, the columns BigQuery can add to an existing table. Running it
    against tables made by an older version adds the new columns and leaves the data alone. It
    never replaces or drops anything, so it does not change existing columns' types, modes or
    descriptions, and cannot add fields inside an existing RECORD; those need a migration.

    Args:
        project: Google Cloud project ID, such as ``my-project``.
        dataset: BigQuery dataset ID, such as ``fitbit``.
        tables: Tables to include, in order; defaults to ``ALL_TABLES`` (the data tables and
            ``load_windows``).
        location: Dataset location (such as ``EU``) used only if the dataset is created here.
            Without it BigQuery's default location applies.

    Returns:
        The statements, separated by blank lines and ending with a newline.

    Raises:
        ValueError: If an argument is invalid or a table is unknown.
    """
    _check_project(project)
    _check_dataset(dataset)
    tables = list(tables)
    if not tables:
        raise ValueError(f"tables must name at least one table, such as {TABLES[0]!r}")
    for table in tables:
        _check_table(table)
    schema_statement = f"CREATE SCHEMA IF NOT EXISTS `{project}.{dataset}`"
    if location is not None:
        if not _LOCATION_RE.fullmatch(location):
            raise ValueError(
                f"location must be a BigQuery location such as EU, US or europe-west1; "
                f"got {_shorten(location)!r}"
            )
        schema_statement += f"\nOPTIONS(location={_sql_string(location)})"
    statements = [schema_statement + ";"]
    statements += [table_ddl(project, dataset, load_avro_schema(table)) for table in tables]
    return "\n\n".join(statements) + "\n"


def table_ddl(project: str, dataset: str, avro_record_schema: dict[str, Any]) -> str:
    """Returns the CREATE TABLE IF NOT EXISTS and ALTER TABLE statements of one table.

    The table is named after the Avro record; its description is the record's doc.

    Args:
        project: Google Cloud project ID, such as ``my-project``.
        dataset: BigQuery dataset ID, such as ``fitbit``.
        avro_record_schema: The table's Avro record schema.

    Raises:
        ValueError: If an argument is invalid or the schema cannot be mapped.
    """
    _check_project(project)
    _check_dataset(dataset)
    fields = avro_to_bigquery_fields(avro_record_schema)
    name = avro_record_schema["name"]
    description = avro_record_schema.get("doc", "")
    if len(description) > _MAX_TABLE_DESCRIPTION:
        raise ValueError(
            f"table {name!r}: doc is {len(description)} characters; BigQuery table "
            f"descriptions hold at most {_MAX_TABLE_DESCRIPTION}"
        )
    table_id = f"`{project}.{dataset}.{name}`"
    columns = ",\n".join(f"  {_column_sql(field, indent=2)}" for field in fields)
    create = (
        f"CREATE TABLE IF NOT EXISTS {table_id} (\n{columns}\n)\n"
        f"PARTITION BY {PARTITION_FIELD}\n"
        f"CLUSTER BY {', '.join(CLUSTERING_FIELDS)}\n"
        f"OPTIONS(description={_sql_string(description)});"
    )
    addable = [field for field in fields if field["mode"] in ("NULLABLE", "REPEATED")]
    if not addable:
        return create
    additions = ",\n".join(
        f"  ADD COLUMN IF NOT EXISTS {_column_sql(field, indent=2)}" for field in addable
    )
    return f"{create}\n\nALTER TABLE {table_id}\n{additions};"


def _column_sql(field: dict[str, Any], indent: int) -> str:
    """Renders one column (or STRUCT field) definition of a BigQuery field."""
    if field["type"] == "RECORD":
        inner = ",\n".join(
            " " * (indent + 2) + _column_sql(sub, indent + 2) for sub in field["fields"]
        )
        sql_type = f"STRUCT<\n{inner}\n{' ' * indent}>"
    else:
        sql_type = _BIGQUERY_TO_SQL_TYPES[field["type"]]
    if field["mode"] == "REPEATED":
        sql_type = f"ARRAY<{sql_type}>"
    not_null = " NOT NULL" if field["mode"] == "REQUIRED" else ""
    options = f" OPTIONS(description={_sql_string(field['description'])})"
    return f"`{field['name']}` {sql_type}{not_null}{options}"


def _sql_string(text: str) -> str:
    """Returns ``text`` as a double-quoted GoogleSQL string literal."""
    escaped = []
    for char in text:
        if char in ('"', "\\"):
            escaped.append("\\" + char)
        elif char == "\n":
            escaped.append("\\n")
        elif char == "\r":
            escaped.append("\\r")
        elif char == "\t":
            escaped.append("\\t")
        elif ord(char) < 0x20 or char == "\x7f":
            escaped.append(f"\\x{ord(char):02x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _check_project(project: str) -> None:
    if not isinstance(project, str) or not _PROJECT_RE.fullmatch(project):
        raise ValueError(
            "project must be a Google Cloud project ID: 6 to 30 lowercase letters, digits and "
            "hyphens, starting with a letter and not ending with a hyphen; "
            f"got {_shorten(project)!r}. Example: my-project"
        )


def _check_dataset(dataset: str) -> None:
    if not isinstance(dataset, str) or not _DATASET_RE.fullmatch(dataset):
        raise ValueError(
            "dataset must be a BigQuery dataset ID: 1 to 1024 letters, digits and underscores; "
            f"got {_shorten(dataset)!r}. Example: fitbit"
        )


def _shorten(value: Any, limit: int = 80) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "..."
    return value


def views_ddl(project: str, dataset: str) -> str:
    """Returns the statements that create or replace every view, in the order they must run.

    The `<table>_current` views (`schemas.views`), then the study's `participant_days`
    (`schemas.study_views`), each with the fingerprint `fitbeam run` gives it, so a run
    leaves views made from this output alone. Run it after the tables exist.

    Raises:
        ValueError: If the project or dataset ID is invalid.
    """
    from schemas import study_views, views  # they import this module

    statements = study_views.all_views_sql(project, dataset)
    return "\n\n".join(views.fingerprinted(s).rstrip() + ";" for s in statements) + "\n"


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Prints the DDL for the tables named on the command line.

    Args:
        argv: Arguments without the program name; defaults to ``sys.argv[1:]``.
        prog: Program name shown in usage messages, for wrappers such as ``fitbeam ddl``.

    Returns:
        The exit status, 0. Invalid arguments exit with status 2 and a usage message.
    """
    parser = argparse.ArgumentParser(
        prog=prog or "python -m schemas.bigquery",
        description="Print non-destructive BigQuery DDL for fitbeam's tables.",
    )
    parser.add_argument("--project", required=True, help="Google Cloud project ID, e.g. my-project")
    parser.add_argument("--dataset", required=True, help="BigQuery dataset ID, e.g. fitbit")
    parser.add_argument(
        "--table",
        dest="tables",
        action="append",
        choices=ALL_TABLES,
        metavar="TABLE",
        help="table to include (repeatable), e.g. sleep; default: all tables",
    )
    parser.add_argument(
        "--location",
        help="location for the dataset if the DDL creates it, e.g. EU; default: BigQuery's",
    )
    parser.add_argument(
        "--views",
        action="store_true",
        help="print the views instead, to run after the tables exist: every <table>_current "
        "view and participant_days (CREATE OR REPLACE VIEW: views hold no data)",
    )
    args = parser.parse_args(argv)
    try:
        if args.views:
            text = views_ddl(args.project, args.dataset)
        else:
            text = ddl(
                args.project, args.dataset, args.tables or ALL_TABLES, location=args.location
            )
    except ValueError as e:
        parser.error(str(e))
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
