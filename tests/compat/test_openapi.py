"""Stand-alone checks of the OpenAPI document's most important parts (no oracle needed)."""


from typing import Annotated

from pydantic import BaseModel

from fasterapi import Body, FastAPI, Form, Query
from fasterapi.openapi.utils import get_openapi
from fasterapi.testclient import TestClient


class Item(BaseModel):
    name: str
    price: float
    tax: float | None = None


class Message(BaseModel):
    message: str


VALIDATION_ERROR = {
    "properties": {
        "loc": {"items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}, "type": "array", "title": "Location"},
        "msg": {"type": "string", "title": "Message"},
        "type": {"type": "string", "title": "Error Type"},
        "input": {"title": "Input"},
        "ctx": {"type": "object", "title": "Context"},
    },
    "type": "object",
    "required": ["loc", "msg", "type"],
    "title": "ValidationError",
}
HTTP_VALIDATION_ERROR = {
    "properties": {
        "detail": {"items": {"$ref": "#/components/schemas/ValidationError"}, "type": "array", "title": "Detail"}
    },
    "type": "object",
    "title": "HTTPValidationError",
}
RESPONSE_422 = {
    "description": "Validation Error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}},
}


def make_app() -> FastAPI:
    app = FastAPI(title="Shop", version="1.2.3", description="The shop")

    @app.get("/items/{item_id}")
    def read_item(item_id: int, q: Annotated[str | None, Query(description="Search")] = None):
        """Read an item."""
        return {}

    @app.post("/items/", response_model=Item, status_code=201, tags=["items"])
    def create_item(item: Item):
        return item

    @app.put("/items/{item_id}", summary="Replace", responses={404: {"model": Message}})
    def replace_item(item_id: int, item: Item, importance: Annotated[int, Body()]):
        return {}

    @app.post("/login/")
    def login(username: Annotated[str, Form()], password: Annotated[str, Form()]):
        return {}

    @app.get("/", include_in_schema=False)
    def hidden():
        return {}

    return app


def test_served_document() -> None:
    client = TestClient(make_app())
    response = client.get("/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"] == "3.1.0"
    assert doc["info"] == {"title": "Shop", "description": "The shop", "version": "1.2.3"}
    assert list(doc["paths"]) == ["/items/{item_id}", "/items/", "/login/"]


def test_parameters_summary_operation_id_and_422() -> None:
    doc = make_app().openapi()
    get = doc["paths"]["/items/{item_id}"]["get"]
    assert get["summary"] == "Read Item"
    assert get["description"] == "Read an item."
    assert get["operationId"] == "read_item_items__item_id__get"
    assert get["parameters"] == [
        {"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer", "title": "Item Id"}},
        {
            "name": "q",
            "in": "query",
            "required": False,
            "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "Search", "title": "Q"},
            "description": "Search",
        },
    ]
    assert get["responses"] == {
        "200": {"description": "Successful Response", "content": {"application/json": {"schema": {}}}},
        "422": RESPONSE_422,
    }
    assert doc["components"]["schemas"]["ValidationError"] == VALIDATION_ERROR
    assert doc["components"]["schemas"]["HTTPValidationError"] == HTTP_VALIDATION_ERROR


def test_body_response_model_and_status_code() -> None:
    doc = make_app().openapi()
    post = doc["paths"]["/items/"]["post"]
    assert post["tags"] == ["items"]
    assert post["requestBody"] == {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}},
        "required": True,
    }
    assert post["responses"]["201"] == {
        "description": "Successful Response",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}},
    }
    assert doc["components"]["schemas"]["Item"] == {
        "properties": {
            "name": {"type": "string", "title": "Name"},
            "price": {"type": "number", "title": "Price"},
            "tax": {"anyOf": [{"type": "number"}, {"type": "null"}], "title": "Tax"},
        },
        "type": "object",
        "required": ["name", "price"],
        "title": "Item",
    }


def test_embedded_body_and_additional_responses() -> None:
    doc = make_app().openapi()
    put = doc["paths"]["/items/{item_id}"]["put"]
    assert put["summary"] == "Replace"
    assert put["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Body_replace_item_items__item_id__put"
    }
    body = doc["components"]["schemas"]["Body_replace_item_items__item_id__put"]
    assert body["required"] == ["item", "importance"]
    assert body["properties"]["item"] == {"$ref": "#/components/schemas/Item"}
    assert put["responses"]["404"] == {
        "description": "Not Found",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Message"}}},
    }


def test_form_body() -> None:
    doc = make_app().openapi()
    body = doc["paths"]["/login/"]["post"]["requestBody"]
    assert body == {
        "content": {
            "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/Body_login_login__post"}}
        },
        "required": True,
    }


def test_input_output_schemas_are_separated_when_they_differ() -> None:
    from pydantic import computed_field

    class Out(BaseModel):
        a: int

        @computed_field  # type: ignore[prop-decorator]
        @property
        def double(self) -> int:
            return self.a * 2

    app = FastAPI()

    @app.post("/")
    def echo(x: Out) -> Out:
        return x

    schemas = app.openapi()["components"]["schemas"]
    assert "Out-Input" in schemas and "Out-Output" in schemas
    assert "double" in schemas["Out-Output"]["properties"]
    assert "double" not in schemas["Out-Input"]["properties"]

    # separate_input_output_schemas=False: one schema for a model whose input and output agree
    # (FastAPI still splits a model with a computed field, whose output has more properties).
    class Plain(BaseModel):
        a: int

    app2 = FastAPI(separate_input_output_schemas=False)

    @app2.post("/")
    def echo_plain(x: Plain) -> Plain:
        return x

    app2.post("/computed")(echo)
    schemas2 = app2.openapi()["components"]["schemas"]
    assert "Plain" in schemas2 and "Plain-Input" not in schemas2
    assert "Out-Input" in schemas2 and "Out-Output" in schemas2


def test_openapi_extra_and_deprecated() -> None:
    app = FastAPI()

    @app.get("/", deprecated=True, openapi_extra={"x-custom": {"a": 1}, "responses": {"200": {"description": "OK!"}}})
    def root():
        return {}

    op = app.openapi()["paths"]["/"]["get"]
    assert op["deprecated"] is True
    assert op["x-custom"] == {"a": 1}
    assert op["responses"]["200"]["description"] == "OK!"


def test_get_openapi_directly_and_custom_openapi() -> None:
    app = make_app()

    def custom_openapi():
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title="Custom", version="9", summary="s", routes=app.routes)
        schema["info"]["x-logo"] = {"url": "logo.png"}
        app.openapi_schema = schema
        return schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
    doc = TestClient(app).get("/openapi.json").json()
    assert doc["info"] == {"title": "Custom", "summary": "s", "version": "9", "x-logo": {"url": "logo.png"}}


def test_openapi_url_none_disables_document_and_docs() -> None:
    client = TestClient(FastAPI(openapi_url=None))
    assert client.get("/openapi.json").status_code == 404
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
