"""Redirect plain-HTTP requests to HTTPS (Starlette's HTTPSRedirectMiddleware semantics)."""

from __future__ import annotations

from ..requests import Request
from ..responses import RedirectResponse, Response
from .base import RequestResponseEndpoint


class HTTPSRedirectMiddleware:
    def __init__(self, app: RequestResponseEndpoint) -> None:
        self.app = app

    async def __call__(self, request: Request) -> Response:
        url = request.url
        if url.scheme in ("http", "ws"):
            scheme = {"http": "https", "ws": "wss"}[url.scheme]
            netloc = (url.hostname or "") if url.port in (80, 443) else url.netloc
            return RedirectResponse(url.replace(scheme=scheme, netloc=netloc), status_code=307)
        return await self.app(request)
