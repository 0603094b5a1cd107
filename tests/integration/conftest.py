"""A real server in a subprocess on a free 127.0.0.1 port, talked to with real clients."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


def loop_config() -> dict[str, int]:
    """The socket loop of servers built here with `_core.Server` (the CLI reads $FASTERAPI_LOOP
    itself): io_uring when FASTERAPI_LOOP says so, else epoll."""
    return {"io_uring": int(os.environ.get("FASTERAPI_LOOP") == "io_uring")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"server exited with {proc.returncode}:\n{out}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port} within {timeout}s")


class Server:
    def __init__(self, proc: subprocess.Popen[bytes], port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def output(self) -> str:
        self.stop()
        return self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""


def start_server(app_ref: str, *args: str, cwd: Path = DATA, env: dict[str, str] | None = None) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "fasterapi", "run", app_ref, "--host", "127.0.0.1", "--port", str(port), *args]
    full_env = dict(os.environ)
    if full_env.get("PYTHONPATH"):  # the server runs in tests/data: relative entries would move
        full_env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in full_env["PYTHONPATH"].split(os.pathsep))
    full_env.update(env or {})
    proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_for_port(port, proc)
    return Server(proc, port)


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def _serve(app_ref: str, *args: str, **kw: object) -> Server:
        s = start_server(app_ref, *args, **kw)  # type: ignore[arg-type]
        started.append(s)
        return s

    yield _serve
    for s in started:
        s.stop()
