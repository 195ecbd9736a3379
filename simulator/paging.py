"""What the collection methods share: data source families, page sizes and page tokens.

A page token is opaque to clients: base64 of the position to go on from, with a
digest of the request's other parameters, so a token used with other parameters
is refused (`INVALID_PAGE_TOKEN`; AIP-158 asks them to stay the same). The page
size is a parameter the token does not bind: a client may change it between pages.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

from simulator.errors import invalid
from simulator.synth import SOURCE_FAMILIES


def family_sources(family: str | None) -> frozenset[str]:
    """The sources a `dataSourceFamily` value selects (all of them when empty)."""
    if not family:
        return SOURCE_FAMILIES["all-sources"]
    match = re.fullmatch(r"users/[^/]+/dataSourceFamilies/([a-z-]+)", family)
    if not match or match.group(1) not in SOURCE_FAMILIES:
        raise invalid(
            f"Invalid data source family: {family!r}.", "INVALID_DATA_POINT_DATA_SOURCE_FAMILY"
        )
    return SOURCE_FAMILIES[match.group(1)]


def query_page_size(text: str | None) -> int:
    """A `pageSize` query parameter: 0 (unset) when absent or empty."""
    if text in (None, ""):
        return 0
    try:
        size = int(text)
    except ValueError as err:
        raise invalid(f"Invalid value for pageSize: {text!r}.") from err
    return checked_page_size(size)


def checked_page_size(size: int) -> int:
    """A requested page size, refused when negative."""
    if size < 0:
        raise invalid("pageSize must not be negative.")
    return size


def page_size(size: int, maximum: int, default: int) -> int:
    """The page size served: the default for 0 (unset), at most the maximum."""
    return min(size or default, maximum)


def _digest(fingerprint: str) -> str:
    return hashlib.sha256(fingerprint.encode()).hexdigest()[:16]


def encode_token(fingerprint: str, state: dict) -> str:
    """A page token holding `state`, bound to the request `fingerprint` describes."""
    raw = json.dumps({"f": _digest(fingerprint), **state})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str | None, fingerprint: str) -> dict | None:
    """The state a page token holds; None for no token.

    Raises:
        ApiError: 400 INVALID_PAGE_TOKEN for a token that does not decode or was
            made for a request with other parameters.
    """
    if not token:
        return None
    try:
        state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError as err:
        raise invalid("Invalid page token.", "INVALID_PAGE_TOKEN") from err
    if not isinstance(state, dict) or state.get("f") != _digest(fingerprint):
        raise invalid(
            "The page token does not match the request; other parameters must stay the "
            "same across pages.",
            "INVALID_PAGE_TOKEN",
        )
    return state
