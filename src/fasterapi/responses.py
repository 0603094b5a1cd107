"""Response classes with Starlette/FastAPI semantics.

The engine writes a Response as its `status_code`, `raw_headers` (`list[tuple[bytes, bytes]]`) and
`body` (bytes) and adds Date, Server and Content-Length itself, so `raw_headers` never carries a
content-length.

Streaming: a StreamingResponse handed to the engine uncollected is sent as it comes: the engine
writes its head (Transfer-Encoding: chunked) and calls `_engine_stream(sink)`, whose task writes
each chunk through a `_core.StreamSink`. Where Python must see the whole body (middleware, an open
dependency with `yield`) and for a FileResponse, the body is collected first
(`await response.collect()`).
"""

from __future__ import annotations

import asyncio
import http.cookies
import json
import logging
import mimetypes
import os
import stat
from collections.abc import AsyncIterable, Iterable, Mapping
from datetime import datetime
from email.utils import format_datetime, formatdate
from typing import Any, Literal

from .background import BackgroundTask
from .concurrency import iterate_in_threadpool, run_in_threadpool
from .datastructures import URL, MutableHeaders

try:  # the engine's JSON writer: the fast path for JSONResponse
    from ._core import dumps as _core_dumps
except ImportError:  # engine not built: pure-Python fallback with the same output
    _core_dumps = None


def _py_dumps(content: Any, default: Any = None) -> bytes:
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"), default=default
    ).encode("utf-8")


def _json_default(obj: Any) -> Any:
    from .encoders import json_default

    return json_default(obj)


if _core_dumps is not None:
    def render_json(content: Any) -> bytes:
        return _core_dumps(content, default=_json_default)
else:
    def render_json(content: Any) -> bytes:
        return _py_dumps(content, _json_default)


_EMPTY_BODY_STATUS = frozenset({204, 304})

_CONTENT_TYPES: dict[tuple[str, str], tuple[bytes, bytes]] = {}


def _content_type_header(media_type: str, charset: str) -> tuple[bytes, bytes]:
    """The content-type header for a media type, built once per (media type, charset): it is on the
    hot path of every Response a handler builds."""
    header = _CONTENT_TYPES.get((media_type, charset))
    if header is None:
        value = media_type
        if media_type.startswith("text/") and "charset=" not in media_type.lower():
            value += "; charset=" + charset
        header = (b"content-type", value.encode("latin-1"))
        if len(_CONTENT_TYPES) < 256:  # bounded: media types may come from user input
            _CONTENT_TYPES[(media_type, charset)] = header
    return header


class ResponseBase:
    """Replaced by `starlette.responses.Response` once user code imports Starlette, so that
    `isinstance(response, starlette.responses.Response)` holds, as under FastAPI (every method
    that matters is Response's own; see fasterapi._foreign.adopt_starlette_exceptions)."""


