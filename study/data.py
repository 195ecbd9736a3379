"""Everything the study report draws, gathered from BigQuery (and the token store).

`gather(client, "my-project:fitbit", start_date, end_date, ...)` returns a
`study.model.ReportData`: the participant-days of the range (the
`participant_days` view), each participant's status now (`study.status`), and
per data type the participant-days with data against those expected
(`type_completeness`). `fitbeam report` renders it (study/report.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from schemas.bigquery import TABLES
from study import days as study_days
from study import status as study_status
from study.model import DEFAULT_VALID_DAY_MINUTES, ParticipantDay, ReportData, TypeCompleteness


def type_completeness(days: Iterable[ParticipantDay]) -> tuple[TypeCompleteness, ...]:
    """Per table, participant-days with data against participant-days expected.

    `days_expected` counts the participant-days whose devices should produce
    the table (`expected_data_types`), and `days_with_data` those of them with a
    row. A table no participant's devices produce is counted over every
    participant-day with a row, against 0 expected. Tables in `TABLES` order;
    a table neither expected nor present is left out.
    """
    days = list(days)
    expected = {t: 0 for t in TABLES}
    present_expected = {t: 0 for t in TABLES}
    present = {t: 0 for t in TABLES}
    for day in days:
        for table in day.expected_data_types:
            expected[table] = expected.get(table, 0) + 1
            if table in day.data_types:
                present_expected[table] = present_expected.get(table, 0) + 1
        for table in day.data_types:
            present[table] = present.get(table, 0) + 1
    out = []
    for table in dict.fromkeys([*TABLES, *expected, *present]):
        if expected.get(table):
            out.append(TypeCompleteness(table, present_expected[table], expected[table]))
        elif present.get(table):
            out.append(TypeCompleteness(table, present[table], 0))
    return tuple(out)


def gather(
    client,
    dataset: str,
    start_date: dt.date,
    end_date: dt.date,
    *,
    token_store=None,
    dead_letter_root: str | None = None,
    valid_day_minutes: int = DEFAULT_VALID_DAY_MINUTES,
    now: dt.datetime | None = None,
) -> ReportData:
    """The report's data for civil dates start_date..end_date (inclusive).

    Args:
        client: a google.cloud.bigquery.Client.
        dataset: `project:dataset`.
        token_store, dead_letter_root, valid_day_minutes, now: as
            `study.status.participant_statuses` takes them.

    Raises:
        ValueError: a malformed dataset or range, or a bad valid-day rule.
        google.api_core.exceptions.GoogleAPICallError: BigQuery refused.
    """
    now = study_status.as_utc(now) if now else dt.datetime.now(dt.UTC)
    days = study_days.read_days(client, dataset, start_date, end_date)
    participants = study_status.participant_statuses(
        client,
        dataset,
        token_store=token_store,
        dead_letter_root=dead_letter_root,
        valid_day_minutes=valid_day_minutes,
        now=now,
    )
    return ReportData(
        dataset=dataset,
        start_date=start_date,
        end_date=end_date,
        generated_at=now,
        valid_day_minutes=valid_day_minutes,
        days=tuple(days),
        participants=tuple(participants),
        completeness=type_completeness(days),
    )
