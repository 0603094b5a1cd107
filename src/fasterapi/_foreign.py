"""Starlette objects handed to FasterAPI by user code (imports of `starlette.*` left as they are).

Starlette is optional and never imported here: a foreign object is recognised by the module and
name of a class in its MRO, and `starlette.*` modules are only looked up in `sys.modules` (they are
loaded when such an object exists). Everything here runs off the hot path: at route analysis, on
the error path, or for results that are neither plain JSON nor one of our Responses.

- responses: `to_response(obj)` turns a `starlette.responses.Response` (any subclass) into ours.
  A plain one (Starlette's own `__call__`: JSON/HTML/PlainText/Redirect) is copied as status,
  headers and body; any other (Streaming, File, custom `__call__`) becomes a `ForeignResponse`
  that runs it as an ASGI app when the engine collects it.
- exceptions: `starlette.exceptions.HTTPException` is handled as our HTTPException; handlers
  registered for it (or `WebSocketException`) are registered for ours (`handler_key`).
- annotations: Starlette's Request, HTTPConnection, Response, BackgroundTasks, UploadFile mean ours
  (`special_class`, `translate_annotation`).
"""

from __future__ import annotations

import sys
import types
import typing
from typing import Annotated, Any, get_args, get_origin

from .responses import Response

_STARLETTE_PREFIX = "starlette."


def _starlette_base(cls: type, module: str, name: str) -> bool:
    """Whether `module.name` (a Starlette class) is in cls's MRO."""
    try:
        mro = cls.__mro__
    except AttributeError:
        return False
    for base in mro:
        if base.__name__ == name and base.__module__ == module:
            return True
    return False


# --------------------------------------------------------------------------------- responses


def is_foreign_response(obj: Any) -> bool:
    return not isinstance(obj, Response) and _starlette_base(type(obj), "starlette.responses", "Response")


def _copy_headers(raw: Any) -> list[tuple[bytes, bytes]]:
    # The engine computes Content-Length itself.
    return [(bytes(k), bytes(v)) for k, v in raw if bytes(k).lower() != b"content-length"]


def to_response(obj: Any, request_headers: Any = None) -> Response:
    """Our Response for a Starlette one (background tasks kept, to run after it is sent).
    `request_headers` (raw pairs) reach a response run as an ASGI app (FileResponse: Range)."""
    starlette_response = sys.modules["starlette.responses"].Response
    cls = type(obj)
    if cls.__call__ is starlette_response.__call__ and isinstance(getattr(obj, "body", None), (bytes, memoryview)):
        response = Response.__new__(Response)
        response.status_code = obj.status_code
        response.raw_headers = _copy_headers(obj.raw_headers)
        response.body = bytes(obj.body)
        response.background = getattr(obj, "background", None)
        media_type = getattr(obj, "media_type", None)
        if media_type is not None:
            response.media_type = media_type
        return response
    return ForeignResponse(obj, request_headers)


def response_factory(cls: Any) -> Any:
    """For `response_class=` a Starlette response class: a callable making ours through it, else
    None."""
    if not isinstance(cls, type) or issubclass(cls, Response) or not _starlette_base(cls, "starlette.responses", "Response"):
        return None

    def make(*args: Any, **kwargs: Any) -> Response:
        return to_response(cls(*args, **kwargs))

    make.media_type = getattr(cls, "media_type", None)  # type: ignore[attr-defined]
    return make


def adapt(result: Any) -> Any:
    """A handler's result (a Response, or a Starlette response) as ours."""
    if not isinstance(result, Response) and is_foreign_response(result):
        return to_response(result)
    return result


def adapt_collected(result: Any) -> Any:
    """An exception handler's result (a Response, an awaitable of one, or a Starlette response) as
    our Response, or an awaitable of one whose body is final."""
    if hasattr(result, "__await__"):
        return _adapt_awaited(result)
    result = adapt(result)
    if isinstance(result, ForeignResponse):
        return _collected(result)
    return result


async def _collected(response: Response) -> Response:
    await response.collect()
    return response


async def _adapt_awaited(result: Any) -> Any:
    value = adapt(await result)
    if isinstance(value, ForeignResponse):
        await value.collect()
    return value


async def _never_receive() -> dict[str, Any]:
    """ASGI receive for a response run after its request was read (cancelled when it ends)."""
    import asyncio

    await asyncio.Event().wait()
    return {"type": "http.disconnect"}  # pragma: no cover


class ForeignResponse(Response):
    """A Starlette response with its own `__call__` (streaming, file, custom): its ASGI messages are
    collected into status, headers and body before the engine writes it."""

    needs_collect = True

    def __init__(self, foreign: Any, request_headers: Any = None) -> None:
        self._foreign = foreign
        self._request_headers = list(request_headers) if request_headers else []
        self.status_code = foreign.status_code
        self.raw_headers = _copy_headers(getattr(foreign, "raw_headers", []))
        self.body = b""
        self.background = getattr(foreign, "background", None)
        media_type = getattr(foreign, "media_type", None)
        if media_type is not None:
            self.media_type = media_type
        # GET even for HEAD: the engine drops the body of a HEAD response and keeps its length.
        self.method = "GET"

    def _scope(self) -> dict[str, Any]:
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": self.method,
            "scheme": "http",
            "path": "/",
            "raw_path": b"/",
            "query_string": b"",
            "root_path": "",
            "headers": self._request_headers,
            "extensions": {},
        }

    async def collect(self) -> None:
        foreign = self._foreign
        background = foreign.background if hasattr(foreign, "background") else None
        started: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                started.update(message)
            elif kind == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))
            elif kind == "http.response.pathsend":  # pragma: no cover - not offered in the scope
                with open(message["path"], "rb") as f:
                    chunks.append(f.read())

        if background is not None:
            foreign.background = None  # run after the response is sent, by the engine
        try:
            await foreign(self._scope(), _never_receive, send)
        finally:
            if background is not None:
                foreign.background = background
        if started:
            self.status_code = int(started.get("status", self.status_code))
            self.raw_headers = _copy_headers(started.get("headers") or [])
        self.body = b"".join(chunks)
        self.needs_collect = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # Inside pure ASGI middleware: the Starlette response answers for itself.
        await self._foreign(scope, receive, send)


