"""/docs rendered by a real browser (Debian's headless chromium) from a real server.

No internet is needed: the app self-hosts Swagger UI as FastAPI's docs describe it ("Self-hosting
JavaScript and CSS for docs"), with the files of the swagger-ui-bundle-v2 package
(tests/data/docs_app.py). The rendered DOM must contain the operations of the app's /openapi.json,
which proves the UI ran and read it. ReDoc has no PyPI package that ships it alone, so /redoc uses
the CDN, as FastAPI does, and so do a plain `FastAPI()`'s /docs: those pages are checked as HTML
over the socket, not rendered. Set FASTERAPI_NO_BROWSER=1 where chromium cannot be installed.
"""

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    if os.environ.get("FASTERAPI_NO_BROWSER") == "1":
        pytest.skip("FASTERAPI_NO_BROWSER=1")
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (or set FASTERAPI_NO_BROWSER=1)")
    return CHROMIUM


def require_swagger_ui_bundle() -> None:
    try:
        import swagger_ui_bundle  # noqa: F401
    except ImportError:
        pytest.fail("the Swagger UI files are not installed: `pip install swagger-ui-bundle-v2`")


def render(url: str, screenshot: Path | None = None) -> str:
    chromium = require_chromium()
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--virtual-time-budget=15000", "--window-size=1280,1600"]
    if screenshot is not None:
        subprocess.run([*args, f"--screenshot={screenshot}", url], capture_output=True, timeout=120, check=False)
    result = subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def fetch(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our own local server
        return response.headers.get("content-type", ""), response.read().decode()


def test_self_hosted_swagger_ui_assets_are_served(serve) -> None:
    require_swagger_ui_bundle()
    server = serve("docs_app:app")
    ctype, js = fetch(server.url + "/static/swagger-ui-bundle.js")
    assert "javascript" in ctype and "SwaggerUIBundle" in js
    ctype, css = fetch(server.url + "/static/swagger-ui.css")
    assert ctype.startswith("text/css") and ".swagger-ui" in css
    _, redirect = fetch(server.url + "/docs/oauth2-redirect")
    assert "oauth2" in redirect.lower()


def test_swagger_ui_renders_offline(serve, tmp_path: Path) -> None:
    require_swagger_ui_bundle()
    server = serve("docs_app:app")
    _, html = fetch(server.url + "/docs")
    assert "cdn.jsdelivr.net" not in html and "/static/swagger-ui-bundle.js" in html
    dom = render(server.url + "/docs", screenshot=Path(os.environ.get("FASTERAPI_SCREENSHOT_DIR", tmp_path)) / "docs.png")
    assert "swagger-ui" in dom
    # Summaries, paths and the tag come from /openapi.json, rendered by Swagger UI.
    for text in ("Read Item", "Create Item", "/items/{item_id}", "items", "Docs Browser Test"):
        assert text in dom, f"{text!r} not rendered"


def test_redoc_page_points_at_the_redoc_script(serve) -> None:
    require_swagger_ui_bundle()
    server = serve("docs_app:app")
    _, html = fetch(server.url + "/redoc")
    assert "redoc.standalone.js" in html and "/openapi.json" in html


def test_default_docs_page_and_openapi_over_the_socket(serve) -> None:
    # A plain FastAPI(): /docs loads Swagger UI from the CDN (no network here: not rendered).
    require_swagger_ui_bundle()  # (docs_app imports it)
    server = serve("docs_app:default_app")
    ctype, html = fetch(server.url + "/docs")
    assert ctype.startswith("text/html")
    assert "swagger-ui-bundle.js" in html and "url: '/openapi.json'" in html and "Default Docs - Swagger UI" in html
    ctype, body = fetch(server.url + "/openapi.json")
    assert ctype == "application/json"
    schema = json.loads(body)
    assert schema["info"]["title"] == "Default Docs"
    assert set(schema["paths"]) == {"/items/{item_id}", "/items/"}
    assert schema["paths"]["/items/{item_id}"]["get"]["summary"] == "Read Item"
    assert schema["paths"]["/items/"]["post"]["summary"] == "Create Item"
