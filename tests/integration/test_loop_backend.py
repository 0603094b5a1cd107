"""--loop: the socket loop's backend (io_uring or epoll), chosen at the start. The whole socket suite
runs on either with FASTERAPI_LOOP (.ci/run reruns it on io_uring); here: the choice itself, seen
from outside (the process holds an io_uring instance or not), and what each backend refuses."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fasterapi import _core, _runtime

from ._threaded_server import ThreadedServer
from .conftest import DATA, start_server

URING = _core.uring_unavailable() == ""
needs_uring = pytest.mark.skipif(not URING, reason=f"io_uring unavailable here: {_core.uring_unavailable()}")


def io_uring_fds(pid: int) -> int:
    """How many io_uring instances the process holds open (its fds linking to [io_uring])."""
    n = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            n += os.readlink(fd) == "anon_inode:[io_uring]"
        except OSError:
            pass
    return n


def pipelined(port: int, n: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /json HTTP/1.1\r\nHost: a\r\n\r\n" * (n - 1) + b"GET /json HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


@needs_uring
@pytest.mark.parametrize("loop", ["io_uring", "auto"])
def test_io_uring_serves_where_the_kernel_allows_it(loop: str) -> None:
    s = start_server("server_app:app", "--loop", loop, env={"FASTERAPI_LOOP": ""})
    try:
        assert httpx.get(s.url + "/json").json() == {"message": "Hello, World!"}
        assert io_uring_fds(s.proc.pid) == 1
        assert pipelined(s.port, 50).count(b"HTTP/1.1 200 OK") == 50
    finally:
        assert s.stop() == 0


def test_epoll_on_request() -> None:
    s = start_server("server_app:app", "--loop", "epoll")
    try:
        assert pipelined(s.port, 50).count(b"HTTP/1.1 200 OK") == 50
        assert io_uring_fds(s.proc.pid) == 0
    finally:
        assert s.stop() == 0


def test_the_env_var_sets_the_default() -> None:
    s = start_server("server_app:app", env={"FASTERAPI_LOOP": "epoll"})
    try:
        assert httpx.get(s.url + "/json").status_code == 200
        assert io_uring_fds(s.proc.pid) == 0
    finally:
        s.stop()


def test_an_unknown_loop_is_one_line_and_exit_2() -> None:
    r = subprocess.run([sys.executable, "-m", "fasterapi", "run", "server_app:app", "--loop", "uvloop"], cwd=DATA,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "argument --loop: invalid choice: 'uvloop'" in r.stderr


@needs_uring
def test_core_server_backends() -> None:
    engine = _core.Engine(lambda *a: None, None, None, None)
    ring = _core.Server(engine, {"io_uring": 1})
    assert ring.loop == "io_uring"
    with pytest.raises(RuntimeError, match="TLS is served by the epoll loop"):
        ring.set_tls("missing.pem")
    assert _core.Server(engine).loop == "epoll"


# ---- io_uring sends: responses go out as send SQEs with the tick's one submission -----------------
# An in-process server (a bare `_core.Engine` + `_core.Server` on an asyncio loop in a thread, as
# fasterapi.server drives one) so that its stats show what went through the ring: `ring_sends`
# (send SQEs) and `ring_submits` (the submissions that carried the loop's SQEs). Sync handlers answer
# inside the loop's tick (the ring's sends); /late answers from a task after an await (send() at
# once, the path kept for responses completed outside the tick). Bodies of at least ZERO_COPY bytes
# are referenced, not copied (`zero_copy_min`): those go as one SENDMSG with two iovecs.

MiB = 1024 * 1024
ZERO_COPY = 64 * 1024
_PATTERN = bytes(range(251)) * (12 * MiB // 251 + 2)


def body_of(n: int, seed: int) -> bytes:
    """n bytes that tell where they are (a byte out of place or order changes them)."""
    return _PATTERN[seed % 251 : seed % 251 + n]


class Resp:
    def __init__(self, status_code: int, body: bytes, content_type: bytes = b"application/octet-stream") -> None:
        self.status_code = status_code
        self.raw_headers = [(b"content-type", content_type)]
        self.body = body


BIG = body_of(6 * MiB, 7)  # one object: its reference count shows whether a closed connection let it go


class InProcess(ThreadedServer):
    thread_name = "uring-send-server"

    def __init__(self, loop_name: str) -> None:
        super().__init__()
        self.loop_name = loop_name
        self.start()

    @staticmethod
    def handler(req: Any) -> Any:
        q = dict(p.split("=") for p in req.query_string.decode().split("&") if p)
        if req.path == "/json":
            return Resp(200, b'{"message":"Hello, World!"}', b"application/json")
        if req.path == "/body":
            return Resp(200, body_of(int(q["n"]), int(q.get("seed", "0"))))
        if req.path == "/bigobj":
            return Resp(200, BIG)

        async def late() -> Resp:
            await asyncio.sleep(0.001)
            return Resp(200, body_of(int(q["n"]), int(q.get("seed", "0"))))

        return late()

    @staticmethod
    def error(req: Any, exc: BaseException) -> Resp:
        return Resp(500, repr(exc).encode())

    def make_server(self) -> _core.Server:
        engine = _core.Engine(self.handler, Resp, None, self.error)
        engine.zero_copy_min = ZERO_COPY
        engine.task_starter = _runtime.start_task
        server = _core.Server(engine, {"io_uring": int(self.loop_name == "io_uring")})
        self.port = server.listen("127.0.0.1", 0)
        return server

    def stats(self) -> dict[str, int]:
        return dict(self.server.stats)

    def pause(self, seconds: float) -> None:
        """Blocks the server's loop thread for a while (its sockets keep receiving meanwhile)."""
        assert self.loop is not None
        self.loop.call_soon_threadsafe(time.sleep, seconds)


