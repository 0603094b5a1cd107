"""The /docs (Swagger UI) and /redoc pages, and the files they load.

The HTML functions keep FastAPI's signatures and defaults (the jsDelivr CDN URLs), so code that
calls them directly behaves the same. An app serves the pages with local copies of the
JavaScript and CSS instead, so the docs work without internet: `add_docs_static_route(app)`
registers `GET {prefix}/{file}` serving them from an installed PyPI package (see `_ASSET_SOURCES`)
and `local_asset_urls()` gives the URLs to pass to the HTML functions. When no package is
installed the pages fall back to the CDN, as FastAPI does.
"""

from __future__ import annotations

import importlib.util
import json
import mimetypes
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..encoders import jsonable_encoder
from ..responses import HTMLResponse, Response

SWAGGER_JS_CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"
SWAGGER_CSS_CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"
REDOC_JS_CDN = "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"
FAVICON_URL = "https://fastapi.tiangolo.com/img/favicon.png"

swagger_ui_default_parameters: dict[str, Any] = {
    "dom_id": "#swagger-ui",
    "layout": "BaseLayout",
    "deepLinking": True,
    "showExtensions": True,
    "showCommonExtensions": True,
}

# --------------------------------------------------------------------------------- local assets

# (package, directory inside it) candidates for each served file name, first found wins.
# swagger-ui-bundle-v2 ships swagger-ui-dist 5.x under swagger_ui_bundle/vendor/swagger-ui-<v>/;
# drf-spectacular-sidecar ships swagger-ui-dist 5.x and redoc 2.x (found without importing it:
# its __init__ imports Django).
_SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "oauth2-redirect.js")
_REDOC_FILES = ("redoc.standalone.js",)


