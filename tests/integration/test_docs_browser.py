"""/docs rendered by a real browser (Debian's headless chromium) from a real server.

No internet is needed: the page loads Swagger UI from the server itself (the swagger-ui-bundle-v2
package). The rendered DOM must contain the operations of the app's /openapi.json, which proves the
UI ran and read it. ReDoc has no PyPI package that ships it alone, so /redoc uses the CDN, as
FastAPI does (docs/compatibility.md). Set FASTERAPI_NO_BROWSER=1 where chromium cannot be installed.
"""

import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from fasterapi.openapi.docs import local_assets

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

if os.environ.get("FASTERAPI_NO_BROWSER") == "1":
    pytest.skip("FASTERAPI_NO_BROWSER=1", allow_module_level=True)


def require_chromium() -> str:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (or set FASTERAPI_NO_BROWSER=1)")
    return CHROMIUM


def render(url: str, screenshot: Path | None = None) -> str:
    chromium = require_chromium()
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--virtual-time-budget=15000", "--window-size=1280,1600"]
    if screenshot is not None:
        subprocess.run([*args, f"--screenshot={screenshot}", url], capture_output=True, timeout=120, check=False)
    result = subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our own local server
        return response.read().decode()


def test_swagger_ui_assets_are_installed() -> None:
    assert "swagger-ui-bundle.js" in local_assets() and "swagger-ui.css" in local_assets()


def test_swagger_ui_renders_offline(serve, tmp_path: Path) -> None:
    server = serve("docs_app:app")
    html = fetch(server.url + "/docs")
    assert "cdn.jsdelivr.net" not in html
    dom = render(server.url + "/docs", screenshot=Path(os.environ.get("FASTERAPI_SCREENSHOT_DIR", tmp_path)) / "docs.png")
    assert "swagger-ui" in dom
    # Summaries, paths and the tag come from /openapi.json, rendered by Swagger UI.
    for text in ("Read Item", "Create Item", "/items/{item_id}", "items", "Docs Browser Test"):
        assert text in dom, f"{text!r} not rendered"


def test_redoc_page_points_at_the_redoc_script(serve) -> None:
    server = serve("docs_app:app")
    html = fetch(server.url + "/redoc")
    assert "redoc.standalone.js" in html and "/openapi.json" in html


def test_default_docs_page_renders_offline(serve) -> None:
    server = serve("docs_app:default_app")
    html = fetch(server.url + "/docs")
    assert "cdn.jsdelivr.net" not in html
    dom = render(server.url + "/docs")
    for text in ("Read Item", "Create Item"):
        assert text in dom
