"""Response framing on the ASGI path, on the wire, against uvicorn serving the same app.

The same raw ASGI app (tests/data/asgi_framing_app.py) runs under `fasterapi run` and under
`uvicorn` (its default HTTP protocol); each case is read off a raw socket from both, framing-aware
(Content-Length, chunked, or until the connection closes), and compared: status, headers (names
case-folded, order ignored, Date and Server dropped), body, and whether the response completed
and the connection stayed open for the next request."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import DATA, Server, free_port, start_server, wait_for_port

sys.path.insert(0, str(DATA))
from asgi_framing_app import FILE_DATA  # noqa: E402

TIMEOUT = 15.0  # a loaded machine: generous; nothing below waits for it unless something is wrong


def start_uvicorn(app_ref: str, extra_env: dict[str, str] | None = None) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", app_ref, "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning", "--no-access-log"]
    env = dict(os.environ)
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep))
    env.update(extra_env or {})
    proc = subprocess.Popen(cmd, cwd=DATA, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_for_port(port, proc)
    return Server(proc, port)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    path = tmp_path_factory.mktemp("framing") / "file.bin"
    path.write_bytes(FILE_DATA)
    env = {"FRAMING_FILE": str(path)}
    started = {"fasterapi": start_server("asgi_framing_app:app", env=env),
               "uvicorn": start_uvicorn("asgi_framing_app:app", env)}
    yield started
    for s in started.values():
        s.stop()


class Response:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes, complete: bool, open_after: bool):
        self.status = status
        self.headers = headers
        self.body = body
        self.complete = complete  # the framing said the body ended (not cut by a close)
        self.open_after = open_after  # the connection served another request afterwards

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        return values[0] if values else None

    def key(self) -> tuple[object, ...]:
        return (self.status, sorted(self.headers), self.body, self.complete, self.open_after)

    def __repr__(self) -> str:
        return f"Response({self.key()!r})"


class Conn:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""
        self.eof = False

    def _fill(self) -> bool:
        if self.eof:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _take(self, n: int) -> bytes | None:
        while len(self.buf) < n:
            if not self._fill():
                return None
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _line(self) -> bytes | None:
        while b"\r\n" not in self.buf:
            if not self._fill():
                return None
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def request(self, method: str, path: str, version: str = "1.1") -> Response:
        self.sock.sendall(f"{method} {path} HTTP/{version}\r\nHost: t\r\n\r\n".encode())
        return self.read(method)

    def read(self, method: str = "GET") -> Response:
        while b"\r\n\r\n" not in self.buf:
            assert self._fill(), f"no response head: {self.buf!r}"
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() not in ("date", "server"):
                headers.append((name.lower(), value.strip()))
        resp = Response(lines[0], headers, b"", False, False)
        length = resp.header("content-length")
        status = int(lines[0].split()[1])
        if method == "HEAD" or status in (204, 304):
            resp.complete = True
        elif resp.header("transfer-encoding") == "chunked":
            resp.complete, resp.body = self._chunked()
        elif length is not None:
            body = self._take(int(length))
            resp.complete = body is not None
            resp.body = body if body is not None else self._rest()
        else:
            resp.body = self._rest()  # close-delimited: complete when the connection closes
            resp.complete = True
        return resp

    def _chunked(self) -> tuple[bool, bytes]:
        body = b""
        while True:
            line = self._line()
            if line is None:
                return False, body + self._rest()
            size = int(line.split(b";")[0], 16)
            if size == 0:
                return self._line() == b"", body
            data = self._take(size + 2)
            if data is None:
                return False, body + self._rest()
            body += data[:-2]

    def _rest(self) -> bytes:
        while self._fill():
            pass
        out, self.buf = self.buf, b""
        return out

    def alive(self) -> bool:
        """Does the connection answer another request?"""
        if self.eof:
            return False
        try:
            self.sock.sendall(b"GET /cl/chunks HTTP/1.1\r\nHost: t\r\n\r\n")
        except OSError:
            return False
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                return False
        return self.buf.startswith(b"HTTP/1.1 200 ")

    def close(self) -> None:
        self.sock.close()


def fetch(server: Server, method: str, path: str, version: str = "1.1") -> Response:
    conn = Conn(server.port)
    try:
        resp = conn.request(method, path, version)
        resp.open_after = resp.complete and version == "1.1" and conn.alive()
        return resp
    finally:
        conn.close()


def both(servers: dict[str, Server], method: str, path: str, version: str = "1.1") -> tuple[Response, Response]:
    return fetch(servers["fasterapi"], method, path, version), fetch(servers["uvicorn"], method, path, version)


@pytest.mark.parametrize("path", ["/cl/chunks", "/file", "/stream-cl"])
def test_content_length_and_several_body_messages_keep_the_length(servers: dict[str, Server], path: str) -> None:
    ours, theirs = both(servers, "GET", path)
    assert ours.key() == theirs.key()
    assert ours.header("transfer-encoding") is None
    assert ours.header("content-length") == str(len(ours.body))
    assert ours.complete and ours.open_after
    if path == "/file":
        assert ours.body == FILE_DATA


@pytest.mark.parametrize("path", ["/cl/longer"])
def test_a_body_longer_than_its_content_length_is_not_sent_past_it(servers: dict[str, Server], path: str) -> None:
    ours, theirs = both(servers, "GET", path)
    assert ours.key() == theirs.key()
    # the message that goes past the length is not sent at all; the connection closes
    assert not ours.complete and not ours.open_after
    assert len(ours.body) < int(ours.header("content-length") or 0)


@pytest.mark.parametrize("path", ["/cl/shorter", "/cl/returns-early"])
def test_a_body_shorter_than_its_content_length_ends_with_the_connection(servers: dict[str, Server], path: str) -> None:
    ours, theirs = both(servers, "GET", path)
    assert ours.key() == theirs.key()
    assert not ours.complete and not ours.open_after
    assert ours.body in (b"12345", b"1234567")


@pytest.mark.parametrize("path", ["/cl/single-longer", "/cl/single-shorter"])
def test_one_body_message_with_a_wrong_content_length_gets_its_own(servers: dict[str, Server], path: str) -> None:
    """A deliberate difference: one body message whose declared length is wrong (a middleware that
    copied a stale content-length, tests/compat/test_starlette_interop.py) is sent whole with its
    real length: the engine has the whole response before the head leaves, and it is the response
    Starlette's TestClient shows. uvicorn wrote the head at http.response.start and cuts it."""
    ours, theirs = both(servers, "GET", path)
    assert not theirs.complete and not theirs.open_after
    assert ours.body == b"12345" and ours.header("content-length") == "5"
    assert ours.complete and ours.open_after


