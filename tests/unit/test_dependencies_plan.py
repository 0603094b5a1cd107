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
    endpoint, is_async, status, params, body, guard, json_bytes, wants_request = plan
    assert endpoint is f and is_async is True and status == 201
    assert guard is None and json_bytes is False and wants_request is False  # the endpoint itself
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
    def with_header(a: int, x: Annotated[str, Header()]):
        return {}

    def with_constraint(a: int, q: Annotated[int, Query(gt=1)] = 2):
        return {}

    def with_list(a: int, q: Annotated[list[int], Query()] = []):  # noqa: B006
        return {}

    def streaming(a: int):
        return StreamingResponse(iter([b""]))

    def plain(a: int):
        return {}

    for func in ( with_constraint, with_list, streaming):
        assert plan_for(func) is None, func.__name__
    assert plan_for(plain, response_class=HTMLResponse) is None
    assert plan_for(plain, blocking=True) is None
    assert plan_for(plain, status_code=204) is None
    assert plan_for(plain) is not None


# Dependencies at module level: the test module's annotations are strings, resolved in its globals.
def gen_dep():
    yield 1


def header_dep(x: Annotated[str, Header()]):
    return x


calls = []


def token(token: str = "guest"):
    calls.append("token")
    return token


async def user(t: Annotated[str, Depends(token)], limit: int = 10):
    return (t, limit)


def dep():
    return object()


def test_dependencies_are_compiled_into_one_function():
    calls.clear()
    async def endpoint(a: int, item: Item, u: Annotated[tuple, Depends(user)], t: Annotated[str, Depends(token)]):
        return {"a": a, "u": u, "t": t, "item": item}

    app = FastAPI(dependencies=[Depends(token)])
    app.post("/x/{a}")(endpoint)
    route = app.routes[-1]
    call, is_async, status, params, body, guard, json_bytes, _ = route.fast_plan(FakeCore)
    assert is_async and status == 200 and guard is app and json_bytes is False
    # The app-level dependency, the sub-dependency and the endpoint's own use of `token` share one call.
    assert call.__fasterapi_source__.count("d0_call(") == 1
    assert [p[1:] for p in params] == [
        ("query", "str", "guest", "token"), ("query", "int", 10, "limit"), ("path", "int", FakeCore.REQUIRED, "a"),
    ]
    assert body[0] == "body"
    coro = call(**{p[0]: v for p, v in zip(params, ["tk", 5, 7])}, body=Item(name="n"))
    try:
        coro.send(None)
    except StopIteration as done:
        result = done.value
    assert result == {"a": 7, "u": ("tk", 5), "t": "tk", "item": Item(name="n")}
    assert calls == ["token"]


def test_use_cache_false_calls_again():
    def f(a: int, x: Annotated[object, Depends(dep)], y: Annotated[object, Depends(dep, use_cache=False)]):
        return {}

    source = plan_for(f)[0].__fasterapi_source__
    assert source.count("d0_call(") == 1 and source.count("d1_call(") == 1


def test_yield_dependencies_are_entered_on_an_exit_stack():
    def f(a: int, d: Annotated[int, Depends(gen_dep)]):
        return {"d": d}

    call = plan_for(f)[0]
    assert "stack.enter_context(d0_call())" in call.__fasterapi_source__
    assert call(p0=1) == {"d": 1}


def test_response_model_returns_json_bytes():
    def plain(a: int):
        return {"name": "n", "extra": 1}

    call, is_async, status, params, body, guard, json_bytes, _ = plan_for(plain, response_model=Item)
    assert json_bytes is True and guard is None and not is_async
    assert call(p0=1) == b'{"name":"n"}'


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


def test_header_parameters_are_looked_up_by_lower_case_alias():
    def f(a: int, x_token: Annotated[str, Header()], d: Annotated[str, Depends(header_dep)]):
        return {}

    params = plan_for(f)[3]
    assert [p[1:] for p in params] == [
        ("header", "str", FakeCore.REQUIRED, "x"), ("path", "int", FakeCore.REQUIRED, "a"),
        ("header", "str", FakeCore.REQUIRED, "x-token"),
    ]


def test_request_parameters_take_the_request_data():
    def f(a: int, request: Request):
        return {}

    call, _, _, params, _, _, _, wants_request = plan_for(f)
    assert wants_request is True and "request = make_request(request_data)" in call.__fasterapi_source__
