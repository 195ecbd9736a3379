"""Writes tables.auto.tfvars.json: fitbeam's BigQuery tables for Terraform, from schemas/*.avsc.

The Avro schemas are the single source of truth for the tables. This script gives Terraform
what `pipeline.preflight` and BigQueryIO create when a run finds a table missing: the schema
`schemas.bigquery.bigquery_table_schema` maps from Avro, the table description (the record's
doc), and the partitioning and clustering of `schemas.bigquery.additional_bq_parameters`
(by day on civil_date, clustered by user_key). `bigquery.tf` makes one table per entry.

Regenerate after a schema change, review the diff, and apply before the new image runs, so
that Terraform, not the pipeline's preflight, adds the new columns::

    .venv/bin/python deploy/terraform/generate.py            # rewrites the file
    .venv/bin/python deploy/terraform/generate.py --check    # exit 1 if it is stale

`tests/unit/test_terraform.py` holds the committed file equal to `render()`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from schemas import bigquery

OUTPUT = Path(__file__).resolve().parent / "tables.auto.tfvars.json"
# The Terraform variable (variables.tf) that the file sets.
VARIABLE = "bigquery_tables"


def table_spec(table: str) -> dict[str, Any]:
    """Returns one table's entry: description, schema fields, time partitioning, clustering.

    Args:
        table: One of ``schemas.bigquery.ALL_TABLES``, such as ``"steps"``.

    Raises:
        ValueError: If the table is unknown or its Avro schema cannot be mapped.
    """
    layout = bigquery.additional_bq_parameters(table)
    return {
        "description": bigquery.table_description(table),
        "schema": bigquery.bigquery_table_schema(table)["fields"],
        "time_partitioning": layout["timePartitioning"],
        "clustering": layout["clustering"]["fields"],
    }


def render() -> str:
    """Returns the text of tables.auto.tfvars.json: every table, by name, ending with a newline."""
    tables = {table: table_spec(table) for table in sorted(bigquery.ALL_TABLES)}
    return json.dumps({VARIABLE: tables}, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Writes the file, or with ``--check`` reports whether it is current.

    Returns:
        0 when written or current; 1 when ``--check`` finds it stale.
    """
    parser = argparse.ArgumentParser(
        prog="deploy/terraform/generate.py",
        description="Write deploy/terraform/tables.auto.tfvars.json from schemas/*.avsc.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if the committed file differs from the schemas",
    )
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            sys.stderr.write(f"{OUTPUT.name} is stale: run deploy/terraform/generate.py\n")
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
