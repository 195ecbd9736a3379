"""Every simulator fault at 10% at once, end to end: through real BigQuery and Cloud Storage.

The batch run must end (no crash) with every ground-truth point either in
BigQuery or inside the civil window of a dead-lettered call of its user and
table, and with a report whose counts match the tables and the dead-letter
files. Two attempts per call, so that faults both get retried and exhaust.
Then, with the faults cleared, a replay of the dead letters fetches exactly
the failed calls: the two runs' recorded loads together hold every point once,
and the `<table>_current` views show each point once.

Each fault alone is accounted for on the DirectRunner, without emulators, in
tests/transforms/test_fault_matrix.py (every point, every row once, every
injected fault one dead letter): every fault is on the API side, and BigQuery
adds nothing per fault kind. This run proves the same accounting through the
real write and dead-letter sink, and the report's counts against them, over
one data type of each kind (tests/e2e/helpers.py ONE_OF_EACH_KIND).
"""

from __future__ import annotations

import datetime as dt

from healthapi import datatypes
from healthapi.auth.file_store import LocalFileTokenStore
from healthapi.elements import ApiCall
from localdev import emulators
from localdev.demo import authorise_users
from pipeline import main
from rows import datapoints
from rows.load_windows import load_table
from schemas.views import WINDOW_COLUMN
from simulator import Simulator, SimulatorConfig
from tests.e2e.helpers import (
    INGEST,
    ONE_OF_EACH_KIND,
    bq_client,
    count_in,
    count_in_run,
    current_keys,
    dead_letters,
    keys_in,
    recorded_keys_in,
)

START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC).timestamp()
USERS = ["user-1", "user-2"]
FIRST, LAST = dt.date(2026, 11, 16), dt.date(2026, 11, 17)
TYPES = list(ONE_OF_EACH_KIND)
DATASET = "fault_matrix"
FAULTS = "mixed=0.1,page-drop=1,token.503=0.1,token.500=0.1"
RUN_ID = "faults-all-at-10"
REPLAY_ID = "faults-all-at-10-replay"
BUCKET = f"gs://{emulators.DEFAULT_BUCKET}"


def expected_rows(sim: Simulator) -> dict[str, dict[tuple, dict]]:
    """(user, record key) -> row, per table, from the simulator's ground truth."""
    out: dict[str, dict[tuple, dict]] = {}
    for user in USERS:
        ctx = datapoints.RowContext(user, "x", INGEST)
        for data_type in TYPES:
            if data_type == "total-calories":
                days = {t["civilDate"] for t in sim.ground_truth(user, data_type, FIRST, LAST)}
                for day in days:
                    row = {"user_key": user, "civil_date": dt.date.fromisoformat(day)}
                    key = datapoints.record_key("daily_activity_summary", row)
                    out.setdefault("daily_activity_summary", {})[(user, key)] = row
                continue
            # The types the API cannot reconcile are read raw, source by source.
            reconciled = datatypes.spec(data_type).reconcilable
            stream = "reconciled" if reconciled else "raw"
            out.setdefault(datatypes.spec(data_type).table, {})
            for truth in sim.ground_truth(user, data_type, FIRST, LAST, reconciled=reconciled):
                for table, row in datapoints.rows_for_point(
                    data_type, truth["dataPoint"], ctx, stream
                ):
                    out.setdefault(table, {})[(user, row["record_key"])] = row
    return out


def civil_time(table: str, row: dict) -> dt.datetime:
    """The time a call's window filtered the row on (civil; UTC for an electrocardiogram)."""
    column = WINDOW_COLUMN[table]
    if column == "DATETIME(t.start_time)":
        return row["start_time"].astimezone(dt.UTC).replace(tzinfo=None)
    if column.startswith("DATETIME("):
        return dt.datetime.combine(row["civil_date"], dt.time())
    return row[column.removeprefix("t.")]


