"""`fitbeam run` end to end: simulator -> Beam (DirectRunner) -> BigQuery and GCS emulators.

The rows in BigQuery are compared with the simulator's ground truth: for
every (user, table) the set of record keys must be exactly the one that the
ground-truth points give, so nothing is missing and nothing is extra on any
civil day. The window 2026-10-31..2026-11-01 holds the end of daylight saving
time in New York (user-1) and a day of the user at UTC+13 (user-2).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from google.cloud import bigquery

from pipeline import emulators, main
from pipeline.demo import authorise_users, emulator_bigquery_client
from simulator import Simulator, SimulatorConfig
from transforms import datatypes, rows
from transforms.token_store import LocalFileTokenStore

START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC).timestamp()
USERS = ["user-1", "user-2", "user-3"]
FIRST, LAST = dt.date(2026, 10, 31), dt.date(2026, 11, 1)
LISTED = [t for t in datatypes.DEFAULT_DATA_TYPES if t != "total-calories"]


@pytest.fixture(scope="module")
def local_gcp(tmp_path_factory):
    saved = dict(os.environ)
    with emulators.LocalEmulators(tmp_path_factory.mktemp("emulators")) as emu:
        os.environ.update(emu.env)
        yield emu
    os.environ.clear()
    os.environ.update(saved)


def bq_client() -> bigquery.Client:
    return emulator_bigquery_client()


def keys_in(client: bigquery.Client, dataset: str, table: str, run_id: str) -> set[tuple]:
    query = (
        f"SELECT user_key, record_key FROM `{emulators.PROJECT}.{dataset}.{table}` "  # noqa: S608
        "WHERE run_id = @run"
    )
    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("run", "STRING", run_id)]
    )
    try:
        result = client.query(query, job_config=config).result()
    except Exception as err:  # a table nobody wrote to does not exist
        if "Not found" in str(err) or "not found" in str(err):
            return set()
        raise
    return {(r["user_key"], r["record_key"]) for r in result}


def expected_keys(sim: Simulator, run_id: str) -> dict[str, set[tuple]]:
    """(user, record key) per table, from the simulator's ground truth."""
    out: dict[str, set[tuple]] = {}
    for user in USERS:
        ctx = rows.RowContext(user, run_id, dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
        for data_type in LISTED:
            for truth in sim.ground_truth(user, data_type, FIRST, LAST, reconciled=True):
                for table, row in rows.rows_for_point(
                    data_type, truth["dataPoint"], ctx, "reconciled"
                ):
                    out.setdefault(table, set()).add((user, row["record_key"]))
        days = {t["civilDate"] for t in sim.ground_truth(user, "total-calories", FIRST, LAST)}
        summary = out.setdefault("daily_activity_summary", set())
        for day in days:
            row = {"user_key": user, "civil_date": dt.date.fromisoformat(day)}
            summary.add((user, rows.record_key("daily_activity_summary", row)))
    return out


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
    from apache_beam.io.filesystems import FileSystems

    pattern = f"gs://{emulators.DEFAULT_BUCKET}/dead-letters/{run_id}/*.jsonl"
    out = []
    for match in FileSystems.match([pattern])[0].metadata_list:
        with FileSystems.open(match.path) as f:
            out += [json.loads(line) for line in f.read().decode().splitlines() if line]
    return out


def test_batch_rows_equal_the_ground_truth(local_gcp, tmp_path):
    with Simulator(SimulatorConfig(users=3, clock_speed=0, start_time=START)) as sim:
        report = run_batch(sim, tmp_path, "complete", "e2e-complete")
        expected = expected_keys(sim, "e2e-complete")
    client = bq_client()
    assert report.state == "DONE"
    assert report.dead_letters == {}
    for table, keys in sorted(expected.items()):
        loaded = keys_in(client, "complete", table, "e2e-complete")
        assert len(loaded - keys) == 0, f"{table}: extra rows"
        assert len(keys - loaded) == 0, f"{table}: missing rows"
        assert report.rows.get(table, 0) == len(keys), table
    assert set(report.rows) - set(expected) == {"exercise_tcx_trackpoints"}
    assert report.rows["exercise_tcx_trackpoints"] > 0
    written = json.loads((tmp_path / "report.json").read_text())
    assert written["rows"] == report.rows
    assert dead_letters("e2e-complete") == []

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


def test_with_faults_rows_plus_dead_letters_account_for_every_point(local_gcp, tmp_path):
    faults = "mixed=0.05,page-drop=1"
    with Simulator(SimulatorConfig(users=3, clock_speed=0, start_time=START, faults=faults)) as sim:
        report = run_batch(sim, tmp_path, "faulty", "e2e-faulty", "--max_attempts=1")
        expected = expected_keys(sim, "e2e-faulty")
        stats = sim.stats()
    client = bq_client()
    assert report.state == "DONE"
    letters = dead_letters("e2e-faulty")
    # One attempt per request: every injected fault on a call is a dead letter.
    assert report.dead_letters_total > 0, stats
    assert len(letters) == report.dead_letters_total
    # Windows that failed, per user and table.
    failed: dict[tuple, list] = {}
    for letter in letters:
        assert letter["stage"] in ("fetch", "fetch_detail"), letter
        call = letter["original"]
        assert letter["attempts"] == 1
        assert letter["replayable"] is True
        table = (
            "daily_activity_summary"
            if call["kind"] == "summary"
            else datatypes.spec(call["data_type"]).table
        )
        failed.setdefault((call["user_key"], table), []).append(call)
    unaccounted = missing = 0
    for table, keys in expected.items():
        loaded = keys_in(client, "faulty", table, "e2e-faulty")
        assert not loaded - keys, f"{table}: extra rows"
        for user, _key in keys - loaded:
            missing += 1
            if not failed.get((user, table)):
                unaccounted += 1
    assert missing > 0
    assert unaccounted == 0


def test_bad_options_fail_before_anything_runs(tmp_path):
    with pytest.raises(main.OptionsError) as err:
        main.run(
            [
                "--users=user-1",
                "--start_date=2026-11-02",
                "--end_date=2026-11-01",
                f"--token_store={tmp_path}",
                "--dataset=fitbeam-local:x",
                f"--dead_letter_root={tmp_path}",
            ]
        )
    assert str(err.value) == (
        "--end_date='2026-11-01': is before --start_date=2026-11-02; e.g. --end_date=2026-11-02"
    )
