"""Beam step that turns API answers into table rows and fans out detail calls.

`ToRows` takes `ApiPage`s and yields `(table, row)` pairs. From every exercise
it also emits a `tcx` `ApiCall` on the `detail` output, which the same graph
fetches and feeds back through `ToRows` (no Pub/Sub round trip). Points that
cannot become rows go to the `dead_letter` output with the point itself.

Every complete answer also yields one `load_windows` row: the load's id (stamped
on each of its rows), its user, table and civil window. The `<table>_current`
views (`schemas.views`) show, for every window, only its latest load.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from transforms import datatypes, rows, tcx
from transforms.elements import ApiCall, ApiPage, DeadLetter, utc_now_rfc3339

NAMESPACE = "fitbeam"


class ToRowsFn(beam.DoFn):
    """ApiPage -> (table, row), plus detail calls and dead letters.

    Args:
        run_id: the run's id, stamped on every row.
        ingest_time: the run's start (UTC), stamped on every row.
        fan_out_tcx: emit a TCX call for every exercise.
        clock: the UTC time a load is recorded at (test seam).
    """

    DEAD_LETTER = "dead_letter"
    DETAIL = "detail"

    def __init__(
        self,
        run_id: str,
        ingest_time: dt.datetime,
        fan_out_tcx: bool = True,
        clock: Callable[[], dt.datetime] | None = None,
    ):
        self.run_id = run_id
        self.ingest_time = ingest_time
        self.fan_out_tcx = fan_out_tcx
        self.clock = clock

    def _dead(self, stage: str, page: ApiPage, original: object, err: Exception) -> DeadLetter:
        Metrics.counter(NAMESPACE, f"dead_letters_{stage}").inc()
        return DeadLetter(
            stage=stage,
            original=original,
            error_class=type(err).__name__,
            message=str(err)[:1000],
            timestamp=utc_now_rfc3339(),
            user_key=page.call.user_key,
            replayable=False,
        )

    def process(self, page: ApiPage):
        call = page.call
        loaded_at = self.clock() if self.clock else dt.datetime.now(dt.UTC)
        load_id = f"{self.run_id}-{uuid.uuid4().hex[:16]}"
        ctx = rows.RowContext(call.user_key, self.run_id, self.ingest_time, load_id)
        table = load_table(call)
        count, complete = 0, True
        for out in self._outputs(page, ctx):
            if isinstance(out, pvalue.TaggedOutput):
                # A summary or TCX that does not parse leaves its window as it was.
                complete = complete and not (
                    out.tag == self.DEAD_LETTER and call.kind in ("summary", "tcx")
                )
            elif out[0] == table:
                count += 1
            yield out
        if complete:
            yield rows.LOAD_LOG_TABLE, load_row(call, ctx, table, count, loaded_at)

    def _outputs(self, page: ApiPage, ctx: rows.RowContext):
        call = page.call
        if call.kind == "list":
            for point in page.points:
                try:
                    pairs = rows.rows_for_point(call.data_type, point, ctx, call.stream)
                except rows.RowError as err:
                    yield pvalue.TaggedOutput(
                        self.DEAD_LETTER,
                        self._dead("rows", page, {"call": call.to_json(), "point": point}, err),
                    )
                    continue
                for table, row in pairs:
                    yield table, row
                    if table == "exercise" and self.fan_out_tcx and row.get("data_point_id"):
                        yield pvalue.TaggedOutput(self.DETAIL, detail_call(call, row))
        elif call.kind == "summary":
            try:
                pairs = rows.summary_rows(summary_windows(page.rollups), ctx)
            except rows.RowError as err:
                original = {"call": call.to_json(), "rollups": dict(page.rollups)}
                yield pvalue.TaggedOutput(self.DEAD_LETTER, self._dead("rows", page, original, err))
                return
            yield from pairs
        elif call.kind == "tcx":
            try:
                pairs = tcx.trackpoint_rows(page.tcx, dict(call.parent), ctx)
            except (tcx.TcxError, rows.RowError) as err:
                original = {"call": call.to_json(), "tcx_excerpt": page.tcx[:2000]}
                yield pvalue.TaggedOutput(self.DEAD_LETTER, self._dead("tcx", page, original, err))
                return
            yield from pairs


def load_table(call: ApiCall) -> str:
    """The table a call's answer loads."""
    if call.kind == "summary":
        return rows.SUMMARY_TABLE
    if call.kind == "tcx":
        return "exercise_tcx_trackpoints"
    return datatypes.spec(call.data_type).table


def load_row(
    call: ApiCall, ctx: rows.RowContext, table: str, count: int, loaded_at: dt.datetime
) -> dict:
    """The `load_windows` row of one complete answer: who, which table, which civil window.

    A list call's window is its civil [start, end); a summary call's its civil
    dates from 00:00; a TCX export has no window but its exercise's id.
    """
    if call.kind == "tcx":
        parent = dict(call.parent)
        start = end = None
        day = parent.get("civil_date")
        civil_date = day if isinstance(day, dt.date) else ctx.ingest_time.date()
    else:
        start, end = (_civil(text) for text in (call.start, call.end))
        civil_date = start.date()
    return {
        "user_key": call.user_key,
        "civil_date": civil_date,
        "table_name": table,
        "stream": call.stream,
        "window_start": start,
        "window_end": end,
        "data_point_id": call.data_point_id or None,
        "row_count": count,
        "loaded_at": loaded_at,
        "load_id": ctx.load_id,
        "record_key": ctx.load_id,
        "run_id": ctx.run_id,
        "ingest_time": ctx.ingest_time,
    }


def _civil(text: str) -> dt.datetime:
    """`YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS` (civil, no offset) as a naive datetime."""
    return (
        dt.datetime.fromisoformat(text)
        if "T" in text
        else dt.datetime.fromisoformat(text + "T00:00:00")
    )


def detail_call(call: ApiCall, exercise_row: dict) -> ApiCall:
    """The one function that builds a detail request: an exercise's TCX export."""
    return ApiCall(
        user_key=call.user_key,
        kind="tcx",
        data_type="exercise",
        stream=call.stream,
        data_point_id=exercise_row["data_point_id"],
        parent=tuple(sorted(exercise_row.items())),
    )


def summary_windows(rollups: tuple) -> dict[dt.date, dict[str, dict | None]]:
    """dailyRollUp answers per type -> {civil date: {data type: rollup value}}."""
    out: dict[dt.date, dict[str, dict | None]] = {}
    for data_type, windows in rollups:
        key = datatypes.spec(data_type).json_key
        for window in windows:
            try:
                d = window["civilStartTime"]["date"]
                day = dt.date(d["year"], d["month"], d["day"])
            except (KeyError, TypeError, ValueError) as err:
                raise rows.RowError(
                    f"dailyRollUp[{data_type}].civilStartTime", f"no civil date: {err!r:.80}"
                ) from err
            # No value object: the type had no data that day (null columns).
            out.setdefault(day, {})[data_type] = window.get(key)
    return out


class ToRows(beam.PTransform):
    """ApiPage -> (table, row) with `detail` and `dead_letter` outputs."""

    def __init__(self, fn: ToRowsFn, label: str = "ToRowsFn"):
        super().__init__()
        self.fn = fn
        self.label_ = label

    def expand(self, pages):
        return pages | self.label_ >> beam.ParDo(self.fn).with_outputs(
            ToRowsFn.DEAD_LETTER, ToRowsFn.DETAIL, main="rows"
        )
