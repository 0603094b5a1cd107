"""`app.mount(path, asgi_app)` with a plain ASGI app: the child scope Starlette's Mount builds, the
body through receive, responses of several body messages, errors; served through the engine."""

from __future__ import annotations

import pytest

from fasterapi import FastAPI, Request
from fasterapi.testclient import TestClient


class Recorder:
    """A hand-written ASGI app that echoes what it was given."""

    def __init__(self) -> None:
        self.scopes: list[dict] = []
        self.bodies: list[bytes] = []

    async def __call__(self, scope, receive, send) -> None:
        assert scope["type"] == "http"
        self.scopes.append(scope)
        body = b""
        while True:
            message = await receive()
            assert message["type"] == "http.request"
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.bodies.append(body)
        await send({
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-type", b"text/plain"), (b"x-mounted", b"yes")],
        })
        await send({"type": "http.response.body", "body": b"path=" + scope["path"].encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b" root=" + scope["root_path"].encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b" body=" + body})


def make_app(sub) -> FastAPI:
    app = FastAPI()

    @app.get("/own")
    def own():
        return {"own": True}

    app.mount("/sub", sub)
    return app


def test_scope_of_a_mounted_asgi_app():
    sub = Recorder()
    client = TestClient(make_app(sub))
    r = client.get("/sub/a/b?x=1", headers={"X-Thing": "t"})
    assert r.status_code == 201
    assert r.headers["x-mounted"] == "yes"
    assert r.headers["content-type"] == "text/plain"
    assert r.text == "path=/sub/a/b root=/sub body="
    scope = sub.scopes[-1]
    assert scope["method"] == "GET"
    assert scope["path"] == "/sub/a/b"
    assert scope["root_path"] == "/sub"
    assert scope["raw_path"] == b"/sub/a/b"
    assert scope["query_string"] == b"x=1"
    assert scope["scheme"] == "http"
    assert (b"x-thing", b"t") in scope["headers"]
    assert scope["client"] is not None
    assert client.get("/own").json() == {"own": True}


def test_request_body_reaches_the_mounted_app():
    sub = Recorder()
    client = TestClient(make_app(sub))
    payload = b"0123456789" * 1000
    r = client.post("/sub/upload", content=payload)
    assert r.status_code == 201
    assert sub.bodies[-1] == payload
    assert r.text.endswith("body=" + payload.decode())


def test_nested_mount_inside_a_mounted_fasterapi_app():
    sub = Recorder()
    inner = FastAPI()
    inner.mount("/inner", sub)

    @inner.get("/hello")
    def hello():
        return {"hello": "inner"}

    app = FastAPI()
    app.mount("/outer", inner)
    client = TestClient(app)
    assert client.get("/outer/hello").json() == {"hello": "inner"}
    r = client.get("/outer/inner/x")
    assert r.text == "path=/outer/inner/x root=/outer/inner body="
    assert sub.scopes[-1]["root_path"] == "/outer/inner"


def test_mounted_app_under_middleware():
    sub = Recorder()
    app = make_app(sub)

    @app.middleware("http")
    async def tag(request: Request, call_next):
        response = await call_next(request)
        response.headers["x-tag"] = "mw"
        return response

    r = TestClient(app).get("/sub/z")
    assert r.status_code == 201
    assert r.headers["x-tag"] == "mw"
    assert r.text == "path=/sub/z root=/sub body="


def test_state_from_lifespan_is_in_the_scope():
    from contextlib import asynccontextmanager

    sub = Recorder()

    @asynccontextmanager
    async def lifespan(app):
        yield {"db": "conn"}

    app = FastAPI(lifespan=lifespan)
    app.mount("/sub", sub)
    with TestClient(app) as client:
        client.get("/sub/q")
    assert sub.scopes[-1]["state"]["db"] == "conn"


def test_exception_in_a_mounted_app_is_a_500():
    async def broken(scope, receive, send):
        raise RuntimeError("mounted boom")

    app = make_app(broken)
    with pytest.raises(RuntimeError, match="mounted boom"):
        TestClient(app).get("/sub/x")
    assert TestClient(app, raise_server_exceptions=False).get("/sub/x").status_code == 500


def test_disconnect_after_the_body_is_reported_once_the_response_is_sent():
    """As a server: receive() after the body waits for the response, then says http.disconnect."""
    import asyncio

    events: list[str] = []

    async def app_with_listener(scope, receive, send):
        await receive()  # the body

        async def listen():
            message = await receive()
            events.append(message["type"])

        task = asyncio.ensure_future(listen())
        await asyncio.sleep(0)
        assert not task.done()  # still waiting: the response has not been sent
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        await task

    app = make_app(app_with_listener)
    assert TestClient(app).get("/sub/").text == "ok"
    assert events == ["http.disconnect"]


def test_mounted_fasterapi_app():
    sub = FastAPI()

    @sub.get("/items/{item_id}")
    def item(item_id: int, request: Request):
        return {"item_id": item_id, "root_path": request.scope["root_path"]}

    app = make_app(sub)
    assert TestClient(app).get("/sub/items/3").json() == {"item_id": 3, "root_path": "/sub"}


def test_mounted_starlette_app():
    pytest.importorskip("starlette")
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse, StreamingResponse
    from starlette.routing import Route

    async def hello(request):
        return PlainTextResponse(f"{request.url.path} {request.scope['root_path']} {request.url_for('hello')}")

    async def stream(request):
        async def numbers():
            for i in range(3):
                yield f"{i};"

        return StreamingResponse(numbers(), media_type="text/plain")

    async def echo(request):
        return PlainTextResponse((await request.body()).decode())

    starlette_app = Starlette(
        routes=[Route("/hello", hello, name="hello"), Route("/stream", stream), Route("/echo", echo, methods=["POST"])]
    )
    app = make_app(starlette_app)
    client = TestClient(app)
    r = client.get("/sub/hello")
    assert r.status_code == 200
    assert r.text.startswith("/sub/hello /sub http://testserver/")
    r = client.get("/sub/stream")
    assert r.text == "0;1;2;"
    assert client.post("/sub/echo", content=b"data").text == "data"
    assert client.get("/sub/missing").status_code == 404
