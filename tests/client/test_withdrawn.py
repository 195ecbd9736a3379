"""A participant who withdrew consent is refused before any API call, for every call kind.

The simulator's users consent into a file token store; `mark_withdrawn` then
records user-1's withdrawal as `fitbeam forget` does. Every kind of call for
user-1 (list, summary, TCX, each user-level resource) fails with the
`CONSENT_WITHDRAWN` reason, without a request to the API or the token endpoint
and without taking quota after the first, and the fetch step's dead letter is
held equal field by field. Consenting again (a save) makes the calls work.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io

import pytest
import requests
from apache_beam.pvalue import TaggedOutput

from commands import authorize
from healthapi.auth import oauth
from healthapi.auth.broker import CONSENT_RECHECK_SECONDS, ConsentWithdrawn, TokenBroker
from healthapi.auth.file_store import LocalFileTokenStore
from healthapi.calls import CONSENT_WITHDRAWN, CallFailed, CallRunner, call_pages, run_call
from healthapi.client import HealthApiClient
from healthapi.elements import STREAM_RAW, ApiCall
from healthapi.quota import UserRateLimiter
from healthapi.retry import RetryPolicy, Verdict
from healthapi.user_resources import user_calls
from localdev.demo import authorise_users
from simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.client.conftest import visit
from transforms.dead_letters import DeadLetter
from transforms.fetch import FetchFn

WHEN = "2026-12-06T11:05:00Z"
MESSAGE = (
    "user 'user-1': the participant withdrew consent on 2026-12-06T11:05:00Z; they must "
    "consent again with fitbeam authorize --user user-1"
)
REFUSED = Verdict(False, False, 0, CONSENT_WITHDRAWN, MESSAGE)

LIST = ApiCall("user-1", "list", "steps", "2026-11-20T00:00:00", "2026-11-21T00:00:00")
RAW = ApiCall(
    "user-1", "list", "heart-rate", "2026-11-20T00:00:00", "2026-11-20T06:00:00", STREAM_RAW
)
SUMMARY = ApiCall("user-1", "summary", "summary", "2026-11-20", "2026-11-22")
TCX = ApiCall("user-1", "tcx", "exercise", data_point_id="1234567890123456789")
EVERY_KIND = [LIST, RAW, SUMMARY, TCX, *user_calls("user-1")]


@pytest.fixture
def store(sim, tmp_path) -> LocalFileTokenStore:
    tokens = LocalFileTokenStore(tmp_path / "tokens")
    authorise_users(sim, ["user-1", "user-2"], tokens)
    return tokens


class Clock:
    def __init__(self):
        self.now = dt.datetime(2026, 12, 6, 11, 10, tzinfo=dt.UTC).timestamp()

    def __call__(self) -> float:
        return self.now


class CountingLimiter(UserRateLimiter):
    def __init__(self):
        super().__init__(10_000, sleep=lambda s: None)
        self.taken: list[str] = []

    def acquire(self, user_key: str) -> float:
        self.taken.append(user_key)
        return super().acquire(user_key)


def runner_for(sim, store, clock=None) -> tuple[CallRunner, CountingLimiter]:
    client = oauth.OAuthClient.for_base_url(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, sim.base_url)
    broker = TokenBroker(store, client, **({"clock": clock} if clock else {}))
    limiter = CountingLimiter()
    return CallRunner(broker, limiter, RetryPolicy(max_attempts=2), sleep=lambda s: None), limiter


def api(sim) -> HealthApiClient:
    return HealthApiClient(requests.Session(), sim.base_url)


def sent(sim) -> dict:
    """Requests the simulator received, by route (API, token endpoint, ...)."""
    return sim.stats()["requests"]


@pytest.mark.parametrize("call", EVERY_KIND, ids=lambda c: f"{c.kind}-{c.data_type}")
def test_every_call_kind_of_a_withdrawn_user_is_refused_before_any_request(sim, store, call):
    store.mark_withdrawn("user-1", WHEN)
    runner, limiter = runner_for(sim, store)
    before = sent(sim)

    with pytest.raises(CallFailed) as caught:
        list(call_pages(runner, api(sim), call))

    assert caught.value.verdict == REFUSED
    assert (caught.value.attempts, caught.value.replayable) == (1, False)
    assert isinstance(caught.value.__cause__, ConsentWithdrawn)
    assert sent(sim) == before  # no API call, no token request
    # A second call is refused before it takes any quota.
    with pytest.raises(CallFailed) as again:
        run_call(runner, api(sim), call)
    assert again.value.verdict == REFUSED
    assert limiter.taken == ["user-1"]
    assert sent(sim) == before


def test_the_fetch_step_dead_letters_it_with_exact_fields(sim, store):
    store.mark_withdrawn("user-1", WHEN)
    fn = FetchFn(
        api_base_url=sim.base_url,
        token_store_uri=str(store.root),
        token_url=sim.token_url,
        quota_per_minute=10_000,
        policy=RetryPolicy(max_attempts=2),
        sleep=lambda s: None,
        concurrent_calls=1,
    )
    fn.setup()
    try:
        outputs = [out for call in (LIST, TCX, user_calls("user-1")[0]) for out in fn.process(call)]
    finally:
        fn.teardown()

    assert all(isinstance(o, TaggedOutput) and o.tag == FetchFn.DEAD_LETTER for o in outputs)
    letters = [o.value for o in outputs]
    stamps = [letter.timestamp for letter in letters]
    assert all(s.endswith("Z") and dt.datetime.fromisoformat(s[:-1]) for s in stamps)
    assert letters == [
        DeadLetter(
            stage="fetch",
            original=call,
            error_class="CONSENT_WITHDRAWN",
            message=MESSAGE,
            timestamp=stamp,
            http_status=0,
            body="",
            attempts=1,
            user_key="user-1",
            table="",
            replayable=False,
        )
        for call, stamp in zip((LIST, TCX, user_calls("user-1")[0]), stamps, strict=True)
    ]
    assert '"error_class": "CONSENT_WITHDRAWN"' in letters[0].to_json()


def test_other_users_are_served_and_a_user_without_a_token_still_needs_consent(sim, store):
    store.mark_withdrawn("user-1", WHEN)
    runner, _ = runner_for(sim, store)

    page = run_call(runner, api(sim), dataclasses.replace(LIST, user_key="user-2"))
    assert page.points  # user-2 has steps that day

    store.delete("user-2")  # no token, no withdrawal: consent needed, replayable
    runner, _ = runner_for(sim, store)
    with pytest.raises(CallFailed) as caught:
        run_call(runner, api(sim), dataclasses.replace(LIST, user_key="user-2"))
    assert caught.value.verdict.reason == "NEEDS_CONSENT"
    assert caught.value.replayable is True


def test_consenting_again_makes_calls_work(sim, store):
    store.mark_withdrawn("user-1", WHEN)
    clock = Clock()
    runner, _ = runner_for(sim, store, clock)
    with pytest.raises(CallFailed):
        run_call(runner, api(sim), LIST)

    authorise_users(sim, ["user-1"], store)  # fitbeam authorize --user user-1
    assert store.withdrawal("user-1") is None

    # A new run's broker reads the new grant at once.
    fresh, _ = runner_for(sim, store)
    assert run_call(fresh, api(sim), LIST).points
    # A running job's broker keeps refusing until it looks at the store again.
    with pytest.raises(CallFailed) as caught:
        run_call(runner, api(sim), LIST)
    assert caught.value.verdict.reason == CONSENT_WITHDRAWN
    clock.now += CONSENT_RECHECK_SECONDS
    assert run_call(runner, api(sim), LIST).points


def test_fitbeam_authorize_says_it_clears_a_withdrawal(sim, store):
    store.mark_withdrawn("user-1", WHEN)
    out = io.StringIO()
    argv = ["--user=user-1", f"--token_store={store.root}", "--login_hint=user-1"]
    code = authorize.main([*argv, f"--api_base_url={sim.base_url}"], open_url=visit, out=out)
    assert code == 0
    assert out.getvalue().splitlines()[:2] == [
        f"stored a token for user-1 in {store.root}",
        "  consented again: the withdrawal of 2026-12-06T11:05:00Z is cleared",
    ]
    assert store.withdrawal("user-1") is None
    assert store.load("user-1")["refresh_token"]


def test_a_job_holding_a_token_when_it_is_forgotten_refuses_after_the_grant_is_revoked(sim, store):
    runner, _ = runner_for(sim, store)
    assert run_call(runner, api(sim), LIST).points  # the broker now holds user-1's token
    token = store.load("user-1")

    # fitbeam forget: revoke, then delete the token and record the withdrawal.
    assert oauth.revoke(token, sim.revoke_url) == oauth.REVOKED
    store.mark_withdrawn("user-1", WHEN)

    with pytest.raises(CallFailed) as caught:
        run_call(runner, api(sim), LIST)
    assert caught.value.verdict == Verdict(False, False, 0, CONSENT_WITHDRAWN, MESSAGE)
    assert caught.value.replayable is False
