"""Security dependencies: FastAPI's status codes, bodies, WWW-Authenticate headers and schemes."""


import base64
from typing import Annotated, Any

import pytest

from fasterapi import Depends, FastAPI, Security
from fasterapi.security import (
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
    HTTPDigest,
    OAuth2,
    OAuth2AuthorizationCodeBearer,
    OAuth2PasswordBearer,
    OAuth2PasswordRequestForm,
    OAuth2PasswordRequestFormStrict,
    OpenIdConnect,
    SecurityScopes,
)
from fasterapi.security.utils import get_authorization_scheme_param
from fasterapi.testclient import TestClient

NOT_AUTHENTICATED = {"detail": "Not authenticated"}


def basic(value: bytes) -> str:
    return "Basic " + base64.b64encode(value).decode()


def app_with(dependency: Any) -> TestClient:
    app = FastAPI()

    @app.get("/")
    def endpoint(value: Annotated[Any, Depends(dependency)]):
        return {"value": value}

    return TestClient(app)


# (dependency, headers/cookies/params, expected status, expected JSON, expected WWW-Authenticate)
CASES = [
    (HTTPBasic(), {}, 401, NOT_AUTHENTICATED, "Basic"),
    (HTTPBasic(realm="simple"), {}, 401, NOT_AUTHENTICATED, 'Basic realm="simple"'),
    (HTTPBasic(), {"Authorization": "Basic !!!"}, 401, NOT_AUTHENTICATED, "Basic"),
    (HTTPBasic(), {"Authorization": basic(b"nocolon")}, 401, NOT_AUTHENTICATED, "Basic"),
    (HTTPBasic(), {"Authorization": basic(b"u:p:q")}, 200, {"value": {"username": "u", "password": "p:q"}}, None),
    (HTTPBasic(auto_error=False), {}, 200, {"value": None}, None),
    (HTTPBasic(auto_error=False), {"Authorization": "Bearer x"}, 200, {"value": None}, None),
    (HTTPBasic(auto_error=False), {"Authorization": "Basic !!!"}, 401, NOT_AUTHENTICATED, "Basic"),
    (HTTPBearer(), {}, 401, NOT_AUTHENTICATED, "Bearer"),
    (HTTPBearer(), {"Authorization": "Bearer"}, 401, NOT_AUTHENTICATED, "Bearer"),
    (HTTPBearer(), {"Authorization": "Basic abc"}, 401, NOT_AUTHENTICATED, "Bearer"),
    (HTTPBearer(), {"Authorization": "bearer tok"}, 200, {"value": {"scheme": "bearer", "credentials": "tok"}}, None),
    (HTTPBearer(auto_error=False), {"Authorization": "Foo abc"}, 200, {"value": None}, None),
    (HTTPDigest(), {}, 401, NOT_AUTHENTICATED, "Digest"),
    (HTTPDigest(), {"Authorization": "Digest abc"}, 200, {"value": {"scheme": "Digest", "credentials": "abc"}}, None),
    (APIKeyHeader(name="X-Key"), {}, 401, NOT_AUTHENTICATED, "APIKey"),
    (APIKeyHeader(name="X-Key"), {"X-Key": "k"}, 200, {"value": "k"}, None),
    (APIKeyHeader(name="X-Key", auto_error=False), {}, 200, {"value": None}, None),
    (APIKeyQuery(name="key"), {}, 401, NOT_AUTHENTICATED, "APIKey"),
    (APIKeyCookie(name="session"), {}, 401, NOT_AUTHENTICATED, "APIKey"),
    (OAuth2PasswordBearer(tokenUrl="token"), {}, 401, NOT_AUTHENTICATED, "Bearer"),
    (OAuth2PasswordBearer(tokenUrl="token"), {"Authorization": "Basic x"}, 401, NOT_AUTHENTICATED, "Bearer"),
    (OAuth2PasswordBearer(tokenUrl="token"), {"Authorization": "Bearer"}, 200, {"value": ""}, None),
    (OAuth2PasswordBearer(tokenUrl="token"), {"Authorization": "Bearer tok"}, 200, {"value": "tok"}, None),
    (OAuth2PasswordBearer(tokenUrl="token", auto_error=False), {}, 200, {"value": None}, None),
    (OAuth2AuthorizationCodeBearer(authorizationUrl="a", tokenUrl="t"), {"Authorization": "Bearer t"}, 200,
     {"value": "t"}, None),
    (OpenIdConnect(openIdConnectUrl="http://x"), {}, 401, NOT_AUTHENTICATED, "Bearer"),
    (OpenIdConnect(openIdConnectUrl="http://x"), {"Authorization": "Foo abc"}, 200, {"value": "Foo abc"}, None),
    (OAuth2(), {"Authorization": "Anything"}, 200, {"value": "Anything"}, None),
]


