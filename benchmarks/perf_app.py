"""The app behind benchmarks/native_routes.py and benchmarks/stages.py (docs/performance.md).

The same body, {"message":"Hello, World!"}, from a Python route, a constant route (static=True)
and a C++ native route (examples/native, FASTERAPI_NATIVE_LIB); plus parameter/body routes and
large bodies for the zero-copy comparison. FASTERAPI_ENGINE_OPTIONS (JSON) sets engine switches.
"""

import json
import os

from pydantic import BaseModel

from fasterapi import FasterAPI
from fasterapi.responses import Response

app = FasterAPI(openapi_url=None)
LIB = os.environ.get("FASTERAPI_NATIVE_LIB")
app.engine_options.update(json.loads(os.environ.get("FASTERAPI_ENGINE_OPTIONS", "{}")))


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@app.get("/py/hello")
def py_hello():
    return {"message": "Hello, World!"}


@app.get("/const/hello", static=True)
def const_hello():
    return {"message": "Hello, World!"}


@app.get("/json")
def json_route():
    return {"message": "Hello, World!"}


@app.get("/items/{item_id}")
def read_item(item_id: int, q: str | None = None):
    return {"item_id": item_id, "q": q}


@app.post("/items")
async def create_item(item: Item):
    return item


SIZES = {"1k": 1 << 10, "64k": 64 << 10, "1m": 1 << 20}
BODIES = {name: (bytes(range(256)) * (n // 256 + 1))[:n] for name, n in SIZES.items()}


@app.get("/bytes/{size}")
def sized(size: str):
    return Response(BODIES[size], media_type="application/octet-stream")


if LIB:
    app.add_native_route("GET", "/native/hello", library=LIB, symbol="hello")
    app.add_native_route("GET", "/native/items/{item_id}", library=LIB, symbol="item")
    app.add_native_route("GET", "/native/hello-nogil", library=LIB, symbol="hello", release_gil=True)
