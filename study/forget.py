"""Consent withdrawal: find everything fitbeam holds of one participant, and remove it.

`survey` finds, without changing anything, what `fitbeam forget` would remove:
the token in the store, the rows of every table (and how many rows each view
shows), the participant's lines in the dead-letter files and their archived
responses. `forget` removes them, in this order:

1. revokes the grant at the revocation endpoint with the stored token (a
   network error or a 5xx stops here, before anything is deleted;
   `invalid_token` means it was revoked already, and the rest goes on);
2. deletes the rows of every table of `schemas.bigquery.ALL_TABLES`
   (`DELETE ... WHERE user_key = @user_key`, the key a query parameter);
3. rewrites every dead-letter file (`*.jsonl`) without the participant's lines,
   and deletes a file left empty;
4. deletes the archived responses that are theirs (`archived_object_is_users`);
5. deletes the token and records the withdrawal in the token store, so later
   requests for them are refused (`CONSENT_WITHDRAWN` dead letters) until they
   consent again;
6. surveys again, and writes an audit record (`AuditRecord`) that names the
   participant only by the SHA-256 of their key.

A line or object is the participant's when it names their key as a whole word
(`names_key`): `user-1` does not match inside `user-10`. Files are read and
written through `study.files.Root` (gs:// or local). Beam-free.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gzip
import json
import logging
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from healthapi.auth import oauth
from healthapi.auth.store import TokenStore, check_user_key, key_digest
from schemas.bigquery import ALL_TABLES
from study.files import Root

_LOGGER = logging.getLogger(__name__)

# What the revocation step found (AuditRecord.revoke).
REVOKE_NO_TOKEN = "no_token"  # noqa: S105 - an outcome, not a secret; nothing in the store to revoke with
AUDIT_VERSION = 1
# The characters of a user key (healthapi.auth.store.check_user_key): a key is named where
# it stands between other characters.
_KEY_CHAR = "A-Za-z0-9._-"
_PROJECT = re.compile(r"[a-z][a-z0-9-]{4,61}[a-z0-9]")
_DATASET = re.compile(r"[A-Za-z0-9_]{1,1024}")
DATASET_EXAMPLE = "my-project:fitbit"


def key_pattern(user_key: str) -> re.Pattern:
    """A pattern that finds the key as a whole word: `user-1` in `"user-1"`, not in `user-10`."""
    key = re.escape(check_user_key(user_key))
    return re.compile(rf"(?<![{_KEY_CHAR}]){key}(?![{_KEY_CHAR}])")


def names_key(text: str, user_key: str) -> bool:
    """Whether `text` names the key as a whole word."""
    return key_pattern(user_key).search(text) is not None


def parse_dataset(value: str) -> tuple[str, str]:
    """`(project, dataset)` from `project:dataset`.

    Raises:
        ValueError: naming the value and a good example.
    """
    project, sep, dataset = (value or "").partition(":")
    if not sep or not _PROJECT.fullmatch(project) or not _DATASET.fullmatch(dataset):
        raise ValueError(
            f"--dataset {str(value)[:80]!r} is not PROJECT:DATASET; e.g. {DATASET_EXAMPLE}"
        )
    return project, dataset


# -- what there is -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DeadLetterFile:
    """A dead-letter file that holds some of the participant's lines."""

    path: str  # relative to the dead-letter root
    lines: int  # lines in the file
    users_lines: int  # of them the participant's


@dataclasses.dataclass(frozen=True)
class Findings:
    """What fitbeam holds of one participant (`survey`). Printed by a dry run."""

    user_key: str
    token_present: bool
    withdrawn_at: str | None
    rows: dict[str, int]  # table -> the participant's rows, every table of the dataset
    missing_tables: tuple[str, ...]  # tables of ALL_TABLES that the dataset does not have
    view_rows: dict[str, int]  # view -> the participant's rows it shows
    dead_letter_files: tuple[DeadLetterFile, ...]
    archive_objects: tuple[str, ...]  # relative to the archive root

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def dead_letter_lines(self) -> int:
        return sum(f.users_lines for f in self.dead_letter_files)

    @property
    def nothing(self) -> bool:
        """Nothing of the participant is left anywhere fitbeam looked."""
        return not (
            self.token_present
            or self.total_rows
            or any(self.view_rows.values())
            or self.dead_letter_files
            or self.archive_objects
        )