def failed_windows(letters: list[dict]) -> dict[tuple, list[tuple]]:
    """(user, table) -> [start, end) of each windowed call that ended as a dead letter."""
    out: dict[tuple, list[tuple]] = {}
    for letter in letters:
        if letter["stage"] not in ("fetch", "fetch_detail"):
            continue
        call = ApiCall.from_json(letter["original"])
        if call.kind in ("tcx", "user"):
            continue  # trackpoints and user-level rows are not in the ground truth here
        start, end = (
            dt.datetime.fromisoformat(t if "T" in t else t + "T00:00:00")
            for t in (call.start, call.end)
        )
        out.setdefault((call.user_key, load_table(call)), []).append((start, end))
    return out


def run(sim: Simulator, tmp_path, run_id: str, *flags: str):
    return main.run(
        [
            *flags,
            f"--api_base_url={sim.base_url}",
            f"--token_store={tmp_path / 'tokens'}",
            f"--dataset={emulators.PROJECT}:{DATASET}",
            f"--dead_letter_root={BUCKET}/dead-letters",
            f"--temp_location={BUCKET}/bigquery-loads",
            f"--project={emulators.PROJECT}",
            f"--run_id={run_id}",
        ],
        today=dt.date(2026, 11, 28),
        sleep=lambda s: None,
        out=lambda s: None,
    )


def test_with_every_fault_at_ten_percent_every_point_is_loaded_or_accounted_for_then_replayed(
    local_gcp, tmp_path
):
    config = SimulatorConfig(users=2, clock_speed=0, start_time=START)
    client = bq_client()
    client.create_dataset(f"{emulators.PROJECT}.{DATASET}", exists_ok=True)
    with Simulator(config) as sim:
        authorise_users(sim, USERS, LocalFileTokenStore(tmp_path / "tokens"))
        sim.set_faults(FAULTS)  # after consent: the faults are the run's
        sim.auth.expire_all_access_tokens()  # every user refreshes, through token-endpoint faults
        report = run(
            sim,
            tmp_path,
            RUN_ID,
            f"--users={','.join(USERS)}",
            f"--start_date={FIRST}",
            f"--end_date={LAST}",
            f"--data_types={','.join(TYPES)}",
            "--max_attempts=2",
        )
        expected = expected_rows(sim)
        stats = sim.stats()
        sim.set_faults("")
        replayed = run(
            sim, tmp_path, REPLAY_ID, f"--dead_letters={BUCKET}/dead-letters/{RUN_ID}/*.jsonl"
        )
    assert report.state == "DONE"
    letters = dead_letters(f"{BUCKET}/dead-letters/{RUN_ID}")
    assert report.dead_letters_total > 0, stats
    assert len(letters) == report.dead_letters_total, stats
    assert all(d["stage"] in ("fetch", "fetch_detail") for d in letters), letters[:3]
    assert all(d["replayable"] is True and d["attempts"] in (1, 2) for d in letters), letters[:3]
    windows = failed_windows(letters)
    unaccounted, missing = [], 0
    for table, wanted in expected.items():
        loaded = keys_in(client, DATASET, table, RUN_ID)
        assert not loaded - set(wanted), f"{table}: rows that are not in the ground truth"
        assert report.rows.get(table, 0) == len(loaded), table
        for key in set(wanted) - loaded:
            missing += 1
            moment = civil_time(table, wanted[key])
            if not any(s <= moment < e for s, e in windows.get((key[0], table), ())):
                unaccounted.append((table, key))
    assert missing > 0, stats
    assert unaccounted == [], f"{len(unaccounted)} points neither loaded nor dead-lettered"
    assert report.loads == count_in_run(client, DATASET, "load_windows", RUN_ID)

    # The replay fetched exactly the failed calls: the two runs' recorded loads together
    # hold every ground-truth point once.
    assert replayed.state == "DONE"
    assert replayed.dead_letters == {}
    assert replayed.replayed == {"replayed_calls": len(letters)}
    for table, wanted in expected.items():
        keys = set(wanted)
        # Rows of an answer that failed after some of its pages stay in the table under a
        # load that was never recorded; a recorded load holds none of them, and the view
        # shows every point once.
        first = recorded_keys_in(client, DATASET, table, RUN_ID)
        second = keys_in(client, DATASET, table, REPLAY_ID)
        assert first | second == keys, table
        assert not first & second, table
        assert current_keys(client, DATASET, table) == keys, table
        assert count_in(client, DATASET, f"{table}_current") == len(keys), table
