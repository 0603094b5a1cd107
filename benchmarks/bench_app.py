"""The benchmark app: plain FastAPI, as the FastAPI docs write it, served unmodified by every server.

    fasterapi run bench_app:app_async        uvicorn bench_app:app_async        granian ... bench_app:app_async
    fasterapi run bench_app:app_sync         (the same routes with `def` handlers)

Two apps with the same four routes, one per handler style: `app_async` (`async def`) and
`app_sync` (`def`, which FastAPI runs in its thread pool).

BENCH_MIDDLEWARE=asgi adds one pure ASGI pass-through middleware to both apps (`app.add_middleware`):
FasterAPI compiles no route of an app with such middleware, so every request takes the ASGI path
(`python -m fasterapi routes bench_app:app_async` shows it).
BENCH_MIDDLEWARE=cors adds CORSMiddleware as FastAPI's docs set it up: requests without an Origin
header (wrk's) stay on the compiled routes.
"""

import os

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


# ---- async def handlers -----------------------------------------------------------------------

app_async = FastAPI()


@app_async.get("/plaintext", response_class=PlainTextResponse)
async def plaintext():
    return "Hello, World!"


@app_async.get("/json")
async def json():
    return {"message": "Hello, World!"}


@app_async.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None):
    return {"item_id": item_id, "q": q}


@app_async.post("/items")
async def create_item(item: Item):
    return item


# ---- def handlers -----------------------------------------------------------------------------

app_sync = FastAPI()


@app_sync.get("/plaintext", response_class=PlainTextResponse)
def plaintext_sync():
    return "Hello, World!"


@app_sync.get("/json")
def json_sync():
    return {"message": "Hello, World!"}


@app_sync.get("/items/{item_id}")
def read_item_sync(item_id: int, q: str | None = None):
    return {"item_id": item_id, "q": q}


@app_sync.post("/items")
def create_item_sync(item: Item):
    return item


# ---- the ASGI path: the same apps behind one pure ASGI middleware -----------------------------


class PassThroughMiddleware:
    """A pure ASGI middleware that only passes every message through (Starlette's docs' pattern)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)


if os.environ.get("BENCH_MIDDLEWARE") == "asgi":
    app_async.add_middleware(PassThroughMiddleware)
    app_sync.add_middleware(PassThroughMiddleware)
elif os.environ.get("BENCH_MIDDLEWARE") == "cors":  # the docs' CORS setup; wrk sends no Origin
    from fastapi.middleware.cors import CORSMiddleware

    for _app in (app_async, app_sync):
        _app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
