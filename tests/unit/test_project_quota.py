"""The project's quota: whose quota a 429 spent, the worker's share, Beam's throttler, options.

Every clock here is a fake one that only moves when a wait or the test moves it.
"""

from __future__ import annotations

import random

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms.util import ReshufflePerKey

from healthapi import calls
from healthapi.client import HealthApiError
from healthapi.elements import ApiCall
from healthapi.quota import ProjectBudget, ProjectShare, parse_descriptors
from healthapi.retry import PROJECT, USER, RetryPolicy, classify, quota_refused
from pipeline.options import OptionsError, resolve
from transforms import fetch

SERVICE = "health.googleapis.com"
PROJECT_MESSAGE = (
    "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of service "
    f"'{SERVICE}' for consumer 'project_number:123'."
)
DAY_MESSAGE = PROJECT_MESSAGE.replace("per minute'", "per day'")
USER_MESSAGE = (
    "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute per user' of "
    f"service '{SERVICE}'."
)


class FakeClock:
    """Seconds that move only when `sleep` or `advance` moves them."""

    def __init__(self, now: float = 1000.0):
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


# -- whose quota a 429 spent -------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message", "body", "quota"),
    [
        (429, PROJECT_MESSAGE, "", PROJECT),
        (429, DAY_MESSAGE, "", PROJECT),
        (429, USER_MESSAGE, "", USER),
        # Google's per-user message names the consumer too: the limit's name decides.
        (429, USER_MESSAGE[:-1] + " for consumer 'project_number:123'.", "", USER),
        (429, "Too many requests", '"quota_limit": "DefaultRequestsPerMinutePerProject"', PROJECT),
        (429, PROJECT_MESSAGE, '"quota_limit": "DefaultRequestsPerMinutePerUser"', USER),
        (429, "Resource has been exhausted (e.g. check quota).", "", ""),
        (503, PROJECT_MESSAGE, "", ""),
    ],
)
def test_quota_refused_names_whose_quota_a_429_spent(status, message, body, quota):
    assert quota_refused(status, message, body) == quota


def test_classify_carries_the_quota_into_the_verdict():
    error = HealthApiError(429, "RATE_LIMIT_EXCEEDED", PROJECT_MESSAGE, "{}")
    verdict = classify(error)
    assert (verdict.retriable, verdict.status, verdict.quota) == (True, 429, PROJECT)
    assert classify(HealthApiError(500, None, "oops")).quota == ""


# -- the worker's share ---------------------------------------------------------------------


def share(clock: FakeClock, per_minute: int = 10, **kwargs) -> ProjectShare:
    # A slot is held 60 s + 1 s (the margin), so the numbers stay round.
    return ProjectShare(per_minute, clock=clock, sleep=clock.sleep, margin_seconds=1.0, **kwargs)


def request(s: ProjectShare, clock: FakeClock, took: float = 0.0, refused: bool = False):
    """One request under the share: its slot, `took` seconds on the way, its answer."""
    waited = s.acquire()
    clock.now += took
    s.record(refused)
    return waited


def test_until_a_project_429_one_worker_may_use_the_whole_quota_at_once():
    clock = FakeClock()
    s = share(clock)
    assert [request(s, clock) for _ in range(10)] == [0.0] * 10
    # The eleventh waits for the first slot: 60 s + the 1 s margin.
    assert s.acquire() == 61.0
    assert clock.now == 1061.0


def test_a_slot_is_held_from_the_answer_so_a_slow_request_holds_it_longer():
    clock = FakeClock()
    s = share(clock, per_minute=2)
    request(s, clock, took=5.0)  # sent at 1000, answered at 1005
    request(s, clock)  # sent and answered at 1005
    assert s.acquire() == 61.0  # the first slot frees at 1005 + 61, not 1000 + 61
    assert clock.now == 1066.0


def test_a_project_429_makes_the_share_what_the_worker_holds():
    clock = FakeClock()
    s = share(clock, per_minute=100)
    for _ in range(5):
        request(s, clock, took=1.0)  # answered at 1001 .. 1005
    for _ in range(3):
        s.acquire()  # three under way at 1005
    s.record(refused=True)  # the project's window is full
    assert s.capacity == 7.0  # 5 answered + 2 still under way
    s.record(refused=True)  # one more of those under way
    assert s.capacity == 6.0
    s.record(refused=False)
    assert s.capacity == 6.0
    # It holds 6 and may hold 6: the next waits for the first slot, at 1001 + 61.
    assert s.acquire() == 57.0
    assert clock.now == 1062.0


