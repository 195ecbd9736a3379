"""The flags every fitbeam command shares, and their checks: Beam-free.

`fitbeam run` (`pipeline.options`), `fitbeam enqueue`, `fitbeam authorize` and
the relay take the same `--api_base_url`, `--token_url`, `--users`,
`--data_types` and Pub/Sub topic flags; each is checked here once, and a bad
value raises `OptionsError` naming the flag, the value and a good example.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable

from healthapi import datatypes, urls
from healthapi.auth.oauth import GOOGLE_TOKEN_URL
from healthapi.auth.store import check_user_key
from healthapi.client import SOURCE_FAMILIES

GOOGLE_HEALTH_API = "https://health.googleapis.com"
TOPIC_EXAMPLE = "projects/my-project/topics/fitbeam-requests"
# Pub/Sub's topic names: a project id, then 3-255 characters not starting with goog.
# Matched whole (fullmatch): `$` would also accept a trailing newline.
_TOPIC = re.compile(
    r"projects/[a-z][-a-z0-9]{4,28}[a-z0-9]/topics/(?!goog)[A-Za-z][-A-Za-z0-9_.~+%]{2,254}"
)


class OptionsError(ValueError):
    """A flag with a bad value; the message names the flag and gives an example."""

    def __init__(self, flag: str, value: object, why: str, example: str | None):
        shown = str(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        hint = f"; e.g. --{flag}={example}" if example is not None else ""
        super().__init__(f"--{flag}={shown!r}: {why}{hint}")
        self.flag = flag


def add_api_arguments(parser) -> None:
    """`--api_base_url` and `--token_url`, shared by `fitbeam run` and `fitbeam enqueue`."""
    parser.add_argument(
        "--api_base_url",
        default=GOOGLE_HEALTH_API,
        help=f"Google Health API root (default {GOOGLE_HEALTH_API}).",
    )
    parser.add_argument(
        "--token_url",
        default="",
        help="OAuth token endpoint (default: Google's; <api_base_url>/token for a local "
        "simulator on loopback).",
    )


def check_topic(value: str | None, flag: str = "topic") -> str:
    """A Pub/Sub topic path, as `fitbeam enqueue` and `fitbeam relay` publish to.

    Raises:
        OptionsError: missing, or not projects/PROJECT/topics/NAME.
    """
    if not value:
        raise OptionsError(flag, "", "is required", TOPIC_EXAMPLE)
    if not _TOPIC.fullmatch(value):
        raise OptionsError(
            flag,
            value,
            "is not projects/<project id: 6-30 of a-z 0-9 ->/topics/<name: 3-255 characters, "
            "starting with a letter, not with goog>",
            TOPIC_EXAMPLE,
        )
    return value


def resolve_token_url(api: str, value: str) -> str:
    """The token endpoint: `value`, Google's for Google's API, or the local simulator's.

    Raises:
        OptionsError: a bad URL, or none given for an API that is neither.
    """
    if value:
        return check_url(value, "token_url", GOOGLE_TOKEN_URL)
    if api == GOOGLE_HEALTH_API:
        return GOOGLE_TOKEN_URL
    if urllib.parse.urlsplit(api).scheme == "http":
        return api + "/token"  # the local simulator serves OAuth beside the API
    raise OptionsError(
        "token_url", "", "is required with a non-Google --api_base_url", GOOGLE_TOKEN_URL
    )


def _require(value: str | None, flag: str, example: str) -> str:
    if not value:
        raise OptionsError(flag, "", "is required", example)
    return value


def _read_local(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def parse_users(value: str | None, read: Callable[[str], bytes] = _read_local) -> tuple[str, ...]:
    """`--users`: a comma-separated list, or `@FILE` with one user key a line (# comments).

    Args:
        value: the flag's value.
        read: reads the `@FILE` (the pipeline passes one that reads gs:// too).

    Raises:
        OptionsError: no user, a bad or repeated user key, or an unreadable file.
    """
    text = _require(value, "users", "user-1,user-2")
    if text.startswith("@"):
        path = text[1:]
        try:
            raw = read(path).decode("utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise OptionsError(
                "users", text, f"cannot read the file ({err})", "@users.txt"
            ) from None
        items = [line.split("#", 1)[0].strip() for line in raw.splitlines()]
    else:
        items = [item.strip() for item in text.split(",")]
    users = [u for u in items if u]
    if not users:
        raise OptionsError("users", text, "names no user", "user-1,user-2")
    for user in users:
        try:
            check_user_key(user)
        except ValueError as err:
            raise OptionsError("users", user, str(err), "user-1") from None
    if len(set(users)) != len(users):
        dup = next(u for u in users if users.count(u) > 1)
        raise OptionsError("users", text, f"names {dup!r} twice", "user-1,user-2")
    return tuple(users)


def parse_data_types(value: str) -> tuple[str, ...]:
    names = [n.strip() for n in (value or "").split(",") if n.strip()]
    if not names:
        raise OptionsError("data_types", value, "names no data type", "steps,heart-rate")
    for name in names:
        if name not in datatypes.SPECS:
            raise OptionsError(
                "data_types",
                name,
                f"is not a supported data type (supported: {', '.join(datatypes.SPECS)})",
                "steps,heart-rate",
            )
    return tuple(dict.fromkeys(names))


def check_url(value: str, flag: str, example: str) -> str:
    """An endpoint flag: https, or plain http on loopback, read as requests reads it.

    Raises:
        OptionsError: not an http(s) URL, plain http off loopback, or a URL that URL
            parsers could read as different hosts (see `healthapi.urls`).
    """
    try:
        return urls.check_endpoint(value)
    except ValueError as err:
        raise OptionsError(flag, urls.shown(value), str(err), example) from None


def check_source_family(value: str) -> str:
    """`--source_family`: the data source family list, reconcile and the roll-ups read.

    Raises:
        OptionsError: not one of `healthapi.client.SOURCE_FAMILIES`.
    """
    if value not in SOURCE_FAMILIES:
        raise OptionsError(
            "source_family",
            value,
            f"is not one of {', '.join(SOURCE_FAMILIES)}",
            "google-wearables",
        )
    return value


_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


def parse_switch(value: object, flag: str) -> bool:
    """A true/false flag given as text (`true`, `false`; also yes/no, 1/0), or a bool.

    Raises:
        OptionsError: anything else.
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise OptionsError(flag, value, "must be true or false", "false")
