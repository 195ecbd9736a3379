"""A local fake of Google Secret Manager's REST API (v1), for tests.

It serves what the real client sends when built as

    SecretManagerServiceClient(
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=fake.endpoint),
    )

The routes below were read off the wire from google-cloud-secret-manager
2.32.0, not taken from the documentation. Every request carries
`$alt=json;enum-encoding=int` in its query string (sent as
`%24alt=json%3Benum-encoding%3Dint`), so enums are answered as numbers when
it asks for that:

    CreateSecret          POST /v1/projects/{p}/secrets?secretId={s}    body: Secret
    GetSecret             GET  /v1/projects/{p}/secrets/{s}
    DeleteSecret          DELETE /v1/projects/{p}/secrets/{s}          (every version goes)
    AddSecretVersion      POST /v1/projects/{p}/secrets/{s}:addVersion  body: {"payload": {...}}
    AccessSecretVersion   GET  /v1/projects/{p}/secrets/{s}/versions/{n|latest}:access
    ListSecretVersions    GET  /v1/projects/{p}/secrets/{s}/versions?pageSize=&pageToken=&filter=
    DisableSecretVersion  POST /v1/projects/{p}/secrets/{s}/versions/{n}:disable  body: {}
    DestroySecretVersion  POST /v1/projects/{p}/secrets/{s}/versions/{n}:destroy  body: {}
    UpdateSecret          PATCH /v1/projects/{p}/secrets/{s}?updateMask=annotations
                                body: {"etag": "\"N\"", "annotations": {...}}

Behaviour follows the service where the tests depend on it: `latest` is the
most recently created version whatever its state (as documented, so a
disabled newest version answers 400 FAILED_PRECONDITION rather than falling
back to an older one); versions are listed newest first; a payload checksum
sent by the client is verified; a secret's etag changes with each update
(not with new versions), and an update whose etag is not the current one
answers 400 FAILED_PRECONDITION; errors are Google's JSON error shape, e.g.
`{"error": {"code": 404, "message": "...", "status": "NOT_FOUND"}}`.

Tests arrange state and inspect it directly (`create_secret`, `add_version`,
`set_state`, `set_annotations`, `corrupt`, `states`, `payload`), inject
faults (`fail_next`), run code just before a request is handled
(`on_next`) and count requests per RPC (`requests`, `calls`). Usage:

    with FakeSecretManager() as fake:
        ...  # point a client at fake.endpoint
"""

from __future__ import annotations

import base64
import binascii
import collections
import dataclasses
import datetime as dt
import http.server
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable

import google_crc32c

ENABLED = "ENABLED"
DISABLED = "DISABLED"
DESTROYED = "DESTROYED"
_STATE_NUMBERS = {"STATE_UNSPECIFIED": 0, ENABLED: 1, DISABLED: 2, DESTROYED: 3}

# The canonical status Google pairs with each HTTP code in its JSON errors.
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# The service's limits that a careless client could run into.
MAX_PAYLOAD_BYTES = 64 * 1024
MAX_PAGE_SIZE = 25000
_SECRET_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
_FILTER = re.compile(r"^state\s*[:=]\s*(ENABLED|DISABLED|DESTROYED)$")

_SEGMENT = r"([^/:?]+)"
_ROUTES = [
    ("POST", re.compile(rf"^/v1/projects/{_SEGMENT}/secrets$"), "CreateSecret"),
    ("GET", re.compile(rf"^/v1/projects/{_SEGMENT}/secrets/{_SEGMENT}$"), "GetSecret"),
    ("PATCH", re.compile(rf"^/v1/projects/{_SEGMENT}/secrets/{_SEGMENT}$"), "UpdateSecret"),
    ("DELETE", re.compile(rf"^/v1/projects/{_SEGMENT}/secrets/{_SEGMENT}$"), "DeleteSecret"),
    (
        "POST",
        re.compile(rf"^/v1/projects/{_SEGMENT}/secrets/{_SEGMENT}:addVersion$"),
        "AddSecretVersion",
    ),
    (
        "GET",
        re.compile(rf"^/v1/projects/{_SEGMENT}/secrets/{_SEGMENT}/versions/{_SEGMENT}:access$"),
        "AccessSecretVersion",
    ),
    (
        "GET",
        re.compile(rf"^/v1/projects/{_SEGMENT}/secrets/{_SEGMENT}/versions$"),
        "ListSecretVersions",
    ),
    (
        "POST",
        re.compile(rf"^/v1/projects/{_SEGMENT}/secrets/{_SEGMENT}/versions/{_SEGMENT}:disable$"),
        "DisableSecretVersion",
    ),
    (
        "POST",
        re.compile(rf"^/v1/projects/{_SEGMENT}/secrets/{_SEGMENT}/versions/{_SEGMENT}:destroy$"),
        "DestroySecretVersion",
    ),
]