def _table_ref(project: str, dataset: str, table: str) -> str:
    return f"`{project}.{dataset}.{table}`"


def _user_query(client, sql: str, user_key: str):
    from google.cloud import bigquery

    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("user_key", "STRING", user_key)]
    )
    return client.query(sql, job_config=config)


def _count(client, ref: str, user_key: str) -> int:
    sql = f"SELECT COUNT(*) AS n FROM {ref} WHERE user_key = @user_key"  # noqa: S608
    return int(next(iter(_user_query(client, sql, user_key).result()))["n"])


def _counts(client, project: str, dataset: str, names: list[str], user_key: str) -> dict:
    """The participant's rows in each named table or view, in one query (UNION ALL)."""
    if not names:
        return {}
    parts = [
        f"SELECT '{name}' AS name, COUNT(*) AS n FROM {_table_ref(project, dataset, name)} "  # noqa: S608
        "WHERE user_key = @user_key"
        for name in names
    ]
    rows = _user_query(client, "\nUNION ALL\n".join(parts), user_key).result()
    found = {row["name"]: int(row["n"]) for row in rows}
    return {name: found[name] for name in names}


# Table and view names come from the dataset's listing into SQL text: only plain ones.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,1023}")


def _dataset_objects(client, project: str, dataset: str) -> tuple[set[str], list[str]]:
    """(table names, view names) in the dataset."""
    tables, views = set(), []
    for item in client.list_tables(f"{project}.{dataset}"):
        if not _NAME.fullmatch(item.table_id or ""):
            _LOGGER.warning("%r in %s is not counted: not a plain name", item.table_id, dataset)
        elif (item.table_type or "").upper() == "VIEW":
            views.append(item.table_id)
        else:
            tables.add(item.table_id)
    return tables, sorted(views)


def count_rows(client, project: str, dataset: str, user_key: str) -> tuple[dict, tuple, dict]:
    """The participant's rows: per table of ALL_TABLES the dataset has, per view.

    The tables in one query. A `<table>_current` view shows rows of its table only,
    so only the views of tables that hold some of the participant's rows are counted
    (in one query), the others are 0; any other view (`participant_days`, a team's
    own) is counted on its own when some table holds their rows, and left out when
    it has no `user_key` column.

    Returns:
        (rows per table, tables of ALL_TABLES missing, rows per view).
    """
    tables, views = _dataset_objects(client, project, dataset)
    present = [t for t in ALL_TABLES if t in tables]
    rows = _counts(client, project, dataset, present, user_key)
    missing = tuple(t for t in ALL_TABLES if t not in tables)
    held = {f"{t}_current" for t, n in rows.items() if n}
    known = [v for v in views if v in {f"{t}_current" for t in ALL_TABLES}]
    view_rows = dict.fromkeys(known, 0)
    view_rows.update(_counts(client, project, dataset, [v for v in known if v in held], user_key))
    for view in views:
        if view in view_rows or not held:
            continue
        try:
            view_rows[view] = _count(client, _table_ref(project, dataset, view), user_key)
        except Exception as err:  # a view without user_key: not the participant's to hold
            _LOGGER.info("view %s not counted: %s", view, type(err).__name__)
    return rows, missing, dict(sorted(view_rows.items()))


def _is_users_line(line: bytes, pattern: re.Pattern, user_key: str) -> bool:
    """A dead-letter line is the participant's when its user_key is theirs or it names them."""
    text = line.decode("utf-8", "replace")
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    if isinstance(record, dict) and record.get("user_key") == user_key:
        return True
    return pattern.search(text) is not None


