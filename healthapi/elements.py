"""The units of API work: what a user wants loaded, each planned call, and its answer.

`FetchRequest` (a request message or CLI range, parsed) -> `ApiCall` (planned by
`healthapi.planning`) -> `ApiPage` (carried out by `healthapi.calls`). All are
frozen dataclasses with value equality, small enough to shuffle between workers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from healthapi import datatypes
from healthapi.auth.store import check_user_key

STREAM_RECONCILED = "reconciled"
STREAM_RAW = "raw"
# The data type names a summary call has carried (planning writes the first).
SUMMARY_CALL_TYPES = ("daily-activity-summary", "summary")


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
    `summary` (the daily activity summary: dailyRollUp of several types),
    `tcx` (one exercise's TCX export) or `user` (one user-level resource, named by
    `data_type`: see `healthapi.user_resources`).

    Attributes:
        user_key: whose token to use.
        kind: what to call.
        data_type: API data type name (`exercise` for tcx, `summary` for summary, the
            resource for user: `paired-devices`, `profile`, `settings`, `irn-profile`).
        start: inclusive civil start (`YYYY-MM-DDTHH:MM:SS`), or a date for summary;
            empty for tcx and user.
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

    @classmethod
    def from_json(cls, obj: dict) -> ApiCall:
        """The ApiCall that `to_json` wrote (a dead letter keeps calls so).

        Only a call that planning could have made is read back: a replayed call is
        carried out as it reads, so a user key, kind, data type, stream or window
        that no planned call has is refused here rather than failing a later stage.

        Raises:
            ValueError: a field is missing, has the wrong type, or a value no
                planned call has.
        """
        if not isinstance(obj, dict):
            raise ValueError("a call must be a JSON object")
        missing = [k for k in _CALL_FIELDS if k not in obj]
        if missing:
            raise ValueError(f"the call has no {missing[0]!r}")
        fields = {k: obj[k] for k in _CALL_FIELDS}
        if not all(isinstance(v, str) for v in fields.values()):
            raise ValueError(f"call fields must be strings: {sorted(fields)}")
        parent = obj.get("parent") or {}
        if not isinstance(parent, dict):
            raise ValueError("call parent must be an object")
        data_point_id = obj.get("data_point_id", "")
        if not isinstance(data_point_id, str):
            raise ValueError("call data_point_id must be a string")
        call = cls(**fields, data_point_id=data_point_id, parent=tuple(parent.items()))
        _check_planned(call)
        return call


_CALL_FIELDS = ("user_key", "kind", "data_type", "start", "end", "stream")
# The civil bounds planning writes: a date, or a date and time (ASCII digits).
_CIVIL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CIVIL_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2})?")


def _window(call: ApiCall, form: re.Pattern) -> None:
    """Raises ValueError unless start < end, both civil times of the given form."""
    try:
        if not (form.fullmatch(call.start) and form.fullmatch(call.end)):
            raise ValueError
        start, end = (dt.datetime.fromisoformat(text) for text in (call.start, call.end))
    except ValueError:
        raise ValueError(
            f"call window {call.start[:40]!r}..{call.end[:40]!r} is not two civil times "
            "such as 2026-11-20 or 2026-11-20T06:00:00"
        ) from None
    if not start < end:
        raise ValueError(f"call window {call.start!r}..{call.end!r} is empty")


def _check_planned(call: ApiCall) -> None:
    """Raises ValueError unless planning could have made `call`."""
    check_user_key(call.user_key)
    if call.stream not in (STREAM_RECONCILED, STREAM_RAW):
        raise ValueError(f"call stream {call.stream[:40]!r} is not reconciled or raw")
    if call.kind == "list":
        spec = datatypes.SPECS.get(call.data_type)
        if spec is None or spec.kind is datatypes.Kind.ROLLUP_ONLY:
            raise ValueError(f"call data type {call.data_type[:40]!r} cannot be listed")
        _window(call, _CIVIL_DATETIME)
    elif call.kind == "summary":
        if call.data_type not in SUMMARY_CALL_TYPES:
            raise ValueError(f"a summary call's data type is {SUMMARY_CALL_TYPES[0]!r}")
        _window(call, _CIVIL_DATE)
    elif call.kind == "tcx":
        if call.data_type != "exercise" or not call.data_point_id:
            raise ValueError("a tcx call names an exercise and its data point id")
    elif call.kind == "user":
        from healthapi import user_resources  # it builds ApiCalls: imported when needed

        if call.data_type not in user_resources.RESOURCES:
            raise ValueError(
                f"a user call's resource {call.data_type[:40]!r} is not one of "
                f"{', '.join(user_resources.RESOURCES)}"
            )
        if call.start or call.end or call.data_point_id or call.parent:
            raise ValueError("a user call has no window, data point id or parent")
    else:
        raise ValueError(f"call kind {call.kind[:40]!r} is not list, summary, tcx or user")


@dataclasses.dataclass(frozen=True)
class ApiPage:
    """Points one API call returned, ready for row building: a page of them, or all.

    Attributes:
        call: the call answered.
        points: list calls: this page's points (tie re-reads merged in).
        tcx: tcx calls: the export.
        rollups: summary calls: ((data_type, windows), ...).
        part: which page of the answer this is, from 0.
        final: the answer's last page: its load is complete once this one is in.
        load_key: the same for every page of one answer (empty: a one-page answer).
        answered_at: when the API answered this page (RFC 3339 UTC; empty: unknown).
            A rebuild carries the archived time, so its load ranks where the original's
            did (`schemas.views`).
        source: where the answer was read from instead of the API: the raw-archive
            object of a rebuild (empty for a fetched answer).
    """

    call: ApiCall
    points: tuple = ()
    tcx: str = ""
    rollups: tuple = ()
    part: int = 0
    final: bool = True
    load_key: str = ""
    answered_at: str = ""
    source: str = ""
