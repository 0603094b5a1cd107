"""ASGI interoperability inside an app: pure ASGI middleware and mounted ASGI applications.

FasterAPI's own middleware stack passes `Request`/`Response` objects (`fasterapi.middleware.base`).
A pure ASGI middleware (`__call__(self, scope, receive, send)`) or a mounted ASGI app is run by
adapting at the boundary:

- `RequestAppAsASGI(inner)`: a request-style app (`async (Request) -> Response`) seen as an ASGI app.
  The scope it is called with (possibly modified by the middleware) becomes the Request's scope;
  the body is read through `receive` (possibly wrapped); the Response is sent as
  `http.response.start` + one `http.response.body`.
- `ASGIAsRequestApp(asgi)`: an ASGI app seen as a request-style app: the Request's scope is passed
  on, `receive` yields the request body (then waits for the response to finish and reports
  `http.disconnect`), and the messages sent are collected into one `Response` that the engine writes.
- `call_mounted_asgi(...)`: `app.mount("/sub", asgi_app)`: the child scope is the one Starlette's
  Mount builds (`root_path` = parent root_path + mount path, `path` the full path).

Consecutive ASGI middleware are chained directly (no conversion between them).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from .datastructures import State
from .requests import Request
from .responses import Response

__all__ = [
    "ASGIAsRequestApp",
    "RequestAppAsASGI",
    "build_middleware_stack",
    "call_mounted_asgi",
    "is_asgi_app",
    "is_asgi_middleware",
]

RequestApp = Callable[[Request], Awaitable[Response]]
ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]

# Response headers the engine writes itself (framing).
_ENGINE_HEADERS = (b"content-length", b"transfer-encoding")
_EMPTY_BODY_STATUS = frozenset({204, 304})


# ------------------------------------------------------------------------------------- detection


def _positional_count(func: Any) -> int | None:
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    count = 0
    for param in sig.parameters.values():
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            return None
        if param.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            if param.default is inspect.Parameter.empty:
                count += 1
    return count


def is_asgi_middleware(cls: Any) -> bool:
    """A middleware class whose instances are ASGI apps (`__call__(self, scope, receive, send)`).

    FasterAPI's own middleware (and any class whose `__call__` takes one `request`) is request-style.
    A factory that is not a class (`Middleware(factory, ...)`) is taken as ASGI, as in Starlette.
    """
    marker = getattr(cls, "__fasterapi_asgi__", None)
    if marker is not None:
        return bool(marker)
    if not inspect.isclass(cls):
        return True
    call = getattr(cls, "__call__", None)
    if call is None:
        return False
    return _positional_count(call) == 4  # self, scope, receive, send


def is_asgi_app(app: Any) -> bool:
    """An object called as `await app(scope, receive, send)` (not a request-style callable)."""
    if inspect.isclass(app):
        return False
    return _positional_count(app) == 3


def build_middleware_stack(owner: Any, inner: RequestApp, middleware: list[Any]) -> RequestApp:
    """Wrap `inner` with `middleware` (outermost first), request-style and ASGI ones mixed."""
    app: RequestApp = inner
    asgi: ASGIApp | None = None
    for entry in reversed(middleware):
        cls, args, kwargs = entry.cls, entry.args, entry.kwargs
        if is_asgi_middleware(cls):
            if asgi is None:
                asgi = RequestAppAsASGI(app, owner)
            asgi = cls(asgi, *args, **kwargs)
        else:
            if asgi is not None:
                app = ASGIAsRequestApp(asgi, owner)
                asgi = None
            app = cls(app, *args, **kwargs)
    if asgi is not None:
        app = ASGIAsRequestApp(asgi, owner)
    return app


# ------------------------------------------------------------------------------- request views


class ScopeData:
    """The engine's RequestData as seen through an ASGI scope (after middleware changed it)."""

    __slots__ = (
        "_base", "method", "path", "raw_path", "query_string", "headers", "body", "client", "server",
        "scheme", "url_scheme", "http_version", "path_params",
    )

    def __init__(self, scope: dict[str, Any], body: bytes, base: Any = None) -> None:
        self._base = base
        self.method = scope.get("method", "GET")
        self.path = scope.get("path", "/")
        raw_path = scope.get("raw_path")
        self.raw_path = raw_path if raw_path is not None else self.path.encode("utf-8")
        self.query_string = scope.get("query_string", b"")
        headers = scope.get("headers") or []
        self.headers = headers if type(headers) is list else list(headers)
        self.body = body
        client = scope.get("client")
        self.client = tuple(client) if client else None
        server = scope.get("server")
        self.server = tuple(server) if server else None
        # url_scheme: the scheme is the scope's (a proxy-headers middleware may have set it), not
        # re-derived from the connection (fasterapi._connection.scheme_of).
        self.scheme = self.url_scheme = scope.get("scheme", "http")
        self.http_version = scope.get("http_version", "1.1")
        self.path_params: dict[str, str] = {}

    def __getattr__(self, name: str) -> Any:
        base = self._base
        if base is None:
            raise AttributeError(name)
        return getattr(base, name)