def capped_at_two(clock: FakeClock, **kwargs) -> ProjectShare:
    """A share of 2 after a project 429 at 1000, its two slots answered at 1000."""
    s = share(clock, per_minute=100, growth=0.1, **kwargs)
    for _ in range(3):
        s.acquire()
    s.record(refused=True)
    s.record(refused=False)
    s.record(refused=False)
    assert s.capacity == 2.0
    return s


def test_the_share_grows_while_it_binds_a_window_after_the_last_429():
    clock = FakeClock()
    s = capped_at_two(clock)
    assert s.acquire() == 61.0  # binds until 1061, a whole window after the 429
    s.acquire()
    s.record(refused=False)  # growth starts counting
    clock.now += 0.5
    s.record(refused=False)
    assert s.capacity == pytest.approx(2.1)  # 10% a second, for half a second
    clock.now += 5.0
    assert request(s, clock) == 0.0  # nothing waited in the last second: no growth
    assert s.capacity == pytest.approx(2.1)


def test_growth_that_ends_in_a_429_waits_twice_as_long_before_it_grows_again():
    clock = FakeClock()
    s = capped_at_two(clock)
    s.acquire()
    s.acquire()
    s.record(refused=False)
    clock.now += 0.5
    s.record(refused=False)
    assert s.capacity == pytest.approx(2.1)
    request(s, clock, refused=True)  # growth met a 429 at 1061.5: it took someone's slot
    assert s.capacity == 2.0
    assert s.acquire() == 60.5  # binds until 1122
    s.acquire()  # 1122.5
    s.record(refused=False)
    clock.now += 0.5
    s.record(refused=False)  # 61.5 s after the 429: a window's wait alone would grow it
    assert s.capacity == 2.0
    s.acquire()  # binds until 1183.5
    s.acquire()  # 1184: 122.5 s after the 429, past the doubled wait
    s.record(refused=False)
    clock.now += 0.5
    s.record(refused=False)
    assert s.capacity == pytest.approx(2.1)


def test_the_share_never_exceeds_the_quota_nor_falls_below_one():
    clock = FakeClock()
    s = share(clock, per_minute=2, growth=10.0)
    request(s, clock, refused=True)  # nothing else held: still one request at a time
    assert s.capacity == 1.0
    request(s, clock)
    clock.now += 60.0
    assert s.acquire() == 1.0  # binds until 1061, a window after the 429
    s.record(refused=False)
    s.capacity = 1.9
    s.acquire()
    clock.now += 0.5
    s.record(refused=False)
    assert s.capacity == 2.0


def test_budget_and_descriptors_are_checked():
    assert parse_descriptors("quota=api,tier=batch;quota=api") == (
        (("quota", "api"), ("tier", "batch")),
        (("quota", "api"),),
    )
    with pytest.raises(ValueError, match=r"e\.g\. quota=google-health-api"):
        parse_descriptors("quota")
    with pytest.raises(ValueError, match=r"e\.g\. 120000"):
        ProjectBudget(per_minute=0)
    with pytest.raises(ValueError, match="at least one descriptor"):
        ProjectBudget(envoy_address="rls:8081", envoy_descriptors=())


# -- Beam's throttler on top of the pace ---------------------------------------------------


class Draws(random.Random):
    """A random source whose draws are `values`, in order, the last one repeated."""

    def __init__(self, *values: float):
        super().__init__(0)
        self.values = list(values)

    def uniform(self, a, b):
        return self.values.pop(0) if len(self.values) > 1 else self.values[0]


def test_the_throttler_holds_back_after_project_429s_and_recovers():
    clock = FakeClock()
    throttle = fetch.ProjectThrottle(None, clock=clock, sleep=clock.sleep, rng=Draws(0.5))
    # Nothing answered yet: requests in flight do not count as refused.
    assert [throttle.acquire() for _ in range(8)] == [0.0] * 8
    for _ in range(8):
        throttle.record(refused=True)
    # All 8 refused: held back while the draw falls under (requests - 1.25 x accepted) /
    # (requests + 1), each hold counting as one more refused: 8/9, then 9/10, then 10/11.
    throttle.throttler._random = Draws(0.5, 0.5, 0.95)
    assert throttle.acquire() == 10.0
    assert clock.slept == [fetch.THROTTLER_DELAY_SECONDS] * 2
    # Answers come back: 50 requests, 40 accepted: (50 - 1.25 x 40) / 51 = 0, never held.
    for _ in range(40):
        throttle.record(refused=False)
    throttle.throttler._random = Draws(0.0)
    assert throttle.acquire() == 0.0
    assert len(clock.slept) == 2


