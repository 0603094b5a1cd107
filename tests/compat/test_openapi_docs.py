"""/docs, /redoc and the OAuth2 redirect page."""

from fasterapi import FastAPI
from fasterapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fasterapi.testclient import TestClient


def test_swagger_ui_page() -> None:
    app = FastAPI(title="Shop", swagger_ui_parameters={"syntaxHighlight": False}, swagger_ui_init_oauth={"clientId": "c"})
    response = TestClient(app).get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    text = response.text
    assert "<title>Shop - Swagger UI</title>" in text
    assert "url: '/openapi.json'" in text
    assert '"syntaxHighlight": false' in text
    assert '"dom_id": "#swagger-ui"' in text
    assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in text
    assert 'ui.initOAuth({"clientId": "c"})' in text
    assert "SwaggerUIBundle" in text


def test_redoc_and_oauth2_redirect_pages() -> None:
    client = TestClient(FastAPI(title="Shop"))
    redoc = client.get("/redoc")
    assert redoc.status_code == 200
    assert '<redoc spec-url="/openapi.json"></redoc>' in redoc.text
    assert "<title>Shop - ReDoc</title>" in redoc.text
    redirect = client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200
    assert "swaggerUIRedirectOauth2" in redirect.text


def test_docs_disabled() -> None:
    client = TestClient(FastAPI(docs_url=None, redoc_url=None))
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").status_code == 200


def test_html_functions_keep_fastapi_defaults() -> None:
    html = get_swagger_ui_html(openapi_url="/o.json", title="T").body.decode()
    assert "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js" in html
    assert "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css" in html
    html = get_redoc_html(openapi_url="/o.json", title="T", with_google_fonts=False).body.decode()
    assert "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js" in html
    assert "fonts.googleapis.com" not in html
    assert get_swagger_ui_oauth2_redirect_html().status_code == 200


def test_parameters_cannot_break_out_of_the_script() -> None:
    html = get_swagger_ui_html(openapi_url="/o.json", title="T", swagger_ui_parameters={"x": "</script><b>"}).body
    assert b"</script><b>" not in html
