from __future__ import annotations

from ..openapi.models import OpenIdConnect as OpenIdConnectModel
from ..requests import Request
from .base import SecurityBase, not_authenticated


class OpenIdConnect(SecurityBase):
    """OpenID Connect discovery: returns the raw `Authorization` header value."""

    def __init__(
        self,
        *,
        openIdConnectUrl: str,  # noqa: N803 - FastAPI's keyword
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        self.model = OpenIdConnectModel(openIdConnectUrl=openIdConnectUrl, description=description)
        self.scheme_name = scheme_name or self.__class__.__name__
        self.auto_error = auto_error

    def make_not_authenticated_error(self) -> Exception:
        return not_authenticated("Bearer")

    async def __call__(self, request: Request) -> str | None:
        authorization = request.headers.get("Authorization")
        if not authorization:
            if self.auto_error:
                raise self.make_not_authenticated_error()
            return None
        return authorization
