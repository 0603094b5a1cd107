"""The engine for an ASGI app: a FastAPI app's compilable routes as native plans (fasterapi.compiler),
every other request through the app's ASGI interface (fasterapi._asgi_server). Imported by the
server, the CLI and the TestClient; it imports both sides, so neither imports the other back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from typing import Any

from . import _core
from ._asgi_server import DEFAULT_MAX_BODY, ASGIApp, AsgiHttp, ScopeMaker, Wire, internal_error
from ._asgi_ws import make_websocket_handler

logger = logging.getLogger("fasterapi.error")


def _log_unhandled(req: Any, exc: BaseException) -> Wire:
    logger.error("Exception in request handler", exc_info=exc)
    return internal_error()


def build_engine(
    app: ASGIApp, scope_maker: ScopeMaker, limits: dict[str, int] | None = None, def_inline: bool = False
) -> tuple[Any, AsgiHttp, list[Any]]:
    """An engine for `app`: a FastAPI app's compilable routes as native plans (fasterapi.compiler),
    every other request through the app's ASGI interface. Returns the engine, the ASGI handler and
    the compiler's report per route. An app in an interpreter where FastAPI is not imported (a
    Starlette or plain ASGI app in a sub-interpreter: pydantic-core cannot load there) has no
    route to compile: every request goes through its ASGI interface."""
    if "fastapi" not in sys.modules:
        return _asgi_engine(app, scope_maker, limits)
    from .compiler import COMPILED_BODY_BUFFER, AppErrors, CompileOptions, LoopRef, compile_app, json_default

    wire = Wire.for_engine(scope_maker)
    handler = AsgiHttp(app, scope_maker, wire)
    errors = AppErrors(app, scope_maker, wire) if hasattr(app, "exception_handlers") else _log_unhandled  # type: ignore[arg-type]
    engine = _core.Engine(handler, wire, json_default, errors, {"max_body": DEFAULT_MAX_BODY, **(limits or {})})
    engine.stream_bodies = True
    engine.websocket_handler = make_websocket_handler(app, make_scope=lambda req: scope_maker(req, "websocket"))
    loop_ref = LoopRef()
    with contextlib.suppress(RuntimeError):  # built outside a loop: set by the caller that drives it
        asyncio.get_running_loop()
        loop_ref.update()
    handler.loop_ref = loop_ref
    options = CompileOptions(
        scope_maker.root_path, wire, min(COMPILED_BODY_BUFFER, engine.max_body), def_inline, loop_ref
    )
    reports = compile_app(app, engine, _core, handler, options)
    return engine, handler, reports


def _no_json_default(obj: Any) -> Any:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _asgi_engine(
    app: ASGIApp, scope_maker: ScopeMaker, limits: dict[str, int] | None
) -> tuple[Any, AsgiHttp, list[Any]]:
    wire = Wire.for_engine(scope_maker)
    handler = AsgiHttp(app, scope_maker, wire)
    engine = _core.Engine(
        handler, wire, _no_json_default, _log_unhandled, {"max_body": DEFAULT_MAX_BODY, **(limits or {})}
    )
    engine.stream_bodies = True
    engine.websocket_handler = make_websocket_handler(app, make_scope=lambda req: scope_maker(req, "websocket"))
    return engine, handler, []