@pytest.mark.parametrize(("dependency", "headers", "status", "body", "challenge"), CASES)
def test_security_dependency(dependency: Any, headers: dict[str, str], status: int, body: Any, challenge: str | None) -> None:
    response = app_with(dependency).get("/", headers=headers)
    assert response.status_code == status, response.text
    assert response.json() == body
    assert response.headers.get("www-authenticate") == challenge


def test_api_key_query_and_cookie_values() -> None:
    assert app_with(APIKeyQuery(name="key")).get("/?key=abc").json() == {"value": "abc"}
    client = app_with(APIKeyCookie(name="session"))
    client.cookies.set("session", "s1")
    assert client.get("/").json() == {"value": "s1"}


def test_credentials_models() -> None:
    assert HTTPBasicCredentials(username="a", password="b").model_dump() == {"username": "a", "password": "b"}
    assert HTTPAuthorizationCredentials(scheme="Bearer", credentials="t").credentials == "t"


def test_get_authorization_scheme_param() -> None:
    assert get_authorization_scheme_param(None) == ("", "")
    assert get_authorization_scheme_param("") == ("", "")
    assert get_authorization_scheme_param("Bearer") == ("Bearer", "")
    assert get_authorization_scheme_param("Bearer  a b") == ("Bearer", "a b")


def test_password_request_form() -> None:
    app = FastAPI()

    @app.post("/token")
    def token(form: Annotated[OAuth2PasswordRequestForm, Depends()]):
        return form.__dict__

    @app.post("/strict")
    def strict(form: Annotated[OAuth2PasswordRequestFormStrict, Depends()]):
        return form.__dict__

    client = TestClient(app)
    response = client.post("/token", data={"username": "u", "password": "p", "scope": "a b  c"})
    assert response.json() == {
        "grant_type": None, "username": "u", "password": "p", "scopes": ["a", "b", "c"],
        "client_id": None, "client_secret": None,
    }
    response = client.post("/token", data={"username": "u", "password": "p", "grant_type": "x"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "grant_type"]
    response = client.post("/strict", data={"username": "u", "password": "p"})
    assert response.status_code == 422
    assert response.json()["detail"][0] == {"type": "missing", "loc": ["body", "grant_type"], "msg": "Field required", "input": None}


def test_security_scopes_and_openapi() -> None:
    oauth2 = OAuth2PasswordBearer(tokenUrl="token", scopes={"me": "Read me", "items": "Read items"})
    app = FastAPI()

    def current_user(security_scopes: SecurityScopes, token: Annotated[str, Depends(oauth2)]):
        return {"scopes": security_scopes.scopes, "scope_str": security_scopes.scope_str, "token": token}

    @app.get("/me")
    def me(user: Annotated[dict, Security(current_user, scopes=["me", "items"])]):
        return user

    client = TestClient(app)
    assert client.get("/me", headers={"Authorization": "Bearer t"}).json() == {
        "scopes": ["me", "items"], "scope_str": "me items", "token": "t",
    }
    doc = client.get("/openapi.json").json()
    assert doc["paths"]["/me"]["get"]["security"] == [{"OAuth2PasswordBearer": ["me", "items"]}]
    assert doc["components"]["securitySchemes"] == {
        "OAuth2PasswordBearer": {
            "type": "oauth2",
            "flows": {"password": {"scopes": {"me": "Read me", "items": "Read items"}, "tokenUrl": "token"}},
        }
    }


def test_scheme_models_in_openapi() -> None:
    app = FastAPI()
    schemes = [
        HTTPBasic(description="basic"), HTTPBearer(bearerFormat="JWT"), HTTPDigest(scheme_name="Dig"),
        APIKeyHeader(name="X-Key"), APIKeyQuery(name="k"), APIKeyCookie(name="c"),
        OpenIdConnect(openIdConnectUrl="https://x/.well-known"),
        OAuth2AuthorizationCodeBearer(authorizationUrl="https://a", tokenUrl="https://t", refreshUrl="https://r"),
    ]

    @app.get("/", dependencies=[Depends(s) for s in schemes])
    def root():
        return {}

    doc = app.openapi()
    assert doc["components"]["securitySchemes"] == {
        "HTTPBasic": {"type": "http", "description": "basic", "scheme": "basic"},
        "HTTPBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        "Dig": {"type": "http", "scheme": "digest"},
        "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Key"},
        "APIKeyQuery": {"type": "apiKey", "in": "query", "name": "k"},
        "APIKeyCookie": {"type": "apiKey", "in": "cookie", "name": "c"},
        "OpenIdConnect": {"type": "openIdConnect", "openIdConnectUrl": "https://x/.well-known"},
        "OAuth2AuthorizationCodeBearer": {
            "type": "oauth2",
            "flows": {
                "authorizationCode": {
                    "refreshUrl": "https://r", "scopes": {}, "authorizationUrl": "https://a", "tokenUrl": "https://t",
                }
            },
        },
    }
    assert doc["paths"]["/"]["get"]["security"] == [{name: []} for name in doc["components"]["securitySchemes"]]