class Response(ResponseBase):
    media_type: str | None = None
    charset = "utf-8"

    # A response whose body must be awaited before the engine can write it (streaming, files).
    needs_collect = False
    _body_iterator: Any = None

    @property
    def body_iterator(self) -> Any:
        """Starlette's streaming attribute, for middleware that reads or replaces the body of the
        response `call_next` gave it: the chunks still to collect, else the body as one chunk.
        Assigning an iterator makes it the body (collected before the response is sent)."""
        iterator = self._body_iterator
        return _one_chunk(self.body) if iterator is None else iterator

    @body_iterator.setter
    def body_iterator(self, iterator: Any) -> None:
        self._body_iterator = iterator
        self.needs_collect = True

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = background
        self.body = self.render(content)
        self.init_headers(headers)

    def render(self, content: Any) -> bytes:
        if type(content) is str:  # the common case first
            return content.encode(self.charset)
        if content is None:
            return b""
        if isinstance(content, (bytes, memoryview)):
            return bytes(content)
        return content.encode(self.charset)

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        raw: list[tuple[bytes, bytes]]
        if headers is None:
            # The common case (no headers given) without building sets: on every Response.
            media_type = self.media_type
            status = self.status_code
            if media_type is None or status < 200 or status in _EMPTY_BODY_STATUS:
                self.raw_headers = []
            else:
                header = _CONTENT_TYPES.get((media_type, self.charset))
                self.raw_headers = [header if header is not None else _content_type_header(media_type, self.charset)]
            return
            raw = []
            has_content_type = False
        else:
            raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
            keys = {k for k, _ in raw}
            has_content_type = b"content-type" in keys
            if b"content-length" in keys:  # the engine computes it
                raw = [(k, v) for k, v in raw if k != b"content-length"]
        media_type = self.media_type
        if media_type is not None and not has_content_type and not (
            self.status_code < 200 or self.status_code in _EMPTY_BODY_STATUS
        ):
            raw.append(_content_type_header(media_type, self.charset))
        self.raw_headers = raw

    @property
    def headers(self) -> MutableHeaders:
        headers = getattr(self, "_headers", None)
        if headers is None or headers.raw is not self.raw_headers:
            headers = MutableHeaders(raw=self.raw_headers)
            self._headers = headers
        return headers

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: int | None = None,
        expires: datetime | str | int | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: Literal["lax", "strict", "none"] | None = "lax",
        partitioned: bool = False,
    ) -> None:
        cookie: http.cookies.BaseCookie[str] = http.cookies.SimpleCookie()
        cookie[key] = value
        morsel = cookie[key]
        if max_age is not None:
            morsel["max-age"] = max_age
        if expires is not None:
            if isinstance(expires, datetime):
                morsel["expires"] = format_datetime(expires, usegmt=True)
            else:
                morsel["expires"] = expires
        if path is not None:
            morsel["path"] = path
        if domain is not None:
            morsel["domain"] = domain
        if secure:
            morsel["secure"] = True
        if httponly:
            morsel["httponly"] = True
        if samesite is not None:
            if samesite.lower() not in ("strict", "lax", "none"):
                raise ValueError("samesite must be either 'strict', 'lax' or 'none'")
            morsel["samesite"] = samesite
        if partitioned:
            morsel["partitioned"] = True
        self.raw_headers.append((b"set-cookie", cookie.output(header="").strip().encode("latin-1")))

    def delete_cookie(
        self,
        key: str,
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: Literal["lax", "strict", "none"] | None = "lax",
    ) -> None:
        self.set_cookie(
            key, max_age=0, expires=0, path=path, domain=domain, secure=secure, httponly=httponly, samesite=samesite
        )

    async def collect(self) -> None:
        """Make `body` final (a no-op except for streaming and file responses, and responses whose
        `body_iterator` was replaced)."""
        if self._body_iterator is not None:
            await StreamingResponse.collect(self)  # type: ignore[arg-type]

    def _engine_finish(self) -> Response | Any:
        """For a Response returned by a fast-path endpoint that still needs Python (a body to
        collect, background tasks to schedule): returns the response, or a coroutine for it."""
        if self.needs_collect:
            return self._collect_and_schedule()
        if self.background is not None:
            from .routing import schedule_background

            schedule_background(self.background)
        return self

    async def _collect_and_schedule(self) -> Response:
        await self.collect()
        if self.background is not None:
            from .routing import schedule_background

            schedule_background(self.background)
        return self

    @classmethod
    def _from_foreign(cls, obj: Any) -> Response:
        """Ours for a Starlette response (any subclass) returned by a fast-path endpoint: the
        engine calls this for a callable result whose type defines `init_headers`; anything else
        comes back unchanged (and is written as JSON)."""
        from ._foreign import is_foreign_response, to_response

        return to_response(obj) if is_foreign_response(obj) else obj

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Send this response as an ASGI app does (in pure ASGI middleware or a mounted ASGI app)."""
        from ._asgi_bridge import send_response

        await send_response(self, send)
        if self.background is not None:
            await self.background()

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} {self.status_code}>"


class HTMLResponse(Response):
    media_type = "text/html"


class PlainTextResponse(Response):
    media_type = "text/plain"


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return render_json(content)


class ORJSONResponse(JSONResponse):
    """Uses orjson when it is installed, the engine's writer otherwise (same output for plain data)."""

    def render(self, content: Any) -> bytes:
        try:
            import orjson
        except ImportError:
            return render_json(content)
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)


class UJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        try:
            import ujson
        except ImportError:
            return render_json(content)
        return ujson.dumps(content, ensure_ascii=False).encode("utf-8")


