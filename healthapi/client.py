"""A small, Beam-free client of the Google Health API v4.

It knows the wire format (paths, query parameters, JSON bodies, page tokens
and the error envelope) and nothing about retries, quotas or token refresh,
which callers layer on top. Every call takes the access token explicitly, so
the client itself holds no secret.

Every request goes through `HealthApiClient.request`, which sends the access
token only to the configured API origin (scheme, host and port) and follows
no redirect: a URL or a redirect that leads elsewhere is a permanent
`RequestRefused`, and nothing is sent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import urllib.parse
from collections.abc import Iterator

import requests

from healthapi import datatypes
from healthapi.nesting import MAX_NESTING, nested_deeper_than
from healthapi.urls import NOT_HTTP, origin, origin_text, shown

GOOGLE_HEALTH_API = "https://health.googleapis.com"

# `dataSourceFamily`: which sources list, reconcile and the roll-ups read. All sources is
# the API's default; the client leaves the parameter out for it. (`self-sources`, data this
# client wrote, is left out: fitbeam writes nothing.)
ALL_SOURCES = "all-sources"
SOURCE_FAMILIES = (ALL_SOURCES, "google-wearables", "google-sources")
# The API refuses a family on these types' list (INVALID_DATA_POINT_DATA_SOURCE_FAMILY:
# "for sleep use reconcile"); their reconcile takes one.
NO_FAMILY_ON_LIST = frozenset({"sleep"})
# dailyRollUp: the largest page, in windows (14 for the types whose range is 14 days).
DAILY_ROLLUP_MAX_PAGE = 90
# users.pairedDevices.list: the largest page (5 without pageSize).
PAIRED_DEVICES_PAGE_SIZE = 100


@dataclasses.dataclass(frozen=True)
class Page:
    """One page of a list, reconcile, dailyRollUp or pairedDevices.list answer: its items."""

    points: tuple[dict, ...]
    next_page_token: str | None


class HealthApiError(Exception):
    """A non-2xx answer, with the parts of the Google error envelope that matter.

    `reason` is the ErrorInfo's (the live API words a bad filter as
    `INVALID_DATA_POINT_FILTER`), `detailed_reasons` its `metadata.detailedReasons`,
    which name the cause (`INVALID_DATA_POINT_FILTER_UNEXPECTED_TOKEN`), when sent.
    The message never includes request headers; the body excerpt is truncated.
    """

    def __init__(
        self,
        status: int,
        reason: str | None,
        message: str,
        body_excerpt: str = "",
        retry_after_seconds: float | None = None,
        detailed_reasons: str | None = None,
    ):
        super().__init__(f"HTTP {status} {reason or ''}: {message}".strip())
        self.status = status
        self.reason = reason
        self.message = message
        self.body_excerpt = body_excerpt
        self.retry_after_seconds = retry_after_seconds
        self.detailed_reasons = detailed_reasons


class RequestRefused(HealthApiError):
    """A request the client will not send, or a redirect it will not follow.

    `status` is 0 when nothing was sent (reason `OFF_HOST_URL`) and the 3xx of
    the answer otherwise (reason `REDIRECT_REFUSED`); neither is retriable.
    """


def error_from_response(response: requests.Response) -> HealthApiError:
    """Reads status, ErrorInfo reason and message from an error response."""
    reason, message, detailed = None, response.reason or "", None
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        error = {}
    if isinstance(error, dict):
        message = error.get("message", message)
        for detail in error.get("details") or []:
            if isinstance(detail, dict) and detail.get("reason"):
                reason = detail["reason"]
                metadata = detail.get("metadata")
                if isinstance(metadata, dict) and isinstance(metadata.get("detailedReasons"), str):
                    detailed = metadata["detailedReasons"]
                break
        reason = reason or error.get("status")
    return HealthApiError(
        response.status_code,
        reason,
        str(message),
        response.text[:500],
        _retry_after(response.headers.get("Retry-After")),
        detailed,
    )


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form only)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def json_body(response: requests.Response, items: str | None = None) -> dict:
    """The JSON object of a 2xx response.

    Args:
        items: the name of the body's array of data points, whose entries are not
            measured here: the rows step measures each as it makes its rows, so a
            point nested too deeply costs a dead letter of its own, not its page's
            (and a page of 10,000 points is walked once, not twice).

    Raises:
        HealthApiError: status 200 with reason UNEXPECTED_CONTENT_TYPE or
            MALFORMED_RESPONSE when the body is not a JSON object (an HTML
            error page from a proxy, or a body cut short), or nests deeper
            than `MAX_NESTING` outside `items`.
    """
    content_type = response.headers.get("Content-Type", "")
    if "json" not in content_type:
        raise HealthApiError(
            response.status_code,
            "UNEXPECTED_CONTENT_TYPE",
            f"expected JSON, got {content_type[:80]!r}",
            response.text[:500],
        )
    try:
        body = response.json()
    except ValueError as err:
        raise HealthApiError(
            response.status_code, "MALFORMED_RESPONSE", f"invalid JSON: {err}", response.text[:500]
        ) from err
    if not isinstance(body, dict):
        raise HealthApiError(
            response.status_code,
            "MALFORMED_RESPONSE",
            "expected a JSON object",
            response.text[:500],
        )
    envelope = body if items is None else {k: v for k, v in body.items() if k != items}
    if nested_deeper_than(envelope):
        raise HealthApiError(
            response.status_code,
            "MALFORMED_RESPONSE",
            f"JSON nested more than {MAX_NESTING} levels deep",
            response.text[:500],
        )
    return body


def _list_field(response: requests.Response, body: dict, name: str) -> tuple:
    """`body[name]`, a JSON array (absent: empty).

    Raises:
        HealthApiError: MALFORMED_RESPONSE when it is something else.
    """
    value = body.get(name, [])
    if not isinstance(value, list):
        raise HealthApiError(
            response.status_code,
            "MALFORMED_RESPONSE",
            f"{name} is not an array",
            response.text[:500],
        )
    return tuple(value)


def _next_page_token(response: requests.Response, body: dict) -> str | None:
    """`body["nextPageToken"]`, None when absent or empty.

    Raises:
        HealthApiError: MALFORMED_RESPONSE when it is not a string.
    """
    token = body.get("nextPageToken") or None
    if token is not None and not isinstance(token, str):
        raise HealthApiError(
            response.status_code,
            "MALFORMED_RESPONSE",
            "nextPageToken is not a string",
            response.text[:500],
        )
    return token


def civil_date_json(day: dt.date) -> dict:
    return {"date": {"year": day.year, "month": day.month, "day": day.day}}


class HealthApiClient:
    """Calls the Google Health API for the user whose access token is passed in.

    Args:
        session: the HTTP session (connection pool) to use; TLS verification on.
        base_url: API root, `https://health.googleapis.com` or the simulator's.
        timeout_seconds: per-request (connect, read) timeout.
        source_family: the data source family list, reconcile and the roll-ups read
            (`SOURCE_FAMILIES`); sent as `dataSourceFamily` except for `all-sources`, the
            API's default, and on the list of the types in `NO_FAMILY_ON_LIST` (sleep),
            which the API refuses it on.

    Raises:
        ValueError: a base URL without an http(s) scheme and a host, a session
            with TLS verification turned off, or an unknown source family.
    """

    def __init__(
        self,
        session: requests.Session,
        base_url: str = GOOGLE_HEALTH_API,
        timeout_seconds: float = 60.0,
        source_family: str = ALL_SOURCES,
    ):
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        if source_family not in SOURCE_FAMILIES:
            raise ValueError(
                f"source_family={str(source_family)[:40]!r} is not one of "
                f"{', '.join(SOURCE_FAMILIES)}; e.g. 'google-wearables'"
            )
        self.source_family = source_family
        try:
            # The origin as requests will connect to it; an ambiguous URL is refused.
            self._origin = origin(self.base_url)
        except ValueError as err:
            why = f"{err}:" if str(err) != NOT_HTTP else "needs an http(s) scheme and a host; got"
            raise ValueError(
                f"the API base URL {why} {shown(base_url)!r}, e.g. 'https://health.googleapis.com'"
            ) from None
        if session.verify is False:
            raise ValueError("TLS verification must stay on: the session has verify=False")

    def request(self, method: str, url: str, token: str, **kwargs) -> requests.Response:
        """Sends one API request with the user's access token; the client's only way out.

        The token goes to the configured API origin only (scheme, host and port of
        `base_url`), whatever the URL came from. Redirects are never followed: this
        API does not send them, requests would re-send a 307/308 body elsewhere, and
        only its `rebuild_auth` would stand between the token and another host.

        Args:
            method: HTTP method.
            url: absolute URL on the API origin.
            token: the user's access token.
            **kwargs: passed to `requests.Session.request` (params, json).

        Raises:
            RequestRefused: `url` is off the API origin (nothing was sent), or the
                answer is a redirect (not followed).
            HealthApiError: any other answer of status 400 or more.
        """
        try:
            # Decided as requests reads the URL; an ambiguous one is off the origin.
            off_host = origin(url) != self._origin
        except ValueError:
            off_host = True
        if off_host:
            raise RequestRefused(
                0,
                "OFF_HOST_URL",
                f"refused to send an API request to {origin_text(url)}: API requests go "
                f"only to {origin_text(self.base_url)}",
            )
        response = self.session.request(
            method,
            url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=self.timeout_seconds,
            allow_redirects=False,
            **kwargs,
        )
        if 300 <= response.status_code < 400:
            target = response.headers.get("Location")
            where = origin_text(urllib.parse.urljoin(url, target)) if target else "nowhere"
            raise RequestRefused(
                response.status_code,
                "REDIRECT_REFUSED",
                f"the API answered HTTP {response.status_code} redirecting to {where}; "
                "API requests do not follow redirects",
                response.text[:500],
            )
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def _call(self, method: str, path: str, token: str, **kwargs) -> requests.Response:
        return self.request(method, f"{self.base_url}/v4/{path}", token, **kwargs)

    def _family(self) -> str | None:
        """The `dataSourceFamily` value to send, or None for the API's default."""
        if self.source_family == ALL_SOURCES:
            return None
        return f"users/me/dataSourceFamilies/{self.source_family}"

    def list_page(
        self,
        token: str,
        data_type: str,
        filter_text: str | None = None,
        page_token: str | None = None,
        page_size: int | None = None,
        reconcile: bool = False,
    ) -> Page:
        """One page of `list` (every source) or `:reconcile` (merged stream).

        `pageSize` is always sent: `page_size`, or the type's largest page when None (the
        live API answers 50 heart-rate points a page when it is left out, not the 1,440
        the discovery document gives as the default).
        """
        if page_size is None:
            known = datatypes.SPECS.get(data_type)
            page_size = known.page_size if known else datatypes.MAX_PAGE_SIZE
        params = {}
        if filter_text:
            params["filter"] = filter_text
        if page_token:
            params["pageToken"] = page_token
        params["pageSize"] = str(page_size)
        family = self._family()
        if family and (reconcile or data_type not in NO_FAMILY_ON_LIST):
            params["dataSourceFamily"] = family
        suffix = ":reconcile" if reconcile else ""
        response = self._call(
            "GET", f"users/me/dataTypes/{data_type}/dataPoints{suffix}", token, params=params
        )
        body = json_body(response, items="dataPoints")
        return Page(_list_field(response, body, "dataPoints"), _next_page_token(response, body))

    def list_all(self, token: str, data_type: str, **kwargs) -> Iterator[dict]:
        """Every point of a query, following page tokens to the end (empty pages included)."""
        page_token = None
        while True:
            page = self.list_page(token, data_type, page_token=page_token, **kwargs)
            yield from page.points
            if not page.next_page_token:
                return
            page_token = page.next_page_token

    def daily_rollup_page(
        self,
        token: str,
        data_type: str,
        start: dt.date,
        end_exclusive: dt.date,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> Page:
        """One page of `:dailyRollUp` over civil days [start, end_exclusive), a window a day.

        `pageSize` is always sent: `page_size`, or the range's days (at most
        `DAILY_ROLLUP_MAX_PAGE`) when None, so that one page holds the range. The live
        API answers newest window first and pages with `nextPageToken` when the page is
        smaller than the range: callers follow the tokens and do not rely on the order.
        """
        if page_size is None:
            page_size = max(1, min((end_exclusive - start).days, DAILY_ROLLUP_MAX_PAGE))
        body: dict = {
            "range": {"start": civil_date_json(start), "end": civil_date_json(end_exclusive)},
            "windowSizeDays": 1,
            "pageSize": page_size,
        }
        if page_token:
            body["pageToken"] = page_token
        family = self._family()
        if family:
            body["dataSourceFamily"] = family
        response = self._call(
            "POST", f"users/me/dataTypes/{data_type}/dataPoints:dailyRollUp", token, json=body
        )
        payload = json_body(response)
        return Page(
            _list_field(response, payload, "rollupDataPoints"), _next_page_token(response, payload)
        )

    def daily_rollup(
        self, token: str, data_type: str, start: dt.date, end_exclusive: dt.date
    ) -> list[dict]:
        """Every window of `:dailyRollUp` over [start, end_exclusive), all pages, as sent."""
        windows: list[dict] = []
        page_token = None
        while True:
            page = self.daily_rollup_page(
                token, data_type, start, end_exclusive, page_token=page_token
            )
            windows.extend(page.points)
            if not page.next_page_token:
                return windows
            page_token = page.next_page_token

    def export_tcx(self, token: str, exercise_id: str, partial_data: bool = True) -> str:
        """The TCX document of one exercise (`:exportExerciseTcx?alt=media`)."""
        # The id comes from an API answer: quoted, it can only name a data point.
        response = self._call(
            "GET",
            "users/me/dataTypes/exercise/dataPoints/"
            f"{urllib.parse.quote(exercise_id, safe='')}:exportExerciseTcx",
            token,
            params={"alt": "media", "partialData": "true" if partial_data else "false"},
        )
        content_type = response.headers.get("Content-Type", "")
        if "xml" not in content_type:
            raise HealthApiError(
                response.status_code,
                "UNEXPECTED_CONTENT_TYPE",
                f"expected TCX (XML), got {content_type[:80]!r}",
                response.text[:500],
            )
        return response.text

    def settings(self, token: str) -> dict:
        """`users.getSettings`: time zone, UTC offset and units (scope settings.readonly)."""
        return json_body(self._call("GET", "users/me/settings", token))

    def profile(self, token: str) -> dict:
        """`users.getProfile`: age, membership start, stride lengths (profile.readonly)."""
        return json_body(self._call("GET", "users/me/profile", token))

    def irn_profile(self, token: str) -> dict:
        """`users.getIrnProfile`: the irregular rhythm notification profile (irn.readonly)."""
        return json_body(self._call("GET", "users/me/irnProfile", token))

    def paired_devices_page(
        self, token: str, page_token: str | None = None, page_size: int = PAIRED_DEVICES_PAGE_SIZE
    ) -> Page:
        """One page of `users.pairedDevices.list` (settings.readonly); `pageSize` always sent
        (the API gives 5 devices a page without it)."""
        params = {"pageSize": str(page_size)}
        if page_token:
            params["pageToken"] = page_token
        response = self._call("GET", "users/me/pairedDevices", token, params=params)
        body = json_body(response, items="pairedDevices")
        return Page(_list_field(response, body, "pairedDevices"), _next_page_token(response, body))

    def identity(self, token: str) -> dict:
        """The user's ids: `healthUserId` and the 6-character `legacyUserId`."""
        return json_body(self._call("GET", "users/me/identity", token))
