"""Plain `def` endpoints of compiled routes run where FastAPI runs them (the thread pool), unless
opted in to the loop thread: `--def-inline` for the app, `@fasterapi.inline` for one function."""

from __future__ import annotations

import asyncio
import json
import threading

from fastapi import Depends, FastAPI

import fasterapi
from fasterapi._asgi_server import ScopeMaker
from fasterapi._engine import build_engine


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/pool")
    def pool() -> dict[str, int]:
        return {"thread": threading.get_ident()}

    @fasterapi.inline
    def dep() -> int:
        return threading.get_ident()

    @app.get("/marked")
    @fasterapi.inline
    def marked(dep_thread: int = Depends(dep)) -> dict[str, int]:
        return {"thread": threading.get_ident(), "dep": dep_thread}

    return app


async def _get(engine: object, path: str) -> dict[str, int]:
    conn = engine.connection(("t", 1))  # type: ignore[attr-defined]
    done = asyncio.get_running_loop().create_future()
    conn.waiter = lambda: done.done() or done.set_result(None)
    conn.feed(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    out = conn.read()
    while not out.endswith(b"}"):
        await done
        done = asyncio.get_running_loop().create_future()
        out += conn.read()
    return json.loads(out.split(b"\r\n\r\n", 1)[1])  # type: ignore[no-any-return]


def _serve(def_inline: bool) -> tuple[int, dict[str, int], dict[str, int]]:
    engine, _handler, reports = build_engine(make_app(), ScopeMaker(), None, def_inline)
    assert all(r.compiled for r in reports if r.path in ("/pool", "/marked"))

    async def main() -> tuple[int, dict[str, int], dict[str, int]]:
        return threading.get_ident(), await _get(engine, "/pool"), await _get(engine, "/marked")

    return asyncio.run(main())


def test_def_runs_on_the_thread_pool_by_default_and_marked_functions_inline() -> None:
    loop_thread, pool, marked = _serve(def_inline=False)
    assert pool["thread"] != loop_thread  # FastAPI's rule: run_in_threadpool
    assert marked["thread"] == loop_thread and marked["dep"] == loop_thread


def test_def_inline_runs_every_def_on_the_loop_thread() -> None:
    loop_thread, pool, marked = _serve(def_inline=True)
    assert pool["thread"] == loop_thread
    assert marked["thread"] == loop_thread
