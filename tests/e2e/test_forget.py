"""`fitbeam forget` end to end: a real load, then one participant withdraws consent.

Two simulator users consent; a `fitbeam run` of one day and three data types (and
the user-level tables) loads them into the BigQuery emulator, with some calls
failing so both users have dead letters on the GCS emulator; archived responses
are objects made here in the layout docs/forget.md describes. Then `fitbeam
forget --user user-1`: the dry run changes nothing; `--execute` leaves no row of
user-1 in any table or view, no dead-letter or archived object naming user-1, no
token, a revoked grant, user-2's rows and dead-letter lines exactly as they were,
and an audit record whose counts are the ones measured before. A later run for
user-1 gives only CONSENT_WITHDRAWN dead letters; after user-1 consents again, it
loads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json

import pytest
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError

from commands import forget as forget_command
from healthapi.auth import oauth
from healthapi.auth.file_store import LocalFileTokenStore
from localdev import emulators
from localdev.demo import authorise_users
from pipeline import main
from schemas.bigquery import ALL_TABLES, LOAD_LOG_TABLE
from simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SimulatorConfig
from simulator.process import SimulatorProcess
from study.files import Root
from tests.e2e.helpers import bq_client

START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC).timestamp()
DAY = dt.date(2026, 11, 20)
DATASET = "forget_e2e"
BUCKET = f"gs://{emulators.DEFAULT_BUCKET}/forget-e2e"
DEAD_LETTERS = f"{BUCKET}/dead-letters"
ARCHIVE = f"{BUCKET}/archive"
AUDIT = f"{BUCKET}/forget-audit"  # the default: beside the dead-letter folder
TYPES = "steps,distance,sleep"
# One attempt per request and a fault on some: both users get dead letters.
FAULTS = "503=0.15"
ARCHIVED = {
    "user_key=user-1/steps/2026-11-20.json": b'{"dataPoints": []}',
    "user_key=user-2/steps/2026-11-20.json": b'{"dataPoints": []}',
    "legacy/2026-11-20-a.json": b'{"user": "user-1", "steps": 7}',
    "legacy/2026-11-20-b.json": b'{"user": "user-2", "steps": 9}',
    "legacy/2026-11-20-c.json": b'{"user": "user-10", "steps": 9}',
}


def run(sim, store, users: list[str], run_id: str, *extra: str):
    argv = [
        f"--users={','.join(users)}",
        f"--start_date={DAY}",
        f"--end_date={DAY}",
        f"--data_types={TYPES}",
        f"--api_base_url={sim.base_url}",
        f"--token_store={store.root}",
        f"--dataset={emulators.PROJECT}:{DATASET}",
        f"--dead_letter_root={DEAD_LETTERS}",
        f"--temp_location=gs://{emulators.DEFAULT_BUCKET}/bigquery-loads",
        f"--project={emulators.PROJECT}",
        f"--run_id={run_id}",
        *extra,
    ]
    return main.run(argv, today=dt.date(2026, 11, 28), sleep=lambda s: None, out=lambda s: None)


def counts(client, views: bool = True) -> dict[str, dict[str, int]]:
    """Rows per user of every table (and view) of the dataset, in one query: the emulator
    is slow per query, and slower per view."""
    names = [
        item.table_id
        for item in client.list_tables(f"{emulators.PROJECT}.{DATASET}")
        if views or item.table_type != "VIEW"
    ]
    query = "\nUNION ALL\n".join(
        f"SELECT '{name}' AS name, user_key, COUNT(*) AS n "  # noqa: S608 - listed names
        f"FROM `{emulators.PROJECT}.{DATASET}.{name}` GROUP BY user_key"
        for name in names
    )
    out: dict[str, dict[str, int]] = {name: {} for name in names}
    for row in client.query(query).result():
        out[row["name"]][row["user_key"]] = row["n"]
    return out


def tables_only(per_name: dict) -> dict:
    return {name: n for name, n in per_name.items() if name in ALL_TABLES}


def objects(root: str) -> dict[str, bytes]:
    files = Root(root)
    return {path: files.read(path) for path in files.list()}


def lines_of(letters: dict[str, bytes], user: str) -> list[bytes]:
    return sorted(
        line
        for data in letters.values()
        for line in data.splitlines(keepends=True)
        if json.loads(line)["user_key"] == user
    )


def forget(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = forget_command.main(list(argv), out=out)
    return code, out.getvalue()


@pytest.fixture
def sim():
    config = SimulatorConfig(users=2, clock_speed=0, start_time=START, faults=FAULTS)
    with SimulatorProcess(config) as running:
        yield running


def test_forget_removes_a_participant_everywhere_and_leaves_the_other_untouched(
    local_gcp, tmp_path, sim
):
    store = LocalFileTokenStore(tmp_path / "tokens")
    authorise_users(sim, ["user-1", "user-2"], store)
    client = bq_client()
    client.create_dataset(f"{emulators.PROJECT}.{DATASET}", exists_ok=True)
    first = run(sim, store, ["user-1", "user-2"], "forget-load", "--max_attempts=1")
    sim.set_faults("")
    assert first.state == "DONE"
    for path, data in ARCHIVED.items():
        Root(ARCHIVE).write(path, data)

    before = counts(client)
    letters_before = objects(DEAD_LETTERS)
    user_1_lines = lines_of(letters_before, "user-1")
    user_2_lines = lines_of(letters_before, "user-2")
    assert user_1_lines and user_2_lines, f"each user needs dead letters: {first.dead_letters}"
    tables = [t for t in ALL_TABLES if before.get(t, {}).get("user-1")]
    views = sorted(v for v in before if v not in ALL_TABLES)
    assert len(tables) >= 4 and "load_windows" in tables, f"user-1 loaded too little: {before}"
    assert {f"{t}_current" for t in ALL_TABLES if t != LOAD_LOG_TABLE} <= set(views), views
    user_1_rows = {t: before[t].get("user-1", 0) for t in ALL_TABLES if t in before}
    user_2_rows = {t: n.get("user-2", 0) for t, n in before.items()}
    old_token = store.load("user-1")
    flags = [
        "--user=user-1",
        f"--dataset={emulators.PROJECT}:{DATASET}",
        f"--token_store={store.root}",
        f"--dead_letter_root={DEAD_LETTERS}",
        f"--archive_root={ARCHIVE}",
        f"--revoke_url={sim.revoke_url}",
        "--operator=e2e-operator",
    ]

    # The dry run lists what would go and changes nothing.
    code, dry = forget(*flags)
    assert code == 0, dry
    assert f"rows:          {sum(user_1_rows.values())} in " in dry, dry
    for table in tables:
        assert f"    {table:<34} {user_1_rows[table]:>8}" in dry, (table, dry)
    assert f"  dead letters:  {len(user_1_lines)} lines in " in dry, dry
    assert "  archived:      2 objects under" in dry, dry
    assert counts(client, views=False) == tables_only(before)
    assert objects(DEAD_LETTERS) == letters_before
    assert store.load("user-1") == old_token

    code, done = forget(*flags, "--execute")
    assert code == 0, done
    after = counts(client)

    # No table or view holds a row of user-1; user-2's counts are exactly as before.
    left = {name: n["user-1"] for name, n in after.items() if "user-1" in n}
    assert left == {}, f"rows of user-1 left: {left}"
    assert {t: n.get("user-2", 0) for t, n in after.items()} == user_2_rows, (
        f"user-2's rows changed: before {user_2_rows}, after {after}"
    )
    # No dead-letter or archived object names user-1; user-2's lines are byte for byte kept.
    letters_after = objects(DEAD_LETTERS)
    assert [p for p, data in letters_after.items() if b"user-1" in data] == []
    assert lines_of(letters_after, "user-2") == user_2_lines
    assert sorted(objects(ARCHIVE)) == [
        "legacy/2026-11-20-b.json",
        "legacy/2026-11-20-c.json",
        "user_key=user-2/steps/2026-11-20.json",
    ]
    # The token is gone, the withdrawal recorded, and the grant revoked at the provider.
    assert store.load("user-1") is None
    assert store.withdrawal("user-1") is not None
    client_oauth = oauth.OAuthClient.for_base_url(
        DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, sim.base_url
    )
    with pytest.raises(InvalidGrantError):
        oauth.refresh(client_oauth, old_token)
    assert oauth.refresh(client_oauth, store.load("user-2"))["access_token"]
    # The audit record: the counts measured before, and nothing that names the key.
    audits = objects(AUDIT)
    assert len(audits) == 1, sorted(audits)
    ((audit_path, audit_bytes),) = audits.items()
    assert b"user-1" not in audit_bytes and "user-1" not in audit_path
    record = json.loads(audit_bytes)
    deleted = {t: n for t, n in record["rows_deleted"].items() if n}
    assert deleted == {t: n for t, n in user_1_rows.items() if n}, (
        f"rows deleted per table: audit {deleted}, measured before {user_1_rows}"
    )
    assert record["user_key_sha256"] == hashlib.sha256(b"user-1").hexdigest()
    assert record["operator"] == "e2e-operator"
    assert record["revoke"] == "revoked"
    assert record["dead_letter_lines_removed"] == len(user_1_lines)
    assert record["archive_objects_removed"] == 2
    assert record["token_deleted"] is True
    assert record["complete"] is True
    assert set(record["remaining"].values()) == {0}
    kept = {t: n for t, n in tables_only(user_2_rows).items() if n}
    print(
        f"forget figures: rows deleted per table {deleted} (total {sum(deleted.values())}); "
        f"dead-letter lines removed {len(user_1_lines)} of "
        f"{len(user_1_lines) + len(user_2_lines)}; archived objects removed 2 of 5; "
        f"user-2 rows kept per table {kept}"
    )

    # A second forget finds nothing and says so.
    code, again = forget(*flags, "--execute")
    assert code == 0, again
    assert "fitbeam forget: nothing of user-1 found" in again
    assert "rows:          0 in 0 of" in again

    # A later run for user-1: only CONSENT_WITHDRAWN dead letters, no rows.
    refused = run(sim, store, ["user-1"], "forget-refused")
    assert refused.state == "DONE"
    assert counts(client, views=False) == tables_only(after)
    letters = [
        json.loads(line)
        for path, data in objects(f"{DEAD_LETTERS}/forget-refused").items()
        for line in data.splitlines()
    ]
    assert refused.calls_planned == len(letters) > 0
    assert (refused.consent_withdrawn, refused.needs_consent) == (["user-1"], [])
    assert {
        (x["error_class"], x["user_key"], x["replayable"], x["http_status"], x["attempts"])
        for x in letters
    } == {("CONSENT_WITHDRAWN", "user-1", False, 0, 1)}
    withdrawn_at = store.withdrawal("user-1")
    assert {x["message"] for x in letters} == {
        f"user 'user-1': the participant withdrew consent on {withdrawn_at}; they must "
        "consent again with fitbeam authorize --user user-1"
    }

    # Once user-1 consents again, their data loads. A new run is a new process with a
    # broker of its own; here the store's other spelling gives it one (the broker of the
    # runs above remembers the withdrawal for ten minutes, as a running job would).
    authorise_users(sim, ["user-1"], store)
    assert store.withdrawal("user-1") is None
    again = run(sim, store, ["user-1"], "forget-reconsented", f"--token_store=file://{store.root}")
    assert again.state == "DONE"
    assert again.dead_letters == {}
    reloaded = counts(client, views=False)
    for table in ("steps", "distance", "sleep", "load_windows"):
        assert reloaded[table].get("user-1", 0) > 0, (table, reloaded[table])
    assert {t: n.get("user-2", 0) for t, n in reloaded.items()} == tables_only(user_2_rows)
