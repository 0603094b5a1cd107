"""`FasterAPI` (alias `FastAPI`): the application object.

It owns the root `APIRouter`, exception handlers, middleware, lifespan and OpenAPI settings, and
builds the native engine (`_build_engine`, see docs/architecture.md for the contract).
"""

from __future__ import annotations

import inspect
import logging
import os
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from . import _foreign, params
from ._connection import connection_root_path, server_path_prefix
from .datastructures import Default, State, URLPath
from .encoders import json_default
from .exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
    websocket_request_validation_exception_handler,
)
from .exceptions import FastAPIDeprecationWarning, RequestValidationError, StarletteHTTPException, WebSocketRequestValidationError
from .middleware import Middleware
from .requests import Request
from .responses import HTMLResponse, JSONResponse, Response
from .routing import (
    APIRoute,
    APIRouter,
    BaseRoute,
    _DefaultLifespan,
    Lifespan,
    NativeRoute,
    Route,
    _catch_all,
    _handle_error,
    generate_unique_id,
    pending_background_tasks,
    redirect_response,
    schedule_background,
)


class FasterAPI:
    def __init__(
        self,
        *,
        debug: bool = False,
        routes: list[BaseRoute] | None = None,
        title: str = "FastAPI",
        summary: str | None = None,
        description: str = "",
        version: str = "0.1.0",
        openapi_url: str | None = "/openapi.json",
        openapi_tags: list[dict[str, Any]] | None = None,
        servers: list[dict[str, Any]] | None = None,
        dependencies: Sequence[params.Depends] | None = None,
        default_response_class: type[Response] = Default(JSONResponse),
        redirect_slashes: bool = True,
        docs_url: str | None = "/docs",
        redoc_url: str | None = "/redoc",
        swagger_ui_oauth2_redirect_url: str | None = "/docs/oauth2-redirect",
        swagger_ui_init_oauth: dict[str, Any] | None = None,
        middleware: Sequence[Middleware] | None = None,
        exception_handlers: dict[int | type[Exception], Callable[..., Any]] | None = None,
        on_startup: Sequence[Callable[[], Any]] | None = None,
        on_shutdown: Sequence[Callable[[], Any]] | None = None,
        lifespan: Lifespan | None = None,
        terms_of_service: str | None = None,
        contact: dict[str, Any] | None = None,
        license_info: dict[str, Any] | None = None,
        openapi_prefix: str = "",
        root_path: str = "",
        root_path_in_servers: bool = True,
        responses: dict[int | str, dict[str, Any]] | None = None,
        callbacks: list[BaseRoute] | None = None,
        webhooks: APIRouter | None = None,
        deprecated: bool | None = None,
        include_in_schema: bool = True,
        swagger_ui_parameters: dict[str, Any] | None = None,
        generate_unique_id_function: Callable[[APIRoute], str] = Default(generate_unique_id),
        separate_input_output_schemas: bool = True,
        openapi_external_docs: dict[str, Any] | None = None,
        limits: dict[str, Any] | None = None,
        blocking_pool: str = "native",
        blocking_threads: int = 40,
        sync_in_threadpool: bool = False,
        strict_content_type: bool = Default(True),
        max_body_size: int | None = None,
        form_limits: dict[str, int] | None = None,
        **extra: Any,
    ) -> None:
        self.debug = debug
        self.title = title
        self.summary = summary
        self.description = description
        self.version = version
        self.terms_of_service = terms_of_service
        self.contact = contact
        self.license_info = license_info
        self.openapi_url = openapi_url
        self.openapi_tags = openapi_tags
        self.root_path_in_servers = root_path_in_servers
        self.docs_url = docs_url
        self.redoc_url = redoc_url
        self.swagger_ui_oauth2_redirect_url = swagger_ui_oauth2_redirect_url
        self.swagger_ui_init_oauth = swagger_ui_init_oauth
        self.swagger_ui_parameters = swagger_ui_parameters
        self.servers = servers or []
        self.separate_input_output_schemas = separate_input_output_schemas
        self.openapi_external_docs = openapi_external_docs
        self.extra = extra
        self.openapi_version = "3.1.0"
        self.openapi_schema: dict[str, Any] | None = None
        if root_path:
            warnings.warn(
                "The `root_path` parameter is deprecated. Configure the server's root path instead, "
                "for example with `fastapi run --root-path /api/v1`.",
                category=FastAPIDeprecationWarning,
                stacklevel=2,
            )
        self.root_path = root_path or openapi_prefix
        self.state = State()
        self.dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        self.webhooks = webhooks or APIRouter()
        self.limits = dict(limits or {})
        if max_body_size is not None:
            # FastAPI's app-wide body limit: the engine's default (413 before the body is read).
            self.limits.setdefault("max_body", max_body_size)
        # Engine switches applied when the engine is built (docs/performance.md): zero_copy_min,
        # pool_params, json_via_dumps.
        self.engine_options: dict[str, Any] = {}
        # blocking=True endpoints: "native" runs them on the engine's C++ worker threads (results back
        # through a lock-free ring + eventfd in the socket loop); "executor" on asyncio's default executor.
        if blocking_pool not in ("native", "executor"):
            raise ValueError("blocking_pool must be 'native' or 'executor'")
        self.blocking_pool = blocking_pool
        self.blocking_threads = blocking_threads
        # FastAPI's rule for plain `def` endpoints: run each on the thread pool (as blocking=True),
        # so one that blocks (a sync database driver, time.sleep) does not stall the loop. Off by
        # default: a `def` endpoint runs inline on the loop thread, the fastest path.
        self.sync_in_threadpool = sync_in_threadpool
        self._batch_index: dict[tuple[str, str], int] = {}
        self.router = APIRouter(
            routes=routes,
            redirect_slashes=redirect_slashes,
            dependency_overrides_provider=self,
            on_startup=on_startup,
            on_shutdown=on_shutdown,
            lifespan=lifespan,
            default_response_class=default_response_class,
            dependencies=dependencies,
            callbacks=callbacks,
            deprecated=deprecated,
            include_in_schema=include_in_schema,
            responses=responses,
            generate_unique_id_function=generate_unique_id_function,
            strict_content_type=strict_content_type,
            max_body_size=max_body_size,
            form_limits=form_limits,
        )
        self.max_body_size = max_body_size
        _foreign.adopt_starlette_exceptions()
        self.exception_handlers: dict[Any, Callable[..., Any]] = {
            _foreign.handler_key(key): handler for key, handler in (exception_handlers or {}).items()
        }
        self.exception_handlers.setdefault(StarletteHTTPException, http_exception_handler)
        self.exception_handlers.setdefault(RequestValidationError, request_validation_exception_handler)
        self.exception_handlers.setdefault(
            WebSocketRequestValidationError, websocket_request_validation_exception_handler
        )
        self.user_middleware: list[Middleware] = list(middleware or [])
        self._middleware_stack: Callable[[Request], Awaitable[Response]] | None = None
        self._lifespan_state: dict[str, Any] | None = None
        self._prepared_for: tuple[int, int] | None = None
        self._engine: Any = None
        self._engine_key: tuple[int, int] | None = None
        self._exception_observer: Callable[[BaseException], None] | None = None
        self.setup()

    # ------------------------------------------------------------------------------ properties

    @property
    def routes(self) -> list[BaseRoute]:
        return self.router.routes

    # --------------------------------------------------------------------------------- openapi

    def openapi(self) -> dict[str, Any]:
        if not self.openapi_schema:
            from .openapi.utils import get_openapi  # written separately; imported on first use

            self.openapi_schema = get_openapi(
                title=self.title,
                version=self.version,
                openapi_version=self.openapi_version,
                summary=self.summary,
                description=self.description,
                terms_of_service=self.terms_of_service,
                contact=self.contact,
                license_info=self.license_info,
                routes=self.routes,
                webhooks=self.webhooks.routes,
                tags=self.openapi_tags,
                servers=self.servers,
                separate_input_output_schemas=self.separate_input_output_schemas,
                external_docs=self.openapi_external_docs,
            )
        return self.openapi_schema

    def setup(self) -> None:
        if self.openapi_url:
            if not self.title:
                raise AssertionError("A title must be provided for OpenAPI, e.g.: 'My API'")
            if not self.version:
                raise AssertionError("A version must be provided for OpenAPI, e.g.: '2.1.0'")

            async def openapi(req: Request) -> JSONResponse:
                # The request's root path (a mount point, root_path=, the server's) as the first
                # server, per request: the cached document itself is not changed (FastAPI 0.165).
                root_path = req.scope.get("root_path", "").rstrip("/")
                schema = self.openapi()
                if root_path and self.root_path_in_servers:
                    server_urls = {server.get("url") for server in schema.get("servers", [])}
                    if root_path not in server_urls:
                        schema = dict(schema)
                        schema["servers"] = [{"url": root_path}, *schema.get("servers", [])]
                return JSONResponse(schema)

            self.add_route(self.openapi_url, openapi, include_in_schema=False)
        # Swagger UI's files come from a PyPI package and are served by the app itself, so /docs
        # works without internet; with no package installed the pages use the CDN as FastAPI does.
        asset_prefix = ""
        if self.openapi_url and (self.docs_url or self.redoc_url):
            from .openapi.docs import add_docs_static_route, local_asset_urls

            if local_asset_urls("/"):
                asset_prefix = add_docs_static_route(self)

        def asset_urls(root_path: str, keys: tuple[str, ...]) -> dict[str, str]:
            if not asset_prefix:
                return {}
            from .openapi.docs import local_asset_urls

            return {k: v for k, v in local_asset_urls(root_path + asset_prefix).items() if k in keys}

        if self.openapi_url and self.docs_url:

            async def swagger_ui_html(req: Request) -> HTMLResponse:
                from .openapi.docs import get_swagger_ui_html

                root_path = req.scope.get("root_path", "").rstrip("/")
                openapi_url = root_path + (self.openapi_url or "")
                oauth2_redirect_url = self.swagger_ui_oauth2_redirect_url
                if oauth2_redirect_url:
                    oauth2_redirect_url = root_path + oauth2_redirect_url
                return get_swagger_ui_html(
                    openapi_url=openapi_url,
                    title=f"{self.title} - Swagger UI",
                    oauth2_redirect_url=oauth2_redirect_url,
                    init_oauth=self.swagger_ui_init_oauth,
                    swagger_ui_parameters=self.swagger_ui_parameters,
                    **asset_urls(root_path, ("swagger_js_url", "swagger_css_url")),
                )

            self.add_route(self.docs_url, swagger_ui_html, include_in_schema=False)
            if self.swagger_ui_oauth2_redirect_url:

                async def swagger_ui_redirect(req: Request) -> HTMLResponse:
                    from .openapi.docs import get_swagger_ui_oauth2_redirect_html

                    return get_swagger_ui_oauth2_redirect_html()

                self.add_route(self.swagger_ui_oauth2_redirect_url, swagger_ui_redirect, include_in_schema=False)
        if self.openapi_url and self.redoc_url:

            async def redoc_html(req: Request) -> HTMLResponse:
                from .openapi.docs import get_redoc_html

                root_path = req.scope.get("root_path", "").rstrip("/")
                openapi_url = root_path + (self.openapi_url or "")
                return get_redoc_html(
                    openapi_url=openapi_url, title=f"{self.title} - ReDoc", **asset_urls(root_path, ("redoc_js_url",))
                )

            self.add_route(self.redoc_url, redoc_html, include_in_schema=False)

    # ---------------------------------------------------------------------------- registration

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        self.router.add_api_route(path, endpoint, **kwargs)

    def api_route(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.router.api_route(path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.router.get(path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.router.put(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.router.post(path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.router.delete(path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.router.options(path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.router.head(path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.router.patch(path, **kwargs)

    def trace(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.router.trace(path, **kwargs)

    def add_route(
        self,
        path: str,
        route: Callable[..., Any],
        methods: list[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
    ) -> None:
        self.router.add_route(path, route, methods=methods, name=name, include_in_schema=include_in_schema)

    def route(
        self, path: str, methods: list[str] | None = None, name: str | None = None, include_in_schema: bool = True
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.router.route(path, methods=methods, name=name, include_in_schema=include_in_schema)

    def add_native_route(
        self,
        methods: str | Sequence[str],
        path: str,
        *,
        library: str | os.PathLike[str],
        symbol: str,
        release_gil: bool = False,
        **kwargs: Any,
    ) -> NativeRoute:
        """Serve `path` with a C ABI handler from a shared library (include/fasterapi_native.h).

        `app.add_native_route("GET", "/fast", library="./libfast.so", symbol="fast")`: the library
        is loaded now; the engine calls `symbol` for matching requests without entering Python.
        `release_gil=True` releases the GIL while the handler runs (for handlers that take long).
        Other keyword arguments document the route in OpenAPI (summary, description, tags, ...).
        """
        return self.router.add_native_route(
            methods, path, library=library, symbol=symbol, release_gil=release_gil, **kwargs
        )

    def add_api_websocket_route(self, path: str, endpoint: Callable[..., Any], name: str | None = None, **kwargs: Any) -> None:
        self.router.add_api_websocket_route(path, endpoint, name=name, **kwargs)

    def websocket(self, path: str, name: str | None = None, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.router.websocket(path, name=name, **kwargs)

    def add_websocket_route(self, path: str, route: Callable[..., Any], name: str | None = None) -> None:
        self.router.add_websocket_route(path, route, name=name)

    def websocket_route(self, path: str, name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.router.websocket_route(path, name=name)

    def include_router(self, router: APIRouter, **kwargs: Any) -> None:
        self.router.include_router(router, **kwargs)

    def mount(self, path: str, app: Any, name: str | None = None) -> None:
        self.router.mount(path, app, name=name)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        return self.router.url_path_for(name, **path_params)

    # ------------------------------------------------------------------------ handlers, events

    def add_exception_handler(self, exc_class_or_status_code: int | type[Exception], handler: Callable[..., Any]) -> None:
        # starlette.exceptions.HTTPException/WebSocketException mean ours (FastAPI's subclass them).
        self.exception_handlers[_foreign.handler_key(exc_class_or_status_code)] = handler

    def exception_handler(self, exc_class_or_status_code: int | type[Exception]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            self.add_exception_handler(exc_class_or_status_code, func)
            return func

        return decorator

    def add_middleware(self, middleware_class: type[Any], *args: Any, **kwargs: Any) -> None:
        # Like Starlette: the last added middleware is the outermost.
        self.user_middleware.insert(0, Middleware(middleware_class, *args, **kwargs))
        self._prepared_for = None

    def middleware(self, middleware_type: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        if middleware_type != "http":
            raise AssertionError('Currently only middleware("http") is supported.')

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            from .middleware.base import BaseHTTPMiddleware

            self.add_middleware(BaseHTTPMiddleware, dispatch=func)
            return func

        return decorator

    def add_event_handler(self, event_type: str, func: Callable[[], Any]) -> None:
        self.router.add_event_handler(event_type, func)

    def on_event(self, event_type: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        warnings.warn(
            "on_event is deprecated, use lifespan event handlers instead.\n\n"
            "Read more about it in the [FastAPI docs for Lifespan Events]"
            "(https://fastapi.tiangolo.com/advanced/events/).",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.router.on_event(event_type)

    # -------------------------------------------------------------------------------- lifespan

    @asynccontextmanager
    async def _lifespan_context(self) -> AsyncIterator[None]:
        """Startup on enter, shutdown on exit: what the TestClient and the server enter."""
        lifespan = self.router.lifespan_context
        if lifespan is None or isinstance(lifespan, _DefaultLifespan):
            await self.router.startup()
            try:
                yield None
            finally:
                await self.router.shutdown()
            return
        async with lifespan(self) as state:
            if state is not None:
                self._lifespan_state = dict(state)
            await self.router.startup()
            try:
                yield None
            finally:
                await self.router.shutdown()

    # --------------------------------------------------------------------------------- serving

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """ASGI: `httpx.AsyncClient(transport=ASGITransport(app=app))`, ASGI servers (fasterapi.asgi)."""
        from .asgi import asgi_app

        await asgi_app(self, scope, receive, send)

    def run(self, host: str = "127.0.0.1", port: int = 8000, **kwargs: Any) -> Any:
        from .server import run

        return run(self, host=host, port=port, **kwargs)

    def _prepare(self) -> None:
        """Bind routes to this app and build the middleware stack (once per change)."""
        key = (len(self.routes), len(self.user_middleware))
        if self._prepared_for == key:
            return
        for route in self.routes:
            route.bind(self)
        self._middleware_stack = self._build_middleware_stack()
        self._prepared_for = key

    def _build_middleware_stack(self) -> Callable[[Request], Awaitable[Response]] | None:
        if not self.user_middleware:
            return None
        # Request-style middleware get the next layer as `async (Request) -> Response`; pure ASGI
        # middleware (`__call__(scope, receive, send)`) an ASGI app (fasterapi._asgi_bridge).
        from ._asgi_bridge import build_middleware_stack

        return build_middleware_stack(self, self._dispatch_inner, self.user_middleware)

    @property
    def _background_tasks(self) -> set[Any]:
        """Background tasks still running (the TestClient waits for them)."""
        return pending_background_tasks()

    def _set_exception_observer(self, observer: Callable[[BaseException], None] | None) -> None:
        """Called with every exception that becomes a 500 (TestClient's raise_server_exceptions)."""
        self._exception_observer = observer

    def _build_engine(self) -> Any:
        """The native engine with every route registered (see docs/architecture.md).

        Built once and reused until routes or middleware change.
        """
        from . import _core

        key = (len(self.routes), len(self.user_middleware))
        if self._engine is not None and self._engine_key == key:
            return self._engine
        self._prepared_for = None
        self._prepare()
        engine = _core.Engine(self._app_handler, Response, json_default, self._error_handler, self.limits)
        from ._ws_server import websocket_handler

        engine.websocket_handler = websocket_handler(self)  # handshakes on sockets (websocket_routing)
        python_routing = self._middleware_stack is not None
        routing_headers = self._python_routing_headers() if python_routing else None
        # Only requests carrying routing_headers go through the middleware (None: every request).
        all_python = python_routing and routing_headers is None
        native_pool = self.blocking_pool == "native"
        if native_pool:
            engine.blocking_threads = self.blocking_threads
        self._batch_index = {}
        for route in self.routes:
            if isinstance(route, APIRoute):
                if self.sync_in_threadpool and not route.blocking and not route._is_coroutine and route.batch is None:
                    route.blocking = True
                    route._bind_common()
                plan = None if all_python else route.fast_plan(_core, allow_blocking=native_pool)
                body_limit = -1 if route.body_limit is None else route.body_limit
                # Constant and native routes are served by the engine alone; with middleware every
                # request goes through Python, so they run as ordinary routes there.
                engine.add_route(
                    sorted(route.methods), route.path, route.handle, plan, body_limit,
                    static=getattr(route, "static", False) and not all_python,
                    native=None if all_python else getattr(route, "native", None),
                )
                self._register_offload(engine, route, plan, all_python, native_pool)
            elif isinstance(route, Route):
                engine.add_route(sorted(route.methods), route.path, route.handle, None, -1)
        if python_routing:
            engine.python_routing = True
            engine.python_routing_headers = routing_headers or ()
        for option, value in self.engine_options.items():
            setattr(engine, option, value)
        self._engine = engine
        self._engine_key = key
        return engine

    def _python_routing_headers(self) -> tuple[str, ...] | None:
        """The headers without which every middleware of the app leaves a request untouched (each
        class says so with `python_routing_headers`, e.g. CORS: origin), or None when some
        middleware acts on every request."""
        names: set[str] = set()
        for entry in self.user_middleware:
            # The class itself must say so: a subclass may act on more requests than its base.
            headers = vars(entry.cls).get("python_routing_headers") if isinstance(entry.cls, type) else None
            if not headers:
                return None
            names.update(h.lower() for h in headers)
        return tuple(sorted(names))

    def _register_offload(self, engine: Any, route: APIRoute, plan: Any, python_routing: bool, native_pool: bool) -> None:
        """Blocking routes on the native pool, batch routes on the engine's collector."""
        index = engine.route_count - 1
        route._pool_engine = engine if route.blocking and native_pool else None
        route._offload_direct = route._pool_engine is not None and plan is None and not route._has_dependencies
        if route.blocking and native_pool and plan is not None:
            engine.set_blocking(index)
        batch = getattr(route, "batch", None)
        if batch is None or python_routing:
            return  # (with middleware a batch route runs per request: batches of one)
        batch_plan = route.batch_plan()
        if batch_plan is None:
            return
        endpoint, is_async, validate, status, item_response = batch_plan
        engine.set_batch(
            index, endpoint, is_async or batch.on_loop, validate, batch.max_size, batch.max_wait_ms,
            concurrency=batch.concurrency, timeout_ms=batch.timeout_ms or 0, status=status,
            item_response=item_response,
        )
        for method in route.methods:
            self._batch_index[(method, route.path)] = index

    def batch_stats(self, path: str, method: str = "POST") -> dict[str, Any]:
        """A batch route's figures: batches, items, sizes histogram, wait_ms and run_ms
        (mean/p50/p99/max), dropped, timeouts, errors, invalid, queued, in_flight."""
        engine = self._build_engine()
        index = self._batch_index.get((method.upper(), path))
        if index is None:
            raise KeyError(f"no batch route {method.upper()} {path}")
        return engine.batch_stats(index)

    # ------------------------------------------------------------------------- request entry

    def _app_handler(self, req: Any) -> Any:
        """Engine callback for requests its router did not take (and all requests with middleware)."""
        if self._middleware_stack is not None:
            return self._run_middleware(req)
        return self._route(req, None)

    def _error_handler(self, req: Any, exc: Exception) -> Any:
        """Engine callback for exceptions raised by handlers (and fast-path endpoints).

        An exception no handler takes is logged and answered 500 `{"detail": "Internal Server Error"}`:
        JSON like every other error body of the server (Starlette sends the same words as text/plain;
        see docs/compatibility.md)."""
        try:
            result = _handle_error(self, lambda: Request(req, req.path_params, self), exc, catch_all=True)
        except Exception as unhandled:
            return _server_error_response(unhandled)
        if inspect.isawaitable(result):
            return _await_error_response(result)
        return result

    # Exceptions that escape the middleware stack (or fast-path endpoints) end here.

    def _handle_mounted(self, data: Any, request: Request | None) -> Any:
        self._prepare()
        if self._middleware_stack is not None:
            return self._run_middleware(data)
        return self._route(data, None)

    def _route(self, data: Any, request: Request | None) -> Any:
        path = data.path
        root_path = self.root_path
        mounted_root = getattr(data, "root_path", None)
        if not root_path and mounted_root is None:
            root_path = connection_root_path()  # TestClient(root_path=), the server's --root-path
        stripped = ""
        if root_path and path.startswith(root_path + "/"):
            # As Starlette: a path that includes the root path is routed without it.
            path = path[len(root_path) :]
            stripped = root_path
        kind, target, found = self.router.resolve(data.method, path)
        if kind == "full":
            return target._run(data, found, request)
        if kind == "head":
            # A GET route answers HEAD (RFC 9110 9.3.2); the engine drops the body, keeps the length.
            return target._run(data, found, request)
        if kind == "mount":
            return target.dispatch(data, found, request, self)
        if kind == "none" and self.router.redirect_slashes and path != "/":
            other = path[:-1] if path.endswith("/") else path + "/"
            if self.router.resolve(data.method, other)[0] != "none":
                if mounted_root is not None:
                    prefix = mounted_root + stripped
                else:
                    prefix = stripped or server_path_prefix(path)
                return redirect_response(data, prefix + other)
        if kind == "partial":
            exc = StarletteHTTPException(status_code=405, headers={"Allow": ", ".join(sorted(target))})
        else:
            exc = StarletteHTTPException(status_code=404)
        return _handle_error(
            self, lambda: request or Request(data, {}, self), exc, catch_all=_catch_all(self)
        )

    async def _dispatch_inner(self, request: Request) -> Response:
        """The innermost 'app' of the middleware stack: routing and route handlers."""
        result = self._route(request._data, request)
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, Response):
            result = _foreign.adapt(result)
        if result.needs_collect:
            # A streaming response left for the engine: through middleware it is collected here,
            # and its background tasks (which the engine would run after the body) run after it.
            await result.collect()
            if result.background is not None:
                schedule_background(result.background)
        return result

    async def _run_middleware(self, data: Any) -> Response:
        request = Request(data, {}, self)
        try:
            response = await self._middleware_stack(request)  # type: ignore[misc]
            if not isinstance(response, Response):
                response = _foreign.adapt(response)  # a middleware answering with a Starlette response
            if response.needs_collect:
                await response.collect()
            return response
        except Exception as exc:
            # Starlette's ServerErrorMiddleware: outside the user middleware.
            handler = self.exception_handlers.get(500) or self.exception_handlers.get(Exception)
            if handler is None:
                raise  # the engine's error handler reports it and answers 500
            if self._exception_observer is not None:
                self._exception_observer(exc)
            result = handler(request, exc)
            if inspect.isawaitable(result):
                result = await result
            result = _foreign.adapt(result)
            if result.needs_collect:
                await result.collect()
            return result


def _server_error_response(exc: BaseException) -> Response:
    logging.getLogger("fasterapi.error").error("Exception in request handler", exc_info=exc)
    return JSONResponse({"detail": "Internal Server Error"}, status_code=500)


async def _await_error_response(result: Awaitable[Response]) -> Response:
    try:
        return await result
    except Exception as exc:
        return _server_error_response(exc)


FastAPI = FasterAPI

__all__ = ["FasterAPI", "FastAPI"]
