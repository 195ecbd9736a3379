"""The requests stage: request messages (Pub/Sub, a file) or a CLI range -> FetchRequests.

`ReadRequests` is where a run's work comes from: the users x data types x dates
of the command line, a file of request messages (batch) or a Pub/Sub
subscription (streaming). Messages go through `ParseRequests`, which applies the
contract of `healthapi.messages` and turns a bad message into a dead letter
(stage `parse_request`) that names the rule it broke.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from healthapi.elements import FetchRequest
from healthapi.messages import DEFAULT_MAX_RANGE_DAYS, BadRequest, parse_request, shown_message
from transforms.dead_letters import DeadLetter, utc_now_rfc3339

NAMESPACE = "fitbeam"
STAGE = "parse_request"


class _ParseRequestsFn(beam.DoFn):
    """Message bytes (or a PubsubMessage) -> FetchRequests; bad ones become dead letters.

    Args:
        max_range_days: the longest range one message may ask for.
        clock: returns the current UTC time; future dates are judged by it.
    """

    DEAD_LETTER = "dead_letter"

    def __init__(
        self,
        max_range_days: int = DEFAULT_MAX_RANGE_DAYS,
        clock: Callable[[], dt.datetime] | None = None,
    ):
        self.max_range_days = max_range_days
        self.clock = clock
        self.parsed = Metrics.counter(NAMESPACE, "request_messages")
        self.dead = Metrics.counter(NAMESPACE, f"dead_letters_{STAGE}")

    def process(self, element):
        data = getattr(element, "data", element)
        message_id = getattr(element, "message_id", None) or ""
        now = self.clock() if self.clock else dt.datetime.fromtimestamp(time.time(), dt.UTC)
        self.parsed.inc()
        try:
            requests = parse_request(data or b"", now.date(), self.max_range_days)
        except BadRequest as bad:
            self.dead.inc()
            original: dict = {"message": shown_message(data or b"")}
            if message_id:
                original["message_id"] = message_id
            yield pvalue.TaggedOutput(
                self.DEAD_LETTER,
                DeadLetter(
                    stage=STAGE,
                    original=original,
                    error_class=bad.reason,
                    message=str(bad)[:1000],
                    timestamp=utc_now_rfc3339(now),
                    user_key=bad.user_key,
                    replayable=False,
                ),
            )
            return
        yield from requests


class ParseRequests(beam.PTransform):
    """Request messages -> FetchRequest, with a `dead_letter` output."""

    def __init__(
        self,
        max_range_days: int = DEFAULT_MAX_RANGE_DAYS,
        clock: Callable[[], dt.datetime] | None = None,
    ):
        super().__init__()
        if not isinstance(max_range_days, int) or max_range_days < 1:
            raise ValueError(
                f"max_range_days={str(max_range_days)[:20]} must be a whole number of days "
                f"of at least 1, e.g. {DEFAULT_MAX_RANGE_DAYS}"
            )
        self.max_range_days = max_range_days
        self.clock = clock

    def expand(self, messages):
        fn = _ParseRequestsFn(self.max_range_days, self.clock)
        return messages | "ToRequests" >> beam.ParDo(fn).with_outputs(
            _ParseRequestsFn.DEAD_LETTER, main="requests"
        )


class ReadRequests(beam.PTransform):
    """A run's requests, from exactly one source: `{"requests": ..., "dead_letter": ...}`.

    Args:
        requests: FetchRequests from the command line (users x data types x dates).
        requests_file: a file (or glob) of request messages, one JSON per line.
        subscription: a Pub/Sub subscription of request messages (streaming).
        max_range_days: the longest range one message may ask for.
        clock: the UTC time messages are judged by (test seam).

    Raises:
        ValueError: no source, or more than one.
    """

    def __init__(
        self,
        requests: Sequence[FetchRequest] = (),
        requests_file: str = "",
        subscription: str = "",
        max_range_days: int = DEFAULT_MAX_RANGE_DAYS,
        clock: Callable[[], dt.datetime] | None = None,
    ):
        super().__init__()
        sources = [
            name
            for name, v in (
                ("requests", requests),
                ("requests_file", requests_file),
                ("subscription", subscription),
            )
            if v
        ]
        if len(sources) != 1:
            raise ValueError(
                f"give exactly one source of requests, not {sources or 'none'}: FetchRequests, "
                "a requests file (requests.jsonl) or a Pub/Sub subscription "
                "(projects/my-project/subscriptions/fitbeam-requests)"
            )
        self.requests = tuple(requests)
        self.requests_file = requests_file
        self.subscription = subscription
        self.parse = ParseRequests(max_range_days, clock)

    def expand(self, pbegin):
        if self.requests:
            requests = pbegin | "FromCommandLine" >> beam.Create(self.requests).with_output_types(
                FetchRequest
            )
            none = pbegin | "NoBadMessages" >> beam.Create([]).with_output_types(DeadLetter)
            return {"requests": requests, "dead_letter": none}
        if self.subscription:
            messages = pbegin | "ReadPubSub" >> beam.io.ReadFromPubSub(
                subscription=self.subscription, with_attributes=True
            )
        else:
            messages = (
                pbegin
                | "ReadFile"
                >> beam.io.ReadFromText(self.requests_file, coder=beam.coders.BytesCoder())
                # Blank lines separate nothing in JSON Lines; they are not requests.
                | "SkipBlankLines" >> beam.Filter(lambda line: bool(line.strip()))
            )
        parsed = messages | "ParseMessages" >> self.parse
        return {"requests": parsed.requests, "dead_letter": parsed.dead_letter}
