"""The engine as an ASGI server: any ASGI 3 app (a real `fastapi.FastAPI`, Starlette, ...) served by
the C++ HTTP/1.1 engine.

The engine parses, routes and writes; for a request that no compiled route answers it calls
`AsgiHttp.__call__(req)`, which runs `app(scope, receive, send)` in a task of its own and answers the
engine with the first thing the app makes:

- a complete response (one `http.response.body` without `more_body`): a `Wire` the engine writes
  with Content-Length;
- a streaming response (a body message with `more_body=True`): a `_Stream`, whose head the engine
  writes at once (chunked), then every later body message goes straight into the connection's
  `StreamSink` as the app sends it, so SSE under any middleware arrives event by event. A sink
  holding more than `STREAM_HIGH_WATER` unsent bytes makes `send()` wait: a slow client holds the
  app, not memory.

The request body reaches `receive()` as the engine has it: whole (`req.body`) or, when the engine
streams bodies (`engine.stream_bodies`), chunk by chunk from `req.body_reader` as it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.responses import Response

from ._connection import ProxyTrust

logger = logging.getLogger("fasterapi.error")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

# An in-memory caller (the TestClient) that wants the app's exceptions and debug messages: an object
# with `errors` (a list) and `debug` attributes, set in the context the request is fed from.
ERRORS: contextvars.ContextVar[Any] = contextvars.ContextVar("fasterapi_asgi_errors", default=None)

# Bodies stream through receive() in bounded memory, so the default limit is about disk and time, not
# memory (uvicorn has none); `fasterapi run --max-body` sets it.
DEFAULT_MAX_BODY = 1 << 30

STREAM_HIGH_WATER = 256 * 1024
STREAM_LOW_WATER = 64 * 1024
# spec 2.3, as uvicorn: Starlette then listens for http.disconnect while it streams (and runs the
# response's background task after a hang-up), and send() after a disconnect is a no-op.
_ASGI = {"version": "3.0", "spec_version": "2.3"}
_TEXT_500 = [(b"content-type", b"text/plain; charset=utf-8")]


class Wire:
    """A complete response for the engine: status, headers as sent by the app, the whole body."""

    __slots__ = ("status_code", "raw_headers", "body")
    needs_collect = False  # read by the engine for a compiled route's result
    background = None

    def __init__(self, status_code: int, raw_headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status_code = status_code
        self.raw_headers = raw_headers
        self.body = body

    # Each engine's responses are of its own subclass, which knows the engine's scope rules.
    scope_maker: ScopeMaker | None = None
    # How the app's pass-through middleware edit the headers of a compiled route's response
    # (fasterapi.compiler.MiddlewareBypass), or None.
    compiled_edit: Callable[[list[tuple[bytes, bytes]]], list[tuple[bytes, bytes]]] | None = None
    # A returned Starlette response whose class's __call__ is this one and without a background
    # task sends exactly its status, raw headers and body: the engine writes those itself (while
    # compiled_edit is None; bridge/engine.cpp plain_foreign), as _from_foreign would.
    _plain_call = Response.__call__

    @classmethod
    def _from_foreign(cls, response: Any, req: Any) -> Any:
        """A Starlette Response a compiled endpoint returned: the engine's answer, made by the
        response's own ASGI __call__ with the request's scope (Range and conditional requests,
        streaming and background tasks as sent)."""
        if type(response).__call__ is Response.__call__ and response.background is None:
            # Response.__call__ sends exactly its status, raw headers and body: no need to run it.
            edit = cls.compiled_edit
            raw = response.raw_headers
            return cls(response.status_code, list(raw) if edit is None else edit(raw), response.body)
        assert cls.scope_maker is not None
        return to_wire(response, cls.scope_maker(req), cls)

    @classmethod
    def for_engine(cls, scope_maker: ScopeMaker) -> type[Wire]:
        return type("Wire", (cls,), {"__slots__": (), "scope_maker": scope_maker})


def internal_error(wire: type[Wire] = Wire) -> Wire:
    """What uvicorn answers when the app fails before its response starts."""
    return wire(500, list(_TEXT_500), b"Internal Server Error")


class _Stream:
    """A response whose body is still being sent: the engine writes its head, then hands the sink.
    `content_length`: the app's own Content-Length (the body is framed by it, not chunked)."""

    __slots__ = ("status_code", "raw_headers", "body", "needs_collect", "content_length", "_exchange")

    def __init__(
        self, exchange: _Exchange, status: int, headers: list[tuple[bytes, bytes]], content_length: int | None = None
    ) -> None:
        self.status_code = status
        self.raw_headers = headers
        self.body = b""
        self.needs_collect = True
        self.content_length = content_length
        self._exchange = exchange

    def _engine_stream(self, sink: Any) -> None:
        self._exchange.attach_sink(sink)


