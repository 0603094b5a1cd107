"""Streaming responses over a real socket (tests/integration/test_streaming.py)."""

import asyncio

from fastapi import BackgroundTasks, FastAPI
from fastapi.responses import StreamingResponse

app = FastAPI()
state = {"released": asyncio.Event(), "closed": 0, "background": 0}


@app.get("/held")
async def held():
    """One chunk, then waits for /release: the first chunk must reach the client before the end."""

    async def body():
        yield b"first\n"
        await state["released"].wait()
        yield b"second\n"

    return StreamingResponse(body(), media_type="text/plain")


@app.get("/release")
def release():
    state["released"].set()
    return {"ok": True}


@app.get("/forever")
async def forever(bg: BackgroundTasks):
    """An endless event stream: the client hangs up; the generator is closed, background runs."""

    async def body():
        try:
            n = 0
            while True:
                yield f"data: {n}\n\n"
                n += 1
                await asyncio.sleep(0.01)
        finally:
            state["closed"] += 1

    bg.add_task(lambda: state.__setitem__("background", state["background"] + 1))
    return StreamingResponse(body(), media_type="text/event-stream")


@app.get("/big")
def big(n: int = 200, size: int = 65536):
    """n chunks of `size` bytes from a sync iterator (a thread): backpressure on a slow reader."""
    return StreamingResponse((bytes([65 + i % 26]) * size for i in range(n)))


@app.get("/state")
def get_state():
    return {"closed": state["closed"], "background": state["background"]}
