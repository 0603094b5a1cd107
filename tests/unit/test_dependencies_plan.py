"""Route plans: which routes the native fast path may take, and the exact plan tuple."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel

from fasterapi import Depends, FastAPI, Header, Query, Request
from fasterapi.dependencies.utils import get_call_kind
from fasterapi.responses import HTMLResponse, StreamingResponse
from fasterapi.routing import APIRoute


class FakeCore:
    REQUIRED = object()


class Item(BaseModel):
    name: str


def plan_for(func, path="/x/{a}", **kwargs):
    route = APIRoute(path, func, **kwargs)
    return route.fast_plan(FakeCore)


def test_scalar_params_and_model_body_get_a_plan():
    async def f(a: int, item: Item, q: str | None = None, flag: bool = False, ratio: float = 1.5):
        return {}

    plan = plan_for(f, methods=["POST"], status_code=201)
    assert plan is not None
    endpoint, is_async, status, params, body = plan
    assert endpoint is f and is_async is True and status == 201
    assert params == (
        ("a", "path", "int", FakeCore.REQUIRED, "a"),
        ("q", "query", "str", None, "q"),
        ("flag", "query", "bool", False, "flag"),
        ("ratio", "query", "float", 1.5, "ratio"),
    )
    assert body[0] == "item"
    assert body[1](b'{"name": "n"}') == Item(name="n")


def test_alias_is_passed():
    def f(a: int, item_query: Annotated[str, Query(alias="item-query")] = "d"):
        return {}

    assert plan_for(f)[3][1] == ("item_query", "query", "str", "d", "item-query")


def test_no_plan_cases():
    def with_dep(a: int, d: Annotated[int, Depends(lambda: 1)]):
        return {}

    def with_header(a: int, x: Annotated[str, Header()]):
        return {}

    def with_request(a: int, request: Request):
        return {}

    def with_constraint(a: int, q: Annotated[int, Query(gt=1)] = 2):
        return {}

    def with_list(a: int, q: Annotated[list[int], Query()] = []):  # noqa: B006
        return {}

    def annotated_return(a: int) -> dict:
        return {}

    def streaming(a: int):
        return StreamingResponse(iter([b""]))

    def plain(a: int):
        return {}

    for func in (with_dep, with_header, with_request, with_constraint, with_list, annotated_return, streaming):
        assert plan_for(func) is None, func.__name__
    assert plan_for(plain, response_model=Item) is None
    assert plan_for(plain, response_class=HTMLResponse) is None
    assert plan_for(plain, blocking=True) is None
    assert plan_for(plain, status_code=204) is None
    assert plan_for(plain) is not None


def test_app_dependencies_disable_the_plan():
    app = FastAPI(dependencies=[Depends(lambda: None)])

    @app.get("/x")
    def x():
        return {}

    route = app.routes[-1]
    assert route.fast_plan(FakeCore) is None


def test_call_kinds():
    def sync():
        pass

    async def coro():
        pass

    def gen():
        yield

    async def agen():
        yield

    class Callable_:
        async def __call__(self):
            pass

    class Cls:
        def __init__(self):
            pass

    assert [get_call_kind(c) for c in (sync, coro, gen, agen, Callable_(), Cls)] == [
        "sync", "async", "gen", "asyncgen", "async", "sync"
    ]
