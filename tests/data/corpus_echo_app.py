"""The echo endpoint of the hostile-request corpus over real sockets, as a Starlette app served by
`fasterapi run` (tests/integration/test_hostile_socket.py), matching the in-process driver's
dispatcher (tests/native/http_driver.cpp):

- any method on any target answers 200 `ECHO <METHOD> <raw path> len=<body bytes> host=<Host>\n`;
- `/status/<NNN>` answers that status (same body);
- `/limit/<N>`: an echo like any other; the driver's per-route body limit of N bytes is the
  server's `--max-body N` (the test starts a server with it for those cases);
- CORPUS_ECHO_PENDING=1: the handler really awaits before answering (the driver's FLAG_PENDING).

`host=` is the Host header the application sees (for an absolute-form target the engine gives the
target's authority, see test_hostile_socket.py).
"""

from __future__ import annotations

import asyncio
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketClose

PENDING = os.environ.get("CORPUS_ECHO_PENDING") == "1"


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":  # no WebSocket endpoint: refused, as Starlette's router refuses
        await WebSocketClose()(scope, receive, send)
        return
    request = Request(scope, receive)
    body = await request.body()
    if PENDING:
        await asyncio.sleep(0)  # really suspends before answering
    path = scope["raw_path"]
    host = request.headers.get("host", "").encode("latin-1")
    content = b"ECHO %s %s len=%d host=%s\n" % (request.method.encode("latin-1"), path, len(body), host)
    status = 200
    if path.startswith(b"/status/") and len(path) == 11 and path[8:].isdigit():
        status = int(path[8:])
    await Response(content, status_code=status, media_type="text/plain")(scope, receive, send)


app = Starlette()
# Every method on every target (also `OPTIONS *`, which no route path matches): the router's
# fallback is the echo, so the router itself never answers 404/405.
app.router.default = echo
