"""Per-user quota under a backfill: how many calls meet a 429, how much budget goes unused.

Each user gets a budget of calls to the Google Health API: 300 a minute (the legacy Fitbit
API allowed 150 an hour). The pipeline takes a slot in one
`healthapi.quota.UserRateLimiter` for every call of a user, whether list, rollup or TCX
detail, and retries a 429 by the policy in `healthapi.retry`. This benchmark runs a
backfill through that code against the simulator and checks the two promises of issue 5:
under 1% of requests are answered 429, and each user uses 70% or more of its budget while
it has work left. By default it runs once per budget: `300/minute`, then `150/hour`.

How:

- The simulator runs in a process of its own, so that it does not share the benchmark's
  interpreter lock. Its clock runs `--clock_speed` times faster than real time. The
  benchmark builds an identical clock (a `SimClock` with the same start, speed and
  real-time origin) and gives it to the limiter, the token broker and the figures. Waits in
  the limiter and in the retry policy are in simulated seconds, each `1/clock_speed` of a
  real second long. So the limiter and the API budget on the same clock.
- By default one budget period takes one real minute: speed 60 for 150/hour, and speed 1
  for 300/minute. With that speed, the time a request takes to reach the API is as small a
  part of the window as it is against the real API's minute. And at 300/minute a faster
  clock would only measure the machine: 20 users at 300 a minute is 100 requests per
  simulated second, and 2 cores serve about 120 a real second.
- The limiter is the pipeline's: `healthapi.quota.budget_limiter`, which `shared_limiter`
  gives `FetchFn`. `--limiter_margin 0` gives the limiter as it was before issue 5.
- The token broker reads token expiry on the simulator's clock: requests-oauthlib stamps
  `expires_at` with the real clock, so the benchmark stamps it again (`expiring_on`).
- The work is what `PlanCalls` makes of a backfill of `--users` users x `--days` civil
  days of `--data_types` (default: all of them). Heart rate is sampled every
  `--hr_spacing` seconds (default 300) so that the simulator can serve it fast enough; the
  calls are the same at any sample spacing. Each exercise found adds one TCX call, made as
  soon as its exercise page is in.
- `--workers` threads run the calls through `healthapi.calls.run_call`, wired as
  `FetchFn` wires it: a token broker, the limiter and `RetryPolicy()` in a `CallRunner`,
  and one HTTP session. The threads take calls from one backlog in random order. That is
  what the Reshuffle in `FetchPages` hands a worker: a random call of any user, so users'
  calls are interleaved.
- Each request is recorded with the simulated time the limiter let it go, the simulated
  time it was answered, and the HTTP status the runner's `on_status` reported. The
  simulator's own counts (`/admin/v1/stats`) must agree.

Figures, per budget:

- 429 share: requests answered 429 over all requests to the API.
- Budget use of a user: the requests the API counted against the budget (every answered
  request except 401s and 429s), divided by what the budget's steady pace allows. It is
  counted from the start of the run until the user's last request went out; until then
  the user has work left. The promise is checked on that whole span; the figures also
  give each period of the budget (each minute for 300/minute), a partial last period pro
  rata. A sliding window
  lets a user spend a whole period's budget at once, so a user whose work is smaller than
  one period's budget can score above 100%. At 300/minute one user's 30-day backfill is
  about 230 requests, under one minute's budget. The limiter then never waits, and the
  figure says whether the fetch keeps up with the budget's pace. At 150/hour the budget
  runs out, and the figure says whether the limiter lets the user spend all of it.
- Worker time: the share spent on requests, waiting in the limiter, backing off before a
  retry, and the rest (client work, and idling at the end).
- Hot loops: the longest run of 429s one call met in a row; the shortest and median time
  from a 429 to the same worker's next request for that user; and the most requests and
  the most 429s of one user within one simulated second.

Wall-clock figures depend on whatever else the machine is doing, so the load average
before and after is printed with them.

Run from the repository root (about two minutes on 2 idle cores)::

    .venv/bin/python -m bench.quota

The last line printed is one JSON object of the figures; `--json-only` prints only that. The
exit status is 1 when a promise is not kept, a call fails, or the counts disagree with the
simulator's.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import functools
import json
import logging
import math
import multiprocessing
import os
import platform
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

import requests

from bench.args import data_types, positive_float, positive_int
from healthapi import calls, datatypes, planning, quota
from healthapi.auth import oauth
from healthapi.auth.broker import TokenBroker
from healthapi.auth.file_store import LocalFileTokenStore
from healthapi.client import HealthApiClient
from healthapi.elements import STREAM_RECONCILED, ApiCall, ApiPage
from healthapi.planning import plan_calls, requests_for
from healthapi.quota import UserRateLimiter, budget_limiter, parse_budget
from healthapi.retry import RetryPolicy
from localdev.demo import authorise_users
from rows import datapoints
from simulator import Simulator, SimulatorConfig
from simulator.clock import SimClock

RUN_ID = "bench-quota"
# The simulator's clock starts at noon UTC on this day; the days loaded end the day before,
# so they are complete in every time zone.
START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
BUDGETS = ("300/minute", "150/hour")
MAX_SHARE_429 = 0.01
MIN_BUDGET_USE = 0.70
# Answers the API gives before it counts a request against the budget (0: no answer).
NOT_COUNTED = frozenset({0, 401, 429})


# --------------------------------------------------------------------------- the simulator


def _serve(config: SimulatorConfig, origin: float, conn) -> None:
    """The simulator process: serves until the benchmark says stop (or goes away)."""
    clock = SimClock(config.start_time, config.clock_speed, origin=origin)
    with Simulator(config, clock=clock) as sim:
        conn.send(sim.base_url)
        with contextlib.suppress(EOFError):  # the benchmark went away: stop too
            conn.recv()


class RemoteSimulator:
    """A simulator in a process of its own, on a clock this process reads too.

    Args:
        config: the simulator's settings.

    Attributes:
        clock: the simulator's clock, as this process reads it.
        base_url: where the simulator listens.
    """

    def __init__(self, config: SimulatorConfig):
        self.config = config
        origin = time.monotonic()
        self.clock = SimClock(config.start_time, config.clock_speed, origin=origin)
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(config, origin, child), name="fitbeam-simulator", daemon=True
        )
        self._process.start()
        child.close()
        if not self._conn.poll(60):
            self.close()
            raise RuntimeError("the simulator process did not start within 60 s")
        self.base_url = self._conn.recv()

    @property
    def token_url(self) -> str:
        return self.base_url + "/token"

    def stats(self) -> dict:
        return requests.get(self.base_url + "/admin/v1/stats", timeout=30).json()

    def close(self) -> None:
        with contextlib.suppress(OSError):  # the process has ended already
            self._conn.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(10)

    def __enter__(self) -> RemoteSimulator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------- the work


def backfill_calls(users: list[str], data_types: list[str], days: int) -> list[ApiCall]:
    """What `PlanCalls` makes of a backfill of `days` civil days ending the day before START."""
    last_day = START.date() - dt.timedelta(days=1)
    first_day = last_day - dt.timedelta(days=days - 1)
    fetch_requests = requests_for(users, data_types, first_day, last_day, STREAM_RECONCILED)
    return [call for request in fetch_requests for call in plan_calls(request)]


def detail_calls(page: ApiPage, ctx: datapoints.RowContext) -> Iterator[ApiCall]:
    """The TCX calls `transforms.rows.ToRows` fans out of an exercise page, one per exercise."""
    call = page.call
    if call.kind != "list" or call.data_type != "exercise":
        return
    for point in page.points:
        for table, row in datapoints.rows_for_point("exercise", point, ctx, call.stream):
            if table == "exercise" and row.get("data_point_id"):
                yield planning.detail_call(call, row)


class Backlog:
    """Calls still to make, handed out in random order, as a Reshuffle hands them out.

    A call added later (a detail call) lands at a random place among those left.

    Args:
        work: the calls planned up front.
        rng: the order's random source.
    """

    def __init__(self, work: list[ApiCall], rng: random.Random):
        self._calls = list(work)
        self._rng = rng
        self._busy = 0
        self._cond = threading.Condition()

    def put(self, call: ApiCall) -> None:
        """Adds a call; only a worker that has taken a call and not finished it adds any."""
        with self._cond:
            self._calls.append(call)

    def take(self) -> ApiCall | None:
        """A random call, waiting while calls under way may add more; None when all are done."""
        with self._cond:
            while not self._calls and self._busy:
                self._cond.wait()
            if not self._calls:
                return None
            index = self._rng.randrange(len(self._calls))
            self._calls[index], self._calls[-1] = self._calls[-1], self._calls[index]
            self._busy += 1
            return self._calls.pop()

    def finish(self) -> None:
        """Marks a taken call done."""
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()


def expiring_on(clock: Callable[[], float], token: dict) -> dict:
    """`token` with `expires_at` on `clock`.

    requests-oauthlib stamps a new token's expiry on the real clock; the simulator expires
    it on its own, so the broker must see it on that one.
    """
    if "expires_in" not in token:
        return token
    return {**token, "expires_at": clock() + float(token["expires_in"])}


def authorise(sim: RemoteSimulator, users: list[str], store: LocalFileTokenStore) -> None:
    """Runs each user's consent flow (`fitbeam demo`'s) and stores the token as `sim` sees it."""
    for user in users:
        authorise_users(sim, [user], store)
        store.save(user, expiring_on(sim.clock.now, store.load(user)))


# --------------------------------------------------------------------------- the record


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One request to the API: when it went out and when it was answered (simulated s)."""

    user_key: str
    sent: float
    answered: float
    status: int


