"""The load log: one `load_windows` row per complete API answer.

Every complete answer (a list call's pages, a summary, a TCX export) yields one
row saying which user, table and civil window it loaded, under the load id
stamped on each of its rows. The `<table>_current` views (`schemas.views`) show,
for every window, only its latest load, so a window loaded twice counts once.
Pure and Beam-free.
"""

from __future__ import annotations

import datetime as dt

from healthapi import datatypes, user_resources
from healthapi.elements import ApiCall
from rows import tcx
from rows.datapoints import RowContext
from schemas.bigquery import LOAD_LOG_TABLE

TABLE = LOAD_LOG_TABLE


def load_table(call: ApiCall) -> str:
    """The table a call's answer loads."""
    if call.kind == "summary":
        return datatypes.SUMMARY_TABLE
    if call.kind == "tcx":
        return tcx.TABLE
    if call.kind == "user":
        return user_resources.resource(call.data_type).table
    return datatypes.spec(call.data_type).table


def load_row(
    call: ApiCall, ctx: RowContext, table: str, count: int, loaded_at: dt.datetime
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
