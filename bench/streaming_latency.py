"""Latency of the streaming pipeline: a request message published to its rows visible in BigQuery.

`fitbeam run --streaming` runs on the DirectRunner in a thread of this process, reading a
subscription of the local Pub/Sub emulator and writing to the local BigQuery emulator
(`localdev.emulators`), with the Google Health API simulator behind it. The benchmark
publishes one request message per (user, civil day), each for a distinct pair (by default 20
users x 10 days of `steps`: one API call and about 150-250 rows each, so that it times the
pipeline rather than bulk inserts), at a steady rate kept on a monotonic clock. Each user's
days are the latest complete ones on which the simulator holds data for every type asked for:
a day without data loads no rows, so nothing could be seen arrive.

While it publishes, it polls BigQuery on a fixed cadence (every 0.25 s by default) with one
query per table, `SELECT user_key, civil_date, COUNT(*) ... WHERE run_id = @run GROUP BY 1, 2`,
and notes for each message the first poll that sees all of its rows: as many as the
simulator's ground truth gives (`Simulator.ground_truth`, reconciled, turned into rows by
`rows.datapoints.rows_for_point`). A message's latency runs from just before its `publish`
call (the round trip to the emulator is inside it) to the moment that poll's answer came
back, so it overstates the true figure by at most one poll period: the resolution, printed
with the figures. At the end it stops the pipeline and checks that every (table, user, day)
holds exactly the expected number of rows, none more; it fails loudly otherwise.

Two things keep DirectRunner artefacts out of the figures:

- warm-up: one more request (an earlier day of the first user) is published first and its
  rows awaited before the clock starts, so pipeline start-up and table creation are left
  out; its latency is printed apart.
- ticks: the DirectRunner runs every step on one thread, and its Pub/Sub read blocks it for up
  to 30 s while the subscription is empty. After the last request the benchmark goes on
  publishing, at the same rate, a harmless "tick" request (a day and type without data: one
  API call, no rows) so the stream stays as busy as it was until the last rows are seen.
  Stopping works the same way: the run ends once its pending pull returns.

When messages come faster than the pipeline makes their rows visible, they queue and the
latency grows with the queue: it then measures the backlog as much as the pipeline. The rate
at which rows became visible is printed beside the publishing rate to tell the two apart. The
polls load the BigQuery emulator too, on the same cores as the pipeline: a longer
`--poll_interval` costs resolution and gives the pipeline more of the machine.

Wall-clock figures follow whatever else the machine is doing: the load average before and
after is printed with them.

Run from the repository root (about a minute with the defaults on 2 idle cores)::

    .venv/bin/python -m bench.streaming_latency --users 20 --days 10 --data_types steps --rate 4

The last line printed is one JSON object of the figures; `--json-only` prints only that.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import apache_beam as beam
from google.cloud import bigquery, pubsub_v1

from bench.args import positive_float, positive_int
from healthapi import datatypes
from healthapi.auth.file_store import LocalFileTokenStore
from healthapi.elements import STREAM_RECONCILED
from healthapi.messages import request_message
from localdev import emulators
from localdev.demo import authorise_users, emulator_bigquery_client
from pipeline import main as pipeline_main
from rows import datapoints
from simulator import Simulator, SimulatorConfig

_LOGGER = logging.getLogger(__name__)

# The simulator's clock stands still at noon UTC on this day; the pipeline judges request
# dates by it too. Days benchmarked end the day before, complete in every time zone.
START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
TODAY = START.date()
# How far back to look for days with data, and for the tick's day without.
LOOKBACK_DAYS = 60
STOP_SECONDS = 120  # for the run to end once stopped (its pending pull lasts up to 30 s)

Pair = tuple[str, dt.date]  # (user, civil day): what one request message asks for
Expected = dict[str, int]  # table -> rows one message loads into it


# --------------------------------------------------------------------------- the requests


def _data_types(text: str) -> list[str]:
    """A comma-separated list of data types whose rows can be counted per requested day."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected data types such as 'steps'; got {text!r:.80}")
    for name in names:
        try:
            spec = datatypes.spec(name)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from err
        # Rollup-only types have no points to count; exercises fan out TCX detail rows that
        # the ground truth does not give.
        if spec.kind == datatypes.Kind.ROLLUP_ONLY or spec.table in (None, "exercise"):
            raise argparse.ArgumentTypeError(
                f"{name}: its rows cannot be counted from the ground truth's points; "
                "use point types such as steps,heart-rate"
            )
    return names


