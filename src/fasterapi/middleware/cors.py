"""CORS with Starlette's CORSMiddleware semantics (preflight answers and simple-request headers)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..requests import Request
from ..responses import PlainTextResponse, Response
from .base import RequestResponseEndpoint

ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
SAFELISTED_HEADERS = {"Accept", "Accept-Language", "Content-Language", "Content-Type"}


class CORSMiddleware:
    # A request without an Origin header passes through untouched: the engine serves those on its
    # native routes and fast plans and sends only requests carrying one of these headers through
    # the middleware stack (FasterAPI._python_routing_headers).
    python_routing_headers = ("origin",)

    def __init__(
        self,
        app: RequestResponseEndpoint,
        allow_origins: Sequence[str] = (),
        allow_methods: Sequence[str] = ("GET",),
        allow_headers: Sequence[str] = (),
        allow_credentials: bool = False,
        allow_origin_regex: str | None = None,
        allow_private_network: bool = False,
        expose_headers: Sequence[str] = (),
        max_age: int = 600,
    ) -> None:
        if "*" in allow_methods:
            allow_methods = ALL_METHODS
        self.app = app
        self.allow_origins = allow_origins
        self.allow_methods = allow_methods
        self.allow_all_origins = "*" in allow_origins
        self.allow_all_headers = "*" in allow_headers
        self.allow_headers = [h.lower() for h in sorted(SAFELISTED_HEADERS | set(allow_headers))]
        self.allow_origin_regex = re.compile(allow_origin_regex) if allow_origin_regex is not None else None
        self.allow_private_network = allow_private_network
        self.preflight_explicit_allow_origin = not self.allow_all_origins or allow_credentials

        simple_headers: dict[str, str] = {}
        if self.allow_all_origins:
            simple_headers["Access-Control-Allow-Origin"] = "*"
        if allow_credentials:
            simple_headers["Access-Control-Allow-Credentials"] = "true"
        if expose_headers:
            simple_headers["Access-Control-Expose-Headers"] = ", ".join(expose_headers)
        self.simple_headers = simple_headers

        preflight_headers: dict[str, str] = {}
        if self.preflight_explicit_allow_origin:
            preflight_headers["Vary"] = "Origin"
        else:
            preflight_headers["Access-Control-Allow-Origin"] = "*"
        preflight_headers["Access-Control-Allow-Methods"] = ", ".join(allow_methods)
        preflight_headers["Access-Control-Max-Age"] = str(max_age)
        if self.allow_headers and not self.allow_all_headers:
            preflight_headers["Access-Control-Allow-Headers"] = ", ".join(self.allow_headers)
        if allow_credentials:
            preflight_headers["Access-Control-Allow-Credentials"] = "true"
        self.preflight_headers = preflight_headers

    async def __call__(self, request: Request) -> Response:
        headers = request.headers
        origin = headers.get("origin")
        if origin is None:
            return await self.app(request)
        if request.method == "OPTIONS" and "access-control-request-method" in headers:
            return self.preflight_response(request)
        return await self.simple_response(request, origin)

    def is_allowed_origin(self, origin: str) -> bool:
        if self.allow_all_origins:
            return True
        if self.allow_origin_regex is not None and self.allow_origin_regex.fullmatch(origin):
            return True
        return origin in self.allow_origins

    def preflight_response(self, request: Request) -> Response:
        request_headers = request.headers
        requested_origin = request_headers["origin"]
        requested_method = request_headers["access-control-request-method"]
        requested_headers = request_headers.get("access-control-request-headers")
        headers = dict(self.preflight_headers)
        failures = []
        if self.is_allowed_origin(requested_origin):
            if self.preflight_explicit_allow_origin:
                headers["Access-Control-Allow-Origin"] = requested_origin
        else:
            failures.append("origin")
        if requested_method not in self.allow_methods:
            failures.append("method")
        if self.allow_all_headers and requested_headers is not None:
            headers["Access-Control-Allow-Headers"] = requested_headers
        elif requested_headers is not None:
            for header in (h.strip().lower() for h in requested_headers.split(",")):
                if header and header not in self.allow_headers:
                    failures.append("headers")
                    break
        if self.allow_private_network and request_headers.get("access-control-request-private-network") == "true":
            headers["Access-Control-Allow-Private-Network"] = "true"
        if failures:
            return PlainTextResponse("Disallowed CORS " + ", ".join(failures), status_code=400, headers=headers)
        return PlainTextResponse("OK", status_code=200, headers=headers)

    async def simple_response(self, request: Request, origin: str) -> Response:
        response = await self.app(request)
        headers = response.headers
        for key, value in self.simple_headers.items():
            headers[key] = value
        has_cookie = "cookie" in request.headers
        if (self.allow_all_origins and has_cookie) or (
            not self.allow_all_origins and self.is_allowed_origin(origin)
        ):
            headers["Access-Control-Allow-Origin"] = origin
            headers.add_vary_header("Origin")
        return response
