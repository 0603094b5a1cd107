"""The engine's WebSocket sessions: ASGI websocket messages over a `_core.WebSocketLink`.

The C++ core answers the handshake's protocol errors, parses every frame (masking, fragments,
ping/pong, close, UTF-8, size limit) and reports whole messages; this module turns them into the
`receive()`/`send()` pair that `WebSocket` (fasterapi.websockets) speaks, on the server's asyncio
loop. Flow control both ways: past `_HIGH` queued messages the link stops reading the socket
until the app has taken them; a send that leaves more than `_SEND_HIGH` bytes unsent waits until
the output is flushed.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from typing import Any

from .websocket_routing import serve_websocket
from .websockets import WebSocketData, WebSocketDisconnect

logger = logging.getLogger("fasterapi.error")

_HIGH = 16  # queued messages before the socket is not read any more
_LOW = 4  # ... and read again at this many
_SEND_HIGH = 256 * 1024  # unsent bytes after which send() waits for the output to drain

_sessions: set[asyncio.Task[None]] = set()  # strong refs: the loop keeps weak ones


def websocket_handler(app: Any) -> Any:
    """The engine's `websocket_handler`: called with (RequestData, WebSocketLink) per handshake."""

    def start(req: Any, link: Any) -> None:
        session = _Session(link)
        data = WebSocketData.from_request(req)
        task = asyncio.get_running_loop().create_task(session.run(app, data))
        _sessions.add(task)
        task.add_done_callback(_sessions.discard)

    return start


class _Session:
    __slots__ = ("_link", "_queue", "_waiter", "_drained", "_connect_sent", "_answered", "_closed",
                 "_paused", "_denial")

    def __init__(self, link: Any) -> None:
        self._link = link
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._connect_sent = False
        self._answered = False  # accepted, or refused with an HTTP response
        self._closed = False  # the WebSocket ended (a disconnect is queued)
        self._paused = False
        self._denial: tuple[int, list[Any], list[bytes]] | None = None

    async def run(self, app: Any, data: WebSocketData) -> None:
        try:
            await serve_websocket(app, data, self.receive, self.send)
        except WebSocketDisconnect:
            pass  # the endpoint let the client's disconnect propagate
        except Exception:
            logger.exception("Exception in WebSocket handler")
            if not self._answered:
                self._link.reject(500, [], b"")
            elif not self._closed:
                self._link.close(1011, "")
            return
        if not self._answered:  # returned without accepting or closing: as uvicorn, a 500
            self._link.reject(500, [], b"")
        elif not self._closed:
            self._link.close(1000, "")

    # ---- from the engine (the loop thread, inside the socket loop's poll)

    def _on_message(self, data: str | bytes) -> bool:
        if isinstance(data, str):
            self._queue.append({"type": "websocket.receive", "text": data})
        else:
            self._queue.append({"type": "websocket.receive", "bytes": data})
        self._wake()
        if len(self._queue) >= _HIGH:
            self._paused = True
            return True  # stop reading the socket
        return False

    def _on_close(self, code: int, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.append({"type": "websocket.disconnect", "code": code, "reason": reason})
        self._wake()
        self._on_writable()

    def _on_writable(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ---- the ASGI side

    async def receive(self) -> dict[str, Any]:
        if not self._connect_sent:
            self._connect_sent = True
            return {"type": "websocket.connect"}
        while not self._queue:
            if self._closed or not self._link.open:
                self._closed = True
                return {"type": "websocket.disconnect", "code": 1006, "reason": ""}
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        message = self._queue.popleft()
        if self._paused and len(self._queue) <= _LOW:
            self._paused = False
            self._link.resume_reading()
        return message

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        link = self._link
        if kind == "websocket.accept":
            self._answered = True
            accepted = link.accept(message.get("subprotocol"), message.get("headers") or [],
                                   self._on_message, self._on_close, self._on_writable)
            if not accepted:  # the client went away during the handshake
                self._on_close(1006, "")
        elif kind == "websocket.send":
            data = message.get("bytes")
            if data is None:
                data = message.get("text", "")
            if self._closed:
                raise ConnectionResetError("the WebSocket connection is closed")
            if link.send(data) > _SEND_HIGH and not self._closed:
                self._drained = asyncio.get_running_loop().create_future()
                link.notify_writable()
                await self._drained
        elif kind == "websocket.close":
            if not self._answered:  # a close before accept refuses the handshake: 403
                self._answered = True
                self._closed = True
                link.reject(403, [], b"")
                return
            reason = message.get("reason") or ""
            if not isinstance(reason, str):
                reason = json.dumps(reason, separators=(",", ":"), default=str)
            link.close(int(message.get("code", 1000)), reason)
        elif kind == "websocket.http.response.start":
            self._denial = (int(message["status"]), list(message.get("headers") or []), [])
        elif kind == "websocket.http.response.body":
            assert self._denial is not None
            self._denial[2].append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                status, headers, body = self._denial
                self._answered = True
                self._closed = True
                link.reject(status, headers, b"".join(body))
        else:
            raise RuntimeError(f"unexpected ASGI websocket message {kind!r}")
