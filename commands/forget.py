"""`fitbeam forget`: a participant withdraws consent; everything fitbeam holds of them goes.

A dry run by default: it lists what would go (the token, rows per table and
per view, dead-letter lines and files, archived responses) and changes nothing.
With `--execute` it revokes the grant, deletes the rows, rewrites the
dead-letter files without the participant's lines, deletes their archived
responses, deletes the token and records the withdrawal, then writes an audit
record that names the participant by the SHA-256 of their key only
(`study.forget`; docs/forget.md).

    fitbeam forget --user participant-017 --dataset my-project:fitbit \\
        --token_store secretmanager://my-project/fitbeam \\
        --dead_letter_root gs://my-bucket/dead-letters            # dry run
    fitbeam forget ... --execute

Exit status: 0 done (or a dry run), 1 something could not be removed (said
which; run it again), 2 a bad flag.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from healthapi.auth import oauth
from healthapi.auth.store import check_user_key, token_store_from_uri
from study import forget
from study.days import bigquery_client

AUDIT_FOLDER = "forget-audit"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fitbeam forget", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--user", required=True, help="The participant's key, e.g. participant-017."
    )
    parser.add_argument(
        "--dataset", required=True, help=f"The BigQuery dataset, e.g. {forget.DATASET_EXAMPLE}."
    )
    parser.add_argument(
        "--token_store",
        required=True,
        help="Where tokens live, e.g. file:///var/fitbeam/tokens or secretmanager://my-project/fitbeam.",
    )
    parser.add_argument(
        "--dead_letter_root",
        default="",
        help="The runs' dead-letter folder, e.g. gs://my-bucket/dead-letters.",
    )
    parser.add_argument(
        "--archive_root",
        default="",
        help="Archived API responses, e.g. gs://my-bucket/archive (objects under "
        "user_key=KEY/ folders, or naming the key).",
    )
    parser.add_argument(
        "--audit_root",
        default="",
        help="Where the audit record goes, e.g. gs://my-bucket/forget-audit. Default: "
        f"{AUDIT_FOLDER} beside --dead_letter_root.",
    )
    parser.add_argument(
        "--revoke_url",
        default=oauth.GOOGLE_REVOKE_URL,
        help=f"The OAuth revocation endpoint (default {oauth.GOOGLE_REVOKE_URL}); a local "
        "simulator's /revoke for tests.",
    )
    parser.add_argument(
        "--operator",
        default="",
        help="Who runs this, for the audit record (default: $USER).",
    )
    parser.add_argument(
        "--execute",
        action="store_true",
        help="Remove for real; without it, only list what would go.",
    )
    return parser


def default_audit_root(dead_letter_root: str) -> str:
    """`forget-audit` beside the dead-letter folder, or "" when it has no parent."""
    root = dead_letter_root.rstrip("/")
    if root.startswith("gs://"):
        bucket_and_path = root[len("gs://") :]
        if "/" not in bucket_and_path:
            return ""
        return f"gs://{bucket_and_path.rsplit('/', 1)[0]}/{AUDIT_FOLDER}"
    parent = os.path.dirname(os.path.abspath(root)) if root else ""
    return os.path.join(parent, AUDIT_FOLDER) if parent else ""


def _operator(value: str) -> str:
    if value:
        return value
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def main(argv: list[str] | None = None, client=None, out=sys.stdout, revoke=oauth.revoke) -> int:
    """Runs `fitbeam forget`; returns the exit status.

    Args:
        argv: the command line after `forget`.
        client: a BigQuery client (test seam; default: one for the dataset's project).
        out: where the outcome is printed.
        revoke: ends the grant (test seam).
    """
    args = build_parser().parse_args(argv)
    try:
        user = check_user_key(args.user)
        project, _ = forget.parse_dataset(args.dataset)
        store = token_store_from_uri(args.token_store)
        if args.revoke_url != oauth.GOOGLE_REVOKE_URL:
            oauth.check_transport(args.revoke_url)
        audit_root = args.audit_root or default_audit_root(args.dead_letter_root)
        if args.execute and not audit_root:
            raise ValueError(
                "--audit_root is needed (--dead_letter_root has no folder above it to put "
                "forget-audit in), e.g. --audit_root gs://my-bucket/forget-audit"
            )
    except ValueError as err:
        print(f"fitbeam forget: {err}", file=sys.stderr)
        return 2
    client = client or bigquery_client(project)
    dead_letter_root = args.dead_letter_root or None
    archive_root = args.archive_root or None
    findings = forget.survey(client, args.dataset, user, store, dead_letter_root, archive_root)
    listing = forget.describe(
        findings, dead_letter_root=dead_letter_root, archive_root=archive_root
    )
    if not args.execute:
        if findings.nothing:
            print(f"fitbeam forget: nothing of {user} found (dry run)", file=out)
        else:
            print(
                f"fitbeam forget: dry run for {user}; nothing is changed (add --execute):", file=out
            )
        print(listing, file=out)
        return 0
    if findings.nothing:
        print(f"fitbeam forget: nothing of {user} found; the withdrawal is recorded", file=out)
    else:
        print(f"fitbeam forget: removing what fitbeam holds of {user}:", file=out)
    print(listing, file=out)
    try:
        record, path = forget.forget(
            client,
            args.dataset,
            user,
            store,
            operator=_operator(args.operator),
            audit_root=audit_root,
            dead_letter_root=dead_letter_root,
            archive_root=archive_root,
            revoke_url=args.revoke_url,
            revoke=revoke,
            findings=findings,
        )
    except forget.RevokeStopped as err:
        print(
            f"fitbeam forget: {user}: {err}. Nothing was deleted; run this again once the "
            "revocation endpoint answers",
            file=sys.stderr,
        )
        return 1
    deleted = sum(record.rows_deleted.values())
    print(f"  grant:         {record.revoke.replace('_', ' ')}", file=out)
    print(f"  rows deleted:  {deleted}", file=out)
    print(
        f"  dead letters:  {record.dead_letter_lines_removed} lines removed "
        f"({record.dead_letter_files_rewritten} files rewritten, "
        f"{record.dead_letter_files_deleted} deleted)",
        file=out,
    )
    print(f"  archived:      {record.archive_objects_removed} objects deleted", file=out)
    print(
        f"  token:         {'deleted' if record.token_deleted else 'none'}; withdrawal "
        f"recorded on {record.withdrawn_at}",
        file=out,
    )
    print(f"  audit record:  {path} (user_key_sha256 {record.user_key_sha256})", file=out)
    if record.complete:
        return 0
    for error in record.errors:
        print(f"fitbeam forget: {user}: not removed: {error}", file=sys.stderr)
    left = {k: v for k, v in record.remaining.items() if v}
    if left:
        print(f"fitbeam forget: {user}: still found afterwards: {left}", file=sys.stderr)
    print(
        f"fitbeam forget: {user}: run this again to remove the rest (rows streamed into "
        "BigQuery in the last 30 minutes cannot be deleted before then)",
        file=sys.stderr,
    )
    return 1
