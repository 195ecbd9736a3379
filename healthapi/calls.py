"""Carrying out planned API calls, Beam-free: tokens, quota, retries, pages.

`CallRunner` wraps every HTTP request of a call in the same discipline: a
slot of the project's quota (when it has one), a slot from the user's quota,
then a token from the broker, the retry policy of `healthapi.retry`, one
token refresh after a 401; a redirect, from the API or from the token
endpoint, is permanent and never followed. A participant who withdrew consent
(`fitbeam forget`) is refused before any request, with the reason
`CONSENT_WITHDRAWN` (not replayable). `run_call` then does what each kind of
`ApiCall` needs:

- `list`: follows page tokens until an answer carries none (empty pages with a
  token included); in the raw stream, after every page boundary it re-reads the
  points that share the timestamp of the page's last point (the API can drop
  them) and merges them in without duplicates (`planning.boundary_rereads`); a
  type whose filter takes no upper bound (electrocardiograms) keeps only the
  points that start before the window's end (`planning.keeps_point`);
- `summary`: dailyRollUps of each summary type over the call's civil days, each
  over the longest range the API allows for that type, every page followed (the
  live API pages when a page holds fewer windows than the range, and answers
  newest window first: the windows are put in date order here);
- `tcx`: one exercise's TCX export;
- `user`: one user-level resource (`healthapi.user_resources`): the paired devices
  (every page), the profile, the settings or the IRN profile.

Every request names the page size it plans for (the live API's defaults are smaller
than the discovery document says). The data source family is the client's
(`HealthApiClient.source_family`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from typing import Protocol

from healthapi import datatypes, planning, user_resources
from healthapi.auth import oauth
from healthapi.auth.broker import ConsentWithdrawn, NeedsConsent, TokenBroker, TokenRefreshFailed
from healthapi.client import DAILY_ROLLUP_MAX_PAGE, HealthApiClient
from healthapi.elements import STREAM_RECONCILED, ApiCall, ApiPage
from healthapi.quota import UserRateLimiter
from healthapi.retry import PROJECT, RetryPolicy, Verdict, classify

# The reason of a call that failed because the user's grant is gone: never retried.
NEEDS_CONSENT = "NEEDS_CONSENT"
# The reason of a call refused because the participant withdrew consent (`fitbeam forget`):
# refused before any request, and not replayable (a replay would be refused the same way;
# once they consent again, a new load fetches their data).
CONSENT_WITHDRAWN = "CONSENT_WITHDRAWN"
# The reason of a user-level call refused for a scope the user did not grant.
SCOPE_NOT_GRANTED = "SCOPE_NOT_GRANTED"


class ProjectGate(Protocol):
    """The project-wide side of the quota (`healthapi.quota.ProjectShare` is one)."""

    def acquire(self) -> float:
        """Waits for the request's turn; returns seconds waited."""

    def record(self, refused: bool) -> None:
        """How the request ended: refused for the project's quota (a project 429), or not."""


class CallFailed(Exception):
    """A call that cannot complete; carries what the dead letter needs."""

    def __init__(self, verdict: Verdict, attempts: int, replayable: bool = True):
        super().__init__(f"{verdict.reason}: {verdict.message}")
        self.verdict = verdict
        self.attempts = attempts
        self.replayable = replayable


