"""--loop-threads N: N socket loops in one process where this Python allows it, else N times the
worker processes with one line saying why.

- free-threaded CPython (3.13t, the GIL off): the loops are threads of one interpreter, handlers
  of a FastAPI app run on two loops at once;
- CPython 3.12+ with the GIL: loop 0 in the main interpreter, the others in sub-interpreters with
  a GIL each, when the app imports there (a Starlette app does; a FastAPI app does not:
  pydantic-core does not support sub-interpreters, and the line names it);
- 3.11, PyPy: worker processes.

Concurrency is shown without timing: /meet blocks its loop until the test has seen two handlers
arrive, which only two loops serving at the same moment can do. (The engine's own side -- two
loops in one process sharing no mutable state, under TSan -- is tests/native/test_loops.py.)"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import sysconfig
import threading
from typing import Any

import httpx
import pytest

from fasterapi.server import Config, _loop_threads_fallback, free_threaded, loop_threads_unavailable

from .conftest import DATA, free_port

CPYTHON = sys.implementation.name == "cpython"
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
SUBINTERPRETERS = CPYTHON and sys.version_info >= (3, 12) and not FREE_THREADED
PROCESSES = not free_threaded() and not SUBINTERPRETERS


def _get(conn: http.client.HTTPConnection, path: str) -> dict[str, Any]:
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200, body
    out: dict[str, Any] = json.loads(body)
    return out


def _two_loops_at_once(port: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two keep-alive connections that landed on different loops (the kernel spreads new
    connections over the loops' SO_REUSEPORT sockets at random), then /meet on both: each handler
    connects back here and blocks its loop until both have arrived."""
    a = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    first = _get(a, "/who")
    for _ in range(60):
        b = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        if _get(b, "/who")["thread"] != first["thread"]:
            break
        b.close()
    else:
        raise AssertionError("60 connections all landed on one loop")
    with socket.create_server(("127.0.0.1", 0)) as rendezvous:
        rendezvous.settimeout(30)
        meet = f"/meet?port={rendezvous.getsockname()[1]}"
        a.request("GET", meet)
        b.request("GET", meet)
        arrived = [rendezvous.accept()[0] for _ in range(2)]  # both handlers are in /meet now
        for s in arrived:
            assert s.recv(1) == b"h"
        for s in arrived:
            s.sendall(b"g")
            s.close()
    ra, rb = a.getresponse(), b.getresponse()
    out = json.loads(ra.read()), json.loads(rb.read())
    assert ra.status == rb.status == 200
    a.close()
    b.close()
    return out


def test_fallback_multiplies_worker_processes() -> None:
    c = _loop_threads_fallback(Config(workers=2, loop_threads=3), "why")
    assert (c.workers, c.loop_threads) == (6, 1)


def test_metrics_need_worker_processes() -> None:
    assert loop_threads_unavailable(Config(metrics_path="/metrics")) == "--metrics-path counts per worker process"


@pytest.mark.skipif(not PROCESSES, reason="this Python runs loop threads in one process (tests below)")
def test_the_reason_names_what_is_needed() -> None:
    why = loop_threads_unavailable()
    assert why is not None and "3.12+" in why


@pytest.mark.skipif(not PROCESSES, reason="this Python runs loop threads in one process (tests below)")
def test_cli_loop_threads_falls_back_to_processes(serve) -> None:  # type: ignore[no-untyped-def]
    s = serve("server_app:app", "--loop-threads", "2")
    assert httpx.get(s.url + "/items/1").json()["item_id"] == 1
    out = s.output()
    assert "--loop-threads 2" in out and "need" in out and "3.12+" in out
    assert "started 2 workers" in out


@pytest.mark.skipif(not free_threaded(), reason="free-threaded CPython (3.13t) with the GIL off only")
def test_free_threaded_loops_run_handlers_at_once_in_one_process(serve) -> None:  # type: ignore[no-untyped-def]
    s = serve("loop_threads_fastapi:app", "--loop-threads", "2")
    a, b = _two_loops_at_once(s.port)
    assert a["pid"] == b["pid"] == s.proc.pid  # one process: no worker processes
    assert a["thread"] != b["thread"]
    assert a["interpreter"] == b["interpreter"]  # one interpreter, no GIL
    assert a["gil"] is False and b["gil"] is False
    out = s.output()
    assert "2 loop threads in one process (free-threaded, no GIL)" in out
    assert "instead" not in out
    assert s.proc.returncode == 0, out


