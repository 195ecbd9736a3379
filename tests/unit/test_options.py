"""Where requests come from, the flags that go with each source, and `run` refusing bad ones."""

from __future__ import annotations

import datetime as dt

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import main
from pipeline.options import OptionsError, resolve

TODAY = dt.date(2026, 11, 28)
BASE = ["--token_store=/tmp/tokens", "--dataset=my-project:fitbit", "--dead_letter_root=/tmp/dl"]
SUB = "projects/my-project/subscriptions/fitbeam-requests"
STREAM = ["--streaming", f"--requests_subscription={SUB}"]


def config(*flags: str):
    return resolve(PipelineOptions([*BASE, *flags]), today=TODAY)


def test_range_batch_defaults_to_file_loads():
    c = config(
        "--users=user-1",
        "--start_date=2026-11-01",
        "--end_date=2026-11-02",
        "--temp_location=gs://b/tmp",
    )
    assert c.users == ("user-1",)
    assert (c.start_date, c.end_date) == (dt.date(2026, 11, 1), dt.date(2026, 11, 2))
    assert (c.streaming, c.requests_file, c.requests_subscription) == (False, "", "")
    assert c.bq_write_method == "FILE_LOADS"


def test_requests_file_needs_no_users_or_dates():
    c = config("--requests_file=gs://b/requests/*.jsonl", "--bq_write_method=STREAMING_INSERTS")
    assert (c.users, c.start_date, c.end_date) == ((), None, None)
    assert c.requests_file == "gs://b/requests/*.jsonl"
    assert (c.max_range_days, c.bq_write_method) == (366, "STREAMING_INSERTS")


def test_streaming_defaults_to_streaming_inserts():
    c = config(*STREAM)
    assert (c.streaming, c.requests_subscription) == (True, SUB)
    assert (c.bq_write_method, c.temp_location) == ("STREAMING_INSERTS", "")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--streaming"],
            "--requests_subscription='': is required with --streaming; "
            f"e.g. --requests_subscription={SUB}",
        ),
        (
            [f"--requests_subscription={SUB}"],
            f"--requests_subscription='{SUB}': needs --streaming (a subscription never ends); "
            f"e.g. --requests_subscription={SUB} --streaming",
        ),
        (
            [*STREAM, "--requests_file=r.jsonl"],
            "--requests_file='r.jsonl': cannot be used with --requests_subscription",
        ),
        (
            ["--requests_file=r.jsonl", "--users=user-1"],
            "--users='user-1': cannot be used with --requests_file (the messages say who and when)",
        ),
        (
            [*STREAM, "--end_date=2026-11-01"],
            "--end_date='2026-11-01': cannot be used with --requests_subscription "
            "(the messages say who and when)",
        ),
        (
            ["--streaming", "--requests_subscription=projects/p/subscriptions/s"],
            "--requests_subscription='projects/p/subscriptions/s': is not "
            f"projects/PROJECT/subscriptions/NAME; e.g. --requests_subscription={SUB}",
        ),
        (
            [*STREAM, "--bq_write_method=FILE_LOADS"],
            "--bq_write_method='FILE_LOADS': must be STREAMING_INSERTS when streaming; "
            "e.g. --bq_write_method=STREAMING_INSERTS",
        ),
        (
            ["--requests_file=r.jsonl", "--max_range_days=0"],
            "--max_range_days='0': must be 1..1830; e.g. --max_range_days=366",
        ),
        (
            ["--requests_file=r.jsonl"],
            "--temp_location='': must be a gs:// folder with --bq_write_method=FILE_LOADS "
            "(or use STREAMING_INSERTS); e.g. --temp_location=gs://my-bucket/tmp",
        ),
    ],
)
def test_bad_request_sources_are_named(flags, message):
    with pytest.raises(OptionsError) as err:
        config(*flags)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("today-3", "yesterday", (dt.date(2026, 11, 25), dt.date(2026, 11, 27))),
        ("yesterday", "today", (dt.date(2026, 11, 27), dt.date(2026, 11, 28))),
        ("today-365", "2026-01-01", (dt.date(2025, 11, 28), dt.date(2026, 1, 1))),
    ],
)
def test_dates_relative_to_today_for_scheduled_launches(start, end, expected):
    c = config(
        "--users=user-1", f"--start_date={start}", f"--end_date={end}", "--temp_location=gs://b/t"
    )
    assert (c.start_date, c.end_date) == expected


