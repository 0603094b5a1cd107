"""httpx's ASGITransport served by the engine: `install()` (the pytest plugin) routes
`httpx.AsyncClient(transport=ASGITransport(app))` requests through an in-memory engine connection,
so suites written that way test the engine too. Compared with the transport talking ASGI."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fasterapi.responses import StreamingResponse

from fasterapi import FastAPI, HTTPException, Request
from fasterapi import testclient as engine_testclient


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/json/{n}")
    async def json_(n: int, q: str | None = None) -> dict[str, Any]:
        return {"n": n, "q": q}

    @app.get("/scope")
    async def scope(request: Request) -> dict[str, Any]:
        return {"client": list(request.client or ()), "root_path": request.scope["root_path"],
                "path": request.url.path, "scheme": request.url.scheme}

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        return {"body": (await request.body()).decode()}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def parts() -> Any:
            for i in range(3):
                yield f"{i};".encode()
        return StreamingResponse(parts())

    @app.get("/missing")
    async def missing() -> None:
        raise HTTPException(404, "gone")

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    return app


REQUESTS = [("GET", "/json/3?q=x", None), ("GET", "/json/x", None), ("GET", "/scope", None),
            ("POST", "/echo", b"payload"), ("GET", "/stream", None), ("GET", "/missing", None),
            ("GET", "/nowhere", None)]


async def _run(transport: Any) -> list[tuple[int, str | None, bytes]]:
    out = []
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example:8443") as client:
        for method, url, body in REQUESTS:
            r = await client.request(method, url, content=body)
            out.append((r.status_code, r.headers.get("content-type"), r.content))
    return out


def test_async_client_requests_reach_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app()
    plain = asyncio.run(_run(httpx.ASGITransport(app, root_path="/api", client=("10.0.0.1", 5000))))
    monkeypatch.setattr(httpx.ASGITransport, "handle_async_request", httpx.ASGITransport.handle_async_request)
    engine_testclient._install_asgi_transport("httpx")
    served: list[Any] = []
    original = engine_testclient._EngineASGI.exchange

    async def counting(self: Any, raw: bytes, call: Any, more: Any = None) -> bytes:
        served.append(raw)
        return await original(self, raw, call, more)

    monkeypatch.setattr(engine_testclient._EngineASGI, "exchange", counting)
    engine = asyncio.run(_run(httpx.ASGITransport(app, root_path="/api", client=("10.0.0.1", 5000))))
    assert len(served) == len(REQUESTS)
    assert engine == plain


def test_app_exceptions_are_raised_as_httpx_raises_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpx.ASGITransport, "handle_async_request", httpx.ASGITransport.handle_async_request)
    engine_testclient._install_asgi_transport("httpx")
    app = make_app()

    async def go(raise_app_exceptions: bool) -> int:
        transport = httpx.ASGITransport(app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return (await client.get("/crash")).status_code

    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(go(True))
    assert asyncio.run(go(False)) == 500


def test_a_streamed_request_body_reaches_receive_chunk_by_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx's ASGITransport hands each chunk of a streamed body to receive() on its own (msgpack-asgi's
    suite relies on it): so does the engine's in-memory connection, fed a chunk as the client makes it."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        messages = []
        while True:
            message = await receive()
            messages.append([len(message.get("body", b"")), message.get("more_body", False)])
            if not message.get("more_body"):
                break
        body = repr(messages).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    async def chunks() -> Any:
        for _ in range(4):
            yield b"x" * 8

    async def go() -> list[bytes]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
            return [(await client.post("/", content=chunks())).content, (await client.post("/", content=b"abc")).content]

    plain = asyncio.run(go())
    monkeypatch.setattr(httpx.ASGITransport, "handle_async_request", httpx.ASGITransport.handle_async_request)
    engine_testclient._install_asgi_transport("httpx")
    served: list[Any] = []
    original = engine_testclient._EngineASGI.exchange

    async def counting(self: Any, raw: bytes, call: Any, more: Any = None) -> bytes:
        served.append(more is not None)
        return await original(self, raw, call, more)

    monkeypatch.setattr(engine_testclient._EngineASGI, "exchange", counting)
    streamed, whole = asyncio.run(go())
    assert streamed == plain[0] == b"[[8, True], [8, True], [8, True], [8, True], [0, False]]"
    # (a body with a length: one message, as uvicorn delivers it; httpx's transport adds an empty one)
    assert whole == b"[[3, False]]" and plain[1] == b"[[3, True], [0, False]]"
    assert served == [True, False]
