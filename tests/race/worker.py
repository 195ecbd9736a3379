"""One worker process of the token race test (tests/race/test_token_race.py).

It does what a Dataflow worker does: builds the pipeline's two fetch DoFns
(`fetch` for list calls and `fetch_detail` for TCX exports, which share the
process's token broker), sets them up, waits at the barrier with every other
worker (holding the token of the users in `prime`, as a worker that has
been running for a while does), then runs both stages at once on two threads. What each call became,
and the broker's counts, go back through the queue.
"""

from __future__ import annotations

import threading

from apache_beam import pvalue

from healthapi.retry import RetryPolicy
from transforms.fetch import FetchFn


def work(
    index, api_base_url, token_url, store_uri, list_calls, tcx_calls, prime, barrier, out
) -> None:
    try:
        fns = {
            stage: FetchFn(
                api_base_url,
                store_uri,
                token_url,
                quota_per_minute=10_000,
                policy=RetryPolicy(max_attempts=3, base_delay_seconds=0.05),
                stage=stage,
            )
            for stage in ("fetch", "fetch_detail")
        }
        for fn in fns.values():
            fn.setup()
        for user in prime:  # hold the user's token now: it looks valid, the server says no
            fns["fetch"].runner.broker.access_token(user)
        results: list[tuple[str, str, str]] = []
        lock = threading.Lock()

        def run(stage, calls):
            for call in calls:
                for item in fns[stage].process(call):
                    if isinstance(item, pvalue.TaggedOutput):
                        outcome = f"dead letter {item.value.error_class}: {item.value.message}"
                    else:
                        outcome = "ok"
                    with lock:
                        results.append((stage, call.user_key, outcome))

        threads = [
            threading.Thread(target=run, args=("fetch", list_calls)),
            threading.Thread(target=run, args=("fetch_detail", tcx_calls)),
        ]
        barrier.wait(timeout=120)
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        broker = fns["fetch"].runner.broker
        assert broker is fns["fetch_detail"].runner.broker  # one broker per process
        out.put((index, results, dict(broker.refreshes), dict(broker.adopted), None))
    except Exception as err:  # reported to the test, which fails with it
        out.put((index, [], {}, {}, f"{type(err).__name__}: {err}"))
