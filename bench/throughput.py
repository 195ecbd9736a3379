"""Throughput of turning heart-rate API pages into rows: plain Python against Beam's DirectRunner.

Heart rate is the densest data type (one sample every 5 s, the simulator's default), so its
row building bounds how fast a load can go. The benchmark makes the API's response bodies
once, then times two consumers of the same bytes:

- plain: a Python loop that runs `json.loads` on each body and
  `rows.datapoints.rows_for_point` on each point, counting rows;
- beam: the same work in a FlatMap over (user key, body) elements on the DirectRunner, rows
  counted by `Count.Globally` and read back through a metric, once per running mode:
  `in_memory` (the default), then `multi_threading` and `multi_processing` with one worker
  per CPU. Its time is the whole pipeline: construction, run and wait.

The Beam pipeline reads each body from a file of its own (`Create` of (user key, path), then
a Map that reads the file, fused with the FlatMap), because `Create` of the bodies themselves
pickles and bz2-compresses them into the pipeline description: about half a second per MB,
several minutes for the default 300 MB, which would time `Create` and not row building.

The bodies are those of the list calls `healthapi.planning` plans for each user (6-hour
civil windows, each one page of at most 10,000 points): `:reconcile` for the reconciled
stream, plain `list` for the raw one. Serving a window over HTTP takes the simulator most of
a second, so they are rendered with the simulator's own functions instead, the way its list
handler renders them, one process per CPU. One window per user is also fetched over HTTP
with `healthapi.client.HealthApiClient`; the benchmark stops unless those bodies are
byte for byte the rendered ones, and fails unless plain Python and every Beam mode count the
same points and rows.

Wall-clock figures follow whatever else the machine is doing: the load average before and
after is printed with them.

Run from the repository root (about two minutes with the defaults on 2 idle cores)::

    .venv/bin/python -m bench.throughput --users 10 --days 7 --repeat 1

The last line printed is one JSON object of the figures; `--json-only` prints only that.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import functools
import json
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator

import apache_beam as beam
import requests
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from bench.args import positive_int
from healthapi import datatypes, planning
from healthapi.auth import oauth
from healthapi.client import HealthApiClient
from healthapi.elements import STREAM_RAW, STREAM_RECONCILED, ApiCall, FetchRequest
from rows import datapoints
from simulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    Simulator,
    SimulatorConfig,
    render,
    timefmt,
)
from simulator.catalog import DATA_TYPES
from simulator.filters import parse_filter
from simulator.synth import SOURCE_FAMILIES, Point, User

DATA_TYPE = "heart-rate"
NAMESPACE = "fitbeam_bench"
RUN_ID = "bench-throughput"
# The simulator's clock stands still at noon UTC on this day. The days benchmarked end the
# day before, so they are complete and visible in every time zone.
START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
MODES = ("in_memory", "multi_threading", "multi_processing")

Page = tuple[str, bytes]  # (user key, raw response body of one list call)
PageRef = tuple[str, str]  # (user key, path of a file holding the body)


# --------------------------------------------------------------------------- the bytes


def planned_calls(
    user_key: str, first_day: dt.date, last_day: dt.date, stream: str
) -> list[ApiCall]:
    """The heart-rate list calls the pipeline makes for one user, oldest window first."""
    return planning.plan_calls(FetchRequest(user_key, DATA_TYPE, first_day, last_day, stream))


class PageRenderer:
    """Renders the body of a planned list call as the simulator's list handler does.

    It follows `SimulatorApp._list` with no page token and no `dataSourceFamily`: scan the
    filter's civil days newest first, take each day's points from every source (reconciled
    per day for `:reconcile`), keep those in the call's civil window, render them with
    `simulator.render` and serialise them as `json_response` does. Civil times are worked
    out once per day rather than once per window; that is what makes it fast.

    Args:
        sim: the simulator whose data to render.
        stream: `reconciled` (the `:reconcile` method) or `raw` (the `list` method).
    """

    def __init__(self, sim: Simulator, stream: str):
        self.sim = sim
        self.reconciled = stream == STREAM_RECONCILED
        self.catalog_type = DATA_TYPES[DATA_TYPE]
        self.page_size = datatypes.spec(DATA_TYPE).page_size
        self.scan_days = sim.config.scan_days_per_page
        self._days: dict[tuple[str, dt.date], list[tuple[Point, dt.datetime]]] = {}

    def _day(self, user: User, day: dt.date) -> list[tuple[Point, dt.datetime]]:
        """A civil day's points, newest first, each with its civil time."""
        key = (user.user_id, day)
        if key not in self._days:
            store = self.sim.store
            sources = SOURCE_FAMILIES["all-sources"]
            points = [p for p in store.day_points(user, DATA_TYPE, day) if p.source in sources]
            if self.reconciled:
                points = store.reconcile(points)
            zone = user.zone
            self._days[key] = [(p, timefmt.local_datetime(p.start, zone)) for p in points]
        return self._days[key]

    def body(self, call: ApiCall) -> bytes:
        """The response body of `call`.

        Raises:
            ValueError: the window would not come back as one page (more points than the
                page size, or more days than one page scans); the API's page tokens are not
                rendered.
        """
        store = self.sim.store
        user = self.sim.users[call.user_key]
        first_day, last_day = parse_filter(
            planning.window_filter(call), self.catalog_type, user.zone
        ).day_range()
        if (last_day - first_day).days >= self.scan_days:
            raise ValueError(f"window {call.start}..{call.end} scans more than one page of days")
        start, end = dt.datetime.fromisoformat(call.start), dt.datetime.fromisoformat(call.end)
        day = min(last_day, store.today(user))
        first = max(first_day, user.history_start)
        points: list[Point] = []
        while day >= first:
            points.extend(p for p, civil in self._day(user, day) if start <= civil < end)
            day -= dt.timedelta(days=1)
        if len(points) > self.page_size:
            raise ValueError(
                f"window {call.start}..{call.end} holds {len(points)} points, "
                f"more than a page of {self.page_size}"
            )
        payload = {}
        if points:
            payload["dataPoints"] = [
                render.render_point(
                    user, DATA_TYPE, p, store.body(user, DATA_TYPE, p), self.reconciled
                )
                for p in points
            ]
        return json.dumps(payload, separators=(",", ":")).encode()


