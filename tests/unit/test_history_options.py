"""The flags of a rebuild and an import: options, `fitbeam rebuild|import`, the run report.

`pipeline.options.resolve` on `--from_archive`, `--import_takeout`, `--import_legacy`
and the flags that go with them, with exact `OptionsError` messages;
`commands.cli._history_flags` turning `fitbeam import takeout PATH ...` into run flags;
`pipeline.report` showing the archive and import counters.

Run:

    python -m pytest -q tests/unit/test_history_options.py
"""

from __future__ import annotations

import datetime as dt

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from commands import cli
from pipeline import report
from pipeline.options import OptionsError, parse_legacy_users, resolve

TODAY = dt.date(2026, 11, 28)
# No --token_store: a rebuild or an import calls no API.
BASE = ["--dataset=my-project:fitbit", "--dead_letter_root=/tmp/dl", "--temp_location=gs://b/tmp"]
SUB = "projects/my-project/subscriptions/fitbeam-requests"
CSV_EXAMPLE = "legacy_user_id,user_key,time_zone\\n7ABCDE,p-0042,Europe/London"


def config(*flags: str):
    return resolve(PipelineOptions([*BASE, *flags]), today=TODAY)


def refused(*flags: str) -> str:
    with pytest.raises(OptionsError) as raised:
        config(*flags)
    return str(raised.value)


# --------------------------------------------------------------------------- accepted


def test_a_rebuild_needs_no_token_store_and_calls_no_api():
    c = config("--from_archive=gs://b/raw/user_key=p-0042/**")
    assert c.from_archive == "gs://b/raw/user_key=p-0042/**"
    assert (c.token_store, c.import_layout, c.import_path, c.users) == ("", "", "", ())
    assert (c.start_date, c.end_date, c.raw_archive) == (None, None, "")
    assert c.calls_api is False
    assert c.run_id.startswith("run-")


def test_a_takeout_import():
    c = config(
        "--import_takeout=gs://b/takeout-p-0042/",
        "--user_key=p-0042",
        "--time_zone=Europe/London",
    )
    assert (c.import_layout, c.import_path) == ("takeout", "gs://b/takeout-p-0042")
    assert (c.user_key, c.time_zone, c.legacy_users) == ("p-0042", "Europe/London", ())
    assert (c.token_store, c.from_archive, c.calls_api) == ("", "", False)
    assert c.run_id.startswith("import-takeout-")


def test_a_takeout_import_without_a_zone_leaves_it_to_the_users_settings():
    c = config("--import_takeout=t.zip", "--user_key=p-0042")
    assert (c.import_layout, c.user_key, c.time_zone) == ("takeout", "p-0042", "")


def test_a_legacy_import_of_one_person():
    c = config(
        "--import_legacy=gs://old/",
        "--user_key=p-0042",
        "--time_zone=America/New_York",
        "--run_id=import-legacy-p-0042",
    )
    assert (c.import_layout, c.import_path, c.user_key) == ("legacy", "gs://old", "p-0042")
    assert (c.time_zone, c.legacy_users, c.run_id) == (
        "America/New_York",
        (),
        "import-legacy-p-0042",
    )


def test_a_legacy_import_of_a_study(tmp_path):
    users = tmp_path / "legacy-users.csv"
    users.write_text(
        " legacy_user_id , user_key , time_zone \n"
        "7ABCDE, p-0042 ,Europe/London\n"
        "\n"
        "Q9Z,p-0043,America/New_York\n"
        ",,\n"
    )
    c = config(f"--import_legacy={tmp_path}/archive", f"--legacy_users={users}")
    assert c.legacy_users == (
        ("7ABCDE", "p-0042", "Europe/London"),
        ("Q9Z", "p-0043", "America/New_York"),
    )
    assert (c.import_layout, c.user_key, c.time_zone) == ("legacy", "", "")
    assert c.run_id.startswith("import-legacy-")


def test_a_run_that_calls_the_api_may_keep_a_raw_archive():
    c = config(
        "--token_store=/tmp/tokens",
        "--users=user-1",
        "--start_date=2026-11-01",
        "--end_date=2026-11-01",
        "--raw_archive=gs://b/raw/",
    )
    assert (c.raw_archive, c.calls_api, c.token_store) == ("gs://b/raw", True, "/tmp/tokens")


def test_a_rebuild_still_checks_a_token_store_it_is_given():
    assert refused("--from_archive=x", "--token_store=bogus://x") == (
        "--token_store='bogus://x': unsupported token store 'bogus://x'; use a directory such "
        "as file:///var/fitbeam/tokens, or Secret Manager such as "
        "secretmanager://my-project/fitbeam; e.g. --token_store=file:///var/fitbeam/tokens"
    )


