"""Path, query, header and cookie parameters: conversion, defaults, constraints and 422 bodies."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from enum import Enum
from typing import Annotated, Literal, Optional

import pytest
from pydantic import BaseModel, Field

from fasterapi import Cookie, FastAPI, Header, Path, Query
from fasterapi.testclient import TestClient


class Color(str, Enum):
    red = "red"
    green = "green"


class FilterParams(BaseModel):
    model_config = {"extra": "forbid"}
    limit: int = Field(100, gt=0, le=100)
    offset: int = Field(0, ge=0)
    order_by: Literal["created_at", "updated_at"] = "created_at"
    tags: list[str] = []


class CommonHeaders(BaseModel):
    host: str
    save_data: bool = False
    x_tag: list[str] = []


app = FastAPI()


@app.get("/items/{item_id}")
def read_item(item_id: int, q: str | None = None, short: bool = False):
    return {"item_id": item_id, "q": q, "short": short}


@app.get("/files/{file_path:path}")
def read_file(file_path: str):
    return {"file_path": file_path}


@app.get("/colors/{color}")
def read_color(color: Color):
    return {"color": color, "is_red": color is Color.red}


@app.get("/typed")
def typed(
    u: uuid.UUID,
    d: datetime.date,
    dt: datetime.datetime | None = None,
    amount: Decimal = Decimal("1.5"),
    ratio: float = 0.5,
):
    return {"u": u, "d": d, "dt": dt, "amount": amount, "ratio": ratio}


@app.get("/constrained/{n}")
def constrained(
    n: Annotated[int, Path(ge=1, le=10)],
    q: Annotated[str | None, Query(min_length=3, max_length=5, pattern="^[a-z]+$")] = None,
    size: Annotated[float, Query(gt=0, lt=1)] = 0.5,
):
    return {"n": n, "q": q, "size": size}


@app.get("/list")
def read_list(q: Annotated[list[str] | None, Query()] = None, n: list[int] = Query(default=[1, 2])):
    return {"q": q, "n": n}


@app.get("/alias")
def read_alias(item_query: Annotated[str, Query(alias="item-query")]):
    return {"item_query": item_query}


@app.get("/old-style")
def old_style(q: str = Query(default="fixed", max_length=10), page: int = Query(1, ge=1)):
    return {"q": q, "page": page}


@app.get("/headers")
def read_headers(
    user_agent: Annotated[str | None, Header()] = None,
    x_token: Annotated[list[str] | None, Header()] = None,
    strange_header: Annotated[str | None, Header(convert_underscores=False)] = None,
):
    return {"user_agent": user_agent, "x_token": x_token, "strange_header": strange_header}


@app.get("/required-header")
def required_header(x_key: Annotated[str, Header()]):
    return {"x_key": x_key}


@app.get("/cookies")
def read_cookies(ads_id: Annotated[str | None, Cookie()] = None, session: str | None = Cookie(None)):
    return {"ads_id": ads_id, "session": session}


@app.get("/required-cookie")
def required_cookie(token: Annotated[str, Cookie()]):
    return {"token": token}


@app.get("/filter")
def read_filter(filter_query: Annotated[FilterParams, Query()]):
    return filter_query


@app.get("/header-model")
def read_header_model(headers: Annotated[CommonHeaders, Header()]):
    return headers


@app.get("/async/{x}")
async def read_async(x: int, y: int = 2):
    return {"sum": x + y}


client = TestClient(app)


def test_path_and_query_conversion():
    r = client.get("/items/42?q=hello&short=yes")
    assert r.status_code == 200
    assert r.json() == {"item_id": 42, "q": "hello", "short": True}


@pytest.mark.parametrize("value,expected", [("1", True), ("true", True), ("on", True), ("0", False), ("off", False)])
def test_bool_query_values(value, expected):
    assert client.get(f"/items/1?short={value}").json()["short"] is expected


def test_path_param_invalid_int():
    r = client.get("/items/foo")
    assert r.status_code == 422
    assert r.json() == {
        "detail": [
            {
                "type": "int_parsing",
                "loc": ["path", "item_id"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "input": "foo",
            }
        ]
    }


def test_invalid_bool_query():
    r = client.get("/items/1?short=maybe")
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "bool_parsing"
    assert r.json()["detail"][0]["loc"] == ["query", "short"]


def test_path_convertor_path():
    assert client.get("/files/home/johndoe/myfile.txt").json() == {"file_path": "home/johndoe/myfile.txt"}


def test_percent_encoded_path_param():
    assert client.get("/items/1?q=a%20b%26c").json()["q"] == "a b&c"


def test_enum_path():
    assert client.get("/colors/red").json() == {"color": "red", "is_red": True}
    r = client.get("/colors/blue")
    assert r.status_code == 422
    err = r.json()["detail"][0]
    assert err["type"] == "enum"
    assert err["loc"] == ["path", "color"]
    assert err["ctx"] == {"expected": "'red' or 'green'"}


def test_typed_values():
    u = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    r = client.get(f"/typed?u={u}&d=2024-02-29&dt=2024-01-01T10:00:00&amount=2.25")
    assert r.status_code == 200
    assert r.json() == {"u": u, "d": "2024-02-29", "dt": "2024-01-01T10:00:00", "amount": 2.25, "ratio": 0.5}


def test_typed_values_errors():
    r = client.get("/typed?u=nope&d=2024-13-01")
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert [e["loc"] for e in detail] == [["query", "u"], ["query", "d"]]
    assert detail[0]["type"] == "uuid_parsing"
    assert detail[1]["type"] == "date_from_datetime_parsing"


def test_missing_required_query():
    r = client.get("/alias")
    assert r.status_code == 422
    assert r.json() == {
        "detail": [{"type": "missing", "loc": ["query", "item-query"], "msg": "Field required", "input": None}]
    }


def test_alias():
    assert client.get("/alias?item-query=x").json() == {"item_query": "x"}
    assert client.get("/alias?item_query=x").status_code == 422


def test_constraints_ok():
    assert client.get("/constrained/3?q=abc&size=0.25").json() == {"n": 3, "q": "abc", "size": 0.25}


def test_constraints_errors():
    r = client.get("/constrained/11?q=ab&size=1")
    assert r.status_code == 422
    assert r.json() == {
        "detail": [
            {
                "type": "less_than_equal",
                "loc": ["path", "n"],
                "msg": "Input should be less than or equal to 10",
                "input": "11",
                "ctx": {"le": 10},
            },
            {
                "type": "string_too_short",
                "loc": ["query", "q"],
                "msg": "String should have at least 3 characters",
                "input": "ab",
                "ctx": {"min_length": 3},
            },
            {
                "type": "less_than",
                "loc": ["query", "size"],
                "msg": "Input should be less than 1",
                "input": "1",
                "ctx": {"lt": 1.0},
            },
        ]
    }


def test_pattern_error():
    r = client.get("/constrained/3?q=AB1")
    assert r.json()["detail"] == [
        {
            "type": "string_pattern_mismatch",
            "loc": ["query", "q"],
            "msg": "String should match pattern '^[a-z]+$'",
            "input": "AB1",
            "ctx": {"pattern": "^[a-z]+$"},
        }
    ]


def test_list_query():
    assert client.get("/list").json() == {"q": None, "n": [1, 2]}
    assert client.get("/list?q=a&q=b&n=5").json() == {"q": ["a", "b"], "n": [5]}
    r = client.get("/list?n=1&n=x")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "n", 1]


def test_list_default_is_not_shared():
    first = client.get("/list").json()
    second = client.get("/list").json()
    assert first == second == {"q": None, "n": [1, 2]}


def test_old_style_defaults():
    assert client.get("/old-style").json() == {"q": "fixed", "page": 1}
    r = client.get("/old-style?page=0")
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "greater_than_equal"


def test_headers():
    r = client.get(
        "/headers",
        headers=[("User-Agent", "ua/1"), ("X-Token", "a"), ("x-token", "b"), ("strange_header", "s")],
    )
    assert r.json() == {"user_agent": "ua/1", "x_token": ["a", "b"], "strange_header": "s"}


def test_required_header_missing():
    r = client.get("/required-header")
    assert r.status_code == 422
    assert r.json()["detail"] == [
        {"type": "missing", "loc": ["header", "x-key"], "msg": "Field required", "input": None}
    ]
    assert client.get("/required-header", headers={"X-Key": "k"}).json() == {"x_key": "k"}


def test_cookies():
    client.cookies.clear()
    r = client.get("/cookies", headers={"Cookie": "ads_id=abc; session=s1"})
    assert r.json() == {"ads_id": "abc", "session": "s1"}
    assert client.get("/cookies").json() == {"ads_id": None, "session": None}


def test_required_cookie():
    client.cookies.clear()
    r = client.get("/required-cookie")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["cookie", "token"]


def test_query_param_model():
    r = client.get("/filter?limit=10&tags=a&tags=b&order_by=updated_at")
    assert r.status_code == 200
    assert r.json() == {"limit": 10, "offset": 0, "order_by": "updated_at", "tags": ["a", "b"]}


def test_query_param_model_errors():
    r = client.get("/filter?limit=0&tool=plumbus")
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert {"type": "greater_than", "loc": ["query", "limit"], "msg": "Input should be greater than 0",
            "input": "0", "ctx": {"gt": 0}} in detail
    assert {"type": "extra_forbidden", "loc": ["query", "tool"], "msg": "Extra inputs are not permitted",
            "input": "plumbus"} in detail


def test_header_param_model():
    r = client.get("/header-model", headers=[("save-data", "true"), ("x-tag", "1"), ("x-tag", "2")])
    assert r.json() == {"host": "testserver", "save_data": True, "x_tag": ["1", "2"]}


def test_async_endpoint():
    assert client.get("/async/3?y=4").json() == {"sum": 7}
    assert client.get("/async/x").status_code == 422


def test_optional_plain_annotation():
    local = FastAPI()

    @local.get("/")
    def root(limit: Optional[int] = None, name: str = "x"):
        return {"limit": limit, "name": name}

    c = TestClient(local)
    assert c.get("/").json() == {"limit": None, "name": "x"}
    assert c.get("/?limit=3&name=").json() == {"limit": 3, "name": ""}
