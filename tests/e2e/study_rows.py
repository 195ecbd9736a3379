"""Hand-made rows for the study tests: a dataset, rows and the loads that show them.

A `<table>_current` view shows a row only when the latest load of a window
covering it (in `load_windows`) stamped it with its load id, so `Loads.add`
records one load per (user, table, stream) and rows carry its id.

The study test modules share one dataset (`shared_dataset`): making every table
and view takes most of their time. Each module has users of its own and reads
only them.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid

from localdev import emulators
from localdev.demo import emulator_bigquery_client
from pipeline import preflight
from schemas.bigquery import bigquery_table_schema

UTC = dt.UTC
LOADED_AT = "2026-12-01T00:00:00Z"

_DEFAULTS = {
    "STRING": "x",
    "INTEGER": 0,
    "FLOAT": 0.0,
    "BOOLEAN": False,
    "TIMESTAMP": "2026-01-01T00:00:00Z",
    "DATETIME": "2026-01-01T00:00:00",
}


def fresh_dataset(prefix: str) -> tuple[object, str]:
    """A new dataset with every table and view: (client, "project:dataset")."""
    client = emulator_bigquery_client()
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    client.create_dataset(f"{emulators.PROJECT}.{name}")
    dataset = f"{emulators.PROJECT}:{name}"
    preflight.prepare_dataset(dataset, client)
    return client, dataset


_SHARED: dict[str, tuple[object, str]] = {}


def shared_dataset() -> tuple[object, str]:
    """One dataset for every study test module of the session (per emulator)."""
    host = os.environ["BIGQUERY_EMULATOR_HOST"]
    if host not in _SHARED:
        _SHARED[host] = fresh_dataset("study")
    return _SHARED[host]


def row(table: str, **values) -> dict:
    """A row of `table`: `values`, and a plain value for every other REQUIRED column."""
    out = dict(values)
    for field in bigquery_table_schema(table)["fields"]:
        name = field["name"]
        if name in out or field["mode"] != "REQUIRED":
            continue
        if name == "record_key":
            out[name] = uuid.uuid4().hex
        elif field["type"] == "DATE":
            out[name] = str(values.get("civil_date", "2026-01-01"))
        else:
            out[name] = _DEFAULTS[field["type"]]
    return out


def iso(moment: dt.datetime) -> str:
    """A UTC instant as BigQuery JSON; a naive datetime as a civil one."""
    if moment.tzinfo is None:
        return moment.isoformat()
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def interval(table: str, user: str, start: dt.datetime, end: dt.datetime, **values) -> dict:
    """An interval point (steps, distance, sleep): UTC start/end and its offsets."""
    start_offset = int(values.pop("start_offset", values.pop("offset", 0)))
    end_offset = int(values.pop("end_offset", start_offset))
    civil_start = start.replace(tzinfo=None) + dt.timedelta(seconds=start_offset)
    civil_end = end.replace(tzinfo=None) + dt.timedelta(seconds=end_offset)
    day = (civil_end if table == "sleep" else civil_start).date()
    return row(
        table,
        user_key=user,
        start_time=iso(start),
        end_time=iso(end),
        start_utc_offset_seconds=start_offset,
        end_utc_offset_seconds=end_offset,
        civil_start_datetime=iso(civil_start),
        civil_end_datetime=iso(civil_end),
        civil_date=day.isoformat(),
        **{"stream": "reconciled", **values},
    )


def sample(table: str, user: str, at: dt.datetime, offset: int, **values) -> dict:
    """A sample point (heart rate, weight): its UTC instant and offset."""
    civil = at.replace(tzinfo=None) + dt.timedelta(seconds=offset)
    return row(
        table,
        user_key=user,
        sample_time=iso(at),
        utc_offset_seconds=offset,
        civil_datetime=iso(civil),
        civil_date=civil.date().isoformat(),
        **{"stream": "reconciled", **values},
    )


class Loads:
    """The `load_windows` rows of a test, one load per (user, table, stream)."""

    def __init__(self):
        self.rows: list[dict] = []

    def add(
        self,
        user: str,
        table: str,
        start: dt.datetime,
        end: dt.datetime,
        stream: str = "reconciled",
        loaded_at: str = LOADED_AT,
    ) -> str:
        load_id = f"{user}-{table}-{stream}-{len(self.rows)}"
        self.rows.append(
            row(
                "load_windows",
                user_key=user,
                civil_date=start.date().isoformat(),
                table_name=table,
                stream=stream,
                window_start=iso(start),
                window_end=iso(end),
                row_count=1,
                loaded_at=loaded_at,
                load_id=load_id,
                record_key=load_id,
            )
        )
        return load_id


def insert(client, dataset: str, table: str, rows: list[dict]) -> None:
    if not rows:
        return
    errors = client.insert_rows_json(f"{dataset.replace(':', '.')}.{table}", rows)
    assert not errors, errors[:3]
