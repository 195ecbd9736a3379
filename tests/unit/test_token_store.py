"""healthapi.auth.stores: durable, private, atomic token files."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from healthapi.auth.file_store import LocalFileTokenStore
from healthapi.auth.store import LockTimeout, check_user_key, token_store_from_uri

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


# -- the refresh lock across processes ------------------------------------------------

_HOLDER = """
import sys
from healthapi.auth.file_store import LocalFileTokenStore
with LocalFileTokenStore(sys.argv[1]).refresh_lock("participant-017"):
    print("held", flush=True)
    sys.stdin.readline()
"""


def _hold_in_another_process(root):
    holder = subprocess.Popen(  # noqa: S603 -- this interpreter, a fixed script
        [sys.executable, "-c", _HOLDER, str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline() == "held\n"
    return holder


def test_the_refresh_lock_is_exclusive_across_processes(tmp_path):
    holder = _hold_in_another_process(tmp_path)
    waits: list[float] = []
    store = LocalFileTokenStore(tmp_path, wait_seconds=0.5, sleep=waits.append)
    try:
        with (
            pytest.raises(LockTimeout, match=r"participant-017.*held by another process"),
            store.refresh_lock("participant-017"),
        ):
            pytest.fail("took a lock another process holds")
        assert waits  # it waited (by polling) before giving up
        with store.refresh_lock("participant-018"):  # other users are not held up
            pass
    finally:
        holder.communicate("release\n")
    with store.refresh_lock("participant-017"):
        pass
    lock_file = tmp_path / ".participant-017.lock"
    assert stat.S_IMODE(lock_file.stat().st_mode) == 0o600


def test_the_refresh_lock_of_a_killed_holder_is_free(tmp_path):
    holder = _hold_in_another_process(tmp_path)
    holder.kill()
    holder.wait()
    with LocalFileTokenStore(tmp_path, wait_seconds=0.5).refresh_lock("participant-017"):
        pass


def test_the_refresh_lock_refuses_unsafe_user_keys(tmp_path):
    with (
        pytest.raises(ValueError, match="invalid user key"),
        LocalFileTokenStore(tmp_path).refresh_lock("../etc"),
    ):
        pass
