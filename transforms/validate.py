"""The validate stage: every row checked against its table's Avro schema before BigQuery.

`schemas/*.avsc` is the single source of truth; a row that breaks its schema
becomes a dead letter of stage `schema` (replayable once the schema or the
row's producer is fixed) and the run goes on.
"""

from __future__ import annotations

import apache_beam as beam
import fastavro
from apache_beam import pvalue
from apache_beam.metrics import Metrics
from fastavro.validation import ValidationError

from schemas import bigquery as bq_schemas
from transforms.dead_letters import DeadLetter, utc_now_rfc3339

NAMESPACE = "fitbeam"


class _ValidateRowsFn(beam.DoFn):
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
    """(table, row) -> the pairs that fit their table's schema (`rows`), with `dead_letter`."""

    def expand(self, pairs):
        return pairs | "Check" >> beam.ParDo(_ValidateRowsFn()).with_outputs(
            _ValidateRowsFn.DEAD_LETTER, main="rows"
        )