def _headers_of(message: Message) -> list[tuple[bytes, bytes]]:
    return [(bytes(k), bytes(v)) for k, v in message.get("headers", ())]


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The Content-Length the app set (uvicorn frames the body by it), or None: none, or the app
    also named a transfer coding (then the engine frames it)."""
    length = None
    for name, value in headers:
        lname = name.lower()
        if lname == b"content-length":
            text = value.strip()
            if not text.isdigit():
                return None
            length = int(text)
        elif lname == b"transfer-encoding":
            return None
    return length


class ScopeMaker:
    """The ASGI `http` scope of an engine request, with uvicorn's proxy-header and root-path rules."""

    def __init__(
        self, root_path: str = "", forwarded_allow: ProxyTrust | None = None, state: dict[str, Any] | None = None
    ) -> None:
        self.root_path = root_path.rstrip("/")
        self.trust = forwarded_allow
        self.state = state
        self.server: tuple[str, int] | None = None  # the listening address, once known

    def __call__(self, req: Any, kind: str = "http") -> dict[str, Any]:
        client = req.client
        scheme = req.scheme
        headers = req.headers
        if self.trust is not None and client is not None and client[0] in self.trust:
            client, scheme = self._forwarded(headers, client, scheme)
        if kind == "websocket":
            scheme = "wss" if scheme == "https" else "ws"
        root = self.root_path
        scope: dict[str, Any] = {
            "type": kind,
            "asgi": _ASGI,
            "http_version": req.http_version,
            "server": req.server or self.server,
            "client": client,
            "scheme": scheme,
            "root_path": root,
            "path": root + req.path,
            "raw_path": req.raw_path,
            "query_string": req.query_string,
            "headers": headers,
        }
        if kind == "http":
            scope["method"] = req.method
        if self.state is not None:
            scope["state"] = self.state.copy()
        return scope

    def _forwarded(
        self, headers: list[tuple[bytes, bytes]], client: tuple[str, int], scheme: str
    ) -> tuple[tuple[str, int], str]:
        assert self.trust is not None
        for name, value in headers:
            if name == b"x-forwarded-proto":
                proto = value.decode("latin-1").split(",")[-1].strip().lower()
                if proto in ("http", "https", "ws", "wss"):
                    scheme = {"ws": "http", "wss": "https"}.get(proto, proto)
            elif name == b"x-forwarded-for":
                host = self.trust.client_host(value.decode("latin-1"))
                if host is not None:
                    client = (host, 0)
        return client, scheme


