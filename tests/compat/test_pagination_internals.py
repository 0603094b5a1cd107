"""FastAPI internals used by fastapi-pagination, and routes rebuilt after registration.

fastapi-pagination's `add_pagination(app)` walks `app.routes` (descending into `_IncludedRouter`
entries), and for each route whose response model is a page: appends a `Depends` to
`route.dependencies` and its Dependant to `route.dependant.dependencies`, rebuilds
`route.body_field` with `_get_body_field(body_params=_get_flat_body_params(route.dependant), ...)`
and assigns `route.app = request_response(route.get_route_handler())`. It does so at once and
again in the app's lifespan (wrapping `router.lifespan_context`), when the app may already have
been served. The small paginator below is built the same way, without fastapi-pagination
(no `from __future__ import annotations`: the dependency below is annotated with a local).
"""

import asyncio
import inspect
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Annotated, Any, Generic, TypeVar

import httpx
import pytest
from pydantic import BaseModel

from fasterapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fasterapi.dependencies.utils import (
    _get_body_field,
    _get_flat_body_params,
    get_parameterless_sub_dependant,
    lenient_issubclass,
)
from fasterapi.responses import PlainTextResponse
from fasterapi.routing import APIRoute, _IncludedRouter, request_response
from fasterapi.testclient import TestClient

T = TypeVar("T")

# ------------------------------------------------------------------------ a small paginator


class Params(BaseModel):
    page: int = Query(1, ge=1)
    size: int = Query(10, ge=1, le=100)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    size: int


_params: ContextVar[Params] = ContextVar("_params")
_response: ContextVar[Response] = ContextVar("_response")


def paginate(items: Sequence[Any]) -> dict[str, Any]:
    try:
        params = _params.get()
    except LookupError:
        raise RuntimeError("use add_pagination") from None
    start = (params.page - 1) * params.size
    _response.get().headers["x-total"] = str(len(items))
    return {"items": list(items[start:start + params.size]), "total": len(items), "page": params.page, "size": params.size}


def _params_dependency() -> Any:
    async def params_dep(**kwargs: Any) -> Params:
        return Params.model_validate(kwargs)

    # keyword-only parameters whose defaults are the model's Query field infos, as fastapi-pagination
    params_dep.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=field.annotation, default=field)
        for name, field in Params.model_fields.items()
    ])
    return params_dep


def pagination_ctx() -> Any:
    params_dep = _params_dependency()

    async def page_ctx(req: Request, res: Response, params: Annotated[Params, Depends(params_dep)]) -> AsyncIterator[Params]:
        token, rsp_token = _params.set(params), _response.set(res)
        try:
            yield params
        finally:
            _params.reset(token)
            _response.reset(rsp_token)

    page_ctx.__page_ctx_dep__ = True  # type: ignore[attr-defined]
    return page_ctx


def _update_route(route: APIRoute) -> None:
    if any(hasattr(d.call, "__page_ctx_dep__") for d in route.dependant.dependencies):
        return
    if not lenient_issubclass(route.response_model, Page):
        return
    dep = Depends(pagination_ctx())
    route.dependencies.append(dep)
    route.dependant.dependencies.append(get_parameterless_sub_dependant(depends=dep, path=route.path_format))
    route.body_field = _get_body_field(
        body_params=_get_flat_body_params(route.dependant),
        name=route.unique_id,
        embed_body_fields=route._embed_body_fields,
    )
    route.app = request_response(route.get_route_handler())


def _iter_api_routes(routes: Sequence[Any]) -> Iterator[APIRoute]:
    for route in routes:
        match route:
            case APIRoute():
                yield route
            case _IncludedRouter():
                yield from _iter_api_routes(route.original_router.routes)


def add_pagination(parent: FastAPI | APIRouter) -> FastAPI | APIRouter:
    for route in _iter_api_routes(parent.routes):
        _update_route(route)
    router = parent.router if isinstance(parent, FastAPI) else parent
    original = router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        for route in _iter_api_routes(parent.routes):
            _update_route(route)
        async with original(app) as state:
            yield state

    router.lifespan_context = lifespan
    return parent


# ---------------------------------------------------------------------------------- tests


def test_internals_importable_with_fastapi_semantics() -> None:
    assert lenient_issubclass(Page[int], Page)
    assert not lenient_issubclass(list[int], list)
    assert not lenient_issubclass(3, int)
    assert _get_body_field(body_params=[], name="x", embed_body_fields=False) is None


