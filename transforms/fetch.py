"""The fetch stage: planned API calls -> their answers, or dead letters.

`FetchPages` carries calls out with `FetchFn`, whose HTTP session and client
live for the DoFn's lifetime (built in `setup`, closed in `teardown`); the
work itself is `healthapi.calls` (token broker, per-user quota, retry policy).
Calls that cannot complete become dead letters carrying the call, the last
HTTP status and reason, and the attempt count. The main fetch and the detail
fetch (one TCX per exercise) are two applications of the same composite.

Quota: calls are keyed by user before they are spread over workers
(`ReshufflePerKey`), so all of one user's calls are fetched where that user's
key is owned, and the per-user budget (`healthapi.quota.UserRateLimiter`) is
exact without dividing it by the number of workers. The project's budget is
kept by `ProjectThrottle`, built on Beam's `apache_beam.io.components`: each
worker keeps a share found from the project's 429s (`healthapi.quota.ProjectShare`),
Beam's `AdaptiveThrottler` holds requests back when many are refused anyway
(the daily quota spent), and the time spent waiting is reported through Beam's
`ThrottlingSignaler`, so Dataflow's autoscaler does not add workers that could
only wait. With an Envoy rate-limit service (`--envoy_rate_limit`), Beam's
`EnvoyRateLimiter` keeps the exact shared limit instead of the share.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import datetime as dt
import logging
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable

import apache_beam as beam
import requests
from apache_beam import pvalue
from apache_beam.io.components.adaptive_throttler import AdaptiveThrottler, ThrottlingSignaler
from apache_beam.metrics import Metrics
from apache_beam.transforms.util import ReshufflePerKey
from apache_beam.utils.windowed_value import WindowedValue

from healthapi import calls
from healthapi.auth import oauth
from healthapi.auth.broker import TokenBroker, broker_for, shared_broker
from healthapi.client import ALL_SOURCES, SOURCE_FAMILIES, HealthApiClient
from healthapi.elements import ApiCall
from healthapi.quota import ProjectBudget, ProjectShare, shared_limiter, shared_share
from healthapi.retry import RetryPolicy
from transforms.dead_letters import DeadLetter, utc_now_rfc3339

_LOGGER = logging.getLogger(__name__)

NAMESPACE = "fitbeam"
NEEDS_CONSENT_PREFIX = "needs_consent_"
CONSENT_WITHDRAWN_PREFIX = "consent_withdrawn_"
API_STATUS_PREFIX = "api_status_"
# Beam's AdaptiveThrottler as Beam's own connectors set it up (Datastore, Firestore): two
# minutes of history in one-second buckets. At 1.25 it holds requests back only once more
# than a fifth of them are refused for the project's quota, which the share alone never
# lets happen; a spent daily quota does.
THROTTLER_WINDOW_MS = 120_000
THROTTLER_BUCKET_MS = 1_000
THROTTLER_OVERLOAD_RATIO = 1.25
THROTTLER_DELAY_SECONDS = 5.0


class _NoSignal:
    """Stands in for the Envoy limiter's own signaler: `ProjectThrottle` counts its waits."""

    def signal_throttled(self, seconds) -> None:
        pass


class OverloadThrottler(AdaptiveThrottler):
    """Beam's `AdaptiveThrottler`, counting a request when its answer comes.

    Beam's own `throttle_request` counts a request when it is asked about, before it is
    sent; with many calls in flight at once, those not answered yet would count as
    refused, and the second request of a run would be held back half the time. Here a
    request counts when it is answered (`answered`), and a request held back counts as
    refused when it is held back (`holds_back`), as the algorithm wants.

    Args:
        rng: the random source of the draws (injectable).
    """

    def __init__(self, rng: random.Random | None = None):
        super().__init__(THROTTLER_WINDOW_MS, THROTTLER_BUCKET_MS, THROTTLER_OVERLOAD_RATIO)
        if rng is not None:
            self._random = rng

    def holds_back(self, now_ms: float) -> bool:
        """Draws whether to hold the next request back; if so, it counts as refused."""
        if self._random.uniform(0, 1) < self._throttling_probability(now_ms):
            self._all_requests.add(now_ms, 1)
            return True
        return False

    def answered(self, now_ms: float, refused: bool) -> None:
        """Counts a request that was sent, and whether the project's quota refused it."""
        self._all_requests.add(now_ms, 1)
        if not refused:
            self.successful_request(now_ms)