def test_the_throttler_lets_requests_through_while_few_are_refused():
    clock = FakeClock()
    throttle = fetch.ProjectThrottle(None, clock=clock, sleep=clock.sleep, rng=Draws(0.0))
    for refused in [False] * 99 + [True]:
        throttle.acquire()
        throttle.record(refused)
    # (100 - 1.25 x 99) / 101 < 0: no request is held back, whatever the draw.
    assert throttle.acquire() == 0.0
    assert clock.slept == []


def test_the_throttle_takes_a_slot_of_the_share_and_feeds_it_the_429s():
    clock = FakeClock()
    s = share(clock, per_minute=2)
    throttle = fetch.ProjectThrottle(s, clock=clock, sleep=clock.sleep, rng=Draws(0.99))
    waits = []
    for _ in range(3):
        waits.append(throttle.acquire())
        throttle.record(refused=False)
    assert waits == [0.0, 0.0, 61.0]
    throttle.acquire()
    throttle.record(refused=True)
    assert s.capacity == 1.0  # the one answered at 1061


class Envoy:
    def __init__(self, clock: FakeClock):
        self.clock, self.asked = clock, 0

    def allow(self) -> bool:
        self.asked += 1
        self.clock.now += 2.0  # the service made it wait
        return True


def test_with_envoy_every_request_asks_the_service_and_no_share_is_kept():
    clock = FakeClock()
    envoy = Envoy(clock)
    throttle = fetch.ProjectThrottle(
        ProjectShare(1, clock=clock), envoy=envoy, clock=clock, sleep=clock.sleep, rng=Draws(0.99)
    )
    assert [throttle.acquire(), throttle.acquire()] == [2.0, 2.0]
    throttle.record(refused=True)
    assert envoy.asked == 2
    assert throttle.share.capacity == 1.0  # untouched: Envoy keeps the limit


def test_project_throttle_builds_beams_envoy_limiter_from_the_budget():
    from apache_beam.io.components.rate_limiter import EnvoyRateLimiter

    budget = ProjectBudget(
        per_minute=6000,
        envoy_address="127.0.0.1:8081",
        envoy_domain="fitbeam_test",
        envoy_descriptors=((("quota", "api"), ("tier", "batch")),),
    )
    throttle = fetch.project_throttle(budget)  # no connection until the first request
    assert isinstance(throttle.envoy, EnvoyRateLimiter)
    assert (throttle.envoy.service_address, throttle.envoy.domain) == (
        "127.0.0.1:8081",
        "fitbeam_test",
    )
    assert throttle.envoy.descriptors == [{"quota": "api", "tier": "batch"}]
    assert throttle.share is None


def test_project_throttle_shares_one_share_per_process_for_the_real_clock():
    budget = ProjectBudget(per_minute=120_000)
    assert fetch.project_throttle(budget).share is fetch.project_throttle(budget).share
    clock = FakeClock()
    own = fetch.project_throttle(budget, clock=clock, sleep=clock.sleep)
    assert own.share is not fetch.project_throttle(budget).share


# -- the runner: the project's turn, then the user's slot ----------------------------------


class Gate:
    def __init__(self, log: list, wait: float = 0.0):
        self.log, self.wait = log, wait

    def acquire(self) -> float:
        self.log.append("project")
        return self.wait

    def record(self, refused: bool) -> None:
        self.log.append(("record", refused))


class Limiter:
    def __init__(self, log: list):
        self.log = log

    def acquire(self, user_key: str) -> float:
        self.log.append(("user", user_key))
        return 0.0


class Broker:
    def access_token(self, user_key: str) -> str:
        return "token-" + user_key

    def after_unauthorized(self, user_key: str, token: str) -> None:
        raise AssertionError("no 401 here")


def test_the_runner_takes_the_projects_turn_then_the_users_slot_and_reports_each_answer():
    log: list = []
    throttled: list[float] = []
    answers = iter(
        [
            HealthApiError(429, "RATE_LIMIT_EXCEEDED", PROJECT_MESSAGE),
            HealthApiError(429, "RATE_LIMIT_EXCEEDED", USER_MESSAGE),
            "ok",
        ]
    )

    def send(token: str):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    runner = calls.CallRunner(
        broker=Broker(),
        limiter=Limiter(log),
        policy=RetryPolicy(max_attempts=3),
        sleep=lambda seconds: None,
        project=Gate(log, wait=0.25),
        on_throttled=throttled.append,
    )
    assert runner.request("user-1", send) == "ok"
    assert log == [
        "project",
        ("user", "user-1"),
        ("record", True),  # the project's 429
        "project",
        ("user", "user-1"),
        ("record", False),  # the user's 429 is the user limiter's business
        "project",
        ("user", "user-1"),
        ("record", False),
    ]
    assert throttled == [0.25, 0.25, 0.25]


