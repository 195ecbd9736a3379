"""The raw archive and `fitbeam rebuild`: tables re-derived from archived answers, no API call.

A load of two simulator users (one data type of each kind, with the user-level
tables) keeps every answer in the raw archive on the GCS emulator. Then the
steps parser is changed (a test-only variant: counts times ten plus seven) and
the archive is rebuilt: the simulator sees no request, every table gets its
rows again, and every `_current` view shows exactly the rebuilt rows, once:
the steps view the new counts, the others the same keys as before.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import gzip
import json
import uuid

import pytest
from google.cloud import storage

from healthapi.auth.file_store import LocalFileTokenStore
from localdev import emulators
from localdev.demo import authorise_users
from pipeline import main
from rows import datapoints, points
from rows.values import count
from simulator import Simulator, SimulatorConfig
from tests.e2e.helpers import INGEST, ONE_OF_EACH_KIND, bq_client, current, expected_keys
from transforms import archive

START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC).timestamp()
USERS = ["user-1", "user-2"]
FIRST, LAST = dt.date(2026, 11, 16), dt.date(2026, 11, 17)
TYPES = list(ONE_OF_EACH_KIND)
DATASET = "rebuild"


def _flags(run_id: str) -> list[str]:
    return [
        f"--dataset={emulators.PROJECT}:{DATASET}",
        f"--dead_letter_root=gs://{emulators.DEFAULT_BUCKET}/dead-letters",
        f"--temp_location=gs://{emulators.DEFAULT_BUCKET}/bigquery-loads",
        f"--project={emulators.PROJECT}",
        f"--run_id={run_id}",
    ]


def _objects(prefix: str) -> dict[str, dict]:
    bucket = storage.Client(project=emulators.PROJECT).bucket(emulators.DEFAULT_BUCKET)
    return {
        blob.name[len(prefix) + 1 :]: json.loads(gzip.decompress(blob.download_as_bytes()))
        for blob in bucket.list_blobs(prefix=prefix + "/")
    }


def _steps_times_ten_plus_seven():
    spec = points.SPECS["steps"]
    [(column, key, convert, path)] = spec.fields
    assert (column, convert) == ("step_count", count)
    return dataclasses.replace(
        spec, fields=((column, key, lambda value, at: convert(value, at) * 10 + 7, path),)
    )


def _query(client, select: str, table: str) -> list[dict]:
    """`SELECT <select> FROM <table>` in the test's dataset, as dicts."""
    sql = f"SELECT {select} FROM `{emulators.PROJECT}.{DATASET}.{table}`"  # noqa: S608
    return [dict(row) for row in client.query(sql).result()]


