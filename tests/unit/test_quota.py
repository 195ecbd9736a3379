"""healthapi.quota: a sliding window per user (60 s unless told), on an injected clock.

Waiting is done by a fake `sleep` that moves the fake clock, so nothing here
waits on the wall clock.
"""

from __future__ import annotations

import threading

import pytest

from healthapi.quota import UserRateLimiter, budget_limiter, parse_budget, shared_limiter


class FakeTime:
    """A clock that only moves when something sleeps on it (or a test moves it)."""

    def __init__(self, now: float = 1000.0):
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(per_window: int, fake: FakeTime, window: float = 60.0) -> UserRateLimiter:
    return UserRateLimiter(per_window, window, clock=fake.clock, sleep=fake.sleep)


def never_sleep(seconds: float) -> None:
    raise AssertionError(f"slept {seconds} s")


def test_calls_within_the_budget_do_not_wait():
    fake = FakeTime()
    rl = limiter(3, fake)
    assert [rl.acquire("u1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert fake.sleeps == []


def test_a_full_window_waits_until_the_oldest_call_leaves_it():
    fake = FakeTime(1000.0)
    rl = limiter(3, fake)
    for _ in range(3):
        rl.acquire("u1")

    assert rl.acquire("u1") == 60.0
    assert fake.sleeps == [60.0]
    assert fake.now == 1060.0


def test_the_window_slides_with_each_call():
    fake = FakeTime(0.0)
    rl = limiter(3, fake)
    for at in (0.0, 10.0, 20.0):
        fake.now = at
        assert rl.acquire("u1") == 0.0

    fake.now = 30.0
    assert rl.acquire("u1") == 30.0  # until 60, when the call at 0 is a minute old
    assert rl.acquire("u1") == 10.0  # until 70, when the call at 10 is
    assert rl.acquire("u1") == 10.0  # until 80
    assert fake.sleeps == [30.0, 10.0, 10.0]
    assert fake.now == 80.0


def test_a_call_exactly_one_window_old_no_longer_counts():
    fake = FakeTime(0.0)
    rl = limiter(1, fake)
    rl.acquire("u1")
    fake.now = 60.0
    assert rl.acquire("u1") == 0.0
    fake.now = 119.5
    assert rl.acquire("u1") == 0.5
    assert fake.sleeps == [0.5]


def test_300_a_minute_lets_300_through_then_waits_for_the_window():
    fake = FakeTime(0.0)
    rl = limiter(300, fake)
    for i in range(300):
        fake.now = i * 0.1  # 300 calls in 30 s
        assert rl.acquire("u1") == 0.0
    waits = [rl.acquire("u1") for _ in range(300)]
    # Each further call waits for the call 300 places earlier to be 60 s old.
    assert fake.now == pytest.approx(60.0 + 29.9)
    assert sum(waits) == pytest.approx(60.0 + 29.9 - 29.9)
    assert waits[0] == pytest.approx(60.0 - 29.9)


def test_one_sleep_ends_every_wait_whatever_the_rounding():
    # Clock values such as 0.1 * i are not exact in binary; the wait the limiter asks
    # for must be enough for the call to leave the window, not a 0.0 repeated forever.
    for i in range(1, 2000):
        fake = FakeTime(i * 0.1)
        slept: list[float] = []

        def sleep(seconds: float, fake=fake, slept=slept) -> None:
            slept.append(seconds)
            if len(slept) > 1:
                raise AssertionError(f"waited again after {slept}")
            fake.now += seconds

        rl = UserRateLimiter(1, 60.0, clock=fake.clock, sleep=sleep)
        rl.acquire("u1")
        fake.now = i * 0.1 + 59.9
        rl.acquire("u1")
        assert len(slept) == 1
        assert 0.0 < slept[0] < 0.2


def test_users_have_separate_windows():
    fake = FakeTime(0.0)
    rl = limiter(2, fake)
    rl.acquire("u1")
    rl.acquire("u1")

    assert rl.acquire("u2") == 0.0
    assert rl.acquire("u2") == 0.0
    assert rl.acquire("u3") == 0.0
    assert fake.sleeps == []
    assert rl.acquire("u1") == 60.0
    assert rl.acquire("u2") == 0.0  # u2's calls at 0 left its window when u1 waited


def test_a_user_waiting_does_not_block_another_user():
    fake = FakeTime(0.0)
    blocked = threading.Event()
    release = threading.Event()

    def sleep(seconds: float) -> None:
        blocked.set()
        assert release.wait(10)
        fake.now += seconds

    rl = UserRateLimiter(1, 60.0, clock=fake.clock, sleep=sleep)
    rl.acquire("u1")
    waited = []
    worker = threading.Thread(target=lambda: waited.append(rl.acquire("u1")))
    worker.start()
    assert blocked.wait(10)

    assert rl.acquire("u2") == 0.0  # while u1 is waiting

    release.set()
    worker.join(10)
    assert waited == [60.0]


def test_a_short_sleep_is_followed_by_another_wait():
    fake = FakeTime(0.0)
    naps: list[float] = []

    def nap(seconds: float) -> None:
        # A sleep that wakes early: the limiter must check again and wait the rest.
        naps.append(seconds)
        fake.now += seconds if len(naps) > 1 else 45.0

    rl = UserRateLimiter(1, 60.0, clock=fake.clock, sleep=nap)
    rl.acquire("u1")
    assert rl.acquire("u1") == 75.0  # 60 asked, then the 15 still missing
    assert naps == [60.0, 15.0]
    assert fake.now == 60.0


def test_other_window_lengths():
    fake = FakeTime(0.0)
    rl = limiter(2, fake, window=1.0)
    rl.acquire("u1")
    fake.now = 0.25
    rl.acquire("u1")
    assert rl.acquire("u1") == 0.75
    assert rl.acquire("u1") == 0.25


def test_threads_share_the_budget_exactly():
    fake = FakeTime(0.0)
    rl = UserRateLimiter(100, 60.0, clock=fake.clock, sleep=never_sleep)
    start = threading.Barrier(10)
    results: list[float] = []
    lock = threading.Lock()

    def take_ten():
        start.wait(10)
        for _ in range(10):
            waited = rl.acquire("u1")
            with lock:
                results.append(waited)

    threads = [threading.Thread(target=take_ten) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)

    assert results == [0.0] * 100
    with pytest.raises(AssertionError, match=r"slept 60\.0 s"):
        rl.acquire("u1")  # the 101st call of the minute must wait


@pytest.mark.parametrize("per_window", [0, -1])
def test_a_budget_below_one_is_refused(per_window):
    with pytest.raises(ValueError, match=f"per_window must be at least 1, got {per_window}"):
        UserRateLimiter(per_window)


def test_shared_limiter_is_one_per_budget():
    first = shared_limiter(300)
    assert shared_limiter(300) is first
    other = shared_limiter(150)
    assert other is not first
    assert (first.per_window, first.window_seconds) == (300, 60.0)
    assert (other.per_window, other.window_seconds) == (150, 60.0)


# -- budgets other than per minute, and the margin --------------------------------------


def test_the_legacy_budget_of_150_an_hour():
    fake = FakeTime(0.0)
    calls, seconds = parse_budget("150/hour")
    rl = limiter(calls, fake, window=seconds)
    for i in range(150):
        fake.now = i * 10.0  # 150 calls in 25 minutes
        assert rl.acquire("u1") == 0.0

    assert rl.acquire("u1") == 3600.0 - 1490.0  # until the first call is an hour old
    assert fake.now == 3600.0
    assert rl.acquire("u1") == 10.0
    assert rl.acquire("u2") == 0.0
    assert fake.sleeps == [2110.0, 10.0]


@pytest.mark.parametrize(
    ("text", "budget"),
    [
        ("300/minute", (300, 60.0)),
        ("150/hour", (150, 3600.0)),
        ("150/hours", (150, 3600.0)),
        ("300/min", (300, 60.0)),
        ("10/30s", (10, 30.0)),
        (" 5 / 2 h ", (5, 7200.0)),
        ("1/SECOND", (1, 1.0)),
    ],
)
def test_budgets_are_read_as_calls_per_period(text, budget):
    assert parse_budget(text) == budget


@pytest.mark.parametrize("text", ["300", "300/", "300/fortnight", "x/minute", "300/1m", ""])
def test_a_budget_that_is_not_calls_per_period_is_refused(text):
    with pytest.raises(ValueError, match=r"is not calls/period; e\.g\. 300/minute or 150/hour"):
        parse_budget(text)


@pytest.mark.parametrize("text", ["0/minute", "5/0s"])
def test_a_budget_of_nothing_is_refused(text):
    with pytest.raises(ValueError, match="must allow at least 1 call in a period above 0 s"):
        parse_budget(text)


def test_a_margin_holds_each_slot_longer_than_the_window():
    fake = FakeTime(0.0)
    rl = UserRateLimiter(2, 60.0, fake.clock, fake.sleep, margin_seconds=0.5)
    rl.acquire("u1")
    fake.now = 10.0
    rl.acquire("u1")
    fake.now = 60.0  # the API lets the first call go now; the limiter half a second later
    assert rl.acquire("u1") == 0.5
    assert rl.acquire("u1") == 10.0
    assert fake.now == 70.5


def test_one_sleep_ends_every_wait_with_a_margin_too():
    for i in range(1, 500):
        fake = FakeTime(i * 0.1)
        rl = UserRateLimiter(1, 60.0, fake.clock, fake.sleep, margin_seconds=0.6)
        rl.acquire("u1")
        fake.now = i * 0.1 + 60.5
        rl.acquire("u1")
        assert len(fake.sleeps) == 1
        assert 0.0 < fake.sleeps[0] < 0.2


def test_a_negative_margin_is_refused():
    with pytest.raises(ValueError, match="margin_seconds must not be negative, got -1"):
        UserRateLimiter(1, margin_seconds=-1)


def test_the_pipelines_limiter_holds_slots_one_percent_longer():
    fake = FakeTime(0.0)
    per_minute = budget_limiter(1, 60.0, fake.clock, fake.sleep)
    per_hour = budget_limiter(1, 3600.0, fake.clock, fake.sleep)
    per_minute.acquire("u1")
    per_hour.acquire("u1")
    assert per_minute.acquire("u1") == pytest.approx(60.6)
    assert per_hour.acquire("u1") == pytest.approx(3636.0 - 60.6)
    assert (per_minute.margin_seconds, per_hour.margin_seconds) == (0.6, 36.0)


def test_shared_limiter_takes_a_window():
    legacy = shared_limiter(150, 3600.0)
    assert shared_limiter(150, 3600) is legacy
    assert shared_limiter(150) is not legacy
    assert (legacy.per_window, legacy.window_seconds, legacy.margin_seconds) == (150, 3600.0, 36.0)
    assert shared_limiter(300).margin_seconds == pytest.approx(0.6)
