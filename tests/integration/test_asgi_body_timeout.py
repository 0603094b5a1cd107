"""A streamed request body that stalls past the body deadline, on the ASGI path over a real socket.

The buffered path (a compiled route: the engine reads the whole body before the call) answers a
stalled body with the engine's 408 and closes. A body the app reads through receive() gets the
same answer, at the deadline, whether the app is waiting in receive() or busy with something else
(it is told http.disconnect; what it sends afterwards goes nowhere). A response the app already
started is cut: the connection closes, never with the response made to look complete.
(uvicorn has no body deadline: nothing to compare with there; the reference is the engine's own
buffered path and its head deadline.)"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from .conftest import Server, start_server

DEADLINE = ("--body-timeout", "1", "--body-min-rate", "1000000", "--header-timeout", "1")


@pytest.fixture(scope="module")
def fastapi_server() -> Iterator[Server]:
    s = start_server("body_timeout_app:app", *DEADLINE)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def raw_server() -> Iterator[Server]:
    s = start_server("asgi_framing_app:app", *DEADLINE)
    yield s
    s.stop()


def exchange(server: Server, raw: bytes, timeout: float = 20.0) -> tuple[bytes, bool, float]:
    """Send `raw`, then nothing more: what comes back until the server closes, whether it closed
    (not our timeout), and when it closed."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(raw)
        t0 = time.monotonic()
        got = b""
        closed = False
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    closed = True
                    break
                got += data
        except ConnectionResetError:
            closed = True
        except TimeoutError:
            pass
        return got, closed, time.monotonic() - t0


def without_date(response: bytes) -> bytes:
    return b"\r\n".join(line for line in response.split(b"\r\n") if not line.startswith(b"Date: "))


def stalled(path: str, chunked: bool = False) -> bytes:
    if chunked:
        return (f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"nam\r\n").encode()
    return (f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n{\"name\": \"x").encode()


def test_the_buffered_paths_408(fastapi_server: Server) -> None:
    """The reference: a compiled route's buffered body, and a stalled head, get the engine's 408."""
    buffered, closed, _ = exchange(fastapi_server, stalled("/item"))
    assert buffered.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and closed, buffered
    assert b"Connection: close\r\n" in buffered and buffered.endswith(b'{"detail":"Request Timeout"}')
    head, closed, _ = exchange(fastapi_server, b"POST /stream HTTP/1.1\r\nHost: t\r\nContent-Le")
    assert without_date(head) == without_date(buffered) and closed


@pytest.mark.parametrize("path", ["/stream", "/body"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_read_through_receive_gets_the_same_408(fastapi_server: Server, path: str, chunked: bool) -> None:
    reference, _, _ = exchange(fastapi_server, stalled("/item"))
    got, closed, _ = exchange(fastapi_server, stalled(path, chunked))
    assert without_date(got) == without_date(reference), got
    assert closed


def test_a_busy_app_does_not_hold_the_408(raw_server: Server) -> None:
    """The app took the first chunk and is busy (10 s) when the client stalls: the 408 goes out
    at the deadline (not a silent close when the app is slow to notice, not its answer later)."""
    got, closed, elapsed = exchange(raw_server, stalled("/upload-busy"))
    assert got.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and closed, got
    assert got.endswith(b'{"detail":"Request Timeout"}')
    assert elapsed < 8, elapsed  # (the deadline is 1 s; the app answers only after 10 s)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_raw_app_reading_receive_gets_the_408(raw_server: Server, chunked: bool) -> None:
    got, closed, _ = exchange(raw_server, stalled("/upload", chunked))
    assert got.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and closed, got


def test_a_started_response_is_cut(raw_server: Server) -> None:
    """The app answered before reading the body; the body stalls: the response's head and first
    chunk are out, then the connection closes without the last chunk."""
    got, closed, _ = exchange(raw_server, stalled("/upload-started"))
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Transfer-Encoding: chunked" in head
    assert body == b"7\r\nstarted\r\n", body  # no "0\r\n\r\n": a client sees the body cut short
    assert closed


def test_the_server_serves_on(raw_server: Server, fastapi_server: Server) -> None:
    got, _, _ = exchange(raw_server, b"GET /cl/chunks HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 200 OK\r\n") and got.endswith(b"c" * 10)
    body = b'{"name": "x"}'
    got, _, _ = exchange(fastapi_server, b"POST /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    assert got.startswith(b"HTTP/1.1 200 OK\r\n") and got.endswith(b'{"n":13}')
