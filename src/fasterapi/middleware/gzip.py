"""Gzip response bodies for clients that accept it (Starlette's GZipMiddleware semantics)."""

from __future__ import annotations

import gzip as _gzip

from ..requests import Request
from ..responses import Response
from .base import RequestResponseEndpoint

_EXCLUDED_CONTENT_TYPES = ("text/event-stream",)


class GZipMiddleware:
    def __init__(self, app: RequestResponseEndpoint, minimum_size: int = 500, compresslevel: int = 9) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.compresslevel = compresslevel

    async def __call__(self, request: Request) -> Response:
        accepts = "gzip" in request.headers.get("accept-encoding", "")
        response = await self.app(request)
        if not accepts:
            return response
        if response.needs_collect:
            await response.collect()
        headers = response.headers
        content_type = headers.get("content-type", "")
        if (
            len(response.body) < self.minimum_size
            or "content-encoding" in headers
            or content_type.startswith(_EXCLUDED_CONTENT_TYPES)
        ):
            return response
        response.body = _gzip.compress(response.body, compresslevel=self.compresslevel, mtime=0)
        headers["Content-Encoding"] = "gzip"
        headers.add_vary_header("Accept-Encoding")
        return response
