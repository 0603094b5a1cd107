"""Helpers of the command-line tests: `python -m fasterapi ...` as a real subprocess, with its
stdout and stderr kept apart (in files, so a chatty server never blocks on a full pipe)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from .conftest import free_port


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if env.get("PYTHONPATH"):  # the server runs elsewhere: relative entries would move
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep))
    env.pop("FASTERAPI_RELOAD_FD", None)
    env.update(extra or {})
    return env


def fasterapi(*args: str, cwd: Path, timeout: float = 60, env: dict[str, str] | None = None,
              pass_fds: tuple[int, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run the command to its end (a command that should fail, or hang: TimeoutExpired)."""
    return subprocess.run([sys.executable, "-m", "fasterapi", *args], cwd=cwd, env=cli_env(env),
                          capture_output=True, text=True, timeout=timeout, pass_fds=pass_fds)


class Proc:
    """A server started with `python -m fasterapi ...`; its output in files."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None,
                 pass_fds: tuple[int, ...] = ()) -> None:
        self.out_path = cwd / f".out-{time.monotonic_ns()}"
        self.err_path = cwd / f".err-{time.monotonic_ns()}"
        self._out = open(self.out_path, "wb")  # noqa: SIM115
        self._err = open(self.err_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "fasterapi", *args], cwd=cwd, env=cli_env(env),
                                     stdout=self._out, stderr=self._err, pass_fds=pass_fds)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr(self) -> str:
        if not self._err.closed:
            self._err.flush()
        return self.err_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        self._err.close()
        return self.proc.returncode

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)


def serve(args: list[str], cwd: Path, *, port: int | None = None, url: str | None = None,
          transport: httpx.HTTPTransport | None = None, env: dict[str, str] | None = None,
          pass_fds: tuple[int, ...] = (), path: str = "/", timeout: float = 30) -> Proc:
    """Start a server and wait until `url + path` answers (any status)."""
    p = Proc(args, cwd, env, pass_fds)
    target = (url or f"http://127.0.0.1:{port}") + path
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p.proc.poll() is not None:
            raise RuntimeError(f"server exited with {p.proc.returncode}:\n{p.stderr()}")
        try:
            with httpx.Client(transport=transport, timeout=2) as c:
                c.get(target)
            return p
        except httpx.TransportError:
            time.sleep(0.1)
    p.stop()
    raise RuntimeError(f"server did not answer within {timeout}s:\n{p.stderr()}")


def wait_until(cond: Callable[[], object], timeout: float, step: float = 0.05) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return None


def children(pid: int) -> set[int]:
    kids: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids.update(int(c) for c in (task / "children").read_text().split())
        except OSError:
            pass
    return kids


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def listener(port: int = 0, *, reuse_port: bool = False) -> socket.socket:
    s = socket.socket()
    if reuse_port:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    return s


__all__ = ["Proc", "alive", "children", "cli_env", "fasterapi", "free_port", "listener", "serve", "wait_until"]
