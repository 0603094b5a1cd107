"""Two socket loops in one process (tests/native/loops_driver.cpp): two server::Server instances on
two threads, each with its own dispatchers and worker pool, serving real sockets concurrently.

This is the engine-side half of "a GIL per worker": nothing in the native core is shared between
loop threads, so one process can run several (one per sub-interpreter on 3.12+, or per thread on a
free-threaded build). The same driver also runs under -fsanitize=thread.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from test_ring import DRIVERS, build


def request(port: int, path: str, body: bytes = b"", keep: socket.socket | None = None) -> bytes:
    s = keep or socket.create_connection(("127.0.0.1", port), timeout=10)
    method = b"POST" if body else b"GET"
    s.sendall(method + b" " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: "
              + str(len(body)).encode() + b"\r\n\r\n" + body)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int([ln.split(b":")[1] for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")][0])
    while len(rest) < length:
        rest += s.recv(65536)
    if keep is None:
        s.close()
    assert head.startswith(b"HTTP/1.1 200"), head
    return rest


def start(exe: Path) -> tuple[subprocess.Popen[bytes], list[int]]:
    proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    assert line.startswith("PORTS"), line
    return proc, [int(p) for p in line.split()[1:]]


def stop(proc: subprocess.Popen[bytes]) -> str:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    out = proc.stdout.read().decode()
    assert proc.wait(timeout=60) == 0, out
    return out


def exercise(ports: list[int], clients: int = 8, rounds: int = 40) -> None:
    errors: list[BaseException] = []

    def client(k: int) -> None:
        try:
            loop = k % 2
            with socket.create_connection(("127.0.0.1", ports[loop]), timeout=10) as s:
                for i in range(rounds):
                    body = f"c{k}-{i}".encode()
                    assert request(ports[loop], f"/echo/{k}", body, keep=s) == (
                        f"loop {loop} POST /echo/{k} c{k}-{i}".encode())
                    if i % 10 == 0:
                        assert request(ports[loop], "/later?ms=1", keep=s) == f"loop {loop} later 1".encode()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def check_independent(ports: list[int]) -> None:
    # A slow pending response on loop 0 does not hold up loop 1 (nor loop 0's other connections).
    slow = socket.create_connection(("127.0.0.1", ports[0]), timeout=10)
    slow.sendall(b"GET /later?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n")
    t0 = time.monotonic()
    assert request(ports[1], "/echo/x") == b"loop 1 GET /echo/x "
    assert request(ports[0], "/echo/y") == b"loop 0 GET /echo/y "
    assert time.monotonic() - t0 < 1.0
    data = b""
    while b"later 1500" not in data:
        chunk = slow.recv(4096)
        assert chunk, data
        data += chunk
    assert time.monotonic() - t0 >= 1.4
    slow.close()


@pytest.mark.parametrize("tsan", [False, True], ids=["release", "tsan"])
def test_two_loop_threads_in_one_process(tsan: bool) -> None:
    if tsan:
        exe = build("loops_driver", DRIVERS, "-DFASTERAPI_TSAN=ON")
    else:
        exe = build("loops_driver", DRIVERS)
    proc, ports = start(exe)
    try:
        assert len(set(ports)) == 2
        check_independent(ports)
        exercise(ports, clients=8, rounds=30 if tsan else 100)
    finally:
        out = stop(proc)
    assert "ThreadSanitizer" not in out, out
    served = {int(line.split()[1]): line for line in out.splitlines() if line.startswith("LOOP")}
    assert set(served) == {0, 1}
    for line in served.values():
        assert "served=0" not in line
