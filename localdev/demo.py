"""`fitbeam demo`: a whole batch load on this machine, no cloud account needed.

It starts the Google Health API simulator (in a process of its own, so that
its answers do not take turns with the pipeline for one interpreter), the
BigQuery emulator and the GCS emulator; authorises synthetic users with
Google's installed-app flow (PKCE, loopback redirect, state check; the
simulator consents on each user's behalf) into a local token store; runs
`fitbeam run` for the last complete days into the BigQuery emulator, dead
letters and the raw archive of every API answer (`--raw_archive`) to the GCS
emulator; prints the run report and an example query with
its answer; leaves the report's JSON at `<state_dir>/demo-report.json`; and ends
with the study view of it: each participant's status (`fitbeam status`) and the
study report (`fitbeam report`) at `<state_dir>/fitbeam-report.html`.

Run: `make demo` (or `fitbeam demo --days 14 --users 3`; `--progress never` hides
the run's progress line, which shows on a terminal).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from healthapi import datatypes
from healthapi.auth import oauth
from healthapi.auth.file_store import LocalFileTokenStore
from healthapi.auth.store import TokenStore
from localdev import emulators, prerequisites
from simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Simulator, SimulatorConfig
from simulator.process import SimulatorProcess

if TYPE_CHECKING:
    from pipeline.report import RunReport

DATASET = "fitbeam"

EXAMPLE_QUERY = """\
SELECT user_key, civil_date, step_count, ROUND(distance_millimeters / 1e6, 2) AS km,
       ROUND(total_calories_kcal) AS kcal, active_zone_minutes_total AS azm
FROM `fitbeam-local.fitbeam.daily_activity_summary_current`
WHERE civil_date >= DATE_SUB(@last_day, INTERVAL 2 DAY)
ORDER BY user_key, civil_date"""


def _visit(url: str) -> None:
    """Stands in for the browser: the simulator's consent page redirects at once."""
    requests.get(url, timeout=30)


def authorise_users(sim: Simulator | SimulatorProcess, users: list[str], store: TokenStore) -> None:
    """Runs the consent flow for each user and stores the client and the tokens."""
    client = oauth.OAuthClient.for_base_url(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, sim.base_url)
    store.save_client(client.client_id, client.client_secret)
    scopes = datatypes.scopes_for(list(datatypes.DEFAULT_DATA_TYPES))
    for user in users:
        store.save(user, oauth.authorize(client, scopes, login_hint=user, open_url=_visit))