def test_the_errors_are_logged_as_the_apps() -> None:
    """The app's send() raised as under uvicorn (its zttp/httptools protocols say these words)."""
    s = start_server("asgi_framing_app:app")
    try:
        for path in ("/cl/longer", "/cl/shorter", "/cl/returns-early", "/cl/chunks"):
            fetch(s, "GET", path)
    finally:
        out = s.output()
    assert "Response content longer than Content-Length" in out
    assert "Response content shorter than Content-Length" in out
    assert "ASGI callable returned without completing response." in out


@pytest.mark.parametrize("path", ["/nocl/empty-first", "/nocl/chunks"])
def test_several_body_messages_without_content_length_are_chunked(servers: dict[str, Server], path: str) -> None:
    ours, theirs = both(servers, "GET", path)
    assert ours.key() == theirs.key()
    assert ours.header("transfer-encoding") == "chunked" and ours.header("content-length") is None
    assert ours.complete and ours.open_after


def test_one_body_message_without_content_length_is_chunked(servers: dict[str, Server]) -> None:
    """uvicorn (h11, httptools and zttp alike) writes the head at http.response.start and so sends
    a lone body message without a length chunked; so does the engine (third-party suites check
    that such a response carries no Content-Length: starlette-compress). Same keep-alive."""
    ours, theirs = both(servers, "GET", "/nocl/single")
    assert ours.key() == theirs.key()
    assert theirs.header("transfer-encoding") == "chunked"
    assert ours.header("transfer-encoding") == "chunked" and ours.header("content-length") is None
    assert ours.body == theirs.body == b"hello"
    assert ours.complete and ours.open_after and theirs.complete and theirs.open_after


@pytest.mark.parametrize("path", ["/file", "/stream-cl", "/cl/chunks", "/cl/single-shorter"])
def test_head_keeps_the_apps_content_length_without_a_body(servers: dict[str, Server], path: str) -> None:
    ours, theirs = both(servers, "HEAD", path)
    assert ours.key() == theirs.key()
    assert ours.header("content-length") not in (None, "0")
    assert ours.open_after
    if path == "/file":
        assert ours.header("content-length") == str(len(FILE_DATA))


@pytest.mark.parametrize("path", ["/cl/chunks", "/file"])
def test_http10_content_length_stream(servers: dict[str, Server], path: str) -> None:
    """HTTP/1.0 without keep-alive: the app's length, the body, then the connection closes."""
    ours, theirs = both(servers, "GET", path, "1.0")
    assert (ours.status, ours.body, ours.complete) == (theirs.status, theirs.body, theirs.complete)
    assert ours.header("content-length") == theirs.header("content-length") == str(len(ours.body))
    assert ours.header("transfer-encoding") is None


def test_a_content_length_stream_then_the_next_request_on_the_connection(servers: dict[str, Server]) -> None:
    """Pipelined after a framed stream: the next response starts exactly where the body ends."""
    for server in servers.values():
        conn = Conn(server.port)
        try:
            conn.sock.sendall(b"GET /file HTTP/1.1\r\nHost: t\r\n\r\nGET /stream-cl HTTP/1.1\r\nHost: t\r\n\r\n")
            first = conn.read()
            second = conn.read()
        finally:
            conn.close()
        assert first.body == FILE_DATA and first.complete
        assert second.body == b"".join(bytes([65 + i]) * 1000 for i in range(4)) and second.complete


def test_a_compiled_routes_file_response_keeps_its_length(tmp_path: Any) -> None:
    """A compiled endpoint that returns a FileResponse: the response's own __call__ runs on the
    engine (Wire._from_foreign), the same framing (in memory, through fasterapi's TestClient)."""
    from fastapi import FastAPI
    from fastapi.responses import FileResponse

    from fasterapi._asgi_server import ScopeMaker
    from fasterapi._engine import build_engine
    from fasterapi.testclient import TestClient

    path = tmp_path / "f.bin"
    path.write_bytes(FILE_DATA)
    app = FastAPI()

    @app.get("/f")
    async def f() -> FileResponse:
        return FileResponse(path)

    assert [r.compiled for r in build_engine(app, ScopeMaker())[2] if r.path == "/f"] == [True]
    with TestClient(app) as client:
        r = client.get("/f")
    assert r.status_code == 200 and r.content == FILE_DATA
    assert r.headers["content-length"] == str(len(FILE_DATA)) and "transfer-encoding" not in r.headers
