"""Real ASGI apps' WebSockets (a `fastapi.FastAPI` app, raw ASGI callables) served by the engine's
native WebSocket support through `fasterapi._asgi_ws.make_websocket_handler`, over real sockets on
127.0.0.1 with the `websockets` client library.

The server is a bare `_core.Engine` + `_core.Server` on an asyncio loop in a background thread,
driven as `fasterapi.server.serve` drives one (the socket loop's fd in the asyncio loop,
`_runtime.start_task`, the periodic sweep).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import (
    Depends,
    FastAPI,
    Query,
    WebSocket,
    WebSocketDisconnect,
    WebSocketException,
)
from starlette.responses import PlainTextResponse
from websockets.asyncio.client import connect as aconnect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from fasterapi import _core, _runtime
from fasterapi._asgi_ws import SEND_HIGH, make_websocket_handler

from ._threaded_server import ThreadedServer
from .conftest import loop_config

CLIENT: dict[str, Any] = {"proxy": None, "compression": None, "open_timeout": 10, "close_timeout": 5}


# ---- a bare engine serving an ASGI app's websocket scope, on a loop in a thread -------------------


class NotFound:
    """The engine's response type: every plain HTTP request is a 404 here."""

    def __init__(self, status_code: int = 404, body: bytes = b'{"detail":"Not Found"}') -> None:
        self.status_code = status_code
        self.raw_headers = [(b"content-type", b"application/json")]
        self.body = body


def _http_handler(req: Any) -> NotFound:
    return NotFound()


def _error_handler(req: Any, exc: BaseException) -> NotFound:
    return NotFound(500, b'{"detail":"Internal Server Error"}')


class ServedApp(ThreadedServer):
    thread_name = "asgi-ws-server"

    def __init__(self, app: Any, scope_base: dict[str, Any] | None = None, **options: Any) -> None:
        super().__init__()
        self.app = app
        self.scope_base = scope_base
        self.options = options  # make_websocket_handler's keyword arguments
        self.start()

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def make_server(self) -> _core.Server:
        engine = _core.Engine(_http_handler, NotFound, None, _error_handler)
        engine.websocket_handler = make_websocket_handler(self.app, self.scope_base, **self.options)
        engine.task_starter = _runtime.start_task
        server = _core.Server(engine, loop_config())
        self.port = server.listen("127.0.0.1", 0)
        if self.scope_base is not None:
            self.scope_base["server"] = ("127.0.0.1", self.port)  # (RequestData.server is None)
        return server

    async def drain(self, server: _core.Server) -> None:
        """Open WebSocket sessions get the shutdown's close frame (1001) before the sockets close."""
        server.begin_shutdown()
        deadline = time.monotonic() + 5
        while server.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.02)


# ---- the FastAPI app -------------------------------------------------------------------------------

seen: dict[str, Any] = {}  # what endpoints observed, for the tests to check
big_sent: list[int] = []


# (module level: with `from __future__ import annotations` FastAPI resolves the Annotated[...]
# strings in the endpoint's globals)
def token_of(token: Annotated[str, Query()]) -> str:
    if token != "secret":
        raise WebSocketException(code=1008)
    return token


def user_of(token: Annotated[str, Depends(token_of)]) -> dict[str, str]:
    return {"name": "alice", "token": token}


