"""Graceful shutdown over real sockets: SIGTERM with requests in flight, the listening socket,
keep-alive and idle connections, the hard deadline, and the same through the supervisor."""

from __future__ import annotations

import asyncio
import signal
import socket
import time

import pytest

from ._reliability import children, read_until_close, start_server_tied, wait_until
from .conftest import Server

def listening(port: int) -> bool:
    """Does a connection to 127.0.0.1:port get through (a refusal takes microseconds: this is a
    far finer probe than scanning /proc/net/tcp, which takes tens of ms on a busy machine)?"""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except ConnectionRefusedError:
        return False
    except OSError:
        return True


async def _request(port: int, path: str, results: list, timeout: float = 30.0) -> None:
    """One GET on its own keep-alive connection; records (status, Connection header, closed after)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        results.append(("connect-error", repr(exc), None))
        return
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v for k, _, v in (ln.partition(": ") for ln in lines[1:] if ln)}
        await reader.readexactly(int(headers.get("content-length", "0")))
        closed = await asyncio.wait_for(reader.read(1), 5) == b""
        results.append((int(lines[0].split()[1]), headers.get("connection"), closed))
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError) as exc:
        results.append(("error", repr(exc), None))
    finally:
        writer.close()


def _sigterm_with_in_flight(s: Server, n: int, path: str, signal_after: float) -> tuple[list, float | None]:
    """n concurrent requests; SIGTERM after `signal_after` s; returns (results, listen-gone delay)."""
    results: list = []
    gone: list[float | None] = [None]

    async def main() -> None:
        tasks = [asyncio.create_task(_request(s.port, path, results)) for _ in range(n)]
        await asyncio.sleep(signal_after)
        t0 = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        while time.monotonic() - t0 < 2:
            if not listening(s.port):
                gone[0] = time.monotonic() - t0
                break
            await asyncio.sleep(0.001)
        await asyncio.gather(*tasks)

    asyncio.run(main())
    return results, gone[0]


def test_sigterm_with_100_requests_in_flight_loses_none() -> None:
    s = start_server_tied("reliability_app:app")
    try:
        assert listening(s.port)
        results, gone = _sigterm_with_in_flight(s, 100, "/sleep?s=0.5", 0.2)
        assert len(results) == 100
        assert all(r == (200, "close", True) for r in results), [r for r in results if r != (200, "close", True)][:5]
        print(f"listening socket gone {gone * 1e3:.1f} ms after SIGTERM (1 worker, 100 in flight)")
        assert gone is not None and gone < 0.1, gone  # the listening socket closes within 100 ms
        assert s.proc.wait(10) == 0
    finally:
        s.stop()


def test_idle_keepalive_connections_are_closed_at_once() -> None:
    s = start_server_tied("reliability_app:app", "--keepalive-timeout", "30")
    socks = []
    try:
        for _ in range(10):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=3)
            c.sendall(b"GET /json HTTP/1.1\r\nHost: a\r\n\r\n")
            assert c.recv(65536).startswith(b"HTTP/1.1 200 ")
            socks.append(c)
        t0 = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        for c in socks:
            data, _, how = read_until_close(c, 2)
            assert data == b"" and how == "eof", (data, how)
        assert time.monotonic() - t0 < 0.5
        assert s.proc.wait(5) == 0
    finally:
        for c in socks:
            c.close()
        s.stop()


def test_request_arriving_during_drain_on_an_open_connection_is_answered_with_close() -> None:
    # A head in progress when SIGTERM comes is finished and answered, with Connection: close.
    s = start_server_tied("reliability_app:app", "--keepalive-timeout", "30")
    try:
        with socket.create_connection(("127.0.0.1", s.port), timeout=3) as c:
            c.sendall(b"GET /json HTTP/1.1\r\nHo")
            time.sleep(0.1)
            s.proc.send_signal(signal.SIGTERM)
            time.sleep(0.2)
            c.sendall(b"st: a\r\n\r\n")
            data, _, how = read_until_close(c, 3)
        assert data.startswith(b"HTTP/1.1 200 ") and b"\r\nConnection: close\r\n" in data, data
        assert how == "eof"
        assert s.proc.wait(5) == 0
    finally:
        s.stop()


def test_connection_accepted_just_before_sigterm_still_gets_its_request_served() -> None:
    # The client connected, its request is on the wire when SIGTERM comes: it is not treated as
    # an idle keep-alive (closed at once) but gets a short grace, and its answer closes it.
    s = start_server_tied("reliability_app:app", "--keepalive-timeout", "30")
    try:
        fresh = socket.create_connection(("127.0.0.1", s.port), timeout=3)
        silent = socket.create_connection(("127.0.0.1", s.port), timeout=3)
        time.sleep(0.1)
        t0 = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        fresh.sendall(b"GET /json HTTP/1.1\r\nHost: a\r\n\r\n")
        data, _, how = read_until_close(fresh, 3)
        assert data.startswith(b"HTTP/1.1 200 ") and b"\r\nConnection: close\r\n" in data, data
        assert how == "eof"
        # one that never sends anything is closed after the grace (1 s), and the worker exits
        data, _, how = read_until_close(silent, 3)
        assert data == b"" and how == "eof"
        assert 0.75 <= time.monotonic() - t0 <= 2.0  # the 1 s grace, give or take scheduling
        assert s.proc.wait(5) == 0
        fresh.close()
        silent.close()
    finally:
        s.stop()


def test_pipelined_requests_in_flight_at_sigterm_get_their_response_then_close() -> None:
    # The response being produced when draining starts carries Connection: close and is the
    # last one: the requests pipelined behind it are not served (the client must retry them).
    s = start_server_tied("reliability_app:app")
    try:
        with socket.create_connection(("127.0.0.1", s.port), timeout=3) as c:
            c.sendall(b"GET /sleep?s=0.5 HTTP/1.1\r\nHost: a\r\n\r\nGET /json HTTP/1.1\r\nHost: a\r\n\r\n")
            time.sleep(0.2)
            s.proc.send_signal(signal.SIGTERM)
            data, _, how = read_until_close(c, 3)
        assert data.count(b"HTTP/1.1 ") == 1 and data.startswith(b"HTTP/1.1 200 "), data
        assert b"\r\nConnection: close\r\n" in data and data.endswith(b'{"slept":0.5}') and how == "eof"
        assert s.proc.wait(5) == 0
    finally:
        s.stop()


@pytest.mark.parametrize("path", ["/sleep?s=30", "/block?s=30"])
def test_shutdown_timeout_is_a_hard_deadline(path: str) -> None:
    # --shutdown-timeout 1: a handler that would run for 30 s does not keep the worker alive.
    s = start_server_tied("reliability_app:app", "--shutdown-timeout", "1")
    try:
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as c:
            c.sendall(f"GET {path} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
            time.sleep(0.2)
            t0 = time.monotonic()
            s.proc.send_signal(signal.SIGTERM)
            data, waited, how = read_until_close(c, 5)
            assert data == b"" and how in ("eof", "reset"), (data, how)
            assert 0.9 <= waited <= 1.5, waited
        s.proc.wait(5)
        exited = time.monotonic() - t0
        assert exited <= 2.0, exited
    finally:
        s.stop()


def test_default_shutdown_timeout_is_30s() -> None:
    from fasterapi.cli import build_parser

    args = build_parser().parse_args(["run", "x:app"])
    assert args.shutdown_timeout == 30.0


def test_supervisor_forwards_sigterm_to_workers() -> None:
    s = start_server_tied("reliability_app:app", "--workers", "2")
    try:
        assert wait_until(lambda: len(children(s.proc.pid)) == 2, 10) is not None
        workers = children(s.proc.pid)
        # both workers serve (SO_REUSEPORT spreads new connections)
        seen = set()
        for _ in range(200):
            with socket.create_connection(("127.0.0.1", s.port), timeout=3) as c:
                c.sendall(b"GET /pid HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                data, _, _ = read_until_close(c, 3)
            seen.add(int(data.rsplit(b":", 1)[1].rstrip(b"}")))
            if seen == workers:
                break
        assert seen == workers
        results, gone = _sigterm_with_in_flight(s, 100, "/sleep?s=0.5", 0.2)
        assert len(results) == 100
        assert all(r == (200, "close", True) for r in results), [r for r in results if r != (200, "close", True)][:5]
        print(f"listening sockets gone {gone * 1e3:.1f} ms after SIGTERM to the supervisor (2 workers)")
        assert gone is not None and gone < 0.1, gone
        assert s.proc.wait(10) == 0
        for pid in workers:  # the workers are gone too
            assert wait_until(lambda: not _alive(pid), 2) is not None
    finally:
        s.stop()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
