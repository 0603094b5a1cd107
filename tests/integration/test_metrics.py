"""`--metrics-path`: Prometheus metrics counted by the engine (server/metrics.hpp), summed over the
workers through the supervisor's shared region, tried on a real `fasterapi run --workers 2`
subprocess; and uvicorn's `--[no-]server-header` / `--[no-]date-header`, read off raw sockets."""

from __future__ import annotations

import os
import signal
import socket
import struct
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ._cli_helpers import Proc, fasterapi, free_port, serve, wait_until

APP = textwrap.dedent('''
    import asyncio
    import os
    from fastapi import FastAPI, Request
    from fastapi.responses import StreamingResponse

    app = FastAPI()

    @app.get("/json")
    async def json_route():
        return {"message": "Hello, World!"}

    @app.get("/items/{item_id}")
    async def item(item_id: int):
        return {"id": item_id}

    @app.get("/asgi")
    async def asgi_route(request: Request):  # a Request parameter: not compiled, served through ASGI
        return {"asgi": True}

    @app.get("/boom")
    async def boom():
        raise RuntimeError("boom")

    @app.get("/slow")
    async def slow(t: float = 1.0):
        await asyncio.sleep(t)
        return {"slept": t}

    @app.get("/pid")
    async def pid():
        return {"pid": os.getpid()}

    @app.get("/stream")
    async def stream():
        async def chunks():
            for i in range(3):
                await asyncio.sleep(0.15)
                yield b"chunk %d\\n" % i
        return StreamingResponse(chunks())
''')

APP_SHADOWED = textwrap.dedent('''
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/metrics")
    def mine():
        return {"mine": True}
''')

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> tuple[Samples, dict[str, str]]:
    """{(sample name, sorted labels): value} and {family: type}, by prometheus_client's parser
    (which raises on anything outside the text format)."""
    samples: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in samples, f"duplicate series {key}"
            samples[key] = s.value
    return samples, types


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def scrape(base: str, path: str = "/metrics") -> tuple[Samples, int]:
    """One scrape on a new connection, and the pid of the worker that served that connection (the
    same keep-alive connection asks /pid next)."""
    with httpx.Client(base_url=base, timeout=10) as c:
        r = c.get(path)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        pid = c.get("/pid").json()["pid"]
    return parse(r.text)[0], pid


def requests_by(samples: Samples) -> dict[tuple[str, str, str], float]:
    """(method, route, status class) -> count, for the request series only."""
    out = {}
    for (name, labels), v in samples.items():
        if name == "fasterapi_requests_total":
            d = dict(labels)
            out[(d["method"], d["route"], d["status"])] = v
    return out


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "main.py").write_text(APP)
    (tmp_path / "shadowed.py").write_text(APP_SHADOWED)
    return tmp_path


@pytest.fixture
def two_workers(app_dir: Path) -> Any:
    port = free_port()
    p = serve(["run", "main:app", "--port", str(port), "--workers", "2", "--metrics-path", "/metrics"],
              app_dir, port=port, path="/metrics")
    try:
        yield p, f"http://127.0.0.1:{port}"
    finally:
        p.stop()


