"""TLS at the app (--ssl-*): a real server over real TLS, its certificates made here by the
`openssl` command (a CA, two server certificates, a client certificate), talked to by httpx,
curl, `openssl s_client`, the ssl module on raw sockets and the websockets library."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fasterapi import _core

from ._cli_helpers import Proc, fasterapi, free_port, serve, wait_until

APP = '''
import asyncio
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import Response, StreamingResponse
app = FastAPI()

@app.post("/len")
async def length(request: Request):
    body = await request.body()
    return {"n": len(body), "sum": sum(body[::4096])}

@app.get("/big")
def big():
    return Response(bytes(range(256)) * 8192, media_type="application/octet-stream")

@app.get("/compiled")
def compiled():
    return {"ok": True}

@app.get("/asgi")
async def asgi(request: Request):
    return {"scheme": request.url.scheme, "scope_scheme": request.scope["scheme"]}

@app.get("/stream")
async def stream():
    async def gen():
        for i in range(5):
            yield f"chunk{i}-".encode() * 2000
            await asyncio.sleep(0)
    return StreamingResponse(gen())

@app.websocket("/ws")
async def ws(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_text(websocket.scope["scheme"])
    while True:
        msg = await websocket.receive_text()
        await websocket.send_text("echo:" + msg)
'''

PASSWORD = "s3cret-pass"


def _tool(cmd: list[str], *, cwd: Path | None = None, check: bool = False,
          input: str | None = None) -> subprocess.CompletedProcess[str]:
    """An external client (curl, openssl) without the sanitizer runtimes .ci/sanitizers.sh
    preloads into this process: curl hangs with libasan preloaded, and it is not under test."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    return subprocess.run(cmd, env=env, cwd=cwd, check=check, input=input, capture_output=True, text=True, timeout=30)


def _openssl(*args: str, cwd: Path) -> None:
    _tool(["openssl", *args], cwd=cwd, check=True)


def _server_cert(d: Path, name: str, serial: int) -> None:
    """A server certificate for localhost / 127.0.0.1 signed by the CA in d."""
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
             "-subj", "/CN=localhost", cwd=d)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", str(serial),
             "-days", "2", "-out", f"{name}.pem", "-extfile", "san.ext", cwd=d)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("tls")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=FasterAPI test CA", cwd=d)
    _server_cert(d, "server", 1001)
    _server_cert(d, "server2", 2002)
    _openssl("pkey", "-in", "server.key", "-aes256", "-passout", f"pass:{PASSWORD}", "-out", "server-enc.key", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr",
             "-subj", "/CN=client", cwd=d)
    _openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "3003",
             "-days", "2", "-out", "client.pem", cwd=d)
    (d / "main.py").write_text(APP)
    return d


def _client_ctx(certs: Path, *, client_cert: bool = False) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    if client_cert:
        ctx.load_cert_chain(str(certs / "client.pem"), str(certs / "client.key"))
    return ctx


def _start(certs: Path, *extra: str, cert: str = "server.pem", key: str = "server.key",
           client_cert: bool = False) -> tuple[Proc, int]:
    port = free_port()
    args = ["run", "main.py", "--port", str(port), "--ssl-certfile", cert, "--ssl-keyfile", key, *extra]
    transport = httpx.HTTPTransport(verify=_client_ctx(certs, client_cert=client_cert))
    return serve(args, certs, url=f"https://127.0.0.1:{port}", path="/compiled", transport=transport), port


@pytest.fixture(scope="module")
def tls_server(certs: Path) -> Iterator[tuple[Proc, int]]:
    proc, port = _start(certs, "--header-timeout", "2", "--access-log")
    yield proc, port
    assert proc.stop() == 0


