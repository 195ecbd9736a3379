"""Every readable data type of the discovery document has a spec, a table and its fields mapped.

Walks health.v4.json: the DataPoint union (one member per data type) and the OAuth scopes. A
type is readable when its scope family has a `.readonly` scope; nutrition has only
`.writeonly` today, so its four types have no table. The test fails when the document gains
a readable type fitbeam does not load, when fitbeam names a type the document lacks, and when
a field of a type's schema is neither read into a column nor listed as deliberately not
mapped (`rows.points.PointSpec.not_mapped`), so an API addition is noticed here. Every
table comes from the document (a data type, or another method's answer) or is listed, with
the reason, as not coming from it: the legacy-only tables of `fitbeam import legacy`.
"""

from __future__ import annotations

import pytest

from healthapi import datatypes
from history import legacy
from rows import datapoints, points
from schemas.bigquery import TABLES, load_avro_schema
from simulator.discovery import load_discovery

DOCUMENT = load_discovery()
SCHEMAS = DOCUMENT["schemas"]
SCOPES = set(DOCUMENT["auth"]["oauth2"]["scopes"])
UNION = {
    key: value["$ref"]
    for key, value in SCHEMAS["DataPoint"]["properties"].items()
    if key not in ("name", "dataSource")
}
# The discovery document does not say which scope reads a type: these four are the nutrition
# types (write-only today). The test below fails if the document gains nutrition.readonly.
NUTRITION = {"food", "foodMeasurementUnit", "hydrationLog", "nutritionLog"}
PREFIX = datatypes.SCOPE_PREFIX
# Scope families of user-level resources, not data types.
USER_LEVEL_FAMILIES = {"settings", "profile", "location"}
# Messages read as one value: a civil date and time, a date, a time of day.
LEAVES = {"CivilDateTime", "Date", "TimeOfDay"}
# Columns every point table has besides its values.
COMMON = {
    "user_key",
    "start_time",
    "end_time",
    "start_utc_offset_seconds",
    "end_utc_offset_seconds",
    "civil_start_datetime",
    "civil_end_datetime",
    "sample_time",
    "utc_offset_seconds",
    "civil_datetime",
    "civil_date",
    "stream",
    "source_platform",
    "source_recording_method",
    "source_device_display_name",
    "source_device_form_factor",
    "source_device_manufacturer",
    "source_application_package_name",
    "data_point_id",
    "record_key",
    "run_id",
    "ingest_time",
    "load_id",
}
TABLED = {s.json_key: s for s in datatypes.SPECS.values() if s.table is not None}
# Tables filled from the answers of the document's other methods, not from one data type's
# points: (method, its response schema).
OTHER_METHOD_TABLES = {
    datatypes.SUMMARY_TABLE: ("dailyRollUp", "DailyRollUpDataPointsResponse"),
    "exercise_tcx_trackpoints": ("exportExerciseTcx", "ExportExerciseTcxResponse"),
}
# Tables that do not come from the discovery document at all, and why: their fields are
# the legacy Fitbit Web API's, so nothing here can check them against the document
# (tests/unit/test_legacy_import.py holds them equal to the legacy responses instead).
NOT_FROM_THE_DOCUMENT = dict.fromkeys(
    (
        "legacy_daily_activity",
        "legacy_heart_rate_zones",
        "legacy_sleep",
        "legacy_cardio_score",
        "legacy_weight",
    ),
    "legacy Fitbit Web API values no Google Health API field carries, written only by "
    "`fitbeam import legacy` from the original system's archive of legacy responses",
)


def leaf_paths(schema: str, prefix: str = "") -> list[str]:
    """Every field path of a discovery schema: `[]` after a list, civil times as leaves."""
    out = []
    for name, field in SCHEMAS[schema].get("properties", {}).items():
        path = prefix + name
        ref = field.get("$ref")
        if field.get("type") == "array":
            ref = field["items"].get("$ref")
            path += "[]"
        if ref is None or ref in LEAVES:
            out.append(path)
        else:
            out += leaf_paths(ref, path + ".")
    return out


def node_paths(schema: str) -> set[str]:
    """Every path of `leaf_paths` and every prefix of one (the objects on the way)."""
    out = set()
    for path in leaf_paths(schema):
        parts = path.split(".")
        out.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return out


def covered(path: str, listed: set[str]) -> bool:
    parts = path.split(".")
    return any(".".join(parts[: i + 1]) in listed for i in range(len(parts)))


def test_the_document_has_42_data_types_and_nutrition_is_write_only():
    assert len(UNION) == 42
    assert set(UNION) >= NUTRITION
    assert f"{PREFIX}nutrition.writeonly" in SCOPES
    assert f"{PREFIX}nutrition.readonly" not in SCOPES


def test_every_readable_data_type_has_a_spec_and_a_table():
    readable = set(UNION) - NUTRITION
    missing = sorted(readable - set(TABLED))
    assert missing == [], f"readable data types without a table: {missing}"
    assert len(TABLED) == 38
    for spec in TABLED.values():
        assert spec.table in TABLES, spec.name
        assert datapoints.TABLE_OF[spec.name] == spec.table


def _methods(resource: dict) -> dict[str, str | None]:
    """Every method of the document's resources -> the schema of its response."""
    out = {}
    for child in resource.get("resources", {}).values():
        for name, method in child.get("methods", {}).items():
            out[name] = method.get("response", {}).get("$ref")
        out |= _methods(child)
    return out


