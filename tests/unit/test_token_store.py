"""healthapi.auth.stores: durable, private, atomic token files."""

from __future__ import annotations

import errno
import json
import os
import pickle
import stat
import subprocess
import sys
import threading
import traceback

import pytest

from healthapi.auth.file_store import CorruptTokenFile, LocalFileTokenStore, UnsafeTokenStore
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
from healthapi.auth.file_store import CorruptTokenFile, LocalFileTokenStore, UnsafeTokenStore
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


# -- a crash during a save --------------------------------------------------------------

ROTATED = {"access_token": "at-2", "refresh_token": "rt-2-rotated", "expires_at": 1764334800.0}

_CRASHER = """
import os, sys
from healthapi.auth.file_store import CorruptTokenFile, LocalFileTokenStore, UnsafeTokenStore
# The process dies between writing the temporary file and renaming it into place.
store = LocalFileTokenStore(sys.argv[1], rename=lambda *args, **kwargs: os._exit(9))
store.save("participant-017", {"access_token": "at-2", "refresh_token": "rt-2-rotated",
                               "expires_at": 1764334800.0})
"""


def test_a_token_written_before_a_crash_is_adopted_by_the_next_load(tmp_path, caplog):
    LocalFileTokenStore(tmp_path).save("participant-017", TOKEN)
    crashed = subprocess.run(  # noqa: S603 -- this interpreter, a fixed script
        [sys.executable, "-c", _CRASHER, str(tmp_path)], capture_output=True, check=False
    )
    assert crashed.returncode == 9, crashed.stderr
    # The rotated token exists only in the temporary file; the token file is the spent one.
    assert sorted(os.listdir(tmp_path)) == [".participant-017.json.tmp", "participant-017.json"]
    with caplog.at_level("WARNING", logger="healthapi.auth.file_store"):
        assert LocalFileTokenStore(tmp_path).load("participant-017") == ROTATED
    assert sorted(os.listdir(tmp_path)) == ["participant-017.json"]
    assert stat.S_IMODE(os.stat(tmp_path / "participant-017.json").st_mode) == 0o600
    assert caplog.messages == [
        f"token store {tmp_path}: adopted .participant-017.json.tmp as participant-017.json: "
        "an interrupted save had written it completely"
    ]
    assert "rt-2" not in caplog.text


def test_a_save_that_fails_at_the_rename_leaves_its_token_for_the_next_load(tmp_path):
    def fail(*args, **kwargs):
        raise OSError(errno.EIO, "simulated failure before the rename")

    LocalFileTokenStore(tmp_path).save("u1", TOKEN)
    with pytest.raises(OSError, match="simulated failure"):
        LocalFileTokenStore(tmp_path, rename=fail).save("u1", ROTATED)
    assert (tmp_path / ".u1.json.tmp").exists()
    assert LocalFileTokenStore(tmp_path).load("u1") == ROTATED


def test_a_write_cut_short_is_removed_and_the_last_complete_token_stays(tmp_path, caplog):
    store = LocalFileTokenStore(tmp_path)
    store.save("u1", TOKEN)
    (tmp_path / ".u1.json.tmp").write_bytes(b'{"access_token": "at-2", "refresh_tok')
    with caplog.at_level("WARNING", logger="healthapi.auth.file_store"):
        assert store.load("u1") == TOKEN
    assert sorted(os.listdir(tmp_path)) == ["u1.json"]
    assert caplog.messages == [
        f"token store {tmp_path}: removed .u1.json.tmp: a save was cut short before it was complete"
    ]


def test_a_save_supersedes_what_an_earlier_crash_left(tmp_path):
    store = LocalFileTokenStore(tmp_path)
    (tmp_path / ".u1.json.tmp").write_text(json.dumps(TOKEN))
    store.save("u1", ROTATED)
    assert sorted(os.listdir(tmp_path)) == ["u1.json"]
    assert store.load("u1") == ROTATED


def test_the_oauth_client_file_recovers_the_same_way(tmp_path):
    store = LocalFileTokenStore(tmp_path)
    store.save_client("client-1", "secret-1")
    (tmp_path / "._oauth_client.json.tmp").write_text(
        json.dumps({"client_id": "client-2", "client_secret": "secret-2"})
    )
    assert store.load_client() == ("client-2", "secret-2")


# -- symbolic links ------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path):
    """A place outside the store that a planted link points at."""
    place = tmp_path / "outside"
    place.mkdir(mode=0o700)
    return place


def test_a_symlinked_lock_file_is_refused_and_its_target_never_made(tmp_path, outside):
    root = tmp_path / "tokens"
    store = LocalFileTokenStore(root)
    store.save("u1", TOKEN)
    os.symlink(outside / "made-by-the-lock", root / ".u1.lock")
    with pytest.raises(UnsafeTokenStore) as caught, store.refresh_lock("u1"):
        pytest.fail("locked through a symbolic link")
    assert (
        str(caught.value) == f"{root / '.u1.lock'} is a symbolic link; the token store follows none"
    )
    assert os.listdir(outside) == []


