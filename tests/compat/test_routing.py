"""Routers, prefixes, 404/405, redirect_slashes, HEAD, url_path_for, mounts, request object."""

from __future__ import annotations

import pytest

from fasterapi import APIRouter, Depends, FastAPI, Request
from fasterapi.responses import PlainTextResponse
from fasterapi.testclient import TestClient
from starlette.routing import request_response

users = APIRouter(prefix="/users", tags=["users"])


@users.get("/")
async def read_users():
    return [{"username": "Rick"}, {"username": "Morty"}]


@users.get("/me")
async def read_user_me():
    return {"username": "fakecurrentuser"}


@users.get("/{username}", name="user_detail")
async def read_user(username: str):
    return {"username": username}


items = APIRouter()


@items.get("/")
def list_items():
    return ["a"]


@items.put("/{item_id}")
def update_item(item_id: int):
    return {"item_id": item_id, "name": "The great Plumbus"}


nested_inner = APIRouter(prefix="/inner")


@nested_inner.get("/leaf")
def leaf():
    return "leaf"


nested_outer = APIRouter(prefix="/outer")
nested_outer.include_router(nested_inner)

app = FastAPI()
app.include_router(users)
app.include_router(items, prefix="/items", tags=["items"], responses={404: {"description": "Not found"}})
app.include_router(nested_outer, prefix="/v1")


@app.get("/")
def root():
    return {"message": "Hello Bigger Applications!"}


@app.api_route("/multi", methods=["GET", "POST"])
def multi(request: Request):
    return {"method": request.method}


@app.get("/slash/")
def with_slash():
    return "with slash"


@app.post("/request-info/{x}")
async def request_info(x: str, request: Request):
    body = await request.body()
    return {
        "method": request.method,
        "path": request.url.path,
        "query": str(request.query_params),
        "q": request.query_params.get("q"),
        "path_params": request.path_params,
        "header": request.headers.get("x-custom"),
        "cookie": request.cookies.get("c"),
        "client": request.client.host if request.client else None,
        "base_url": str(request.base_url),
        "body": body.decode(),
        "url_for": str(request.url_for("user_detail", username="bob")),
    }


sub = FastAPI()


@sub.get("/sub")
def read_sub():
    return {"message": "Hello World from sub API"}


@request_response
async def plain_app(request: Request):
    return PlainTextResponse(f"mounted at {request.scope['root_path']} path {request.url.path}")


app.mount("/subapi", sub)
app.mount("/plain", plain_app, name="plain")

client = TestClient(app)


def test_router_prefix_and_root():
    assert client.get("/users/").json() == [{"username": "Rick"}, {"username": "Morty"}]
    assert client.get("/users/me").json() == {"username": "fakecurrentuser"}
    assert client.get("/users/bob").json() == {"username": "bob"}
    assert client.get("/").json() == {"message": "Hello Bigger Applications!"}


def test_include_router_prefix():
    assert client.get("/items/").json() == ["a"]
    assert client.put("/items/3").json() == {"item_id": 3, "name": "The great Plumbus"}


def test_nested_routers():
    assert client.get("/v1/outer/inner/leaf").json() == "leaf"


def test_route_metadata_is_merged():
    # include_router's prefix, tags and responses reach the operation (FastAPI keeps included
    # routers nested; the merged metadata shows in the OpenAPI document).
    paths = app.openapi()["paths"]
    item = paths["/items/{item_id}"]
    assert list(item) == ["put"]
    assert item["put"]["tags"] == ["items"]
    assert "404" in item["put"]["responses"]
    assert paths["/users/me"]["get"]["tags"] == ["users"]


def test_not_found():
    r = client.get("/nope")
    assert r.status_code == 404
    assert r.json() == {"detail": "Not Found"}


def test_method_not_allowed():
    r = client.delete("/items/3")
    assert r.status_code == 405
    assert r.json() == {"detail": "Method Not Allowed"}
    assert r.headers["allow"] == "PUT"


def test_api_route_methods():
    assert client.get("/multi").json() == {"method": "GET"}
    assert client.post("/multi").json() == {"method": "POST"}


def test_redirect_slashes():
    r = client.get("/slash", follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"] == "http://testserver/slash/"
    r = client.get("/users/me/", follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"] == "http://testserver/users/me"
    assert client.get("/slash").json() == "with slash"


def test_redirect_slashes_keeps_query():
    r = client.get("/slash?a=1", follow_redirects=False)
    assert r.headers["location"] == "http://testserver/slash/?a=1"


def test_redirect_slashes_disabled():
    local = FastAPI(redirect_slashes=False)

    @local.get("/a/")
    def a():
        return "a"

    assert TestClient(local).get("/a", follow_redirects=False).status_code == 404


def test_head_on_a_get_route_is_405():
    # FastAPI's GET routes do not answer HEAD (Starlette's own Route does, APIRoute does not).
    r = client.head("/users/me")
    assert r.status_code == 405
    assert r.content == b""
    assert r.headers["allow"] == "GET"
    assert r.headers["content-type"] == "application/json"


def test_request_object():
    r = client.post(
        "/request-info/7?q=1&q=2",
        content=b"hello",
        headers={"X-Custom": "yes", "Cookie": "c=cookie"},
    )
    assert r.json() == {
        "method": "POST",
        "path": "/request-info/7",
        "query": "q=1&q=2",
        "q": "2",
        "path_params": {"x": "7"},
        "header": "yes",
        "cookie": "cookie",
        "client": "testclient",
        "base_url": "http://testserver/",
        "body": "hello",
        "url_for": "http://testserver/users/bob",
    }


def test_url_path_for():
    assert app.url_path_for("user_detail", username="x") == "/users/x"
    assert app.url_path_for("read_user_me") == "/users/me"
    with pytest.raises(Exception):
        app.url_path_for("user_detail")


def test_mounted_sub_app():
    assert client.get("/subapi/sub").json() == {"message": "Hello World from sub API"}
    assert client.get("/subapi/nothing").status_code == 404


def test_mounted_plain_app():
    # A request -> response function made an ASGI app (starlette.routing.request_response).
    assert client.get("/plain/a/b").text == "mounted at /plain path /plain/a/b"


def test_dependency_with_request_state():
    local = FastAPI()

    def set_state(request: Request):
        request.state.user = "alice"

    @local.get("/", dependencies=[Depends(set_state)])
    def root(request: Request):
        return {"user": request.state.user}

    assert TestClient(local).get("/").json() == {"user": "alice"}


def test_logger_module_as_fastapis():
    import logging

    from fasterapi.logger import logger

    assert logger is logging.getLogger("fastapi")


def test_fastapi_helper_names():
    import decimal

    import fasterapi
    from fasterapi.encoders import decimal_encoder
    from fasterapi.responses import EventSourceResponse
    from fasterapi.sse import EventSourceResponse as sse_class
    from fasterapi.utils import generate_operation_id_for_path

    assert generate_operation_id_for_path(name="read_item", path="/items/{id}", method="GET") == "read_item_items__id__get"
    assert decimal_encoder(decimal.Decimal("2")) == 2 and decimal_encoder(decimal.Decimal("1.5")) == 1.5
    assert EventSourceResponse is sse_class
    assert fasterapi.security.OAuth2PasswordBearer is not None and fasterapi.logger.logger.name == "fastapi"