# -- the keyed fetch -----------------------------------------------------------------------


def test_fetch_pages_keys_calls_by_user_and_spreads_them_per_key():
    p = beam.Pipeline()
    calls_pc = p | beam.Create([ApiCall("user-1", "list", "steps", "2026-11-01", "2026-11-02")])
    calls_pc | "Fetch" >> fetch.FetchPages(
        "http://127.0.0.1:1", "/tmp/tokens", "http://127.0.0.1:1/token", 300, RetryPolicy()
    )
    applied = {}

    class Visitor(beam.pipeline.PipelineVisitor):
        def enter_composite_transform(self, node):
            applied[node.full_label] = node.transform

        def visit_transform(self, node):
            applied[node.full_label] = node.transform

    p.visit(Visitor())
    assert isinstance(applied["Fetch/Spread"], ReshufflePerKey)
    assert {"Fetch/KeyByUser", "Fetch/DropKey", "Fetch/Call"} <= set(applied)
    call = ApiCall("user-7", "tcx", "exercise", "", "", data_point_id="x")
    assert fetch._by_user(call) == ("user-7", call)


def test_fetch_pages_refuses_a_budget_that_is_not_a_project_budget():
    with pytest.raises(ValueError, match="must be a ProjectBudget"):
        fetch.FetchPages(
            "http://127.0.0.1:1",
            "/tmp/tokens",
            "http://127.0.0.1:1/token",
            300,
            RetryPolicy(),
            project_budget=6000,
        )


# -- options -------------------------------------------------------------------------------

BASE = [
    "--token_store=/tmp/tokens",
    "--dataset=my-project:fitbit",
    "--dead_letter_root=/tmp/dl",
    "--requests_file=gs://b/requests.jsonl",
    "--bq_write_method=STREAMING_INSERTS",
]


def config(*flags: str):
    import datetime as dt

    return resolve(PipelineOptions([*BASE, *flags]), today=dt.date(2026, 11, 28))


def test_the_project_budget_defaults_to_the_apis_and_paces_by_429s():
    assert config().project_budget == ProjectBudget(
        per_minute=120_000,
        envoy_address="",
        envoy_domain="fitbeam",
        envoy_descriptors=((("quota", "google-health-api"),),),
    )


def test_an_envoy_rate_limit_service_is_taken_with_its_domain_and_descriptors():
    c = config(
        "--project_quota_per_minute=6000",
        "--envoy_rate_limit=ratelimit.fitbeam.internal:8081",
        "--envoy_rate_limit_domain=fitbeam_prod",
        "--envoy_rate_limit_descriptors=quota=api,tier=batch;quota=api",
    )
    assert c.project_budget == ProjectBudget(
        per_minute=6000,
        envoy_address="ratelimit.fitbeam.internal:8081",
        envoy_domain="fitbeam_prod",
        envoy_descriptors=((("quota", "api"), ("tier", "batch")), (("quota", "api"),)),
    )


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        (
            "--project_quota_per_minute=0",
            "--project_quota_per_minute='0': must be 1..10000000; "
            "e.g. --project_quota_per_minute=120000",
        ),
        (
            "--envoy_rate_limit=http://rls:8081",
            "--envoy_rate_limit='http://rls:8081': is not host:port (port 1..65535); "
            "e.g. --envoy_rate_limit=ratelimit.fitbeam.internal:8081",
        ),
        (
            "--envoy_rate_limit=rls:70000",
            "--envoy_rate_limit='rls:70000': is not host:port (port 1..65535); "
            "e.g. --envoy_rate_limit=ratelimit.fitbeam.internal:8081",
        ),
        (
            "--envoy_rate_limit_domain=fit beam",
            "--envoy_rate_limit_domain='fit beam': may hold letters, digits, '_', '.', '-' "
            "only; e.g. --envoy_rate_limit_domain=fitbeam",
        ),
        (
            "--envoy_rate_limit_descriptors=quota",
            "--envoy_rate_limit_descriptors='quota': are not key=value[,key=value]"
            "[;key=value...]; e.g. --envoy_rate_limit_descriptors=quota=google-health-api",
        ),
    ],
)
def test_bad_project_quota_flags_are_refused_with_an_example(flag, message):
    with pytest.raises(OptionsError) as err:
        config(flag)
    assert str(err.value) == message
