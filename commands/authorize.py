"""`fitbeam authorize`: a user consents, and their token goes into the token store.

Google's installed-app flow (`healthapi.auth.oauth.authorize`): authorization code
with PKCE (S256), a redirect to a loopback port on this machine, a random
`state` checked on return, and offline access so that a refresh token is
issued. The scopes asked for are the read scopes of the chosen data types
(plus the settings scope that `fitbeam enqueue` reads time zones with, and the
location scope when exercises are loaded, for their TCX routes).

The OAuth client comes from `--client_secrets`, the JSON file the Google Cloud
console downloads for a "Desktop app" client, and is stored beside the tokens
(the pipeline refreshes with it); without the flag, the one already in the
store is used.

    fitbeam authorize --user participant-017 \\
        --token_store secretmanager://my-project/fitbeam \\
        --client_secrets client_secret_1234.apps.googleusercontent.com.json

The consent page opens in a browser on this machine; with `--no_browser` its
address is printed instead. The redirect goes to 127.0.0.1 on this machine, so
open the address in a browser here (on a remote machine, forward the port that
the address's `redirect_uri` names, e.g. `ssh -L PORT:127.0.0.1:PORT host`).
No token is printed or logged. A participant who withdrew consent (`fitbeam
forget`) consents again this way: the store's withdrawal record is cleared.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import webbrowser
from collections.abc import Callable

from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from healthapi import datatypes
from healthapi.auth import oauth
from healthapi.auth.store import check_user_key, token_store_from_uri
from healthapi.settings import (
    GOOGLE_HEALTH_API,
    OptionsError,
    check_url,
    parse_data_types,
    resolve_token_url,
)

_LOGGER = logging.getLogger(__name__)

CLIENT_SECRETS_EXAMPLE = "client_secret_1234.apps.googleusercontent.com.json"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fitbeam authorize", description=__doc__.splitlines()[0])
    parser.add_argument("--user", required=True, help="The user's key, e.g. participant-017.")
    parser.add_argument(
        "--token_store",
        required=True,
        help="Where the token goes: a directory or secretmanager://PROJECT/PREFIX, "
        "e.g. file:///var/fitbeam/tokens.",
    )
    parser.add_argument(
        "--client_secrets",
        default="",
        help="The OAuth client's JSON file (a Desktop app client from the Google Cloud "
        f"console), e.g. {CLIENT_SECRETS_EXAMPLE}; stored beside the tokens. Default: "
        "the client already in the token store.",
    )
    parser.add_argument(
        "--replace_client",
        action="store_true",
        help="Store --client_secrets even though the token store holds another OAuth "
        "client (its users must then consent again).",
    )
    parser.add_argument(
        "--data_types",
        default=",".join(datatypes.DEFAULT_DATA_TYPES),
        help="Data types to ask read access for, comma-separated (default: all supported), "
        "e.g. steps,sleep,heart-rate.",
    )
    parser.add_argument(
        "--login_hint",
        default="",
        help="The Google account to preselect on the consent page, e.g. someone@example.com.",
    )
    parser.add_argument(
        "--no_browser",
        action="store_true",
        help="Print the consent page's address instead of opening a browser.",
    )
    parser.add_argument(
        "--timeout_seconds",
        type=float,
        default=300.0,
        help="How long to wait for the consent page's answer (default 300).",
    )
    parser.add_argument(
        "--api_base_url",
        default=GOOGLE_HEALTH_API,
        help=f"Google Health API root (default {GOOGLE_HEALTH_API}); a local simulator's "
        "root serves the consent page and the token endpoint too.",
    )
    parser.add_argument("--token_url", default="", help="OAuth token endpoint (default: Google's).")
    return parser


def read_client_secrets(path: str) -> tuple[str, str]:
    """(client id, client secret) from a client JSON file as Google's console downloads it.

    Raises:
        OptionsError: unreadable, not JSON, or not an installed-app client; the
            message never shows the file's contents.
    """
    why = None
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
    except OSError as err:
        why = f"cannot be read ({err.strerror})"
    except ValueError:
        why = "is not JSON"
    if why is None:
        client = document.get("installed") if isinstance(document, dict) else None
        if isinstance(document, dict) and "web" in document:
            why = 'is a "Web application" client; create a "Desktop app" client'
        elif not isinstance(client, dict) or not all(
            isinstance(client.get(k), str) and client.get(k) for k in ("client_id", "client_secret")
        ):
            why = 'has no "installed" client with client_id and client_secret'
        else:
            return client["client_id"], client["client_secret"]
    raise OptionsError("client_secrets", path, why, CLIENT_SECRETS_EXAMPLE)


def main(
    argv: list[str] | None = None,
    open_url: Callable[[str], object] | None = None,
    out=sys.stdout,
) -> int:
    """Runs the consent flow for one user and stores their token.

    Args:
        argv: the command line after `authorize`.
        open_url: shows the consent page (test seam; default: a browser, or
            printing the address with --no_browser).
        out: where the outcome is printed.

    Returns:
        0 when the token is stored; 1 when consent failed; 2 for a bad flag.
    """
    args = build_parser().parse_args(argv)
    try:
        user = _user(args.user)
        data_types = list(parse_data_types(args.data_types))
        api = check_url(args.api_base_url, "api_base_url", GOOGLE_HEALTH_API)
        token_url = resolve_token_url(api, args.token_url)
        try:
            store = token_store_from_uri(args.token_store)
        except ValueError as err:
            raise OptionsError(
                "token_store", args.token_store, str(err), "file:///var/fitbeam/tokens"
            ) from None
        if args.client_secrets:
            client_id, client_secret = read_client_secrets(args.client_secrets)
            _check_same_client(store, client_id, args)
        else:
            try:
                client_id, client_secret = store.load_client()
            except ValueError as err:
                raise OptionsError("client_secrets", "", str(err), CLIENT_SECRETS_EXAMPLE) from None
    except OptionsError as err:
        print(f"fitbeam authorize: {err}", file=sys.stderr)
        return 2

    if api != GOOGLE_HEALTH_API and token_url == api + "/token":
        # A local simulator serves the consent page and the token endpoint itself.
        client = oauth.OAuthClient.for_base_url(client_id, client_secret, api)
    else:
        client = oauth.OAuthClient(client_id, client_secret, token_url=token_url)
    scopes = datatypes.scopes_for(data_types)
    if open_url is None:
        open_url = _print_url if args.no_browser else _browse
    try:
        token = oauth.authorize(
            client,
            scopes,
            login_hint=args.login_hint or None,
            open_url=open_url,
            timeout_seconds=args.timeout_seconds,
        )
    except (oauth.ConsentError, OAuth2Error) as err:
        # OAuth2Error's text is the provider's error code and description, never a token.
        print(f"fitbeam authorize: {user}: {err}", file=sys.stderr)
        return 1
    try:
        withdrawn_at = store.withdrawal(user)  # only said below: a save clears it
    except Exception:  # the store's own retries are spent; the save below says so
        withdrawn_at = None
    try:
        if args.client_secrets:
            store.save_client(client_id, client_secret)
        with store.refresh_lock(user):  # never beside a running job's refresh of this user
            store.save(user, token)
    except Exception as err:  # the store's own retries are spent
        print(
            f"fitbeam authorize: {user}: the token could not be stored ({type(err).__name__}); "
            "nothing was saved, run this again",
            file=sys.stderr,
        )
        return 1
    granted = sorted(set(token.get("scope") or []))
    missing = sorted(set(scopes) - set(granted))
    print(f"stored a token for {user} in {args.token_store}", file=out)
    if withdrawn_at:
        print(f"  consented again: the withdrawal of {withdrawn_at} is cleared", file=out)
    print(f"  scopes granted: {len(granted)} of {len(scopes)} asked for", file=out)
    if missing:
        print(
            "  not granted (data needing them will be dead letters): " + ", ".join(missing),
            file=out,
        )
    return 0


def _check_same_client(store, client_id: str, args: argparse.Namespace) -> None:
    """Refuses to replace the stored OAuth client unless asked to.

    Every stored user's refresh token belongs to the client that issued it: with
    another client, all of them would have to consent again.
    """
    if args.replace_client:
        return
    try:
        stored_id, _ = store.load_client()
    except ValueError:
        return  # none stored yet
    if stored_id != client_id:
        raise OptionsError(
            "client_secrets",
            args.client_secrets,
            f"is another OAuth client than the one in the token store ({stored_id}); every "
            "stored user would have to consent again. Pass --replace_client to switch",
            None,
        )


def _user(value: str) -> str:
    try:
        return check_user_key(value)
    except ValueError as err:
        raise OptionsError("user", value, str(err), "participant-017") from None


def _browse(url: str) -> None:
    print("opening the consent page in a browser; waiting for the answer", file=sys.stderr)
    if not webbrowser.open(url):
        _print_url(url)


def _print_url(url: str) -> None:
    print(f"open this address in a browser on this machine:\n\n  {url}\n", file=sys.stderr)
