"""transforms.token_store: durable, private, atomic token files."""

from __future__ import annotations

import os
import stat

import pytest

from transforms.token_store import LocalFileTokenStore, check_user_key, token_store_from_uri

TOKEN = {"access_token": "at-1", "refresh_token": "rt-1", "expires_at": 1764331200.0}


def test_save_then_load_round_trips(tmp_path):
    store = LocalFileTokenStore(tmp_path / "tokens")
    store.save("participant-017", TOKEN)
    assert store.load("participant-017") == TOKEN
    assert store.load("participant-018") is None


def test_files_are_owner_only_and_no_temporaries_remain(tmp_path):
    store = LocalFileTokenStore(tmp_path)
    store.save("u1", TOKEN)
    store.save("u1", {**TOKEN, "refresh_token": "rt-2"})
    mode = stat.S_IMODE(os.stat(tmp_path / "u1.json").st_mode)
    assert mode == 0o600
    assert sorted(os.listdir(tmp_path)) == ["u1.json"]
    assert store.load("u1")["refresh_token"] == "rt-2"


@pytest.mark.parametrize("bad", ["", "../etc/passwd", "a/b", ".hidden", "x" * 129, "sp ace"])
def test_unsafe_user_keys_are_refused(tmp_path, bad):
    with pytest.raises(ValueError, match="invalid user key"):
        LocalFileTokenStore(tmp_path).save(bad, TOKEN)


def test_check_user_key_accepts_the_documented_form():
    assert check_user_key("participant-017") == "participant-017"


def test_uri_selects_the_store(tmp_path):
    assert (
        repr(token_store_from_uri(f"file://{tmp_path}"))
        == f"LocalFileTokenStore({str(tmp_path)!r})"
    )
    assert repr(token_store_from_uri(str(tmp_path))) == f"LocalFileTokenStore({str(tmp_path)!r})"
    with pytest.raises(ValueError, match="unsupported token store 'ftp://x'"):
        token_store_from_uri("ftp://x")


def test_repr_never_shows_tokens(tmp_path):
    store = LocalFileTokenStore(tmp_path)
    store.save("u1", TOKEN)
    assert "rt-1" not in repr(store)
