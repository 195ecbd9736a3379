"""Beam steps at the end of the graph: row validation, BigQuery, dead letters.

- `ValidateRows` checks every row against its table's Avro schema
  (`schemas/*.avsc`, the single source of truth) before BigQuery sees it.
- `WriteTables` writes one BigQuery table per data type through BigQueryIO,
  with the schema derived from Avro, partitioned by civil date and clustered
  by user. STREAMING_INSERTS returns per-row failures, which become dead
  letters; FILE_LOADS loads JSON files and fails the run on a bad load (rows
  were validated before, so a failure there is not a data problem).
- `WriteDeadLetters` writes every dead letter as one JSON line under
  `<root>/<run_id>/`, local or gs://; `WriteStreamingDeadLetters` does the
  same for a stream, a file per bundle, so letters show up while it runs.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import apache_beam as beam
import fastavro
from apache_beam import pvalue
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.gcp.bigquery_tools import RetryStrategy
from apache_beam.metrics import Metrics
from fastavro.validation import ValidationError

from schemas import bigquery as bq_schemas
from transforms import rows
from transforms.elements import DeadLetter, utc_now_rfc3339

NAMESPACE = "fitbeam"
STREAMING_INSERTS = "STREAMING_INSERTS"
FILE_LOADS = "FILE_LOADS"


class ValidateRowsFn(beam.DoFn):
    """(table, row) -> the same pair if it fits the table's Avro schema, else a dead letter."""

    DEAD_LETTER = "dead_letter"

    def setup(self):
        self.schemas = {
            t: fastavro.parse_schema(bq_schemas.load_avro_schema(t)) for t in bq_schemas.ALL_TABLES
        }

    def process(self, element):
        table, row = element
        try:
            fastavro.validation.validate(row, self.schemas[table], raise_errors=True)
        except (ValidationError, KeyError) as err:
            Metrics.counter(NAMESPACE, "dead_letters_schema").inc()
            yield pvalue.TaggedOutput(
                self.DEAD_LETTER,
                DeadLetter(
                    stage="schema",
                    original=row,
                    error_class=type(err).__name__,
                    message=str(err)[:1000],
                    timestamp=utc_now_rfc3339(),
                    user_key=str(row.get("user_key", "")),
                    table=table,
                ),
            )
            return
        Metrics.counter(NAMESPACE, f"rows_valid_{table}").inc()
        yield element


class ValidateRows(beam.PTransform):
    def expand(self, pairs):
        return pairs | "ValidateRowsFn" >> beam.ParDo(ValidateRowsFn()).with_outputs(
            ValidateRowsFn.DEAD_LETTER, main="rows"
        )


class TableRow(dict):
    """A BigQuery JSON row that knows its table (the write's dynamic destination)."""

    def __init__(self, table: str, row: dict):
        super().__init__(row)
        self.table = table

    def __reduce__(self):
        return TableRow, (self.table, dict(self))


def _bigquery_json(pair: tuple[str, dict]) -> TableRow:
    table, row = pair
    return TableRow(table, rows.to_bigquery_json(table, row))


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
    """(table, row) -> BigQuery, one table per data type; returns BigQuery dead letters.

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
        self.dataset = dataset
        self.method = method
        self.gcs_temp_location = gcs_temp_location

    def expand(self, pairs):
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
        as_json = pairs | "ToBigQueryJson" >> beam.Map(_bigquery_json)
        if self.method == STREAMING_INSERTS:
            result = as_json | "WriteStreamingInserts" >> beam.io.WriteToBigQuery(
                method=beam.io.WriteToBigQuery.Method.STREAMING_INSERTS,
                insert_retry_strategy=RetryStrategy.RETRY_ON_TRANSIENT_ERROR,
                **common,
            )
            return result.failed_rows_with_errors | "BigQueryFailures" >> beam.Map(
                _bigquery_failure
            )
        _ = as_json | "WriteFileLoads" >> beam.io.WriteToBigQuery(
            method=beam.io.WriteToBigQuery.Method.FILE_LOADS,
            temp_file_format="NEWLINE_DELIMITED_JSON",
            custom_gcs_temp_location=self.gcs_temp_location,
            **common,
        )
        return pairs.pipeline | "NoBigQueryFailures" >> beam.Create([])


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


class WriteDeadLetters(beam.PTransform):
    """DeadLetter -> JSON lines under `<root>/<run_id>/dead-letters-*.jsonl`."""

    def __init__(self, root: str, run_id: str):
        super().__init__()
        self.prefix = f"{root.rstrip('/')}/{run_id}/dead-letters"

    def expand(self, dead_letters):
        return (
            dead_letters
            | "DeadLetterToJson" >> beam.Map(DeadLetter.to_json)
            | "WriteDeadLetterFiles"
            >> beam.io.WriteToText(self.prefix, file_name_suffix=".jsonl", num_shards=1)
        )


class _WriteDeadLetterFilesFn(beam.DoFn):
    """Writes each bundle's dead letters to a file of its own when the bundle ends.

    The file is complete before the bundle commits, so the runner only
    acknowledges the input (a Pub/Sub message, say) once its dead letter is
    stored: cancelling or crashing loses none. A retried bundle may write its
    letters twice; replay is idempotent, so that costs nothing.

    Args:
        folder: where files go (ends with '/'), local or gs://.
        max_letters: a file is written whenever this many letters wait.
        clock: the UTC time that names the files (test seam).
    """

    def __init__(self, folder: str, max_letters: int = 1000, clock=None):
        self.folder = folder
        self.max_letters = max_letters
        self.clock = clock
        self.files = Metrics.counter(NAMESPACE, "dead_letter_files")

    def start_bundle(self):
        self.pending: list[str] = []

    def process(self, letter: DeadLetter):
        self.pending.append(letter.to_json())
        if len(self.pending) >= self.max_letters:
            self._flush()

    def finish_bundle(self):
        self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        now = self.clock() if self.clock else dt.datetime.now(dt.UTC)
        path = f"{self.folder}dead-letters-{now:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:12]}.jsonl"
        with FileSystems.create(path, mime_type="application/x-ndjson") as f:
            f.write(("\n".join(self.pending) + "\n").encode("utf-8"))
        self.files.inc()
        self.pending = []


class WriteStreamingDeadLetters(beam.PTransform):
    """DeadLetter -> JSON lines under `<root>/<run_id>/`, a file per bundle, as they come.

    Files are named `dead-letters-<UTC time written>-<random id>.jsonl`, so they
    sort by time and a stream's dead letters are readable as soon as the bundle
    that made them ends. Not a windowed fileio write: a window still open when
    a streaming run stops (the local runner can only cancel) would lose its
    letters.
    """

    def __init__(self, root: str, run_id: str):
        super().__init__()
        self.folder = f"{root.rstrip('/')}/{run_id}/"

    def expand(self, dead_letters):
        return dead_letters | "WriteDeadLetterFiles" >> beam.ParDo(
            _WriteDeadLetterFilesFn(self.folder)
        )