def test_every_table_comes_from_the_document_or_is_listed_with_its_reason():
    of_points = {spec.table for spec in TABLED.values()}
    others, legacy_only = set(OTHER_METHOD_TABLES), set(NOT_FROM_THE_DOCUMENT)
    assert set(TABLES) == of_points | others | legacy_only
    assert not of_points & others
    assert not (of_points | others) & legacy_only
    methods = _methods(DOCUMENT)
    for table, (method, response) in OTHER_METHOD_TABLES.items():
        assert methods.get(method) == response, table
    rollup = SCHEMAS["DailyRollupDataPoint"]["properties"]
    assert [t for t in datatypes.SUMMARY_TYPES if datatypes.SPECS[t].json_key not in rollup] == []
    assert "tcxData" in SCHEMAS["ExportExerciseTcxResponse"]["properties"]
    # The legacy import's own list, and each table's doc says it is not fetched.
    assert legacy_only == set(legacy.LEGACY_TABLES)
    for table in legacy_only:
        assert "never fetched by the live pipeline" in load_avro_schema(table)["doc"], table


def test_fitbeam_has_no_data_type_the_document_lacks():
    rollup = SCHEMAS["DailyRollupDataPoint"]["properties"]
    for spec in datatypes.SPECS.values():
        union = rollup if spec.kind is datatypes.Kind.ROLLUP_ONLY else UNION
        assert spec.json_key in union, spec.name


def test_every_readable_scope_family_is_read_by_some_type():
    families = {
        scope.removeprefix(PREFIX).removesuffix(".readonly")
        for scope in SCOPES
        if scope.startswith(PREFIX) and scope.endswith(".readonly")
    }
    used = {spec.scope_family for spec in datatypes.SPECS.values()}
    assert families - USER_LEVEL_FAMILIES == used
    for spec in datatypes.SPECS.values():
        assert spec.scope in SCOPES, spec.name


@pytest.mark.parametrize("json_key", sorted(TABLED))
def test_every_field_of_the_type_is_mapped_or_deliberately_not(json_key):
    plan = points.SPECS[TABLED[json_key].name]
    listed = set(plan.read_paths) | set(plan.not_mapped)
    fields = leaf_paths(UNION[json_key])
    bare = {p.replace("[]", "") for p in listed}
    unmapped = [path for path in fields if not covered(path.replace("[]", ""), bare)]
    assert unmapped == [], f"{json_key}: fields neither mapped nor listed as not mapped"
    known = {p.replace("[]", "") for p in node_paths(UNION[json_key])}
    invented = sorted(p for p in listed if p.replace("[]", "") not in known)
    assert invented == [], f"{json_key}: paths the discovery document does not have"


@pytest.mark.parametrize("json_key", sorted(TABLED))
def test_the_tables_value_columns_are_the_plans(json_key):
    plan = points.SPECS[TABLED[json_key].name]
    columns = {f["name"] for f in load_avro_schema(plan.table)["fields"]} - COMMON
    planned = {column for column, *_ in plan.fields} | set(plan.detail_columns)
    assert columns == planned


def test_the_data_source_fields_are_all_known():
    def paths(shape) -> set[str]:
        known, where, nested = shape
        inner = {key: level for key, level, _ in nested}
        out = {where + key for key in known if key not in inner}
        for level in inner.values():
            out |= paths(level)
        return out

    assert paths(datapoints._SOURCE_SHAPE) == {
        f"dataSource.{path}" for path in leaf_paths("DataSource")
    }


def test_a_point_with_every_field_of_its_schema_has_nothing_unmapped():
    # A field the plan knows of, at every level, is not reported; one level deeper than the
    # schema goes is.
    for json_key in TABLED:
        spec = TABLED[json_key]
        body: dict = {}
        for path in leaf_paths(UNION[json_key]):
            node = body
            parts = path.split(".")
            for part in parts[:-1]:
                if part.endswith("[]"):
                    node = node.setdefault(part[:-2], [{}])[0]
                else:
                    node = node.setdefault(part, {})
            last = parts[-1]
            node[last.removesuffix("[]")] = [] if last.endswith("[]") else "x"
        point = {"name": "n", "dataSource": {"device": {}, "application": {}}, json_key: body}
        assert datapoints.unmapped_fields(spec.name, point) == [], json_key
        body["addedByTheApi"] = 1
        assert datapoints.unmapped_fields(spec.name, point) == [f"{json_key}.addedByTheApi"]


def test_the_data_types_page_lists_every_type_with_its_table_and_scope():
    from pathlib import Path

    page = Path(__file__).resolve().parents[2] / "docs" / "data-types.md"
    listed = {}
    for line in page.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`") and "tables.md#" in cells[1]:
            listed[cells[0].strip("`")] = (cells[1].split("`")[1], cells[3].strip("`"))
    assert listed == {
        spec.name: (spec.table or "daily_activity_summary", spec.scope_family)
        for spec in datatypes.SPECS.values()
    }


def test_reconcile_serves_exactly_the_types_of_the_reconciled_data_point():
    members = set(SCHEMAS["ReconciledDataPoint"]["properties"]) - {"dataPointName"}
    served = {spec.json_key for spec in TABLED.values() if spec.reconcilable}
    assert served == members & set(TABLED)
    assert sorted(set(TABLED) - members) == [
        "electrocardiogram",
        "irregularRhythmNotification",
        "menstrualPeriod",
        "moods",
        "ovulationTest",
        "symptoms",
    ]