def test_counts_summed_over_workers(two_workers: tuple[Proc, str]) -> None:
    proc, base = two_workers
    served_by: set[int] = set()
    for i in range(5):  # fresh connections: spread over both workers
        with httpx.Client(base_url=base, timeout=10) as c:
            assert c.get("/json").status_code == 200
            assert c.get(f"/items/{i}").status_code == 200
            served_by.add(c.get("/pid").json()["pid"])
    for _ in range(3):
        with httpx.Client(base_url=base, timeout=10) as c:
            assert c.get("/asgi").status_code == 200
    for _ in range(4):
        with httpx.Client(base_url=base, timeout=10) as c:
            assert c.get("/nope").status_code == 404
    for _ in range(2):
        with httpx.Client(base_url=base, timeout=10) as c:
            assert c.get("/boom").status_code == 500
    with httpx.Client(base_url=base, timeout=10) as c:  # 405: the compiled route's method is wrong
        assert c.post("/json").status_code == 405

    # One request that is still running while we scrape.
    slow_done = threading.Event()

    def slow() -> None:
        with httpx.Client(base_url=base, timeout=10) as c:
            assert c.get("/slow", params={"t": "0.3"}).status_code == 200
        slow_done.set()

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.15)
    during, _ = scrape(base)
    assert value(during, "fasterapi_requests_in_flight", method="GET", route="/slow") == 1
    t.join()
    assert slow_done.is_set()

    time.sleep(0.3)  # connection totals are copied into the region at each 0.1 s sweep
    answered_by: set[int] = set()
    results = []
    for _ in range(16):
        samples, pid = scrape(base)
        answered_by.add(pid)
        results.append({k: v for k, v in requests_by(samples).items() if k[1] != "/pid"})  # /pid: asked per scrape
    assert len(answered_by) == 2, "both workers answered scrapes"
    assert all(r == results[0] for r in results), "every worker sums every slot"
    counts = requests_by(scrape(base)[0])
    # /pid was asked once per connection above (5, the in-flight scrape, 16 scrapes and this one)
    expected = {
        ("GET", "/json", "2xx"): 5,
        ("GET", "/items/{item_id}", "2xx"): 5,
        ("GET", "/boom", "5xx"): 2,
        ("GET", "/slow", "2xx"): 1,
        ("*", "(app)", "2xx"): 3,  # the ASGI route
        ("*", "(app)", "4xx"): 4 + 1,  # 404s and the 405, both Starlette's (no compiled route matched)
    }
    pid_count = counts[("GET", "/pid", "2xx")]
    assert pid_count == 5 + 1 + 16
    for key, n in counts.items():
        if key[1] == "/pid" and key[2] == "2xx":
            continue
        assert n == expected.get(key, 0), (key, n)

    samples, _ = scrape(base)
    for method, route in [("GET", "/json"), ("GET", "/boom"), ("GET", "/slow"), ("*", "(app)")]:
        buckets = sorted(
            (float(dict(labels)["le"]), v) for (name, labels), v in samples.items()
            if name == "fasterapi_request_duration_seconds_bucket" and dict(labels)["method"] == method
            and dict(labels)["route"] == route)
        values = [v for _, v in buckets]
        assert values == sorted(values), "cumulative buckets never decrease"
        assert buckets[-1][0] == float("inf")
        total = sum(v for (m, r, _), v in counts.items() if (m, r) == (method, route))
        assert values[-1] == total
        assert value(samples, "fasterapi_request_duration_seconds_count", method=method, route=route) == total
        assert value(samples, "fasterapi_requests_in_flight", method=method, route=route) == 0
    # the 0.3 s request: above 0.25, within 0.5
    assert value(samples, "fasterapi_request_duration_seconds_bucket", method="GET", route="/slow", le="0.25") == 0
    assert value(samples, "fasterapi_request_duration_seconds_bucket", method="GET", route="/slow", le="0.5") == 1
    assert 0.3 <= value(samples, "fasterapi_request_duration_seconds_sum", method="GET", route="/slow") < 1.0
    assert value(samples, "fasterapi_received_bytes_total") > 0
    assert value(samples, "fasterapi_sent_bytes_total") > value(samples, "fasterapi_received_bytes_total")
    assert value(samples, "fasterapi_connections_accepted_total") >= 5 + 3 + 4 + 2 + 1 + 1 + 16
    assert value(samples, "fasterapi_worker_restarts_total") == 0
    ups = {dict(labels)["pid"]: v for (name, labels), v in samples.items() if name == "fasterapi_worker_up"}
    assert ups == {str(p): 1 for p in answered_by}


