"""JSON bodies and the Content-Type header (FastAPI docs: "Strict Content-Type Checking").

By default a JSON body needs a JSON Content-Type (`application/json` or `*/*+json`); a request
without one is not read as JSON. `strict_content_type=False` (app, router or route) reads such
bodies as JSON again.
"""

from unittest.mock import patch

from pydantic import BaseModel

from fasterapi import APIRouter, Body, FastAPI
from fasterapi.testclient import TestClient


class Item(BaseModel):
    name: str
    price: float


def make_app(**app_kwargs) -> FastAPI:
    app = FastAPI(**app_kwargs)

    @app.post("/items")
    async def create_item(item: Item) -> Item:  # has a native fast plan
        return item

    @app.post("/sync-items")
    def create_sync(item: Item, q: str | None = None) -> Item:
        return item

    @app.post("/embedded")
    def embedded(item: Item, note: str = Body()) -> dict:
        return {"item": item, "note": note}

    router = APIRouter(strict_content_type=False)

    @router.post("/lenient")
    def lenient(item: Item) -> Item:
        return item

    app.include_router(router)
    return app


BODY = '{"name": "Foo", "price": 50.5}'


def test_missing_content_type_is_not_json_by_default():
    client = TestClient(make_app())
    for path in ("/items", "/sync-items"):
        r = client.post(path, content=BODY)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body"]
        assert r.json()["detail"][0]["input"] == BODY
        r = client.post(path, content=BODY, headers={"content-type": "application/json"})
        assert r.status_code == 200 and r.json() == {"name": "Foo", "price": 50.5}
        r = client.post(path, content=BODY, headers={"content-type": "application/geo+json"})
        assert r.status_code == 200


def test_strict_content_type_false_on_the_app_and_on_a_router():
    client = TestClient(make_app(strict_content_type=False))
    for path in ("/items", "/sync-items", "/lenient"):
        assert client.post(path, content=BODY).json() == {"name": "Foo", "price": 50.5}
    client = TestClient(make_app())
    assert client.post("/lenient", content=BODY).status_code == 200


def test_body_that_cannot_be_parsed_is_a_400():
    client = TestClient(make_app())
    with patch("json.loads", side_effect=Exception):
        r = client.post("/embedded", json={"item": {"name": "x", "price": 1}, "note": "n"})
    assert r.status_code == 400
    assert r.json() == {"detail": "There was an error parsing the body"}
