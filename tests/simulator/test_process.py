"""`SimulatorProcess`: the simulator in a child process; same answers, clean stop."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from simulator.process import SimulatorProcess
from tests.simulator.conftest import START, Api, authorize, config, day_filter

D = dt.date
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def child():
    with SimulatorProcess(config()) as running:
        yield running


def test_runs_in_another_process(child):
    assert child.pid not in (None, os.getpid())
    assert requests.get(child.base_url + "/admin/v1/users", timeout=10).status_code == 200


def test_answers_as_the_simulator_in_this_process(child, sim):
    """Same config, same bytes: a list page, reconciled, and the admin API's views."""
    for running in (child, sim):
        assert running.authorization_url == running.base_url + "/o/oauth2/v2/auth"
    bodies = []
    for running in (child, sim):
        api = Api(running, authorize(running, "user-2").access_token)
        flt = day_filter("heart-rate", D(2026, 11, 10), D(2026, 11, 11))
        page = api.reconcile("heart-rate", filter=flt, pageSize=500)
        bodies.append([page.content, api.get("me/profile").content])
    assert bodies[0] == bodies[1]
    assert len(bodies[0][0]) > 50_000
    truth = child.ground_truth("user-3", "sleep", D(2026, 11, 1), D(2026, 11, 7), reconciled=True)
    assert truth == sim.ground_truth("user-3", "sleep", D(2026, 11, 1), D(2026, 11, 7), True)
    assert truth
    assert {u: v["timeZone"] for u, v in child.users().items()} == {
        u: v.time_zone for u, v in sim.users.items()
    }
    assert child.now() == START
    assert child.stats()["requests"]["api"]


def test_stop_ends_the_process(tmp_path):
    running = SimulatorProcess(config(users=1))
    base_url = running.start()
    pid = running.pid
    running.stop()
    assert running.exitcode == 0
    assert running.pid is None
    with pytest.raises(requests.ConnectionError):
        requests.get(base_url + "/admin/v1/clock", timeout=5)
    with pytest.raises(RuntimeError, match="not running"):
        running.base_url  # noqa: B018 - the property raises
    assert not _alive(pid)


def test_a_child_that_cannot_listen_fails_start():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        running = SimulatorProcess(config(users=1), port=port)
        with pytest.raises(RuntimeError, match="exited"):
            running.start()
    assert running.exitcode not in (None, 0)


def test_the_child_stops_when_its_parent_dies(tmp_path):
    """A parent killed before it could stop the simulator leaves no simulator behind."""
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from simulator import SimulatorConfig
        from simulator.process import SimulatorProcess
        running = SimulatorProcess(SimulatorConfig(users=1))
        running.start()
        print(running.pid, flush=True)
        os._exit(0)  # no stop(), no clean-up
        """
    )
    parent = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    pid = int(parent.stdout.strip())
    deadline = time.monotonic() + 60  # a bound on waiting, not on speed
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie waiting for its parent does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"
