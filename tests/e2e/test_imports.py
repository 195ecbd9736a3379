"""`fitbeam import takeout` and `fitbeam import legacy` on the emulators, against ground truth.

A Google Takeout export of simulator user-1 holding both layouts (the Fitbit JSON
and the Google Health CSVs, days across New York's 2026-11-01 clock change) is
zipped onto the GCS emulator and imported without --time_zone: the zone comes
from the user settings an earlier API load of one day stored. Every `_current`
view then shows exactly the simulator's ground truth for the days, each point
once: the API's rows where it loaded, the export's elsewhere.

The original system's archive of two simulator users is imported from a GCS
folder with a --legacy_users map: the views show the ground truth of what the
legacy endpoints carried, and the legacy-only tables what the parser reads; a
malformed response and a stranger's file are dead letters, the rest loads.
"""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from google.cloud import storage

from healthapi.auth.file_store import LocalFileTokenStore
from history import legacy, takeout_fitbit, takeout_google
from history.units import ImportUnit, ParseContext
from localdev import emulators
from localdev.demo import authorise_users
from pipeline import main
from rows import datapoints
from simulator import Simulator, SimulatorConfig, exports, legacy_archive
from simulator import takeout_fitbit as fitbit_export
from simulator import takeout_google as google_export
from tests.e2e.helpers import INGEST, bq_client, current, dead_letters, expected_keys

START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC).timestamp()
# New York's clock goes back on the last day, which the API loads too.
FIRST, LAST = dt.date(2026, 10, 31), dt.date(2026, 11, 1)
OVERLAP_DAY = LAST
BUCKET = emulators.DEFAULT_BUCKET


def _flags(dataset: str, run_id: str) -> list[str]:
    return [
        f"--dataset={emulators.PROJECT}:{dataset}",
        f"--dead_letter_root=gs://{BUCKET}/dead-letters",
        f"--temp_location=gs://{BUCKET}/bigquery-loads",
        f"--project={emulators.PROJECT}",
        f"--run_id={run_id}",
    ]


def _parsed(parser, files: dict[str, bytes], ctx_for) -> dict[str, set]:
    """(user, record key) per table of what a parser makes of the files, as the import would."""
    out: dict[str, set] = {}
    for path, data in files.items():
        if not isinstance(parser.classify(path), str):
            continue
        for unit in parser.parse(path, data, ctx_for(path)):
            if not isinstance(unit, ImportUnit):
                continue
            if unit.table:
                rows = [(unit.table, row) for row in unit.rows]
            else:
                ctx = datapoints.RowContext(unit.user_key, "x", INGEST)
                rows = [
                    pair
                    for point in unit.points
                    for pair in datapoints.rows_for_point(unit.data_type, point, ctx, "reconciled")
                ]
            for table, row in rows:
                out.setdefault(table, set()).add((unit.user_key, row["record_key"]))
    return out


def _run_ids(client, dataset: str, table: str) -> set[str]:
    sql = f"SELECT DISTINCT run_id FROM `{emulators.PROJECT}.{dataset}.{table}_current`"  # noqa: S608
    return {row["run_id"] for row in client.query(sql).result()}


def test_a_takeout_export_with_both_layouts_over_an_api_load(local_gcp, tmp_path):
    dataset = "takeout_import"  # a dataset of its own: the views are read whole
    client = bq_client()
    client.create_dataset(f"{emulators.PROJECT}.{dataset}", exists_ok=True)
    config = SimulatorConfig(
        users=1,
        clock_speed=0,
        start_time=START,
        hr_spacing_seconds=fitbit_export.HR_SPACING_SECONDS,
    )
    with Simulator(config) as sim:
        user = sim.users["user-1"]
        assert user.time_zone == "America/New_York"
        authorise_users(sim, ["user-1"], LocalFileTokenStore(tmp_path / "tokens"))
        api_types = ["steps", "heart-rate"]
        loaded = main.run(
            [
                "--users=user-1",
                f"--start_date={OVERLAP_DAY}",
                f"--end_date={OVERLAP_DAY}",
                f"--data_types={','.join(api_types)}",
                f"--api_base_url={sim.base_url}",
                f"--token_store={tmp_path / 'tokens'}",
                *_flags(dataset, "api-1"),
            ],
            today=dt.date(2026, 11, 28),
            sleep=lambda s: None,
            out=lambda s: None,
        )
        assert loaded.state == "DONE" and loaded.dead_letters == {}

        files = exports.takeout_files(user, FIRST, LAST)
        google_files, _ = google_export.export_files(user, FIRST, LAST)
        zipped = exports.write_takeout(files, tmp_path / "export", as_zip=True)
        name = f"takeout-{uuid.uuid4().hex[:8]}/takeout-20261201T000000Z-001.zip"
        storage.Client(project=emulators.PROJECT).bucket(BUCKET).blob(name).upload_from_filename(
            zipped
        )
        imported = main.run(
            [
                f"--import_takeout=gs://{BUCKET}/{name}",
                "--user_key=user-1",
                *_flags(dataset, "import-t1"),
            ],
            out=lambda s: None,
        )
        carried = sorted(
            {
                t
                for p in files
                for t in [takeout_google.classify(p), takeout_fitbit.classify(p)]
                if isinstance(t, str)
            }
        )
        truth = expected_keys(sim, [("user-1", t, FIRST, LAST) for t in carried], "x")
    assert imported.state == "DONE" and imported.dead_letters == {}, imported.dead_letters
    # Every file is read or skipped with its reason; a type held in both layouts is read once.
    google_types = takeout_google.data_types_present(files)
    superseded = [
        p for p in files if takeout_fitbit.classify(p) in google_types and "Google Health" not in p
    ]
    assert imported.files_skipped["superseded"] == len(superseded) > 0
    assert imported.files_read + sum(imported.files_skipped.values()) == len(files)

    # What the parsers make of the files is what BigQuery holds, and it is the ground truth.
    zone = ZoneInfo("America/New_York")
    parsed = _parsed(takeout_google, google_files, lambda p: ParseContext("user-1", zone, p))
    fitbit_only = {p: d for p, d in files.items() if p not in google_files and p not in superseded}
    for table, keys in _parsed(
        takeout_fitbit, fitbit_only, lambda p: ParseContext("user-1", zone, p)
    ).items():
        parsed.setdefault(table, set()).update(keys)
    assert imported.rows == {table: len(keys) for table, keys in parsed.items()}
    for table, keys in truth.items():
        shown, count = current(client, dataset, table)
        if table in ("weight", "body_fat"):
            # The export gives weigh-ins no id: their key is their time, not the API's id.
            assert count == len(shown) == len(keys), table
        else:
            assert shown == keys and count == len(keys), table
    # Where the API loaded, its rows show; the export's fill the rest.
    for table in ("steps", "heart_rate"):
        sql = f"SELECT run_id, civil_date FROM `{emulators.PROJECT}.{dataset}.{table}_current`"  # noqa: S608
        by_day = {}
        for row in client.query(sql).result():
            by_day.setdefault(row["civil_date"], set()).add(row["run_id"])
        assert by_day[OVERLAP_DAY] == {"api-1"}, table
        assert by_day[FIRST] == {"import-t1"}, table
    loads = client.query(
        f"SELECT DISTINCT origin, source_uri FROM `{emulators.PROJECT}.{dataset}.load_windows` "  # noqa: S608
        "WHERE run_id = 'import-t1'"
    ).result()
    sources = {(row["origin"], row["source_uri"].partition("!")[0]) for row in loads}
    assert sources == {("takeout", f"gs://{BUCKET}/{name}")}


