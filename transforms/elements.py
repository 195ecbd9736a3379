"""The elements that flow through the pipeline, and the dead letter.

All are frozen dataclasses with value equality, small enough to shuffle.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

STREAM_RECONCILED = "reconciled"
STREAM_RAW = "raw"

BODY_EXCERPT_CHARS = 2000


@dataclasses.dataclass(frozen=True)
class FetchRequest:
    """What a user wants loaded: one data type over inclusive civil dates."""

    user_key: str
    data_type: str
    start_date: dt.date
    end_date: dt.date
    stream: str = STREAM_RECONCILED

    def to_json(self) -> dict:
        return {
            "user_key": self.user_key,
            "data_type": self.data_type,
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat(),
            "stream": self.stream,
        }


@dataclasses.dataclass(frozen=True)
class ApiCall:
    """One planned unit of API work.

    `kind` is `list` (points of one data type over a civil window, all pages),
    `summary` (the daily activity summary: dailyRollUp of several types) or
    `tcx` (one exercise's TCX export).

    Attributes:
        user_key: whose token to use.
        kind: what to call.
        data_type: API data type name (`exercise` for tcx, `summary` for summary).
        start: inclusive civil start (`YYYY-MM-DDTHH:MM:SS`), or a date for summary.
        end: exclusive civil end, same form.
        stream: `reconciled` or `raw`.
        data_point_id: the exercise id, for tcx.
        parent: for tcx, the exercise row the trackpoints hang from (a small dict).
    """

    user_key: str
    kind: str
    data_type: str
    start: str = ""
    end: str = ""
    stream: str = STREAM_RECONCILED
    data_point_id: str = ""
    parent: tuple = ()

    def to_json(self) -> dict:
        out = {
            "user_key": self.user_key,
            "kind": self.kind,
            "data_type": self.data_type,
            "start": self.start,
            "end": self.end,
            "stream": self.stream,
        }
        if self.data_point_id:
            out["data_point_id"] = self.data_point_id
        if self.parent:
            out["parent"] = dict(self.parent)
        return out


@dataclasses.dataclass(frozen=True)
class ApiPage:
    """The points one API call returned (all pages, deduplicated), ready for row building."""

    call: ApiCall
    points: tuple = ()
    tcx: str = ""
    rollups: tuple = ()  # summary: ((data_type, windows), ...)


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

    def to_json(self) -> str:
        record = dataclasses.asdict(self)
        record["original"] = self.original
        record["body"] = self.body[:BODY_EXCERPT_CHARS]
        return json.dumps(record, default=_jsonable, sort_keys=True)


def utc_now_rfc3339(now: dt.datetime | None = None) -> str:
    moment = now or dt.datetime.now(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
