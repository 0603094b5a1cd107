"""An app with batch and blocking routes, served for tests/integration/test_offload.py."""

from __future__ import annotations

import os
import threading
import time

from pydantic import BaseModel

from fasterapi import Batch, Depends, FastAPI, HTTPException

app = FastAPI(blocking_pool=os.environ.get("BLOCKING_POOL", "native"), blocking_threads=16)


class Item(BaseModel):
    v: int
    delay_ms: int = 0


class Out(BaseModel):
    v: int
    double: int
    batch: int


@app.post("/predict", batch=Batch(max_size=8, max_wait_ms=30))
def predict(items: list[Item]) -> list[Out]:
    time.sleep(max(i.delay_ms for i in items) / 1000)
    if any(i.v == 418 for i in items):
        raise HTTPException(418, "teapot in batch")
    if any(i.v == 500 for i in items):
        raise RuntimeError("model crashed")
    return [Out(v=i.v, double=i.v * 2, batch=len(items)) for i in items]


@app.post("/apredict", batch=Batch(max_size=8, max_wait_ms=30))
async def apredict(items: list[Item]) -> list[Out]:
    import asyncio

    await asyncio.sleep(max(i.delay_ms for i in items) / 1000)
    return [Out(v=i.v, double=i.v * 2, batch=len(items)) for i in items]


@app.post("/slow-batch", batch=Batch(max_size=4, max_wait_ms=1, timeout_ms=150))
def slow_batch(items: list[Item]) -> list[dict]:
    time.sleep(max(i.delay_ms for i in items) / 1000)
    return [{"v": i.v} for i in items]


@app.get("/block/{n}", blocking=True)
def block(n: int, s: float = 0.0):
    time.sleep(s)
    return {"n": n, "thread": threading.current_thread().name, "main": threading.current_thread() is threading.main_thread()}


def dep() -> str:
    return "dep"


@app.get("/block-dep", blocking=True)
def block_dep(d: str = Depends(dep), s: float = 0.0) -> dict:
    time.sleep(s)
    return {"d": d, "main": threading.current_thread() is threading.main_thread()}


@app.get("/block-fail", blocking=True)
def block_fail(code: int = 0):
    if code:
        raise HTTPException(code, "asked")
    raise ValueError("boom")


@app.get("/block-model/{n}", blocking=True)
def block_model(n: int, fail: int = 0) -> Out:  # a response model, no dependencies: Offload(call, then)
    if fail:
        raise HTTPException(fail, "asked")
    assert threading.current_thread() is not threading.main_thread()
    return Out(v=n, double=2 * n, batch=0)


@app.get("/stats")
def stats(path: str = "/predict"):
    return app.batch_stats(path)
