"""`TestClient.websocket_connect()`: a websocket session driven in-process, as Starlette's is.

The handshake request goes through httpx (base URL, default headers, cookies), then the app's
websocket route runs as a task on the client's private asyncio loop with two in-memory queues as
its transport (ASGI websocket messages, the same `WebSocket` class the socket server uses). The
loop runs while the test waits on the session (receive, enter, exit), so several sessions of one
client progress together (a broadcast between two connections works).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import unquote, urljoin

import httpx

from .websockets import WebSocketData, WebSocketDisconnect

__all__ = ["WebSocketTestSession", "websocket_connect"]

_DEFAULT_PORTS = {"ws": 80, "wss": 443, "http": 80, "https": 443}


class _Upgrade(Exception):
    def __init__(self, session: WebSocketTestSession) -> None:
        self.session = session


class WebSocketDenialResponse(httpx.Response, WebSocketDisconnect):
    """The app refused the handshake with an HTTP response (`websocket.send_denial_response`)."""


def websocket_connect(client: Any, url: str, subprotocols: Any = None, **kwargs: Any) -> WebSocketTestSession:
    url = urljoin("ws://testserver", url)
    headers = dict(kwargs.get("headers") or {})
    lowered = {k.lower() for k in headers}
    for name, value in (("connection", "upgrade"), ("sec-websocket-key", "testserver=="),
                        ("sec-websocket-version", "13")):
        if name not in lowered:
            headers[name] = value
    if subprotocols is not None and "sec-websocket-protocol" not in lowered:
        headers["sec-websocket-protocol"] = ", ".join(subprotocols)
    kwargs["headers"] = headers
    try:
        httpx.Client.request(client, "GET", url, **kwargs)
    except _Upgrade as exc:
        return exc.session
    raise RuntimeError("Expected WebSocket upgrade")  # pragma: no cover


def upgrade(client: Any, request: httpx.Request) -> _Upgrade:
    """What the client's transport raises for a ws:// request: the session, not a response."""
    url = request.url
    raw_path = url.raw_path.split(b"?", 1)[0] or b"/"
    headers = [(b"host", url.netloc)] if b"host" not in {k.lower() for k, _ in request.headers.raw} else []
    headers += [(k.lower(), v) for k, v in request.headers.raw]
    data = WebSocketData(
        path=unquote(raw_path.decode("latin-1")), raw_path=raw_path, query_string=url.query,
        headers=headers, client=client._client_addr,
        server=(url.host, url.port or _DEFAULT_PORTS.get(url.scheme, 80)), scheme=url.scheme,
        root_path=client.root_path,
    )
    return _Upgrade(WebSocketTestSession(client, data))


class WebSocketTestSession:
    def __init__(self, client: Any, data: WebSocketData) -> None:
        self._client = client
        self._data = data
        self._to_app: asyncio.Queue[dict[str, Any]] | None = None
        self._from_app: asyncio.Queue[dict[str, Any]] | None = None
        self._task: asyncio.Task[None] | None = None
        self.accepted_subprotocol: str | None = None
        self.extra_headers: list[tuple[bytes, bytes]] | None = None
        self.scope = data

    # ------------------------------------------------------------------------------ lifecycle

    def __enter__(self) -> WebSocketTestSession:
        self._client._portal(self._start())
        self.send({"type": "websocket.connect"})
        message = self.receive()
        if message["type"] != "websocket.accept":
            try:
                self._raise_on_close(message)
            finally:
                self._client._portal(self._finish())
        self.accepted_subprotocol = message.get("subprotocol")
        self.extra_headers = message.get("headers")
        return self

    def __exit__(self, *exc_info: Any) -> None:
        try:
            self.close(1000)
        finally:
            self._client._portal(self._finish())

    async def _start(self) -> None:
        from .websocket_routing import serve_websocket

        self._to_app = asyncio.Queue()
        self._from_app = asyncio.Queue()
        app = self._client.app
        self._task = asyncio.get_running_loop().create_task(
            serve_websocket(app, self._data, self._to_app.get, self._app_send)
        )

    async def _app_send(self, message: dict[str, Any]) -> None:
        assert self._from_app is not None
        self._from_app.put_nowait(message)

    async def _finish(self) -> None:
        """Let the app react to what it was sent, then stop it; raise what it raised."""
        task = self._task
        assert task is not None
        for _ in range(20):
            if task.done():
                break
            await asyncio.sleep(0)
        if not task.done():
            await asyncio.wait({task}, timeout=0.2)
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]

    async def _next(self) -> dict[str, Any]:
        assert self._from_app is not None and self._task is not None
        if self._from_app.empty() and not self._task.done():
            getter = asyncio.ensure_future(self._from_app.get())
            await asyncio.wait({getter, self._task}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                return getter.result()
            getter.cancel()
        if not self._from_app.empty():
            return self._from_app.get_nowait()
        task = self._task
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
        # The app returned without closing: what a server does then (close 1000).
        return {"type": "websocket.close", "code": 1000, "reason": ""}

    async def _put(self, message: dict[str, Any]) -> None:
        assert self._to_app is not None
        self._to_app.put_nowait(message)
        for _ in range(3):  # let the app take it now, as a concurrent app would
            await asyncio.sleep(0)

    # ---------------------------------------------------------------------------- the test API

    def _raise_on_close(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "websocket.close":
            raise WebSocketDisconnect(code=message.get("code", 1000), reason=message.get("reason", ""))
        if kind == "websocket.http.response.start":
            status, headers = message["status"], message.get("headers", [])
            body = []
            while True:
                part = self.receive()
                body.append(part.get("body", b""))
                if not part.get("more_body", False):
                    break
            raise WebSocketDenialResponse(status_code=status, headers=headers, content=b"".join(body))

    def send(self, message: dict[str, Any]) -> None:
        self._client._portal(self._put(message))

    def send_text(self, data: str) -> None:
        self.send({"type": "websocket.receive", "text": data})

    def send_bytes(self, data: bytes) -> None:
        self.send({"type": "websocket.receive", "bytes": data})

    def send_json(self, data: Any, mode: str = "text") -> None:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if mode == "text":
            self.send({"type": "websocket.receive", "text": text})
        else:
            self.send({"type": "websocket.receive", "bytes": text.encode("utf-8")})

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.send({"type": "websocket.disconnect", "code": code, "reason": reason})

    def receive(self) -> dict[str, Any]:
        return self._client._portal(self._next())

    def receive_text(self) -> str:
        message = self.receive()
        self._raise_on_close(message)
        return message["text"]

    def receive_bytes(self) -> bytes:
        message = self.receive()
        self._raise_on_close(message)
        return message["bytes"]

    def receive_json(self, mode: str = "text") -> Any:
        message = self.receive()
        self._raise_on_close(message)
        text = message["text"] if mode == "text" else message["bytes"].decode("utf-8")
        return json.loads(text)
