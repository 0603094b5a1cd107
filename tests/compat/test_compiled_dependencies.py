"""Routes with dependencies and a response_model, compiled by the engine where it can
(fasterapi.compiler: plain dependencies are compiled; yield dependencies and Request/Response/
BackgroundTasks parameters are not): the same answers as FastAPI, overrides still honoured."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel

from engine_reports import assert_compiled
from fasterapi import BackgroundTasks, Cookie, Depends, FastAPI, Header, HTTPException, Request, Response
from fasterapi.exceptions import FastAPIError
from fasterapi.testclient import TestClient

class Item(BaseModel):
    name: str
    price: float
    secret: str = "s"


class ItemOut(BaseModel):
    name: str
    price: float


calls: list[str] = []


def token(token: str = "guest") -> str:
    calls.append("token")
    if token == "bad":
        raise HTTPException(status_code=403, detail="bad token")
    return token


async def user(t: Annotated[str, Depends(token)], limit: int = 10) -> dict:
    return {"t": t, "limit": limit}


def make_app() -> FastAPI:
    app = FastAPI()

    @app.post("/items/{item_id}", response_model=ItemOut)
    async def create(item_id: int, item: Item, u: Annotated[dict, Depends(user)], t: Annotated[str, Depends(token)]):
        assert u["t"] == t
        return item

    @app.get("/me")
    def me(u: Annotated[dict, Depends(user)]):
        return u

    return app


def test_compiled_route_answers_as_fastapi():
    app = make_app()
    assert_compiled(app, "POST /items/{item_id}", "GET /me")
    client = TestClient(app)
    calls.clear()
    r = client.post("/items/3?token=abc&limit=2", json={"name": "n", "price": 1.5, "secret": "x"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"name": "n", "price": 1.5}  # response_model filters `secret`
    assert calls == ["token"]  # cached: one call per request
    assert client.get("/me?limit=7").json() == {"t": "guest", "limit": 7}


def test_errors_take_fastapis_paths():
    client = TestClient(make_app())
    r = client.post("/items/3?token=bad", json={"name": "n", "price": 1})
    assert (r.status_code, r.json()) == (403, {"detail": "bad token"})
    r = client.post("/items/3?limit=x", json={"name": "n", "price": 1})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "limit"]
    r = client.post("/items/3", json={"name": "n"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "price"]


def test_overrides_set_after_the_first_request_apply():
    app = make_app()
    client = TestClient(app)
    assert client.get("/me").json() == {"t": "guest", "limit": 10}
    app.dependency_overrides[token] = lambda: "overridden"
    assert client.get("/me").json() == {"t": "overridden", "limit": 10}
    app.dependency_overrides.clear()
    assert client.get("/me").json() == {"t": "guest", "limit": 10}
    app.dependency_overrides = {token: lambda: "replaced dict"}
    assert client.get("/me").json() == {"t": "replaced dict", "limit": 10}


def test_head_and_response_validation_error():
    app = FastAPI()

    @app.get("/bad", response_model=ItemOut)
    def bad(t: Annotated[str, Depends(token)]):
        return {"name": "only"}

    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/bad")
    assert r.status_code == 500


def verify_key(x_key: Annotated[str, Header()]) -> str:
    if x_key != "secret":
        raise HTTPException(status_code=400, detail="X-Key header invalid")
    return x_key


def test_header_dependencies_on_the_fast_path():
    app = FastAPI(dependencies=[Depends(verify_key)])

    @app.get("/h")
    def h(user_agent: Annotated[str | None, Header()] = None, n: Annotated[int, Header()] = 1):
        return {"ua": user_agent, "n": n}

    assert_compiled(app, "GET /h")
    client = TestClient(app)
    r = client.get("/h", headers={"X-Key": "secret", "User-Agent": "caf\xe9".encode("latin-1"), "N": "5"})
    # latin-1, as Starlette decodes the raw header bytes uvicorn passes. (Starlette's in-process
    # TestClient re-encodes header values as UTF-8 before the app sees them, so in reference mode
    # this reads "caf\xc3\xa9"; uvicorn, like the engine, hands the app the bytes sent.)
    assert r.json() == {"ua": "caf\xe9", "n": 5}
    assert client.get("/h", headers={"x-key": "nope"}).json() == {"detail": "X-Key header invalid"}
    r = client.get("/h")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["header", "x-key"]
    r = client.get("/h", headers={"x-key": "secret", "n": "x"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["header", "n"]


events: list[str] = []


def db_session():
    events.append("open")
    try:
        yield "session"
    except ValueError as exc:
        events.append(f"saw {exc}")
        raise
    finally:
        events.append("close")


async def async_resource(s: Annotated[str, Depends(db_session)]):
    events.append("a-open")
    yield s + "+a"
    events.append("a-close")


def swallowing():
    try:
        yield 1
    except Exception:
        pass


def test_yield_dependencies_on_the_fast_path():
    app = FastAPI()

    @app.get("/ok", response_model=ItemOut)
    async def ok(r: Annotated[str, Depends(async_resource)], fail: bool = False):
        events.append("endpoint")
        if fail:
            raise ValueError("boom")
        return {"name": r, "price": 1}

    @app.get("/swallowed")
    def swallowed(x: Annotated[int, Depends(swallowing)]):
        raise RuntimeError("lost")

    client = TestClient(app, raise_server_exceptions=False)
    events.clear()
    assert client.get("/ok").json() == {"name": "session+a", "price": 1.0}
    assert events == ["open", "a-open", "endpoint", "a-close", "close"]  # LIFO exits
    events.clear()
    assert client.get("/ok?fail=true").status_code == 500
    assert events == ["open", "a-open", "endpoint", "saw boom", "close"]  # the exception reaches them
    r = client.get("/swallowed")
    assert r.status_code == 500
    with pytest.raises(FastAPIError):
        TestClient(app).get("/swallowed")


def client_host(request: Request) -> str:
    return request.client.host


def test_request_parameters_on_the_fast_path():
    app = FastAPI()

    @app.get("/r/{x}")
    def r(x: int, request: Request, host: Annotated[str, Depends(client_host)]):
        return {"x": x, "path": request.url.path, "q": request.query_params.get("q"), "host": host,
                "path_params": request.path_params}

    client = TestClient(app)
    assert client.get("/r/5?q=1").json() == {
        "x": 5, "path": "/r/5", "q": "1", "host": "testclient", "path_params": {"x": "5"},
    }
    assert client.get("/r/nope").status_code == 422


def test_response_and_background_parameters_on_the_fast_path():
    app = FastAPI()
    done: list[str] = []

    def tag(response: Response):
        response.headers["x-dep"] = "1"

    @app.get("/c", dependencies=[Depends(tag)])
    def c(response: Response, tasks: BackgroundTasks):
        response.set_cookie("k", "v")
        response.status_code = 201
        tasks.add_task(done.append, "after")
        return {"a": 1, "b": 2}

    @app.get("/m", response_model=ItemOut)
    async def m(response: Response):
        response.headers["x-m"] = "1"
        return {"name": "n", "price": 1, "extra": True}

    client = TestClient(app)
    r = client.get("/c")
    assert (r.status_code, r.json(), r.headers["x-dep"]) == (201, {"a": 1, "b": 2}, "1")
    assert r.headers["set-cookie"].startswith("k=v;") and done == ["after"]
    r = client.get("/m")
    assert (r.json(), r.headers["x-m"], r.headers["content-type"]) == ({"name": "n", "price": 1.0}, "1", "application/json")


def session(session_id: Annotated[str | None, Cookie()] = None) -> str:
    if session_id is None:
        raise HTTPException(status_code=401, detail="no session")
    return session_id


def test_cookie_parameters_on_the_fast_path():
    app = FastAPI()

    @app.get("/me")
    def me(s: Annotated[str, Depends(session)], n: Annotated[int, Cookie()] = 0):
        return {"s": s, "n": n}

    assert_compiled(app, "GET /me")
    client = TestClient(app)
    assert client.get("/me", headers={"cookie": "a=1; session_id=abc ; n=5"}).json() == {"s": "abc", "n": 5}
    # A quoted value is unquoted by the Python path (http.cookies), as Starlette does.
    assert client.get("/me", headers={"cookie": 'session_id="q\\w"'}).json() == {"s": "qw", "n": 0}
    assert client.get("/me").json() == {"detail": "no session"}
    r = client.get("/me", headers={"cookie": "session_id=x; n=z"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["cookie", "n"]
