"""Response framing on the ASGI path, served by the engine and by uvicorn alike
(tests/integration/test_asgi_framing.py): raw ASGI messages, so each case sends exactly what it
names, plus Starlette's own FileResponse and StreamingResponse."""

from __future__ import annotations

import asyncio
import os
import tempfile
from typing import Any

from starlette.responses import FileResponse, StreamingResponse

# A file of 300 KiB (FileResponse sends it in 64 KiB body messages under a Content-Length); the
# test names one file for both servers ($FRAMING_FILE), so its ETag and Last-Modified agree.
FILE_DATA = bytes(range(256)) * 1200
FILE_PATH = os.environ.get("FRAMING_FILE", "")
if not FILE_PATH:
    _fd, FILE_PATH = tempfile.mkstemp(prefix="fasterapi-framing-", suffix=".bin")
    with os.fdopen(_fd, "wb") as _f:
        _f.write(FILE_DATA)


def _start(length: int | None = None, status: int = 200) -> dict[str, Any]:
    headers = [(b"content-type", b"application/octet-stream")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {"type": "http.response.start", "status": status, "headers": headers}


def _body(data: bytes, more: bool) -> dict[str, Any]:
    return {"type": "http.response.body", "body": data, "more_body": more}


# path -> (declared Content-Length or None, [(body, more_body), ...])
CASES: dict[str, tuple[int | None, list[tuple[bytes, bool]]]] = {
    # a Content-Length and several body messages: that length, no chunked encoding
    "/cl/chunks": (30, [(b"a" * 10, True), (b"b" * 10, True), (b"c" * 10, False)]),
    # the body goes past the declared length on the second message: nothing of it is sent
    "/cl/longer": (10, [(b"12345", True), (b"678901234", False)]),
    # the body ends short of it: what was sent, then the connection closes
    "/cl/shorter": (10, [(b"12345", True), (b"67", False)]),
    # one message whose body disagrees with the declared length
    "/cl/single-longer": (3, [(b"12345", False)]),
    "/cl/single-shorter": (10, [(b"12345", False)]),
    # no Content-Length: an empty first message with more_body, then the whole body (chunked)
    "/nocl/empty-first": (None, [(b"", True), (b"hello", False)]),
    # no Content-Length, one message: the engine frames it with its length (see the test)
    "/nocl/single": (None, [(b"hello", False)]),
    # no Content-Length, several messages: chunked
    "/nocl/chunks": (None, [(b"one", True), (b"two", True), (b"", False)]),
}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/file":
        await FileResponse(FILE_PATH, media_type="application/octet-stream")(scope, receive, send)
        return
    if path == "/stream-cl":  # StreamingResponse with the length set by the app
        async def parts() -> Any:
            for i in range(4):
                yield bytes([65 + i]) * 1000

        response = StreamingResponse(parts(), headers={"content-length": "4000"}, media_type="text/plain")
        await response(scope, receive, send)
        return
    if path == "/cl/returns-early":  # declared 10, sends 5 and returns without more_body=False
        await send(_start(10))
        await send(_body(b"12345", True))
        return
    if path == "/upload":  # reads the whole body through receive(), then answers its length
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise OSError("client disconnected")  # (what Starlette's ClientDisconnect would be)
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send(_start())
        await send(_body(str(size).encode(), False))
        return
    if path == "/upload-busy":  # takes the first chunk, then is busy for a while (not reading)
        message = await receive()
        await asyncio.sleep(10)
        while message.get("more_body"):
            message = await receive()
        await send(_start())
        await send(_body(b"done", False))
        return
    if path == "/upload-started":  # answers first, then reads the body
        await send(_start())
        await send(_body(b"started", True))
        while True:
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        await send(_body(b"", False))
        return
    if path == "/echo-server":
        await send(_start())
        await send(_body(repr(scope.get("server")).encode(), False))
        return
    length, messages = CASES[path]
    await send(_start(length))
    for data, more in messages:
        await send(_body(data, more))
