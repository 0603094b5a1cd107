"""TestClient: Starlette's (FastAPI's) TestClient, with every HTTP request served by the engine.

`fasterapi.testclient.TestClient` is `starlette.testclient.TestClient` whose transport writes each
request as HTTP/1.1 bytes into an in-memory engine connection: the same C++ parser, router,
compiled plans, ASGI bridge and JSON writer that serve sockets, without a socket. What the bytes do
not carry is passed as Starlette's client passes it (the URL's scheme and host as the scope's
`scheme` and `server`, `root_path`, the lifespan state, the `http.response.debug` extension that
template tests read), and an exception the app raises is raised in the test
(`raise_server_exceptions`), as Starlette's client does. Lifespan (`with client:`) and WebSocket
sessions are Starlette's own, run through the app's ASGI interface.

`install()` (the `fasterapi.pytest_plugin`, or `FASTERAPI_TESTCLIENT=1`) makes every
`starlette.testclient.TestClient` / `fastapi.testclient.TestClient` do the same, so a project's
existing suite checks that the engine serves its app as FastAPI on uvicorn would.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import importlib
from collections.abc import AsyncIterator
from typing import Any

import starlette.testclient as _st

try:  # the client library Starlette's TestClient uses: httpx2 when installed, else httpx
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]

from . import _runtime
from ._asgi_server import ERRORS, ScopeMaker, drain_background
from ._engine import build_engine
from ._wire import parse_response

__all__ = ["TestClient", "install"]


@dataclasses.dataclass
class _Call:
    """What one test request carries beside its bytes."""

    scheme: str
    server: tuple[str, int]
    errors: list[BaseException] = dataclasses.field(default_factory=list)
    debug: dict[str, Any] | None = None


_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("fasterapi_test_call", default=None)


class _TestScope(ScopeMaker):
    """Starlette's TestClient scope: root_path beside the path (not prefixed), the request URL's
    scheme and host:port, the debug extension."""

    def __call__(self, req: Any, kind: str = "http") -> dict[str, Any]:
        scope = super().__call__(req, kind)
        scope["path"] = req.path
        call = _CALL.get()
        if call is not None:
            scheme = call.scheme
            if kind == "websocket":
                scheme = "wss" if scheme in ("https", "wss") else "ws"
            scope["scheme"] = scheme
            scope["server"] = call.server
        scope["extensions"] = {"http.response.debug": {}}
        return scope


def _encode_request(request: httpx.Request, body: bytes, end: bool = True) -> bytes:
    """The request as HTTP/1.1 bytes: a body httpx streams (Transfer-Encoding: chunked) is sent
    chunked, as a client on a socket sends it; otherwise with its length. `end=False`: a chunked
    request's head only (its chunks follow)."""
    target = request.url.raw_path or b"/"
    lines = [request.method.encode("ascii") + b" " + target + b" HTTP/1.1"]
    chunked = False
    has_length = False
    for name, value in request.headers.raw:
        lname = name.lower()
        if lname == b"transfer-encoding":
            chunked = True
        if lname == b"content-length":
            has_length = True
        lines.append(name + b": " + value)
    if chunked and not end:
        return b"\r\n".join(lines) + b"\r\n\r\n"
    if chunked:
        payload = (b"%x\r\n" % len(body) + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
        return b"\r\n".join(lines) + b"\r\n\r\n" + payload
    if body and not has_length:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def _serve(engine: Any, handler: Any, raw: bytes, client: Any, more: AsyncIterator[bytes] | None = None) -> bytes:
    """One request's bytes through an in-memory connection of `engine` on this loop; its response
    bytes once the app has returned. `more`: the rest of the request's bytes as the client produces
    them (a streamed body's chunks), each fed once the app has had its turn with the previous."""
    # The engine's hub (results of `def` endpoints run on its native pool) is watched by this
    # loop; a served engine's socket loop watches it itself.
    _runtime.watch_hub(engine.hub_fd, engine)
    handler.loop_ref.update()  # (each request may come on a new loop)
    conn = engine.connection(client=client)
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def wake() -> None:
        if not done.done():
            done.set_result(None)

    conn.waiter = wake
    # The rest of a streamed body comes from a task of its own: the app may answer only once it
    # has read it all, while feeding the head waits for the app's first answer.
    rest = None if more is None else asyncio.ensure_future(_feed_rest(conn, more))
    try:
        await _runtime.feed_inline(conn, raw)  # continuations stay in this task
    finally:
        if rest is not None:
            await rest
    out = conn.read()
    while conn.pending:
        await done
        done = loop.create_future()
        out += conn.read()
    out += conn.read()
    # As Starlette's client: the request returns once the app has returned, background tasks
    # (run by the response after its body) included, so their errors reach the test too.
    await handler.drain(None)
    await drain_background()
    return bytes(out)


async def _feed_rest(conn: Any, more: AsyncIterator[bytes]) -> None:
    async for piece in more:
        await _app_turns()
        if conn.closed:  # the app answered without reading it all; the connection is done
            return
        conn.feed(piece)


async def _app_turns(n: int = 8) -> None:
    """A few turns of the loop: the app's task reads what arrived before the client sends more
    (as httpx's ASGITransport hands each chunk of a streamed body to receive() on its own)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def _chunks(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """A streamed request body in chunked framing, a chunk as the client produces it, then the end."""
    async for chunk in stream:
        if chunk:
            yield b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    yield b"0\r\n\r\n"


class _EngineTransport(httpx.BaseTransport):
    """HTTP requests through an in-memory engine connection; WebSocket sessions through
    Starlette's own transport (the ASGI interface)."""

    def __init__(self, client: Any, asgi: Any) -> None:
        self.client = client
        self.asgi = asgi  # Starlette's _TestClientTransport
        self._engine: Any = None
        self._handler: Any = None

    def close(self) -> None:
        self.asgi.close()

    def engine(self) -> Any:
        if self._engine is None:
            scope = _TestScope(self.asgi.root_path, None, self.asgi.app_state)
            self._engine, self._handler, _reports = build_engine(self.asgi.app, scope)
        return self._engine

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme in ("ws", "wss"):
            response: httpx.Response = self.asgi.handle_request(request)
            return response
        body = request.read()
        port = request.url.port or {"http": 80, "https": 443}.get(request.url.scheme, 80)
        call = _Call(request.url.scheme, (request.url.host, port))
        with self.asgi.portal_factory() as portal:
            raw = portal.call(self._exchange, _encode_request(request, body), call)
        if call.errors and self.asgi.raise_server_exceptions:
            raise call.errors[0]
        status, headers, content = parse_response(raw)
        if request.method == "HEAD":
            content = b""
        response = httpx.Response(status, headers=headers, stream=httpx.ByteStream(content), request=request)
        if call.debug is not None:
            template = call.debug.get("template")
            context = call.debug.get("context")
            response.template = template  # type: ignore[attr-defined]
            response.context = context  # type: ignore[attr-defined]
        return response

    async def _exchange(self, raw: bytes, call: _Call) -> bytes:
        _CALL.set(call)  # this task's context: the handlers and the tasks they start see it
        ERRORS.set(call)
        engine = self.engine()
        return await _serve(engine, self._handler, raw, self.asgi.client)


class _EngineASGI:
    """httpx's `ASGITransport` (`httpx.AsyncClient(transport=ASGITransport(app))`), served by an
    in-memory engine connection on the test's own asyncio loop: the transport's app, root_path,
    client and raise_app_exceptions are honoured as httpx honours them. Under another async
    library (trio) the transport keeps talking ASGI."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.engine: Any = None
        self.handler: Any = None

    @staticmethod
    async def handle(transport: Any, request: Any, original: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # trio: the transport keeps talking ASGI
            return await original(transport, request)
        state = transport.__dict__.get("_fasterapi_engine")
        if state is None:
            state = transport.__dict__["_fasterapi_engine"] = _EngineASGI(transport)
        port = request.url.port or {"http": 80, "https": 443}.get(request.url.scheme, 80)
        call = _Call(request.url.scheme, (request.url.host, port))
        streamed = request.headers.get("transfer-encoding", "").lower() == "chunked"
        if streamed:  # the head now, the body's chunks as the client produces them
            head, more = _encode_request(request, b"", end=False), _chunks(request.stream)
        else:
            head, more = _encode_request(request, await request.aread()), None
        # In a task of its own: the request's context variables stay out of the test's context.
        raw = await asyncio.ensure_future(state.exchange(head, call, more))
        if call.errors and getattr(transport, "raise_app_exceptions", True):
            raise call.errors[0]
        status, headers, content = parse_response(raw)
        if request.method == "HEAD":
            content = b""
        module = type(request).__module__.split(".")[0]  # httpx or httpx2: answer in the caller's kind
        client_lib = httpx if module == httpx.__name__ else __import__(module)
        return client_lib.Response(status, headers=headers, stream=client_lib.ByteStream(content), request=request)

    async def exchange(self, raw: bytes, call: _Call, more: AsyncIterator[bytes] | None = None) -> bytes:

        _CALL.set(call)
        ERRORS.set(call)
        if self.engine is None:
            scope = _TestScope(getattr(self.transport, "root_path", ""), None, None)
            self.engine, self.handler, _reports = build_engine(self.transport.app, scope)
        engine = self.engine
        client = tuple(getattr(self.transport, "client", ("127.0.0.1", 123)))
        return await _serve(engine, self.handler, raw, client, more)


def _install_asgi_transport(module_name: str) -> None:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return
    cls = module.ASGITransport
    if getattr(cls.handle_async_request, "__fasterapi__", False):
        return
    original = cls.handle_async_request

    async def handle_async_request(self: Any, request: Any) -> Any:
        return await _EngineASGI.handle(self, request, original)

    handle_async_request.__fasterapi__ = True  # type: ignore[attr-defined]
    cls.handle_async_request = handle_async_request


def _engine_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _ORIGINAL_INIT(self, *args, **kwargs)
    asgi = self._transport
    self._transport = _EngineTransport(self, asgi)


_ORIGINAL_INIT = _st.TestClient.__init__


class TestClient(_st.TestClient):
    """Starlette's TestClient, served by the engine (see the module's docstring)."""

    __test__ = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _ORIGINAL_INIT(self, *args, **kwargs)
        self._transport = _EngineTransport(self, self._transport)


def install() -> None:
    """Every starlette/fastapi TestClient made from now on, and every httpx `ASGITransport`
    (httpx and httpx2), is served by the engine."""
    _st.TestClient.__init__ = _engine_init  # type: ignore[method-assign]
    _install_asgi_transport("httpx")
    _install_asgi_transport("httpx2")