class Recorder:
    """Records every request; it stands between the runner and the limiter.

    The runner asks `acquire` for a slot before each request and reports each answer's
    status to `status`. A worker thread makes one request at a time, so the thread's own
    state pairs each answer with its request.

    Args:
        limiter: the limiter under test.
        clock: simulated seconds.
    """

    def __init__(self, limiter: UserRateLimiter, clock: Callable[[], float]):
        self.limiter = limiter
        self.clock = clock
        self.attempts: list[Attempt] = []
        self.limiter_waits: list[float] = []
        self.after_429: list[float] = []  # a 429 -> the worker's next request of that user
        self.backoffs: list[float] = []
        self.longest_429_run = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    def acquire(self, user_key: str) -> float:
        waited = self.limiter.acquire(user_key)
        now = self.clock()
        local = self._local
        local.pending = (user_key, now)
        last_429 = getattr(local, "last_429", {}).pop(user_key, None)
        with self._lock:
            self.limiter_waits.append(waited)
            if last_429 is not None:
                self.after_429.append(now - last_429)
        return waited

    def status(self, user_key: str, status: int) -> None:
        """The runner's `on_status`, bound to one user."""
        now = self.clock()
        local = self._local
        pending = getattr(local, "pending", None)
        local.pending = None
        if pending is None or pending[0] != user_key:
            return  # failed before the limiter: no request went out
        run = getattr(local, "run_429", 0) + 1 if status == 429 else 0
        local.run_429 = run
        if status == 429:
            if not hasattr(local, "last_429"):
                local.last_429 = {}
            local.last_429[user_key] = now
        with self._lock:
            self.attempts.append(Attempt(user_key, pending[1], now, status))
            self.longest_429_run = max(self.longest_429_run, run)

    def backoff(self, sleep: Callable[[float], None], seconds: float) -> None:
        """The runner's `sleep` (`sleep` bound first): a retry's backoff."""
        with self._lock:
            self.backoffs.append(seconds)
        sleep(seconds)