def expected_rows(sim: Simulator, user: str, day: dt.date, data_types: list[str]) -> Expected:
    """Rows per table that a request for `user`'s `day` loads, from the simulator's ground truth.

    Raises:
        ValueError: a row would land on another civil day or in another table than its
            type's, so rows could not be told apart by (user, day).
    """
    ctx = datapoints.RowContext(user, "bench-expected", START)
    out: Counter[str] = Counter()
    for data_type in data_types:
        table = datatypes.spec(data_type).table
        for truth in sim.ground_truth(user, data_type, day, day, reconciled=True):
            for row_table, row in datapoints.rows_for_point(
                data_type, truth["dataPoint"], ctx, STREAM_RECONCILED
            ):
                if row_table != table or row["civil_date"] != day:
                    raise ValueError(
                        f"{data_type} of {user} on {day}: a row for {row_table} on "
                        f"{row['civil_date']}; rows of one request must share its table and day"
                    )
                out[table] += 1
    return dict(out)


def days_with_data(
    sim: Simulator, user: str, data_types: list[str], wanted: int
) -> list[tuple[dt.date, Expected]]:
    """`user`'s latest `wanted` complete days with rows of every type, newest first."""
    found = []
    for back in range(1, LOOKBACK_DAYS + 1):
        day = TODAY - dt.timedelta(days=back)
        expected = expected_rows(sim, user, day, data_types)
        if all(expected.get(datatypes.spec(t).table) for t in data_types):
            found.append((day, expected))
            if len(found) == wanted:
                return found
    raise ValueError(
        f"{user} has only {len(found)} days with {','.join(data_types)} "
        f"in the last {LOOKBACK_DAYS}; ask for fewer --days"
    )


def empty_day(sim: Simulator, user: str, data_type: str) -> dt.date:
    """A day on which `user` has no `data_type` points: a request for it loads nothing."""
    for back in range(1, LOOKBACK_DAYS + 1):
        day = TODAY - dt.timedelta(days=back)
        if not sim.ground_truth(user, data_type, day, day, reconciled=True):
            return day
    raise ValueError(f"{user} has {data_type} every day of the last {LOOKBACK_DAYS}")


# --------------------------------------------------------------------------- the stream


class Stream:
    """A topic and subscription of their own on the Pub/Sub emulator."""

    def __init__(self):
        suffix = uuid.uuid4().hex[:10]
        self.suffix = suffix
        self.topic = f"projects/{emulators.PROJECT}/topics/bench-latency-{suffix}"
        self.subscription = f"projects/{emulators.PROJECT}/subscriptions/bench-latency-{suffix}"
        self.publisher = pubsub_v1.PublisherClient()
        self.publisher.create_topic(name=self.topic)
        with pubsub_v1.SubscriberClient() as subscriber:
            subscriber.create_subscription(name=self.subscription, topic=self.topic)

    def publish(self, data: bytes) -> None:
        """Publishes `data` and waits for the emulator's acknowledgement."""
        # Pub/Sub refuses a message with neither data nor attributes.
        self.publisher.publish(self.topic, data, origin="bench").result(timeout=30)


def start_streaming(argv: list[str]) -> tuple[threading.Thread, threading.Event, dict]:
    """Runs `fitbeam run` in a thread; set the event to stop it."""
    stop, outcome = threading.Event(), {}

    def target() -> None:
        try:
            outcome["report"] = pipeline_main.run(argv, today=TODAY, out=lambda s: None, stop=stop)
        except BaseException as err:  # reported by the caller
            outcome["error"] = err

    thread = threading.Thread(target=target, name="streaming-run", daemon=True)
    thread.start()
    return thread, stop, outcome


