"""The rows stage: API answers -> (table, row) pairs, detail calls and load-log rows.

`ToRows` takes `ApiPage`s and yields `(table, row)` pairs. From every exercise
it also emits a `tcx` `ApiCall` on the `detail` output, which the same graph
fetches and feeds back through `ToRows` (no Pub/Sub round trip). Points that
cannot become rows go to the `dead_letter` output with the point itself.

Each page counts, once: the TCX calls it planned, and, when it is the answer's
last, one call done (`calls_planned`, `calls_answered` and the run's progress
line, `pipeline.progress`).

Every complete answer also yields one `load_windows` row: the load's id (stamped
on each of its rows), its user, table and civil window. The `<table>_current`
views (`schemas.views`) show, for every window, only its latest load.

A field of a point that its type's row plan does not know (`rows.datapoints.
unmapped_fields`) is counted, per data type and field path, in the counter
`unmapped_fields/<data type>/<path>`; the run report lists them, so an API change
is seen rather than dropped silently.
"""

from __future__ import annotations

import datetime as dt
import gc
import uuid
from collections.abc import Callable

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from healthapi.elements import ApiPage
from healthapi.nesting import MAX_NESTING, nested_deeper_than
from healthapi.planning import detail_call
from pipeline import progress
from rows import daily_summary, datapoints, load_windows, tcx
from transforms.dead_letters import DeadLetter, utc_now_rfc3339

NAMESPACE = "fitbeam"
UNMAPPED_PREFIX = "unmapped_fields/"
# What a dead letter keeps of a value too deeply nested to write or to show.
_TOO_DEEP = f"[not kept: nested more than {MAX_NESTING} levels deep]"
# Row building raises RowError for a malformed value. A few malformed values still escape
# it as another ValueError (text with a lone surrogate, which record_key cannot encode) or
# as OverflowError (a date or number out of range): they are malformed points too.
_POINT_ERRORS = (ValueError, OverflowError)
# The cyclic garbage collector's thresholds in a process that makes rows. Rows and API
# points are dicts without cycles, made and freed by the million (reference counting frees
# them); Python's default looks at young objects every 700 allocations, which cost about
# a sixth of a heart-rate load's CPU (49.4 -> 42.0 CPU-s per million rows, peak memory
# alike). The collector still runs, every 100,000 allocations.
GC_THRESHOLD = (100_000, 50, 1_000)


