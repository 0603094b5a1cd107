"""The app the integration tests serve over real sockets (tests/integration/test_server.py)."""

import asyncio
import os
import threading
import time

from pydantic import BaseModel

from fastapi import FastAPI, HTTPException
from fastapi.responses import PlainTextResponse

app = FastAPI()


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@app.get("/json")
def hello():
    return {"message": "Hello, World!"}


@app.api_route("/plaintext", methods=["GET", "HEAD"])
def plaintext():
    return PlainTextResponse("Hello, World!")


@app.get("/items/{item_id}")
def read_item(item_id: int, q: str | None = None):
    if item_id == 404:
        raise HTTPException(status_code=404, detail="Item not found")
    return {"item_id": item_id, "q": q}


@app.post("/items")
async def create_item(item: Item):
    return item


@app.get("/sleep")
async def sleep(s: float = 0.2):
    await asyncio.sleep(s)
    return {"slept": s}


@app.get("/block")
def block(s: float = 0.3):
    time.sleep(s)  # a plain def endpoint: FastAPI runs it on the thread pool
    return {"blocked": s, "thread": threading.current_thread() is not threading.main_thread()}


@app.get("/boom")
def boom():
    raise RuntimeError("handler failure")


@app.get("/pid")
def pid():
    return {"pid": os.getpid()}
