"""The write stage: validated rows (TableRows, BigQuery JSON) -> BigQuery, one table per
data type.

`WriteTables` writes through BigQueryIO, with each table's schema derived from
its Avro schema (`schemas/*.avsc`), partitioned by civil date and clustered by
user. STREAMING_INSERTS returns per-row failures, which become dead letters;
FILE_LOADS loads JSON files and fails the run on a bad load (rows were
validated before, so a failure there is not a data problem).
"""

from __future__ import annotations

import json
import re

import apache_beam as beam
from apache_beam.io.gcp.bigquery_tools import RetryStrategy
from apache_beam.metrics import Metrics

from schemas import bigquery as bq_schemas
from transforms.dead_letters import DeadLetter, utc_now_rfc3339

NAMESPACE = "fitbeam"
STREAMING_INSERTS = "STREAMING_INSERTS"
FILE_LOADS = "FILE_LOADS"
# project:dataset, as `--dataset` takes it (pipeline.options checks the same form).
_DATASET = re.compile(r"[a-z][-a-z0-9.:]{4,61}[a-z0-9]:[A-Za-z0-9_]{1,1024}")


def _table_name(destination: object) -> str:
    """`project:dataset.table` (or a TableReference) -> `table`."""
    text = destination if isinstance(destination, str) else str(destination.tableId)
    return text.rsplit(".", 1)[-1]


def _bigquery_failure(element) -> DeadLetter:
    """A failed streaming insert `(destination, row, errors)` as a dead letter."""
    destination, row, errors = element
    table = _table_name(destination)
    Metrics.counter(NAMESPACE, "dead_letters_bigquery").inc()
    Metrics.counter(NAMESPACE, f"bigquery_failed_{table}").inc()
    return DeadLetter(
        stage="bigquery",
        original=dict(row),
        error_class="BigQueryInsertError",
        message=json.dumps(errors, default=str)[:1000],
        timestamp=utc_now_rfc3339(),
        user_key=str(row.get("user_key", "")),
        table=table,
    )


class WriteTables(beam.PTransform):
    """TableRow -> BigQuery, one table per data type; returns BigQuery dead letters.

    Rows come converted by `ValidateRows`; each goes to the table it names.

    One BigQueryIO write serves every table (dynamic destinations): the table
    comes from the element, the schema and the partitioning and clustering
    from the table's Avro schema.

    Args:
        dataset: `project:dataset`.
        method: STREAMING_INSERTS or FILE_LOADS.
        gcs_temp_location: gs:// folder for FILE_LOADS temporary files.
    """

    def __init__(self, dataset: str, method: str, gcs_temp_location: str | None = None):
        super().__init__()
        if method not in (STREAMING_INSERTS, FILE_LOADS):
            raise ValueError(
                f"BigQuery write method {str(method)[:40]!r} must be {STREAMING_INSERTS} "
                f"or {FILE_LOADS}"
            )
        if not isinstance(dataset, str) or not _DATASET.fullmatch(dataset):
            raise ValueError(
                f"dataset {str(dataset)[:80]!r} must be PROJECT:DATASET, e.g. my-project:fitbit"
            )
        self.dataset = dataset
        self.method = method
        self.gcs_temp_location = gcs_temp_location

    def expand(self, rows):
        dataset = self.dataset
        schemas = {
            f"{dataset}.{t}": bq_schemas.bigquery_table_schema(t) for t in bq_schemas.ALL_TABLES
        }
        common = {
            "table": lambda row: f"{dataset}.{row.table}",
            "schema": lambda destination: schemas[bigquery_destination(destination)],
            "additional_bq_parameters": _table_layout(),
            "create_disposition": beam.io.BigQueryDisposition.CREATE_IF_NEEDED,
            "write_disposition": beam.io.BigQueryDisposition.WRITE_APPEND,
        }
        if self.method == STREAMING_INSERTS:
            result = rows | "StreamingInserts" >> beam.io.WriteToBigQuery(
                method=beam.io.WriteToBigQuery.Method.STREAMING_INSERTS,
                insert_retry_strategy=RetryStrategy.RETRY_ON_TRANSIENT_ERROR,
                **common,
            )
            return result.failed_rows_with_errors | "Failures" >> beam.Map(_bigquery_failure)
        _ = rows | "FileLoads" >> beam.io.WriteToBigQuery(
            method=beam.io.WriteToBigQuery.Method.FILE_LOADS,
            temp_file_format="NEWLINE_DELIMITED_JSON",
            # A file per table stays open in a bundle, so rows are written as they come
            # rather than spilled to a shuffle when a bundle holds more tables than that.
            max_files_per_bundle=len(bq_schemas.ALL_TABLES) + 1,
            custom_gcs_temp_location=self.gcs_temp_location,
            **common,
        )
        return rows.pipeline | "NoFailures" >> beam.Create([])


def _table_layout() -> dict:
    """Partitioning and clustering, shared by every table.

    One dict rather than a function of the destination: Beam 2.77's streaming
    inserts pass a callable through to the table resource unresolved.
    """
    layouts = {
        json.dumps(bq_schemas.additional_bq_parameters(t), sort_keys=True)
        for t in bq_schemas.ALL_TABLES
    }
    if len(layouts) != 1:
        raise ValueError(f"tables differ in partitioning or clustering: {sorted(layouts)}")
    return json.loads(layouts.pop())


def bigquery_destination(destination: object) -> str:
    """A destination as `project:dataset.table`, whichever form Beam hands over."""
    if isinstance(destination, str):
        return destination
    return f"{destination.projectId}:{destination.datasetId}.{destination.tableId}"
