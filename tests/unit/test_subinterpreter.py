"""fasterapi._core inside sub-interpreters (Python 3.11: `_xxsubinterpreters`).

The module uses multi-phase init, per-module state and heap types only (no static PyObject*), so
each interpreter gets its own copy: its own types, its own REQUIRED sentinel, its own engines. Here
a bare `_core.Engine` with tiny handlers serves requests through an in-memory connection inside a
sub-interpreter -- the Python path, the native fast path and a blocking route on the engine's
native pool (worker threads with thread states of that interpreter) -- and reports back through a
channel. No FasterAPI app is involved: the `fasterapi` package imports pydantic, whose compiled core
refuses sub-interpreters, so the sub-interpreter gets an empty `fasterapi` package object and loads
just `_core` and `_runtime` from it.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

interpreters = pytest.importorskip("_xxsubinterpreters")

import fasterapi
from fasterapi import _core

PKG = str(Path(fasterapi.__file__).resolve().parent)

SCRIPT = textwrap.dedent(
    """
    import sys, types, asyncio, threading
    import _xxsubinterpreters as interpreters
    pkg = types.ModuleType("fasterapi")
    pkg.__path__ = [PKG]
    sys.modules["fasterapi"] = pkg
    from fasterapi import _core

    class Resp:  # the engine's response type (no instance is returned here)
        pass

    def app_handler(req):
        return {"where": "app_handler", "path": req.path}

    def slow(req):
        return {"where": "python path", "name": req.path_params["name"], "tag": TAG}

    def fast(name: str, n: int = 1):
        return {"where": "fast path", "name": name, "n": n, "tag": TAG}

    def blocking(x: int):
        return {"where": "pool", "x": x, "main": threading.current_thread() is threading.main_thread(), "tag": TAG}

    e = _core.Engine(app_handler, Resp, None, None)
    e.add_route(["GET"], "/slow/{name}", slow)
    req = _core.REQUIRED
    e.add_route(["GET"], "/fast/{name}", slow,
                (fast, False, 200, (("name", "path", "str", req, None), ("n", "query", "int", 1, None)), None))
    e.add_route(["GET"], "/block/{x}", slow, (blocking, False, 200, (("x", "path", "int", req, None),), None))
    e.set_blocking(e.route_count - 1)
    e.blocking_threads = 2

    async def exchange(raw):
        conn = e.connection()
        done = asyncio.get_running_loop().create_future()
        conn.waiter = lambda: done.done() or done.set_result(None)
        conn.feed(raw)
        out = conn.read()
        while conn.pending:
            await done
            done = asyncio.get_running_loop().create_future()
            out += conn.read()
        return out

    async def main():
        outs = []
        for path in (b"/slow/a%20b", b"/fast/zed?n=7", b"/block/41", b"/nowhere"):
            outs.append(await exchange(b"GET " + path + b" HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"))
        return outs

    outs = asyncio.run(main())
    interpreters.channel_send(CHANNEL, b"\\0".join(outs))
    interpreters.channel_send(CHANNEL, repr((id(_core.Engine), id(_core.REQUIRED), e.pool_stats["threads"])).encode())
    del e
    """
)


def run_in_subinterpreter(tag: str) -> tuple[list[bytes], tuple[int, int, int]]:
    interp = interpreters.create()
    channel = interpreters.channel_create()
    try:
        code = f"PKG = {PKG!r}\nTAG = {tag!r}\nCHANNEL = {int(channel)}\n" + SCRIPT
        interpreters.run_string(interp, code)
        outs = interpreters.channel_recv(channel).split(b"\0")
        ids = eval(interpreters.channel_recv(channel).decode())  # noqa: S307 - our own repr of ints
    finally:
        interpreters.destroy(interp)
    return outs, ids


def body(raw: bytes) -> bytes:
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), raw
    return rest


def test_core_serves_requests_inside_subinterpreters() -> None:
    import json

    for tag in ("first", "second"):  # two interpreters, one after the other, each with its own module
        outs, (engine_type_id, required_id, threads) = run_in_subinterpreter(tag)
        assert json.loads(body(outs[0])) == {"where": "python path", "name": "a b", "tag": tag}
        assert json.loads(body(outs[1])) == {"where": "fast path", "name": "zed", "n": 7, "tag": tag}
        assert json.loads(body(outs[2])) == {"where": "pool", "x": 41, "main": False, "tag": tag}
        assert json.loads(body(outs[3])) == {"where": "app_handler", "path": "/nowhere"}
        assert threads == 2
        # Its own heap types and sentinel, not the main interpreter's.
        assert engine_type_id != id(_core.Engine)
        assert required_id != id(_core.REQUIRED)
    assert sys.version_info >= (3, 11)
