"""Request handling of the simulator, independent of the HTTP server.

`SimulatorApp.handle` turns one HTTP request into one `Response`. Routes:

- Google Health API v4 under `/v4/`: dataPoints `list`, `:reconcile`, `:rollUp`,
  `:dailyRollUp`, `get`, `:exportExerciseTcx`; `users/me/identity`, `profile`,
  `settings`, `irnProfile`, `pairedDevices` and `pairedDevices/{id}`.
- OAuth 2.0: `/o/oauth2/v2/auth`, `/token`, `/revoke` (see `simulator.oauth`).
- Administration under `/admin/v1/` (no auth; for tests, benchmarks and demos):
  users, ground truth, point edits and deletions, statistics, the clock,
  faults and token expiry.

Order of checks on an API request, as a Google front end does it: route, then
injected faults, then authentication (401), then the quotas (429: the project's
requests per minute and per day, then the user's per minute), then scopes (403),
then the request itself (400/404).

Request bodies are read as proto3 JSON (`simulator.bodies`): `null` is the
field's default, and int32 fields take numbers written as strings. The rollup
answers live in `simulator.rollups`; page tokens, page sizes and data source
families in `simulator.paging`; paired devices and the IRN profile in
`simulator.devices`.

Paging follows the discovery document, except where the live API is known to
differ: list and reconcile answer pages of `pageSize` points (default 1440, at
most 10,000; 25 for sleep and exercise; heart rate without a `pageSize` comes 50
a page, as live), rollUp pages of `pageSize` rolled-up points (default 1440, at
most 10,000), dailyRollUp pages of `pageSize` windows, newest first (default and
maximum 90; 14 for the 14-day types), and each answer carries a `nextPageToken`
only when more points remain.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import re
import threading
import urllib.parse
from collections.abc import Callable
from zoneinfo import ZoneInfo

from simulator import devices, paging, render, rollups, timefmt
from simulator.catalog import (
    ACTIVITY,
    DATA_TYPES,
    IRN,
    LOCATION,
    NOT_SIMULATED,
    PAIRED_DEVICES_PAGE,
    PROFILE,
    SCOPE_PREFIX,
    SETTINGS,
    DataType,
    read_scope,
)
from simulator.errors import SERVICE, ApiError, invalid, invalid_filter, not_found
from simulator.faults import FaultInjector, FaultSpec
from simulator.filters import FilterError, parse_filter
from simulator.oauth import AccessToken, AuthServer, OAuthError
from simulator.store import DataStore, PointNotFound
from simulator.synth import Point, User

JSON = "application/json; charset=UTF-8"
# Google's daily quotas start at midnight Pacific time.
QUOTA_DAY_ZONE = ZoneInfo("America/Los_Angeles")
TCX = "application/vnd.garmin.tcx+xml"
RPC = "google.devicesandservices.health.v4."


@dataclasses.dataclass
class Response:
    """An HTTP response; `action` asks the server for a transport fault."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    action: str | None = None  # "reset" or "truncate"


def json_response(status: int, payload: object, headers: dict | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, {"Content-Type": JSON, **(headers or {})})


@dataclasses.dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def fingerprint(self) -> str:
        query = urllib.parse.urlencode(sorted(self.query.items()))
        digest = hashlib.sha256(self.body).hexdigest()[:16]
        return f"{self.method} {self.path}?{query}#{digest}"

    def json_body(self) -> dict:
        try:
            payload = json.loads(self.body or b"{}")
        except ValueError as err:
            raise invalid(f"Invalid JSON payload received. {err}") from err
        if not isinstance(payload, dict):
            raise invalid("Invalid JSON payload received. Expected an object.")
        return payload


