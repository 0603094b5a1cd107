"""The app as an ASGI application (`await app(scope, receive, send)`).

For tools that speak ASGI to an app object — `httpx.AsyncClient(transport=ASGITransport(app=app))`
in async test suites, ASGI servers — each HTTP request is serialized to HTTP/1.1 bytes and fed
to an in-memory engine connection, as the TestClient does: the same parser, router, handlers
and JSON writer as the engine's own server. `lifespan` events run the app's lifespan.
`websocket` scopes run the app's websocket routes with the server's receive/send as transport
(the `WebSocket` class speaks ASGI websocket messages; see fasterapi.websocket_routing).
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any
from urllib.parse import quote

from . import _runtime
from ._connection import CURRENT, ConnectionScope
from ._wire import parse_response

__all__ = ["asgi_app"]

# Exceptions that became a 500 during this ASGI request: re-raised after the 500 is sent, as
# Starlette's ServerErrorMiddleware does (starlette's TestClient, httpx's ASGITransport see them).
_SERVER_ERRORS: contextvars.ContextVar[list[BaseException] | None] = contextvars.ContextVar(
    "fasterapi_asgi_server_errors", default=None
)


class _ErrorObserver:
    """The app's exception observer while ASGI requests run: an ASGI request's 500s go to that
    request, any other's to the observer it replaced (our TestClient's)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, exc: BaseException) -> None:
        errors = _SERVER_ERRORS.get()
        if errors is not None:
            errors.append(exc)
        elif self.inner is not None:
            self.inner(exc)


async def asgi_app(app: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
    kind = scope["type"]
    if kind == "http":
        await _http(app, scope, receive, send)
    elif kind == "lifespan":
        await _lifespan(app, receive, send)
    elif kind == "websocket":
        from .websocket_routing import serve_websocket
        from .websockets import WebSocketData

        await serve_websocket(app, WebSocketData.from_scope(scope), receive, send)
    else:
        raise RuntimeError(f"unsupported ASGI scope type {kind!r}")


def _request_bytes(scope: dict[str, Any], body: bytes) -> bytes:
    path = scope.get("raw_path") or quote(scope.get("path", "/"), safe="/%:@!$&'()*+,;=-._~").encode("ascii")
    root_path = scope.get("root_path", "")
    if root_path and not path.startswith(root_path.encode("ascii")):
        path = root_path.encode("ascii") + path
    query = scope.get("query_string") or b""
    target = path + (b"?" + query if query else b"")
    lines = [scope.get("method", "GET").encode("ascii") + b" " + target + b" HTTP/1.1"]
    has_host = False
    for name, value in scope.get("headers") or []:
        lname = name.lower()
        if lname in (b"content-length", b"transfer-encoding", b"connection"):
            continue
        if lname == b"host":
            has_host = True
        lines.append(name + b": " + value)
    if not has_host:
        server = scope.get("server")
        lines.append(b"host: " + (f"{server[0]}:{server[1]}" if server else "testserver").encode("latin-1"))
    if body or scope.get("method", "GET") not in ("GET", "HEAD"):
        lines.append(b"content-length: " + str(len(body)).encode("ascii"))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def receive_body(receive: Any) -> bytes | None:
    """The whole request body of an ASGI http exchange, or None if the client disconnected first."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _http(app: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = await receive_body(receive)
    if body is None:
        return
    raw = _request_bytes(scope, body)
    client = scope.get("client")
    client = tuple(client) if client else None
    # The scope's scheme and root_path (not in the bytes) reach the app's requests this way.
    conn_scope = ConnectionScope(scheme=scope.get("scheme", "http"), root_path=scope.get("root_path", ""))
    observer = getattr(app, "_exception_observer", None)
    if not isinstance(observer, _ErrorObserver) and hasattr(app, "_set_exception_observer"):
        app._set_exception_observer(_ErrorObserver(observer))
    errors: list[BaseException] = []
    errors_token = _SERVER_ERRORS.set(errors)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        # Not on asyncio (trio): the engine drives handlers on an asyncio loop, in a worker thread.
        import anyio.to_thread

        out = await anyio.to_thread.run_sync(lambda: asyncio.run(_exchange(app, raw, client, conn_scope)))
    else:
        out = await _exchange(app, raw, client, conn_scope)
    finally:
        _SERVER_ERRORS.reset(errors_token)
    status, headers, body = parse_response(out, lower_names=True)
    if scope.get("method") == "HEAD":
        body = b""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
    if errors:
        raise errors[0]


async def _exchange(app: Any, raw: bytes, client: Any, conn_scope: ConnectionScope | None = None) -> bytes:
    token = CURRENT.set(conn_scope) if conn_scope is not None else None
    try:
        return await _exchange_bytes(app, raw, client)
    finally:
        if token is not None:
            CURRENT.reset(token)


async def _exchange_bytes(app: Any, raw: bytes, client: Any) -> bytes:
    conn = app._build_engine().connection(client=client)
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def wake() -> None:
        if not done.done():
            done.set_result(None)

    conn.waiter = wake
    await _runtime.feed_inline(conn, raw)  # continuations stay in this task
    out = conn.read()
    while conn.pending:
        await done
        done = loop.create_future()
        out += conn.read()
    out += conn.read()
    return out


async def _lifespan(app: Any, receive: Any, send: Any) -> None:
    context = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                context = app._lifespan_context()
                await context.__aenter__()
            except BaseException as exc:  # noqa: BLE001 - reported to the server, then raised (as Starlette)
                await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                raise
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                if context is not None:
                    await context.__aexit__(None, None, None)
            except BaseException as exc:  # noqa: BLE001
                await send({"type": "lifespan.shutdown.failed", "message": repr(exc)})
                raise
            await send({"type": "lifespan.shutdown.complete"})
            return