class ProjectThrottle:
    """The project's side of the quota for one worker process (a `calls.ProjectGate`).

    Before each request: Beam's adaptive throttling (`OverloadThrottler`), which holds
    the request back `THROTTLER_DELAY_SECONDS` at a time while many requests are refused
    for the project's quota; then a slot of the worker's share (`ProjectShare`, found
    from the project's 429s) or, with an Envoy rate-limit service, a permit from Beam's
    `EnvoyRateLimiter`. Every request after `acquire` is reported by `record`.

    Args:
        share: the worker's share of the quota (ignored when `envoy` is given).
        envoy: an `EnvoyRateLimiter`, or None.
        clock: seconds, injectable (the throttler reads it in milliseconds).
        sleep: waits, injectable.
        rng: the throttler's random source, injectable.
    """

    def __init__(
        self,
        share: ProjectShare | None,
        envoy=None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ):
        self.share = share
        self.envoy = envoy
        self.clock = clock
        self.sleep = sleep
        self.throttler = OverloadThrottler(rng)
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Waits for the request's turn; returns the seconds waited."""
        started = self.clock()
        while True:
            with self._lock:
                held = self.throttler.holds_back(self.clock() * 1000)
            if not held:
                break
            _LOGGER.info(
                "holding a request back %.0f s: many were refused for the project's quota",
                THROTTLER_DELAY_SECONDS,
            )
            self.sleep(THROTTLER_DELAY_SECONDS)
        if self.envoy is not None:
            self.envoy.allow()
        elif self.share is not None:
            self.share.acquire()
        return self.clock() - started

    def record(self, refused: bool) -> None:
        """How the request after `acquire` ended: refused for the project's quota, or not."""
        with self._lock:
            self.throttler.answered(self.clock() * 1000, refused)
        if self.share is not None and self.envoy is None:
            self.share.record(refused)


