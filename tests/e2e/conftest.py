"""The local Google Cloud every end-to-end test runs against.

One set of emulators (BigQuery, Cloud Storage, Pub/Sub) serves the whole
session; tests keep apart by unique dataset, topic and path names. After each
module its datasets are dropped (but those shared across modules): the BigQuery
emulator gets slower with every table it holds, a new dataset's 45 tables and
views taking 23 s on an empty emulator and 77 s after four more datasets.
"""

from __future__ import annotations

import os

import pytest

from localdev import emulators
from tests.e2e.helpers import SHARED_DATASET


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Marks `emulators` every test that starts them, through `local_gcp` or a fixture on it.

    Runs before `-m` deselects, so `make test-fast` (`-m "not emulators and not slow"`)
    leaves these out; tests here that need no emulator stay in.
    """
    for item in items:
        if "local_gcp" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.emulators)


_RUNNING: list[emulators.LocalEmulators] = []


@pytest.fixture(scope="session")
def local_gcp(tmp_path_factory):
    saved = dict(os.environ)
    with emulators.LocalEmulators(tmp_path_factory.mktemp("emulators"), pubsub=True) as emu:
        emulators.use_emulator_endpoints(emu.env)
        _RUNNING.append(emu)
        yield emu
        _RUNNING.clear()
    os.environ.clear()
    os.environ.update(saved)


def _kept(dataset_id: str) -> bool:
    """Datasets that modules share: `helpers.SHARED_DATASET`, `study_rows.shared_dataset`."""
    return dataset_id == SHARED_DATASET or dataset_id.startswith("study_")


@pytest.fixture(scope="module", autouse=True)
def drop_datasets():
    """Drops the module's datasets from the session's BigQuery emulator once it is done."""
    yield
    if not _RUNNING:
        return
    from study.days import bigquery_client

    client = bigquery_client(emulators.PROJECT, env=_RUNNING[0].env)
    for dataset in client.list_datasets():
        if not _kept(dataset.dataset_id):
            client.delete_dataset(dataset.reference, delete_contents=True, not_found_ok=True)
