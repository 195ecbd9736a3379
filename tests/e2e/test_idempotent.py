"""Loading a window again never shows a point twice; edits and deletions upstream show.

Batch runs of the same window (and, in tests/e2e/test_streaming.py, the same
request message twice) append rows; the `<table>_current` views must show
exactly the simulator's ground truth after each run. The second run loads the
window again after a point was edited and others deleted upstream: every
unchanged point is then in the tables twice and in the views once, the edited
one shows its new value, the deleted ones are gone. One data type of each kind
(tests/e2e/helpers.py ONE_OF_EACH_KIND).
"""

from __future__ import annotations

import datetime as dt

from healthapi.auth.file_store import LocalFileTokenStore
from localdev import emulators
from localdev.demo import authorise_users
from pipeline import main
from rows import datapoints
from simulator import Simulator, SimulatorConfig
from tests.e2e.helpers import (
    INGEST,
    ONE_OF_EACH_KIND,
    bq_client,
    count_in,
    current,
    distinct,
    expected_keys,
)

START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC).timestamp()
USERS = ["user-1", "user-2"]
FIRST, LAST = dt.date(2026, 11, 16), dt.date(2026, 11, 18)
TYPES = list(ONE_OF_EACH_KIND)
DATASET = "idempotent"


def load(sim: Simulator, tmp_path, run_id: str):
    report = main.run(
        [
            f"--users={','.join(USERS)}",
            f"--start_date={FIRST}",
            f"--end_date={LAST}",
            f"--data_types={','.join(TYPES)}",
            f"--api_base_url={sim.base_url}",
            f"--token_store={tmp_path / 'tokens'}",
            f"--dataset={emulators.PROJECT}:{DATASET}",
            f"--dead_letter_root=gs://{emulators.DEFAULT_BUCKET}/dead-letters",
            f"--temp_location=gs://{emulators.DEFAULT_BUCKET}/bigquery-loads",
            f"--project={emulators.PROJECT}",
            f"--run_id={run_id}",
            "--user_tables=false",  # snapshots, not windows: not what this test is about
        ],
        today=dt.date(2026, 11, 28),
        sleep=lambda s: None,
        out=lambda s: None,
    )
    assert report.state == "DONE" and report.dead_letters == {}
    return report


def assert_views_show_the_ground_truth(sim: Simulator, run: int) -> dict[str, set]:
    client = bq_client()
    expected = expected_keys(sim, [(u, t, FIRST, LAST) for u in USERS for t in TYPES], "x")
    for table, keys in expected.items():
        shown, count = current(client, DATASET, table)
        assert shown == keys, f"run {run}: {table}"
        assert count == len(keys), f"run {run}: {table} shows a row twice"
    exercises = distinct(client, DATASET, "exercise_current", "data_point_id")
    tracked = distinct(client, DATASET, "exercise_tcx_trackpoints_current", "data_point_id")
    assert tracked == exercises, f"run {run}"
    shown, count = current(client, DATASET, "exercise_tcx_trackpoints")
    assert count == len(shown) > 0, f"run {run}"
    return expected


def test_reloads_edits_and_deletions(local_gcp, tmp_path):
    bq_client().create_dataset(f"{emulators.PROJECT}.{DATASET}", exists_ok=True)
    # Heart rate a minute apart: the same paths, fewer rows to load twice.
    config = SimulatorConfig(users=2, clock_speed=0, start_time=START, hr_spacing_seconds=60)
    with Simulator(config) as sim:
        authorise_users(sim, USERS, LocalFileTokenStore(tmp_path / "tokens"))
        load(sim, tmp_path, "idem-1")
        first = assert_views_show_the_ground_truth(sim, 1)

        # Upstream: one steps point edited, another deleted, one exercise deleted.
        steps = sim.ground_truth("user-1", "steps", FIRST, FIRST, reconciled=True)
        edited, gone = steps[0], steps[1]
        sim.edit_point("user-1", "steps", edited["id"], FIRST, {"count": "4321"})
        sim.delete_point("user-1", "steps", gone["id"], FIRST)
        [exercise, *_] = sim.ground_truth("user-2", "exercise", FIRST, LAST, reconciled=True)
        sim.delete_point(
            "user-2", "exercise", exercise["id"], dt.date.fromisoformat(exercise["civilDate"])
        )
        load(sim, tmp_path, "idem-2")
        second = assert_views_show_the_ground_truth(sim, 2)
        sim_truth_after = sim.ground_truth("user-1", "steps", FIRST, FIRST, reconciled=True)
    assert len(second["steps"]) == len(first["steps"]) - 1
    assert len(second["exercise"]) == len(first["exercise"]) - 1
    # Every other point was loaded again: twice in the tables, once in the views (above).
    client = bq_client()
    for table, keys in first.items():
        if table not in ("steps", "exercise"):
            assert second[table] == keys, table
        assert count_in(client, DATASET, table) == len(keys) + len(second[table]), table
    # The edited point shows its new value, once.
    [truth] = [t for t in sim_truth_after if t["id"] == edited["id"]]
    [(_, row)] = datapoints.rows_for_point(
        "steps", truth["dataPoint"], datapoints.RowContext("user-1", "x", INGEST), "reconciled"
    )
    found = [
        r["step_count"]
        for r in client.query(
            f"SELECT step_count FROM `{emulators.PROJECT}.{DATASET}.steps_current` "  # noqa: S608
            f"WHERE record_key = '{row['record_key']}'"
        ).result()
    ]
    assert found == [4321]
