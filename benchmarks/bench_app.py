"""One app, served by every contender: FasterAPI by default, FastAPI when BENCH_FRAMEWORK=fastapi."""

import os

from pydantic import BaseModel

if os.environ.get("BENCH_FRAMEWORK") == "fastapi":
    from fastapi import Depends
    from fastapi import FastAPI as App
    from fastapi.responses import PlainTextResponse
else:
    from fasterapi import Depends
    from fasterapi import FasterAPI as App
    from fasterapi.responses import PlainTextResponse

app = App()


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@app.get("/plaintext")
def plaintext():
    return PlainTextResponse("Hello, World!")


@app.get("/json")
def hello():
    return {"message": "Hello, World!"}


@app.get("/items/{item_id}")
def read_item(item_id: int, q: str | None = None):
    return {"item_id": item_id, "q": q}


@app.post("/items")
async def create_item(item: Item):
    return item


# The same route with a dependency and a response_model (FastAPI compatibility issue: it must stay
# within 2x the in-process cost of /items without them).
class ItemOut(BaseModel):
    name: str
    price: float


def current_user(token: str = "guest") -> str:
    return token


@app.post("/items/checked", response_model=ItemOut)
async def create_item_checked(item: Item, user: str = Depends(current_user)):
    return item