def test_open_connections_and_worker_restart(two_workers: tuple[Proc, str]) -> None:
    proc, base = two_workers
    held = [socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1]))) for _ in range(3)]
    try:
        for s in held:  # a request each, so each connection is accepted and served
            s.sendall(b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 200 ")
        time.sleep(0.3)
        samples, _ = scrape(base)
        assert value(samples, "fasterapi_connections_open") >= 3
    finally:
        for s in held:
            s.close()
    before = value(samples, "fasterapi_requests_total", method="GET", route="/json", status="2xx")
    assert before == 3
    pids = [int(dict(labels)["pid"]) for (name, labels), _ in samples.items() if name == "fasterapi_worker_up"]
    assert len(pids) == 2
    os.kill(pids[0], signal.SIGKILL)

    def restarted() -> Samples | None:
        try:
            s, _ = scrape(base)
        except (httpx.TransportError, AssertionError):
            return None
        return s if value(s, "fasterapi_worker_restarts_total") == 1 else None

    after = wait_until(restarted, 20, 0.2)
    assert after, proc.stderr()
    assert isinstance(after, dict)

    # wait until the replacement serves, then check its slot and the totals (kept: counters are monotonic)
    def replaced() -> Samples | None:
        s, _ = scrape(base)
        ups = {int(dict(labels)["pid"]): v for (name, labels), v in s.items() if name == "fasterapi_worker_up"}
        # the replacement takes the dead worker's slot (free again): its pid, up
        return s if pids[0] not in ups and pids[1] in ups and sum(ups.values()) == 2 and len(ups) == 2 else None

    final = wait_until(replaced, 20, 0.2)
    assert final, proc.stderr()
    assert isinstance(final, dict)
    assert value(final, "fasterapi_requests_total", method="GET", route="/json", status="2xx") == before
    assert value(final, "fasterapi_worker_restarts_total") == 1


def test_streamed_response_and_abandoned_request(app_dir: Path) -> None:
    """A streamed response counts when its last chunk is written (its whole duration); a request whose
    client leaves before the answer leaves nothing in flight and no response counted."""
    port = free_port()
    p = serve(["run", "main:app", "--port", str(port), "--metrics-path", "/metrics"], app_dir, port=port,
              path="/metrics")
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=10) as c:
            r = c.get("/stream")
            assert r.text == "chunk 0\nchunk 1\nchunk 2\n"
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"GET /slow?t=0.5 HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.1)
            during, _ = scrape(base)
            assert value(during, "fasterapi_requests_in_flight", method="GET", route="/slow") == 1
            # a reset, not a FIN: the server hears of it while the response is pending (a FIN is only
            # read once reading resumes, after the response, which then counts as written)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        time.sleep(0.8)  # the handler finished meanwhile; its answer was dropped
        samples, _ = scrape(base)
        stream_series = [dict(labels)["route"] for (name, labels), v in samples.items()
                         if name == "fasterapi_request_duration_seconds_count" and v == 1
                         and dict(labels)["route"] not in ("/pid",)]  # (the in-flight scrape's /pid)
        assert len(stream_series) == 1, stream_series
        route = stream_series[0]
        method = "GET" if route == "/stream" else "*"
        # three chunks 0.15 s apart: the whole response took 0.45 s or more
        assert value(samples, "fasterapi_request_duration_seconds_bucket", method=method, route=route, le="0.25") == 0
        assert value(samples, "fasterapi_request_duration_seconds_sum", method=method, route=route) >= 0.45
        assert value(samples, "fasterapi_requests_in_flight", method="GET", route="/slow") == 0
        assert value(samples, "fasterapi_request_duration_seconds_count", method="GET", route="/slow") == 0
    finally:
        p.stop()