_DATA_POINTS = r"^/v4/users/(?P<user>[^/]+)/dataTypes/(?P<type>[^/:]+)/dataPoints"
# The API method of each dataPoints route, as the discovery document names it.
_DATA_POINT_METHODS = {
    "list": "list",
    "reconcile": "reconcile",
    "rollup": "rollUp",
    "daily_rollup": "dailyRollUp",
    "tcx": "exportExerciseTcx",
    "get": "get",
}
_ROUTES: list[tuple[str, re.Pattern, str, str]] = [
    ("GET", re.compile(_DATA_POINTS + r"$"), "list", "DataPointsService.ListDataPoints"),
    (
        "GET",
        re.compile(_DATA_POINTS + r":reconcile$"),
        "reconcile",
        "DataPointsService.ReconcileDataPoints",
    ),
    (
        "POST",
        re.compile(_DATA_POINTS + r":rollUp$"),
        "rollup",
        "DataPointsService.RollUpDataPoints",
    ),
    (
        "POST",
        re.compile(_DATA_POINTS + r":dailyRollUp$"),
        "daily_rollup",
        "DataPointsService.DailyRollUpDataPoints",
    ),
    (
        "GET",
        re.compile(_DATA_POINTS + r"/(?P<id>[^/:]+):exportExerciseTcx$"),
        "tcx",
        "DataPointsService.ExportExerciseTcx",
    ),
    (
        "GET",
        re.compile(_DATA_POINTS + r"/(?P<id>[^/:]+)$"),
        "get",
        "DataPointsService.GetDataPoint",
    ),
    (
        "GET",
        re.compile(r"^/v4/users/(?P<user>[^/]+)/identity$"),
        "identity",
        "HealthProfileService.GetIdentity",
    ),
    (
        "GET",
        re.compile(r"^/v4/users/(?P<user>[^/]+)/profile$"),
        "profile",
        "HealthProfileService.GetProfile",
    ),
    (
        "GET",
        re.compile(r"^/v4/users/(?P<user>[^/]+)/settings$"),
        "settings",
        "HealthProfileService.GetSettings",
    ),
    (
        "GET",
        re.compile(r"^/v4/users/(?P<user>[^/]+)/pairedDevices$"),
        "devices",
        "HealthProfileService.ListPairedDevices",
    ),
    (
        "GET",
        re.compile(r"^/v4/users/(?P<user>[^/]+)/pairedDevices/(?P<id>[^/:]+)$"),
        "device",
        "HealthProfileService.GetPairedDevice",
    ),
    (
        "GET",
        re.compile(r"^/v4/users/(?P<user>[^/]+)/irnProfile$"),
        "irn_profile",
        "HealthProfileService.GetIrnProfile",
    ),
]


@dataclasses.dataclass
class AppOptions:
    """Quota and behaviour switches (see `simulator.server.SimulatorConfig`)."""

    quota_per_minute: int = 300
    quota_window_seconds: float = 60.0
    project_quota_per_minute: int = 120_000
    project_quota_per_day: int = 86_400_000
    project_number: str = "0"
    retry_after_seconds: int | None = None
    scan_days_per_page: int | None = None
    unlinked_users: frozenset[str] = frozenset()


def project_number(client_id: str) -> str:
    """A 12-digit project number for an OAuth client id, the same on every run."""
    digest = int.from_bytes(hashlib.sha256(client_id.encode()).digest()[:8], "big")
    return str(10**11 + digest % (9 * 10**11))


