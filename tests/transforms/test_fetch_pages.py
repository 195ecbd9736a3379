"""FetchPages against the simulator: pages equal the ground truth, failures are dead letters.

Tokens are the users' own, consented through the simulator's OAuth flow into a
file token store; the composite builds its broker from that store, as a run
does. What a failed call becomes is compared field by field (stage, error
class, HTTP status, body, attempts, user, replayable); only the wall-clock
stamp is masked (see `wall_stamped`). The retry and refresh rules themselves
are proven on `healthapi.calls` in tests/client/test_calls.py.
"""

from __future__ import annotations

import datetime as dt
import json
import threading

import apache_beam as beam
import pytest
import requests
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from healthapi.auth.file_store import LocalFileTokenStore
from healthapi.auth.store import token_store_from_uri
from healthapi.elements import STREAM_RAW, STREAM_RECONCILED, ApiCall, ApiPage
from healthapi.retry import RetryPolicy
from localdev.demo import authorise_users
from simulator import Simulator
from tests.fakes.secret_manager import FakeSecretManager
from tests.transforms.conftest import (
    USERS,
    WALL,
    counter,
    no_wait,
    sim_config,
    token_url,
    wall_stamped,
)
from transforms.dead_letters import DeadLetter
from transforms.fetch import FetchPages

D = dt.date.fromisoformat
# A missing data point, as the live API words it: an ErrorInfo with RESOURCE_NOT_FOUND.
NOT_FOUND_BODY = (
    '{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND",'
    '"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":'
    '"RESOURCE_NOT_FOUND","domain":"health.googleapis.com","metadata":{"service":'
    '"health.googleapis.com","method":'
    '"google.devicesandservices.health.v4.DataPointsService.ExportExerciseTcx"}}]}}'
)
UNAVAILABLE_BODY = (
    '{"error":{"code":503,"message":"The service is currently unavailable.",'
    '"status":"UNAVAILABLE"}}'
)


def fetch(
    sim: Simulator,
    store: LocalFileTokenStore | str,
    stage="fetch",
    attempts=3,
    concurrent_calls=8,
):
    """FetchPages of the simulator, with the token store (or its URI) given."""
    return FetchPages(
        api_base_url=sim.base_url,
        token_store_uri=store if isinstance(store, str) else str(store.root),
        token_url=token_url(sim),
        quota_per_minute=10_000,
        policy=RetryPolicy(max_attempts=attempts),
        stage=stage,
        sleep=no_wait,
        concurrent_calls=concurrent_calls,
    )


def by_points(page: ApiPage) -> tuple:
    """A page as its call and its points in a canonical order (the API sorts its own way)."""
    points = sorted(json.dumps(p, sort_keys=True) for p in page.points)
    return page.call, tuple(points), page.tcx, page.rollups


def truth_page(sim: Simulator, call: ApiCall, first: dt.date, last: dt.date | None = None):
    """The page a list call over civil days first..last must return: their ground truth."""
    last = last or first
    truth = sim.ground_truth(
        call.user_key, call.data_type, first, last, reconciled=call.stream == STREAM_RECONCILED
    )
    assert truth, f"{call.user_key} has no {call.data_type} in {first}..{last}: the test needs some"
    return ApiPage(call, points=tuple(t["dataPoint"] for t in truth))


def failed(call: ApiCall, reason: str, message: str, status: int, **fields) -> DeadLetter:
    return DeadLetter(
        stage=fields.pop("stage", "fetch"),
        original=call,
        error_class=reason,
        message=message,
        timestamp=WALL,
        http_status=status,
        user_key=call.user_key,
        **fields,
    )