def request_from_scope(scope: dict[str, Any], body: bytes, app: Any, base: Any = None) -> Request:
    """A Request whose `scope` is `scope` itself (so keys set by middleware are seen) and whose
    `state` is `scope["state"]`."""
    request = Request(ScopeData(scope, body, base), {}, app)
    scope.setdefault("path_params", request._path_params)
    scope.setdefault("app", app)
    request._scope = scope
    state = scope.get("state")
    if state is None:
        state = scope["state"] = request.state._state
    else:
        request._state = State(state)
    return request


async def read_body(receive: Any) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.disconnect":
            break
        if kind == "http.request":
            body = message.get("body", b"")
            if body:
                chunks.append(body)
            if not message.get("more_body", False):
                break
    if len(chunks) == 1:
        return bytes(chunks[0])
    return b"".join(chunks)


# ------------------------------------------------------------------------ request app -> ASGI


def _start_message(response: Response) -> dict[str, Any]:
    headers = list(response.raw_headers)
    status = response.status_code
    if status >= 200 and status not in _EMPTY_BODY_STATUS:
        headers.append((b"content-length", str(len(response.body)).encode("ascii")))
    return {"type": "http.response.start", "status": status, "headers": headers}


async def send_response(response: Response, send: Any) -> None:
    if response.needs_collect:
        await response.collect()
    await send(_start_message(response))
    await send({"type": "http.response.body", "body": response.body, "more_body": False})


class RequestAppAsASGI:
    """An ASGI app over a request-style app (the inner part of the middleware stack)."""

    __slots__ = ("app", "owner")

    def __init__(self, app: RequestApp, owner: Any) -> None:
        self.app = app
        self.owner = owner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError(f"FasterAPI middleware stack: unsupported scope type {scope['type']!r}")
        exchange = getattr(receive, "__self__", None)
        if type(exchange) is _Exchange and exchange.scope is scope and not exchange.body_sent:
            # receive is the stack's own, unwrapped: the body is already here.
            exchange.body_sent = True
            body = exchange.request._data.body
            base = exchange.request._data
        else:
            body = await read_body(receive)
            base = exchange.request._data if type(exchange) is _Exchange else None
        request = request_from_scope(scope, body, self.owner, base)
        response = await self.app(request)
        await send_response(response, send)


# ------------------------------------------------------------------------ ASGI -> request app


class _Exchange:
    """receive/send of one request given to an ASGI app; the messages sent become a Response."""

    __slots__ = ("request", "scope", "body_sent", "status", "headers", "chunks", "started", "finished", "_waiter")

    def __init__(self, request: Request | None, scope: dict[str, Any]) -> None:
        self.request = request
        self.scope = scope
        self.body_sent = False
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.started = False
        self.finished = False
        self._waiter: asyncio.Future[None] | None = None

    def body(self) -> bytes:
        request = self.request
        return request._data.body if request is not None else b""

    async def receive(self) -> dict[str, Any]:
        if not self.body_sent:
            self.body_sent = True
            return {"type": "http.request", "body": self.body(), "more_body": False}
        # As a server does: after the body, wait until the response is complete, then disconnect.
        if not self.finished:
            if self._waiter is None:
                self._waiter = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._waiter)
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self.started:
                raise RuntimeError("ASGI: http.response.start sent twice")
            self.started = True
            self.status = int(message["status"])
            headers = self.headers
            for name, value in message.get("headers") or ():
                if type(name) is not bytes:
                    name = name.encode("latin-1") if isinstance(name, str) else bytes(name)
                if type(value) is not bytes:
                    value = value.encode("latin-1") if isinstance(value, str) else bytes(value)
                name = name.lower()
                if name not in _ENGINE_HEADERS:
                    headers.append((name, value))
        elif kind == "http.response.body":
            if not self.started:
                raise RuntimeError("ASGI: http.response.body sent before http.response.start")
            if self.finished:
                raise RuntimeError("ASGI: http.response.body sent after the response was complete")
            body = message.get("body", b"")
            if body:
                self.chunks.append(body)
            if not message.get("more_body", False):
                self._finish()
        elif kind == "http.response.trailers":
            pass  # HTTP/1.1 responses of the engine carry no trailers
        else:
            raise RuntimeError(f"ASGI: unexpected message {kind!r} on an http scope")

    def _finish(self) -> None:
        self.finished = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def response(self) -> Response:
        self._finish()
        if not self.started:
            raise RuntimeError("ASGI app returned without starting a response")
        chunks = self.chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        response = Response.__new__(Response)  # status, headers and body are final: no render()
        response.status_code = self.status
        response.background = None
        response.body = body if type(body) is bytes else bytes(body)
        response.raw_headers = self.headers
        return response


