"""Request body limits (FastAPI 0.16x): `max_body_size` on the app, routers, `include_router` and
routes (413 `{"detail": "Content Too Large"}`), `form_limits` (`max_fields`, `max_files`,
`max_part_size`: 400 with Starlette's message), their precedence and validation.

Run with FASTERAPI_REFERENCE=1 against FastAPI itself to check the expectations.
"""

from __future__ import annotations

from typing import Annotated

import pytest

from fasterapi import APIRouter, FastAPI, Form, Request, UploadFile
from fasterapi.responses import PlainTextResponse
from fasterapi.routing import APIRoute
from fasterapi.testclient import TestClient


async def echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(await request.body())


async def field(text: Annotated[str, Form()]) -> str:
    return text


def post(app: FastAPI, body: bytes, path: str = "/", method: str = "POST") -> int:
    client = TestClient(app)
    response = client.request(method, path, content=body, headers={"content-type": "application/octet-stream"})
    return response.status_code


def test_tutorial_app() -> None:
    app = FastAPI(max_body_size=1024 * 1024)
    uploads = APIRouter(prefix="/uploads", max_body_size=100 * 1024 * 1024)

    @app.post("/items")
    def create_item(item: dict):
        return item

    @uploads.post("/")
    def upload(file: UploadFile):
        return {"filename": file.filename, "size": file.size}

    @uploads.post("/small", max_body_size=10 * 1024 * 1024)
    def small_upload(file: UploadFile):
        return {"filename": file.filename, "size": file.size}

    app.include_router(uploads)
    client = TestClient(app)
    assert client.post("/items", json={"name": "Plumbus"}).json() == {"name": "Plumbus"}
    contents = b"x" * (1024 * 1024 + 1)
    for path in ("/uploads/", "/uploads/small"):
        response = client.post(path, files={"file": ("example.txt", contents)})
        assert response.status_code == 200, response.text
        assert response.json() == {"filename": "example.txt", "size": len(contents)}
    response = client.post("/items", content=b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413


def test_413_bodies() -> None:
    # FastAPI answers a too large Content-Length with Starlette's text/plain "Content Too Large",
    # before reading the body, and a too large chunked body (no Content-Length) with JSON.
    app = FastAPI(max_body_size=5)
    app.post("/")(echo)
    client = TestClient(app)
    response = client.post("/", content=b"123456")
    assert response.status_code == 413
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.content == b"Content Too Large"

    def chunks():
        yield b"123"
        yield b"456"

    response = client.post("/", content=chunks())  # sent with Transfer-Encoding: chunked
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "Content Too Large"}


@pytest.mark.parametrize(
    "limit,size,expected",
    [(None, 6, 200), (0, 0, 200), (0, 1, 413), (5, 4, 200), (5, 5, 200), (5, 6, 413)],
)
def test_boundary_sizes(limit: int | None, size: int, expected: int) -> None:
    app = FastAPI(max_body_size=limit)
    app.post("/")(echo)
    assert post(app, b"x" * size) == expected


def test_direct_api_route() -> None:
    app = FastAPI()
    app.router.routes.append(APIRoute("/", echo, methods=["POST"], max_body_size=5))
    assert post(app, b"12345") == 200
    assert post(app, b"123456") == 413


@pytest.mark.parametrize("owner", ["app", "router"])
@pytest.mark.parametrize("method", ["put", "post", "delete", "patch", "api_route", "add_api_route"])
def test_operation_methods_forward_limits(owner: str, method: str) -> None:
    app = FastAPI(max_body_size=1)
    router = APIRouter()
    target = app if owner == "app" else router
    limits = {"max_fields": 1}
    if method == "add_api_route":
        target.add_api_route("/", echo, methods=["POST"], max_body_size=5, form_limits=limits)
    elif method == "api_route":
        target.api_route("/", methods=["POST"], max_body_size=5, form_limits=limits)(echo)
    else:
        getattr(target, method)("/", max_body_size=5, form_limits=limits)(echo)
    route = target.routes[-1]
    assert isinstance(route, APIRoute)
    assert route.form_limits == limits
    assert route.max_body_size == 5
    if owner == "router":
        app.include_router(router)
    http_method = "POST" if method in {"api_route", "add_api_route"} else method.upper()
    assert post(app, b"12345", method=http_method) == 200
    assert post(app, b"123456", method=http_method) == 413


@pytest.mark.parametrize(
    "app_limit,parent_limit,include_limit,child_limit,route_limit,expected",
    [
        (None, None, None, None, None, 200),
        (5, None, None, None, None, 413),
        (5, 10, None, None, None, 200),
        (10, 5, None, None, None, 413),
        (5, 5, 10, None, None, 200),
        (10, 10, 5, None, None, 413),
        (5, 5, 5, 10, None, 200),
        (10, 10, 10, 5, None, 413),
        (5, 5, 5, 5, 10, 200),
        (10, 10, 10, 10, 5, 413),
        (10, 10, 10, 10, 0, 413),
        (None, None, 0, None, None, 413),
    ],
)
def test_nested_limit_precedence(
    app_limit: int | None,
    parent_limit: int | None,
    include_limit: int | None,
    child_limit: int | None,
    route_limit: int | None,
    expected: int,
) -> None:
    child = APIRouter(max_body_size=child_limit)
    child.post("/", max_body_size=route_limit)(echo)
    parent = APIRouter(max_body_size=parent_limit)
    parent.include_router(child, prefix="/child", max_body_size=include_limit)
    app = FastAPI(max_body_size=app_limit)
    app.include_router(parent, prefix="/parent")
    assert post(app, b"123456", path="/parent/child/") == expected


