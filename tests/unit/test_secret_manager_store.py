"""healthapi.auth.stores.SecretManagerTokenStore against a local fake of Secret Manager.

The store runs with the real client library over its REST transport; only the
server is fake (tests/fakes/secret_manager.py). Its state (versions and their
states, labels) and its request counts are checked exactly. Sleeps are
injected, so retries cost no wall-clock time.
"""

from __future__ import annotations

import json
import logging
import pickle

import pytest
from google.api_core import exceptions as google_errors
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import secretmanager

from healthapi.auth import oauth
from healthapi.auth.broker import TokenBroker, TokenRefreshFailed
from healthapi.auth.file_store import LocalFileTokenStore
from healthapi.auth.secret_manager_store import (
    SecretManagerTokenStore,
    decode_user_key,
    encode_user_key,
)
from healthapi.auth.store import LockTimeout, token_store_from_uri
from tests.fakes.secret_manager import DESTROYED, DISABLED, ENABLED, FakeSecretManager

PROJECT = "my-project"
USER = "participant-017"
SECRET = "fitbeam-user-participant-017"
NOW = 1_795_000_000.0
TOKEN = {
    "access_token": "at-secret-1",
    "refresh_token": "rt-secret-1",
    "expires_at": NOW + 3600,
    "token_type": "Bearer",
}
TOKEN_2 = {**TOKEN, "access_token": "at-secret-2", "refresh_token": "rt-secret-2"}
TOKEN_3 = {**TOKEN, "access_token": "at-secret-3", "refresh_token": "rt-secret-3"}
SECRET_VALUES = ("at-secret", "rt-secret", "cs-secret")

SAVE_NEW = [
    "AddSecretVersion",
    "CreateSecret",
    "AddSecretVersion",
    "ListSecretVersions",
    "DeleteSecret",  # a withdrawal recorded before this consent
]
SAVE_SECOND = ["AddSecretVersion", "ListSecretVersions", "DestroySecretVersion"]


@pytest.fixture
def fake():
    with FakeSecretManager() as running:
        yield running
    # Every request the client sent matched a route the fake knows.
    assert running.unhandled == []


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def store(fake, sleeps) -> SecretManagerTokenStore:
    # rand=0.5: each backoff is half its ceiling, so the waits are exact.
    return SecretManagerTokenStore(
        PROJECT, "fitbeam", fake.endpoint, sleep=sleeps.append, rand=lambda: 0.5
    )


@pytest.fixture
def raw(fake):
    """The real client, straight at the fake: for checking the fake itself."""
    return secretmanager.SecretManagerServiceClient(
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=fake.endpoint),
    )


def stored(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True).encode()


# -- tokens -------------------------------------------------------------------------


def test_save_then_load_round_trips(store, fake):
    store.save(USER, TOKEN)

    assert store.load(USER) == TOKEN
    assert fake.calls == [*SAVE_NEW, "AccessSecretVersion"]
    assert fake.secret_ids(PROJECT) == [SECRET]
    assert fake.payload(PROJECT, SECRET, 1) == stored(TOKEN)


def test_an_unknown_user_loads_as_none_and_creates_nothing(store, fake):
    assert store.load("nobody") is None
    assert fake.calls == ["AccessSecretVersion"]
    assert fake.secret_ids(PROJECT) == []


def test_a_secret_without_versions_loads_as_none(store, fake):
    fake.create_secret(PROJECT, SECRET)
    assert store.load(USER) is None


def test_each_save_adds_one_version_and_destroys_the_older_ones(store, fake):
    store.save(USER, TOKEN)
    assert fake.states(PROJECT, SECRET) == [(1, ENABLED)]

    fake.reset_counts()
    store.save(USER, TOKEN_2)
    assert fake.calls == SAVE_SECOND
    assert fake.states(PROJECT, SECRET) == [(1, DESTROYED), (2, ENABLED)]

    fake.reset_counts()
    store.save(USER, TOKEN_3)
    assert fake.calls == SAVE_SECOND
    assert fake.states(PROJECT, SECRET) == [(1, DESTROYED), (2, DESTROYED), (3, ENABLED)]
    # Old refresh tokens are gone, and no longer billed.
    assert [fake.payload(PROJECT, SECRET, n) for n in (1, 2, 3)] == [b"", b"", stored(TOKEN_3)]
    assert store.load(USER) == TOKEN_3


def test_the_secret_is_created_once_with_labels_and_a_checksum_is_sent(store, fake):
    store.save(USER, TOKEN)
    store.save(USER, TOKEN_2)

    assert fake.requests["CreateSecret"] == 1
    secret = fake.secret(PROJECT, SECRET)
    assert secret.labels == {"app": "fitbeam"}
    assert secret.replication == {"automatic": {}}
    assert [v.client_checksum for v in secret.versions] == [True, True]


