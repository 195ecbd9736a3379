"""`fitbeam run --streaming` end to end: Pub/Sub emulator -> Beam -> BigQuery and GCS emulators.

Good request messages and the whole catalogue of bad ones go into one
subscription. The good ones must become exactly the simulator's ground truth
in BigQuery (detail fan-out included), every bad one a dead letter with its
reason in the dead-letter files, and the stream must go on. One good message
is published twice: its rows are in the tables twice and in the
`<table>_current` views once. Every answer the stream loaded is in the raw
archive (`--raw_archive`).

The DirectRunner's Pub/Sub read blocks for up to 30 s when the subscription
is empty, so while it polls the test publishes "tick" requests for a day and
type without data: they cost an API call and load nothing.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import threading
import time
import uuid

from google.cloud import pubsub_v1, storage

from healthapi.auth.file_store import LocalFileTokenStore
from healthapi.messages import request_message
from localdev import emulators
from localdev.demo import authorise_users
from pipeline import main
from simulator import Simulator, SimulatorConfig
from tests.e2e.helpers import (
    bq_client,
    count_in,
    current,
    dead_letters,
    distinct,
    expected_keys,
    keys_in,
)
from tests.unit.test_request_messages import CATALOGUE

START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC).timestamp()
TODAY = dt.date(2026, 11, 28)
USERS = ["user-1", "user-2", "user-3"]
D = dt.date.fromisoformat
DEADLINE_SECONDS = 180


class Stream:
    """A topic and subscription of their own on the emulator."""

    def __init__(self):
        suffix = uuid.uuid4().hex[:10]
        self.topic = f"projects/{emulators.PROJECT}/topics/requests-{suffix}"
        self.subscription = f"projects/{emulators.PROJECT}/subscriptions/requests-{suffix}"
        self.publisher = pubsub_v1.PublisherClient()
        self.publisher.create_topic(name=self.topic)
        with pubsub_v1.SubscriberClient() as subscriber:
            subscriber.create_subscription(name=self.subscription, topic=self.topic)
        self.published = 0

    def publish(self, data: bytes) -> None:
        # Pub/Sub refuses a message with neither data nor attributes.
        self.publisher.publish(self.topic, data, origin="e2e").result(timeout=30)
        self.published += 1


def empty_day(sim: Simulator, user: str, data_type: str) -> dt.date:
    """A day on which `user` has no `data_type` points: a request for it loads nothing."""
    for back in range(1, 60):
        day = TODAY - dt.timedelta(days=back)
        if not sim.ground_truth(user, data_type, day, day, reconciled=True):
            return day
    raise AssertionError(f"{user} has {data_type} every day")


def start_streaming(argv: list[str]) -> tuple[threading.Thread, threading.Event, dict]:
    stop, outcome = threading.Event(), {}

    def target() -> None:
        try:
            outcome["report"] = main.run(
                argv, today=TODAY, sleep=lambda s: None, out=lambda s: None, stop=stop
            )
        except BaseException as err:  # re-raised by the test
            outcome["error"] = err

    thread = threading.Thread(target=target, name="streaming-run", daemon=True)
    thread.start()
    return thread, stop, outcome


def archive_records(root: str) -> list[dict]:
    """Every record under a raw archive's root (gs://)."""
    bucket_name, _, prefix = root[len("gs://") :].partition("/")
    bucket = storage.Client(project=emulators.PROJECT).bucket(bucket_name)
    return [
        json.loads(gzip.decompress(blob.download_as_bytes()))
        for blob in bucket.list_blobs(prefix=prefix + "/")
    ]