def test_pages_are_the_ground_truth_and_each_failed_call_a_dead_letter(sim, tokens):
    steps = ApiCall("user-1", "list", "steps", "2026-11-20", "2026-11-21")
    sleep = ApiCall("user-2", "list", "sleep", "2026-11-20", "2026-11-21", STREAM_RAW)
    revoked = ApiCall("user-3", "list", "steps", "2026-11-20", "2026-11-21")
    no_token = ApiCall("user-9", "list", "steps", "2026-11-20", "2026-11-21")
    unknown_exercise = ApiCall("user-1", "tcx", "exercise", data_point_id="1234567890123456789")
    expected_pages = [
        truth_page(sim, steps, D("2026-11-20")),
        truth_page(sim, sleep, D("2026-11-20")),
    ]
    # user-3 withdraws consent: the API answers 401 and the refresh invalid_grant.
    sim.auth.revoke(tokens.load("user-3")["refresh_token"])

    p = test_pipeline.TestPipeline()
    out = p | beam.Create([steps, revoked, sleep, no_token, unknown_exercise]) | fetch(sim, tokens)
    assert_that(
        out.pages | beam.Map(by_points),
        equal_to([by_points(page) for page in expected_pages]),
        label="pages",
    )
    assert_that(
        out.dead_letter | beam.Map(wall_stamped),
        equal_to(
            [
                failed(
                    revoked,
                    "NEEDS_CONSENT",
                    "user 'user-3' must consent again: invalid_grant "
                    "(Token has been expired or revoked.)",
                    401,
                ),
                failed(
                    no_token,
                    "NEEDS_CONSENT",
                    "user 'user-9' must consent again: no token in the token store",
                    0,
                ),
                # A 404 cannot pass later: permanent, not replayable.
                failed(
                    unknown_exercise,
                    "RESOURCE_NOT_FOUND",
                    "Requested entity was not found.",
                    404,
                    body=NOT_FOUND_BODY,
                    replayable=False,
                ),
            ]
        ),
        label="dead letters",
    )
    result = p.run()
    result.wait_until_finish()

    # The run report lists who must consent again from these counters.
    assert {u: counter(result, f"needs_consent_{u}") for u in (*USERS, "user-9")} == {
        "user-1": 0,
        "user-2": 0,
        "user-3": 1,
        "user-9": 1,
    }
    assert counter(result, "dead_letters_fetch") == 3
    assert counter(result, "api_status_steps_200") == 1
    assert counter(result, "api_status_steps_401") == 1
    assert counter(result, "api_status_exercise_404") == 1
    assert sim.stats()["invalidGrants"] == 1


def test_a_user_without_a_health_profile_is_a_permanent_dead_letter(tmp_path):
    with Simulator(sim_config(unlinked_users=frozenset({"user-2"}))) as sim:
        store = LocalFileTokenStore(tmp_path / "tokens")
        authorise_users(sim, ["user-2"], store)
        call = ApiCall("user-2", "list", "weight", "2026-11-01", "2026-11-28")
        with test_pipeline.TestPipeline() as p:
            out = p | beam.Create([call]) | fetch(sim, store)
            assert_that(out.pages, equal_to([]), label="no pages")
            assert_that(
                out.dead_letter | beam.Map(wall_stamped),
                equal_to(
                    [
                        failed(
                            call,
                            "ACCOUNT_NOT_LINKED",
                            "The user's Google account is not linked to a Google Health profile.",
                            400,
                            body=(
                                '{"error":{"code":400,"message":"The user\'s Google account is '
                                'not linked to a Google Health profile.","status":'
                                '"FAILED_PRECONDITION","details":[{"@type":'
                                '"type.googleapis.com/google.rpc.ErrorInfo","reason":'
                                '"ACCOUNT_NOT_LINKED","domain":"health.googleapis.com",'
                                '"metadata":{"service":"health.googleapis.com","method":'
                                '"google.devicesandservices.health.v4.DataPointsService.'
                                'ReconcileDataPoints"}}]}}'
                            ),
                            replayable=False,
                        )
                    ]
                ),
                label="dead letters",
            )


def test_a_detail_call_that_keeps_failing_is_a_replayable_dead_letter_after_its_attempts(
    tmp_path,
):
    with Simulator(sim_config(faults="503=1")) as sim:
        store = LocalFileTokenStore(tmp_path / "tokens")
        authorise_users(sim, ["user-1"], store)
        call = ApiCall("user-1", "tcx", "exercise", data_point_id="1234567890123456789")
        p = test_pipeline.TestPipeline()
        out = p | beam.Create([call]) | fetch(sim, store, stage="fetch_detail", attempts=3)
        assert_that(out.pages, equal_to([]), label="no pages")
        assert_that(
            out.dead_letter | beam.Map(wall_stamped),
            equal_to(
                [
                    failed(
                        call,
                        "UNAVAILABLE",
                        "The service is currently unavailable.",
                        503,
                        stage="fetch_detail",
                        body=UNAVAILABLE_BODY,
                        attempts=3,
                    )
                ]
            ),
            label="dead letters",
        )
        result = p.run()
        result.wait_until_finish()
        injected = sim.stats()["faultsInjected"]
    assert injected == {"503": 3}
    assert counter(result, "api_retries") == 2
    assert counter(result, "dead_letters_fetch_detail") == 1


