"""`fitbeam relay` settings: flags and environment variables, checked; the app they describe.

Each flag but --host also reads an environment variable (its help names it),
as Cloud Run passes settings; the server listens on $PORT (default 8080). The
secret is never a flag, since command lines show in process lists: it comes
from env FITBEAM_RELAY_SECRET or a Secret Manager version
(--secret_version). A bad setting raises `OptionsError` naming the setting,
never the secret::

    config = resolve(build_parser().parse_args(argv))
    app = build_app(config)      # reads the secret, the key and the user map
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import re
from collections.abc import Callable, Mapping

from healthapi.settings import TOPIC_EXAMPLE, OptionsError, check_topic
from relay.app import SIGNATURE_HEADERS, RelayApp
from relay.keys import PublicKeyError, load_public_keys
from relay.usermap import UserMap, read_text

ENV_TOPIC = "FITBEAM_RELAY_TOPIC"
ENV_SECRET = "FITBEAM_RELAY_SECRET"  # noqa: S105 - the variable's name, not a secret
ENV_SECRET_VERSION = "FITBEAM_RELAY_SECRET_VERSION"  # noqa: S105 - a variable's name
ENV_PUBLIC_KEY = "FITBEAM_RELAY_PUBLIC_KEY"
ENV_USER_MAP = "FITBEAM_RELAY_USER_MAP"
ENV_SIGNATURE_HEADERS = "FITBEAM_RELAY_SIGNATURE_HEADERS"
ENV_PORT = "PORT"  # set by Cloud Run
DEFAULT_PORT = 8080

SECRET_VERSION_EXAMPLE = "projects/my-project/secrets/fitbeam-relay-secret/versions/latest"  # noqa: S105
USER_MAP_EXAMPLE = "gs://my-bucket/relay/user-map.json"
PUBLIC_KEY_EXAMPLE = "/etc/fitbeam/webhook-keyset.json"
SECRET_EXAMPLE = '"Bearer $(openssl rand -hex 32)"'  # noqa: S105 - an example
MIN_SECRET_CHARS = 16

# Each matched whole (fullmatch): `$` would accept a trailing newline.
_SECRET_VERSION = re.compile(
    r"projects/[^/\s]+/secrets/[A-Za-z0-9_-]{1,255}(/versions/(latest|[1-9][0-9]*))?"
)
_SECRET_FORM = re.compile(r"[A-Za-z][A-Za-z0-9_-]* \S+")
_SIGNATURE_HEADER = re.compile(r"[A-Za-z0-9-]{1,64}")


@dataclasses.dataclass(frozen=True)
class RelayConfig:
    """Validated settings of one `fitbeam relay`.

    Attributes:
        topic: projects/<project>/topics/<topic>.
        secret: the Authorization header value, or "" when read from Secret Manager.
        secret_version: projects/<p>/secrets/<s>/versions/<v>, or "".
        public_key: PEM, JWK or Tink keyset text (read from the file when a path was given).
        user_map: the user map's path (local or gs://).
        signature_headers: signature header names, in the order looked for.
        host, port: where to listen.
    """

    topic: str
    secret: str = dataclasses.field(repr=False)
    secret_version: str
    public_key: str = dataclasses.field(repr=False)
    user_map: str
    signature_headers: tuple[str, ...]
    host: str
    port: int


def build_parser(env: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(
        prog="fitbeam relay",
        description="Serve the webhook endpoint that relays Google Health API notifications "
        "to the request topic (`fitbeam relay user-map --help` writes the user map).",
    )
    parser.add_argument(
        "--topic",
        default=env.get(ENV_TOPIC, ""),
        help=f"Request topic, e.g. {TOPIC_EXAMPLE} (env {ENV_TOPIC}).",
    )
    parser.add_argument(
        "--secret_version",
        default=env.get(ENV_SECRET_VERSION, ""),
        help="Secret Manager version holding the Authorization header value, e.g. "
        f"{SECRET_VERSION_EXAMPLE} (env {ENV_SECRET_VERSION}); or give the value itself in "
        f"env {ENV_SECRET}.",
    )
    parser.add_argument(
        "--public_key",
        default=env.get(ENV_PUBLIC_KEY, ""),
        help="The key notifications are signed with: a file (local or gs://) or the text of "
        f"a PEM key, a JWK or a Tink JSON keyset, e.g. {PUBLIC_KEY_EXAMPLE} "
        f"(env {ENV_PUBLIC_KEY}).",
    )
    parser.add_argument(
        "--user_map",
        default=env.get(ENV_USER_MAP, ""),
        help='JSON file {"<healthUserId>": "<user key>"}, local or gs://, e.g. '
        f"{USER_MAP_EXAMPLE} (env {ENV_USER_MAP}).",
    )
    parser.add_argument(
        "--signature_headers",
        default=env.get(ENV_SIGNATURE_HEADERS, ",".join(SIGNATURE_HEADERS)),
        help="Signature header names, comma-separated, looked for in this order "
        f"(default {','.join(SIGNATURE_HEADERS)}; env {ENV_SIGNATURE_HEADERS}).",
    )
    parser.add_argument(
        "--host",
        default="0.0.0.0",  # noqa: S104 - Cloud Run reaches the container on its interface
        help="Address to listen on (default 0.0.0.0).",
    )
    parser.add_argument(
        "--port",
        default=env.get(ENV_PORT, str(DEFAULT_PORT)),
        help=f"Port to listen on (default ${ENV_PORT}, else {DEFAULT_PORT}).",
    )
    return parser


class SecretError(OptionsError):
    """A secret the relay will not use; the message says where it came from, never what it is."""

    def __init__(self, where: str, why: str):
        ValueError.__init__(self, f"{where}: {why}, e.g. {SECRET_EXAMPLE}")
        self.flag = where


def check_secret(secret: str, where: str) -> str:
    """The secret without surrounding whitespace (`echo` adds a newline).

    Args:
        secret: the Authorization header value Google sends.
        where: where it came from, for the error message.

    Raises:
        SecretError: not "<scheme> <credentials>" with enough credential characters.
            The value itself is never shown.
    """
    secret = secret.strip()
    if not _SECRET_FORM.fullmatch(secret) or len(secret.split(" ", 1)[1]) < MIN_SECRET_CHARS:
        raise SecretError(
            where,
            "must hold the whole Authorization header value: a scheme, a space and at least "
            f"{MIN_SECRET_CHARS} characters of credentials",
        )
    return secret


def _public_key_text(value: str) -> str:
    if not value:
        raise OptionsError("public_key", "", "is required", PUBLIC_KEY_EXAMPLE)
    text = value.strip()
    if text.startswith(("-----BEGIN", "{")):
        return text
    try:
        return read_text(value).strip()
    except Exception as err:  # a file, a bucket or the network: the key cannot be had
        raise OptionsError(
            "public_key", value, f"cannot read the file ({type(err).__name__})", PUBLIC_KEY_EXAMPLE
        ) from None


def _signature_headers(value: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    if not names or not all(_SIGNATURE_HEADER.fullmatch(n) for n in names):
        raise OptionsError(
            "signature_headers", value, "is not a list of header names", ",".join(SIGNATURE_HEADERS)
        )
    return names


def resolve(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> RelayConfig:
    """Checks every setting.

    Raises:
        OptionsError: the first bad value found (a secret is never shown).
    """
    env = os.environ if env is None else env
    topic = check_topic(args.topic)
    secret = env.get(ENV_SECRET, "")
    version = args.secret_version
    if secret and version:
        raise OptionsError(
            "secret_version", version, f"and env {ENV_SECRET} are both set; give one", None
        )  # the env value is not shown
    if not secret and not version:
        raise OptionsError(
            "secret_version",
            "",
            f"is required (or the secret itself in env {ENV_SECRET})",
            SECRET_VERSION_EXAMPLE,
        )
    if version and not _SECRET_VERSION.fullmatch(version):
        raise OptionsError(
            "secret_version",
            version,
            "is not projects/<p>/secrets/<s>[/versions/<n>|latest]",
            SECRET_VERSION_EXAMPLE,
        )
    if version and "/versions/" not in version:
        version += "/versions/latest"
    if secret:
        secret = check_secret(secret, f"env {ENV_SECRET}")
    public_key = _public_key_text(args.public_key)
    if not args.user_map:
        raise OptionsError("user_map", "", "is required", USER_MAP_EXAMPLE)
    try:
        port = int(args.port)
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        raise OptionsError("port", args.port, "is not a port number", str(DEFAULT_PORT)) from None
    return RelayConfig(
        topic=topic,
        secret=secret,
        secret_version=version,
        public_key=public_key,
        user_map=args.user_map,
        signature_headers=_signature_headers(args.signature_headers),
        host=args.host,
        port=port,
    )


def _secret_manager_client():
    from google.cloud import secretmanager

    return secretmanager.SecretManagerServiceClient(transport="rest")


def read_secret_version(name: str, client_factory: Callable[[], object]) -> str:
    """The text of one Secret Manager secret version.

    Raises:
        OptionsError: it cannot be read (the message names the version, never the value).
    """
    try:
        response = client_factory().access_secret_version(name=name)
        return response.payload.data.decode("utf-8")
    except Exception as err:  # any API or decoding error means the relay cannot start
        raise OptionsError(
            "secret_version", name, f"cannot be read ({type(err).__name__})", None
        ) from None


def _pubsub_publisher():
    from google.cloud import pubsub_v1

    return pubsub_v1.PublisherClient()


def build_app(
    config: RelayConfig,
    publisher_factory: Callable[[], object] = _pubsub_publisher,
    secret_client_factory: Callable[[], object] = _secret_manager_client,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    reader: Callable[[str], str] = read_text,
) -> RelayApp:
    """The app of `config`: reads the secret, the key and the user map.

    Raises:
        OptionsError: one of them cannot be read or used.
    """
    secret = config.secret
    if config.secret_version:
        secret = check_secret(
            read_secret_version(config.secret_version, secret_client_factory),
            f"secret {config.secret_version}",
        )
    try:
        keys = load_public_keys(config.public_key)
    except PublicKeyError as err:
        raise OptionsError("public_key", "(the key)", str(err), PUBLIC_KEY_EXAMPLE) from None
    try:
        users = UserMap(config.user_map, reader=reader)
    except ValueError as err:
        raise OptionsError("user_map", config.user_map, str(err), USER_MAP_EXAMPLE) from None
    return RelayApp(
        config.topic,
        secret,
        keys,
        users,
        publisher_factory(),
        signature_headers=config.signature_headers,
        now=now,
    )