def test_rebuild_from_the_raw_archive(local_gcp, tmp_path, monkeypatch):
    client = bq_client()
    client.create_dataset(f"{emulators.PROJECT}.{DATASET}", exists_ok=True)
    prefix = f"raw-{uuid.uuid4().hex[:8]}"
    root = f"gs://{emulators.DEFAULT_BUCKET}/{prefix}"
    config = SimulatorConfig(users=2, clock_speed=0, start_time=START, hr_spacing_seconds=60)
    with Simulator(config) as sim:
        authorise_users(sim, USERS, LocalFileTokenStore(tmp_path / "tokens"))
        loaded = main.run(
            [
                f"--users={','.join(USERS)}",
                f"--start_date={FIRST}",
                f"--end_date={LAST}",
                f"--data_types={','.join(TYPES)}",
                f"--api_base_url={sim.base_url}",
                f"--token_store={tmp_path / 'tokens'}",
                f"--raw_archive={root}",
                *_flags("load-1"),
            ],
            today=dt.date(2026, 11, 28),
            sleep=lambda s: None,
            out=lambda s: None,
        )
        assert loaded.state == "DONE" and loaded.dead_letters == {}
        secrets = sim.issued_secrets()
        expected = expected_keys(sim, [(u, t, FIRST, LAST) for u in USERS for t in TYPES], "x")
        truth_steps = {
            (user, row["record_key"]): row["step_count"]
            for user in USERS
            for truth in sim.ground_truth(user, "steps", FIRST, LAST, reconciled=True)
            for _, row in datapoints.rows_for_point(
                "steps", truth["dataPoint"], datapoints.RowContext(user, "x", INGEST), "reconciled"
            )
        }

        # The archive: one object per answer page, by user, data type and date.
        objects = _objects(prefix)
        assert loaded.archive["objects"] == len(objects) > 0
        folders = collections.Counter(name.split("/")[1] for name in objects)
        calls_by_folder = collections.Counter()
        for name, record in objects.items():
            user, data_type, day, _ = name.split("/")
            call = record["call"]
            assert user == f"user_key={record['user_key']}" == f"user_key={call['user_key']}"
            folder = {"summary": "daily-activity-summary", "tcx": "exercise-tcx"}
            assert data_type == f"data_type={folder.get(call['kind'], call['data_type'])}"
            assert record["format"] == archive.FORMAT and record["run_id"] == "load-1"
            assert record["load_id"].startswith("load-1-") and record["answered_at"]
            if call["kind"] in ("list", "summary"):
                assert day == f"date={call['start'][:10]}"
            if record["final"]:
                calls_by_folder[data_type] += 1
        # Every answered call is archived whole: its last page is there.
        assert sum(calls_by_folder.values()) == loaded.calls_done
        assert set(folders) >= {
            "data_type=steps",
            "data_type=exercise-tcx",
            "data_type=daily-activity-summary",
            "data_type=paired-devices",
        }
        # Not a token, a code or the client secret in any object.
        text = "\n".join(json.dumps(record) for record in objects.values())
        assert secrets and not [s for s in secrets if s in text]

        # A parser changes; the archive is rebuilt with it. The API is not called.
        before = sim.stats()
        monkeypatch.setitem(points.SPECS, "steps", _steps_times_ten_plus_seven())
        rebuilt = main.run(
            [f"--from_archive={root}/**", *_flags("rebuild-1")],
            sleep=lambda s: None,
            out=lambda s: None,
        )
        after = sim.stats()
    assert rebuilt.state == "DONE" and rebuilt.dead_letters == {}
    assert {k: v for k, v in after.items() if k != "now"} == {
        k: v for k, v in before.items() if k != "now"
    }
    assert rebuilt.archive["objects_read"] == len(objects)
    assert rebuilt.rows == loaded.rows and rebuilt.loads == loaded.loads

    # Every view shows exactly the ground truth's keys, once, all from the rebuild.
    for table, keys in expected.items():
        shown, count_shown = current(client, DATASET, table)
        assert shown == keys and count_shown == len(keys), table
        runs = _query(client, "DISTINCT run_id", f"{table}_current")
        assert [r["run_id"] for r in runs] == (["rebuild-1"] if keys else []), table
    # The steps view shows the new parser's counts, the table both loads' rows.
    steps = _query(client, "user_key, record_key, step_count", "steps_current")
    assert {(r["user_key"], r["record_key"]): r["step_count"] for r in steps} == {
        key: value * 10 + 7 for key, value in truth_steps.items()
    }
    [old] = _query(client, "COUNT(*) AS n, COUNTIF(run_id = 'load-1') AS first", "steps")
    assert old == {"n": 2 * len(truth_steps), "first": len(truth_steps)}
    # The trackpoints hang from the rebuilt exercises.
    tracked = _query(client, "DISTINCT data_point_id, run_id", "exercise_tcx_trackpoints_current")
    exercises = {key for key in expected["exercise"]}
    assert len(tracked) == len(exercises) > 0
    assert {r["run_id"] for r in tracked} == {"rebuild-1"}
    # User-level snapshots: one per user, the rebuilt one.
    settings = _query(client, "user_key, run_id", "user_settings_current")
    assert sorted((r["user_key"], r["run_id"]) for r in settings) == [
        ("user-1", "rebuild-1"),
        ("user-2", "rebuild-1"),
    ]
    # The rebuilt loads keep the answers' times and name their objects.
    loads = _query(
        client,
        "run_id, origin, answered_at, source_uri, user_key, table_name, stream, window_start, "
        "window_end, data_point_id",
        "load_windows",
    )
    by_run = collections.defaultdict(dict)
    for load in loads:
        window = (
            load["user_key"],
            load["table_name"],
            load["stream"],
            load["window_start"],
            load["window_end"],
            load["data_point_id"],
        )
        by_run[load["run_id"]].setdefault(window, []).append(load)
    assert by_run["rebuild-1"].keys() == by_run["load-1"].keys()
    for window, [rebuilt_load] in by_run["rebuild-1"].items():
        [original] = by_run["load-1"][window]
        assert rebuilt_load["origin"] == "archive" and original["origin"] == "api"
        assert rebuilt_load["answered_at"] == original["answered_at"] is not None
        assert rebuilt_load["source_uri"].startswith(root + "/")
        assert original["source_uri"] is None


@pytest.mark.parametrize("garbage", [b"not gzip", gzip.compress(b'{"format": "other"}')])
def test_an_object_that_is_not_an_archived_answer_is_a_dead_letter(local_gcp, tmp_path, garbage):
    prefix = f"raw-{uuid.uuid4().hex[:8]}"
    bucket = storage.Client(project=emulators.PROJECT).bucket(emulators.DEFAULT_BUCKET)
    name = f"{prefix}/user_key=user-1/data_type=steps/date=2026-11-16/x_p0000.json.gz"
    bucket.blob(name).upload_from_string(garbage)
    bq_client().create_dataset(f"{emulators.PROJECT}.{DATASET}", exists_ok=True)
    run_id = f"rebuild-bad-{uuid.uuid4().hex[:6]}"
    report = main.run(
        [f"--from_archive=gs://{emulators.DEFAULT_BUCKET}/{prefix}/**", *_flags(run_id)],
        out=lambda s: None,
    )
    assert report.state == "DONE"
    assert report.dead_letters == {"archive_read": 1} and report.rows_total == 0
