"""Out of memory while serving a request fails that request, never the process.

The allocation failure is injected with the bench build of _core (CMake FASTERAPI_BENCH=ON, built
here into build/bench, cached): `_core._fail_allocations(n)` makes the next n requests throw
std::bad_alloc where the engine starts them. The server must answer such a request 503 with
"Connection: close", close that connection, and keep serving every other one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import DATA, ROOT, Server, start_server

BENCH_BUILD = ROOT / "build" / "bench"


def build_bench_core() -> Path:
    """The bench variant of _core, built with CMake into build/bench (incremental when cached)."""
    cmake = shutil.which("cmake")
    assert cmake, "cmake is needed to build the bench variant of _core"
    if not (BENCH_BUILD / "CMakeCache.txt").exists():
        subprocess.run([cmake, "-S", str(ROOT), "-B", str(BENCH_BUILD), "-DCMAKE_BUILD_TYPE=Release",
                        "-DFASTERAPI_BENCH=ON"], check=True, capture_output=True, text=True)
    r = subprocess.run([cmake, "--build", str(BENCH_BUILD), "-j2", "--target", "_core"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    (so,) = BENCH_BUILD.glob("_core*.so")
    return so


@pytest.fixture(scope="module")
def bench_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the fasterapi package with the bench build's _core in it."""
    import fasterapi

    so = build_bench_core()
    root = tmp_path_factory.mktemp("bench-pkg")
    pkg = root / "fasterapi"
    shutil.copytree(Path(fasterapi.__file__).parent, pkg, ignore=shutil.ignore_patterns("_core*.so", "__pycache__"))
    shutil.copy2(so, pkg / so.name)
    return root


@pytest.fixture
def server(bench_package: Path) -> Iterator[Server]:
    s = start_server("oom_app:app", env={"PYTHONPATH": os.pathsep.join([str(bench_package), str(DATA)])})
    try:
        yield s
    finally:
        s.stop()


def raw_exchange(port: int, data: bytes) -> bytes:
    """Sends data, then reads until the server closes the connection (or 10 s pass)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def test_injected_bad_alloc_fails_the_request_not_the_process(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        assert c.get("/hello").json() == {"hello": "world"}
        assert c.get("/arm/1").json() == {"previous": 0}
    # Two requests pipelined on one connection: the first meets the allocation failure and is
    # answered 503 + close; the second is never read (the connection is closed after the 503).
    req = b"GET /hello?name=a HTTP/1.1\r\nHost: x\r\n\r\nGET /hello?name=b HTTP/1.1\r\nHost: x\r\n\r\n"
    out = raw_exchange(server.port, req)
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 "), out
    assert b"\r\nConnection: close" in head, out
    assert body == b'{"detail":"Service Unavailable"}', out
    assert out.count(b"HTTP/1.1 ") == 1, out
    # The process is alive and serves the next connections normally.
    assert server.proc.poll() is None
    with httpx.Client(base_url=server.url, timeout=10) as c:
        assert c.get("/hello", params={"name": "after"}).json() == {"hello": "after"}
        assert c.get("/arm/0").json() == {"previous": 0}  # the one failure was used up


def test_every_injected_failure_is_contained(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        assert c.get("/arm/5").json() == {"previous": 0}
    for _ in range(5):
        out = raw_exchange(server.port, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 503 "), out
    with httpx.Client(base_url=server.url, timeout=10) as c:
        assert c.get("/hello").json() == {"hello": "world"}
    assert server.proc.poll() is None
