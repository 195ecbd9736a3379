"""simulator.clock: speed, and a real-time origin two clocks can share."""

from __future__ import annotations

from simulator.clock import SimClock


class FakeMonotonic:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_time_runs_at_the_clocks_speed_from_its_creation():
    real = FakeMonotonic(500.0)
    clock = SimClock(start=1000.0, speed=60, monotonic=real)
    assert clock.now() == 1000.0
    real.now = 502.5
    assert clock.now() == 1150.0


def test_clocks_given_one_origin_tell_the_same_time_whenever_they_were_made():
    real = FakeMonotonic(500.0)
    first = SimClock(start=1000.0, speed=60, monotonic=real, origin=500.0)
    real.now = 503.0  # made 3 real seconds later, as in another process
    second = SimClock(start=1000.0, speed=60, monotonic=real, origin=500.0)
    assert first.now() == second.now() == 1180.0
    real.now = 510.0
    assert first.now() == second.now() == 1600.0