@dataclasses.dataclass
class CallRunner:
    """Runs single HTTP requests for a user under the project's discipline.

    Attributes:
        broker: hands out access tokens.
        limiter: per-user quota.
        policy: the retry policy.
        project: the project's quota (None: not kept).
        sleep: waits between attempts (injectable).
        on_status: called with each answer's HTTP status (0 for no answer).
        on_retry: called before each retry.
        on_throttled: called with the seconds a request waited for the project's quota.
    """

    broker: TokenBroker
    limiter: UserRateLimiter
    policy: RetryPolicy = dataclasses.field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    on_status: Callable[[int], None] = lambda status: None
    on_retry: Callable[[], None] = lambda: None
    project: ProjectGate | None = None
    on_throttled: Callable[[float], None] = lambda seconds: None

    def request(self, user_key: str, send: Callable[[str], object]) -> object:
        """Calls `send(access_token)` until it succeeds or the policy gives up.

        Raises:
            CallFailed: permanent failure, or retries exhausted.
        """
        # Before taking any quota. (Stand-in brokers of some tests have no such method.)
        refuse_withdrawn = getattr(self.broker, "refuse_withdrawn", None)
        try:
            if refuse_withdrawn is not None:
                refuse_withdrawn(user_key)
        except ConsentWithdrawn as err:
            raise _withdrawn(err, 1) from err
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            token = None
            paced = False
            try:
                # The project's turn, then the user's slot, then the token. The user's slot
                # last: the API counts the request when it arrives, and the slot must be
                # taken just before (see `UserRateLimiter`); the token after both, since an
                # hourly budget's wait can outlast one.
                if self.project is not None:
                    waited = self.project.acquire()
                    paced = True
                    if waited > 0:
                        self.on_throttled(waited)
                self.limiter.acquire(user_key)
                token = self.broker.access_token(user_key)
                result = send(token)
                if paced:
                    self.project.record(refused=False)
                self.on_status(200)
                return result
            except NeedsConsent as err:
                if paced:
                    self.project.record(refused=False)
                if isinstance(err, ConsentWithdrawn):
                    raise _withdrawn(err, attempt) from err
                verdict = Verdict(False, False, 0, NEEDS_CONSENT, str(err))
                raise CallFailed(verdict, attempt, replayable=True) from err
            except TokenRefreshFailed as err:
                verdict = _refresh_failed(err, 0)
            except Exception as err:  # classified below; nothing is swallowed
                verdict = classify(err)
                self.on_status(verdict.status)
            if paced:
                self.project.record(refused=verdict.quota == PROJECT)
            if verdict.refresh_token and not refreshed and token is not None:
                try:
                    self.broker.after_unauthorized(user_key, token)
                except ConsentWithdrawn as err:
                    raise _withdrawn(err, attempt) from err
                except NeedsConsent as err:
                    verdict = Verdict(False, False, 401, NEEDS_CONSENT, str(err))
                    raise CallFailed(verdict, attempt) from err
                except TokenRefreshFailed as err:
                    # The token endpoint may come back: back off like any transient
                    # failure, and refresh again if the API still answers 401.
                    verdict = _refresh_failed(err, 401)
                else:
                    refreshed = True
                    continue
            if not verdict.retriable or attempt >= self.policy.max_attempts:
                raise CallFailed(verdict, attempt, replayable=verdict.retriable)
            self.on_retry()
            self.sleep(self.policy.delay(attempt, verdict))


def _withdrawn(err: ConsentWithdrawn, attempts: int) -> CallFailed:
    """A call refused because the participant withdrew consent: permanent, not replayable."""
    return CallFailed(Verdict(False, False, 0, CONSENT_WITHDRAWN, str(err)), attempts, False)


def _refresh_failed(err: TokenRefreshFailed, status: int) -> Verdict:
    """A failed refresh: retriable, unless the token endpoint redirected (it will again)."""
    if isinstance(err.__cause__, oauth.RedirectRefused):
        return Verdict(False, False, status, "TOKEN_REDIRECT_REFUSED", str(err.__cause__))
    return Verdict(True, False, status, "TOKEN_REFRESH_FAILED", str(err))


