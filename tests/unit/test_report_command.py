"""`fitbeam report` (commands/report.py): its flags, the range, the file it writes.

BigQuery and study.data.gather are replaced through `main`'s seams; the page itself
is tests/unit/test_report_html.py's, the gathering tests/e2e's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from commands import report as command
from healthapi.auth.file_store import LocalFileTokenStore
from study import report
from tests.browser import sample

TODAY = dt.date(2026, 12, 6)


@pytest.fixture
def calls():
    return []


@pytest.fixture
def seams(calls):
    def gather(client, dataset, start, end, **kwargs):
        calls.append(dict(client=client, dataset=dataset, start=start, end=end, **kwargs))
        return dataclasses.replace(sample.report_data(), dataset=dataset, start_date=start)

    return dict(client_factory=lambda project: f"client of {project}", gather=gather, today=TODAY)


def test_writes_the_report_and_prints_its_absolute_path(
    tmp_path, monkeypatch, capsys, calls, seams
):
    monkeypatch.chdir(tmp_path)
    assert command.main(["--dataset", "my-project:fitbit"], **seams) == 0
    out = tmp_path / "fitbeam-report.html"
    assert capsys.readouterr() == (f"{out}\n", "")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert report.EMPTY_STUDY not in out.read_text(encoding="utf-8")
    assert calls == [
        dict(
            client="client of my-project",
            dataset="my-project:fitbit",
            start=dt.date(2026, 11, 8),  # 28 days ending yesterday (UTC)
            end=dt.date(2026, 12, 5),
            token_store=None,
            dead_letter_root=None,
            valid_day_minutes=600,
        )
    ]


def test_passes_the_range_the_store_the_root_and_the_rule(tmp_path, capsys, calls, seams):
    out = tmp_path / "r.html"
    argv = [
        "--dataset=example.com:study-proj:fitbit_1",
        "--start_date=2026-10-22",
        "--end_date=2026-11-04",
        f"--out={out}",
        f"--token_store=file://{tmp_path}/tokens",
        "--dead_letter_root=gs://bucket/dead-letters",
        "--valid_day_hours=7.5",
    ]
    assert command.main(argv, **seams) == 0
    assert capsys.readouterr().out == f"{out}\n"
    (call,) = calls
    assert call["client"] == "client of example.com:study-proj"
    assert (call["start"], call["end"]) == (dt.date(2026, 10, 22), dt.date(2026, 11, 4))
    assert isinstance(call["token_store"], LocalFileTokenStore)
    assert call["dead_letter_root"] == "gs://bucket/dead-letters"
    assert call["valid_day_minutes"] == 450


def test_days_counts_back_from_yesterday(tmp_path, calls, seams):
    assert (
        command.main(["--dataset=p-1234:d", "--days=1", f"--out={tmp_path}/r.html"], **seams) == 0
    )
    assert (calls[0]["start"], calls[0]["end"]) == (dt.date(2026, 12, 5), dt.date(2026, 12, 5))


@pytest.mark.parametrize(
    ("flags", "line"),
    [
        ([], "--dataset='': is required; e.g. --dataset=my-project:fitbit"),
        (
            ["--dataset=fitbit"],
            "--dataset='fitbit': is not project:dataset; e.g. --dataset=my-project:fitbit",
        ),
        (
            ["--dataset=my-project:fitbit", "--start_date=2026-11-01"],
            "--end_date='': is required with the other date; e.g. --end_date=2026-11-30",
        ),
        (
            ["--dataset=my-project:fitbit", "--start_date=2026-11-01", "--end_date=2026-11-31"],
            "--end_date='2026-11-31': is not a date YYYY-MM-DD; e.g. --end_date=2026-11-01",
        ),
        (
            ["--dataset=my-project:fitbit", "--start_date=2026-11-02", "--end_date=2026-11-01"],
            "--end_date='2026-11-01': is before --start_date; e.g. --end_date=2026-11-02",
        ),
        (
            ["--dataset=my-project:fitbit", "--days=7", "--end_date=2026-11-01"],
            "--days='7': goes with no --start_date/--end_date: give one or the other; "
            "e.g. --days=28",
        ),
        (
            ["--dataset=my-project:fitbit", "--days=0"],
            "--days='0': is not a number of days from 1 to 3660; e.g. --days=28",
        ),
        (
            ["--dataset=my-project:fitbit", "--valid_day_hours=25"],
            "--valid_day_hours='25': is not a number of hours in (0, 24]; "
            "e.g. --valid_day_hours=10",
        ),
        (
            ["--dataset=my-project:fitbit", "--dead_letter_root=gs:///x"],
            "--dead_letter_root='gs:///x': names no bucket; "
            "e.g. --dead_letter_root=gs://my-bucket/dead-letters",
        ),
        (
            ["--dataset=my-project:fitbit", "--out=/nonexistent/dir/r.html"],
            "--out='/nonexistent/dir/r.html': is in a folder that does not exist; "
            "e.g. --out=fitbeam-report.html",
        ),
        (
            ["--dataset=my-project:fitbit", "--token_store=ftp://x"],
            "--token_store='ftp://x': unsupported token store 'ftp://x'",
        ),
        (["--dataset=my-project:fitbit", "--user=x"], "unrecognized arguments: --user=x"),
    ],
)
def test_a_bad_flag_is_one_line_and_exit_2(flags, line, capsys, calls, seams):
    assert command.main(flags, **seams) == 2
    out, err = capsys.readouterr()
    assert out == "" and calls == []
    assert len(err.splitlines()) == 1
    assert err.startswith(f"fitbeam report: {line}")


def test_the_emulator_client_when_its_host_is_set():
    client = command.bigquery_client(
        "my-project", {"BIGQUERY_EMULATOR_HOST": "http://127.0.0.1:9050"}
    )
    assert client.project == "my-project"
    assert client._connection.API_BASE_URL == "http://127.0.0.1:9050"
