"""The plan stage: FetchRequests -> the fewest API calls the API's caps allow.

The planning itself is Beam-free (`healthapi.planning`); this composite applies it.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from healthapi.elements import ApiCall, FetchRequest
from healthapi.planning import plan_calls
from pipeline import progress

NAMESPACE = "fitbeam"


def _planned(request: FetchRequest) -> list[ApiCall]:
    """`plan_calls`, counted for the run report and the progress line (once per request)."""
    calls = plan_calls(request)
    Metrics.counter(NAMESPACE, "calls_planned").inc(len(calls))
    progress.TALLY.add(planned=len(calls))
    return calls


class PlanCalls(beam.PTransform):
    """FetchRequest -> ApiCall: one per window of each data type's page and rollup caps."""

    def expand(self, requests):
        return requests | "Split" >> beam.FlatMap(_planned).with_input_types(
            FetchRequest
        ).with_output_types(ApiCall)