def test_a_secret_created_meanwhile_by_another_saver_is_used(store, fake):
    fake.on_next("CreateSecret", lambda: fake.create_secret(PROJECT, SECRET, {"by": "other"}))

    store.save(USER, TOKEN)

    assert fake.calls == SAVE_NEW  # the CreateSecret was answered 409 ALREADY_EXISTS
    assert fake.secret(PROJECT, SECRET).labels == {"by": "other"}
    assert fake.states(PROJECT, SECRET) == [(1, ENABLED)]
    assert store.load(USER) == TOKEN


def test_a_newer_version_from_a_concurrent_save_stays_enabled(store, fake):
    store.save(USER, TOKEN)
    # Another worker adds version 3 between this save's add (2) and its listing.
    fake.on_next("ListSecretVersions", lambda: fake.add_version(PROJECT, SECRET, stored(TOKEN_3)))

    store.save(USER, TOKEN_2)

    assert fake.states(PROJECT, SECRET) == [(1, DESTROYED), (2, ENABLED), (3, ENABLED)]
    assert store.load(USER) == TOKEN_3


def test_a_newest_version_disabled_by_hand_falls_back_to_the_newest_enabled(store, fake):
    fake.create_secret(PROJECT, SECRET)
    fake.add_version(PROJECT, SECRET, stored(TOKEN))
    fake.add_version(PROJECT, SECRET, stored(TOKEN_2))
    fake.set_state(PROJECT, SECRET, 2, DISABLED)
    fake.reset_counts()

    assert store.load(USER) == TOKEN
    # `latest` is version 2 and answers FAILED_PRECONDITION; version 1 is read instead.
    assert fake.calls == ["AccessSecretVersion", "ListSecretVersions", "AccessSecretVersion"]

    fake.set_state(PROJECT, SECRET, 1, DISABLED)
    assert store.load(USER) is None


def test_a_damaged_read_is_refused_without_showing_it(store, fake):
    store.save(USER, TOKEN)
    fake.corrupt(PROJECT, SECRET, 1)

    with pytest.raises(ValueError) as caught:
        store.load(USER)
    assert str(caught.value) == (
        "secret 'fitbeam-user-participant-017': the payload read does not match its checksum"
    )


def test_a_token_that_is_not_a_json_object_is_refused_without_showing_it(store, fake):
    fake.create_secret(PROJECT, SECRET)
    fake.add_version(PROJECT, SECRET, b"rt-secret-9 is not json")

    with pytest.raises(ValueError) as caught:
        store.load(USER)
    assert str(caught.value) == (
        "secret 'fitbeam-user-participant-017' does not hold a JSON token object"
    )
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


# -- the OAuth client ------------------------------------------------------------------


def test_save_client_then_load_client(store, fake):
    store.save_client("client-id-1", "cs-secret-1")
    store.save_client("client-id-2", "cs-secret-2")

    assert store.load_client() == ("client-id-2", "cs-secret-2")
    assert fake.secret_ids(PROJECT) == ["fitbeam-oauth-client"]
    assert fake.states(PROJECT, "fitbeam-oauth-client") == [(1, DESTROYED), (2, ENABLED)]
    assert fake.payload(PROJECT, "fitbeam-oauth-client", 2) == (
        b'{"client_id": "client-id-2", "client_secret": "cs-secret-2"}'
    )
    assert fake.secret(PROJECT, "fitbeam-oauth-client").labels == {"app": "fitbeam"}


def test_a_missing_client_is_a_clear_error(store):
    with pytest.raises(ValueError) as caught:
        store.load_client()
    assert str(caught.value) == (
        "no OAuth client in Secret Manager: secret 'fitbeam-oauth-client' in project "
        "'my-project' is missing or has no enabled version; store it with "
        "SecretManagerTokenStore.save_client(client_id, client_secret), or with "
        "`gcloud secrets create fitbeam-oauth-client --project=my-project "
        "--labels=app=fitbeam --data-file=client.json` where client.json holds "
        '{"client_id": "...", "client_secret": "..."}'
    )


@pytest.mark.parametrize(
    "payload", [b'{"client_id": "client-id-1"}', b"cs-secret-1", b'["cs-secret-1"]']
)
def test_a_malformed_client_is_refused_without_showing_it(store, fake, payload):
    fake.create_secret(PROJECT, "fitbeam-oauth-client")
    fake.add_version(PROJECT, "fitbeam-oauth-client", payload)

    with pytest.raises(ValueError) as caught:
        store.load_client()
    assert str(caught.value) == (
        "secret 'fitbeam-oauth-client' in project 'my-project' must hold JSON "
        '{"client_id": "...", "client_secret": "..."}'
    )