# --------------------------------------------------------------------------- refused


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--users=user-1", "--start_date=2026-11-01", "--end_date=2026-11-01"],
            "--token_store='': is required; e.g. --token_store=file:///var/fitbeam/tokens",
        ),
        (
            ["--from_archive=a", "--import_takeout=t.zip"],
            "--import_takeout='t.zip': cannot be used with --from_archive",
        ),
        (
            ["--import_takeout=t.zip", "--import_legacy=old"],
            "--import_legacy='old': cannot be used with --import_takeout",
        ),
        (
            ["--dead_letters=dl/*.jsonl", "--from_archive=a"],
            "--from_archive='a': cannot be used with --dead_letters",
        ),
        (
            ["--requests_file=r.jsonl", "--import_legacy=old"],
            "--import_legacy='old': cannot be used with --requests_file",
        ),
        (
            ["--from_archive=a", "--users=user-1"],
            "--users='user-1': cannot be used with --from_archive (the messages say who and when)",
        ),
        (
            ["--import_takeout=t.zip", "--user_key=p-1", "--start_date=2026-11-01"],
            "--start_date='2026-11-01': cannot be used with --import_takeout "
            "(the messages say who and when)",
        ),
        (
            ["--streaming", f"--requests_subscription={SUB}", "--from_archive=a"],
            "--from_archive='a': is a batch job: leave out --streaming",
        ),
        (
            ["--streaming", "--import_takeout=t.zip", "--user_key=p-1"],
            "--import_takeout='t.zip': is a batch job: leave out --streaming",
        ),
        (
            ["--from_archive=a", "--user_key=p-1"],
            "--user_key='p-1': goes with --import_takeout or --import_legacy",
        ),
        (
            ["--from_archive=a", "--time_zone=Europe/London"],
            "--time_zone='Europe/London': goes with --import_takeout or --import_legacy",
        ),
        (
            ["--from_archive=a", "--legacy_users=u.csv"],
            "--legacy_users='u.csv': goes with --import_takeout or --import_legacy",
        ),
        (
            [
                "--token_store=/tmp/tokens",
                "--users=user-1",
                "--start_date=2026-11-01",
                "--end_date=2026-11-01",
                "--user_key=p-1",
            ],
            "--user_key='p-1': goes with --import_takeout or --import_legacy",
        ),
        (
            ["--from_archive=a", "--raw_archive=gs://b/raw"],
            "--raw_archive='gs://b/raw': archives API answers; --from_archive calls no API",
        ),
        (
            ["--import_legacy=old", "--user_key=p-1", "--raw_archive=gs://b/raw"],
            "--raw_archive='gs://b/raw': archives API answers; --import_legacy calls no API",
        ),
        (
            ["--import_takeout=t.zip"],
            "--user_key='': is required; e.g. --user_key=p-0042",
        ),
        (
            ["--import_takeout=t.zip", "--user_key=P 42"],
            "--user_key='P 42': invalid user key 'P 42': use 1-128 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit, e.g. 'participant-017'; "
            "e.g. --user_key=p-0042",
        ),
        (
            ["--import_takeout=t.zip", "--user_key=p-1", "--legacy_users=u.csv"],
            "--legacy_users='u.csv': goes with --import_legacy",
        ),
        (
            ["--import_legacy=old"],
            "--user_key='': --import_legacy needs exactly one of --user_key (one person's "
            "archive) and --legacy_users (a study's); e.g. --user_key=p-0042",
        ),
        (
            ["--import_legacy=old", "--user_key=p-1", "--legacy_users=u.csv"],
            "--user_key='p-1': --import_legacy needs exactly one of --user_key (one person's "
            "archive) and --legacy_users (a study's); e.g. --user_key=p-0042",
        ),
        (
            ["--import_legacy=old", "--legacy_users=/nonexistent/u.csv"],
            "--legacy_users='/nonexistent/u.csv': cannot be read "
            "([Errno 2] No such file or directory: '/nonexistent/u.csv')",
        ),
        (
            ["--import_takeout=t.zip", "--user_key=p-1", "--time_zone=Mars/Olympus_Mons"],
            "--time_zone='Mars/Olympus_Mons': is not an IANA time zone; "
            "e.g. --time_zone=America/New_York",
        ),
        (
            ["--import_takeout=t.zip", "--user_key=p-1", "--time_zone= Europe/London"],
            "--time_zone=' Europe/London': is not an IANA time zone; "
            "e.g. --time_zone=America/New_York",
        ),
        (
            ["--import_takeout=t.zip", "--user_key=p-1", "--time_zone=../../etc/passwd"],
            "--time_zone='../../etc/passwd': is not an IANA time zone; "
            "e.g. --time_zone=America/New_York",
        ),
        (
            ["--import_takeout=t.zip", "--user_key=p-1", "--run_id=backfill-2026-11"],
            "--run_id='backfill-2026-11': must start with 'import-' for an import, and only "
            "for one; e.g. --run_id=import-takeout-p-0042",
        ),
        (
            ["--from_archive=a", "--run_id=import-rebuild"],
            "--run_id='import-rebuild': must start with 'import-' for an import, and only "
            "for one; e.g. --run_id=backfill-2026-11",
        ),
        (
            [
                "--token_store=/tmp/tokens",
                "--users=user-1",
                "--start_date=2026-11-01",
                "--end_date=2026-11-01",
                "--run_id=import-x",
            ],
            "--run_id='import-x': must start with 'import-' for an import, and only "
            "for one; e.g. --run_id=backfill-2026-11",
        ),
    ],
)
def test_bad_history_flags_are_refused(flags, message):
    assert refused(*flags) == message


