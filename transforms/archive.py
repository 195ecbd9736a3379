"""The raw archive: every API answer a run used, kept so tables can be rebuilt without the API.

`ArchivePages` (on with `--raw_archive ROOT`) writes each page of each answer the
fetch got (a list page of data points, a summary's roll-ups, a TCX export, a
user-level resource) as one gzipped JSON object, before its rows are made:

    <root>/user_key=<KEY>/data_type=<TYPE>/date=<YYYY-MM-DD>/<answered>_<load_id>_p<part>.json.gz

`TYPE` is the API data type (`heart-rate`), `daily-activity-summary`,
`exercise-tcx` or the user-level resource (`paired-devices`); the date is the
civil day the call's window starts on (a TCX export's: its exercise's; a
user-level resource's: the UTC day it was read). The folders are Hive-style,
so a person can browse by user, type and day, a BigQuery external table can
read them, and `fitbeam forget` finds a participant's objects by their folder.
Each object holds:

    {"format": "fitbeam-raw-archive/1", "call": {...}, "user_key": ..., "run_id": ...,
     "load_id": ..., "part": 0, "final": true, "answered_at": ..., "archived_at": ...,
     "answer": {"dataPoints": [...]} | {"rollups": [[type, [...]], ...]}
               | {"tcx": "<TrainingCenterDatabase ...>"} | {"items": [...]}}

It never holds a token or a header: only what the API answered and the call it
answered. An object that cannot be written is a dead letter (stage `archive`);
the rows of its answer are loaded all the same.

`ReadArchive` reads such objects back for `fitbeam rebuild`: per call (user,
kind, type, window, stream, exercise), the newest complete answer (every page,
the last one final), its pages in order, as `ApiPage`s that carry the archived
`answered_at` and the object they came from. Objects that cannot be read are
dead letters (stage `archive_read`); an answer missing a page is left out and
counted (`archive_incomplete_answers`).
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import datetime as dt
import gzip
import json
from collections.abc import Callable

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io import fileio
from apache_beam.io.filesystems import CompressionTypes, FileSystems
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import WindowedValue

from healthapi.elements import ApiCall, ApiPage
from transforms.dead_letters import DeadLetter, utc_now_rfc3339
from transforms.rows import answered_time

NAMESPACE = "fitbeam"
FORMAT = "fitbeam-raw-archive/1"
SUFFIX = ".json.gz"
# The data_type folder of the calls whose type is not a data point type.
SUMMARY_FOLDER = "daily-activity-summary"
TCX_FOLDER = "exercise-tcx"


def folder_type(call: ApiCall) -> str:
    """The `data_type=` folder of a call's answers."""
    if call.kind == "summary":
        return SUMMARY_FOLDER
    if call.kind == "tcx":
        return TCX_FOLDER
    return call.data_type


def _civil_day(page: ApiPage) -> str:
    call = page.call
    if call.kind in ("list", "summary"):
        return call.start[:10]
    if call.kind == "tcx":
        day = dict(call.parent).get("civil_date")
        if isinstance(day, dt.date):
            return day.isoformat()
    return page.answered_at[:10] or "unknown"


def object_name(page: ApiPage, run_id: str) -> str:
    """Where a page is archived, relative to the archive's root."""
    call = page.call
    answered = page.answered_at.replace("-", "").replace(":", "")[:15] or "unknown"
    return (
        f"user_key={call.user_key}/data_type={folder_type(call)}/date={_civil_day(page)}/"
        f"{answered}_{run_id}-{page.load_key}_p{page.part:04d}{SUFFIX}"
    )


def _answer(page: ApiPage) -> dict:
    kind = page.call.kind
    if kind == "list":
        return {"dataPoints": list(page.points)}
    if kind == "summary":
        return {"rollups": [[data_type, list(windows)] for data_type, windows in page.rollups]}
    if kind == "tcx":
        return {"tcx": page.tcx}
    return {"items": list(page.points)}


def archive_record(page: ApiPage, run_id: str, archived_at: str) -> dict:
    """The JSON object a page is archived as (see the module's docstring)."""
    call = page.call.to_json()
    call.pop("parent", None)  # the exercise row: made by fitbeam, not answered by the API
    return {
        "format": FORMAT,
        "call": call,
        "user_key": page.call.user_key,
        "run_id": run_id,
        "load_id": f"{run_id}-{page.load_key}",
        "load_key": page.load_key,
        "part": page.part,
        "final": page.final,
        "answered_at": page.answered_at,
        "archived_at": archived_at,
        "answer": _answer(page),
    }