# -- names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_key", "encoded"),
    [
        ("participant-017", "participant-017"),
        ("a.b_c", "a_2Eb_5Fc"),
        ("A_5F", "A_5F5F"),
        ("x..y__z", "x_2E_2Ey_5F_5Fz"),
        ("9", "9"),
    ],
)
def test_user_keys_are_encoded_readably_and_both_ways(user_key, encoded):
    store = SecretManagerTokenStore(PROJECT, "fitbeam")

    assert encode_user_key(user_key) == encoded
    assert decode_user_key(encoded) == user_key
    assert store.secret_id(user_key) == f"fitbeam-user-{encoded}"
    assert store.user_key(f"fitbeam-user-{encoded}") == user_key


def test_an_encoded_key_is_the_secret_on_the_wire(store, fake):
    store.save("a.b_c", TOKEN)
    assert fake.secret_ids(PROJECT) == ["fitbeam-user-a_2Eb_5Fc"]
    assert store.load("a.b_c") == TOKEN
    assert store.load("a_2Eb_5Fc") is None  # a different user


@pytest.mark.parametrize("encoded", ["a_b", "a_2e", "a.b", "", "_2Eab", "a_5", "a b"])
def test_what_encode_cannot_produce_is_refused(encoded):
    with pytest.raises(ValueError, match="user key"):
        decode_user_key(encoded)


def test_a_secret_of_another_prefix_has_no_user_key():
    with pytest.raises(ValueError) as caught:
        SecretManagerTokenStore(PROJECT, "fitbeam").user_key("other-user-u1")
    assert str(caught.value) == "secret 'other-user-u1' does not start with 'fitbeam-user-'"


def test_no_two_stores_of_one_project_share_a_secret():
    # A secret id is PREFIX-user-KEY; with prefixes fitbeam and fitbeam-user-x, user x-user-u1
    # of the first and u1 of the second were one secret. Such prefixes are refused now.
    parts = ("", "2", "-x", "-u", "-use", "-user", "-users", "_user", "-User", "-user-x")
    keys = ("u1", "x", "user-u1", "x-user-u1", "user", "oauth-client", "a.b_c")
    stores = []
    for prefix in {f"{a}{b}{c}" for a in ("fitbeam", "Fb") for b in parts for c in parts}:
        try:
            stores.append(SecretManagerTokenStore(PROJECT, prefix))
        except ValueError as err:
            assert "-user" in prefix, err
    prefixes = {store.prefix for store in stores}
    assert {"fitbeam", "fitbeam-users", "fitbeam_user", "fitbeam-User-x"} <= prefixes
    assert not {"fitbeam-user", "fitbeam-user-x", "Fb-x-user"} & prefixes
    owners: dict[str, tuple[str, str]] = {}
    for store in stores:
        for owner, secret_id in [
            *((f"user {key}", store.secret_id(key)) for key in keys),
            ("the OAuth client", store.client_secret_id),
        ]:
            assert owners.setdefault(secret_id, (store.prefix, owner)) == (store.prefix, owner)


def test_a_prefix_holding_the_user_infix_is_refused():
    for prefix in ("fitbeam-user", "fitbeam-user-x"):
        with pytest.raises(ValueError) as caught:
            SecretManagerTokenStore(PROJECT, prefix)
        assert str(caught.value) == (
            f"invalid secret prefix {prefix!r} in the token store: it may not hold '-user-' nor "
            "end with '-user', which would make its secrets those of another prefix's users, "
            "e.g. secretmanager://my-project/fitbeam"
        )


def test_a_user_key_too_long_once_encoded_is_refused():
    store = SecretManagerTokenStore(PROJECT, "p" * 100)
    assert len(store.secret_id("a" * 128)) == 234  # fits
    with pytest.raises(ValueError) as caught:
        store.secret_id("a." * 64)
    assert str(caught.value) == (
        f"user key {('a.' * 20)!r} is too long for a secret id with prefix {'p' * 100!r}: "
        f"with '_' and '.' written as 3 characters each, '{'p' * 100}-user-' and the key "
        "must fit in 255"
    )


@pytest.mark.parametrize("bad", ["", "../etc/passwd", "a/b", ".hidden", "x" * 129, "sp ace"])
def test_unsafe_user_keys_are_refused_before_any_request(store, fake, bad):
    with pytest.raises(ValueError, match="invalid user key"):
        store.save(bad, TOKEN)
    with pytest.raises(ValueError, match="invalid user key"):
        store.load(bad)
    assert fake.calls == []


# -- URIs ------------------------------------------------------------------------------------

