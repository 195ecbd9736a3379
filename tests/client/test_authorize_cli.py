"""`fitbeam authorize` against the simulator: scopes, where the token goes, what is printed."""

from __future__ import annotations

import io
import json
import urllib.parse

import pytest
import requests

from commands import authorize
from healthapi import datatypes
from healthapi.auth import oauth
from healthapi.auth.store import token_store_from_uri
from simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.client.conftest import visit
from tests.fakes.secret_manager import FakeSecretManager


@pytest.fixture
def client_file(tmp_path):
    path = tmp_path / "client_secret.json"
    path.write_text(
        json.dumps(
            {
                "installed": {
                    "client_id": DEFAULT_CLIENT_ID,
                    "client_secret": DEFAULT_CLIENT_SECRET,
                    "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                    "token_uri": "https://oauth2.googleapis.com/token",
                }
            }
        )
    )
    return path


def scopes_asked(url: str) -> list[str]:
    return sorted(urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["scope"][0].split())


@pytest.mark.parametrize("store_kind", ["file", "secretmanager"])
def test_the_token_is_stored_with_the_scopes_of_the_data_types(
    sim, tmp_path, client_file, store_kind
):
    with FakeSecretManager() as fake:
        uri = (
            f"file://{tmp_path / 'tokens'}"
            if store_kind == "file"
            else f"secretmanager://study-project/fitbeam?endpoint={fake.endpoint}"
        )
        seen: list[str] = []

        def consent(url):
            seen.append(url)
            visit(url)

        out = io.StringIO()
        code = authorize.main(
            [
                "--user=participant-017",
                f"--token_store={uri}",
                f"--client_secrets={client_file}",
                "--data_types=steps,sleep,exercise",
                "--login_hint=user-2",
                f"--api_base_url={sim.base_url}",
            ],
            open_url=consent,
            out=out,
        )

        assert code == 0
        expected_scopes = datatypes.scopes_for(["steps", "sleep", "exercise"])
        assert scopes_asked(seen[0]) == expected_scopes
        assert [s.rsplit("googlehealth.", 1)[1] for s in expected_scopes] == [
            "activity_and_fitness.readonly",  # steps and exercise
            "irn.readonly",  # the IRN profile of the user-level tables
            "location.readonly",  # exercise routes in the TCX export
            "profile.readonly",  # the profile of the user-level tables
            "settings.readonly",  # the time zone `fitbeam enqueue` reads, paired devices
            "sleep.readonly",
        ]
        store = token_store_from_uri(uri)
        assert store.load_client() == (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        token = store.load("participant-017")
        assert sorted(token["scope"]) == expected_scopes
        assert sim.auth.user_of(token["refresh_token"]) == "user-2"
        assert out.getvalue() == (
            f"stored a token for participant-017 in {uri}\n  scopes granted: 6 of 6 asked for\n"
        )
        # The stored token reads data, and refreshes with the stored client.
        client = oauth.OAuthClient.for_base_url(*store.load_client(), sim.base_url)
        refreshed = oauth.refresh(client, token)
        answer = requests.get(
            f"{sim.base_url}/v4/users/me/dataTypes/steps/dataPoints",
            headers={"Authorization": f"Bearer {refreshed['access_token']}"},
            timeout=10,
        )
        assert answer.status_code == 200
        for secret in (token["access_token"], token["refresh_token"], DEFAULT_CLIENT_SECRET):
            assert secret not in out.getvalue()


def test_without_client_secrets_the_stored_client_is_used(sim, tmp_path, client_file):
    uri = f"file://{tmp_path / 'tokens'}"
    token_store_from_uri(uri).save_client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    argv = [f"--token_store={uri}", "--login_hint=user-1", f"--api_base_url={sim.base_url}"]

    assert authorize.main(["--user=user-1", *argv], open_url=visit, out=io.StringIO()) == 0
    token = token_store_from_uri(uri).load("user-1")
    assert sorted(token["scope"]) == datatypes.scopes_for(list(datatypes.DEFAULT_DATA_TYPES))


def test_unticked_scopes_are_reported(tmp_path, client_file):
    from simulator import Simulator, SimulatorConfig

    config = SimulatorConfig(
        users=3, clock_speed=0, denied_scopes={"user-3": {"location.readonly"}}
    )
    with Simulator(config) as sim:
        out = io.StringIO()
        code = authorize.main(
            [
                "--user=user-3",
                f"--token_store={tmp_path}",
                f"--client_secrets={client_file}",
                "--data_types=exercise",
                "--login_hint=user-3",
                f"--api_base_url={sim.base_url}",
            ],
            open_url=visit,
            out=out,
        )
    assert code == 0
    location = [s for s in datatypes.scopes_for(["exercise"]) if s.endswith("location.readonly")]
    assert out.getvalue().splitlines()[1:] == [
        "  scopes granted: 4 of 5 asked for",
        f"  not granted (data needing them will be dead letters): {location[0]}",
    ]


def test_a_refused_consent_stores_nothing(sim, tmp_path, client_file, capsys):
    code = authorize.main(
        [
            "--user=user-1",
            f"--token_store={tmp_path}",
            f"--client_secrets={client_file}",
            "--login_hint=nobody-known",  # the simulator answers access_denied
            f"--api_base_url={sim.base_url}",
        ],
        open_url=visit,
    )
    assert code == 1
    assert capsys.readouterr().err == (
        "fitbeam authorize: user-1: consent was not given: access_denied\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["client_secret.json"]


def test_a_forged_state_is_refused(sim, tmp_path, client_file, capsys):
    def forge(url):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        redirect = query["redirect_uri"][0]
        requests.get(f"{redirect}?code=stolen-code&state=forged-state", timeout=10)

    code = authorize.main(
        [
            "--user=user-1",
            f"--token_store={tmp_path}",
            f"--client_secrets={client_file}",
            f"--api_base_url={sim.base_url}",
        ],
        open_url=forge,
    )
    assert code == 1
    assert "fitbeam authorize: user-1: (mismatching_state)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["client_secret.json"]


@pytest.mark.parametrize(
    ("document", "why"),
    [
        ("not json", "is not JSON"),
        ('{"web": {"client_id": "a", "client_secret": "b"}}', '"Web application" client'),
        ('{"installed": {"client_id": "a"}}', 'no "installed" client with client_id'),
        ("[1, 2]", 'no "installed" client'),
    ],
)
def test_bad_client_files_are_refused_without_showing_them(tmp_path, capsys, document, why):
    path = tmp_path / "client.json"
    path.write_text(document)
    code = authorize.main(
        ["--user=user-1", f"--token_store={tmp_path}", f"--client_secrets={path}"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert why in err
    assert "e.g. --client_secrets=client_secret_1234.apps.googleusercontent.com.json" in err
    assert document not in err or (document == "not json" and err.count("not json") == 0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--user=../x", "--token_store=/tmp/t"], "--user='../x': invalid user key"),
        (["--user=u1", "--token_store=ftp://x"], "--token_store='ftp://x': unsupported"),
        (["--user=u1", "--token_store=/tmp/t", "--data_types=stepz"], "not a supported data type"),
        (["--user=u1", "--token_store=/nonexistent-dir"], "no OAuth client in /nonexistent-dir"),
    ],
)
def test_bad_flags_exit_2_with_the_flag_named(argv, message, capsys):
    assert authorize.main(argv) == 2
    assert message in capsys.readouterr().err


def test_another_client_is_not_stored_over_the_one_in_use(sim, tmp_path, client_file, capsys):
    uri = f"file://{tmp_path / 'tokens'}"
    token_store_from_uri(uri).save_client("other-client.apps.googleusercontent.com", "cs-x")
    argv = [
        "--user=user-1",
        f"--token_store={uri}",
        f"--client_secrets={client_file}",
        "--login_hint=user-1",
        f"--api_base_url={sim.base_url}",
    ]
    assert authorize.main(argv, open_url=visit) == 2
    err = capsys.readouterr().err
    assert err.startswith("fitbeam authorize: --client_secrets='/")
    assert err.endswith(
        "': is another OAuth client than the one in the token store "
        "(other-client.apps.googleusercontent.com); every stored user would have to consent "
        "again. Pass --replace_client to switch\n"
    )
    assert token_store_from_uri(uri).load("user-1") is None

    assert authorize.main([*argv, "--replace_client"], open_url=visit, out=io.StringIO()) == 0
    assert token_store_from_uri(uri).load_client() == (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)


def test_a_store_that_fails_says_so_without_a_traceback(sim, tmp_path, client_file, capsys):
    blocked = tmp_path / "tokens"
    (blocked / "user-1.json").mkdir(parents=True)  # a directory where the token goes
    code = authorize.main(
        [
            "--user=user-1",
            f"--token_store={blocked}",
            f"--client_secrets={client_file}",
            "--login_hint=user-1",
            f"--api_base_url={sim.base_url}",
        ],
        open_url=visit,
    )
    assert code == 1
    assert capsys.readouterr().err == (
        "fitbeam authorize: user-1: the token could not be stored (IsADirectoryError); "
        "nothing was saved, run this again\n"
    )
