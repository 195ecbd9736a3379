"""`fitbeam relay`: Google Health API webhook notifications -> request messages on Pub/Sub.

The Google Health API POSTs a notification to a subscriber endpoint when a
user's data changes (docs/notifications-relay.md). The relay is that
endpoint, served by Hypercorn for Cloud Run::

    fitbeam relay --topic projects/my-project/topics/fitbeam-requests \\
        --user_map gs://my-bucket/relay/user-map.json \\
        --public_key /etc/fitbeam/webhook-keyset.json
    # the Authorization secret: env FITBEAM_RELAY_SECRET, or
    #   --secret_version projects/my-project/secrets/fitbeam-relay-secret/versions/latest

`fitbeam relay user-map` writes the user map instead: each user's
healthUserId, read from the identity route with their own token::

    fitbeam relay user-map --users @users.txt --token_store file:///var/fitbeam/tokens \\
        > user-map.json

Also `python -m relay`. Exit codes: 0 after a clean stop, 2 on bad settings;
the user-map command 1 when some user could not be read.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable

from healthapi.settings import (
    GOOGLE_HEALTH_API,
    OptionsError,
    add_api_arguments,
    check_url,
    parse_users,
    resolve_token_url,
)
from relay.config import build_app, build_parser, resolve
from relay.server import RelayServer
from relay.usermap import check_health_user_id

_LOGGER = logging.getLogger(__name__)


def user_map_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fitbeam relay user-map",
        description="Print the relay's user map: each user's healthUserId, read from the "
        "identity route with their own token.",
    )
    parser.add_argument("--users", help="User keys, comma-separated, or @PATH (local or gs://).")
    parser.add_argument(
        "--token_store", help="Where the tokens live, e.g. file:///var/fitbeam/tokens."
    )
    add_api_arguments(parser)
    return parser


def identity_reader(token_store: str, api_base_url: str, token_url: str) -> Callable[[str], str]:
    """user key -> healthUserId, through the identity route and the project's call discipline."""
    import requests

    from healthapi import calls
    from healthapi.auth import oauth
    from healthapi.auth.broker import broker_for
    from healthapi.client import HealthApiClient
    from healthapi.quota import UserRateLimiter
    from healthapi.retry import RetryPolicy

    try:
        oauth.check_transport(api_base_url, token_url)
    except ValueError as err:
        raise OptionsError("api_base_url", api_base_url, str(err), None) from None
    try:
        broker = broker_for(token_store, token_url)
    except ValueError as err:
        raise OptionsError("token_store", token_store, str(err), None) from None
    runner = calls.CallRunner(broker=broker, limiter=UserRateLimiter(300), policy=RetryPolicy())
    client = HealthApiClient(requests.Session(), api_base_url)

    def health_user_id(user: str) -> str:
        body = runner.request(user, client.identity)
        found = body.get("healthUserId") if isinstance(body, dict) else None
        try:
            return check_health_user_id(found)
        except ValueError:
            raise ValueError("the identity route named no valid healthUserId") from None

    return health_user_id


def user_map_main(
    argv: list[str],
    reader_factory: Callable[[str, str, str], Callable[[str], str]] = identity_reader,
    out: Callable[[str], None] = print,
    err: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> int:
    """`fitbeam relay user-map`: 0 when every user was read, 1 otherwise, 2 on bad options."""
    try:
        args = user_map_parser().parse_args(argv)
        users = parse_users(args.users)
        if not args.token_store:
            raise OptionsError("token_store", "", "is required", "file:///var/fitbeam/tokens")
        api = check_url(args.api_base_url, "api_base_url", GOOGLE_HEALTH_API)
        health_user_id = reader_factory(
            args.token_store, api, resolve_token_url(api, args.token_url)
        )
    except OptionsError as error:
        err(f"fitbeam relay user-map: {error}")
        return 2
    except SystemExit as exit_:
        return int(exit_.code or 0)
    found: dict[str, str] = {}
    failed = 0
    for user in users:
        try:
            found[health_user_id(user)] = user
        except Exception as error:  # reported per user; the others still go
            failed += 1
            verdict = getattr(error, "verdict", None)
            if verdict is not None:
                text = f"{verdict.reason}: {verdict.message[:200]}"
            else:
                text = f"{type(error).__name__}: {str(error)[:200]}"
            err(f"{user}: healthUserId not read: {text}")
    out(json.dumps(dict(sorted(found.items())), indent=2))
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """`fitbeam relay`: serves until SIGTERM or Ctrl-C, then 0; 2 on bad settings.

    `fitbeam relay user-map ...` prints the user map instead (`user_map_main`).
    """
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["user-map"]:
        return user_map_main(argv[1:])
    try:
        config = resolve(build_parser().parse_args(argv))
        app = build_app(config)
        server = RelayServer(app, config.host, config.port)
    except OptionsError as error:
        print(f"fitbeam relay: {error}", file=sys.stderr)
        return 2
    except SystemExit as exit_:  # argparse: --help, or a flag it does not know
        return int(exit_.code or 0)
    except OSError as error:  # the port is taken
        print(f"fitbeam relay: cannot listen on port {config.port}: {error}", file=sys.stderr)
        return 2
    _LOGGER.info(
        "relay listening on %s:%d for %s; users in the map: %d",
        config.host,
        server.port,
        config.topic,
        len(app.users),
    )
    server.serve_forever()
    return 0
