"""A Starlette app (no FastAPI, so no pydantic-core): it imports in sub-interpreters. Each answer
says which process, thread and interpreter served it; /meet blocks its loop until the test lets
two handlers go at once (tests/integration/test_loop_threads.py)."""

from __future__ import annotations

import os
import socket
import sys
import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def interpreter_id() -> int:
    try:
        import _interpreters as api  # type: ignore[import-not-found, unused-ignore]  # 3.13+
    except ImportError:
        try:
            import _xxsubinterpreters as api  # type: ignore[import-not-found, unused-ignore]  # 3.12
        except ImportError:
            return 0
    cur = api.get_current()
    return int(cur[0] if isinstance(cur, tuple) else cur)


def where() -> dict[str, Any]:
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    return {"pid": os.getpid(), "thread": threading.get_ident(), "interpreter": interpreter_id(), "gil": gil}


def meet(port: int) -> dict[str, Any]:
    """Tell the test we are here, then block this loop until it answers (it answers only when a
    second handler, on another loop, is here too)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"h")
        s.recv(1)
    return where()


async def who(request: Request) -> JSONResponse:
    return JSONResponse(where())


async def meet_route(request: Request) -> JSONResponse:
    return JSONResponse(meet(int(request.query_params["port"])))


async def json_route(request: Request) -> JSONResponse:
    return JSONResponse({"message": "Hello, World!"})


app = Starlette(routes=[Route("/who", who), Route("/meet", meet_route), Route("/json", json_route)])