PROJECT_ERROR = (
    "invalid Google Cloud project id {!r} in the token store: use 6-30 lowercase letters, "
    "digits or '-', starting with a letter and not ending with '-', "
    "e.g. secretmanager://my-project/fitbeam"
)
PREFIX_ERROR = (
    "invalid secret prefix {!r} in the token store: use 1-100 letters, digits, '_' or '-', "
    "starting with a letter, e.g. secretmanager://my-project/fitbeam"
)
ENDPOINT_ERROR = (
    "invalid Secret Manager endpoint {!r} in the token store: use https://HOST[:PORT], "
    "or http:// on a loopback address (127.0.0.1, localhost or ::1), "
    "e.g. secretmanager://my-project/fitbeam?endpoint=http://127.0.0.1:8085"
)
OPTION_ERROR = (
    "token store URI {!r}: the only option is one endpoint, "
    "e.g. secretmanager://my-project/fitbeam?endpoint=http://127.0.0.1:8085"
)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("ftp://x", None),
        ("secretmanager://My-Project/fitbeam", PROJECT_ERROR.format("My-Project")),
        ("secretmanager://abcde/fitbeam", PROJECT_ERROR.format("abcde")),
        ("secretmanager://my-project-/fitbeam", PROJECT_ERROR.format("my-project-")),
        ("secretmanager://1project/fitbeam", PROJECT_ERROR.format("1project")),
        ("secretmanager://a" + "b" * 30 + "/fitbeam", PROJECT_ERROR.format("a" + "b" * 30)),
        ("secretmanager:///fitbeam", PROJECT_ERROR.format("")),
        ("secretmanager://my-project", PREFIX_ERROR.format("")),
        ("secretmanager://my-project/", PREFIX_ERROR.format("")),
        ("secretmanager://my-project/9lives", PREFIX_ERROR.format("9lives")),
        ("secretmanager://my-project/fit.beam", PREFIX_ERROR.format("fit.beam")),
        ("secretmanager://my-project/" + "p" * 101, PREFIX_ERROR.format("p" * 40)),
        (
            "secretmanager://my-project/fitbeam/tokens",
            "token store URI 'secretmanager://my-project/fitbeam/tokens' has more than one "
            "path segment: use secretmanager://PROJECT/PREFIX, "
            "e.g. secretmanager://my-project/fitbeam",
        ),
        (
            "secretmanager://my-project/fitbeam?endpoint=http://10.0.0.5:8085",
            ENDPOINT_ERROR.format("http://10.0.0.5:8085"),
        ),
        (
            "secretmanager://my-project/fitbeam?endpoint=http://secretmanager.example.test",
            ENDPOINT_ERROR.format("http://secretmanager.example.test"),
        ),
        (
            "secretmanager://my-project/fitbeam?endpoint=ftp://127.0.0.1:8085",
            ENDPOINT_ERROR.format("ftp://127.0.0.1:8085"),
        ),
        (
            "secretmanager://my-project/fitbeam?endpoint=http://127.0.0.1:8085/v1",
            ENDPOINT_ERROR.format("http://127.0.0.1:8085/v1"),
        ),
        (
            "secretmanager://my-project/fitbeam?endpoint=http://127.0.0.1:port",
            ENDPOINT_ERROR.format("http://127.0.0.1:port"),
        ),
        (
            "secretmanager://my-project/fitbeam?endpoint=https://user@example.test",
            # User info may hold a password: the message leaves it out.
            ENDPOINT_ERROR.format("https://[user info]@example.test"),
        ),
        (
            "secretmanager://my-project/fitbeam?endpoint=",
            ENDPOINT_ERROR.format(""),
        ),
        (
            "secretmanager://my-project/fitbeam?region=eu",
            OPTION_ERROR.format("secretmanager://my-project/fitbeam?region=eu"),
        ),
        (
            "secretmanager://my-project/fitbeam?endpoint=https://a.test&endpoint=https://b.test",
            OPTION_ERROR.format(
                "secretmanager://my-project/fitbeam?endpoint=https://a.test&endpoint=https://b.te"
            ),
        ),
        (
            "secretmanager://my-project/fitbeam#x",
            "token store URI 'secretmanager://my-project/fitbeam#x' is not "
            "secretmanager://PROJECT/PREFIX, e.g. secretmanager://my-project/fitbeam",
        ),
    ],
)
def test_bad_uris_are_refused_with_an_example(uri, message):
    if message is None:  # not Secret Manager at all
        message = (
            "unsupported token store 'ftp://x'; use a directory such as "
            "file:///var/fitbeam/tokens, or Secret Manager such as "
            "secretmanager://my-project/fitbeam"
        )
    with pytest.raises(ValueError) as caught:
        token_store_from_uri(uri)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("uri", "endpoint"),
    [
        ("secretmanager://my-project/fitbeam", None),
        ("SecretManager://my-project/fitbeam", None),
        (
            "secretmanager://my-project/fitbeam?endpoint=http://127.0.0.1:8085",
            "http://127.0.0.1:8085",
        ),
        (
            "secretmanager://my-project/fitbeam?endpoint=http://localhost:8085/",
            "http://localhost:8085",
        ),
        ("secretmanager://my-project/fitbeam?endpoint=http://[::1]:8085", "http://[::1]:8085"),
        (
            "secretmanager://my-project/fitbeam?endpoint=https://sm.example.test",
            "https://sm.example.test",
        ),
        (
            "secretmanager://my-project/fitbeam?endpoint=http%3A%2F%2F127.0.0.1%3A8085",
            "http://127.0.0.1:8085",
        ),
    ],
)
def test_good_uris_build_a_store(uri, endpoint):
    store = token_store_from_uri(uri)

    assert isinstance(store, SecretManagerTokenStore)
    assert repr(store) == "SecretManagerTokenStore(project='my-project', prefix='fitbeam')"
    assert (store.project, store.prefix, store.endpoint) == ("my-project", "fitbeam", endpoint)


