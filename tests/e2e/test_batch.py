"""`fitbeam run` end to end: simulator -> Beam (DirectRunner) -> BigQuery and GCS emulators.

The rows in BigQuery are compared with the simulator's ground truth: for
every (user, table) the set of record keys must be exactly the one that the
ground-truth points give, so nothing is missing and nothing is extra on any
civil day. The window 2026-10-31..2026-11-01 holds the end of daylight saving
time in New York (user-1) and a day of the user at UTC+13 (user-2).

The complete run is the one end-to-end run over every data type and user
table: each table gets rows and each `<table>_current` view is checked. The
other runs (here and in the other files) are about something else (faults and
replay, request files, re-runs, streaming, secrets) and load one type of each
kind (tests/e2e/helpers.py ONE_OF_EACH_KIND).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from healthapi import datatypes, user_resources
from healthapi.auth.file_store import LocalFileTokenStore
from healthapi.auth.store import token_store_from_uri
from healthapi.messages import request_message
from localdev import emulators
from localdev.demo import authorise_users
from pipeline import main
from simulator import Simulator, SimulatorConfig, devices
from tests.e2e.helpers import (
    SHARED_DATASET,
    bq_client,
    current,
    expected_keys,
    keys_in,
)
from tests.e2e.helpers import dead_letters as read_dead_letters
from tests.fakes.secret_manager import FakeSecretManager
from tests.unit.test_request_messages import CATALOGUE

START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC).timestamp()
USERS = ["user-1", "user-2", "user-3"]
FIRST, LAST = dt.date(2026, 10, 31), dt.date(2026, 11, 1)
LISTED = [t for t in datatypes.DEFAULT_DATA_TYPES if t != "total-calories"]


def expected_for_window(sim: Simulator, run_id: str) -> dict[str, set[tuple]]:
    wanted = [(u, t, FIRST, LAST) for u in USERS for t in [*LISTED, "total-calories"]]
    return expected_keys(sim, wanted, run_id)


def run_batch(sim, tmp_path: Path, dataset: str, run_id: str, *extra: str):
    store = LocalFileTokenStore(tmp_path / "tokens")
    authorise_users(sim, USERS, store)
    bq_client().create_dataset(f"{emulators.PROJECT}.{dataset}", exists_ok=True)
    argv = [
        f"--users={','.join(USERS)}",
        f"--start_date={FIRST}",
        f"--end_date={LAST}",
        f"--api_base_url={sim.base_url}",
        f"--token_store={store.root}",
        f"--dataset={emulators.PROJECT}:{dataset}",
        f"--dead_letter_root=gs://{emulators.DEFAULT_BUCKET}/dead-letters",
        f"--temp_location=gs://{emulators.DEFAULT_BUCKET}/bigquery-loads",
        f"--project={emulators.PROJECT}",
        f"--run_id={run_id}",
        f"--report_json={tmp_path / 'report.json'}",
        *extra,
    ]
    return main.run(argv, today=dt.date(2026, 11, 28), sleep=lambda s: None, out=lambda s: None)


def dead_letters(run_id: str) -> list[dict]:
    return read_dead_letters(f"gs://{emulators.DEFAULT_BUCKET}/dead-letters/{run_id}")


def test_batch_rows_equal_the_ground_truth(local_gcp, tmp_path):
    with Simulator(SimulatorConfig(users=3, clock_speed=0, start_time=START)) as sim:
        report = run_batch(sim, tmp_path, "complete", "e2e-complete")
        expected = expected_for_window(sim, "e2e-complete")
        now = sim.clock.now()
        paired = {u: len(devices.paired_devices(sim.config.seed, sim.users[u], now)) for u in USERS}
    client = bq_client()
    assert report.state == "DONE"
    assert report.dead_letters == {}
    for table, keys in sorted(expected.items()):
        loaded = keys_in(client, "complete", table, "e2e-complete")
        assert len(loaded - keys) == 0, f"{table}: extra rows"
        assert len(keys - loaded) == 0, f"{table}: missing rows"
        assert report.rows.get(table, 0) == len(keys), table
        # Every table's view shows each of its points once (the only run over every type:
        # the other runs load one type of each kind).
        assert current(client, "complete", table) == (keys, len(keys)), f"{table}_current"
    # One row per user of the profile, settings and IRN profile; one per paired device.
    for table, per_user in [
        ("user_profile", dict.fromkeys(USERS, 1)),
        ("user_settings", dict.fromkeys(USERS, 1)),
        ("irn_profile", dict.fromkeys(USERS, 1)),
        ("paired_devices", paired),
    ]:
        rows = client.query(
            f"SELECT user_key, COUNT(*) AS n FROM `{emulators.PROJECT}.complete.{table}` "  # noqa: S608
            "GROUP BY user_key"
        ).result()
        assert {r["user_key"]: r["n"] for r in rows} == per_user, table
        assert report.rows[table] == sum(per_user.values()), table
        loaded = keys_in(client, "complete", table, "e2e-complete")
        assert current(client, "complete", table) == (loaded, len(loaded)), f"{table}_current"
    assert set(report.rows) - set(expected) == {
        "exercise_tcx_trackpoints",
        *user_resources.TABLES,
    }
    assert report.rows["exercise_tcx_trackpoints"] > 0
    tracked = keys_in(client, "complete", "exercise_tcx_trackpoints", "e2e-complete")
    shown = current(client, "complete", "exercise_tcx_trackpoints")
    assert shown == (tracked, len(tracked))
    written = json.loads((tmp_path / "report.json").read_text())
    assert written["rows"] == report.rows
    assert dead_letters("e2e-complete") == []
    # Answers by data type add up to the answers by status, and every type was asked.
    by_status: dict[str, int] = {}
    for statuses in report.api_calls_by_type.values():
        for status, n in statuses.items():
            by_status[status] = by_status.get(status, 0) + n
    assert by_status == report.api_calls == {"200": sum(report.api_calls.values())}
    # total-calories is fetched by the daily roll-up call, with four other summaries; the
    # user-level resources are counted by their own names.
    assert set(report.api_calls_by_type) == (
        set(datatypes.DEFAULT_DATA_TYPES) - {"total-calories"}
        | {"daily-activity-summary"}
        | set(user_resources.RESOURCES)
    )
    assert written["api_calls_by_type"] == report.api_calls_by_type

    # The DST day of user-1 (New York) has steps on both sides of the change, and
    # the UTC+13 user's civil days are their own.
    offsets = {
        (r["user_key"], r["start_utc_offset_seconds"])
        for r in client.query(
            "SELECT DISTINCT user_key, start_utc_offset_seconds "
            "FROM `fitbeam-local.complete.steps` WHERE civil_date = '2026-11-01'"
        ).result()
    }
    assert ("user-1", -4 * 3600) in offsets
    assert ("user-1", -5 * 3600) in offsets
    assert ("user-2", 13 * 3600) in offsets


def test_requests_file_with_tokens_in_secret_manager(local_gcp, tmp_path):
    """A batch over request messages; bad lines become dead letters, good ones load exactly.

    Tokens and the OAuth client live in Secret Manager (its REST API faked
    locally, driven by the real client), as in production.
    """
    run_id, dataset = "e2e-requests-file", SHARED_DATASET  # every check is of this run's rows
    good = [
        request_message("user-1", FIRST, LAST, ["steps", "sleep"]),
        request_message("user-2", LAST, data_types=["weight", "total-calories"]),
    ]
    bad = [c for c in CATALOGUE if c[1].strip() and b"\n" not in c[1]][:15]
    lines = [good[0], b"", *[c[1] for c in bad], b"   ", good[1]]
    requests_file = tmp_path / "requests.jsonl"
    requests_file.write_bytes(b"\n".join(lines) + b"\n")
    with (
        FakeSecretManager() as secrets,
        Simulator(SimulatorConfig(users=3, clock_speed=0, start_time=START)) as sim,
    ):
        uri = f"secretmanager://{emulators.PROJECT}/fitbeam?endpoint={secrets.endpoint}"
        store = token_store_from_uri(uri)
        authorise_users(sim, USERS, store)
        bq_client().create_dataset(f"{emulators.PROJECT}.{dataset}", exists_ok=True)
        report = main.run(
            [
                f"--requests_file={requests_file}",
                f"--api_base_url={sim.base_url}",
                f"--token_store={uri}",
                f"--dataset={emulators.PROJECT}:{dataset}",
                f"--dead_letter_root=gs://{emulators.DEFAULT_BUCKET}/dead-letters",
                f"--temp_location=gs://{emulators.DEFAULT_BUCKET}/bigquery-loads",
                f"--project={emulators.PROJECT}",
                f"--run_id={run_id}",
            ],
            today=dt.date(2026, 11, 28),
            sleep=lambda s: None,
            out=lambda s: None,
        )
        expected = expected_keys(
            sim,
            [
                ("user-1", "steps", FIRST, LAST),
                ("user-1", "sleep", FIRST, LAST),
                ("user-2", "weight", LAST, LAST),
                ("user-2", "total-calories", LAST, LAST),
            ],
            run_id,
        )
    client = bq_client()
    assert report.state == "DONE"
    assert report.requests_from == str(requests_file)
    assert report.request_messages == len(good) + len(bad)  # blank lines are skipped
    assert report.dead_letters == {"parse_request": len(bad)}
    letters = dead_letters(run_id)
    assert sorted((d["error_class"], d["message"]) for d in letters) == sorted(
        (reason, message) for _, _, reason, message in bad
    )
    for table, keys in expected.items():
        assert keys_in(client, dataset, table, run_id) == keys, table
        assert report.rows.get(table, 0) == len(keys), table
    user_tables = set(user_resources.TABLES)
    assert set(report.rows) - user_tables == {t for t, keys in expected.items() if keys}
    # The user-level tables: a profile and settings row for each of the two users asked for.
    for table in ("user_profile", "user_settings"):
        loaded = keys_in(client, dataset, table, run_id)
        assert {user for user, _ in loaded} == {"user-1", "user-2"}, table
        assert report.rows[table] == len(loaded) == 2, table
