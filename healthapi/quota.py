"""Per-user request budget: at most N API calls in any window (60 seconds by default).

The Google Health API allows 300 requests per minute per user (the legacy
Fitbit API allowed 150 per hour: `parse_budget("150/hour")`). Every call a
process makes for a user (list, rollup and detail calls alike) takes a slot
first, waiting when the last window is full, so the pipeline stays under the
limit instead of running into 429s. Shared by every thread of a process
(`shared_limiter`).
"""

from __future__ import annotations

import collections
import re
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
        margin_seconds: how much longer than the window a call holds its slot. The API
            counts a call when it arrives, a little after the limiter let it go, and that
            little varies from call to call: with no margin, a call let go the instant a
            slot frees can arrive before the API frees it, and meet a 429.
    """

    def __init__(
        self,
        per_window: int,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin_seconds: float = 0.0,
    ):
        if per_window < 1:
            raise ValueError(f"per_window must be at least 1, got {per_window}")
        if margin_seconds < 0:
            raise ValueError(f"margin_seconds must not be negative, got {margin_seconds}")
        self.per_window = per_window
        self.window_seconds = window_seconds
        self.margin_seconds = margin_seconds
        self.clock = clock
        self.sleep = sleep
        self._held = window_seconds + margin_seconds
        self._calls: dict[str, collections.deque] = {}
        self._lock = threading.Lock()

    def acquire(self, user_key: str) -> float:
        """Takes a slot for the user, waiting if needed; returns seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                calls = self._calls.setdefault(user_key, collections.deque())
                # Leaving the window and the wait use the same sum, calls[0] + held:
                # with `now - held` instead, rounding could leave a call in the window
                # while the wait for it came out as 0.0, and the loop would never end.
                while calls and calls[0] + self._held <= now:
                    calls.popleft()
                if len(calls) < self.per_window:
                    calls.append(now)
                    return waited
                wait = calls[0] + self._held - now
            self.sleep(wait)
            waited += wait


# A slot is held this share of the window longer than the API holds it: 0.6 s of a
# minute, 36 s of an hour. Far more than a request takes to reach the API, at 1% of
# the budget. Without it, bench/quota.py saw 2% of requests answered 429 once a budget
# ran out (5 users x 30 days at 100/minute, real-time clock); with it, none.
MARGIN = 0.01


def budget_limiter(
    per_window: int,
    window_seconds: float = 60.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> UserRateLimiter:
    """The pipeline's limiter for a budget of `per_window` calls per user per window.

    Its slots are held `MARGIN` of the window longer than the API's.
    """
    return UserRateLimiter(
        per_window, window_seconds, clock, sleep, margin_seconds=window_seconds * MARGIN
    )


_UNITS = {"s": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0, "h": 3600.0, "hour": 3600.0}
_BUDGET = re.compile(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+?)s?\s*")


def parse_budget(text: str) -> tuple[int, float]:
    """(calls, window seconds) of a budget written `300/minute`, `150/hour` or `10/30s`.

    Units: s, second, min, minute, h, hour (plural too), optionally after a number.

    Raises:
        ValueError: naming the text and giving an example of a good one.
    """
    match = _BUDGET.fullmatch(text.lower())
    if match is None or match.group(3) not in _UNITS:
        raise ValueError(f"budget {text!r:.40} is not calls/period; e.g. 300/minute or 150/hour")
    calls, number, unit = match.groups()
    seconds = float(number or 1) * _UNITS[unit]
    if int(calls) < 1 or seconds <= 0:
        raise ValueError(f"budget {text!r:.40} must allow at least 1 call in a period above 0 s")
    return int(calls), seconds


_SHARED: dict[tuple, UserRateLimiter] = {}
_SHARED_LOCK = threading.Lock()


def shared_limiter(per_window: int, window_seconds: float = 60.0) -> UserRateLimiter:
    """The process-wide limiter for a budget: `per_window` calls per user per window.

    The default window makes it a per-minute budget; `shared_limiter(150, 3600.0)` is the
    legacy Fitbit one. See `budget_limiter`.
    """
    key = (per_window, float(window_seconds))
    with _SHARED_LOCK:
        limiter = _SHARED.get(key)
        if limiter is None:
            limiter = _SHARED[key] = budget_limiter(per_window, window_seconds)
        return limiter
