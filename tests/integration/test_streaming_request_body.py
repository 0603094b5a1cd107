"""Streamed request bodies (`engine.stream_bodies`): a request bound for `app_handler` is
dispatched when its head is complete and reads its body through `RequestData.body_reader`
(`_core.BodyReader`: take / done / aborted / waiter) as it arrives, the connection pausing the
socket while the reader holds 256 KiB it has not taken.

A bare `_core.Engine` + `_core.Server` on 127.0.0.1 (port 0), on an asyncio loop in a background
thread driven as `fasterapi.server.serve` drives one; the clients are raw sockets in the test
thread. The in-memory `engine.connection()` streams the same way.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from fasterapi import _core, _runtime

from ._threaded_server import ThreadedServer
from .conftest import loop_config

MiB = 1024 * 1024
HIGH_WATER = 256 * 1024  # the reader's buffer mark (bridge/body_reader.cpp)
DELIVER_MAX = 64 * 1024  # bytes per delivery (http/connection.cpp)
SANITIZED = os.environ.get("FASTERAPI_SANITIZED") == "1"  # .ci/sanitizers.sh: ASan's quarantine holds freed memory


class Resp:
    """The engine's response type."""

    def __init__(self, status_code: int, body: bytes | dict[str, Any], content_type: bytes = b"application/json"):
        self.status_code = status_code
        self.raw_headers = [(b"content-type", content_type)]
        self.body = json.dumps(body).encode() if isinstance(body, dict) else body


class Aborted(Exception):
    pass


async def read_body(reader: Any, on_chunk: Any = None) -> tuple[int, int, str]:
    """(bytes, takes that returned data, sha256) of the whole body, awaiting through the waiter."""
    loop = asyncio.get_running_loop()
    total = chunks = 0
    digest = hashlib.sha256()
    while True:
        data = reader.take()
        if data:
            total += len(data)
            chunks += 1
            digest.update(data)
            if on_chunk is not None:
                on_chunk(len(data))
            continue
        if reader.done:
            return total, chunks, digest.hexdigest()
        if reader.aborted:
            raise Aborted(total)
        waiter = loop.create_future()
        reader.waiter = lambda: waiter.done() or waiter.set_result(None)
        await waiter


def vm_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


