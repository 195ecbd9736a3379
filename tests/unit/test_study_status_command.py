"""commands/status.py without BigQuery: flags, the table and the JSON document."""

from __future__ import annotations

import datetime as dt

import pytest

from commands import status as command
from study.model import CONSENT_ACTIVE, CONSENT_NEEDED, ParticipantStatus

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 6, 12, tzinfo=UTC)

STATUSES = [
    ParticipantStatus(
        "participant-017", CONSENT_NEEDED, "no token in the store", None, None, None, None,
        None, 0, 0, 0, 0, 2, ("consent needed", "no data for 3 days", "2 open dead letters"),
    ),
    ParticipantStatus(
        "p2", CONSENT_ACTIVE, "", dt.datetime(2026, 12, 6, 6, tzinfo=UTC),
        dt.datetime(2026, 12, 6, 11, 5, tzinfo=UTC), "Charge 6", 80, "High", 7, 21, 6, 18, 0, (),
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: --dataset"),
        (["--dataset", "fitbit"], "'fitbit' is not PROJECT:DATASET; e.g. my-project:fitbit"),
        (["--dataset", "My_Project:fitbit"], "project must be a Google Cloud project ID"),
        (["--dataset", "my-project:fitbit", "--valid_day_hours", "0"], "--valid_day_hours 0 must"),
        (["--dataset", "my-project:fitbit", "--valid_day_hours", "ten"], "invalid float value"),
        (["--dataset", "my-project:fitbit", "--token_store", "ftp://x"], "unsupported token store"),
        (["--dataset", "my-project:fitbit", "--colour"], "unrecognized arguments: --colour"),
    ],
)  # fmt: skip
def test_bad_flags_are_one_line_and_exit_2(capsys, argv, message):
    assert command.main(argv, now=NOW) == 2
    err = capsys.readouterr().err
    assert err.startswith("fitbeam status: ")
    assert message in err
    assert err.count("\n") == 1


def test_the_table_is_fixed_width():
    assert command.table_lines(STATUSES) == [
        "user             consent         last load         last sync         battery   "
        "data 7d/30d  valid 7d/30d  dead letters  attention",
        "---------------  --------------  ----------------  ----------------  --------  "
        "-----------  ------------  ------------  " + "-" * 55,
        "participant-017  consent_needed  -                 -                 -         "
        "0/0          0/0           2             consent needed; no data for 3 days; "
        "2 open dead letters",
        "p2               active          2026-12-06 06:00  2026-12-06 11:05  80% High  "
        "7/21         6/18          0             -",
    ]


def test_the_json_document():
    assert command.json_document(STATUSES[1:], 600, NOW) == {
        "generated_at": "2026-12-06T12:00:00Z",
        "valid_day_minutes": 600,
        "participants": [
            {
                "user_key": "p2",
                "consent": "active",
                "consent_detail": "",
                "last_load": "2026-12-06T06:00:00Z",
                "last_sync": "2026-12-06T11:05:00Z",
                "device": "Charge 6",
                "battery_level": 80,
                "battery_status": "High",
                "days_with_data_7": 7,
                "days_with_data_30": 21,
                "valid_days_7": 6,
                "valid_days_30": 18,
                "open_dead_letters": 0,
                "attention": [],
            }
        ],
    }


def test_help_exits_0(capsys):
    assert command.main(["--help"]) == 0
    assert "--valid_day_hours" in capsys.readouterr().out


def test_the_client_is_the_emulators_when_bigquery_emulator_host_is_set(monkeypatch):
    from study.days import client_for

    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "127.0.0.1:9050")
    client = client_for("my-project:fitbit")
    assert client.project == "my-project"
    assert client._connection.API_BASE_URL == "http://127.0.0.1:9050"
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "http://localhost:9060")
    assert client_for("my-project:fitbit")._connection.API_BASE_URL == "http://localhost:9060"
