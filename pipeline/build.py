"""The graph of `fitbeam run`, batch or streaming, as one function over a pipeline.

    ReadRequests -> PlanCalls -> Fetch -> Rows -> ValidateRows -> WriteTables
         |                                 |
         |                detail (one TCX call per exercise)
         |                                 |
         |           FetchDetail -> DetailRows -> ValidateDetailRows -> WriteDetailTables
         |
         +-> PlanUserCalls -> FetchUser -> UserRows -> ValidateUserRows -> WriteUserTables
    every dead_letter output -> AllDeadLetters -> WriteDeadLetters (one sink)

Requests are the CLI's users x data types over one range, or request messages
(a file in batch, a Pub/Sub subscription when streaming). A replay
(`--dead_letters`) feeds failed calls to the fetch and refused rows to
validation instead. The detail fan-out stays inside the graph: exercises found
by the main fetch become TCX calls fetched by a second application of the same
fetch composite, which shares the process's token broker and per-user quota.
The user-level resources (paired devices, profile, settings, IRN profile) are
read once per user per run (per request message when streaming) by a third
(`transforms.user_tables`), unless `--user_tables=false`; a replay sends the
user-level calls among its failed calls there too.

With `--raw_archive`, every answer the three fetches get is also written to the
raw archive (`transforms.archive.ArchivePages`). A rebuild (`--from_archive`) and
an import (`--import_takeout`, `--import_legacy`) make no API call: archived
answers or imported files take the place of the fetches, and their rows go the
same way to BigQuery (`_history_graph`).

Rows are never gathered in one place: each branch validates and writes its own
rows, so fetch -> rows -> validate -> write runs fused, one API answer at a
time, and a run's memory does not grow with its rows (a Flatten of all rows
before validation made the local runner hold every row of a run). Only the
small things meet: calls at the fetch's reshuffle, dead letters at their sink.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import apache_beam as beam

from healthapi.auth.broker import TokenBroker
from healthapi.planning import requests_for
from healthapi.retry import RetryPolicy
from pipeline.options import RunConfig
from rows.load_windows import ORIGIN_ARCHIVE
from transforms.archive import ArchivePages, PairArchivedTcx, ReadArchive
from transforms.dead_letters import WriteDeadLetters
from transforms.fetch import FetchPages
from transforms.imports import ImportFiles
from transforms.plan import PlanCalls
from transforms.replay import ReplayDeadLetters
from transforms.requests import ReadRequests
from transforms.rows import ToRows
from transforms.user_tables import PlanUserCalls, UserRows, is_user_call
from transforms.validate import ValidateRows
from transforms.write import WriteTables


def build_pipeline(
    p: beam.Pipeline,
    config: RunConfig,
    ingest_time: dt.datetime,
    broker_factory: Callable[[], TokenBroker] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], dt.datetime] | None = None,
    write_tables: Callable[[RunConfig], beam.PTransform] | None = None,
) -> dict[str, beam.PCollection]:
    """Adds the graph to `p`: batch, or streaming when `config.streaming`.

    Args:
        p: the pipeline.
        config: the validated run settings.
        ingest_time: the run's start (UTC), stamped on every row.
        broker_factory: test seam: builds the token broker.
        sleep: waits between retries (test seam).
        clock: the UTC time request messages are judged by, and user-level loads are
            stamped with (test seam; default: the wall clock).
        write_tables: builds the BigQuery write from the settings (test seam): it
            takes (table, row) pairs and returns the DeadLetters of rows BigQuery
            refused. Default: `WriteTables`.

    Returns:
        `rows`: the validated (table, row) pairs of each branch (main, detail,
        for a replay the replayed rows, and last the user-level rows when the run
        loads them), a tuple of PCollections each written by a write of its own;
        and `dead_letters` (every stage's).
    """
    policy = RetryPolicy(max_attempts=config.max_attempts)

    if config.from_archive or config.import_layout:
        return _history_graph(p, config, ingest_time, clock, write_tables)

    def fetch(stage: str) -> FetchPages:
        return FetchPages(
            api_base_url=config.api_base_url,
            token_store_uri=config.token_store,
            token_url=config.token_url,
            quota_per_minute=config.quota_per_minute,
            policy=policy,
            stage=stage,
            broker_factory=broker_factory,
            sleep=sleep,
            concurrent_calls=config.concurrent_calls,
            project_budget=config.project_budget,
            source_family=config.source_family,
            clock=clock,
        )

    load = _loader(config, write_tables)

    loaded: list[tuple[beam.PCollection, ...]] = []
    user_calls = None
    if config.dead_letters:
        replayed = p | "ReplayDeadLetters" >> ReplayDeadLetters(config.dead_letters)
        # Failed user-level calls go back to the user-level branch, whatever the flag.
        calls, user_calls = replayed.calls | "SplitReplayedCalls" >> beam.Partition(
            lambda call, _: int(is_user_call(call)), 2
        )
        bad_input = replayed.dead_letter
        loaded.append(load(replayed.rows, "Replayed"))
    else:
        requests = p | "ReadRequests" >> ReadRequests(
            requests=requests_for(
                list(config.users),
                list(config.data_types),
                config.start_date,
                config.end_date,
                config.stream,
            )
            if config.users
            else (),
            requests_file=config.requests_file,
            subscription=config.requests_subscription,
            max_range_days=config.max_range_days,
            clock=clock,
        )
        calls, bad_input = (
            requests["requests"] | "PlanCalls" >> PlanCalls(),
            requests["dead_letter"],
        )
        if config.user_tables:
            user_calls = requests["requests"] | "PlanUserCalls" >> PlanUserCalls(config.streaming)
    fetched = calls | "Fetch" >> fetch("fetch")
    built = fetched.pages | "Rows" >> ToRows(config.run_id, ingest_time)
    loaded.insert(0, load(built.rows, ""))
    detail = built.detail | "FetchDetail" >> fetch("fetch_detail")
    detail_built = detail.pages | "DetailRows" >> ToRows(config.run_id, ingest_time)
    loaded.insert(1, load(detail_built.rows, "Detail"))
    user_letters: tuple[beam.PCollection, ...] = ()
    if user_calls is not None:
        user_fetched = user_calls | "FetchUser" >> fetch("fetch")
        user_built = user_fetched.pages | "UserRows" >> UserRows(
            config.run_id, ingest_time, clock=clock
        )
        loaded.append(load(user_built.rows, "User"))
        user_letters = (user_fetched.dead_letter, user_built.dead_letter)
    archive_letters: list[beam.PCollection] = []
    if config.raw_archive:
        # One archive step per fetch: a Flatten of the answers would make the local runner
        # hold them all (as it did the rows), where each branch now runs fused.
        answers = {"Archive": fetched.pages, "ArchiveDetail": detail.pages}
        if user_calls is not None:
            answers["ArchiveUser"] = user_fetched.pages
        for label, pages in answers.items():
            archived = pages | label >> ArchivePages(config.raw_archive, config.run_id, clock=clock)
            archive_letters.append(archived.dead_letter)
    dead_letters = (
        bad_input,
        fetched.dead_letter,
        built.dead_letter,
        detail.dead_letter,
        detail_built.dead_letter,
        *user_letters,
        *archive_letters,
        *(letters for _, schema, bigquery in loaded for letters in (schema, bigquery)),
    ) | "AllDeadLetters" >> beam.Flatten()
    _ = dead_letters | "WriteDeadLetters" >> WriteDeadLetters(
        config.dead_letter_root, config.run_id, streaming=config.streaming
    )
    return {"rows": tuple(rows for rows, _, _ in loaded), "dead_letters": dead_letters}


def _loader(config: RunConfig, write_tables):
    """Validates and writes one branch's rows: (valid rows, schema letters, BigQuery letters)."""

    def load(rows: beam.PCollection, branch: str) -> tuple[beam.PCollection, ...]:
        valid = rows | f"Validate{branch}Rows" >> ValidateRows()
        write = (
            write_tables(config)
            if write_tables
            else WriteTables(config.dataset, config.bq_write_method, config.temp_location or None)
        )
        refused = valid.rows | f"Write{branch}Tables" >> write
        return valid.rows, valid.dead_letter, refused

    return load


def _history_graph(
    p: beam.Pipeline,
    config: RunConfig,
    ingest_time: dt.datetime,
    clock: Callable[[], dt.datetime] | None,
    write_tables: Callable[[RunConfig], beam.PTransform] | None,
) -> dict[str, beam.PCollection]:
    """A rebuild from the raw archive, or an import: the same rows -> BigQuery path, no API.

    rebuild:  ReadArchive -> Rows -> ... ; TCX exports paired with the rebuilt
              exercises' TCX calls -> DetailRows -> ... ; user-level answers -> UserRows
    import:   ImportFiles -> ValidateRows -> WriteTables
    """
    load = _loader(config, write_tables)
    loaded: list[tuple[beam.PCollection, ...]] = []
    letters: list[beam.PCollection] = []
    if config.from_archive:
        archived = p | "ReadArchive" >> ReadArchive(config.from_archive, clock=clock)
        answers, exports, user_answers = archived["pages"] | "SplitAnswers" >> beam.Partition(
            lambda page, _: _ANSWER_BRANCH[page.call.kind], 3
        )
        built = answers | "Rows" >> ToRows(config.run_id, ingest_time, origin=ORIGIN_ARCHIVE)
        detail = built.detail | "PairTcx" >> PairArchivedTcx(exports)
        detail_built = detail | "DetailRows" >> ToRows(
            config.run_id, ingest_time, fan_out_tcx=False, origin=ORIGIN_ARCHIVE
        )
        loaded += [load(built.rows, ""), load(detail_built.rows, "Detail")]
        letters += [archived["dead_letter"], built.dead_letter, detail_built.dead_letter]
        if config.user_tables:
            user_built = user_answers | "UserRows" >> UserRows(
                config.run_id, ingest_time, clock=clock
            )
            loaded.append(load(user_built.rows, "User"))
            letters.append(user_built.dead_letter)
    else:
        imported = p | "Import" >> ImportFiles(
            config.import_layout,
            config.import_path,
            config.run_id,
            ingest_time,
            user_key=config.user_key,
            time_zone=config.time_zone,
            legacy_users=config.legacy_users,
            clock=clock,
        )
        loaded.append(load(imported["rows"], ""))
        letters.append(imported["dead_letter"])
    dead_letters = (
        *letters,
        *(found for _, schema, bigquery in loaded for found in (schema, bigquery)),
    ) | "AllDeadLetters" >> beam.Flatten()
    _ = dead_letters | "WriteDeadLetters" >> WriteDeadLetters(
        config.dead_letter_root, config.run_id, streaming=False
    )
    return {"rows": tuple(rows for rows, _, _ in loaded), "dead_letters": dead_letters}


# Which branch of a rebuild an archived answer takes: rows, the TCX pairing, user rows.
_ANSWER_BRANCH = {"list": 0, "summary": 0, "tcx": 1, "user": 2}