def encode(record: dict) -> bytes:
    """A record as the gzipped JSON an archive object holds (mtime 0: same bytes each time)."""
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    return gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0)


# Archive objects written at once by one DoFn instance: the writes wait on storage, not
# on the CPU, and one at a time they held a fused fetch -> rows -> write branch up (a
# quarter of the demo's run).
WRITES_IN_FLIGHT = 8


def _write(path: str, data: bytes) -> None:
    with FileSystems.create(
        path, mime_type="application/gzip", compression_type=CompressionTypes.UNCOMPRESSED
    ) as out:
        out.write(data)


class _ArchivePagesFn(beam.DoFn):
    """Writes each page to the archive; a page that cannot be written is a dead letter.

    Writes run on a small pool of threads (`WRITES_IN_FLIGHT`); the bundle ends only
    when all of its writes have, so an answer is archived before its input is
    acknowledged. Each letter goes out in the window of the page it is about.
    """

    DEAD_LETTER = "dead_letter"

    def __init__(self, root: str, run_id: str, clock: Callable[[], dt.datetime] | None):
        self.root = root.rstrip("/")
        self.run_id = run_id
        self.clock = clock
        self.objects = Metrics.counter(NAMESPACE, "archive_objects")
        self.bytes = Metrics.counter(NAMESPACE, "archive_bytes")

    def setup(self):
        self.pool = concurrent.futures.ThreadPoolExecutor(
            WRITES_IN_FLIGHT, thread_name_prefix="fitbeam-archive"
        )
        self.pending: collections.deque = collections.deque()

    def teardown(self):
        pool = getattr(self, "pool", None)
        if pool is not None:
            pool.shutdown(wait=True)

    def start_bundle(self):
        self.pending = collections.deque()

    def process(
        self, page: ApiPage, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam
    ):
        now = utc_now_rfc3339(self.clock() if self.clock else None)
        path = f"{self.root}/{object_name(page, self.run_id)}"
        data = encode(archive_record(page, self.run_id, now))
        written = self.pool.submit(_write, path, data)
        self.pending.append((written, page, path, now, len(data), window, timestamp))
        while len(self.pending) > WRITES_IN_FLIGHT:
            yield from self._finish(*self.pending.popleft())

    def finish_bundle(self):
        while self.pending:
            yield from self._finish(*self.pending.popleft())

    def _finish(self, written, page: ApiPage, path, now, size, window, timestamp):
        try:
            written.result()
        except Exception as err:  # any storage failure: a letter, not a crash
            Metrics.counter(NAMESPACE, "dead_letters_archive").inc()
            letter = DeadLetter(
                stage="archive",
                original={"call": page.call.to_json(), "object": path, "part": page.part},
                error_class=type(err).__name__,
                message=f"the answer was loaded but not archived: {str(err)[:800]}",
                timestamp=now,
                user_key=page.call.user_key,
                replayable=False,
            )
            yield pvalue.TaggedOutput(self.DEAD_LETTER, WindowedValue(letter, timestamp, (window,)))
            return
        self.objects.inc()
        self.bytes.inc(size)


class ArchivePages(beam.PTransform):
    """ApiPage -> nothing on `main`; pages that could not be archived on `dead_letter`.

    Args:
        root: the archive's root folder, `gs://bucket/path` or a local path.
        run_id: the run's id (in each object's name and record).
        clock: the UTC time each object is stamped as archived at (test seam).

    Raises:
        ValueError: an empty root.
    """

    def __init__(self, root: str, run_id: str, clock: Callable[[], dt.datetime] | None = None):
        super().__init__()
        if not isinstance(root, str) or not root.strip("/"):
            raise ValueError(f"root {str(root)[:80]!r} must name a folder, e.g. gs://my-bucket/raw")
        self.root = root
        self.run_id = run_id
        self.clock = clock

    def expand(self, pages):
        fn = _ArchivePagesFn(self.root, self.run_id, self.clock)
        return pages | "Write" >> beam.ParDo(fn).with_outputs(
            _ArchivePagesFn.DEAD_LETTER, main="written"
        )


# --------------------------------------------------------------------------- reading back


class ArchiveError(ValueError):
    """An archive object that is not one fitbeam wrote."""


def decode(data: bytes, path: str) -> ApiPage:
    """An archive object's bytes -> the page it holds (the call without its parent).

    Raises:
        ArchiveError: not gzip, not JSON, another format, or a field missing or mistyped.
    """
    try:
        record = json.loads(gzip.decompress(data))
    except (OSError, EOFError, ValueError, RecursionError) as err:
        raise ArchiveError(f"{path}: not gzipped JSON ({type(err).__name__})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ArchiveError(f"{path}: not a fitbeam raw archive object (format {FORMAT!r})")
    try:
        # Only a call that planning could have made (ApiCall.from_json checks it).
        call = ApiCall.from_json(record["call"])
        answer, part, final = record["answer"], record["part"], record["final"]
        load_key, answered_at = record["load_key"], record["answered_at"]
        if type(part) is not int or part < 0 or type(final) is not bool:
            raise TypeError("part must be a whole number from 0 and final true or false")
        if not isinstance(load_key, str) or not load_key:
            raise TypeError("load_key must be a non-empty string")
        if not isinstance(answered_at, str) or not answered_at.endswith("Z"):
            raise TypeError("answered_at must be an RFC 3339 UTC time")
        answered_time(answered_at)
        if not isinstance(answer, dict):
            raise TypeError("answer must be an object")
        fields: dict = {}
        if call.kind == "list":
            fields["points"] = tuple(_items(answer["dataPoints"]))
        elif call.kind == "summary":
            fields["rollups"] = tuple(
                (data_type, tuple(_items(windows))) for data_type, windows in answer["rollups"]
            )
        elif call.kind == "tcx":
            if not isinstance(answer["tcx"], str):
                raise TypeError("tcx must be text")
            fields["tcx"] = answer["tcx"]
        else:
            fields["points"] = tuple(_items(answer["items"]))
        return ApiPage(
            call,
            part=part,
            final=final,
            load_key=load_key,
            answered_at=answered_at,
            source=path,
            **fields,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ArchiveError(f"{path}: a field is missing or of the wrong type ({err})") from None


def _items(value: object) -> list:
    if not isinstance(value, list):
        raise TypeError("an answer's points, windows or items must be a list")
    return value


def answer_key(call: ApiCall) -> tuple:
    """Answers to the same call: a rebuild keeps only the newest of them."""
    return (
        call.user_key,
        call.kind,
        call.data_type,
        call.start,
        call.end,
        call.stream,
        call.data_point_id,
    )


def newest_complete(pages: list[ApiPage]) -> tuple[list[ApiPage], int]:
    """Of the archived pages of one call, the newest complete answer's, in order.

    An answer is complete when it has parts 0..n without a gap, part n being the
    final one, and no part twice.

    Returns:
        (its pages, or [] when no answer is complete; how many newer answers were
        incomplete and passed over).
    """
    answers: dict[str, list[ApiPage]] = {}
    for page in pages:
        answers.setdefault(page.load_key, []).append(page)
    skipped = 0
    for _, parts in sorted(
        answers.items(), key=lambda kv: (max(p.answered_at for p in kv[1]), kv[0]), reverse=True
    ):
        parts.sort(key=lambda p: p.part)
        numbers = [p.part for p in parts]
        if (
            numbers == list(range(len(parts)))
            and parts[-1].final
            and not any(p.final for p in parts[:-1])
        ):
            return parts, skipped
        skipped += 1
    return [], skipped


class _ReadObjectFn(beam.DoFn):
    DEAD_LETTER = "dead_letter"

    def __init__(self, clock: Callable[[], dt.datetime] | None):
        self.clock = clock
        self.read = Metrics.counter(NAMESPACE, "archive_objects_read")

    def process(self, readable: fileio.ReadableFile):
        path = readable.metadata.path
        try:
            with readable.open(compression_type=CompressionTypes.UNCOMPRESSED) as f:
                data = f.read()
            page = decode(data, path)
        except (ArchiveError, OSError) as err:
            Metrics.counter(NAMESPACE, "dead_letters_archive_read").inc()
            yield pvalue.TaggedOutput(
                self.DEAD_LETTER,
                DeadLetter(
                    stage="archive_read",
                    original={"object": path},
                    error_class=type(err).__name__,
                    message=str(err)[:1000],
                    timestamp=utc_now_rfc3339(self.clock() if self.clock else None),
                    replayable=False,
                ),
            )
            return
        self.read.inc()
        yield answer_key(page.call), page


def _archive_objects(metadata):
    """Only the archive's objects: another file the glob matched is counted, not read."""
    if metadata.path.endswith(SUFFIX):
        yield metadata
    else:
        Metrics.counter(NAMESPACE, "archive_other_files").inc()


def _newest_pages(keyed):
    _, pages = keyed
    chosen, skipped = newest_complete(list(pages))
    if skipped:
        Metrics.counter(NAMESPACE, "archive_incomplete_answers").inc(skipped)
    yield from chosen


class ReadArchive(beam.PTransform):
    """Archive objects matching a glob -> the newest complete answer of each call.

    Outputs `pages` (ApiPage, each answer's pages in order, together) and
    `dead_letter`.

    Args:
        pattern: a glob of archive objects, local or gs://, e.g.
            'gs://my-bucket/raw/user_key=p-0042/**'.
        clock: the UTC time dead letters are stamped with (test seam).
    """

    def __init__(self, pattern: str, clock: Callable[[], dt.datetime] | None = None):
        super().__init__()
        if not isinstance(pattern, str) or not pattern.strip():
            raise ValueError(
                f"pattern {str(pattern)[:80]!r} must be a glob, e.g. gs://my-bucket/raw/**"
            )
        self.pattern = pattern
        self.clock = clock

    def expand(self, pbegin):
        read = (
            pbegin
            | "Find" >> fileio.MatchFiles(self.pattern)
            | "Objects" >> beam.FlatMap(_archive_objects)
            | "Open" >> fileio.ReadMatches()
            | "Decode"
            >> beam.ParDo(_ReadObjectFn(self.clock)).with_outputs(
                _ReadObjectFn.DEAD_LETTER, main="pages"
            )
        )
        pages = read.pages | "ByCall" >> beam.GroupByKey() | "Newest" >> beam.FlatMap(_newest_pages)
        return {"pages": pages, "dead_letter": read.dead_letter}


def _tcx_key(user_key: str, stream: str, data_point_id: str) -> tuple[str, str, str]:
    return user_key, stream, data_point_id


def _pair_tcx(keyed):
    """A rebuilt exercise's TCX call with its archived export: the page DetailRows reads."""
    _, grouped = keyed
    calls, exports = list(grouped["calls"]), list(grouped["exports"])
    if calls and exports:
        newest = max(exports, key=lambda page: (page.answered_at, page.load_key))
        yield dataclasses.replace(newest, call=calls[0])
    elif calls:
        Metrics.counter(NAMESPACE, "archive_tcx_missing").inc(len(calls))
    else:
        Metrics.counter(NAMESPACE, "archive_tcx_without_exercise").inc(len(exports))


class PairArchivedTcx(beam.PTransform):
    """The TCX calls of rebuilt exercises + archived TCX pages -> pages for the detail rows.

    A rebuild makes the exercises' rows with today's code, and their trackpoints hang
    from those rows: each TCX call the rebuilt rows plan is met with the archived
    export of its exercise (user, stream, exercise id), instead of the API. An
    exercise whose export is not archived (its call had failed) is counted as
    `archive_tcx_missing`; an export whose exercise is not rebuilt, as
    `archive_tcx_without_exercise`.
    """

    def __init__(self, exports: beam.PCollection):
        super().__init__()
        self.exports = exports

    def expand(self, calls):
        keyed_calls = calls | "KeyCalls" >> beam.Map(
            lambda c: (_tcx_key(c.user_key, c.stream, c.data_point_id), c)
        )
        keyed_exports = self.exports | "KeyExports" >> beam.Map(
            lambda p: (_tcx_key(p.call.user_key, p.call.stream, p.call.data_point_id), p)
        )
        return (
            {"calls": keyed_calls, "exports": keyed_exports}
            | "Join" >> beam.CoGroupByKey()
            | "Meet" >> beam.FlatMap(_pair_tcx)
        )
