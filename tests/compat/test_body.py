"""Request bodies: models, embedding, multiple bodies, JSON errors, forms and file uploads."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from fasterapi import Body, FastAPI, File, Form, UploadFile
from fasterapi.testclient import TestClient


class Image(BaseModel):
    url: str
    name: str


class Item(BaseModel):
    name: str
    description: str | None = None
    price: float = Field(gt=0)
    tax: float | None = None
    tags: set[str] = set()
    images: list[Image] | None = None


class User(BaseModel):
    username: str
    full_name: str | None = None


class LoginForm(BaseModel):
    username: str
    password: str
    remember: bool = False


app = FastAPI()


@app.post("/items")
def create_item(item: Item):
    data = item.model_dump()
    if item.tax is not None:
        data["price_with_tax"] = item.price + item.tax
    return data


@app.put("/items/{item_id}")
async def update_item(item_id: int, item: Item, user: User, importance: Annotated[int, Body(gt=0)], q: str | None = None):
    return {"item_id": item_id, "item": item, "user": user, "importance": importance, "q": q}


@app.put("/embedded")
def embedded(item: Annotated[Item, Body(embed=True)]):
    return {"item": item}


@app.post("/dict")
def create_index_weights(weights: dict[int, float]):
    return weights


@app.post("/list-body")
def list_body(images: list[Image]):
    return {"count": len(images), "names": [i.name for i in images]}


@app.post("/optional-body")
def optional_body(item: Item | None = None):
    return {"item": item}


@app.post("/raw")
def raw(payload: Any = Body()):
    return {"payload": payload}


@app.post("/login")
def login(username: Annotated[str, Form()], password: Annotated[str, Form()], remember: Annotated[bool, Form()] = False):
    return {"username": username, "password_len": len(password), "remember": remember}


@app.post("/login-model")
def login_model(data: Annotated[LoginForm, Form()]):
    return data


@app.post("/tags")
def form_list(tag: Annotated[list[str], Form()]):
    return {"tags": tag}


@app.post("/files")
async def create_file(file: Annotated[bytes, File()], note: Annotated[str, Form()] = ""):
    return {"file_size": len(file), "note": note}


@app.post("/uploadfile")
async def create_upload_file(file: UploadFile):
    content = await file.read()
    return {"filename": file.filename, "content_type": file.content_type, "size": file.size, "content": content.decode()}


@app.post("/uploadfiles")
async def create_upload_files(files: list[UploadFile]):
    return {"filenames": [f.filename for f in files]}


@app.post("/optional-file")
async def optional_file(file: UploadFile | None = None):
    return {"filename": file.filename if file else None}


client = TestClient(app)


def test_model_body():
    r = client.post("/items", json={"name": "Foo", "price": 10.5, "tax": 1.5, "tags": ["a", "a", "b"]})
    assert r.status_code == 200
    body = r.json()
    assert body["price_with_tax"] == 12.0
    assert sorted(body["tags"]) == ["a", "b"]
    assert body["images"] is None


def test_nested_model_body():
    r = client.post("/items", json={"name": "Foo", "price": 1, "images": [{"url": "http://x", "name": "x"}]})
    assert r.json()["images"] == [{"url": "http://x", "name": "x"}]
    r = client.post("/items", json={"name": "Foo", "price": 1, "images": [{"url": "http://x"}]})
    assert r.status_code == 422
    assert r.json()["detail"] == [
        {"type": "missing", "loc": ["body", "images", 0, "name"], "msg": "Field required", "input": {"url": "http://x"}}
    ]


def test_model_body_validation_error():
    r = client.post("/items", json={"name": "Foo", "price": -1})
    assert r.status_code == 422
    assert r.json() == {
        "detail": [
            {
                "type": "greater_than",
                "loc": ["body", "price"],
                "msg": "Input should be greater than 0",
                "input": -1,
                "ctx": {"gt": 0.0},
            }
        ]
    }


def test_missing_body():
    r = client.post("/items")
    assert r.status_code == 422
    assert r.json() == {"detail": [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]}


def test_invalid_json():
    r = client.post("/items", content=b'{"name": ', headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json() == {
        "detail": [
            {
                "type": "json_invalid",
                "loc": ["body", 9],
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": "Expecting value"},
            }
        ]
    }


def test_non_json_content_type_is_not_parsed():
    r = client.post("/items", content=b'{"name": "x", "price": 1}', headers={"content-type": "text/plain"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "model_attributes_type"


def test_json_suffix_content_type_is_json():
    r = client.post(
        "/items", content=b'{"name": "x", "price": 1}', headers={"content-type": "application/vnd.api+json"}
    )
    assert r.status_code == 200


def test_body_not_an_object():
    r = client.post("/items", json=[1, 2])
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "model_attributes_type"


def test_multiple_bodies_and_singular_body():
    payload = {"item": {"name": "Foo", "price": 2}, "user": {"username": "dave"}, "importance": 5}
    r = client.put("/items/5?q=x", json=payload)
    assert r.status_code == 200
    assert r.json() == {
        "item_id": 5,
        "item": {"name": "Foo", "description": None, "price": 2.0, "tax": None, "tags": [], "images": None},
        "user": {"username": "dave", "full_name": None},
        "importance": 5,
        "q": "x",
    }


def test_multiple_bodies_errors():
    r = client.put("/items/5", json={"item": {"name": "Foo"}, "importance": 0})
    assert r.status_code == 422
    assert r.json()["detail"] == [
        {"type": "missing", "loc": ["body", "item", "price"], "msg": "Field required", "input": {"name": "Foo"}},
        {"type": "missing", "loc": ["body", "user"], "msg": "Field required", "input": None},
        {"type": "greater_than", "loc": ["body", "importance"], "msg": "Input should be greater than 0",
         "input": 0, "ctx": {"gt": 0}},
    ]


def test_embed():
    r = client.put("/embedded", json={"item": {"name": "Foo", "price": 1}})
    assert r.status_code == 200
    assert r.json()["item"]["name"] == "Foo"
    r = client.put("/embedded", json={"name": "Foo", "price": 1})
    assert r.status_code == 422
    assert r.json()["detail"] == [{"type": "missing", "loc": ["body", "item"], "msg": "Field required", "input": None}]


def test_dict_body_with_int_keys():
    r = client.post("/dict", json={"1": 2.5, "3": 4})
    assert r.json() == {"1": 2.5, "3": 4.0}
    r = client.post("/dict", json={"x": 1})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "x", "[key]"]


def test_list_body():
    r = client.post("/list-body", json=[{"url": "u", "name": "a"}, {"url": "v", "name": "b"}])
    assert r.json() == {"count": 2, "names": ["a", "b"]}


def test_optional_body():
    assert client.post("/optional-body").json() == {"item": None}
    assert client.post("/optional-body", json={"name": "x", "price": 1}).json()["item"]["name"] == "x"


def test_any_body():
    assert client.post("/raw", json=[1, "a", None]).json() == {"payload": [1, "a", None]}
    assert client.post("/raw", json=3).json() == {"payload": 3}


def test_urlencoded_form():
    r = client.post("/login", data={"username": "joe", "password": "secret", "remember": "true"})
    assert r.json() == {"username": "joe", "password_len": 6, "remember": True}


def test_form_errors():
    r = client.post("/login", data={"username": "joe"})
    assert r.status_code == 422
    assert r.json()["detail"] == [
        {"type": "missing", "loc": ["body", "password"], "msg": "Field required", "input": None}
    ]


def test_form_empty_string_is_missing():
    r = client.post("/login", data={"username": "joe", "password": ""})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "password"]


def test_form_model():
    r = client.post("/login-model", data={"username": "joe", "password": "pw"})
    assert r.json() == {"username": "joe", "password": "pw", "remember": False}
    r = client.post("/login-model", data={"username": "joe"})
    assert r.status_code == 422
    assert r.json()["detail"] == [
        {"type": "missing", "loc": ["body", "password"], "msg": "Field required", "input": {"username": "joe"}}
    ]


def test_form_list():
    r = client.post("/tags", data={"tag": ["a", "b"]})
    assert r.json() == {"tags": ["a", "b"]}


def test_multipart_form_fields():
    r = client.post("/login", files={"username": (None, "joe"), "password": (None, "pw")})
    assert r.json() == {"username": "joe", "password_len": 2, "remember": False}


def test_file_bytes():
    r = client.post("/files", files={"file": ("a.bin", b"\x00\x01\x02")}, data={"note": "n"})
    assert r.json() == {"file_size": 3, "note": "n"}


def test_upload_file():
    r = client.post("/uploadfile", files={"file": ("hello.txt", b"hello world", "text/plain")})
    assert r.json() == {"filename": "hello.txt", "content_type": "text/plain", "size": 11, "content": "hello world"}


def test_upload_files():
    r = client.post("/uploadfiles", files=[("files", ("a.txt", b"a")), ("files", ("b.txt", b"b"))])
    assert r.json() == {"filenames": ["a.txt", "b.txt"]}


def test_missing_file():
    r = client.post("/uploadfile")
    assert r.status_code == 422
    assert r.json()["detail"] == [{"type": "missing", "loc": ["body", "file"], "msg": "Field required", "input": None}]


def test_optional_file():
    assert client.post("/optional-file").json() == {"filename": None}
    assert client.post("/optional-file", files={"file": ("x.txt", b"x")}).json() == {"filename": "x.txt"}
