"""`fitbeam status`: every participant now, who needs attention first.

    fitbeam status --dataset my-project:fitbit \\
        --token_store secretmanager://my-project/fitbeam \\
        --dead_letter_root gs://my-bucket/dead-letters

prints one line per participant: consent, last successful load, last device
sync and battery, days with data and valid days of the last 7 and 30
complete days, open dead letters, and why they need attention (most urgent
first). `--json` writes a JSON document for scripts instead:
`{"generated_at", "valid_day_minutes", "participants": [...]}`, one object
per participant with the fields of `study.model.ParticipantStatus`.

`--valid_day_hours` sets the valid-day rule (10 hours worn by default). What
each column means is in docs/study.md. `BIGQUERY_EMULATOR_HOST` points it at
the local emulator. Exit status: 0 when it printed, 1 when BigQuery or the
token store refused, 2 for a bad flag.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys

from study import days as study_days
from study import status as study_status
from study.model import DEFAULT_VALID_DAY_MINUTES, ParticipantStatus

_LOGGER = logging.getLogger(__name__)

PROG = "fitbeam status"
EXIT_OK, EXIT_FAILED, EXIT_BAD_OPTIONS = 0, 1, 2
COLUMNS = (
    "user",
    "consent",
    "last load",
    "last sync",
    "battery",
    "data 7d/30d",
    "valid 7d/30d",
    "dead letters",
    "attention",
)


class _Parser(argparse.ArgumentParser):
    """Bad flags: one line on stderr and exit status 2."""

    def error(self, message: str):
        self.exit(EXIT_BAD_OPTIONS, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument(
        "--dataset", required=True, help=f"PROJECT:DATASET, e.g. {study_days.DATASET_EXAMPLE}"
    )
    parser.add_argument(
        "--token_store",
        help="where tokens live, for consent: e.g. secretmanager://my-project/fitbeam or "
        "file:///var/fitbeam/tokens; without it consent is read from dead letters alone",
    )
    parser.add_argument(
        "--dead_letter_root",
        help="the runs' dead-letter folder, e.g. gs://my-bucket/dead-letters",
    )
    parser.add_argument(
        "--valid_day_hours",
        type=float,
        default=DEFAULT_VALID_DAY_MINUTES / 60,
        help="hours worn that make a valid day (default 10, a common rule; not a standard)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    return parser


def _when(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M") if moment else "-"


def _battery(status: ParticipantStatus) -> str:
    parts = []
    if status.battery_level is not None:
        parts.append(f"{status.battery_level}%")
    if status.battery_status:
        parts.append(status.battery_status)
    return " ".join(parts) or "-"


def table_lines(statuses: list[ParticipantStatus]) -> list[str]:
    """The fixed-width table: a header, a rule, one line per participant."""
    rows = [
        (
            s.user_key,
            s.consent,
            _when(s.last_load),
            _when(s.last_sync),
            _battery(s),
            f"{s.days_with_data_7}/{s.days_with_data_30}",
            f"{s.valid_days_7}/{s.valid_days_30}",
            str(s.open_dead_letters),
            "; ".join(s.attention) or "-",
        )
        for s in statuses
    ]
    widths = [max(len(c) for c in column) for column in zip(COLUMNS, *rows, strict=False)]

    def line(cells) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(COLUMNS), line("-" * w for w in widths), *(line(r) for r in rows)]


def json_document(
    statuses: list[ParticipantStatus], valid_day_minutes: int, generated_at: dt.datetime
) -> dict:
    return {
        "generated_at": generated_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "valid_day_minutes": valid_day_minutes,
        "participants": [s.to_json() for s in statuses],
    }


def main(argv: list[str] | None = None, now: dt.datetime | None = None, client=None) -> int:
    """Runs `fitbeam status`; returns the exit status.

    Args:
        argv: the flags, without `fitbeam status`.
        now: the present, for tests.
        client: a BigQuery client, for tests; one for the dataset's project otherwise.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    hours = args.valid_day_hours
    if not 0 < hours <= 25:
        print(f"{PROG}: --valid_day_hours {hours:g} must be more than 0 and at most 25, e.g. 10",
              file=sys.stderr)  # fmt: skip
        return EXIT_BAD_OPTIONS
    valid_day_minutes = round(hours * 60)
    try:
        study_days.split_dataset(args.dataset)
        store = None
        if args.token_store:
            from healthapi.auth.store import token_store_from_uri

            store = token_store_from_uri(args.token_store)
    except ValueError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return EXIT_BAD_OPTIONS
    now = now or dt.datetime.now(dt.UTC)
    try:
        client = client or study_days.client_for(args.dataset)
        statuses = study_status.participant_statuses(
            client,
            args.dataset,
            token_store=store,
            dead_letter_root=args.dead_letter_root,
            valid_day_minutes=valid_day_minutes,
            now=now,
        )
    except Exception as err:  # BigQuery, storage or the token store: one line, no traceback
        message = str(getattr(err, "message", "") or err).splitlines()[0][:300]
        print(f"{PROG}: {type(err).__name__}: {message}", file=sys.stderr)
        if "Not found" in message or "notFound" in message:
            print(
                f"{PROG}: is {args.dataset} the dataset `fitbeam run` loads? "
                "It creates the tables and the participant_days view.",
                file=sys.stderr,
            )
        _LOGGER.debug("status failed", exc_info=True)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(json_document(statuses, valid_day_minutes, now), indent=2))
        return EXIT_OK
    for text in table_lines(statuses):
        print(text)
    needing = sum(1 for s in statuses if s.attention)
    print(
        f"\n{len(statuses)} participants, {needing} needing attention; a valid day is "
        f"{hours:g} hours worn ({valid_day_minutes} minutes of steps data). "
        "Columns: docs/study.md."
    )
    return EXIT_OK
