"""Exceptions with FastAPI's names and fields."""

from __future__ import annotations

import http
from collections.abc import Mapping, Sequence
from typing import Any


class StarletteBase(Exception):
    """The base of the exceptions FastAPI re-exports from Starlette: replaced by Starlette's own
    class once user code imports Starlette (fasterapi._foreign.adopt_starlette_exceptions)."""


class StarletteHTTPException(StarletteBase):
    """The base HTTP error (Starlette's HTTPException): routing raises it for 404/405.

    As in FastAPI, a handler registered for `HTTPException` does not see the router's 404/405;
    register it for `StarletteHTTPException` to handle both.
    """

    def __init__(self, status_code: int, detail: Any = None, headers: Mapping[str, str] | None = None) -> None:
        if detail is None:
            detail = http.HTTPStatus(status_code).phrase
        self.status_code = status_code
        self.detail = detail
        self.headers = headers

    def __str__(self) -> str:
        return f"{self.status_code}: {self.detail}"

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(status_code={self.status_code!r}, detail={self.detail!r})"


class HTTPException(StarletteHTTPException):
    """Raise to return an HTTP error: the default handler answers `{"detail": detail}` with `headers`."""


class WebSocketException(StarletteBase):
    def __init__(self, code: int, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""


class FastAPIError(RuntimeError):
    """A problem in how the app is written (raised at registration time)."""


FasterAPIError = FastAPIError


class DependencyScopeError(FastAPIError):
    pass


class ValidationException(Exception):
    def __init__(self, errors: Sequence[Any]) -> None:
        self._errors = errors

    def errors(self) -> Sequence[Any]:
        return self._errors


class RequestValidationError(ValidationException):
    """Request data failed validation; the default handler answers 422 `{"detail": errors}`."""

    def __init__(self, errors: Sequence[Any], *, body: Any = None) -> None:
        super().__init__(errors)
        self.body = body

    def __str__(self) -> str:
        lines = [f"{len(self._errors)} validation error{'s' if len(self._errors) != 1 else ''}:"]
        lines.extend(f"  {e}" for e in self._errors)
        return "\n".join(lines)


class WebSocketRequestValidationError(ValidationException):
    pass


class ResponseValidationError(ValidationException):
    """The endpoint's return value does not match its response_model (a server bug: 500)."""

    def __init__(self, errors: Sequence[Any], *, body: Any = None) -> None:
        super().__init__(errors)
        self.body = body

    def __str__(self) -> str:
        lines = [f"{len(self._errors)} validation error{'s' if len(self._errors) != 1 else ''}:"]
        lines.extend(f"  {e}" for e in self._errors)
        return "\n".join(lines)


class FastAPIDeprecationWarning(UserWarning):
    """A deprecated FastAPI feature was used (FastAPI's warning class, for warning filters)."""


FasterAPIDeprecationWarning = FastAPIDeprecationWarning