@pytest.mark.parametrize("bad", ["today-0", "today+1", "tomorrow", "Yesterday", "today-"])
def test_other_words_are_not_dates(bad):
    with pytest.raises(OptionsError) as caught:
        config("--users=user-1", f"--start_date={bad}", "--end_date=2026-11-02")
    assert str(caught.value) == (
        f"--start_date={bad!r}: is not a civil date YYYY-MM-DD, today, yesterday or today-N; "
        "e.g. --start_date=2026-11-01"
    )


@pytest.mark.parametrize(
    "bad",
    [
        "\uff12\uff10\uff12\uff16-\uff11\uff11-\uff10\uff11",  # full-width digits
        "\u0662\u0660\u0662\u0666-\u0661\u0661-\u0660\u0661",  # Arabic-Indic digits
        "20261101",  # ISO basic form
        "2026-W45-1",  # ISO week date
    ],
)
def test_a_date_not_in_ascii_yyyy_mm_dd_is_a_bad_format(bad):
    with pytest.raises(OptionsError) as caught:
        config("--users=user-1", f"--start_date={bad}", "--end_date=2026-11-02")
    assert str(caught.value) == (
        f"--start_date={bad!r}: is not a civil date YYYY-MM-DD, today, yesterday or today-N; "
        "e.g. --start_date=2026-11-01"
    )


def test_a_date_in_the_right_form_but_not_in_the_calendar_is_not_a_real_date():
    with pytest.raises(OptionsError) as caught:
        config("--users=user-1", "--start_date=2026-02-30", "--end_date=2026-11-02")
    assert str(caught.value) == (
        "--start_date='2026-02-30': is not a real date; e.g. --start_date=2026-11-01"
    )


def test_bad_options_fail_before_anything_runs(tmp_path):
    with pytest.raises(main.OptionsError) as err:
        main.run(
            [
                "--users=user-1",
                "--start_date=2026-11-02",
                "--end_date=2026-11-01",
                f"--token_store={tmp_path}",
                "--dataset=fitbeam-local:x",
                f"--dead_letter_root={tmp_path}",
            ]
        )
    assert str(err.value) == (
        "--end_date='2026-11-01': is before --start_date=2026-11-02; e.g. --end_date=2026-11-02"
    )


# -- data source family and user-level tables ----------------------------------------------

FILE = ["--requests_file=gs://b/r.jsonl", "--bq_write_method=STREAMING_INSERTS"]


def test_every_source_and_the_user_tables_by_default():
    c = config(*FILE)
    assert (c.source_family, c.user_tables) == ("all-sources", True)


@pytest.mark.parametrize("family", ["all-sources", "google-wearables", "google-sources"])
def test_a_source_family_the_api_offers_is_taken(family):
    assert config(*FILE, f"--source_family={family}").source_family == family


@pytest.mark.parametrize("family", ["self-sources", "wearables", "", "Google-Wearables"])
def test_another_source_family_is_refused_naming_flag_value_and_an_example(family):
    with pytest.raises(OptionsError) as err:
        config(*FILE, f"--source_family={family}")
    assert str(err.value) == (
        f"--source_family={family!r}: is not one of all-sources, google-wearables, "
        "google-sources; e.g. --source_family=google-wearables"
    )


@pytest.mark.parametrize(
    ("value", "expected"), [("false", False), ("FALSE", False), ("no", False), ("true", True)]
)
def test_user_tables_is_a_switch(value, expected):
    assert config(*FILE, f"--user_tables={value}").user_tables is expected


def test_user_tables_refuses_other_words():
    with pytest.raises(OptionsError) as err:
        config(*FILE, "--user_tables=sometimes")
    assert (
        str(err.value)
        == "--user_tables='sometimes': must be true or false; e.g. --user_tables=false"
    )
