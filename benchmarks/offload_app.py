"""The app of benchmarks/batching.py and benchmarks/blocking.py.

BENCH_FRAMEWORK=fastapi serves it with FastAPI (peers venv) instead of FasterAPI.
BENCH_COST=sleep|spin: the model's cost, 2 ms + 0.05 ms per item, as time.sleep (releases the GIL,
  like native/GPU inference) or a busy loop (holds the GIL, like pure-Python compute).
BENCH_BATCH=1: /predict is a batch route (Batch(max_size=32, max_wait_ms=5)), else one call per request;
  BENCH_BATCH_CONCURRENCY (1) batches at once, BENCH_BATCH_ON_LOOP=1 runs them on the loop thread.
BENCH_POOL=native|executor: where FasterAPI runs blocking=True endpoints (both with BENCH_THREADS threads).
"""

from __future__ import annotations

import os
import time

from pydantic import BaseModel

FRAMEWORK = os.environ.get("BENCH_FRAMEWORK", "fasterapi")
COST = os.environ.get("BENCH_COST", "sleep")
BATCH = os.environ.get("BENCH_BATCH") == "1"
THREADS = int(os.environ.get("BENCH_THREADS", "40"))

if FRAMEWORK == "fastapi":
    from fastapi import FastAPI

    app = FastAPI()
    blocking_kw: dict = {}
else:
    from fasterapi import Batch, FasterAPI

    app = FasterAPI(blocking_pool=os.environ.get("BENCH_POOL", "native"), blocking_threads=THREADS)
    blocking_kw = {"blocking": True}

    @app.on_event("startup")
    async def _executor() -> None:  # the executor mode gets as many threads as the native pool
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(THREADS))


class Item(BaseModel):
    v: float


class Out(BaseModel):
    y: float


def cost(n: int) -> None:
    seconds = 0.002 + 0.00005 * n
    if COST == "sleep":
        time.sleep(seconds)
    else:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass


def model(items: list[Item]) -> list[Out]:
    cost(len(items))
    return [Out(y=i.v * 2) for i in items]


if BATCH and FRAMEWORK != "fastapi":
    @app.post("/predict", batch=Batch(max_size=32, max_wait_ms=5,
                                      concurrency=int(os.environ.get("BENCH_BATCH_CONCURRENCY", "1")),
                                      on_loop=os.environ.get("BENCH_BATCH_ON_LOOP") == "1"))
    def predict(items: list[Item]) -> list[Out]:
        return model(items)

    @app.get("/batch-stats")
    def batch_stats() -> dict:
        return app.batch_stats("/predict")
else:
    @app.post("/predict", **blocking_kw)
    def predict_one(item: Item) -> Out:
        return model([item])[0]


@app.get("/block", **blocking_kw)
def block():
    return {"ok": True}


@app.get("/block-model", **blocking_kw)
def block_model() -> Out:  # a response model: the Python path (validation, serialization) around the pool
    return Out(y=1.0)


@app.get("/block-sleep", **blocking_kw)
def block_sleep(ms: float = 1.0):
    time.sleep(ms / 1000)
    return {"ok": True}
