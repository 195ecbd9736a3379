"""API calls of a backfill against the calls the API's caps require, per data type.

Run it with `python -m bench.calls` (3 users x 90 days, every data type, the reconciled
stream; `--users`, `--days`, `--stream raw`, `--data_types steps,sleep`): it prints one
line per data type and exits 1 when a type misses the goal. `measure()` returns the same
figures, and `required`, `made`, `ratio`, `by_method` and `listed` are the yardstick
`bench.scorecard` (`make bench`) uses. The goal (issue "Speed and scale", item 3): at
most 1.05 calls made per call required, for every type.

How `measure` counts:

- An in-process simulator (seed 0, heart rate every 5 s, its clock frozen at 2026-11-28
  12:00 UTC) serves the users, each authorised through its consent flow.
- The backfill is what `PlanCalls` makes of `users` x the `days` civil days up to the day
  before the clock, total calories as the daily activity summary, plus the TCX export of
  every exercise found, as the rows stage asks for them. Each call goes through
  `healthapi.calls.run_call` with the pipeline's discipline: a token broker, the per-user
  limiter (300 a minute; its waits move the simulator's clock) and the retry policy.
- Calls made: the requests the simulator received, per data type (`callsByDataType` of
  its statistics), whatever the method: list or reconcile pages, tie re-reads, the
  summary's dailyRollUps of steps, distance, floors, total calories and active zone
  minutes, TCX exports.
- Calls required: `healthapi.planning.required_calls` of the points each user holds in
  those days in the stream read, counted from the simulator's store as its ground truth
  counts them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
from collections.abc import Mapping

import requests

from bench.args import positive_int
from healthapi import datatypes, planning
from healthapi.auth import oauth
from healthapi.auth.broker import TokenBroker
from healthapi.calls import CallRunner, run_call
from healthapi.client import HealthApiClient
from healthapi.elements import STREAM_RAW, STREAM_RECONCILED, ApiCall, ApiPage
from healthapi.quota import UserRateLimiter
from healthapi.retry import RetryPolicy
from rows import datapoints
from simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Simulator, SimulatorConfig

GOAL_RATIO = 1.05
START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)

# Calls counted at the simulator: data type -> API method -> requests.
Counts = dict[str, dict[str, int]]

# API methods in the order `by_method` writes them; others follow in name order.
_METHOD_ORDER = (
    planning.LIST,
    planning.RECONCILE,
    planning.DAILY_ROLLUP,
    "rollUp",
    planning.EXPORT_TCX,
    "get",
)


# --------------------------------------------------------------------------- the yardstick


def listed(data_type: str) -> bool:
    """Whether the type is read by list calls (total calories are only rolled up)."""
    return datatypes.spec(data_type).kind is not datatypes.Kind.ROLLUP_ONLY


def required(
    data_type: str,
    points_per_user: Mapping[str, int],
    days: int,
    stream: str = STREAM_RECONCILED,
    with_summary: bool = True,
) -> dict[str, int]:
    """The calls the API's caps require of a backfill of one type, by method.

    `healthapi.planning.required_calls` with the points of each user, TCX exports included
    (the pipeline exports every exercise).
    """
    return planning.required_calls(
        data_type, list(points_per_user.values()), days, stream, with_summary
    )


def made(before: Counts, after: Counts) -> Counts:
    """The calls between two readings of the simulator's counts; zeros left out."""
    out: Counts = {}
    for data_type, methods in after.items():
        for method, n in methods.items():
            diff = n - before.get(data_type, {}).get(method, 0)
            if diff:
                out.setdefault(data_type, {})[method] = diff
    return out


def ratio(calls: int, needed: int) -> float | None:
    """Calls made per call required; None when nothing was required."""
    return calls / needed if needed > 0 else None


def by_method(counts: Mapping[str, int]) -> str:
    """`{"reconcile": 90, "dailyRollUp": 21}` -> `reconcile 90 + dailyRollUp 21`."""
    names = [m for m in _METHOD_ORDER if counts.get(m)] + sorted(
        m for m in counts if m not in _METHOD_ORDER and counts[m]
    )
    return " + ".join(f"{m} {counts[m]:,}" for m in names) or "0"


# --------------------------------------------------------------------------- measuring


class _MemoryStore:
    """The users' tokens, in memory: the benchmark's token store."""

    def __init__(self):
        self.tokens: dict[str, dict] = {}

    def load(self, user_key: str) -> dict | None:
        return self.tokens.get(user_key)

    def save(self, user_key: str, token: dict) -> None:
        self.tokens[user_key] = token

    def refresh_lock(self, user_key: str):
        return contextlib.nullcontext()  # one thread: the broker's own lock suffices

    def load_client(self) -> tuple[str, str]:
        return (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)

    def save_client(self, client_id: str, client_secret: str) -> None:
        raise NotImplementedError


def _visit(url: str) -> None:
    """Stands in for the browser on the simulator's auto-consenting page."""
    requests.get(url, timeout=10)


def _runner(sim: Simulator, users: list[str], data_types: list[str]) -> CallRunner:
    """A `CallRunner` for the users, with tokens and waits on the simulator's clock."""
    client = oauth.OAuthClient.for_base_url(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, sim.base_url)

    def on_sim_clock(token: dict) -> dict:
        # requests-oauthlib stamps expiry with the wall clock; the simulator's is frozen.
        return {**token, "expires_at": sim.clock.now() + float(token["expires_in"])}

    store = _MemoryStore()
    scopes = datatypes.scopes_for(data_types)
    for user in users:
        store.save(user, on_sim_clock(oauth.authorize(client, scopes, user, open_url=_visit)))
    broker = TokenBroker(
        store, client, clock=sim.clock.now, refresh=lambda c, t: on_sim_clock(oauth.refresh(c, t))
    )
    limiter = UserRateLimiter(sim.config.quota_per_minute, clock=sim.clock.now, sleep=sim.advance)
    return CallRunner(broker, limiter, RetryPolicy(), sleep=sim.advance)