class Publisher(threading.Thread):
    """Publishes the request messages at a steady rate, then ticks at `tick_rate` until told.

    Message i is due `i / rate` seconds after the start on the monotonic clock; one that
    falls behind (a slow acknowledgement) goes out at once, and the lag is kept.

    Attributes:
        sent: for each message, the monotonic time just before its publish call.
        acked: for each message, the monotonic time its publish future resolved.
        lag: the most any message went out after it was due, in seconds.
    """

    def __init__(
        self, stream: Stream, messages: list[bytes], tick: bytes, rate: float, tick_rate: float
    ):
        super().__init__(name="bench-publisher", daemon=True)
        self.stream, self.messages, self.tick, self.rate = stream, messages, tick, rate
        self.tick_rate = tick_rate
        self.sent: list[float] = []
        self.acked: list[float] = []
        self.ticks = 0
        self.lag = 0.0
        self.error: BaseException | None = None
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            started = time.monotonic()
            for i, data in enumerate(self.messages):
                self._wait_until(started + i / self.rate)
                self.sent.append(time.monotonic())
                self.stream.publish(data)
                self.acked.append(time.monotonic())
            due = started + len(self.messages) / self.rate
            while not self.finished.is_set():
                if self.finished.wait(max(0.0, due - time.monotonic())):
                    break
                self.stream.publish(self.tick)
                self.ticks += 1
                due += 1 / self.tick_rate
        except BaseException as err:  # reported by the caller
            self.error = err

    def _wait_until(self, due: float) -> None:
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
        else:
            self.lag = max(self.lag, now - due)


def visible_rows(
    client: bigquery.Client, dataset: str, tables: list[str], run_id: str
) -> dict[tuple[str, str, dt.date], int]:
    """Rows of the run per (table, user, civil day) that a query sees now; one query per table."""
    counts = {}
    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("run", "STRING", run_id)]
    )
    for table in tables:
        query = (
            "SELECT user_key, civil_date, COUNT(*) AS n "  # noqa: S608 - names of our own
            f"FROM `{emulators.PROJECT}.{dataset}.{table}` WHERE run_id = @run GROUP BY 1, 2"
        )
        try:
            result = client.query(query, job_config=config).result()
        except Exception as err:  # the pipeline creates its tables with the first rows
            if "not found" in str(err).lower():
                continue
            raise
        for row in result:
            counts[(table, row["user_key"], row["civil_date"])] = row["n"]
    return counts


def complete(seen: dict[tuple[str, str, dt.date], int], pair: Pair, expected: Expected) -> bool:
    """Whether all of `pair`'s rows are visible.

    Raises:
        RuntimeError: more rows than the ground truth: loaded twice, or the wrong ones.
    """
    user, day = pair
    for table, want in expected.items():
        have = seen.get((table, user, day), 0)
        if have > want:
            raise RuntimeError(f"{table} holds {have} rows of {user} on {day}; expected {want}")
    return all(seen.get((table, user, day), 0) == want for table, want in expected.items())


def differences(
    have: dict[tuple[str, str, dt.date], int], want: dict[tuple[str, str, dt.date], int]
) -> list[str]:
    """Each (table, user, day) whose row count is not the expected one, as text."""
    return [
        f"{' '.join(map(str, key))}: {have.get(key, 0)} rows, expected {want.get(key, 0)}"
        for key in sorted(have.keys() | want.keys())
        if have.get(key, 0) != want.get(key, 0)
    ]


