"""pipeline.main.waits_for_the_job: when `fitbeam run` waits for its job."""

from __future__ import annotations

import pytest

from pipeline.main import waits_for_the_job

LAUNCHER = {"FLEX_TEMPLATE_PYTHON_PY_FILE": "/template/main.py"}


@pytest.mark.parametrize(
    ("streaming", "direct", "environ", "waits"),
    [
        (False, True, {}, True),  # a local batch: wait, then the report
        (True, True, {}, True),  # a local streaming run: until stopped
        (False, False, {}, True),  # a Dataflow batch from a workstation: wait for its report
        (True, False, {}, False),  # a Dataflow streaming job never ends
        (False, False, LAUNCHER, False),  # the Flex Template launcher must return
        (True, False, LAUNCHER, False),
        (False, True, LAUNCHER, True),  # the launcher's image run locally still waits
    ],
)
def test_when_run_waits(streaming, direct, environ, waits):
    assert waits_for_the_job(streaming, direct, environ) is waits
