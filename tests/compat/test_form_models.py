"""Form models (FastAPI 0.16x): `Annotated[Model, Form()]` next to other form parameters, several
models in one form, models with files, optional models, unions of models (`Form(discriminator=)`),
`extra="forbid"`; the 422 bodies and the OpenAPI document as FastAPI gives them.

Run with FASTERAPI_REFERENCE=1 against FastAPI itself to check the expectations.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel

from fasterapi import FastAPI, Form, UploadFile
from fasterapi.testclient import TestClient


class Profile(BaseModel):
    name: str


class Preferences(BaseModel):
    tags: list[str] = []


class Person(BaseModel):
    contact_type: Literal["person"]
    name: str


class Company(BaseModel):
    contact_type: Literal["company"]
    company_name: str


class Email(BaseModel):
    notification_type: Literal["email"]
    email: str


class SMS(BaseModel):
    notification_type: Literal["sms"]
    phone: str


class Login(BaseModel):
    username: str
    password: str
    model_config = {"extra": "forbid"}


class Aged(BaseModel):
    name: str
    age: int


app = FastAPI()


@app.post("/profiles/")
async def create_profile(
    profile: Annotated[Profile, Form()],
    preferences: Annotated[Preferences, Form()],
    token: Annotated[str, Form()],
):
    return {"profile": profile, "preferences": preferences, "token": token}


@app.post("/avatars/")
async def create_avatar(profile: Annotated[Profile, Form()], avatar: UploadFile):
    return {"profile": profile, "filename": avatar.filename, "content": (await avatar.read()).decode()}


@app.post("/optional/")
async def optional_profile(token: Annotated[str, Form()], profile: Annotated[Aged | None, Form()] = None):
    return {"token": token, "profile": profile}


@app.post("/contacts/")
async def create_contact(
    contact: Annotated[Person | Company, Form(discriminator="contact_type")],
    token: Annotated[str, Form()],
    notification: Annotated[Email | SMS | None, Form(discriminator="notification_type")] = None,
):
    return {"contact": contact, "notification": notification, "token": token}


@app.post("/login/")
async def login(data: Annotated[Login, Form()]):
    return data


client = TestClient(app)


def test_several_models_and_a_field_share_the_form() -> None:
    response = client.post("/profiles/", data={"name": "Rick", "tags": ["a", "b"], "token": "t"})
    assert response.status_code == 200, response.text
    assert response.json() == {"profile": {"name": "Rick"}, "preferences": {"tags": ["a", "b"]}, "token": "t"}
    response = client.post("/profiles/", data={"name": "Rick", "token": "t"})
    assert response.json()["preferences"] == {"tags": []}


def test_several_models_missing_fields() -> None:
    response = client.post("/profiles/", data={"tags": "x"})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"type": "missing", "loc": ["body", "name"], "msg": "Field required", "input": {"tags": "x"}},
            {"type": "missing", "loc": ["body", "token"], "msg": "Field required", "input": None},
        ]
    }


def test_model_and_file() -> None:
    response = client.post("/avatars/", data={"name": "Rick"}, files={"avatar": ("a.png", b"image")})
    assert response.status_code == 200, response.text
    assert response.json() == {"profile": {"name": "Rick"}, "filename": "a.png", "content": "image"}
    response = client.post("/avatars/", data={"name": "Rick"})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"type": "missing", "loc": ["body", "avatar"], "msg": "Field required", "input": None}]
    }


def test_optional_model() -> None:
    assert client.post("/optional/", data={"token": "t"}).json() == {"token": "t", "profile": None}
    response = client.post("/optional/", data={"token": "t", "name": "Rick", "age": "70"})
    assert response.json() == {"token": "t", "profile": {"name": "Rick", "age": 70}}
    response = client.post("/optional/", data={"token": "t", "name": "Rick"})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"type": "missing", "loc": ["body", "age"], "msg": "Field required", "input": {"name": "Rick", "token": "t"}}
        ]
    }


def test_discriminated_unions() -> None:
    response = client.post(
        "/contacts/", data={"contact_type": "person", "name": "Rick", "token": "t", "notification_type": "sms", "phone": "1"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "contact": {"contact_type": "person", "name": "Rick"},
        "notification": {"notification_type": "sms", "phone": "1"},
        "token": "t",
    }
    response = client.post("/contacts/", data={"contact_type": "company", "company_name": "Acme", "token": "t"})
    assert response.json() == {
        "contact": {"contact_type": "company", "company_name": "Acme"}, "notification": None, "token": "t"
    }


def test_discriminated_union_errors() -> None:
    response = client.post("/contacts/", data={"token": "t"})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "union_tag_not_found",
                "loc": ["body"],
                "msg": "Unable to extract tag using discriminator 'contact_type'",
                "input": {"token": "t"},
                "ctx": {"discriminator": "'contact_type'"},
            }
        ]
    }
    response = client.post("/contacts/", data={"token": "t", "contact_type": "person"})
    assert response.json() == {
        "detail": [
            {
                "type": "missing",
                "loc": ["body", "person", "name"],
                "msg": "Field required",
                "input": {"token": "t", "contact_type": "person"},
            }
        ]
    }
    response = client.post("/contacts/", data={"token": "t", "contact_type": "robot"})
    assert response.json() == {
        "detail": [
            {
                "type": "union_tag_invalid",
                "loc": ["body"],
                "msg": "Input tag 'robot' found using 'contact_type' does not match any of the expected tags: 'person', 'company'",
                "input": {"token": "t", "contact_type": "robot"},
                "ctx": {"discriminator": "'contact_type'", "tag": "robot", "expected_tags": "'person', 'company'"},
            }
        ]
    }


def test_extra_forbid() -> None:
    response = client.post("/login/", data={"username": "Foo", "password": "secret", "extra": "x"})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"type": "extra_forbidden", "loc": ["body", "extra"], "msg": "Extra inputs are not permitted", "input": "x"}]
    }
    response = client.post("/login/", json={"username": "Foo", "password": "secret"})
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "username"], ["body", "password"]]


def test_openapi() -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["Body_create_profile_profiles__post"] == {
        "properties": {"token": {"type": "string", "title": "Token"}},
        "type": "object",
        "required": ["token"],
        "title": "Body_create_profile_profiles__post",
        "allOf": [{"$ref": "#/components/schemas/Profile"}, {"$ref": "#/components/schemas/Preferences"}],
    }
    assert schemas["Body_create_avatar_avatars__post"]["properties"] == {
        "avatar": {"type": "string", "contentMediaType": "application/octet-stream", "title": "Avatar"}
    }
    assert schemas["Body_optional_profile_optional__post"]["allOf"] == [
        {
            "anyOf": [
                {"not": {"anyOf": [{"required": ["age"]}, {"required": ["name"]}]}},
                {"anyOf": [{"$ref": "#/components/schemas/Aged"}], "title": "Profile"},
            ]
        }
    ]
    contact = schemas["Body_create_contact_contacts__post"]
    assert contact["required"] == ["token"]
    assert contact["allOf"][0]["discriminator"]["propertyName"] == "contact_type"
    assert contact["allOf"][0]["oneOf"] == [
        {"$ref": "#/components/schemas/Person"},
        {"$ref": "#/components/schemas/Company"},
    ]
    assert schemas["Login"]["additionalProperties"] is False


def test_openapi_request_bodies() -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert paths["/avatars/"]["post"]["requestBody"] == {
        "content": {
            "multipart/form-data": {"schema": {"$ref": "#/components/schemas/Body_create_avatar_avatars__post"}}
        },
        "required": True,
    }
    assert paths["/login/"]["post"]["requestBody"] == {
        "content": {"application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/Login"}}},
        "required": True,
    }
