"""`python -m simulator.exports`: history archives of simulator users, as imports read them."""

from __future__ import annotations

import datetime as dt
import zipfile

from history import legacy, takeout_fitbit, takeout_google
from simulator import exports, legacy_archive
from simulator import takeout_fitbit as fitbit_export
from simulator import takeout_google as google_export

DAY = dt.date(2026, 11, 1)


def test_a_takeout_zip_holds_both_layouts_of_one_user(tmp_path, capsys):
    assert (
        exports.main(
            ["takeout", str(tmp_path), "--first", "2026-11-01", "--last", "2026-11-01", "--zip"]
        )
        == 0
    )
    [user] = exports.users(0, 1)
    expected = {
        **fitbit_export.export_files(user, DAY, DAY),
        **google_export.export_files(user, DAY, DAY)[0],
    }
    with zipfile.ZipFile(tmp_path / "takeout.zip") as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == expected
    assert any(isinstance(takeout_fitbit.classify(p), str) for p in expected)
    assert any(isinstance(takeout_google.classify(p), str) for p in expected)
    assert capsys.readouterr().out == (
        f"{len(expected)} files of user-1 (America/New_York) in {tmp_path / 'takeout.zip'}\n"
    )


def test_a_legacy_archive_comes_with_its_user_map(tmp_path):
    assert (
        exports.main(
            [
                "legacy",
                str(tmp_path),
                "--users",
                "2",
                "--first",
                "2026-11-01",
                "--last",
                "2026-11-01",
            ]
        )
        == 0
    )
    chosen = exports.users(0, 2)
    assert (tmp_path / "legacy-users.csv").read_text() == (
        "legacy_user_id,user_key,time_zone\n"
        + "".join(f"{u.legacy_user_id},{u.user_id},{u.time_zone}\n" for u in chosen)
    )
    written = sorted(
        p.relative_to(tmp_path / "archive").as_posix()
        for p in (tmp_path / "archive").rglob("*")
        if p.is_file()
    )
    again = tmp_path / "again"
    legacy_archive.write_archive(chosen, DAY, DAY, again)
    assert written == sorted(
        p.relative_to(again).as_posix() for p in again.rglob("*") if p.is_file()
    )
    assert {legacy.legacy_user_id(p) for p in written} == {u.legacy_user_id for u in chosen}


def test_the_users_are_the_simulators():
    from simulator import Simulator, SimulatorConfig

    sim = Simulator(SimulatorConfig(users=2))
    assert [u.user_id for u in exports.users(0, 2)] == ["user-1", "user-2"]
    assert exports.users(0, 2) == [sim.users["user-1"], sim.users["user-2"]]
