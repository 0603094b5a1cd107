"""FasterAPI: a native server and route compiler for real FastAPI applications.

`fasterapi run main:app` serves an unmodified `fastapi.FastAPI` app on the C++ engine: the routes
the engine can reproduce exactly are compiled into native plans at startup, everything else runs
through the app's own ASGI interface (fasterapi.compiler, fasterapi._asgi_server).

For people who changed the import: `from fasterapi import FastAPI, Depends, ...` gives FastAPI's
own objects, and `fasterapi.responses`, `fasterapi.routing`, ... are FastAPI's modules themselves
(`fasterapi.responses is fastapi.responses`). What is ours: `FasterAPI` (a `fastapi.FastAPI`
subclass that adds `run()`), `fasterapi.testclient.TestClient` (Starlette's, served by the
engine), the pytest plugin and the CLI.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import types
from typing import Any

import fastapi as _fastapi
from fastapi import (  # noqa: F401 - re-exported
    APIRouter as APIRouter,
)
from fastapi import (
    BackgroundTasks as BackgroundTasks,
)
from fastapi import (
    Body as Body,
)
from fastapi import (
    Cookie as Cookie,
)
from fastapi import (
    Depends as Depends,
)
from fastapi import (
    File as File,
)
from fastapi import (
    Form as Form,
)
from fastapi import (
    Header as Header,
)
from fastapi import (
    HTTPException as HTTPException,
)
from fastapi import (
    Path as Path,
)
from fastapi import (
    Query as Query,
)
from fastapi import (
    Request as Request,
)
from fastapi import (
    Response as Response,
)
from fastapi import (
    Security as Security,
)
from fastapi import (
    UploadFile as UploadFile,
)
from fastapi import (
    WebSocket as WebSocket,
)
from fastapi import (
    WebSocketDisconnect as WebSocketDisconnect,
)
from fastapi import (
    WebSocketException as WebSocketException,
)
from fastapi import (
    status as status,
)

__version__ = "0.2.0"

# FastAPI's submodules, reachable under our name as the same module objects.
_FASTAPI_MODULES = frozenset(
    {
        "applications",
        "background",
        "concurrency",
        "datastructures",
        "dependencies",
        "encoders",
        "exception_handlers",
        "exceptions",
        "logger",
        "middleware",
        "openapi",
        "param_functions",
        "params",
        "requests",
        "responses",
        "routing",
        "security",
        "sse",
        "staticfiles",
        "status",
        "templating",
        "types",
        "utils",
        "websockets",
    }
)


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: types.ModuleType) -> None:
        return None


class _FastAPIAliases(importlib.abc.MetaPathFinder):
    """`fasterapi.X[.Y]` for FastAPI's submodule X is `fastapi.X[.Y]` itself."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        parts = fullname.split(".")
        if len(parts) < 2 or parts[0] != __name__ or parts[1] not in _FASTAPI_MODULES:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader("fastapi." + ".".join(parts[1:])))


if not any(isinstance(f, _FastAPIAliases) for f in sys.meta_path):
    sys.meta_path.insert(0, _FastAPIAliases())


class FasterAPI(_fastapi.FastAPI):
    """`fastapi.FastAPI`, plus `run()`: the same app, served by the engine when run with
    `fasterapi run` or `app.run()` (and by uvicorn or any ASGI server as FastAPI is)."""

    def run(self, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
        """Serve this app on the engine (options: fasterapi.server.Config's fields)."""
        _serve(self, host, port, **options)


FastAPI = FasterAPI

from .compiler import inline as inline  # noqa: E402 - after the aliases: it imports fastapi's modules
from .server import run as _serve  # noqa: E402 - the same


def get_include() -> str:
    """The directory holding fasterapi_native.h, for building native route handlers."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "include")


def __getattr__(name: str) -> Any:
    if name in _FASTAPI_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "APIRouter",
    "BackgroundTasks",
    "Body",
    "Cookie",
    "Depends",
    "FastAPI",
    "FasterAPI",
    "File",
    "Form",
    "HTTPException",
    "Header",
    "Path",
    "Query",
    "Request",
    "Response",
    "Security",
    "UploadFile",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketException",
    "status",
]