class Poller:
    """Polls BigQuery on a fixed cadence and notes when each pair's rows are all visible.

    Attributes:
        visible: pair -> monotonic time the first poll that saw all its rows came back.
        periods: seconds between the ends of successive polls.
        query_seconds: how long each poll took.
    """

    def __init__(self, client, dataset: str, tables: list[str], run_id: str, interval: float):
        self.client, self.dataset, self.tables, self.run_id = client, dataset, tables, run_id
        self.interval = interval
        self.visible: dict[Pair, float] = {}
        self.periods: list[float] = []
        self.query_seconds: list[float] = []
        self._last_end: float | None = None
        self._due = time.monotonic()

    def poll(self, expected: dict[Pair, Expected]) -> None:
        """Waits for the next poll's turn, runs it, and notes pairs newly complete."""
        self._due += self.interval
        now = time.monotonic()
        if now < self._due:
            time.sleep(self._due - now)
        else:
            self._due = now  # behind: go at once, and keep the cadence from here
        began = time.monotonic()
        seen = visible_rows(self.client, self.dataset, self.tables, self.run_id)
        ended = time.monotonic()
        self.query_seconds.append(ended - began)
        if self._last_end is not None:
            self.periods.append(ended - self._last_end)
        self._last_end = ended
        for pair, want in expected.items():
            if pair not in self.visible and complete(seen, pair, want):
                self.visible[pair] = ended


def wait_visible(
    poller: Poller,
    expected: dict[Pair, Expected],
    deadline: Callable[[], float],
    alive: Callable[[], None],
) -> None:
    """Polls until every pair in `expected` is visible.

    Args:
        deadline: the monotonic time to give up by (asked again on each poll).
        alive: raises if the pipeline or the publisher has failed.

    Raises:
        TimeoutError: naming how many pairs are still missing.
    """
    while len(expected.keys() - poller.visible.keys()) > 0:
        alive()
        if time.monotonic() > deadline():
            missing = sorted(expected.keys() - poller.visible.keys())
            raise TimeoutError(
                f"{len(missing)} of {len(expected)} requests not visible in time, "
                f"first {missing[0][0]} {missing[0][1]}"
            )
        poller.poll(expected)


def stop_streaming(
    thread: threading.Thread, stop: threading.Event, stream: Stream, tick: bytes
) -> None:
    """Stops the run: its pending pull returns on the next message, so tick until it ends."""
    stop.set()
    deadline = time.monotonic() + STOP_SECONDS
    while thread.is_alive():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the streaming run did not end within {STOP_SECONDS} s")
        stream.publish(tick)
        thread.join(1)


