"""Per-user request budget: at most N API calls in any 60 seconds.

The Google Health API allows 300 requests per minute per user (the legacy
Fitbit API allowed 150 per hour). Every call a process makes for a user (list,
rollup and detail calls alike) takes a slot first, waiting when the last 60
seconds are full, so the pipeline stays under the limit instead of running
into 429s. Shared by every thread of a process (`shared_limiter`).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable


class UserRateLimiter:
    """A sliding-window limiter per user.

    Args:
        per_window: calls allowed per user in any `window_seconds`.
        window_seconds: the window (60 for per-minute quotas).
        clock: monotonic seconds, injectable.
        sleep: waits, injectable.
    """

    def __init__(
        self,
        per_window: int,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if per_window < 1:
            raise ValueError(f"per_window must be at least 1, got {per_window}")
        self.per_window = per_window
        self.window_seconds = window_seconds
        self.clock = clock
        self.sleep = sleep
        self._calls: dict[str, collections.deque] = {}
        self._lock = threading.Lock()

    def acquire(self, user_key: str) -> float:
        """Takes a slot for the user, waiting if needed; returns seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                calls = self._calls.setdefault(user_key, collections.deque())
                # Leaving the window and the wait use the same sum, calls[0] + window:
                # with `now - window` instead, rounding could leave a call in the window
                # while the wait for it came out as 0.0, and the loop would never end.
                while calls and calls[0] + self.window_seconds <= now:
                    calls.popleft()
                if len(calls) < self.per_window:
                    calls.append(now)
                    return waited
                wait = calls[0] + self.window_seconds - now
            self.sleep(wait)
            waited += wait


_SHARED: dict[tuple, UserRateLimiter] = {}
_SHARED_LOCK = threading.Lock()


def shared_limiter(per_minute: int) -> UserRateLimiter:
    """The process-wide limiter for a per-minute budget."""
    with _SHARED_LOCK:
        limiter = _SHARED.get((per_minute,))
        if limiter is None:
            limiter = _SHARED[(per_minute,)] = UserRateLimiter(per_minute)
        return limiter
