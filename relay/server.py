"""The relay on Hypercorn: an ASGI adapter around `RelayApp`, and the server that runs it.

Hypercorn parses HTTP/1.1 with h11 and owns the connection: framing
(Content-Length, chunked bodies, header syntax, header size), keep-alive and
time limits. What it answers itself, before the application sees a request:

- 400 and close for a request h11 cannot parse: a header line with a space
  before the colon or without one, conflicting Content-Length values, a chunk
  size that is not hex, a chunk not followed by CRLF; 501 and close for a
  Transfer-Encoding other than `chunked`; 431 and close for a request head
  that grows past `MAX_HEAD_BYTES` before it is complete. Where a body ends is
  never guessed, so its bytes can never be read as a next request.
- Nothing, and close, for a connection that has not sent a whole request head
  within `HEAD_TIMEOUT_SECONDS` of connecting or of its previous answer
  (Hypercorn's keep-alive timer runs until a request head is complete: a
  client that trickles a byte every few seconds is cut off all the same).

The adapter (`RelayAsgi`) adds what HTTP leaves to the application: the body
is read only once `RelayApp.admit` let the request through; a Content-Length
over `MAX_BODY_BYTES` is 413 before a byte of the body is read, and a
chunked body is cut off with 413 as soon as it passes the limit; the whole
body must arrive within `BODY_TIMEOUT_SECONDS` (408). An answer given before
the body was read to its end says `Connection: close`, and the connection is
closed. `RelayApp.answer` (signature, mapping, publishing) runs in a thread
pool, so a slow publish never holds up the event loop.

    server = RelayServer(app, "0.0.0.0", 8080)
    server.serve_forever()          # until SIGTERM (Cloud Run's stop) or Ctrl-C

    with RelayServer(app) as server:  # tests: a free loopback port, in a thread
        requests.post(server.url, ...)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import socket
import threading

from hypercorn.asyncio import serve
from hypercorn.config import Config

from relay.app import INTERNAL_ERROR, MAX_BODY_BYTES, BodyTooLarge, RelayApp, Reply

_LOGGER = logging.getLogger(__name__)

# A request head (request line and headers) must be complete this long after
# the connection opened or the previous answer went out.
HEAD_TIMEOUT_SECONDS = 10.0
# The whole body must arrive within this time once the head is in.
BODY_TIMEOUT_SECONDS = 30.0
# A request head larger than this is answered 431 (h11's incomplete-event limit).
MAX_HEAD_BYTES = 16 * 1024
# Requests answered at once (signature, mapping, publish); more wait for a thread.
# Cloud Run's concurrency (deploy/terraform/relay.tf) is 40 by default.
THREADS = 40
# On SIGTERM, requests in flight get this long; Cloud Run allows 10 s.
GRACEFUL_SECONDS = 8.0


class _ClientGone(Exception):
    """The connection ended before the body did (Hypercorn answered a framing error, or
    the client left)."""


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


class RelayAsgi:
    """`RelayApp` as an ASGI 3 application (see the module docstring).

    Args:
        app: the checks and answers.
        body_timeout: seconds the whole body may take to arrive.
        threads: requests answered at once.
    """

    def __init__(
        self, app: RelayApp, body_timeout: float = BODY_TIMEOUT_SECONDS, threads: int = THREADS
    ):
        if not body_timeout > 0:
            raise ValueError(f"body_timeout={body_timeout!r} is not positive, e.g. 30")
        if threads < 1:
            raise ValueError(f"threads={threads!r} is under 1, e.g. 40")
        self.app = app
        self.body_timeout = body_timeout
        self._executor = concurrent.futures.ThreadPoolExecutor(threads, "fitbeam-relay")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})

    async def _lifespan(self, receive, send) -> None:
        flusher = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                flusher = asyncio.create_task(self._flush_refusals())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if flusher is not None:
                    flusher.cancel()
                self.app.refusals.flush(force=True)
                self._executor.shutdown(wait=False, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _flush_refusals(self) -> None:
        """Logs the refusal counts of each period even when no new refusal comes to do it."""
        while True:
            await asyncio.sleep(self.app.refusals.seconds)
            self.app.refusals.flush()

    async def _http(self, scope, receive, send) -> None:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        length = _header(headers, "content-length")
        has_body = length not in (None, "0") or _header(headers, "transfer-encoding") is not None
        body_read = False
        try:
            reply = self.app.admit(scope["method"], headers)
            if reply is None:
                try:
                    body = await self._body(length, receive)
                except (BodyTooLarge, TimeoutError) as error:
                    reply = self.app.body_refused(error)
                else:
                    body_read = True
                    loop = asyncio.get_running_loop()
                    reply = await loop.run_in_executor(
                        self._executor, self.app.answer, headers, body
                    )
        except _ClientGone:
            return  # nobody to answer
        except Exception:  # a bug must not leave the request unanswered
            _LOGGER.exception("request failed (500)")
            reply = INTERNAL_ERROR
        await self._send(send, reply, close=has_body and not body_read)

    async def _body(self, length: str | None, receive) -> bytes:
        """The whole body, at most `MAX_BODY_BYTES`, within `body_timeout`.

        Raises:
            BodyTooLarge: Content-Length says more, or the chunks passed the limit.
            TimeoutError: the body took longer.
            _ClientGone: the connection ended first.
        """
        # h11 has checked Content-Length: one decimal number (or equal repeats of it).
        if length is not None and int(length) > MAX_BODY_BYTES:
            raise BodyTooLarge
        body = bytearray()
        async with asyncio.timeout(self.body_timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _ClientGone
                body += message.get("body", b"")
                if len(body) > MAX_BODY_BYTES:
                    raise BodyTooLarge
                if not message.get("more_body", False):
                    return bytes(body)

    async def _send(self, send, reply: Reply, close: bool) -> None:
        headers = [(b"content-length", str(len(reply.body)).encode())]
        if reply.body:
            headers.append((b"content-type", b"text/plain; charset=utf-8"))
        if close:
            # The body was not read to its end: Hypercorn closes the connection
            # after this answer, and the header says so.
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})


def hypercorn_config(fd: int, head_timeout: float = HEAD_TIMEOUT_SECONDS) -> Config:
    """Hypercorn's settings for the relay, serving the listening socket `fd`."""
    config = Config()
    config.bind = [f"fd://{fd}"]
    config.keep_alive_timeout = head_timeout
    config.h11_max_incomplete_size = MAX_HEAD_BYTES
    config.graceful_timeout = GRACEFUL_SECONDS
    config.include_server_header = False
    config.accesslog = None  # the app logs each answer (refusals as counts), never headers
    config.errorlog = logging.getLogger("hypercorn.error")  # through the command's handlers
    return config