class _ToRowsFn(beam.DoFn):
    """ApiPage -> (table, row), plus detail calls and dead letters.

    A list call's answer may come as several pages; its rows come page by page,
    and its one `load_windows` row with its last page, counting the rows of all.

    Args:
        run_id: the run's id, stamped on every row.
        ingest_time: the run's start (UTC), stamped on every row.
        fan_out_tcx: emit a TCX call for every exercise.
        clock: the UTC time a load is recorded at (test seam).
        origin: where the pages came from, recorded on each load (`rows.load_windows.ORIGINS`).
    """

    DEAD_LETTER = "dead_letter"
    DETAIL = "detail"

    def __init__(
        self,
        run_id: str,
        ingest_time: dt.datetime,
        fan_out_tcx: bool = True,
        clock: Callable[[], dt.datetime] | None = None,
        origin: str = load_windows.ORIGIN_API,
    ):
        self.run_id = run_id
        self.ingest_time = ingest_time
        self.fan_out_tcx = fan_out_tcx
        self.clock = clock
        self.origin = origin
        self.partial: dict[str, int] = {}  # see start_bundle
        self.planned = Metrics.counter(NAMESPACE, "calls_planned")
        self.answered = Metrics.counter(NAMESPACE, "calls_answered")
        self.unmapped: dict[tuple[str, str], object] = {}  # (type, path) -> its counter

    def setup(self):
        if gc.get_threshold()[0] < GC_THRESHOLD[0]:
            gc.set_threshold(*GC_THRESHOLD)

    def _count_unmapped(self, data_type: str, paths: list[str]) -> None:
        """Counts fields no row plan knows: rare, so each counter is made when first met."""
        for path in paths:
            counter = self.unmapped.get((data_type, path))
            if counter is None:
                name = f"{UNMAPPED_PREFIX}{data_type}/{path}"
                counter = self.unmapped[data_type, path] = Metrics.counter(NAMESPACE, name)
            counter.inc()

    def _dead(self, stage: str, page: ApiPage, original: object, err: Exception) -> DeadLetter:
        Metrics.counter(NAMESPACE, f"dead_letters_{stage}").inc()
        return DeadLetter(
            stage=stage,
            original=original,
            error_class=type(err).__name__,
            message=str(err)[:1000],
            timestamp=utc_now_rfc3339(self.clock() if self.clock else None),
            user_key=page.call.user_key,
            replayable=False,
        )

    def start_bundle(self):
        # Rows of answers whose last page has not come yet: load key -> rows so far.
        # The pages of one answer come in order from the fetch it is fused with, within
        # one bundle; an answer that fails after some pages never gets its load row.
        self.partial: dict[str, int] = {}

    def process(self, page: ApiPage):
        call = page.call
        key = page.load_key or uuid.uuid4().hex[:16]
        load_id = f"{self.run_id}-{key}"
        ctx = datapoints.RowContext(call.user_key, self.run_id, self.ingest_time, load_id)
        table = load_windows.load_table(call)
        count, complete, details = 0, True, 0
        for out in self._outputs(page, ctx):
            if isinstance(out, pvalue.TaggedOutput):
                # A summary or TCX that does not parse leaves its window as it was.
                complete = complete and not (
                    out.tag == self.DEAD_LETTER and call.kind in ("summary", "tcx")
                )
                if out.tag == self.DETAIL:
                    details += 1
            elif out[0] == table:
                count += 1
            yield out
        self._count_calls(details, page.final)
        partial = self.partial
        if not page.final:
            partial[key] = partial.get(key, 0) + count
            return
        count += partial.pop(key, 0)
        if complete:
            loaded_at = self.clock() if self.clock else dt.datetime.now(dt.UTC)
            yield (
                load_windows.TABLE,
                load_windows.load_row(
                    call,
                    ctx,
                    table,
                    count,
                    loaded_at,
                    origin=self.origin,
                    answered_at=answered_time(page.answered_at),
                    source_uri=page.source or None,
                ),
            )

    def _count_calls(self, details: int, final: bool) -> None:
        """The page's TCX calls, planned; its call, done when this is its last page."""
        if details:
            self.planned.inc(details)
        if final:
            self.answered.inc()
        if details or final:
            progress.TALLY.add(planned=details, done=int(final))

    def _dead_point(self, page: ApiPage, point: object, err: Exception) -> DeadLetter:
        """The dead letter of a point that gave no rows.

        A point is measured only here, when it is to be kept in a dead letter: rows take
        only the values their schema names, so a point's nesting matters only where the
        point itself is kept, and measuring every point cost more than making its rows.
        """
        if nested_deeper_than(point):
            err = datapoints.RowError("dataPoint", f"nested more than {MAX_NESTING} deep")
            point = _TOO_DEEP
        return self._dead("rows", page, {"call": page.call.to_json(), "point": point}, err)

    def _outputs(self, page: ApiPage, ctx: datapoints.RowContext):
        call = page.call
        if call.kind == "list":
            data_type = call.data_type
            unmapped_fields = datapoints.unmapped_fields
            for point in page.points:
                unknown = unmapped_fields(data_type, point)
                if unknown:
                    self._count_unmapped(data_type, unknown)
                try:
                    pairs = datapoints.rows_for_point(data_type, point, ctx, call.stream)
                # RecursionError: an error message showing a value nested too deeply.
                except (*_POINT_ERRORS, RecursionError) as err:
                    yield pvalue.TaggedOutput(self.DEAD_LETTER, self._dead_point(page, point, err))
                    continue
                for table, row in pairs:
                    yield table, row
                    if table == "exercise" and self.fan_out_tcx and row.get("data_point_id"):
                        yield pvalue.TaggedOutput(self.DETAIL, detail_call(call, row))
        elif call.kind == "summary":
            try:
                if nested_deeper_than(page.rollups):
                    raise datapoints.RowError("dailyRollUp", f"nested more than {MAX_NESTING} deep")
                pairs = daily_summary.summary_rows(daily_summary.summary_windows(page.rollups), ctx)
            except _POINT_ERRORS as err:
                rollups = _TOO_DEEP if nested_deeper_than(page.rollups) else dict(page.rollups)
                original = {"call": call.to_json(), "rollups": rollups}
                yield pvalue.TaggedOutput(self.DEAD_LETTER, self._dead("rows", page, original, err))
                return
            yield from pairs
        elif call.kind == "tcx":
            try:
                if nested_deeper_than(call.parent):
                    raise datapoints.RowError("exercise", f"nested more than {MAX_NESTING} deep")
                pairs = tcx.trackpoint_rows(page.tcx, dict(call.parent), ctx)
            except (tcx.TcxError, *_POINT_ERRORS) as err:
                original = {"call": call.to_json(), "tcx_excerpt": page.tcx[:2000]}
                yield pvalue.TaggedOutput(self.DEAD_LETTER, self._dead("tcx", page, original, err))
                return
            yield from pairs


