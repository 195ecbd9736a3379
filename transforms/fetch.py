"""The fetch stage: planned API calls -> their answers, or dead letters.

`FetchPages` carries calls out with `FetchFn`, whose HTTP session and client
live for the DoFn's lifetime (built in `setup`, closed in `teardown`); the
work itself is `healthapi.calls` (token broker, per-user quota, retry policy).
Calls that cannot complete become dead letters carrying the call, the last
HTTP status and reason, and the attempt count. The main fetch and the detail
fetch (one TCX per exercise) are two applications of the same composite.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import apache_beam as beam
import requests
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from healthapi import calls
from healthapi.auth import oauth
from healthapi.auth.broker import TokenBroker, broker_for, shared_broker
from healthapi.client import HealthApiClient
from healthapi.elements import ApiCall
from healthapi.quota import shared_limiter
from healthapi.retry import RetryPolicy
from transforms.dead_letters import DeadLetter, utc_now_rfc3339

NAMESPACE = "fitbeam"
NEEDS_CONSENT_PREFIX = "needs_consent_"
API_STATUS_PREFIX = "api_status_"


class FetchFn(beam.DoFn):
    """Carries out ApiCalls; dead-letters the ones that cannot complete.

    Retry policy: see `healthapi.retry` (bounded, jittered exponential backoff
    for 429/5xx/timeouts/resets/garbled bodies; one token refresh after a 401;
    other 4xx permanent). Quota: at most `quota_per_minute` calls per user per
    minute from this process.

    Args:
        api_base_url: API root.
        token_store_uri: where users' tokens and the OAuth client live.
        token_url: the OAuth token endpoint.
        quota_per_minute: per-user call budget.
        policy: retry policy.
        stage: the dead-letter stage name (`fetch`, `fetch_detail`).
        broker_factory: test seam: builds the token broker.
        sleep: waits between retries (test seam).
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
    ):
        self.api_base_url = api_base_url
        self.token_store_uri = token_store_uri
        self.token_url = token_url
        self.quota_per_minute = quota_per_minute
        self.policy = policy
        self.stage = stage
        self.broker_factory = broker_factory
        self.sleep = sleep
        self.retries = Metrics.counter(NAMESPACE, "api_retries")
        self.refreshes = Metrics.counter(NAMESPACE, "token_refreshes")
        self.latency = Metrics.distribution(NAMESPACE, f"{stage}_call_ms")

    def setup(self):
        oauth.check_transport(self.api_base_url, self.token_url)
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.client = HealthApiClient(self.session, self.api_base_url)
        broker = shared_broker(
            (self.token_store_uri, self.token_url),
            self.broker_factory or (lambda: broker_for(self.token_store_uri, self.token_url)),
        )
        broker.on_refresh = lambda user_key: self.refreshes.inc()
        self.runner = calls.CallRunner(
            broker=broker,
            limiter=shared_limiter(self.quota_per_minute),
            policy=self.policy,
            sleep=self.sleep,
            on_status=self._count_status,
            on_retry=self.retries.inc,
        )

    def _count_status(self, status: int) -> None:
        answer = status or "no_answer"
        Metrics.counter(NAMESPACE, f"api_calls_{answer}").inc()
        # By data type too: `api_status_<data type>_<status>`, e.g. api_status_steps_429.
        Metrics.counter(NAMESPACE, f"{API_STATUS_PREFIX}{self._data_type}_{answer}").inc()

    def teardown(self):
        session = getattr(self, "session", None)
        if session is not None:
            session.close()

    def process(self, call: ApiCall):
        started = time.monotonic()
        self._data_type = call.data_type  # one call at a time per DoFn instance
        try:
            page = calls.run_call(self.runner, self.client, call)
        except calls.CallFailed as failed:
            v = failed.verdict
            Metrics.counter(NAMESPACE, f"dead_letters_{self.stage}").inc()
            if v.reason == calls.NEEDS_CONSENT:
                # One counter per user: the run report lists who must consent again.
                Metrics.counter(NAMESPACE, f"{NEEDS_CONSENT_PREFIX}{call.user_key}").inc()
            yield pvalue.TaggedOutput(
                self.DEAD_LETTER,
                DeadLetter(
                    stage=self.stage,
                    original=call,
                    error_class=v.reason,
                    message=v.message[:1000],
                    timestamp=utc_now_rfc3339(),
                    http_status=v.status,
                    body=v.body,
                    attempts=failed.attempts,
                    user_key=call.user_key,
                    replayable=failed.replayable,
                ),
            )
            return
        finally:
            self.latency.update(int((time.monotonic() - started) * 1000))
        yield page


class FetchPages(beam.PTransform):
    """ApiCall -> ApiPage (`pages`), with a `dead_letter` output.

    Calls are spread over workers first (a reshuffle), so one request's many
    calls do not queue behind each other on one worker.

    Args: as `FetchFn`.

    Raises:
        ValueError: an API or token URL that is neither https nor loopback http,
            a quota that is not a positive whole number, or an unknown stage.
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
    ):
        super().__init__()
        oauth.check_transport(api_base_url, token_url)
        if not isinstance(quota_per_minute, int) or quota_per_minute < 1:
            raise ValueError(
                f"quota_per_minute={str(quota_per_minute)[:20]} must be a whole number of "
                "calls of at least 1, e.g. 300"
            )
        if stage not in self.STAGES:
            raise ValueError(f"stage {stage[:40]!r} is not one of {self.STAGES}")
        self.settings = {
            "api_base_url": api_base_url,
            "token_store_uri": token_store_uri,
            "token_url": token_url,
            "quota_per_minute": quota_per_minute,
            "policy": policy,
            "stage": stage,
            "broker_factory": broker_factory,
            "sleep": sleep,
        }

    def expand(self, calls_pc):
        return (
            calls_pc
            | "Spread" >> beam.Reshuffle()
            | "Call"
            >> beam.ParDo(FetchFn(**self.settings)).with_outputs(FetchFn.DEAD_LETTER, main="pages")
        )