def test_tokens_in_secret_manager_are_refreshed_and_stored_there_by_the_fetch(sim):
    call = ApiCall("user-1", "list", "weight", "2026-11-01", "2026-11-28")
    expected = truth_page(sim, call, D("2026-11-01"), D("2026-11-27"))
    with FakeSecretManager() as secrets:
        uri = f"secretmanager://fitbeam-test/fitbeam?endpoint={secrets.endpoint}"
        store = token_store_from_uri(uri)
        authorise_users(sim, ["user-1"], store)
        old = store.load("user-1")["access_token"]
        sim.auth.expire_all_access_tokens()  # the API answers 401 first: the fetch refreshes

        with test_pipeline.TestPipeline() as p:
            out = p | beam.Create([call]) | fetch(sim, uri)
            assert_that(
                out.pages | beam.Map(by_points), equal_to([by_points(expected)]), label="pages"
            )
            assert_that(out.dead_letter, equal_to([]), label="no dead letters")

        assert store.load("user-1")["access_token"] != old
        assert secrets.unhandled == []
    assert sim.stats()["refreshesByUser"] == {"user-1": 1}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"quota_per_minute": 0},
            "quota_per_minute=0 must be a whole number of calls of at least 1, e.g. 300",
        ),
        ({"stage": "rows"}, "stage 'rows' is not one of ('fetch', 'fetch_detail')"),
    ],
    ids=["no quota", "unknown stage"],
)
def test_bad_settings_are_refused_when_the_graph_is_built(overrides, message):
    settings = {
        "api_base_url": "http://127.0.0.1:8180",
        "token_store_uri": "/tmp/tokens",
        "token_url": "http://127.0.0.1:8180/token",
        "quota_per_minute": 300,
        "policy": RetryPolicy(),
        **overrides,
    }
    with pytest.raises(ValueError) as caught:
        FetchPages(**settings)
    assert str(caught.value) == message


def test_plain_http_to_a_remote_host_is_refused_when_the_graph_is_built():
    with pytest.raises(ValueError, match=r"http://health\.example\.com"):
        FetchPages(
            api_base_url="http://health.example.com",
            token_store_uri="/tmp/tokens",
            token_url="https://oauth2.googleapis.com/token",
            quota_per_minute=300,
            policy=RetryPolicy(),
        )


# -- calls in flight at once ---------------------------------------------------------------


def _fetch_fn(sim: Simulator, tokens: LocalFileTokenStore, concurrent_calls: int):
    from transforms.fetch import FetchFn

    fn = FetchFn(
        api_base_url=sim.base_url,
        token_store_uri=str(tokens.root),
        token_url=token_url(sim),
        quota_per_minute=10_000,
        policy=RetryPolicy(max_attempts=1),
        sleep=no_wait,
        concurrent_calls=concurrent_calls,
    )
    fn.setup()
    return fn


def test_calls_run_side_by_side_and_each_answer_keeps_its_calls_window(sim, tokens):
    from apache_beam.transforms.window import IntervalWindow
    from apache_beam.utils.windowed_value import WindowedValue

    days = ("2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20")
    calls = [
        ApiCall(f"user-{i % 2 + 1}", "list", "steps", d, d[:-2] + f"{int(d[-2:]) + 1}")
        for i, d in enumerate(days)
    ]
    # Each list request waits until all four are in flight: one at a time, the first
    # would wait alone until the barrier gives up and its call failed.
    fn = _fetch_fn(sim, tokens, concurrent_calls=4)
    barrier = threading.Barrier(len(calls), timeout=30)
    list_page = fn.client.list_page

    def together(*args, **kwargs):
        barrier.wait()
        return list_page(*args, **kwargs)

    fn.client.list_page = together
    fn.start_bundle()
    windows = [IntervalWindow(i, i + 1) for i in range(len(calls))]
    out = []
    for i, call in enumerate(calls):
        out += fn.process(call, window=windows[i], timestamp=i)
    out += fn.finish_bundle()
    fn.teardown()

    assert all(isinstance(o, WindowedValue) for o in out)
    placed = sorted((o.windows[0].start, o.timestamp, o.value.call) for o in out)
    assert placed == [(windows[i].start, i, call) for i, call in enumerate(calls)]
    sequential = _fetch_fn(sim, tokens, concurrent_calls=1)
    assert [by_points(o.value) for o in sorted(out, key=lambda o: o.timestamp)] == [
        by_points(page) for call in calls for page in sequential.process(call)
    ]


