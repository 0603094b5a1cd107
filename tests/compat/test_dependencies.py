"""Dependencies: functions, classes, sub-dependencies, caching, yield, overrides, scopes."""

from __future__ import annotations

from typing import Annotated

import pytest

from engine_reports import assert_compiled
from fasterapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, Security
from fasterapi.security import SecurityScopes
from fasterapi.testclient import TestClient


async def common_parameters(q: str | None = None, skip: int = 0, limit: int = 100):
    return {"q": q, "skip": skip, "limit": limit}


CommonsDep = Annotated[dict, Depends(common_parameters)]


class CommonQueryParams:
    def __init__(self, q: str | None = None, skip: int = 0, limit: int = 100):
        self.q = q
        self.skip = skip
        self.limit = limit


def query_extractor(q: str | None = None):
    return q


def query_or_cookie_extractor(q: Annotated[str, Depends(query_extractor)], last_query: str | None = None):
    return q or last_query


calls: list[str] = []


def counted():
    calls.append("counted")
    return len(calls)


def uses_counted_a(v: Annotated[int, Depends(counted)]):
    return v


def uses_counted_b(v: Annotated[int, Depends(counted)]):
    return v


async def verify_token(x_token: Annotated[str, Header()]):
    if x_token != "fake-super-secret-token":
        raise HTTPException(status_code=400, detail="X-Token header invalid")


async def verify_key(x_key: Annotated[str, Header()]):
    if x_key != "fake-super-secret-key":
        raise HTTPException(status_code=400, detail="X-Key header invalid")
    return x_key


events: list[str] = []


def get_db():
    events.append("db open")
    try:
        yield "db"
    finally:
        events.append("db close")


async def get_async_resource():
    events.append("res open")
    try:
        yield "res"
    except HTTPException as exc:
        events.append(f"res saw {exc.status_code}")
        raise
    finally:
        events.append("res close")


class OwnerError(Exception):
    pass


def get_username():
    try:
        yield "Rick"
    except OwnerError as e:
        raise HTTPException(status_code=400, detail=f"Owner error: {e}")


class FixedContentQueryChecker:
    def __init__(self, fixed_content: str):
        self.fixed_content = fixed_content

    def __call__(self, q: str = ""):
        return self.fixed_content in q


checker = FixedContentQueryChecker("bar")


def get_scopes(security_scopes: SecurityScopes, token: str | None = None):
    return {"scopes": security_scopes.scopes, "scope_str": security_scopes.scope_str, "token": token}


def get_current_user(info: Annotated[dict, Security(get_scopes, scopes=["me"])]):
    return info


app = FastAPI()


@app.get("/items")
async def read_items(commons: CommonsDep):
    return commons


@app.get("/class")
def read_class(commons: Annotated[CommonQueryParams, Depends()]):
    return {"q": commons.q, "skip": commons.skip, "limit": commons.limit}


@app.get("/class-old")
def read_class_old(commons: CommonQueryParams = Depends(CommonQueryParams)):
    return {"q": commons.q}


@app.get("/sub")
def read_sub(query_or_default: Annotated[str, Depends(query_or_cookie_extractor)]):
    return {"q_or_cookie": query_or_default}


@app.get("/cached")
def read_cached(
    a: Annotated[int, Depends(uses_counted_a)],
    b: Annotated[int, Depends(uses_counted_b)],
    c: Annotated[int, Depends(counted)],
):
    return {"a": a, "b": b, "c": c}


@app.get("/uncached")
def read_uncached(a: Annotated[int, Depends(counted)], b: Annotated[int, Depends(counted, use_cache=False)]):
    return {"a": a, "b": b}


@app.get("/protected", dependencies=[Depends(verify_token), Depends(verify_key)])
async def protected():
    return [{"item": "Foo"}]


@app.get("/db")
def use_db(db: Annotated[str, Depends(get_db)], res: Annotated[str, Depends(get_async_resource)]):
    events.append("endpoint")
    return {"db": db, "res": res}


@app.get("/db-fail")
async def use_db_fail(res: Annotated[str, Depends(get_async_resource)]):
    raise HTTPException(status_code=404, detail="nope")


@app.get("/owner/{item_id}")
def get_item(item_id: str, username: Annotated[str, Depends(get_username)]):
    if item_id == "plumbus":
        raise OwnerError(username)
    return {"item_id": item_id, "owner": username}


@app.get("/callable")
def read_callable(fixed_content_included: Annotated[bool, Depends(checker)]):
    return {"fixed_content_in_query": fixed_content_included}


@app.get("/me")
def read_me(user: Annotated[dict, Security(get_current_user, scopes=["items"])]):
    return user


@app.get("/request-dep")
def request_dep(path: Annotated[str, Depends(lambda request: request.url.path)]):
    return {"path": path}


def get_request_path(request: Request):
    return request.url.path


@app.get("/request-dep2")
def request_dep2(path: Annotated[str, Depends(get_request_path)]):
    return {"path": path}


router = APIRouter(prefix="/r", dependencies=[Depends(verify_token)])


@router.get("/items")
def router_items():
    return ["router"]


app.include_router(router)

client = TestClient(app)
TOKEN = {"X-Token": "fake-super-secret-token"}


def test_function_dependency():
    assert client.get("/items?q=x&limit=5").json() == {"q": "x", "skip": 0, "limit": 5}


def test_dependency_params_are_validated():
    r = client.get("/items?skip=no")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "skip"]


