"""Native (C ABI) and constant routes, served over real sockets by tests/integration/test_native_routes.py.

FASTERAPI_NATIVE_LIB is the path of examples/native built as libfast.so.
"""

import os

from fasterapi import FasterAPI
from fasterapi.responses import PlainTextResponse

LIB = os.environ["FASTERAPI_NATIVE_LIB"]

app = FasterAPI()
app.add_native_route("GET", "/native/hello", library=LIB, symbol="hello")
app.add_native_route("GET", "/native/items/{item_id}", library=LIB, symbol="item")
app.add_native_route("POST", "/native/echo", library=LIB, symbol="echo")
app.add_native_route("GET", "/native/throws", library=LIB, symbol="throws")
calls = {"health": 0}


@app.get("/health", static=True)
def health():
    calls["health"] += 1
    return {"status": "ok", "calls": calls["health"]}


@app.get("/static-text", static=True)
def static_text():
    return PlainTextResponse("constant", headers={"X-Constant": "yes"})


@app.get("/python")
def python_route():
    return {"message": "Hello, World!"}
