"""response_model filtering, status codes, response classes, the Response parameter, cookies."""

from __future__ import annotations

import datetime
import pathlib
from typing import Any

from pydantic import BaseModel, Field

from fasterapi import FastAPI, Response, status
from fasterapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    StreamingResponse,
)
from fasterapi.testclient import TestClient


class UserIn(BaseModel):
    username: str
    password: str
    email: str
    full_name: str | None = None


class UserOut(BaseModel):
    username: str
    email: str
    full_name: str | None = None


class Item(BaseModel):
    name: str
    description: str | None = None
    price: float
    tax: float = 10.5
    tags: list[str] = []


class Aliased(BaseModel):
    item_name: str = Field(alias="itemName")


items = {
    "foo": {"name": "Foo", "price": 50.2},
    "bar": {"name": "Bar", "description": "The bartenders", "price": 62, "tax": 20.2},
    "baz": {"name": "Baz", "description": None, "price": 50.2, "tax": 10.5, "tags": []},
}

app = FastAPI()


@app.post("/user", response_model=UserOut)
async def create_user(user: UserIn) -> Any:
    return user


@app.post("/user-annotated")
async def create_user_annotated(user: UserIn) -> UserOut:
    return user


@app.get("/items/{item_id}", response_model=Item, response_model_exclude_unset=True)
async def read_item(item_id: str):
    return items[item_id]


@app.get("/items/{item_id}/name", response_model=Item, response_model_include={"name", "description"})
async def read_item_name(item_id: str):
    return items[item_id]


@app.get("/items/{item_id}/public", response_model=Item, response_model_exclude={"tax"})
async def read_item_public(item_id: str):
    return items[item_id]


@app.get("/items-none/{item_id}", response_model=Item, response_model_exclude_none=True)
async def read_item_exclude_none(item_id: str):
    return items[item_id]


@app.get("/items-defaults/{item_id}", response_model=Item, response_model_exclude_defaults=True)
async def read_item_exclude_defaults(item_id: str):
    return items[item_id]


@app.get("/list", response_model=list[Item])
def read_list():
    return [Item(name="a", price=1), {"name": "b", "price": 2}]


@app.get("/dict-model", response_model=dict[str, float])
def read_dict_model():
    return {"foo": 2.3, "bar": "3.4"}


@app.get("/aliased", response_model=Aliased)
def read_aliased():
    return {"itemName": "x"}


@app.get("/invalid-response", response_model=Item)
def invalid_response():
    return {"name": "no price"}


@app.post("/created", status_code=201)
def created(name: str):
    return {"name": name}


@app.post("/created-enum", status_code=status.HTTP_201_CREATED)
def created_enum():
    return {"ok": True}


@app.delete("/nocontent", status_code=204)
def no_content():
    return None


@app.get("/no-annotation-model")
def no_model() -> None:
    return None


@app.get("/plain-dict")
def plain_dict():
    return {"when": datetime.datetime(2024, 1, 2, 3, 4, 5), "model": Item(name="m", price=1), "set": {1}}


@app.get("/html", response_class=HTMLResponse)
def html():
    return "<h1>hi</h1>"


@app.get("/plain", response_class=PlainTextResponse)
def plain():
    return "hello"


@app.get("/direct")
def direct():
    return JSONResponse(status_code=202, content={"direct": True}, headers={"X-Direct": "1"})


@app.get("/direct-response")
def direct_response() -> Response:
    return Response(content="<xml/>", media_type="application/xml")


@app.get("/redirect")
def redirect():
    return RedirectResponse("/plain")


@app.get("/redirect-301", response_class=RedirectResponse, status_code=301)
def redirect_301():
    return "/plain"


@app.get("/stream")
async def stream():
    async def gen():
        for i in range(3):
            yield f"chunk{i};"

    return StreamingResponse(gen(), media_type="text/plain")


@app.get("/stream-sync")
def stream_sync():
    return StreamingResponse(iter([b"a", b"b"]), media_type="application/octet-stream")


@app.get("/file")
def file():
    return FileResponse(pathlib.Path(__file__), filename="test.py")


@app.get("/param-response")
def param_response(response: Response):
    response.headers["X-Cat-Dog"] = "alone in the world"
    response.set_cookie(key="fakesession", value="fake-cookie-session-value", httponly=True)
    response.status_code = 203
    return {"message": "Hello World"}


@app.get("/set-cookie")
def set_cookie():
    response = JSONResponse({"ok": True})
    response.set_cookie("a", "1", max_age=10, path="/", samesite="strict")
    response.delete_cookie("b")
    return response


client = TestClient(app)


def test_response_model_filters_fields():
    r = client.post("/user", json={"username": "u", "password": "secret", "email": "u@example.com"})
    assert r.status_code == 200
    assert r.json() == {"username": "u", "email": "u@example.com", "full_name": None}


