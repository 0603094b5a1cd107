"""The middleware protocol, and `BaseHTTPMiddleware` for `@app.middleware("http")`.

FasterAPI's own middleware (CORS, GZip, ...) is request-style, not ASGI. A middleware is a class
constructed once, when the app is built:

    class MyMiddleware:
        def __init__(self, app, **options): ...       # app: async (Request) -> Response
        async def __call__(self, request) -> Response: # call `await self.app(request)` to go on

`app.add_middleware(MyMiddleware, **options)` adds it; the last one added is the outermost (as in
Starlette). The request object is shared with the endpoint (so `request.state` set in middleware is
visible there). The response returned by the inner app is a complete `Response` (body in `body`,
headers in `raw_headers`/`headers`) that middleware may modify in place or replace. Exceptions not
handled by the app's exception handlers propagate out of `await self.app(request)`.
An app with middleware routes every request in Python (the native fast path is off), unless every
middleware class declares `python_routing_headers` (CORS: only requests with an Origin header).

Pure ASGI middleware (`__call__(self, scope, receive, send)`, as in Starlette) can be added the same
way and mix with these in the declared order: `fasterapi._asgi_bridge` adapts at the boundaries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from .. import _foreign
from ..requests import Request
from ..responses import Response

RequestResponseEndpoint = Callable[[Request], Awaitable[Response]]
DispatchFunction = Callable[[Request, RequestResponseEndpoint], Awaitable[Response]]


class BaseHTTPMiddleware:
    """Subclass and override `dispatch(request, call_next)`, or pass `dispatch=` (what
    `@app.middleware("http")` does)."""

    def __init__(self, app: RequestResponseEndpoint, dispatch: DispatchFunction | None = None) -> None:
        self.app = app
        self.dispatch_func = self.dispatch if dispatch is None else dispatch

    async def __call__(self, request: Request) -> Response:
        return await self.dispatch_func(request, self.call_next)

    async def call_next(self, request: Request) -> Response:
        # An inner middleware may answer with a Starlette response: the outer one gets ours
        # (body_iterator, headers), as under FastAPI.
        return _foreign.adapt(await self.app(request))

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        raise NotImplementedError()  # pragma: no cover