def test_many_calls_in_flight_through_the_composite_give_the_same_pages(sim, tokens):
    calls = [
        ApiCall(user, "list", data_type, f"2026-11-{day}", f"2026-11-{day + 1}")
        for user in ("user-1", "user-2")
        for data_type in ("steps", "floors")
        for day in range(10, 14)
    ]
    expected = [by_points(truth_page(sim, call, D(call.start))) for call in calls]
    p = test_pipeline.TestPipeline()
    one_at_a_time = (
        p
        | "Calls" >> beam.Create(calls)
        | "OneAtATime" >> fetch(sim, tokens, attempts=1, concurrent_calls=1)
    )
    eight = (
        p
        | "SameCalls" >> beam.Create(calls)
        | "EightAtOnce" >> fetch(sim, tokens, attempts=1, concurrent_calls=8)
    )
    assert_that(
        one_at_a_time.pages | "Points1" >> beam.Map(by_points), equal_to(expected), label="1"
    )
    assert_that(eight.pages | "Points8" >> beam.Map(by_points), equal_to(expected), label="8")
    assert_that(eight.dead_letter, equal_to([]), label="no letters")
    p.run().wait_until_finish()


def test_an_answer_of_several_pages_comes_page_by_page_under_one_load_key(sim, tokens):
    call = ApiCall("user-1", "list", "heart-rate", "2026-11-20", "2026-11-21", STREAM_RAW)
    truth = truth_page(sim, call, D("2026-11-20"))
    fn = _fetch_fn(sim, tokens, concurrent_calls=1)
    pages = list(fn.process(call))
    fn.teardown()
    page_size = 10_000  # the discovery document's largest page for heart rate
    assert len(truth.points) > page_size  # else the test proves nothing
    assert [(p.part, p.final, len(p.points) <= page_size) for p in pages] == [
        (i, i == len(pages) - 1, True) for i in range(len(pages))
    ]
    assert len(pages) >= 2 and len({p.load_key for p in pages}) == 1 and pages[0].load_key
    assert by_points(ApiPage(call, points=tuple(x for p in pages for x in p.points))) == by_points(
        truth
    )


# -- the data source family --------------------------------------------------------------


def test_the_fetch_reads_the_source_family_it_is_given(sim, tokens):
    """Raw steps from the wearables only (as the simulator answers the same request sent by
    hand), and sleep's raw list, which takes no family."""
    steps = ApiCall("user-1", "list", "steps", "2026-11-20", "2026-11-21", STREAM_RAW)
    sleep = ApiCall("user-2", "list", "sleep", "2026-11-20", "2026-11-21", STREAM_RAW)
    every_step = truth_page(sim, steps, D("2026-11-20"))
    answer = requests.get(
        f"{sim.base_url}/v4/users/me/dataTypes/steps/dataPoints",
        params={
            "filter": 'steps.interval.civil_start_time >= "2026-11-20" AND '
            'steps.interval.civil_start_time < "2026-11-21"',
            "pageSize": 10000,
            "dataSourceFamily": "users/me/dataSourceFamilies/google-wearables",
        },
        headers={"Authorization": f"Bearer {tokens.load('user-1')['access_token']}"},
        timeout=10,
    ).json()
    worn = tuple(answer["dataPoints"])
    assert "nextPageToken" not in answer
    assert 0 < len(worn) < len(every_step.points), "the day needs steps of both kinds"

    p = test_pipeline.TestPipeline()
    settings = {**fetch(sim, tokens).settings, "source_family": "google-wearables"}
    out = p | beam.Create([steps, sleep]) | FetchPages(**settings)
    assert_that(
        out.pages | beam.Map(by_points),
        equal_to(
            [
                by_points(ApiPage(steps, points=worn)),
                by_points(truth_page(sim, sleep, D("2026-11-20"))),
            ]
        ),
        label="pages",
    )
    assert_that(out.dead_letter, equal_to([]), label="dead letters")
    p.run().wait_until_finish()


def test_an_unknown_source_family_is_refused_when_the_graph_is_built(sim, tokens):
    settings = {**fetch(sim, tokens).settings, "source_family": "self-sources"}
    with pytest.raises(ValueError) as caught:
        FetchPages(**settings)
    assert str(caught.value) == (
        "source_family='self-sources' is not one of all-sources, google-wearables, "
        "google-sources, e.g. 'google-wearables'"
    )
