"""In-process cost per request: raw request bytes in, response bytes out, no socket.

    taskset -c 0 python benchmarks/inprocess.py [--iterations 200000] [--loop-iterations 20000]

The engine is built for benchmarks/bench_app.py as `fasterapi run` builds it
(`fasterapi._engine.build_engine(app, ScopeMaker())`: compiled routes as native plans, the rest
through the app's ASGI interface). Two ways to drive one in-memory engine connection:

- `bench_cpu`: `_core.bench_cpu(engine, request, n)`, a C++ loop timed with the thread's CPU clock,
  batches of 1,000, median. It needs requests that complete synchronously, without an event loop:
  only compiled `async def` routes do (their coroutine is stepped inline and finishes at once), and
  compiled `def` routes under `--def-inline` (called on the loop thread). A compiled `def` route by
  default (FastAPI's thread pool, `run_in_threadpool`) and anything on the ASGI path need the loop.
- `loop`: the same connection fed from a coroutine on an asyncio loop, the engine configured as
  `fasterapi run` serves (async handlers in a parked worker task from their first step, which the
  engine takes: `engine.task_starter`, `engine.task_hooks`; `--python-step`: by `_runtime.start_task`);
  a request that does not finish at once is awaited. Process CPU time (thread-pool threads
  included) per request, batches of 1,000, median. This covers every path, compiled and ASGI; it
  adds the Python feeding loop (~1-2 µs) to each figure.

Each response is checked (status 200) before it is timed.

`bench_cpu` exists only in the bench build of `_core` (CMake option FASTERAPI_BENCH, off for the
module users install; benchmarks/README.md "The bench build"):

    cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DFASTERAPI_BENCH=ON
    cmake --build build/bench -j2 --target _core
    cp build/bench/_core*.so src/fasterapi/    # or into a copy of the package on PYTHONPATH
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

from fasterapi import _core, _runtime  # noqa: E402
from fasterapi._asgi_server import ScopeMaker  # noqa: E402
from fasterapi._engine import build_engine  # noqa: E402

if not hasattr(_core, "bench_cpu"):
    sys.exit("benchmarks/inprocess.py needs the bench build of fasterapi._core (FASTERAPI_BENCH=ON): "
             "see this file's docstring or benchmarks/README.md 'The bench build'")

NATIVE_STEP = True  # --python-step: async first steps through _runtime.start_task (before 2026-12-06)
ENTER_CALLS = False  # --enter-calls: the engine calls asyncio's _enter_task/_leave_task (before 2026-12-06 03:50)
POST_BODY = b'{"name":"widget","price":9.5,"tags":["a","b"]}'
REQUESTS = {
    "GET /plaintext": b"GET /plaintext HTTP/1.1\r\nHost: bench\r\n\r\n",
    "GET /json": b"GET /json HTTP/1.1\r\nHost: bench\r\n\r\n",
    "GET /items/123?q=abc": b"GET /items/123?q=abc HTTP/1.1\r\nHost: bench\r\n\r\n",
    "POST /items (pydantic)": b"POST /items HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(POST_BODY)).encode() + b"\r\n\r\n" + POST_BODY,
}


def load_bench_app(middleware: bool) -> Any:
    """benchmarks/bench_app.py as a fresh module, with BENCH_MIDDLEWARE=asgi or without."""
    name = "bench_app_asgi_mw" if middleware else "bench_app_direct"
    saved = os.environ.pop("BENCH_MIDDLEWARE", None)
    if middleware:
        os.environ["BENCH_MIDDLEWARE"] = "asgi"
    try:
        spec = importlib.util.spec_from_file_location(name, HERE / "bench_app.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        os.environ.pop("BENCH_MIDDLEWARE", None)
        if saved is not None:
            os.environ["BENCH_MIDDLEWARE"] = saved
    return module


def engine_for(app: Any, def_inline: bool = False) -> tuple[Any, Any, list[Any]]:
    """As `fasterapi run` builds it (`--def-inline`: compiled `def` endpoints on the loop thread)."""
    if def_inline:
        return build_engine(app, ScopeMaker(), None, def_inline=True)
    return build_engine(app, ScopeMaker())


def paths_of(app: Any) -> dict[str, str]:
    """route path -> 'compiled' or 'ASGI'"""
    _engine, _handler, reports = engine_for(app)
    return {r.path: "compiled" if r.compiled else "ASGI" for r in reports}


def route_of(request: str) -> str:
    path = request.split()[1]
    return "/items/{item_id}" if path.startswith("/items/") else path


def sync_status(engine: Any, raw: bytes) -> bytes:
    """The status line the engine answers with, without an event loop (b'' if it did not finish)."""
    conn = engine.connection(("127.0.0.1", 5000))
    conn.feed(raw)
    out = conn.read()
    return b"" if conn.pending else out.split(b"\r\n", 1)[0]


def bench_cpu(app: Any, raw: bytes, n: int, def_inline: bool = False, ok: bytes = b"HTTP/1.1 200 OK") -> float | None:
    engine, _handler, _reports = engine_for(app, def_inline)
    if not sync_status(engine, raw).startswith(ok):
        return None
    return statistics.median(_core.bench_cpu(engine, raw, n))


async def _loop_bench(app: Any, raw: bytes, n: int, def_inline: bool = False, batch: int = 1000) -> list[float]:
    engine, handler, _reports = engine_for(app, def_inline)
    engine.task_starter = _runtime.start_task  # as `fasterapi run` (no --inline-async)
    if NATIVE_STEP:  # as served: the first step taken by the engine (else by _runtime.start_task)
        hooks = _runtime.task_hooks(asyncio.get_running_loop())
        engine.task_hooks = hooks[:6] if ENTER_CALLS and hooks else hooks
    conn = engine.connection(("127.0.0.1", 5000))
    loop = asyncio.get_running_loop()
    st: dict[str, Any] = {"left": 0, "done": None, "out": b"", "bad": None}

    # Requests are fed from plain loop callbacks, as the server's poll() runs from add_reader (in
    # no asyncio task); a pending response's completion wakes `resume` one loop turn later, as the
    # next request on a socket would arrive through epoll.
    def finish_one(out: bytes) -> None:
        if not out.startswith(b"HTTP/1.1 20"):
            st["bad"] = out[:300]
        st["left"] -= 1

    def pump() -> None:
        while st["left"] > 0 and st["bad"] is None:
            conn.feed(raw)
            out = conn.read()
            if conn.pending:
                st["out"] = out
                return
            finish_one(out)
        if not st["done"].done():
            st["done"].set_result(None)

    def resume() -> None:
        out = st["out"] + conn.read()
        if conn.pending:
            st["out"] = out
            return
        finish_one(out)
        pump()

    conn.waiter = lambda: loop.call_soon(resume)

    async def run(k: int) -> None:
        st["left"], st["done"] = k, loop.create_future()
        loop.call_soon(pump)
        await st["done"]
        if st["bad"] is not None:
            raise RuntimeError(st["bad"])

    await run(200)  # warm-up, and the check
    samples = []
    for _ in range(0, n, batch):
        t0 = time.process_time_ns()
        await run(batch)
        samples.append((time.process_time_ns() - t0) / batch)
    _runtime.close_workers(loop)
    await handler.drain(1.0)
    return samples


def loop_bench(app: Any, raw: bytes, n: int, def_inline: bool = False) -> float:
    return statistics.median(asyncio.run(_loop_bench(app, raw, n, def_inline)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=200_000, help="per bench_cpu figure")
    ap.add_argument("--loop-iterations", type=int, default=20_000, help="per loop-driven figure")
    ap.add_argument("--python-step", action="store_true",
                    help="loop columns: async first steps by _runtime.start_task, not by the engine")
    ap.add_argument("--enter-calls", action="store_true",
                    help="loop columns: the engine calls asyncio's _enter_task/_leave_task instead of "
                         "editing its current-task dict itself")
    args = ap.parse_args()
    global NATIVE_STEP, ENTER_CALLS
    NATIVE_STEP = not args.python_step
    ENTER_CALLS = args.enter_calls
    direct, mw = load_bench_app(False), load_bench_app(True)
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
    cols = [
        ("async, bench_cpu", direct.app_async, "cpu"),
        ("async, loop", direct.app_async, "loop"),
        ("async + ASGI middleware, loop", mw.app_async, "loop"),
        ("def, loop", direct.app_sync, "loop"),
        ("def --def-inline, bench_cpu", direct.app_sync, "cpu-inline"),
        ("def --def-inline, loop", direct.app_sync, "loop-inline"),
        ("def + ASGI middleware, loop", mw.app_sync, "loop"),
    ]
    paths = {id(app): paths_of(app) for _n, app, _k in cols}
    rows: dict[str, list[str]] = {}
    for req, raw in REQUESTS.items():
        cells = []
        for _col, app, kind in cols:
            path = paths[id(app)].get(route_of(req), "?")
            inline = kind.endswith("-inline")
            if kind.startswith("cpu"):
                ns = bench_cpu(app, raw, args.iterations, inline)
                cells.append("needs the loop" if ns is None else f"{ns / 1000:,.2f} ({path})")
            else:
                ns = loop_bench(app, raw, args.loop_iterations, inline)
                cells.append(f"{ns / 1000:,.2f} ({path})")
            print(f"{req:24} {_col:32} {cells[-1]}", file=sys.stderr)
        rows[req] = cells
    finished = datetime.datetime.now(datetime.UTC).strftime("%H:%M:%S")
    print(f"\nin-process, CPU-µs per request (path taken), median of batches of 1,000: bench_cpu "
          f"{args.iterations:,} requests, loop {args.loop_iterations:,} requests per figure; "
          f"Python {sys.version.split()[0]}, {started} – {finished} UTC\n")
    print("| request | " + " | ".join(c for c, _a, _k in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for req, cells in rows.items():
        print(f"| {req} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
