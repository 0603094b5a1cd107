"""The echo endpoint the hostile-request corpus assumes, built on the bare engine (no application
layer) for the in-process parser test (tests/integration/test_h11_differential.py): any method on
any path answers 200 `ECHO <METHOD> <raw path> len=<body bytes> host=<Host>`. Not an ASGI app (not
for `fasterapi run`): over sockets the corpus is served by the Starlette app of corpus_echo_app.py."""

from __future__ import annotations

from typing import Any

from fasterapi import _core


class EchoResponse:
    def __init__(self, status_code: int, body: bytes) -> None:
        self.status_code = status_code
        self.raw_headers = [(b"content-type", b"text/plain; charset=utf-8")]
        self.body = body


class EchoApp:
    def __init__(self) -> None:
        self._engine: Any = None
        self.limits: dict[str, int] = {}

    def _build_engine(self) -> Any:
        if self._engine is None:
            self._engine = _core.Engine(self._echo, EchoResponse, None, self._error, self.limits)
            self._engine.python_routing = True
        return self._engine

    @staticmethod
    def _echo(req: Any) -> EchoResponse:
        host = next((v for k, v in req.headers if k == b"host"), b"")
        body = b"ECHO %s %s len=%d host=%s\n" % (req.method.encode("latin-1"), req.raw_path, len(req.body), host)
        return EchoResponse(200, body)

    @staticmethod
    def _error(req: Any, exc: BaseException) -> EchoResponse:
        return EchoResponse(500, b"error\n")


app = EchoApp()