class _Exchange:
    """One request's ASGI conversation: the app's receive/send against the engine."""

    __slots__ = (
        "req",
        "loop",
        "wire",
        "first",
        "status",
        "headers",
        "declared",
        "sink",
        "sink_ready",
        "finished",
        "body_done",
        "disconnected",
        "failed",
        "body_waiter",
    )

    def __init__(self, req: Any, loop: asyncio.AbstractEventLoop, wire: type[Wire] = Wire) -> None:
        self.req = req
        self.loop = loop
        self.wire = wire
        self.failed = False  # the response cannot complete (the app raised, the request failed): cut it
        self.first: asyncio.Future[Any] = loop.create_future()  # Wire or _Stream, for the engine
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.declared: int | None = None  # the app's Content-Length
        self.sink: Any = None
        self.sink_ready: asyncio.Future[None] | None = None
        self.finished: asyncio.Future[None] = loop.create_future()  # the response is complete
        self.body_done = False
        self.disconnected = False
        self.body_waiter: asyncio.Future[None] | None = None  # receive() waits for the reader

    # ---- receive ------------------------------------------------------------------------------

    async def receive(self) -> Message:
        if not self.body_done:
            reader = self.req.body_reader
            if reader is None:
                self.body_done = True
                return {"type": "http.request", "body": self.req.body, "more_body": False}
            return await self._next_chunk(reader)
        # After the body: the next event is the end of the conversation. Once the response is
        # complete (or the client is gone) that is http.disconnect, as uvicorn says it.
        await self._wait_finished()
        return {"type": "http.disconnect"}

    async def _next_chunk(self, reader: Any) -> Message:
        while True:
            chunk = reader.take()
            if chunk or reader.done:
                self.body_done = reader.done
                return {"type": "http.request", "body": chunk, "more_body": not reader.done}
            if reader.aborted:
                self.body_done = True
                self._body_failed()
                return {"type": "http.disconnect"}
            waiter = self.loop.create_future()
            self.body_waiter = waiter
            reader.waiter = self._on_body
            await waiter

    def watch_body(self) -> None:
        """Hear of the streamed body's end or failure even while the app is not reading it."""
        reader = self.req.body_reader
        if reader is not None:
            reader.waiter = self._on_body

    def unwatch_body(self) -> None:
        reader = self.req.body_reader
        if reader is not None:
            reader.waiter = None  # (the reader holds the exchange through it)

    def _on_body(self) -> None:
        """The reader's waiter (called once per setting, from the engine): bytes arrived, the body
        ended or it failed."""
        waiting, self.body_waiter = self.body_waiter, None
        if waiting is not None and not waiting.done():
            waiting.set_result(None)
        reader = self.req.body_reader
        if reader.aborted:
            if not self.finished.done():
                self.loop.call_soon(self._body_failed)  # (not from inside the engine's callback)
        elif not reader.done:
            reader.waiter = self._on_body

    def _body_failed(self) -> None:
        """The request body can no longer complete (a body deadline, bad framing, over the limit,
        the client gone). Before the response started, the engine answers at once with its own
        verdict (408, 400, 413 with Connection: close, or nothing to a client that left), as for a
        buffered body, whatever the app is doing; the app is told http.disconnect and what it
        sends from then on goes nowhere. A response already started is cut (never made to look
        complete)."""
        self.disconnected = True
        if self.finished.done():
            return
        if not self.first.done():
            self._answer(internal_error(self.wire))  # (replaced by the engine's verdict)
            return
        self.failed = True
        if self.sink is not None:
            self.sink.abort()
            self._finish()

    async def _wait_finished(self) -> None:
        while not self.finished.done():
            sink = self.sink
            if sink is None:
                await self.finished
                return
            # A streaming response: the client may go away while the app produces (no callback
            # for that crosses the bridge yet, so look at the sink a few times a second).
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.finished), 0.2)
            if sink.closed:
                self.disconnected = True
                return

    # ---- send ---------------------------------------------------------------------------------

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            await self._send_body(message.get("body", b""), bool(message.get("more_body", False)))
        elif kind == "http.response.start":
            if self.status:
                raise RuntimeError("http.response.start sent twice")
            self.status = int(message["status"])
            self.headers = _headers_of(message)
            self.declared = _declared_length(self.headers)
        elif kind == "http.response.debug":  # Starlette's templates, for the TestClient
            observer = ERRORS.get()
            if observer is not None:
                observer.debug = message.get("info")
        elif kind == "http.response.pathsend":  # pragma: no cover - not announced in extensions
            raise RuntimeError("http.response.pathsend is not supported")
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r} on an http connection")

    async def _send_body(self, body: bytes, more: bool) -> None:
        if not self.status:
            raise RuntimeError("http.response.body before http.response.start")
        if self.finished.done():
            if self.disconnected:
                return  # the client is gone: nothing more to send (receive() says http.disconnect)
            raise RuntimeError("http.response.body after the response was complete")
        if self.sink is None and self.sink_ready is None:
            if not more and self._one_message_answers(len(body)):
                self._answer(self.wire(self.status, self.headers, body))
                return
            # Several messages (even an empty first one): the head goes out now and the body as
            # sent, framed by the app's Content-Length if it set one, else chunked (as uvicorn).
            # So does a HEAD response's one message: the app's length is what the client is told.
            self._start_stream()
        if self.sink is None:
            assert self.sink_ready is not None
            await self.sink_ready
        await self._stream(body, more)

    def _one_message_answers(self, size: int) -> bool:
        """Whether a lone final body message is written at once as a complete response.

        With the app's Content-Length: yes, framed by its length. (One whose declared length is
        wrong, a middleware that copied a stale header, gets the length of what it sent: the whole
        response is here before its head leaves, and that is the response Starlette's TestClient
        shows; uvicorn, which wrote the head at http.response.start, cuts it.) A HEAD response
        keeps the app's length, so it streams. Without a Content-Length, uvicorn sends the body
        chunked and Starlette's TestClient shows no length (starlette-compress's suite checks
        that), so the engine does too: only a response that has no body (HEAD, 1xx, 204, 304)
        is written at once, as uvicorn writes it without chunked framing."""
        if self.declared is not None:
            return self.declared == size or not self._is_head()
        return self._is_head() or self.status < 200 or self.status in (204, 304)

    def _is_head(self) -> bool:
        return getattr(self.req, "method", "") == "HEAD"

    def _start_stream(self) -> None:
        self.sink_ready = self.loop.create_future()
        self.first.set_result(_Stream(self, self.status, self.headers, self.declared))

    async def _stream(self, body: bytes, more: bool) -> None:
        sink = self.sink
        if sink.head_only:
            body = b""
        if body:
            try:
                sent = sink.write(body)
            except RuntimeError:  # past the declared Content-Length: the sink closed the connection
                self._client_gone()
                raise
            if not sent:
                self._client_gone()
                return
        if not more:
            if sink.remaining > 0:  # short of the declared Content-Length: cut, never complete
                sink.abort()
                self._client_gone()
                raise RuntimeError("Response content shorter than Content-Length")
            sink.close()
            self._finish()
            return
        if sink.backlog > STREAM_HIGH_WATER:
            while sink.backlog > STREAM_LOW_WATER and not sink.closed:
                await asyncio.sleep(0.002)
            if sink.closed:
                self._client_gone()

    def attach_sink(self, sink: Any) -> None:
        self.sink = sink
        if self.failed:
            sink.abort()
            self._finish()
            return
        if self.sink_ready is not None and not self.sink_ready.done():
            self.sink_ready.set_result(None)

    def _answer(self, response: Any) -> None:
        self.first.set_result(response)
        self._finish()

    def _finish(self) -> None:
        if not self.finished.done():
            self.finished.set_result(None)

    def _client_gone(self) -> None:
        self.disconnected = True
        self._finish()

    # ---- the app's end ------------------------------------------------------------------------

    def app_ended(self, exc: BaseException | None) -> None:
        """The app returned or raised: answer the engine if nothing was answered yet, else end
        the stream (cut short after an error, so the client never takes it for a whole body)."""
        if exc is not None and not isinstance(exc, asyncio.CancelledError):
            # (a test client, ERRORS set, hands the exception to the test instead, as Starlette's
            # and httpx's in-process transports do: no server log there)
            if not (self.disconnected and _is_client_disconnect(exc)) and ERRORS.get() is None:
                logger.error("Exception in ASGI application", exc_info=exc)
        if not self.first.done():
            if self.status:
                # The head was sent (uvicorn writes it at http.response.start): it goes out, then
                # the connection closes with the body cut short (an error, or a return before
                # the body ended).
                if exc is None:
                    logger.error("ASGI callable returned without completing response.")
                self.failed = True
                self._start_stream()
            else:
                if exc is None:
                    logger.error("ASGI callable returned without completing its response")
                self._answer(internal_error(self.wire))
            return
        if self.finished.done():
            return
        sink = self.sink
        if sink is not None:
            # Returned without more_body=False, or failed: the connection closes with the body
            # cut short (uvicorn), never a complete-looking response.
            if exc is None and not self.disconnected:
                logger.error("ASGI callable returned without completing response.")
            sink.abort()
        elif self.sink_ready is not None:
            # The head is out and the sink not attached yet: the engine will hand it; end then.
            self.sink_ready.add_done_callback(lambda _f: self.app_ended(exc))
            return
        self._finish()


