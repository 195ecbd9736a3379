"""What the end-to-end tests share: ground truth as rows, and reading back the outputs."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator

from google.api_core import exceptions as gexc
from google.cloud import bigquery, pubsub_v1

from bench.scorecard import QUICK_TYPES
from healthapi import datatypes
from localdev import emulators
from localdev.demo import emulator_bigquery_client
from rows import datapoints
from simulator import Simulator

INGEST = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
# One data type of each kind and shape, as `make bench BENCH_ARGS=--quick` loads: interval
# (steps), sample (heart rate), daily (resting heart rate), session (sleep), exercise with
# its TCX detail, a logged measurement (weight), the daily roll-up (total calories) and a
# raw-only type with a waveform (electrocardiogram). Only tests/e2e/test_batch.py's
# complete run loads every type; the other runs are about something else and load these.
ONE_OF_EACH_KIND = QUICK_TYPES
# A run's preflight makes every table and view of a new dataset: on the emulator, most of
# a small run's time. Runs whose assertions are scoped to their run id, or that search every
# row for what only their own simulator issued, share this dataset instead of a new one each.
SHARED_DATASET = "shared_runs"


def bq_client() -> bigquery.Client:
    return emulator_bigquery_client()


def keys_in(client: bigquery.Client, dataset: str, table: str, run_id: str) -> set[tuple]:
    """(user, record key) of the rows a run loaded into one table."""
    query = (
        f"SELECT user_key, record_key FROM `{emulators.PROJECT}.{dataset}.{table}` "  # noqa: S608
        "WHERE run_id = @run"
    )
    return _run_keys(client, query, run_id)


def _run_keys(client: bigquery.Client, query: str, run_id: str) -> set[tuple]:
    """(user_key, record_key) of a query's rows, `@run` bound to the run id; none when the
    table does not exist (nobody wrote to it)."""
    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("run", "STRING", run_id)]
    )
    try:
        result = client.query(query, job_config=config).result()
    except Exception as err:
        if "not found" in str(err).lower():
            return set()
        raise
    return {(r["user_key"], r["record_key"]) for r in result}


def recorded_keys_in(client: bigquery.Client, dataset: str, table: str, run_id: str) -> set:
    """(user, record key) of the rows a run loaded under loads it recorded in load_windows."""
    query = (
        f"SELECT t.user_key, t.record_key FROM `{emulators.PROJECT}.{dataset}.{table}` t "  # noqa: S608
        f"WHERE t.run_id = @run AND t.load_id IN (SELECT load_id FROM "
        f"`{emulators.PROJECT}.{dataset}.load_windows` WHERE run_id = @run)"
    )
    return _run_keys(client, query, run_id)


def current_keys(client: bigquery.Client, dataset: str, table: str) -> set:
    """(user, record key) of the rows the table's `_current` view shows."""
    query = f"SELECT user_key, record_key FROM `{emulators.PROJECT}.{dataset}.{table}_current`"  # noqa: S608
    return {(row["user_key"], row["record_key"]) for row in client.query(query).result()}


def count_in(client: bigquery.Client, dataset: str, table: str) -> int:
    query = f"SELECT COUNT(*) AS n FROM `{emulators.PROJECT}.{dataset}.{table}`"  # noqa: S608
    try:
        return next(iter(client.query(query).result()))["n"]
    except Exception as err:
        if "not found" in str(err).lower():
            return 0
        raise