def _visit(url: str) -> None:
    """Stands in for the browser on the simulator's auto-consenting page."""
    requests.get(url, timeout=10)


def fetch_bodies(sim: Simulator, user_key: str, call: ApiCall) -> list[bytes]:
    """The raw bodies of every page of `call`, fetched over HTTP as the pipeline asks."""
    client = oauth.OAuthClient.for_base_url(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, sim.base_url)
    token = oauth.authorize(
        client, datatypes.scopes_for([DATA_TYPE]), login_hint=user_key, open_url=_visit
    )["access_token"]
    bodies: list[bytes] = []
    with requests.Session() as session:
        session.hooks["response"].append(lambda response, *_, **__: bodies.append(response.content))
        api = HealthApiClient(session, sim.base_url)
        page_token = None
        while True:
            page = api.list_page(
                token,
                DATA_TYPE,
                filter_text=planning.window_filter(call),
                page_token=page_token,
                page_size=datatypes.spec(DATA_TYPE).page_size,
                reconcile=call.stream == STREAM_RECONCILED,
            )
            if not page.next_page_token:
                return bodies
            page_token = page.next_page_token


def _config(users: int) -> SimulatorConfig:
    return SimulatorConfig(users=users, clock_speed=0, start_time=START.timestamp())


def _days(days: int) -> tuple[dt.date, dt.date]:
    """The first and last civil day benchmarked."""
    last_day = START.date() - dt.timedelta(days=1)
    return last_day - dt.timedelta(days=days - 1), last_day


def render_user(users: int, days: int, stream: str, user_key: str) -> list[bytes]:
    """The bodies of one user's planned calls, oldest window first (runs in a worker process)."""
    renderer = PageRenderer(Simulator(_config(users)), stream)
    return [renderer.body(call) for call in planned_calls(user_key, *_days(days), stream)]


def make_pages(users: int, days: int, stream: str, processes: int) -> tuple[list[Page], list[str]]:
    """Every planned call's body for `users` users over `days` civil days.

    Users are rendered in `processes` processes at once; the simulator's data depends only
    on its seed, so each process's simulator holds the same data.

    Returns:
        The pages, and the problems found checking a sample of them against HTTP (empty when
        every sampled window came back byte for byte as rendered).
    """
    user_keys = [f"user-{i}" for i in range(1, users + 1)]
    with concurrent.futures.ProcessPoolExecutor(processes) as pool:
        rendered = list(pool.map(functools.partial(render_user, users, days, stream), user_keys))
    pages = [
        (key, body) for key, bodies in zip(user_keys, rendered, strict=True) for body in bodies
    ]
    problems = []
    with Simulator(_config(users)) as sim:
        if sorted(sim.users) != sorted(user_keys):
            return pages, [f"the simulator's users are {sorted(sim.users)}, not {user_keys}"]
        for index, (user_key, bodies) in enumerate(zip(user_keys, rendered, strict=True)):
            calls = planned_calls(user_key, *_days(days), stream)
            # One window per user, stepping through days and hours of the day.
            sample = (index * 5 + 2) % len(calls)
            if fetch_bodies(sim, user_key, calls[sample]) != [bodies[sample]]:
                call = calls[sample]
                problems.append(f"{user_key} {call.start}..{call.end}: HTTP body differs")
    return pages, problems


