"""Every simulator fault at 10% at once, end to end: through real BigQuery and Cloud Storage.

The batch run must end (no crash) with every ground-truth point either in
BigQuery or inside the civil window of a dead-lettered call of its user and
table, and with a report whose counts match the tables and the dead-letter
files. Two attempts per call, so that faults both get retried and exhaust.

Each fault alone is accounted for on the DirectRunner, without emulators, in
tests/transforms/test_fault_matrix.py (every point, every row once, every
injected fault one dead letter): every fault is on the API side, and BigQuery
adds nothing per fault kind. This run proves the same accounting through the
real write and dead-letter sink, and the report's counts against them.
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
from tests.e2e.helpers import INGEST, bq_client, count_in_run, dead_letters, keys_in

START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC).timestamp()
USERS = ["user-1", "user-2"]
FIRST, LAST = dt.date(2026, 11, 16), dt.date(2026, 11, 17)
TYPES = ["steps", "heart-rate", "sleep", "exercise", "weight", "total-calories"]
DATASET = "fault_matrix"
FAULTS = "mixed=0.1,page-drop=1,token.503=0.1,token.500=0.1"
RUN_ID = "faults-all-at-10"


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
            out.setdefault(datatypes.spec(data_type).table, {})
            for truth in sim.ground_truth(user, data_type, FIRST, LAST, reconciled=True):
                for table, row in datapoints.rows_for_point(
                    data_type, truth["dataPoint"], ctx, "reconciled"
                ):
                    out.setdefault(table, {})[(user, row["record_key"])] = row
    return out


def civil_time(table: str, row: dict) -> dt.datetime:
    column = WINDOW_COLUMN[table]
    if column.startswith("DATETIME("):
        return dt.datetime.combine(row["civil_date"], dt.time())
    return row[column.removeprefix("t.")]


def failed_windows(letters: list[dict]) -> dict[tuple, list[tuple]]:
    """(user, table) -> civil [start, end) of each call that ended as a dead letter."""
    out: dict[tuple, list[tuple]] = {}
    for letter in letters:
        if letter["stage"] not in ("fetch", "fetch_detail"):
            continue
        call = ApiCall.from_json(letter["original"])
        if call.kind == "tcx":
            continue  # trackpoints are not in the ground truth compared here
        start, end = (
            dt.datetime.fromisoformat(t if "T" in t else t + "T00:00:00")
            for t in (call.start, call.end)
        )
        out.setdefault((call.user_key, load_table(call)), []).append((start, end))
    return out


def test_with_every_fault_at_ten_percent_every_point_is_loaded_or_accounted_for(
    local_gcp, tmp_path
):
    config = SimulatorConfig(users=2, clock_speed=0, start_time=START)
    client = bq_client()
    client.create_dataset(f"{emulators.PROJECT}.{DATASET}", exists_ok=True)
    with Simulator(config) as sim:
        store = LocalFileTokenStore(tmp_path / "tokens")
        authorise_users(sim, USERS, store)
        sim.set_faults(FAULTS)  # after consent: the faults are the run's
        sim.auth.expire_all_access_tokens()  # every user refreshes, through token-endpoint faults
        report = main.run(
            [
                f"--users={','.join(USERS)}",
                f"--start_date={FIRST}",
                f"--end_date={LAST}",
                f"--data_types={','.join(TYPES)}",
                f"--api_base_url={sim.base_url}",
                f"--token_store={store.root}",
                f"--dataset={emulators.PROJECT}:{DATASET}",
                f"--dead_letter_root=gs://{emulators.DEFAULT_BUCKET}/dead-letters",
                f"--temp_location=gs://{emulators.DEFAULT_BUCKET}/bigquery-loads",
                f"--project={emulators.PROJECT}",
                f"--run_id={RUN_ID}",
                "--max_attempts=2",
            ],
            today=dt.date(2026, 11, 28),
            sleep=lambda s: None,
            out=lambda s: None,
        )
        expected = expected_rows(sim)
        stats = sim.stats()
    assert report.state == "DONE"
    letters = dead_letters(f"gs://{emulators.DEFAULT_BUCKET}/dead-letters/{RUN_ID}")
    assert len(letters) == report.dead_letters_total, stats
    assert all(d["stage"] in ("fetch", "fetch_detail") for d in letters), letters[:3]
    windows = failed_windows(letters)
    unaccounted = []
    for table, wanted in expected.items():
        loaded = keys_in(client, DATASET, table, RUN_ID)
        assert not loaded - set(wanted), f"{table}: rows that are not in the ground truth"
        assert report.rows.get(table, 0) == len(loaded), table
        for key in set(wanted) - loaded:
            moment = civil_time(table, wanted[key])
            if not any(s <= moment < e for s, e in windows.get((key[0], table), ())):
                unaccounted.append((table, key))
    assert unaccounted == [], f"{len(unaccounted)} points neither loaded nor dead-lettered"
    assert report.loads == count_in_run(client, DATASET, "load_windows", RUN_ID)
