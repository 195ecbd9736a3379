"""The simulator's clock: real time, optionally sped up, frozen or moved by hand."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class SimClock:
    """Simulator time in epoch seconds.

    Args:
        start: simulator time at creation (default: the real time now).
        speed: simulator seconds per real second; 0 freezes the clock so that
            only `advance` moves it (what tests want), 60 makes a minute pass
            every real second (what quota benchmarks want).
        monotonic: real-time source, injectable for tests.
        origin: the `monotonic()` reading at which simulator time is `start`
            (default: now). Two clocks given the same start, speed and origin
            tell the same time, in one process or in two (`time.monotonic` is
            system-wide), so a benchmark can share a simulator's clock.
    """

    def __init__(
        self,
        start: float | None = None,
        speed: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        origin: float | None = None,
    ):
        if speed < 0:
            raise ValueError(f"clock speed must be >= 0, got {speed}")
        self._start = time.time() if start is None else float(start)
        self._speed = speed
        self._monotonic = monotonic
        self._origin = monotonic() if origin is None else float(origin)
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._start + (self._monotonic() - self._origin) * self._speed + self._offset

    def advance(self, seconds: float) -> float:
        """Moves simulator time forward; returns the new time."""
        if seconds < 0:
            raise ValueError(f"the clock only moves forward, got {seconds}")
        with self._lock:
            self._offset += seconds
        return self.now()

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def start(self) -> float:
        """Simulator time at `origin` (before any `advance`)."""
        return self._start

    @property
    def origin(self) -> float:
        """The `monotonic()` reading at which simulator time was `start`."""
        return self._origin