def _split_lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def scan_dead_letters(root: Root, user_key: str) -> tuple[DeadLetterFile, ...]:
    """Every `*.jsonl` file under the root that holds some of the participant's lines."""
    pattern = key_pattern(user_key)
    found = []
    for path in root.list(".jsonl"):
        lines = _split_lines(root.read(path))
        mine = sum(_is_users_line(line, pattern, user_key) for line in lines)
        if mine:
            found.append(DeadLetterFile(path, len(lines), mine))
    return tuple(found)


def archived_object_is_users(path: str, read: Callable[[], bytes], user_key: str) -> bool:
    """Whether an archived response is the participant's.

    The layout expected of the raw archive: each response under a folder
    `user_key=<KEY>` somewhere in its path (`<root>/.../user_key=<KEY>/...`, the Hive
    style BigQuery external tables read). A path with such a folder is the
    participant's when the key is theirs and never read; otherwise the object is
    read (gunzipped when it ends in `.gz`) and is theirs when it names their key.
    """
    segments = path.split("/")
    named = [s[len("user_key=") :] for s in segments if s.startswith("user_key=")]
    if named:
        return user_key in named
    data = read()
    if path.endswith(".gz"):
        with contextlib.suppress(OSError, EOFError):  # not gzip after all: read as it is
            data = gzip.decompress(data)
    return names_key(data.decode("utf-8", "replace"), user_key)


def scan_archive(root: Root, user_key: str) -> tuple[str, ...]:
    """The archived objects under the root that are the participant's."""
    return tuple(
        path
        for path in root.list()
        if archived_object_is_users(path, lambda p=path: root.read(p), user_key)
    )


def survey(
    client,
    dataset: str,
    user_key: str,
    store: TokenStore,
    dead_letter_root: str | None = None,
    archive_root: str | None = None,
) -> Findings:
    """Finds what fitbeam holds of the participant; changes nothing.

    Raises:
        ValueError: a bad user key or dataset.
    """
    check_user_key(user_key)
    project, name = parse_dataset(dataset)
    rows, missing, view_rows = count_rows(client, project, name, user_key)
    return Findings(
        user_key=user_key,
        token_present=store.load(user_key) is not None,
        withdrawn_at=store.withdrawal(user_key),
        rows=rows,
        missing_tables=missing,
        view_rows=view_rows,
        dead_letter_files=scan_dead_letters(Root(dead_letter_root), user_key)
        if dead_letter_root
        else (),
        archive_objects=scan_archive(Root(archive_root), user_key) if archive_root else (),
    )


def describe(findings: Findings, *, dead_letter_root: str | None, archive_root: str | None) -> str:
    """What a dry run prints: what would go, where, and how much."""
    f = findings
    out = []
    if f.token_present:
        out.append("  token:         in the token store (its grant is revoked, then it is deleted)")
    else:
        out.append("  token:         none in the token store (nothing to revoke)")
    if f.withdrawn_at:
        out.append(f"  withdrawal:    recorded on {f.withdrawn_at}")
    counted = sum(1 for n in f.rows.values() if n)
    out.append(f"  rows:          {f.total_rows} in {counted} of {len(f.rows)} tables")
    out.extend(f"    {table:<34} {n:>8}" for table, n in f.rows.items() if n)
    if f.missing_tables:
        out.append(f"    (not in the dataset: {', '.join(f.missing_tables)})")
    shown = {v: n for v, n in f.view_rows.items() if n}
    out.append(f"  rows in views: {sum(shown.values())} in {len(shown)} views (gone with the rows)")
    out.extend(f"    {view:<34} {n:>8}" for view, n in shown.items())
    if dead_letter_root:
        emptied = sum(1 for d in f.dead_letter_files if d.users_lines == d.lines)
        out.append(
            f"  dead letters:  {f.dead_letter_lines} lines in {len(f.dead_letter_files)} files "
            f"under {dead_letter_root} ({emptied} files would be left empty and deleted)"
        )
        out.extend(f"    {d.path}: {d.users_lines} of {d.lines} lines" for d in f.dead_letter_files)
    else:
        out.append("  dead letters:  not looked at (no --dead_letter_root)")
    if archive_root:
        out.append(f"  archived:      {len(f.archive_objects)} objects under {archive_root}")
        out.extend(f"    {path}" for path in f.archive_objects)
    else:
        out.append("  archived:      not looked at (no --archive_root)")
    return "\n".join(out)