@dataclasses.dataclass
class Outcome:
    """What a backfill did, besides its requests."""

    calls: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    failed: list[tuple[ApiCall, str, int]] = dataclasses.field(default_factory=list)
    retries: int = 0
    started: float = 0.0  # simulated seconds
    ended: float = 0.0


def run_backfill(
    sim: RemoteSimulator,
    store: LocalFileTokenStore,
    work: list[ApiCall],
    budget: tuple[int, float],
    workers: int,
    seed: int,
    margin: float | None = None,
) -> tuple[Recorder, Outcome]:
    """Makes every call of `work`, and the detail calls they fan out, `workers` at a time.

    The limiter is the pipeline's (`budget_limiter`), or one whose slots are held `margin`
    of the window longer than the API's when `margin` is given.
    """
    clock, speed = sim.clock.now, sim.config.clock_speed

    def sim_sleep(seconds: float) -> None:
        time.sleep(seconds / speed)

    per_window, window_seconds = budget
    if margin is None:
        limiter = budget_limiter(per_window, window_seconds, clock=clock, sleep=sim_sleep)
    else:
        limiter = UserRateLimiter(
            per_window, window_seconds, clock, sim_sleep, margin_seconds=window_seconds * margin
        )
    recorder = Recorder(limiter, clock)
    client_id, client_secret = store.load_client()
    broker = TokenBroker(
        store,
        oauth.OAuthClient(client_id, client_secret, token_url=sim.token_url),
        clock=clock,
        refresh=lambda client, token: expiring_on(clock, oauth.refresh(client, token)),
    )
    outcome = Outcome()
    lock = threading.Lock()

    def on_retry() -> None:
        with lock:
            outcome.retries += 1

    users = sorted({call.user_key for call in work})
    runners = {
        user: calls.CallRunner(
            broker=broker,
            limiter=recorder,
            policy=RetryPolicy(),
            sleep=functools.partial(recorder.backoff, sim_sleep),
            on_status=functools.partial(recorder.status, user),
            on_retry=on_retry,
        )
        for user in users
    }
    ingest_time = dt.datetime.fromtimestamp(clock(), dt.UTC)  # stamped once, as a run does
    contexts = {user: datapoints.RowContext(user, RUN_ID, ingest_time) for user in users}
    backlog = Backlog(work, random.Random(seed))

    def work_loop(client: HealthApiClient) -> None:
        while (call := backlog.take()) is not None:
            try:
                page = calls.run_call(runners[call.user_key], client, call)
                for detail in detail_calls(page, contexts[call.user_key]):
                    backlog.put(detail)
            except calls.CallFailed as failed:
                with lock:
                    outcome.failed.append((call, failed.verdict.reason, failed.attempts))
            finally:
                with lock:
                    outcome.calls[call.kind] += 1
                backlog.finish()

    with requests.Session() as session:
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=max(16, workers))
        session.mount("http://", adapter)
        client = HealthApiClient(session, sim.base_url)
        outcome.started = clock()
        with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="fetch") as pool:
            for done in [pool.submit(work_loop, client) for _ in range(workers)]:
                done.result()  # raises what a worker raised
        outcome.ended = clock()
    return recorder, outcome


