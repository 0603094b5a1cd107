"""root_path and the URL scheme (FastAPI docs: "Behind a Proxy", "Sub Applications - Mounts").

A root path comes from the server (`TestClient(app, root_path=...)`, `--root-path`), from
`FastAPI(root_path=...)` (deprecated) or from a mount point; the scheme from the URL the client
used (`base_url="https://..."`). They reach `request.scope`, `request.url`/`base_url`/`url_for`,
redirects, and the `servers` entry of `/openapi.json`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from fasterapi import FastAPI, Request
from fasterapi.exceptions import FastAPIDeprecationWarning
from fasterapi.middleware.httpsredirect import HTTPSRedirectMiddleware
from fasterapi.responses import HTMLResponse
from fasterapi.staticfiles import StaticFiles
from fasterapi.testclient import TestClient


def scope_app(**kwargs: object) -> FastAPI:
    app = FastAPI(**kwargs)  # type: ignore[arg-type]

    @app.get("/app")
    def read_main(request: Request):
        return {
            "root_path": request.scope.get("root_path"),
            "scheme": request.url.scheme,
            "url": str(request.url),
            "base_url": str(request.base_url),
            "url_for": str(request.url_for("read_main")),
        }

    @app.get("/items/")
    def read_items():
        return ["plumbus"]

    return app


def test_testclient_root_path_reaches_the_scope() -> None:
    client = TestClient(scope_app(), root_path="/api/v1")
    response = client.get("/app")
    assert response.status_code == 200
    assert response.json() == {
        "root_path": "/api/v1",
        "scheme": "http",
        "url": "http://testserver/app",
        "base_url": "http://testserver/api/v1/",
        "url_for": "http://testserver/api/v1/app",
    }


def test_testclient_root_path_in_the_path_is_routed_without_it() -> None:
    client = TestClient(scope_app(), root_path="/api/v1")
    response = client.get("/api/v1/app")
    assert response.status_code == 200
    assert response.json()["root_path"] == "/api/v1"
    assert response.json()["url"] == "http://testserver/api/v1/app"


def test_testclient_root_path_in_openapi_servers() -> None:
    app = scope_app()
    client = TestClient(app, root_path="/api/v1")
    assert client.get("/openapi.json").json()["servers"] == [{"url": "/api/v1"}]
    # Per request: the app's own document is not changed.
    assert "servers" not in TestClient(app).get("/openapi.json").json()
    assert "servers" not in app.openapi()
    docs = client.get("/docs").text
    assert "/api/v1/openapi.json" in docs


def test_root_path_first_among_declared_servers() -> None:
    servers = [
        {"url": "https://stag.example.com", "description": "Staging environment"},
        {"url": "https://prod.example.com", "description": "Production environment"},
    ]
    client = TestClient(scope_app(servers=servers), root_path="/api/v1")
    assert client.get("/openapi.json").json()["servers"] == [{"url": "/api/v1"}, *servers]
    client = TestClient(scope_app(servers=servers, root_path_in_servers=False), root_path="/api/v1")
    assert client.get("/app").json()["root_path"] == "/api/v1"
    assert client.get("/openapi.json").json()["servers"] == servers


def test_app_root_path_parameter_is_deprecated_and_applies() -> None:
    with pytest.warns(FastAPIDeprecationWarning, match="fastapi run --root-path"):
        app = scope_app(root_path="/api/v1")
    client = TestClient(app)
    data = client.get("/app").json()
    assert data["root_path"] == "/api/v1"
    assert data["url_for"] == "http://testserver/api/v1/app"
    assert client.get("/api/v1/app").status_code == 200
    assert client.get("/openapi.json").json()["servers"] == [{"url": "/api/v1"}]


def test_https_base_url_reaches_the_app() -> None:
    client = TestClient(scope_app(), base_url="https://example.com", follow_redirects=False)
    data = client.get("/app").json()
    assert data["scheme"] == "https"
    assert data["url"] == "https://example.com/app"
    assert data["url_for"] == "https://example.com/app"
    response = client.get("/items")
    assert response.status_code == 307
    assert response.headers["location"] == "https://example.com/items/"


def test_redirect_slashes_keeps_the_root_path_in_the_path() -> None:
    client = TestClient(scope_app(), root_path="/api/v1", follow_redirects=False)
    response = client.get("/api/v1/items")
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/api/v1/items/"


def test_https_redirect_middleware_sees_https() -> None:
    app = FastAPI()
    app.add_middleware(HTTPSRedirectMiddleware)

    @app.get("/")
    def main():
        return {"message": "Hello World"}

    client = TestClient(app)
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "https://testserver/"
    response = client.get("/")  # followed to https: served
    assert response.status_code == 200
    assert response.json() == {"message": "Hello World"}
    assert TestClient(app, base_url="https://testserver").get("/", follow_redirects=False).status_code == 200


def test_mounted_app_openapi_servers_and_docs() -> None:
    app = FastAPI()

    @app.get("/app")
    def read_main():
        return {"message": "main"}

    subapi = FastAPI()

    @subapi.get("/sub")
    def read_sub(request: Request):
        return {"root_path": request.scope["root_path"]}

    app.mount("/subapi", subapi)
    client = TestClient(app)
    assert client.get("/subapi/sub").json() == {"root_path": "/subapi"}
    assert "servers" not in client.get("/openapi.json").json()
    assert client.get("/subapi/openapi.json").json()["servers"] == [{"url": "/subapi"}]
    assert "/subapi/openapi.json" in client.get("/subapi/docs").text
    # Under a server root path too.
    client = TestClient(app, root_path="/api")
    assert client.get("/api/subapi/sub").json() == {"root_path": "/api/subapi"}
    assert client.get("/api/subapi/openapi.json").json()["servers"] == [{"url": "/api/subapi"}]


def test_url_for_in_a_mounted_app_uses_the_top_router() -> None:
    app = FastAPI()

    @app.get("/home")
    def home():
        return {}

    sub = FastAPI()

    @sub.get("/items/{item_id}")
    def item(request: Request, item_id: int):
        return {
            "self": str(request.url_for("item", item_id=item_id)),
            "home": str(request.url_for("home")),
            "base_url": str(request.base_url),
        }

    app.mount("/sub", sub)
    client = TestClient(app, root_path="/api", base_url="https://example.com")
    assert client.get("/api/sub/items/3").json() == {
        "self": "https://example.com/api/sub/items/3",
        "home": "https://example.com/api/home",
        "base_url": "https://example.com/api/",
    }


@pytest.mark.parametrize("root_path", ["", "/api/v1"])
@pytest.mark.parametrize("mount_path", ["", "/subapp"])
def test_templates_url_for_under_mounts_and_root_path(
    tmp_path: Path, root_path: str, mount_path: str
) -> None:
    pytest.importorskip("jinja2")
    from fasterapi.templating import Jinja2Templates

    (tmp_path / "templates").mkdir()
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "styles.css").write_text("h1 { color: green; }")
    (tmp_path / "templates" / "item.html").write_text(
        "<link href=\"{{ url_for('static', path='/styles.css').path }}\">"
        "<a href=\"{{ url_for('read_item', id=id).path }}\">{{ id }}</a>"
    )
    templates = Jinja2Templates(directory=tmp_path / "templates")
    app = FastAPI()
    app.mount("/static", StaticFiles(directory=tmp_path / "static"), name="static")

    @app.get("/items/{id}", response_class=HTMLResponse)
    async def read_item(request: Request, id: str):
        return templates.TemplateResponse(request=request, name="item.html", context={"id": id})

    main_app = app
    if mount_path:
        main_app = FastAPI()
        main_app.mount(mount_path, app)
    client = TestClient(main_app, root_path=root_path, base_url="https://example.com")
    prefix = root_path + mount_path
    response = client.get(f"{prefix}/items/42")
    assert response.status_code == 200, response.text
    assert f'<a href="{prefix}/items/42">42</a>' in response.text
    assert f'<link href="{prefix}/static/styles.css">' in response.text
    response = client.get(f"{prefix}/static/styles.css")
    assert response.status_code == 200
    assert "color: green" in response.text


def test_asgi_scope_scheme_and_root_path() -> None:
    app = scope_app()

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, root_path="/api/v1")  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="https://example.com") as client:
            return await client.get("/api/v1/app")

    data = asyncio.run(go()).json()
    assert data["root_path"] == "/api/v1"
    assert data["scheme"] == "https"
    assert data["url_for"] == "https://example.com/api/v1/app"
