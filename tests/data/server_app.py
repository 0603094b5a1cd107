"""The app the integration tests serve over real sockets."""

import asyncio
import os
import time

from pydantic import BaseModel

from fasterapi import FasterAPI, HTTPException
from fasterapi.responses import PlainTextResponse

app = FasterAPI()


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@app.get("/json")
def hello():
    return {"message": "Hello, World!"}


@app.get("/plaintext")
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


@app.get("/block", blocking=True)
def block(s: float = 0.3):
    time.sleep(s)
    return {"blocked": s}


@app.get("/boom")
def boom():
    raise RuntimeError("handler failure")


@app.get("/pid")
def pid():
    return {"pid": os.getpid()}


@app.post("/upload-size", body_limit=100)
async def small_upload(item: Item):
    return {"ok": True}
