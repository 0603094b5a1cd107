"""Routes with `response_class=PlainTextResponse` or `HTMLResponse` are compiled, and the engine
writes a `str` result itself; every other result (int, None, bytes, a returned Response, a str that
cannot be encoded) becomes what FastAPI makes of it. Differential: each request goes to the engine
and to the app as a plain ASGI app; status, headers and body bytes must be identical.
"""

from __future__ import annotations

from typing import Annotated, Any

import pytest
import starlette.testclient
from engine_reports import assert_compiled
from fasterapi.middleware.cors import CORSMiddleware
from fasterapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from fasterapi import APIRouter, Depends, FastAPI, HTTPException
from fasterapi.testclient import TestClient


def who(name: str = "world") -> str:
    return name


def build(cors: bool) -> FastAPI:
    app = FastAPI()
    if cors:
        app.add_middleware(CORSMiddleware, allow_origins=["*"])

    @app.get("/plain", response_class=PlainTextResponse)
    async def plain(kind: str = "str") -> Any:
        values: dict[str, Any] = {
            "str": "hello", "empty": "", "unicode": "h\u00e9llo \u2713", "int": 42, "none": None,
            "bytes": b"raw", "list": ["a"], "surrogate": "\ud800",
            "response": PlainTextResponse("own", status_code=202, headers={"x-own": "1"}),
            "json": JSONResponse({"a": 1}),
        }
        if kind == "raise":
            raise HTTPException(409, "conflict")
        return values[kind]

    @app.get("/html", response_class=HTMLResponse)
    def html(n: int = 1) -> str:
        return "<p>" * n

    @app.get("/def-plain", response_class=PlainTextResponse)  # a def: on the engine's native pool
    def def_plain(kind: str = "str") -> Any:
        values: dict[str, Any] = {"str": "pooled", "int": 7, "none": None,
                                  "response": PlainTextResponse("own", status_code=203)}
        if kind == "raise":
            raise HTTPException(418, "teapot")
        return values[kind]

    @app.post("/created", response_class=PlainTextResponse, status_code=201)
    async def created() -> str:
        return "made"

    @app.get("/greet", response_class=PlainTextResponse)
    async def greet(name: Annotated[str, Depends(who)]) -> str:
        return f"hi {name}"

    router = APIRouter(default_response_class=PlainTextResponse)

    @router.get("/routed")
    async def routed() -> str:
        return "from a router"

    app.include_router(router, prefix="/r")
    return app


APPS = {"plain": build(False), "cors": build(True)}
ROUTES = ["GET /plain", "GET /html", "GET /def-plain", "POST /created", "GET /greet", "GET /r/routed"]


@pytest.mark.parametrize("name", APPS)
def test_text_routes_are_compiled(name: str) -> None:
    assert_compiled(APPS[name], *ROUTES)


CASES = [
    ("get", "/plain", {}),
    *[("get", f"/plain?kind={k}", {}) for k in
      ("empty", "unicode", "int", "none", "bytes", "list", "surrogate", "response", "json", "raise", "missing")],
    ("get", "/html", {}),
    ("get", "/html?n=3", {}),
    *[("get", f"/def-plain?kind={k}", {}) for k in ("str", "int", "none", "response", "raise", "missing")],
    ("get", "/html?n=x", {}),
    ("post", "/created", {}),
    ("get", "/greet", {}),
    ("get", "/greet?name=%C3%A9", {}),
    ("get", "/r/routed", {}),
    ("head", "/plain", {}),
    ("get", "/plain", {"headers": {"origin": "https://x.example"}}),
]


@pytest.fixture(scope="module")
def clients() -> dict[str, tuple[Any, Any]]:
    return {name: (TestClient(app, raise_server_exceptions=False),
                   starlette.testclient.TestClient(app, raise_server_exceptions=False)) for name, app in APPS.items()}


@pytest.mark.parametrize("name", APPS)
@pytest.mark.parametrize(("method", "url", "kwargs"), CASES, ids=[f"{m} {u} {k}" for m, u, k in CASES])
def test_engine_answers_as_fastapi(clients: dict[str, tuple[Any, Any]], name: str, method: str, url: str,
                                   kwargs: dict[str, Any]) -> None:
    engine_client, asgi_client = clients[name]
    engine = engine_client.request(method, url, **kwargs)
    asgi = asgi_client.request(method, url, **kwargs)
    assert (engine.status_code, engine.content) == (asgi.status_code, asgi.content)
    for header in ("content-type", "content-length", "vary", "x-own", "access-control-allow-origin"):
        assert engine.headers.get_list(header) == asgi.headers.get_list(header), header
