"""Apps for tests/integration/test_docs_browser.py: Swagger UI and ReDoc rendered offline.

`app` hosts the docs with the locally served assets explicitly (FastAPI's self-hosting recipe,
with fasterapi's helpers); `default_app` relies on FastAPI() defaults.
"""

from pydantic import BaseModel

from fasterapi import FastAPI
from fasterapi.openapi.docs import add_docs_static_route, get_redoc_html, get_swagger_ui_html, local_asset_urls


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
prefix = add_docs_static_route(app)
urls = local_asset_urls(prefix)
swagger_urls = {k: v for k, v in urls.items() if k.startswith("swagger")}
redoc_urls = {k: v for k, v in urls.items() if k.startswith("redoc")}


@app.get("/docs", include_in_schema=False)
async def swagger_ui():
    return get_swagger_ui_html(openapi_url="/openapi.json", title=app.title + " - Swagger UI", **swagger_urls)


@app.get("/redoc", include_in_schema=False)
async def redoc():
    return get_redoc_html(openapi_url="/openapi.json", title=app.title + " - ReDoc", with_google_fonts=False,
                          **redoc_urls)


add_routes(app)

default_app = FastAPI(title="Default Docs")
add_routes(default_app)
