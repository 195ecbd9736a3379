"""The plan stage: FetchRequests -> the fewest API calls the API's caps allow.

The planning itself is Beam-free (`healthapi.planning`); this composite applies it.
"""

from __future__ import annotations

import apache_beam as beam

from healthapi.elements import ApiCall, FetchRequest
from healthapi.planning import plan_calls


class PlanCalls(beam.PTransform):
    """FetchRequest -> ApiCall: one per window of each data type's page and rollup caps."""

    def expand(self, requests):
        return requests | "Split" >> beam.FlatMap(plan_calls).with_input_types(
            FetchRequest
        ).with_output_types(ApiCall)
