"""An app whose every request takes the ASGI path (a pass-through ASGI middleware), plus a probe
route counting the ASGI path's live response objects after gc.collect(), for
tests/integration/test_asgi_retention.py. FASTERAPI_TEST_HANDOFF=1 takes PyPy's path on CPython:
every handler handed to its worker task from its first step (_runtime._HANDOFF_FIRST_STEP)."""

import gc
import os

from fastapi import FastAPI

import fasterapi._runtime

if os.environ.get("FASTERAPI_TEST_HANDOFF") == "1":
    fasterapi._runtime._HANDOFF_FIRST_STEP = True

app = FastAPI()


class PassThrough:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)


app.add_middleware(PassThrough)


@app.get("/json")
async def json_route():
    return {"message": "Hello, World!"}


@app.get("/_live")
async def live():
    gc.collect()
    names = ("Wire", "Future", "_Exchange")
    counts = dict.fromkeys(names, 0)
    for o in gc.get_objects():
        name = type(o).__name__
        if name in counts:
            counts[name] += 1
    return counts
