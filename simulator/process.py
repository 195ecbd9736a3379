"""The simulator in a process of its own, for callers that should not share a CPU with it.

`Simulator` serves on threads of the process that starts it. A caller that
is busy with its own work, such as the demo running the pipeline on the
DirectRunner, would then share one interpreter lock with every answer the
simulator renders. `SimulatorProcess` runs the same simulator in a child
Python process and talks to it over HTTP only::

    with SimulatorProcess(SimulatorConfig(users=3)) as sim:
        sim.base_url        # as Simulator.base_url; OAuth and the API on one port
        sim.pid             # the child's process id
        sim.users()         # {"user-1": {"timeZone": ..., ...}, ...} (admin API)
        sim.now()           # the simulator's clock, epoch seconds
        sim.ground_truth("user-1", "steps", date(2026, 11, 1), date(2026, 11, 2))

The child is `python -m simulator.process HOST PORT`: it reads the pickled
`SimulatorConfig` from its standard input, starts serving, writes its base
URL as one line to its standard output (the parent waits for that line and
then for an answer from the admin API), and serves until its standard input
ends: when the parent stops it, and also when the parent dies. Tests that read
the simulator's state in memory keep using `Simulator`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import pickle
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from pathlib import Path

from simulator import timefmt
from simulator.server import Simulator, SimulatorConfig

_LOGGER = logging.getLogger(__name__)


class SimulatorProcess:
    """A `Simulator` running in a child process.

    Args:
        config: the simulator's settings.
        host, port: where the child listens (port 0 picks a free one).
        start_timeout: seconds to wait for the child to answer.
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        start_timeout: float = 60.0,
    ):
        self.config = config or SimulatorConfig()
        self._host, self._port = host, port
        self._start_timeout = start_timeout
        self._process: subprocess.Popen | None = None
        self._base_url: str | None = None
        self.exitcode: int | None = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> str:
        """Starts the child and waits until it answers; returns the base URL.

        Raises:
            RuntimeError: the child failed to start or did not answer in time.
        """
        # The child imports this package from where the parent found it.
        root = str(Path(__file__).resolve().parent.parent)
        path = os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))
        self._process = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
            [sys.executable, "-m", "simulator.process", self._host, str(self._port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
            # Its own session: a Ctrl-C in the terminal reaches the parent, which stops it.
            start_new_session=True,
        )
        try:
            self._process.stdin.write(pickle.dumps(self.config))
            self._process.stdin.flush()
            line = _read_line(self._process, self._start_timeout)
            if not line.startswith("http://"):
                raise RuntimeError(
                    f"the simulator process exited (code {self._process.poll()}) before it "
                    "answered; see its error output above"
                )
            self._base_url = line
            self._admin("clock")  # it answers HTTP
        except BaseException:
            self.stop()
            raise
        _LOGGER.info("simulator process %s listening on %s", self.pid, self._base_url)
        return self._base_url

    def stop(self, timeout: float = 10.0) -> None:
        """Ends the child's standard input and waits for it to exit; kills it if it does not."""
        process = self._process
        self._process = self._base_url = None
        if process is None:
            return
        with contextlib.suppress(OSError):  # the child may be gone already
            process.stdin.close()
        try:
            self.exitcode = process.wait(timeout)
        except subprocess.TimeoutExpired:
            _LOGGER.warning("simulator process %s did not stop; killing it", process.pid)
            process.kill()
            self.exitcode = process.wait(timeout)
        process.stdout.close()

    def __enter__(self) -> SimulatorProcess:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    # -- addresses -------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the simulator process is not running; call start()")
        return self._base_url

    @property
    def authorization_url(self) -> str:
        return self.base_url + "/o/oauth2/v2/auth"

    @property
    def token_url(self) -> str:
        return self.base_url + "/token"

    @property
    def revoke_url(self) -> str:
        return self.base_url + "/revoke"

    # -- the admin API ---------------------------------------------------------

    def _admin(self, path: str, query: dict | None = None, body: dict | None = None) -> dict:
        url = f"{self.base_url}/admin/v1/{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        method = "GET" if data is None else "POST"
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http only
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - http only
            return json.loads(response.read())

    def users(self) -> dict[str, dict]:
        """The synthetic users by user id: `healthUserId`, `timeZone`, `historyStart`, ..."""
        return {u["userId"]: u for u in self._admin("users")["users"]}

    def now(self) -> float:
        """The simulator's current time, epoch seconds."""
        return timefmt.parse_rfc3339(self._admin("clock")["now"])

    def advance(self, seconds: float) -> float:
        """Moves the simulator's clock; returns its new time."""
        return timefmt.parse_rfc3339(self._admin("clock:advance", body={"seconds": seconds})["now"])

    def set_faults(self, spec: str) -> None:
        self._admin("faults", body={"spec": spec})

    def stats(self) -> dict:
        return self._admin("stats")

    def ground_truth(
        self,
        user_id: str,
        data_type: str,
        start_date: dt.date,
        end_date: dt.date,
        reconciled: bool = False,
    ) -> list[dict]:
        """What `Simulator.ground_truth` answers, through the admin API."""
        query = {"startDate": start_date.isoformat(), "endDate": end_date.isoformat()}
        if reconciled:
            query["view"] = "reconciled"
        path = f"users/{user_id}/dataTypes/{data_type}/groundTruth"
        return self._admin(path, query)["points"]


def _read_line(process: subprocess.Popen, timeout: float) -> str:
    """The child's first line of output ("" if it exits first).

    Raises:
        RuntimeError: no line within `timeout` seconds.
    """
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if reader.is_alive():
        raise RuntimeError(f"the simulator process did not answer within {timeout} s")
    return lines[0].decode().strip()


def main(argv: list[str] | None = None) -> int:
    """The child: `python -m simulator.process HOST PORT`, the pickled config on stdin."""
    host, port = (argv if argv is not None else sys.argv[1:])[:2]
    config = pickle.load(sys.stdin.buffer)  # noqa: S301 - written by the parent process
    sim = Simulator(config, host=host, port=int(port))
    print(sim.start(), flush=True)
    try:
        sys.stdin.buffer.read()  # until the parent closes it, or dies
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
