"""The local Google Cloud every end-to-end test runs against.

One set of emulators (BigQuery, Cloud Storage, Pub/Sub) serves the whole
session; tests keep apart by unique dataset, topic and path names.
"""

from __future__ import annotations

import os

import pytest

from localdev import emulators


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Marks `emulators` every test that starts them, through `local_gcp` or a fixture on it.

    Runs before `-m` deselects, so `make test-fast` (`-m "not emulators and not slow"`)
    leaves these out; tests here that need no emulator stay in.
    """
    for item in items:
        if "local_gcp" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.emulators)


@pytest.fixture(scope="session")
def local_gcp(tmp_path_factory):
    saved = dict(os.environ)
    with emulators.LocalEmulators(tmp_path_factory.mktemp("emulators"), pubsub=True) as emu:
        emulators.use_emulator_endpoints(emu.env)
        yield emu
    os.environ.clear()
    os.environ.update(saved)
