"""The apps of benchmarks/loop_threads.py: GET /json, POST /items (a validated body, echoed) and
GET /cpu, an `async def` that burns 1 ms of pure-Python CPU on its loop (calibrated at import on
the interpreter that serves it; no `from __future__ import annotations`: the
model is local to a function). `app`: FastAPI; `starlette_app`: the same three routes in plain
Starlette (no pydantic-core: it imports in sub-interpreters)."""

import json
import os
import time
from typing import Any


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def _calibrate() -> int:
    """Iterations of _spin per ms: the fastest of 10 runs of ~20 ms (other processes on the
    machine only ever make a run slower)."""
    n = 1000
    while True:
        t0 = time.perf_counter()
        _spin(n)
        if time.perf_counter() - t0 > 0.02:
            break
        n *= 2
    best = min(_timed(n) for _ in range(10))
    return max(1, int(n * 0.001 / best))


def _timed(n: int) -> float:
    t0 = time.perf_counter()
    _spin(n)
    return time.perf_counter() - t0


# benchmarks/loop_threads.py calibrates once and gives every server it starts the same count
SPIN_1MS = int(os.environ.get("FASTERAPI_BENCH_SPIN", "0")) or _calibrate()


def _fastapi_app() -> Any:
    from fastapi import FastAPI
    from pydantic import BaseModel

    app = FastAPI()

    class Item(BaseModel):
        name: str
        price: float
        tags: list[str] = []

    @app.get("/json")
    async def hello() -> dict[str, str]:
        return {"message": "Hello, World!"}

    @app.post("/items")
    async def create_item(item: Item) -> Item:
        return item

    @app.get("/cpu")
    async def cpu() -> dict[str, int]:
        return {"total": _spin(SPIN_1MS)}

    return app


def _starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"message": "Hello, World!"})

    async def create_item(request: Request) -> JSONResponse:
        item = json.loads(await request.body())
        if not isinstance(item.get("name"), str) or not isinstance(item.get("price"), (int, float)):
            return JSONResponse({"detail": "invalid item"}, status_code=422)
        return JSONResponse({"name": item["name"], "price": float(item["price"]), "tags": list(item.get("tags", []))})

    async def cpu(request: Request) -> JSONResponse:
        return JSONResponse({"total": _spin(SPIN_1MS)})

    return Starlette(routes=[Route("/json", hello), Route("/items", create_item, methods=["POST"]), Route("/cpu", cpu)])


def __getattr__(name: str) -> Any:  # each app built on first use: the Starlette one never imports FastAPI
    if name == "app":
        return _fastapi_app()
    if name == "starlette_app":
        return _starlette_app()
    raise AttributeError(name)
