"""fasterapi._core inside sub-interpreters.

The interpreters module differs by version: `_xxsubinterpreters` on 3.11 and 3.12, `_interpreters` on
3.13 (the same low-level module, renamed; `exec` returns the failure instead of raising), the public
`concurrent.interpreters` on 3.14+. Each is used where it is the one the version has; a sub-interpreter
reports back through a file (the channel modules moved between versions too). On 3.12+ each
sub-interpreter has its own GIL (the default config of each module's `create`).

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

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fasterapi
from fasterapi import _core

PKG = str(Path(fasterapi.__file__).resolve().parent)

pytestmark = pytest.mark.skipif(sys.implementation.name != "cpython", reason="sub-interpreters are CPython's")

SCRIPT = textwrap.dedent(
    """
    import sys, types, asyncio, threading
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
    # fasterapi.compiler.Plan needs pydantic, which refuses sub-interpreters: the engine reads a
    # plan by attribute name, so a namespace with the same attributes stands in for it here.
    def plan(call, params):
        return types.SimpleNamespace(call=call, is_async=False, status=200, params=params, body=None, guard=None,
                                     json_bytes=False, wants_request=False, text=None)

    def param(name, source, kind, default):
        return types.SimpleNamespace(name=name, source=source, kind=kind, default=default, key=None)

    e.add_route(["GET"], "/fast/{name}", slow, plan(fast, (param("name", "path", "str", req), param("n", "query", "int", 1))))
    e.add_route(["GET"], "/block/{x}", slow, plan(blocking, (param("x", "path", "int", req),)))
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
    with open(OUT, "wb") as f:
        f.write(b"\\0".join(outs) + b"\\1")
        f.write(repr((id(_core.Engine), id(_core.REQUIRED), e.pool_stats["threads"])).encode())
    del e
    """
)


def run_code(code: str) -> None:
    """Runs `code` in a new sub-interpreter, raising if it fails."""
    if sys.version_info >= (3, 14):
        from concurrent import interpreters

        interp = interpreters.create()
        try:
            interp.exec(code)  # raises interpreters.ExecutionFailed
        finally:
            interp.close()
    elif sys.version_info >= (3, 13):
        import _interpreters

        iid = _interpreters.create()
        try:
            failure = _interpreters.exec(iid, code)
            if failure is not None:
                raise RuntimeError(f"sub-interpreter failed: {failure}")
        finally:
            _interpreters.destroy(iid)
    else:
        import _xxsubinterpreters

        iid = _xxsubinterpreters.create()
        try:
            _xxsubinterpreters.run_string(iid, code)  # raises RunFailedError
        finally:
            _xxsubinterpreters.destroy(iid)


TAGS = ("first", "second")


def run_in_subinterpreters(out: Path) -> tuple[dict[str, bytes], tuple[int, int]]:
    """Runs SCRIPT in a sub-interpreter per tag of a child process (see `main`): what each wrote, and
    the ids of the child's main-interpreter Engine type and REQUIRED sentinel."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(PKG).parent), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.run([sys.executable, __file__, str(out)], capture_output=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    main_engine, main_required = (out / "main.ids").read_text().split()
    return {tag: (out / f"{tag}.out").read_bytes() for tag in TAGS}, (int(main_engine), int(main_required))


def main(out: Path) -> None:
    """The child process: SCRIPT in a new sub-interpreter per tag, one after the other.

    CPython 3.12.1 aborts at finalization ("free(): invalid pointer") after asyncio has run in any
    sub-interpreter, isolated or not, with no FasterAPI involved (`asyncio.run(asyncio.sleep(0))` in
    `_xxsubinterpreters.run_string` is enough; 3.11, 3.13, 3.14 do not): on 3.12 the child ends with
    os._exit once its results are written, skipping the finalization that would crash it.
    """
    for tag in TAGS:
        run_code(f"PKG = {PKG!r}\nTAG = {tag!r}\nOUT = {str(out / f'{tag}.out')!r}\n" + SCRIPT)
    (out / "main.ids").write_text(f"{id(_core.Engine)} {id(_core.REQUIRED)}")
    if sys.version_info[:2] == (3, 12):
        os._exit(0)


def body(raw: bytes) -> bytes:
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), raw
    return rest


def test_core_serves_requests_inside_subinterpreters(tmp_path: Path) -> None:
    import json

    results, main_ids = run_in_subinterpreters(tmp_path)
    for tag in TAGS:  # two interpreters, one after the other, each with its own module
        raw, _, ids = results[tag].rpartition(b"\1")
        outs = raw.split(b"\0")
        engine_type_id, required_id, threads = eval(ids.decode())  # noqa: S307 - our own repr of ints
        assert json.loads(body(outs[0])) == {"where": "python path", "name": "a b", "tag": tag}
        assert json.loads(body(outs[1])) == {"where": "fast path", "name": "zed", "n": 7, "tag": tag}
        assert json.loads(body(outs[2])) == {"where": "pool", "x": 41, "main": False, "tag": tag}
        assert json.loads(body(outs[3])) == {"where": "app_handler", "path": "/nowhere"}
        assert threads == 2
        # Its own heap types and sentinel, not the main interpreter's.
        assert engine_type_id != main_ids[0]
        assert required_id != main_ids[1]
    assert sys.version_info >= (3, 11)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
