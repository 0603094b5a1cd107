"""In-process cost of a request through one pure ASGI middleware, vs none and vs request-style ones.

    PYTHONPATH=src python3 benchmarks/asgi_middleware.py [--iterations 100000]

Same route (`GET /items/123?q=abc`, fast-path eligible) in apps that differ only by their
middleware. Requests are fed through one in-memory engine connection on an asyncio loop (what
the TestClient does); a request whose handler really awaits is finished as a task and waited
for. Figures: median thread CPU ns per request over batches of 1,000 (the loop never sleeps:
every wait is already satisfied). A pure ASGI middleware's request always awaits (the task hop,
see fasterapi/_asgi_bridge.py), so `_core.bench_connection` (benchmarks/inprocess.py), which
needs requests that complete synchronously, cannot time it; the last column is the same app with
the hop turned off, i.e. the cost of the ASGI adaptation alone.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from typing import Any

from fasterapi import FastAPI, _asgi_bridge, _core
from fasterapi.datastructures import MutableHeaders

REQUEST = b"GET /items/123?q=abc HTTP/1.1\r\nHost: bench\r\n\r\n"


class PassThroughRequestStyle:
    """FasterAPI's own middleware protocol: (Request) -> Response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, request: Any) -> Any:
        return await self.app(request)


class PassThroughASGI:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class HeaderASGI:
    """The usual pure ASGI middleware: wraps send to add a response header."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("x-request-id", "abc")
            await send(message)

        await self.app(scope, receive, send_wrapper)


def make_app(middleware: list[type] | None = None, http_decorator: bool = False) -> FastAPI:
    app = FastAPI(openapi_url=None)

    @app.get("/items/{item_id}")
    def read_item(item_id: int, q: str | None = None):
        return {"item_id": item_id, "q": q}

    for cls in middleware or []:
        app.add_middleware(cls)
    if http_decorator:

        @app.middleware("http")
        async def passthrough(request: Any, call_next: Any) -> Any:
            return await call_next(request)

    return app


async def loop_bench(app: FastAPI, iterations: int, batch: int = 1000) -> list[float]:
    engine = app._build_engine()
    conn = engine.connection(client=("127.0.0.1", 5000))
    loop = asyncio.get_running_loop()
    state: dict[str, Any] = {"done": None}

    def wake() -> None:
        done = state["done"]
        if done is not None and not done.done():
            done.set_result(None)

    conn.waiter = wake
    samples = []
    for _ in range(0, iterations, batch):
        t0 = time.thread_time_ns()
        for _ in range(batch):
            conn.feed(REQUEST)
            out = conn.read()
            while conn.pending:
                state["done"] = loop.create_future()
                await state["done"]
                out += conn.read()
            if not out.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(out[:200])
        samples.append((time.thread_time_ns() - t0) / batch)
    return samples


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=100_000)
    args = ap.parse_args()
    n = args.iterations
    cases = [
        ("no middleware (native fast path)", make_app()),
        ("1 request-style middleware (Request -> Response)", make_app([PassThroughRequestStyle])),
        ('1 @app.middleware("http") (BaseHTTPMiddleware)', make_app(http_decorator=True)),
        ("1 pure ASGI middleware (pass-through)", make_app([PassThroughASGI])),
        ("1 pure ASGI middleware (adds a header on http.response.start)", make_app([HeaderASGI])),
        ("2 pure ASGI middleware (header + pass-through)", make_app([HeaderASGI, PassThroughASGI])),
    ]
    print(f"in-process, GET /items/123?q=abc, median of {n // 1000} batches of 1,000, Python {sys.version.split()[0]}\n")
    print("| app | CPU ns/request | without the task hop |")
    print("|---|---:|---:|")
    for name, app in cases:
        loop_ns = statistics.median(asyncio.run(loop_bench(app, n)))
        alone = ""
        if "ASGI" in name:
            # The ASGI adaptation alone: the request then completes in the engine's inline step.
            _asgi_bridge.TASK_HOP = False
            try:
                alone = f"{statistics.median(asyncio.run(loop_bench(app, n))):,.0f}"
            finally:
                _asgi_bridge.TASK_HOP = True
        print(f"| {name} | {loop_ns:,.0f} | {alone} |")
    engine = cases[0][1]._build_engine()
    ns = statistics.median(_core.bench_connection(engine, REQUEST, n))
    print(f"\n(no middleware through _core.bench_connection, wall clock: {ns:,.0f} ns/request)")

if __name__ == "__main__":
    main()
