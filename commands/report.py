"""`fitbeam report`: the study report, one self-contained HTML file with charts.

Reads the participant-days and each participant's status from BigQuery
(`study.data.gather`), draws them (`study.report.render`) and writes one HTML
file that opens offline in any browser, then prints the file's absolute path::

    fitbeam report --dataset my-project:fitbit --days 28 --out fitbeam-report.html \\
        --token_store file:///var/fitbeam/tokens --dead_letter_root gs://my-bucket/dead-letters

The range is `--start_date`/`--end_date` (both, inclusive) or the `--days` days
ending yesterday in UTC (28 by default). `--token_store` adds each participant's
consent state, `--dead_letter_root` their open dead letters; without them those
columns say what could not be read. `--valid_day_hours` is the valid-day rule
(10 hours worn by default). With `BIGQUERY_EMULATOR_HOST` set (`source
.local/emulators.env`), the BigQuery emulator is read instead of BigQuery.

Exit 0 when the file is written; 2 on a bad flag (one line on stderr naming it).
docs/report.md says how to read the charts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from collections.abc import Callable
from pathlib import Path

from healthapi.settings import OptionsError
from study.days import bigquery_client
from study.model import DEFAULT_VALID_DAY_MINUTES

EXIT_OK, EXIT_BAD_OPTIONS = 0, 2
DEFAULT_DAYS = 28
DEFAULT_OUT = "fitbeam-report.html"
DATASET_EXAMPLE = "my-project:fitbit"
# project:dataset, as `fitbeam run --dataset` takes it (a domain-scoped project included).
_DATASET = re.compile(
    r"(?P<project>[a-z][-a-z0-9.:]{4,61}[a-z0-9]):(?P<dataset>[A-Za-z0-9_]{1,1024})"
)


class _ParserError(Exception):
    """argparse's own complaint (an unknown flag, a missing value), shown in one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise _ParserError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fitbeam report",
        description="A study report: one self-contained HTML file with charts.",
    )
    parser.add_argument(
        "--dataset", help=f"BigQuery dataset as project:dataset, e.g. {DATASET_EXAMPLE}"
    )
    parser.add_argument("--start_date", help="first civil day, YYYY-MM-DD (with --end_date)")
    parser.add_argument("--end_date", help="last civil day, YYYY-MM-DD, inclusive")
    parser.add_argument(
        "--days", help=f"the N days ending yesterday (UTC) instead; default {DEFAULT_DAYS}"
    )
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"the HTML file; default {DEFAULT_OUT}")
    parser.add_argument("--token_store", help="for consent states, e.g. file:///var/fitbeam/tokens")
    parser.add_argument(
        "--dead_letter_root", help="for open dead letters, e.g. gs://my-bucket/dead-letters"
    )
    parser.add_argument(
        "--valid_day_hours",
        default=str(DEFAULT_VALID_DAY_MINUTES / 60),
        help="hours worn that make a valid day; default 10",
    )
    return parser


def _date(value: str, flag: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise OptionsError(flag, value, "is not a date YYYY-MM-DD", "2026-11-01") from None


def date_range(args: argparse.Namespace, today: dt.date) -> tuple[dt.date, dt.date]:
    """The report's first and last day from --start_date/--end_date or --days.

    Raises:
        OptionsError: a bad or half-given range.
    """
    if args.start_date or args.end_date:
        if args.days is not None:
            raise OptionsError(
                "days",
                args.days,
                "goes with no --start_date/--end_date: give one or the other",
                "28",
            )
        if not (args.start_date and args.end_date):
            flag = "end_date" if args.start_date else "start_date"
            raise OptionsError(flag, "", "is required with the other date", "2026-11-30")
        start = _date(args.start_date, "start_date")
        end = _date(args.end_date, "end_date")
        if end < start:
            raise OptionsError(
                "end_date", args.end_date, "is before --start_date", start.isoformat()
            )
        return start, end
    days = DEFAULT_DAYS if args.days is None else args.days
    try:
        count = int(days)
    except ValueError:
        count = 0
    if not 1 <= count <= 3660:
        raise OptionsError("days", days, "is not a number of days from 1 to 3660", "28")
    end = today - dt.timedelta(days=1)
    return end - dt.timedelta(days=count - 1), end


def valid_day_minutes(value: str) -> int:
    """Minutes worn of the valid-day rule, from --valid_day_hours.

    Raises:
        OptionsError: not a number of hours above 0 and at most 24.
    """
    try:
        hours = float(value)
    except ValueError:
        hours = -1.0
    if not 0 < hours <= 24:
        raise OptionsError("valid_day_hours", value, "is not a number of hours in (0, 24]", "10")
    return round(hours * 60)


def project_and_dataset(value: str | None) -> tuple[str, str]:
    if not value:
        raise OptionsError("dataset", "", "is required", DATASET_EXAMPLE)
    match = _DATASET.fullmatch(value)
    if not match:
        raise OptionsError("dataset", value, "is not project:dataset", DATASET_EXAMPLE)
    return match.group("project"), match.group("dataset")


def _gather(client, dataset: str, start: dt.date, end: dt.date, **kwargs):
    from study import data  # H1's module: BigQuery queries and participant status

    return data.gather(client, dataset, start, end, **kwargs)


def run(
    argv: list[str],
    *,
    client_factory: Callable[[str], object] = bigquery_client,
    gather: Callable[..., object] = _gather,
    today: dt.date | None = None,
) -> Path:
    """Writes the report the flags ask for and returns its absolute path.

    Raises:
        OptionsError: a bad flag; nothing was read or written.
        _ParserError: a flag argparse does not know or a missing value.
    """
    from healthapi.auth.store import token_store_from_uri
    from study import report

    args = build_parser().parse_args(argv)
    project, _ = project_and_dataset(args.dataset)
    start, end = date_range(args, today or dt.datetime.now(dt.UTC).date())
    minutes = valid_day_minutes(args.valid_day_hours)
    store = None
    if args.token_store:
        try:
            store = token_store_from_uri(args.token_store)
        except ValueError as err:
            raise OptionsError("token_store", args.token_store, str(err), None) from None
    root = args.dead_letter_root or None
    if root and root.startswith("gs://") and not root[len("gs://") :].split("/")[0]:
        raise OptionsError(
            "dead_letter_root", root, "names no bucket", "gs://my-bucket/dead-letters"
        )
    out = Path(args.out).expanduser().absolute()
    if not out.parent.is_dir():
        raise OptionsError("out", args.out, "is in a folder that does not exist", DEFAULT_OUT)
    data = gather(
        client_factory(project),
        args.dataset,
        start,
        end,
        token_store=store,
        dead_letter_root=root,
        valid_day_minutes=minutes,
    )
    out.write_text(report.render(data), encoding="utf-8")
    return out


def main(argv: list[str] | None = None, **seams) -> int:
    """`fitbeam report`: 0 and the file's path on stdout; 2 and one line on a bad flag.

    `seams` go to `run` (tests: client_factory, gather, today).
    """
    argv = sys.argv[1:] if argv is None else argv
    try:
        path = run(argv, **seams)
    except OptionsError as error:
        print(f"fitbeam report: {error}", file=sys.stderr)
        return EXIT_BAD_OPTIONS
    except _ParserError as error:
        print(f"fitbeam report: {error} (fitbeam report --help)", file=sys.stderr)
        return EXIT_BAD_OPTIONS
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)
    print(path)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
