"""Loop threads in sub-interpreters (CPython 3.12+ with the GIL: a GIL per interpreter).

`--loop-threads N` on a GIL build runs loop 0 in the main interpreter and loops 1..N-1 each in a
sub-interpreter of its own (created "isolated": its own GIL), on its own thread, when the app
imports there: every extension module it loads must declare per-interpreter GIL support
(Py_mod_multiple_interpreters), as `fasterapi._core` does. pydantic-core does not (so no FastAPI
app does today); a plain ASGI or Starlette app does. The sub-interpreter imports the modules of
the engine, not the `fasterapi` package (whose `__init__` imports FastAPI), then the app by its
reference, and serves on a duplicate of its loop's listening socket; a byte on the stop pipe
drains it as SIGTERM does.

The API differs by version: 3.12 `_xxsubinterpreters` (create(isolated=True), run_string),
3.13 `_interpreters` (create("isolated"), exec -> None or the exception's snapshot), 3.14
`concurrent.interpreters` (create(), Interpreter.exec raising ExecutionFailed)."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import Config

PKG = os.path.dirname(os.path.abspath(__file__))

_BOOT = """\
import logging, os, socket, sys, types
FD = {fd!r}
sys.path[:] = {path!r}
if "fasterapi" not in sys.modules:  # the engine's modules without the package's __init__ (FastAPI)
    _pkg = types.ModuleType("fasterapi")
    _pkg.__path__ = [{pkg!r}]
    sys.modules["fasterapi"] = _pkg
if FD is None:  # the probe: only whether the app imports (its error is returned, one line)
    import io
    sys.stderr = io.StringIO()
logging.basicConfig(level={level!r}, format={fmt!r}, stream=sys.stderr)
from fasterapi.cli import import_app
from fasterapi.server import Config, run_worker
config = Config(**{config!r})
app = import_app(config.app_ref or None, app_dir=config.app_dir, factory=config.app_factory)
if FD is not None:
    run_worker(app, config, socket.socket(fileno=os.dup(FD)), stop_fd={stop!r}, label={label!r})
"""


class LoopFailed(RuntimeError):
    """A loop in a sub-interpreter ended with an exception (its type and message)."""


_NO_SUBINTERP = re.compile(r"module (\S+) does not support loading in subinterpreters")


def _script(config: Config, fd: int | None, stop: int | None, label: str) -> str:
    root = logging.getLogger()
    fmt = "%(levelname)s: %(message)s"
    for h in root.handlers:
        if h.formatter is not None and h.formatter._fmt:
            fmt = h.formatter._fmt
            break
    return _BOOT.format(
        path=list(sys.path),
        pkg=PKG,
        level=root.level,
        fmt=fmt,
        config=dataclasses.asdict(config),
        fd=fd,
        stop=stop,
        label=label,
    )


def api_name() -> str:
    if sys.version_info >= (3, 14):
        return "concurrent.interpreters"
    return "_interpreters" if sys.version_info >= (3, 13) else "_xxsubinterpreters"


def run_in_new_interpreter(code: str) -> str | None:
    """Run `code` in a new isolated sub-interpreter (its own GIL) on this thread; destroy it.
    Returns None, or the uncaught exception as "Type: message"."""
    if sys.version_info >= (3, 14):
        from concurrent import interpreters  # type: ignore[import-not-found, unused-ignore]

        interp = interpreters.create()
        try:
            interp.exec(code)
        except interpreters.ExecutionFailed as exc:
            info = exc.excinfo
            return f"{info.type.__name__}: {info.msg}"
        finally:
            interp.close()
        return None
    if sys.version_info >= (3, 13):
        import _interpreters  # type: ignore[import-not-found, unused-ignore]

        iid = _interpreters.create("isolated")
        try:
            err = _interpreters.exec(iid, code)
        finally:
            _interpreters.destroy(iid)
        return None if err is None else f"{err.type.__name__}: {err.msg}"
    import _xxsubinterpreters  # type: ignore[import-not-found, unused-ignore]

    iid = _xxsubinterpreters.create(isolated=True)
    try:
        _xxsubinterpreters.run_string(iid, code)
    except _xxsubinterpreters.RunFailedError as exc:  # "<class 'ImportError'>: message"
        return re.sub(r"^<class '(?:[\w.]+\.)?(\w+)'>", r"\1", str(exc))
    finally:
        _xxsubinterpreters.destroy(iid)
    return None


def probe(config: Config) -> str | None:
    """Import the app in a sub-interpreter: None if it loads there, else why not, in one line
    (the extension module that does not support sub-interpreters, by name). Done in a forked child:
    what the import leaves behind (a failed one too) stays out of this process and its workers."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.close(r)
            why = _probe_here(config)
            os.write(w, b"ok" if why is None else why.encode(errors="replace"))
        except BaseException:  # noqa: BLE001 - whatever happens, the child leaves here
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        out = f.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if out == "ok":
        return None
    return out or f"the sub-interpreter probe failed (wait status {status})"


def _probe_here(config: Config) -> str | None:
    try:
        err = run_in_new_interpreter(_script(config, None, None, ""))
    except Exception as exc:  # noqa: BLE001 - creating the interpreter failed: say so, run processes
        err = f"{type(exc).__name__}: {exc}"
    if err is None:
        return None
    m = _NO_SUBINTERP.search(err)
    if m:
        return f"the app imports {m.group(1)}, which does not support sub-interpreters (per-interpreter GIL)"
    return f"the app does not import in a sub-interpreter ({err.splitlines()[0] if err else 'no message'})"


def run_loop(config: Config, fd: int, stop: int, label: str) -> None:
    """One socket loop in a new sub-interpreter, on this thread, until a byte on `stop`."""
    err = run_in_new_interpreter(_script(config, fd, stop, label))
    if err is not None:
        lines = [line.strip() for line in err.splitlines() if line.strip()]  # a traceback: its last line
        raise LoopFailed(f"{label.lstrip(', ')} (a sub-interpreter) failed: {lines[-1] if lines else err}")
