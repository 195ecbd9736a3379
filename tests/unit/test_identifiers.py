"""Identifiers are matched whole: a trailing newline (or any other tail) is refused.

A regex anchored with `$` also matches before a final newline, so `user-1\\n` once
passed as a user key, named the file `user-1\\n.json` and became part of a secret id.
Each family of names below is checked with its good form, which passes, and the same
form with a newline (or carriage return) after it, which must be refused.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from healthapi.auth.file_store import LocalFileTokenStore
from healthapi.auth.secret_manager_store import (
    SecretManagerTokenStore,
    decode_user_key,
    encode_user_key,
)
from healthapi.auth.store import check_user_key, token_store_from_uri
from healthapi.messages import BadRequest, parse_request
from healthapi.settings import OptionsError, check_topic
from pipeline.options import resolve

TAILS = ["\n", "\r\n", "\r"]
TODAY = dt.date(2026, 11, 28)
BASE = ["--token_store=/tmp/tokens", "--dead_letter_root=/tmp/dl", "--temp_location=gs://b/t"]
RANGE = ["--users=user-1", "--start_date=2026-11-01", "--end_date=2026-11-02"]
USER_KEY_RULE = (
    "use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit, "
    "e.g. 'participant-017'"
)


def _options(*flags: str):
    return resolve(PipelineOptions([*BASE, *flags]), today=TODAY)


# --------------------------------------------------------------------------- user keys


@pytest.mark.parametrize("tail", TAILS)
def test_a_user_key_with_a_line_break_after_it_is_refused(tail):
    assert check_user_key("user-1") == "user-1"
    with pytest.raises(ValueError) as caught:
        check_user_key("user-1" + tail)
    assert str(caught.value) == f"invalid user key {'user-1' + tail!r}: {USER_KEY_RULE}"


def test_the_file_store_writes_no_file_for_a_user_key_with_a_newline(tmp_path):
    store = LocalFileTokenStore(tmp_path)
    with pytest.raises(ValueError, match="invalid user key"):
        store.save("user-1\n", {"refresh_token": "r"})
    with pytest.raises(ValueError, match="invalid user key"), store.refresh_lock("user-1\n"):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_request_for_a_user_key_with_a_newline_is_a_bad_user():
    message = json.dumps({"user_id": "user-1\n", "date": "2026-11-27"}).encode()
    with pytest.raises(BadRequest) as caught:
        parse_request(message, TODAY)
    assert caught.value.reason == "bad_user"
    assert str(caught.value) == f"invalid user key 'user-1\\n': {USER_KEY_RULE}"


# --------------------------------------------------------------------------- secret ids


@pytest.mark.parametrize("tail", TAILS)
def test_secret_ids_are_made_from_whole_keys_only(tail):
    assert encode_user_key("user_1.a") == "user_5F1_2Ea"
    assert decode_user_key("user_5F1_2Ea") == "user_1.a"
    with pytest.raises(ValueError, match="invalid user key"):
        encode_user_key("user_1.a" + tail)
    with pytest.raises(ValueError, match="is not an encoded user key"):
        decode_user_key("user_5F1_2Ea" + tail)
    store = SecretManagerTokenStore("my-project", "fitbeam")
    assert store.user_key("fitbeam-user-user_5F1") == "user_1"
    with pytest.raises(ValueError, match="is not an encoded user key"):
        store.user_key("fitbeam-user-user_5F1" + tail)
    with pytest.raises(ValueError, match="invalid user key"):
        store.secret_id("user-1" + tail)


@pytest.mark.parametrize("tail", TAILS)
def test_projects_and_prefixes_of_the_secret_store_are_whole_names(tail):
    assert SecretManagerTokenStore("my-project", "fitbeam").prefix == "fitbeam"
    with pytest.raises(ValueError, match="invalid Google Cloud project id"):
        SecretManagerTokenStore("my-project" + tail, "fitbeam")
    with pytest.raises(ValueError, match="invalid secret prefix"):
        SecretManagerTokenStore("my-project", "fitbeam" + tail)
    # urllib.parse drops line breaks and tabs from a URL: the URI is refused, not read so.
    for uri in (
        "secretmanager://my-project/fitbeam" + tail,
        f"secretmanager://my-pro{tail}ject/fb",
    ):
        with pytest.raises(ValueError) as caught:
            SecretManagerTokenStore.from_uri(uri)
        assert str(caught.value) == (
            f"token store URI {uri!r} holds a control character; "
            "e.g. secretmanager://my-project/fitbeam"
        )
        with pytest.raises(ValueError) as caught:
            token_store_from_uri(uri)
        assert str(caught.value).startswith(f"token store URI {uri!r} holds a control")


@pytest.mark.parametrize("uri", ["file:///var/tokens\n", "/var/tokens\n", "/var/to\tkens"])
def test_a_file_token_store_path_with_a_control_character_is_refused(uri):
    with pytest.raises(ValueError) as caught:
        token_store_from_uri(uri)
    assert str(caught.value) == (
        f"token store URI {uri!r} holds a control character; e.g. file:///var/fitbeam/tokens"
    )


# --------------------------------------------------------------------------- Pub/Sub, BigQuery


@pytest.mark.parametrize("tail", TAILS)
def test_a_topic_is_a_whole_name(tail):
    topic = "projects/my-project/topics/fitbeam-requests"
    assert check_topic(topic) == topic
    with pytest.raises(OptionsError) as caught:
        check_topic(topic + tail)
    assert str(caught.value).startswith(f"--topic={topic + tail!r}: is not projects/")


@pytest.mark.parametrize("tail", TAILS)
def test_a_subscription_is_a_whole_name(tail):
    sub = "projects/my-project/subscriptions/fitbeam-requests"
    dataset = "--dataset=my-project:fitbit"
    assert (
        _options(dataset, "--streaming", f"--requests_subscription={sub}").requests_subscription
        == sub
    )
    with pytest.raises(OptionsError) as caught:
        _options(dataset, "--streaming", f"--requests_subscription={sub}{tail}")
    assert str(caught.value) == (
        f"--requests_subscription={sub + tail!r}: is not projects/PROJECT/subscriptions/NAME; "
        f"e.g. --requests_subscription={sub}"
    )


@pytest.mark.parametrize("tail", TAILS)
def test_a_dataset_is_a_whole_name(tail):
    assert _options(*RANGE, "--dataset=my-project:fitbit").dataset == "my-project:fitbit"
    with pytest.raises(OptionsError) as caught:
        _options(*RANGE, f"--dataset=my-project:fitbit{tail}")
    assert str(caught.value) == (
        f"--dataset={'my-project:fitbit' + tail!r}: is not project:dataset; "
        "e.g. --dataset=my-project:fitbit"
    )


@pytest.mark.parametrize("tail", TAILS)
def test_a_run_id_is_a_whole_name(tail):
    flags = [*RANGE, "--dataset=my-project:fitbit"]
    assert _options(*flags, "--run_id=backfill-1").run_id == "backfill-1"
    with pytest.raises(OptionsError) as caught:
        _options(*flags, f"--run_id=backfill-1{tail}")
    assert str(caught.value) == (
        f"--run_id={'backfill-1' + tail!r}: may hold letters, digits, '_', '.', '-' only; "
        "e.g. --run_id=backfill-2026-11"
    )


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize("tail", TAILS)
def test_a_relative_date_is_a_whole_word(tail):
    flags = ["--users=user-1", "--dataset=my-project:fitbit", "--end_date=2026-11-27"]
    assert _options(*flags, "--start_date=today-3").start_date == dt.date(2026, 11, 25)
    with pytest.raises(OptionsError) as caught:
        _options(*flags, f"--start_date=today-3{tail}")
    assert str(caught.value).startswith(f"--start_date={'today-3' + tail!r}: is not a civil date")


@pytest.mark.parametrize("tail", TAILS)
def test_a_request_date_with_a_line_break_is_a_bad_format_not_a_bad_day(tail):
    good = json.dumps({"user_id": "user-1", "date": "2026-11-27"}).encode()
    assert parse_request(good, TODAY)[0].start_date == dt.date(2026, 11, 27)
    message = json.dumps({"user_id": "user-1", "date": "2026-11-27" + tail}).encode()
    with pytest.raises(BadRequest) as caught:
        parse_request(message, TODAY)
    assert caught.value.reason == "bad_date"
    assert str(caught.value) == f"date={'2026-11-27' + tail!r} is not a date YYYY-MM-DD"