def test_return_annotation_is_response_model():
    r = client.post("/user-annotated", json={"username": "u", "password": "secret", "email": "e"})
    assert r.json() == {"username": "u", "email": "e", "full_name": None}


def test_exclude_unset():
    assert client.get("/items/foo").json() == {"name": "Foo", "price": 50.2}
    assert client.get("/items/bar").json() == {"name": "Bar", "description": "The bartenders", "price": 62, "tax": 20.2}


def test_include_exclude():
    assert client.get("/items/bar/name").json() == {"name": "Bar", "description": "The bartenders"}
    assert client.get("/items/bar/public").json() == {
        "name": "Bar", "description": "The bartenders", "price": 62, "tags": []
    }


def test_exclude_none_and_defaults():
    assert client.get("/items-none/baz").json() == {"name": "Baz", "price": 50.2, "tax": 10.5, "tags": []}
    assert client.get("/items-defaults/baz").json() == {"name": "Baz", "price": 50.2}


def test_list_and_dict_response_models():
    assert client.get("/list").json() == [
        {"name": "a", "description": None, "price": 1.0, "tax": 10.5, "tags": []},
        {"name": "b", "description": None, "price": 2.0, "tax": 10.5, "tags": []},
    ]
    assert client.get("/dict-model").json() == {"foo": 2.3, "bar": 3.4}


def test_response_model_by_alias():
    assert client.get("/aliased").json() == {"itemName": "x"}


def test_invalid_response_is_a_server_error():
    c = TestClient(app, raise_server_exceptions=False)
    r = c.get("/invalid-response")
    assert r.status_code == 500


def test_status_codes():
    r = client.post("/created?name=x")
    assert r.status_code == 201
    assert r.json() == {"name": "x"}
    assert client.post("/created-enum").status_code == 201


def test_204_has_no_body():
    r = client.delete("/nocontent")
    assert r.status_code == 204
    assert r.content == b""


def test_none_annotation():
    r = client.get("/no-annotation-model")
    assert r.status_code == 200
    assert r.json() is None


def test_jsonable_without_model():
    assert client.get("/plain-dict").json() == {
        "when": "2024-01-02T03:04:05",
        "model": {"name": "m", "description": None, "price": 1.0, "tax": 10.5, "tags": []},
        "set": [1],
    }


def test_response_classes():
    r = client.get("/html")
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.text == "<h1>hi</h1>"
    r = client.get("/plain")
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.text == "hello"


def test_returning_a_response_directly():
    r = client.get("/direct")
    assert r.status_code == 202
    assert r.headers["x-direct"] == "1"
    assert r.json() == {"direct": True}
    r = client.get("/direct-response")
    assert r.headers["content-type"] == "application/xml"
    assert r.text == "<xml/>"


def test_redirects():
    r = client.get("/redirect", follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"] == "/plain"
    assert client.get("/redirect").text == "hello"
    r = client.get("/redirect-301", follow_redirects=False)
    assert r.status_code == 301
    assert r.headers["location"] == "/plain"


def test_streaming():
    r = client.get("/stream")
    assert r.text == "chunk0;chunk1;chunk2;"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert client.get("/stream-sync").content == b"ab"


def test_file_response():
    r = client.get("/file")
    assert r.status_code == 200
    assert r.content == pathlib.Path(__file__).read_bytes()
    assert r.headers["content-disposition"] == 'attachment; filename="test.py"'
    assert "etag" in r.headers and "last-modified" in r.headers


def test_response_parameter():
    r = client.get("/param-response")
    assert r.status_code == 203
    assert r.headers["x-cat-dog"] == "alone in the world"
    assert "fakesession=fake-cookie-session-value" in r.headers["set-cookie"]
    assert "HttpOnly" in r.headers["set-cookie"]
    assert r.json() == {"message": "Hello World"}


def test_cookies_set_and_deleted():
    r = client.get("/set-cookie")
    cookies = r.headers.get_list("set-cookie")
    assert cookies[0] == "a=1; Max-Age=10; Path=/; SameSite=strict"
    assert cookies[1].startswith('b=""; expires=') and "Max-Age=0" in cookies[1]





def test_headers_are_the_apps_as_starlettes_testclient_shows_them() -> None:
    """The engine writes Date and Server on the wire; an in-memory client, as Starlette's, sees
    only what the app sent (cadwyn's suite compares dict(response.headers) with an exact dict)."""
    import starlette.testclient

    app = FastAPI()

    @app.get("/json")
    def json_route() -> dict[str, int]:
        return {"a": 1}

    @app.get("/own")
    def own() -> Response:
        return Response("x", headers={"server": "mine", "date": "today"})

    @app.get("/stream")
    def stream() -> StreamingResponse:
        return StreamingResponse(iter([b"a", b"b"]))

    ours, theirs = TestClient(app), starlette.testclient.TestClient(app)
    for path in ("/json", "/own", "/stream"):
        assert sorted(ours.get(path).headers.multi_items()) == sorted(theirs.get(path).headers.multi_items()), path