def test_shared_router_has_independent_inclusion_defaults() -> None:
    router = APIRouter()
    router.post("/")(echo)
    small = FastAPI(max_body_size=5)
    large = FastAPI(max_body_size=10)
    small.include_router(router)
    large.include_router(router)
    large.include_router(router, prefix="/small", max_body_size=5)
    assert post(small, b"123456") == 413
    assert post(large, b"123456") == 200
    assert post(large, b"123456", path="/small/") == 413
    assert router.max_body_size is None
    assert isinstance(router.routes[0], APIRoute)
    assert router.routes[0].max_body_size is None


def test_query_does_not_count_as_body() -> None:
    app = FastAPI(max_body_size=0)
    app.post("/")(echo)
    assert post(app, b"", path="/?q=" + "x" * 100) == 200


@pytest.mark.parametrize("value", [-1, True, False, 1.5, "5"])
def test_invalid_application_limit(value: object) -> None:
    with pytest.raises(ValueError, match="non-negative integer"):
        FastAPI(max_body_size=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "configure",
    [
        lambda: APIRouter(max_body_size=-1),
        lambda: FastAPI().post("/", max_body_size=-1)(echo),
        lambda: FastAPI().include_router(APIRouter(), max_body_size=-1),
        lambda: APIRoute("/", echo, max_body_size=-1),
    ],
    ids=["router", "operation", "include", "direct"],
)
def test_invalid_limit_fails_at_registration(configure) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="non-negative integer"):
        configure()


# ---------------------------------------------------------------------------------- form limits


@pytest.mark.parametrize("multipart", [False, True])
def test_form_limits_messages(multipart: bool) -> None:
    app = FastAPI(form_limits={"max_fields": 2})

    @app.post("/notes", form_limits={"max_part_size": 2048})
    async def create_note(text: Annotated[str, Form()]):
        return {"size": len(text)}

    client = TestClient(app)

    def submit(fields: dict[str, str]):  # type: ignore[no-untyped-def]
        if multipart:
            return client.post("/notes", files={k: (None, v) for k, v in fields.items()})
        return client.post("/notes", data=fields)

    assert submit({"text": "x" * 2000}).json() == {"size": 2000}
    assert submit({"text": "ok", "other": "v"}).json() == {"size": 2}
    response = submit({"text": "x" * 2049})
    assert response.status_code == 400
    kind = "Part" if multipart else "Field"
    assert response.json() == {"detail": f"{kind} exceeded maximum size of 2KB."}
    response = submit({"text": "ok", "a": "v", "b": "v"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Too many fields. Maximum number of fields is 2."}


def test_too_many_files() -> None:
    app = FastAPI(form_limits={"max_files": 1})

    @app.post("/")
    async def upload(files: list[UploadFile]):
        return len(files)

    client = TestClient(app)
    assert client.post("/", files=[("files", ("a", b"1"))]).json() == 1
    response = client.post("/", files=[("files", ("a", b"1")), ("files", ("b", b"2"))])
    assert response.status_code == 400
    assert response.json() == {"detail": "Too many files. Maximum number of files is 1."}


def test_nested_and_reused_router_limits() -> None:
    # Each level contributes a different setting; reusing the router keeps each inclusion's own.
    child = APIRouter(form_limits={"max_fields": 1})
    child.post("/", form_limits={"max_part_size": 3})(field)
    parent = APIRouter()
    parent.include_router(child, form_limits={"max_fields": 4})
    app = FastAPI(form_limits={"max_part_size": 1})
    app.include_router(parent, prefix="/one", form_limits={"max_files": 0})
    app.include_router(parent, prefix="/two", form_limits={"max_files": 1})
    client = TestClient(app)
    payload = [("text", (None, "abc")), ("file", ("f", b"12345"))]
    assert client.post("/one/", files=payload).status_code == 400
    assert client.post("/two/", files=payload).json() == "abc"
    assert client.post("/two/", files=[*payload, ("text", (None, "z"))]).status_code == 400
    assert client.post("/two/", files={"text": (None, "abcd")}).status_code == 400
    assert client.post("/one/", files=payload).status_code == 400


def test_form_limits_reach_dependencies() -> None:
    app = FastAPI(form_limits={"max_fields": 1}, max_body_size=25)

    @app.post("/")
    async def endpoint(text: Annotated[str, Form()], other: Annotated[str, Form()] = ""):
        return text

    client = TestClient(app)
    assert client.post("/", data={"text": "ok"}).json() == "ok"
    assert client.post("/", data={"text": "ok", "other": "v"}).status_code == 400
    assert client.post("/", data={"text": "x" * 30}).status_code == 413


@pytest.mark.parametrize(
    "limits", [{"max_parts": 1}, {"max_files": -1}, {"max_fields": False}, {"max_part_size": 1.5}]
)
def test_invalid_form_limits(limits: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        FastAPI(form_limits=limits)  # type: ignore[arg-type]


def test_invalid_route_and_inclusion_form_limits() -> None:
    with pytest.raises(ValueError, match="max_fields"):
        FastAPI().include_router(APIRouter(), form_limits={"max_fields": -1})
    with pytest.raises(ValueError, match="max_fields"):
        APIRoute("/", field, form_limits={"max_fields": -1})


def test_caller_settings_are_copied() -> None:
    limits = {"max_fields": 1}
    app = FastAPI(form_limits=limits)  # type: ignore[arg-type]
    limits["max_fields"] = 0
    app.post("/")(field)
    assert TestClient(app).post("/", data={"text": "ok"}).json() == "ok"
