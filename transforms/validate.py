"""The validate stage: every row checked against its table's Avro schema before BigQuery.

`schemas/*.avsc` is the single source of truth; a row that breaks its schema
becomes a dead letter of stage `schema` (replayable once the schema or the
row's producer is fixed) and the run goes on.

A row that fits its schema must also be one the write step can send: fastavro
reads a missing field as null, takes an int for a date or a timestamp and
passes NaN, none of which BigQuery JSON can carry. Such a row is a `schema`
dead letter too, rather than an error that fails the write.
"""

from __future__ import annotations

import math

import apache_beam as beam
import fastavro
from apache_beam import pvalue
from apache_beam.metrics import Metrics
from fastavro.validation import ValidationError

from schemas import bigquery as bq_schemas
from schemas.convert import to_bigquery_json
from transforms.dead_letters import DeadLetter, utc_now_rfc3339

NAMESPACE = "fitbeam"


class NotLoadable(ValueError):
    """A row that fits its Avro schema but cannot be written as BigQuery JSON."""


def _check_loadable(table: str, row: dict) -> None:
    """Raises NotLoadable unless the row converts to BigQuery JSON of finite numbers."""
    try:
        converted = to_bigquery_json(table, row)
    except KeyError as err:
        raise NotLoadable(f"the row has no field {err}") from None
    except (AttributeError, TypeError, ValueError) as err:
        raise NotLoadable(f"a date or time field holds something else: {err!s:.200}") from None
    stack: list = [converted]
    while stack:
        value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise NotLoadable(f"{value} is not a number BigQuery JSON can hold")
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def _user_key(row: object) -> str:
    user_key = row.get("user_key") if isinstance(row, dict) else None
    return user_key if isinstance(user_key, str) else ""


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
            _check_loadable(table, row)
        # ValueError: NotLoadable, or fastavro failed to parse a string given for a date.
        # RecursionError: a value nested too deeply to show in the error message.
        except (ValidationError, KeyError, ValueError, RecursionError) as err:
            Metrics.counter(NAMESPACE, "dead_letters_schema").inc()
            yield pvalue.TaggedOutput(
                self.DEAD_LETTER,
                DeadLetter(
                    stage="schema",
                    original=row,
                    error_class=type(err).__name__,
                    message=str(err)[:1000],
                    timestamp=utc_now_rfc3339(),
                    user_key=_user_key(row),
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