def project_throttle(
    budget: ProjectBudget,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ProjectThrottle:
    """The worker's `ProjectThrottle` for `budget`: a share from the project's 429s, or Envoy.

    Args:
        budget: the project's budget.
        clock: seconds for the share and the throttler. None: the real monotonic clock,
            and the process-wide share (`shared_share`) that every fetch of the process
            uses; a clock of its own (a benchmark's) gets a share of its own.
        sleep: waits on `clock`.
    """
    if budget.envoy_address:
        # Imported here: it brings grpc, which only a deployment with Envoy needs.
        from apache_beam.io.components.rate_limiter import EnvoyRateLimiter

        envoy = EnvoyRateLimiter(
            service_address=budget.envoy_address,
            domain=budget.envoy_domain,
            descriptors=[dict(entries) for entries in budget.envoy_descriptors],
            namespace=NAMESPACE,
        )
        envoy.throttling_signaler = _NoSignal()
        return ProjectThrottle(None, envoy=envoy, clock=clock or time.monotonic, sleep=sleep)
    if clock is None:
        return ProjectThrottle(shared_share(budget.per_minute))
    share = ProjectShare(budget.per_minute, clock=clock, sleep=sleep)
    return ProjectThrottle(share, clock=clock, sleep=sleep)


@dataclasses.dataclass
class _Tally:
    """What one call did, counted in the thread that ran it and reported by the bundle's."""

    statuses: list[int] = dataclasses.field(default_factory=list)
    retries: int = 0
    millis: int = 0
    throttled_seconds: float = 0.0


# How a call's answer ends, after its pages: done, a call failure, or a defect.
_PAGE, _DONE, _FAILED, _ERROR = "page", "done", "failed", "error"


def _events(out: queue.Queue):
    """A pool thread's events for one call, until the one that ends it."""
    while True:
        event = out.get()
        yield event
        if event[0] != _PAGE:
            return


class FetchFn(beam.DoFn):
    """Carries out ApiCalls; dead-letters the ones that cannot complete.

    Retry policy: see `healthapi.retry` (bounded, jittered exponential backoff
    for 429/5xx/timeouts/resets/garbled bodies; one token refresh after a 401;
    other 4xx permanent). Quota: at most `quota_per_minute` calls per user per
    minute from this process (`FetchPages` brings all of a user's calls to one
    place), and the project's budget kept by a `ProjectThrottle`; the seconds
    calls waited for the project are reported through Beam's
    `ThrottlingSignaler`.

    With `concurrent_calls` above 1, calls run on that many threads of a pool
    the DoFn owns (HTTP waits release the GIL), so one user's calls overlap
    within the user's quota and many users' calls run side by side, on the
    DirectRunner too. Each answer is emitted in the window and with the
    timestamp of the call it answers; those still running when the bundle ends
    are emitted by `finish_bundle`, so a bundle commits only with all its
    calls answered. Counters are kept by the bundle's thread (Beam's metrics
    belong to it), from what each call tallied.

    Args:
        api_base_url: API root.
        token_store_uri: where users' tokens and the OAuth client live.
        token_url: the OAuth token endpoint.
        quota_per_minute: per-user call budget.
        policy: retry policy.
        stage: the dead-letter stage name (`fetch`, `fetch_detail`).
        broker_factory: test seam: builds the token broker.
        sleep: waits between retries (test seam).
        concurrent_calls: calls in flight at once (1: one at a time, in `process`).
        project_budget: the project's budget (default: the API's, shared by its 429s).
        source_family: the data source family list, reconcile and dailyRollUp read
            (`healthapi.client.SOURCE_FAMILIES`; not sent on sleep's list).
        clock: the UTC time each page is stamped as answered at (`ApiPage.answered_at`;
            test seam, default: the wall clock).
    """

    DEAD_LETTER = "dead_letter"

    def __init__(
        self,
        api_base_url: str,
        token_store_uri: str,
        token_url: str,
        quota_per_minute: int,
        policy: RetryPolicy,
        stage: str = "fetch",
        broker_factory: Callable[[], TokenBroker] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        concurrent_calls: int = 1,
        project_budget: ProjectBudget | None = None,
        source_family: str = ALL_SOURCES,
        clock: Callable[[], dt.datetime] | None = None,
    ):
        self.clock = clock
        self.api_base_url = api_base_url
        self.token_store_uri = token_store_uri
        self.token_url = token_url
        self.quota_per_minute = quota_per_minute
        self.policy = policy
        self.stage = stage
        self.broker_factory = broker_factory
        self.sleep = sleep
        self.concurrent_calls = concurrent_calls
        self.project_budget = project_budget or ProjectBudget()
        self.source_family = source_family
        self.retries = Metrics.counter(NAMESPACE, "api_retries")
        self.refreshes = Metrics.counter(NAMESPACE, "token_refreshes")
        self.latency = Metrics.distribution(NAMESPACE, f"{stage}_call_ms")

    def setup(self):
        oauth.check_transport(self.api_base_url, self.token_url)
        self.session = requests.Session()
        pool = max(16, self.concurrent_calls)
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.client = HealthApiClient(
            self.session, self.api_base_url, source_family=self.source_family
        )
        broker = shared_broker(
            (self.token_store_uri, self.token_url),
            self.broker_factory or (lambda: broker_for(self.token_store_uri, self.token_url)),
        )
        # Refreshes happen in whichever thread needed the token: counted here, reported
        # by the bundle's thread.
        self._refresh_lock = threading.Lock()
        self._refreshed = 0
        broker.on_refresh = self._count_refresh
        self.runner = calls.CallRunner(
            broker=broker,
            limiter=shared_limiter(self.quota_per_minute),
            policy=self.policy,
            sleep=self.sleep,
            project=project_throttle(self.project_budget),
        )
        # Beam's metrics belong to the bundle's thread: throttled time is tallied per call
        # and signalled there, in whole seconds, the fraction carried over.
        self.signaler = ThrottlingSignaler(NAMESPACE)
        self._throttled_carry = 0.0
        self.pool = (
            concurrent.futures.ThreadPoolExecutor(
                self.concurrent_calls, thread_name_prefix=f"fitbeam-{self.stage}"
            )
            if self.concurrent_calls > 1
            else None
        )
        self.pending: collections.deque = collections.deque()

    def _count_refresh(self, user_key: str) -> None:
        with self._refresh_lock:
            self._refreshed += 1

    def teardown(self):
        pool = getattr(self, "pool", None)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        session = getattr(self, "session", None)
        if session is not None:
            session.close()

    def start_bundle(self):
        self.pending = collections.deque()

    def _answer(self, call: ApiCall, load_key: str, tally: _Tally):
        """Runs one call: `(_PAGE, page)` for each page as it comes, then how it ended."""

        def count_retry() -> None:
            tally.retries += 1

        def count_throttled(seconds: float) -> None:
            tally.throttled_seconds += seconds

        runner = dataclasses.replace(
            self.runner,
            on_status=tally.statuses.append,
            on_retry=count_retry,
            on_throttled=count_throttled,
        )
        started = time.monotonic()
        try:
            for page in calls.call_pages(runner, self.client, call, load_key):
                answered = utc_now_rfc3339(self.clock() if self.clock else None)
                yield _PAGE, dataclasses.replace(page, answered_at=answered)
            end: tuple = (_DONE, None)
        except calls.CallFailed as failed:
            end = (_FAILED, failed)
        except Exception as err:  # not a call failure: a defect, raised in the bundle
            end = (_ERROR, err)
        tally.millis = int((time.monotonic() - started) * 1000)
        yield end

    def _answer_into(self, call: ApiCall, load_key: str, tally: _Tally, out: queue.Queue):
        """`_answer` in a pool thread. `out` holds two pages at most, so a call whose pages
        are not read yet waits instead of piling them up."""
        for event in self._answer(call, load_key, tally):
            out.put(event)

    def process(
        self, call: ApiCall, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam
    ):
        load_key = uuid.uuid4().hex[:16]
        tally = _Tally()
        if self.pool is None:  # one call at a time: outputs go in the call's own window
            events = self._answer(call, load_key, tally)
            yield from self._outputs(call, tally, events, window=None, timestamp=None)
            return
        out: queue.Queue = queue.Queue(maxsize=2)
        self.pool.submit(self._answer_into, call, load_key, tally, out)
        self.pending.append((call, tally, _events(out), window, timestamp))
        # Reading the oldest call's pages while the others fetch theirs: the pool's
        # threads stay busy, and each call holds two pages at most meanwhile.
        while len(self.pending) > self.concurrent_calls:
            yield from self._outputs(*self.pending.popleft())

    def finish_bundle(self):
        while self.pending:
            yield from self._outputs(*self.pending.popleft())

    def _outputs(self, call, tally: _Tally, events, window, timestamp):
        """The call's pages as they come, then its dead letter if it failed; its counters."""

        def placed(value):
            return value if window is None else WindowedValue(value, timestamp, (window,))

        for what, value in events:
            if what != _PAGE:
                break
            yield placed(value)
        for status in tally.statuses:
            answer = status or "no_answer"
            Metrics.counter(NAMESPACE, f"api_calls_{answer}").inc()
            # By data type too: `api_status_<data type>_<status>`, e.g. api_status_steps_429.
            Metrics.counter(NAMESPACE, f"{API_STATUS_PREFIX}{call.data_type}_{answer}").inc()
        if tally.retries:
            self.retries.inc(tally.retries)
        with self._refresh_lock:
            refreshed, self._refreshed = self._refreshed, 0
        if refreshed:
            self.refreshes.inc(refreshed)
        self.latency.update(tally.millis)
        if tally.throttled_seconds:
            carry = self._throttled_carry + tally.throttled_seconds
            whole = int(carry)
            self._throttled_carry = carry - whole
            if whole:
                self.signaler.signal_throttled(whole)
        if what == _ERROR:
            raise value
        if what == _DONE:
            return
        v = value.verdict
        Metrics.counter(NAMESPACE, f"dead_letters_{self.stage}").inc()
        if v.reason == calls.NEEDS_CONSENT:
            # One counter per user: the run report lists who must consent again.
            Metrics.counter(NAMESPACE, f"{NEEDS_CONSENT_PREFIX}{call.user_key}").inc()
        elif v.reason == calls.CONSENT_WITHDRAWN:
            # The run report lists who is refused for a withdrawal (fitbeam forget).
            Metrics.counter(NAMESPACE, f"{CONSENT_WITHDRAWN_PREFIX}{call.user_key}").inc()
        letter = DeadLetter(
            stage=self.stage,
            original=call,
            error_class=v.reason,
            message=v.message[:1000],
            timestamp=utc_now_rfc3339(),
            http_status=v.status,
            body=v.body,
            attempts=value.attempts,
            user_key=call.user_key,
            replayable=value.replayable,
        )
        yield pvalue.TaggedOutput(self.DEAD_LETTER, placed(letter))


class FetchPages(beam.PTransform):
    """ApiCall -> ApiPage (`pages`), with a `dead_letter` output.

    Calls are keyed by user and spread over workers by key first (`KeyByUser`,
    `Spread`: a `ReshufflePerKey`, in batch and in streaming alike), so many
    users' calls run side by side while each user's calls are fetched in one
    place, the process that owns the user's key: the per-user budget is kept
    there, whole, and no worker count divides it.

    Args: as `FetchFn`.

    Raises:
        ValueError: an API or token URL that is neither https nor loopback http,
            a quota that is not a positive whole number, an unknown stage or an
            unknown source family.
    """

    STAGES = ("fetch", "fetch_detail")

    def __init__(
        self,
        api_base_url: str,
        token_store_uri: str,
        token_url: str,
        quota_per_minute: int,
        policy: RetryPolicy,
        stage: str = "fetch",
        broker_factory: Callable[[], TokenBroker] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        concurrent_calls: int = 8,
        project_budget: ProjectBudget | None = None,
        source_family: str = ALL_SOURCES,
        clock: Callable[[], dt.datetime] | None = None,
    ):
        super().__init__()
        oauth.check_transport(api_base_url, token_url)
        if not isinstance(concurrent_calls, int) or not 1 <= concurrent_calls <= 64:
            raise ValueError(
                f"concurrent_calls={str(concurrent_calls)[:20]} must be a whole number of "
                "calls from 1 to 64, e.g. 8"
            )
        if not isinstance(quota_per_minute, int) or quota_per_minute < 1:
            raise ValueError(
                f"quota_per_minute={str(quota_per_minute)[:20]} must be a whole number of "
                "calls of at least 1, e.g. 300"
            )
        if stage not in self.STAGES:
            raise ValueError(f"stage {stage[:40]!r} is not one of {self.STAGES}")
        if project_budget is not None and not isinstance(project_budget, ProjectBudget):
            raise ValueError(
                f"project_budget={str(project_budget)[:40]} must be a ProjectBudget, e.g. "
                "ProjectBudget(per_minute=120000)"
            )
        if source_family not in SOURCE_FAMILIES:
            raise ValueError(
                f"source_family={str(source_family)[:40]!r} is not one of "
                f"{', '.join(SOURCE_FAMILIES)}, e.g. 'google-wearables'"
            )
        self.settings = {
            "api_base_url": api_base_url,
            "token_store_uri": token_store_uri,
            "token_url": token_url,
            "quota_per_minute": quota_per_minute,
            "policy": policy,
            "stage": stage,
            "broker_factory": broker_factory,
            "sleep": sleep,
            "concurrent_calls": concurrent_calls,
            "project_budget": project_budget,
            "source_family": source_family,
            "clock": clock,
        }

    def expand(self, calls_pc):
        return (
            calls_pc
            | "KeyByUser" >> beam.Map(_by_user).with_output_types(tuple[str, ApiCall])
            | "Spread" >> ReshufflePerKey()
            | "DropKey" >> beam.Values().with_output_types(ApiCall)
            | "Call"
            >> beam.ParDo(FetchFn(**self.settings)).with_outputs(FetchFn.DEAD_LETTER, main="pages")
        )


def _by_user(call: ApiCall) -> tuple[str, ApiCall]:
    """The call keyed by its user: the key decides which worker fetches it."""
    return call.user_key, call
