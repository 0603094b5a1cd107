"""HTTPException, custom exception handlers, validation-error overrides, server errors."""

from __future__ import annotations

from fasterapi import FastAPI, HTTPException, Request
from fasterapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fasterapi.exceptions import RequestValidationError
from starlette_compat import StarletteHTTPException
from fasterapi.responses import JSONResponse, PlainTextResponse
from fasterapi.testclient import TestClient


class UnicornException(Exception):
    def __init__(self, name: str):
        self.name = name


def make_app() -> FastAPI:
    app = FastAPI()

    @app.exception_handler(UnicornException)
    async def unicorn_exception_handler(request: Request, exc: UnicornException):
        return JSONResponse(status_code=418, content={"message": f"Oops! {exc.name} did something. There goes a rainbow..."})

    @app.get("/items/{item_id}")
    async def read_item(item_id: str):
        if item_id != "foo":
            raise HTTPException(status_code=404, detail="Item not found", headers={"X-Error": "There goes my error"})
        return {"item": "The Foo Wrestlers"}

    @app.get("/unicorns/{name}")
    def read_unicorn(name: str):
        if name == "yolo":
            raise UnicornException(name=name)
        return {"unicorn_name": name}

    @app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    @app.get("/no-detail")
    def no_detail():
        raise HTTPException(status_code=403)

    @app.get("/typed/{n}")
    def typed(n: int):
        return n

    return app


def test_http_exception_with_headers():
    client = TestClient(make_app())
    assert client.get("/items/foo").json() == {"item": "The Foo Wrestlers"}
    r = client.get("/items/bar")
    assert r.status_code == 404
    assert r.json() == {"detail": "Item not found"}
    assert r.headers["x-error"] == "There goes my error"


def test_http_exception_default_detail():
    r = TestClient(make_app()).get("/no-detail")
    assert r.status_code == 403
    assert r.json() == {"detail": "Forbidden"}


def test_custom_exception_handler():
    client = TestClient(make_app())
    r = client.get("/unicorns/yolo")
    assert r.status_code == 418
    assert r.json() == {"message": "Oops! yolo did something. There goes a rainbow..."}
    assert client.get("/unicorns/x").json() == {"unicorn_name": "x"}


def test_override_validation_handler():
    app = make_app()

    @app.exception_handler(RequestValidationError)
    async def validation_exception_handler(request: Request, exc: RequestValidationError):
        return PlainTextResponse(f"invalid: {len(exc.errors())} error(s) at {request.url.path}", status_code=400)

    r = TestClient(app).get("/typed/abc")
    assert r.status_code == 400
    assert r.text == "invalid: 1 error(s) at /typed/abc"


def test_override_http_exception_handler_and_reuse_default():
    app = make_app()
    seen = []

    @app.exception_handler(HTTPException)
    async def custom_http_exception_handler(request, exc):
        seen.append(exc.status_code)
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def custom_validation(request, exc):
        seen.append("validation")
        return await request_validation_exception_handler(request, exc)

    client = TestClient(app)
    assert client.get("/items/bar").status_code == 404
    assert client.get("/does-not-exist").status_code == 404
    r = client.get("/typed/x")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["path", "n"]
    # As in FastAPI: the router's own 404 is a Starlette HTTPException, not seen by this handler.
    assert seen == [404, "validation"]


def test_starlette_http_exception_handler_sees_router_404():
    app = make_app()
    seen = []

    @app.exception_handler(StarletteHTTPException)
    async def handler(request, exc):
        seen.append(exc.status_code)
        return PlainTextResponse(str(exc.detail), status_code=exc.status_code)

    client = TestClient(app)
    assert client.get("/does-not-exist").text == "Not Found"
    assert client.get("/items/bar").text == "Item not found"
    assert client.post("/items/foo").status_code == 405
    assert seen == [404, 404, 405]


def test_status_code_handler():
    app = make_app()

    @app.exception_handler(404)
    async def not_found(request, exc):
        return JSONResponse({"missing": request.url.path}, status_code=404)

    client = TestClient(app)
    assert client.get("/nowhere").json() == {"missing": "/nowhere"}
    assert client.get("/items/bar").json() == {"missing": "/items/bar"}


def test_unhandled_exception_is_500():
    client = TestClient(make_app(), raise_server_exceptions=False)
    r = client.get("/boom")
    assert r.status_code == 500


def test_unhandled_exception_raises_in_test_client():
    client = TestClient(make_app())
    try:
        client.get("/boom")
    except RuntimeError as exc:
        assert str(exc) == "boom"
    else:
        raise AssertionError("the server exception should reach the test")


def test_exception_handler_for_exception():
    app = make_app()

    @app.exception_handler(Exception)
    async def all_errors(request, exc):
        return JSONResponse({"error": type(exc).__name__}, status_code=500)

    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/boom")
    assert r.status_code == 500
    assert r.json() == {"error": "RuntimeError"}
    assert client.get("/items/bar").status_code == 404


def test_validation_error_body_attribute():
    app = FastAPI()
    captured = {}

    @app.exception_handler(RequestValidationError)
    async def handler(request, exc):
        captured["body"] = exc.body
        return JSONResponse({"detail": exc.errors()[0]["msg"]}, status_code=422)

    @app.post("/p")
    def p(size: int, payload: dict):
        return payload

    r = TestClient(app).post("/p?size=x", json={"a": 1})
    assert r.status_code == 422
    assert captured["body"] == {"a": 1}