def test_class_dependency():
    assert client.get("/class?skip=2").json() == {"q": None, "skip": 2, "limit": 100}
    assert client.get("/class-old?q=x").json() == {"q": "x"}


def test_sub_dependencies():
    assert client.get("/sub?q=a").json() == {"q_or_cookie": "a"}
    assert client.get("/sub?last_query=b").json() == {"q_or_cookie": "b"}


def test_dependency_cache_per_request():
    calls.clear()
    assert client.get("/cached").json() == {"a": 1, "b": 1, "c": 1}
    assert client.get("/cached").json() == {"a": 2, "b": 2, "c": 2}


def test_use_cache_false():
    calls.clear()
    assert client.get("/uncached").json() == {"a": 1, "b": 2}


def test_path_operation_dependencies():
    r = client.get("/protected")
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["header", "x-token"], ["header", "x-key"]]
    r = client.get("/protected", headers={"X-Token": "bad", "X-Key": "fake-super-secret-key"})
    assert r.status_code == 400
    assert r.json() == {"detail": "X-Token header invalid"}
    r = client.get("/protected", headers={**TOKEN, "X-Key": "fake-super-secret-key"})
    assert r.json() == [{"item": "Foo"}]


def test_router_dependencies():
    assert client.get("/r/items").status_code == 422
    assert client.get("/r/items", headers=TOKEN).json() == ["router"]


def test_yield_dependencies_cleanup_after_endpoint():
    events.clear()
    assert client.get("/db").json() == {"db": "db", "res": "res"}
    assert events == ["db open", "res open", "endpoint", "res close", "db close"]


def test_yield_dependency_sees_http_exception():
    events.clear()
    r = client.get("/db-fail")
    assert r.status_code == 404
    assert events == ["res open", "res saw 404", "res close"]


def test_yield_dependency_converts_exception():
    assert client.get("/owner/portal-gun").json() == {"item_id": "portal-gun", "owner": "Rick"}
    r = client.get("/owner/plumbus")
    assert r.status_code == 400
    assert r.json() == {"detail": "Owner error: Rick"}


def test_callable_instance_dependency():
    assert client.get("/callable?q=foobar").json() == {"fixed_content_in_query": True}
    assert client.get("/callable?q=foo").json() == {"fixed_content_in_query": False}


def test_security_scopes():
    assert client.get("/me?token=t").json() == {"scopes": ["items", "me"], "scope_str": "items me", "token": "t"}


def test_request_in_dependency():
    assert client.get("/request-dep2").json() == {"path": "/request-dep2"}


def test_dependency_overrides():
    async def override_common(q: str | None = None):
        return {"q": q, "skip": 5, "limit": 10}

    app.dependency_overrides[common_parameters] = override_common
    try:
        assert client.get("/items?q=z").json() == {"q": "z", "skip": 5, "limit": 10}
    finally:
        app.dependency_overrides.clear()
    assert client.get("/items?q=z").json() == {"q": "z", "skip": 0, "limit": 100}


def test_override_of_router_dependency():
    app.dependency_overrides[verify_token] = lambda: None
    try:
        assert client.get("/r/items").json() == ["router"]
    finally:
        app.dependency_overrides.clear()


def test_app_level_dependencies():
    local = FastAPI(dependencies=[Depends(verify_token)])

    @local.get("/x")
    def x():
        return "x"

    sub = APIRouter()

    @sub.get("/y")
    def y():
        return "y"

    local.include_router(sub, prefix="/sub")
    c = TestClient(local)
    assert c.get("/x").status_code == 422
    assert c.get("/x", headers=TOKEN).json() == "x"
    assert c.get("/sub/y").status_code == 422
    assert c.get("/sub/y", headers=TOKEN).json() == "y"


def test_include_router_dependencies():
    local = FastAPI()
    sub = APIRouter()

    @sub.get("/z")
    def z():
        return "z"

    local.include_router(sub, dependencies=[Depends(verify_key)])
    c = TestClient(local)
    assert c.get("/z").status_code == 422
    assert c.get("/z", headers={"X-Key": "fake-super-secret-key"}).json() == "z"


@pytest.mark.parametrize("path", ["/items", "/class"])
def test_repeated_requests_do_not_leak_state(path):
    for _ in range(3):
        assert client.get(path).status_code == 200


def test_def_endpoints_and_dependencies_run_off_the_loop_thread():
    """FastAPI runs `def` endpoints and dependencies on its thread pool (where anyio.from_thread
    works) and `async def` ones on the event loop; the engine's compiled plans must do the same."""
    import asyncio
    import threading

    import anyio.from_thread

    app = FastAPI()

    async def loop_thread() -> int:
        return threading.get_ident()

    def dep(q: int = 1) -> tuple[int, int]:
        return q * 2, threading.get_ident()

    @app.get("/t")
    def t(loop: int = Depends(loop_thread), d: tuple[int, int] = Depends(dep)):
        anyio.from_thread.run(asyncio.sleep, 0)  # a worker thread of the loop's pool
        return {"d": d[0], "dep_on_loop": d[1] == loop, "endpoint_on_loop": threading.get_ident() == loop}

    @app.get("/a")
    async def a(loop: int = Depends(loop_thread)):
        return {"endpoint_on_loop": threading.get_ident() == loop}

    assert_compiled(app, "GET /t", "GET /a")
    client = TestClient(app)
    assert client.get("/t?q=4").json() == {"d": 8, "dep_on_loop": False, "endpoint_on_loop": False}
    assert client.get("/a").json() == {"endpoint_on_loop": True}
