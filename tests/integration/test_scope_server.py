"""scope["server"] is the address the request's connection was accepted on, as uvicorn gives it
(the socket's own address: on a wildcard listener, the address the client reached), for the
app's ASGI routes, the exception handlers of compiled routes and WebSockets; compared with
uvicorn serving the same app (tests/data/scope_server_app.py) over real sockets."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.sync.client import connect

from .conftest import Server, start_server
from .test_asgi_framing import start_uvicorn


def seen(server: Server) -> dict[str, object]:
    with httpx.Client(base_url=server.url) as client:
        asgi = client.get("/asgi").json()
        compiled = client.get("/compiled").json()
    assert compiled["handler"] is True  # the app's handler for the compiled route's exception
    with connect(f"ws://127.0.0.1:{server.port}/ws", open_timeout=10) as ws:
        websocket = json.loads(ws.recv(timeout=10))
    return {"asgi": asgi["server"], "compiled": compiled["server"], "websocket": websocket["server"]}


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_scope_server_is_the_connections_address_as_under_uvicorn(host: str) -> None:
    ours = start_server("scope_server_app:app", "--host", host)
    theirs = start_uvicorn("scope_server_app:app")  # (127.0.0.1: its port differs; compared below)
    try:
        got = seen(ours)
        want = seen(theirs)
    finally:
        ours.stop()
        theirs.stop()
    expected = ["127.0.0.1", ours.port]  # (the client reached 127.0.0.1, also on 0.0.0.0)
    assert got == {"asgi": expected, "compiled": expected, "websocket": expected}
    assert want == {k: ["127.0.0.1", theirs.port] for k in got}


def test_scope_server_under_the_supervisor() -> None:
    """Each worker of `--workers 2` gives its requests the address too."""
    s = start_server("scope_server_app:app", "--workers", "2")
    try:
        with httpx.Client(base_url=s.url) as client:
            for _ in range(6):
                assert client.get("/asgi").json() == {"server": ["127.0.0.1", s.port]}
                assert client.get("/compiled").json()["server"] == ["127.0.0.1", s.port]
    finally:
        s.stop()
