"""Field-level facts the OpenAPI document is built from, checked at their source.

From FastAPI's documentation: a default given in the signature is documented and makes the
parameter optional; several `Form()` parameters become one `Body_<operation id>` schema; files
and `bytes` are `{"type": "string", "contentMediaType": "application/octet-stream"}` in OpenAPI 3.1.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict

from fasterapi import FastAPI, File, Form, Query, UploadFile
from fasterapi.testclient import TestClient


def _route(app: FastAPI, path: str):  # type: ignore[no-untyped-def]
    return next(r for r in app.routes if getattr(r, "path", None) == path)


def _token_app() -> FastAPI:
    app = FastAPI()

    @app.post("/token")
    def token(
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form(alias="client-id")] = None,
    ) -> dict[str, str]:
        return {"username": username, "scope": scope}

    return app


def test_form_defaults_from_the_signature_are_documented_and_optional() -> None:
    app = _token_app()
    doc = TestClient(app).get("/openapi.json").json()
    component = doc["components"]["schemas"]["Body_token_token_post"]
    assert component["required"] == ["username", "password"]
    assert component["properties"]["scope"] == {"type": "string", "title": "Scope", "default": ""}
    assert "client-id" in component["properties"]

    client = TestClient(app)
    assert client.post("/token", data={"username": "a", "password": "b"}).json() == {"username": "a", "scope": ""}


def test_upload_file_and_bytes_schemas() -> None:
    assert UploadFile.__get_pydantic_json_schema__(None, None) == {
        "type": "string",
        "contentMediaType": "application/octet-stream",
    }
    app = FastAPI()

    @app.post("/files")
    def upload(file: UploadFile, raw: Annotated[bytes, File()], note: Annotated[str, Form()] = "") -> dict[str, int]:
        return {"size": len(raw)}

    doc = TestClient(app).get("/openapi.json").json()
    body = doc["components"]["schemas"]["Body_upload_files_post"]
    assert body["properties"]["file"] == {
        "type": "string", "contentMediaType": "application/octet-stream", "title": "File",
    }
    assert body["properties"]["raw"] == {
        "type": "string", "contentMediaType": "application/octet-stream", "title": "Raw",
    }
    assert body["required"] == ["file", "raw"]


def test_base64_bytes_are_documented_with_content_encoding() -> None:
    class Blob(BaseModel):
        model_config = ConfigDict(val_json_bytes="base64", ser_json_bytes="base64")
        data: bytes

    app = FastAPI()

    @app.post("/blobs")
    def blob(blob: Blob) -> Blob:
        return blob

    schemas = TestClient(app).get("/openapi.json").json()["components"]["schemas"]
    expected = {"type": "string", "contentEncoding": "base64", "contentMediaType": "application/octet-stream", "title": "Data"}
    for name in ("Blob-Input", "Blob-Output", "Blob"):
        if name in schemas:
            assert schemas[name]["properties"]["data"] == expected