def test_a_study_import_takes_its_zones_from_the_csv(tmp_path):
    users = tmp_path / "u.csv"
    users.write_text("legacy_user_id,user_key,time_zone\n7ABCDE,p-0042,Europe/London\n")
    assert refused(
        "--import_legacy=old", f"--legacy_users={users}", "--time_zone=Europe/London"
    ) == ("--time_zone='Europe/London': comes from --legacy_users")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "must start with the header legacy_user_id,user_key,time_zone"),
        (
            "user_key,legacy_user_id,time_zone\n",
            "must start with the header legacy_user_id,user_key,time_zone",
        ),
        ("legacy_user_id,user_key,time_zone\n", "maps no user"),
        ("legacy_user_id,user_key,time_zone\n\n , , \n", "maps no user"),
        ("legacy_user_id,user_key,time_zone\nA1,p-1\n", "line 2 has not 3 fields"),
        (
            "legacy_user_id,user_key,time_zone\nA1,p-1,UTC\nA1,p-2,UTC\n",
            "line 3: a bad or repeated legacy user id",
        ),
        (
            "legacy_user_id,user_key,time_zone\nA1,p-1,UTC\nB2,p-1,UTC\n",
            "line 3: the user key 'p-1' is repeated",
        ),
        (
            "legacy_user_id,user_key,time_zone\nA-1,p-1,UTC\n",
            "line 2: a bad or repeated legacy user id",
        ),
        (
            "legacy_user_id,user_key,time_zone\n" + "A" * 33 + ",p-1,UTC\n",
            "line 2: a bad or repeated legacy user id",
        ),
        (
            "legacy_user_id,user_key,time_zone\nA1,-p,UTC\n",
            "line 2: invalid user key '-p': use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, e.g. 'participant-017'",
        ),
    ],
)
def test_bad_legacy_users_files_are_refused(text, why):
    with pytest.raises(OptionsError) as raised:
        parse_legacy_users(text, "gs://b/u.csv")
    assert (
        str(raised.value)
        == f"--legacy_users='gs://b/u.csv': {why}; e.g. --legacy_users={CSV_EXAMPLE}"
    )


def test_a_legacy_users_file_with_an_unknown_zone_names_the_flag():
    with pytest.raises(OptionsError) as raised:
        parse_legacy_users("legacy_user_id,user_key,time_zone\nA1,p-1,Nowhere/Town\n", "u.csv")
    assert str(raised.value) == (
        "--legacy_users='Nowhere/Town': is not an IANA time zone; "
        "e.g. --legacy_users=America/New_York"
    )


# --------------------------------------------------------------------------- fitbeam rebuild|import


def test_rebuild_without_from_archive_is_misuse(capsys):
    assert cli._history_flags(["rebuild", "--dataset=p:d"]) == 2
    assert capsys.readouterr().err == (
        "fitbeam rebuild: --from_archive is required, e.g. "
        "--from_archive='gs://my-bucket/raw/user_key=p-0042/**'\n"
    )


def test_rebuild_passes_its_flags_on():
    flags = ["--from_archive=gs://b/raw/**", "--dataset=p:d"]
    assert cli._history_flags(["rebuild", *flags]) == flags
    assert cli._history_flags(["rebuild", "--help"]) == ["--help"]


@pytest.mark.parametrize(
    ("argv", "flags"),
    [
        (
            ["import", "takeout", "takeout-20261201.zip", "--user_key", "p-0042"],
            ["--import_takeout=takeout-20261201.zip", "--user_key", "p-0042"],
        ),
        (
            ["import", "legacy", "gs://old", "--legacy_users=gs://b/u.csv", "--dataset=p:d"],
            ["--import_legacy=gs://old", "--legacy_users=gs://b/u.csv", "--dataset=p:d"],
        ),
        (["import", "legacy", "old/"], ["--import_legacy=old/"]),
    ],
)
def test_import_layout_and_path_become_flags(argv, flags):
    assert cli._history_flags(argv) == flags


