"""The app called as an ASGI application (FastAPI docs: "Async Tests" with httpx's ASGITransport)."""

import asyncio
from contextlib import asynccontextmanager

import httpx
from pydantic import BaseModel

from fasterapi import FastAPI, Header


class Item(BaseModel):
    name: str


events: list[str] = []


@asynccontextmanager
async def lifespan(app):
    events.append("startup")
    yield
    events.append("shutdown")


app = FastAPI(lifespan=lifespan)


@app.get("/")
async def root():
    return {"message": "Tomato"}


@app.post("/items/{item_id}")
def create(item_id: int, item: Item, x_token: str = Header()):
    return {"item_id": item_id, "name": item.name, "token": x_token}


async def _requests() -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return [
            await client.get("/"),
            await client.post("/items/3", json={"name": "x"}, headers={"x-token": "t"}),
            await client.post("/items/abc", json={}, headers={"x-token": "t"}),
            await client.get("/missing"),
        ]


def test_async_client_with_asgi_transport():
    ok, created, invalid, missing = asyncio.run(_requests())
    assert ok.status_code == 200 and ok.json() == {"message": "Tomato"}
    assert created.json() == {"item_id": 3, "name": "x", "token": "t"}
    assert invalid.status_code == 422
    assert {e["loc"][0] for e in invalid.json()["detail"]} == {"path", "body"}
    assert missing.status_code == 404


def test_lifespan_scope():
    async def run() -> list[dict]:
        sent: list[dict] = []
        queue: asyncio.Queue = asyncio.Queue()
        await queue.put({"type": "lifespan.startup"})
        await queue.put({"type": "lifespan.shutdown"})

        async def send(message: dict) -> None:
            sent.append(message)

        await app({"type": "lifespan"}, queue.get, send)
        return sent

    events.clear()
    sent = asyncio.run(run())
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert events == ["startup", "shutdown"]


def test_streaming_response_through_asgi_transport():
    from fasterapi.responses import StreamingResponse

    app = FastAPI()

    @app.get("/s")
    def s():
        return StreamingResponse(iter([b"ab", b"cd"]), media_type="text/plain")

    async def main() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.get("/s")

    r = asyncio.run(main())
    assert r.content == b"abcd" and "transfer-encoding" not in r.headers
