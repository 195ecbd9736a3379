"""The file token store: one JSON file per user, for a laptop or one machine.

`file:///abs/dir` (or a plain path) in `--token_store`. Each user's token is
`<dir>/<user_key>.json`, mode 0600, written atomically (temporary file, fsync,
rename); the OAuth client is `<dir>/_oauth_client.json`. The refresh lock is an
exclusive `flock` on `<dir>/.<user_key>.lock`, which holds across the processes
of one machine. See `healthapi.auth.store` for the contract.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from healthapi.auth.store import LOCK_WAIT_SECONDS, Lease, LockTimeout, _poll_delays, check_user_key

_LOGGER = logging.getLogger(__name__)

CLIENT_FILE = "_oauth_client.json"  # cannot clash with a user key (they start alphanumeric)


class LocalFileTokenStore:
    """Tokens as `<root>/<user_key>.json`, readable by the owner only.

    Args:
        root: the directory.
        wait_seconds: how long `refresh_lock` waits for another process's lock.
        sleep: waits between attempts to take the lock (injectable).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        wait_seconds: float = LOCK_WAIT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.root = Path(root)
        self.wait_seconds = wait_seconds
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"LocalFileTokenStore({str(self.root)!r})"

    def _path(self, user_key: str) -> Path:
        return self.root / f"{check_user_key(user_key)}.json"

    def load(self, user_key: str) -> dict | None:
        return self._read(self._path(user_key))

    def save(self, user_key: str, token: dict) -> None:
        self._write(self._path(user_key), token)

    @contextlib.contextmanager
    def refresh_lock(self, user_key: str) -> Iterator[Lease]:
        """Holds an exclusive lock on `<root>/.<user_key>.lock` (across processes).

        The kernel releases the lock when its holder exits, however it exits.
        Processes on other machines do not see it: a store shared between
        machines (Dataflow workers) should be Secret Manager.

        Raises:
            LockTimeout: another process held it for `wait_seconds`.
        """
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.root / f".{check_user_key(user_key)}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            waited = 0.0
            delays = _poll_delays(random.random)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if waited >= self.wait_seconds:
                        raise LockTimeout(
                            f"user {user_key!r}: the refresh lock {path} was held by another "
                            f"process for {self.wait_seconds:.0f} s"
                        ) from None
                    delay = next(delays)
                    self.sleep(delay)
                    waited += delay
            yield Lease()  # the kernel holds it until this process lets go
        finally:
            os.close(fd)  # releases the lock

    def load_client(self) -> tuple[str, str]:
        """The OAuth client (id, secret) kept beside the tokens.

        Raises:
            ValueError: when it has not been stored (say how to store it).
        """
        client = self._read(self.root / CLIENT_FILE)
        if not client:
            raise ValueError(
                f"no OAuth client in {self.root}; store it with `fitbeam authorize` "
                "or LocalFileTokenStore.save_client(client_id, client_secret)"
            )
        return client["client_id"], client["client_secret"]

    def save_client(self, client_id: str, client_secret: str) -> None:
        self._write(
            self.root / CLIENT_FILE, {"client_id": client_id, "client_secret": client_secret}
        )

    @staticmethod
    def _read(path: Path) -> dict | None:
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return None

    def _write(self, path: Path, payload: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{path.stem}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(payload, f, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
