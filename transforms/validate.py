"""The validate stage: every row checked against its table's Avro schema, and converted
to the BigQuery JSON the write step sends (a `TableRow`).

`schemas/*.avsc` is the single source of truth; a row that breaks its schema
becomes a dead letter of stage `schema` (replayable once the schema or the
row's producer is fixed) and the run goes on.

A row that fits its schema must also be one the write step can send: fastavro
reads a missing field as null, ignores a field the table does not have, takes
an int for a date or a timestamp and passes NaN, none of which BigQuery JSON
can carry as meant (`schemas.convert.loadable_problem`). Such a row is a
`schema` dead letter too, rather than an error that fails the write or a
column dropped without a word.

Checking and converting are one pass for the common row (`schemas.convert.checked_json`),
so a row is converted once, here, and the write step only writes.
"""

from __future__ import annotations

import apache_beam as beam
import fastavro
from apache_beam import pvalue
from apache_beam.metrics import Metrics
from fastavro.validation import ValidationError, validate

from pipeline import progress
from schemas import bigquery as bq_schemas
from schemas.convert import NotLoadable, TableRow, checked_json, loadable_problem, to_bigquery_json
from transforms.dead_letters import DeadLetter, utc_now_rfc3339

NAMESPACE = "fitbeam"
# Rows passed are handed to the progress line (`pipeline.progress`) every this many rows
# and when the bundle ends: the local batch runner makes one bundle of a branch's rows.
PROGRESS_EVERY = 1000


def _user_key(row: object) -> str:
    user_key = row.get("user_key") if isinstance(row, dict) else None
    return user_key if isinstance(user_key, str) else ""


class _ValidateRowsFn(beam.DoFn):
    """(table, row) -> its BigQuery JSON as a TableRow if it fits the table's Avro schema,
    else a dead letter.

    The common case costs one strict pass (`checked_json`) that checks and converts;
    a row it cannot vouch for gets fastavro's check, which builds no error text, and
    `loadable_problem`; only a row that fails is checked again to name what is wrong
    (fastavro's error messages are costly to build). Rows passed
    are counted per table once per bundle, not once per row, and handed to
    the progress line every `PROGRESS_EVERY` rows (load-log rows aside, as
    the run report counts them).
    """

    DEAD_LETTER = "dead_letter"

    def setup(self):
        self.schemas = {
            t: fastavro.parse_schema(bq_schemas.load_avro_schema(t)) for t in bq_schemas.ALL_TABLES
        }
        self.dead = Metrics.counter(NAMESPACE, "dead_letters_schema")
        self.start_bundle()

    def start_bundle(self):
        self.valid: dict[str, int] = {}
        self.unreported = 0  # rows passed since the progress line was last told
        self.reported = 0  # rows of the bundle the progress line was told of

    def process(self, element):
        table, row = element
        try:
            schema = self.schemas[table]
            converted = checked_json(table, row)
            if converted is None:
                if not validate(row, schema, raise_errors=False):
                    validate(row, schema, raise_errors=True)  # raises, naming the field
                problem = loadable_problem(table, row)
                if problem:
                    raise NotLoadable(problem)
                converted = to_bigquery_json(table, row)
        # ValueError: NotLoadable, or fastavro failed to parse a string given for a date.
        # RecursionError: a value nested too deeply to show in the error message.
        except (ValidationError, KeyError, ValueError, RecursionError) as err:
            self.dead.inc()
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
        self.valid[table] = self.valid.get(table, 0) + 1
        self.unreported += 1
        if self.unreported >= PROGRESS_EVERY:
            self._report_progress()
        yield TableRow(table, converted)

    def _report_progress(self) -> None:
        rows = sum(n for t, n in self.valid.items() if t != bq_schemas.LOAD_LOG_TABLE)
        progress.TALLY.add(rows=rows - self.reported)
        self.reported, self.unreported = rows, 0

    def finish_bundle(self):
        self._report_progress()
        for table, count in self.valid.items():
            Metrics.counter(NAMESPACE, f"rows_valid_{table}").inc(count)
        self.start_bundle()


class ValidateRows(beam.PTransform):
    """(table, row) -> TableRows of the pairs that fit their table's schema (`rows`), with
    `dead_letter`."""

    def expand(self, pairs):
        return pairs | "Check" >> beam.ParDo(_ValidateRowsFn()).with_outputs(
            _ValidateRowsFn.DEAD_LETTER, main="rows"
        )