class RedirectResponse(Response):
    def __init__(
        self,
        url: str | URL,
        status_code: int = 307,
        headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(content=b"", status_code=status_code, headers=headers, background=background)
        from urllib.parse import quote

        self.raw_headers.append((b"location", quote(str(url), safe=":/%#?=@[]!$&'()*+,;").encode("latin-1")))


ContentStream = AsyncIterable[Any] | Iterable[Any]


async def _one_chunk(body: bytes) -> Any:
    yield body


# A streaming body waits while more than this is unsent on its connection (until under the low mark).
_STREAM_HIGH_WATER = 256 * 1024
_STREAM_LOW_WATER = 64 * 1024


class StreamingResponse(Response):
    """Sync or async iterator of str/bytes chunks; collected into `body` (see module docstring)."""

    needs_collect = True

    def __init__(
        self,
        content: ContentStream,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.body_iterator = content
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = background
        self.body = b""
        self.init_headers(headers)

    async def collect(self) -> None:
        chunks: list[bytes] = []
        iterator = self._body_iterator
        if iterator is None:  # collected already
            self.needs_collect = False
            return
        self._body_iterator = None  # once collected, body_iterator yields the body
        if not hasattr(iterator, "__aiter__"):
            iterator = iterate_in_threadpool(iterator)  # type: ignore[arg-type]
        async for chunk in iterator:  # type: ignore[union-attr]
            chunks.append(chunk if isinstance(chunk, (bytes, memoryview)) else chunk.encode(self.charset))
        self.body = b"".join(chunks)
        self.needs_collect = False

    def _engine_stream(self, sink: Any) -> None:
        """Called by the engine once the head is out: the body goes through `sink` (a
        _core.StreamSink) as the iterator yields it, from a task on the running loop."""
        from . import _runtime

        _runtime.spawn(self._stream_into(sink))

    async def _stream_into(self, sink: Any) -> None:
        iterator = self._body_iterator
        self._body_iterator = None
        self.needs_collect = False
        try:
            if sink.head_only:  # HEAD, 204, 304: no body to produce
                sink.close()
                return
            if not hasattr(iterator, "__aiter__"):
                iterator = iterate_in_threadpool(iterator)  # type: ignore[arg-type]
            async for chunk in iterator:  # type: ignore[union-attr]
                if not sink.write(chunk if isinstance(chunk, (bytes, memoryview)) else chunk.encode(self.charset)):
                    break  # the client went away
                if sink.backlog > _STREAM_HIGH_WATER:
                    # Backpressure: a slow client holds the producer, not the process's memory.
                    while sink.backlog > _STREAM_LOW_WATER and not sink.closed:
                        await asyncio.sleep(0.005)
            sink.close()
        except Exception as exc:
            sink.abort()  # the client sees a truncated body, never a complete-looking one
            logging.getLogger("fasterapi.error").exception("Exception in a streaming response body")
            observer = getattr(self, "_error_observer", None)
            if observer is not None:
                observer(exc)
        finally:
            close = getattr(iterator, "aclose", None)
            if close is not None:
                await close()
            if self.background is not None:
                from .routing import schedule_background

                schedule_background(self.background)  # after the body is sent, as Starlette


class FileResponse(Response):
    """Serves a file (read when the response is collected)."""

    needs_collect = True
    chunk_size = 64 * 1024

    def __init__(
        self,
        path: str | os.PathLike[str],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
        filename: str | None = None,
        stat_result: os.stat_result | None = None,
        method: str | None = None,
        content_disposition_type: str = "attachment",
    ) -> None:
        self.path = path
        self.status_code = status_code
        self.filename = filename
        if media_type is None:
            media_type = mimetypes.guess_type(filename or str(path))[0] or "text/plain"
        self.media_type = media_type
        self.background = background
        self.body = b""
        self.send_body = method is None or method.upper() != "HEAD"
        self.init_headers(headers)
        if filename is not None:
            from urllib.parse import quote

            quoted = quote(filename)
            if quoted != filename:
                disposition = f"{content_disposition_type}; filename*=utf-8''{quoted}"
            else:
                disposition = f'{content_disposition_type}; filename="{filename}"'
            self.raw_headers.append((b"content-disposition", disposition.encode("latin-1")))
        self.stat_result = stat_result
        if stat_result is not None:
            self._set_stat_headers(stat_result)

    def _set_stat_headers(self, stat_result: os.stat_result) -> None:
        import hashlib

        etag_base = f"{stat_result.st_mtime}-{stat_result.st_size}"
        etag = f'"{hashlib.md5(etag_base.encode(), usedforsecurity=False).hexdigest()}"'
        headers = self.headers
        headers.setdefault("last-modified", formatdate(stat_result.st_mtime, usegmt=True))
        headers.setdefault("etag", etag)

    async def collect(self) -> None:
        def read() -> tuple[os.stat_result, bytes]:
            st = os.stat(self.path)
            if not stat.S_ISREG(st.st_mode):
                raise RuntimeError(f"File at path {self.path} is not a file.")
            with open(self.path, "rb") as f:
                return st, f.read()

        st, data = await run_in_threadpool(read)
        if self.stat_result is None:
            self.stat_result = st
            self._set_stat_headers(st)
        self.body = data if self.send_body else b""
        self.needs_collect = False


__all__ = [
    "Response",
    "HTMLResponse",
    "PlainTextResponse",
    "JSONResponse",
    "ORJSONResponse",
    "UJSONResponse",
    "RedirectResponse",
    "StreamingResponse",
    "FileResponse",
]


def __getattr__(name: str) -> Any:
    # fastapi.responses.EventSourceResponse (FastAPI 0.16x), defined in fasterapi.sse (which
    # imports this module): imported on first use.
    if name == "EventSourceResponse":
        from .sse import EventSourceResponse

        return EventSourceResponse
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