def test_streaming_loads_good_messages_and_dead_letters_every_bad_one(local_gcp, tmp_path):
    stream = Stream()
    suffix = stream.topic.rsplit("-", 1)[-1]
    dataset, run_id = f"stream_{suffix}", f"e2e-stream-{suffix}"
    folder = f"gs://{emulators.DEFAULT_BUCKET}/stream-dead-letters"
    archive = f"gs://{emulators.DEFAULT_BUCKET}/stream-raw-{suffix}"
    bq = bq_client()
    bq.create_dataset(f"{emulators.PROJECT}.{dataset}", exists_ok=True)

    with Simulator(SimulatorConfig(users=3, clock_speed=0, start_time=START)) as sim:
        store = LocalFileTokenStore(tmp_path / "tokens")
        authorise_users(sim, USERS, store)
        week = (D("2026-11-15"), D("2026-11-21"))
        assert sim.ground_truth("user-3", "exercise", *week), "the week needs an exercise"
        wanted = [
            ("user-1", "steps", D("2026-11-20"), D("2026-11-20")),
            ("user-1", "sleep", D("2026-11-20"), D("2026-11-20")),
            ("user-2", "steps", D("2026-11-20"), D("2026-11-21")),
            ("user-2", "total-calories", D("2026-11-20"), D("2026-11-21")),
            ("user-3", "exercise", *week),
            ("user-3", "weight", *week),
        ]
        good = [
            request_message("user-1", D("2026-11-20"), data_types=["steps", "sleep"]),
            request_message(
                "user-2", D("2026-11-20"), D("2026-11-21"), ["steps", "total-calories"]
            ),
            request_message("user-3", *week, ["exercise", "weight"]),
        ]
        tick = request_message("user-1", empty_day(sim, "user-1", "weight"), data_types=["weight"])
        expected = expected_keys(sim, wanted, run_id)

        argv = [
            "--streaming",
            f"--requests_subscription={stream.subscription}",
            f"--api_base_url={sim.base_url}",
            f"--token_store={store.root}",
            f"--dataset={emulators.PROJECT}:{dataset}",
            f"--dead_letter_root={folder}",
            f"--project={emulators.PROJECT}",
            f"--run_id={run_id}",
            f"--raw_archive={archive}",
            # Loaded per message when streaming, ticks included: not this test's subject.
            "--user_tables=false",
        ]
        thread, stop, outcome = start_streaming(argv)
        # Bad ones first and between good ones: none of them may hold up what follows.
        for i, (_, data, _, _) in enumerate(CATALOGUE):
            stream.publish(data)
            if i % 12 == 0:
                stream.publish(good[i // 12])
        stream.publish(good[0])  # the same request again: its rows twice in the tables
        twice = {t: {k for k in expected[t] if k[0] == "user-1"} for t in ("steps", "sleep")}

        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            loaded = {t: keys_in(bq, dataset, t, run_id) for t in expected}
            letters = dead_letters(f"{folder}/{run_id}")
            doubled = all(
                count_in(bq, dataset, t) == len(expected[t]) + len(keys)
                for t, keys in twice.items()
            )
            if loaded == expected and doubled and len(letters) >= len(CATALOGUE):
                break
            assert thread.is_alive(), outcome.get("error")
            assert time.monotonic() < deadline, (
                f"after {DEADLINE_SECONDS} s: {len(letters)} dead letters; missing rows "
                f"{ {t: len(expected[t] - loaded[t]) for t in expected} }"
            )
            stream.publish(tick)
            time.sleep(1)  # waiting on other processes, not on a clock the test owns

        stop.set()
        while thread.is_alive():  # the run's pending pull returns on the next message
            stream.publish(tick)
            thread.join(1)

    assert "error" not in outcome, outcome.get("error")
    report = outcome["report"]
    assert report.state == "CANCELLED"
    assert report.requests_from == stream.subscription
    assert report.rows == {} and report.dead_letters == {}  # no counters: see pipeline.main

    # Every bad message is one dead letter with its reason; nothing else failed.
    assert sorted((d["error_class"], d["message"]) for d in letters) == sorted(
        (reason, message) for _, _, reason, message in CATALOGUE
    )
    assert {d["stage"] for d in letters} == {"parse_request"}

    # Exactly the ground truth: no row missing or extra; the repeated request twice in the
    # tables and once in the views.
    for table, keys in expected.items():
        extra = len(twice.get(table, ()))
        assert count_in(bq, dataset, table) == len(keys) + extra, table
        # What users query shows every point once.
        assert current(bq, dataset, table) == (keys, len(keys)), table
    exercises = distinct(bq, dataset, "exercise_current", "data_point_id")
    tracked = distinct(bq, dataset, "exercise_tcx_trackpoints_current", "data_point_id")
    assert tracked and tracked <= exercises

    # The raw archive holds every answer the stream loaded: each load's last page.
    loads = distinct(bq, dataset, "load_windows", "load_id")
    archived = {
        record["load_id"]
        for record in archive_records(archive)
        if record["final"] and record["run_id"] == run_id
    }
    assert loads and archived == loads
