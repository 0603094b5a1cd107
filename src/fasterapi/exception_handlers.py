"""FastAPI's default exception handlers (awaitable, so user handlers can delegate to them).

The routing layer calls the synchronous `*_response` functions directly when the default handler is
in place, so the common 404/422 paths do not create a coroutine.
"""

from __future__ import annotations

from typing import Any

from .dependencies.utils import is_body_allowed_for_status_code
from .encoders import jsonable_encoder
from .exceptions import RequestValidationError, StarletteHTTPException, WebSocketRequestValidationError
from .responses import JSONResponse, Response


def http_exception_response(exc: StarletteHTTPException) -> Response:
    headers = getattr(exc, "headers", None)
    if not is_body_allowed_for_status_code(exc.status_code):
        return Response(status_code=exc.status_code, headers=headers)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


def request_validation_response(exc: RequestValidationError) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(exc.errors())})


async def http_exception_handler(request: Any, exc: StarletteHTTPException) -> Response:
    return http_exception_response(exc)


async def request_validation_exception_handler(request: Any, exc: RequestValidationError) -> JSONResponse:
    return request_validation_response(exc)


async def websocket_request_validation_exception_handler(websocket: Any, exc: WebSocketRequestValidationError) -> None:
    # As FastAPI: close with 1008 and the errors as the reason (the engine sends them as JSON text).
    await websocket.close(code=1008, reason=jsonable_encoder(exc.errors()))


# Default handler -> its synchronous twin.
SYNC_DEFAULTS: dict[Any, Any] = {
    http_exception_handler: http_exception_response,
    request_validation_exception_handler: request_validation_response,
}
