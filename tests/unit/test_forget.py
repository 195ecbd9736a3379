"""study.forget and `fitbeam forget` without emulators: a fake BigQuery, local files.

The fake BigQuery answers the two statements forget sends (a parameterised
COUNT and DELETE per table or view) from rows held in memory and records every
statement, so the tests can check the key never appears in SQL text. Dead
letters, archives and audit records are local folders under `tmp_path`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import hashlib
import io
import json
import re

import pytest

from commands import forget as command
from healthapi.auth import oauth
from healthapi.auth.file_store import LocalFileTokenStore
from schemas.bigquery import ALL_TABLES
from study import forget

DATASET = "my-project:fitbit"
NOW = dt.datetime(2026, 12, 6, 11, 30, tzinfo=dt.UTC)
TOKEN = {"access_token": "at-f", "refresh_token": "rt-f", "expires_at": 1.0}


@dataclasses.dataclass
class Item:
    table_id: str
    table_type: str


class Job:
    def __init__(self, rows, affected=None):
        self.rows = rows
        self.num_dml_affected_rows = affected

    def result(self):
        return iter(self.rows)


class FakeBigQuery:
    """Tables and views of user keys; views show their table's rows."""

    def __init__(self, tables: dict[str, list[str]], fail_delete: set[str] = frozenset()):
        self.tables = tables
        self.views = {f"{t}_current": t for t in tables}
        self.fail_delete = fail_delete
        self.sql: list[str] = []

    def list_tables(self, dataset):
        assert dataset == "my-project.fitbit"
        return [Item(t, "TABLE") for t in self.tables] + [Item(v, "VIEW") for v in self.views]

    def query(self, sql, job_config=None):
        self.sql.append(sql)
        (param,) = job_config.query_parameters
        assert (param.name, param.type_) == ("user_key", "STRING")
        if sql.startswith("SELECT"):
            rows = []
            for part in sql.split("\nUNION ALL\n"):
                name = re.search(r"`my-project\.fitbit\.(\w+)`", part).group(1)
                if name == "no_user_key":
                    raise RuntimeError("Unrecognized name: user_key")
                keys = self.tables[self.views.get(name, name)]
                n = sum(1 for k in keys if k == param.value)
                rows.append({"name": name, "n": n} if "AS name" in part else {"n": n})
            return Job(rows)
        name = re.search(r"`my-project\.fitbit\.(\w+)`", sql).group(1)
        assert sql == f"DELETE FROM `my-project.fitbit.{name}` WHERE user_key = @user_key"  # noqa: S608
        if name in self.fail_delete:
            raise RuntimeError(
                f"UPDATE or DELETE over {name} would affect rows in the streaming buffer"
            )
        before = len(self.tables[name])
        self.tables[name] = [k for k in self.tables[name] if k != param.value]
        return Job([], before - len(self.tables[name]))


def letter(user: str, **extra) -> bytes:
    record = {
        "stage": "fetch",
        "original": {"user_key": user, "kind": "list", "data_type": "steps"},
        "error_class": "UNAVAILABLE",
        "message": "503",
        "user_key": user,
        **extra,
    }
    return (json.dumps(record, sort_keys=True) + "\n").encode()


@pytest.fixture
def world(tmp_path):
    store = LocalFileTokenStore(tmp_path / "tokens")
    store.save("user-1", TOKEN)
    store.save("user-10", TOKEN)
    bq = FakeBigQuery(
        {
            "steps": ["user-1", "user-1", "user-10", "user-2"],
            "sleep": ["user-1"],
            "user_profile": ["user-10"],
            "load_windows": ["user-1", "user-2"],
        }
    )
    dl = tmp_path / "dead-letters"
    (dl / "run-a").mkdir(parents=True)
    (dl / "run-b").mkdir(parents=True)
    # A line that is not JSON, another user's line whose body names user-1, user-10's lines.
    (dl / "run-a" / "dead-letters-00000-of-00001.jsonl").write_bytes(
        letter("user-1")
        + letter("user-10")
        + b"not json but it names user-1\n"
        + letter("user-2", body="a body naming user-10 only")
        + letter("", original={"row": {"user_key": "user-1"}})
        + letter("user-2")
    )
    (dl / "run-b" / "dead-letters-x.jsonl").write_bytes(letter("user-1") + letter("user-1"))
    (dl / "run-b" / "notes.txt").write_bytes(b"user-1 is not a dead letter file")
    archive = tmp_path / "archive"
    for path, data in {
        "responses/user_key=user-1/steps/a.json": b"{}",
        "responses/user_key=user-10/steps/a.json": b'{"user": "user-10"}',
        "old/b.json.gz": gzip.compress(b'{"user": "user-1"}'),
        "old/c.json": b'{"user": "user-10"}',
    }.items():
        (archive / path).parent.mkdir(parents=True, exist_ok=True)
        (archive / path).write_bytes(data)
    return store, bq, dl, archive, tmp_path