def test_an_endpoint_with_nothing_listening_is_not_contacted_until_used():
    # Construction must not connect: options are validated where no service is reachable.
    store = token_store_from_uri("secretmanager://my-project/fitbeam?endpoint=http://127.0.0.1:9")
    assert store.endpoint == "http://127.0.0.1:9"


# -- retries -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_a_transient_error_on_add_is_retried_and_the_save_adds_one_version(
    store, fake, sleeps, status
):
    store.save(USER, TOKEN)
    fake.reset_counts()
    fake.fail_next(1, status=status, method="AddSecretVersion")

    store.save(USER, TOKEN_2)

    assert sleeps == [0.25]
    assert fake.calls == ["AddSecretVersion", *SAVE_SECOND]
    assert fake.states(PROJECT, SECRET) == [(1, DESTROYED), (2, ENABLED)]
    assert store.load(USER) == TOKEN_2


def test_transient_errors_on_load_are_retried(store, fake, sleeps):
    store.save(USER, TOKEN)
    fake.reset_counts()
    fake.fail_next(2, status=503, method="AccessSecretVersion")

    assert store.load(USER) == TOKEN
    assert sleeps == [0.25, 0.5]
    assert fake.requests["AccessSecretVersion"] == 3


def test_retries_are_bounded(store, fake, sleeps):
    store.save(USER, TOKEN)
    fake.reset_counts()
    fake.fail_next(5, status=503, method="AddSecretVersion")

    with pytest.raises(google_errors.ServiceUnavailable):
        store.save(USER, TOKEN_2)

    assert sleeps == [0.25, 0.5, 1.0, 2.0]
    assert fake.calls == ["AddSecretVersion"] * 5
    assert fake.states(PROJECT, SECRET) == [(1, ENABLED)]


def test_a_permanent_error_propagates_without_retry(store, fake, sleeps):
    store.save(USER, TOKEN)
    fake.reset_counts()
    fake.fail_next(1, status=403, method="AddSecretVersion")

    with pytest.raises(google_errors.Forbidden) as caught:
        store.save(USER, TOKEN_2)

    assert caught.value.code == 403
    assert sleeps == []
    assert fake.calls == ["AddSecretVersion"]
    assert fake.states(PROJECT, SECRET) == [(1, ENABLED)]
    assert store.load(USER) == TOKEN


def test_a_failed_destroy_does_not_fail_the_save_and_the_next_save_tidies_up(
    store, fake, sleeps, caplog
):
    store.save(USER, TOKEN)
    fake.fail_next(1, status=403, method="DestroySecretVersion")

    with caplog.at_level(logging.WARNING, logger="healthapi.auth.stores"):
        store.save(USER, TOKEN_2)

    assert fake.states(PROJECT, SECRET) == [(1, ENABLED), (2, ENABLED)]
    assert store.load(USER) == TOKEN_2
    assert caplog.messages == [
        "secret fitbeam-user-participant-017: version 2 is saved, but destroying older "
        "versions 1 failed with Forbidden; they stay enabled until the next save"
    ]

    # One version per page: the next save lists three pages, then destroys both.
    fake.max_page_size = 1
    fake.reset_counts()
    store.save(USER, TOKEN_3)
    assert fake.calls == [
        "AddSecretVersion",
        *["ListSecretVersions"] * 3,
        *["DestroySecretVersion"] * 2,
    ]
    assert fake.states(PROJECT, SECRET) == [(1, DESTROYED), (2, DESTROYED), (3, ENABLED)]
    assert sleeps == []


def test_a_failed_listing_does_not_fail_the_save(store, fake, caplog):
    store.save(USER, TOKEN)
    fake.fail_next(1, status=403, method="ListSecretVersions")

    with caplog.at_level(logging.WARNING, logger="healthapi.auth.stores"):
        store.save(USER, TOKEN_2)

    assert fake.states(PROJECT, SECRET) == [(1, ENABLED), (2, ENABLED)]
    assert caplog.messages == [
        "secret fitbeam-user-participant-017: version 2 is saved, but listing the older "
        "versions failed with Forbidden; they stay enabled"
    ]


# -- nothing secret shows ---------------------------------------------------------------------


