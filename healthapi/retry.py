"""The one retry policy of API calls.

Policy (applies to every call the pipeline makes to the Google Health API and
to the token endpoint):

- **Retriable**: HTTP 429, 408 and every 5xx; connection errors, resets and
  timeouts; a 200 whose body is cut short or is not JSON (a proxy error page).
  These are retried with exponential backoff and full jitter, starting at
  `base_delay_seconds`, capped at `max_delay_seconds`, honouring a
  `Retry-After` hint when the server sends one, for at most `max_attempts`
  attempts in all.
- **Refresh then retry once**: HTTP 401 (the access token expired or was
  revoked): the caller refreshes the token and tries again; a second 401 is
  permanent.
- **Whose quota**: a 429 names the quota it spent. `quota_refused` reads which:
  `project` (the project's requests per minute or per day,
  `DefaultRequestsPerMinutePerProject`), `user` (the user's 300 a minute,
  `DefaultRequestsPerMinutePerUser`), or `""` when the answer does not say. A
  project 429 is retried like any other, and also sets the worker's share
  (`healthapi.quota.ProjectShare`).
- **Permanent**: every other 4xx (bad request, missing scope, not found, account
  not linked). Not retried; the work goes to the dead letter with its reason.

After the last attempt, a retriable failure goes to the dead letter too, with
the number of attempts made.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Callable

import requests

from healthapi.client import HealthApiError

RETRIABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
PROJECT, USER = "project", "user"
# Google names the spent quota twice: the limit's name in the message ("limit 'Requests
# per minute per user' of service ..."), and its id in the ErrorInfo's metadata
# ("quota_limit": "DefaultRequestsPerMinutePerProject").
_LIMIT_ID = re.compile(r"Default\w*Per(Project|User)\b")
_LIMIT_NAME = re.compile(r"limit '([^']{1,80})'")


@dataclasses.dataclass(frozen=True)
class Verdict:
    """How to treat one failed attempt."""

    retriable: bool
    refresh_token: bool
    status: int
    reason: str
    message: str
    body: str = ""
    wait_hint_seconds: float | None = None
    quota: str = ""


def quota_refused(status: int, message: str, body: str = "") -> str:
    """Whose quota a 429 spent: `project`, `user`, or `""` (not a 429, or it does not say).

    The ErrorInfo's `quota_limit` decides when the body excerpt holds it; otherwise the
    limit's name in the message: a name that says "per user" is the user's, any other
    (`Requests per minute`, `Requests per day`) the project's.
    """
    if status != 429:
        return ""
    found = _LIMIT_ID.search(body or "") or _LIMIT_ID.search(message or "")
    if found:
        return PROJECT if found.group(1) == "Project" else USER
    name = _LIMIT_NAME.search(message or "")
    if name is None:
        return ""
    return USER if "per user" in name.group(1).lower() else PROJECT


def classify(error: Exception) -> Verdict:
    """Classifies one failed attempt (see the module docstring for the policy)."""
    if isinstance(error, HealthApiError):
        status = error.status
        retriable = status in RETRIABLE_STATUSES or status >= 500 or status == 200
        return Verdict(
            retriable=retriable,
            refresh_token=status == 401,
            status=status,
            reason=error.reason or f"HTTP_{status}",
            message=error.message,
            body=error.body_excerpt,
            wait_hint_seconds=error.retry_after_seconds,
            quota=quota_refused(status, error.message, error.body_excerpt),
        )
    if isinstance(error, requests.Timeout):
        return Verdict(True, False, 0, "TIMEOUT", str(error)[:300])
    if isinstance(error, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return Verdict(True, False, 0, "CONNECTION_ERROR", str(error)[:300])
    return Verdict(False, False, 0, type(error).__name__, str(error)[:300])


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Bounded, jittered exponential backoff.

    Attributes:
        max_attempts: attempts in all, the first one included.
        base_delay_seconds: the first backoff's upper bound.
        max_delay_seconds: no wait is longer than this.
    """

    max_attempts: int = 6
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 60.0

    def __post_init__(self):
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")

    def delay(self, attempt: int, verdict: Verdict, rand: Callable[[], float] = random.random):
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if verdict.wait_hint_seconds is not None:
            return min(self.max_delay_seconds, max(0.0, verdict.wait_hint_seconds))
        # The exponent is bounded so that long policies reach the cap instead of overflowing.
        growth = 2.0 ** min(attempt - 1, 1000)
        ceiling = min(self.max_delay_seconds, self.base_delay_seconds * growth)
        return ceiling * rand()