def files(root) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('"user-1"', True),
        ("user-1", True),
        ("user_key=user-1/x", True),
        ("user-10", False),
        ("xuser-1", False),
        ("user-1.json", False),  # '.' is a key character: a key user-1.json
        ("(user-1)", True),
    ],
)
def test_a_key_is_named_as_a_whole_word(text, named):
    assert forget.names_key(text, "user-1") is named


def test_an_object_in_another_users_folder_is_never_read():
    def read():
        raise AssertionError("read")

    assert forget.archived_object_is_users("r/user_key=user-2/a.json", read, "user-1") is False
    assert forget.archived_object_is_users("r/user_key=user-1/a.json", read, "user-1") is True
    assert forget.archived_object_is_users("r/a.json", lambda: b"user-1", "user-1") is True
    assert forget.archived_object_is_users("r/a.gz", lambda: b"not gzip user-1", "user-1") is True


def test_the_survey_lists_everything_and_changes_nothing(world):
    store, bq, dl, archive, _ = world
    before = (files(dl), files(archive), dict(bq.tables))

    found = forget.survey(bq, DATASET, "user-1", store, str(dl), str(archive))

    assert found == forget.Findings(
        user_key="user-1",
        token_present=True,
        withdrawn_at=None,
        rows={"steps": 2, "sleep": 1, "user_profile": 0, "load_windows": 1},
        missing_tables=tuple(t for t in ALL_TABLES if t not in bq.tables),
        view_rows={
            "load_windows_current": 1,
            "sleep_current": 1,
            "steps_current": 2,
            "user_profile_current": 0,
        },
        dead_letter_files=(
            forget.DeadLetterFile("run-a/dead-letters-00000-of-00001.jsonl", 6, 3),
            forget.DeadLetterFile("run-b/dead-letters-x.jsonl", 2, 2),
        ),
        archive_objects=("old/b.json.gz", "responses/user_key=user-1/steps/a.json"),
    )
    assert (files(dl), files(archive), bq.tables) == before
    assert all("user-1" not in sql for sql in bq.sql)
    assert len(bq.sql) == 2  # the tables in one query, the views in another


def test_views_are_counted_only_where_a_table_holds_the_users_rows(world):
    store, bq, *_ = world
    bq.views.update({"participant_days": "steps", "no_user_key": "steps"})

    found = forget.survey(bq, DATASET, "user-1", store)
    assert found.view_rows == {
        "load_windows_current": 1,
        "participant_days": 2,
        "sleep_current": 1,
        "steps_current": 2,
        "user_profile_current": 0,  # its table holds none of theirs: not queried
    }
    assert [sql.count("UNION ALL") for sql in bq.sql] == [3, 2, 0, 0]

    bq.sql.clear()
    nobody = forget.survey(bq, DATASET, "user-99", store)
    assert (nobody.total_rows, set(nobody.view_rows.values())) == (0, {0})
    assert len(bq.sql) == 1  # the tables only
    assert nobody.nothing


def test_the_dry_run_prints_what_would_go_and_exits_0(world, capsys):
    store, bq, dl, archive, tmp_path = world
    out = io.StringIO()
    code = command.main(
        [
            "--user=user-1",
            f"--dataset={DATASET}",
            f"--token_store={store.root}",
            f"--dead_letter_root={dl}",
            f"--archive_root={archive}",
        ],
        client=bq,
        out=out,
        revoke=lambda *a: pytest.fail("a dry run revoked"),
    )
    assert code == 0
    text = out.getvalue()
    assert text.splitlines()[:9] == [
        "fitbeam forget: dry run for user-1; nothing is changed (add --execute):",
        "  token:         in the token store (its grant is revoked, then it is deleted)",
        "  rows:          4 in 3 of 4 tables",
        f"    {'steps':<34} {2:>8}",
        f"    {'sleep':<34} {1:>8}",
        f"    {'load_windows':<34} {1:>8}",
        f"    (not in the dataset: {', '.join(t for t in ALL_TABLES if t not in bq.tables)})",
        "  rows in views: 4 in 3 views (gone with the rows)",
        f"    {'load_windows_current':<34} {1:>8}",
    ]
    assert (
        f"  dead letters:  5 lines in 2 files under {dl} (1 files would be left empty and deleted)"
        in text
    )
    assert "    run-a/dead-letters-00000-of-00001.jsonl: 3 of 6 lines" in text
    assert f"  archived:      2 objects under {archive}" in text
    assert store.load("user-1") == TOKEN
    assert not (tmp_path / "forget-audit").exists()