@pytest.fixture(params=["io_uring", "epoll"])
def inproc(request: pytest.FixtureRequest) -> Iterator[InProcess]:
    if request.param == "io_uring" and not URING:
        pytest.skip(f"io_uring unavailable here: {_core.uring_unavailable()}")
    s = InProcess(request.param)
    yield s
    s.stop()


def read_responses(sock: socket.socket, count: int, pace: float = 0.0, chunk: int = 1 << 20) -> list[bytes]:
    """count Content-Length framed responses' bodies (200s), read chunk bytes at a time."""
    buf = bytearray()
    bodies: list[bytes] = []
    while len(bodies) < count:
        head_end = buf.find(b"\r\n\r\n")
        if head_end >= 0:
            head = bytes(buf[:head_end]).decode("latin-1")
            assert head.startswith("HTTP/1.1 200 "), head
            length = int(next(v for k, _, v in (h.partition(":") for h in head.split("\r\n")[1:])
                              if k.lower() == "content-length"))
            if len(buf) >= head_end + 4 + length:
                bodies.append(bytes(buf[head_end + 4 : head_end + 4 + length]))
                del buf[: head_end + 4 + length]
                continue
        data = sock.recv(chunk)
        if not data:
            raise ConnectionError(f"closed after {len(bodies)} of {count} responses")
        buf += data
        if pace:
            time.sleep(pace)
    assert not buf
    return bodies


def get(path: str, close: bool = False) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: a\r\n{'Connection: close' + chr(13) + chr(10) if close else ''}\r\n".encode()


def test_large_responses_and_pipelining_come_back_byte_exact(inproc: InProcess) -> None:
    before = inproc.stats()
    with socket.create_connection(("127.0.0.1", inproc.port), timeout=30) as s:
        # Several MB, more than the socket buffers hold: copied (below ZERO_COPY: one SEND) and
        # referenced (one SENDMSG: head + body), a short send's rest sent after its completion.
        sizes = [(5 * MiB, 1), (ZERO_COPY - 1, 2), (3 * MiB + 17, 3)]
        for n, seed in sizes:
            s.sendall(get(f"/body?n={n}&seed={seed}"))
            assert read_responses(s, 1) == [body_of(n, seed)]
        # 200 pipelined in one write, copied and referenced bodies mixed, some answered after an
        # await (outside the tick: send() at once, in order behind the ring's sends)
        reqs, want = [], []
        for i in range(200):
            n = [27, 1000, ZERO_COPY, 300_000][i % 4]
            path = f"/late?n={n}&seed={i}" if i % 10 == 9 else f"/body?n={n}&seed={i}"
            reqs.append(get(path))
            want.append(body_of(n, i))
        s.sendall(b"".join(reqs))
        assert read_responses(s, 200) == want
    after = inproc.stats()
    if inproc.loop_name == "io_uring":
        assert after["ring_sends"] - before["ring_sends"] >= 3
    else:
        assert after["ring_sends"] == after["ring_submits"] == 0


def test_a_slow_reader_gets_everything(inproc: InProcess) -> None:
    """Backpressure: 10 MB, more than the socket buffers hold (a send buffer grows to 4 MiB here:
    net.ipv4.tcp_wmem), so the socket fills (on io_uring: a short send, the rest as a new SQE,
    -EAGAIN, a wait for writability, a send SQE again...); the client reads slowly, every byte
    arrives in order."""
    before = inproc.stats()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        s.settimeout(30)
        s.connect(("127.0.0.1", inproc.port))
        s.sendall(get("/body?n=10000000&seed=5") + get("/json") + get("/body?n=200000&seed=6"))
        time.sleep(0.3)  # the server meets a full socket buffer
        bodies = read_responses(s, 3, pace=0.001, chunk=64 * 1024)
    assert bodies == [body_of(10_000_000, 5), b'{"message":"Hello, World!"}', body_of(200_000, 6)]
    after = inproc.stats()
    if inproc.loop_name == "io_uring":
        # (the 10 MB went in pieces, each a send SQE: after a short send, after writability)
        assert after["ring_sends"] - before["ring_sends"] >= 4