class App:
    """app_handler by path; what the handlers saw goes to `seen` (set `events[name]` when done)."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}
        self.events: dict[str, threading.Event] = {}
        self.keep: list[Any] = []  # readers kept past their connection

    def event(self, name: str) -> threading.Event:
        return self.events.setdefault(name, threading.Event())

    def record(self, name: str, value: Any) -> None:
        self.seen[name] = value
        self.event(name).set()

    def handler(self, req: Any) -> Any:
        path = req.path
        reader = req.body_reader
        if path == "/info":  # what the request looks like (sync)
            return Resp(200, {"body": req.body.decode("latin-1"), "reader": reader is not None})
        if path == "/ignore":  # answered at once, the body never read
            return Resp(200, {"ignored": True, "reader": reader is not None})
        return self._async(path, req, reader)

    async def _async(self, path: str, req: Any, reader: Any) -> Resp:
        if path == "/upload":
            peak = [0]

            def sample(n: int) -> None:  # VmRSS now and then while the body flows
                peak[0] = max(peak[0], vm_kib("VmRSS"))

            try:
                total, chunks, digest = await read_body(reader, sample)
            except Aborted as exc:
                self.record("upload", {"aborted": True, "received": exc.args[0]})
                return Resp(400, {"aborted": True})
            result = {"len": total, "chunks": chunks, "sha256": digest, "rss_peak_kib": peak[0],
                      "body": len(req.body)}
            self.record("upload", result)
            return Resp(200, result)
        if path == "/watch":  # reads until the end or the abort; keeps the reader
            self.keep.append(reader)
            try:
                total, _, _ = await read_body(reader)
                self.record("watch", {"aborted": False, "len": total})
                return Resp(200, {"len": total})
            except Aborted as exc:
                self.record("watch", {"aborted": True, "received": exc.args[0], "done": reader.done})
                return Resp(400, {"aborted": True})
        if path == "/hang":  # told the body failed, it does not answer for a long while
            try:
                await read_body(reader)
            except Aborted:
                self.record("hang", True)
            await asyncio.sleep(3)
            return Resp(200, {})
        if path == "/late-ignore":  # answers after a while, without reading the body
            await asyncio.sleep(0.05)
            self.keep.append(reader)
            return Resp(200, {"ignored": True})
        if path == "/slow":  # leaves the body untaken for a while: the socket is not read meanwhile
            loop = asyncio.get_running_loop()
            while reader.buffered < HIGH_WATER and not reader.done and not reader.aborted:
                waiter = loop.create_future()
                reader.waiter = lambda: waiter.done() or waiter.set_result(None)
                await waiter
            held = reader.buffered
            await asyncio.sleep(0.3)
            still = reader.buffered  # nothing more was read while the reader was full
            total, chunks, digest = await read_body(reader)
            result = {"held": held, "still": still, "len": total, "takes": chunks}
            self.record("slow", result)
            return Resp(200, result)
        return Resp(404, {"detail": "Not Found"})

    def routed(self, req: Any) -> Resp:  # a native route: its body is read whole, as before
        return Resp(200, {"len": len(req.body), "reader": req.body_reader is not None})

    @staticmethod
    def error(req: Any, exc: BaseException) -> Resp:
        return Resp(500, {"detail": repr(exc)})


class Served(ThreadedServer):
    thread_name = "stream-body-server"

    def __init__(self, app: App, limits: dict[str, int], config: dict[str, int] | None = None) -> None:
        super().__init__()
        self.app = app
        self.limits = limits
        self.config = config or {}
        self.engine: Any = None
        self.start()

    def make_server(self) -> _core.Server:
        engine = self.engine = _core.Engine(self.app.handler, Resp, None, self.app.error, self.limits)
        engine.stream_bodies = True
        engine.task_starter = _runtime.start_task
        engine.add_route(["POST"], "/routed", self.app.routed)
        server = _core.Server(engine, {**loop_config(), **self.config})
        self.port = server.listen("127.0.0.1", 0)
        return server

    def connect(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s


@pytest.fixture(scope="module")
def app() -> App:
    return App()


@pytest.fixture(scope="module")
def served(app: App) -> Iterator[Served]:
    s = Served(app, {"max_body": 128 * MiB})
    yield s
    s.stop()


@pytest.fixture(scope="module")
def small(app: App) -> Iterator[Served]:
    s = Served(app, {"max_body": 1 * MiB})
    yield s
    s.stop()


# ---- a raw HTTP/1.1 client ------------------------------------------------------------------------


class Reader:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buf += data
        return bool(data)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                raise ConnectionError(f"closed before a response: {self.buf[:200]!r}")
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            if not self._fill():
                raise ConnectionError("closed mid-body")
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def closed(self) -> bool:
        """True when the server closes (EOF or reset) with nothing more sent."""
        try:
            while self._fill():
                pass
        except (ConnectionResetError, TimeoutError):
            pass
        return True


BLOCK = bytes(range(256)) * 4096  # 1 MiB, sent again and again: the client holds no more


def send_blocks(sock: socket.socket, total: int, chunked: bool, digest: Any = None) -> None:
    sent = 0
    while sent < total:
        n = min(len(BLOCK), total - sent)
        part = BLOCK[:n]
        if digest is not None:
            digest.update(part)
        sock.sendall(b"%x\r\n" % n + part + b"\r\n" if chunked else part)
        sent += n
    if chunked:
        sock.sendall(b"0\r\n\r\n")


def head(path: str, length: int | None = None, extra: str = "") -> bytes:
    framing = "Transfer-Encoding: chunked\r\n" if length is None else f"Content-Length: {length}\r\n"
    return f"POST {path} HTTP/1.1\r\nHost: t\r\n{framing}{extra}\r\n".encode()


# ---- tests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_64mb_body_streams_in_bounded_memory(served: Served, app: App, chunked: bool) -> None:
    size = 64 * MiB
    gc.collect()
    base = vm_kib("VmRSS")
    s = served.connect()
    try:
        digest = hashlib.sha256()
        s.sendall(head("/upload", None if chunked else size))
        send_blocks(s, size, chunked, digest)
        status, _, body = Reader(s).response()
    finally:
        s.close()
    assert status == 200, body
    got = json.loads(body)
    assert got["len"] == size and got["sha256"] == digest.hexdigest()
    assert got["body"] == 0  # RequestData.body is b"" when streamed
    assert got["chunks"] >= size // (HIGH_WATER + DELIVER_MAX)  # many pieces, each at most ~the mark
    if not SANITIZED:
        # Client and server share this process: neither ever held the body.
        growth = got["rss_peak_kib"] - base
        assert growth < 16 * 1024, f"RSS grew by {growth} KiB for a {size >> 20} MiB body"


def test_reader_is_bounded_and_pauses_the_socket(served: Served, app: App) -> None:
    size = 8 * MiB
    s = served.connect()
    try:
        s.sendall(head("/slow", size))
        digest = hashlib.sha256()
        send_blocks(s, size, False, digest)
        status, _, body = Reader(s).response()
    finally:
        s.close()
    assert status == 200, body
    got = app.seen["slow"]
    assert HIGH_WATER <= got["held"] < HIGH_WATER + DELIVER_MAX
    assert got["still"] == got["held"]  # while full, nothing more was read from the socket
    assert got["len"] == size


def test_body_without_stream_or_routed_is_whole(served: Served) -> None:
    s = served.connect()
    try:
        r = Reader(s)
        s.sendall(b"GET /info HTTP/1.1\r\nHost: t\r\n\r\n")
        assert json.loads(r.response()[2]) == {"body": "", "reader": False}
        s.sendall(head("/info", 0))  # Content-Length: 0: no body, no reader
        assert json.loads(r.response()[2]) == {"body": "", "reader": False}
        s.sendall(head("/routed", 5) + b"hello")  # a native route keeps its whole body
        assert json.loads(r.response()[2]) == {"len": 5, "reader": False}
        s.sendall(head("/info", 5) + b"hello")  # streamed: body is b"", the reader has it
        assert json.loads(r.response()[2]) == {"body": "", "reader": True}
    finally:
        s.close()


@pytest.mark.parametrize("how", ["fin", "rst"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_client_gone_mid_body_aborts_the_reader(served: Served, app: App, how: str, chunked: bool) -> None:
    app.events.pop("watch", None)
    s = served.connect()
    s.sendall(head("/watch", None if chunked else 4 * MiB))
    part = BLOCK[:300_000]
    s.sendall(b"%x\r\n" % (2 * MiB) + part if chunked else part)
    time.sleep(0.1)
    if how == "rst":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()
    assert app.event("watch").wait(10), "the reader was never told"
    got = app.seen["watch"]
    assert got["aborted"] and not got["done"] and 0 < got["received"] <= 300_000
    reader = app.keep[-1]  # kept past its connection: still safe to use
    assert reader.aborted and not reader.done
    reader.take()
    reader.waiter = lambda: None
    reader.waiter = None


@pytest.mark.parametrize("path", ["/ignore", "/late-ignore"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_pipelined_request_after_unread_body(served: Served, path: str, chunked: bool) -> None:
    """A body the handler never read is consumed and dropped: the request behind it is served,
    and a request hidden inside the body is never answered."""
    body = b"GET /info HTTP/1.1\r\nHost: smuggled\r\n\r\n" * 10 + BLOCK[:600_000]
    framed = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if chunked else body
    s = served.connect()
    try:
        s.sendall(head(path, None if chunked else len(body)) + framed + b"GET /info HTTP/1.1\r\nHost: t\r\n\r\n")
        r = Reader(s)
        first = r.response()
        assert first[0] == 200 and json.loads(first[2])["ignored"] is True
        second = r.response()
        assert second[0] == 200 and json.loads(second[2]) == {"body": "", "reader": False}
        s.sendall(b"GET /info HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert r.response()[0] == 200
        assert r.closed() and r.buf == b""  # nothing else (no smuggled response)
    finally:
        s.close()


def test_content_length_over_limit_is_413(small: Served) -> None:
    s = small.connect()
    try:
        s.sendall(head("/upload", 2 * MiB))
        status, headers, _ = Reader(s).response()
        assert status == 413 and headers.get("connection") == "close"
    finally:
        s.close()


def test_chunked_over_limit_aborts_and_closes(small: Served, app: App) -> None:
    app.events.pop("watch", None)
    s = small.connect()
    try:
        s.sendall(head("/watch"))
        try:
            send_blocks(s, 3 * MiB, True)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed while we were still sending
        assert app.event("watch").wait(10)
        got = app.seen["watch"]
        assert got["aborted"] and got["received"] <= 1 * MiB
        r = Reader(s)
        try:
            # The engine's own verdict, as for a buffered body (the app's reaction is not sent),
            # then the close.
            status, headers, _ = r.response()
            assert status == 413 and headers.get("connection") == "close"
        except (ConnectionError, TimeoutError):
            pass  # (or a reset that destroyed it: the server stopped reading mid-body)
        assert r.closed()
    finally:
        s.close()


def test_expect_100_continue(served: Served) -> None:
    s = served.connect()
    try:
        s.sendall(head("/upload", 3 * MiB, "Expect: 100-continue\r\n"))
        r = Reader(s)
        while b"\r\n\r\n" not in r.buf:
            r._fill()
        assert r.buf.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        r.buf = r.buf[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
        send_blocks(s, 3 * MiB, False)
        status, _, body = r.response()
        assert status == 200 and json.loads(body)["len"] == 3 * MiB
    finally:
        s.close()


def test_body_deadline_applies_while_the_handler_waits(app: App) -> None:
    """A client that stalls mid-body while the handler waits for it: the body deadline aborts
    the reader; once the handler is done the client gets the 408 (as for a buffered body) and the
    connection closes."""
    app.events.pop("watch", None)
    s_ = Served(app, {"max_body": MiB}, {"body_timeout_ms": 300, "body_min_rate": 1_000_000})
    try:
        s = s_.connect()
        s.sendall(head("/watch", 1000) + b"x" * 10)
        assert app.event("watch").wait(10)
        assert app.seen["watch"]["aborted"] and app.seen["watch"]["received"] == 10
        r = Reader(s)
        status, headers, _ = r.response()
        assert status == 408 and headers.get("connection") == "close"
        assert r.closed()
        s.close()
    finally:
        s_.stop()


def test_body_deadline_then_a_handler_that_never_answers_is_closed(app: App) -> None:
    """After the body deadline the handler has another body_timeout to answer, then the
    connection is closed without a response."""
    app.events.pop("hang", None)
    s_ = Served(app, {"max_body": MiB}, {"body_timeout_ms": 300, "body_min_rate": 1_000_000})
    try:
        s = s_.connect()
        s.sendall(head("/hang", 1000) + b"x" * 10)
        t0 = time.monotonic()
        assert app.event("hang").wait(10)
        r = Reader(s)
        assert r.closed() and r.buf == b""
        assert time.monotonic() - t0 < 2.5  # (the handler answers only after 3 s)
        s.close()
    finally:
        s_.stop()


# ---- the in-memory connection (TestClient's) streams the same way ------------------------------------


async def _exchange(engine: Any, raw: bytes) -> bytes:
    conn = engine.connection()
    done = asyncio.get_running_loop().create_future()
    conn.waiter = lambda: done.done() or done.set_result(None)
    await _runtime.feed_inline(conn, raw)
    out = conn.read()
    while conn.pending:
        await done
        done = asyncio.get_running_loop().create_future()
        conn.waiter = lambda: done.done() or done.set_result(None)
        out += conn.read()
    return out + conn.read()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_in_memory_connection_streams(app: App, chunked: bool) -> None:
    engine = _core.Engine(app.handler, Resp, None, app.error, {"max_body": 16 * MiB})
    engine.stream_bodies = True
    body = BLOCK * 2
    if chunked:
        framed = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:1000], body[1000:])) + b"0\r\n\r\n"
    else:
        framed = body
    raw = head("/upload", None if chunked else len(body)) + framed + b"GET /info HTTP/1.1\r\nHost: t\r\n\r\n"
    out = asyncio.run(_exchange(engine, raw))
    first, _, rest = out.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200 OK"), out[:300]
    got = json.loads(rest[: rest.index(b"HTTP/1.1")])
    assert got["len"] == len(body) and got["sha256"] == hashlib.sha256(body).hexdigest()
    assert got["chunks"] >= len(body) // (HIGH_WATER + DELIVER_MAX)
    assert rest.count(b"HTTP/1.1 200 OK") == 1 and rest.endswith(b'{"body": "", "reader": false}')


def test_stream_bodies_off_by_default(app: App) -> None:
    engine = _core.Engine(app.handler, Resp, None, app.error)
    assert engine.stream_bodies is False
    out = asyncio.run(_exchange(engine, head("/info", 5) + b"hello"))
    assert out.endswith(b'{"body": "hello", "reader": false}')


def test_reader_waiter_must_be_callable(app: App) -> None:
    seen: list[Any] = []

    def grab(req: Any) -> Resp:
        seen.append(req.body_reader)
        return Resp(200, {})

    engine = _core.Engine(grab, Resp, None, app.error)
    engine.stream_bodies = True
    asyncio.run(_exchange(engine, head("/x", 3) + b"abc"))
    reader = seen[0]
    assert isinstance(reader, _core.BodyReader)
    assert reader.aborted and not reader.done  # answered before its body was read: discarded
    with pytest.raises(TypeError):
        reader.waiter = 3
    assert reader.waiter is None