def answered_time(text: str) -> dt.datetime | None:
    """`ApiPage.answered_at` (RFC 3339 UTC) as a datetime; None when it is empty."""
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def check_run_stamp(run_id: str, ingest_time: dt.datetime) -> None:
    """Checks the run id and ingest time that every row of a run is stamped with.

    Raises:
        ValueError: an empty run id or an ingest time that is not UTC.
    """
    if not isinstance(run_id, str) or not run_id:
        raise ValueError(
            f"run_id {str(run_id)[:40]!r} must be a non-empty string, "
            "e.g. run-20261201T000000Z-abc123"
        )
    if not isinstance(ingest_time, dt.datetime) or ingest_time.utcoffset() != dt.timedelta(0):
        raise ValueError(f"ingest_time {str(ingest_time)[:40]!r} must be a UTC datetime")


class ToRows(beam.PTransform):
    """ApiPage -> (table, row) (`rows`), with `detail` and `dead_letter` outputs.

    Args:
        run_id: the run's id, stamped on every row.
        ingest_time: the run's start (UTC), stamped on every row.
        fan_out_tcx: emit a TCX call for every exercise (off for the detail rows and for
            a rebuild, whose archive holds the TCX exports themselves).
        clock: the UTC time a load is recorded at (test seam).
        origin: where the pages came from: `api`, or `archive` for a rebuild.

    Raises:
        ValueError: an empty run id, an ingest time that is not UTC, or an unknown origin.
    """

    def __init__(
        self,
        run_id: str,
        ingest_time: dt.datetime,
        fan_out_tcx: bool = True,
        clock: Callable[[], dt.datetime] | None = None,
        origin: str = load_windows.ORIGIN_API,
    ):
        super().__init__()
        check_run_stamp(run_id, ingest_time)
        if origin not in load_windows.ORIGINS:
            raise ValueError(
                f"origin {str(origin)[:40]!r} is not one of {', '.join(load_windows.ORIGINS)}"
            )
        self.run_id = run_id
        self.ingest_time = ingest_time
        self.fan_out_tcx = fan_out_tcx
        self.clock = clock
        self.origin = origin

    def expand(self, pages):
        fn = _ToRowsFn(self.run_id, self.ingest_time, self.fan_out_tcx, self.clock, self.origin)
        return pages | "Build" >> beam.ParDo(fn).with_outputs(
            _ToRowsFn.DEAD_LETTER, _ToRowsFn.DETAIL, main="rows"
        )