def test_no_token_or_client_secret_shows_in_repr_errors_or_logs(store, fake, caplog):
    seen: list[str] = [repr(store)]
    with caplog.at_level(logging.DEBUG):
        store.save_client("client-id-1", "cs-secret-1")
        store.save(USER, TOKEN)
        fake.fail_next(1, status=503, method="AddSecretVersion")
        fake.fail_next(1, status=500, method="DestroySecretVersion")
        fake.fail_next(4, status=403, method="DestroySecretVersion")
        store.save(USER, TOKEN_2)
        fake.fail_next(1, status=403, method="AddSecretVersion")
        for action in (lambda: store.save(USER, TOKEN_3), lambda: store.load(USER)):
            fake.fail_next(1, status=403)
            with pytest.raises(google_errors.Forbidden) as caught:
                action()
            error: BaseException | None = caught.value
            while error is not None:
                seen += [str(error), repr(error)]
                error = error.__context__
    seen.append(caplog.text)

    assert repr(store) == "SecretManagerTokenStore(project='my-project', prefix='fitbeam')"
    assert "retrying" in caplog.text  # the scenario did log
    assert "destroying older versions 1 failed" in caplog.text
    for text in seen:
        for value in SECRET_VALUES:
            assert value not in text


# -- Beam pickles it -----------------------------------------------------------------------------


def test_the_store_pickles_before_and_after_use(fake):
    store = token_store_from_uri(f"secretmanager://{PROJECT}/fitbeam?endpoint={fake.endpoint}")
    clone = pickle.loads(pickle.dumps(store))  # noqa: S301 -- bytes made just above
    clone.save(USER, TOKEN)

    # The used store holds a client (sessions, locks): it must still pickle, without it.
    pickled = pickle.dumps(clone)
    assert b"at-secret" not in pickled
    assert b"SecretManagerServiceClient" not in pickled
    again = pickle.loads(pickled)  # noqa: S301 -- bytes made just above
    assert again.load(USER) == TOKEN
    assert repr(again) == repr(store)
    again.save(USER, TOKEN_2)
    assert clone.load(USER) == TOKEN_2


# -- with the token broker ------------------------------------------------------------------------


def test_the_broker_refreshes_through_the_store_and_the_new_token_is_latest(store, fake):
    client = oauth.OAuthClient("client-id", "cs-secret", token_url="https://example.test/token")
    store.save(USER, {**TOKEN, "expires_at": NOW - 1})
    refreshed: list[tuple[str, str]] = []

    def refresh(oauth_client, old):
        assert oauth_client is client
        refreshed.append((old["access_token"], old["refresh_token"]))
        return {**TOKEN_2, "expires_at": NOW + 3600}

    broker = TokenBroker(store, client, clock=lambda: NOW, refresh=refresh)

    assert broker.access_token(USER) == "at-secret-2"
    assert refreshed == [("at-secret-1", "rt-secret-1")]
    assert fake.states(PROJECT, SECRET) == [(1, DESTROYED), (2, ENABLED)]
    assert json.loads(fake.payload(PROJECT, SECRET, 2)) == {**TOKEN_2, "expires_at": NOW + 3600}
    # A broker in another process starts from the stored token and does not refresh.
    later = TokenBroker(store, client, clock=lambda: NOW, refresh=refresh)
    assert later.access_token(USER) == "at-secret-2"
    assert len(refreshed) == 1


# -- the fake answers as the service does ---------------------------------------------------------


def test_fake_errors_reach_the_client_as_googles(raw, fake):
    parent = f"projects/{PROJECT}"
    secret = {"replication": {"automatic": {}}}
    with pytest.raises(google_errors.NotFound):
        raw.get_secret(name=f"{parent}/secrets/s1")
    raw.create_secret(parent=parent, secret_id="s1", secret=secret)
    with pytest.raises(google_errors.Conflict) as caught:
        raw.create_secret(parent=parent, secret_id="s1", secret=secret)
    assert caught.value.response.json()["error"] == {
        "code": 409,
        "message": "Secret [projects/my-project/secrets/s1] already exists.",
        "status": "ALREADY_EXISTS",
    }
    with pytest.raises(google_errors.NotFound, match="not found or has no versions"):
        raw.access_secret_version(name=f"{parent}/secrets/s1/versions/latest", retry=None)
    with pytest.raises(google_errors.BadRequest, match="Checksum mismatch"):
        raw.add_secret_version(
            parent=f"{parent}/secrets/s1", payload={"data": b"x", "data_crc32c": 1}
        )
    raw.add_secret_version(parent=f"{parent}/secrets/s1", payload={"data": b"x"})
    raw.disable_secret_version(name=f"{parent}/secrets/s1/versions/1")
    with pytest.raises(google_errors.BadRequest) as caught:
        raw.access_secret_version(name=f"{parent}/secrets/s1/versions/latest", retry=None)
    assert caught.value.response.json()["error"] == {
        "code": 400,
        "message": "Secret Version [projects/my-project/secrets/s1/versions/1] is in "
        "DISABLED state.",
        "status": "FAILED_PRECONDITION",
    }
    assert fake.requests == {
        "GetSecret": 1,
        "CreateSecret": 2,
        "AccessSecretVersion": 2,
        "AddSecretVersion": 2,
        "DisableSecretVersion": 1,
    }