# --------------------------------------------------------------------------- the figures


def budget_use(
    sent: list[float], started: float, last_sent: float, budget: tuple[int, float]
) -> list[tuple[float, float]]:
    """(share of the period with work left, budget use) of each budget period of a user.

    Periods run back to back from `started`; the user has work left until `last_sent`, the
    time its last request went out, so the last period may be partial. Use is the requests
    sent in the period over what the budget's pace allows for the part with work left.

    Args:
        sent: when each of the user's counted requests went out.
        started: the start of the run.
        last_sent: when the user's last request went out.
        budget: (calls, window seconds).
    """
    per_window, window_seconds = budget
    span = last_sent - started
    periods = []
    for k in range(max(1, math.ceil(span / window_seconds))):
        begin = started + k * window_seconds
        end = min(begin + window_seconds, last_sent)
        covered = (end - begin) / window_seconds
        last = end == last_sent
        used = sum(1 for t in sent if begin <= t < end or (last and t == end))
        periods.append((covered, used / (per_window * covered) if covered else math.inf))
    return periods


def most_within(times: list[float], seconds: float) -> int:
    """The most of `times` that fall within any interval `seconds` long."""
    times = sorted(times)
    most, low = 0, 0
    for high, t in enumerate(times):
        while t - times[low] >= seconds:
            low += 1
        most = max(most, high - low + 1)
    return most


