"""Zero-copy response bodies (engine.zero_copy_min): a bytes/str body is referenced by the output
buffer and leaves with its head in one sendmsg; partial writes, pipelining and HEAD keep the bytes
and their order exactly as the copying path does."""

from __future__ import annotations

import socket
import sys
import time

import pytest

from fasterapi.testclient import TestClient

from .conftest import Server, start_server

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "data"))
import zero_copy_app  # noqa: E402

BIG, TEXT = zero_copy_app.BIG, zero_copy_app.TEXT.encode()


@pytest.fixture(scope="module")
def server():
    s = start_server("zero_copy_app:app")
    yield s
    s.stop()


def read_exactly(sock: socket.socket, n: int, *, chunk: int = 65536, pause: float = 0.0) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        b = sock.recv(min(chunk, n - len(buf)))
        assert b, f"closed after {len(buf)} of {n} bytes"
        buf += b
        if pause:
            time.sleep(pause)
    return bytes(buf)


def read_response(sock: socket.socket, *, head_only: bool = False, **kw: float) -> tuple[bytes, dict[str, str], bytes]:
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        b = sock.recv(1)
        assert b
        head += b
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    n = 0 if head_only else int(headers["content-length"])
    return lines[0].encode(), headers, read_exactly(sock, n, **kw)  # type: ignore[arg-type]


def test_testclient_and_in_memory_connection() -> None:
    app = zero_copy_app.app
    with TestClient(app) as c:
        for _ in range(2):
            assert c.get("/big").content == BIG
            assert c.get("/text").content == TEXT
            assert c.get("/big-static").content == BIG
            r = c.head("/big")
            assert r.content == b"" and r.headers["content-length"] == str(len(BIG))
    engine = app._build_engine()
    assert engine.zero_copy_min == 0
    conn = engine.connection()
    reqs = [b"/big", b"/small", b"/text", b"/big", b"/small"]
    conn.feed(b"".join(b"GET " + p + b" HTTP/1.1\r\nHost: t\r\n\r\n" for p in reqs))
    out = b""
    for _ in range(20):
        out += conn.read()
    expected = [BIG, b"small", TEXT, BIG, b"small"]
    for body in expected:
        head, _, out = out.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK")
        assert out[: len(body)] == body
        out = out[len(body):]
    assert out == b""


def test_slow_reader_partial_writes(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\nGET /small HTTP/1.1\r\nHost: t\r\n\r\n")
        status, headers, body = read_response(sock, chunk=7919, pause=0.0005)
        assert status == b"HTTP/1.1 200 OK" and body == BIG
        assert headers["content-length"] == str(len(BIG))
        assert read_response(sock)[2] == b"small"


def test_pipelined_mix_head_and_close(server: Server) -> None:
    seq = [("GET", "/big"), ("HEAD", "/big"), ("GET", "/text"), ("GET", "/small"), ("GET", "/big-static"),
           ("GET", "/big-static"), ("HEAD", "/text")]
    data = b"".join(f"{m} {p} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for m, p in seq)
    data += b"GET /big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(data)
        bodies = [read_response(sock, head_only=m == "HEAD")[2] for m, _ in seq]
        last_status, last_headers, last = read_response(sock)
        assert sock.recv(1) == b""
    assert bodies == [BIG, b"", TEXT, b"small", BIG, BIG, b""]
    assert last == BIG and last_headers["connection"] == "close"


def test_many_connections_at_once(server: Server) -> None:
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(8)]
    try:
        for s in socks:
            s.sendall(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n" * 2)
        for s in socks:
            assert read_response(s)[2] == BIG
            assert read_response(s)[2] == BIG
    finally:
        for s in socks:
            s.close()