@pytest.mark.parametrize(
    "argv",
    [
        ["import"],
        ["import", "takeout"],
        ["import", "google", "t.zip"],
        ["import", "takeout", "--user_key=p-1"],
        ["import", "--import_takeout=t.zip", "--user_key=p-1"],
    ],
)
def test_import_misuse_prints_the_usage(argv, capsys):
    assert cli._history_flags(argv) == 2
    assert capsys.readouterr().err == f"fitbeam import: {cli._IMPORT_USAGE}\n"


def test_import_help_prints_the_usage(capsys):
    assert cli._history_flags(["import", "takeout", "--help"]) == 0
    out = capsys.readouterr().out
    assert out == cli._IMPORT_USAGE + "\n"
    assert out.startswith(
        "usage: fitbeam import takeout PATH --user_key KEY [--time_zone ZONE] [run flags]\n"
        "       fitbeam import legacy PATH (--user_key KEY | --legacy_users CSV) [run flags]\n"
    )


def test_the_command_returns_2_on_misuse_without_running(monkeypatch, capsys):
    monkeypatch.delenv("BIGQUERY_EMULATOR_HOST", raising=False)
    assert cli.main(["rebuild"]) == 2
    assert cli.main(["import", "legacy"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fitbeam rebuild: --from_archive is required")
    assert "fitbeam import: usage: fitbeam import takeout PATH" in err


# --------------------------------------------------------------------------- report

FIELDS = dict(
    run_id="import-takeout-p-0042",
    state="DONE",
    wall_seconds=3.0,
    users=1,
    start_date="",
    end_date="",
    data_types=[],
    dead_letter_path="/tmp/dl/import-takeout-p-0042",
    requests_from="takeout.zip",
    note="",
)


def test_the_report_of_an_import_shows_its_files():
    values = {
        "rows_valid_steps": 1459,
        "rows_valid_load_windows": 3,
        "import_files_read": 7,
        "import_units": 9,
        "import_files_skipped/superseded": 3,
        "import_files_skipped/no_data": 2,
        "import_files_skipped/unknown": 0,
    }
    built = report.from_counters(values, **FIELDS)
    assert (built.files_read, built.files_skipped) == (7, {"superseded": 3, "no_data": 2})
    assert built.archive == {}
    as_json = built.to_json()
    assert (as_json["files_read"], as_json["files_skipped"]) == (
        7,
        {"superseded": 3, "no_data": 2},
    )
    assert built.render().splitlines() == [
        "run import-takeout-p-0042: DONE in 3.0 s",
        "  imported from takeout.zip (no API call)",
        "  rows loaded: 1,459 (from 3 loads)",
        "    steps      1,459",
        "  dead letters: 0",
        "  files imported: 7; skipped: 5 (no_data 2, superseded 3)",
    ]


def test_the_report_of_a_rebuild_shows_the_archive():
    values = {
        "rows_valid_steps": 10,
        "archive_objects_read": 12,
        "archive_incomplete_answers": 1,
        "archive_other_files": 0,
        "dead_letters_archive_read": 2,
    }
    fields = {**FIELDS, "run_id": "run-1", "requests_from": "gs://b/raw/**"}
    built = report.from_counters(values, **fields)
    assert built.archive == {"objects_read": 12, "incomplete_answers": 1}
    assert built.to_json()["archive"] == {"objects_read": 12, "incomplete_answers": 1}
    assert built.render().splitlines() == [
        "run run-1: DONE in 3.0 s",
        "  rebuilt from the raw archive gs://b/raw/** (no API call)",
        "  rows loaded: 10 (from 0 loads)",
        "    steps         10",
        "  dead letters: 2",
        "    archive_read          2",
        "  raw archive: incomplete_answers 1, objects_read 12",
        "  dead letters written under /tmp/dl/import-takeout-p-0042",
    ]


def test_the_report_shows_skipped_files_even_when_none_was_read():
    built = report.from_counters({"import_files_skipped/unknown": 2}, **FIELDS)
    assert "  files imported: 0; skipped: 2 (unknown 2)" in built.render().splitlines()


def test_a_run_that_archives_shows_its_objects_and_no_import_line():
    values = {"rows_valid_steps": 5, "archive_objects": 4, "archive_bytes": 12345}
    built = report.from_counters(values, **{**FIELDS, "requests_from": ""})
    lines = built.render().splitlines()
    assert "  raw archive: bytes 12,345, objects 4" in lines
    assert not [line for line in lines if "files imported" in line]
    assert (built.to_json()["files_read"], built.to_json()["files_skipped"]) == (0, {})
