"""Request budgets: exact per user, paced per project.

The Google Health API allows 300 requests per minute per user (the legacy
Fitbit API allowed 150 per hour: `parse_budget("150/hour")`). Every call a
process makes for a user (list, rollup and detail calls alike) takes a slot
first, waiting when the last window is full, so the pipeline stays under the
limit instead of running into 429s. Shared by every thread of a process
(`shared_limiter`). The fetch keys calls by user, so one process holds all of
a user's calls and the budget is exact however many workers run.

The API also allows 120,000 requests per minute per project, across every
worker. `ProjectShare` keeps one worker's share of that without talking to the
others: the whole quota until the API first answers 429 for the project's
quota, then the slots the worker's own requests hold in the sliding minute,
which it reuses as they free (and grows slowly while nothing is refused).
`ProjectBudget` holds the settings, including an Envoy rate-limit service for
an exact shared limit (used by `transforms.fetch`).
"""

from __future__ import annotations

import collections
import dataclasses
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


@dataclasses.dataclass(frozen=True)
class ProjectBudget:
    """The project's request budget, shared by every worker.

    Attributes:
        per_minute: requests a minute of the whole project (the API allows 120,000).
        envoy_address: `host:port` of an Envoy rate-limit service that holds the exact
            shared limit; empty to pace each worker by the project's 429s instead.
        envoy_domain: the rate-limit domain of the service's configuration.
        envoy_descriptors: the descriptors each request counts against, each a tuple of
            (key, value) entries.
    """

    per_minute: int = 120_000
    envoy_address: str = ""
    envoy_domain: str = "fitbeam"
    envoy_descriptors: tuple[tuple[tuple[str, str], ...], ...] = (
        (("quota", "google-health-api"),),
    )

    def __post_init__(self):
        if not isinstance(self.per_minute, int) or self.per_minute < 1:
            raise ValueError(
                f"per_minute={str(self.per_minute)[:20]} must be a whole number of at least 1, "
                "e.g. 120000"
            )
        if self.envoy_address and not self.envoy_descriptors:
            raise ValueError("an Envoy rate limit needs at least one descriptor, e.g. quota=api")


def parse_descriptors(text: str) -> tuple[tuple[tuple[str, str], ...], ...]:
    """Envoy rate-limit descriptors written `key=value,key=value;key=value`.

    Entries of one descriptor are separated by commas, descriptors by semicolons:
    `quota=google-health-api` is one descriptor of one entry.

    Raises:
        ValueError: naming the text and giving an example of a good one.
    """
    descriptors = []
    for part in text.split(";"):
        entries = []
        for entry in part.split(","):
            key, sep, value = entry.strip().partition("=")
            if (
                not sep
                or not _DESCRIPTOR_PART.fullmatch(key)
                or not _DESCRIPTOR_PART.fullmatch(value)
            ):
                raise ValueError(
                    f"descriptors {text!r:.60} are not key=value[,key=value][;...]; "
                    "e.g. quota=google-health-api"
                )
            entries.append((key, value))
        descriptors.append(tuple(entries))
    return tuple(descriptors)


_DESCRIPTOR_PART = re.compile(r"[A-Za-z0-9_.:/-]{1,100}")