class ApiError(Exception):
    """An error answered in Google's JSON error shape."""

    def __init__(self, code: int, message: str, status: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS_NAMES.get(code, "UNKNOWN")


@dataclasses.dataclass
class Version:
    number: int
    data: bytes
    state: str
    create_time: str
    client_checksum: bool
    crc32c: int


@dataclasses.dataclass
class Secret:
    project: str
    secret_id: str
    labels: dict[str, str]
    replication: dict
    create_time: str
    versions: list[Version] = dataclasses.field(default_factory=list)
    annotations: dict[str, str] = dataclasses.field(default_factory=dict)
    updates: int = 0  # the etag: changed by each update, not by new versions

    @property
    def name(self) -> str:
        return f"projects/{self.project}/secrets/{self.secret_id}"


@dataclasses.dataclass
class _Fault:
    remaining: int
    status: int
    method: str | None


class FakeSecretManager:
    """A running fake of Secret Manager on a free loopback port.

    Args:
        clock: epoch seconds for create times (injectable).
        max_page_size: the most versions one list page holds (the service
            allows 25000; tests lower it to exercise paging).

    Attributes:
        requests: requests received per RPC name (faulted ones included).
        calls: the RPC names in the order they arrived.
        unhandled: `(verb, path)` of requests that matched no route; they
            are answered 501 so that a test notices.
    """

    def __init__(self, clock: Callable[[], float] = time.time, max_page_size: int = MAX_PAGE_SIZE):
        self.clock = clock
        self.max_page_size = max_page_size
        self.requests: collections.Counter[str] = collections.Counter()
        self.calls: list[str] = []
        self.unhandled: list[tuple[str, str]] = []
        self._secrets: dict[tuple[str, str], Secret] = {}
        self._faults: list[_Fault] = []
        self._hooks: list[tuple[str, Callable[[], None]]] = []
        self._lock = threading.RLock()
        self._server: _Server | None = None

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> str:
        """Starts serving in a background thread; returns the endpoint."""
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-secret-manager",
            daemon=True,
        ).start()
        return self.endpoint

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeSecretManager:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        """`http://127.0.0.1:PORT`, for `ClientOptions(api_endpoint=...)`."""
        if self._server is None:
            raise RuntimeError("the fake is not running; use it as a context manager")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- test controls -------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 503, method: str | None = None) -> None:
        """Answers the next `n` requests (of RPC `method`, or any) with error `status`.

        The request is counted but has no effect on the state.
        """
        if status not in STATUS_NAMES:
            raise ValueError(f"no canonical status for HTTP {status}; use one of {STATUS_NAMES}")
        with self._lock:
            self._faults.append(_Fault(n, status, method))

    def on_next(self, method: str, hook: Callable[[], None]) -> None:
        """Runs `hook()` just before the next request of RPC `method` is handled.

        For races: e.g. another writer creating the secret first.
        """
        with self._lock:
            self._hooks.append((method, hook))

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.calls.clear()

    def create_secret(
        self, project: str, secret_id: str, labels: dict[str, str] | None = None
    ) -> Secret:
        """Creates a secret directly (as another writer would)."""
        with self._lock:
            if (project, secret_id) in self._secrets:
                raise ApiError(
                    409, f"Secret [projects/{project}/secrets/{secret_id}] already exists."
                )
            secret = Secret(project, secret_id, dict(labels or {}), {"automatic": {}}, self._now())
            self._secrets[project, secret_id] = secret
            return secret

    def add_version(self, project: str, secret_id: str, data: bytes) -> int:
        """Adds an ENABLED version directly; returns its number."""
        with self._lock:
            secret = self._secret(project, secret_id)
            version = Version(
                len(secret.versions) + 1,
                data,
                ENABLED,
                self._now(),
                False,
                google_crc32c.value(data),
            )
            secret.versions.append(version)
            return version.number

    def set_state(self, project: str, secret_id: str, number: int, state: str) -> None:
        """Sets a version's state directly (as a person in the console would)."""
        if state not in (ENABLED, DISABLED, DESTROYED):
            raise ValueError(f"unknown state {state!r}")
        with self._lock:
            version = self._secret(project, secret_id).versions[number - 1]
            version.state = state
            if state == DESTROYED:
                version.data = b""

    def set_annotations(self, project: str, secret_id: str, annotations: dict[str, str]) -> None:
        """Replaces a secret's annotations directly (as another process's update would)."""
        with self._lock:
            secret = self._secret(project, secret_id)
            secret.annotations = dict(annotations)
            secret.updates += 1

    def corrupt(self, project: str, secret_id: str, number: int) -> None:
        """Damages a version's data but not its stored checksum (a bad read)."""
        with self._lock:
            version = self._secret(project, secret_id).versions[number - 1]
            version.data = bytes(b ^ 0x01 for b in version.data)

    def secret(self, project: str, secret_id: str) -> Secret | None:
        with self._lock:
            return self._secrets.get((project, secret_id))

    def secret_ids(self, project: str) -> list[str]:
        with self._lock:
            return sorted(s for p, s in self._secrets if p == project)

    def states(self, project: str, secret_id: str) -> list[tuple[int, str]]:
        """`(number, state)` of each version, oldest first."""
        with self._lock:
            return [(v.number, v.state) for v in self._secret(project, secret_id).versions]

    def payload(self, project: str, secret_id: str, number: int) -> bytes:
        with self._lock:
            return self._secret(project, secret_id).versions[number - 1].data

    # -- serving ---------------------------------------------------------------------

    def handle(self, verb: str, target: str, body: bytes) -> tuple[int, dict]:
        """Answers one request: `(HTTP status, JSON body)`."""
        split = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        routed = _route(verb, split.path)
        if routed is None:
            with self._lock:
                self.unhandled.append((verb, split.path))
            return 501, _error_body(ApiError(501, f"the fake does not serve {verb} {split.path}"))
        method, args = routed
        ints = "enum-encoding=int" in query.get("$alt", "")
        with self._lock:
            self.requests[method] += 1
            self.calls.append(method)
            hooks = [h for m, h in self._hooks if m == method]
            self._hooks = [(m, h) for m, h in self._hooks if m != method]
            fault = next((f for f in self._faults if f.method in (None, method)), None)
            if fault is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
        if fault is not None:
            return fault.status, _error_body(ApiError(fault.status, "injected fault"))
        for hook in hooks:
            hook()
        try:
            request = json.loads(body) if body else {}
            if not isinstance(request, dict):
                raise ApiError(400, "the request body must be a JSON object")
            with self._lock:
                return 200, getattr(self, f"_{method}")(*args, query=query, body=request, ints=ints)
        except json.JSONDecodeError:
            return 400, _error_body(ApiError(400, "the request body is not JSON"))
        except ApiError as err:
            return err.code, _error_body(err)

    def _CreateSecret(self, project, *, query, body, ints):
        secret_id = query.get("secretId", "")
        if not _SECRET_ID.fullmatch(secret_id):
            raise ApiError(400, f"Invalid secret id {secret_id[:300]!r}.")
        if "automatic" not in body.get("replication", {}) and "userManaged" not in body.get(
            "replication", {}
        ):
            raise ApiError(400, "Secret.replication is required.")
        secret = self.create_secret(project, secret_id, body.get("labels"))
        secret.replication = body["replication"]
        return _secret_json(secret)

    def _GetSecret(self, project, secret_id, *, query, body, ints):
        return _secret_json(self._secret(project, secret_id))

    def _DeleteSecret(self, project, secret_id, *, query, body, ints):
        secret = self._secret(project, secret_id)
        etag = query.get("etag")
        if etag and etag != _secret_etag(secret):
            raise ApiError(
                400, "The etag provided in the request does not match.", "FAILED_PRECONDITION"
            )
        del self._secrets[project, secret_id]
        return {}

    def _UpdateSecret(self, project, secret_id, *, query, body, ints):
        secret = self._secret(project, secret_id)
        paths = [p for p in query.get("updateMask", "").split(",") if p]
        if not paths:
            raise ApiError(400, "update_mask is required.")
        if any(p not in ("annotations", "labels") for p in paths):
            raise ApiError(400, f"the fake updates annotations and labels only, not {paths}")
        etag = body.get("etag")
        if etag is not None and etag != _secret_etag(secret):
            raise ApiError(
                400, "The etag provided in the request does not match.", "FAILED_PRECONDITION"
            )
        for path in paths:
            setattr(secret, path, dict(body.get(path) or {}))
        secret.updates += 1
        return _secret_json(secret)

    def _AddSecretVersion(self, project, secret_id, *, query, body, ints):
        secret = self._secret(project, secret_id)
        payload = body.get("payload", {})
        try:
            data = base64.b64decode(payload.get("data", ""), validate=True)
        except binascii.Error:
            raise ApiError(400, "SecretPayload.data is not base64.") from None
        if len(data) > MAX_PAYLOAD_BYTES:
            raise ApiError(400, f"SecretPayload.data exceeds {MAX_PAYLOAD_BYTES} bytes.")
        checksum = payload.get("dataCrc32c")
        if checksum is not None and int(checksum) != google_crc32c.value(data):
            raise ApiError(400, "Checksum mismatch: SecretPayload.data_crc32c does not match.")
        version = Version(
            len(secret.versions) + 1,
            data,
            ENABLED,
            self._now(),
            checksum is not None,
            google_crc32c.value(data),
        )
        secret.versions.append(version)
        return _version_json(secret, version, ints)

    def _AccessSecretVersion(self, project, secret_id, version_id, *, query, body, ints):
        secret, version = self._version(project, secret_id, version_id)
        if version.state != ENABLED:
            raise ApiError(
                400,
                f"Secret Version [{secret.name}/versions/{version.number}] "
                f"is in {version.state} state.",
                "FAILED_PRECONDITION",
            )
        return {
            "name": f"{secret.name}/versions/{version.number}",
            "payload": {
                "data": base64.b64encode(version.data).decode("ascii"),
                # int64 travels as a decimal string in proto3 JSON.
                "dataCrc32c": str(version.crc32c),
            },
        }

    def _ListSecretVersions(self, project, secret_id, *, query, body, ints):
        secret = self._secret(project, secret_id)
        wanted = query.get("filter", "").strip()
        state = None
        if wanted:
            match = _FILTER.match(wanted)
            if not match:
                raise ApiError(400, f"The fake supports only state filters, not {wanted!r}.")
            state = match.group(1)
        versions = [
            v for v in reversed(secret.versions) if state is None or v.state == state
        ]  # newest first, as the service lists them
        try:
            size = int(query.get("pageSize") or 0)
        except ValueError:
            raise ApiError(400, "pageSize must be an integer.") from None
        size = self.max_page_size if size <= 0 else min(size, self.max_page_size)
        token = query.get("pageToken", "")
        if token:
            # A cursor (the last number handed out), so that disabling versions
            # between pages neither skips nor repeats any.
            try:
                after = int(base64.urlsafe_b64decode(token.encode()).decode())
            except (ValueError, binascii.Error):
                raise ApiError(400, "Invalid page token.") from None
            versions_after = [v for v in versions if v.number < after]
        else:
            versions_after = versions
        page = versions_after[:size]
        answer: dict = {
            "versions": [_version_json(secret, v, ints) for v in page],
            "totalSize": len(versions),
        }
        if len(versions_after) > size:
            answer["nextPageToken"] = base64.urlsafe_b64encode(
                str(page[-1].number).encode()
            ).decode()
        return answer

    def _DisableSecretVersion(self, project, secret_id, version_id, *, query, body, ints):
        secret, version = self._version(project, secret_id, version_id, alias_ok=False)
        if version.state == DESTROYED:
            raise ApiError(
                400,
                f"Secret Version [{secret.name}/versions/{version.number}] is in DESTROYED state.",
                "FAILED_PRECONDITION",
            )
        version.state = DISABLED
        return _version_json(secret, version, ints)

    def _DestroySecretVersion(self, project, secret_id, version_id, *, query, body, ints):
        secret, version = self._version(project, secret_id, version_id, alias_ok=False)
        if version.state == DESTROYED:
            raise ApiError(
                400,
                f"Secret Version [{secret.name}/versions/{version.number}] is in DESTROYED state.",
                "FAILED_PRECONDITION",
            )
        version.state = DESTROYED
        version.data = b""
        return _version_json(secret, version, ints)

    # -- helpers -----------------------------------------------------------------------

    def _now(self) -> str:
        moment = dt.datetime.fromtimestamp(self.clock(), tz=dt.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _secret(self, project: str, secret_id: str) -> Secret:
        secret = self._secrets.get((project, secret_id))
        if secret is None:
            raise ApiError(404, f"Secret [projects/{project}/secrets/{secret_id}] not found.")
        return secret

    def _version(
        self, project: str, secret_id: str, version_id: str, alias_ok: bool = True
    ) -> tuple[Secret, Version]:
        secret = self._secrets.get((project, secret_id))
        if secret is None or (version_id == "latest" and not secret.versions):
            raise ApiError(
                404,
                f"Secret [projects/{project}/secrets/{secret_id}] not found or has no versions.",
            )
        if version_id == "latest" and alias_ok:
            return secret, secret.versions[-1]
        if not version_id.isdigit():
            raise ApiError(400, f"Invalid version id {version_id[:40]!r}.")
        number = int(version_id)
        if not 1 <= number <= len(secret.versions):
            raise ApiError(404, f"Secret Version [{secret.name}/versions/{number}] not found.")
        return secret, secret.versions[number - 1]


def _route(verb: str, path: str) -> tuple[str, list[str]] | None:
    """The RPC a request is for and its path parameters, or None."""
    for route_verb, pattern, method in _ROUTES:
        match = pattern.match(path)
        if match and route_verb == verb:
            return method, [urllib.parse.unquote(g) for g in match.groups()]
    return None


def _error_body(err: ApiError) -> dict:
    return {"error": {"code": err.code, "message": err.message, "status": err.status}}


def _secret_json(secret: Secret) -> dict:
    return {
        "name": secret.name,
        "replication": secret.replication,
        "createTime": secret.create_time,
        "labels": secret.labels,
        "annotations": secret.annotations,
        "etag": _secret_etag(secret),
    }


def _secret_etag(secret: Secret) -> str:
    return f'"{secret.updates}"'


def _version_json(secret: Secret, version: Version, ints: bool) -> dict:
    answer = {
        "name": f"{secret.name}/versions/{version.number}",
        "createTime": version.create_time,
        "state": _STATE_NUMBERS[version.state] if ints else version.state,
        "replicationStatus": {"automatic": {}},
        "etag": f'"{version.number}-{version.state.lower()}"',
        "clientSpecifiedPayloadChecksum": version.client_checksum,
    }
    if version.state == DESTROYED:
        answer["destroyTime"] = version.create_time
    return answer


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # the client keeps connections alive
    disable_nagle_algorithm = True
    server_version = "fake-secret-manager"
    sys_version = ""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, answer = self.server.fake.handle(self.command, self.path, body)
        out = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = _serve
    do_POST = _serve
    do_PATCH = _serve
    do_DELETE = _serve

    def log_message(self, format, *args):  # BaseHTTPRequestHandler's signature
        pass  # pytest shows stderr of failing tests; request lines are noise there


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeSecretManager
