"""A handler runs in one task from its first step to its last, as in FastAPI (Starlette runs each
request's endpoint inside the task that serves the request).

Code that ties state to the current task when entering a block and checks it on exit breaks when
the steps after the first await run in another task: anyio's CancelScope (anyio.Lock,
anyio.to_thread.run_sync, httpx/httpcore clients used inside endpoints) and asyncio.timeout.
Found by fastapi-azure-auth's tests (benchmarks/realapps_suite.py): an anyio.Lock in a security
dependency failed with "Attempted to exit cancel scope in a different task".
"""

import asyncio
import sys

import anyio
import httpx
import pytest

from fasterapi import Depends, FastAPI, HTTPException
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


@pytest.mark.parametrize("edits", [True, False], ids=["dict-edits", "enter-leave-calls"])
def test_engine_first_step_is_asyncio_current_task(edits: bool) -> None:
    """The engine takes a handler's first step as a parked worker's task: with asyncio's own
    current-task dict (the 7th item of _runtime.task_hooks) it edits that dict itself, as
    _enter_task/_leave_task would; without it, it calls them. Either way current_task() is that
    task during the step and nothing after it, and pipelined requests that finish in their first
    step and ones that await each see their task."""
    from fasterapi import _runtime
    from fasterapi._asgi_server import ScopeMaker
    from fasterapi.server import build_engine

    app = FastAPI()
    seen: list[tuple[int, bool]] = []

    @app.get("/step")
    async def step(n: int) -> dict[str, bool]:
        task = asyncio.current_task()
        if n % 2:
            await asyncio.sleep(0)
        seen.append((n, task is not None and task is asyncio.current_task()))
        return {"task": task is not None}

    @app.get("/fail")
    async def fail() -> None:  # raises in its first step: the task is left all the same
        assert asyncio.current_task() is not None
        raise HTTPException(418, "teapot")

    calls: list[str] = []
    # the dict only where _asyncio's C functions edit it (3.11-3.13); 3.14 keeps the current task
    # in the thread state, and the engine must call _enter_task/_leave_task there
    shared = getattr(sys.modules.get("_asyncio"), "_current_tasks", None)
    py_dict = getattr(asyncio.tasks, "_current_tasks", None)
    native_dict = py_dict if shared is not None and shared is py_dict else None

    async def main() -> bytes:
        loop = asyncio.get_running_loop()
        engine, handler, _reports = build_engine(app, ScopeMaker())
        engine.task_starter = _runtime.start_task
        hooks = _runtime.task_hooks(loop)
        assert hooks is not None and hooks[6] is native_dict
        enter, leave = hooks[1], hooks[2]

        def counted_enter(lp: object, task: object) -> None:
            calls.append("enter")
            enter(lp, task)

        def counted_leave(lp: object, task: object) -> None:
            calls.append("leave")
            leave(lp, task)

        def counted_acquire(lp: asyncio.AbstractEventLoop) -> object:
            calls.append("acquire")
            return _runtime.acquire_worker(lp)

        engine.task_hooks = (hooks[0], counted_enter, counted_leave, counted_acquire, *hooks[4:6]) + (
            (hooks[6],) if edits else ()
        )
        conn = engine.connection(("127.0.0.1", 5000))
        woke = asyncio.Event()
        conn.waiter = woke.set
        st: dict[str, bytes] = {"out": b""}

        def feed() -> None:  # from a plain loop callback, as the server's poll(): in no task
            assert asyncio.current_task() is None
            paths = ["/step?n=0", "/step?n=1", "/fail", "/step?n=2", "/step?n=3", "/fail", "/step?n=4", "/step?n=5"]
            conn.feed(b"".join(f"GET {p} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for p in paths))
            st["out"] = conn.read()
            assert asyncio.current_task() is None

        loop.call_soon(feed)
        await asyncio.sleep(0)
        out = st["out"]
        while out.count(b'{"task":true}') < 6:
            woke.clear()
            await asyncio.wait_for(woke.wait(), 5)
            out += conn.read()
        _runtime.close_workers(loop)
        await handler.drain(1.0)
        return out

    out = asyncio.run(main())
    assert out.count(b"HTTP/1.1 200 OK") == 6
    assert out.count(b"HTTP/1.1 418 ") == 2 and out.count(b'{"detail":"teapot"}') == 2
    assert sorted(seen) == [(n, True) for n in range(6)]
    assert "acquire" in calls  # the engine took first steps itself (its worker came from the hooks)
    entered = calls.count("enter")  # (an enter refused, inside a task already: start_task's path)
    assert (entered == 0) if edits and native_dict is not None else (entered >= calls.count("leave") >= 1)
