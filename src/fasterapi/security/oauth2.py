"""OAuth2 flows (password, authorization code), the password request form, and `SecurityScopes`."""

from __future__ import annotations

from typing import Annotated, Any

from ..openapi.models import OAuth2 as OAuth2Model
from ..openapi.models import OAuthFlows as OAuthFlowsModel
from ..param_functions import Form
from ..requests import Request
from .base import SecurityBase, not_authenticated
from .utils import get_authorization_scheme_param


class OAuth2PasswordRequestForm:
    """The form fields of RFC 6749's password grant, as a dependency class (`Depends()`).

    `scope` arrives as one space-separated string and is exposed as the list `scopes`.
    """

    def __init__(
        self,
        *,
        grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
        username: Annotated[str, Form()],
        password: Annotated[str, Form(json_schema_extra={"format": "password"})],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form(json_schema_extra={"format": "password"})] = None,
    ) -> None:
        self.grant_type = grant_type
        self.username = username
        self.password = password
        self.scopes = scope.split()
        self.client_id = client_id
        self.client_secret = client_secret


class OAuth2PasswordRequestFormStrict(OAuth2PasswordRequestForm):
    """Like `OAuth2PasswordRequestForm`, but `grant_type=password` is required, as the spec says."""

    def __init__(
        self,
        grant_type: Annotated[str, Form(pattern="^password$")],
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form()] = None,
    ) -> None:
        super().__init__(
            grant_type=grant_type,
            username=username,
            password=password,
            scope=scope,
            client_id=client_id,
            client_secret=client_secret,
        )


class OAuth2(SecurityBase):
    """Any OAuth2 flow: returns the raw `Authorization` header value."""

    def __init__(
        self,
        *,
        flows: OAuthFlowsModel | dict[str, dict[str, Any]] = OAuthFlowsModel(),  # noqa: B008 - immutable use
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        self.model = OAuth2Model(flows=flows, description=description)
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


class _BearerTokenMixin:
    auto_error: bool

    def _bearer_token(self, request: Request) -> str | None:
        scheme, param = get_authorization_scheme_param(request.headers.get("Authorization"))
        if not scheme or scheme.lower() != "bearer":
            if self.auto_error:
                raise not_authenticated("Bearer")
            return None
        return param


class OAuth2PasswordBearer(_BearerTokenMixin, OAuth2):
    """The password flow: the token from `Authorization: Bearer <token>`; `tokenUrl` issues it."""

    def __init__(
        self,
        tokenUrl: str,  # noqa: N803 - FastAPI's keyword
        scheme_name: str | None = None,
        scopes: dict[str, str] | None = None,
        description: str | None = None,
        auto_error: bool = True,
        refreshUrl: str | None = None,  # noqa: N803
    ) -> None:
        flows = OAuthFlowsModel(password={"tokenUrl": tokenUrl, "refreshUrl": refreshUrl, "scopes": scopes or {}})
        super().__init__(flows=flows, scheme_name=scheme_name, description=description, auto_error=auto_error)

    async def __call__(self, request: Request) -> str | None:
        return self._bearer_token(request)


class OAuth2AuthorizationCodeBearer(_BearerTokenMixin, OAuth2):
    """The authorization code flow; the token from `Authorization: Bearer <token>`."""

    def __init__(
        self,
        authorizationUrl: str,  # noqa: N803
        tokenUrl: str,  # noqa: N803
        refreshUrl: str | None = None,  # noqa: N803
        scheme_name: str | None = None,
        scopes: dict[str, str] | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        flows = OAuthFlowsModel(
            authorizationCode={
                "authorizationUrl": authorizationUrl,
                "tokenUrl": tokenUrl,
                "refreshUrl": refreshUrl,
                "scopes": scopes or {},
            }
        )
        super().__init__(flows=flows, scheme_name=scheme_name, description=description, auto_error=auto_error)

    async def __call__(self, request: Request) -> str | None:
        return self._bearer_token(request)


class SecurityScopes:
    """Injected into a dependency: the scopes every `Security(..., scopes=)` above it asked for."""

    def __init__(self, scopes: list[str] | None = None) -> None:
        self.scopes: list[str] = scopes or []
        self.scope_str: str = " ".join(self.scopes)
