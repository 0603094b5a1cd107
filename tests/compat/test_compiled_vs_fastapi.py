"""Differential: routes the engine compiles to native plans answer exactly as FastAPI does.

One app with many compiled routes (scalar path/query/header/cookie parameters with defaults and
aliases, a pydantic body, response_model, def and async def endpoints, awkward return values,
returned Starlette responses, HTTPException, a custom exception handler). Every request, valid or
not, is sent to the engine (fasterapi.testclient.TestClient) and to the app as a pure ASGI app
(starlette.testclient.TestClient): status, content-type and body bytes must be identical.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from typing import Annotated, Any

import pytest
import starlette.testclient
from pydantic import BaseModel

from engine_reports import assert_compiled
from fasterapi import Body, Cookie, FastAPI, Header, HTTPException, Path, Query, Request
from fasterapi.responses import JSONResponse, PlainTextResponse
from fasterapi.testclient import TestClient


class Color(enum.Enum):
    RED = "red"
    ONE = 1


class Size(str, enum.Enum):
    S = "s"


class Tag(BaseModel):
    label: str
    weight: float = 1.0


class Item(BaseModel):
    name: str
    price: float
    tags: list[Tag] = []
    meta: dict[str, int] = {}
    note: str | None = None


class ItemOut(BaseModel):
    name: str
    price: float


class Teapot(Exception):
    def __init__(self, who: str) -> None:
        self.who = who


app = FastAPI()


@app.exception_handler(Teapot)
async def teapot_handler(request: Request, exc: Teapot) -> JSONResponse:
    return JSONResponse({"teapot": exc.who}, status_code=418, headers={"x-teapot": "1"})


@app.get("/scalars/{i}/{f}/{s}/{b}")
def scalars(i: int, f: float, s: str, b: bool) -> dict[str, Any]:
    return {"i": i, "f": f, "s": s, "b": b}


@app.get("/query")
async def query(
    n: int = 3,
    x: float = 0.5,
    name: str = "anon",
    flag: bool = False,
    maybe: int | None = None,
    required: Annotated[int, Query(alias="req-uired")] = 7,
) -> dict[str, Any]:
    return {"n": n, "x": x, "name": name, "flag": flag, "maybe": maybe, "required": required}


@app.get("/required")
def required_query(q: int, s: str) -> list[Any]:
    return [q, s]


@app.get("/headers")
def headers(
    x_token: Annotated[str, Header()] = "none",
    x_count: Annotated[int | None, Header()] = None,
    raw_name: Annotated[str | None, Header(convert_underscores=False)] = None,
    agent: Annotated[str | None, Header(alias="user-agent")] = None,
) -> dict[str, Any]:
    return {"token": x_token, "count": x_count, "raw": raw_name, "agent": agent}


@app.get("/cookies")
async def cookies(
    session: Annotated[str | None, Cookie()] = None,
    n: Annotated[int, Cookie()] = 0,
    ratio: Annotated[float, Cookie(alias="the-ratio")] = 1.0,
) -> dict[str, Any]:
    return {"session": session, "n": n, "ratio": ratio}


@app.get("/path-alias/{item_id}")
def path_alias(item_id: Annotated[int, Path()], verbose: bool = True) -> dict[str, Any]:
    return {"id": item_id, "verbose": verbose}


@app.post("/items")
async def create_item(item: Item) -> dict[str, Any]:
    return {"item": item, "total": item.price * 2}


@app.post("/items-sync/{item_id}", status_code=201)
def create_item_sync(item_id: int, item: Item, q: str | None = None) -> dict[str, Any]:
    return {"id": item_id, "item": item.model_dump(), "q": q}


@app.post("/items-out", response_model=ItemOut)
def items_out(item: Item) -> Any:
    return item


@app.get("/model-out/{n}", response_model=list[ItemOut])
async def model_out(n: int) -> Any:
    return [{"name": f"n{i}", "price": i, "extra": True} for i in range(n)]


@app.get("/bad-model", response_model=ItemOut)
def bad_model() -> Any:
    return {"name": "no price"}


@app.get("/values/{which}")
def values(which: str) -> Any:
    table: dict[str, Any] = {
        "intkeys": {1: "a", 2: {3: [4, 5]}},
        "nested": [[1, [2, [3, []]]], {"a": ()}, (1, "two", None)],
        "floats": [1e16, 0.1, -0.0, 1.5e300, 3.0, 2.5e-8, 123456789.123],
        "bigint": [2**63, -(2**63) - 1, 10**30],
        "unicode": {"é": "caf\u00e9", "emoji": "\U0001f600", "ctl": "\x00\x1f\u2028", "quote": '"\\/'},
        "datetime": {
            "dt": datetime.datetime(2024, 1, 2, 3, 4, 5, 6789),
            "tz": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))),
            "d": datetime.date(2024, 2, 29),
            "t": datetime.time(23, 59, 1),
            "delta": datetime.timedelta(days=1, seconds=2, microseconds=3),
        },
        "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "decimal": [decimal.Decimal("1.10"), decimal.Decimal("3"), decimal.Decimal("-0.5")],
        "enum": [Color.RED, Color.ONE, Size.S],
        "none": None,
        "bool": [True, False],
        "set": {"only"},
        "bytes": b"raw bytes",
        "model": Tag(label="t"),
        "models": {"k": [Tag(label="a", weight=2)]},
        "string": "just a string",
        "int": 42,
        "float": 0.30000000000000004,
        "empty": {},
    }
    return table[which]


@app.get("/json-response")
def json_response(code: int = 200) -> JSONResponse:
    return JSONResponse({"code": code, "list": [1, None]}, status_code=code, headers={"x-j": "1"})


@app.get("/text-response")
async def text_response(text: str = "hello") -> PlainTextResponse:
    return PlainTextResponse(text, status_code=202)


@app.get("/raise/{code}")
def raise_http(code: int) -> None:
    raise HTTPException(status_code=code, detail={"code": code, "why": ["x"]}, headers={"x-raised": "1"})


@app.get("/raise-async")
async def raise_async(detail: str = "nope") -> None:
    raise HTTPException(status_code=403, detail=detail)


@app.get("/teapot")
def teapot(who: str = "me") -> None:
    raise Teapot(who)


@app.get("/crash")
async def crash() -> None:
    raise RuntimeError("boom")


@app.put("/embed")
def embed(value: Annotated[int, Body()] = 0) -> int:  # FastAPI's single Body() scalar: not compiled
    return value


COMPILED = [
    "GET /scalars/{i}/{f}/{s}/{b}", "GET /query", "GET /required", "GET /headers", "GET /cookies",
    "GET /path-alias/{item_id}", "POST /items", "POST /items-sync/{item_id}", "POST /items-out",
    "GET /model-out/{n}", "GET /bad-model", "GET /values/{which}", "GET /json-response",
    "GET /text-response", "GET /raise/{code}", "GET /raise-async", "GET /teapot", "GET /crash",
]


def test_the_routes_are_compiled() -> None:
    assert_compiled(app, *COMPILED)


VALUES = ["intkeys", "nested", "floats", "bigint", "unicode", "datetime", "uuid", "decimal", "enum", "none",
          "bool", "set", "bytes", "model", "models", "string", "int", "float", "empty"]

ITEM = {"name": "Plumbus", "price": 3.5, "tags": [{"label": "a"}, {"label": "b", "weight": 2}], "meta": {"k": 1}}

CASES: list[tuple[str, str, dict[str, Any]]] = [
    # path scalars
    ("get", "/scalars/1/2.5/abc/true", {}),
    ("get", "/scalars/-7/1e3/caf%C3%A9/0", {}),
    ("get", "/scalars/+5/-0.0/%20sp/on", {}),
    ("get", "/scalars/007/inf/x/off", {}),
    ("get", "/scalars/1.0/nan/x/yes", {}),
    ("get", "/scalars/x/1/x/true", {}),
    ("get", "/scalars/1/x/x/maybe", {}),
    ("get", "/scalars/99999999999999999999999/1/x/1", {}),
    ("get", "/scalars/1_000/1/x/1", {}),
    ("get", "/scalars/1/2/x/TRUE", {}),
    ("get", "/scalars/1/2/x/", {}),
    # query
    ("get", "/query", {}),
    ("get", "/query?n=5&x=-1.25&name=bob&flag=1&maybe=3&req-uired=9", {}),
    ("get", "/query?n=1&n=2&n=3", {}),
    ("get", "/query?n=&x=&name=", {}),
    ("get", "/query?maybe=", {}),
    ("get", "/query?flag=no&flag=y", {}),
    ("get", "/query?required=1", {}),
    ("get", "/query?n=abc&x=def&flag=2", {}),
    ("get", "/query?name=%E2%9C%93%00&x=1e400", {}),
    ("get", "/query?n=%20%205", {}),
    ("get", "/query?n=5%20", {}),
    ("get", "/query?x=0x10", {}),
    ("get", "/query?n=1e3", {}),
    ("get", "/query?x=1_0", {}),
    ("get", "/query?n=9223372036854775808&x=1e-7", {}),
    ("get", "/query?n=-9223372036854775809&x=100000000000000000.0", {}),
    ("get", "/query?x=1e16&n=%2B0", {}),
    ("get", "/query?x=-inf", {}),
    ("get", "/query?x=.5", {}),
    ("get", "/query?x=5.", {}),
    ("get", "/query?flag=True&name=a+b", {}),
    ("get", "/query?flag=%C3%BF", {}),
    ("get", "/query?n=%D9%A3", {}),
    ("get", "/required?q=1&s=", {}),
    ("get", "/required?q=1", {}),
    ("get", "/required", {}),
    ("get", "/required?q=x", {}),
    # headers
    ("get", "/headers", {}),
    ("get", "/headers", {"headers": {"x-token": "tok", "x-count": "3", "raw_name": "r", "user-agent": "ua/1"}}),
    ("get", "/headers", {"headers": {"X-TOKEN": "upper", "x-count": "three"}}),
    ("get", "/headers", {"headers": {"x_token": "underscore", "raw-name": "dash"}}),
    ("get", "/headers", {"headers": [("x-token", "a"), ("x-token", "b")]}),
    ("get", "/headers", {"headers": {"x-count": " 4 "}}),
    ("get", "/headers", {"headers": {"x-count": ""}}),
    ("get", "/headers", {"headers": {"x-token": ""}}),
    # cookies
    ("get", "/cookies", {}),
    ("get", "/cookies", {"headers": {"cookie": "session=abc; n=5; the-ratio=0.25"}}),
    ("get", "/cookies", {"headers": {"cookie": "n=x"}}),
    ("get", "/cookies", {"headers": {"cookie": "session=a; session=b"}}),
    ("get", "/cookies", {"headers": {"cookie": 'session="quoted"; ratio=9'}}),
    ("get", "/cookies", {"headers": {"cookie": "junk; n=2"}}),
    # path with Path()
    ("get", "/path-alias/12", {}),
    ("get", "/path-alias/12?verbose=false", {}),
    ("get", "/path-alias/abc", {}),
    # bodies
    ("post", "/items", {"json": ITEM}),
    ("post", "/items", {"json": {"name": "n", "price": "1.5"}}),
    ("post", "/items", {"json": {"name": "n", "price": 1, "note": None, "extra": [1]}}),
    ("post", "/items", {"json": {"name": "n"}}),
    ("post", "/items", {"json": {"name": 5, "price": "x", "tags": [{"weight": 1}]}}),
    ("post", "/items", {"json": []}),
    ("post", "/items", {"json": None}),
    ("post", "/items", {}),
    ("post", "/items", {"content": b'{"name": "n", "price": 1', "headers": {"content-type": "application/json"}}),
    ("post", "/items", {"content": b'{"name":"n","price":1}', "headers": {"content-type": "text/plain"}}),
    ("post", "/items", {"content": b'{"name":"n","price":1}', "headers": {"content-type": "application/vnd.x+json"}}),
    ("post", "/items", {"content": b'{"name":"\\ud800","price":1}', "headers": {"content-type": "application/json"}}),
    ("post", "/items", {"content": b'{"name":"n","price":1,"name":"m"}', "headers": {"content-type": "application/json"}}),
    ("post", "/items", {"content": b'{"name":"n","price":NaN}', "headers": {"content-type": "application/json"}}),
    ("post", "/items", {"content": b'\xef\xbb\xbf{"name":"n","price":1}', "headers": {"content-type": "application/json"}}),
    ("post", "/items", {"data": {"name": "n", "price": "1"}}),
    ("post", "/items-sync/4?q=hi", {"json": ITEM}),
    ("post", "/items-sync/x", {"json": ITEM}),
    ("post", "/items-sync/4", {"json": {"price": 1}}),
    ("post", "/items-out", {"json": ITEM}),
    ("post", "/items-out", {"json": {"name": "n"}}),
    # response models
    ("get", "/model-out/3", {}),
    ("get", "/model-out/0", {}),
    ("get", "/model-out/-1", {}),
    ("get", "/bad-model", {}),
    # returned values
    *[("get", f"/values/{which}", {}) for which in VALUES],
    # returned responses
    ("get", "/json-response", {}),
    ("get", "/json-response?code=404", {}),
    ("get", "/json-response?code=299", {}),
    ("get", "/text-response", {}),
    ("get", "/text-response?text=%C3%A9%0A", {}),
    # errors
    ("get", "/raise/404", {}),
    ("get", "/raise/400", {}),
    ("get", "/raise/500", {}),
    ("get", "/raise/418", {}),
    ("get", "/raise/x", {}),
    ("get", "/raise-async", {}),
    ("get", "/raise-async?detail=%22q%22", {}),
    ("get", "/teapot?who=you", {}),
    ("get", "/crash", {}),
    # routing around compiled routes
    ("post", "/query", {}),
    ("get", "/items", {}),
    ("get", "/query/", {}),
    ("get", "/nowhere", {}),
    ("put", "/embed", {"json": 5}),
    ("put", "/embed", {"json": "x"}),
    ("head", "/query", {}),
    ("options", "/query", {}),
]


@pytest.fixture(scope="module")
def clients() -> tuple[Any, Any]:
    return (TestClient(app, raise_server_exceptions=False),
            starlette.testclient.TestClient(app, raise_server_exceptions=False))


@pytest.mark.parametrize(("method", "url", "kwargs"), CASES, ids=[f"{m} {u}" for m, u, _ in CASES])
def test_engine_answers_as_fastapi(clients: tuple[Any, Any], method: str, url: str, kwargs: dict[str, Any]) -> None:
    engine_client, asgi_client = clients
    engine = engine_client.request(method, url, **kwargs)
    asgi = asgi_client.request(method, url, **kwargs)
    assert engine.status_code == asgi.status_code
    assert engine.headers.get("content-type") == asgi.headers.get("content-type")
    assert engine.content == asgi.content
    for name in ("x-teapot", "x-raised", "x-j", "allow", "location"):
        assert engine.headers.get(name) == asgi.headers.get(name), name


def test_errors_raised_in_the_test_match() -> None:
    # raise_server_exceptions=True: the app's exception reaches the test, as with Starlette's client.
    from fasterapi.exceptions import ResponseValidationError

    with pytest.raises(RuntimeError, match="boom"):
        TestClient(app).get("/crash")
    with pytest.raises(ResponseValidationError):
        TestClient(app).get("/bad-model")