def test_execute_removes_the_users_lines_and_keeps_the_others_byte_for_byte(world):
    store, bq, dl, archive, tmp_path = world
    original = (dl / "run-a" / "dead-letters-00000-of-00001.jsonl").read_bytes().splitlines(True)
    revoked = []

    record, path = forget.forget(
        bq,
        DATASET,
        "user-1",
        store,
        operator="coordinator",
        audit_root=str(tmp_path / "audit"),
        dead_letter_root=str(dl),
        archive_root=str(archive),
        revoke=lambda token, url: revoked.append((token, url)) or oauth.REVOKED,
        clock=lambda: NOW,
    )

    assert revoked == [(TOKEN, oauth.GOOGLE_REVOKE_URL)]
    assert files(dl) == {
        "run-a/dead-letters-00000-of-00001.jsonl": original[1] + original[3] + original[5],
        "run-b/notes.txt": b"user-1 is not a dead letter file",  # not a dead-letter file
    }
    assert sorted(files(archive)) == ["old/c.json", "responses/user_key=user-10/steps/a.json"]
    assert bq.tables == {
        "steps": ["user-10", "user-2"],
        "sleep": [],
        "user_profile": ["user-10"],
        "load_windows": ["user-2"],
    }
    assert store.load("user-1") is None
    assert store.withdrawal("user-1") == "2026-12-06T11:30:00Z"
    assert store.load("user-10") == TOKEN
    assert record == forget.AuditRecord(
        user_key_sha256=hashlib.sha256(b"user-1").hexdigest(),
        operator="coordinator",
        started_at="2026-12-06T11:30:00Z",
        finished_at="2026-12-06T11:30:00Z",
        dataset=DATASET,
        revoke="revoked",
        revoke_endpoint=oauth.GOOGLE_REVOKE_URL,
        rows_deleted={"steps": 2, "sleep": 1, "user_profile": 0, "load_windows": 1},
        dead_letter_lines_removed=5,
        dead_letter_files_rewritten=1,
        dead_letter_files_deleted=1,
        archive_objects_removed=2,
        token_deleted=True,
        withdrawn_at="2026-12-06T11:30:00Z",
        remaining={
            "rows": 0,
            "view_rows": 0,
            "dead_letter_lines": 0,
            "archive_objects": 0,
            "token": 0,
        },
        errors=[],
        complete=True,
    )
    digest = hashlib.sha256(b"user-1").hexdigest()
    assert path == str(tmp_path / "audit" / f"forget-20261206T113000Z-{digest[:16]}.json")
    assert json.loads((tmp_path / "audit" / path.rsplit("/", 1)[1]).read_text()) == (
        dataclasses.asdict(record)
    )
    assert list(forget.audit_records(str(tmp_path / "audit"), "user-1")) == [
        dataclasses.asdict(record)
    ]
    assert all("user-1" not in sql for sql in bq.sql)


def test_no_file_holds_the_key_afterwards_not_even_the_audit_record_or_the_store(world):
    store, bq, dl, archive, tmp_path = world
    forget.forget(
        bq,
        DATASET,
        "user-1",
        store,
        operator="coordinator",
        audit_root=str(tmp_path / "audit"),
        dead_letter_root=str(dl),
        archive_root=str(archive),
        revoke=lambda token, url: oauth.REVOKED,
    )
    holding = [
        str(p.relative_to(tmp_path))
        for p in tmp_path.rglob("*")
        if forget.names_key(str(p.relative_to(tmp_path)), "user-1")
        or (p.is_file() and forget.names_key(p.read_bytes().decode("utf-8", "replace"), "user-1"))
    ]
    assert holding == ["dead-letters/run-b/notes.txt"]  # not a dead-letter file: left alone


