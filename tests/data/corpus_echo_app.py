"""The echo endpoint of the hostile-request corpus over real sockets, matching the in-process
driver's dispatcher (tests/native/http_driver.cpp) as far as the Python bridge allows:

- any method on any path answers 200 `ECHO <METHOD> <raw path> len=<body bytes> host=<Host>\n`;
- a path `/limit/<N>` has a body limit of N bytes (native routes with a body_limit, N <= 64);
- `/status/<NNN>` answers that status (same body);
- CORPUS_ECHO_PENDING=1: the handler really awaits before answering, so every response goes
  through the engine's Pending path (the driver's FLAG_PENDING).

`host=` is the Host header: the bridge gives Python the header, not an absolute-form target's
authority (see test_hostile_socket.py).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from fasterapi import _core

METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"]
PENDING = os.environ.get("CORPUS_ECHO_PENDING") == "1"


class EchoResponse:
    def __init__(self, status_code: int, body: bytes) -> None:
        self.status_code = status_code
        self.raw_headers = [(b"content-type", b"text/plain")]
        self.body = body


def _echo_sync(req: Any) -> EchoResponse:
    host = next((v for k, v in req.headers if k == b"host"), b"")
    body = b"ECHO %s %s len=%d host=%s\n" % (req.method.encode("latin-1"), req.raw_path, len(req.body), host)
    status = 200
    path = req.raw_path
    if path.startswith(b"/status/") and len(path) == 11 and path[8:].isdigit():
        status = int(path[8:])
    return EchoResponse(status, body)


async def _echo_async(req: Any) -> EchoResponse:
    await asyncio.sleep(0)  # really suspends: the connection waits (Pending) for the task
    return _echo_sync(req)


class CorpusEchoApp:
    def __init__(self) -> None:
        self._engine: Any = None
        self.limits: dict[str, int] = {}

    def _build_engine(self) -> Any:
        if self._engine is None:
            handler = _echo_async if PENDING else _echo_sync
            engine = _core.Engine(handler, EchoResponse, None, self._error, self.limits)
            for n in range(65):
                engine.add_route(METHODS, f"/limit/{n}", handler, None, n)
            self._engine = engine
        return self._engine

    @staticmethod
    def _error(req: Any, exc: BaseException) -> EchoResponse:
        return EchoResponse(500, b"error\n")


app = CorpusEchoApp()
