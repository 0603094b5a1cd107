"""The app of the reliability tests and benchmarks (slow clients, limits, shutdown, chaos, soak)."""

import asyncio
import os
import time

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response

app = FastAPI()

_BLOB = b"x" * (1 << 20)


@app.get("/json")
def hello():
    return {"message": "Hello, World!"}


@app.get("/items/{item_id}")
def read_item(item_id: int, q: str | None = None):
    if item_id == 404:
        raise HTTPException(status_code=404, detail="Item not found")
    return {"item_id": item_id, "q": q}


@app.get("/sleep")
async def sleep(s: float = 0.5):
    await asyncio.sleep(s)
    return {"slept": s}


@app.get("/block")
def block(s: float = 0.5):
    time.sleep(s)  # a plain def endpoint: on the thread pool
    return {"blocked": s}


@app.get("/big")
def big(n: int = 1 << 20):
    """n bytes of 'x' (a large response for write-timeout and backpressure tests)."""
    reps, rest = divmod(n, len(_BLOB))
    return Response(_BLOB * reps + _BLOB[:rest], media_type="application/octet-stream")


@app.post("/upload")
async def upload(request: Request):
    body = await request.body()
    return {"len": len(body)}


@app.get("/pid")
def pid():
    return {"pid": os.getpid()}


@app.get("/pid/sleep")
async def pid_sleep(s: float = 0.05):
    """A request that stays in flight for a while, answered with the worker's pid."""
    await asyncio.sleep(s)
    return {"pid": os.getpid()}
