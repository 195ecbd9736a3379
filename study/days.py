"""Participant-days read from the `participant_days` view (schemas/study_views.py).

`read_days(client, "my-project:fitbit", start, end)` returns the view's rows
for civil dates in [start, end] as `study.model.ParticipantDay` values. Any
`google.cloud.bigquery.Client` works; `BIGQUERY_EMULATOR_HOST` and
`localdev.demo.emulator_bigquery_client()` point one at the local emulator.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Mapping

from schemas.bigquery import _check_dataset, _check_project
from schemas.study_views import PARTICIPANT_DAYS
from study.model import ParticipantDay

COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ParticipantDay))
DATASET_EXAMPLE = "my-project:fitbit"


def split_dataset(dataset: str) -> tuple[str, str]:
    """`project:dataset` -> (project, dataset), both checked.

    Raises:
        ValueError: naming the value and an example of a good one.
    """
    project, sep, dataset_id = str(dataset).partition(":")
    if not sep:
        raise ValueError(
            f"dataset {str(dataset)[:80]!r} is not PROJECT:DATASET; e.g. {DATASET_EXAMPLE}"
        )
    _check_project(project)
    _check_dataset(dataset_id)
    return project, dataset_id


def table_ref(dataset: str, name: str) -> str:
    """The backquoted `project.dataset.name` of a checked dataset and a constant name."""
    project, dataset_id = split_dataset(dataset)
    return f"`{project}.{dataset_id}.{name}`"


def bigquery_client(project: str, env: Mapping[str, str] = os.environ):
    """A BigQuery client of `project`; the emulator's when `BIGQUERY_EMULATOR_HOST` is set
    (as `source .local/emulators.env` sets it), with or without its scheme.

    The one such client of the study commands (status, report, forget).
    """
    from google.cloud import bigquery

    host = env.get("BIGQUERY_EMULATOR_HOST")
    if not host:
        return bigquery.Client(project=project)
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials

    endpoint = host if "://" in host else f"http://{host}"
    return bigquery.Client(
        project=project,
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=endpoint),
    )


def client_for(dataset: str):
    """`bigquery_client` of the dataset's project.

    Raises:
        ValueError: a malformed dataset.
    """
    return bigquery_client(split_dataset(dataset)[0])


def day_from_row(row: Mapping) -> ParticipantDay:
    """One row of the view (a BigQuery Row or a dict) as a ParticipantDay."""
    completeness = row["completeness"]
    return ParticipantDay(
        user_key=row["user_key"],
        civil_date=row["civil_date"],
        time_zone=row["time_zone"],
        day_minutes=int(row["day_minutes"]),
        worn_minutes=int(row["worn_minutes"]),
        worn_minutes_heart_rate=int(row["worn_minutes_heart_rate"]),
        worn_minutes_disagree=int(row["worn_minutes_disagree"]),
        heart_rate_coverage=float(row["heart_rate_coverage"]),
        step_count=None if row["step_count"] is None else int(row["step_count"]),
        main_sleep_recorded=bool(row["main_sleep_recorded"]),
        main_sleep_minutes=(
            None if row["main_sleep_minutes"] is None else int(row["main_sleep_minutes"])
        ),
        data_types=tuple(sorted(row["data_types"] or ())),
        expected_data_types=tuple(sorted(row["expected_data_types"] or ())),
        completeness=None if completeness is None else float(completeness),
    )


def read_days(client, dataset: str, start_date: dt.date, end_date: dt.date) -> list[ParticipantDay]:
    """The participant-days of civil dates start_date..end_date (inclusive).

    Sorted by user_key, then civil_date.

    Raises:
        ValueError: a malformed dataset, or end_date before start_date.
        google.api_core.exceptions.GoogleAPICallError: BigQuery refused (no
            such dataset or view: `fitbeam run` creates the view).
    """
    from google.cloud import bigquery

    if end_date < start_date:
        raise ValueError(f"end date {end_date} is before start date {start_date}")
    query = (
        f"SELECT {', '.join(COLUMNS)}\n"
        f"FROM {table_ref(dataset, PARTICIPANT_DAYS)}\n"
        "WHERE civil_date BETWEEN @start_date AND @end_date\n"
        "ORDER BY user_key, civil_date"
    )
    config = bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter("start_date", "DATE", start_date),
            bigquery.ScalarQueryParameter("end_date", "DATE", end_date),
        ]
    )
    return [day_from_row(row) for row in client.query(query, job_config=config).result()]
