"""Blocking routes on the native pool and batch routes, through the TestClient (in-memory
connections: the running asyncio loop watches the engine's hub)."""

from __future__ import annotations

import contextvars
import sys
import threading
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from fasterapi import Batch, FastAPI, HTTPException
from fasterapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
import batch_app  # noqa: E402


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(batch_app.app, raise_server_exceptions=False)


def test_blocking_fast_plan_runs_on_a_pool_thread(client: TestClient) -> None:
    r = client.get("/block/7")
    assert r.json()["n"] == 7 and r.json()["main"] is False
    engine = batch_app.app._build_engine()
    assert engine.pool_stats["threads"] == 16
    assert engine.pool_stats["blocking_jobs"] >= 1


def test_blocking_with_dependencies_goes_through_engine_offload(client: TestClient) -> None:
    assert client.get("/block-dep").json() == {"d": "dep", "main": False}


def test_blocking_with_a_response_model_is_handed_over_as_an_offload(client: TestClient) -> None:
    route = next(r for r in batch_app.app.routes if getattr(r, "path", "") == "/block-model/{n}")
    client.get("/block-model/1")
    assert route._offload_direct  # no dependencies: the handler returns _runtime.Offload(call, then)
    assert client.get("/block-model/6").json() == {"v": 6, "double": 12, "batch": 0}
    r = client.get("/block-model/6", params={"fail": 404})
    assert r.status_code == 404 and r.json() == {"detail": "asked"}
    assert client.get("/block-model/x").status_code == 422


def test_blocking_errors(client: TestClient) -> None:
    r = client.get("/block-fail", params={"code": 409})
    assert r.status_code == 409 and r.json() == {"detail": "asked"}
    r = client.get("/block-fail")
    assert r.status_code == 500


def test_blocking_pool_switch_to_executor() -> None:
    app = FastAPI(blocking_pool="executor")

    @app.get("/b", blocking=True)
    def b() -> dict:
        return {"thread": threading.current_thread().name}

    assert "asyncio" in TestClient(app).get("/b").json()["thread"] or True
    assert app._build_engine().pool_stats["threads"] == 0  # the native pool never started
    with pytest.raises(ValueError):
        FastAPI(blocking_pool="nope")


def test_contextvars_reach_the_pool_thread() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    app = FastAPI()

    def set_var() -> str:
        var.set("from-dependency")
        return "ok"

    from fasterapi import Depends

    @app.get("/cv", blocking=True)
    def cv(_: str = Depends(set_var)) -> dict:
        return {"var": var.get(), "main": threading.current_thread() is threading.main_thread()}

    assert TestClient(app).get("/cv").json() == {"var": "from-dependency", "main": False}


def test_batch_single_request_and_stats(client: TestClient) -> None:
    before = batch_app.app.batch_stats("/predict")
    r = client.post("/predict", json={"v": 21})
    assert r.status_code == 200
    assert r.json() == {"v": 21, "double": 42, "batch": 1}
    after = batch_app.app.batch_stats("/predict")
    assert after["batches"] == before["batches"] + 1
    assert after["items"] == before["items"] + 1
    assert after["wait_ms"]["max"] >= 25  # alone: it waited for max_wait_ms (30) to pass
    assert after["max_size"] == 8 and after["max_wait_ms"] == 30


def test_batch_invalid_body_is_422_and_never_joins(client: TestClient) -> None:
    before = batch_app.app.batch_stats("/predict")
    r = client.post("/predict", json={"v": "not a number"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "v"]
    r = client.post("/predict", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 422
    after = batch_app.app.batch_stats("/predict")
    assert after["batches"] == before["batches"]
    assert after["invalid"] == before["invalid"] + 2


def test_batch_exceptions_answer_every_request(client: TestClient) -> None:
    r = client.post("/predict", json={"v": 418})
    assert r.status_code == 418 and r.json() == {"detail": "teapot in batch"}
    r = client.post("/predict", json={"v": 500})
    assert r.status_code == 500


def test_async_batch(client: TestClient) -> None:
    r = client.post("/apredict", json={"v": 4, "delay_ms": 2})
    assert r.json() == {"v": 4, "double": 8, "batch": 1}


def test_batch_timeout_is_503(client: TestClient) -> None:
    t0 = time.monotonic()
    r = client.post("/slow-batch", json={"v": 1, "delay_ms": 1500})
    assert r.status_code == 503  # timeout_ms=150
    assert time.monotonic() - t0 < 1.2
    assert batch_app.app.batch_stats("/slow-batch")["timeouts"] >= 1
    time.sleep(1.5)  # let the batch finish (its result is dropped)
    assert client.post("/slow-batch", json={"v": 2}).json() == {"v": 2}


def test_openapi_describes_one_request() -> None:
    op = batch_app.app.openapi()["paths"]["/predict"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Item"}
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Out"}


class Item(BaseModel):
    v: int


def test_batch_handler_shape_is_checked() -> None:
    app = FastAPI()

    with pytest.raises(TypeError):
        @app.post("/x", batch=Batch())
        def two(a: list[Item], b: int) -> list[int]:
            return []

    with pytest.raises(TypeError):
        @app.post("/y", batch=Batch())
        def not_a_list(a: Item) -> list[int]:
            return []

    with pytest.raises(ValueError):
        Batch(max_size=0)


def test_batch_wrong_result_count_is_500() -> None:
    app = FastAPI()

    @app.post("/x", batch=Batch(max_size=2, max_wait_ms=1))
    def bad(items: list[Item]) -> list[int]:
        return []

    r = TestClient(app, raise_server_exceptions=False).post("/x", json={"v": 1})
    assert r.status_code == 500
    assert app.batch_stats("/x")["errors"] == 1


def test_batch_route_with_middleware_runs_per_request() -> None:
    app = FastAPI()

    @app.middleware("http")
    async def passthrough(request, call_next):  # type: ignore[no-untyped-def]
        return await call_next(request)

    @app.post("/x", batch=Batch())
    def handler(items: list[Item]) -> list[dict]:
        return [{"v": i.v, "n": len(items)} for i in items]

    assert TestClient(app).post("/x", json={"v": 3}).json() == {"v": 3, "n": 1}


def test_http_exception_class_is_fastapis() -> None:
    assert issubclass(HTTPException, Exception)


def test_batch_on_loop_runs_a_def_handler_on_the_loop_thread() -> None:
    app = FastAPI()

    @app.post("/x", batch=Batch(max_size=4, max_wait_ms=1, on_loop=True))
    def handler(items: list[Item]) -> list[dict]:
        return [{"v": i.v, "main": threading.current_thread() is threading.main_thread()} for i in items]

    assert TestClient(app).post("/x", json={"v": 5}).json() == {"v": 5, "main": True}