def _package_dir(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _swagger_dirs() -> list[Path]:
    found: list[Path] = []
    bundle = _package_dir("swagger_ui_bundle")
    if bundle is not None:
        vendor = bundle / "vendor"
        # Newest swagger-ui 5.x first; 4.x (the old swagger-ui-bundle 1.x) is not FastAPI's.
        candidates = sorted(vendor.glob("swagger-ui-5*"), key=lambda p: _version_key(p.name), reverse=True)
        found.extend(candidates)
    sidecar = _package_dir("drf_spectacular_sidecar")
    if sidecar is not None:
        found.append(sidecar / "static" / "drf_spectacular_sidecar" / "swagger-ui-dist")
    return found


def _redoc_dirs() -> list[Path]:
    sidecar = _package_dir("drf_spectacular_sidecar")
    if sidecar is None:
        return []
    return [sidecar / "static" / "drf_spectacular_sidecar" / "redoc" / "bundles"]


def _version_key(name: str) -> tuple[int, ...]:
    digits = name.rsplit("-", 1)[-1]
    return tuple(int(p) if p.isdigit() else 0 for p in digits.split("."))


@lru_cache(maxsize=1)
def local_assets() -> dict[str, Path]:
    """File name -> path of every docs asset available locally."""
    assets: dict[str, Path] = {}
    for names, dirs in ((_SWAGGER_FILES, _swagger_dirs()), (_REDOC_FILES, _redoc_dirs())):
        for name in names:
            for directory in dirs:
                path = directory / name
                if path.is_file():
                    assets[name] = path
                    break
    return assets


def local_asset_urls(prefix: str) -> dict[str, str]:
    """Keyword arguments for the HTML functions pointing at the locally served files, for those
    available (`swagger_js_url`, `swagger_css_url`, `redoc_js_url`)."""
    assets = local_assets()
    prefix = prefix.rstrip("/")
    urls: dict[str, str] = {}
    if "swagger-ui-bundle.js" in assets and "swagger-ui.css" in assets:
        urls["swagger_js_url"] = f"{prefix}/swagger-ui-bundle.js"
        urls["swagger_css_url"] = f"{prefix}/swagger-ui.css"
    if "redoc.standalone.js" in assets:
        urls["redoc_js_url"] = f"{prefix}/redoc.standalone.js"
    return urls


def docs_asset_response(filename: str, if_none_match: str | None = None) -> Response:
    """One docs asset (200, or 304 for a matching ETag); 404 for names not served."""
    path = local_assets().get(filename)
    if path is None:
        return Response(content=b"Not Found", status_code=404, media_type="text/plain")
    body, etag = _read_asset(path)
    headers = {"etag": etag, "cache-control": "public, max-age=86400"}
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    media_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type.endswith("javascript"):
        media_type += "; charset=utf-8"
    return Response(content=body, media_type=media_type, headers=headers)


@lru_cache(maxsize=8)
def _read_asset(path: Path) -> tuple[bytes, str]:
    body = path.read_bytes()
    import hashlib

    return body, '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'


def docs_static_prefix(app: Any) -> str:
    """Where an app serves the docs assets: `<docs_url>/static` (or `<redoc_url>/static`)."""
    base = getattr(app, "docs_url", None) or getattr(app, "redoc_url", None) or "/docs"
    return base.rstrip("/") + "/static"


def add_docs_static_route(app: Any) -> str:
    """Register `GET <prefix>/{filename}` on `app` serving the docs assets; returns the prefix."""
    prefix = docs_static_prefix(app)

    async def docs_static(request: Any) -> Response:
        return docs_asset_response(request.path_params["filename"], request.headers.get("if-none-match"))

    app.add_route(prefix + "/{filename}", docs_static, methods=["GET", "HEAD"], include_in_schema=False)
    return prefix


# ------------------------------------------------------------------------------------------ pages


def _js_value(value: Any) -> str:
    # JSON is valid JavaScript; "</" is escaped so a value cannot close the <script> element.
    return json.dumps(jsonable_encoder(value)).replace("</", "<\\/")


def get_swagger_ui_html(
    *,
    openapi_url: str,
    title: str,
    swagger_js_url: str = SWAGGER_JS_CDN,
    swagger_css_url: str = SWAGGER_CSS_CDN,
    swagger_favicon_url: str = FAVICON_URL,
    oauth2_redirect_url: str | None = None,
    init_oauth: dict[str, Any] | None = None,
    swagger_ui_parameters: dict[str, Any] | None = None,
) -> HTMLResponse:
    """The Swagger UI page for the document at `openapi_url`."""
    parameters = {**swagger_ui_default_parameters, **(swagger_ui_parameters or {})}
    options = [f"url: {_js_value(openapi_url)},"]
    options.extend(f"{_js_value(key)}: {_js_value(value)}," for key, value in parameters.items())
    if oauth2_redirect_url:
        options.append(f"oauth2RedirectUrl: window.location.origin + {_js_value(oauth2_redirect_url)},")
    options.append("presets: [\n        SwaggerUIBundle.presets.apis,\n        SwaggerUIBundle.SwaggerUIStandalonePreset\n    ],")
    init = f"\n    ui.initOAuth({_js_value(init_oauth)})" if init_oauth else ""
    option_lines = "\n    ".join(options)
    html = f"""<!DOCTYPE html>
<html>
<head>
<link type="text/css" rel="stylesheet" href="{swagger_css_url}">
<link rel="shortcut icon" href="{swagger_favicon_url}">
<title>{title}</title>
</head>
<body>
<div id="swagger-ui">
</div>
<script src="{swagger_js_url}"></script>
<!-- `SwaggerUIBundle` is now available on the page -->
<script>
const ui = SwaggerUIBundle({{
    {option_lines}
}}){init}
</script>
</body>
</html>
"""
    return HTMLResponse(html)


def get_redoc_html(
    *,
    openapi_url: str,
    title: str,
    redoc_js_url: str = REDOC_JS_CDN,
    redoc_favicon_url: str = FAVICON_URL,
    with_google_fonts: bool = True,
) -> HTMLResponse:
    """The ReDoc page for the document at `openapi_url`."""
    fonts = (
        '<link href="https://fonts.googleapis.com/css?family=Montserrat:300,400,700|Roboto:300,400,700" '
        'rel="stylesheet">\n'
        if with_google_fonts
        else ""
    )
    html = f"""<!DOCTYPE html>
<html>
<head>
<title>{title}</title>
<!-- needed for adaptive design -->
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1">
{fonts}<link rel="shortcut icon" href="{redoc_favicon_url}">
<!--
ReDoc doesn't change outer page styles
-->
<style>
  body {{
    margin: 0;
    padding: 0;
  }}
</style>
</head>
<body>
<noscript>
    ReDoc requires Javascript to function. Please enable it to browse the documentation.
</noscript>
<redoc spec-url="{openapi_url}"></redoc>
<script src="{redoc_js_url}"> </script>
</body>
</html>
"""
    return HTMLResponse(html)


# Our own implementation of the OAuth2 redirect target Swagger UI opens in a popup: it hands the
# authorization response (code or token, state) back to the opener's `swaggerUIRedirectOauth2`.
_OAUTH2_REDIRECT_JS = """
'use strict';
function run() {
    var oauth2 = window.opener.swaggerUIRedirectOauth2;
    var sentState = oauth2.state;
    var redirectUrl = oauth2.redirectUrl;
    var isValid, qp, arr;
    if (/code|token|error/.test(window.location.hash)) {
        qp = window.location.hash.substring(1).replace('?', '&');
    } else {
        qp = location.search.substring(1);
    }
    arr = qp.split("&");
    arr.forEach(function (v, i, _arr) { _arr[i] = '"' + v.replace('=', '":"') + '"'; });
    qp = qp ? JSON.parse('{' + arr.join() + '}', function (key, value) {
        return key === "" ? value : decodeURIComponent(value);
    }) : {};
    isValid = qp.state === sentState;
    var flow = oauth2.auth.schema.get("flow");
    if ((flow === "accessCode" || flow === "authorizationCode" || flow === "authorization_code") && !oauth2.auth.code) {
        if (!isValid) {
            oauth2.errCb({authId: oauth2.auth.name, source: "auth", level: "warning",
                message: "Authorization may be unsafe, passed state was changed in server. The passed state wasn't returned from auth server."});
        }
        if (qp.code) {
            delete oauth2.state;
            oauth2.auth.code = qp.code;
            oauth2.callback({auth: oauth2.auth, redirectUrl: redirectUrl});
        } else {
            var oauthErrorMsg;
            if (qp.error) {
                oauthErrorMsg = "[" + qp.error + "]: " +
                    (qp.error_description ? qp.error_description + ". " : "no accessCode received from the server. ") +
                    (qp.error_uri ? "More info: " + qp.error_uri : "");
            }
            oauth2.errCb({authId: oauth2.auth.name, source: "auth", level: "error",
                message: oauthErrorMsg || "[Authorization failed]: no accessCode received from the server."});
        }
    } else {
        oauth2.callback({auth: oauth2.auth, token: qp, isValid: isValid, redirectUrl: redirectUrl});
    }
    window.close();
}
if (document.readyState !== 'loading') {
    run();
} else {
    document.addEventListener('DOMContentLoaded', function () { run(); });
}
"""


def get_swagger_ui_oauth2_redirect_html() -> HTMLResponse:
    """The page Swagger UI's OAuth2 popup is redirected to (`swagger_ui_oauth2_redirect_url`)."""
    html = f"""<!doctype html>
<html lang="en-US">
<head>
    <title>Swagger UI: OAuth2 Redirect</title>
</head>
<body>
<script>{_OAUTH2_REDIRECT_JS}</script>
</body>
</html>
"""
    return HTMLResponse(content=html)
