"""Where users' OAuth tokens live between runs.

A token store maps a fitbeam user key to that user's token dict (as
requests-oauthlib returns it: access_token, refresh_token, expires_at, scope,
token_type). Writes are durable before they return: a refresh token that was
rotated by the provider and then lost would force the user to consent again.

Stores are chosen by URI:

- `file:///abs/dir` or a plain path: one JSON file per user, mode 0600, written
  atomically (temporary file, fsync, rename).

Token contents are never logged, and `repr` of a store shows only its location.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import urllib.parse
from pathlib import Path
from typing import Protocol

_USER_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_user_key(user_key: str) -> str:
    """Returns the key if it is a safe user key.

    Raises:
        ValueError: naming the bad key and the allowed form.
    """
    if not isinstance(user_key, str) or not _USER_KEY.match(user_key):
        raise ValueError(
            f"invalid user key {str(user_key)[:40]!r}: use 1-128 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit, e.g. 'participant-017'"
        )
    return user_key


class TokenStore(Protocol):
    def load(self, user_key: str) -> dict | None: ...

    def save(self, user_key: str, token: dict) -> None: ...

    def load_client(self) -> tuple[str, str]: ...

    def save_client(self, client_id: str, client_secret: str) -> None: ...


CLIENT_FILE = "_oauth_client.json"  # cannot clash with a user key (they start alphanumeric)


class LocalFileTokenStore:
    """Tokens as `<root>/<user_key>.json`, readable by the owner only."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalFileTokenStore({str(self.root)!r})"

    def _path(self, user_key: str) -> Path:
        return self.root / f"{check_user_key(user_key)}.json"

    def load(self, user_key: str) -> dict | None:
        return self._read(self._path(user_key))

    def save(self, user_key: str, token: dict) -> None:
        self._write(self._path(user_key), token)

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


def token_store_from_uri(uri: str) -> TokenStore:
    """Builds the token store a URI names.

    Raises:
        ValueError: for an unsupported scheme, with an example of a good URI.
    """
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme in ("", "file"):
        path = parsed.path if parsed.scheme == "file" else uri
        if not path:
            raise ValueError(
                f"token store URI {uri[:80]!r} has no path; e.g. file:///var/fitbeam/tokens"
            )
        return LocalFileTokenStore(path)
    raise ValueError(
        f"unsupported token store {uri[:80]!r}; use a directory such as file:///var/fitbeam/tokens"
    )
