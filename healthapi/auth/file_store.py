"""The file token store: one JSON file per user, for a laptop or one machine.

`file:///abs/dir` (or a plain path) in `--token_store`. Each user's token is
`<dir>/<user_key>.json`, mode 0600; the OAuth client is `<dir>/_oauth_client.json`.
The refresh lock is an exclusive `flock` on `<dir>/.<user_key>.lock`, which holds
across the processes of one machine. See `healthapi.auth.store` for the contract.

A withdrawn user (`mark_withdrawn`) has no token, lock or temporary file left,
only `<dir>/_withdrawn-<sha256 of the key>.json` holding `{"withdrawn_at":
"<RFC 3339 time>"}`: no file name or content in the directory names the key.

What the store refuses:

- a directory that is a symbolic link, or that others may write (they could swap
  the files in it);
- a symbolic link (or anything but a regular file) where a token, client, lock or
  temporary file belongs: every file is opened relative to the directory with
  O_NOFOLLOW, so a planted link is refused, never followed;
- a file that is not a JSON object: `CorruptTokenFile` names the file and its size,
  never its content, and carries nothing of it (no chained parser error).

Saves and crashes: a save writes `.<name>.tmp` in the directory, fsyncs it,
renames it over `<name>` and fsyncs the directory, all under an exclusive
`flock` on the directory. A crash between the fsync and the rename leaves the
temporary file as the only copy of the newest token: after a refresh, the
provider has already spent the old refresh token, so losing it would mean the
user must consent again. It is never silently lost. The next load of that file,
under the same lock, adopts it (renames it into place) when it is a complete JSON
object, and removes it when it is not (a write cut short before its fsync, whose
save never returned). Every save first removes a leftover, so a leftover is always
newer than the file it would replace. Both are logged, without content.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import random
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from healthapi.auth.store import (
    LOCK_WAIT_SECONDS,
    Lease,
    LockTimeout,
    _poll_delays,
    check_user_key,
    key_digest,
    withdrawal_record,
    withdrawal_time,
)

_LOGGER = logging.getLogger(__name__)

CLIENT_FILE = "_oauth_client.json"  # cannot clash with a user key (they start alphanumeric)
# A token is a few hundred bytes; a file far larger is not one, and is not read whole.
MAX_FILE_BYTES = 1 << 20
# Never follow a symbolic link; never block on a FIFO planted where a file belongs.
_NO_FOLLOW = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
# What open(2) answers for a symbolic link under O_NOFOLLOW (EMLINK on the BSDs).
_LINK_ERRNOS = (errno.ELOOP, errno.EMLINK)


class CorruptTokenFile(ValueError):
    """A token or client file that is not a JSON object. The message never holds its content."""


class UnsafeTokenStore(ValueError):
    """A store directory or file that could lead elsewhere: a symbolic link, a directory
    others may write, or something other than a regular file."""


def _withdrawn_name(user_key: str) -> str:
    # Starts with '_' like the client file: never a user key's file.
    return f"_withdrawn-{key_digest(user_key)}.json"


def _parse(path: Path, data: bytes) -> dict:
    """The JSON object in `data`.

    Raises:
        CorruptTokenFile: naming the file, its size and what is wrong, without its content.
    """
    why = None
    try:
        value = json.loads(data.decode("utf-8"))
        if not isinstance(value, dict):
            why = "it is JSON but not an object"
    except UnicodeDecodeError as err:
        why = f"byte {err.start} is not UTF-8"
    except json.JSONDecodeError as err:
        why = f"{err.msg} at byte {err.pos}"
    except (ValueError, RecursionError):  # a number too long, or nesting too deep
        why = "it is not JSON a token can be"
    if why is not None:
        # Raised outside the handlers: no parser error (which holds the text) is chained.
        raise CorruptTokenFile(
            f"{path} ({len(data)} bytes) is not a JSON token object: {why}; its content is "
            "not shown. Store the token again (`fitbeam authorize`)"
        )
    return value


class LocalFileTokenStore:
    """Tokens as `<root>/<user_key>.json`, readable by the owner only.

    Args:
        root: the directory.
        wait_seconds: how long `refresh_lock` waits for another process's lock.
        sleep: waits between attempts to take the lock (injectable).
        rename: puts a written temporary file in place, as `os.replace` with
            `src_dir_fd` and `dst_dir_fd` (test seam: a crash before the rename).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        wait_seconds: float = LOCK_WAIT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        rename: Callable[..., None] = os.replace,
    ):
        self.root = Path(root)
        self.wait_seconds = wait_seconds
        self.sleep = sleep
        self.rename = rename

    def __repr__(self) -> str:
        return f"LocalFileTokenStore({str(self.root)!r})"

    def load(self, user_key: str) -> dict | None:
        """The user's token, or None when there is none.

        Raises:
            CorruptTokenFile: the file is not a JSON object (its content is not shown).
            UnsafeTokenStore: the directory or the file is a symbolic link, or unsafe.
        """
        return self._load(f"{check_user_key(user_key)}.json")

    def save(self, user_key: str, token: dict) -> None:
        """Stores the token; durable when this returns (see the module docstring).

        A withdrawal recorded for the user is cleared: they consented again.
        """
        self._write(f"{check_user_key(user_key)}.json", token)
        self._unlink(_withdrawn_name(user_key))

    def delete(self, user_key: str) -> bool:
        """Removes the user's token, an interrupted save's leftover of it and their lock file.

        Returns:
            True when a token (or a leftover of one) was there.

        A refresh running at the same moment may still hold the removed lock file;
        it finds no token to refresh, so nothing is spent twice.
        """
        name = f"{check_user_key(user_key)}.json"
        found = self._unlink(name, f".{name}.tmp")
        self._unlink(f".{user_key}.lock")
        return found

    def mark_withdrawn(self, user_key: str, when: str) -> None:
        """Deletes the user's token and writes their tombstone (`_withdrawn-<sha256>.json`).

        Raises:
            ValueError: `when` is not an RFC 3339 UTC time.
        """
        record = withdrawal_record(when)
        self.delete(user_key)
        self._write(_withdrawn_name(user_key), record)

    def withdrawal(self, user_key: str) -> str | None:
        """When the user withdrew consent, or None (never, or a token was saved since)."""
        when = withdrawal_time(self._load(_withdrawn_name(user_key)))
        if when is not None and self.load(user_key) is not None:
            return None  # consented again after a crash left the tombstone: the token wins
        return when

    @contextlib.contextmanager
    def refresh_lock(self, user_key: str) -> Iterator[Lease]:
        """Holds an exclusive lock on `<root>/.<user_key>.lock` (across processes).

        The kernel releases the lock when its holder exits, however it exits.
        Processes on other machines do not see it: a store shared between
        machines (Dataflow workers) should be Secret Manager.

        Raises:
            LockTimeout: another process held it for `wait_seconds`.
            UnsafeTokenStore: the lock file is a symbolic link or not a regular file.
        """
        name = f".{check_user_key(user_key)}.lock"
        with self._directory() as directory:
            fd = self._open(directory, name, os.O_RDWR | os.O_CREAT)
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
                                f"user {user_key!r}: the refresh lock {self.root / name} was "
                                f"held by another process for {self.wait_seconds:.0f} s"
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
            CorruptTokenFile: the file is not a JSON object (its content is not shown).
        """
        client = self._load(CLIENT_FILE)
        if not client:
            raise ValueError(
                f"no OAuth client in {self.root}; store it with `fitbeam authorize` "
                "or LocalFileTokenStore.save_client(client_id, client_secret)"
            )
        return client["client_id"], client["client_secret"]

    def save_client(self, client_id: str, client_secret: str) -> None:
        self._write(CLIENT_FILE, {"client_id": client_id, "client_secret": client_secret})

    # -- files -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _directory(self) -> Iterator[int]:
        """A descriptor of the root, made if missing; never a symbolic link or shared."""
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        except FileExistsError:  # a dangling symbolic link, or a file
            raise UnsafeTokenStore(f"token directory {self.root} is not a directory") from None
        try:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as err:
            if err.errno in (*_LINK_ERRNOS, errno.ENOTDIR):
                raise UnsafeTokenStore(
                    f"token directory {self.root} is a symbolic link; give the directory itself"
                ) from None
            raise
        try:
            mode = os.fstat(fd).st_mode
            if mode & (stat.S_IWGRP | stat.S_IWOTH):
                raise UnsafeTokenStore(
                    f"token directory {self.root} may be written by others (mode "
                    f"{stat.S_IMODE(mode):o}); make it the owner's only: chmod 700 {self.root}"
                )
            yield fd
        finally:
            os.close(fd)

    def _open(self, directory: int, name: str, flags: int, mode: int = 0o600) -> int:
        """A regular file of the directory, opened without following a symbolic link.

        Raises:
            FileNotFoundError: it does not exist (and `flags` do not create it).
            UnsafeTokenStore: it is a symbolic link or not a regular file.
        """
        try:
            fd = os.open(name, flags | _NO_FOLLOW, mode, dir_fd=directory)
        except OSError as err:
            if err.errno in _LINK_ERRNOS:
                raise UnsafeTokenStore(
                    f"{self.root / name} is a symbolic link; the token store follows none"
                ) from None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise UnsafeTokenStore(f"{self.root / name} is not a regular file")
        return fd

    def _read(self, directory: int, name: str) -> dict | None:
        try:
            fd = self._open(directory, name, os.O_RDONLY)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise CorruptTokenFile(f"{self.root / name} is larger than a token can be")
        return _parse(self.root / name, data)

    def _load(self, name: str) -> dict | None:
        with self._directory() as directory:
            try:
                os.stat(f".{name}.tmp", dir_fd=directory, follow_symlinks=False)
                leftover = True
            except FileNotFoundError:
                leftover = False
            if leftover:
                fcntl.flock(directory, fcntl.LOCK_EX)  # released when the descriptor closes
                self._recover(directory, name)
            return self._read(directory, name)

    def _recover(self, directory: int, name: str) -> None:
        """Adopts or removes what an interrupted save left (see the module docstring)."""
        temporary = f".{name}.tmp"
        try:
            fd = self._open(directory, temporary, os.O_RDONLY)
        except FileNotFoundError:
            return  # recovered meanwhile by another process
        except UnsafeTokenStore:
            self._remove(directory, temporary, "it is not a regular file")
            return
        with os.fdopen(fd, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
        try:
            _parse(self.root / temporary, data)
        except CorruptTokenFile:
            self._remove(directory, temporary, "a save was cut short before it was complete")
            return
        os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
        os.fsync(directory)
        _LOGGER.warning(
            "token store %s: adopted %s as %s: an interrupted save had written it completely",
            self.root,
            temporary,
            name,
        )

    def _unlink(self, *names: str) -> bool:
        """Removes the named files under the directory's lock; True if any was there."""
        found = False
        with self._directory() as directory:
            fcntl.flock(directory, fcntl.LOCK_EX)  # released when the descriptor closes
            for name in names:
                try:
                    os.unlink(name, dir_fd=directory)  # a symbolic link itself, never its target
                    found = True
                except FileNotFoundError:
                    pass
            if found:
                os.fsync(directory)
        return found

    def _remove(self, directory: int, name: str, why: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=directory)  # removes a symbolic link, never its target
            _LOGGER.warning("token store %s: removed %s: %s", self.root, name, why)

    def _write(self, name: str, payload: dict) -> None:
        data = json.dumps(payload, sort_keys=True).encode("utf-8")
        temporary = f".{name}.tmp"
        with self._directory() as directory:
            fcntl.flock(directory, fcntl.LOCK_EX)  # released when the descriptor closes
            # Whatever an earlier save left is older than this one.
            self._remove(directory, temporary, "superseded by a newer save")
            fd = self._open(directory, temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            durable = False
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                durable = True
                self.rename(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
            except BaseException:
                if not durable:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(temporary, dir_fd=directory)
                else:
                    # The only copy of the newest token, maybe: the next load adopts it.
                    _LOGGER.warning(
                        "token store %s: %s is written but not yet in place; the next load "
                        "of it adopts it",
                        self.root,
                        temporary,
                    )
                raise
            os.fsync(directory)