def _point_key(point: dict, data_type: str) -> str:
    """Identity of a point within one response stream (for merging tie re-reads)."""
    name = (point.get("name") or point.get("dataPointName")) if isinstance(point, dict) else None
    if name and isinstance(name, str):
        return name
    try:
        return json.dumps(point, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        # Not JSON as the API writes it: never merged, its rows step dead-letters it.
        return f"\x00unkeyed-{id(point)}"


def _list_page(runner, client, call, spec, filter_text, page_token, reconcile):
    """One page of a list call, under the runner's discipline."""
    return runner.request(
        call.user_key,
        lambda token: client.list_page(
            token,
            spec.name,
            filter_text=filter_text,
            page_token=page_token,
            page_size=spec.page_size,
            reconcile=reconcile,
        ),
    )


def list_pages(
    runner: CallRunner, client: HealthApiClient, call: ApiCall
) -> Iterator[tuple[tuple[dict, ...], bool]]:
    """A list call's window page by page: `(points, last)`, tie re-reads merged in.

    At most one page (and a boundary's tie re-read) is held at a time, however
    many pages the window takes. Pages of one query never repeat a point; only a
    tie re-read can (raw stream), so a re-read's points are kept where the page
    before did not have them, and the next page drops what the re-read already
    gave.
    """
    spec = datatypes.spec(call.data_type)
    reconcile = call.stream == STREAM_RECONCILED
    rereads = planning.boundary_rereads(call)
    filter_text = planning.window_filter(call)
    # A filter without an upper bound (electrocardiograms) answers every later point too:
    # those belong to later windows, which keep them.
    end = planning.window_end(call)
    given: set[str] | None = None  # what a tie re-read gave beside its page's points
    page_token = None
    while True:
        page = _list_page(runner, client, call, spec, filter_text, page_token, reconcile)
        points = page.points
        if given:
            points = tuple(p for p in points if _point_key(p, spec.name) not in given)
        given = None
        last = not page.next_page_token
        ties = (
            planning.tie_filter(spec.name, page.points[-1])
            if rereads and page.points and not last
            else None
        )
        if ties:
            keys = {_point_key(p, spec.name) for p in page.points}
            extra = []
            for p in _read_all(runner, client, call, ties, spec, reconcile):
                key = _point_key(p, spec.name)
                if key not in keys:
                    keys.add(key)
                    extra.append(p)
            points = (*points, *extra)
            given = keys
        if end is not None:
            points = tuple(p for p in points if planning.keeps_point(spec.name, p, end))
        yield tuple(points), last
        if last:
            return
        page_token = page.next_page_token


def fetch_list(runner: CallRunner, client: HealthApiClient, call: ApiCall) -> tuple[dict, ...]:
    """Every point of a list call's window: all pages, tie re-reads merged in (raw stream)."""
    return tuple(p for points, _ in list_pages(runner, client, call) for p in points)


def _read_all(runner, client, call, filter_text, spec, reconcile) -> list[dict]:
    out, page_token = [], None
    while True:
        page = _list_page(runner, client, call, spec, filter_text, page_token, reconcile)
        out.extend(page.points)
        if not page.next_page_token:
            return out
        page_token = page.next_page_token


def _civil_start(window: object) -> tuple:
    """A dailyRollUp window's civil start date as a sort key; malformed windows last."""
    try:
        d = window["civilStartTime"]["date"]
        return (0, int(d["year"]), int(d["month"]), int(d["day"]))
    except (KeyError, TypeError, ValueError, OverflowError):
        return (1,)


def daily_rollup_windows(
    runner: CallRunner,
    client: HealthApiClient,
    user_key: str,
    data_type: str,
    first: dt.date,
    end: dt.date,
) -> list[dict]:
    """Every window of one dailyRollUp over [first, end), each page a request of its own.

    The page size asked for is the range's days, so one page holds the range; a smaller
    answer's `nextPageToken` is followed all the same. Windows come in date order,
    whatever order the API sent them in (the live API sends the newest first).
    """
    page_size = max(1, min((end - first).days, DAILY_ROLLUP_MAX_PAGE))
    windows: list[dict] = []
    page_token = None
    while True:
        page = runner.request(
            user_key,
            lambda token, p=page_token: client.daily_rollup_page(
                token, data_type, first, end, page_size=page_size, page_token=p
            ),
        )
        windows.extend(page.points)
        if not page.next_page_token:
            break
        page_token = page.next_page_token
    return sorted(windows, key=_civil_start)


def fetch_summary(runner: CallRunner, client: HealthApiClient, call: ApiCall) -> tuple:
    """dailyRollUp of each summary type over the call's days: ((type, windows), ...).

    Each type is rolled up in ranges of its own rollup cap (14 days for total calories,
    90 for the others), so it takes as few dailyRollUps as the API allows; each type's
    windows come in date order.
    """
    start = dt.date.fromisoformat(call.start)
    end = dt.date.fromisoformat(call.end)
    out = []
    for data_type in datatypes.SUMMARY_TYPES:
        cap = dt.timedelta(days=datatypes.spec(data_type).rollup_days)
        windows: list[dict] = []
        first = start
        while first < end:
            last = end if end - first <= cap else first + cap
            windows.extend(
                daily_rollup_windows(runner, client, call.user_key, data_type, first, last)
            )
            first = last
        out.append((data_type, tuple(windows)))
    return tuple(out)


# The reasons the API and the simulator give a request its token's scopes do not cover.
_SCOPE_REASONS = frozenset({"ACCESS_TOKEN_SCOPE_INSUFFICIENT", "PERMISSION_DENIED"})


def _scope_refused(failed: CallFailed) -> bool:
    """The call was refused because the user's token lacks a scope it needs."""
    return failed.verdict.status == 403 and failed.verdict.reason in _SCOPE_REASONS


def _not_granted(failed: CallFailed, needs: str, user_key: str, instead: str) -> CallFailed:
    """A scope refusal as a `SCOPE_NOT_GRANTED` failure that says which scope and what to do.

    Replayable: once the user consents again with the scope, a replay loads the data.
    """
    v = failed.verdict
    message = (
        f"{needs}, which user {user_key!r} did not grant: authorize the user again "
        f"(fitbeam authorize), or {instead}"
    )
    verdict = Verdict(False, False, 403, SCOPE_NOT_GRANTED, message, v.body)
    return CallFailed(verdict, failed.attempts, replayable=True)


def _needs(call: ApiCall) -> tuple[str, str]:
    """What a data call needs (its scopes, as a phrase) and how else to do without it."""
    if call.kind == "summary":
        scopes = sorted({datatypes.spec(t).scope for t in datatypes.SUMMARY_TYPES})
        return f"the daily activity summary needs the scope {', '.join(scopes)}", (
            "leave the summary types out of --data_types"
        )
    if call.kind == "tcx":
        scopes = (datatypes.spec("exercise").scope, datatypes.LOCATION_SCOPE)
        return f"an exercise's TCX export needs the scopes {' and '.join(scopes)}", (
            "leave exercise out of --data_types"
        )
    return f"{call.data_type} needs the scope {datatypes.spec(call.data_type).scope}", (
        f"leave {call.data_type} out of --data_types"
    )


def fetch_user_resource(
    runner: CallRunner, client: HealthApiClient, call: ApiCall
) -> tuple[dict, ...]:
    """One user-level resource: the paired devices (every page), or the one object.

    Raises:
        CallFailed: as any call; a 403 for a scope the user did not grant has the reason
            `SCOPE_NOT_GRANTED` and names the scope (replayable once the user consents
            to it).
    """
    resource = user_resources.resource(call.data_type)
    try:
        if resource.name != user_resources.PAIRED_DEVICES:
            method = getattr(client, resource.client_method)
            return (runner.request(call.user_key, method),)
        devices: list[dict] = []
        page_token = None
        while True:
            page = runner.request(
                call.user_key,
                lambda token, p=page_token: client.paired_devices_page(token, page_token=p),
            )
            devices.extend(page.points)
            if not page.next_page_token:
                return tuple(devices)
            page_token = page.next_page_token
    except CallFailed as failed:
        if not _scope_refused(failed):
            raise
        raise _not_granted(
            failed,
            f"{resource.method} needs the scope {resource.scope}",
            call.user_key,
            "load without user tables (--user_tables=false)",
        ) from failed


def call_pages(
    runner: CallRunner, client: HealthApiClient, call: ApiCall, load_key: str = ""
) -> Iterator[ApiPage]:
    """Carries out one planned call, an ApiPage per page of the answer as it comes.

    A list call gives one ApiPage per API page (the last one `final`); a summary
    or a TCX export gives one. All carry `load_key`, which ties the pages of one
    answer together for the rows step.

    Raises:
        CallFailed: when the call cannot complete (pages already given stand).
    """
    try:
        if call.kind == "list":
            for part, (points, last) in enumerate(list_pages(runner, client, call)):
                yield ApiPage(call, points=points, part=part, final=last, load_key=load_key)
            return
        page = run_call(runner, client, call)
    except CallFailed as failed:
        if call.kind == "user" or not _scope_refused(failed):
            raise
        needs, instead = _needs(call)
        raise _not_granted(failed, needs, call.user_key, instead) from failed
    yield dataclasses.replace(page, load_key=load_key)


def run_call(runner: CallRunner, client: HealthApiClient, call: ApiCall) -> ApiPage:
    """Carries out one planned call.

    Raises:
        CallFailed: when the call cannot complete.
    """
    if call.kind == "list":
        return ApiPage(call, points=fetch_list(runner, client, call))
    if call.kind == "summary":
        return ApiPage(call, rollups=fetch_summary(runner, client, call))
    if call.kind == "tcx":
        tcx = runner.request(
            call.user_key, lambda token: client.export_tcx(token, call.data_point_id)
        )
        return ApiPage(call, tcx=tcx)
    if call.kind == "user":
        return ApiPage(call, points=fetch_user_resource(runner, client, call))
    raise ValueError(f"unknown call kind {call.kind!r}")
