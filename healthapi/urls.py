"""Where a URL leads, read the way the HTTP library reads it: one check for every endpoint.

fitbeam sends access tokens, refresh tokens and the OAuth client secret to the
endpoints its flags and URIs name, and allows plain http on loopback only (the
local simulator and emulators). A check is only as good as its agreement with
the code that connects: `urllib.parse` reads `http://evil.example\\@127.0.0.1` as
host 127.0.0.1 while urllib3, which requests uses, connects to evil.example; and
`urllib.parse` drops tabs and line breaks where urllib3 refuses them.

So hosts are decided here with urllib3's own parser (`urllib3.util.parse_url`),
and a URL that two readers could take for different places is refused outright:
one holding a backslash, whitespace, a control or non-ASCII character, user info
(`name@host`) or a percent sign before its path, or one that `urllib.parse` reads
with another host or port. Beam-free.

Example:

    check_endpoint("http://127.0.0.1:8180")          # -> "http://127.0.0.1:8180"
    check_endpoint("http://evil.example\\@127.0.0.1")  # ValueError: holds a backslash
"""

from __future__ import annotations

import re
import urllib.parse

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_PORTS = {"http": 80, "https": 443}
NOT_HTTP = "is not an http(s) URL"
PLAIN_HTTP = "plain http is allowed on loopback only"
# scheme://authority@ : what a message shows of a URL with user info (it may hold a password).
_USER_INFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*:/*)[^/?#]*@")


def _refusal(url: str) -> str | None:
    """Why `url` is ambiguous, or None: characters no URL of ours holds, or user info."""
    for char in url:
        if char == "\\":
            return "holds a backslash, which URL parsers read differently"
        if char.isspace() or not char.isprintable():
            return "holds whitespace or a control character"
        if not char.isascii():
            return "holds a non-ASCII character"
    authority = urllib.parse.urlsplit(url).netloc
    if "@" in authority:
        return "holds user info (name@host), which URL parsers read differently"
    if "%" in authority:
        return "holds a percent sign in its host"
    return None


def _read(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) as urllib3 reads them; the port filled in from the scheme.

    Raises:
        ValueError: urllib3 cannot parse it.
    """
    try:
        parsed = parse_url(url)
    except LocationParseError:
        raise ValueError("does not parse as a URL") from None
    scheme = (parsed.scheme or "").lower()
    host = (parsed.host or "").lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # an IPv6 address, as urllib.parse gives it
    return scheme, host, parsed.port or DEFAULT_PORTS.get(scheme)


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) that requests will connect to; only for an unambiguous URL.

    Raises:
        ValueError: naming why the URL is refused (see the module docstring).
    """
    if not isinstance(url, str):
        raise ValueError("is not text")
    reason = _refusal(url)
    if reason is not None:
        raise ValueError(reason)
    scheme, host, port = _read(url)
    if scheme not in DEFAULT_PORTS or not host:
        raise ValueError(NOT_HTTP)
    try:
        split = urllib.parse.urlsplit(url)
        agreed = (split.hostname or "", split.port or DEFAULT_PORTS[scheme]) == (host, port)
    except ValueError:  # a port urllib.parse cannot read
        agreed = False
    if not agreed:
        raise ValueError("is read as another host or port by urllib.parse than by urllib3")
    return scheme, host, port


def origin_text(url: str) -> str:
    """`scheme://host:port` of a URL as urllib3 reads it, for messages only.

    Never its path, query or user info; never used to decide where a request goes.
    """
    try:
        scheme, host, port = _read(url)
    except ValueError:
        return "an unparsable URL"
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}" if scheme and host else "a URL without a host"


def shown(url: object) -> str:
    """A URL for a message: user info (which may hold a password) left out, 80 characters."""
    text = _USER_INFO.sub(r"\1[user info]@", str(url))
    return text if len(text) <= 80 else text[:77] + "..."


def check_endpoint(url: str) -> str:
    """An endpoint to send credentials to: unambiguous, https or loopback http, no query.

    Returns:
        The URL without trailing slashes.

    Raises:
        ValueError: the reason alone (`NOT_HTTP`, `PLAIN_HTTP` or an ambiguity), for the
            caller to put beside the flag or URI it came from.
    """
    scheme, host, _ = origin(url)
    if "?" in url or "#" in url:
        raise ValueError("has a query or fragment; give the endpoint alone")
    if scheme == "http" and host not in LOOPBACK_HOSTS:
        raise ValueError(PLAIN_HTTP)
    return url.rstrip("/")


def is_loopback(url: str) -> bool:
    """Whether an unambiguous URL's host is a loopback name or address."""
    return origin(url)[1] in LOOPBACK_HOSTS