def test_clients_closing_mid_response_leave_nothing_behind(inproc: InProcess) -> None:
    """Clients that close (some with a RST) while a multi-MB response is being sent: the server
    closes them, lets go of the referenced bodies, and serves the next client."""
    base = sys.getrefcount(BIG)
    for i in range(12):
        s = socket.create_connection(("127.0.0.1", inproc.port), timeout=10)
        s.sendall(get("/bigobj") * 3)
        got = 0
        while got < 100_000 * (i % 3 + 1):
            got += len(s.recv(65536))
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
        s.close()
    with socket.create_connection(("127.0.0.1", inproc.port), timeout=10) as s:
        s.sendall(get("/bigobj", close=True))
        assert read_responses(s, 1) == [BIG]
    deadline = time.monotonic() + 10
    while (inproc.server.connections or sys.getrefcount(BIG) > base) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert inproc.server.connections == 0
    assert sys.getrefcount(BIG) == base  # every response that referenced it was released


@needs_uring
def test_a_ticks_responses_go_in_one_submission() -> None:
    """Requests from 16 connections that wait while the loop is busy are read in one tick; their
    16 responses go as 16 send SQEs in that tick's one submission (epoll: 16 send() calls)."""
    s = InProcess("io_uring")
    try:
        socks = [socket.create_connection(("127.0.0.1", s.port), timeout=10) for _ in range(16)]
        for c in socks:  # accepted, each with its receive armed
            c.sendall(get("/json"))
            assert read_responses(c, 1) == [b'{"message":"Hello, World!"}']
        time.sleep(0.2)
        before = s.stats()
        s.pause(0.5)
        time.sleep(0.1)
        for c in socks:
            c.sendall(get("/json"))
        for c in socks:
            assert read_responses(c, 1) == [b'{"message":"Hello, World!"}']
        after = s.stats()
        sends = after["ring_sends"] - before["ring_sends"]
        submits = after["ring_submits"] - before["ring_submits"]
        assert sends >= 16
        assert submits <= 4, (sends, submits)
        for c in socks:
            c.close()
    finally:
        s.stop()


@needs_uring
def test_the_metrics_count_the_rings_sends() -> None:
    s = start_server("server_app:app", "--loop", "io_uring", "--metrics-path", "/metrics",
                     env={"FASTERAPI_LOOP": ""})
    e = start_server("server_app:app", "--loop", "epoll", "--metrics-path", "/metrics")
    try:
        for srv in (s, e):
            assert pipelined(srv.port, 50).count(b"HTTP/1.1 200 OK") == 50
        time.sleep(0.6)  # published at the loop's sweeps

        def value(srv: Any, name: str) -> float:
            text = httpx.get(srv.url + "/metrics").text
            return float(next(line.split()[1] for line in text.splitlines() if line.startswith(name + " ")))

        assert value(s, "fasterapi_io_uring_sends_total") >= 1
        assert value(s, "fasterapi_io_uring_submits_total") >= 1
        assert value(e, "fasterapi_io_uring_sends_total") == 0
    finally:
        assert s.stop() == 0
        e.stop()


@needs_uring
@pytest.mark.parametrize("how", ["close_all", "destroyed"])
def test_a_connection_closed_with_its_send_in_flight(how: str) -> None:
    """The hard deadline (close_all) or the server's end comes while a send SQE reads a response's
    buffer: the buffer (here a referenced body) is kept, and the fd open, until the send's
    completion, then both go. The server is polled by hand here, so the close lands right
    after the tick that queued the send."""
    base = sys.getrefcount(BIG)
    engine = _core.Engine(InProcess.handler, Resp, None, InProcess.error)
    engine.zero_copy_min = ZERO_COPY
    server = _core.Server(engine, {"io_uring": 1})
    port = server.listen("127.0.0.1", 0)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(get("/bigobj"))
        deadline = time.monotonic() + 10
        while server.stats["ring_sends"] == 0 and time.monotonic() < deadline:
            server.poll(50)
        assert server.stats["ring_sends"] == 1
        assert sys.getrefcount(BIG) == base + 1  # the send in flight holds it
        if how == "close_all":
            server.close_all()
            assert server.connections == 0
            assert sys.getrefcount(BIG) == base + 1  # ... until its completion:
            server.poll(100)
        else:
            del server
            gc.collect()
        assert sys.getrefcount(BIG) == base
        data = b""
        try:
            while chunk := c.recv(1 << 20):
                data += chunk
        except ConnectionResetError:
            pass
        assert data.startswith(b"HTTP/1.1 200 OK\r\n")
        assert len(data) < len(BIG)  # what the one send took, then the close