def test_fake_lists_newest_first_in_pages_with_states_and_filters(raw, fake):
    fake.create_secret(PROJECT, "s1")
    for n in range(5):
        fake.add_version(PROJECT, "s1", b"%d" % n)
    fake.set_state(PROJECT, "s1", 2, DISABLED)
    parent = f"projects/{PROJECT}/secrets/s1"
    state = secretmanager.SecretVersion.State

    every = list(raw.list_secret_versions(request={"parent": parent, "page_size": 2}))
    enabled = list(
        raw.list_secret_versions(
            request={"parent": parent, "page_size": 2, "filter": "state:ENABLED"}
        )
    )

    assert [(v.name.rsplit("/", 1)[1], v.state) for v in every] == [
        ("5", state.ENABLED),
        ("4", state.ENABLED),
        ("3", state.ENABLED),
        ("2", state.DISABLED),
        ("1", state.ENABLED),
    ]
    assert [v.name.rsplit("/", 1)[1] for v in enabled] == ["5", "4", "3", "1"]
    assert fake.requests == {"ListSecretVersions": 5}  # 3 pages, then 2


def test_fake_access_returns_the_payload_with_its_checksum(raw, fake):
    fake.create_secret(PROJECT, "s1")
    fake.add_version(PROJECT, "s1", b"hello")
    response = raw.access_secret_version(name=f"projects/{PROJECT}/secrets/s1/versions/latest")
    assert response.name == f"projects/{PROJECT}/secrets/s1/versions/1"
    assert response.payload.data == b"hello"
    assert response.payload.data_crc32c == 0x9A71BB4C  # CRC-32C of b"hello"


# -- the refresh lease ---------------------------------------------------------------

LEASE = "fitbeam-refresh-lease"


class Clock:
    """Epoch seconds that move only when the store sleeps."""

    def __init__(self, now: float = NOW):
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def leasing(fake, clock) -> SecretManagerTokenStore:
    return SecretManagerTokenStore(
        PROJECT,
        "fitbeam",
        fake.endpoint,
        sleep=clock.sleep,
        rand=lambda: 0.5,
        clock=clock,
        lease_seconds=120,
        wait_seconds=10,
    )


def lease_of(fake) -> tuple[str, float] | None:
    value = fake.secret(PROJECT, SECRET).annotations.get(LEASE)
    if value is None:
        return None
    lease_id, until = value.split()
    return lease_id, float(until)


def test_the_lease_is_written_while_held_and_removed_after(leasing, fake, clock):
    leasing.save(USER, TOKEN)
    fake.set_annotations(PROJECT, SECRET, {"owner": "research-team"})
    fake.reset_counts()

    with leasing.refresh_lock(USER):
        lease_id, until = lease_of(fake)
        assert len(lease_id) == 32
        assert until == NOW + 120
        assert fake.calls == ["GetSecret", "UpdateSecret"]

    assert fake.secret(PROJECT, SECRET).annotations == {"owner": "research-team"}
    # Released with the etag the lease was written with: no read.
    assert fake.calls == ["GetSecret", "UpdateSecret", "UpdateSecret"]
    assert clock.sleeps == []


def test_a_live_lease_of_another_holder_is_waited_for_then_given_up(leasing, fake, clock):
    leasing.save(USER, TOKEN)
    fake.set_annotations(PROJECT, SECRET, {LEASE: f"other-worker {NOW + 60:.3f}"})

    with (
        pytest.raises(LockTimeout, match=r"another refresh held the lease for 10 s"),
        leasing.refresh_lock(USER),
    ):
        pytest.fail("took a live lease")
    # Polls back off from 0.5 s by half each time (jitter 0.5: no change) for 10 s.
    assert clock.sleeps == [0.5, 0.75, 1.125, 1.6875, 2.53125, 3.796875]
    assert lease_of(fake) == ("other-worker", NOW + 60)  # untouched


def test_a_lease_released_while_waiting_is_taken(leasing, fake, clock):
    leasing.save(USER, TOKEN)
    fake.set_annotations(PROJECT, SECRET, {LEASE: f"other-worker {NOW + 60:.3f}"})

    def look(n):
        if n == 3:  # the other holder is done by our third look
            fake.set_annotations(PROJECT, SECRET, {})
        else:
            fake.on_next("GetSecret", lambda: look(n + 1))

    fake.on_next("GetSecret", lambda: look(1))
    with leasing.refresh_lock(USER):
        assert lease_of(fake)[0] != "other-worker"
    assert clock.sleeps == [0.5, 0.75]


