"""Logging that a flood cannot turn into a flood of lines, nor a notification into a fake line.

- `shown` is how any value that came in a request is put into a log line:
  escaped to printable ASCII and cut short, so a newline or a control
  character in a notification can neither start a line of its own in text
  logs nor break a JSON log entry (commands/logs.py writes both).
- `Throttle` lets one event per key through per period and counts the rest
  (unknown healthUserIds: one line per id every 10 minutes).
- `RefusalTally` counts refusals of requests that did not carry the secret
  and logs one summary line per period with the counts, so a flood of
  unauthenticated requests costs a line a minute, not a line a request.

Every clock is injectable; nothing here logs a header, a secret or a body.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable

SHOWN_CHARS = 60


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """`value` as printable ASCII for a log line: quoted, escaped, at most `limit` characters.

    A newline becomes the two characters backslash and n, a non-ASCII letter its
    escape (as `ascii()` writes them), so the line stays one line in any format.
    """
    text = ascii(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Throttle:
    """Decides whether an event of one key is logged now: at most once per `seconds` per key.

    Args:
        seconds: the least time between two logged events of one key.
        clock: monotonic seconds (injectable).
        max_keys: keys remembered; when full, expired keys are dropped, and if
            none has expired, all are (a flood of new keys then logs, briefly, more).
    """

    def __init__(
        self, seconds: float, clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000
    ):
        self.seconds = seconds
        self.clock = clock
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._seen: dict[str, list] = {}  # key -> [last logged at, events held back since]

    def due(self, key: str) -> int | None:
        """None to stay quiet; else log now, and this many events of `key` were held back."""
        with self._lock:
            now = self.clock()
            entry = self._seen.get(key)
            if entry is not None and now - entry[0] < self.seconds:
                entry[1] += 1
                return None
            if entry is None and len(self._seen) >= self.max_keys:
                self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.seconds}
                if len(self._seen) >= self.max_keys:
                    self._seen.clear()
            self._seen[key] = [now, 0]
            return entry[1] if entry is not None else 0


class RefusalTally:
    """Counts refused requests and logs them as one summary line per period.

    The first refusal after a quiet period is logged at once (a misconfigured
    sender shows up without delay); the ones after it are counted and logged
    together once `seconds` have passed since the last line, either when the
    next refusal arrives or when `flush` is called (the server calls it every
    `seconds`, and once more when it stops)::

        requests refused: 1180 in 60 s (401 no Authorization header: 1178,
        401 wrong Authorization header: 2)

    Args:
        logger: where the lines go (INFO).
        seconds: the least time between two lines.
        clock: monotonic seconds (injectable).
    """

    def __init__(
        self,
        logger: logging.Logger,
        seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.logger = logger
        self.seconds = seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._counts: collections.Counter[str] = collections.Counter()
        self._since: float | None = None
        self._logged_at = float("-inf")

    def add(self, why: str) -> None:
        """Counts one refusal; `why` is a fixed text of the caller, never a request's value."""
        with self._lock:
            if not self._counts:
                self._since = self.clock()
            self._counts[why] += 1
        self.flush()

    def flush(self, force: bool = False) -> None:
        """Logs the counts if a line is due (or `force`), and starts counting afresh."""
        with self._lock:
            now = self.clock()
            if not self._counts or (not force and now - self._logged_at < self.seconds):
                return
            counts, since = self._counts, self._since
            self._counts, self._since, self._logged_at = collections.Counter(), None, now
        total = sum(counts.values())
        detail = ", ".join(f"{why}: {n}" for why, n in sorted(counts.items()))
        self.logger.info(
            "requests refused: %d in %.0f s (%s)", total, max(0.0, now - (since or now)), detail
        )