def _read_response(s: ssl.SSLSocket | socket.socket, buf: bytearray) -> bytes:
    """One Content-Length response off the socket (what follows stays in buf)."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        assert chunk, f"closed mid-head: {bytes(buf)!r}"
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    length = next(int(ln.split(b":")[1]) for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length:"))
    while len(rest) < length:
        chunk = s.recv(65536)
        assert chunk
        rest += chunk
    buf[:] = rest[length:]
    return head + b"\r\n\r\n" + rest[:length]


def _tls_socket(certs: Path, port: int, **kw: bool) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return _client_ctx(certs, **kw).wrap_socket(raw, server_hostname="localhost")


def test_this_build_has_tls() -> None:
    assert _core.tls_available() is True


def test_httpx_over_https_verifies_the_certificate(certs: Path, tls_server: tuple[Proc, int]) -> None:
    proc, port = tls_server
    with httpx.Client(verify=_client_ctx(certs), timeout=10) as c:
        r = c.get(f"https://localhost:{port}/compiled")
        assert r.status_code == 200 and r.json() == {"ok": True}
        r = c.get(f"https://127.0.0.1:{port}/asgi")
        assert r.json() == {"scheme": "https", "scope_scheme": "https"}
        # An unrelated CA does not verify it: the certificate really is the one served
    with httpx.Client(timeout=10) as c, pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        c.get(f"https://127.0.0.1:{port}/compiled")
    assert f"FasterAPI running on https://127.0.0.1:{port}" in proc.stderr()
    # the access log reads as on plain HTTP
    assert wait_until(lambda: '"GET /asgi HTTP/1.1" 200 OK' in proc.stderr(), 5), proc.stderr()


def test_curl_with_cacert_and_alpn(certs: Path, tls_server: tuple[Proc, int]) -> None:
    _, port = tls_server
    r = _tool(["curl", "-sS", "-v", "--cacert", str(certs / "ca.pem"), f"https://localhost:{port}/compiled"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == '{"ok":true}'
    alpn = [ln for ln in r.stderr.splitlines() if "ALPN" in ln and "accepted" in ln]
    assert alpn and "h2" in alpn[0], r.stderr  # curl offers h2 first: the server speaks it
    # h2 offered first: the server picks it; a client offering only http/1.1 gets http/1.1
    r = _tool(["openssl", "s_client", "-alpn", "h2,http/1.1", "-connect", f"127.0.0.1:{port}"], input="")
    assert "ALPN protocol: h2" in r.stdout, r.stdout
    r = _tool(["openssl", "s_client", "-alpn", "http/1.1", "-connect", f"127.0.0.1:{port}"], input="")
    assert "ALPN protocol: http/1.1" in r.stdout, r.stdout


def test_keep_alive_and_pipelining_over_tls(certs: Path, tls_server: tuple[Proc, int]) -> None:
    _, port = tls_server
    with _tls_socket(certs, port) as s:
        buf = bytearray()
        s.sendall(b"GET /compiled HTTP/1.1\r\nHost: x\r\n\r\n" * 3 + b"GET /asgi HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(3):
            assert _read_response(s, buf).endswith(b'{"ok":true}')
        assert b'"scheme":"https"' in _read_response(s, buf)
        time.sleep(0.3)  # the same connection, later: still open (keep-alive)
        s.sendall(b"GET /compiled HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_response(s, buf).startswith(b"HTTP/1.1 200")
        assert s.version() in ("TLSv1.2", "TLSv1.3")


def test_large_bodies_both_ways_over_tls(certs: Path, tls_server: tuple[Proc, int]) -> None:
    # many TLS records each way: reads past one record per event, partial writes resumed on EPOLLOUT
    _, port = tls_server
    body = bytes((i * 7) % 251 for i in range(3 * 1024 * 1024))
    with httpx.Client(verify=_client_ctx(certs), timeout=20) as c:
        r = c.post(f"https://127.0.0.1:{port}/len", content=body)
        assert r.json() == {"n": len(body), "sum": sum(body[::4096])}
        r = c.get(f"https://127.0.0.1:{port}/big")
        assert r.content == bytes(range(256)) * 8192
        with c.stream("GET", f"https://127.0.0.1:{port}/big") as slow:  # a client that reads slowly
            got = b""
            for chunk in slow.iter_bytes(65536):
                got += chunk
                time.sleep(0.01)
        assert got == bytes(range(256)) * 8192


def test_streamed_response_over_tls(certs: Path, tls_server: tuple[Proc, int]) -> None:
    _, port = tls_server
    with httpx.Client(verify=_client_ctx(certs), timeout=10) as c:
        r = c.get(f"https://127.0.0.1:{port}/stream")
    assert r.status_code == 200
    assert r.headers.get("transfer-encoding") == "chunked"
    assert r.content == b"".join(f"chunk{i}-".encode() * 2000 for i in range(5))


def test_websocket_over_wss(certs: Path, tls_server: tuple[Proc, int]) -> None:
    websockets = pytest.importorskip("websockets")
    from websockets.sync.client import connect

    _, port = tls_server
    with connect(f"wss://localhost:{port}/ws", ssl=_client_ctx(certs), open_timeout=10) as ws:
        assert ws.recv(timeout=10) == "wss"
        ws.send("hi")
        assert ws.recv(timeout=10) == "echo:hi"
    assert websockets


def test_tls_1_1_is_refused(tls_server: tuple[Proc, int]) -> None:
    _, port = tls_server
    # SECLEVEL=0 so that the client is willing to speak TLS 1.1: the refusal is the server's
    r = _tool(["openssl", "s_client", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-connect", f"127.0.0.1:{port}"],
              input="")
    assert r.returncode != 0
    assert "alert protocol version" in r.stdout + r.stderr, r.stdout + r.stderr
    r = _tool(["openssl", "s_client", "-tls1_2", "-connect", f"127.0.0.1:{port}"], input="")
    assert r.returncode == 0 and "Protocol  : TLSv1.2" in r.stdout


# ---- hostile input -----------------------------------------------------------------------------


def _served(certs: Path, port: int) -> bool:
    with httpx.Client(verify=_client_ctx(certs), timeout=5) as c:
        return c.get(f"https://127.0.0.1:{port}/compiled").status_code == 200


def _closed_within(s: socket.socket, seconds: float) -> float:
    """Seconds until the server closed s (reading and discarding what it sends)."""
    start = time.monotonic()
    s.settimeout(seconds)
    try:
        while s.recv(4096):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def test_garbage_before_the_client_hello_is_closed(certs: Path, tls_server: tuple[Proc, int]) -> None:
    _, port = tls_server
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"\x00\xff garbage that is no TLS record \x01" * 10)
        assert _closed_within(s, 5) < 2
    assert _served(certs, port)


def test_a_stalled_handshake_is_closed_at_the_head_deadline(certs: Path, tls_server: tuple[Proc, int]) -> None:
    _, port = tls_server  # --header-timeout 2
    hello = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        # the first bytes of a real ClientHello, then a byte now and then: never finished
        bio_in, bio_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ssl.create_default_context().wrap_bio(bio_in, bio_out, server_hostname="localhost")
        with pytest.raises(ssl.SSLWantReadError):
            obj.do_handshake()
        hello += bio_out.read()
        s.sendall(bytes(hello[:20]))
        start = time.monotonic()
        s.settimeout(0.5)
        closed_after = None
        for i in range(20, 30):
            assert _served(certs, port)  # the worker keeps serving others meanwhile
            try:
                if s.recv(4096) == b"":
                    closed_after = time.monotonic() - start
                    break
            except TimeoutError:
                pass
            except ConnectionResetError:
                closed_after = time.monotonic() - start
                break
            try:
                s.sendall(bytes(hello[i:i + 1]))
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - start
                break
        assert closed_after is not None and 1.5 <= closed_after < 4.5, closed_after


def test_plain_http_to_the_tls_port_gets_a_400(certs: Path, tls_server: tuple[Proc, int]) -> None:
    _, port = tls_server
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /compiled HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 400 "), data
    assert b"connection: close" in data.lower()
    assert _served(certs, port)


# ---- keys, client certificates, reload ------------------------------------------------------------


def test_encrypted_key_with_its_password(certs: Path) -> None:
    proc, port = _start(certs, "--ssl-keyfile-password", PASSWORD, key="server-enc.key")
    try:
        assert _served(certs, port)
    finally:
        assert proc.stop() == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--ssl-keyfile", "server-enc.key", "--ssl-keyfile-password", "wrong"],
     "--ssl-keyfile server-enc.key: cannot load"),
    (["--ssl-keyfile", "server-enc.key"], "give --ssl-keyfile-password"),
    (["--ssl-keyfile", "missing.key"], "--ssl-keyfile missing.key: No such file or directory"),
    (["--ssl-keyfile", "server2.key"], "does not match the certificate"),
    (["--ssl-keyfile", "server.key", "--ssl-cert-reqs", "2"], "--ssl-cert-reqs 2 needs --ssl-ca-certs"),
    (["--ssl-keyfile", "server.key", "--ssl-ciphers", "NO-SUCH-CIPHER"], "--ssl-ciphers 'NO-SUCH-CIPHER'"),
])
def test_bad_tls_options_are_one_line_and_exit_2(certs: Path, args: list[str], message: str) -> None:
    # --workers 2: checked in the supervisor, before any worker starts
    r = fasterapi("run", "main.py", "--port", str(free_port()), "--workers", "2", "--ssl-certfile", "server.pem",
                  *args, cwd=certs, timeout=30)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], r.stderr
    assert "worker" not in r.stderr


def test_client_certificate_required(certs: Path) -> None:
    proc, port = _start(certs, "--ssl-ca-certs", "ca.pem", "--ssl-cert-reqs", "2", client_cert=True)
    try:
        with httpx.Client(verify=_client_ctx(certs), timeout=5) as c, pytest.raises(httpx.TransportError):
            c.get(f"https://127.0.0.1:{port}/compiled")
        with httpx.Client(verify=_client_ctx(certs, client_cert=True), timeout=5) as c:
            assert c.get(f"https://127.0.0.1:{port}/compiled").json() == {"ok": True}
    finally:
        assert proc.stop() == 0


def _serial(certs: Path, port: int) -> int:
    with _tls_socket(certs, port) as s:
        cert = s.getpeercert()
        assert cert is not None
        return int(str(cert["serialNumber"]), 16)


@pytest.mark.parametrize("workers", [1, 2])
def test_sighup_reloads_the_certificate_keeping_open_connections(certs: Path, tmp_path: Path, workers: int) -> None:
    for name in ("main.py", "ca.pem"):
        shutil.copy(certs / name, tmp_path / name)
    shutil.copy(certs / "server.pem", tmp_path / "live.pem")
    shutil.copy(certs / "server.key", tmp_path / "live.key")
    # --workers 2: the supervisor forwards SIGHUP to each worker; 1: the server process itself
    proc, port = _start(tmp_path, "--workers", str(workers), cert="live.pem", key="live.key")
    try:
        assert {_serial(tmp_path, port) for _ in range(6)} == {1001}
        old = _tls_socket(tmp_path, port)
        buf = bytearray()
        old.sendall(b"GET /compiled HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_response(old, buf).startswith(b"HTTP/1.1 200")
        shutil.copy(certs / "server2.pem", tmp_path / "live.pem")
        shutil.copy(certs / "server2.key", tmp_path / "live.key")
        proc.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: proc.stderr().count("TLS certificate reloaded") == workers, 10), proc.stderr()
        assert {_serial(tmp_path, port) for _ in range(6)} == {2002}
        old.sendall(b"GET /compiled HTTP/1.1\r\nHost: x\r\n\r\n")  # the old connection still works
        assert _read_response(old, buf).startswith(b"HTTP/1.1 200")
        old.close()
        # a broken file on the next SIGHUP: an error line, the current certificate stays
        (tmp_path / "live.key").write_text("not a key\n")
        proc.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "TLS files not reloaded" in proc.stderr(), 10), proc.stderr()
        assert _serial(tmp_path, port) == 2002
        assert proc.proc.poll() is None
    finally:
        assert proc.stop() == 0


@pytest.mark.skipif(_core.uring_unavailable() != "", reason="io_uring unavailable here")
def test_tls_with_loop_io_uring_runs_on_epoll_with_one_line(certs: Path) -> None:
    proc, port = _start(certs, "--loop", "io_uring")
    try:
        with httpx.Client(verify=_client_ctx(certs), timeout=10) as c:
            assert c.get(f"https://127.0.0.1:{port}/compiled").status_code == 200
    finally:
        assert proc.stop() == 0
    warnings = [ln for ln in proc.stderr().splitlines() if "--loop io_uring" in ln]
    assert warnings == ["WARNING: --loop io_uring: TLS connections are served by the epoll loop; this server uses epoll"]