# -- removing it ---------------------------------------------------------------------


@dataclasses.dataclass
class AuditRecord:
    """What `fitbeam forget --execute` did: no key, no health data, no token.

    The participant is named by `user_key_sha256` only: after forget, no file
    may hold their key. Whoever holds the key can find the record by hashing it
    (`printf %s KEY | sha256sum`).
    """

    user_key_sha256: str
    operator: str
    started_at: str  # UTC, RFC 3339
    finished_at: str = ""
    dataset: str = ""
    revoke: str = ""  # revoked | already_revoked | no_token | failed
    revoke_endpoint: str = ""
    rows_deleted: dict[str, int] = dataclasses.field(default_factory=dict)
    dead_letter_lines_removed: int = 0
    dead_letter_files_rewritten: int = 0
    dead_letter_files_deleted: int = 0
    archive_objects_removed: int = 0
    token_deleted: bool = False
    withdrawn_at: str = ""
    remaining: dict[str, int] = dataclasses.field(default_factory=dict)
    errors: list[str] = dataclasses.field(default_factory=list)
    complete: bool = False
    version: int = AUDIT_VERSION

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _without_key(text: str, user_key: str) -> str:
    """An error message with the key taken out (object paths can hold it)."""
    return key_pattern(user_key).sub("<participant>", text)[:300]


class RevokeStopped(Exception):
    """Revoking the grant failed; nothing was deleted."""


def _delete_rows(client, project, dataset, findings, record: AuditRecord) -> None:
    for table, before in findings.rows.items():
        if not before:
            record.rows_deleted[table] = 0
            continue
        ref = _table_ref(project, dataset, table)
        sql = f"DELETE FROM {ref} WHERE user_key = @user_key"  # noqa: S608 - a parameter
        try:
            job = _user_query(client, sql, findings.user_key)
            job.result()
        except Exception as err:  # the streaming buffer, permissions: said, then the rest
            why = _without_key(str(err), findings.user_key)
            record.errors.append(f"rows of {table}: {type(err).__name__}: {why}")
            continue
        affected = getattr(job, "num_dml_affected_rows", None)
        record.rows_deleted[table] = int(affected) if affected is not None else before


def _rewrite_dead_letters(root: Root, findings: Findings, record: AuditRecord) -> None:
    pattern = key_pattern(findings.user_key)
    for found in findings.dead_letter_files:
        try:
            lines = _split_lines(root.read(found.path))
            kept = [ln for ln in lines if not _is_users_line(ln, pattern, findings.user_key)]
            if kept:
                root.write(found.path, b"".join(kept), content_type="application/x-ndjson")
                record.dead_letter_files_rewritten += 1
            else:
                _delete(root, found.path)
                record.dead_letter_files_deleted += 1
            record.dead_letter_lines_removed += len(lines) - len(kept)
        except Exception as err:
            record.errors.append(
                f"dead letters {_without_key(found.path, findings.user_key)}: {type(err).__name__}"
            )


def _delete(root: Root, path: str) -> None:
    """Deletes an object; in a local folder, also the folders it leaves empty (their names
    can hold the key: `user_key=<KEY>/`)."""
    root.delete(path)
    if root.is_gcs:
        return
    folder = (Path(root.uri) / path).parent
    top = Path(root.uri)
    while folder != top and top in folder.parents:
        try:
            folder.rmdir()  # only when empty
        except OSError:
            return
        folder = folder.parent


