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

import json

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from healthapi.elements import ApiCall
from healthapi.nesting import MAX_NESTING, nested_deeper_than
from schemas.convert import from_bigquery_json
from transforms.dead_letters import DeadLetter, utc_now_rfc3339

NAMESPACE = "fitbeam"
STAGE = "replay"
CALL_STAGES = ("fetch", "fetch_detail")
ROW_STAGES = ("schema", "bigquery")
# Stages that write dead letters; others are counted as `unknown` (counter names stay few).
KNOWN_STAGES = (*CALL_STAGES, *ROW_STAGES, "parse_request", "rows", "tcx", STAGE)


class NotADeadLetter(ValueError):
    """A line of a dead-letter file that cannot be replayed as written."""


def _read_letter(line: bytes) -> dict:
    """A dead-letter line as a JSON object with a stage.

    Raises:
        NotADeadLetter: the line is not one (JSON nested deeper than any dead letter
            is refused too: the stages after replay would have to walk it).
        ValueError, UnicodeDecodeError: not UTF-8 JSON.
    """
    try:
        letter = json.loads(bytes(line).decode("utf-8"))
    except RecursionError:
        raise NotADeadLetter("not a dead letter: JSON nested too deeply") from None
    if nested_deeper_than(letter):
        raise NotADeadLetter(f"not a dead letter: JSON nested more than {MAX_NESTING} deep")
    if not isinstance(letter, dict) or not isinstance(letter.get("stage"), str):
        raise NotADeadLetter("not a dead letter: no stage")
    return letter


def _replayed(rebuild, *args):
    """What `rebuild` makes of a letter's original; its ValueError as NotADeadLetter."""
    try:
        return rebuild(*args)
    except ValueError as err:
        raise NotADeadLetter(str(err)) from None


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
            letter = _read_letter(line)
            stage, original = letter["stage"], letter.get("original")
            if letter.get("replayable") is not True:
                counted = stage if stage in KNOWN_STAGES else "unknown"
                Metrics.counter(NAMESPACE, f"replay_skipped_{counted}").inc()
                return
            if stage in CALL_STAGES and isinstance(original, dict):
                Metrics.counter(NAMESPACE, "replayed_calls").inc()
                yield pvalue.TaggedOutput(self.CALLS, _replayed(ApiCall.from_json, original))
            elif stage in ROW_STAGES and isinstance(original, dict):
                table = str(letter.get("table", ""))
                Metrics.counter(NAMESPACE, "replayed_rows").inc()
                row = _replayed(from_bigquery_json, table, original)
                yield pvalue.TaggedOutput(self.ROWS, (table, row))
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
    """Dead-letter files -> `calls`, `rows` and `dead_letter` outputs.

    Args:
        pattern: the dead-letter files, a path or glob, local or gs://
            (`gs://bucket/dead-letters/run-*/*.jsonl`).

    Raises:
        ValueError: an empty pattern.
    """

    def __init__(self, pattern: str):
        super().__init__()
        if not isinstance(pattern, str) or not pattern.strip():
            raise ValueError(
                "no dead-letter files to replay: give a path or glob, "
                "e.g. gs://my-bucket/dead-letters/run-*/*.jsonl"
            )
        self.pattern = pattern

    def expand(self, pbegin):
        lines = (
            pbegin
            | "Read" >> beam.io.ReadFromText(self.pattern, coder=beam.coders.BytesCoder())
            | "SkipBlankLines" >> beam.Filter(lambda line: bool(line.strip()))
        )
        return lines | "Replay" >> beam.ParDo(ReplayDeadLettersFn()).with_outputs(
            ReplayDeadLettersFn.CALLS,
            ReplayDeadLettersFn.ROWS,
            ReplayDeadLettersFn.DEAD_LETTER,
        )
