"""Writes history archives of simulator users, for trying `fitbeam import` without real data.

The same ground truth as the simulator (`fitbeam simulate --seed N` serves these
users' data through the API):

    python -m simulator.exports takeout OUT --user 1 --first 2026-10-30 --last 2026-11-02 --zip
    python -m simulator.exports legacy OUT --users 2 --first 2026-10-30 --last 2026-11-02

`takeout` writes one person's Google Takeout export holding both layouts (the
Fitbit JSON under `Takeout/Fitbit/` and the Google Health CSVs under
`Takeout/Google Health/`), as a folder or one zip (`OUT/takeout.zip`). `legacy`
writes the original system's archive of legacy Fitbit Web API responses
(`{endpoint}/{YYYYMMDD}/...`) of the first N users, with `OUT/legacy-users.csv`
mapping their legacy ids to user keys and zones (`--legacy_users`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from simulator import legacy_archive, synth
from simulator import takeout_fitbit as fitbit_export
from simulator import takeout_google as google_export
from simulator.server import SimulatorConfig


def users(seed: int, count: int) -> list[synth.User]:
    """The simulator's users 1..count, as `fitbeam simulate --seed` makes them."""
    start = SimulatorConfig().history_start
    return [synth.make_user(seed, i, start) for i in range(1, count + 1)]


def takeout_files(user: synth.User, first: dt.date, last: dt.date) -> dict[str, bytes]:
    """Both layouts of one user's export: member path -> bytes."""
    files = fitbit_export.export_files(user, first, last)
    google_files, _ = google_export.export_files(user, first, last)
    return {**files, **google_files}


def write_takeout(files: dict[str, bytes], out: Path, as_zip: bool) -> Path:
    """Writes the members under `out` (a folder), or as `out/takeout.zip`; returns the path."""
    out.mkdir(parents=True, exist_ok=True)
    if as_zip:
        data = io.BytesIO()
        with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, content in sorted(files.items()):
                archive.writestr(path, content)
        target = out / "takeout.zip"
        target.write_bytes(data.getvalue())
        return target
    for path, content in files.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return out


def legacy_users_csv(chosen: Sequence[synth.User]) -> str:
    """The `--legacy_users` file of an archive of these users."""
    lines = ["legacy_user_id,user_key,time_zone"]
    lines += [f"{u.legacy_user_id},{u.user_id},{u.time_zone}" for u in chosen]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulator.exports", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="what", required=True)
    for name in ("takeout", "legacy"):
        p = sub.add_parser(name)
        p.add_argument("out", type=Path, help="the folder to write in")
        p.add_argument("--first", type=dt.date.fromisoformat, required=True, help="2026-10-30")
        p.add_argument("--last", type=dt.date.fromisoformat, required=True, help="2026-11-02")
        p.add_argument("--seed", type=int, default=0, help="the simulator's --seed (default 0)")
        p.add_argument("--zip", action="store_true", help="one zip file instead of a folder")
    sub.choices["takeout"].add_argument("--user", type=int, default=1, help="user-N (default 1)")
    sub.choices["legacy"].add_argument("--users", type=int, default=2, help="users 1..N")
    args = parser.parse_args(argv)
    if args.last < args.first:
        parser.error(f"--last {args.last} is before --first {args.first}")
    if args.what == "takeout":
        [user] = users(args.seed, args.user)[-1:]
        files = takeout_files(user, args.first, args.last)
        target = write_takeout(files, args.out, args.zip)
        print(f"{len(files)} files of {user.user_id} ({user.time_zone}) in {target}")
        return 0
    chosen = users(args.seed, args.users)
    root = args.out / "archive"
    counts = legacy_archive.write_archive(chosen, args.first, args.last, root)
    (args.out / "legacy-users.csv").write_text(legacy_users_csv(chosen), encoding="utf-8")
    target = root
    if args.zip:
        target = args.out / "archive.zip"
        legacy_archive.zip_archive(root, target)
    print(f"{sum(counts.values())} files of {len(chosen)} users in {target}")
    print(f"user map: {args.out / 'legacy-users.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
