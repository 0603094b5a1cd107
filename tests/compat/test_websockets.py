"""WebSockets the FastAPI way (FastAPI docs: "WebSockets", "Testing WebSockets"), through TestClient.

The TestClient drives the app's websocket route in-process with Starlette's semantics; the real
socket path (handshake, frames) is covered by tests/integration/test_websockets.py.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import pytest

from fasterapi import (
    APIRouter,
    Cookie,
    Depends,
    FastAPI,
    Header,
    Query,
    WebSocket,
    WebSocketDisconnect,
    WebSocketException,
    status,
)
from fasterapi.testclient import TestClient

app = FastAPI()


@app.get("/")
def home():
    return {"page": "home"}


@app.websocket("/ws")
async def echo(websocket: WebSocket):
    await websocket.accept()
    while True:
        data = await websocket.receive_text()
        await websocket.send_text(f"Message text was: {data}")


async def get_cookie_or_token(
    websocket: WebSocket,
    session: Annotated[str | None, Cookie()] = None,
    token: Annotated[str | None, Query()] = None,
):
    if session is None and token is None:
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)
    return session or token


@app.websocket("/items/{item_id}/ws")
async def items_ws(
    *,
    websocket: WebSocket,
    item_id: str,
    q: int | None = None,
    cookie_or_token: Annotated[str, Depends(get_cookie_or_token)],
):
    await websocket.accept()
    while True:
        data = await websocket.receive_text()
        await websocket.send_text(f"Session cookie or query token value is: {cookie_or_token}")
        if q is not None:
            await websocket.send_text(f"Query parameter q is: {q}")
        await websocket.send_text(f"Message text was: {data}, for item ID: {item_id}")


@app.websocket("/typed/{n}")
async def typed(websocket: WebSocket, n: int, x_client: Annotated[str, Header()] = "none"):
    await websocket.accept()
    await websocket.send_json({"n": n, "type": type(n).__name__, "header": x_client,
                               "path": websocket.url.path, "query": dict(websocket.query_params),
                               "scheme": websocket.url.scheme})
    await websocket.close()


@app.websocket("/json")
async def json_echo(websocket: WebSocket):
    await websocket.accept()
    async for message in websocket.iter_json():
        await websocket.send_json({"got": message})


@app.websocket("/bytes")
async def bytes_echo(websocket: WebSocket):
    await websocket.accept()
    data = await websocket.receive_bytes()
    await websocket.send_bytes(data[::-1])
    await websocket.close(code=status.WS_1001_GOING_AWAY, reason="bye")


@app.websocket("/reject")
async def reject(websocket: WebSocket):
    await websocket.close(code=status.WS_1008_POLICY_VIOLATION)


@app.websocket("/subprotocol")
async def subprotocol(websocket: WebSocket):
    offered = websocket.scope["subprotocols"]
    await websocket.accept(subprotocol=offered[-1] if offered else None, headers=[(b"x-extra", b"1")])
    await websocket.send_text(",".join(offered))
    await websocket.close()


disconnects: list[int] = []


@app.websocket("/track")
async def track(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect as exc:
        disconnects.append(exc.code)


@app.websocket("/fails")
async def fails(websocket: WebSocket):
    await websocket.accept()
    raise RuntimeError("boom")


class Room:
    def __init__(self) -> None:
        self.members: list[WebSocket] = []

    async def broadcast(self, text: str) -> None:
        for member in self.members:
            await member.send_text(text)


room = Room()


@app.websocket("/chat/{name}")
async def chat(websocket: WebSocket, name: str):
    # A member before the handshake completes: the client may send as soon as it sees the accept,
    # and another member's broadcast may run before this task resumes after accept() (a real
    # server's send suspends there; under uvicorn the same order is possible).
    room.members.append(websocket)
    await websocket.accept()
    try:
        while True:
            text = await websocket.receive_text()
            await room.broadcast(f"{name}: {text}")
    except WebSocketDisconnect:
        room.members.remove(websocket)
        await room.broadcast(f"{name} left")


router = APIRouter(prefix="/r", dependencies=[Depends(get_cookie_or_token)])


@router.websocket("/echo")
async def router_echo(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_text(await websocket.receive_text())
    await websocket.close()


app.include_router(router)


async def manual(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_text(websocket.path_params["slug"])
    await websocket.close()


app.add_api_websocket_route("/manual/{slug}", manual)


client = TestClient(app)


def test_echo_and_disconnect_on_exit():
    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect("/ws") as websocket:
            websocket.send_text("one")
            assert websocket.receive_text() == "Message text was: one"
            websocket.send_text("two")
            assert websocket.receive_text() == "Message text was: two"


def test_cookie_query_and_depends():
    with pytest.raises(WebSocketDisconnect):
        with TestClient(app, cookies={"session": "fakesession"}).websocket_connect("/items/foo/ws?q=3") as ws:
            ws.send_text("hi")
            assert ws.receive_text() == "Session cookie or query token value is: fakesession"
            assert ws.receive_text() == "Query parameter q is: 3"
            assert ws.receive_text() == "Message text was: hi, for item ID: foo"


def test_websocket_exception_closes_before_accept():
    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect("/items/foo/ws"):
            pytest.fail("the handshake should be refused")
    assert info.value.code == status.WS_1008_POLICY_VIOLATION


def test_validation_error_closes_1008():
    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect("/items/foo/ws?q=bar&token=t"):
            pytest.fail("the handshake should be refused")
    assert info.value.code == 1008


def test_path_params_converted_header_and_url():
    with client.websocket_connect("/typed/7?a=b", headers={"x-client": "pytest"}) as ws:
        data = ws.receive_json()
        assert data == {"n": 7, "type": "int", "header": "pytest", "path": "/typed/7", "query": {"a": "b"},
                        "scheme": "ws"}
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert info.value.code == 1000


def test_json_roundtrip_and_iter_json():
    with client.websocket_connect("/json") as ws:
        ws.send_json({"a": [1, 2]})
        assert ws.receive_json() == {"got": {"a": [1, 2]}}
        ws.send_json("é")
        assert ws.receive_json() == {"got": "é"}


def test_bytes_and_close_code_reason():
    with client.websocket_connect("/bytes") as ws:
        ws.send_bytes(b"abc")
        assert ws.receive_bytes() == b"cba"
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_bytes()
        assert (info.value.code, info.value.reason) == (1001, "bye")


def test_reject_before_accept():
    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect("/reject"):
            pass
    assert info.value.code == 1008


def test_missing_route_is_refused():
    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect("/nowhere"):
            pass
    assert info.value.code == 1000


def test_subprotocols_and_accept_headers():
    with client.websocket_connect("/subprotocol", subprotocols=["chat", "superchat"]) as ws:
        assert ws.accepted_subprotocol == "superchat"
        assert (b"x-extra", b"1") in ws.extra_headers
        assert ws.receive_text() == "chat,superchat"


def test_client_close_code_reaches_the_endpoint():
    disconnects.clear()
    with client.websocket_connect("/track") as ws:
        ws.send_text("x")
        ws.close(code=4001)
    assert disconnects == [4001]


def test_server_exception_is_raised_in_the_test():
    with pytest.raises(RuntimeError, match="boom"):
        with client.websocket_connect("/fails") as ws:
            ws.receive_text()


def test_two_connections_broadcast():
    # Entered, the TestClient runs every session on one event loop (its portal), as a server
    # does; unentered, each websocket_connect gets a loop of its own, and a broadcast from b's
    # handler into a's session would set an anyio event across loops, a wakeup that can be lost
    # (a.receive_text() then waits forever: CI hung here once in ~10 runs).
    with TestClient(app) as shared, shared.websocket_connect("/chat/a") as a, shared.websocket_connect(
        "/chat/b"
    ) as b:
        a.send_text("hello")
        assert a.receive_text() == "a: hello"
        assert b.receive_text() == "a: hello"
        b.close()
        assert a.receive_text() == "b left"


def test_router_prefix_and_dependencies():
    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect("/r/echo"):
            pass
    assert info.value.code == 1008
    with client.websocket_connect("/r/echo?token=t") as ws:
        ws.send_text("routed")
        assert ws.receive_text() == "routed"


def test_add_api_websocket_route():
    with client.websocket_connect("/manual/abc") as ws:
        assert ws.receive_text() == "abc"


def test_http_request_to_websocket_route_is_404_and_not_in_openapi():
    assert client.get("/ws").status_code == 404
    paths = client.get("/openapi.json").json()["paths"]
    assert "/ws" not in paths and "/" in paths


def test_asgi_websocket_scope():
    """The app as an ASGI application serves websocket scopes (ASGI websocket protocol)."""
    scope = {"type": "websocket", "path": "/ws", "raw_path": b"/ws", "query_string": b"", "headers": [],
             "subprotocols": [], "client": ("c", 1), "server": ("s", 80), "scheme": "ws"}
    inbox = [{"type": "websocket.connect"}, {"type": "websocket.receive", "text": "asgi"},
             {"type": "websocket.disconnect", "code": 1000}]
    sent = []

    async def receive():
        return inbox.pop(0)

    async def send(message):
        sent.append(message)

    with pytest.raises(WebSocketDisconnect):
        asyncio.run(app(scope, receive, send))
    assert sent[0]["type"] == "websocket.accept"
    assert sent[1] == {"type": "websocket.send", "text": "Message text was: asgi"}


def test_httpx_is_still_http():
    import starlette.testclient

    # Starlette's client is built on httpx2 (or httpx): its Response class, whichever it is.
    assert isinstance(client.get("/"), starlette.testclient.httpx.Response)
