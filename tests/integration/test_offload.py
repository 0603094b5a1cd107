"""Batch and blocking routes on a real server (tests/data/batch_app.py) with concurrent clients."""

from __future__ import annotations

import asyncio
import socket
import struct
import time

import httpx
import pytest

from .conftest import Server, start_server


@pytest.fixture(scope="module")
def server() -> Server:
    s = start_server("batch_app:app")
    yield s
    s.stop()


def gather(url: str, calls: list[tuple[str, dict]]) -> list[httpx.Response]:
    async def main() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(calls), max_keepalive_connections=len(calls))
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=20) as c:
            return await asyncio.gather(*(c.post(path, json=body) for path, body in calls))

    return asyncio.run(main())


@pytest.mark.parametrize("path", ["/predict", "/apredict"])
def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(server: Server, path: str) -> None:
    before = httpx.get(server.url + "/stats", params={"path": path}).json()
    n = 40
    rs = gather(server.url, [(path, {"v": i, "delay_ms": 20}) for i in range(n)])
    assert [r.status_code for r in rs] == [200] * n
    for i, r in enumerate(rs):
        body = r.json()
        assert body["v"] == i and body["double"] == 2 * i
    sizes = [r.json()["batch"] for r in rs]
    assert max(sizes) > 1 and max(sizes) <= 8
    after = httpx.get(server.url + "/stats", params={"path": path}).json()
    assert after["items"] - before["items"] == n
    assert after["batches"] - before["batches"] < n  # fewer handler calls than requests
    assert after["wait_ms"]["p99"] >= 0 and after["run_ms"]["max"] >= 20


def test_an_exception_answers_the_whole_batch(server: Server) -> None:
    # One bad input in a batch of several: every request of that batch gets the 418.
    rs = gather(server.url, [("/predict", {"v": 418 if i == 0 else i, "delay_ms": 50}) for i in range(6)])
    statuses = [r.status_code for r in rs]
    assert statuses[0] == 418
    assert all(s in (200, 418) for s in statuses)
    for r in rs:
        if r.status_code == 418:
            assert r.json() == {"detail": "teapot in batch"}
    rs = gather(server.url, [("/predict", {"v": 500})])
    assert rs[0].status_code == 500


def test_invalid_bodies_get_their_own_422(server: Server) -> None:
    calls = [("/predict", {"v": i}) for i in range(6)] + [("/predict", {"v": "bad"}), ("/predict", {"nope": 1})]
    rs = gather(server.url, calls)
    assert [r.status_code for r in rs] == [200] * 6 + [422, 422]


def test_a_client_that_went_away_is_dropped_from_its_batch(server: Server) -> None:
    before = httpx.get(server.url + "/stats").json()

    async def main() -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as c:
            busy = asyncio.create_task(c.post("/predict", json={"v": 1, "delay_ms": 1000}))
            await asyncio.sleep(0.3)  # its batch is running (concurrency 1): the next one queues
            body = b'{"v": 2}'
            s = socket.create_connection(("127.0.0.1", server.port))
            s.sendall(b"POST /predict HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: "
                      + str(len(body)).encode() + b"\r\n\r\n" + body)
            await asyncio.sleep(0.05)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()  # RST: the server closes the connection, its queued request is dropped
            assert (await busy).status_code == 200

    asyncio.run(main())
    time.sleep(0.1)
    after = httpx.get(server.url + "/stats").json()
    assert after["dropped"] == before["dropped"] + 1


def test_per_request_timeout(server: Server) -> None:
    t0 = time.monotonic()
    r = httpx.post(server.url + "/slow-batch", json={"v": 1, "delay_ms": 1500}, timeout=10)
    assert r.status_code == 503 and time.monotonic() - t0 < 1.2  # timeout_ms=150
    time.sleep(1.5)
    assert httpx.post(server.url + "/slow-batch", json={"v": 2}, timeout=10).json() == {"v": 2}


def test_blocking_routes_run_in_parallel_on_the_pool(server: Server) -> None:
    async def main() -> float:
        async with httpx.AsyncClient(base_url=server.url, timeout=20,
                                     limits=httpx.Limits(max_connections=16)) as c:
            t0 = time.monotonic()
            rs = await asyncio.gather(*(c.get(f"/block/{i}", params={"s": 0.3}) for i in range(16)))
            assert [r.json()["n"] for r in rs] == list(range(16))
            assert not any(r.json()["main"] for r in rs)
            rs = await asyncio.gather(*(c.get("/block-dep", params={"s": 0.3}) for _ in range(8)))
            assert all(r.json() == {"d": "dep", "main": False} for r in rs)
            rs = await asyncio.gather(*(c.get(f"/block-model/{i}") for i in range(32)))
            assert [r.json()["double"] for r in rs] == [2 * i for i in range(32)]
            return time.monotonic() - t0

    assert asyncio.run(main()) < 2.5  # 4.8 s + 2.4 s if they ran one at a time


def test_executor_switch_serves_the_same(serve) -> None:  # type: ignore[no-untyped-def]
    s = serve("batch_app:app", env={"BLOCKING_POOL": "executor"})
    r = httpx.get(s.url + "/block/3")
    assert r.json()["n"] == 3 and r.json()["main"] is False
    assert "asyncio" in r.json()["thread"] or "ThreadPoolExecutor" in r.json()["thread"]
