"""Apps for tests/integration/test_docs_browser.py: Swagger UI rendered offline.

`app` self-hosts the Swagger UI files as FastAPI's docs describe it ("Self-hosting JavaScript and
CSS for docs"): the automatic docs off, the files of the swagger-ui-bundle-v2 package mounted
with StaticFiles, and /docs made with `get_swagger_ui_html` pointing at them. No PyPI package ships
ReDoc alone, so /redoc keeps FastAPI's CDN script. `default_app` is a plain `FastAPI()`.
"""

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from swagger_ui_bundle import swagger_ui_path


class Item(BaseModel):
    name: str
    price: float


def add_routes(app: FastAPI) -> None:
    @app.get("/items/{item_id}", tags=["items"])
    def read_item(item_id: int, q: str | None = None):
        """Read one item by id."""
        return {"item_id": item_id, "q": q}

    @app.post("/items/", tags=["items"], status_code=201)
    def create_item(item: Item) -> Item:
        return item


app = FastAPI(title="Docs Browser Test", docs_url=None, redoc_url=None)
app.mount("/static", StaticFiles(directory=swagger_ui_path), name="static")


@app.get("/docs", include_in_schema=False)
async def custom_swagger_ui_html():
    return get_swagger_ui_html(
        openapi_url=app.openapi_url,
        title=app.title + " - Swagger UI",
        oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
        swagger_js_url="/static/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger-ui.css",
        swagger_favicon_url="/static/favicon-32x32.png",
    )


@app.get(app.swagger_ui_oauth2_redirect_url, include_in_schema=False)
async def swagger_ui_redirect():
    return get_swagger_ui_oauth2_redirect_html()


@app.get("/redoc", include_in_schema=False)
async def redoc_html():
    return get_redoc_html(openapi_url=app.openapi_url, title=app.title + " - ReDoc")


add_routes(app)

default_app = FastAPI(title="Default Docs")
add_routes(default_app)