def _delete_archived(root: Root, findings: Findings, record: AuditRecord) -> None:
    for path in findings.archive_objects:
        try:
            _delete(root, path)
            record.archive_objects_removed += 1
        except Exception as err:
            record.errors.append(f"an archived object: {type(err).__name__}")


def forget(
    client,
    dataset: str,
    user_key: str,
    store: TokenStore,
    *,
    operator: str,
    audit_root: str,
    dead_letter_root: str | None = None,
    archive_root: str | None = None,
    revoke_url: str = oauth.GOOGLE_REVOKE_URL,
    revoke: Callable[..., str] = oauth.revoke,
    clock: Callable[[], dt.datetime] = utc_now,
    findings: Findings | None = None,
) -> tuple[AuditRecord, str]:
    """Removes everything of the participant, in the module docstring's order.

    Args:
        client: a google.cloud.bigquery.Client.
        dataset: `project:dataset`.
        user_key: the participant.
        store: the token store.
        operator: who runs it (for the audit record).
        audit_root: where the audit record goes (gs:// or local).
        dead_letter_root, archive_root: where to look for their files (None: not looked at).
        revoke_url: the revocation endpoint.
        revoke: `(token, revoke_url) -> outcome` (test seam).
        clock: the UTC time now (test seam).
        findings: a survey already made (else one is made).

    Returns:
        (the audit record, the path it was written to).

    Raises:
        RevokeStopped: revoking failed; nothing was deleted and no record written.
        ValueError: a bad user key or dataset.
    """
    started = clock()
    project, name = parse_dataset(dataset)
    findings = findings or survey(client, dataset, user_key, store, dead_letter_root, archive_root)
    record = AuditRecord(
        user_key_sha256=key_digest(user_key),
        operator=operator,
        started_at=rfc3339(started),
        dataset=dataset,
        revoke_endpoint=revoke_url,
    )
    token = store.load(user_key)
    if token is None:
        record.revoke = REVOKE_NO_TOKEN
    else:
        try:
            record.revoke = revoke(token, revoke_url)
        except (oauth.RevokeFailed, ValueError) as err:
            raise RevokeStopped(f"revoking the grant failed: {err}") from None
    _delete_rows(client, project, name, findings, record)
    if dead_letter_root:
        _rewrite_dead_letters(Root(dead_letter_root), findings, record)
    if archive_root:
        _delete_archived(Root(archive_root), findings, record)
    withdrawn_at = findings.withdrawn_at or rfc3339(started)
    record.token_deleted = store.delete(user_key)
    store.mark_withdrawn(user_key, withdrawn_at)
    record.withdrawn_at = withdrawn_at
    after = survey(client, dataset, user_key, store, dead_letter_root, archive_root)
    record.remaining = {
        "rows": after.total_rows,
        "view_rows": sum(after.view_rows.values()),
        "dead_letter_lines": after.dead_letter_lines,
        "archive_objects": len(after.archive_objects),
        "token": int(after.token_present),
    }
    record.complete = not record.errors and not any(record.remaining.values())
    record.finished_at = rfc3339(clock())
    path = audit_name(started, record.user_key_sha256)
    Root(audit_root).write(path, record.to_json().encode("utf-8"))
    return record, Root(audit_root).url(path)


def audit_name(started: dt.datetime, digest: str) -> str:
    """The audit record's file name: when, and the first 16 hex digits of the key's hash."""
    return f"forget-{started.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{digest[:16]}.json"


def audit_records(root: str, user_key: str) -> Iterable[dict]:
    """The audit records of one participant under a root, oldest first (found by hash)."""
    digest = key_digest(user_key)
    store = Root(root)
    for path in store.list(".json"):
        if path.endswith(f"-{digest[:16]}.json"):
            record = json.loads(store.read(path))
            if record.get("user_key_sha256") == digest:
                yield record
