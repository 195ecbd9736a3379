"""The `fitbeam` command.

Subcommands:
    run        a load into BigQuery, batch or streaming (`fitbeam run --help`)
    replay     re-feed dead letters once their cause is fixed (`fitbeam run` flags
               plus --dead_letters)
    rebuild    re-derive rows from the raw archive with today's code, no API call
               (`fitbeam run` flags plus --from_archive)
    import     history the API cannot serve: `fitbeam import takeout PATH` (a Google
               Takeout export) or `fitbeam import legacy PATH` (the original system's
               archive of legacy Fitbit Web API responses)
    enqueue    publish the daily request messages to Pub/Sub (`fitbeam enqueue --help`)
    authorize  a user consents; their token goes into the token store
    relay      serve the webhook endpoint: Google Health API notifications become
               request messages on Pub/Sub (`fitbeam relay user-map` writes its user map)
    demo       a whole batch load on this machine: simulator and emulators
    simulate   serve the Google Health API simulator
    ddl        print non-destructive BigQuery DDL for every table
    status     each participant now, who needs attention first (`--json` for scripts)
    report     a study report: one self-contained HTML file with charts
    forget     consent withdrawal: revoke, delete a participant's token, rows and files
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys

from commands import logs
from localdev import demo


def _simulate(args: argparse.Namespace) -> int:
    from simulator import Simulator, SimulatorConfig

    start = None
    if args.start_time:
        start = dt.datetime.fromisoformat(args.start_time.replace("Z", "+00:00")).timestamp()
    try:
        config = SimulatorConfig(
            seed=args.seed,
            users=args.users,
            client_id=args.client_id,
            client_secret=args.client_secret,
            quota_per_minute=args.quota_per_minute,
            project_quota_per_minute=args.project_quota_per_minute,
            project_quota_per_day=args.project_quota_per_day,
            clock_speed=args.clock_speed,
            start_time=start,
            faults=args.faults,
            rotating_refresh_tokens=args.rotating_refresh_tokens,
            hr_spacing_seconds=args.hr_spacing_seconds,
        )
    except ValueError as err:
        raise SystemExit(f"fitbeam simulate: {err}") from err
    sim = Simulator(config, host=args.host, port=args.port)
    sim.start()
    if args.token_store:
        from healthapi.auth.store import token_store_from_uri

        users = [f"user-{i}" for i in range(1, args.users + 1)]
        demo.authorise_users(sim, users, token_store_from_uri(args.token_store))
        print(f"authorised {', '.join(users)} into {args.token_store}")
    print(f"Google Health API simulator on {sim.base_url} ({args.users} users, seed {args.seed})")
    print(f"  API:   {sim.base_url}/v4/users/me/...")
    print(f"  OAuth: {sim.authorization_url}  {sim.token_url}  {sim.revoke_url}")
    print(f"  admin: {sim.base_url}/admin/v1/users")
    sim.stop()
    sim.serve_forever()
    return 0


def _ddl(args: argparse.Namespace) -> int:
    from schemas import bigquery

    argv = ["--project", args.project, "--dataset", args.dataset]
    for table in args.table or ():
        argv += ["--table", table]
    if args.views:
        argv.append("--views")
    return bigquery.main(argv, prog="fitbeam ddl") or 0


def build_parser() -> argparse.ArgumentParser:
    from simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

    parser = argparse.ArgumentParser(prog="fitbeam", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "run", help="a load into BigQuery: batch, or streaming from Pub/Sub", add_help=False
    )
    p.add_argument("flags", nargs=argparse.REMAINDER)

    p = sub.add_parser(
        "enqueue", help="publish one request message per user to Pub/Sub", add_help=False
    )
    p.add_argument("flags", nargs=argparse.REMAINDER)

    p = sub.add_parser(
        "authorize", help="a user consents; their token goes into the token store", add_help=False
    )
    p.add_argument("flags", nargs=argparse.REMAINDER)

    p = sub.add_parser(
        "relay",
        help="serve the webhook endpoint: notifications -> request messages",
        add_help=False,
    )
    p.add_argument("flags", nargs=argparse.REMAINDER)

    # Commands that parse their own flags (or hand them to `fitbeam run`).
    for name, text in (
        ("replay", "re-feed replayable dead letters (--dead_letters GLOB)"),
        ("rebuild", "re-derive rows from the raw archive, no API call (--from_archive GLOB)"),
        (
            "import",
            "import history: takeout PATH (Google Takeout) or legacy PATH (legacy archive)",
        ),
        ("status", "each participant now: consent, last load and sync, wear, dead letters"),
        ("report", "a study report: one self-contained HTML file with charts"),
        ("forget", "consent withdrawal: revoke and delete a participant's data (dry run)"),
    ):
        p = sub.add_parser(name, help=text, add_help=False)
        p.add_argument("flags", nargs=argparse.REMAINDER)

    p = sub.add_parser("demo", help="a whole batch load on the simulator and local emulators")
    demo.add_arguments(p)
    p.set_defaults(func=demo.main)

    p = sub.add_parser("simulate", help="serve the Google Health API simulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8180)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--users", type=int, default=5)
    p.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    p.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    p.add_argument("--quota-per-minute", type=int, default=300, help="requests a minute per user")
    p.add_argument(
        "--project-quota-per-minute",
        type=int,
        default=120_000,
        help="requests a minute of all users together (the project's quota)",
    )
    p.add_argument(
        "--project-quota-per-day",
        type=int,
        default=86_400_000,
        help="requests a Pacific-time day of all users together (the project's quota)",
    )
    p.add_argument("--clock-speed", type=float, default=1.0, help="simulator s per real s")
    p.add_argument("--start-time", help="simulator time at start, e.g. 2026-11-28T12:00:00Z")
    p.add_argument("--faults", default="", help="e.g. 503=0.02,reset=0.01,page-drop=1")
    p.add_argument("--rotating-refresh-tokens", action="store_true")
    p.add_argument("--hr-spacing-seconds", type=int, default=5)
    p.add_argument(
        "--token-store",
        default="",
        help="run the consent flow for every user and store the tokens here, e.g. .local/tokens",
    )
    p.set_defaults(func=_simulate)

    p = sub.add_parser("ddl", help="print non-destructive BigQuery DDL")
    p.add_argument("--project", required=True, help="e.g. my-project")
    p.add_argument("--dataset", required=True, help="e.g. fitbit")
    p.add_argument("--table", action="append", help="only this table (repeatable)")
    p.add_argument(
        "--views",
        action="store_true",
        help="print the views instead (every <table>_current view and participant_days), "
        "to run once the tables exist",
    )
    p.set_defaults(func=_ddl)
    return parser


def _use_local_emulators() -> None:
    """Points Beam's BigQuery client at the emulator `BIGQUERY_EMULATOR_HOST` names, if any.

    `source .local/emulators.env` (from `make emulators-up`) sets it; only the
    local runner in this process sees the redirection.
    """
    if os.environ.get("BIGQUERY_EMULATOR_HOST"):
        from localdev.emulators import use_emulator_endpoints

        use_emulator_endpoints()


_IMPORT_USAGE = (
    "usage: fitbeam import takeout PATH --user_key KEY [--time_zone ZONE] [run flags]\n"
    "       fitbeam import legacy PATH (--user_key KEY | --legacy_users CSV) [run flags]\n"
    "PATH: a folder, a .zip or a glob, local or gs://; e.g. fitbeam import takeout "
    "takeout-20261201.zip --user_key p-0042 --dataset my-project:fitbit "
    "--dead_letter_root gs://my-bucket/dead-letters --temp_location gs://my-bucket/tmp"
)


def _history_flags(argv: list[str]) -> list[str] | int:
    """`rebuild ...` and `import takeout|legacy PATH ...` as `fitbeam run` flags (2: misuse)."""
    command, rest = argv[0], argv[1:]
    wants_help = bool({"-h", "--help"} & set(rest))
    if command == "rebuild":
        if not wants_help and not any(f.startswith("--from_archive") for f in rest):
            print(
                "fitbeam rebuild: --from_archive is required, e.g. "
                "--from_archive='gs://my-bucket/raw/user_key=p-0042/**'",
                file=sys.stderr,
            )
            return 2
        return rest
    if wants_help:
        print(_IMPORT_USAGE)
        return 0
    if len(rest) < 2 or rest[0] not in ("takeout", "legacy") or rest[1].startswith("--"):
        print(f"fitbeam import: {_IMPORT_USAGE}", file=sys.stderr)
        return 2
    return [f"--import_{rest[0]}={rest[1]}", *rest[2:]]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["run"], ["replay"], ["rebuild"], ["import"]):
        _use_local_emulators()
    if argv[:1] in (["rebuild"], ["import"]):
        from pipeline import main as batch

        flags = _history_flags(argv)
        return flags if isinstance(flags, int) else batch.main(flags)
    if argv[:1] == ["run"]:
        from pipeline import main as batch

        return batch.main(argv[1:])
    if argv[:1] == ["replay"]:
        from pipeline import main as batch

        flags = argv[1:]
        wants_help = {"-h", "--help"} & set(flags)
        if not wants_help and not any(f.startswith("--dead_letters") for f in flags):
            print(
                "fitbeam replay: --dead_letters is required, e.g. "
                "--dead_letters='gs://my-bucket/dead-letters/run-*/*.jsonl'",
                file=sys.stderr,
            )
            return 2
        return batch.main(flags)
    logs.configure()
    if argv[:1] == ["enqueue"]:
        from commands import enqueue

        return enqueue.main(argv[1:])
    if argv[:1] == ["authorize"]:
        from commands import authorize

        return authorize.main(argv[1:])
    if argv[:1] == ["relay"]:
        from relay import main as relay

        return relay.main(argv[1:])
    if argv[:1] == ["status"]:
        from commands import status

        return status.main(argv[1:])
    if argv[:1] == ["report"]:
        from commands import report

        return report.main(argv[1:])
    if argv[:1] == ["forget"]:
        from commands import forget

        return forget.main(argv[1:])
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
