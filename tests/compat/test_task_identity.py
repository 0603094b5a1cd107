"""A handler runs in one task from its first step to its last, as in FastAPI (Starlette runs each
request's endpoint inside the task that serves the request).

Code that ties state to the current task when entering a block and checks it on exit breaks when
the steps after the first await run in another task: anyio's CancelScope (anyio.Lock,
anyio.to_thread.run_sync, httpx/httpcore clients used inside endpoints) and asyncio.timeout.
Found by fastapi-azure-auth's tests (benchmarks/realapps_suite.py): an anyio.Lock in a security
dependency failed with "Attempted to exit cancel scope in a different task".
"""

import asyncio

import anyio
import httpx
import pytest

from fasterapi import Depends, FastAPI
from fasterapi.testclient import TestClient


def make_app() -> FastAPI:
    app = FastAPI()
    lock = anyio.Lock()

    async def locked_dep() -> int:
        async with lock:  # anyio: a shielded CancelScope around a checkpoint
            await anyio.sleep(0)
        return 1

    @app.get("/lock")
    async def with_lock(x: int = Depends(locked_dep)) -> dict[str, int]:
        async with lock:
            await asyncio.sleep(0)
        return {"x": x}

    @app.get("/thread")
    async def with_thread() -> dict[str, int]:
        value = await anyio.to_thread.run_sync(lambda: 41)
        return {"value": value + 1}

    @app.get("/timeout")
    async def with_timeout() -> dict[str, bool]:
        async with asyncio.timeout(5):
            await asyncio.sleep(0.001)
        return {"ok": True}

    @app.get("/same-task")
    async def same_task() -> dict[str, bool]:
        first = asyncio.current_task()
        await asyncio.sleep(0)
        await asyncio.sleep(0.001)
        return {"same": first is asyncio.current_task() and first is not None}

    return app


CASES = [
    ("/lock", {"x": 1}),
    ("/thread", {"value": 42}),
    ("/timeout", {"ok": True}),
    ("/same-task", {"same": True}),
]


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_testclient(path: str, expected: dict) -> None:
    client = TestClient(make_app())
    for _ in range(2):
        response = client.get(path)
        assert response.status_code == 200, response.text
        assert response.json() == expected


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_asgi_transport(path: str, expected: dict) -> None:
    app = make_app()

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            responses = await asyncio.gather(*(client.get(path) for _ in range(3)))
        for response in responses:
            assert response.status_code == 200, response.text
            assert response.json() == expected

    asyncio.run(main())


def test_sync_testclient_inside_running_loop() -> None:
    """An async test may use the sync TestClient (Starlette's runs its portal in another thread)."""
    app = make_app()

    @app.get("/plain")
    def plain() -> dict[str, str]:
        return {"hello": "world"}

    async def main() -> None:
        with TestClient(app) as client:
            assert client.get("/plain").json() == {"hello": "world"}
            assert client.get("/lock").json() == {"x": 1}

    asyncio.run(main())