class ProjectShare:
    """One worker's share of the project's per-minute quota, found without coordination.

    The API counts the project's requests in a sliding minute, as it does a user's. Each
    worker keeps a sliding window of its own requests and sends only while the window
    and its requests under way are fewer than its `capacity`. A request holds its slot
    from its answer on, the window and `margin_seconds` long: the API counted it on
    arrival, before the answer, so the slot frees here only after it freed there,
    however long the request took on the way.

    - until the API first answers 429 for the project's quota, the capacity is the whole
      quota: one worker alone may use all of it, and a minute's work goes out as fast as
      the users' budgets let it;
    - a project 429 says the project's window is full: the worker's share is then what
      its own window holds and its other requests under way. Every worker that meets one does
      the same, so together they hold what the API counted and each reuses its own
      slots as they free: no more 429s, and the quota stays in use;
    - while the capacity binds and no project 429 came for a while (`hold_seconds`, a
      window), it grows by `growth` of itself a second, to take up what workers that
      finished left free. Growth that ends in a project 429 found no free quota, only
      the moments other workers' slots stand free between the API's window and theirs
      (the margin), and took them from their owners: the wait before the next growth
      doubles, up to two windows, and is back to one once growth has lasted a whole
      window without a 429.

    Args:
        per_minute: the project's requests a minute.
        window_seconds: the quota's window (60).
        clock: monotonic seconds, injectable.
        sleep: waits, injectable.
        margin_seconds: how much longer than the window a request holds its slot
            (default `MARGIN` of the window).
        growth: the capacity's growth a second while it binds.
        hold_seconds: no growth this long after a project 429 (default: a window); the
            least of the wait, which doubles as described above.
    """

    def __init__(
        self,
        per_minute: int,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin_seconds: float | None = None,
        growth: float = 0.01,
        hold_seconds: float | None = None,
    ):
        if per_minute < 1:
            raise ValueError(f"per_minute must be at least 1, got {per_minute}")
        if growth < 0:
            raise ValueError(f"growth must not be negative, got {growth}")
        self.per_minute = per_minute
        self.capacity = float(per_minute)
        self.growth = growth
        self.clock = clock
        self.sleep = sleep
        margin = window_seconds * MARGIN if margin_seconds is None else margin_seconds
        self._held = window_seconds + margin
        self.hold_seconds = window_seconds if hold_seconds is None else hold_seconds
        self._answered: collections.deque = collections.deque()
        self._under_way = 0
        self._refused_at = -float("inf")
        self._bound_at = -float("inf")
        self._grown_at = -float("inf")
        self._growing_since = -float("inf")
        self._grew = False  # grew since the last project 429
        self._hold = self.hold_seconds
        self._window = window_seconds
        self._lock = threading.Lock()

    def _held_now(self, now: float) -> int:
        """Slots held: answered requests still in the window, and requests under way."""
        answered = self._answered
        while answered and answered[0] + self._held <= now:
            answered.popleft()
        return len(answered) + self._under_way

    def acquire(self) -> float:
        """Takes a slot of the worker's share, waiting if needed; returns seconds waited.

        Every `acquire` must be followed by one `record`, when the request has ended.
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                if self._held_now(now) < self.capacity:
                    self._under_way += 1
                    if waited:
                        self._bound_at = now
                    return waited
                self._bound_at = now
                # The first answered slot to free; with none, an answer under way frees
                # nothing before it comes: look again a little later.
                answered = self._answered
                wait = answered[0] + self._held - now if answered else 0.1
            self.sleep(wait)
            waited += wait

    def record(self, refused: bool) -> None:
        """How the request after `acquire` ended: refused for the project's quota, or not."""
        with self._lock:
            now = self.clock()
            self._under_way = max(0, self._under_way - 1)
            if refused:  # the API did not count it: it holds no slot
                self._refused_at = now
                self.capacity = max(1.0, min(self.capacity, float(self._held_now(now))))
                if self._grew:
                    self._hold = min(self._hold * 2, self.hold_seconds * 2)
                    self._grew = False
                return
            self._answered.append(now)
            if now - self._bound_at > 1.0 or now - self._refused_at < self._hold:
                self._grown_at = now
                return
            elapsed = now - self._grown_at
            self._grown_at = now
            if elapsed > 5.0:  # growth starts (again) now, not from the last time it grew
                self._growing_since = now
                return
            self._grew = True
            if now - self._growing_since >= self._window:
                self._hold = self.hold_seconds  # the room it grew into was free quota
            self.capacity = min(float(self.per_minute), self.capacity * (1 + self.growth * elapsed))


_SHARES: dict[int, ProjectShare] = {}


def shared_share(per_minute: int) -> ProjectShare:
    """The process-wide share of a project budget of `per_minute` requests a minute."""
    with _SHARED_LOCK:
        share = _SHARES.get(per_minute)
        if share is None:
            share = _SHARES[per_minute] = ProjectShare(per_minute)
        return share