def test_add_pagination_at_setup() -> None:
    app = FastAPI()

    @app.get("/items", response_model=Page[int])
    async def items() -> Any:
        return paginate(range(25))

    @app.get("/plain")
    def plain() -> dict[str, int]:
        return {"ok": 1}

    add_pagination(app)
    add_pagination(app)  # idempotent
    route = next(r for r in app.routes if getattr(r, "path", None) == "/items")
    assert len(route.dependencies) == 1
    client = TestClient(app)
    r = client.get("/items", params={"page": 3, "size": 10})
    assert r.status_code == 200
    assert r.json() == {"items": list(range(20, 25)), "total": 25, "page": 3, "size": 10}
    assert r.headers["x-total"] == "25"
    assert client.get("/items", params={"size": 0}).json()["detail"][0]["loc"] == ["query", "size"]
    assert client.get("/plain").json() == {"ok": 1}
    names = {p["name"] for p in app.openapi()["paths"]["/items"]["get"]["parameters"]}
    assert names == {"page", "size"}


def test_route_rebuilt_after_the_app_was_served() -> None:
    """The engine (and the route's compiled plan) were built by earlier requests: assigning
    `route.app` makes the next request use the new dependencies."""
    app = FastAPI()

    @app.get("/items", response_model=Page[int])
    def items(offset: int = 0) -> Any:
        try:
            return paginate(range(offset, offset + 30))
        except RuntimeError:
            return {"items": [], "total": -1, "page": 0, "size": 0}

    @app.get("/other")
    def other(q: int = 0) -> dict[str, int]:
        return {"q": q}

    client = TestClient(app)
    assert client.get("/items").json()["total"] == -1  # not paginated yet
    assert client.get("/other", params={"q": 2}).json() == {"q": 2}

    add_pagination(app)
    r = client.get("/items", params={"offset": 5, "page": 2, "size": 3})
    assert r.status_code == 200
    assert r.json() == {"items": [8, 9, 10], "total": 30, "page": 2, "size": 3}
    assert r.headers["x-total"] == "30"
    assert client.get("/other", params={"q": 3}).json() == {"q": 3}  # untouched routes still answer


def test_lifespan_applies_pagination_to_routes_added_later() -> None:
    app = FastAPI()
    add_pagination(app)  # before the route exists: the lifespan adds it

    @app.get("/items", response_model=Page[str])
    async def items() -> Any:
        return paginate(["a", "b", "c"])

    with TestClient(app) as client:
        r = client.get("/items", params={"size": 2})
        assert r.json() == {"items": ["a", "b"], "total": 3, "page": 1, "size": 2}


def test_lifespan_wrapping_through_asgi() -> None:
    """router.lifespan_context is callable even without `lifespan=` (code wraps it)."""
    app = FastAPI()
    add_pagination(app)

    @app.get("/items", response_model=Page[int])
    async def items() -> Any:
        return paginate([1, 2, 3])

    async def main() -> httpx.Response:
        messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await messages.put({"type": "lifespan.startup"})
        task = asyncio.ensure_future(app({"type": "lifespan", "state": {}}, messages.get, send))
        while not sent:
            await asyncio.sleep(0)
        assert sent == [{"type": "lifespan.startup.complete"}]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            response = await c.get("/items", params={"size": 2})
        await messages.put({"type": "lifespan.shutdown"})
        await task
        return response

    r = asyncio.run(main())
    assert r.json() == {"items": [1, 2], "total": 3, "page": 1, "size": 2}


def test_asgi_lifespan_startup_failure_is_raised() -> None:
    @asynccontextmanager
    async def broken(app: Any) -> AsyncIterator[None]:
        raise ValueError("boom")
        yield  # pragma: no cover

    app = FastAPI(lifespan=broken)

    async def main() -> list[dict[str, Any]]:
        messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        await messages.put({"type": "lifespan.startup"})
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        with pytest.raises(ValueError, match="boom"):
            await app({"type": "lifespan"}, messages.get, send)
        return sent

    sent = asyncio.run(main())
    assert [m["type"] for m in sent] == ["lifespan.startup.failed"]


