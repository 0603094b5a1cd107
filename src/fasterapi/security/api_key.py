"""API keys read from a query parameter, a header or a cookie."""

from __future__ import annotations

from ..openapi.models import APIKey, APIKeyIn
from ..requests import Request
from .base import SecurityBase, not_authenticated


class APIKeyBase(SecurityBase):
    model: APIKey

    def __init__(
        self, *, location: APIKeyIn, name: str, description: str | None, scheme_name: str | None, auto_error: bool
    ) -> None:
        self.model = APIKey(**{"in": location}, name=name, description=description)
        self.scheme_name = scheme_name or self.__class__.__name__
        self.auto_error = auto_error

    def make_not_authenticated_error(self) -> Exception:
        return not_authenticated("APIKey")

    def check_api_key(self, api_key: str | None) -> str | None:
        if not api_key:
            if self.auto_error:
                raise self.make_not_authenticated_error()
            return None
        return api_key


class APIKeyQuery(APIKeyBase):
    def __init__(
        self, *, name: str, scheme_name: str | None = None, description: str | None = None, auto_error: bool = True
    ) -> None:
        super().__init__(
            location=APIKeyIn.query, name=name, description=description, scheme_name=scheme_name, auto_error=auto_error
        )

    async def __call__(self, request: Request) -> str | None:
        return self.check_api_key(request.query_params.get(self.model.name))


class APIKeyHeader(APIKeyBase):
    def __init__(
        self, *, name: str, scheme_name: str | None = None, description: str | None = None, auto_error: bool = True
    ) -> None:
        super().__init__(
            location=APIKeyIn.header, name=name, description=description, scheme_name=scheme_name, auto_error=auto_error
        )

    async def __call__(self, request: Request) -> str | None:
        return self.check_api_key(request.headers.get(self.model.name))


class APIKeyCookie(APIKeyBase):
    def __init__(
        self, *, name: str, scheme_name: str | None = None, description: str | None = None, auto_error: bool = True
    ) -> None:
        super().__init__(
            location=APIKeyIn.cookie, name=name, description=description, scheme_name=scheme_name, auto_error=auto_error
        )

    async def __call__(self, request: Request) -> str | None:
        return self.check_api_key(request.cookies.get(self.model.name))
