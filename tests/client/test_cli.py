"""The `fitbeam` command: run --help and ddl."""

from __future__ import annotations

from commands import cli
from schemas import bigquery


def test_run_help_lists_every_option(capsys):
    assert cli.main(["run", "--help"]) == 0
    printed = capsys.readouterr().out
    for flag in (
        "--users",
        "--start_date",
        "--end_date",
        "--data_types",
        "--api_base_url",
        "--token_store",
        "--dataset",
        "--dead_letter_root",
        "--bq_write_method",
        "--report_json",
    ):
        assert flag in printed


def test_ddl_command_prints_the_same_ddl_as_the_module(capsys):
    assert cli.main(["ddl", "--project", "my-project", "--dataset", "fitbit"]) == 0
    printed = capsys.readouterr().out
    assert printed.strip() == bigquery.ddl("my-project", "fitbit").strip()


def test_ddl_views_prints_every_view_after_the_tables(capsys):
    assert cli.main(["ddl", "--project", "my-project", "--dataset", "fitbit", "--views"]) == 0
    printed = capsys.readouterr().out
    assert printed == bigquery.views_ddl("my-project", "fitbit")
    # a _current view of every table but load_windows, then participant_days
    assert printed.count("CREATE OR REPLACE VIEW") == len(bigquery.ALL_TABLES)
    assert "CREATE OR REPLACE VIEW `my-project.fitbit.participant_days`" in printed
