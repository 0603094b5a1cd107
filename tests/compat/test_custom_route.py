"""Custom APIRoute classes (`route_class` overriding get_route_handler) and custom Request classes.

FastAPI's "Custom Request and APIRoute class" docs: a route class wraps the route's handler
(timing, a Request subclass decoding the body, error logging); the handler returns a Response
and raises the route's exceptions, which reach the app's exception handlers.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from typing import Annotated, Any

import pytest
from pydantic import BaseModel

from engine_reports import assert_compiled
from fasterapi import APIRouter, Body, Depends, FastAPI, HTTPException, Request, Response
from fasterapi.exceptions import RequestValidationError
from fasterapi.responses import JSONResponse
from fasterapi.routing import APIRoute
from fasterapi.testclient import TestClient


class GzipRequest(Request):
    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            body = await super().body()
            if "gzip" in self.headers.getlist("Content-Encoding"):
                body = gzip.decompress(body)
            self._body = body
        return self._body


class GzipRoute(APIRoute):
    def get_route_handler(self) -> Callable:
        original_route_handler = super().get_route_handler()

        async def custom_route_handler(request: Request) -> Response:
            request = GzipRequest(request.scope, request.receive)
            return await original_route_handler(request)

        return custom_route_handler


class TimedRoute(APIRoute):
    def get_route_handler(self) -> Callable:
        original_route_handler = super().get_route_handler()

        async def custom_route_handler(request: Request) -> Response:
            before = time.time()
            response: Response = await original_route_handler(request)
            response.headers["X-Response-Time"] = str(time.time() - before)
            return response

        return custom_route_handler


class ValidationErrorLoggingRoute(APIRoute):
    def get_route_handler(self) -> Callable:
        original_route_handler = super().get_route_handler()

        async def custom_route_handler(request: Request) -> Response:
            try:
                return await original_route_handler(request)
            except RequestValidationError as exc:
                body = await request.body()
                detail = {"errors": exc.errors(), "body": body.decode()}
                raise HTTPException(status_code=422, detail=detail)

        return custom_route_handler


class Item(BaseModel):
    name: str
    price: float = 0.0


def make_token() -> str:
    return "tok"


def get_token(token: Annotated[str, Depends(make_token)]) -> str:
    return token


class Out(BaseModel):
    name: str


def gzip_app() -> FastAPI:
    app = FastAPI()
    app.router.route_class = GzipRoute

    @app.post("/sum")
    async def sum_numbers(numbers: Annotated[list[int], Body()]):
        return {"sum": sum(numbers)}

    @app.post("/items")
    def create_item(item: Item):
        return item

    @app.get("/check-class")
    async def check(request: Request):
        return {"request_class": type(request).__name__}

    return app


@pytest.mark.parametrize("compress", [True, False])
def test_gzip_request_body(compress: bool) -> None:
    client = TestClient(gzip_app())
    data = json.dumps([1] * 100).encode()
    headers = {"Content-Type": "application/json"}
    if compress:
        data = gzip.compress(data)
        headers["Content-Encoding"] = "gzip"
    response = client.post("/sum", content=data, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"sum": 100}


def test_gzip_request_model_body() -> None:
    client = TestClient(gzip_app())
    data = gzip.compress(json.dumps({"name": "Foo", "price": 1.5}).encode())
    response = client.post(
        "/items", content=data, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"name": "Foo", "price": 1.5}


def test_stacked_route_classes_rewrap_the_request() -> None:
    class LoggedGzipRoute(GzipRoute):
        def get_route_handler(self) -> Callable:
            original = super().get_route_handler()

            async def handler(request: Request) -> Response:
                request = Request(request.scope, request.receive)  # a new Request over the same receive
                response = await original(request)
                response.headers["x-logged"] = "1"
                return response

            return handler

    app = FastAPI()
    app.router.route_class = LoggedGzipRoute

    @app.post("/sum")
    async def sum_numbers(numbers: Annotated[list[int], Body()], request: Request):
        return {"sum": sum(numbers), "class": type(request).__name__}

    client = TestClient(app)
    data = gzip.compress(b"[1, 2, 3]")
    response = client.post(
        "/sum", content=data, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    assert response.json() == {"sum": 6, "class": "GzipRequest"}
    assert response.headers["x-logged"] == "1"


def test_custom_request_class_reaches_the_endpoint() -> None:
    client = TestClient(gzip_app())
    assert client.get("/check-class").json() == {"request_class": "GzipRequest"}


def test_validation_error_still_422_through_custom_request() -> None:
    client = TestClient(gzip_app())
    data = gzip.compress(b'{"name": 1}')
    response = client.post(
        "/items", content=data, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "name"]


def test_timed_route_class_on_a_router_only() -> None:
    app = FastAPI()
    router = APIRouter(route_class=TimedRoute)

    @app.get("/")
    async def not_timed():
        return {"message": "Not timed"}

    @router.get("/timed")
    async def timed():
        return {"message": "It's the time of my life"}

    @router.get("/timed-sync/{item_id}")
    def timed_sync(item_id: int, q: str | None = None):
        return {"item_id": item_id, "q": q}

    app.include_router(router)
    client = TestClient(app)
    response = client.get("/")
    assert response.json() == {"message": "Not timed"}
    assert "X-Response-Time" not in response.headers
    response = client.get("/timed")
    assert response.json() == {"message": "It's the time of my life"}
    assert float(response.headers["X-Response-Time"]) >= 0
    response = client.get("/timed-sync/3", params={"q": "x"})
    assert response.json() == {"item_id": 3, "q": "x"}
    assert "X-Response-Time" in response.headers
    # A 422 raised inside the wrapped handler propagates through the wrapper: no header.
    response = client.get("/timed-sync/nope")
    assert response.status_code == 422
    assert "X-Response-Time" not in response.headers


def test_route_class_on_included_router_with_prefix() -> None:
    app = FastAPI()
    router = APIRouter(route_class=TimedRoute)

    @router.get("/ping")
    def ping():
        return "pong"

    app.include_router(router, prefix="/api")
    client = TestClient(app)
    response = client.get("/api/ping")
    assert response.json() == "pong"
    assert "X-Response-Time" in response.headers


def test_validation_error_logging_route() -> None:
    app = FastAPI()
    app.router.route_class = ValidationErrorLoggingRoute

    @app.post("/")
    async def sum_numbers(numbers: Annotated[list[int], Body()]):
        return sum(numbers)

    client = TestClient(app)
    assert client.post("/", json=[1, 2, 3]).json() == 6
    response = client.post("/", json={"numbers": [1, 2, 3]})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["errors"] == [
        {"type": "list_type", "loc": ["body"], "msg": "Input should be a valid list", "input": {"numbers": [1, 2, 3]}}
    ]
    assert json.loads(detail["body"]) == {"numbers": [1, 2, 3]}


def test_custom_handler_exceptions_reach_app_handlers() -> None:
    class Boom(Exception):
        pass

    class CheckingRoute(APIRoute):
        def get_route_handler(self) -> Callable:
            original = super().get_route_handler()

            async def handler(request: Request) -> Response:
                if request.headers.get("x-deny"):
                    raise Boom()
                return await original(request)

            return handler

    app = FastAPI()

    @app.exception_handler(Boom)
    async def on_boom(request: Request, exc: Boom) -> JSONResponse:
        return JSONResponse({"boom": True}, status_code=418)

    router = APIRouter(route_class=CheckingRoute)

    @router.get("/guarded")
    def guarded():
        return {"ok": True}

    app.include_router(router)
    client = TestClient(app)
    assert client.get("/guarded").json() == {"ok": True}
    response = client.get("/guarded", headers={"x-deny": "1"})
    assert response.status_code == 418
    assert response.json() == {"boom": True}


def test_custom_handler_with_dependencies_response_model_and_response_param() -> None:
    calls: list[str] = []

    class RecordingRoute(APIRoute):
        def get_route_handler(self) -> Callable:
            original = super().get_route_handler()

            async def handler(request: Request) -> Response:
                calls.append(request.url.path)
                response = await original(request)
                response.headers["x-route"] = self.name
                return response

            return handler

    router = APIRouter(route_class=RecordingRoute)

    @router.get("/items/{name}", response_model=Out, status_code=201)
    def read(name: str, response: Response, token: Annotated[str, Depends(get_token)]) -> Any:
        response.headers["x-token"] = token
        return {"name": name, "secret": "hidden"}

    app = FastAPI()
    app.include_router(router)
    client = TestClient(app)
    response = client.get("/items/foo")
    assert response.status_code == 201
    assert response.json() == {"name": "foo"}
    assert response.headers["x-route"] == "read"
    assert response.headers["x-token"] == "tok"
    assert calls == ["/items/foo"]


def test_custom_handler_replaces_response() -> None:
    class ReplacingRoute(APIRoute):
        def get_route_handler(self) -> Callable:
            original = super().get_route_handler()

            async def handler(request: Request) -> Response:
                response = await original(request)
                return JSONResponse({"wrapped": json.loads(response.body)}, status_code=202)

            return handler

    app = FastAPI()
    router = APIRouter(route_class=ReplacingRoute)

    @router.post("/echo")
    def echo(item: Item):
        return item

    app.include_router(router)
    client = TestClient(app)
    response = client.post("/echo", json={"name": "a"})
    assert response.status_code == 202
    assert response.json() == {"wrapped": {"name": "a", "price": 0.0}}


def test_custom_route_behind_middleware() -> None:
    app = FastAPI()
    app.router.route_class = TimedRoute

    @app.middleware("http")
    async def add_header(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers["x-mw"] = "1"
        return response

    @app.get("/")
    def root():
        return {"ok": True}

    client = TestClient(app)
    response = client.get("/")
    assert response.json() == {"ok": True}
    assert response.headers["x-mw"] == "1"
    assert "X-Response-Time" in response.headers


def test_only_custom_routes_leave_the_compiled_path() -> None:
    app = FastAPI()

    @app.get("/plain/{n}")
    def plain(n: int):
        return {"n": n}

    def timed(n: int):
        return {"n": n}

    app.router.add_api_route("/timed/{n}", timed, methods=["GET"], route_class_override=TimedRoute)
    # A custom get_route_handler is FastAPI's contract with the route class: the engine does not
    # compile it (its handler runs through the app's ASGI path), the plain route is compiled.
    assert_compiled(app, "GET /plain/{n}")
    assert_compiled(app, "GET /timed/{n}", compiled=False)
    client = TestClient(app)
    assert client.get("/plain/1").json() == {"n": 1}
    assert "X-Response-Time" not in client.get("/plain/1").headers
    response = client.get("/timed/2")
    assert response.json() == {"n": 2}
    assert "X-Response-Time" in response.headers
