"""`WSGIMiddleware`: a WSGI application as an ASGI app, to `app.mount("/v1", WSGIMiddleware(flask_app))`.

As Starlette's (which FastAPI re-exports): the environ follows PEP 3333 (`SCRIPT_NAME` is the
mount's root_path, `PATH_INFO` the path below it), the WSGI app runs in a thread
(`run_in_threadpool`) with the whole request body in `wsgi.input`, and each chunk it yields is
sent as one `http.response.body` message. `exc_info` passed to `start_response` is re-raised.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Callable, Iterable
from typing import Any

from ..asgi import receive_body
from ..concurrency import run_in_threadpool

__all__ = ["WSGIMiddleware", "build_environ"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def build_environ(scope: dict[str, Any], body: bytes) -> dict[str, Any]:
    """The PEP 3333 environ of an ASGI http scope (Starlette's `build_environ`)."""
    script_name = scope.get("root_path", "").encode("utf8").decode("latin1")
    path_info = scope["path"].encode("utf8").decode("latin1")
    if path_info.startswith(script_name):
        path_info = path_info[len(script_name) :]
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": scope.get("query_string", b"").decode("ascii"),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stdout,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    server = scope.get("server") or ("localhost", 80)
    environ["SERVER_NAME"] = server[0]
    environ["SERVER_PORT"] = server[1]
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"] = client[0]
    for name, value in scope.get("headers") or ():
        key = name.decode("latin1")
        if key == "content-length":
            corrected = "CONTENT_LENGTH"
        elif key == "content-type":
            corrected = "CONTENT_TYPE"
        else:
            corrected = "HTTP_" + key.upper().replace("-", "_")
        text = value.decode("latin1")
        if corrected in environ:
            text = environ[corrected] + "," + text
        environ[corrected] = text
    if "CONTENT_LENGTH" not in environ and body:
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


class WSGIMiddleware:
    """An ASGI app that serves HTTP requests with a WSGI app run in a worker thread."""

    def __init__(self, app: WSGIApp, workers: int = 10) -> None:
        self.app = app
        self.workers = workers  # accepted for Starlette compatibility; the thread pool is shared

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise AssertionError("WSGIMiddleware only handles http scopes")
        body = await receive_body(receive)
        if body is None:
            return
        environ = build_environ(scope, body)
        loop = asyncio.get_running_loop()
        messages: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

        def post(message: dict[str, Any] | None) -> None:
            loop.call_soon_threadsafe(messages.put_nowait, message)

        started = False

        def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            nonlocal started
            if exc_info is not None:
                try:
                    if started:
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            if started:
                raise AssertionError("start_response called twice without exc_info")
            started = True
            post({
                "type": "http.response.start",
                "status": int(status.split(" ", 1)[0]),
                "headers": [
                    (name.strip().encode("ascii").lower(), value.strip().encode("latin1"))
                    for name, value in response_headers
                ],
            })
            return write

        def write(data: bytes) -> None:
            post({"type": "http.response.body", "body": bytes(data), "more_body": True})

        def run() -> None:
            result = self.app(environ, start_response)
            try:
                for chunk in result:
                    if chunk:
                        post({"type": "http.response.body", "body": bytes(chunk), "more_body": True})
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()

        async def forward() -> None:
            while True:
                message = await messages.get()
                if message is None:
                    return
                await send(message)

        forwarder = asyncio.ensure_future(forward())
        try:
            await run_in_threadpool(run)
        finally:
            post(None)
            await forwarder
        if not started:
            raise RuntimeError("the WSGI app returned without calling start_response")
        await send({"type": "http.response.body", "body": b"", "more_body": False})