def emulator_bigquery_client():
    """A BigQuery client of the emulator that BIGQUERY_EMULATOR_HOST names."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(
        project=emulators.PROJECT,
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=os.environ["BIGQUERY_EMULATOR_HOST"]),
    )


def example_query(last_day: dt.date) -> list[dict]:
    """Runs `EXAMPLE_QUERY` on the BigQuery emulator."""
    from google.cloud import bigquery

    client = emulator_bigquery_client()
    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("last_day", "DATE", last_day)]
    )
    return [dict(row) for row in client.query(EXAMPLE_QUERY, job_config=config).result()]


def create_dataset() -> None:
    emulator_bigquery_client().create_dataset(f"{emulators.PROJECT}.{DATASET}", exists_ok=True)


def run_demo(
    days: int, users: int, state_dir: Path, out=print, progress: str | None = None
) -> RunReport:
    """Runs the demo; returns the run report.

    `progress` is the run's `--progress` (default: the run's, a line on a terminal).
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    names = [f"user-{i}" for i in range(1, users + 1)]
    out("starting the BigQuery and GCS emulators (first run installs them, about 30 s)")
    # Each demo starts from empty emulators: the tables are append-only, so the rows
    # and dead letters of earlier demos would pile up beside this one's (and the views
    # and the study report read them all).
    shutil.rmtree(state_dir / "demo-emulators", ignore_errors=True)
    with (
        emulators.LocalEmulators(state_dir / "demo-emulators") as emu,
        SimulatorProcess(SimulatorConfig(users=max(users, 3))) as sim,
    ):
        emulators.use_emulator_endpoints(emu.env)
        out(f"Google Health API simulator on {sim.base_url} (process {sim.pid})")
        store = LocalFileTokenStore(state_dir / "tokens")
        authorise_users(sim, names, store)
        known = sim.users()
        zones = ", ".join(f"{u} ({known[u]['timeZone']})" for u in names)
        out(f"authorised through the OAuth consent flow: {zones}")
        out(f"tokens stored in {store.root}")
        create_dataset()
        now = dt.datetime.fromtimestamp(sim.now(), dt.UTC)
        # The last day complete everywhere: the day before yesterday in UTC-12 terms.
        last_day = (now - dt.timedelta(hours=12)).date() - dt.timedelta(days=1)
        first_day = last_day - dt.timedelta(days=days - 1)
        report_path = state_dir / "demo-report.json"
        dead_letter_root = f"gs://{emulators.DEFAULT_BUCKET}/dead-letters"
        raw_archive = f"gs://{emulators.DEFAULT_BUCKET}/raw"
        argv = [
            f"--users={','.join(names)}",
            f"--start_date={first_day}",
            f"--end_date={last_day}",
            f"--api_base_url={sim.base_url}",
            f"--token_store={store.root}",
            f"--dataset={emulators.PROJECT}:{DATASET}",
            f"--dead_letter_root={dead_letter_root}",
            f"--raw_archive={raw_archive}",
            f"--report_json={report_path}",
            f"--temp_location=gs://{emulators.DEFAULT_BUCKET}/bigquery-loads",
            f"--project={emulators.PROJECT}",
            *([f"--progress={progress}"] if progress else []),
        ]
        out(f"running: fitbeam run {' '.join(argv)}")
        out("")
        # Imported here: `fitbeam --help` and the other commands need no Beam.
        from pipeline import main as batch

        run_report = batch.run(argv, out=out)
        out("")
        out(f"report JSON: {report_path}")
        out(
            f"every API answer is in the raw archive, {raw_archive}/user_key=.../; "
            f"rebuild the tables from it with no API call: fitbeam rebuild "
            f"--from_archive='{raw_archive}/**' --dataset={emulators.PROJECT}:{DATASET} ..."
        )
        out("")
        out("example query (BigQuery emulator):")
        out(EXAMPLE_QUERY.replace("@last_day", f"DATE '{last_day}'"))
        out("")
        rows = example_query(last_day)
        out(json_table(rows))
        out("")
        study_report(first_day, last_day, now, store, dead_letter_root, state_dir, out)
    return run_report


def study_report(
    first_day: dt.date,
    last_day: dt.date,
    now: dt.datetime,
    store: TokenStore,
    dead_letter_root: str,
    state_dir: Path,
    out=print,
) -> Path:
    """Prints each participant's status, as `fitbeam status` does, and writes the report.

    One read of the dataset serves both (`study.data.gather`); returns the report's path.
    """
    from commands import status
    from study import data, report

    gathered = data.gather(
        emulator_bigquery_client(),
        f"{emulators.PROJECT}:{DATASET}",
        first_day,
        last_day,
        token_store=store,
        dead_letter_root=dead_letter_root,
        now=now,
    )
    out("participants (fitbeam status; who needs attention first):")
    for line in status.table_lines(list(gathered.participants)):
        out(line)
    path = state_dir / "fitbeam-report.html"
    path.write_text(report.render(gathered), encoding="utf-8")
    out("")
    out(f"study report (fitbeam report; opens offline): {path}")
    return path


def json_table(rows: list[dict]) -> str:
    """A small fixed-width table of query rows."""
    if not rows:
        return "(no rows)"
    columns = list(rows[0])
    cells = [[json.dumps(r[c], default=str).strip('"') for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=int, default=14, help="complete days to load (default 14)")
    parser.add_argument("--users", type=int, default=3, help="synthetic users (default 3)")
    parser.add_argument("--state_dir", default=".local", help="local state (default .local)")
    parser.add_argument(
        "--progress",
        # pipeline.progress.MODES, spelled out: `fitbeam --help` must not import Beam.
        choices=("auto", "always", "never"),
        help="the run's progress line on stderr, as `fitbeam run --progress`: auto (the "
        "default: on a terminal), always or never",
    )


def main(args: argparse.Namespace) -> int:
    if not 1 <= args.days <= 90:
        raise SystemExit(f"--days must be between 1 and 90, got {args.days}; e.g. --days 14")
    if not 1 <= args.users <= 20:
        raise SystemExit(f"--users must be between 1 and 20, got {args.users}; e.g. --users 3")
    missing = prerequisites.problems("demo")
    if missing:
        raise SystemExit("fitbeam demo: missing: " + "\nfitbeam demo: missing: ".join(missing))
    run_report = run_demo(
        args.days, args.users, Path(args.state_dir).resolve(), progress=args.progress
    )
    return 0 if run_report.state == "DONE" else 1