def expected_keys(
    sim: Simulator, wanted: list[tuple[str, str, dt.date, dt.date]], run_id: str
) -> dict[str, set[tuple]]:
    """(user, record key) per table for (user, data type, first day, last day) requests.

    `total-calories` stands for the daily activity summary: one row per civil
    day the user has any calories.
    """
    out: dict[str, set[tuple]] = {}
    for user, data_type, first, last in wanted:
        if data_type == "total-calories":
            days = {t["civilDate"] for t in sim.ground_truth(user, data_type, first, last)}
            summary = out.setdefault("daily_activity_summary", set())
            for day in days:
                row = {"user_key": user, "civil_date": dt.date.fromisoformat(day)}
                summary.add((user, datapoints.record_key("daily_activity_summary", row)))
            continue
        ctx = datapoints.RowContext(user, run_id, INGEST)
        out.setdefault(datatypes.spec(data_type).table, set())
        # The types the API cannot reconcile are read raw, source by source, in every run.
        reconciled = datatypes.spec(data_type).reconcilable
        stream = "reconciled" if reconciled else "raw"
        for truth in sim.ground_truth(user, data_type, first, last, reconciled=reconciled):
            for table, row in datapoints.rows_for_point(data_type, truth["dataPoint"], ctx, stream):
                out.setdefault(table, set()).add((user, row["record_key"]))
    return out


def dead_letters(folder: str) -> list[dict]:
    """Every dead letter in the JSONL files under `folder` (local or gs://)."""
    from apache_beam.io.filesystems import FileSystems

    out = []
    for match in FileSystems.match([f"{folder.rstrip('/')}/*.jsonl"])[0].metadata_list:
        with FileSystems.open(match.path) as f:
            out += [json.loads(line) for line in f.read().decode().splitlines() if line]
    return out


def distinct(client: bigquery.Client, dataset: str, table: str, column: str) -> set:
    query = f"SELECT DISTINCT {column} AS v FROM `{emulators.PROJECT}.{dataset}.{table}`"  # noqa: S608
    return {r["v"] for r in client.query(query).result()}


def current(client: bigquery.Client, dataset: str, table: str) -> tuple[set[tuple], int]:
    """(user, record key) of the rows a `<table>_current` view shows, and how many rows."""
    query = f"SELECT user_key, record_key FROM `{emulators.PROJECT}.{dataset}.{table}_current`"  # noqa: S608
    found = [(r["user_key"], r["record_key"]) for r in client.query(query).result()]
    return set(found), len(found)


def count_in_run(client: bigquery.Client, dataset: str, table: str, run_id: str) -> int:
    query = (
        f"SELECT COUNT(*) AS n FROM `{emulators.PROJECT}.{dataset}.{table}` "  # noqa: S608
        "WHERE run_id = @run"
    )
    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("run", "STRING", run_id)]
    )
    return next(iter(client.query(query, job_config=config).result()))["n"]


@contextlib.contextmanager
def fresh_topic(prefix: str) -> Iterator[tuple[str, str]]:
    """A new topic with one subscription on the Pub/Sub emulator: (topic, subscription)."""
    suffix = uuid.uuid4().hex[:10]
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic_path = publisher.topic_path(emulators.PROJECT, f"{prefix}-{suffix}")
    sub_path = subscriber.subscription_path(emulators.PROJECT, f"{prefix}-{suffix}")
    publisher.create_topic(name=topic_path)
    subscriber.create_subscription(name=sub_path, topic=topic_path)
    try:
        yield topic_path, sub_path
    finally:
        subscriber.delete_subscription(subscription=sub_path)
        publisher.delete_topic(topic=topic_path)
        subscriber.close()


def pull(sub_path: str, expected: int, timeout: float = 10.0) -> list:
    """What the subscription holds (acknowledged), once `expected` arrived or `timeout` passed."""
    subscriber = pubsub_v1.SubscriberClient()
    got = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < expected and time.monotonic() < deadline:
            try:
                response = subscriber.pull(subscription=sub_path, max_messages=100, timeout=2)
            except gexc.DeadlineExceeded:
                continue
            got += [r.message for r in response.received_messages]
            if response.received_messages:
                subscriber.acknowledge(
                    subscription=sub_path,
                    ack_ids=[r.ack_id for r in response.received_messages],
                )
    finally:
        subscriber.close()
    return got
