"""Reject requests whose Host header is not allowed (Starlette's TrustedHostMiddleware semantics)."""

from __future__ import annotations

from collections.abc import Sequence

from ..datastructures import URL
from ..requests import Request
from ..responses import PlainTextResponse, RedirectResponse, Response
from .base import RequestResponseEndpoint

ENFORCE_DOMAIN_WILDCARD = "Domain wildcard patterns must be like '*.example.com'."


class TrustedHostMiddleware:
    def __init__(
        self, app: RequestResponseEndpoint, allowed_hosts: Sequence[str] | None = None, www_redirect: bool = True
    ) -> None:
        if allowed_hosts is None:
            allowed_hosts = ["*"]
        for pattern in allowed_hosts:
            assert "*" not in pattern[1:], ENFORCE_DOMAIN_WILDCARD
            if pattern.startswith("*") and pattern != "*":
                assert pattern.startswith("*."), ENFORCE_DOMAIN_WILDCARD
        self.app = app
        self.allowed_hosts = list(allowed_hosts)
        self.allow_any = "*" in allowed_hosts
        self.www_redirect = www_redirect

    async def __call__(self, request: Request) -> Response:
        if self.allow_any:
            return await self.app(request)
        host = request.headers.get("host", "").split(":")[0]
        is_valid = False
        found_www_redirect = False
        for pattern in self.allowed_hosts:
            if host == pattern or (pattern.startswith("*") and host.endswith(pattern[1:])):
                is_valid = True
                break
            if "www." + host == pattern:
                found_www_redirect = True
        if is_valid:
            return await self.app(request)
        if found_www_redirect and self.www_redirect:
            url: URL = request.url
            return RedirectResponse(url.replace(netloc="www." + url.netloc))
        return PlainTextResponse("Invalid host header", status_code=400)
