"""A small, Beam-free client of the Google Health API v4.

It knows the wire format (paths, query parameters, JSON bodies, page tokens
and the error envelope) and nothing about retries, quotas or token refresh,
which callers layer on top. Every call takes the access token explicitly, so
the client itself holds no secret.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import requests

GOOGLE_HEALTH_API = "https://health.googleapis.com"


@dataclasses.dataclass(frozen=True)
class Page:
    """One page of a list/reconcile answer."""

    points: tuple[dict, ...]
    next_page_token: str | None


class HealthApiError(Exception):
    """A non-2xx answer, with the parts of the Google error envelope that matter.

    The message never includes request headers; the body excerpt is truncated.
    """

    def __init__(
        self,
        status: int,
        reason: str | None,
        message: str,
        body_excerpt: str = "",
        retry_after_seconds: float | None = None,
    ):
        super().__init__(f"HTTP {status} {reason or ''}: {message}".strip())
        self.status = status
        self.reason = reason
        self.message = message
        self.body_excerpt = body_excerpt
        self.retry_after_seconds = retry_after_seconds


def error_from_response(response: requests.Response) -> HealthApiError:
    """Reads status, ErrorInfo reason and message from an error response."""
    reason, message = None, response.reason or ""
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    if isinstance(error, dict):
        message = error.get("message", message)
        for detail in error.get("details") or []:
            if isinstance(detail, dict) and detail.get("reason"):
                reason = detail["reason"]
                break
        reason = reason or error.get("status")
    return HealthApiError(
        response.status_code,
        reason,
        str(message),
        response.text[:500],
        _retry_after(response.headers.get("Retry-After")),
    )


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form only)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def json_body(response: requests.Response) -> dict:
    """The JSON object of a 2xx response.

    Raises:
        HealthApiError: status 200 with reason UNEXPECTED_CONTENT_TYPE or
            MALFORMED_RESPONSE when the body is not a JSON object (an HTML
            error page from a proxy, or a body cut short).
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
    return body


def civil_date_json(day: dt.date) -> dict:
    return {"date": {"year": day.year, "month": day.month, "day": day.day}}


class HealthApiClient:
    """Calls the Google Health API for the user whose access token is passed in.

    Args:
        session: the HTTP session (connection pool) to use.
        base_url: API root, `https://health.googleapis.com` or the simulator's.
        timeout_seconds: per-request (connect, read) timeout.
    """

    def __init__(
        self,
        session: requests.Session,
        base_url: str = GOOGLE_HEALTH_API,
        timeout_seconds: float = 60.0,
    ):
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds

    def _call(self, method: str, path: str, token: str, **kwargs) -> requests.Response:
        response = self.session.request(
            method,
            f"{self.base_url}/v4/{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=self.timeout_seconds,
            **kwargs,
        )
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def list_page(
        self,
        token: str,
        data_type: str,
        filter_text: str | None = None,
        page_token: str | None = None,
        page_size: int | None = None,
        reconcile: bool = False,
    ) -> Page:
        """One page of `list` (every source) or `:reconcile` (merged stream)."""
        params = {}
        if filter_text:
            params["filter"] = filter_text
        if page_token:
            params["pageToken"] = page_token
        if page_size:
            params["pageSize"] = str(page_size)
        suffix = ":reconcile" if reconcile else ""
        body = json_body(
            self._call(
                "GET", f"users/me/dataTypes/{data_type}/dataPoints{suffix}", token, params=params
            )
        )
        return Page(tuple(body.get("dataPoints", ())), body.get("nextPageToken") or None)

    def list_all(self, token: str, data_type: str, **kwargs) -> Iterator[dict]:
        """Every point of a query, following page tokens to the end (empty pages included)."""
        page_token = None
        while True:
            page = self.list_page(token, data_type, page_token=page_token, **kwargs)
            yield from page.points
            if not page.next_page_token:
                return
            page_token = page.next_page_token

    def daily_rollup(
        self, token: str, data_type: str, start: dt.date, end_exclusive: dt.date
    ) -> list[dict]:
        """`:dailyRollUp` over civil days [start, end_exclusive), one window a day."""
        body = {
            "range": {"start": civil_date_json(start), "end": civil_date_json(end_exclusive)},
            "windowSizeDays": 1,
        }
        response = self._call(
            "POST", f"users/me/dataTypes/{data_type}/dataPoints:dailyRollUp", token, json=body
        )
        return list(json_body(response).get("rollupDataPoints", ()))

    def export_tcx(self, token: str, exercise_id: str, partial_data: bool = True) -> str:
        """The TCX document of one exercise (`:exportExerciseTcx?alt=media`)."""
        response = self._call(
            "GET",
            f"users/me/dataTypes/exercise/dataPoints/{exercise_id}:exportExerciseTcx",
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
        return json_body(self._call("GET", "users/me/settings", token))
