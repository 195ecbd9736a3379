"""Dead letters: what could not be loaded, and the one sink every stage writes them to.

Every stage of the graph that can fail per element yields a `DeadLetter` on its
`dead_letter` output; `build_pipeline` flattens them all into one sink:

- `WriteDeadLetters` (batch): JSON lines under `<root>/<run_id>/dead-letters-*.jsonl`;
- `WriteDeadLetters(streaming=True)`: a file per bundle, written before the
  bundle commits, so a stream's letters show up while it runs and none is lost
  when it stops.

Both are local paths or gs://. `fitbeam run --dead_letters` replays them
(`transforms.replay`).

A letter is counted for the run's progress line (`pipeline.progress`) when it
is made, in whichever stage: the batch sink only runs once every stage is done.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipeline import progress

NAMESPACE = "fitbeam"
BODY_EXCERPT_CHARS = 2000
# The stages whose letter is a planned call that failed (`transforms.fetch.FetchPages.STAGES`).
FETCH_STAGES = ("fetch", "fetch_detail")


def _jsonable(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, tuple):
        return list(value)
    return str(value)


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    """Something that could not be loaded, with enough to understand and replay it.

    It never holds a token, an Authorization header or a client secret: `original`
    is a request, a call or a row, and `body` is a truncated response body.

    Attributes:
        stage: the step that failed (`parse_request`, `fetch`, `rows`, `schema`,
            `bigquery`, ...).
        original: the input of that step (FetchRequest/ApiCall JSON, or a row).
        error_class: the exception's class or the API's ErrorInfo reason.
        message: what went wrong.
        http_status: the last HTTP status, 0 when there was none.
        body: start of the response body, if any.
        attempts: how many times it was tried.
        timestamp: when it failed (UTC, RFC 3339).
        user_key: the user concerned, when known.
        table: the BigQuery table, for row failures.
        replayable: whether re-feeding `original` later can succeed.

    Making one counts it in the progress tally, and a letter of a fetch stage
    as a call done too (a call that fails has no last page). Decoding one
    between steps does not call `__init__`, and so does not count it again.
    """

    stage: str
    original: object
    error_class: str
    message: str
    timestamp: str
    http_status: int = 0
    body: str = ""
    attempts: int = 1
    user_key: str = ""
    table: str = ""
    replayable: bool = True

    def __post_init__(self):
        progress.TALLY.add(dead_letters=1, done=int(self.stage in FETCH_STAGES))

    def to_json(self) -> str:
        """One JSON line; an original that cannot be written is replaced by a note.

        Nesting too deep for the encoder (RecursionError) or an int past Python's
        4300-digit limit (ValueError) would otherwise fail the sink, and with it the run.
        """
        # Not dataclasses.asdict: it deep-copies the original, recursively.
        record = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        record["body"] = self.body[:BODY_EXCERPT_CHARS]
        try:
            return json.dumps(record, default=_jsonable, sort_keys=True)
        except (RecursionError, ValueError) as err:
            record["original"] = f"[not kept: the original cannot be written as JSON ({err!s:.80})]"
            return json.dumps(record, default=_jsonable, sort_keys=True)


def utc_now_rfc3339(now: dt.datetime | None = None) -> str:
    moment = now or dt.datetime.now(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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


def _check_root(root: str) -> str:
    if not isinstance(root, str) or not root.strip() or root.strip() != root:
        raise ValueError(
            f"dead-letter root {str(root)[:80]!r} is empty or padded: use a folder, "
            "e.g. gs://my-bucket/dead-letters or /var/fitbeam/dead-letters"
        )
    return root.rstrip("/")


class WriteDeadLetters(beam.PTransform):
    """DeadLetter -> JSON lines under `<root>/<run_id>/`: the one dead-letter sink.

    Batch (`streaming=False`): one file, `dead-letters-00000-of-00001.jsonl`,
    written when the run ends.

    Streaming: a file per bundle, named `dead-letters-<UTC time written>-<random
    id>.jsonl` so they sort by time, written before the bundle commits. Not a
    windowed fileio write: a window still open when a streaming run stops (the
    local runner can only cancel) would lose its letters.

    Args:
        root: the dead-letter folder, local or gs://.
        run_id: the run's id; its letters go to `<root>/<run_id>/`.
        streaming: write a file per bundle instead of one at the end.

    Raises:
        ValueError: an empty root or run id.
    """

    def __init__(self, root: str, run_id: str, streaming: bool = False):
        super().__init__()
        if not isinstance(run_id, str) or not run_id or "/" in run_id:
            raise ValueError(f"run id {str(run_id)[:80]!r} must be a non-empty name without '/'")
        self.folder = f"{_check_root(root)}/{run_id}/"
        self.streaming = streaming

    def expand(self, dead_letters):
        if self.streaming:
            return dead_letters | "WriteFilePerBundle" >> beam.ParDo(
                _WriteDeadLetterFilesFn(self.folder)
            )
        return (
            dead_letters
            | "ToJson" >> beam.Map(DeadLetter.to_json)
            | "WriteFile"
            >> beam.io.WriteToText(
                f"{self.folder}dead-letters", file_name_suffix=".jsonl", num_shards=1
            )
        )
