"""Local emulators of Google Cloud for the demo and the tests.

- BigQuery: `local-bigquery` (DuckDB behind the BigQuery REST API); it needs
  Python 3.13, so it gets a virtual environment of its own.
- Cloud Storage: `gcp-storage-emulator` (disk mode, so BigQuery load jobs can
  read what Beam writes to gs://), started through `serve-gcs` below so that
  a resumable upload costs what its bytes cost (see `linear_resumable_uploads`).
- Pub/Sub: the emulator that ships with the Google Cloud CLI (a Java jar).

Each runs as a child process on a free loopback port. `LocalEmulators.env`
holds the variables that point Google's clients at them
(BIGQUERY_EMULATOR_HOST, STORAGE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST) plus a
fake Application Default Credentials file, so that nothing tries to reach
Google. `use_emulator_endpoints()` applies the one redirection no variable
covers: Beam's apitools BigQuery client has a hard-coded base URL.

Command line (what `make emulators-up` / `make emulators-down` run)::

    python -m localdev.emulators up     # starts BigQuery + GCS, writes .local/emulators.env
    python -m localdev.emulators down

`python -m localdev.emulators serve-gcs ARGS` runs the GCS emulator with its own
arguments; it is run by the emulator's interpreter, so this module imports
nothing beyond the standard library at its top.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from localdev import prerequisites

_LOGGER = logging.getLogger(__name__)
_REPOSITORY = Path(__file__).resolve().parent.parent

PROJECT = "fitbeam-local"
DEFAULT_BUCKET = "fitbeam-local"
REQUESTS = "fitbeam-requests"  # the local request topic and subscription (`up`)
DATASET = "fitbeam"  # the local dataset (`up`; the demo's too)

# Versions of the emulators (separate virtual environments, not project dependencies).
LOCAL_BIGQUERY = ["local-bigquery==0.4.0"]
# local-bigquery asks for duckdb>=2 but works with 1.5.5, the newest DuckDB with
# extension wheels on PyPI; without them DuckDB downloads extensions at run time.
DUCKDB_PINS = [
    "duckdb==1.5.5",
    "duckdb-extensions==1.5.5",
    "duckdb-extension-icu==1.5.5",
    "duckdb-extension-json==1.5.5",
    "duckdb-extension-ducklake==1.5.5",
    "duckdb-extension-spatial==1.5.5",
]
GCS_EMULATOR = ["gcp-storage-emulator==2026.7.19"]

FAKE_ADC = {
    "type": "authorized_user",
    "client_id": "fitbeam-local",
    "client_secret": "fitbeam-local",
    "refresh_token": "fitbeam-local",
    "token": "fitbeam-local",
    "expiry": "2099-01-01T00:00:00Z",
}


def default_root() -> Path:
    return Path(os.environ.get("FITBEAM_EMULATOR_ROOT", ".local/emu")).resolve()


def _run(cmd: list[str], log: Path) -> None:
    with open(log, "ab") as out:
        result = subprocess.run(cmd, stdout=out, stderr=out, check=False)
    if result.returncode:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed ({result.returncode}); see {log}")


def ensure_installed(root: Path | None = None) -> Path:
    """Creates the emulators' virtual environments once; returns their root."""
    root = root or default_root()
    stamp = json.dumps([LOCAL_BIGQUERY, DUCKDB_PINS, GCS_EMULATOR])
    marker = root / "installed.json"
    if marker.exists() and marker.read_text() == stamp:
        return root
    root.mkdir(parents=True, exist_ok=True)
    bq, gcs = root / "bq", root / "gcs"
    log = root / "install.log"
    started = time.monotonic()
    _LOGGER.info("installing the BigQuery and GCS emulators under %s (once)", root)
    pip = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if not (bq / "bin" / "python").exists():
        _run([prerequisites.python313(), "-m", "venv", str(bq)], log)
    _run([str(bq / "bin" / "python"), *pip, *LOCAL_BIGQUERY], log)
    # Two installs: one resolver run cannot satisfy both sets (see DUCKDB_PINS).
    _run([str(bq / "bin" / "python"), *pip, *DUCKDB_PINS], log)
    # Copies the extension wheels where DuckDB looks for them ($HOME/.duckdb).
    extensions = "from duckdb_extensions import import_extension as i\n" + (
        "for e in ('icu', 'json', 'ducklake', 'spatial'): i(e)"
    )
    _run([str(bq / "bin" / "python"), "-c", extensions], log)
    if not (gcs / "bin" / "python").exists():
        _run([sys.executable, "-m", "venv", str(gcs)], log)
    _run([str(gcs / "bin" / "python"), *pip, *GCS_EMULATOR], log)
    marker.write_text(stamp)
    _LOGGER.info("emulators installed in %.0f s", time.monotonic() - started)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"emulator exited with code {process.returncode} before {url} answered"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"emulator at {url} did not answer within {timeout} s")