def _tcx_calls(page: ApiPage) -> list[ApiCall]:
    """The TCX exports the rows stage asks for after an exercise page: one per exercise."""
    call = page.call
    if call.kind != "list" or call.data_type != "exercise":
        return []
    ctx = datapoints.RowContext(call.user_key, "bench-calls", START)
    return [
        planning.detail_call(call, row)
        for point in page.points
        for table, row in datapoints.rows_for_point("exercise", point, ctx, call.stream)
        if table == "exercise" and row.get("data_point_id")
    ]


def _points_held(sim: Simulator, user: str, data_type: str, first, last, stream: str) -> int:
    """The type's points a user holds on civil days first..last, as the ground truth counts."""
    store, held, day = sim.store, 0, first
    while day <= last:
        points = store.day_points(sim.users[user], data_type, day)
        held += len(store.reconcile(points) if stream == STREAM_RECONCILED else points)
        day += dt.timedelta(days=1)
    return held


def measure(
    users: int = 3,
    days: int = 90,
    stream: str = STREAM_RECONCILED,
    data_types: tuple[str, ...] = datatypes.DEFAULT_DATA_TYPES,
) -> dict[str, dict]:
    """Calls made and required by a backfill, per data type.

    Args:
        users: synthetic users backfilled (`user-1` ...).
        days: civil days per user, ending the day before 2026-11-28.
        stream: `reconciled` or `raw`.
        data_types: the types asked for; total calories bring the daily activity summary,
            whose dailyRollUps count against the types it rolls up.

    Returns:
        `{data type: {"calls": made, "required": required, "ratio": made / required}}` in
        catalogue order, for the types asked for and those the summary rolls up.

    Raises:
        ValueError: an unknown data type.
    """
    for name in data_types:
        datatypes.spec(name)
    last = START.date() - dt.timedelta(days=1)
    first = last - dt.timedelta(days=days - 1)
    keys = [f"user-{i}" for i in range(1, users + 1)]
    config = SimulatorConfig(users=users, clock_speed=0, start_time=START.timestamp())
    with Simulator(config) as sim:
        runner = _runner(sim, keys, list(data_types))
        client = HealthApiClient(requests.Session(), sim.base_url)
        for request in planning.requests_for(keys, list(data_types), first, last, stream):
            for call in planning.plan_calls(request):
                page = run_call(runner, client, call)
                for detail in _tcx_calls(page):
                    run_call(runner, client, detail)
                del page  # a window's points can be a quarter of a GB
        counted = sim.stats()["callsByDataType"]
        summary = "total-calories" in data_types
        out = {}
        for name in datatypes.SPECS:
            asked = name in data_types
            if not asked and not (summary and name in datatypes.SUMMARY_TYPES):
                continue
            held = {
                u: _points_held(sim, u, name, first, last, stream) if asked and listed(name) else 0
                for u in keys
            }
            needed = required(name, held, days, stream, summary)
            if not asked:  # rolled up by the summary only
                needed = {m: n for m, n in needed.items() if m == planning.DAILY_ROLLUP}
            calls, total = sum(counted.get(name, {}).values()), sum(needed.values())
            share = ratio(calls, total)
            out[name] = {
                "calls": calls,
                "required": total,
                "ratio": None if share is None else round(share, 3),
            }
    return out


def table(figures: Mapping[str, Mapping]) -> str:
    """The figures as a text table with a total line and each type's verdict."""
    rows = [("data type", "calls", "required", "ratio", f"<= {GOAL_RATIO}")]
    for name, entry in figures.items():
        share = entry["ratio"]
        verdict = "-" if share is None else ("meets" if share <= GOAL_RATIO else "misses")
        rows.append((name, f"{entry['calls']:,}", f"{entry['required']:,}", f"{share}", verdict))
    calls = sum(e["calls"] for e in figures.values())
    total = sum(e["required"] for e in figures.values())
    share = ratio(calls, total)
    rows.append(("total", f"{calls:,}", f"{total:,}", "-" if share is None else f"{share:.3f}", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.calls", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--users", type=positive_int, default=3, help="e.g. 3")
    parser.add_argument("--days", type=positive_int, default=90, help="e.g. 90")
    parser.add_argument(
        "--stream", choices=(STREAM_RECONCILED, STREAM_RAW), default=STREAM_RECONCILED
    )
    parser.add_argument(
        "--data_types",
        default=",".join(datatypes.DEFAULT_DATA_TYPES),
        help="comma-separated, e.g. steps,sleep,total-calories (default: every type)",
    )
    args = parser.parse_args(argv)
    data_types = tuple(t.strip() for t in args.data_types.split(",") if t.strip())
    try:
        figures = measure(args.users, args.days, args.stream, data_types)
    except ValueError as err:
        parser.error(str(err))
    print(f"API calls of a backfill: {args.users} users x {args.days} days, {args.stream} stream")
    print(table(figures))
    misses = [n for n, e in figures.items() if e["ratio"] is not None and e["ratio"] > GOAL_RATIO]
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
