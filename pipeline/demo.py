"""`fitbeam demo`: a synthetic user's steps, fetched through a real OAuth flow.

Runs entirely on this machine: it starts the Google Health API simulator,
authorises a synthetic user with Google's installed-app flow (PKCE, loopback
redirect, state check; the simulator consents on the user's behalf), stores
the token in a local token store, lets the access token expire and refreshes
it, then reads the user's step counts for the last complete days two ways:
every minute point of the reconciled stream, summed per civil day, and the
API's own daily rollup. The two must agree.

Run: `make demo` (or `fitbeam demo --days 7 --user user-1`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

from simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Simulator, SimulatorConfig
from transforms import datatypes, oauth
from transforms.health_api import HealthApiClient
from transforms.token_store import LocalFileTokenStore


def _visit(url: str) -> None:
    """Stands in for the browser: the simulator's consent page redirects at once."""
    requests.get(url, timeout=30)


def _civil_date(point_body: dict) -> dt.date:
    d = point_body["interval"]["civilStartTime"]["date"]
    return dt.date(d["year"], d["month"], d["day"])


def run_demo(days: int, user: str, state_dir: Path, out=print) -> dict[str, tuple[int, int]]:
    """Runs the demo and returns {civil date: (sum of minute points, daily rollup)}."""
    with Simulator(SimulatorConfig(users=3)) as sim:
        zone = sim.users[user].time_zone
        out(f"Google Health API simulator listening on {sim.base_url}")
        client = oauth.OAuthClient.for_base_url(
            DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, sim.base_url
        )
        scopes = datatypes.scopes_for(["steps"])
        token = oauth.authorize(client, scopes, login_hint=user, open_url=_visit)
        store = LocalFileTokenStore(state_dir / "tokens")
        store.save(user, token)
        out(f"authorised {user} (time zone {zone}) with PKCE; token stored in {store.root}")

        sim.advance(3600)  # the access token is now expired
        token = oauth.refresh(client, store.load(user))
        store.save(user, token)
        out("access token expired after an hour of simulator time; refreshed and stored")

        api = HealthApiClient(requests.Session(), sim.base_url)
        access = token["access_token"]
        # "Today" is the user's civil date, in the zone their settings name.
        zone_name = api.settings(access)["timeZone"]
        today = dt.datetime.fromtimestamp(sim.clock.now(), ZoneInfo(zone_name)).date()
        first = today - dt.timedelta(days=days)
        flt = (
            f'steps.interval.civil_start_time >= "{first.isoformat()}" AND '
            f'steps.interval.civil_start_time < "{today.isoformat()}"'
        )
        totals: dict[dt.date, int] = {}
        minutes: dict[dt.date, int] = {}
        for point in api.list_all(access, "steps", filter_text=flt, reconcile=True):
            body = point["steps"]
            day = _civil_date(body)
            totals[day] = totals.get(day, 0) + int(body.get("count", "0"))
            minutes[day] = minutes.get(day, 0) + 1
        rollup = {}
        for window in api.daily_rollup(access, "steps", first, today):
            d = window["civilStartTime"]["date"]
            rollup[dt.date(d["year"], d["month"], d["day"])] = int(
                window["steps"].get("countSum", "0")
            )

    out("")
    out(f"steps of {user}, last {days} complete days (civil dates in {zone})")
    out(f"{'civil date':<12} {'minute points':>13} {'steps (sum)':>12} {'dailyRollUp':>12}")
    result = {}
    for i in range(days):
        day = first + dt.timedelta(days=i)
        summed, rolled = totals.get(day, 0), rollup.get(day, 0)
        mark = "" if summed == rolled else "  MISMATCH"
        out(f"{day.isoformat():<12} {minutes.get(day, 0):>13} {summed:>12,} {rolled:>12,}{mark}")
        result[day.isoformat()] = (summed, rolled)
    agree = all(a == b for a, b in result.values())
    out("")
    out("sums of minute points match the API's daily rollup" if agree else "MISMATCH found")
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=int, default=7, help="complete days to show (default 7)")
    parser.add_argument("--user", default="user-1", help="synthetic user (default user-1)")
    parser.add_argument(
        "--state_dir", default=".local", help="where the token store lives (default .local)"
    )


def main(args: argparse.Namespace) -> int:
    if not 1 <= args.days <= 90:
        raise SystemExit(f"--days must be between 1 and 90, got {args.days}; e.g. --days 7")
    started = time.monotonic()
    result = run_demo(args.days, args.user, Path(args.state_dir))
    print(f"done in {time.monotonic() - started:.1f} s")
    return 0 if all(a == b for a, b in result.values()) else 1