def test_include_router_keeps_the_routes_walkable() -> None:
    inner = APIRouter()

    @inner.get("/items", response_model=Page[int])
    async def items() -> Any:
        return paginate(list(range(5)))

    add_pagination(inner)  # before include_router: the copy keeps the dependency
    (original,) = inner.routes
    assert len(original.dependencies) == 1
    outer = APIRouter()
    outer.include_router(inner, prefix="/inner")

    @outer.get("/late", response_model=Page[int])
    async def late() -> Any:
        return paginate([7, 8])

    app = FastAPI()
    app.include_router(outer, prefix="/outer")
    # FastAPI keeps included routers nested (_IncludedRouter): the walk reaches the routers' own
    # routes, with their own paths.
    routes = {r.path: r for r in _iter_api_routes(app.routes)}
    assert set(routes) == {"/items", "/late"}
    assert routes["/items"] is original
    assert len(routes["/items"].dependencies) == 1
    assert len(routes["/late"].dependencies) == 0
    add_pagination(app)
    assert len(routes["/late"].dependencies) == 1
    client = TestClient(app)
    assert client.get("/outer/inner/items", params={"page": 2, "size": 2}).json()["items"] == [2, 3]
    assert client.get("/outer/late").json()["items"] == [7, 8]
    params = app.openapi()["paths"]["/outer/inner/items"]["get"]["parameters"]
    assert {"page", "size"} <= {p["name"] for p in params}


def test_rebuilt_route_with_a_body() -> None:
    class Filter(BaseModel):
        prefix: str

    app = FastAPI()

    @app.post("/search", response_model=Page[str])
    async def search(f: Filter) -> Any:
        return paginate([w for w in ["apple", "avocado", "banana", "apricot"] if w.startswith(f.prefix)])

    client = TestClient(app, raise_server_exceptions=False)
    assert client.post("/search", json={"prefix": "a"}).status_code == 500  # RuntimeError: no pagination
    add_pagination(app)
    route = next(r for r in app.routes if getattr(r, "path", None) == "/search")
    assert route._embed_body_fields is False
    assert route.body_field is not None and route.body_field.name == "f"
    r = client.post("/search", params={"size": 2}, json={"prefix": "a"})
    assert r.json() == {"items": ["apple", "avocado"], "total": 3, "page": 1, "size": 2}
    assert client.post("/search", json={}).status_code == 422
    body = app.openapi()["paths"]["/search"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Filter"}


def test_route_app_with_a_handler_of_its_own() -> None:
    app = FastAPI()

    @app.get("/x")
    def x() -> dict[str, str]:
        return {"from": "endpoint"}

    client = TestClient(app)
    assert client.get("/x").json() == {"from": "endpoint"}
    route = next(r for r in app.routes if getattr(r, "path", None) == "/x")
    default_handler = route.get_route_handler()

    async def handler(request: Request) -> Response:
        inner = await default_handler(request)
        return PlainTextResponse("wrapped " + inner.body.decode())

    route.app = request_response(handler)
    assert client.get("/x").text == 'wrapped {"from":"endpoint"}'
    route.app = request_response(route.get_route_handler())  # back to the route's own handler
    assert client.get("/x").json() == {"from": "endpoint"}


def test_query_validation_alias() -> None:
    app = FastAPI()

    @app.get("/a")
    def a(size: int = Query(..., validation_alias="s")) -> int:
        return size

    client = TestClient(app)
    assert client.get("/a", params={"s": 3}).json() == 3
    assert client.get("/a").json()["detail"][0]["loc"] == ["query", "s"]


def test_route_app_wrapped_in_asgi_middleware() -> None:
    """`route.app = SomeASGIMiddleware(route.app)`: requests to the route run the wrapper."""
    app = FastAPI()

    @app.get("/x/{n}")
    def x(n: int) -> dict[str, int]:
        if n == 0:
            raise HTTPException(404, "zero")
        return {"n": n}

    class AddHeader:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
            async def send_wrapper(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", []), (b"x-wrapped", b"1")]
                await send(message)

            await self.inner(scope, receive, send_wrapper)

    client = TestClient(app)
    assert "x-wrapped" not in client.get("/x/1").headers
    route = next(r for r in app.routes if getattr(r, "path", None) == "/x/{n}")
    route.app = AddHeader(route.app)
    r = client.get("/x/2")
    assert r.json() == {"n": 2}
    assert r.headers["x-wrapped"] == "1"
    r = client.get("/x/0")
    assert r.status_code == 404 and r.json() == {"detail": "zero"}