class LocalEmulators:
    """Starts the emulators as child processes; a context manager.

    Args:
        state_dir: where their data lives (a temporary directory by default).
        pubsub: also start the Pub/Sub emulator.
        root: where the emulators are installed.
    """

    def __init__(
        self, state_dir: Path | None = None, pubsub: bool = False, root: Path | None = None
    ):
        self._tmp = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="fitbeam-emulators-")
            state_dir = Path(self._tmp.name)
        self.state_dir = Path(state_dir).resolve()
        self.want_pubsub = pubsub
        self.root = root
        self.processes: dict[str, subprocess.Popen] = {}
        self.env: dict[str, str] = {}

    def start(self) -> LocalEmulators:
        if self.want_pubsub:  # before anything starts: a missing piece fails at once
            prerequisites.java()
            prerequisites.pubsub_jar()
        root = ensure_installed(self.root)
        gcs_dir = self.state_dir / "gcs"
        bq_dir = self.state_dir / "bigquery"
        gcs_dir.mkdir(parents=True, exist_ok=True)
        bq_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.state_dir / "emulators.log", "ab")  # noqa: SIM115 - lives with the processes
        gcs_port, bq_port, grpc_port = free_port(), free_port(), free_port()
        try:
            self.processes["gcs"] = subprocess.Popen(
                [
                    str(root / "gcs" / "bin" / "python"),
                    "-m",
                    "localdev.emulators",
                    "serve-gcs",
                    "-d",
                    str(gcs_dir),
                    "start",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(gcs_port),
                    "--default-bucket",
                    DEFAULT_BUCKET,
                    "-q",
                ],
                stdout=log,
                stderr=log,
                env={**os.environ, "PYTHONPATH": str(_REPOSITORY)},
            )
            self.processes["bigquery"] = subprocess.Popen(
                [
                    str(root / "bq" / "bin" / "local-bigquery"),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(bq_port),
                    "--grpc-port",
                    str(grpc_port),
                    "--project",
                    PROJECT,
                    "--data-dir",
                    str(bq_dir),
                ],
                stdout=log,
                stderr=log,
                env={**os.environ, "GCS_LOCAL_ROOT": str(gcs_dir / ".cloudstorage")},
            )
            _wait_http(f"http://127.0.0.1:{gcs_port}/storage/v1/b", self.processes["gcs"])
            _wait_http(
                f"http://127.0.0.1:{bq_port}/bigquery/v2/projects/{PROJECT}/datasets",
                self.processes["bigquery"],
            )
            if self.want_pubsub:
                ps_port = free_port()
                self.processes["pubsub"] = subprocess.Popen(
                    [
                        prerequisites.java(),
                        "-jar",
                        prerequisites.pubsub_jar(),
                        "--host=127.0.0.1",
                        f"--port={ps_port}",
                    ],
                    stdout=log,
                    stderr=log,
                )
                _wait_http(f"http://127.0.0.1:{ps_port}/", self.processes["pubsub"])
                self.env["PUBSUB_EMULATOR_HOST"] = f"127.0.0.1:{ps_port}"
        except BaseException:
            self.stop()
            raise
        adc = self.state_dir / "fake-adc.json"
        adc.write_text(json.dumps(FAKE_ADC))
        self.env.update(
            {
                "GOOGLE_APPLICATION_CREDENTIALS": str(adc),
                "GOOGLE_CLOUD_PROJECT": PROJECT,
                "BIGQUERY_EMULATOR_HOST": f"http://127.0.0.1:{bq_port}",
                "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{gcs_port}",
                "FITBEAM_EMULATOR_PIDS": ",".join(str(p.pid) for p in self.processes.values()),
            }
        )
        return self

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalEmulators:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def linear_resumable_uploads(storage_module) -> None:
    """Makes gcp-storage-emulator's resumable uploads append each chunk (disk mode).

    Beam writes files to GCS as resumable uploads in chunks of 16 MiB. The
    emulator, as released, reads the whole partial upload back, appends the
    chunk and writes it all out again, and reads it once more to answer with
    the bytes received: an upload of N bytes costs O(N^2) (a 500 MB BigQuery
    load file takes about 30 rewrites of 250 MB on average). Here a chunk is
    appended to the partial file and the bytes received are its size; the
    whole upload is read once, when it completes. Answers are unchanged. The
    in-memory mode keeps the emulator's own code.

    Args:
        storage_module: `gcp_storage_emulator.storage` (the pinned version).
    """
    storage_class = storage_module.Storage
    emulator_add = storage_class.add_to_resumable_upload
    emulator_count = storage_class.get_resumable_byte_count

    def partial_file(storage, file_id: str) -> Path | None:
        if storage._use_memory_fs:
            return None
        name = storage._object_path(storage_module.RESUMABLE_DIR, storage.safe_id(file_id))
        return storage._store._disk_path(name)

    def received(storage, file_id: str) -> int:
        path = partial_file(storage, file_id)
        if path is None:
            return emulator_count(storage, file_id)
        try:
            return path.stat().st_size
        except FileNotFoundError:
            return 0

    def add(storage, file_id: str, content, total_size=None, expected_start=None):
        path = partial_file(storage, file_id)
        if path is None:
            return emulator_add(storage, file_id, content, total_size, expected_start)
        held = received(storage, file_id)
        if expected_start is not None and expected_start != held:
            raise storage_module.BadRequest(
                f"Invalid Content-Range start: expected {held}, got {expected_start}"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as partial:
            partial.write(content or b"")
        if total_size is None or held + len(content or b"") < total_size:
            return None  # incomplete
        with open(path, "rb") as partial:
            return partial.read(total_size)

    storage_class.get_resumable_byte_count = received
    storage_class.add_to_resumable_upload = add


def serve_gcs(argv: list[str]) -> int:
    """Runs gcp-storage-emulator (its command line) with `linear_resumable_uploads`."""
    from gcp_storage_emulator import __main__ as emulator
    from gcp_storage_emulator import storage

    linear_resumable_uploads(storage)
    emulator.main(argv)
    return 0


def use_emulator_endpoints(env: dict[str, str] | None = None) -> None:
    """Points this process's Google clients at the emulators named in `env`.

    Sets the variables in `os.environ` and, when a BigQuery emulator is named,
    redirects Beam's apitools BigQuery client, whose base URL no variable or
    option can change. Only in-process runners (the DirectRunner) see this.
    """
    env = os.environ if env is None else env
    for name in (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_CLOUD_PROJECT",
        "BIGQUERY_EMULATOR_HOST",
        "STORAGE_EMULATOR_HOST",
        "PUBSUB_EMULATOR_HOST",
    ):
        if env.get(name):
            os.environ[name] = env[name]
    endpoint = env.get("BIGQUERY_EMULATOR_HOST")
    if endpoint:
        from apache_beam.io.gcp.internal.clients.bigquery import bigquery_v2_client

        bigquery_v2_client.BigqueryV2.BASE_URL = endpoint.rstrip("/") + "/bigquery/v2/"


def _env_file(state_dir: Path) -> Path:
    return state_dir / "emulators.env"


def up(state_dir: Path) -> dict[str, str]:
    """Starts long-lived emulators and writes their settings to `emulators.env`."""
    down(state_dir)
    emulators = LocalEmulators(state_dir / "emulators-data", pubsub=True)
    emulators.start()
    emulators.env.update(_local_resources(emulators.env))
    lines = [f"export {k}={v}" for k, v in sorted(emulators.env.items())]
    _env_file(state_dir).write_text("\n".join(lines) + "\n")
    return emulators.env


def _local_resources(env: dict[str, str]) -> dict[str, str]:
    """Creates what a local run needs: the request topic and subscription, the dataset."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery, pubsub_v1

    saved = os.environ.get("PUBSUB_EMULATOR_HOST")
    os.environ["PUBSUB_EMULATOR_HOST"] = env["PUBSUB_EMULATOR_HOST"]
    try:
        topic = f"projects/{PROJECT}/topics/{REQUESTS}"
        subscription = f"projects/{PROJECT}/subscriptions/{REQUESTS}"
        pubsub_v1.PublisherClient().create_topic(name=topic)
        with pubsub_v1.SubscriberClient() as subscriber:
            subscriber.create_subscription(name=subscription, topic=topic)
    finally:
        if saved is None:
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = saved
    client = bigquery.Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=env["BIGQUERY_EMULATOR_HOST"]),
    )
    client.create_dataset(f"{PROJECT}.{DATASET}", exists_ok=True)
    return {
        "FITBEAM_REQUESTS_TOPIC": topic,
        "FITBEAM_REQUESTS_SUBSCRIPTION": subscription,
        "FITBEAM_DATASET": f"{PROJECT}:{DATASET}",
    }


def down(state_dir: Path) -> None:
    """Stops emulators started by `up`."""
    path = _env_file(state_dir)
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        if line.startswith("export FITBEAM_EMULATOR_PIDS="):
            for pid in filter(None, line.split("=", 1)[1].split(",")):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGTERM)
    path.unlink()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve-gcs"]:
        return serve_gcs(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m localdev.emulators")
    parser.add_argument("action", choices=["up", "down", "install"])
    parser.add_argument("--state_dir", default=".local")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    state_dir = Path(args.state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    if args.action == "install":
        ensure_installed()
    elif args.action == "up":
        env = up(state_dir)
        print(f"emulators running; settings in {_env_file(state_dir)}:")
        for key in ("BIGQUERY_EMULATOR_HOST", "STORAGE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST"):
            print(f"  {key}={env[key]}")
        print(f"use them with: source {_env_file(state_dir)}")
    else:
        down(state_dir)
        print("emulators stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
