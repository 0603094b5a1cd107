"""The ASGI `websocket` scope over the engine's native WebSockets: any ASGI 3 app (a real
`fastapi.FastAPI`, Starlette, ...) served by `_core.WebSocketLink`.

The C++ core checks the handshake, parses every frame (masking, fragments, ping/pong, close,
UTF-8, the size limit) and writes the 101 / the close frames; `make_websocket_handler(app)` is the
engine's `websocket_handler`: per handshake it builds the ASGI scope and runs
`app(scope, receive, send)` in an asyncio task on the loop thread, with the ASGI websocket
semantics of uvicorn:

- `receive()`: `websocket.connect`, then one `websocket.receive` per whole message, then
  `websocket.disconnect` with the close code and reason (1006: the transport ended without a close
  frame; after the app's own close, its code).
- `send()`: `websocket.accept` -> 101; `websocket.close` before accept -> HTTP 403 (the ASGI spec);
  `websocket.http.response.start`/`.body` before accept -> that HTTP response (the Denial Response
  extension, the body collected); after accept, `websocket.send` / `websocket.close`. A message
  sent after the app's close raises RuntimeError; a `websocket.send` after the client went away,
  `ClientDisconnected` (an OSError, which Starlette's `WebSocket.send` turns into
  `WebSocketDisconnect(1006)`), while a `websocket.close` then is a no-op.
- The app raising: before the handshake is answered, HTTP 500; after accept, close 1011; logged to
  "fasterapi.error". An app that returns without answering the handshake is refused with 403; one
  that returns with the WebSocket still open closes it with 1000.

Flow control both ways: past `RECEIVE_HIGH` queued messages `on_message` returns True and the core
stops reading the socket until the app has taken them down to `RECEIVE_LOW`
(`link.resume_reading()`); a send that leaves more than `SEND_HIGH` bytes unsent waits until the
output is flushed (`link.notify_writable()` -> `on_writable`).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

logger = logging.getLogger("fasterapi.error")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

RECEIVE_HIGH = 16  # queued messages past which the socket is not read any more
RECEIVE_LOW = RECEIVE_HIGH // 2  # ... and read again once the app has taken them down to this
SEND_HIGH = 256 * 1024  # unsent bytes after which send() waits for the output to drain

_ASGI = {"version": "3.0", "spec_version": "2.4"}

# Handshake states (the application side of the conversation)
_CONNECTING = 0  # the handshake is not answered yet
_RESPONSE = 1  # a denial response was started (websocket.http.response.start)
_CONNECTED = 2  # accepted
_CLOSED = 3  # the app closed (or refused) it: nothing more may be sent

_sessions: set[asyncio.Task[None]] = set()  # strong refs: the loop keeps only weak ones


class ClientDisconnected(OSError):
    """send() after the client went away (as uvicorn's `uvicorn.protocols.utils.ClientDisconnected`)."""


def _valid_close_code(code: int) -> bool:
    # RFC 6455 7.4: 1004-1006 and 1015 are never sent in a close frame; 1016-2999 are reserved.
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def websocket_scope(req: Any, scope_base: MutableMapping[str, Any] | None = None) -> dict[str, Any]:
    """The ASGI websocket scope of a handshake's `_core.RequestData` (as uvicorn builds it)."""
    headers = list(req.headers)  # names already lower-cased by the engine
    subprotocols: list[str] = []
    for name, value in headers:
        if name == b"sec-websocket-protocol":
            subprotocols.extend(p.strip() for p in value.decode("latin-1").split(",") if p.strip())
    scope: dict[str, Any] = {
        "type": "websocket",
        "asgi": dict(_ASGI),
        "http_version": req.http_version,
        "scheme": "wss" if req.scheme == "https" else "ws",
        "server": req.server,
        "client": req.client,
        "root_path": "",
        "path": req.path,
        "raw_path": req.raw_path,
        "query_string": req.query_string,
        "headers": headers,
        "subprotocols": subprotocols,
        "extensions": {"websocket.http.response": {}},
    }
    if scope_base is not None:
        if scope_base.get("state") is not None:
            scope["state"] = dict(scope_base["state"])  # a shallow copy per connection, as uvicorn
        if scope["server"] is None and scope_base.get("server") is not None:
            scope["server"] = tuple(scope_base["server"])  # the listening (host, port)
    return scope


def make_websocket_handler(
    app: ASGIApp,
    scope_base: MutableMapping[str, Any] | None = None,
    *,
    make_scope: Callable[[Any], Scope] | None = None,
) -> Callable[[Any, Any], None]:
    """The engine's `websocket_handler` serving `app`'s ASGI websocket scope.

    `scope_base` is read at each handshake, so it may be filled in after this call:
    `scope_base["state"]` (the lifespan state) is copied into each scope, and
    `scope_base["server"]`, the listening (host, port), is the scope's "server" when the engine
    gives none (`RequestData.server`: the socket's address; None on an in-memory connection).
    `make_scope(req)`, when given, makes the scope's base instead of `websocket_scope` (e.g. with
    proxy-header and root-path rules); "subprotocols" and "extensions" are added when it leaves
    them out.
    """

    def handler(req: Any, link: Any) -> None:
        if make_scope is None:
            scope: Scope = websocket_scope(req, scope_base)
        else:
            scope = make_scope(req)
            if "subprotocols" not in scope or "extensions" not in scope:
                base = websocket_scope(req)
                scope.setdefault("subprotocols", base["subprotocols"])
                scope.setdefault("extensions", base["extensions"])
        session = _Session(link)
        task = asyncio.get_running_loop().create_task(session.run(app, scope))
        _sessions.add(task)
        task.add_done_callback(_sessions.discard)

    return handler


class _Session:
    """One WebSocket's ASGI conversation over its `_core.WebSocketLink`."""

    __slots__ = (
        "_connect_sent",
        "_denial",
        "_disconnect",
        "_drain_waiters",
        "_link",
        "_paused",
        "_peer_gone",
        "_queue",
        "_state",
        "_waiter",
    )

    def __init__(self, link: Any) -> None:
        self._link = link
        self._state = _CONNECTING
        self._queue: collections.deque[Message] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._connect_sent = False
        self._disconnect: Message | None = None  # the WebSocket ended: what receive() reports
        self._peer_gone = False  # it ended from the client's side (or the transport's)
        self._paused = False
        self._denial: tuple[int, list[tuple[bytes, bytes]], list[bytes]] | None = None

    async def run(self, app: ASGIApp, scope: Scope) -> None:
        try:
            await app(scope, self.receive, self.send)
        except Exception as exc:  # noqa: BLE001 -- answered and logged here, as an ASGI server does
            self._app_failed(exc)
        except BaseException:  # cancelled (or KeyboardInterrupt): end the connection, then propagate
            self._end(500, 1011)
            raise
        else:
            if self._state == _CONNECTING:  # returned without accepting or closing
                logger.error("ASGI callable returned without answering the WebSocket handshake")
                self._end(403, 1000)
            elif self._state == _RESPONSE:
                logger.error("ASGI callable returned without completing the WebSocket denial response")
                self._end(500, 1000)
            else:
                self._end(500, 1000)  # still open: a normal close

    def _app_failed(self, exc: Exception) -> None:
        if self._peer_gone and (isinstance(exc, ClientDisconnected) or type(exc).__name__ == "WebSocketDisconnect"):
            # The client's disconnect propagated out of the app (Starlette's WebSocketDisconnect
            # from a receive/send the endpoint did not guard): nothing is wrong with the server.
            logger.debug("WebSocket client disconnected: %r", exc)
            return
        logger.error("Exception in ASGI application (WebSocket)", exc_info=exc)
        self._end(500, 1011)

    def _end(self, status: int, code: int) -> None:
        """Answer what the app left unanswered: an HTTP `status` before accept, else close `code`."""
        state, self._state = self._state, _CLOSED
        if state in (_CONNECTING, _RESPONSE):
            self._link.reject(status, [], b"")
            self._disconnected(1006, "")
        elif state == _CONNECTED and self._disconnect is None:
            self._link.close(code, "")

    # ---- from the engine (the loop thread, inside the socket loop's poll)

    def _on_message(self, data: str | bytes) -> bool:
        if isinstance(data, str):
            self._queue.append({"type": "websocket.receive", "text": data})
        else:
            self._queue.append({"type": "websocket.receive", "bytes": data})
        self._wake()
        if len(self._queue) > RECEIVE_HIGH:
            self._paused = True
            return True  # stop reading the socket until receive() has taken some
        return False

    def _on_close(self, code: int, reason: str | None) -> None:
        if self._state != _CLOSED:  # not our own close: the client's close frame, or the transport
            self._peer_gone = True
        self._disconnected(code, reason or "")  # (the core passes None for an empty reason at times)

    def _on_writable(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _disconnected(self, code: int, reason: str) -> None:
        if self._disconnect is None:
            self._disconnect = {"type": "websocket.disconnect", "code": code, "reason": reason}
            self._wake()
        self._on_writable()  # a send waiting for the output to drain: it never will

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ---- the ASGI side

    async def receive(self) -> Message:
        if not self._connect_sent:
            self._connect_sent = True
            return {"type": "websocket.connect"}
        while not self._queue:
            if self._disconnect is not None:  # after the messages that came before it
                return dict(self._disconnect)
            waiter = self._waiter
            if waiter is None or waiter.done():
                waiter = self._waiter = asyncio.get_running_loop().create_future()
            await asyncio.shield(waiter)  # (several receivers share it; one cancelled is not all)
        message = self._queue.popleft()
        if self._paused and len(self._queue) <= RECEIVE_LOW:
            self._paused = False
            if self._disconnect is None:
                self._link.resume_reading()  # may deliver buffered messages right here
        return message

    async def send(self, message: Message) -> None:
        kind = message["type"]
        state = self._state
        if state == _CONNECTING:
            if kind == "websocket.accept":
                self._accept(message)
            elif kind == "websocket.close":  # a close before accept refuses the handshake: 403
                self._state = _CLOSED
                self._link.reject(403, [], b"")
                self._disconnected(1006, "")
            elif kind == "websocket.http.response.start":
                status = int(message["status"])
                if not 100 <= status < 600 or status == 101:
                    raise RuntimeError(f"Invalid HTTP status code '{status}' in response.")
                self._denial = (status, _headers_of(message), [])
                self._state = _RESPONSE
            else:
                raise RuntimeError(
                    "Expected ASGI message 'websocket.accept', 'websocket.close' or "
                    f"'websocket.http.response.start' but got '{kind}'."
                )
        elif state == _CONNECTED:
            if self._peer_gone:
                if kind == "websocket.close":  # the WebSocket is closed already: nothing to send
                    self._state = _CLOSED
                    return
                raise ClientDisconnected("the WebSocket client disconnected")
            if kind == "websocket.send":
                await self._send_data(message)
            elif kind == "websocket.close":
                code = int(message.get("code") or 1000)
                reason = message.get("reason") or ""
                if not _valid_close_code(code):
                    raise ValueError(f"invalid WebSocket close code {code}")
                if not isinstance(reason, str):
                    raise TypeError("the WebSocket close reason must be a str")
                self._state = _CLOSED
                self._link.close(code, reason)  # on_close follows at once, with this code
                self._disconnected(code, reason)
            else:
                raise RuntimeError(f"Expected ASGI message 'websocket.send' or 'websocket.close', but got '{kind}'.")
        elif state == _RESPONSE:
            if kind != "websocket.http.response.body":
                raise RuntimeError(f"Expected ASGI message 'websocket.http.response.body' but got '{kind}'.")
            assert self._denial is not None
            self._denial[2].append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                status, headers, body = self._denial
                self._state = _CLOSED
                self._link.reject(status, headers, b"".join(body))
                self._disconnected(1006, "")
        else:
            raise RuntimeError(
                f"Unexpected ASGI message '{kind}', after sending 'websocket.close' or response already completed."
            )

    def _accept(self, message: Message) -> None:
        self._state = _CONNECTED
        subprotocol = message.get("subprotocol")
        accepted = self._link.accept(
            subprotocol, _headers_of(message), self._on_message, self._on_close, self._on_writable
        )
        if not accepted:  # the client went away during the handshake
            self._peer_gone = True
            self._disconnected(1006, "")

    async def _send_data(self, message: Message) -> None:
        data = message.get("bytes")
        if data is None:
            data = message.get("text")
            if data is None:
                raise RuntimeError("A 'websocket.send' message needs 'bytes' or 'text'.")
        elif not isinstance(data, bytes):
            data = bytes(data)
        try:
            unsent = self._link.send(data)
            if unsent <= SEND_HIGH:
                return
            waiter = asyncio.get_running_loop().create_future()
            self._drain_waiters.append(waiter)
            self._link.notify_writable()
        except ConnectionResetError as exc:  # the connection is gone (on_close may not have run yet)
            self._peer_gone = True
            self._disconnected(1006, "")
            raise ClientDisconnected("the WebSocket client disconnected") from exc
        await waiter


def _headers_of(message: Message) -> list[tuple[bytes, bytes]]:
    return [(bytes(k), bytes(v)) for k, v in message.get("headers") or ()]