def _is_client_disconnect(exc: BaseException) -> bool:
    return type(exc).__name__ == "ClientDisconnect" or isinstance(exc, OSError)


class AsgiHttp:
    """engine.app_handler for an ASGI app: `handler(req)` -> a coroutine of the engine's answer."""

    def __init__(self, app: ASGIApp, scope_maker: ScopeMaker, wire: type[Wire] = Wire) -> None:
        self.app = app
        self.scope_maker = scope_maker
        self.wire = wire
        self.loop_ref: Any = None  # the compiler's LoopRef (build_engine)
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, req: Any) -> Awaitable[Any]:
        return self.serve(req)

    async def serve(self, req: Any) -> Any:
        loop = asyncio.get_running_loop()
        exchange = _Exchange(req, loop, self.wire)
        exchange.watch_body()
        task = loop.create_task(self._run(self.scope_maker(req), exchange))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await exchange.first

    async def _run(self, scope: Scope, exchange: _Exchange) -> None:
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except BaseException as exc:  # noqa: BLE001 - every outcome is answered on the wire
            exchange.unwatch_body()
            exchange.app_ended(exc)
            observer = ERRORS.get()
            if observer is not None:
                observer.errors.append(exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            return
        exchange.unwatch_body()
        exchange.app_ended(None)

    async def drain(self, timeout: float | None) -> None:
        """Wait for apps still running (background tasks after their response), up to `timeout`."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)


# ---- lifespan ---------------------------------------------------------------------------------


class LifespanFailed(RuntimeError):
    """The app's lifespan startup failed (`lifespan.startup.failed`, or it raised)."""


class Lifespan:
    """The ASGI lifespan protocol, as uvicorn runs it ("auto": an app that raises before it
    receives the startup event has no lifespan, and is served without one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self._events: asyncio.Queue[Message] = asyncio.Queue()
        self._started: asyncio.Future[Message] | None = None
        self._stopped: asyncio.Future[Message] | None = None
        self._task: asyncio.Task[None] | None = None
        self._supported = True

    async def __aenter__(self) -> Lifespan:
        loop = asyncio.get_running_loop()
        self._started = loop.create_future()
        self._stopped = loop.create_future()
        self._task = loop.create_task(self._run())
        await self._events.put({"type": "lifespan.startup"})
        done = await self._started
        if done["type"] == "lifespan.startup.failed":
            raise LifespanFailed(done.get("message") or "lifespan startup failed")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if not self._supported or self._task is None or self._task.done():
            return
        assert self._stopped is not None
        await self._events.put({"type": "lifespan.shutdown"})
        done = await self._stopped
        if done["type"] == "lifespan.shutdown.failed":
            logging.getLogger("fasterapi.server").error("lifespan shutdown failed: %s", done.get("message", ""))

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": _ASGI, "state": self.state}
        received = False

        async def receive() -> Message:
            nonlocal received
            received = True
            return await self._events.get()

        async def send(message: Message) -> None:
            kind = message["type"]
            target = self._started if kind.startswith("lifespan.startup") else self._stopped
            if target is not None and not target.done():
                target.set_result(message)

        try:
            await self.app(scope, receive, send)
        except BaseException as exc:  # noqa: BLE001
            if not received:  # no lifespan support: served without one (uvicorn's "auto")
                self._supported = False
                self._settle({"type": "lifespan.startup.complete"})
                return
            self._settle({"type": "lifespan.startup.failed", "message": repr(exc)}, exc)
            return
        self._settle({"type": "lifespan.startup.failed", "message": "lifespan returned early"})

    def _settle(self, message: Message, exc: BaseException | None = None) -> None:
        for fut in (self._started, self._stopped):
            if fut is not None and not fut.done():
                msg = message if fut is self._started else {"type": "lifespan.shutdown.complete"}
                fut.set_result(msg)
        if exc is not None:
            logging.getLogger("fasterapi.error").error("Exception in lifespan", exc_info=exc)


# ---- a Starlette Response a compiled route returned, answered by its own __call__ -----------------


def _edited_send(
    send: Callable[[Any], Any], edit: Callable[[list[tuple[bytes, bytes]]], list[tuple[bytes, bytes]]]
) -> Callable[[Any], Any]:
    """`send` behind the app's pass-through middleware: the response head edited as they would."""

    async def edited(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": edit(_headers_of(message))}
        await send(message)

    return edited


class _ReadBody:
    """The request as a response's own __call__ sees it: its body was read by the route."""

    body = b""
    body_reader = None


async def to_wire(response: Any, scope: dict[str, Any], wire: type[Wire]) -> Any:
    """A Starlette Response for the engine: what its own __call__ sends for this request's scope."""
    loop = asyncio.get_running_loop()
    exchange = _Exchange(_ReadBody(), loop, wire)
    send = exchange.send if wire.compiled_edit is None else _edited_send(exchange.send, wire.compiled_edit)

    async def run() -> None:
        try:
            await response(scope, exchange.receive, send)
        except BaseException as exc:  # noqa: BLE001
            exchange.app_ended(exc)
            return
        exchange.app_ended(None)

    task = loop.create_task(run())
    _background.add(task)
    task.add_done_callback(_background.discard)
    return await exchange.first


_background: set[Any] = set()


async def drain_background() -> None:
    """Wait for the responses compiled routes returned that are still running (their background
    tasks after the body)."""
    if _background:
        await asyncio.wait(list(_background))
