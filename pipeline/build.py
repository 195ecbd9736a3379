"""The batch graph of `fitbeam run`, as one function over a Beam pipeline.

    requests -> PlanCalls -> FetchPages -> ToRows -+-> ValidateRows -> WriteTables
                                                   |
                    detail (one TCX call per exercise)
                                                   |
                          FetchPages(detail) -> ToRows
    every dead_letter output -> Flatten -> WriteDeadLetters

The detail fan-out stays inside the graph: exercises found by the main fetch
become TCX calls fetched by a second FetchFn that shares the process's token
broker and per-user quota with the first.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import apache_beam as beam

from pipeline.options import RunConfig
from transforms import fetch, sinks, to_rows
from transforms.retry import RetryPolicy
from transforms.tokens import TokenBroker


def build(
    p: beam.Pipeline,
    config: RunConfig,
    ingest_time: dt.datetime,
    broker_factory: Callable[[], TokenBroker] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, beam.PCollection]:
    """Adds the batch graph to `p`.

    Args:
        p: the pipeline.
        config: the validated run settings.
        ingest_time: the run's start (UTC), stamped on every row.
        broker_factory: test seam: builds the token broker.
        sleep: waits between retries (test seam).

    Returns:
        `rows` (validated (table, row) pairs) and `dead_letters`.
    """
    policy = RetryPolicy(max_attempts=config.max_attempts)

    def fetch_fn(stage: str) -> fetch.FetchFn:
        return fetch.FetchFn(
            api_base_url=config.api_base_url,
            token_store_uri=config.token_store,
            token_url=config.token_url,
            quota_per_minute=config.quota_per_minute,
            policy=policy,
            stage=stage,
            broker_factory=broker_factory,
            sleep=sleep,
        )

    requests = fetch.requests_for(
        list(config.users),
        list(config.data_types),
        config.start_date,
        config.end_date,
        config.stream,
    )
    to_rows_fn = to_rows.ToRowsFn(config.run_id, ingest_time)
    calls = p | "Requests" >> beam.Create(requests) | "Plan" >> fetch.PlanCalls()
    fetched = calls | "Fetch" >> fetch.FetchPages(fetch_fn("fetch"), "Fetch")
    built = fetched.pages | "Rows" >> to_rows.ToRows(to_rows_fn, "ToRowsFn")
    detail = built.detail | "FetchDetail" >> fetch.FetchPages(fetch_fn("fetch_detail"), "Detail")
    detail_built = detail.pages | "DetailRows" >> to_rows.ToRows(to_rows_fn, "DetailToRowsFn")
    validated = (
        (built.rows, detail_built.rows)
        | "AllRows" >> beam.Flatten()
        | "Validate" >> sinks.ValidateRows()
    )
    bigquery_failed = validated.rows | "BigQuery" >> sinks.WriteTables(
        config.dataset, config.bq_write_method, config.temp_location or None
    )
    dead_letters = (
        fetched.dead_letter,
        built.dead_letter,
        detail.dead_letter,
        detail_built.dead_letter,
        validated.dead_letter,
        bigquery_failed,
    ) | "AllDeadLetters" >> beam.Flatten()
    _ = dead_letters | "DeadLetters" >> sinks.WriteDeadLetters(
        config.dead_letter_root, config.run_id
    )
    return {"rows": validated.rows, "dead_letters": dead_letters}