def test_the_legacy_archive_of_a_study(local_gcp, tmp_path):
    dataset = "legacy_import"  # a dataset of its own: the views are read whole
    client = bq_client()
    client.create_dataset(f"{emulators.PROJECT}.{dataset}", exists_ok=True)
    spacing = legacy_archive.DEFAULT_HR_SPACING_SECONDS
    config = SimulatorConfig(users=2, clock_speed=0, start_time=START, hr_spacing_seconds=spacing)
    with Simulator(config) as sim:
        users = [sim.users["user-1"], sim.users["user-2"]]
        root = tmp_path / "archive"
        legacy_archive.write_archive(users, FIRST, LAST, root, hr_spacing_seconds=spacing)
        files = {
            str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
        }
        carried = ["heart-rate", "daily-resting-heart-rate", "sleep", "exercise", "weight"]
        truth = expected_keys(
            sim, [(u.user_id, t, FIRST, LAST) for u in users for t in carried], "x"
        )
        zones = {u.legacy_user_id: (u.user_id, ZoneInfo(u.time_zone)) for u in users}
    prefix = f"legacy-{uuid.uuid4().hex[:8]}"
    bucket = storage.Client(project=emulators.PROJECT).bucket(BUCKET)
    for path, data in files.items():
        bucket.blob(f"{prefix}/{path}").upload_from_string(data)
    day = f"{FIRST:%Y%m%d}"
    bad = f"get_body_weight_by_date/{day}/get_body_weight_by_date_{users[0].legacy_user_id}.json"
    bucket.blob(f"{prefix}/{bad}").upload_from_string(b'{"weight": [{"logId": ')
    stranger = f"get_sleep_by_date/{day}/get_sleep_by_date_ZZZZZZ.json"
    bucket.blob(f"{prefix}/{stranger}").upload_from_string(b'{"sleep": []}')
    csv = "legacy_user_id,user_key,time_zone\n" + "".join(
        f"{u.legacy_user_id},{u.user_id},{u.time_zone}\n" for u in users
    )
    bucket.blob(f"{prefix}-users.csv").upload_from_string(csv.encode())

    report = main.run(
        [
            f"--import_legacy=gs://{BUCKET}/{prefix}",
            f"--legacy_users=gs://{BUCKET}/{prefix}-users.csv",
            *_flags(dataset, "import-l1"),
        ],
        out=lambda s: None,
    )
    assert report.state == "DONE"
    assert report.dead_letters == {"import": 2}
    letters = dead_letters(f"gs://{BUCKET}/dead-letters/import-l1")
    assert sorted(letter["original"]["file"].rpartition("/")[2] for letter in letters) == sorted(
        [bad.rpartition("/")[2], stranger.rpartition("/")[2]]
    )
    # The malformed weight file is a letter; the ground truth's other weigh-ins load.
    files.pop(bad, None)
    parsed = _parsed(
        legacy,
        files,
        lambda p: ParseContext(*zones[legacy.legacy_user_id(p)], p),
    )
    assert report.rows == {table: len(keys) for table, keys in parsed.items()}
    for table, keys in truth.items():
        if table == "weight":
            keys = {k for k in keys if k in parsed.get("weight", set())}
            assert keys == parsed.get("weight", set())
        shown, count = current(client, dataset, table)
        assert shown == keys and count == len(keys), table
    for table in legacy.LEGACY_TABLES:
        shown, count = current(client, dataset, table)
        assert shown == parsed.get(table, set()) and count == len(shown), table
    assert _run_ids(client, dataset, "legacy_daily_activity") == {"import-l1"}
    tracked, count = current(client, dataset, "exercise_tcx_trackpoints")
    assert tracked == parsed["exercise_tcx_trackpoints"] and count == len(tracked) > 0