class RelayServer:
    """The app on Hypercorn (port 0 picks a free one); a context manager serving in a thread.

    Args:
        app: answers each request.
        host, port: where to listen.
        head_timeout: seconds a connection may take to send a whole request
            head, from its start or its previous answer (also the keep-alive idle limit).
        body_timeout: seconds the whole body may take.
        threads: requests answered at once.

    Raises:
        ValueError: a limit that is not positive.
        OSError: the address cannot be bound.
    """

    def __init__(
        self,
        app: RelayApp,
        host: str = "127.0.0.1",
        port: int = 0,
        head_timeout: float = HEAD_TIMEOUT_SECONDS,
        body_timeout: float = BODY_TIMEOUT_SECONDS,
        threads: int = THREADS,
    ):
        if not head_timeout > 0:
            raise ValueError(f"head_timeout={head_timeout!r} is not positive, e.g. 10")
        self.app = app
        self.asgi = RelayAsgi(app, body_timeout, threads)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit
            sock.bind((host, port))
            # Listening from here on: connections made before Hypercorn's loop runs
            # wait in the backlog instead of being refused.
            sock.listen(100)
        except OSError:
            sock.close()
            raise
        self.host = host
        self.port = sock.getsockname()[1]
        self.config = hypercorn_config(sock.detach(), head_timeout)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def _serve(self, started: threading.Event | None) -> None:
        shutdown_trigger = None  # Hypercorn's own: SIGTERM and SIGINT (main thread only)
        if started is not None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            shutdown_trigger = self._stop.wait
            self._loop.call_soon(started.set)
        await serve(self.asgi, self.config, shutdown_trigger=shutdown_trigger, mode="asgi")

    def start(self) -> str:
        """Serves in a daemon thread; the URL once it accepts connections."""
        started = threading.Event()
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(started),), name="fitbeam-relay", daemon=True
        )
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the relay did not start within 10 s")
        return self.url

    def stop(self) -> None:
        """Stops the thread `start` began: requests in flight get `GRACEFUL_SECONDS`."""
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(GRACEFUL_SECONDS + 5)

    def __enter__(self) -> RelayServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Serves in the calling (main) thread until SIGTERM (Cloud Run's stop) or Ctrl-C."""
        asyncio.run(self._serve(None))
