"""A request body that stalls past the body deadline (tests/integration/test_asgi_body_timeout.py):
read whole by a compiled route (the engine buffers it) or streamed through receive() by the app."""

from fastapi import FastAPI, Request
from pydantic import BaseModel

app = FastAPI()


class Item(BaseModel):
    name: str


@app.post("/item")
async def item(item: Item) -> Item:  # compiled: the engine buffers the body before the call
    return item


@app.post("/stream")
async def stream(request: Request) -> dict[str, int]:  # ASGI: the body through receive()
    n = 0
    async for chunk in request.stream():
        n += len(chunk)
    return {"n": n}


@app.post("/body")
async def body(request: Request) -> dict[str, int]:
    return {"n": len(await request.body())}
