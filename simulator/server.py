"""The simulator as an HTTP server, usable in-process or from the command line.

In-process (tests, benchmarks, the demo)::

    with Simulator(SimulatorConfig(users=3, seed=7)) as sim:
        sim.base_url   # http://127.0.0.1:PORT, API under /v4/, OAuth at /o/oauth2/v2/auth,
                       # /token and /revoke
        sim.ground_truth("user-1", "steps", date(2026, 11, 1), date(2026, 11, 2))

From the command line::

    fitbeam simulate --host 127.0.0.1 --port 8180 --users 5 --seed 0
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.server
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable

from simulator import synth
from simulator.api import AppOptions, SimulatorApp, json_response, project_number
from simulator.clock import SimClock
from simulator.errors import ApiError
from simulator.faults import FaultInjector, FaultSpec
from simulator.oauth import AuthServer
from simulator.store import DataStore

_LOGGER = logging.getLogger(__name__)

# Credentials of the simulator's one OAuth client. They protect nothing: the
# simulator only listens on loopback and holds synthetic data.
DEFAULT_CLIENT_ID = "fitbeam-local.apps.googleusercontent.com"
DEFAULT_CLIENT_SECRET = "fitbeam-local-secret"


@dataclasses.dataclass(frozen=True)
class SimulatorConfig:
    """Everything that shapes a simulator instance.

    Attributes:
        seed: data seed; the same seed gives the same data.
        users: number of synthetic users, `user-1` .. `user-N`.
        client_id, client_secret: the OAuth client the token endpoint accepts.
        quota_per_minute: per-user request limit (sliding 60 s of simulator time),
            or per `quota_window_seconds` when that is set.
        quota_window_seconds: the quota's sliding window in simulator seconds
            (60; 3600 with `quota_per_minute=150` is the legacy Fitbit budget).
        project_quota_per_minute: requests a minute (sliding 60 s of simulator time)
            of every user together: the project's quota, 120,000 on the live API.
        project_quota_per_day: requests a Pacific-time day of every user together:
            the project's daily quota, 86,400,000 on the live API.
        clock_speed: simulator seconds per real second (0 freezes the clock).
        start_time: simulator time at start, epoch seconds (default: now).
        faults: fault spec, see `simulator.faults`.
        fault_seed: seed of fault decisions (default: `seed`).
        rotating_refresh_tokens: single-use rotating refresh tokens (legacy Fitbit).
        hr_spacing_seconds: heart-rate sample spacing.
        history_start: first civil day with data for every user.
        retry_after_seconds: send `Retry-After` with 429s (Google does not by default).
        scan_days_per_page: short pages, off by default: a list call that has scanned
            this many civil days answers what it has, possibly nothing, with a token
            to continue (a server may; the live API's habit is unconfirmed). Clients
            must follow tokens through such pages.
        unlinked_users: users whose Google account has no Health profile
            (every data call answers 400 ACCOUNT_NOT_LINKED).
        denied_scopes: per user, scope suffixes the user unticks at consent
            (e.g. {"user-3": {"location.readonly"}}).
    """

    seed: int = 0
    users: int = 5
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    quota_per_minute: int = 300
    quota_window_seconds: float = 60.0
    project_quota_per_minute: int = 120_000
    project_quota_per_day: int = 86_400_000
    clock_speed: float = 1.0
    start_time: float | None = None
    faults: str = ""
    fault_seed: int | None = None
    rotating_refresh_tokens: bool = False
    hr_spacing_seconds: int = 5
    history_start: dt.date = dt.date(2025, 11, 1)
    retry_after_seconds: int | None = None
    scan_days_per_page: int | None = None
    unlinked_users: frozenset[str] = frozenset()
    denied_scopes: dict[str, frozenset[str]] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.users < 1:
            raise ValueError(f"users must be at least 1, got {self.users}")
        if self.hr_spacing_seconds < 1:
            raise ValueError(
                f"hr_spacing_seconds must be at least 1, got {self.hr_spacing_seconds}"
            )
        if self.quota_per_minute < 1:
            raise ValueError(f"quota_per_minute must be at least 1, got {self.quota_per_minute}")
        if not self.quota_window_seconds > 0:
            raise ValueError(
                f"quota_window_seconds must be above 0, got {self.quota_window_seconds}"
            )
        for name in ("project_quota_per_minute", "project_quota_per_day"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.scan_days_per_page is not None and self.scan_days_per_page < 1:
            raise ValueError(
                f"scan_days_per_page must be at least 1 or None, got {self.scan_days_per_page}"
            )
        FaultSpec.parse(self.faults)  # raises on a bad spec


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm the body then waits
    # for the client's delayed ACK, which costs about 40 ms on every keep-alive request.
    disable_nagle_algorithm = True
    server_version = "fitbeam-simulator"
    sys_version = ""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            response = self.server.app.handle(self.command, self.path, dict(self.headers), body)
        except Exception:  # a simulator bug: answer as Google's front end does, not by hanging up
            _LOGGER.exception("simulator error on %s %s", self.command, self.path.split("?")[0])
            error = ApiError(500, "Internal error encountered.")
            response = json_response(500, error.envelope())
        if response.action == "reset":
            # SO_LINGER 0: close with RST, so the client sees a connection reset.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = _serve
    do_POST = _serve
    do_DELETE = _serve

    def log_message(self, format, *args):  # BaseHTTPRequestHandler's signature
        # Request lines can carry authorization codes; keep them out of logs.
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class Simulator:
    """A running simulator of the Google Health API v4 and Google OAuth.

    Args:
        config: the simulator's settings.
        host, port: where to listen (port 0 picks a free one).
        clock: simulator clock (default: built from `config`).
        sleep: real sleep used for slow responses (injectable for tests).
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: SimClock | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.config = config = config or SimulatorConfig()
        self.clock = clock or SimClock(config.start_time, config.clock_speed)
        users = {
            u.user_id: u
            for u in (
                synth.make_user(config.seed, i, config.history_start)
                for i in range(1, config.users + 1)
            )
        }
        self.store = DataStore(users, config.hr_spacing_seconds, self.clock.now)
        self.auth = AuthServer(
            config.client_id,
            config.client_secret,
            set(users),
            self.clock.now,
            rotating=config.rotating_refresh_tokens,
            denied_scopes={k: set(v) for k, v in config.denied_scopes.items()},
        )
        fault_seed = config.seed if config.fault_seed is None else config.fault_seed
        self.app = SimulatorApp(
            store=self.store,
            auth=self.auth,
            faults=FaultInjector(FaultSpec.parse(config.faults, "api"), fault_seed),
            token_faults=FaultInjector(FaultSpec.parse(config.faults, "token"), fault_seed),
            options=AppOptions(
                quota_per_minute=config.quota_per_minute,
                quota_window_seconds=config.quota_window_seconds,
                project_quota_per_minute=config.project_quota_per_minute,
                project_quota_per_day=config.project_quota_per_day,
                project_number=project_number(config.client_id),
                retry_after_seconds=config.retry_after_seconds,
                scan_days_per_page=config.scan_days_per_page,
                unlinked_users=frozenset(config.unlinked_users),
            ),
            clock_now=self.clock.now,
            clock_advance=self.clock.advance,
            sleep=sleep,
            seed=config.seed,
        )
        self._host, self._port = host, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> str:
        """Starts serving in a background thread; returns the base URL."""
        self._server = _Server((self._host, self._port), _Handler)
        self._server.app = self.app
        # A short poll interval lets stop() return quickly (tests start many simulators).
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fitbeam-simulator",
            daemon=True,
        )
        self._thread.start()
        _LOGGER.info("simulator listening on %s", self.base_url)
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Serves in the calling thread until interrupted (the CLI)."""
        self.start()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    # -- addresses -------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not running; call start()")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def authorization_url(self) -> str:
        return self.base_url + "/o/oauth2/v2/auth"

    @property
    def token_url(self) -> str:
        return self.base_url + "/token"

    @property
    def revoke_url(self) -> str:
        return self.base_url + "/revoke"

    # -- ground truth and upstream changes ---------------------------------------

    @property
    def users(self) -> dict[str, synth.User]:
        return self.store.users

    def ground_truth(
        self,
        user_id: str,
        data_type: str,
        start_date: dt.date,
        end_date: dt.date,
        reconciled: bool = False,
    ) -> list[dict]:
        """Exactly which points the API holds now; see `DataStore.ground_truth`."""
        return self.store.ground_truth(user_id, data_type, start_date, end_date, reconciled)

    def edit_point(
        self, user_id: str, data_type: str, point_id: str, civil_date: dt.date, patch: dict
    ) -> dict:
        return self.store.edit_point(user_id, data_type, point_id, civil_date, patch)

    def delete_point(self, user_id: str, data_type: str, point_id: str, civil_date: dt.date):
        self.store.delete_point(user_id, data_type, point_id, civil_date)

    def set_faults(self, spec: str) -> None:
        self.app.set_faults(spec)

    def issued_secrets(self) -> frozenset[str]:
        """Every token and code the OAuth server ever issued, and the client secret."""
        return self.auth.issued_secrets()

    def stats(self) -> dict:
        return self.app.stats()

    def advance(self, seconds: float) -> float:
        return self.clock.advance(seconds)
