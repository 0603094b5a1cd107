"""WebSocket routes and the session runner shared by every transport.

`APIWebSocketRoute` is FastAPI's websocket path operation (`@app.websocket(path)`): its endpoint's
path/query/header/cookie parameters and dependencies are solved with the same machinery as HTTP
routes. `WebSocketRoute` is Starlette's plain one (`endpoint(websocket)`).

`serve_websocket(app, data, receive, send)` runs one connection: it finds the route (the app's
root_path, mounted FasterAPI apps and routers), builds the `WebSocket` over the transport's ASGI
message callables, runs the endpoint and applies the app's exception handlers
(`WebSocketException` closes with its code; validation errors close with 1008). A path without a
websocket route is refused (a close before accept: HTTP 403 on a socket), as Starlette does.

Websocket routes never match HTTP requests (their `match_path` is None), so an HTTP request to a
websocket path is a 404, and they are not in the OpenAPI schema.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from . import _foreign, params
from .dependencies.utils import RequestContext, get_dependant, get_flat_dependant, get_param_sub_dependant, solve_dependencies
from .exceptions import WebSocketException, WebSocketRequestValidationError
from .routing import BaseRoute, Mount, compile_path, lookup_exception_handler
from .websockets import WebSocket, WebSocketClose, WebSocketData

__all__ = ["APIWebSocketRoute", "WebSocketRoute", "serve_websocket"]


class WebSocketRoute(BaseRoute):
    """Starlette's websocket route: `await endpoint(websocket)`."""

    include_in_schema = False

    def __init__(self, path: str, endpoint: Callable[..., Any], *, name: str | None = None) -> None:
        if not path.startswith("/"):
            raise AssertionError("Routed paths must start with '/'")
        self.path = path
        self.endpoint = endpoint
        self.name = name if name is not None else getattr(endpoint, "__name__", type(endpoint).__name__)
        self.methods = None
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        self._app: Any = None

    def match_path(self, path: str) -> dict[str, str] | None:
        return None  # never an HTTP route

    def match_websocket(self, path: str) -> dict[str, str] | None:
        return BaseRoute.match_path(self, path)

    async def handle_websocket(self, websocket: WebSocket) -> None:
        await self.endpoint(websocket)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path!r}, name={self.name!r})"


class APIWebSocketRoute(WebSocketRoute):
    """FastAPI's websocket path operation: parameters and dependencies as for HTTP routes."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        name: str | None = None,
        dependencies: Sequence[params.Depends] | None = None,
        dependency_overrides_provider: Any = None,
    ) -> None:
        super().__init__(path, endpoint, name=name)
        self.dependencies = list(dependencies or [])
        self.dependency_overrides_provider = dependency_overrides_provider
        self.dependant = get_dependant(path=self.path_format, call=self.endpoint)
        for depends in self.dependencies[::-1]:
            self.dependant.dependencies.insert(
                0, get_param_sub_dependant(param_name=None, depends=depends, annotation=None, path=self.path_format)
            )
        self._flat_dependant = get_flat_dependant(self.dependant)
        self._override_cache: dict[Any, Any] = {}

    async def handle_websocket(self, websocket: WebSocket) -> None:
        app = websocket.app
        overrides = getattr(app, "dependency_overrides", None) or getattr(
            self.dependency_overrides_provider, "dependency_overrides", None
        )
        ctx = RequestContext(websocket._data, websocket.path_params, app, websocket)  # type: ignore[arg-type]
        try:
            values, errors = await solve_dependencies(ctx, self.dependant, overrides, self._override_cache)
            if errors:
                raise WebSocketRequestValidationError(errors)
            result = self.endpoint(**values)
            if inspect.isawaitable(result):
                await result
        except BaseException as exc:
            stack, ctx.stack = ctx.stack, None
            if stack is not None and await stack.__aexit__(type(exc), exc, exc.__traceback__):
                return
            raise
        stack, ctx.stack = ctx.stack, None
        if stack is not None:
            await stack.aclose()


# ------------------------------------------------------------------------------------ matching


def _routes_of(app: Any) -> list[Any]:
    routes = getattr(app, "routes", None)
    return routes if isinstance(routes, list) else []


def find_websocket_route(app: Any, path: str) -> tuple[Any, WebSocketRoute, dict[str, str], str] | None:
    """(owning app, route, path params, root_path added by mounts) for `path`, or None."""
    for route in _routes_of(app):
        if isinstance(route, WebSocketRoute):
            found = route.match_websocket(path)
            if found is not None:
                return app, route, found, ""
        elif isinstance(route, Mount):
            prefix = route.path
            if path == prefix or path.startswith(prefix + "/"):
                sub = route.app
                inner_path = path[len(prefix):] or "/"
                inner_root = getattr(sub, "root_path", "") or ""
                if inner_root and inner_path.startswith(inner_root + "/"):
                    inner_path = inner_path[len(inner_root):]
                hit = find_websocket_route(sub, inner_path)
                if hit is not None:
                    owner, found_route, found, root = hit
                    if getattr(owner, "exception_handlers", None) is None:
                        owner = app  # a mounted router: the enclosing app's handlers apply
                    return owner, found_route, found, prefix + root
    return None


# ------------------------------------------------------------------------------------- running


async def _websocket_exception(websocket: WebSocket, exc: WebSocketException) -> None:
    await websocket.close(code=exc.code, reason=exc.reason)


async def serve_websocket(app: Any, data: WebSocketData, receive: Any, send: Any) -> None:
    """Run one websocket connection of `app` over ASGI-message `receive`/`send` callables."""
    prepare = getattr(app, "_prepare", None)
    if prepare is not None:
        prepare()
    path = data.path
    root_path = getattr(app, "root_path", "") or ""
    if root_path and path.startswith(root_path + "/"):
        path = path[len(root_path):]
    hit = find_websocket_route(app, path)
    if hit is None:
        await WebSocketClose()(None, receive, send)
        return
    owner, route, path_params, mount_root = hit
    data.path_params.update(path_params)
    if mount_root:
        data.root_path = (data.root_path or root_path) + mount_root
    if getattr(owner, "exception_handlers", None) is None:
        owner = app
    websocket = WebSocket(data, receive, send, app=owner)
    try:
        await route.handle_websocket(websocket)
    except Exception as exc:
        handler_app = websocket.app
        handler = None
        if getattr(handler_app, "exception_handlers", None) is not None:
            handler, _ = lookup_exception_handler(handler_app, exc, catch_all=False)
        if handler is None and (isinstance(exc, WebSocketException) or _foreign.ours_for(exc) is WebSocketException):
            handler = _websocket_exception
        if handler is None:
            raise
        result = handler(websocket, exc)
        if inspect.isawaitable(result):
            result = await result
        if result is not None and hasattr(result, "status_code") and websocket.application_state.value == 0:
            await websocket.send_denial_response(result)  # an HTTPException before accept: its response