def make_app() -> FastAPI:
    app = FastAPI()

    @app.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    seen["echo_disconnect"] = (message["code"], message.get("reason"))
                    return
                if message.get("text") is not None:
                    await websocket.send_text("echo: " + message["text"])
                else:
                    await websocket.send_bytes(b"echo: " + message["bytes"])
        finally:
            seen.setdefault("echo_done", threading.Event()).set()

    @app.websocket("/subprotocol")
    async def subprotocol(websocket: WebSocket) -> None:
        offered = websocket.scope["subprotocols"]
        chosen = "chat.v2" if "chat.v2" in offered else None
        await websocket.accept(subprotocol=chosen, headers=[(b"x-served-by", b"fasterapi")])
        await websocket.send_json({"offered": offered, "chosen": chosen})
        await websocket.close()

    @app.websocket("/goodbye")
    async def goodbye(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("bye")
        await websocket.close(code=4001, reason="custom reason")
        try:
            await websocket.send_text("after close")
        except RuntimeError as exc:
            seen["send_after_close"] = type(exc).__name__

    @app.websocket("/policy")
    async def policy(websocket: WebSocket) -> None:
        raise WebSocketException(code=1008, reason="not allowed")

    @app.websocket("/close-first")
    async def close_first(websocket: WebSocket) -> None:
        await websocket.close()

    @app.websocket("/deny")
    async def deny(websocket: WebSocket) -> None:
        response = PlainTextResponse("no entry", status_code=401, headers={"www-authenticate": "Bearer"})
        await websocket.send_denial_response(response)

    @app.websocket("/items/{item_id}")
    async def items(websocket: WebSocket, item_id: int, q: str | None = None) -> None:
        await websocket.accept()
        await websocket.send_json({"item_id": item_id, "q": q})
        await websocket.close()

    @app.websocket("/private")
    async def private(websocket: WebSocket, user: Annotated[dict[str, str], Depends(user_of)]) -> None:
        await websocket.accept()
        await websocket.send_json(user)
        await websocket.close()

    @app.websocket("/boom-after-accept")
    async def boom_after_accept(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("about to fail")
        raise ValueError("boom after accept")

    @app.websocket("/boom-before-accept")
    async def boom_before_accept(websocket: WebSocket) -> None:
        raise ValueError("boom before accept")

    @app.websocket("/scope")
    async def scope(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()  # (the client takes its address first: the close follows)
        s = websocket.scope
        await websocket.send_json({
            "type": s["type"], "asgi": s["asgi"], "http_version": s["http_version"], "scheme": s["scheme"],
            "path": s["path"], "raw_path": s["raw_path"].decode(), "query_string": s["query_string"].decode(),
            "root_path": s["root_path"], "client": list(s["client"]), "server": list(s["server"]),
            "headers": [[k.decode(), v.decode()] for k, v in s["headers"]],
            "subprotocols": s["subprotocols"], "extensions": list(s["extensions"]),
            "state": dict(s.get("state", {})),
        })
        websocket.state.added = "by this connection"  # a copy: not seen by the next one
        await websocket.close()

    @app.websocket("/send-after-disconnect")
    async def send_after_disconnect(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            await websocket.receive_text()
        except WebSocketDisconnect as exc:
            seen["client_close"] = (exc.code, exc.reason)
        try:
            await websocket.send_text("too late")
        except WebSocketDisconnect as exc:  # Starlette's answer to the server's OSError
            seen["send_after_disconnect"] = exc.code
        seen.setdefault("disconnect_done", threading.Event()).set()

    @app.websocket("/big-echo")
    async def big_echo(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            try:
                data = await websocket.receive_bytes()
            except WebSocketDisconnect:
                return
            await websocket.send_bytes(data)

    @app.websocket("/big-source")
    async def big_source(websocket: WebSocket, count: int, size: int) -> None:
        await websocket.accept()
        big_sent.clear()
        for i in range(count):
            await websocket.send_bytes(bytes([i % 256]) * size)
            big_sent.append(i)
        await websocket.close()

    @app.websocket("/slow-sink")
    async def slow_sink(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()  # "start": the client then floods
        await asyncio.sleep(0.8)  # not reading meanwhile
        total = count = 0
        while True:
            data = await websocket.receive_bytes()
            if data == b"end":
                break
            assert data == bytes([count % 256]) * len(data)
            count += 1
            total += len(data)
        await websocket.send_json({"count": count, "total": total})
        await websocket.close()

    return app


@pytest.fixture(scope="module")
def served() -> Iterator[ServedApp]:
    s = ServedApp(make_app(), {"state": {"lifespan": "value"}})
    yield s
    s.stop()


# ---- tests -----------------------------------------------------------------------------------------


def test_echo_text_and_bytes(served: ServedApp) -> None:
    seen.pop("echo_done", None)
    done = seen.setdefault("echo_done", threading.Event())
    with connect(served.url("/echo"), **CLIENT) as ws:
        ws.send("hello")
        assert ws.recv(timeout=5) == "echo: hello"
        ws.send(b"\x00\x01binary\xff")
        assert ws.recv(timeout=5) == b"echo: \x00\x01binary\xff"
        ws.send("héllo ✓")
        assert ws.recv(timeout=5) == "echo: héllo ✓"
        for i in range(50):
            ws.send(f"m{i}")
        assert [ws.recv(timeout=5) for _ in range(50)] == [f"echo: m{i}" for i in range(50)]
        ws.close(code=4000, reason="client done")
    assert done.wait(5)
    assert seen["echo_disconnect"] == (4000, "client done")


def test_subprotocol_negotiated(served: ServedApp) -> None:
    with connect(served.url("/subprotocol"), subprotocols=[Subprotocol("chat.v1"), Subprotocol("chat.v2")], **CLIENT) as ws:
        assert ws.subprotocol == "chat.v2"
        assert ws.response is not None
        assert ws.response.headers["Sec-WebSocket-Protocol"] == "chat.v2"
        assert ws.response.headers["x-served-by"] == "fasterapi"
        assert json.loads(ws.recv(timeout=5)) == {"offered": ["chat.v1", "chat.v2"], "chosen": "chat.v2"}
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1000


def test_no_subprotocol_when_none_offered(served: ServedApp) -> None:
    with connect(served.url("/subprotocol"), **CLIENT) as ws:
        assert ws.subprotocol is None and ws.response is not None
        assert "Sec-WebSocket-Protocol" not in ws.response.headers
        assert json.loads(ws.recv(timeout=5)) == {"offered": [], "chosen": None}


def test_close_code_and_reason_reach_the_client(served: ServedApp) -> None:
    seen.pop("send_after_close", None)
    with connect(served.url("/goodbye"), **CLIENT) as ws:
        assert ws.recv(timeout=5) == "bye"
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
    assert info.value.rcvd is not None
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4001, "custom reason")
    _wait_for(lambda: "send_after_close" in seen)
    assert seen["send_after_close"] in ("RuntimeError", "WebSocketDisconnected")


@pytest.mark.parametrize("path", ["/policy", "/close-first", "/no-such-route", "/items/not-an-int"])
def test_close_before_accept_is_http_403(served: ServedApp, path: str) -> None:
    with pytest.raises(InvalidStatus) as info:
        connect(served.url(path), **CLIENT)
    assert info.value.response.status_code == 403


def test_denial_response(served: ServedApp) -> None:
    with pytest.raises(InvalidStatus) as info:
        connect(served.url("/deny"), **CLIENT)
    response = info.value.response
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.body == b"no entry"


def test_path_and_query_params(served: ServedApp) -> None:
    with connect(served.url("/items/42?q=hello%20world"), **CLIENT) as ws:
        assert json.loads(ws.recv(timeout=5)) == {"item_id": 42, "q": "hello world"}
    with connect(served.url("/items/7"), **CLIENT) as ws:
        assert json.loads(ws.recv(timeout=5)) == {"item_id": 7, "q": None}


def test_dependencies(served: ServedApp) -> None:
    with connect(served.url("/private?token=secret"), **CLIENT) as ws:
        assert json.loads(ws.recv(timeout=5)) == {"name": "alice", "token": "secret"}
    for path in ("/private?token=wrong", "/private"):  # refused by the dependency / missing query param
        with pytest.raises(InvalidStatus) as info:
            connect(served.url(path), **CLIENT)
        assert info.value.response.status_code == 403


def test_exception_after_accept_closes_1011(served: ServedApp, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="fasterapi.error"):
        with connect(served.url("/boom-after-accept"), **CLIENT) as ws:
            assert ws.recv(timeout=5) == "about to fail"
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1011
        _wait_for(lambda: any(r.exc_info and "boom after accept" in str(r.exc_info[1]) for r in caplog.records))
    record = next(r for r in caplog.records if r.exc_info and "boom after accept" in str(r.exc_info[1]))
    assert record.name == "fasterapi.error"


def test_exception_before_accept_is_http_500(served: ServedApp, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="fasterapi.error"):
        with pytest.raises(InvalidStatus) as info:
            connect(served.url("/boom-before-accept"), **CLIENT)
        assert info.value.response.status_code == 500
        _wait_for(lambda: any(r.exc_info and "boom before accept" in str(r.exc_info[1]) for r in caplog.records))


def test_scope(served: ServedApp) -> None:
    with connect(served.url("/scope?a=1&b=%20"), subprotocols=[Subprotocol("p1"), Subprotocol("p2")],
                 additional_headers={"X-Custom": "Value"}, **CLIENT) as ws:
        local = ws.local_address
        ws.send("go")
        scope = json.loads(ws.recv(timeout=5))
    assert scope["type"] == "websocket"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["scheme"] == "ws"
    assert (scope["path"], scope["raw_path"], scope["query_string"]) == ("/scope", "/scope", "a=1&b=%20")
    assert scope["root_path"] == ""
    assert scope["client"] == [local[0], local[1]]
    assert scope["server"] == ["127.0.0.1", served.port]
    headers = dict(scope["headers"])
    assert all(name == name.lower() for name in headers)
    assert headers["x-custom"] == "Value"
    assert headers["upgrade"].lower() == "websocket"
    assert scope["subprotocols"] == ["p1", "p2"]
    assert scope["extensions"] == ["websocket.http.response"]
    assert scope["state"] == {"lifespan": "value"}
    with connect(served.url("/scope"), **CLIENT) as ws:  # each connection gets a fresh copy of the state
        ws.send("go")
        assert json.loads(ws.recv(timeout=5))["state"] == {"lifespan": "value"}


def test_send_after_client_disconnect(served: ServedApp) -> None:
    seen.pop("disconnect_done", None)
    done = seen.setdefault("disconnect_done", threading.Event())
    with connect(served.url("/send-after-disconnect"), **CLIENT) as ws:
        ws.close(code=4002, reason="leaving")
    assert done.wait(5)
    assert seen["client_close"] == (4002, "leaving")
    assert seen["send_after_disconnect"] == 1006


def test_large_messages_both_ways(served: ServedApp) -> None:
    """64 messages of 300-700 KiB each way, sent while the echoes are read concurrently."""
    sizes = [300 * 1024 + i * 6151 for i in range(64)]

    async def main() -> list[bytes]:
        async with aconnect(served.url("/big-echo"), max_size=None, **CLIENT) as ws:
            async def producer() -> None:
                for i, n in enumerate(sizes):
                    await ws.send(bytes([i % 256]) * n)

            task = asyncio.create_task(producer())
            got = [await asyncio.wait_for(ws.recv(), 10) for _ in sizes]
            await task
            return got  # type: ignore[return-value]

    got = asyncio.run(main())
    assert [len(m) for m in got] == sizes
    assert all(m == bytes([i % 256]) * len(m) for i, m in enumerate(got))


def test_send_waits_for_a_slow_client(served: ServedApp) -> None:
    """The app's send() waits while the client does not read: it is held at a bounded backlog,
    then every message arrives once the client reads."""
    count, size = 96, 512 * 1024

    async def main() -> tuple[int, list[bytes]]:
        async with aconnect(served.url(f"/big-source?count={count}&size={size}"), max_size=None,
                            max_queue=1, **CLIENT) as ws:
            await asyncio.sleep(0.8)  # not reading
            stalled_at = len(big_sent)
            got = []
            with pytest.raises(ConnectionClosed):
                while True:
                    got.append(await asyncio.wait_for(ws.recv(), 10))
            return stalled_at, got  # type: ignore[return-value]

    stalled_at, got = asyncio.run(main())
    assert stalled_at < count - 20, stalled_at  # held back: ~ socket buffers + SEND_HIGH, not 48 MiB
    assert len(got) == count
    assert all(len(m) == size and m == bytes([i % 256]) * size for i, m in enumerate(got))
    assert SEND_HIGH == 256 * 1024


def test_receive_is_bounded_for_a_slow_app(served: ServedApp) -> None:
    """The client floods while the app is not receiving: the client's sends stall (the engine stops
    reading past 16 queued messages), then every message arrives in order."""
    count, size = 96, 512 * 1024
    progress: list[int] = []

    async def main() -> dict[str, int]:
        async with aconnect(served.url("/slow-sink"), max_size=None, write_limit=64 * 1024, **CLIENT) as ws:
            await ws.send("start")

            async def producer() -> None:
                for i in range(count):
                    await ws.send(bytes([i % 256]) * size)
                    progress.append(i)
                await ws.send(b"end")

            task = asyncio.create_task(producer())
            await asyncio.sleep(0.5)  # the app sleeps 0.8 s before it reads
            progress.append(-1)  # the mark
            result = json.loads(await asyncio.wait_for(ws.recv(), 20))
            await task
            return result  # type: ignore[no-any-return]

    result = asyncio.run(main())
    assert result == {"count": count, "total": count * size}
    stalled_at = progress.index(-1)
    assert stalled_at < count - 20, stalled_at


# ---- raw ASGI apps: the protocol edges Starlette's WebSocket guards against ---------------------

raw_seen: dict[str, Any] = {}


async def raw_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "websocket"
    path = scope["path"]
    assert (await receive())["type"] == "websocket.connect"
    if path == "/no-answer":
        return  # neither accept nor close
    if path == "/denial-chunks":
        await send({"type": "websocket.http.response.start", "status": 418,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "websocket.http.response.body", "body": b"I'm ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"a teapot"})
        return
    await send({"type": "websocket.accept", "subprotocol": None, "headers": []})
    if path == "/send-after-close":
        await send({"type": "websocket.close", "code": 1000})
        message = await receive()
        raw_seen["after_close_receive"] = message
        try:
            await send({"type": "websocket.send", "text": "nope"})
        except RuntimeError as exc:
            raw_seen["send_after_close"] = str(exc)
    elif path == "/return-open":
        await send({"type": "websocket.send", "bytes": b"then nothing"})
    elif path == "/client-gone":
        message = await receive()
        raw_seen["disconnect"] = message
        try:
            await send({"type": "websocket.send", "text": "x"})
        except OSError as exc:
            raw_seen["send_error"] = type(exc).__name__
        await send({"type": "websocket.close", "code": 1000})  # after the client's close: a no-op
        raw_seen["closed_again"] = True
    raw_seen.setdefault("done", threading.Event()).set()


@pytest.fixture(scope="module")
def served_raw() -> Iterator[ServedApp]:
    s = ServedApp(raw_app)
    yield s
    s.stop()


def test_raw_return_without_handshake_is_403(served_raw: ServedApp) -> None:
    with pytest.raises(InvalidStatus) as info:
        connect(served_raw.url("/no-answer"), **CLIENT)
    assert info.value.response.status_code == 403


def test_raw_denial_response_in_chunks(served_raw: ServedApp) -> None:
    with pytest.raises(InvalidStatus) as info:
        connect(served_raw.url("/denial-chunks"), **CLIENT)
    assert info.value.response.status_code == 418
    assert info.value.response.body == b"I'm a teapot"


def test_raw_send_after_close_raises(served_raw: ServedApp) -> None:
    raw_seen.clear()
    done = raw_seen.setdefault("done", threading.Event())
    with connect(served_raw.url("/send-after-close"), **CLIENT) as ws:
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1000
    assert done.wait(5)
    assert raw_seen["after_close_receive"] == {"type": "websocket.disconnect", "code": 1000, "reason": ""}
    assert "after sending 'websocket.close'" in raw_seen["send_after_close"]


def test_raw_return_while_open_closes_1000(served_raw: ServedApp) -> None:
    with connect(served_raw.url("/return-open"), **CLIENT) as ws:
        assert ws.recv(timeout=5) == b"then nothing"
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1000


def test_raw_client_gone(served_raw: ServedApp) -> None:
    raw_seen.clear()
    done = raw_seen.setdefault("done", threading.Event())
    with connect(served_raw.url("/client-gone"), **CLIENT) as ws:
        ws.close(code=1001, reason="navigating away")
    assert done.wait(5)
    assert raw_seen["disconnect"] == {"type": "websocket.disconnect", "code": 1001, "reason": "navigating away"}
    assert raw_seen["send_error"] == "ClientDisconnected"
    assert raw_seen["closed_again"] is True


def test_custom_scope_maker() -> None:
    """make_scope= gives the scope's base (here a root path); subprotocols and extensions are added."""

    def make_scope(req: Any) -> dict[str, Any]:
        return {"type": "websocket", "asgi": {"version": "3.0"}, "scheme": "ws", "root_path": "/api",
                "path": "/api" + req.path, "raw_path": req.raw_path, "query_string": req.query_string,
                "headers": req.headers, "client": req.client, "server": None}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept", "subprotocol": scope["subprotocols"][0]})
        await send({"type": "websocket.send", "text": json.dumps(
            [scope["root_path"], scope["path"], sorted(scope["extensions"])])})
        await send({"type": "websocket.close", "code": 1000})

    served = ServedApp(app, make_scope=make_scope)
    try:
        with connect(served.url("/x"), subprotocols=[Subprotocol("only")], **CLIENT) as ws:
            assert ws.subprotocol == "only"
            assert json.loads(ws.recv(timeout=5)) == ["/api", "/api/x", ["websocket.http.response"]]
    finally:
        served.stop()


def test_server_shutdown_closes_1001() -> None:
    """A server shutdown closes open WebSockets with 1001 (going away); the app sees the disconnect."""
    seen.pop("echo_done", None)
    done = seen.setdefault("echo_done", threading.Event())
    served = ServedApp(make_app())
    try:
        with connect(served.url("/echo"), **CLIENT) as ws:
            ws.send("hi")
            assert ws.recv(timeout=5) == "echo: hi"
            served.stop()
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=5)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1001
    finally:
        served.stop()
    assert done.wait(5)
    assert seen["echo_disconnect"] == (1001, "")


def _wait_for(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)
