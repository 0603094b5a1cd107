"""Async handlers on a served engine that need a current asyncio task (tests/integration/test_async_tasks.py)."""

import asyncio
import contextvars

import anyio
import httpx

from fastapi import Depends, FastAPI

app = FastAPI()
lock = anyio.Lock()
request_value: contextvars.ContextVar[str] = contextvars.ContextVar("request_value", default="unset")


@app.get("/plain")
async def plain():
    return {"ok": True}


@app.get("/lock")
async def with_lock():
    async with lock:  # anyio: needs a current task in the first step
        await anyio.sleep(0.001)
    return {"ok": True}


@app.get("/timeout")
async def with_timeout():
    async with asyncio.timeout(2):  # entered before the first await, left after it
        await asyncio.sleep(0.01)
    return {"ok": True}


@app.get("/thread")
async def in_thread():
    return {"v": await anyio.to_thread.run_sync(lambda: 42)}


@app.get("/scope")
async def scope_across_await():
    with anyio.fail_after(5):
        await asyncio.sleep(0.01)
        await anyio.sleep(0.001)
    return {"ok": True}


@app.get("/moved")
async def moved_on():
    with anyio.move_on_after(0.01) as scope:
        await anyio.sleep(5)
    return {"cancelled": scope.cancelled_caught}


@app.get("/identity")
async def identity():
    before = id(asyncio.current_task())
    await asyncio.sleep(0.001)
    return {"same": before == id(asyncio.current_task()) and before != 0}


@app.get("/proxy")
async def proxy(port: int):
    async with httpx.AsyncClient() as client:  # httpcore/anyio from the first step on
        r = await client.get(f"http://127.0.0.1:{port}/plain")
    return {"upstream": r.json()}


async def remember(v: str = ""):
    seen = request_value.get()
    if v:
        request_value.set(v)
    return seen


@app.get("/context")
async def context(seen: str = Depends(remember)):
    await asyncio.sleep(0)
    return {"seen_at_start": seen, "now": request_value.get()}


@app.get("/sync-context")
def sync_context(v: str = ""):
    seen = request_value.get()  # a plain def endpoint runs on the thread pool, in a copy of the request's context
    if v:
        request_value.set(v)
    return {"seen_at_start": seen}


@app.get("/token")
async def token(v: str = "x"):
    # A Token made in the first step is reset after an await: both steps run in one context object
    # (the engine's native first step hands its own context to the worker that continues).
    tok = request_value.set(v)
    await asyncio.sleep(0)
    now = request_value.get()
    request_value.reset(tok)
    return {"now": now, "after_reset": request_value.get(), "task": asyncio.current_task() is not None}


@app.get("/pipelined")
async def pipelined(n: int = 0):
    if n % 2:
        await asyncio.sleep(0)
    return {"n": n, "task": asyncio.current_task() is not None}
