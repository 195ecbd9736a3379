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
from schemas.views import IMPORT_ORIGINS, IMPORT_RUN_PREFIX  # noqa: F401 - used by imports

TABLE = LOAD_LOG_TABLE
# Where a load's answer came from. Answers of the API (fetched, or rebuilt from the raw
# archive) win over imported history where both cover a time (`schemas.views`).
ORIGIN_API = "api"
ORIGIN_ARCHIVE = "archive"
ORIGIN_TAKEOUT, ORIGIN_LEGACY = IMPORT_ORIGINS
ORIGINS = (ORIGIN_API, ORIGIN_ARCHIVE, *IMPORT_ORIGINS)
# Every import's run id starts with IMPORT_RUN_PREFIX, and its rows' load ids with it:
# the views tell an imported row from a fetched one by it (`schemas.views`).


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
    call: ApiCall,
    ctx: RowContext,
    table: str,
    count: int,
    loaded_at: dt.datetime,
    origin: str = ORIGIN_API,
    answered_at: dt.datetime | None = None,
    source_uri: str | None = None,
) -> dict:
    """The `load_windows` row of one complete answer: who, which table, which civil window.

    A list call's window is its civil [start, end); a summary call's its civil
    dates from 00:00; a TCX export has no window but its exercise's id.

    Args:
        origin: where the answer came from (`ORIGINS`).
        answered_at: when the API answered (None: unknown); a rebuild gives the
            archived answer's time.
        source_uri: the file the answer was read from (a rebuild's archive object,
            an import's file); None for a fetched answer.
    """
    if call.kind == "tcx":
        parent = dict(call.parent)
        start = end = None
        day = parent.get("civil_date")
        civil_date = day if isinstance(day, dt.date) else ctx.ingest_time.date()
    else:
        start, end = (civil_bound(text) for text in (call.start, call.end))
        civil_date = start.date()
    return window_row(
        ctx,
        table,
        call.stream,
        (start, end),
        call.data_point_id or None,
        civil_date,
        count,
        loaded_at,
        origin,
        answered_at,
        source_uri,
    )


def window_row(
    ctx: RowContext,
    table: str,
    stream: str,
    window: tuple[dt.datetime | None, dt.datetime | None],
    data_point_id: str | None,
    civil_date: dt.date,
    count: int,
    loaded_at: dt.datetime,
    origin: str = ORIGIN_API,
    answered_at: dt.datetime | None = None,
    source_uri: str | None = None,
) -> dict:
    """A `load_windows` row: `load_row`'s for an API answer, an import's for a file's unit.

    Raises:
        ValueError: an origin that is not one of `ORIGINS`.
    """
    if origin not in ORIGINS:
        raise ValueError(f"origin {origin[:40]!r} is not one of {', '.join(ORIGINS)}")
    start, end = window
    return {
        "user_key": ctx.user_key,
        "civil_date": civil_date,
        "table_name": table,
        "stream": stream,
        "window_start": start,
        "window_end": end,
        "data_point_id": data_point_id,
        "row_count": count,
        "loaded_at": loaded_at,
        "origin": origin,
        "answered_at": answered_at,
        "source_uri": source_uri,
        "load_id": ctx.load_id,
        "record_key": ctx.load_id,
        "run_id": ctx.run_id,
        "ingest_time": ctx.ingest_time,
    }


def civil_bound(text: str) -> dt.datetime:
    """`YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS` (civil, no offset) as a naive datetime."""
    return (
        dt.datetime.fromisoformat(text)
        if "T" in text
        else dt.datetime.fromisoformat(text + "T00:00:00")
    )