# --------------------------------------------------------------------------- the consumers


def plain_rows(pages: list[Page], ingest_time: dt.datetime, stream: str) -> tuple[int, int]:
    """(points, rows) of `pages`, built in a plain Python loop."""
    n_points = n_rows = 0
    for user_key, body in pages:
        ctx = datapoints.RowContext(user_key, RUN_ID, ingest_time)
        points = json.loads(body).get("dataPoints", ())
        n_points += len(points)
        for point in points:
            n_rows += len(datapoints.rows_for_point(DATA_TYPE, point, ctx, stream))
    return n_points, n_rows


def page_rows(page: Page, ingest_time: dt.datetime, stream: str) -> Iterator[tuple[str, dict]]:
    """The (table, row) pairs of one page: the FlatMap of the Beam consumer."""
    user_key, body = page
    ctx = datapoints.RowContext(user_key, RUN_ID, ingest_time)
    points = json.loads(body).get("dataPoints", ())
    Metrics.counter(NAMESPACE, "points").inc(len(points))
    for point in points:
        yield from datapoints.rows_for_point(DATA_TYPE, point, ctx, stream)


def read_page(ref: PageRef) -> Page:
    """The page a `PageRef` names, read from its file."""
    user_key, path = ref
    with open(path, "rb") as f:
        return user_key, f.read()


def report_rows(count: int) -> None:
    Metrics.counter(NAMESPACE, "rows").inc(count)


def _counter(result, name: str) -> int:
    found = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE).with_name(name))
    return sum(c.committed or 0 for c in found["counters"])


def beam_rows(
    refs: list[PageRef], ingest_time: dt.datetime, stream: str, mode: str, workers: int
) -> tuple[int, int]:
    """(points, rows) of the pages `refs` name, built and counted in a DirectRunner pipeline."""
    flags = {} if mode == "in_memory" else {"direct_running_mode": mode}
    if mode != "in_memory":
        flags["direct_num_workers"] = workers
    pipeline = beam.Pipeline(options=PipelineOptions(flags=[], **flags))
    _ = (
        pipeline
        | "CreatePageRefs" >> beam.Create(refs)
        | "ReadPages" >> beam.Map(read_page)
        | "PagesToRows" >> beam.FlatMap(page_rows, ingest_time, stream)
        | "CountRows" >> beam.combiners.Count.Globally()
        | "ReportRows" >> beam.Map(report_rows)
    )
    result = pipeline.run()
    result.wait_until_finish()
    return _counter(result, "points"), _counter(result, "rows")


def write_pages(pages: list[Page], folder: str) -> list[PageRef]:
    """Writes each page's body to its own file in `folder`; returns what names them."""
    refs = []
    for index, (user_key, body) in enumerate(pages):
        path = os.path.join(folder, f"page-{index:05d}.json")
        with open(path, "wb") as f:
            f.write(body)
        refs.append((user_key, path))
    return refs


def best_of(repeat: int, work: Callable[[], tuple[int, int]]) -> tuple[tuple[int, int], float]:
    """The counts of `work` and its fastest wall-clock time over `repeat` runs."""
    best = float("inf")
    counts = (0, 0)
    for _ in range(repeat):
        started = time.perf_counter()
        counts = work()
        best = min(best, time.perf_counter() - started)
    return counts, best


# --------------------------------------------------------------------------- the command


