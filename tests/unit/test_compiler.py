"""fasterapi.compiler: which routes of a real FastAPI app the engine compiles to native plans, why
the others are not, and that a compiled route answers byte for byte what FastAPI answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest
import starlette.testclient
from fasterapi.responses import HTMLResponse
from fasterapi.routing import APIRoute
from pydantic import BaseModel, field_validator

from fasterapi import APIRouter, Depends, FastAPI, Header, Query, Request, WebSocket
from fasterapi.compiler import NotCompilable, PlanParam, RouteReport, handler_inputs, param_plan
from fasterapi.testclient import TestClient


def reports(app: FastAPI) -> dict[tuple[str, str], RouteReport]:
    from fasterapi._asgi_server import ScopeMaker
    from fasterapi._engine import build_engine

    _engine, _handler, found = build_engine(app, ScopeMaker(""))
    assert all(isinstance(r, RouteReport) for r in found)
    return {(method, r.path): r for r in found for method in (r.methods or ("",))}


class Item(BaseModel):
    name: str
    price: float = 0.0


class Shouting(BaseModel):
    name: str

    @field_validator("name")
    @classmethod
    def upper(cls, value: str) -> str:
        return value.upper()


def dep() -> int:
    return 1


def yield_dep() -> Iterator[int]:
    yield 1


def make_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/q")
    def q(n: int = 0, s: str = "x", f: float = 1.5, b: bool = False) -> dict[str, Any]:
        return {"n": n, "s": s, "f": f, "b": b}

    @app.get("/dep")
    def with_dep(x: Annotated[int, Depends(dep)]) -> int:
        return x

    @app.get("/yield-dep")
    def with_yield_dep(x: Annotated[int, Depends(yield_dep)]) -> int:
        return x

    @app.delete("/no-body", status_code=204)
    def no_body() -> None:
        return None

    @app.get("/constrained")
    def constrained(n: Annotated[int, Query(ge=1)] = 1) -> int:
        return n

    @app.get("/request")
    def with_request(request: Request) -> str:
        return request.url.path

    @app.get("/list")
    def list_query(n: Annotated[list[int], Query()] = []) -> list[int]:  # noqa: B006
        return n

    @app.post("/body")
    def body(item: Item) -> Item:
        return item

    @app.post("/validated")
    def validated(item: Shouting) -> Shouting:
        return item

    @app.get("/stream")
    def stream() -> Iterator[int]:
        yield 1

    @app.get("/conv/{n:int}")
    def convertor(n: int) -> int:
        return n

    @app.get("/header")
    def header(x_token: Annotated[str, Header()] = "none") -> str:
        return x_token

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.close()

    return app


def test_plain_scalar_routes_bodies_and_dependencies_are_compiled() -> None:
    found = reports(make_app())
    for key in [("GET", "/q"), ("GET", "/dep"), ("POST", "/body"), ("GET", "/header")]:
        assert found[key].compiled, (key, found[key].reason)
        assert found[key].reason == ""


@pytest.mark.parametrize(
    "method,path,reason",
    [
        ("GET", "/yield-dep", "yield"),
        ("DELETE", "/no-body", "204"),
        ("GET", "/constrained", "constraints"),
        ("GET", "/request", "request"),
        ("GET", "/list", "pydantic"),
        ("POST", "/validated", "validators"),
        ("GET", "/stream", "streaming"),
        ("GET", "/conv/{n:int}", "IntegerConvertor"),
        ("", "/ws", "WebSocket"),
    ],
)
def test_what_is_not_compiled_says_why(method: str, path: str, reason: str) -> None:
    report = reports(make_app())[(method, path)]
    assert not report.compiled
    assert reason in report.reason


def test_app_wide_reasons() -> None:
    app = make_app()

    @app.middleware("http")
    async def passthrough(request: Request, call_next: Any) -> Any:
        return await call_next(request)

    assert not any(r.compiled for r in reports(app).values())
    assert "middleware" in reports(app)[("GET", "/q")].reason
    debug = make_app()
    debug.debug = True
    assert "debug" in reports(debug)[("GET", "/q")].reason


def test_custom_route_class_and_replaced_route_app() -> None:
    class Custom(APIRoute):
        def get_route_handler(self) -> Any:
            handler = super().get_route_handler()

            async def wrapped(request: Request) -> Any:
                return await handler(request)

            return wrapped

    router = APIRouter(route_class=Custom)

    @router.get("/custom")
    def custom() -> int:
        return 1

    (route,) = router.routes
    with pytest.raises(NotCompilable):
        handler_inputs(route)

    app = FastAPI()

    @app.get("/plain")
    def plain(n: int = 0) -> int:
        return n

    plain_route = next(r for r in app.routes if getattr(r, "path", None) == "/plain")
    inputs = handler_inputs(plain_route)
    assert inputs["dependant"].call is plain
    assert [f.name for f in inputs["dependant"].query_params] == ["n"]


def test_param_plans_follow_fastapis_lookup_names() -> None:
    from fasterapi import _core

    app = FastAPI()

    @app.get("/p")
    def p(
        x_token: Annotated[str, Header()],
        raw: Annotated[str | None, Header(convert_underscores=False)] = None,
        size: Annotated[int, Query(alias="page-size")] = 10,
    ) -> int:
        return 1

    route = next(r for r in app.routes if getattr(r, "path", None) == "/p")
    dependant = handler_inputs(route)["dependant"]
    headers = [param_plan(f, "header", _core) for f in dependant.header_params]
    assert headers[0] == PlanParam("x_token", "header", "str", _core.REQUIRED, "x-token")
    assert headers[1] == PlanParam("raw", "header", "str", None, "raw")
    (query,) = [param_plan(f, "query", _core) for f in dependant.query_params]
    assert query == PlanParam("size", "query", "int", 10, "page-size")


REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("get", "/q", {}),
    ("get", "/q?n=7&s=caf%C3%A9&f=-0.0&b=yes", {}),
    ("get", "/q?n=1&n=2", {}),
    ("get", "/q?n=x", {}),
    ("get", "/q?f=nan&b=maybe", {}),
    ("get", "/dep", {}),
    ("post", "/body", {"json": {"name": "n", "price": 2}}),
    ("post", "/body", {"json": {"name": 1}}),
    ("post", "/body", {"content": b"{", "headers": {"content-type": "application/json"}}),
    ("post", "/body", {"content": b'{"name":"n"}', "headers": {"content-type": "text/plain"}}),
    ("get", "/header", {"headers": {"x-token": "t"}}),
    ("get", "/header", {"headers": {"x_token": "t"}}),
    ("put", "/q", {}),
]


@pytest.mark.parametrize("method,url,kwargs", REQUESTS)
def test_a_compiled_route_answers_as_fastapi(method: str, url: str, kwargs: dict[str, Any]) -> None:
    app = make_app()
    engine = getattr(TestClient(app, raise_server_exceptions=False), method)(url, **kwargs)
    asgi = getattr(starlette.testclient.TestClient(app, raise_server_exceptions=False), method)(url, **kwargs)
    assert (engine.status_code, engine.content) == (asgi.status_code, asgi.content)
    assert engine.headers.get("content-type") == asgi.headers.get("content-type")


def test_html_response_class_route() -> None:
    app = FastAPI()

    @app.get("/h", response_class=HTMLResponse)
    def h(n: int = 1) -> str:
        return "<b>" * n

    for url in ("/h", "/h?n=3", "/h?n=z"):
        engine = TestClient(app).get(url)
        asgi = starlette.testclient.TestClient(app).get(url)
        assert (engine.status_code, engine.headers["content-type"], engine.content) == (
            asgi.status_code, asgi.headers["content-type"], asgi.content)


def test_add_route_validates_the_plan() -> None:
    # A plan the engine could not run is refused when the route is added, not at its first request.
    from fasterapi import _core
    from fasterapi.compiler import Plan, PlanBody, PlanText

    def call(**kw: Any) -> dict[str, Any]:
        return kw

    engine = _core.Engine(lambda req: None, object, None, None)
    good = PlanParam("x", "path", "int", _core.REQUIRED)
    engine.add_route(["GET"], "/ok/{x}", lambda req: None, Plan(call, False, 200, (good,)))
    bad: list[tuple[Any, type[Exception], str]] = [
        (Plan(call, False, 200, (PlanParam("x", "body", "int", None),)), ValueError, "unknown param source"),  # type: ignore[arg-type]
        (Plan(call, False, 200, (PlanParam("x", "query", "list", None),)), ValueError, "unknown param kind"),  # type: ignore[arg-type]
        (Plan(42, False), TypeError, "Plan.call must be callable"),  # type: ignore[arg-type]
        (Plan(call, False, 99), TypeError, "Plan.status"),
        (Plan(call, False, 200, (), PlanBody("b", 1)), TypeError, "PlanBody"),  # type: ignore[arg-type]
        (Plan(call, False, 200, (), None, None, False, False, PlanText("text/plain", call)), TypeError, "PlanText"),  # type: ignore[arg-type]
        (object(), AttributeError, "has no attribute"),
    ]
    for plan, error, message in bad:
        with pytest.raises(error, match=message):
            engine.add_route(["GET"], "/bad/{x}", lambda req: None, plan)
    assert engine.route_count == 1
