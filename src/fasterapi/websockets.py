"""`WebSocket`: Starlette's WebSocket API over any transport that speaks ASGI websocket messages.

The class only sees two callables, `receive() -> message` and `send(message)`, with the ASGI
websocket message types (websocket.connect/receive/disconnect in, websocket.accept/send/close out).
Three transports provide them: the engine's sockets (`fasterapi._ws_server`: frames are parsed and
written by the C++ core, whole messages reach Python), the TestClient (in-memory queues) and an
ASGI server (`app(scope, receive, send)`).
"""

from __future__ import annotations

import enum
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import unquote

from .exceptions import StarletteBase
from .requests import HTTPConnection

__all__ = ["WebSocket", "WebSocketClose", "WebSocketDisconnect", "WebSocketState"]

Message = dict[str, Any]


class WebSocketState(enum.Enum):
    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2
    RESPONSE = 3


class WebSocketDisconnect(StarletteBase):
    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, reason={self.reason!r})"


class WebSocketData:
    """The handshake request as the connection classes read it (the `_core.RequestData` fields)."""

    __slots__ = (
        "method", "path", "raw_path", "query_string", "headers", "client", "server", "http_version",
        "scheme", "path_params", "root_path", "body", "subprotocols", "extra",
    )

    def __init__(
        self,
        *,
        path: str,
        raw_path: bytes,
        query_string: bytes,
        headers: list[tuple[bytes, bytes]],
        client: tuple[str, int] | None,
        server: tuple[str, int | None] | None,
        scheme: str = "ws",
        http_version: str = "1.1",
        root_path: str = "",
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.method = "GET"
        self.path = path
        self.raw_path = raw_path
        self.query_string = query_string
        self.headers = headers
        self.client = client
        self.server = server
        self.scheme = scheme
        self.http_version = http_version
        self.path_params: dict[str, Any] = {}
        self.root_path = root_path
        self.body = b""
        self.extra = extra or {}
        protocols = b",".join(v for k, v in headers if k == b"sec-websocket-protocol")
        self.subprotocols = [p.strip() for p in protocols.decode("latin-1").split(",") if p.strip()]

    @classmethod
    def from_request(cls, req: Any) -> WebSocketData:
        """From the engine's `_core.RequestData` of an upgrade request."""
        return cls(
            path=req.path, raw_path=req.raw_path, query_string=req.query_string, headers=req.headers,
            client=req.client, server=req.server, scheme="wss" if req.scheme == "https" else "ws",
            http_version=req.http_version,
        )

    @classmethod
    def from_scope(cls, scope: dict[str, Any]) -> WebSocketData:
        """From an ASGI websocket scope."""
        path = scope.get("path", "/")
        raw_path = scope.get("raw_path") or path.encode("utf-8")
        headers = [(bytes(k).lower(), bytes(v)) for k, v in scope.get("headers") or []]
        client = scope.get("client")
        server = scope.get("server")
        extra = {k: v for k, v in scope.items() if k in ("state", "extensions", "subprotocols", "app")}
        data = cls(
            path=unquote(path) if "%" in path else path, raw_path=raw_path,
            query_string=scope.get("query_string") or b"", headers=headers,
            client=tuple(client) if client else None, server=tuple(server) if server else None,
            scheme=scope.get("scheme", "ws"), http_version=scope.get("http_version", "1.1"),
            root_path=scope.get("root_path", ""), extra=extra,
        )
        if "subprotocols" in scope:
            data.subprotocols = list(scope["subprotocols"])
        return data


class WebSocket(HTTPConnection):
    """One WebSocket connection, with Starlette's API and state machine."""

    def __init__(
        self,
        scope: WebSocketData | dict[str, Any],
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
        *,
        app: Any = None,
    ) -> None:
        data = WebSocketData.from_scope(scope) if isinstance(scope, dict) else scope
        super().__init__(data, data.path_params, app if app is not None else data.extra.get("app"))
        self._receive = receive
        self._send = send
        self.client_state = WebSocketState.CONNECTING
        self.application_state = WebSocketState.CONNECTING

    @property
    def scope(self) -> dict[str, Any]:
        if self._scope is None:
            data = self._data
            self._scope = {
                "type": "websocket",
                "asgi": {"version": "3.0", "spec_version": "2.4"},
                "http_version": data.http_version,
                "scheme": data.scheme,
                "path": data.path,
                "raw_path": data.raw_path,
                "query_string": data.query_string,
                "root_path": data.root_path or getattr(self._app, "root_path", "") or "",
                "headers": data.headers,
                "client": data.client,
                "server": data.server,
                "subprotocols": data.subprotocols,
                "path_params": self._path_params,
                "app": self._app,
                "state": self.state._state,
            }
        return self._scope

    # ------------------------------------------------------------------------- the ASGI layer

    async def receive(self) -> Message:
        """Receive an ASGI websocket message, checking the state transitions."""
        if self.client_state == WebSocketState.CONNECTING:
            message = await self._receive()
            if message["type"] != "websocket.connect":
                raise RuntimeError(f'Expected ASGI message "websocket.connect", but got {message["type"]!r}')
            self.client_state = WebSocketState.CONNECTED
            return message
        if self.client_state == WebSocketState.CONNECTED:
            message = await self._receive()
            kind = message["type"]
            if kind not in {"websocket.receive", "websocket.disconnect"}:
                raise RuntimeError(
                    f'Expected ASGI message "websocket.receive" or "websocket.disconnect", but got {kind!r}'
                )
            if kind == "websocket.disconnect":
                self.client_state = WebSocketState.DISCONNECTED
            return message
        raise RuntimeError('Cannot call "receive" once a disconnect message has been received.')

    async def send(self, message: Message) -> None:
        """Send an ASGI websocket message, checking the state transitions."""
        kind = message["type"]
        if self.application_state == WebSocketState.CONNECTING:
            if kind not in {"websocket.accept", "websocket.close", "websocket.http.response.start"}:
                raise RuntimeError(
                    'Expected ASGI message "websocket.accept", "websocket.close" or '
                    f'"websocket.http.response.start", but got {kind!r}'
                )
            if kind == "websocket.close":
                self.application_state = WebSocketState.DISCONNECTED
            elif kind == "websocket.http.response.start":
                self.application_state = WebSocketState.RESPONSE
            else:
                self.application_state = WebSocketState.CONNECTED
            await self._send(message)
        elif self.application_state == WebSocketState.CONNECTED:
            if kind not in {"websocket.send", "websocket.close"}:
                raise RuntimeError(f'Expected ASGI message "websocket.send" or "websocket.close", but got {kind!r}')
            if kind == "websocket.close":
                self.application_state = WebSocketState.DISCONNECTED
            try:
                await self._send(message)
            except OSError:
                self.application_state = WebSocketState.DISCONNECTED
                raise WebSocketDisconnect(code=1006) from None
        elif self.application_state == WebSocketState.RESPONSE:
            if kind != "websocket.http.response.body":
                raise RuntimeError(f'Expected ASGI message "websocket.http.response.body", but got {kind!r}')
            if not message.get("more_body", False):
                self.application_state = WebSocketState.DISCONNECTED
            await self._send(message)
        else:
            raise RuntimeError('Cannot call "send" once a close message has been sent.')

    # --------------------------------------------------------------------------- the user API

    async def accept(
        self, subprotocol: str | None = None, headers: Iterable[tuple[bytes, bytes]] | None = None
    ) -> None:
        headers = list(headers or [])
        if self.client_state == WebSocketState.CONNECTING:
            await self.receive()  # the "websocket.connect" message first
        await self.send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": headers})

    def _raise_on_disconnect(self, message: Message) -> None:
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))

    def _check_connected(self) -> None:
        if self.application_state != WebSocketState.CONNECTED:
            raise RuntimeError('WebSocket is not connected. Need to call "accept" first.')

    async def receive_text(self) -> str:
        self._check_connected()
        message = await self.receive()
        self._raise_on_disconnect(message)
        return message["text"]

    async def receive_bytes(self) -> bytes:
        self._check_connected()
        message = await self.receive()
        self._raise_on_disconnect(message)
        return message["bytes"]

    async def receive_json(self, mode: str = "text") -> Any:
        if mode not in {"text", "binary"}:
            raise RuntimeError('The "mode" argument should be "text" or "binary".')
        self._check_connected()
        message = await self.receive()
        self._raise_on_disconnect(message)
        if mode == "text":
            text = message["text"]
        else:
            text = message["bytes"].decode("utf-8")
        return json.loads(text)

    async def iter_text(self) -> AsyncIterator[str]:
        try:
            while True:
                yield await self.receive_text()
        except WebSocketDisconnect:
            pass

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        try:
            while True:
                yield await self.receive_bytes()
        except WebSocketDisconnect:
            pass

    async def iter_json(self) -> AsyncIterator[Any]:
        try:
            while True:
                yield await self.receive_json()
        except WebSocketDisconnect:
            pass

    async def send_text(self, data: str) -> None:
        await self.send({"type": "websocket.send", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        await self.send({"type": "websocket.send", "bytes": data})

    async def send_json(self, data: Any, mode: str = "text") -> None:
        if mode not in {"text", "binary"}:
            raise RuntimeError('The "mode" argument should be "text" or "binary".')
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if mode == "text":
            await self.send({"type": "websocket.send", "text": text})
        else:
            await self.send({"type": "websocket.send", "bytes": text.encode("utf-8")})

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        await self.send({"type": "websocket.close", "code": code, "reason": reason or ""})

    async def send_denial_response(self, response: Any) -> None:
        """Refuse the handshake with an HTTP response (instead of the plain 403 of close())."""
        if self.application_state != WebSocketState.CONNECTING:
            raise RuntimeError("The server doesn't support the Websocket Denial Response extension.")
        if response.needs_collect:
            await response.collect()
        await self.send(
            {"type": "websocket.http.response.start", "status": response.status_code, "headers": response.raw_headers}
        )
        await self.send({"type": "websocket.http.response.body", "body": response.body or b""})


class WebSocketClose:
    """An ASGI-style app that refuses a websocket (Starlette's WebSocketClose)."""

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "websocket.close", "code": self.code, "reason": self.reason})