# -------------------------------------------------------------------------------- exceptions


def ours_for(exc: BaseException) -> type | None:
    """Our class standing for a Starlette HTTPException/WebSocketException (instance of any
    subclass), else None."""
    for base in type(exc).__mro__:
        if base.__module__ == "starlette.exceptions":
            from . import exceptions

            if base.__name__ == "HTTPException":
                return exceptions.StarletteHTTPException
            if base.__name__ == "WebSocketException":
                return exceptions.WebSocketException
    return None


def handler_key(key: Any) -> Any:
    """The key an exception handler is registered under: Starlette's HTTPException and
    WebSocketException mean ours (FastAPI's subclass them)."""
    if isinstance(key, type) and key.__module__ == "starlette.exceptions":
        from . import exceptions

        if key.__name__ == "HTTPException":
            return exceptions.StarletteHTTPException
        if key.__name__ == "WebSocketException":
            return exceptions.WebSocketException
    return key


# ------------------------------------------------------------------------------- annotations

_SPECIAL = {
    ("starlette.requests", "Request"): ("requests", "Request"),
    ("starlette.requests", "HTTPConnection"): ("requests", "HTTPConnection"),
    ("starlette.websockets", "WebSocket"): ("websockets", "WebSocket"),
    ("starlette.responses", "Response"): ("responses", "Response"),
    ("starlette.background", "BackgroundTasks"): ("background", "BackgroundTasks"),
}


def special_class(annotation: type) -> type | None:
    """Our class for a parameter annotated with a Starlette Request/HTTPConnection/WebSocket/
    Response/BackgroundTasks (or a subclass of one), else None."""
    for base in getattr(annotation, "__mro__", ()):
        module = getattr(base, "__module__", "")
        if not module.startswith(_STARLETTE_PREFIX):
            continue
        target = _SPECIAL.get((module, base.__name__))
        if target is not None:
            import importlib

            return getattr(importlib.import_module("." + target[0], __package__), target[1])
    return None


def _is_starlette_upload(obj: Any) -> bool:
    return isinstance(obj, type) and _starlette_base(obj, "starlette.datastructures", "UploadFile")


def translate_annotation(annotation: Any) -> Any:
    """`starlette.datastructures.UploadFile` (also inside Optional/Union/list/Annotated) -> ours,
    so such parameters are file parameters. Other annotations are returned unchanged."""
    if "starlette.datastructures" not in sys.modules:
        return annotation
    return _translate(annotation)


def _translate(annotation: Any) -> Any:
    if _is_starlette_upload(annotation):
        from .datastructures import UploadFile

        return UploadFile
    origin = get_origin(annotation)
    if origin is None:
        return annotation
    args = get_args(annotation)
    if origin is Annotated:
        base = _translate(args[0])
        return annotation if base is args[0] else Annotated[(base, *args[1:])]  # type: ignore[misc]
    new_args = tuple(_translate(a) for a in args)
    if all(a is b for a, b in zip(new_args, args)):
        return annotation
    if origin is typing.Union or origin is types.UnionType:
        return typing.Union[new_args]  # type: ignore[return-value]
    if origin in (list, set, frozenset, tuple):
        return origin[new_args]  # type: ignore[index]
    try:
        return annotation.copy_with(new_args)
    except AttributeError:
        return annotation


# Our exception classes stand where FastAPI re-exports Starlette's. When user code has imported
# Starlette, ours become subclasses of Starlette's (their layouts are the same: plain Exception
# subclasses), so `except starlette.exceptions.HTTPException` / `pytest.raises(
# starlette.websockets.WebSocketDisconnect)` catch what FasterAPI raises, as under FastAPI.
# Checked when an app or a TestClient is made: no import of Starlette from here.
_EXCEPTION_BASES = (
    ("starlette.exceptions", "HTTPException", "exceptions", "StarletteHTTPException"),
    ("starlette.exceptions", "WebSocketException", "exceptions", "WebSocketException"),
    ("starlette.websockets", "WebSocketDisconnect", "websockets", "WebSocketDisconnect"),
    ("starlette.responses", "Response", "responses", "Response"),
)


_PLACEHOLDERS = ("StarletteBase", "ResponseBase")


def adopt_starlette_exceptions() -> None:
    import importlib

    for module, name, our_module, our_name in _EXCEPTION_BASES:
        theirs = getattr(sys.modules.get(module), name, None)
        if not isinstance(theirs, type):
            continue
        ours = getattr(importlib.import_module(f"{__package__}.{our_module}"), our_name)
        if issubclass(ours, theirs) or len(ours.__bases__) != 1 or ours.__bases__[0].__name__ not in _PLACEHOLDERS:
            continue
        try:
            ours.__bases__ = (theirs,)
        except TypeError:  # a layout that differs (another Starlette): leave ours as it is
            pass