class SimulatorApp:
    """The simulator's request handler.

    Args:
        store: users and their data.
        auth: the OAuth server state.
        faults: fault injection for API routes.
        token_faults: fault injection for the token endpoint.
        options: quota and behaviour switches.
        clock_now: simulator time (epoch seconds).
        clock_advance: moves simulator time (admin route).
        sleep: real sleep, for slow responses.
        seed: the data seed (reported by the admin routes).
    """

    def __init__(
        self,
        store: DataStore,
        auth: AuthServer,
        faults: FaultInjector,
        token_faults: FaultInjector,
        options: AppOptions,
        clock_now: Callable[[], float],
        clock_advance: Callable[[float], float],
        sleep: Callable[[float], None],
        seed: int,
    ):
        self.store = store
        self.auth = auth
        self.faults = faults
        self.token_faults = token_faults
        self.options = options
        self.now = clock_now
        self.advance = clock_advance
        self.sleep = sleep
        self.seed = seed
        self._quota: dict[str, collections.deque] = {}
        self._project_minute: collections.deque = collections.deque()
        self._project_day: tuple[dt.date, int] | None = None  # (Pacific date, requests)
        self._lock = threading.Lock()
        self.requests: collections.Counter = collections.Counter()
        # (data type, API method) -> requests received, whatever their answer.
        self.calls: collections.Counter = collections.Counter()

    # -- entry point --------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Response:
        split = urllib.parse.urlsplit(raw_path)
        path = urllib.parse.unquote(split.path)
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        request = Request(method, path, query, {k.lower(): v for k, v in headers.items()}, body)
        if path.startswith("/v4/"):
            response = self._api(request)
            kind = "api"
        elif path in ("/o/oauth2/v2/auth", "/token", "/revoke"):
            response = self._oauth(request)
            kind = path.strip("/").split("/")[-1]
        elif path.startswith("/admin/v1/"):
            response = self._admin(request)
            kind = "admin"
        else:
            response = json_response(404, ApiError(404, "Not Found").envelope())
            kind = "other"
        with self._lock:
            self.requests[(kind, response.status)] += 1
        return response

    # -- API ----------------------------------------------------------------

    def _api(self, request: Request) -> Response:
        route = None
        for method, pattern, name, rpc in _ROUTES:
            match = pattern.match(request.path)
            if match and method == request.method:
                route = (name, RPC + rpc, match.groupdict())
                break
        if route is None:
            return json_response(404, ApiError(404, "Requested entity was not found.").envelope())
        name, rpc, params = route
        if name in _DATA_POINT_METHODS:
            with self._lock:
                self.calls[(params["type"], _DATA_POINT_METHODS[name])] += 1
        fault = self.faults.choose(self._fault_key(request))
        if fault == "slow":
            self.sleep(self.faults.spec.slow_seconds)
        elif fault is not None:
            return self._fault_response(
                fault, rpc, lambda: self._dispatch(request, name, rpc, params)
            )
        return self._dispatch(request, name, rpc, params)

    def _fault_key(self, request: Request) -> str:
        """What fault decisions on an API request depend on: the request and whose it is.

        Several users send identical `users/me` requests; without the user, which of
        them meets a fault would depend on the order they arrive in. Access tokens are
        random, so the user they stand for is used, not the token.
        """
        _, _, token = request.headers.get("authorization", "").partition(" ")
        return f"{self.auth.user_of(token.strip())} {request.fingerprint}"

    def _token_fault_key(self, request: Request) -> str:
        """The token endpoint's fault key: grant type and user, never the random secrets."""
        form = _form(request.body)
        user = self.auth.user_of(form.get("code") or form.get("refresh_token") or "")
        return f"{user} POST /token {form.get('grant_type')}"

    def _dispatch(self, request: Request, name: str, rpc: str, params: dict) -> Response:
        try:
            token = self._authenticate(request)
            user = self.store.users[token.grant.user_id]
            self._take_quota(user)
            handler = getattr(self, f"_{name}")
            return handler(request, user, token, params)
        except ApiError as err:
            return json_response(err.code, err.envelope(rpc), err.headers)

    def _fault_response(self, fault: str, rpc: str, real: Callable[[], Response]) -> Response:
        if fault in ("500", "503", "504"):
            code = int(fault)
            message = {
                500: "Internal error encountered.",
                503: "The service is currently unavailable.",
                504: "The request timed out. Please try again.",
            }[code]
            return json_response(code, ApiError(code, message, reason=None).envelope())
        if fault == "429":
            err = self._quota_error()
            return json_response(429, err.envelope(rpc), err.headers)
        if fault == "reset":
            return Response(0, action="reset")
        if fault == "content-type":
            html = (
                b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>"
            )
            return Response(200, html, {"Content-Type": "text/html; charset=UTF-8"})
        # truncate: the real answer, cut short.
        response = real()
        cut = max(1, len(response.body) // 2)
        return Response(200, response.body[:cut], {"Content-Type": JSON}, action="truncate")

    def _authenticate(self, request: Request) -> AccessToken:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401,
                "Request is missing required authentication credential. Expected OAuth 2 "
                "access token, login cookie or other valid authentication credential.",
                reason="CREDENTIALS_MISSING",
                domain="googleapis.com",
                headers=challenge,
            )
        held = self.auth.check_access(token.strip())
        if isinstance(held, AccessToken):
            user_id = held.grant.user_id
            if user_id in self.options.unlinked_users:
                raise ApiError(
                    400,
                    "The user's Google account is not linked to a Google Health profile.",
                    reason="ACCOUNT_NOT_LINKED",
                    status="FAILED_PRECONDITION",
                )
            return held
        reason = "ACCESS_TOKEN_EXPIRED" if held == "expired" else "ACCESS_TOKEN_TYPE_UNSUPPORTED"
        raise ApiError(
            401,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential.",
            reason=reason,
            domain="googleapis.com",
            headers={
                "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", '
                'error="invalid_token"'
            },
        )

    def _quota_error(self) -> ApiError:
        """429 for the user's requests per minute (also the injected 429 fault)."""
        return self._quota_exceeded(
            "Requests per minute per user",
            "DefaultRequestsPerMinutePerUser",
            self.options.quota_per_minute,
        )

    def _project_quota_error(self, per_day: bool) -> ApiError:
        """429 for one of the project's quotas; the message names the consumer, as Google's do."""
        if per_day:
            name, limit = "Requests per day", "DefaultRequestsPerDayPerProject"
            value = self.options.project_quota_per_day
        else:
            name, limit = "Requests per minute", "DefaultRequestsPerMinutePerProject"
            value = self.options.project_quota_per_minute
        return self._quota_exceeded(name, limit, value, self.options.project_number)

    def _quota_exceeded(
        self, name: str, limit: str, value: int, project: str | None = None
    ) -> ApiError:
        headers = {}
        if self.options.retry_after_seconds is not None:
            headers["Retry-After"] = str(self.options.retry_after_seconds)
        consumer = f" for consumer 'project_number:{project}'" if project else ""
        metadata = {
            "quota_metric": f"{SERVICE}/default_requests",
            "quota_limit": limit,
            "quota_limit_value": str(value),
        }
        if project:
            metadata["consumer"] = f"projects/{project}"
        return ApiError(
            429,
            f"Quota exceeded for quota metric 'Requests' and limit '{name}' of service "
            f"'{SERVICE}'{consumer}.",
            reason="RATE_LIMIT_EXCEEDED",
            domain="googleapis.com",
            metadata=metadata,
            headers=headers,
        )

    def _take_quota(self, user: User) -> None:
        """Counts a request against the project's and the user's quotas.

        The project's: a sliding 60 s of simulator time, and the Pacific-time calendar
        day. The user's: a sliding window (60 s unless configured). A request is counted
        against all of them or, when one is spent, against none.

        Raises:
            ApiError: 429 RESOURCE_EXHAUSTED naming the quota that is spent (the
                project's first).
        """
        now = self.now()
        today = dt.datetime.fromtimestamp(now, QUOTA_DAY_ZONE).date()
        with self._lock:
            minute = self._project_minute
            while minute and minute[0] <= now - 60.0:
                minute.popleft()
            if self._project_day is None or self._project_day[0] != today:
                self._project_day = (today, 0)
            window = self._quota.setdefault(user.user_id, collections.deque())
            while window and window[0] <= now - self.options.quota_window_seconds:
                window.popleft()
            if len(minute) >= self.options.project_quota_per_minute:
                self.requests[("project_quota_rejected", "DefaultRequestsPerMinutePerProject")] += 1
                raise self._project_quota_error(per_day=False)
            if self._project_day[1] >= self.options.project_quota_per_day:
                self.requests[("project_quota_rejected", "DefaultRequestsPerDayPerProject")] += 1
                raise self._project_quota_error(per_day=True)
            if len(window) >= self.options.quota_per_minute:
                self.requests[("quota_rejected", user.user_id)] += 1
                raise self._quota_error()
            minute.append(now)
            self._project_day = (today, self._project_day[1] + 1)
            window.append(now)

    @staticmethod
    def _require(token: AccessToken, *families: str) -> None:
        missing = [f for f in families if read_scope(f) not in token.scopes]
        if missing:
            raise ApiError(
                403,
                "Request had insufficient authentication scopes.",
                reason="ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                domain="googleapis.com",
            )

    def _data_type(self, name: str) -> DataType:
        if name in DATA_TYPES:
            return DATA_TYPES[name]
        if name in NOT_SIMULATED:
            raise invalid(f"Data type {name!r} is not served by this simulator.", "NOT_SIMULATED")
        raise invalid(
            f"Invalid data type collection: {name!r}.", "INVALID_PARENT_DATA_TYPE_COLLECTION"
        )

    @staticmethod
    def _check_parent(user_segment: str) -> None:
        """List and rollups accept only `users/me` (a numeric id gives a bare 400)."""
        if user_segment != "me":
            raise ApiError(400, "Request contains an invalid argument.")

    @staticmethod
    def _check_name_user(user_segment: str, user: User) -> None:
        if user_segment not in ("me", user.health_user_id):
            raise ApiError(
                403, "The caller does not have permission.", reason="PERMISSION_DENIED_USER"
            )

    # -- list / reconcile -----------------------------------------------------

    def _list(self, request, user, token, params, reconciled: bool = False) -> Response:
        self._check_parent(params["user"])
        data_type = self._data_type(params["type"])
        self._require(token, data_type.scope)
        if not data_type.listable:
            raise invalid(
                f"Data type {data_type.name!r} supports only rollUp and dailyRollUp.",
                "UNSUPPORTED_DATA_TYPE_ACTION",
            )
        if reconciled and not data_type.reconcilable:
            raise invalid(
                f"Data type {data_type.name!r} cannot be reconciled.",
                "UNSUPPORTED_DATA_TYPE_ACTION",
            )
        family = request.query.get("dataSourceFamily")
        if family and data_type.name == "sleep" and not reconciled:
            raise invalid(
                "dataSourceFamily is not supported for sleep.",
                "INVALID_DATA_POINT_DATA_SOURCE_FAMILY",
            )
        sources = paging.family_sources(family)
        page_size = paging.page_size(
            paging.query_page_size(request.query.get("pageSize")),
            data_type.max_page_size,
            data_type.default_page_size,
        )
        try:
            flt = parse_filter(request.query.get("filter"), data_type, user.zone)
        except FilterError as err:
            raise invalid_filter(str(err), err.reason) from err
        fingerprint = json.dumps(
            [
                data_type.name,
                reconciled,
                request.query.get("filter", ""),
                request.query.get("dataSourceFamily", ""),
            ]
        )
        cursor = paging.decode_token(request.query.get("pageToken"), fingerprint)
        first_day, last_day = flt.day_range()
        if cursor and "d" in cursor:
            resume = dt.date.fromisoformat(cursor["d"])
            last_day = resume if last_day is None else min(last_day, resume)
        if cursor and "s" in cursor:
            cursor_day = timefmt.local_datetime(cursor["s"], user.zone).date() + dt.timedelta(
                days=1
            )
            last_day = cursor_day if last_day is None else min(last_day, cursor_day)

        page: list[Point] = []
        more = False
        scanned = 0
        day = min(last_day or self.store.today(user), self.store.today(user))
        first = max(first_day or user.history_start, user.history_start)
        next_token = None
        while day >= first:
            budget = self.options.scan_days_per_page
            if budget is not None and scanned >= budget and len(page) < page_size:
                # Short pages (opt-in): hand back what we have, maybe nothing, with a token.
                # The position of the last point already returned travels along: the day
                # to resume from may still hold points that an earlier page returned.
                state = {k: v for k, v in (cursor or {}).items() if k in ("s", "i", "tie_drop")}
                next_token = paging.encode_token(fingerprint, {"d": day.isoformat(), **state})
                break
            scanned += 1
            points = self.store.day_stream(user, data_type.name, day, sources, reconciled)
            for p in points:
                if cursor and "s" in cursor:
                    key = (p.start, p.point_id)
                    if cursor.get("tie_drop") and p.start >= cursor["s"]:
                        continue
                    if key >= (cursor["s"], cursor["i"]):
                        continue
                if not flt.matches(p):
                    continue
                if len(page) == page_size:
                    more = True
                    break
                page.append(p)
            if more:
                last = page[-1]
                state = {"s": last.start, "i": last.point_id}
                if self.faults.drops_ties(self._fault_key(request)):
                    state["tie_drop"] = True
                next_token = paging.encode_token(fingerprint, state)
                break
            day -= dt.timedelta(days=1)

        points_json = [self.store.point_json(user, data_type.name, p, reconciled) for p in page]
        return Response(200, render.page_json(points_json, next_token), {"Content-Type": JSON})

    def _reconcile(self, request, user, token, params) -> Response:
        return self._list(request, user, token, params, reconciled=True)

    # -- rollups --------------------------------------------------------------

    def _rollable(
        self, user_segment: str, type_name: str, token: AccessToken, daily: bool
    ) -> DataType:
        self._check_parent(user_segment)
        data_type = self._data_type(type_name)
        self._require(token, data_type.scope)
        if data_type.rollup_range_days is None or not (daily or data_type.roll_up):
            raise invalid(
                f"Data type {data_type.name!r} does not support "
                f"{'dailyRollUp' if daily else 'rollUp'}.",
                "UNSUPPORTED_DATA_TYPE_ACTION",
            )
        return data_type

    def _rollup(self, request, user, token, params) -> Response:
        data_type = self._rollable(params["user"], params["type"], token, daily=False)
        payload = rollups.roll_up(self.store, user, data_type, request.json_body(), self.now())
        return json_response(200, payload)

    def _daily_rollup(self, request, user, token, params) -> Response:
        data_type = self._rollable(params["user"], params["type"], token, daily=True)
        body = request.json_body()
        payload = rollups.daily_roll_up(self.store, user, data_type, body, self.now())
        return json_response(200, payload)

    # -- single points ----------------------------------------------------------

    def _find_identifiable(self, params, user, token) -> tuple[DataType, Point]:
        self._check_name_user(params["user"], user)
        data_type = self._data_type(params["type"])
        self._require(token, data_type.scope)
        if not data_type.identifiable:
            raise invalid(
                f"Data type {data_type.name!r} has no identifiable data points.",
                "UNSUPPORTED_DATA_TYPE_ACTION",
            )
        try:
            return data_type, self.store.find(user, data_type.name, params["id"], None)
        except PointNotFound as err:
            raise not_found() from err

    def _get(self, request, user, token, params) -> Response:
        data_type, p = self._find_identifiable(params, user, token)
        body = self.store.body(user, data_type.name, p)
        return json_response(200, render.render_point(user, data_type.name, p, body, False))

    def _tcx(self, request, user, token, params) -> Response:
        if params["type"] != "exercise":
            self._data_type(params["type"])
            raise invalid(
                "Only exercise data points can be exported as TCX.", "UNSUPPORTED_DATA_TYPE_ACTION"
            )
        self._require(token, ACTIVITY, LOCATION)
        _, p = self._find_identifiable(params, user, token)
        partial = request.query.get("partialData", "false").lower() == "true"
        tcx = render.render_tcx(user, p, partial)
        if request.query.get("alt") == "media":
            return Response(200, tcx.encode(), {"Content-Type": TCX})
        return json_response(200, {"tcxData": tcx})

    # -- users/me resources -------------------------------------------------------

    def _identity(self, request, user, token, params) -> Response:
        self._check_name_user(params["user"], user)
        # The discovery document accepts any Google Health scope here, write-only ones too.
        if not any(s.startswith(SCOPE_PREFIX) for s in token.scopes):
            self._require(token, ACTIVITY)
        return json_response(
            200,
            {
                "name": "users/me/identity",
                "healthUserId": user.health_user_id,
                "legacyUserId": user.legacy_user_id,
            },
        )

    def _profile(self, request, user, token, params) -> Response:
        self._check_name_user(params["user"], user)
        self._require(token, PROFILE)
        payload = {
            "name": f"users/{user.health_user_id}/profile",
            "age": user.age,
            "membershipStartDate": timefmt.date_json(user.history_start),
        }
        # The discovery document: the stride lengths need the activity scope as well.
        if read_scope(ACTIVITY) in token.scopes:
            payload["autoWalkingStrideLengthMm"] = user.walk_stride_mm
            payload["autoRunningStrideLengthMm"] = user.run_stride_mm
        return json_response(200, payload)

    def _settings(self, request, user, token, params) -> Response:
        self._check_name_user(params["user"], user)
        self._require(token, SETTINGS)
        payload = {
            "name": f"users/{user.health_user_id}/settings",
            "timeZone": user.time_zone,
            "distanceUnit": "DISTANCE_UNIT_KILOMETERS",
            "weightUnit": "WEIGHT_UNIT_KILOGRAMS",
            "heightUnit": "HEIGHT_UNIT_CENTIMETERS",
            "temperatureUnit": "TEMPERATURE_UNIT_CELSIUS",
            "waterUnit": "WATER_UNIT_ML",
            "glucoseUnit": "GLUCOSE_UNIT_MG_DL",
            "swimUnit": "SWIM_UNIT_METERS",
            "languageLocale": "en_US",
            "autoStrideEnabled": True,
        }
        # A Duration is a message: proto3 JSON sends it when set, zero ("0s") included.
        payload["utcOffset"] = timefmt.duration(timefmt.utc_offset_seconds(self.now(), user.zone))
        return json_response(200, payload)

    def _devices(self, request, user, token, params) -> Response:
        self._check_name_user(params["user"], user)
        self._require(token, SETTINGS)
        held = [d.json(user) for d in devices.paired_devices(self.seed, user, self.now())]
        size = paging.page_size(
            paging.query_page_size(request.query.get("pageSize")),
            PAIRED_DEVICES_PAGE[1],
            PAIRED_DEVICES_PAGE[0],
        )
        fingerprint = "pairedDevices"
        cursor = paging.decode_token(request.query.get("pageToken"), fingerprint)
        offset = cursor["o"] if cursor else 0
        payload: dict = {"pairedDevices": held[offset : offset + size]}
        if offset + size < len(held):
            payload["nextPageToken"] = paging.encode_token(fingerprint, {"o": offset + size})
        return json_response(200, payload)

    def _device(self, request, user, token, params) -> Response:
        self._check_name_user(params["user"], user)
        self._require(token, SETTINGS)
        for device in devices.paired_devices(self.seed, user, self.now()):
            if device.device_id == params["id"]:
                return json_response(200, device.json(user))
        raise not_found()

    def _irn_profile(self, request, user, token, params) -> Response:
        self._check_name_user(params["user"], user)
        self._require(token, IRN)
        return json_response(200, devices.irn_profile(self.seed, user, self.now()))

    # -- OAuth ------------------------------------------------------------------

    def _oauth(self, request: Request) -> Response:
        try:
            if request.path == "/o/oauth2/v2/auth" and request.method == "GET":
                location = self.auth.authorize(request.query)
                return Response(302, b"", {"Location": location})
            if request.path == "/token" and request.method == "POST":
                fault = self.token_faults.choose(self._token_fault_key(request))
                if fault is not None and fault != "slow":
                    return self._fault_response(fault, None, lambda: self._token(request))
                if fault == "slow":
                    self.sleep(self.token_faults.spec.slow_seconds)
                return self._token(request)
            if request.path == "/revoke" and request.method == "POST":
                form = {**request.query, **_form(request.body)}
                self.auth.revoke(form.get("token", ""))
                return json_response(200, {})
        except OAuthError as err:
            body = {"error": err.error, "error_description": err.description}
            return json_response(err.status, body)
        return json_response(404, ApiError(404, "Not Found").envelope())

    def _token(self, request: Request) -> Response:
        basic = None
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                raw = base64.b64decode(header[6:]).decode()
            except ValueError:
                raw = ""
            client_id, _, secret = raw.partition(":")
            basic = (urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret))
        try:
            return json_response(
                200,
                self.auth.token(_form(request.body), basic),
                {"Cache-Control": "no-store", "Pragma": "no-cache"},
            )
        except OAuthError as err:
            return json_response(
                err.status, {"error": err.error, "error_description": err.description}
            )

    # -- administration -----------------------------------------------------------

    def _admin(self, request: Request) -> Response:
        path = request.path[len("/admin/v1/") :]
        try:
            if path == "users" and request.method == "GET":
                return json_response(
                    200, {"users": [_user_json(u) for u in self.store.users.values()]}
                )
            if path == "stats" and request.method == "GET":
                return json_response(200, self.stats())
            if path == "clock" and request.method == "GET":
                return json_response(200, {"now": timefmt.rfc3339(self.now())})
            if path == "clock:advance" and request.method == "POST":
                seconds = float(request.json_body().get("seconds") or 0)
                return json_response(200, {"now": timefmt.rfc3339(self.advance(seconds))})
            if path == "faults" and request.method == "POST":
                spec = request.json_body().get("spec") or ""
                self.set_faults(spec)
                return json_response(200, {"spec": spec})
            if path == "tokens:expire" and request.method == "POST":
                self.auth.expire_all_access_tokens()
                return json_response(200, {})
            match = re.fullmatch(
                r"users/([^/]+)/dataTypes/([^/]+)/(groundTruth|dataPoints/([^/:]+):(edit|delete))",
                path,
            )
            if match:
                return self._admin_points(request, *match.groups())
        except (ValueError, KeyError, TypeError) as err:
            return json_response(
                400, {"error": {"code": 400, "message": str(err), "status": "INVALID_ARGUMENT"}}
            )
        return json_response(404, ApiError(404, "Not Found").envelope())

    def _admin_points(self, request, user_id, type_name, what, point_id, verb) -> Response:
        if user_id not in self.store.users:
            raise KeyError(f"unknown user {user_id!r}")
        if type_name not in DATA_TYPES:
            raise KeyError(f"unknown data type {type_name!r}")
        if what == "groundTruth":
            q = request.query
            start = dt.date.fromisoformat(q["startDate"])
            end = dt.date.fromisoformat(q.get("endDate", q["startDate"]))
            points = self.store.ground_truth(
                user_id, type_name, start, end, reconciled=q.get("view") == "reconciled"
            )
            return json_response(200, {"points": points})
        body = request.json_body()
        day = dt.date.fromisoformat(body["civilDate"])
        try:
            if verb == "edit":
                new = self.store.edit_point(user_id, type_name, point_id, day, body["patch"])
                return json_response(200, {"value": new})
            self.store.delete_point(user_id, type_name, point_id, day)
            return json_response(200, {})
        except PointNotFound:
            return json_response(404, ApiError(404, f"No point {point_id!r} on {day}.").envelope())

    def set_faults(self, spec: str) -> None:
        """Replaces the fault spec of API routes and the token endpoint."""
        self.faults.spec = FaultSpec.parse(spec, "api")
        self.token_faults.spec = FaultSpec.parse(spec, "token")

    def stats(self) -> dict:
        """Counters for tests and benchmarks."""
        with self._lock:
            requests = dict(self.requests)
            calls = dict(self.calls)
        by_route: dict[str, dict[str, int]] = {}
        rejected: dict[str, int] = {}
        project_rejected: dict[str, int] = {}
        for (kind, key), n in requests.items():
            if kind == "quota_rejected":
                if n:
                    rejected[key] = n
            elif kind == "project_quota_rejected":
                project_rejected[key] = n
            else:
                by_route.setdefault(kind, {})[str(key)] = n
        by_type: dict[str, dict[str, int]] = {}
        for (data_type, method), n in sorted(calls.items()):
            by_type.setdefault(data_type, {})[method] = n
        return {
            "now": timefmt.rfc3339(self.now()),
            "requests": by_route,
            "quotaRejectedByUser": rejected,
            "quotaRejectedByProject": project_rejected,
            "callsByDataType": by_type,
            "refreshesByUser": dict(self.auth.refreshes_by_user),
            "invalidGrants": self.auth.invalid_grants,
            "faultsInjected": {
                **self.faults.injected,
                **{f"token.{k}": v for k, v in self.token_faults.injected.items()},
            },
        }


@functools.cache
def _form(body: bytes) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _user_json(user: User) -> dict:
    return {
        "userId": user.user_id,
        "healthUserId": user.health_user_id,
        "legacyUserId": user.legacy_user_id,
        "timeZone": user.time_zone,
        "historyStart": user.history_start.isoformat(),
    }
