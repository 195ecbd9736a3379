"""The units of API work: what a user wants loaded, each planned call, and its answer.

`FetchRequest` (a request message or CLI range, parsed) -> `ApiCall` (planned by
`healthapi.planning`) -> `ApiPage` (carried out by `healthapi.calls`). All are
frozen dataclasses with value equality, small enough to shuffle between workers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

STREAM_RECONCILED = "reconciled"
STREAM_RAW = "raw"


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

    @classmethod
    def from_json(cls, obj: dict) -> ApiCall:
        """The ApiCall that `to_json` wrote (a dead letter keeps calls so).

        Raises:
            ValueError: a field is missing or has the wrong type.
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
        return cls(
            **fields,
            data_point_id=str(obj.get("data_point_id", "")),
            parent=tuple(parent.items()),
        )


_CALL_FIELDS = ("user_key", "kind", "data_type", "start", "end", "stream")


@dataclasses.dataclass(frozen=True)
class ApiPage:
    """The points one API call returned (all pages, deduplicated), ready for row building."""

    call: ApiCall
    points: tuple = ()
    tcx: str = ""
    rollups: tuple = ()  # summary: ((data_type, windows), ...)
