"""The graph of `fitbeam run`, batch or streaming, as one function over a pipeline.

    requests -> PlanCalls -> FetchPages -> ToRows -+-> ValidateRows -> WriteTables
                                                   |
                    detail (one TCX call per exercise)
                                                   |
                          FetchPages(detail) -> ToRows
    every dead_letter output -> Flatten -> WriteDeadLetters

Requests are the CLI's users x data types over one range, or request messages
(a file in batch, a Pub/Sub subscription when streaming) parsed by
`ParseRequests`, whose bad messages join the dead letters. A replay
(`--dead_letters`) feeds failed calls to the fetch and refused rows to
validation instead.

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
from transforms import fetch, replay, request_messages, sinks, to_rows
from transforms.elements import FetchRequest
from transforms.retry import RetryPolicy
from transforms.tokens import TokenBroker


def build(
    p: beam.Pipeline,
    config: RunConfig,
    ingest_time: dt.datetime,
    broker_factory: Callable[[], TokenBroker] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], dt.datetime] | None = None,
) -> dict[str, beam.PCollection]:
    """Adds the graph to `p`: batch, or streaming when `config.streaming`.

    Args:
        p: the pipeline.
        config: the validated run settings.
        ingest_time: the run's start (UTC), stamped on every row.
        broker_factory: test seam: builds the token broker.
        sleep: waits between retries (test seam).
        clock: the UTC time request messages are judged by (test seam).

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

    replayed_rows: tuple[beam.PCollection, ...] = ()
    if config.dead_letters:
        replayed = (
            p
            | "ReadDeadLetters"
            >> beam.io.ReadFromText(config.dead_letters, coder=beam.coders.BytesCoder())
            | "SkipBlankDeadLetterLines" >> beam.Filter(lambda line: bool(line.strip()))
            | "Replay" >> replay.ReplayDeadLetters()
        )
        calls, replayed_rows, bad_requests = (
            replayed.calls,
            (replayed.rows,),
            (replayed.dead_letter,),
        )
    else:
        requests, bad_requests = _requests(p, config, clock)
        calls = requests | "Plan" >> fetch.PlanCalls()
    to_rows_fn = to_rows.ToRowsFn(config.run_id, ingest_time)
    fetched = calls | "Fetch" >> fetch.FetchPages(fetch_fn("fetch"), "Fetch")
    built = fetched.pages | "Rows" >> to_rows.ToRows(to_rows_fn, "ToRowsFn")
    detail = built.detail | "FetchDetail" >> fetch.FetchPages(fetch_fn("fetch_detail"), "Detail")
    detail_built = detail.pages | "DetailRows" >> to_rows.ToRows(to_rows_fn, "DetailToRowsFn")
    validated = (
        (built.rows, detail_built.rows, *replayed_rows)
        | "AllRows" >> beam.Flatten()
        | "Validate" >> sinks.ValidateRows()
    )
    bigquery_failed = validated.rows | "BigQuery" >> sinks.WriteTables(
        config.dataset, config.bq_write_method, config.temp_location or None
    )
    dead_letters = (
        *bad_requests,
        fetched.dead_letter,
        built.dead_letter,
        detail.dead_letter,
        detail_built.dead_letter,
        validated.dead_letter,
        bigquery_failed,
    ) | "AllDeadLetters" >> beam.Flatten()
    if config.streaming:
        _ = dead_letters | "DeadLetters" >> sinks.WriteStreamingDeadLetters(
            config.dead_letter_root, config.run_id
        )
    else:
        _ = dead_letters | "DeadLetters" >> sinks.WriteDeadLetters(
            config.dead_letter_root, config.run_id
        )
    return {"rows": validated.rows, "dead_letters": dead_letters}


def _requests(
    p: beam.Pipeline, config: RunConfig, clock: Callable[[], dt.datetime] | None
) -> tuple[beam.PCollection, tuple[beam.PCollection, ...]]:
    """The run's FetchRequests, and the dead letters of bad request messages (if any)."""
    if config.requests_subscription:
        messages = p | "ReadRequestMessages" >> beam.io.ReadFromPubSub(
            subscription=config.requests_subscription, with_attributes=True
        )
    elif config.requests_file:
        messages = (
            p
            | "ReadRequestFile"
            >> beam.io.ReadFromText(config.requests_file, coder=beam.coders.BytesCoder())
            # Blank lines separate nothing in JSON Lines; they are not requests.
            | "SkipBlankLines" >> beam.Filter(lambda line: bool(line.strip()))
        )
    else:
        requests = fetch.requests_for(
            list(config.users),
            list(config.data_types),
            config.start_date,
            config.end_date,
            config.stream,
        )
        return p | "Requests" >> beam.Create(requests).with_output_types(FetchRequest), ()
    parsed = messages | "ParseRequests" >> request_messages.ParseRequests(
        config.max_range_days, clock
    )
    return parsed.requests, (parsed.dead_letter,)
