"""An app with CORSMiddleware keeps its compiled routes, and answers exactly as FastAPI does.

Starlette's CORSMiddleware lets a request without an Origin header through to the app and adds
`Vary: Origin` to its response (joined with the response's own Vary headers). The engine serves
such requests from compiled routes and makes the same edit: on the JSON it writes itself, on
responses made in Python (response classes, returned responses, exception handlers' responses),
and not on the 500 of an unhandled error (ServerErrorMiddleware is outside the user's middleware).
A request with an Origin (simple or preflight) goes through the app and its middleware. Every
request goes to the engine and to the app as a plain ASGI app: status, headers that matter, body.
"""

from __future__ import annotations

from typing import Any

import pytest
import starlette.testclient
from engine_reports import assert_compiled
from fasterapi.middleware.cors import CORSMiddleware
from fasterapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel

from fasterapi import FastAPI, HTTPException, Request
from fasterapi.testclient import TestClient


class Item(BaseModel):
    name: str
    price: float


class Teapot(Exception):
    pass


def make_app(**cors: Any) -> FastAPI:
    app = FastAPI()
    app.add_middleware(CORSMiddleware, **cors)

    @app.exception_handler(Teapot)
    async def teapot(request: Request, exc: Teapot) -> JSONResponse:
        return JSONResponse({"teapot": True}, status_code=418, headers={"Vary": "X-Brew"})

    @app.get("/json")
    async def json_() -> dict[str, str]:
        return {"hello": "world"}

    @app.get("/items/{item_id}")
    def read_item(item_id: int, q: str | None = None) -> dict[str, Any]:
        return {"item_id": item_id, "q": q}

    @app.post("/items", response_model=Item)
    async def create(item: Item) -> Item:
        return item

    @app.get("/text", response_class=PlainTextResponse)
    async def text() -> str:
        return "plain"

    @app.get("/returned")
    async def returned() -> JSONResponse:
        return JSONResponse({"own": "vary"}, headers={"Vary": "Accept-Language"})

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def parts() -> Any:
            yield b"a"
            yield b"b"
        return StreamingResponse(parts(), media_type="text/plain")

    @app.get("/missing")
    async def missing() -> None:
        raise HTTPException(404, "no such thing")

    @app.get("/teapot")
    async def brew() -> None:
        raise Teapot()

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    return app


APPS = {
    "specific": make_app(allow_origins=["https://a.example"], allow_methods=["*"], allow_headers=["*"]),
    "wildcard": make_app(allow_origins=["*"]),
    "credentials": make_app(allow_origins=["*"], allow_credentials=True, expose_headers=["X-Id"]),
}
ROUTES = ["GET /json", "GET /items/{item_id}", "POST /items", "GET /text", "GET /returned", "GET /stream",
          "GET /missing", "GET /teapot", "GET /crash"]


@pytest.mark.parametrize("name", APPS)
def test_routes_stay_compiled_behind_cors(name: str) -> None:
    assert_compiled(APPS[name], *ROUTES)


ORIGIN = {"headers": {"origin": "https://a.example"}}
OTHER_ORIGIN = {"headers": {"origin": "https://b.example"}}
PREFLIGHT = {"headers": {"origin": "https://a.example", "access-control-request-method": "POST"}}
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("get", "/json", {}),
    ("get", "/json", ORIGIN),
    ("get", "/json", OTHER_ORIGIN),
    ("get", "/items/3?q=x", {}),
    ("get", "/items/x", {}),
    ("get", "/items/3", ORIGIN),
    ("post", "/items", {"json": {"name": "n", "price": 1}}),
    ("post", "/items", {"json": {"name": "n"}}),
    ("post", "/items", {"json": {"name": "n", "price": 1}, **ORIGIN}),
    ("options", "/items", PREFLIGHT),
    ("options", "/items", {}),
    ("get", "/text", {}),
    ("get", "/text", ORIGIN),
    ("get", "/returned", {}),
    ("get", "/returned", ORIGIN),
    ("get", "/stream", {}),
    ("get", "/stream", ORIGIN),
    ("get", "/missing", {}),
    ("get", "/missing", ORIGIN),
    ("get", "/teapot", {}),
    ("get", "/teapot", ORIGIN),
    ("get", "/crash", {}),
    ("get", "/crash", ORIGIN),
    ("get", "/nowhere", {}),
    ("head", "/json", {}),
]
HEADERS = ("content-type", "vary", "access-control-allow-origin", "access-control-allow-credentials",
           "access-control-expose-headers", "access-control-allow-methods", "allow")


@pytest.fixture(scope="module")
def clients() -> dict[str, tuple[Any, Any]]:
    return {name: (TestClient(app, raise_server_exceptions=False),
                   starlette.testclient.TestClient(app, raise_server_exceptions=False)) for name, app in APPS.items()}


@pytest.mark.parametrize("name", APPS)
@pytest.mark.parametrize(("method", "url", "kwargs"), CASES,
                         ids=[f"{m} {u} {sorted(k.get('headers', {}))}" for m, u, k in CASES])
def test_engine_answers_as_fastapi(clients: dict[str, tuple[Any, Any]], name: str, method: str, url: str,
                                   kwargs: dict[str, Any]) -> None:
    engine_client, asgi_client = clients[name]
    engine = engine_client.request(method, url, **kwargs)
    asgi = asgi_client.request(method, url, **kwargs)
    assert (engine.status_code, engine.content) == (asgi.status_code, asgi.content)
    for header in HEADERS:
        assert engine.headers.get_list(header) == asgi.headers.get_list(header), header
