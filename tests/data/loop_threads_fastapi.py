"""The FastAPI twin of loop_threads_app (compiled routes, pydantic models): on a free-threaded
build its loops share one interpreter; on a GIL build pydantic-core keeps it out of sub-interpreters."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from loop_threads_app import meet, where
from pydantic import BaseModel

app = FastAPI()


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@app.get("/who")
async def who() -> dict[str, Any]:
    return where()


@app.get("/meet")
async def meet_route(port: int) -> dict[str, Any]:
    return meet(port)


@app.get("/json")
async def json_route() -> dict[str, str]:
    return {"message": "Hello, World!"}


@app.post("/items")
async def create_item(item: Item) -> Item:
    return item


@app.get("/cpu")
def cpu(n: int = 20000) -> dict[str, int]:
    total = 0
    for i in range(n):
        total += i * i % 7
    return {"total": total}
