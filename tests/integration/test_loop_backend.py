"""--loop: the socket loop's backend (io_uring or epoll), chosen at the start. The whole socket suite
runs on either with FASTERAPI_LOOP (.ci/run reruns it on io_uring); here: the choice itself, seen
from outside (the process holds an io_uring instance or not), and what each backend refuses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from fasterapi import _core

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
