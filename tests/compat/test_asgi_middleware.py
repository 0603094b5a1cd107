"""Pure ASGI middleware (`__call__(self, scope, receive, send)`) in `add_middleware` and
`FastAPI(middleware=[Middleware(...)])`, mixed with request-style middleware, through the engine."""

from __future__ import annotations

import gzip
import json

import pytest

from engine_reports import assert_compiled
from fasterapi import FastAPI, HTTPException, Request
try:
    from fasterapi.datastructures import Headers, MutableHeaders
except ImportError:  # FASTERAPI_REFERENCE=1: fastapi.datastructures re-exports only part of Starlette's
    from starlette.datastructures import Headers, MutableHeaders  # type: ignore[no-redef]
from fasterapi.middleware import Middleware
from fasterapi.middleware.cors import CORSMiddleware
from fasterapi.middleware.gzip import GZipMiddleware
from fasterapi.responses import JSONResponse, PlainTextResponse
from fasterapi.testclient import TestClient


class RequestIdMiddleware:
    """Adds a response header by wrapping `send` (Starlette's pure ASGI middleware docs)."""

    def __init__(self, app, header_name: str = "x-request-id", seen: list | None = None) -> None:
        self.app = app
        self.header_name = header_name
        self.seen = seen if seen is not None else []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.seen.append(scope)
        scope["state"]["request_id"] = "abc123"

        async def send_wrapper(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.append(self.header_name, "abc123")
            await send(message)

        await self.app(scope, receive, send_wrapper)


class BlockMiddleware:
    """Answers by itself for one path (short-circuits with a Response as an ASGI app)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["path"] == "/blocked":
            await PlainTextResponse("blocked", status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class OrderMiddleware:
    def __init__(self, app, name: str, order: list) -> None:
        self.app = app
        self.name = name
        self.order = order

    async def __call__(self, scope, receive, send) -> None:
        self.order.append(f"{self.name}-before")
        await self.app(scope, receive, send)
        self.order.append(f"{self.name}-after")


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    def read_item(item_id: int, q: str | None = None):
        return {"item_id": item_id, "q": q}

    @app.get("/state")
    def read_state(request: Request):
        return {"request_id": getattr(request.state, "request_id", None), "tag": request.scope.get("tag")}

    @app.post("/echo")
    async def echo(request: Request):
        return {"body": (await request.body()).decode(), "ct": request.headers.get("content-type")}

    @app.get("/fail")
    def fail():
        raise HTTPException(status_code=409, detail="conflict")

    @app.get("/big")
    def big():
        return PlainTextResponse("x" * 2000)

    return app


def test_scope_seen_by_pure_asgi_middleware():
    app = make_app()
    seen: list = []
    app.add_middleware(RequestIdMiddleware, seen=seen)
    client = TestClient(app)
    r = client.get("/items/5?q=hi", headers={"X-Custom": "v"})
    assert r.status_code == 200
    assert r.json() == {"item_id": 5, "q": "hi"}
    assert r.headers["x-request-id"] == "abc123"
    scope = seen[-1]
    assert scope["type"] == "http"
    assert scope["method"] == "GET"
    assert scope["path"] == "/items/5"
    assert scope["raw_path"] == b"/items/5"
    assert scope["query_string"] == b"q=hi"
    assert scope["scheme"] == "http"
    assert scope["root_path"] == ""
    assert scope["app"] is app
    assert isinstance(scope["state"], dict)
    assert scope["http_version"] in ("1.1", "1.0")
    assert all(isinstance(k, bytes) and isinstance(v, bytes) for k, v in scope["headers"])
    assert (b"x-custom", b"v") in scope["headers"]
    assert scope["client"] is not None and len(scope["client"]) == 2
    assert "server" in scope


def test_state_set_in_asgi_middleware_reaches_the_endpoint():
    app = make_app()
    app.add_middleware(RequestIdMiddleware)
    client = TestClient(app)
    assert client.get("/state").json() == {"request_id": "abc123", "tag": None}


def test_scope_changes_reach_the_app():
    class Rewrite:
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            scope = dict(scope)
            if scope["path"] == "/old/5":
                scope["path"] = "/items/5"
                scope["raw_path"] = b"/items/5"
            scope["headers"] = [*scope["headers"], (b"x-added", b"1")]
            scope["query_string"] = b"q=rewritten"
            scope["tag"] = "custom-key"
            await self.app(scope, receive, send)

    app = make_app()

    @app.get("/headers")
    def headers(request: Request):
        return {"added": request.headers.get("x-added"), "tag": request.scope.get("tag")}

    app.add_middleware(Rewrite)
    client = TestClient(app)
    assert client.get("/old/5").json() == {"item_id": 5, "q": "rewritten"}
    assert client.get("/headers").json() == {"added": "1", "tag": "custom-key"}


def test_receive_wrapper_changes_the_body():
    class Upper:
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            async def receive_wrapper():
                message = await receive()
                if message["type"] == "http.request":
                    message = {**message, "body": message.get("body", b"").upper()}
                return message

            await self.app(scope, receive_wrapper, send)

    app = make_app()
    app.add_middleware(Upper)
    client = TestClient(app)
    r = client.post("/echo", content=b"hello", headers={"content-type": "text/plain"})
    assert r.json() == {"body": "HELLO", "ct": "text/plain"}


def test_middleware_reads_body_via_request_and_app_still_gets_it():
    """A middleware that reads the whole body, then replays it to the app."""

    class ReadBody:
        def __init__(self, app, store):
            self.app = app
            self.store = store

        async def __call__(self, scope, receive, send):
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            body = b"".join(chunks)
            self.store.append(json.loads(body) if body else None)
            sent = False

            async def replay():
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send)

    store: list = []
    app = make_app()
    app.add_middleware(ReadBody, store=store)
    client = TestClient(app)
    r = client.post("/echo", json={"a": 1})
    assert r.json() == {"body": '{"a":1}', "ct": "application/json"}
    assert store == [{"a": 1}]


def test_short_circuit_response():
    app = make_app()
    app.add_middleware(BlockMiddleware)
    client = TestClient(app)
    r = client.get("/blocked")
    assert r.status_code == 403
    assert r.text == "blocked"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert client.get("/items/1").json() == {"item_id": 1, "q": None}


def test_hand_written_messages_and_multiple_body_chunks():
    class Respond:
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            if scope["path"] != "/chunks":
                await self.app(scope, receive, send)
                return
            await send({"type": "http.response.start", "status": 202, "headers": [(b"content-type", b"text/plain")]})
            for part in (b"a", b"b", b"c"):
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body", "body": b""})

    app = make_app()
    app.add_middleware(Respond)
    r = TestClient(app).get("/chunks")
    assert r.status_code == 202
    assert r.text == "abc"


def test_order_mixed_with_request_style_middleware():
    order: list = []
    app = make_app()
    app.add_middleware(OrderMiddleware, name="asgi-inner", order=order)

    @app.middleware("http")
    async def http_mw(request: Request, call_next):
        order.append("http-before")
        response = await call_next(request)
        order.append("http-after")
        response.headers["x-http"] = "1"
        return response

    app.add_middleware(OrderMiddleware, name="asgi-outer", order=order)
    client = TestClient(app)
    r = client.get("/items/2")
    assert r.status_code == 200
    assert r.headers["x-http"] == "1"
    assert order[:3] == ["asgi-outer-before", "http-before", "asgi-inner-before"]
    # (Starlette's call_next returns at http.response.start, so "http-after" may come before
    # "asgi-inner-after" there; FasterAPI's returns the complete response.)
    assert sorted(order[3:5]) == ["asgi-inner-after", "http-after"]
    assert order[5:] == ["asgi-outer-after"]


def test_middleware_list_in_constructor():
    seen: list = []
    order: list = []
    app = FastAPI(
        middleware=[
            Middleware(OrderMiddleware, name="first", order=order),
            Middleware(RequestIdMiddleware, header_name="x-id", seen=seen),
        ]
    )

    @app.get("/")
    def root():
        return {"ok": True}

    r = TestClient(app).get("/")
    assert r.json() == {"ok": True}
    assert r.headers["x-id"] == "abc123"
    assert order == ["first-before", "first-after"]  # the first in the list is the outermost
    assert len(seen) == 1


def test_errors_and_404_go_through_asgi_middleware():
    app = make_app()
    statuses: list = []

    class Record:
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            async def wrapped(message):
                if message["type"] == "http.response.start":
                    statuses.append(message["status"])
                await send(message)

            await self.app(scope, receive, wrapped)

    app.add_middleware(Record)
    client = TestClient(app)
    assert client.get("/fail").json() == {"detail": "conflict"}
    assert client.get("/nowhere").status_code == 404
    assert client.get("/items/x").status_code == 422
    assert statuses == [409, 404, 422]


def test_exception_in_asgi_middleware_is_a_500():
    class Boom:
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            raise RuntimeError("boom")

    app = make_app()
    app.add_middleware(Boom)
    with pytest.raises(RuntimeError, match="boom"):
        TestClient(app).get("/items/1")
    r = TestClient(app, raise_server_exceptions=False).get("/items/1")
    assert r.status_code == 500


def test_exception_handler_for_500_sees_middleware_errors():
    class Boom:
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            raise ValueError("bad")

    app = make_app()

    @app.exception_handler(Exception)
    async def handler(request: Request, exc: Exception):
        return JSONResponse({"handled": str(exc)}, status_code=500)

    app.add_middleware(Boom)
    r = TestClient(app, raise_server_exceptions=False).get("/items/1")
    assert r.status_code == 500
    assert r.json() == {"handled": "bad"}


def test_asgi_middleware_with_gzip_and_cors():
    app = make_app()
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(GZipMiddleware, minimum_size=100)
    app.add_middleware(CORSMiddleware, allow_origins=["https://example.com"])
    client = TestClient(app)
    r = client.get("/big", headers={"accept-encoding": "gzip", "origin": "https://example.com"})
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["x-request-id"] == "abc123"
    assert r.headers["access-control-allow-origin"] == "https://example.com"
    assert r.text == "x" * 2000  # httpx decodes


def test_asgi_gzip_wrapping_a_compressed_body_rewrites_content_length():
    """An ASGI middleware that replaces the body must be able to fix Content-Length itself."""

    class Compress:
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            start: dict = {}
            chunks: list[bytes] = []

            async def wrapped(message):
                if message["type"] == "http.response.start":
                    start.update(message)
                    return
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    body = gzip.compress(b"".join(chunks))
                    headers = MutableHeaders(scope=start)
                    headers["content-encoding"] = "gzip"
                    headers["content-length"] = str(len(body))
                    await send(start)
                    await send({"type": "http.response.body", "body": body})

            await self.app(scope, receive, wrapped)

    app = make_app()
    app.add_middleware(Compress)
    r = TestClient(app).get("/big")
    assert r.text == "x" * 2000


def test_request_and_headers_from_scope_in_middleware():
    """`Request(scope, receive)` and `Headers(scope=scope)` as Starlette middleware use them."""
    seen: dict = {}

    class Inspect:
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            request = Request(scope, receive)
            seen["url"] = str(request.url)
            seen["ua"] = request.headers["user-agent"]
            seen["q"] = request.query_params.get("q")
            seen["h"] = Headers(scope=scope).get("x-k")
            await self.app(scope, receive, send)

    app = make_app()
    app.add_middleware(Inspect)
    client = TestClient(app)
    assert client.get("/items/3?q=z", headers={"x-k": "1"}).json() == {"item_id": 3, "q": "z"}
    assert seen == {"url": "http://testserver/items/3?q=z", "ua": "testclient", "q": "z", "h": "1"}


def test_background_task_of_a_short_circuit_response_runs():
    ran: list = []

    class WithBackground:
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            from fasterapi import BackgroundTasks

            tasks = BackgroundTasks()
            tasks.add_task(ran.append, "bg")
            response = PlainTextResponse("done", background=tasks)
            await response(scope, receive, send)

    app = make_app()
    app.add_middleware(WithBackground)
    assert TestClient(app).get("/x").text == "done"
    assert ran == ["bg"]


def test_factory_function_middleware():
    """Starlette accepts any callable `factory(app, **options)` returning an ASGI app."""

    def factory(app, value: str):
        async def middleware(scope, receive, send):
            async def wrapped(message):
                if message["type"] == "http.response.start":
                    message["headers"] = [*message["headers"], (b"x-factory", value.encode())]
                await send(message)

            await app(scope, receive, wrapped)

        return middleware

    app = make_app()
    app.add_middleware(factory, value="yes")
    assert TestClient(app).get("/items/1").headers["x-factory"] == "yes"


def test_user_middleware_turns_the_compiled_routes_off():
    # Middleware sees every request: with one, the engine compiles no route (FastAPI's own stack
    # serves them all); without, the plain routes are compiled. Same answers either way.
    app = make_app()
    assert_compiled(app, "GET /items/{item_id}")
    client = TestClient(app)
    plain = client.get("/items/1")
    app = make_app()
    app.add_middleware(RequestIdMiddleware)
    assert_compiled(app, "GET /items/{item_id}", compiled=False)
    wrapped = TestClient(app).get("/items/1")
    assert wrapped.headers["x-request-id"] == "abc123"
    assert (wrapped.status_code, wrapped.content) == (plain.status_code, plain.content)


def test_starlettes_own_middleware_classes():
    """Third-party middleware written for Starlette: its BaseHTTPMiddleware (anyio task groups),
    GZipMiddleware, and `starlette.middleware.Middleware` in the constructor."""
    pytest.importorskip("starlette")
    from starlette.middleware import Middleware as StarletteMiddleware
    from starlette.middleware.base import BaseHTTPMiddleware as StarletteBase
    from starlette.middleware.gzip import GZipMiddleware as StarletteGZip

    class Custom(StarletteBase):
        async def dispatch(self, request, call_next):
            response = await call_next(request)
            response.headers["x-starlette"] = request.url.path
            return response

    app = FastAPI(middleware=[StarletteMiddleware(StarletteGZip, minimum_size=10)])

    @app.get("/big")
    def big():
        return PlainTextResponse("y" * 500)

    @app.post("/echo")
    async def echo(request: Request):
        return {"body": (await request.body()).decode()}

    app.add_middleware(Custom)
    client = TestClient(app)
    r = client.get("/big", headers={"accept-encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["x-starlette"] == "/big"
    assert r.text == "y" * 500
    r = client.post("/echo", content=b"abc")
    assert r.json() == {"body": "abc"}
    assert r.headers["x-starlette"] == "/echo"