def _task_codes() -> tuple[Any, ...]:
    from ._runtime import _finish, _Worker

    # The engine's continuation task, and the worker tasks whose identity a served engine's first
    # steps run under (the same task continues them): ASGI code may start in either.
    return (_finish.__code__, _Worker._run.__code__)


_ENGINE_TASK_CODES = _task_codes()

# Step out of the engine's inline first step before running ASGI code (see run_asgi). Only
# benchmarks/asgi_middleware.py turns it off, to time the adaptation alone.
TASK_HOP = True


async def run_asgi(app: ASGIApp, scope: dict[str, Any], request: Request | None) -> Response:
    # The engine runs a handler's first step inline, in whatever task (if any) fed the connection,
    # and continues it in a task of its own once it awaits. ASGI code (anyio task groups and cancel
    # scopes) must run in one task from start to end: step out of the inline part first.
    if TASK_HOP:
        task = asyncio.current_task()
        if task is None or getattr(task.get_coro(), "cr_code", None) not in _ENGINE_TASK_CODES:
            await asyncio.sleep(0)
    exchange = _Exchange(request, scope)
    try:
        await app(scope, exchange.receive, exchange.send)
    finally:
        exchange._finish()
    return exchange.response()


class ASGIAsRequestApp:
    """A request-style app over an ASGI app (the ASGI part of the middleware stack)."""

    __slots__ = ("app", "owner")

    def __init__(self, app: ASGIApp, owner: Any) -> None:
        self.app = app
        self.owner = owner

    def __call__(self, request: Request) -> Awaitable[Response]:
        return run_asgi(self.app, request.scope, request)


# -------------------------------------------------------------------------------- mounted apps


def mount_scope(data: Any, request: Request | None, parent: Any, mount_path: str, remainder: str, app: Any) -> dict[str, Any]:
    """The child scope Starlette's Mount builds: root_path grows by the mount path, path is the full
    path (root_path + the path below the mount point), raw_path and everything else inherited."""
    base = (request if request is not None else Request(data, {}, parent)).scope
    parent_root = getattr(data, "root_path", None)
    if parent_root is None:
        parent_root = base.get("root_path", "") or ""
    root_path = parent_root + mount_path
    scope = dict(base)
    scope["type"] = "http"
    scope["root_path"] = root_path
    scope["path"] = root_path + remainder
    scope["path_params"] = dict(base.get("path_params") or {})
    scope["endpoint"] = app
    if "state" not in scope:
        scope["state"] = {}
    return scope


def call_mounted_asgi(
    app: ASGIApp, data: Any, request: Request | None, parent: Any, mount_path: str, remainder: str,
    on_error: Callable[[Request, Exception], Any],
) -> Awaitable[Response]:
    scope = mount_scope(data, request, parent, mount_path, remainder, app)
    outer = request if request is not None else Request(data, {}, parent)
    return _run_mounted(app, scope, outer, on_error)


async def _run_mounted(app: ASGIApp, scope: dict[str, Any], request: Request, on_error: Callable[[Request, Exception], Any]) -> Response:
    try:
        return await run_asgi(app, scope, request)
    except Exception as exc:
        result = on_error(request, exc)
        return await result if inspect.isawaitable(result) else result
