"""Limits and backpressure over real sockets: the connection cap, running out of file descriptors,
pipelined floods that are never read, and the server's memory while they last."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time

import pytest

from ._reliability import (
    _die_with_parent,
    cpu_seconds,
    read_until_close,
    rss_kb,
    server_connections,
    start_server_tied,
    wait_until,
)
from .conftest import DATA, Server, free_port, wait_for_port

REQ = b"GET /json HTTP/1.1\r\nHost: a\r\n\r\n"
RESP_END = b'"Hello, World!"}'


def start_server_nofile(nofile: int, app_ref: str, *args: str) -> Server:
    """`fasterapi run` under `ulimit -n nofile` (bash execs into the server: same pid)."""
    port = free_port()
    cmd = (f"ulimit -n {nofile} && exec {shlex.quote(sys.executable)} -m fasterapi run {app_ref} "
           f"--host 127.0.0.1 --port {port} {' '.join(map(shlex.quote, args))}")
    proc = subprocess.Popen(["bash", "-c", cmd], cwd=DATA, env=dict(os.environ), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    wait_for_port(port, proc)
    return Server(proc, port)


def get_json_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
            sock.sendall(b"GET /json HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            data, _, _ = read_until_close(sock, 3)
        return data.startswith(b"HTTP/1.1 200 ")
    except OSError:
        return False


def test_connections_beyond_the_cap_get_503_and_close() -> None:
    s = start_server_tied("reliability_app:app", "--max-connections", "20", "--keepalive-timeout", "30")
    held = []
    try:
        for _ in range(20):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=3)
            c.sendall(REQ)
            assert c.recv(65536).startswith(b"HTTP/1.1 200 ")
            held.append(c)
        assert server_connections(s.proc.pid, s.port) == 20
        # Beyond the cap: a 503 and a close at once (not a hang), whether or not the client has
        # sent its request before the server answers.
        for send_first in (True, False, True):
            t0 = time.monotonic()
            with socket.create_connection(("127.0.0.1", s.port), timeout=3) as c:
                if send_first:
                    c.sendall(REQ)
                    time.sleep(0.05)  # the request is in the server's receive queue when it refuses
                data, _, how = read_until_close(c, 3)
            assert time.monotonic() - t0 < 1.0
            assert how == "eof", how  # a FIN after the 503, not a reset that could eat it
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), data
            assert b"Connection: close" in head and b"Date: " in head
            assert body == b'{"detail":"Service Unavailable"}'
            assert b"Content-Length: %d" % len(body) in head
        # The held connections still work; freeing some lets new ones in.
        for c in held[:5]:
            c.sendall(REQ)
            assert c.recv(65536).startswith(b"HTTP/1.1 200 ")
        for c in held[:5]:
            c.close()
        assert wait_until(lambda: server_connections(s.proc.pid, s.port) == 15, 3) is not None
        assert get_json_ok(s.port)
    finally:
        for c in held:
            c.close()
        s.stop()


def test_worker_lifts_its_soft_fd_limit_towards_max_connections() -> None:
    port = free_port()
    cmd = (f"ulimit -S -n 256 && exec {shlex.quote(sys.executable)} -m fasterapi run reliability_app:app "
           f"--host 127.0.0.1 --port {port} --max-connections 1000")
    proc = subprocess.Popen(["bash", "-c", cmd], cwd=DATA, env=dict(os.environ), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    srv = Server(proc, port)
    try:
        wait_for_port(port, proc)
        line = next(ln for ln in open(f"/proc/{proc.pid}/limits") if ln.startswith("Max open files"))
        soft, hard = line.split()[3:5]
        assert int(soft) == min(1000 + 128, int(hard)), line
    finally:
        srv.stop()


def test_running_out_of_file_descriptors_refuses_without_spinning() -> None:
    # RLIMIT_NOFILE 64 for the server: it runs out of fds long before --max-connections.
    srv = start_server_nofile(64, "reliability_app:app", "--keepalive-timeout", "30")
    proc, port = srv.proc, srv.port
    held = []
    try:
        # One request first: the first plain `def` endpoint call imports anyio's thread backend,
        # which needs a file descriptor (as under any server); then the fds run out.
        assert get_json_ok(port)
        for _ in range(80):
            try:
                c = socket.create_connection(("127.0.0.1", port), timeout=3)
            except OSError:
                break
            held.append(c)
        time.sleep(0.3)
        accepted = server_connections(proc.pid, port)
        assert 20 < accepted < 64, accepted
        # The refused ones were answered 503 and closed, not left hanging in the backlog.
        refused = 0
        for c in held:
            c.settimeout(0.01)
            try:
                b = c.recv(65536)
                if b.startswith(b"HTTP/1.1 503 "):
                    refused += 1
            except (socket.timeout, ConnectionResetError):
                pass
        assert refused >= 80 - accepted - 2, (refused, accepted)
        # No busy loop on the ever-readable listening socket.
        c0 = cpu_seconds(proc.pid)
        extra = []
        for _ in range(5):
            extra.append(socket.create_connection(("127.0.0.1", port), timeout=3))
        time.sleep(1.0)
        assert cpu_seconds(proc.pid) - c0 < 0.2
        for c in extra:  # each is answered at once: refused (503), or served if an fd came free
            try:
                c.sendall(b"GET /json HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            data, _, how = read_until_close(c, 2)
            assert data.startswith((b"HTTP/1.1 503 ", b"HTTP/1.1 200 ")) and how == "eof", (data, how)
            c.close()
        # Once connections go away, the server serves again.
        for c in held:
            c.close()
        held.clear()
        assert wait_until(lambda: get_json_ok(port), 5) is not None
    finally:
        for c in held:
            c.close()
        srv.stop()


def _warm(port: int, raw: bytes, n: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(raw * n)
        c.shutdown(socket.SHUT_WR)
        read_until_close(c, 10)


def _send_without_reading(sock: socket.socket, payload: bytes, seconds: float) -> int:
    """Sends as much of payload as the peer takes within `seconds`; never reads. Returns bytes sent."""
    sock.setblocking(False)
    sent = 0
    t_end = time.monotonic() + seconds
    view = memoryview(payload)
    while sent < len(payload) and time.monotonic() < t_end:
        try:
            sent += sock.send(view[sent:sent + (1 << 20)])
        except BlockingIOError:
            time.sleep(0.005)
    sock.setblocking(True)
    return sent


def test_output_heavy_pipelined_flood_never_read_keeps_memory_flat() -> None:
    # Pipelined requests for 64 KiB responses, never read: the server stops reading its input once
    # a connection's unsent output passes the high-water mark (1 MiB), so neither the input nor
    # the output can pile up in the process: RSS must not grow by 10 MB.
    s = start_server_tied("reliability_app:app", "--write-timeout", "30")
    try:
        req = b"GET /big?n=65536 HTTP/1.1\r\nHost: a\r\n\r\n"
        _warm(s.port, req, 200)
        base = rss_kb(s.proc.pid)
        burst = req * (20_000_000 // len(req))  # 20 MB of requests (~1.3 GB of responses)
        with socket.create_connection(("127.0.0.1", s.port)) as c:
            sent = _send_without_reading(c, burst, 3.0)
            peak = max(rss_kb(s.proc.pid) for _ in range(5) if time.sleep(0.1) is None)
            grew_mb = (peak - base) / 1024
            print(f"sent {sent / 1e6:.1f} MB of requests unread; server RSS +{grew_mb:.1f} MB")
            assert sent < len(burst)  # backpressure reached the client
            assert grew_mb < 10, grew_mb
            # the server still serves others meanwhile
            assert get_json_ok(s.port)
    finally:
        s.stop()


@pytest.mark.parametrize("total_mb", [100])
def test_input_heavy_pipelined_burst_never_read_keeps_memory_flat(total_mb: int) -> None:
    # 100 MB of pipelined uploads (64 KiB bodies) whose small responses are never read: the
    # server consumes the whole burst (the responses fit in the socket buffers) while its RSS
    # stays within 10 MB of where it started. Then every response arrives, in order.
    s = start_server_tied("reliability_app:app", "--write-timeout", "60")
    try:
        body = b"u" * 65536
        req = b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 65536\r\n\r\n" + body
        _warm(s.port, req, 100)
        base = rss_kb(s.proc.pid)
        n = total_mb * 1_000_000 // len(req)
        burst = req * n
        peak = base
        with socket.create_connection(("127.0.0.1", s.port)) as c:
            c.setblocking(False)
            sent, view = 0, memoryview(burst)
            t_end = time.monotonic() + 60
            while sent < len(burst) and time.monotonic() < t_end:
                try:
                    sent += c.send(view[sent:sent + (1 << 20)])
                except BlockingIOError:
                    time.sleep(0.002)
                peak = max(peak, rss_kb(s.proc.pid))
            c.setblocking(True)
            assert sent == len(burst), f"only {sent} of {len(burst)} bytes taken"
            c.shutdown(socket.SHUT_WR)
            data, _, how = read_until_close(c, 30)
        grew_mb = (peak - base) / 1024
        print(f"{total_mb} MB pipelined burst, responses unread until the end: RSS +{grew_mb:.1f} MB")
        assert grew_mb < 10, grew_mb
        assert data.count(b"HTTP/1.1 200 ") == n and data.count(b'{"len":65536}') == n
    finally:
        s.stop()


def test_pipelined_requests_behind_a_slow_one_are_answered_in_order() -> None:
    # A small per-connection input allowance (--max-head 1024 --max-pipelined 2): the server
    # reads no further while a response is pending, so a long pipeline behind a slow request is
    # held back in the kernel, not refused, and answered in order.
    s = start_server_tied("reliability_app:app", "--max-head", "1024", "--max-pipelined", "2")
    try:
        reqs = b"GET /sleep?s=0.3 HTTP/1.1\r\nHost: a\r\n\r\n" + b"".join(
            b"GET /items/%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(1000, 1500))  # (404 is a 404)
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as c:
            c.sendall(reqs)
            c.shutdown(socket.SHUT_WR)
            data, _, how = read_until_close(c, 10)
        assert data.count(b"HTTP/1.1 200 ") == 501, (how, data[:300], data[-300:])
        ids = [int(x.split(b",")[0]) for x in data.split(b'{"item_id":')[1:]]
        assert ids == list(range(1000, 1500))
    finally:
        s.stop()


def test_mixed_workload_returns_fds_to_baseline_and_keeps_rss_bounded() -> None:
    # benchmarks/soak.py in small: 60k requests of keep-alive, pipelining, new connections,
    # chunked uploads, 4xx (some closing) and clients vanishing mid-request.
    import importlib.util

    spec = importlib.util.spec_from_file_location("soak", DATA.parents[1] / "benchmarks" / "soak.py")
    soak = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(soak)
    start = soak.start_server

    def start_warm(port: int, extra: list[str]):  # type: ignore[no-untyped-def]
        # Its 413 scenario sends a 20 MB Content-Length: the 16 MiB limit it was written for
        # (fasterapi run's default is larger now). One request before the fd baseline is taken:
        # the first plain `def` endpoint starts the worker pool (its eventfd lives as long as the
        # server; what must come back to the baseline is every connection's fd).
        proc = start(port, [*extra, "--max-body", str(16 << 20)])
        assert get_json_ok(port)
        return proc

    soak.start_server = start_warm
    res = soak.run_soak(requests=60_000, procs=1, connections=16, warmup=15_000, sample=0.5, quiet=True)
    print(res)
    assert res["errors"] == 0, res["error_examples"]
    assert all(n > 0 for n in res["scenarios"].values()), res["scenarios"]
    assert res["fds"]["after"] == res["fds"]["before"], res["fds"]
    assert res["rss_mb"]["max_growth_after_warmup"] < 5, res["rss_mb"]
    assert res["server_exit"] == 0

