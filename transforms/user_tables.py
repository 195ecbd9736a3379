"""The user-level branch: paired devices, profile, settings and IRN profile, once per user.

`PlanUserCalls` turns the run's requests into one `user` call per resource of
`healthapi.user_resources` for each user: once per user per run in batch (the
users of all requests, distinct), once per user per request message when
streaming. The calls are fetched by the same fetch composite as data points
(`transforms.fetch.FetchPages`: token broker, per-user quota, retry policy,
dead letters), and `UserRows` turns their answers into rows
(`rows.user_level`): a row per paired device, one per profile, settings and IRN
profile. Loading again appends versions of the same records (see the tables'
record_key), so a re-run or a replay is idempotent like the rest.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from healthapi.elements import ApiCall, ApiPage, FetchRequest
from healthapi.nesting import MAX_NESTING, nested_deeper_than
from healthapi.user_resources import RESOURCES, user_calls
from pipeline import progress
from rows import user_level
from rows.datapoints import RowContext
from transforms.dead_letters import DeadLetter, utc_now_rfc3339
from transforms.rows import answered_time, check_run_stamp

NAMESPACE = "fitbeam"
_TOO_DEEP = f"[not kept: nested more than {MAX_NESTING} levels deep]"


def _planned(user_key: str) -> list[ApiCall]:
    """A user's user-level calls, counted for the run report and the progress line."""
    calls = user_calls(user_key)
    Metrics.counter(NAMESPACE, "calls_planned").inc(len(calls))
    progress.TALLY.add(planned=len(calls))
    return calls


class _OncePerMessageFn(beam.DoFn):
    """FetchRequest -> its user key, once for the requests of one message.

    A message's requests (one per data type) come out of one call of the parse step,
    which this step is fused with, so they reach one bundle together: they share
    user, dates, stream and the message's timestamp, and only the first is kept. A
    message read twice loads the user's resources twice, which appends versions of
    the same records.
    """

    def start_bundle(self):
        self.seen: set[tuple] = set()

    def process(self, request: FetchRequest, timestamp=beam.DoFn.TimestampParam):
        key = (request.user_key, request.start_date, request.end_date, request.stream, timestamp)
        if key not in self.seen:
            self.seen.add(key)
            yield request.user_key


class PlanUserCalls(beam.PTransform):
    """FetchRequest -> user-level ApiCalls: once per user (batch) or per message (streaming).

    Args:
        streaming: whether requests come from Pub/Sub, where the run never ends.
    """

    def __init__(self, streaming: bool = False):
        super().__init__()
        if not isinstance(streaming, bool):
            raise ValueError(f"streaming={str(streaming)[:20]} must be True or False")
        self.streaming = streaming

    def expand(self, requests):
        if self.streaming:
            users = requests | "OncePerMessage" >> beam.ParDo(_OncePerMessageFn())
        else:
            users = (
                requests
                | "KeyByUser"
                >> beam.Map(lambda r: (r.user_key, None)).with_input_types(FetchRequest)
                | "OncePerUser" >> beam.GroupByKey()
                | "UserKeys" >> beam.Keys()
            )
        return users | "Calls" >> beam.FlatMap(_planned).with_output_types(ApiCall)


class _UserRowsFn(beam.DoFn):
    """ApiPage of a user call -> (table, row) pairs; malformed items become dead letters.

    Args:
        run_id: the run's id, stamped on every row.
        ingest_time: the run's start (UTC), stamped on every row.
        clock: the UTC time a load is recorded at (test seam).
    """

    DEAD_LETTER = "dead_letter"

    def __init__(
        self,
        run_id: str,
        ingest_time: dt.datetime,
        clock: Callable[[], dt.datetime] | None = None,
    ):
        self.run_id = run_id
        self.ingest_time = ingest_time
        self.clock = clock
        self.answered = Metrics.counter(NAMESPACE, "calls_answered")

    def process(self, page: ApiPage):
        call = page.call
        key = page.load_key or uuid.uuid4().hex[:16]
        ctx = RowContext(call.user_key, self.run_id, self.ingest_time, f"{self.run_id}-{key}")
        # The time the API answered: a rebuild of the archived answer has the same, so its
        # snapshot takes the original's place and not a newer one's (`schemas.views`).
        loaded_at = answered_time(page.answered_at) or (
            self.clock() if self.clock else dt.datetime.now(dt.UTC)
        )
        for item in page.points:
            try:
                yield user_level.user_row(call.data_type, item, ctx, loaded_at)
            # RecursionError: an error message showing a value nested too deeply.
            except (ValueError, OverflowError, RecursionError) as err:
                yield pvalue.TaggedOutput(self.DEAD_LETTER, self._dead(page, item, err, loaded_at))
        self.answered.inc()
        progress.TALLY.add(done=1)

    def _dead(self, page: ApiPage, item: object, err: Exception, now: dt.datetime) -> DeadLetter:
        Metrics.counter(NAMESPACE, "dead_letters_rows").inc()
        kept = _TOO_DEEP if nested_deeper_than(item) else item
        return DeadLetter(
            stage="rows",
            original={"call": page.call.to_json(), "item": kept},
            error_class=type(err).__name__,
            message=str(err)[:1000],
            timestamp=utc_now_rfc3339(now),
            user_key=page.call.user_key,
            replayable=False,
        )


class UserRows(beam.PTransform):
    """ApiPage of user calls -> (table, row) (`rows`), with a `dead_letter` output.

    Args:
        run_id: the run's id, stamped on every row.
        ingest_time: the run's start (UTC), stamped on every row.
        clock: the UTC time a load is recorded at (test seam).

    Raises:
        ValueError: an empty run id or an ingest time that is not UTC.
    """

    def __init__(
        self,
        run_id: str,
        ingest_time: dt.datetime,
        clock: Callable[[], dt.datetime] | None = None,
    ):
        super().__init__()
        check_run_stamp(run_id, ingest_time)
        self.run_id = run_id
        self.ingest_time = ingest_time
        self.clock = clock

    def expand(self, pages):
        fn = _UserRowsFn(self.run_id, self.ingest_time, self.clock)
        return pages | "Build" >> beam.ParDo(fn).with_outputs(_UserRowsFn.DEAD_LETTER, main="rows")


def is_user_call(call: ApiCall) -> bool:
    """Whether a call reads a user-level resource (its answer goes to `UserRows`)."""
    return call.kind == "user" and call.data_type in RESOURCES
