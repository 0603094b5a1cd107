"""A FastAPI app written as the FastAPI docs write it, served unmodified by `fasterapi run`
(tests/integration/test_real_fastapi.py): the rows of the serve-the-real-FastAPI issue."""

from __future__ import annotations

import asyncio
import os
import time

from fastapi import FastAPI, File, Request, UploadFile
from fastapi.responses import StreamingResponse
from starlette.middleware.gzip import GZipMiddleware

app = FastAPI()


@app.get("/block")
def block() -> dict[str, float]:
    time.sleep(0.5)  # a sync database driver
    return {"slept": 0.5}


async def _loop_thread() -> int:
    import threading

    return threading.get_ident()


@app.get("/from-thread")
def from_thread() -> dict[str, int]:
    """A `def` endpoint calling back into the loop, as FastAPI's thread pool allows."""
    import threading

    import anyio.from_thread

    return {"loop": anyio.from_thread.run(_loop_thread), "worker": threading.get_ident()}


@app.get("/fast")
async def fast() -> dict[str, str]:
    return {"ok": "yes"}


@app.get("/boom")
async def boom() -> None:
    raise RuntimeError("unhandled")


@app.post("/upload")
async def upload(file: UploadFile = File(...)) -> dict[str, int]:
    size = 0
    while chunk := await file.read(1 << 20):
        size += len(chunk)
    return {"size": size}


@app.post("/stream")
async def stream(request: Request) -> dict[str, int]:
    chunks = size = 0
    async for chunk in request.stream():
        chunks += 1
        size += len(chunk)
    return {"chunks": chunks, "size": size}


@app.get("/memory")
def memory() -> dict[str, int]:
    """This worker's peak resident memory (VmHWM, kB)."""
    with open(f"/proc/{os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return {"hwm_kb": int(line.split()[1])}
    return {"hwm_kb": -1}


async def events(n: int, gap: float):  # type: ignore[no-untyped-def]
    for i in range(n):
        yield f"data: {i} {time.monotonic()}\n\n"
        await asyncio.sleep(gap)


@app.get("/sse")
async def sse() -> StreamingResponse:
    return StreamingResponse(events(5, 0.2), media_type="text/event-stream")


@app.get("/chunks")
async def chunks() -> StreamingResponse:
    return StreamingResponse(events(5, 0.2), media_type="text/plain")


# The three kinds of middleware: the docs' timing middleware (BaseHTTPMiddleware), GZip, pure ASGI.
timed = FastAPI()
timed.add_api_route("/sse", sse)
timed.add_api_route("/chunks", chunks)


@timed.middleware("http")
async def add_process_time_header(request: Request, call_next):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    response = await call_next(request)
    response.headers["X-Process-Time"] = str(time.perf_counter() - start)
    return response


gzipped = FastAPI()
gzipped.add_api_route("/sse", sse)
gzipped.add_api_route("/chunks", chunks)
gzipped.add_middleware(GZipMiddleware, minimum_size=10)


class PassThrough:
    def __init__(self, app):  # type: ignore[no-untyped-def]
        self.app = app

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        await self.app(scope, receive, send)


pure = FastAPI()
pure.add_api_route("/sse", sse)
pure.add_api_route("/chunks", chunks)
pure.add_middleware(PassThrough)