@pytest.mark.skipif(not free_threaded(), reason="free-threaded CPython (3.13t) with the GIL off only")
def test_free_threaded_loops_under_many_client_threads(serve) -> None:  # type: ignore[no-untyped-def]
    """16 client threads on 4 loop threads, each loop's engine compiled from the one shared app:
    every answer complete and right (JSON, a validated body, a 422, a plain def on the pool)."""
    s = serve("loop_threads_fastapi:app", "--loop-threads", "4")
    errors: list[str] = []

    def client(k: int) -> None:
        try:
            with httpx.Client(base_url=s.url, timeout=30) as c:
                for i in range(60):
                    assert c.get("/json").json() == {"message": "Hello, World!"}
                    item = {"name": f"n{k}-{i}", "price": i, "tags": [str(k)]}
                    assert c.post("/items", json=item).json() == {**item, "price": float(i)}
                    assert c.post("/items", json={"name": 1}).status_code == 422
                    if i % 10 == 0:
                        assert c.get("/cpu", params={"n": 1000}).status_code == 200
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"client {k}: {exc!r}")

    clients = [threading.Thread(target=client, args=(k,)) for k in range(16)]
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    assert errors == []
    assert httpx.get(s.url + "/who").json()["pid"] == s.proc.pid
    assert s.stop() == 0


@pytest.mark.skipif(not SUBINTERPRETERS, reason="CPython 3.12+ with the GIL only (sub-interpreters)")
def test_subinterpreter_loops_serve_a_starlette_app(serve) -> None:  # type: ignore[no-untyped-def]
    s = serve("loop_threads_app:app", "--loop-threads", "2")
    a, b = _two_loops_at_once(s.port)
    assert a["pid"] == b["pid"] == s.proc.pid
    assert a["thread"] != b["thread"]
    assert a["interpreter"] != b["interpreter"]  # a sub-interpreter, with its own GIL
    assert httpx.get(s.url + "/json").json() == {"message": "Hello, World!"}
    out = s.output()
    assert "2 loop threads in one process (sub-interpreters, a GIL each)" in out
    assert "loop thread 2/2" in out and "instead" not in out
    assert s.proc.returncode == 0, out


@pytest.mark.skipif(not SUBINTERPRETERS, reason="CPython 3.12+ with the GIL only (sub-interpreters)")
def test_subinterpreter_fallback_names_the_module(serve) -> None:  # type: ignore[no-untyped-def]
    s = serve("loop_threads_fastapi:app", "--loop-threads", "2")
    assert httpx.get(s.url + "/json").json() == {"message": "Hello, World!"}
    out = s.output()
    lines = [line for line in out.splitlines() if "--loop-threads 2" in line]
    assert len(lines) == 1, out
    assert "pydantic_core._pydantic_core, which does not support sub-interpreters" in lines[0]
    assert "running 2 worker processes instead" in lines[0]
    assert "started 2 workers" in out
    assert "Traceback" not in out


@pytest.mark.skipif(not SUBINTERPRETERS, reason="CPython 3.12+ with the GIL only (sub-interpreters)")
def test_a_failing_subinterpreter_loop_stops_the_server_with_one_line() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "fasterapi", "run", "loop_threads_failing_app:app", "--port", str(free_port())]
        + ["--loop-threads", "2"],
        cwd=DATA,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == (
        "error: loop thread 2/2 (a sub-interpreter) failed: RuntimeError: no database in a sub-interpreter"
    )
    assert "worker" in r.stderr and "stopped, loop thread 1/2" in r.stderr  # loop 1 drained


@pytest.mark.skipif(PROCESSES, reason="this Python runs worker processes instead of loop threads")
def test_loop_threads_in_each_worker_process(serve) -> None:  # type: ignore[no-untyped-def]
    s = serve("loop_threads_app:app", "--workers", "2", "--loop-threads", "2")
    seen = set()
    for _ in range(40):
        with httpx.Client(base_url=s.url) as c:  # a new connection each: spread over the 4 loops
            w = c.get("/who").json()
        seen.add((w["pid"], w["thread"]))
    assert s.proc.pid not in {pid for pid, _ in seen}  # the workers serve, not the supervisor
    assert len(seen) >= 2
    out = s.output()
    assert "2 loop threads in each of 2 worker processes" in out
    assert out.count("loop thread 2/2") >= 2 and s.proc.returncode == 0, out
