"""Routes of routers included with `include_router` are compiled, and answer exactly as FastAPI.

FastAPI 0.165 keeps an included router nested: one route of the app that matches its own routes
in order, each under the include's prefix, dependencies and default response class, through a
request handler built for the include. The compiler opens included routers in place (nested ones
too) and compiles each route as FastAPI built it for the include; what an earlier route could
fully match (same methods, overlapping path) is left to the app. Every request goes to the engine
and to the app as a plain ASGI app; status, content-type and body must be identical.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
import starlette.testclient
from engine_reports import assert_compiled
from fasterapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel
from starlette.responses import PlainTextResponse as StarlettePlain
from starlette.routing import Mount

from fasterapi import APIRouter, Depends, FastAPI, Header, HTTPException
from fasterapi.testclient import TestClient


class IndentedJSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, indent=1).encode()


class Item(BaseModel):
    name: str
    price: float


def token(x_token: Annotated[str, Header()] = "") -> str:
    if x_token == "bad":
        raise HTTPException(403, "bad token")
    return x_token


items = APIRouter()


@items.get("/")
async def list_items(limit: int = 2) -> list[int]:
    return list(range(limit))


@items.get("/{item_id}")
def read_item(item_id: int, q: str | None = None) -> dict[str, Any]:
    return {"item_id": item_id, "q": q}


@items.post("/")
async def create_item(item: Item) -> Item:
    return item


@items.get("/special")  # shadowed by /{item_id} above (same method): FastAPI never reaches it
def special() -> str:
    return "never"


@items.delete("/{item_id}")  # same path, other method: not shadowed
async def delete_item(item_id: int) -> dict[str, int]:
    return {"deleted": item_id}


inner = APIRouter(prefix="/inner")


@inner.get("/ping")
async def inner_ping() -> dict[str, str]:
    return {"ping": "pong"}


@inner.get("/text", response_class=PlainTextResponse)
async def inner_text() -> str:
    return "plain"


outer = APIRouter()


@outer.get("/who")
def who(tok: Annotated[str, Depends(token)]) -> dict[str, str]:
    return {"token": tok}


outer.include_router(inner)
mounted = APIRouter()
mounted.routes.append(Mount("/static", app=StarlettePlain("mounted")))


@mounted.get("/static/file")  # behind the mount above: the mount answers
def static_file() -> str:
    return "never"


@mounted.get("/after-mount")
def after_mount() -> str:
    return "after"


app = FastAPI()


@app.get("/top")
async def top() -> dict[str, str]:
    return {"top": "level"}


app.include_router(items, prefix="/items", tags=["items"])
app.include_router(outer, prefix="/v1", dependencies=[Depends(token)], default_response_class=IndentedJSON)
app.include_router(mounted, prefix="/m")


@app.get("/items/{item_id}/detail")
async def item_detail(item_id: int) -> dict[str, int]:
    return {"detail": item_id}


@app.get("/items/7")  # the included /items/{item_id} matches first
async def shadowed_seven() -> str:
    return "never"


COMPILED = ["GET /top", "GET /items/", "GET /items/{item_id}", "POST /items/", "DELETE /items/{item_id}",
            "GET /v1/who", "GET /v1/inner/ping", "GET /v1/inner/text", "GET /m/after-mount",
            "GET /items/{item_id}/detail"]
NOT_COMPILED = ["GET /items/special", "GET /m/static/file", "GET /items/7"]


def test_included_routes_are_compiled() -> None:
    assert_compiled(app, *COMPILED)
    assert_compiled(app, *NOT_COMPILED, compiled=False)


CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("get", "/top", {}),
    ("get", "/items/", {}),
    ("get", "/items/?limit=4", {}),
    ("get", "/items/?limit=x", {}),
    ("get", "/items", {}),
    ("get", "/items/3?q=a", {}),
    ("get", "/items/x", {}),
    ("get", "/items/special", {}),
    ("get", "/items/7", {}),
    ("get", "/items/7/detail", {}),
    ("post", "/items/", {"json": {"name": "n", "price": 2}}),
    ("post", "/items/", {"json": {"name": "n"}}),
    ("delete", "/items/5", {}),
    ("put", "/items/5", {}),
    ("get", "/v1/who", {"headers": {"x-token": "abc"}}),
    ("get", "/v1/who", {"headers": {"x-token": "bad"}}),
    ("get", "/v1/who", {}),
    ("get", "/v1/inner/ping", {"headers": {"x-token": "t"}}),
    ("get", "/v1/inner/ping", {"headers": {"x-token": "bad"}}),
    ("get", "/v1/inner/text", {}),
    ("get", "/v1/inner/nope", {}),
    ("get", "/m/static/file", {}),
    ("get", "/m/after-mount", {}),
    ("post", "/m/after-mount", {}),
]


@pytest.fixture(scope="module")
def clients() -> tuple[Any, Any]:
    return (TestClient(app, raise_server_exceptions=False),
            starlette.testclient.TestClient(app, raise_server_exceptions=False))


@pytest.mark.parametrize(("method", "url", "kwargs"), CASES, ids=[f"{m} {u}" for m, u, _ in CASES])
def test_engine_answers_as_fastapi(clients: tuple[Any, Any], method: str, url: str, kwargs: dict[str, Any]) -> None:
    engine_client, asgi_client = clients
    engine = engine_client.request(method, url, follow_redirects=False, **kwargs)
    asgi = asgi_client.request(method, url, follow_redirects=False, **kwargs)
    assert (engine.status_code, engine.headers.get("content-type"), engine.content) == (
        asgi.status_code, asgi.headers.get("content-type"), asgi.content)
    for name in ("allow", "location"):
        assert engine.headers.get(name) == asgi.headers.get(name), name
