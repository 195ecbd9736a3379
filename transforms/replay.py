"""Replay: dead letters back into the pipeline, once what failed them is fixed.

`fitbeam run --dead_letters 'gs://bucket/dead-letters/run-*/*.jsonl'` reads
dead-letter files and re-feeds the replayable ones:

- `fetch` and `fetch_detail` letters hold the API call that failed (after its
  retries, or with a 4xx that may pass, such as a user who had to consent
  again): the call goes back to the fetch step, and its pages to rows;
- `schema` and `bigquery` letters hold a row that its table refused: the row is
  rebuilt with its types from the table's Avro schema and validated again, so
  it loads once the schema (or the row's producer) has been fixed.

Letters marked not replayable (a bad request message, a point the API sent
malformed) are counted per stage and left where they are: re-feeding them
could only fail the same way. A line that is not a dead letter becomes a dead
letter of stage `replay`.

Replaying a call only fetches what failed, so the rows it adds were not loaded
before: a run plus its replay load every point once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from schemas import bigquery as bq_schemas
from transforms.elements import ApiCall, DeadLetter, utc_now_rfc3339

NAMESPACE = "fitbeam"
STAGE = "replay"
CALL_STAGES = ("fetch", "fetch_detail")
ROW_STAGES = ("schema", "bigquery")


class NotADeadLetter(ValueError):
    """A line of a dead-letter file that cannot be replayed as written."""


def api_call_from_json(obj: dict) -> ApiCall:
    """The ApiCall that `ApiCall.to_json` wrote.

    Raises:
        NotADeadLetter: a field is missing or has the wrong type.
    """
    try:
        fields = {k: obj[k] for k in ("user_key", "kind", "data_type", "start", "end", "stream")}
        if not all(isinstance(v, str) for v in fields.values()):
            raise NotADeadLetter(f"call fields must be strings: {sorted(fields)}")
        parent = obj.get("parent") or {}
        if not isinstance(parent, dict):
            raise NotADeadLetter("call parent must be an object")
        return ApiCall(
            **fields,
            data_point_id=str(obj.get("data_point_id", "")),
            parent=tuple(parent.items()),
        )
    except KeyError as err:
        raise NotADeadLetter(f"the call has no {err.args[0]!r}") from None


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
        if logical in _LOGICAL and isinstance(value, str):
            return _LOGICAL[logical](value)
        if schema.get("type") == "record" and isinstance(value, dict):
            return {f["name"]: _typed(f["type"], value.get(f["name"])) for f in schema["fields"]}
        if schema.get("type") == "array" and isinstance(value, list):
            return [_typed(schema["items"], v) for v in value]
    return value


def typed_row(table: str, obj: dict) -> dict:
    """A row from a dead letter (JSON), with the Python types its Avro schema holds.

    Dead letters keep rows as JSON: dates and times as ISO 8601 strings. Fields
    the schema does not know are kept, so that validation names them.

    Raises:
        NotADeadLetter: the table is unknown or a date or time does not parse.
    """
    if table not in bq_schemas.ALL_TABLES:
        raise NotADeadLetter(f"unknown table {table[:60]!r}")
    schema = bq_schemas.load_avro_schema(table)
    try:
        row = _typed(schema, obj)
    except ValueError as err:
        raise NotADeadLetter(f"a date or time of the row does not parse: {err}") from None
    row.update({k: v for k, v in obj.items() if k not in row})
    return row


class ReplayDeadLettersFn(beam.DoFn):
    """A dead-letter line -> an ApiCall (`calls`) or a (table, row) pair (`rows`).

    Not replayable letters are counted (`replay_skipped_<stage>`) and dropped
    from the replay; lines that are not dead letters become dead letters.
    """

    CALLS = "calls"
    ROWS = "rows"
    DEAD_LETTER = "dead_letter"

    def process(self, line: bytes):
        try:
            letter = json.loads(bytes(line).decode("utf-8"))
            if not isinstance(letter, dict) or not isinstance(letter.get("stage"), str):
                raise NotADeadLetter("not a dead letter: no stage")
            stage, original = letter["stage"], letter.get("original")
            if not letter.get("replayable", False):
                Metrics.counter(NAMESPACE, f"replay_skipped_{stage[:40]}").inc()
                return
            if stage in CALL_STAGES and isinstance(original, dict):
                Metrics.counter(NAMESPACE, "replayed_calls").inc()
                yield pvalue.TaggedOutput(self.CALLS, api_call_from_json(original))
            elif stage in ROW_STAGES and isinstance(original, dict):
                table = str(letter.get("table", ""))
                Metrics.counter(NAMESPACE, "replayed_rows").inc()
                yield pvalue.TaggedOutput(self.ROWS, (table, typed_row(table, original)))
            else:
                raise NotADeadLetter(f"stage {stage[:40]!r} cannot be replayed")
        except (ValueError, UnicodeDecodeError) as err:  # NotADeadLetter, JSON errors
            Metrics.counter(NAMESPACE, f"dead_letters_{STAGE}").inc()
            yield pvalue.TaggedOutput(
                self.DEAD_LETTER,
                DeadLetter(
                    stage=STAGE,
                    original=bytes(line[:2000]).decode("utf-8", "replace"),
                    error_class=type(err).__name__,
                    message=str(err)[:1000],
                    timestamp=utc_now_rfc3339(),
                    replayable=False,
                ),
            )


class ReplayDeadLetters(beam.PTransform):
    """Dead-letter lines -> `calls`, `rows` and `dead_letter` outputs."""

    def expand(self, lines):
        return lines | "ReplayDeadLettersFn" >> beam.ParDo(ReplayDeadLettersFn()).with_outputs(
            ReplayDeadLettersFn.CALLS,
            ReplayDeadLettersFn.ROWS,
            ReplayDeadLettersFn.DEAD_LETTER,
        )
