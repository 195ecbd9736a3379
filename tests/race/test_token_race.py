"""The refresh race: many worker processes, both fetch stages, one expired token per user.

The simulator issues single-use rotating refresh tokens (a spent one presented
again revokes the grant, as the legacy Fitbit API did). Sixteen worker
processes, each running the pipeline's `fetch` and `fetch_detail` DoFns on two
threads, start at one barrier and call the API for every user at once, while
every user's access token is dead:

- for half the users the stored token says it has expired, so every caller
  finds it expiring before calling;
- for the other half it looks valid but the server has expired it, so every
  caller gets a 401 first.

Exactly one refresh per user may reach the token endpoint, no `invalid_grant`
may happen, every call must succeed, and the store must end up holding the
live refresh token. Run once with each token store: files (flock) and Secret
Manager (an etag lease, against the local fake).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time

import pytest

from healthapi.auth import oauth
from healthapi.auth.store import token_store_from_uri
from healthapi.elements import STREAM_RECONCILED, ApiCall
from localdev import demo
from simulator import Simulator, SimulatorConfig
from tests.fakes.secret_manager import FakeSecretManager

# Sixteen spawned processes per store: about 40 s each on two cores. No emulator.
pytestmark = pytest.mark.slow

START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC).timestamp()
WORKERS = 16
USERS = ["user-1", "user-2", "user-3", "user-4"]
EXPIRED_IN_STORE = {"user-1", "user-3"}  # the others only expired on the server


@pytest.fixture(params=["file", "secretmanager"])
def store_uri(request, tmp_path):
    if request.param == "file":
        yield f"file://{tmp_path / 'tokens'}"
        return
    with FakeSecretManager() as fake:
        yield f"secretmanager://race-project/fitbeam?endpoint={fake.endpoint}"
        assert fake.unhandled == []


def exercise_of(sim, user) -> str:
    exercises = sim.ground_truth(user, "exercise", dt.date(2026, 11, 1), dt.date(2026, 11, 27))
    assert exercises, f"{user} has no exercise to export"
    return exercises[0]["id"]


def test_sixteen_workers_and_both_stages_make_one_refresh_per_user(store_uri):
    config = SimulatorConfig(
        users=len(USERS), clock_speed=0, start_time=START, rotating_refresh_tokens=True
    )
    with Simulator(config) as sim:
        store = token_store_from_uri(store_uri)
        demo.authorise_users(sim, USERS, store)
        for user in EXPIRED_IN_STORE:
            store.save(user, {**store.load(user), "expires_at": time.time() - 1})
        sim.auth.expire_all_access_tokens()
        list_calls = [
            ApiCall(u, "list", "steps", "2026-11-20", "2026-11-21", STREAM_RECONCILED)
            for u in USERS
        ]
        tcx_calls = [
            ApiCall(u, "tcx", "exercise", data_point_id=exercise_of(sim, u)) for u in USERS
        ]

        ctx = multiprocessing.get_context("spawn")
        barrier, out = ctx.Barrier(WORKERS), ctx.Queue()
        token_url = oauth.OAuthClient.for_base_url("id", "secret", sim.base_url).token_url
        workers = [
            ctx.Process(
                target=_work,
                args=(
                    i,
                    sim.base_url,
                    token_url,
                    store_uri,
                    list_calls,
                    tcx_calls,
                    [u for u in USERS if u not in EXPIRED_IN_STORE],
                    barrier,
                    out,
                ),
            )
            for i in range(WORKERS)
        ]
        for w in workers:
            w.start()
        reports = [out.get(timeout=300) for _ in workers]
        for w in workers:
            w.join(timeout=60)

        assert [r[4] for r in reports] == [None] * WORKERS
        outcomes = [o for r in reports for o in r[1]]
        assert sorted(outcomes) == sorted(
            (stage, u, "ok")
            for _ in range(WORKERS)
            for stage in ("fetch", "fetch_detail")
            for u in USERS
        )
        assert sim.auth.refreshes_by_user == {u: 1 for u in USERS}
        assert sim.auth.invalid_grants == 0
        refreshed = {}
        for r in reports:
            for user, n in r[2].items():
                refreshed[user] = refreshed.get(user, 0) + n
        assert refreshed == {u: 1 for u in USERS}
        adopted = {u: sum(r[3].get(u, 0) for r in reports) for u in USERS}
        # Every worker held the rejected token of these users: all but the one that
        # refreshed found the new token in the store under the lock and took it.
        assert {u: adopted[u] for u in USERS if u not in EXPIRED_IN_STORE} == {
            u: WORKERS - 1 for u in USERS if u not in EXPIRED_IN_STORE
        }
        # Workers reach the others' tokens first after the refresh, or hold the old one.
        assert all(0 <= adopted[u] <= WORKERS - 1 for u in EXPIRED_IN_STORE)

        # The store holds the live refresh token: it refreshes once more, cleanly.
        client = oauth.OAuthClient.for_base_url(*store.load_client(), sim.base_url)
        for user in USERS:
            oauth.refresh(client, store.load(user))
        assert sim.auth.refreshes_by_user == {u: 2 for u in USERS}
        assert sim.auth.invalid_grants == 0
        print(
            f"\n{WORKERS} workers x 2 stages x {len(USERS)} users = {len(outcomes)} calls ok; "
            f"refreshes {sim.auth.refreshes_by_user} (1 each in the race), invalid_grant 0, "
            f"tokens taken from the store under the lock {adopted}"
        )


def _work(*args):
    from tests.race.worker import work

    work(*args)
