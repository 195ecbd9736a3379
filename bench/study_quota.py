"""The project's quota at study scale: many users, several workers, one project budget.

The Google Health API allows 300 requests a minute per user and 120,000 a minute per
project. The fetch keys calls by user (`transforms.fetch.FetchPages`), so each user's
calls are fetched by one worker and the per-user budget is kept whole there; the
project's budget is kept by each worker pacing itself by the project's 429s
(`healthapi.quota.ProjectShare` inside `transforms.fetch.ProjectThrottle`). This
benchmark checks that together the workers use the project's quota without running
into it: a study of `--users` users (200) x `--days` days (30) fetched by
`--processes` worker processes (4) against the simulator in a process of its own, with
the project's quota scaled down to `--project_quota` (6,000 a minute) and the user's at
`--user_quota` (300).

How:

- Each worker process fetches for its share of the users, picked by a hash of the user
  key as Dataflow assigns keys to workers. It runs `--threads` threads (16) over its
  calls in random order, each call through `healthapi.calls.run_call` with a
  `CallRunner` wired as `FetchFn` wires it: the token broker, the per-user limiter
  (`budget_limiter`), `RetryPolicy()` and the project's throttle (`project_throttle`).
  Exercise pages fan out TCX calls in the same process, as the detail fetch does for
  the same key.
- The simulator and every worker read one clock (`SimClock` with the same start, speed
  and origin); `--clock_speed` sets its pace. Waits in the limiter, the share and the
  retry policy are on that clock. By default it runs at a quarter of real time: the
  scaled quota allows 100 requests a simulated second, and 2 busy cores serve about 36
  a real second (a study's 7,300 requests: 200 x 30 days is about 37 requests a user),
  so at real time the machine, not the quota, would set the pace. At 0.25 the quota
  allows 25 a real second, and binds. Heart rate is sampled every `--hr_spacing`
  seconds (300); the calls are the same at any spacing.
- Each request is recorded with the simulated time it went out and its status; the
  simulator's own counts (`/admin/v1/stats`) must agree.

Figures, each beside its goal:

- 429 share: requests answered 429 (for the project's quota or a user's) over all
  requests; goal under 1%.
- Project quota use while work remains: requests the API counted (every answer but
  401s and 429s) from the first request to the last, over what the project's quota
  allows in that time; goal 80% or more.
- Users complete: users all of whose calls succeeded; goal every user.

Run from the repository root (`make bench-study-quota`; about 6 minutes on 2 cores)::

    .venv/bin/python -m bench.study_quota

The last line printed is one JSON object of the figures. The exit status is 1 when a goal
is missed or the counts disagree with the simulator's.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import dataclasses
import datetime as dt
import functools
import json
import logging
import multiprocessing
import os
import platform
import random
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterable

import requests

from bench.args import data_types, positive_float, positive_int
from bench.quota import (
    NOT_COUNTED,
    START,
    Backlog,
    Recorder,
    RemoteSimulator,
    _cpu_count,
    authorise,
    backfill_calls,
    detail_calls,
    expiring_on,
    quantile,
)
from healthapi import calls, datatypes
from healthapi.auth import oauth
from healthapi.auth.broker import TokenBroker
from healthapi.auth.file_store import LocalFileTokenStore
from healthapi.client import HealthApiClient
from healthapi.quota import ProjectBudget, budget_limiter
from healthapi.retry import RetryPolicy
from rows import datapoints
from simulator import SimulatorConfig
from simulator.clock import SimClock
from transforms.fetch import project_throttle

RUN_ID = "bench-study-quota"
MAX_SHARE_429 = 0.01
MIN_PROJECT_USE = 0.80


# --------------------------------------------------------------------------- the figures


def share_429(statuses: Iterable[int]) -> float:
    """Requests answered 429 over all requests (0 when there were none)."""
    statuses = list(statuses)
    return sum(1 for s in statuses if s == 429) / len(statuses) if statuses else 0.0


def project_use(counted_sent: list[float], per_minute: int) -> float:
    """Requests the API counted over what the project's quota allows while work remained.

    Work remains from the first counted request to the last; the quota allows
    `per_minute / 60` a second of that span. NaN with fewer than two requests.
    """
    if len(counted_sent) < 2:
        return float("nan")
    span = max(counted_sent) - min(counted_sent)
    return len(counted_sent) / (per_minute / 60.0 * span) if span > 0 else float("nan")


def per_minute_use(
    counted_sent: list[float], started: float, ended: float, per_minute: int
) -> list[float]:
    """Use of the project's quota in each whole simulated minute from `started` to `ended`."""
    minutes = int((ended - started) // 60)
    counts = collections.Counter(int((t - started) // 60) for t in counted_sent)
    return [counts.get(m, 0) / per_minute for m in range(minutes)]


def count_by_minute(times: list[float], started: float) -> list[int]:
    """How many of `times` fall in each simulated minute from `started`, to the last one."""
    counts = collections.Counter(int((t - started) // 60) for t in times)
    return [counts.get(m, 0) for m in range(max(counts) + 1)] if counts else []


def users_complete(users: Iterable[str], failed_users: Iterable[str]) -> int:
    """Users none of whose calls failed."""
    failed = set(failed_users)
    return sum(1 for u in users if u not in failed)


def worker_of(user_key: str, workers: int) -> int:
    """The worker that owns a user's key: a stable hash of it, as Dataflow shards keys."""
    return zlib.crc32(user_key.encode()) % workers


def goal_lines(figures: dict, users: int) -> list[tuple[str, bool]]:
    """Each figure beside its goal, and whether it is met."""
    share, use, complete = figures["share_429"], figures["project_use"], figures["users_complete"]
    return [
        (
            f"share of requests answered 429: {share:.2%}; goal under {MAX_SHARE_429:.0%}",
            share < MAX_SHARE_429,
        ),
        (
            f"project quota use while work remains: {use:.0%}; goal {MIN_PROJECT_USE:.0%} or more",
            use >= MIN_PROJECT_USE,
        ),
        (f"users complete: {complete} of {users}; goal all {users}", complete == users),
    ]


# --------------------------------------------------------------------------- one worker


@dataclasses.dataclass(frozen=True)
class WorkerSpec:
    """What one worker process needs: its users, the simulator and the clock they share."""

    index: int
    users: tuple[str, ...]
    data_types: tuple[str, ...]
    days: int
    base_url: str
    token_folder: str
    clock_start: float
    clock_speed: float
    clock_origin: float
    user_quota: int
    project_quota: int
    threads: int
    seed: int


def _run_worker(spec: WorkerSpec, conn) -> None:
    """A worker process: fetches its users' calls and sends back what it recorded."""
    try:
        conn.send(fetch_share(spec))
    except BaseException as err:  # the parent reports it; nothing is swallowed
        conn.send({"error": f"{type(err).__name__}: {err}"})
        raise
    finally:
        conn.close()


def fetch_share(spec: WorkerSpec) -> dict:
    """Makes every call of the worker's users, and the TCX calls they fan out."""
    clock = SimClock(spec.clock_start, spec.clock_speed, origin=spec.clock_origin).now

    def sim_sleep(seconds: float) -> None:
        time.sleep(seconds / spec.clock_speed)

    store = LocalFileTokenStore(spec.token_folder)
    client_id, client_secret = store.load_client()
    broker = TokenBroker(
        store,
        oauth.OAuthClient(client_id, client_secret, token_url=spec.base_url + "/token"),
        clock=clock,
        refresh=lambda client, token: expiring_on(clock, oauth.refresh(client, token)),
    )
    # As FetchFn.setup wires it: one per-user limiter and one project throttle for the
    # process, shared by its threads.
    recorder = Recorder(budget_limiter(spec.user_quota, clock=clock, sleep=sim_sleep), clock)
    throttle = project_throttle(
        ProjectBudget(per_minute=spec.project_quota), clock=clock, sleep=sim_sleep
    )
    lock = threading.Lock()
    tally = {"retries": 0, "throttled": 0.0}

    def on_retry() -> None:
        with lock:
            tally["retries"] += 1

    def on_throttled(seconds: float) -> None:
        with lock:
            tally["throttled"] += seconds

    runners = {
        user: calls.CallRunner(
            broker=broker,
            limiter=recorder,
            policy=RetryPolicy(),
            sleep=functools.partial(recorder.backoff, sim_sleep),
            on_status=functools.partial(recorder.status, user),
            on_retry=on_retry,
            project=throttle,
            on_throttled=on_throttled,
        )
        for user in spec.users
    }
    ingest_time = dt.datetime.fromtimestamp(clock(), dt.UTC)
    contexts = {user: datapoints.RowContext(user, RUN_ID, ingest_time) for user in spec.users}
    work = backfill_calls(list(spec.users), list(spec.data_types), spec.days)
    backlog = Backlog(work, random.Random(spec.seed + spec.index))
    kinds: collections.Counter = collections.Counter()
    failed: list[tuple[str, str, str, str, int]] = []

    def work_loop(client: HealthApiClient) -> None:
        while (call := backlog.take()) is not None:
            try:
                page = calls.run_call(runners[call.user_key], client, call)
                for detail in detail_calls(page, contexts[call.user_key]):
                    backlog.put(detail)
            except calls.CallFailed as err:
                with lock:
                    failed.append(
                        (call.user_key, call.kind, call.data_type, err.verdict.reason, err.attempts)
                    )
            finally:
                with lock:
                    kinds[call.kind] += 1
                backlog.finish()

    with requests.Session() as session:
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=4, pool_maxsize=max(16, spec.threads)
        )
        session.mount("http://", adapter)
        client = HealthApiClient(session, spec.base_url)
        started = clock()
        with concurrent.futures.ThreadPoolExecutor(spec.threads) as pool:
            for done in [pool.submit(work_loop, client) for _ in range(spec.threads)]:
                done.result()
        ended = clock()
    return {
        "index": spec.index,
        "users": len(spec.users),
        "attempts": [dataclasses.astuple(a) for a in recorder.attempts],
        "calls": dict(kinds),
        "failed": failed,
        "retries": tally["retries"],
        "throttled_s": tally["throttled"],
        "share_per_min": throttle.share.capacity,
        "started": started,
        "ended": ended,
    }


def run_workers(specs: list[WorkerSpec]) -> list[dict]:
    """Runs each spec in a process of its own; their results, in spec order."""
    context = multiprocessing.get_context("spawn")
    started = []
    for spec in specs:
        parent, child = context.Pipe(duplex=False)
        process = context.Process(
            target=_run_worker, args=(spec, child), name=f"fitbeam-worker-{spec.index}"
        )
        process.start()
        child.close()
        started.append((process, parent))
    results = []
    for process, conn in started:
        try:
            results.append(conn.recv())
        except EOFError:
            results.append({"error": f"worker {process.name} ended without a result"})
        process.join()
    return results


# --------------------------------------------------------------------------- the run


def run(args: argparse.Namespace, say: Callable[..., None]) -> dict:
    users = [f"user-{i}" for i in range(1, args.users + 1)]
    shares = [
        tuple(u for u in users if worker_of(u, args.processes) == w) for w in range(args.processes)
    ]
    config = SimulatorConfig(
        users=args.users,
        quota_per_minute=args.user_quota,
        project_quota_per_minute=args.project_quota,
        clock_speed=args.clock_speed,
        start_time=START.timestamp(),
        hr_spacing_seconds=args.hr_spacing,
    )
    planned = len(backfill_calls(users, args.data_types, args.days))
    say(
        f"{args.users} users x {args.days} days of {len(args.data_types)} data types: "
        f"{planned:,} planned calls, then a TCX call per exercise; {args.processes} worker "
        f"processes x {args.threads} threads (users per worker "
        f"{', '.join(str(len(s)) for s in shares)}); quota {args.user_quota}/min per user, "
        f"{args.project_quota:,}/min per project; clock x{args.clock_speed:g}"
    )
    with (
        tempfile.TemporaryDirectory(prefix="fitbeam-bench-") as folder,
        RemoteSimulator(config) as sim,
    ):
        store = LocalFileTokenStore(folder)
        authorise(sim, users, store)
        before = sim.stats()
        clock = sim.clock
        specs = [
            WorkerSpec(
                index=w,
                users=share,
                data_types=tuple(args.data_types),
                days=args.days,
                base_url=sim.base_url,
                token_folder=folder,
                clock_start=clock.start,
                clock_speed=clock.speed,
                clock_origin=clock.origin,
                user_quota=args.user_quota,
                project_quota=args.project_quota,
                threads=args.threads,
                seed=args.seed,
            )
            for w, share in enumerate(shares)
        ]
        wall_started = time.monotonic()
        results = run_workers(specs)
        wall_seconds = time.monotonic() - wall_started
        after = sim.stats()

    errors = [r["error"] for r in results if "error" in r]
    if errors:
        raise RuntimeError("; ".join(errors))
    attempts = [a for r in results for a in r["attempts"]]  # (user, sent, answered, status)
    statuses = [a[3] for a in attempts]
    answers = collections.Counter(str(s) for s in statuses)
    counted = [a[1] for a in attempts if a[3] not in NOT_COUNTED]
    started = min(r["started"] for r in results)
    ended = max(r["ended"] for r in results)
    failed = [f for r in results for f in r["failed"]]
    kinds: collections.Counter = collections.Counter()
    for r in results:
        kinds.update(r["calls"])

    api_before, api_after = before["requests"].get("api", {}), after["requests"].get("api", {})
    served = {s: n - api_before.get(s, 0) for s, n in api_after.items()}
    served = {s: n for s, n in sorted(served.items()) if n}
    by_project = sum(after["quotaRejectedByProject"].values()) - sum(
        before["quotaRejectedByProject"].values()
    )
    by_user = sum(after["quotaRejectedByUser"].values()) - sum(
        before["quotaRejectedByUser"].values()
    )
    answered = {s: n for s, n in sorted(answers.items()) if s != "0"}
    agrees = served == answered and by_project + by_user == answers.get("429", 0)
    problems = [] if agrees else [f"the simulator answered {served}, the workers saw {answered}"]
    problems += [f"{u} {k} {t} failed: {why} x{n}" for u, k, t, why, n in failed[:20]]

    figures = {
        "share_429": share_429(statuses),
        "project_use": project_use(counted, args.project_quota),
        "users_complete": users_complete(users, (f[0] for f in failed)),
    }
    minutes = per_minute_use(counted, started, ended, args.project_quota)
    refused_by_minute = count_by_minute([a[1] for a in attempts if a[3] == 429], started)
    sim_seconds = ended - started
    kinds_text = ", ".join(f"{k} {n:,}" for k, n in sorted(kinds.items()))
    say(
        f"  {sum(kinds.values()):,} calls ({kinds_text})"
        f" -> {len(attempts):,} requests, {sum(r['retries'] for r in results):,} retries, "
        f"{len(failed)} calls failed; answers {dict(sorted(answers.items()))}; 429s for the "
        f"project's quota {by_project:,}, for a user's {by_user:,}; the simulator's count "
        f"{'agrees' if agrees else 'DIFFERS'}"
    )
    say(
        f"  {sim_seconds:,.0f} simulated s in {wall_seconds:.1f} s of wall time; "
        f"{len(counted):,} requests counted, the quota allows {args.project_quota / 60:g}/s; "
        f"use by whole minute: {', '.join(f'{u:.0%}' for u in minutes)}; 429s by minute: "
        f"{', '.join(str(n) for n in refused_by_minute) or 'none'}"
    )
    for r in results:
        mine = [a for a in r["attempts"]]
        say(
            f"  worker {r['index']}: {r['users']} users, {len(mine):,} requests, "
            f"{share_429(a[3] for a in mine):.2%} answered 429, waited for the project "
            f"{r['throttled_s']:,.0f} s over its threads, share at the end "
            f"{r['share_per_min']:,.0f}/min, done after {r['ended'] - started:,.0f} s"
        )
    lines = goal_lines(figures, args.users)
    for line, met in lines:
        say(f"  {line}: {'PASS' if met else 'FAIL'}")
    for problem in problems:
        say(f"  problem: {problem}")
    latencies = [a[2] - a[1] for a in attempts]
    return {
        **{k: (round(v, 5) if isinstance(v, float) else v) for k, v in figures.items()},
        "pass_429": lines[0][1],
        "pass_project_use": lines[1][1],
        "pass_users_complete": lines[2][1],
        "requests": len(attempts),
        "counted": len(counted),
        "answers": dict(sorted(answers.items())),
        "rejected_by_project": by_project,
        "rejected_by_user": by_user,
        "calls": dict(sorted(kinds.items())),
        "failed_calls": len(failed),
        "use_by_minute": [round(u, 3) for u in minutes],
        "429s_by_minute": refused_by_minute,
        "workers": [
            {
                "users": r["users"],
                "requests": len(r["attempts"]),
                "throttled_s": round(r["throttled_s"], 1),
                "share_per_min": round(r["share_per_min"]),
                "done_s": round(r["ended"] - started, 1),
            }
            for r in results
        ],
        "request_sim_s_p50": round(quantile(latencies, 0.5), 3),
        "sim_seconds": round(sim_seconds, 1),
        "wall_seconds": round(wall_seconds, 1),
        "problems": problems,
    }


# --------------------------------------------------------------------------- the command


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.study_quota",
        description="The project's quota at study scale: 429s, quota use, users complete.",
    )
    parser.add_argument("--users", type=positive_int, default=200, help="simulated users (200)")
    parser.add_argument("--days", type=positive_int, default=30, help="civil days per user (30)")
    parser.add_argument("--processes", type=positive_int, default=4, help="worker processes (4)")
    parser.add_argument(
        "--threads", type=positive_int, default=16, help="threads per worker process (16)"
    )
    parser.add_argument(
        "--project_quota",
        type=positive_int,
        default=6000,
        help="the project's requests a minute (6000: the API's 120,000 scaled down)",
    )
    parser.add_argument(
        "--user_quota", type=positive_int, default=300, help="a user's requests a minute (300)"
    )
    parser.add_argument(
        "--clock_speed",
        type=positive_float,
        default=0.25,
        help="simulated seconds per real second (0.25: the quota binds before the machine)",
    )
    parser.add_argument(
        "--data_types",
        type=data_types,
        default=list(datatypes.DEFAULT_DATA_TYPES),
        help="data types loaded, comma-separated (default: all)",
    )
    parser.add_argument(
        "--hr_spacing",
        type=positive_int,
        default=300,
        help="seconds between the simulator's heart-rate samples (300; the calls are the same)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the calls' order (0)")
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    say = (lambda *_: None) if args.json_only else print
    cpus = _cpu_count()
    load_before = os.getloadavg()[0]
    figures = run(args, say)
    load_after = os.getloadavg()[0]
    passed = (
        figures["pass_429"]
        and figures["pass_project_use"]
        and figures["pass_users_complete"]
        and not figures["problems"]
    )
    say(
        f"{'PASS' if passed else 'FAIL'}; load average (1 min) on {cpus} CPUs: "
        f"{load_before:.2f} before, {load_after:.2f} after"
    )
    print(
        json.dumps(
            {
                "users": args.users,
                "days": args.days,
                "processes": args.processes,
                "threads": args.threads,
                "project_quota_per_minute": args.project_quota,
                "user_quota_per_minute": args.user_quota,
                "clock_speed": args.clock_speed,
                "hr_spacing_s": args.hr_spacing,
                "data_types": len(args.data_types),
                "seed": args.seed,
                **figures,
                "pass": passed,
                "cpu_count": cpus,
                "load_average_1m": [round(load_before, 2), round(load_after, 2)],
                "python": platform.python_version(),
            }
        )
    )
    return 0 if passed else 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
