"""WriteTables: what can be checked without BigQuery, its settings, is checked when built.

Writing itself needs BigQuery: the e2e tests (tests/e2e) load into the
emulator. Here a bad method or dataset must be refused before anything runs,
with a message that names the fix.
"""

from __future__ import annotations

import pytest

from transforms.write import FILE_LOADS, STREAMING_INSERTS, WriteTables


@pytest.mark.parametrize(
    ("dataset", "method", "message"),
    [
        (
            "my-project:fitbit",
            "STORAGE_WRITE_API",
            "BigQuery write method 'STORAGE_WRITE_API' must be STREAMING_INSERTS or FILE_LOADS",
        ),
        (
            "my-project:fitbit",
            "file_loads",
            "BigQuery write method 'file_loads' must be STREAMING_INSERTS or FILE_LOADS",
        ),
        (
            "my-project.fitbit",
            FILE_LOADS,
            "dataset 'my-project.fitbit' must be PROJECT:DATASET, e.g. my-project:fitbit",
        ),
        (
            "fitbit",
            STREAMING_INSERTS,
            "dataset 'fitbit' must be PROJECT:DATASET, e.g. my-project:fitbit",
        ),
        (
            "my-project:fit-bit",
            STREAMING_INSERTS,
            "dataset 'my-project:fit-bit' must be PROJECT:DATASET, e.g. my-project:fitbit",
        ),
        (None, FILE_LOADS, "dataset 'None' must be PROJECT:DATASET, e.g. my-project:fitbit"),
    ],
    ids=[
        "unknown method",
        "lower-case method",
        "dot for colon",
        "no project",
        "dash in dataset",
        "none",
    ],
)
def test_a_bad_method_or_dataset_is_refused_naming_the_fix(dataset, method, message):
    with pytest.raises(ValueError) as caught:
        WriteTables(dataset, method, "gs://my-bucket/tmp")
    assert str(caught.value) == message


@pytest.mark.parametrize("method", [STREAMING_INSERTS, FILE_LOADS])
def test_a_good_dataset_and_method_are_kept(method):
    write = WriteTables("my-project:fitbit_v2", method, "gs://my-bucket/tmp")
    assert (write.dataset, write.method, write.gcs_temp_location) == (
        "my-project:fitbit_v2",
        method,
        "gs://my-bucket/tmp",
    )
