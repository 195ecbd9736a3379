"""pipeline.main.waits_for_the_job: when `fitbeam run` waits for its job."""

from __future__ import annotations

import pytest

from pipeline.main import waits_for_the_job


@pytest.mark.parametrize(
    ("streaming", "direct", "submit_only", "waits"),
    [
        (False, True, False, True),  # a local batch: wait, then the report
        (True, True, False, True),  # a local streaming run: until stopped
        (False, False, False, True),  # a Dataflow batch from a workstation: its report
        (True, False, False, False),  # a Dataflow streaming job never ends
        (False, False, True, False),  # the Flex Template launcher must return
        (True, False, True, False),
        (False, True, True, True),  # the template run on the DirectRunner still waits
    ],
)
def test_when_run_waits(streaming, direct, submit_only, waits):
    assert waits_for_the_job(streaming, direct, submit_only) is waits