# --------------------------------------------------------------------------- the figures


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def summary(values: list[float]) -> dict[str, float]:
    """p50, p95, min, max and mean of `values`, in seconds (3 decimals).

    Percentiles interpolate between the sorted values (`statistics.quantiles`, inclusive).
    """
    cuts = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else []
    return {
        "p50": round(statistics.median(values), 3),
        "p95": round(cuts[94] if cuts else values[0], 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
        "mean": round(statistics.fmean(values), 3),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.streaming_latency",
        description="Streaming pipeline latency: request published to rows visible in BigQuery.",
    )
    parser.add_argument("--users", type=positive_int, default=20, help="simulated users (20)")
    parser.add_argument(
        "--days", type=positive_int, default=10, help="days per user, one message each (10)"
    )
    parser.add_argument(
        "--data_types",
        type=_data_types,
        default=["steps"],
        help="data types of every message, comma-separated (steps)",
    )
    parser.add_argument(
        "--rate",
        type=positive_float,
        default=4.0,
        help="messages published per second (4: about what the local runner sustains)",
    )
    parser.add_argument(
        "--tick_rate",
        type=positive_float,
        default=None,
        help="ticks published per second after the last request (default: --rate)",
    )
    parser.add_argument(
        "--poll_interval",
        type=positive_float,
        default=0.25,
        help="seconds between BigQuery polls (0.25)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=300.0,
        help="seconds after the last publish to wait for the last rows (300)",
    )
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    say = (lambda *_: None) if args.json_only else print
    cpus, cpu_model = _cpu_count(), _cpu_model()
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    tables = sorted({datatypes.spec(t).table for t in args.data_types})

    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fitbeam-bench-")))
        emu = stack.enter_context(emulators.LocalEmulators(folder / "emulators", pubsub=True))
        saved_env = dict(os.environ)
        stack.callback(lambda: (os.environ.clear(), os.environ.update(saved_env)))
        emulators.use_emulator_endpoints(emu.env)
        users = [f"user-{i}" for i in range(1, args.users + 1)]
        sim = stack.enter_context(
            Simulator(
                SimulatorConfig(users=args.users, clock_speed=0, start_time=START.timestamp())
            )
        )
        store = LocalFileTokenStore(folder / "tokens")
        authorise_users(sim, users, store)

        # One message per (user, day); the first user's next earlier day warms up.
        days = {
            u: days_with_data(
                sim, u, args.data_types, args.days + 1 if u == users[0] else args.days
            )
            for u in users
        }
        warm_day, warm_expected = days[users[0]].pop()
        warm_pair = (users[0], warm_day)
        order = [(u, days[u][k]) for k in range(args.days) for u in users]  # users interleaved
        pairs = [(u, day) for u, (day, _) in order]
        expected = {(u, day): want for u, (day, want) in order}
        messages = [request_message(u, day, data_types=args.data_types) for u, day in pairs]
        tick = request_message(users[0], empty_day(sim, users[0], "weight"), data_types=["weight"])
        expected_total = sum(sum(want.values()) for want in expected.values())
        say(
            f"{len(messages)} requests ({args.users} users x {args.days} days of "
            f"{','.join(args.data_types)}, {pairs[-1][1]}..{pairs[0][1]}): "
            f"{expected_total:,} rows expected; {args.rate:g} messages/s"
        )

        stream = Stream()
        dataset, run_id = f"bench_latency_{stream.suffix}", f"bench-latency-{stream.suffix}"
        bq = emulator_bigquery_client()
        bq.create_dataset(f"{emulators.PROJECT}.{dataset}", exists_ok=True)
        argv = [
            "--streaming",
            f"--requests_subscription={stream.subscription}",
            f"--api_base_url={sim.base_url}",
            f"--token_store={store.root}",
            f"--dataset={emulators.PROJECT}:{dataset}",
            f"--dead_letter_root=gs://{emulators.DEFAULT_BUCKET}/bench-latency-dead-letters",
            f"--project={emulators.PROJECT}",
            f"--run_id={run_id}",
        ]
        thread, stop, outcome = start_streaming(argv)
        publisher = Publisher(stream, messages, tick, args.rate, args.tick_rate or args.rate)
        stopped = False

        def alive() -> None:
            if not thread.is_alive():
                raise RuntimeError(f"the streaming run ended: {outcome.get('error')}")
            if publisher.error is not None:
                raise RuntimeError(f"publishing failed: {publisher.error}") from publisher.error

        def halt() -> None:
            publisher.finished.set()
            if not stopped and thread.is_alive():
                stop_streaming(thread, stop, stream, tick)

        stack.callback(halt)  # also on failure: the run must end before the emulators

        # Warm-up: start-up and table creation, left out of the figures.
        warm_sent = time.monotonic()
        stream.publish(request_message(*warm_pair, data_types=args.data_types))
        poller = Poller(bq, dataset, tables, run_id, args.poll_interval)
        wait_visible(poller, {warm_pair: warm_expected}, lambda: warm_sent + args.timeout, alive)
        warm_latency = poller.visible[warm_pair] - warm_sent
        say(f"warm-up request visible after {warm_latency:.2f} s (start-up, tables created)")

        poller = Poller(bq, dataset, tables, run_id, args.poll_interval)
        publisher.start()

        def deadline() -> float:
            if len(publisher.sent) < len(messages):
                return float("inf")
            return publisher.sent[-1] + args.timeout

        wait_visible(poller, expected, deadline, alive)
        publisher.finished.set()
        publisher.join()
        alive()
        stop_streaming(thread, stop, stream, tick)
        stopped = True
        if "error" in outcome:
            raise RuntimeError(f"the streaming run failed: {outcome['error']}")
        state = outcome["report"].state

        # Exactly the ground truth, now that nothing more can arrive.
        final = visible_rows(bq, dataset, tables, run_id)
        wanted = {
            (table, u, day): n
            for (u, day), want in {**expected, warm_pair: warm_expected}.items()
            for table, n in want.items()
        }
        mismatches = differences(final, wanted)
        loaded = sum(final.values()) - sum(warm_expected.values())

    latencies = [
        poller.visible[pair] - sent for pair, sent in zip(pairs, publisher.sent, strict=True)
    ]
    acks = [acked - sent for sent, acked in zip(publisher.sent, publisher.acked, strict=True)]
    figures_s = summary(latencies)
    periods = summary(poller.periods)
    queries = summary(poller.query_seconds)
    wall_seconds = time.monotonic() - started
    load_after = os.getloadavg()[0]

    say(
        f"run {run_id}: {len(messages)} messages -> {loaded:,} rows "
        f"in {', '.join(tables)} ({state})"
    )
    say("publish -> rows visible: " + ", ".join(f"{k} {v:.2f} s" for k, v in figures_s.items()))
    say(
        f"resolution: polls every {args.poll_interval:g} s; measured period p50 "
        f"{periods['p50']:.3f} s, max {periods['max']:.3f} s (query p50 {queries['p50']:.3f} s); "
        "latency runs to the end of the first poll that saw all rows"
    )
    span = publisher.sent[-1] - publisher.sent[0]
    first_visible, last_visible = min(poller.visible.values()), max(poller.visible.values())
    completed_rate = (len(messages) - 1) / (last_visible - first_visible or 1)
    measure_seconds = last_visible - publisher.sent[0]
    achieved_rate = (len(messages) - 1) / span if span else float(args.rate)
    say(
        f"publishing: {achieved_rate:.2f} messages/s (most behind schedule {publisher.lag:.3f} s),"
        f" ack p50 {statistics.median(acks) * 1000:.1f} ms; then {publisher.ticks} ticks at "
        f"{publisher.tick_rate:g}/s"
    )
    say(
        f"rows visible for {completed_rate:.2f} messages/s "
        f"({loaded / (last_visible - first_visible or 1):,.0f} rows/s) from the first to the last"
    )
    say(
        f"last rows visible {measure_seconds:.1f} s after the first publish; "
        f"wall time {wall_seconds:.1f} s in all"
    )
    say(
        f"machine: {cpus} CPUs ({cpu_model}), Python {platform.python_version()}, "
        f"Beam {beam.__version__}; load average (1 min) {load_before:.2f} before, "
        f"{load_after:.2f} after"
    )
    figures = {
        "messages": len(messages),
        "users": args.users,
        "days": args.days,
        "data_types": args.data_types,
        "rate_per_s": args.rate,
        "achieved_rate_per_s": round(achieved_rate, 2),
        "visible_rate_per_s": round(completed_rate, 2),
        "rows": loaded,
        "latency_s": figures_s,
        "warmup_latency_s": round(warm_latency, 3),
        "poll_interval_s": args.poll_interval,
        "poll_period_s": {"p50": periods["p50"], "max": periods["max"]},
        "query_s": {"p50": queries["p50"], "max": queries["max"]},
        "publish_ack_ms_p50": round(statistics.median(acks) * 1000, 1),
        "publish_lag_max_s": round(publisher.lag, 3),
        "ticks": publisher.ticks,
        "tick_rate_per_s": publisher.tick_rate,
        "measure_seconds": round(measure_seconds, 1),
        "wall_seconds": round(wall_seconds, 1),
        "state": state,
        "cpu_count": cpus,
        "cpu_model": cpu_model,
        "load_average_1m": [round(load_before, 2), round(load_after, 2)],
        "python": platform.python_version(),
        "beam_version": beam.__version__,
    }
    print(json.dumps(figures))
    if mismatches:
        for mismatch in mismatches:
            print(f"rows differ from the ground truth: {mismatch}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
