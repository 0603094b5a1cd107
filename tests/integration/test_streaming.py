"""StreamingResponse over a real socket: chunks leave as the iterator yields them (chunked on
HTTP/1.1, close-delimited on HTTP/1.0), a client that hangs up stops the generator, pipelined
requests are answered in order after the stream, a slow reader holds the producer."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from .conftest import Server, start_server


@pytest.fixture(scope="module")
def server():
    s = start_server("stream_app:app")
    yield s
    s.stop()


def read_until(sock: socket.socket, marker: bytes, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_first_chunk_arrives_before_the_body_ends(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /held HTTP/1.1\r\nHost: a\r\n\r\n")
        head = read_until(sock, b"first\n")
        assert head.startswith(b"HTTP/1.1 200 ") and b"\r\ntransfer-encoding: chunked\r\n" in head.lower()
        assert b"6\r\nfirst\n\r\n" in head  # the generator is still waiting for /release
        assert httpx.get(server.url + "/release").json() == {"ok": True}
        rest = read_until(sock, b"0\r\n\r\n")
        assert rest.endswith(b"7\r\nsecond\n\r\n0\r\n\r\n")


def test_httpx_streams_and_a_hang_up_stops_the_generator(server: Server) -> None:
    before = httpx.get(server.url + "/state").json()
    with httpx.stream("GET", server.url + "/forever") as r:
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        lines = []
        for line in r.iter_lines():
            if line:
                lines.append(line)
            if len(lines) == 3:
                break
    assert lines == ["data: 0", "data: 1", "data: 2"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        after = httpx.get(server.url + "/state").json()
        if after["closed"] > before["closed"] and after["background"] > before["background"]:
            break
        time.sleep(0.05)
    assert after["closed"] == before["closed"] + 1, (before, after)  # the generator's finally ran
    assert after["background"] == before["background"] + 1  # background tasks after the body


def test_http10_body_is_close_delimited(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /big?n=3&size=4 HTTP/1.0\r\n\r\n")
        data = read_until(sock, b"\x00never", timeout=5)  # until the server closes
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower() and b"connection: close" in head.lower()
    assert body == b"AAAABBBBCCCC"


def test_pipelined_request_after_a_stream_is_answered_in_order(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /big?n=2&size=3 HTTP/1.1\r\nHost: a\r\n\r\nGET /state HTTP/1.1\r\nHost: a\r\n\r\n")
        data = read_until(sock, b'"background"')
    first = data.index(b"3\r\nAAA\r\n3\r\nBBB\r\n0\r\n\r\n")
    assert data.index(b"HTTP/1.1 200", first) > first  # the second response follows the whole stream


def test_a_slow_reader_gets_every_byte(server: Server) -> None:
    # 200 chunks of 64 KiB (12.5 MiB) read slowly: the producer waits on the connection's backlog.
    with httpx.stream("GET", server.url + "/big", timeout=30) as r:
        total = 0
        for i, chunk in enumerate(r.iter_bytes(1 << 20)):
            total += len(chunk)
            if i < 3:
                time.sleep(0.2)
    assert total == 200 * 65536
