"""The relay on its server, over real loopback sockets: framing, deadlines, floods, logs.

Each test starts `RelayServer` (Hypercorn) on a free loopback port with the
app on hand-written fakes, talks raw bytes or HTTP to it, and stops it. Every
socket has a timeout and every loop a bound, so each test ends by itself;
the slowest (64 trickling clients against the production time limits) takes
about `HEAD_TIMEOUT_SECONDS`. Times cannot be injected into a real server, so
they are measured and asserted with margins.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import selectors
import socket
import threading
import time

import pytest
import requests

from relay.app import MAX_BODY_BYTES
from relay.server import HEAD_TIMEOUT_SECONDS, RelayServer
from simulator import webhooks
from tests.relay.helpers import (
    FIVE_MINUTES,
    HEALTH_ID,
    HOSTILE,
    KEY,
    NY,
    SECRET,
    TOPIC,
    UNSAFE_IN_LOGS,
    VERIFICATION,
    civil,
    formatters,
    payload,
    range_message,
    steps_message,
    utc,
)

AUTH = f"Authorization: {SECRET}"
CHUNKED = "Transfer-Encoding: chunked"
# Sent after a malformed request: answered too if the connection stayed open
# and the server took leftover bytes for a next request.
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: relay\r\n\r\n"
NOTIFICATION = json.dumps(payload([FIVE_MINUTES])).encode()
PUBLISHED = (
    TOPIC,
    steps_message("2026-11-20"),
    {"user_id": "user-1", "origin": "relay", "operation": "UPSERT"},
)

CLOSED_400 = (400, "close", b"")  # h11's answer to a request it cannot parse
CLOSED_501 = (501, "close", b"")  # h11's answer to a Transfer-Encoding it does not know
BAD_REQUEST = (400, "close", b"bad request\n")  # the app's
TOO_LARGE = (413, "close", b"body too large\n")


def raw_request(*headers: str, body: bytes = b"") -> bytes:
    head = "\r\n".join(["POST / HTTP/1.1", "Host: relay", *headers]) + "\r\n\r\n"
    return head.encode("latin-1") + body


def signed(body: bytes, *headers: str) -> bytes:
    """A request with the secret, `body` signed and framed by Content-Length."""
    return raw_request(
        AUTH,
        f"X-HEALTHAPI-SIGNATURE: {KEY.sign(body)}",
        f"Content-Length: {len(body)}",
        *headers,
        body=body,
    )


def chunked(body: bytes) -> bytes:
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


def read_to_eof(sock: socket.socket) -> bytes:
    received = b""
    while data := sock.recv(65536):
        received += data
    return received


def exchange(server: RelayServer, data: bytes, wait: float = 5.0) -> bytes:
    """Sends `data` on a new connection; what came back once the server closed it.

    Raises:
        TimeoutError: the server kept the connection open for `wait` seconds.
    """
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as sock:
        sock.sendall(data)
        return read_to_eof(sock)


def responses(raw: bytes) -> list[tuple[int, str | None, bytes]]:
    """(status, Connection header, body) of each response in `raw`, in order."""
    found = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        status, *lines = head.decode("latin-1").split("\r\n")
        fields = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines)}
        length = int(fields["content-length"])
        found.append((int(status.split(" ")[1]), fields.get("connection"), rest[:length]))
        raw = rest[length:]
    return found


@pytest.fixture
def server(app):
    with RelayServer(app) as running:
        yield running


# --- a request body is never read as a second request -------------------------------------


def test_the_signed_request_used_below_publishes_when_sent_as_a_request(server, publisher):
    """The control: the bytes smuggled below are a request that would publish."""
    assert responses(exchange(server, signed(NOTIFICATION, "Connection: close"))) == [
        (204, "close", b"")
    ]
    assert publisher.published == [PUBLISHED]


@pytest.mark.parametrize(
    "framing",
    [
        "Content-Length : {n}",  # a space before the colon
        "Content-Length\t: {n}",
        "Content-Length {n}",  # no colon
        "X-Fitbeam-Note\r\nContent-Length: {n}",  # a line without a colon before it
        "Content-Length: {n}\r\n folded",  # a continuation line (obsolete folding)
        "Transfer-Encoding : chunked",
        "Transfer-Encoding chunked",
    ],
)
def test_a_malformed_header_line_never_lets_a_body_be_read_as_a_request(server, publisher, framing):
    inner = signed(NOTIFICATION, "Connection: close")
    body = chunked(inner) if "Transfer-Encoding" in framing else inner
    sent = raw_request(AUTH, framing.format(n=len(inner)), body=body)
    assert responses(exchange(server, sent)) == [CLOSED_400]
    assert publisher.published == []


def test_well_framed_the_same_bytes_are_one_request_with_a_body(server, publisher):
    inner = signed(NOTIFICATION, "Connection: close")
    sent = raw_request(AUTH, f"Content-Length: {len(inner)}", "Connection: close", body=inner)
    # Read as the body of one request: not a notification, and unsigned.
    assert responses(exchange(server, sent)) == [(403, "close", b"forbidden\n")]
    assert publisher.published == []


@pytest.mark.parametrize(
    "size_line",
    [
        b"-1\r\n",
        b"zz\r\n",
        b"0x18\r\n",
        b"+18\r\n",
        b"1_8\r\n",
        b" 18\r\n",
        b"18\n",  # no CR
        b"0000000000000000000018\r\n",  # 22 digits
    ],
)
def test_a_chunk_size_out_of_format_is_400_and_closes(server, size_line):
    assert len(VERIFICATION) == 0x18
    chunks = size_line + VERIFICATION + b"\r\n0\r\n\r\n"
    sent = raw_request(AUTH, CHUNKED, body=chunks) + SMUGGLED
    assert responses(exchange(server, sent)) == [CLOSED_400]


@pytest.mark.parametrize(
    "chunks",
    [
        b"19\r\n" + VERIFICATION + b"\r\n0\r\n\r\n",  # the chunk is one byte short
        b"18\r\n" + VERIFICATION + b"XX0\r\n\r\n",  # no CRLF after the chunk
        b"18\r\n" + VERIFICATION + b"\r\n0\r\nX-Trailer : 1\r\n\r\n",  # a bad trailer line
    ],
    ids=["short-chunk", "no-crlf-after-chunk", "bad-trailer"],
)
def test_a_chunked_body_out_of_format_is_400_and_closes(server, chunks):
    sent = raw_request(AUTH, CHUNKED, body=chunks) + SMUGGLED
    assert responses(exchange(server, sent)) == [CLOSED_400]


@pytest.mark.parametrize(
    "chunks",
    [
        b"18 \r\n" + VERIFICATION + b"\r\n0\r\n\r\n",  # whitespace before CRLF
        b"000000018\r\n" + VERIFICATION + b"\r\n0\r\n\r\n",  # leading zeros
        b"18;ext\x00\r\n" + VERIFICATION + b"\r\n0\r\n\r\n",  # extensions are skipped
        b"18;" + b"x" * 2000 + b"\r\n" + VERIFICATION + b"\r\n0\r\n\r\n",
        b"5;name=value\r\n"
        + VERIFICATION[:5]
        + b"\r\n13\r\n"
        + VERIFICATION[5:]
        + b"\r\n0\r\n"
        + b"X-Trailer: 1\r\n" * 33
        + b"\r\n",
    ],
    ids=["bws", "leading-zeros", "extension", "long-extension", "extensions-and-trailers"],
)
def test_chunk_sizes_that_say_one_thing_are_read_and_the_connection_goes_on(server, chunks):
    sent = raw_request(AUTH, CHUNKED, body=chunks) + raw_request(AUTH, "Connection: close")
    assert responses(exchange(server, sent)) == [
        (201, None, b""),
        (403, "close", b"forbidden\n"),  # the next request on the same connection
    ]


@pytest.mark.parametrize(
    ("framing", "answer"),
    [
        (["Content-Length: -1"], CLOSED_400),
        (["Content-Length: abc"], CLOSED_400),
        (["Content-Length: +24"], CLOSED_400),
        (["Content-Length: 0x18"], CLOSED_400),
        (["Content-Length: 24, 25"], CLOSED_400),
        (["Content-Length: 24", "Content-Length: 25"], CLOSED_400),
        (["Content-Length: " + "9" * 19], TOO_LARGE),
        (["Content-Length: 24", CHUNKED], BAD_REQUEST),
        ([CHUNKED, "Content-Length: 24"], BAD_REQUEST),
        ([CHUNKED, CHUNKED], CLOSED_501),
        (["Transfer-Encoding: gzip, chunked"], CLOSED_501),
        (["Transfer-Encoding: identity"], CLOSED_501),
    ],
)
def test_framing_headers_that_leave_the_end_unclear_are_refused_and_close(
    server, publisher, framing, answer
):
    sent = raw_request(AUTH, *framing, body=chunked(VERIFICATION))
    assert responses(exchange(server, sent + SMUGGLED)) == [answer]


@pytest.mark.parametrize(
    "framing", [["Content-Length: 24", "Content-Length: 24"], ["Content-Length: 24, 24"]]
)
def test_a_content_length_repeated_with_one_value_is_that_value(server, framing):
    sent = raw_request(AUTH, *framing, "Connection: close", body=VERIFICATION)
    assert responses(exchange(server, sent)) == [(201, "close", b"")]


def test_a_request_head_too_large_is_431_and_closes(server):
    sent = raw_request(AUTH, "X-Padding: " + "a" * 100_000, body=b"")
    assert responses(exchange(server, sent)) == [(431, "close", b"")]


def test_chunks_past_the_body_limit_are_413_and_close(server):
    pieces = b"%x\r\n%s\r\n" % (200_000, b"a" * 200_000) * 2  # 400,000 bytes sent in full
    assert responses(exchange(server, raw_request(AUTH, CHUNKED, body=pieces))) == [TOO_LARGE]


def test_a_content_length_over_the_limit_is_413_before_the_body_is_sent(server):
    sent = raw_request(AUTH, f"Content-Length: {MAX_BODY_BYTES + 1}")
    assert responses(exchange(server, sent)) == [TOO_LARGE]


def test_a_body_that_ends_before_its_content_length_is_not_relayed(server, publisher):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(signed(NOTIFICATION)[:-10])
        sock.shutdown(socket.SHUT_WR)
        answer = responses(read_to_eof(sock))
    # Hypercorn answers 400 if h11 sees the early end before the connection is torn
    # down, else it just closes; either way the body is not taken for whole.
    assert answer in ([], [CLOSED_400])
    assert publisher.published == []


def test_a_repeated_authorization_header_is_400_on_the_wire(server):
    sent = raw_request(AUTH, AUTH, f"Content-Length: {len(VERIFICATION)}", body=VERIFICATION)
    assert responses(exchange(server, sent)) == [BAD_REQUEST]
    once = raw_request(AUTH, f"Content-Length: {len(VERIFICATION)}", "Connection: close")
    assert responses(exchange(server, once + VERIFICATION)) == [(201, "close", b"")]


def test_the_server_answers_the_emitter_and_closes_after_unread_bodies(server, publisher):
    emitter = webhooks.WebhookEmitter(
        KEY, signature_header=webhooks.GOOGLE_HEALTH_API_SIGNATURE, sleep=lambda s: None
    )
    sub = emitter.register("fitbeam-relay", server.url, SECRET, ["steps"])
    interval = webhooks.Interval(utc("2026-11-20T22:29:00"), utc("2026-11-20T22:34:00"), NY)
    delivery = emitter.notify(sub, HEALTH_ID, "steps", "UPSERT", [interval], "flat")
    assert (delivery.status, delivery.attempts) == (204, 1)
    with requests.Session() as session:
        # Refused before its body is read; the next request on a fresh connection works.
        refused = session.post(server.url, data=b"x" * 5000)
        assert (refused.status_code, refused.headers.get("Connection")) == (401, "close")
        too_big = session.post(
            server.url, data=b"x" * (MAX_BODY_BYTES + 1), headers={"Authorization": SECRET}
        )
        assert (too_big.status_code, too_big.headers.get("Connection")) == (413, "close")
        body = iter([b'{"type": ', b'"verification"}'])
        chunked_reply = session.post(server.url, data=body, headers={"Authorization": SECRET})
        assert chunked_reply.status_code == 201
        assert session.get(server.url).status_code == 405
    assert [data for _, data, _ in publisher.published] == [steps_message("2026-11-20")]


# --- deadlines -------------------------------------------------------------------------------


def test_an_idle_connection_is_closed_after_the_head_timeout_without_an_answer(app):
    with RelayServer(app, head_timeout=0.5) as server:
        started = time.monotonic()
        assert exchange(server, b"") == b""  # never sent a byte
        first = time.monotonic() - started
        # Idle after an answer on a kept-alive connection.
        kept = raw_request(AUTH, f"Content-Length: {len(VERIFICATION)}", body=VERIFICATION)
        started = time.monotonic()
        assert responses(exchange(server, kept)) == [(201, None, b"")]
        second = time.monotonic() - started
    assert 0.4 < first < 3 and 0.4 < second < 3


def test_a_body_that_keeps_trickling_is_cut_off_with_408_at_the_body_deadline(app, publisher):
    with (
        RelayServer(app, body_timeout=1.0) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        sock.sendall(raw_request(AUTH, f"Content-Length: {len(NOTIFICATION)}"))
        started = time.monotonic()
        answered = selectors.DefaultSelector()
        answered.register(sock, selectors.EVENT_READ)
        for byte in NOTIFICATION:  # a byte every 0.1 s: no single wait is long
            if answered.select(timeout=0.1):
                break
            sock.sendall(bytes([byte]))
        received = read_to_eof(sock)
        took = time.monotonic() - started
    assert responses(received) == [(408, "close", b"request timeout\n")]
    assert 0.9 < took < 4
    assert publisher.published == []


def test_64_trickling_clients_neither_delay_a_notification_nor_outlive_the_head_deadline(
    app, publisher
):
    """64 clients send a request head one byte every 5 s; production time limits."""
    head = raw_request(AUTH, f"Content-Length: {len(VERIFICATION)}")
    with RelayServer(app) as server:
        clients = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(64)]
        started = time.monotonic()
        ended: dict[int, tuple[float, bytes]] = {}  # client -> (seconds, what it received)
        stop = threading.Event()

        def trickle() -> None:
            selector = selectors.DefaultSelector()
            for i, client in enumerate(clients):
                client.setblocking(False)
                selector.register(client, selectors.EVENT_READ, i)
            for sent in range(len(head)):
                for i, client in enumerate(clients):
                    if i not in ended:
                        try:
                            client.send(head[sent : sent + 1])
                        except OSError:
                            ended[i] = (time.monotonic() - started, b"")
                until = time.monotonic() + 5
                while time.monotonic() < until and len(ended) < 64 and not stop.is_set():
                    for key, _ in selector.select(timeout=0.1):
                        try:
                            data = key.fileobj.recv(65536)
                        except OSError:
                            data = b""
                        ended[key.data] = (time.monotonic() - started, data)
                        selector.unregister(key.fileobj)
                if len(ended) == 64 or stop.is_set():
                    return

        trickler = threading.Thread(target=trickle, daemon=True)
        trickler.start()
        time.sleep(1.0)  # every client holds a connection with a head begun
        assert not ended
        sent_at = time.monotonic()
        reply = requests.post(
            server.url,
            data=NOTIFICATION,
            headers={"Authorization": SECRET, "X-HEALTHAPI-SIGNATURE": KEY.sign(NOTIFICATION)},
            timeout=10,
        )
        delay = time.monotonic() - sent_at
        trickler.join(HEAD_TIMEOUT_SECONDS + 10)
        stop.set()
        for client in clients:
            client.close()
    seconds = sorted(t for t, _ in ended.values()) or [float("nan")]
    print(  # the figures, shown with pytest -s
        f"notification answered in {delay * 1000:.1f} ms; {len(ended)} trickling clients cut "
        f"off after {seconds[0]:.2f}..{seconds[-1]:.2f} s"
    )
    assert (reply.status_code, delay < 2.0) == (204, True), delay
    assert publisher.published == [PUBLISHED]
    assert len(ended) == 64
    # Cut off at the head deadline, without an answer (a byte every 5 s is not a request).
    assert HEAD_TIMEOUT_SECONDS - 0.5 < seconds[0] <= seconds[-1] < HEAD_TIMEOUT_SECONDS + 5
    assert {data for _, data in ended.values()} == {b""}


# --- what only the running relay shows -------------------------------------------------------


def relay_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("relay")]


def test_a_flood_of_unauthenticated_requests_logs_one_summary_not_a_line_each(app, caplog):
    with caplog.at_level(logging.INFO):
        with RelayServer(app) as server:
            with requests.Session() as session:
                for i in range(300):
                    headers = {"Authorization": "Bearer wrong"} if i % 3 == 0 else {}
                    reply = session.post(server.url, data=VERIFICATION, headers=headers)
                    assert reply.status_code == 401
            during = relay_lines(caplog)
        after = relay_lines(caplog)  # the server flushed the counts when it stopped
    assert during == ["requests refused: 1 in 0 s (401 wrong Authorization header: 1)"]
    assert len(after) == 2
    assert after[1].startswith("requests refused: 299 in ")
    assert after[1].endswith(
        " s (401 no Authorization header: 200, 401 wrong Authorization header: 99)"
    )


def test_values_from_a_notification_are_escaped_in_the_running_relays_logs(
    server, publisher, caplog, monkeypatch
):
    body = json.dumps(payload([FIVE_MINUTES], data_type="altitude" + HOSTILE)).encode()
    with caplog.at_level(logging.INFO, logger="relay"):
        reply = requests.post(
            server.url,
            data=body,
            headers={"Authorization": SECRET, "X-HEALTHAPI-SIGNATURE": KEY.sign(body)},
            timeout=10,
        )
    assert reply.status_code == 204
    (record,) = [r for r in caplog.records if r.name.startswith("relay")]
    for kind, formatter in formatters(monkeypatch).items():
        line = formatter.format(record)
        assert not UNSAFE_IN_LOGS & set(line), (kind, line)
        message = json.loads(line)["message"] if kind == "json" else line
        assert "ignored (204)" in message, (kind, message)
        assert "altitudex\\nINFO relay.app: forged\\r\\x1b" in message, (kind, message)
    assert publisher.published == []


@pytest.mark.parametrize(
    "interval",
    [
        civil("0001-01-01T00:00:00", "0001-01-01T00:05:00"),
        civil("9999-12-31T23:00:00", "9999-12-31T23:05:00"),
        {
            "civilDateTimeInterval": {
                "startDateTime": {"date": {"year": 1e300, "month": 1, "day": 1}},
                "endDateTime": {"date": {"year": 2026, "month": 1, "day": 1}},
            }
        },
    ],
    ids=["0001-01-01", "9999-12-31", "year-1e300"],
)
def test_an_extreme_date_is_answered_400_by_the_running_relay(server, publisher, interval):
    body = json.dumps(payload([interval])).encode()
    answer = responses(exchange(server, signed(body, "Connection: close")))
    assert len(answer) == 1 and answer[0][0] == 400, answer
    assert answer[0][2].startswith(b"bad notification: ")
    assert publisher.published == []


def test_1500_separate_days_publish_nine_messages_through_the_running_relay(server, publisher):
    last = dt.date(2026, 11, 26)
    days = [last - dt.timedelta(days=2 * i) for i in reversed(range(1500))]
    intervals = [civil(f"{d}T08:00:00", f"{d}T09:00:00") for d in days]
    body = json.dumps(payload(intervals)).encode()
    assert len(body) < MAX_BODY_BYTES
    assert responses(exchange(server, signed(body, "Connection: close"))) == [(204, "close", b"")]
    published = [data for _, data, _ in publisher.published]
    assert len(published) == 9
    assert (published[0], published[-1]) == (
        range_message("2018-09-11", "2019-09-11"),
        range_message("2026-09-17", "2026-11-26"),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"head_timeout": 0}, "head_timeout=0 is not positive"),
        ({"body_timeout": 0}, "body_timeout=0 is not positive"),
        ({"threads": 0}, "threads=0 is under 1"),
    ],
)
def test_the_server_checks_its_limits(app, kwargs, message):
    with pytest.raises(ValueError, match=message):
        RelayServer(app, **kwargs)
