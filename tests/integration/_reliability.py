"""Helpers of the reliability tests: a server process's sockets, fds, RSS and CPU from /proc."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def socket_inodes(pid: int) -> set[int]:
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            out.add(int(link[8:-1]))
    return out


def _tcp_table() -> list[tuple[int, int, int, int]]:
    """(local port, remote port, state, inode) of every TCP socket of this network namespace."""
    rows = []
    for name in ("tcp", "tcp6"):
        p = Path(f"/proc/net/{name}")
        if not p.exists():
            continue
        for line in p.read_text().splitlines()[1:]:
            f = line.split()
            rows.append((int(f[1].rsplit(":", 1)[1], 16), int(f[2].rsplit(":", 1)[1], 16), int(f[3], 16), int(f[9])))
    return rows


def server_holds(pid: int, server_port: int, client_port: int) -> bool:
    """Does process `pid` still have an fd for the connection from `client_port`?"""
    inodes = socket_inodes(pid)
    return any(lp == server_port and rp == client_port and ino in inodes for lp, rp, _, ino in _tcp_table())


def server_connections(pid: int, server_port: int) -> int:
    """Accepted connections process `pid` holds an fd for (listening sockets excluded)."""
    inodes = socket_inodes(pid)
    return sum(1 for lp, rp, st, ino in _tcp_table() if lp == server_port and rp != 0 and ino in inodes)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> set[int]:
    kids: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids.update(int(c) for c in (task / "children").read_text().split())
        except OSError:
            pass
    return kids


def wait_until(pred, timeout: float, step: float = 0.02) -> float | None:
    """Seconds until pred() was true, or None after timeout."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return time.monotonic() - t0
        time.sleep(step)
    return None


def read_until_close(sock: socket.socket, timeout: float) -> tuple[bytes, float, str]:
    """Reads until the peer closes; returns (bytes, seconds waited, 'eof'|'reset'|'timeout')."""
    t0 = time.monotonic()
    sock.settimeout(0.05)
    data = bytearray()
    while time.monotonic() - t0 < timeout:
        try:
            b = sock.recv(262144)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return bytes(data), time.monotonic() - t0, "reset"
        if not b:
            return bytes(data), time.monotonic() - t0, "eof"
        data += b
    return bytes(data), time.monotonic() - t0, "timeout"


def request(port: int, raw: bytes, timeout: float = 5.0) -> bytes:
    """One request on a new connection (raw must ask Connection: close); the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        data, _, _ = read_until_close(sock, timeout)
    return data


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: SIGTERM when the test process dies


def spawn_server_tied(app_ref: str, *args: str, env: dict[str, str] | None = None):
    """Like conftest.start_server without waiting for the port (call .wait_ready()), and the server
    gets SIGTERM if the test process dies (killed by a timeout, or by a closed pipe) instead of
    living on as an orphan. Call it from the main thread: the death signal follows the thread
    that forked."""
    from .conftest import DATA, Server, free_port, wait_for_port

    port = free_port()
    cmd = [sys.executable, "-m", "fasterapi", "run", app_ref, "--host", "127.0.0.1", "--port", str(port), *args]
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.Popen(cmd, cwd=DATA, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=_die_with_parent)
    server = Server(proc, port)
    server.wait_ready = lambda timeout=15.0: wait_for_port(port, proc, timeout)  # type: ignore[attr-defined]
    return server


def start_server_tied(app_ref: str, *args: str, env: dict[str, str] | None = None):
    """conftest.start_server with the server tied to the test process (see spawn_server_tied)."""
    server = spawn_server_tied(app_ref, *args, env=env)
    server.wait_ready()
    return server

