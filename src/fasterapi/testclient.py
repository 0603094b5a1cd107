"""TestClient: FastAPI's familiar test API, running requests through the real engine in-process.

Each request is serialized to HTTP/1.1 bytes and fed to an in-memory engine connection: the same
C++ parser, router, bridge and JSON writer that serve sockets, without a socket. Handlers run on
a private asyncio loop owned by the client (the lifespan runs on it too, inside `with`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Mapping
from typing import Any

import httpx

from . import _runtime
from ._connection import CURRENT, ConnectionScope
from ._wire import parse_response

__all__ = ["TestClient"]


def _encode_request(request: httpx.Request, body: bytes) -> bytes:
    target = request.url.raw_path or b"/"
    lines = [request.method.encode("ascii") + b" " + target + b" HTTP/1.1"]
    chunked = False
    has_length = False
    for name, value in request.headers.raw:
        lname = name.lower()
        if lname == b"transfer-encoding":
            chunked = True
            continue
        if lname == b"content-length":
            has_length = True
        lines.append(name + b": " + value)
    if chunked or (body and not has_length):
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class _EngineTransport(httpx.BaseTransport):
    def __init__(self, client: TestClient) -> None:
        self._client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme in ("ws", "wss"):  # websocket_connect(): an in-process session
            from ._ws_testclient import upgrade

            raise upgrade(self._client, request)
        body = request.read()
        raw = _encode_request(request, body)
        # What the bytes do not carry: the URL's scheme (https base_url) and the client's root_path.
        scope = ConnectionScope(scheme=request.url.scheme, root_path=self._client.root_path)
        out = self._client._portal(self._exchange(raw, scope))
        status, headers, content = parse_response(out)
        if request.method == "HEAD":
            content = b""
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(content), request=request)

    async def _exchange(self, raw: bytes, scope: ConnectionScope | None = None) -> bytes:
        client = self._client
        if scope is not None:
            CURRENT.set(scope)  # this task's context: the handlers and the tasks they start see it
        conn = client._engine().connection(client=client._client_addr)
        done = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not done.done():
                done.set_result(None)

        conn.waiter = wake
        client._server_exception = None
        await _runtime.feed_inline(conn, raw)  # continuations stay in this task
        out = conn.read()
        while conn.pending:
            await done
            done = asyncio.get_running_loop().create_future()
            out += conn.read()
        out += conn.read()
        # Give background tasks scheduled by the response a turn, as Starlette's client does.
        for _ in range(3):
            await asyncio.sleep(0)
        await client._drain_background()
        if client._server_exception is not None and client.raise_server_exceptions:
            exc, client._server_exception = client._server_exception, None
            raise exc
        return out


class TestClient(httpx.Client):
    __test__ = False  # not a pytest test class

    def __init__(
        self,
        app: Any,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        root_path: str = "",
        backend: str = "asyncio",
        backend_options: Mapping[str, Any] | None = None,
        cookies: Any = None,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = True,
        client: tuple[str, int] = ("testclient", 50000),
    ) -> None:
        self.app = app
        self.raise_server_exceptions = raise_server_exceptions
        self.root_path = root_path
        from . import _foreign

        _foreign.adopt_starlette_exceptions()
        self._client_addr = client
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lifespan: contextlib.AbstractAsyncContextManager[Any] | None = None
        self._server_exception: BaseException | None = None
        all_headers = {"user-agent": "testclient"}
        if headers:
            all_headers.update(headers)
        super().__init__(
            base_url=base_url,
            headers=all_headers,
            transport=_EngineTransport(self),
            follow_redirects=follow_redirects,
            cookies=cookies,
        )
        hook = getattr(app, "_set_exception_observer", None)
        if hook is not None:
            hook(self._observe_exception)

    def websocket_connect(self, url: str, subprotocols: Any = None, **kwargs: Any) -> Any:
        """A websocket session with the app (a context manager), as Starlette's TestClient has."""
        from ._ws_testclient import websocket_connect

        return websocket_connect(self, url, subprotocols, **kwargs)

    def _observe_exception(self, exc: BaseException) -> None:
        self._server_exception = exc

    def _engine(self) -> Any:
        return self.app._build_engine()

    def _portal(self, coro: Any) -> Any:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        if asyncio._get_running_loop() is not None:
            # Called from async code (an async test using this sync client): this thread's loop is
            # busy, so ours runs in a helper thread, as Starlette's client runs its portal.
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                return pool.submit(self._loop.run_until_complete, coro).result()
        return self._loop.run_until_complete(coro)

    async def _drain_background(self) -> None:
        from . import _runtime

        pending = [t for t in _runtime._tasks if not t.done()]
        background = getattr(self.app, "_background_tasks", None)
        if background:
            pending.extend(t for t in background if not t.done())
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def __enter__(self) -> TestClient:
        ctx = getattr(self.app, "_lifespan_context", None)
        if ctx is not None:
            self._lifespan = ctx()
            self._portal(self._lifespan.__aenter__())
        return self

    def __exit__(self, *args: Any) -> None:
        if self._lifespan is not None:
            lifespan, self._lifespan = self._lifespan, None
            self._portal(lifespan.__aexit__(None, None, None))
        if self._loop is not None:
            self._portal(self._loop.shutdown_asyncgens())
            self._loop.close()
            self._loop = None
        super().__exit__(*args)