def test_a_symlinked_token_file_is_refused(tmp_path, outside):
    root = tmp_path / "tokens"
    store = LocalFileTokenStore(root)
    (outside / "other.json").write_text(json.dumps(TOKEN))
    root.mkdir(mode=0o700)
    os.symlink(outside / "other.json", root / "u1.json")
    with pytest.raises(UnsafeTokenStore, match=r"u1\.json is a symbolic link"):
        store.load("u1")
    store.save("u1", ROTATED)  # the save replaces the link itself, not its target
    assert store.load("u1") == ROTATED
    assert json.loads((outside / "other.json").read_text()) == TOKEN


def test_a_symlinked_temporary_file_is_removed_not_written_through(tmp_path, outside):
    root = tmp_path / "tokens"
    store = LocalFileTokenStore(root)
    store.save("u1", TOKEN)
    (outside / "target").write_text("untouched")
    os.symlink(outside / "target", root / ".u1.json.tmp")
    assert store.load("u1") == TOKEN  # the recovery removes the link
    os.symlink(outside / "target", root / ".u1.json.tmp")
    store.save("u1", ROTATED)
    assert store.load("u1") == ROTATED
    assert (outside / "target").read_text() == "untouched"
    assert sorted(os.listdir(root)) == ["u1.json"]


def test_a_symlinked_or_shared_directory_is_refused(tmp_path, outside):
    link = tmp_path / "tokens"
    os.symlink(outside, link)
    store = LocalFileTokenStore(link)
    for use in (lambda: store.load("u1"), lambda: store.save("u1", TOKEN)):
        with pytest.raises(UnsafeTokenStore) as caught:
            use()
        assert str(caught.value) == (
            f"token directory {link} is a symbolic link; give the directory itself"
        )
    os.chmod(outside, 0o770)  # noqa: S103 -- the shared directory the store must refuse
    with pytest.raises(UnsafeTokenStore, match=r"may be written by others \(mode 770\)"):
        LocalFileTokenStore(outside).save("u1", TOKEN)
    assert os.listdir(outside) == []


def test_a_fifo_where_a_token_belongs_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "u1.json"
    os.mkfifo(fifo)
    raised: list[Exception] = []

    def load():
        try:
            LocalFileTokenStore(tmp_path).load("u1")
        except Exception as err:
            raised.append(err)

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    loader.join(5)
    if loader.is_alive():  # blocked opening the FIFO: let it go, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("load blocked on a FIFO planted where the token belongs")
    assert [str(err) for err in raised] == [f"{fifo} is not a regular file"]


# -- corrupt files -------------------------------------------------------------------

SECRET = "1//0e-refresh-SECRET-token"


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (f'{{"refresh_token": "{SECRET}"'.encode(), "Expecting ',' delimiter at byte 46"),
        (f'"{SECRET}"'.encode(), "it is JSON but not an object"),
        (f'{{"refresh_token": "{SECRET}"}}'.encode("utf-16"), "byte 0 is not UTF-8"),
        (f'{{"refresh_token": "{SECRET}", "x": {"1" * 5000}}}'.encode(), "it is not JSON"),
    ],
)
def test_a_corrupt_token_file_error_shows_none_of_its_content(tmp_path, content, why):
    (tmp_path / "u1.json").write_bytes(content)
    with pytest.raises(CorruptTokenFile) as caught:
        LocalFileTokenStore(tmp_path).load("u1")
    err = caught.value
    assert str(err) == (
        f"{tmp_path / 'u1.json'} ({len(content)} bytes) is not a JSON token object: {why}"
        + ("" if why != "it is not JSON" else " a token can be")
        + "; its content is not shown. Store the token again (`fitbeam authorize`)"
    )
    # Nothing of the file travels with the error: not its text, its arguments, a chained
    # parser error (json's keeps the whole document) or its pickled form.
    shown = "".join(traceback.format_exception(err)) + repr(err.args)
    assert SECRET not in shown
    assert (err.__cause__, err.__context__) == (None, None)
    assert SECRET.encode() not in pickle.dumps(err)
    assert b"SECRET" not in pickle.dumps(err)


def test_a_corrupt_client_file_error_shows_none_of_its_content(tmp_path):
    (tmp_path / "_oauth_client.json").write_text('{"client_secret": "GOCSPX-SECRET"')
    with pytest.raises(CorruptTokenFile) as caught:
        LocalFileTokenStore(tmp_path).load_client()
    assert "GOCSPX" not in "".join(traceback.format_exception(caught.value))