def test_a_lapsed_lease_is_taken_over(leasing, fake, clock):
    leasing.save(USER, TOKEN)
    fake.set_annotations(PROJECT, SECRET, {LEASE: f"dead-worker {NOW - 1:.3f}"})

    with leasing.refresh_lock(USER):
        assert lease_of(fake)[0] not in ("dead-worker",)
    assert clock.sleeps == []
    assert lease_of(fake) is None


def test_of_two_takers_with_the_same_etag_only_one_wins(leasing, fake, clock):
    """Another process writes its lease between our read and our update."""
    leasing.save(USER, TOKEN)
    fake.on_next(
        "UpdateSecret",
        lambda: fake.set_annotations(PROJECT, SECRET, {LEASE: f"other-worker {NOW + 1:.3f}"}),
    )
    fake.reset_counts()

    with leasing.refresh_lock(USER):
        assert lease_of(fake)[0] != "other-worker"
    # Refused (etag), read again, waited out the other's 1 s lease, took it over.
    assert fake.calls[:4] == ["GetSecret", "UpdateSecret", "GetSecret", "GetSecret"]
    assert sum(clock.sleeps) >= 1.0
    assert fake.requests["UpdateSecret"] == 3  # refused, taken, released


def test_a_lease_taken_over_after_it_lapsed_is_not_removed_by_its_old_holder(leasing, fake, clock):
    leasing.save(USER, TOKEN)
    with leasing.refresh_lock(USER):
        fake.set_annotations(PROJECT, SECRET, {LEASE: f"next-worker {NOW + 500:.3f}"})
    assert lease_of(fake) == ("next-worker", NOW + 500)


def test_a_user_without_a_secret_locks_nothing(leasing, fake):
    with leasing.refresh_lock(USER):
        pass
    assert fake.calls == ["GetSecret"]
    assert fake.secret_ids(PROJECT) == []


def test_a_failed_release_is_logged_and_the_lease_lapses(leasing, fake, caplog):
    leasing.save(USER, TOKEN)
    with leasing.refresh_lock(USER):
        fake.fail_next(5, 503, method="UpdateSecret")
    assert lease_of(fake) is not None
    assert "releasing the refresh lease failed with ServiceUnavailable" in caplog.text
    assert "lapses in 120 s" in caplog.text


def test_the_lease_says_how_long_it_holds(leasing, fake, clock):
    leasing.save(USER, TOKEN)
    with leasing.refresh_lock(USER) as lease:
        assert lease.remaining() == 120
        clock.now += 30
        assert lease.remaining() == 90


def test_a_lease_changed_by_someone_else_meanwhile_is_released_after_reading_it(
    leasing, fake, clock
):
    leasing.save(USER, TOKEN)
    with leasing.refresh_lock(USER):
        lease_value = fake.secret(PROJECT, SECRET).annotations[LEASE]
        # A person adds an annotation while the lease is held: the etag changes.
        fake.set_annotations(PROJECT, SECRET, {LEASE: lease_value, "owner": "team"})
        fake.reset_counts()
    assert fake.calls == ["UpdateSecret", "GetSecret", "UpdateSecret"]
    assert fake.secret(PROJECT, SECRET).annotations == {"owner": "team"}


def test_the_file_lock_holds_until_released(tmp_path):
    with LocalFileTokenStore(tmp_path).refresh_lock(USER) as lease:
        assert lease.remaining() == float("inf")


def test_a_holder_whose_store_was_slow_gives_up_instead_of_racing_the_next_holder(fake, clock):
    """The lease lapses at 300 s; a re-read that took 150 s leaves too little to refresh."""
    store = SecretManagerTokenStore(
        PROJECT, "fitbeam", fake.endpoint, sleep=clock.sleep, rand=lambda: 0.5, clock=clock
    )
    client = oauth.OAuthClient("client-id", "cs-secret", token_url="https://example.test/token")
    store.save(USER, {**TOKEN, "expires_at": NOW - 1})
    refreshed: list[str] = []

    def refresh(oauth_client, old):
        refreshed.append(old["refresh_token"])
        return {**TOKEN_2, "expires_at": clock() + 3600}

    broker = TokenBroker(store, client, clock=clock, refresh=refresh)
    store.load(USER)  # the client is made; the next AccessSecretVersion is the re-read

    def slow():
        clock.now += 150

    fake.on_next("GetSecret", lambda: fake.on_next("AccessSecretVersion", slow))
    with pytest.raises(TokenRefreshFailed, match="only 150 s of the refresh lease left"):
        broker.access_token(USER)
    assert refreshed == []
    assert lease_of(fake) is None  # released for the next holder

    # With the store quick again, the next attempt refreshes once.
    assert broker.access_token(USER) == "at-secret-2"
    assert refreshed == ["rt-secret-1"]
