"""Consent withdrawal in both token stores: delete, the tombstone, consenting again.

The file store runs on a temporary directory; the Secret Manager store runs the
real client over REST against the local fake (tests/fakes/secret_manager.py),
whose state and request sequence are checked exactly.
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from google.api_core import exceptions as google_errors
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import secretmanager

from healthapi.auth.file_store import LocalFileTokenStore
from healthapi.auth.secret_manager_store import SecretManagerTokenStore
from healthapi.auth.store import check_withdrawal_time, key_digest
from tests.fakes.secret_manager import FakeSecretManager

USER = "participant-017"
OTHER = "participant-018"
DIGEST = hashlib.sha256(USER.encode()).hexdigest()
WHEN = "2026-12-06T11:05:00Z"
TOKEN = {"access_token": "at-w-1", "refresh_token": "rt-w-1", "expires_at": 1795000000.0}
TOKEN_2 = {**TOKEN, "access_token": "at-w-2", "refresh_token": "rt-w-2"}
PROJECT = "my-project"
SECRET = f"fitbeam-user-{USER}"
TOMBSTONE = f"fitbeam-user-_withdrawn_{DIGEST}"


def test_the_digest_is_the_sha256_of_the_key_as_a_coordinator_computes_it():
    # printf %s participant-017 | sha256sum
    assert key_digest(USER) == DIGEST
    assert len(DIGEST) == 64
    with pytest.raises(ValueError, match="invalid user key"):
        key_digest("../x")


@pytest.mark.parametrize(
    "when", ["2026-12-06T11:05:00Z", "2026-12-06T11:05:00.123456Z", "2026-12-06T11:05:00.1Z"]
)
def test_rfc3339_utc_times_are_accepted(when):
    assert check_withdrawal_time(when) == when


@pytest.mark.parametrize(
    "when",
    [
        "",
        "2026-12-06",
        "2026-12-06T11:05:00",
        "2026-12-06T11:05:00+01:00",
        "2026-13-06T11:05:00Z",
        "yesterday",
        None,
    ],
)
def test_other_times_are_refused_with_an_example(when):
    with pytest.raises(ValueError) as caught:
        check_withdrawal_time(when)
    assert "e.g. 2026-12-06T10:58:34Z" in str(caught.value)


# -- the file store -------------------------------------------------------------------


def files_of(root) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name in sorted(os.listdir(root))}


def test_file_delete_removes_the_token_and_says_whether_there_was_one(tmp_path):
    store = LocalFileTokenStore(tmp_path)
    store.save(USER, TOKEN)
    store.save(OTHER, TOKEN_2)
    with store.refresh_lock(USER):
        pass  # leaves .participant-017.lock behind, as a refresh does

    assert store.delete(USER) is True
    assert store.load(USER) is None
    assert store.delete(USER) is False
    assert sorted(os.listdir(tmp_path)) == [f"{OTHER}.json"]
    assert store.load(OTHER) == TOKEN_2


def test_file_delete_removes_an_interrupted_saves_leftover(tmp_path):
    store = LocalFileTokenStore(tmp_path)
    (tmp_path / f".{USER}.json.tmp").write_text(json.dumps(TOKEN))
    assert store.delete(USER) is True
    assert os.listdir(tmp_path) == []
    assert store.load(USER) is None


def test_file_withdrawal_leaves_only_a_tombstone_naming_no_key(tmp_path):
    store = LocalFileTokenStore(tmp_path)
    store.save(USER, TOKEN)
    with store.refresh_lock(USER):
        pass
    assert store.withdrawal(USER) is None

    store.mark_withdrawn(USER, WHEN)

    assert store.load(USER) is None
    assert store.withdrawal(USER) == WHEN
    assert store.withdrawal(OTHER) is None
    assert files_of(tmp_path) == {
        f"_withdrawn-{DIGEST}.json": b'{"withdrawn_at": "2026-12-06T11:05:00Z"}'
    }
    assert os.stat(tmp_path / f"_withdrawn-{DIGEST}.json").st_mode & 0o777 == 0o600


def test_file_consenting_again_clears_the_withdrawal(tmp_path):
    store = LocalFileTokenStore(tmp_path)
    store.mark_withdrawn(USER, WHEN)
    store.save(USER, TOKEN_2)
    assert store.withdrawal(USER) is None
    assert store.load(USER) == TOKEN_2
    assert sorted(os.listdir(tmp_path)) == [f"{USER}.json"]


def test_file_a_tombstone_beside_a_token_is_stale(tmp_path):
    # A crash between a save and its clearing the tombstone: the token wins.
    store = LocalFileTokenStore(tmp_path)
    store.save(USER, TOKEN)
    (tmp_path / f"_withdrawn-{DIGEST}.json").write_text(json.dumps({"withdrawn_at": WHEN}))
    assert store.withdrawal(USER) is None


def test_file_mark_withdrawn_refuses_a_bad_time_and_changes_nothing(tmp_path):
    store = LocalFileTokenStore(tmp_path)
    store.save(USER, TOKEN)
    with pytest.raises(ValueError, match="not an RFC 3339 UTC time"):
        store.mark_withdrawn(USER, "2026-12-06 11:05")
    assert store.load(USER) == TOKEN
    assert store.withdrawal(USER) is None


@pytest.mark.parametrize("method", ["delete", "withdrawal"])
def test_file_unsafe_keys_are_refused(tmp_path, method):
    with pytest.raises(ValueError, match="invalid user key"):
        getattr(LocalFileTokenStore(tmp_path), method)("../escape")


# -- Secret Manager -----------------------------------------------------------------


@pytest.fixture
def fake():
    with FakeSecretManager() as running:
        yield running
    assert running.unhandled == []


@pytest.fixture
def store(fake) -> SecretManagerTokenStore:
    return SecretManagerTokenStore(PROJECT, "fitbeam", fake.endpoint, sleep=lambda s: None)


def test_secret_delete_deletes_the_secret_with_every_version(store, fake):
    store.save(USER, TOKEN)
    store.save(USER, TOKEN_2)
    store.save(OTHER, TOKEN)
    fake.reset_counts()

    assert store.delete(USER) is True
    assert fake.calls == ["DeleteSecret"]
    assert fake.secret_ids(PROJECT) == [f"fitbeam-user-{OTHER}"]
    assert store.load(USER) is None
    fake.reset_counts()
    assert store.delete(USER) is False
    assert fake.calls == ["DeleteSecret"]


def test_secret_withdrawal_is_a_small_secret_naming_no_key(store, fake):
    store.save(USER, TOKEN)
    fake.reset_counts()

    store.mark_withdrawn(USER, WHEN)

    assert fake.calls == [
        "DeleteSecret",  # the token, every version
        "AddSecretVersion",  # the tombstone: not there yet
        "CreateSecret",
        "AddSecretVersion",
        "ListSecretVersions",
    ]
    assert fake.secret_ids(PROJECT) == [TOMBSTONE]
    assert fake.payload(PROJECT, TOMBSTONE, 1) == b'{"withdrawn_at": "2026-12-06T11:05:00Z"}'
    assert fake.secret(PROJECT, TOMBSTONE).labels == {"app": "fitbeam"}
    assert USER not in TOMBSTONE
    assert store.load(USER) is None
    assert store.withdrawal(USER) == WHEN
    assert store.withdrawal(OTHER) is None


def test_secret_tombstone_is_no_users_secret(store):
    # Within the workers' grant (PREFIX-user-*), yet no user key encodes to it.
    assert TOMBSTONE.startswith("fitbeam-user-")
    with pytest.raises(ValueError, match="is not an encoded user key"):
        store.user_key(TOMBSTONE)


def test_secret_consenting_again_clears_the_withdrawal(store, fake):
    store.mark_withdrawn(USER, WHEN)
    fake.reset_counts()

    store.save(USER, TOKEN_2)

    assert fake.calls == [
        "AddSecretVersion",
        "CreateSecret",
        "AddSecretVersion",
        "ListSecretVersions",
        "DeleteSecret",  # the tombstone
    ]
    assert fake.secret_ids(PROJECT) == [SECRET]
    assert store.withdrawal(USER) is None
    assert store.load(USER) == TOKEN_2


def test_secret_a_refresh_save_costs_no_withdrawal_request(store, fake):
    store.save(USER, TOKEN)
    fake.reset_counts()
    store.save(USER, TOKEN_2)
    assert "DeleteSecret" not in fake.calls


def test_secret_a_tombstone_beside_a_token_is_stale(store, fake):
    store.save(USER, TOKEN)
    fake.create_secret(PROJECT, TOMBSTONE)
    fake.add_version(PROJECT, TOMBSTONE, json.dumps({"withdrawn_at": WHEN}).encode())
    assert store.withdrawal(USER) is None


def test_secret_mark_withdrawn_refuses_a_bad_time_before_any_request(store, fake):
    store.save(USER, TOKEN)
    fake.reset_counts()
    with pytest.raises(ValueError, match="not an RFC 3339 UTC time"):
        store.mark_withdrawn(USER, "now")
    assert fake.calls == []


def test_secret_a_transient_delete_error_is_retried(store, fake):
    store.save(USER, TOKEN)
    fake.fail_next(1, 503, method="DeleteSecret")
    fake.reset_counts()
    assert store.delete(USER) is True
    assert fake.calls == ["DeleteSecret", "DeleteSecret"]
    assert fake.secret_ids(PROJECT) == []


def test_fake_deletes_a_secret_as_the_real_client_asks(fake):
    raw = secretmanager.SecretManagerServiceClient(
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=fake.endpoint),
    )
    fake.create_secret(PROJECT, "s1")
    fake.add_version(PROJECT, "s1", b"x")
    raw.delete_secret(name=f"projects/{PROJECT}/secrets/s1")
    assert fake.secret_ids(PROJECT) == []
    with pytest.raises(google_errors.NotFound):
        raw.delete_secret(name=f"projects/{PROJECT}/secrets/s1", retry=None)