def test_a_failed_revoke_deletes_nothing(world):
    store, bq, dl, archive, tmp_path = world
    before = (files(dl), files(archive), {k: list(v) for k, v in bq.tables.items()})

    def down(token, url):
        raise oauth.RevokeFailed("the revocation endpoint answered HTTP 503", 503, True)

    out = io.StringIO()
    code = command.main(
        [
            "--user=user-1",
            f"--dataset={DATASET}",
            f"--token_store={store.root}",
            f"--dead_letter_root={dl}",
            f"--archive_root={archive}",
            "--execute",
        ],
        client=bq,
        out=out,
        revoke=down,
    )

    assert code == 1
    assert (files(dl), files(archive), bq.tables) == before
    assert store.load("user-1") == TOKEN
    assert store.withdrawal("user-1") is None
    assert not (tmp_path / "forget-audit").exists()


def test_a_table_that_cannot_be_deleted_from_is_said_and_the_rest_goes(world, capsys):
    store, bq, dl, _, tmp_path = world
    bq.fail_delete = {"steps"}
    out = io.StringIO()
    code = command.main(
        [
            "--user=user-1",
            f"--dataset={DATASET}",
            f"--token_store={store.root}",
            f"--dead_letter_root={dl}",
            "--execute",
        ],
        client=bq,
        out=out,
        revoke=lambda token, url: oauth.ALREADY_REVOKED,
    )
    assert code == 1
    err = capsys.readouterr().err
    assert (
        "fitbeam forget: user-1: not removed: rows of steps: RuntimeError: UPDATE or DELETE "
        "over steps would affect rows in the streaming buffer"
    ) in err
    assert "still found afterwards: {'rows': 2, 'view_rows': 2}" in err
    assert bq.tables["sleep"] == []
    assert store.load("user-1") is None
    (audit,) = (tmp_path / "forget-audit").iterdir()
    record = json.loads(audit.read_text())
    assert record["complete"] is False
    assert record["revoke"] == "already_revoked"
    assert record["rows_deleted"] == {"sleep": 1, "user_profile": 0, "load_windows": 1}


def test_a_second_forget_finds_nothing_and_says_so(world):
    store, bq, dl, archive, tmp_path = world
    argv = [
        "--user=user-1",
        f"--dataset={DATASET}",
        f"--token_store={store.root}",
        f"--dead_letter_root={dl}",
        f"--archive_root={archive}",
        "--execute",
    ]
    assert command.main(argv, client=bq, out=io.StringIO(), revoke=lambda t, u: "revoked") == 0
    out = io.StringIO()
    assert command.main(argv, client=bq, out=out, revoke=lambda t, u: pytest.fail("revoked")) == 0
    assert out.getvalue().splitlines()[0] == (
        "fitbeam forget: nothing of user-1 found; the withdrawal is recorded"
    )
    second = sorted((tmp_path / "forget-audit").iterdir())[-1]
    record = json.loads(second.read_text())
    assert (record["revoke"], record["token_deleted"], sum(record["rows_deleted"].values())) == (
        "no_token",
        False,
        0,
    )


@pytest.mark.parametrize(
    ("root", "audit"),
    [
        ("gs://bucket/dead-letters", "gs://bucket/forget-audit"),
        ("gs://bucket/x/dead-letters/", "gs://bucket/x/forget-audit"),
        ("gs://bucket", ""),
        ("/var/fitbeam/dead-letters", "/var/fitbeam/forget-audit"),
        ("", ""),
    ],
)
def test_the_audit_goes_beside_the_dead_letters_by_default(root, audit):
    assert command.default_audit_root(root) == audit


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--user=../x", "--dataset=my-project:fitbit"], "invalid user key"),
        (["--user=u1", "--dataset=fitbit"], "is not PROJECT:DATASET; e.g. my-project:fitbit"),
        (
            ["--user=u1", "--dataset=my-project:fitbit", "--execute"],
            "--audit_root is needed",
        ),
        (
            ["--user=u1", "--dataset=my-project:fitbit", "--revoke_url=http://example.com/r"],
            "must use https",
        ),
    ],
)
def test_bad_flags_exit_2_naming_the_fix(tmp_path, capsys, argv, message):
    code = command.main([*argv, f"--token_store={tmp_path}"], client=object())
    assert code == 2
    assert message in capsys.readouterr().err