def _modes(text: str) -> list[str]:
    modes = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if not modes or unknown:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of {', '.join(MODES)}; got {text!r:.80}"
        )
    return modes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.throughput",
        description="Heart-rate pages to rows: plain Python against Beam's DirectRunner.",
    )
    parser.add_argument("--users", type=positive_int, default=10, help="simulated users (10)")
    parser.add_argument("--days", type=positive_int, default=7, help="civil days per user (7)")
    parser.add_argument(
        "--repeat", type=positive_int, default=1, help="runs of each consumer; the best counts (1)"
    )
    parser.add_argument(
        "--stream",
        choices=(STREAM_RECONCILED, STREAM_RAW),
        default=STREAM_RECONCILED,
        help="reconciled (:reconcile, the pipeline's default) or raw (list)",
    )
    parser.add_argument(
        "--modes",
        type=_modes,
        default=list(MODES),
        help=f"DirectRunner modes to try, comma-separated (default: {','.join(MODES)})",
    )
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")
    return parser.parse_args(argv)


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    say = (lambda *_: None) if args.json_only else print
    cpus = _cpu_count()
    ingest_time = dt.datetime.now(dt.UTC)  # stamped once, as a pipeline run does
    load_before = os.getloadavg()[0]

    started = time.perf_counter()
    pages, problems = make_pages(args.users, args.days, args.stream, cpus)
    total_bytes = sum(len(body) for _, body in pages)
    say(
        f"{DATA_TYPE} ({args.stream}), {args.users} users x {args.days} days: "
        f"{len(pages)} pages, {total_bytes:,} bytes, made in {time.perf_counter() - started:.1f} s"
    )
    if problems:
        for problem in problems:
            print(f"rendered bytes are not the API's: {problem}", file=sys.stderr)
        return 1

    (points, n_rows), plain_seconds = best_of(
        args.repeat, lambda: plain_rows(pages, ingest_time, args.stream)
    )
    say(
        f"plain Python: {points:,} points -> {n_rows:,} rows in {plain_seconds:.2f} s "
        f"= {n_rows / plain_seconds:,.0f} rows/s"
    )

    seconds_of: dict[str, float] = {}
    workers_of: dict[str, int] = {}
    mismatches = []
    with tempfile.TemporaryDirectory(prefix="fitbeam-bench-") as folder:
        refs = write_pages(pages, folder)
        for mode in args.modes:
            workers = 1 if mode == "in_memory" else cpus
            (beam_points, beam_count), seconds = best_of(
                args.repeat,
                lambda mode=mode, workers=workers: beam_rows(
                    refs, ingest_time, args.stream, mode, workers
                ),
            )
            seconds_of[mode], workers_of[mode] = seconds, workers
            say(
                f"Beam DirectRunner {mode} ({workers} worker{'s' if workers > 1 else ''}): "
                f"{beam_points:,} points -> {beam_count:,} rows in {seconds:.2f} s "
                f"= {beam_count / seconds:,.0f} rows/s"
            )
            if (beam_points, beam_count) != (points, n_rows):
                mismatches.append(
                    f"{mode}: {beam_points} points, {beam_count} rows; "
                    f"plain Python: {points} points, {n_rows} rows"
                )

    load_after = os.getloadavg()[0]
    best_mode = min(seconds_of, key=seconds_of.__getitem__)
    ratio = plain_seconds / seconds_of[best_mode]  # same rows: the ratio of rows/s
    say(
        f"best Beam mode: {best_mode}; Beam/plain rows/s = {ratio:.3f} "
        f"(Beam takes {1 / ratio:.2f}x the time)"
    )
    say(f"load average (1 min) on {cpus} CPUs: {load_before:.2f} before, {load_after:.2f} after")
    figures = {
        "data_type": DATA_TYPE,
        "stream": args.stream,
        "users": args.users,
        "days": args.days,
        "repeat": args.repeat,
        "pages": len(pages),
        "bytes": total_bytes,
        "points": points,
        "rows": n_rows,
        "plain_seconds": round(plain_seconds, 3),
        "plain_rows_per_s": round(n_rows / plain_seconds),
        "beam_seconds": round(seconds_of[best_mode], 3),
        "beam_rows_per_s": round(n_rows / seconds_of[best_mode]),
        "ratio": round(ratio, 4),
        "beam_mode": best_mode,
        "beam_modes": {
            mode: {
                "workers": workers_of[mode],
                "seconds": round(seconds, 3),
                "rows_per_s": round(n_rows / seconds),
            }
            for mode, seconds in seconds_of.items()
        },
        "cpu_count": cpus,
        "load_average_1m": [round(load_before, 2), round(load_after, 2)],
        "python": platform.python_version(),
        "beam_version": beam.__version__,
    }
    print(json.dumps(figures))
    if mismatches:
        for mismatch in mismatches:
            print(f"row counts differ: {mismatch}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    # multi_processing relays each worker's start-up warnings (no semi-persistent directory,
    # unparsed direct-runner flags) through this logger; they say nothing about the run.
    logging.getLogger("apache_beam.runners.portability.local_job_service").setLevel(logging.ERROR)
    sys.exit(main())