def test_totals_survive_recycled_workers(app_dir: Path) -> None:
    """--limit-max-requests: each replacement starts while the retiring worker drains, in a spare slot
    (two writers never share one); the totals over all slots stay exact and the restarts are counted."""
    port = free_port()
    p = serve(["run", "main:app", "--port", str(port), "--workers", "1", "--limit-max-requests", "10",
               "--metrics-path", "/metrics"], app_dir, port=port, path="/metrics")
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(30):
            with httpx.Client(base_url=base, timeout=10) as c:
                assert c.get("/json").status_code == 200

        def settled() -> Samples | None:
            s = parse(httpx.get(base + "/metrics", timeout=10).text)[0]
            return s if value(s, "fasterapi_worker_restarts_total") >= 2 else None

        samples = wait_until(settled, 20, 0.2)
        assert isinstance(samples, dict), p.stderr()
        assert value(samples, "fasterapi_requests_total", method="GET", route="/json", status="2xx") == 30
        assert value(samples, "fasterapi_request_duration_seconds_count", method="GET", route="/json") == 30
    finally:
        p.stop()


def test_metrics_off_by_default(app_dir: Path) -> None:
    port = free_port()
    p = serve(["run", "main:app", "--port", str(port)], app_dir, port=port, path="/json")
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert r.status_code == 404  # the app's own answer: nothing shadows it
    finally:
        p.stop()


def test_env_var_and_method(app_dir: Path) -> None:
    port = free_port()
    p = serve(["run", "main:app", "--port", str(port)], app_dir, port=port, path="/_m",
              env={"FASTERAPI_METRICS_PATH": "/_m"})
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/json").status_code == 200
        r = httpx.get(f"http://127.0.0.1:{port}/_m?x=1")
        assert r.status_code == 200
        samples, types = parse(r.text)
        assert types["fasterapi_request_duration_seconds"] == "histogram"
        assert value(samples, "fasterapi_requests_total", method="GET", route="/json", status="2xx") == 1
        r = httpx.post(f"http://127.0.0.1:{port}/_m")
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
        r = httpx.head(f"http://127.0.0.1:{port}/_m")
        assert r.status_code == 200 and r.content == b"" and int(r.headers["content-length"]) > 0
    finally:
        p.stop()


def test_refuses_an_app_route_at_the_metrics_path(app_dir: Path) -> None:
    r = fasterapi("run", "shadowed:app", "--port", str(free_port()), "--metrics-path", "/metrics", cwd=app_dir)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert lines[-1].startswith("error: --metrics-path /metrics: the app has a route at this path"), r.stderr


def test_bad_metrics_path(app_dir: Path) -> None:
    r = fasterapi("run", "main:app", "--port", str(free_port()), "--metrics-path", "metrics", cwd=app_dir)
    assert r.returncode == 2
    assert "--metrics-path must be a path starting with '/'" in r.stderr


# ---- --server-header / --date-header ------------------------------------------------------------


def raw_head(port: int, path: str) -> list[bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0]
    return [line.split(b":", 1)[0].lower() for line in head.split(b"\r\n")[1:]]


@pytest.mark.parametrize("flags, date, server", [
    ([], True, True),
    (["--server-header", "--date-header"], True, True),
    (["--no-server-header"], True, False),
    (["--no-date-header"], False, True),
    (["--no-server-header", "--no-date-header"], False, False),
])
def test_header_switches(app_dir: Path, flags: list[str], date: bool, server: bool) -> None:
    port = free_port()
    p = serve(["run", "main:app", "--port", str(port), *flags], app_dir, port=port, path="/json")
    try:
        # a compiled route (twice: the second may be a replayed constant response), the ASGI path,
        # a 404 from the app, an engine error (400)
        for path in ["/json", "/json", "/asgi", "/nope", "/items/1"]:
            names = raw_head(port, path)
            assert (b"date" in names) == date, (path, names)
            assert (b"server" in names) == server, (path, names)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n")
            data = s.recv(65536)
        assert data.startswith(b"HTTP/1.1 400 ")
        names = [line.split(b":", 1)[0].lower() for line in data.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]]
        assert (b"date" in names) == date and (b"server" in names) == server
    finally:
        p.stop()
