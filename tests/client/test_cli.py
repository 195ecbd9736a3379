"""The `fitbeam` command: demo and ddl."""

from __future__ import annotations

import datetime as dt

from pipeline import cli, demo
from schemas import bigquery


def test_demo_sums_match_the_daily_rollup_and_the_token_is_stored(tmp_path):
    lines: list[str] = []

    result = demo.run_demo(days=3, user="user-2", state_dir=tmp_path, out=lines.append)

    assert len(result) == 3
    assert all(summed == rolled for summed, rolled in result.values())
    assert sum(summed for summed, _ in result.values()) > 0
    assert (tmp_path / "tokens" / "user-2.json").exists()
    assert "steps of user-2, last 3 complete days (civil dates in Pacific/Tongatapu)" in lines
    assert lines[-1] == "sums of minute points match the API's daily rollup"
    dates = [dt.date.fromisoformat(d) for d in result]
    assert dates == sorted(dates) and (dates[-1] - dates[0]).days == 2


def test_ddl_command_prints_the_same_ddl_as_the_module(capsys):
    assert cli.main(["ddl", "--project", "my-project", "--dataset", "fitbit"]) == 0
    printed = capsys.readouterr().out
    assert printed.strip() == bigquery.ddl("my-project", "fitbit").strip()