def quantile(values: list[float], q: float) -> float:
    """The `q` quantile of `values` (nearest rank); NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# --------------------------------------------------------------------------- one budget


def run_budget(args: argparse.Namespace, label: str, say: Callable[..., None]) -> dict:
    """Runs the backfill under one budget; prints and returns its figures."""
    budget = parse_budget(label)
    per_window, window_seconds = budget
    speed = args.clock_speed or window_seconds / 60.0
    users = [f"user-{i}" for i in range(1, args.users + 1)]
    work = backfill_calls(users, args.data_types, args.days)
    config = SimulatorConfig(
        users=args.users,
        quota_per_minute=per_window,
        quota_window_seconds=window_seconds,
        clock_speed=speed,
        start_time=START.timestamp(),
        hr_spacing_seconds=args.hr_spacing,
    )
    say(
        f"[{label}] {args.users} users x {args.days} days of {len(args.data_types)} data "
        f"types: {len(work):,} planned calls, then a TCX call per exercise; clock x{speed:g} "
        f"(a budget period takes {window_seconds / speed:g} s); {args.workers} workers"
    )
    with (
        tempfile.TemporaryDirectory(prefix="fitbeam-bench-") as folder,
        RemoteSimulator(config) as sim,
    ):
        store = LocalFileTokenStore(folder)
        authorise(sim, users, store)
        before = sim.stats()
        wall_started = time.monotonic()
        recorder, outcome = run_backfill(
            sim, store, work, budget, args.workers, args.seed, args.limiter_margin
        )
        wall_seconds = time.monotonic() - wall_started
        after = sim.stats()

    attempts = recorder.attempts
    answers = collections.Counter(str(a.status) for a in attempts)
    n_429 = answers.get("429", 0)
    share_429 = n_429 / len(attempts)
    api_before, api_after = before["requests"].get("api", {}), after["requests"].get("api", {})
    served = {s: n - api_before.get(s, 0) for s, n in api_after.items()}
    served = {s: n for s, n in sorted(served.items()) if n}
    refused = sum(after["quotaRejectedByUser"].values()) - sum(
        before["quotaRejectedByUser"].values()
    )
    answered = {s: n for s, n in sorted(answers.items()) if s != "0"}  # 0: no answer
    agrees = served == answered and refused == n_429
    problems = []
    if not agrees:
        problems.append(
            f"the simulator answered {served} ({refused} over quota), the runner saw {answered}"
        )
    for call, reason, tries in outcome.failed:
        problems.append(f"{call.user_key} {call.kind} {call.data_type} failed: {reason} x{tries}")

    started = outcome.started
    by_user: dict[str, list[Attempt]] = collections.defaultdict(list)
    for a in attempts:
        by_user[a.user_key].append(a)
    use: dict[str, float] = {}
    period_uses: list[float] = []
    spans: list[float] = []
    for user in users:
        last_sent = max(a.sent for a in by_user[user])
        counted = [a.sent for a in by_user[user] if a.status not in NOT_COUNTED]
        periods = budget_use(counted, started, last_sent, budget)
        covered = sum(share for share, _ in periods)
        use[user] = len(counted) / (per_window * covered) if covered else math.inf
        period_uses.extend(u for _, u in periods)
        spans.append(last_sent - started)
    uses = sorted(use.values())
    lowest_user = min(use, key=use.__getitem__)
    largest_work = max(len(v) for v in by_user.values())
    latencies = [a.answered - a.sent for a in attempts]
    sim_seconds = outcome.ended - started
    worker_seconds = args.workers * sim_seconds
    shares = {
        "requests": sum(latencies) / worker_seconds,
        "limiter": sum(recorder.limiter_waits) / worker_seconds,
        "backoff": sum(recorder.backoffs) / worker_seconds,
    }
    shares["other"] = 1.0 - sum(shares.values())
    waited = sum(1 for w in recorder.limiter_waits if w > 0)
    most_per_second = max(most_within([a.sent for a in v], 1.0) for v in by_user.values())
    most_429_per_second = max(
        most_within([a.sent for a in v if a.status == 429], 1.0) for v in by_user.values()
    )
    after_429_min = min(recorder.after_429, default=math.nan)
    after_429_p50 = quantile(recorder.after_429, 0.5)
    pass_429 = share_429 < MAX_SHARE_429
    pass_use = uses[0] >= MIN_BUDGET_USE
    at_70 = sum(u >= MIN_BUDGET_USE for u in period_uses)

    kinds = ", ".join(f"{kind} {n:,}" for kind, n in sorted(outcome.calls.items()))
    say(
        f"  {sum(outcome.calls.values()):,} calls ({kinds}) -> {len(attempts):,} requests, "
        f"{outcome.retries:,} retries, {len(outcome.failed)} calls failed; answers "
        f"{dict(sorted(answers.items()))}; the simulator's count "
        f"{'agrees' if agrees else 'DIFFERS'}"
    )
    say(
        f"  {sim_seconds:,.0f} simulated s in {wall_seconds:.1f} s of wall time; a request took "
        f"p50 {quantile(latencies, 0.5):.2f} simulated s "
        f"({quantile(latencies, 0.5) / speed * 1000:.0f} ms real), p95 "
        f"{quantile(latencies, 0.95):.2f}; most requests of one user {largest_work} "
        f"(budget {per_window} per {window_seconds:g} s)"
    )
    say(
        f"  worker time: requests {shares['requests']:.0%}, limiter {shares['limiter']:.0%} "
        f"({waited:,} of {len(recorder.limiter_waits):,} requests waited), backoff "
        f"{shares['backoff']:.0%}, other {shares['other']:.0%}"
    )
    say(
        f"  budget use while work left, per user: lowest {uses[0]:.0%} ({lowest_user}), p50 "
        f"{quantile(uses, 0.5):.0%}, highest {uses[-1]:.0%}; work lasted p50 "
        f"{quantile(spans, 0.5):,.0f} simulated s; user-periods at 70% or more: {at_70} of "
        f"{len(period_uses)}, lowest {min(period_uses):.0%}"
    )
    say(
        f"  hot loops: longest run of 429s for one call {recorder.longest_429_run}; from a 429 "
        f"to the worker's next request of the user: min {after_429_min:.2f}, p50 "
        f"{after_429_p50:.2f} simulated s; most requests of one user in a simulated second "
        f"{most_per_second}, most 429s {most_429_per_second}"
    )
    say(
        f"  429 share {share_429:.2%} ({n_429:,} of {len(attempts):,}), must be under "
        f"{MAX_SHARE_429:.0%}: {'PASS' if pass_429 else 'FAIL'}"
    )
    say(
        f"  budget use while work left {uses[0]:.0%} for the lowest user, must be "
        f"{MIN_BUDGET_USE:.0%} or more: {'PASS' if pass_use else 'FAIL'}"
    )
    for problem in problems:
        say(f"  problem: {problem}")

    def rounded(value: float, digits: int = 3) -> float | None:
        return None if math.isnan(value) else round(value, digits)

    return {
        "budget": label,
        "budget_calls": per_window,
        "budget_seconds": window_seconds,
        "clock_speed": speed,
        "calls": dict(sorted(outcome.calls.items())),
        "requests": len(attempts),
        "retries": outcome.retries,
        "failed_calls": len(outcome.failed),
        "answers": dict(sorted(answers.items())),
        "simulator_answers": served,
        "simulator_refused_over_quota": refused,
        "most_requests_one_user": largest_work,
        "share_429": round(share_429, 5),
        "pass_429": pass_429,
        "budget_use": {
            "min": round(uses[0], 3),
            "p50": round(quantile(uses, 0.5), 3),
            "max": round(uses[-1], 3),
        },
        "user_periods": len(period_uses),
        "user_periods_at_70": at_70,
        "user_period_use_min": round(min(period_uses), 3),
        "pass_budget_use": pass_use,
        "worker_time": {k: round(v, 3) for k, v in shares.items()},
        "limiter_waits": waited,
        "request_sim_s": {
            "p50": round(quantile(latencies, 0.5), 3),
            "p95": round(quantile(latencies, 0.95), 3),
        },
        "longest_429_run": recorder.longest_429_run,
        "after_429_sim_s": {"min": rounded(after_429_min), "p50": rounded(after_429_p50)},
        "most_requests_one_user_sim_s": most_per_second,
        "most_429_one_user_sim_s": most_429_per_second,
        "sim_seconds": round(sim_seconds, 1),
        "wall_seconds": round(wall_seconds, 1),
        "problems": problems,
    }


# --------------------------------------------------------------------------- the command


def _budgets(text: str) -> list[str]:
    labels = [b.strip() for b in text.split(",") if b.strip()]
    if not labels:
        raise argparse.ArgumentTypeError("name at least one budget, e.g. 300/minute")
    for label in labels:
        try:
            parse_budget(label)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return labels


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.quota",
        description="Per-user quota under a backfill: 429s and budget use, on a fast clock.",
    )
    parser.add_argument("--users", type=positive_int, default=20, help="simulated users (20)")
    parser.add_argument("--days", type=positive_int, default=30, help="civil days per user (30)")
    parser.add_argument(
        "--budgets",
        type=_budgets,
        default=list(BUDGETS),
        help=f"per-user budgets to run under, comma-separated ({','.join(BUDGETS)})",
    )
    parser.add_argument(
        "--clock_speed",
        type=positive_float,
        default=None,
        help="simulated seconds per real second (default: a budget period per real minute)",
    )
    parser.add_argument("--workers", type=positive_int, default=16, help="worker threads (16)")
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
    parser.add_argument(
        "--limiter_margin",
        type=float,
        default=None,
        help="share of the window a slot is held beyond it (default: the pipeline's, "
        f"{quota.MARGIN:g}; 0 was the limiter before issue 5)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the calls' order (0)")
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    say = (lambda *_: None) if args.json_only else print
    cpus = _cpu_count()
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    runs = [run_budget(args, label, say) for label in args.budgets]
    wall_seconds = time.monotonic() - started
    load_after = os.getloadavg()[0]
    passed = all(r["pass_429"] and r["pass_budget_use"] and not r["problems"] for r in runs)
    say(
        f"{'PASS' if passed else 'FAIL'}: {', '.join(r['budget'] for r in runs)}; wall time "
        f"{wall_seconds:.1f} s in all; load average (1 min) on {cpus} CPUs: {load_before:.2f} "
        f"before, {load_after:.2f} after"
    )
    figures = {
        "users": args.users,
        "days": args.days,
        "data_types": args.data_types,
        "workers": args.workers,
        "hr_spacing_s": args.hr_spacing,
        "seed": args.seed,
        "runs": runs,
        "pass": passed,
        "wall_seconds": round(wall_seconds, 1),
        "cpu_count": cpus,
        "load_average_1m": [round(load_before, 2), round(load_after, 2)],
        "python": platform.python_version(),
    }
    print(json.dumps(figures))
    return 0 if passed else 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
