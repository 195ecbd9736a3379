"""The relay's user map: healthUserId -> fitbeam user key, read from a local or gs:// file.

Notifications name users by `healthUserId`; fitbeam's tables and token store
use its own user keys. The map is a JSON object,
`{"7108215177813058725": "participant-017"}`, that `fitbeam relay user-map`
writes from the token store (relay/main.py). `UserMap` reads it at start and
again when an unknown healthUserId arrives (at most once a minute), so adding
a user means updating the file, not redeploying.

Both sides are matched whole (`re.fullmatch`; the user key by the token
store's `check_user_key`): a pattern ending in `$` also accepts a trailing
newline, and neither "user-1\\n" nor "7108215177813058725\\n" may pass.
Beam-free: gs:// is read with google-cloud-storage.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

from healthapi.auth.store import check_user_key
from relay.notifications import HEALTH_USER_ID
from relay.quiet import shown

_LOGGER = logging.getLogger(__name__)

USER_MAP_REFRESH_SECONDS = 60.0


def read_text(path: str) -> str:
    """A local or gs:// file's text."""
    if path.startswith("gs://"):
        from google.cloud import storage

        bucket, _, name = path[len("gs://") :].partition("/")
        if not bucket or not name:
            raise ValueError(f"{shown(path)} is not gs://BUCKET/OBJECT")
        blob = storage.Client().bucket(bucket).blob(name)
        return blob.download_as_bytes().decode("utf-8")
    with open(path, encoding="utf-8") as f:
        return f.read()


def check_health_user_id(health_user_id: object) -> str:
    """The id if it is a whole healthUserId (1-63 of A-Z a-z 0-9 -).

    Raises:
        ValueError: anything else, "7108215177813058725\\n" included.
    """
    if not isinstance(health_user_id, str) or not HEALTH_USER_ID.fullmatch(health_user_id):
        raise ValueError(f"healthUserId {shown(health_user_id)} is not 1-63 of A-Z a-z 0-9 -")
    return health_user_id


def parse_user_map(text: str) -> dict[str, str]:
    """`{"<healthUserId>": "<user key>", ...}` -> dict.

    Raises:
        ValueError: not such an object, or a bad id or key.
    """
    try:
        obj = json.loads(text)
    except ValueError as err:
        raise ValueError(f"not JSON ({err.args[0][:60]})") from None
    if not isinstance(obj, dict):
        raise ValueError('not a JSON object {"<healthUserId>": "<user key>"}')
    for health_id, user_key in obj.items():
        check_health_user_id(health_id)
        if not isinstance(user_key, str):
            raise ValueError(f"the user key of {health_id} is not a string")
        check_user_key(user_key)
    return dict(obj)


class UserMap:
    """healthUserId -> fitbeam user key, re-read when an unknown id arrives.

    Args:
        source: the map's path (local or gs://).
        reader: path -> text (injectable).
        clock: monotonic seconds (injectable).
        refresh_seconds: the least time between two reads.

    Raises:
        ValueError: the map cannot be read at start.
    """

    def __init__(
        self,
        source: str,
        reader: Callable[[str], str] = read_text,
        clock: Callable[[], float] = time.monotonic,
        refresh_seconds: float = USER_MAP_REFRESH_SECONDS,
    ):
        self.source = source
        self.reader = reader
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._map = self._read()
        self._read_at = clock()

    def _read(self) -> dict[str, str]:
        try:
            text = self.reader(self.source)
        except Exception as err:  # a file, a bucket or the network: the map cannot be had
            raise ValueError(f"cannot read it ({type(err).__name__})") from None
        return parse_user_map(text)

    def __len__(self) -> int:
        return len(self._map)

    def lookup(self, health_user_id: str) -> str | None:
        """The user key, or None when the map (re-read if due) does not name the id."""
        found = self._map.get(health_user_id)
        if found is not None:
            return found
        with self._lock:
            if self.clock() - self._read_at < self.refresh_seconds:
                return self._map.get(health_user_id)
            self._read_at = self.clock()
            try:
                self._map = self._read()
            except Exception as err:  # any failure: keep serving with the map we have
                _LOGGER.warning(
                    "user map %s not re-read, the old one stays: %s: %s",
                    self.source,
                    type(err).__name__,
                    str(err)[:200],
                )
            else:
                _LOGGER.info("user map %s re-read: %d users", self.source, len(self._map))
            return self._map.get(health_user_id)
