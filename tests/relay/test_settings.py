"""`fitbeam relay` settings (relay/config.py), the user map, and the commands (relay/main.py)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from healthapi.settings import OptionsError
from relay.app import RelayApp
from relay.config import RelayConfig, build_app, build_parser, resolve
from relay.main import main, user_map_main
from relay.usermap import check_health_user_id, parse_user_map, read_text
from tests.fakes.secret_manager import FakeSecretManager
from tests.relay.helpers import KEY, SECRET, TOPIC, USER_MAP, VERIFICATION, post

ROOT = Path(__file__).resolve().parents[2]


def args(*argv: str, env: dict | None = None) -> RelayConfig:
    env = {} if env is None else env
    return resolve(build_parser(env).parse_args(list(argv)), env)


GOOD = ["--topic", TOPIC, "--public_key", KEY.public_pem(), "--user_map", "map.json"]


def test_settings_come_from_the_environment_as_cloud_run_passes_them():
    env = {
        "FITBEAM_RELAY_TOPIC": TOPIC,
        "FITBEAM_RELAY_SECRET": SECRET + "\n",
        "FITBEAM_RELAY_PUBLIC_KEY": json.dumps(KEY.tink_keyset()),
        "FITBEAM_RELAY_USER_MAP": "gs://bucket/map.json",
        "FITBEAM_RELAY_SIGNATURE_HEADERS": "X-HEALTHAPI-SIGNATURE",
        "PORT": "9090",
    }
    config = args(env=env)
    assert config == RelayConfig(
        topic=TOPIC,
        secret=SECRET,
        secret_version="",
        public_key=json.dumps(KEY.tink_keyset()),
        user_map="gs://bucket/map.json",
        signature_headers=("X-HEALTHAPI-SIGNATURE",),
        host="0.0.0.0",  # noqa: S104 - the default, compared
        port=9090,
    )
    assert SECRET not in repr(config)


def test_the_public_key_may_be_a_file(tmp_path):
    path = tmp_path / "key.pem"
    path.write_text(KEY.public_pem())
    config = args(
        "--topic", TOPIC, "--public_key", str(path), "--user_map", "m.json",
        env={"FITBEAM_RELAY_SECRET": SECRET},
    )  # fmt: skip
    assert config.public_key == KEY.public_pem().strip()
    assert config.port == 8080
    assert config.signature_headers == ("GOOGLE-HEALTH-API-SIGNATURE", "X-HEALTHAPI-SIGNATURE")


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (GOOD[2:], {"FITBEAM_RELAY_SECRET": SECRET}, "--topic='': is required"),
        (
            ["--topic", "projects/x/topics/t", *GOOD[2:]],
            {"FITBEAM_RELAY_SECRET": SECRET},
            "--topic=",
        ),
        (GOOD, {}, "--secret_version='': is required"),
        (
            [*GOOD, "--secret_version", "projects/p/secrets/s"],
            {"FITBEAM_RELAY_SECRET": SECRET},
            "are both set",
        ),
        ([*GOOD, "--secret_version", "my-secret"], {}, "is not projects/<p>/secrets/<s>"),
        (GOOD[:2] + GOOD[4:], {"FITBEAM_RELAY_SECRET": SECRET}, "--public_key='': is required"),
        (
            [*GOOD[:2], "--public_key", "/nonexistent/key.pem", *GOOD[4:]],
            {"FITBEAM_RELAY_SECRET": SECRET},
            "cannot read the file",
        ),
        (GOOD[:4], {"FITBEAM_RELAY_SECRET": SECRET}, "--user_map='': is required"),
        ([*GOOD, "--port", "http"], {"FITBEAM_RELAY_SECRET": SECRET}, "is not a port number"),
        ([*GOOD, "--signature_headers", "X: Y"], {"FITBEAM_RELAY_SECRET": SECRET}, "header names"),
        (  # matched whole: a trailing newline is not part of a version name
            [*GOOD, "--secret_version", "projects/p/secrets/s\n"],
            {},
            "is not projects/<p>/secrets/<s>",
        ),
    ],
)
def test_bad_settings_name_the_flag(argv, env, message):
    with pytest.raises(OptionsError, match=re.escape(message)):
        args(*argv, env=env)


@pytest.mark.parametrize(
    "secret", ["Bearer shortsecret", "Token-without-a-scheme-" + "k" * 30, "Bearer", " "]
)
def test_a_weak_or_malformed_secret_is_refused_without_showing_it(secret):
    with pytest.raises(OptionsError) as caught:
        args(*GOOD, env={"FITBEAM_RELAY_SECRET": secret})
    assert str(caught.value) == (
        "env FITBEAM_RELAY_SECRET: must hold the whole Authorization header value: a scheme, "
        "a space and at least 16 characters of credentials, "
        'e.g. "Bearer $(openssl rand -hex 32)"'
    )


def test_a_secret_version_without_a_version_reads_the_latest():
    config = args(*GOOD, "--secret_version", "projects/my-project/secrets/relay", env={})
    assert config.secret_version == "projects/my-project/secrets/relay/versions/latest"
    assert config.secret == ""


def secret_client(fake: FakeSecretManager):
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import secretmanager

    return lambda: secretmanager.SecretManagerServiceClient(
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=fake.endpoint),
    )


def test_the_secret_is_read_from_secret_manager(publisher):
    def build(name: str) -> RelayApp:
        config = args(*GOOD, "--secret_version", f"projects/my-project/secrets/{name}", env={})
        return build_app(
            config,
            publisher_factory=lambda: publisher,
            secret_client_factory=secret_client(fake),
            reader=lambda path: json.dumps(USER_MAP),
        )

    with FakeSecretManager() as fake:
        fake.create_secret("my-project", "relay")
        fake.add_version("my-project", "relay", (SECRET + "\n").encode())
        fake.create_secret("my-project", "weak")
        fake.add_version("my-project", "weak", b"Bearer 1234")
        app = build("relay")
        with pytest.raises(OptionsError, match=r"cannot be read \(NotFound\)"):
            build("gone")
        with pytest.raises(OptionsError) as weak:
            build("weak")
    assert str(weak.value).startswith(
        "secret projects/my-project/secrets/weak/versions/latest: must hold the whole "
        "Authorization header value"
    )
    assert "1234" not in str(weak.value)
    assert post(app, VERIFICATION, key=None).status == 201
    assert post(app, VERIFICATION, secret=None, key=None).status == 401


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{broken", "not JSON"),
        ('["user-1"]', "not a JSON object"),
        ('{"12 34": "user-1"}', "is not 1-63 of"),
        ('{"1234": 5}', "is not a string"),
        ('{"1234": "../etc"}', "invalid user key"),
        ('{"1234\\n": "user-1"}', "is not 1-63 of"),
        ('{"1234": "user-1\\n"}', "invalid user key"),
    ],
)
def test_a_bad_user_map_stops_the_start(text, why, publisher):
    config = args(*GOOD, env={"FITBEAM_RELAY_SECRET": SECRET})
    with pytest.raises(OptionsError, match=why):
        build_app(config, publisher_factory=lambda: publisher, reader=lambda p: text)


def test_user_map_command_prints_the_map_and_reports_failures():
    lines, errors = [], []
    ids = {"user-1": "1111", "user-2": "2222"}

    def reader_factory(store, api, token_url):
        assert (store, api, token_url) == (
            "file:///tokens",
            "https://health.googleapis.com",
            "https://oauth2.googleapis.com/token",
        )

        def health_user_id(user):
            if user not in ids:
                raise ValueError("the identity route named no valid healthUserId")
            return ids[user]

        return health_user_id

    code = user_map_main(
        ["--users", "user-2,user-1,user-3", "--token_store", "file:///tokens"],
        reader_factory=reader_factory,
        out=lines.append,
        err=errors.append,
    )
    assert code == 1
    assert json.loads(lines[0]) == {"1111": "user-1", "2222": "user-2"}
    assert errors == [
        "user-3: healthUserId not read: ValueError: the identity route named no valid healthUserId"
    ]
    assert parse_user_map(lines[0]) == {"1111": "user-1", "2222": "user-2"}


def test_user_map_command_checks_its_options():
    errors = []
    code = user_map_main(["--users", "user-1"], err=errors.append)
    assert code == 2
    assert errors == [
        "fitbeam relay user-map: --token_store='': is required; "
        "e.g. --token_store=file:///var/fitbeam/tokens"
    ]


def test_main_exits_2_on_bad_settings_and_0_on_help(monkeypatch, capsys):
    for name in list(os.environ):
        if name.startswith("FITBEAM_RELAY_") or name == "PORT":
            monkeypatch.delenv(name)
    monkeypatch.setenv("FITBEAM_RELAY_SECRET", "Bearer " + "k" * 8)
    assert main(GOOD) == 2
    err = capsys.readouterr().err
    assert err.startswith("fitbeam relay: env FITBEAM_RELAY_SECRET: must hold")
    assert "k" * 8 not in err
    assert main(["--help"]) == 0
    assert "FITBEAM_RELAY_USER_MAP" in capsys.readouterr().out


# --- the user map: identifiers matched whole -------------------------------------------------


def test_a_trailing_newline_makes_no_identifier_in_the_user_map():
    assert parse_user_map('{"7108215177813058725": "user-1"}') == {"7108215177813058725": "user-1"}
    with pytest.raises(ValueError, match=re.escape("invalid user key 'user-1\\n'")):
        parse_user_map('{"7108215177813058725": "user-1\\n"}')
    with pytest.raises(ValueError, match=re.escape("healthUserId '7108215177813058725\\n' is")):
        parse_user_map('{"7108215177813058725\\n": "user-1"}')
    for bad in (
        "7108215177813058725\n",
        "\n7108215177813058725",
        "",
        "1" * 64,
        7108215177813058725,
    ):
        with pytest.raises(ValueError, match="is not 1-63 of A-Z a-z 0-9 -"):
            check_health_user_id(bad)
    assert check_health_user_id("1" * 63) == "1" * 63


def test_a_local_user_map_is_read_and_a_bad_gs_path_refused(tmp_path):
    path = tmp_path / "user-map.json"
    path.write_text(json.dumps(USER_MAP), encoding="utf-8")
    assert parse_user_map(read_text(str(path))) == USER_MAP
    with pytest.raises(ValueError, match="is not gs://BUCKET/OBJECT"):
        read_text("gs://bucket-only")


# --- the commands ------------------------------------------------------------------------------


def test_fitbeam_relay_dispatches_to_the_relay(capsys):
    from commands import cli

    assert cli.main(["relay", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: fitbeam relay [-h] [--topic TOPIC]")
    assert cli.main(["relay", "user-map", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: fitbeam relay user-map")


def test_the_relay_serves_until_sigterm_and_imports_no_beam(tmp_path):
    """`python -m relay` as Cloud Run starts it: answers, stops on SIGTERM with 0, no Beam."""
    user_map = tmp_path / "user-map.json"
    user_map.write_text(json.dumps(USER_MAP), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FITBEAM_RELAY_")}
    env.update(
        FITBEAM_RELAY_SECRET=SECRET,
        FITBEAM_LOG_FORMAT="json",
        PUBSUB_EMULATOR_HOST="127.0.0.1:9",  # a client without credentials; nothing is published
        PYTHONUNBUFFERED="1",
    )
    argv = ["--topic", TOPIC, "--public_key", KEY.public_pem(), "--user_map", str(user_map)]
    argv += ["--host", "127.0.0.1", "--port", "0"]
    process = subprocess.Popen(  # noqa: S603 -- this interpreter, the relay's own module
        [sys.executable, "-X", "importtime", "-m", "relay", *argv],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    listening = threading.Event()

    def drain():
        for line in process.stderr:
            lines.append(line)
            if "relay listening on" in line:
                listening.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        assert listening.wait(60), "".join(lines[-20:])
        (entry,) = [json.loads(x) for x in lines if "relay listening on" in x]
        port = int(re.search(r"127\.0\.0\.1:(\d+) ", entry["message"]).group(1))
        url = f"http://127.0.0.1:{port}/"
        assert requests.post(url, data=VERIFICATION, headers={"Authorization": SECRET}, timeout=5
        ).status_code == 201  # fmt: skip
        assert requests.post(url, data=VERIFICATION, timeout=5).status_code == 401
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    reader.join(10)
    imported = [x.rsplit("|", 1)[-1].strip() for x in lines if x.startswith("import time:")]
    assert {"relay.server", "hypercorn.asyncio", "relay.usermap"} <= set(imported)
    assert [m for m in imported if m.split(".")[0] == "apache_beam"] == []
    logged = [json.loads(x)["message"] for x in lines if x.startswith("{")]
    assert "verification request answered (201)" in logged
    assert "requests refused: 1 in 0 s (401 no Authorization header: 1)" in logged
