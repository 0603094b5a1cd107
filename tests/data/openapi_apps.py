"""Representative apps whose /openapi.json is compared with FastAPI's.

Written against `fasterapi`; the oracle runner (tests/compat/oracle_runner.py) executes this same
source in a FastAPI virtualenv with every `fasterapi` replaced by `fastapi`, so both sides build
exactly the same app. Each `app_*` function returns a fresh app.
"""

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from fasterapi import APIRouter, Body, Cookie, Depends, FastAPI, File, Form, Header, Path, Query, Security, UploadFile
from fasterapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from fasterapi.security import (
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    HTTPBasic,
    HTTPBearer,
    HTTPDigest,
    OAuth2AuthorizationCodeBearer,
    OAuth2PasswordBearer,
    OAuth2PasswordRequestForm,
    OpenIdConnect,
    SecurityScopes,
)


class Tag(str, Enum):
    items = "items"
    users = "users"


class Image(BaseModel):
    url: str
    name: str


class Item(BaseModel):
    name: str
    description: Optional[str] = None
    price: float = Field(gt=0, description="The price, in euros")
    tax: float | None = None
    tags: list[str] = []
    image: Image | None = None


class ItemOut(BaseModel):
    id: int
    name: str
    created: datetime | None = None


class User(BaseModel):
    username: str
    full_name: str | None = None


class Message(BaseModel):
    message: str


class WithComputedDefault(BaseModel):
    """A model whose serialization schema differs from its validation schema."""

    name: str
    count: int = 0


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(100, gt=0, le=100)
    offset: int = 0
    order_by: Literal["created_at", "updated_at"] = "created_at"


def app_basic() -> FastAPI:
    app = FastAPI()

    @app.get("/")
    def root():
        return {"hello": "world"}

    @app.get("/items/{item_id}")
    async def read_item(item_id: int, q: str | None = None, short: bool = False):
        """Read one item.

        Longer description.
        \f
        Not shown.
        """
        return {"item_id": item_id}

    @app.post("/items/", response_model=ItemOut, status_code=201, tags=["items"])
    def create_item(item: Item):
        return item

    @app.put("/items/{item_id}", tags=[Tag.items], summary="Replace an item", deprecated=True)
    def update_item(item_id: Annotated[int, Path(title="The ID", ge=1)], item: Item, user: User, importance: Annotated[int, Body()]):
        return {}

    @app.delete("/items/{item_id}", status_code=204, response_description="Deleted")
    def delete_item(item_id: str) -> None:
        return None

    @app.get("/models/{model_name}")
    def get_model(model_name: Tag, files: list[str] = Query([]), fp: Annotated[str, Path()] = None) -> Message:  # type: ignore[assignment]
        return Message(message="x")

    return app


def app_params() -> FastAPI:
    app = FastAPI(title="Params", version="2.0.0", description="Param **docs**", summary="sum")

    @app.get("/search/")
    def search(
        q: Annotated[str | None, Query(min_length=3, max_length=50, pattern="^f", description="Query string", deprecated=True)] = None,
        tags: Annotated[list[str] | None, Query(alias="tag")] = None,
        page: Annotated[int, Query(ge=0, le=1000, title="Page number", examples=[1, 2])] = 0,
        hidden: Annotated[str | None, Query(include_in_schema=False)] = None,
        user_agent: Annotated[str | None, Header()] = None,
        x_token: Annotated[list[str] | None, Header()] = None,
        strange_header: Annotated[str | None, Header(convert_underscores=False)] = None,
        ads_id: Annotated[str | None, Cookie()] = None,
        price: float = 1.5,
        when: datetime | None = None,
        kind: Literal["a", "b"] = "a",
    ):
        return {}

    @app.get("/examples/")
    def examples(
        q: Annotated[
            str,
            Query(openapi_examples={"normal": {"summary": "A normal example", "value": "foo"}, "other": {"value": "bar"}}),
        ],
    ):
        return {}

    @app.get("/filters/")
    def filters(f: Annotated[Filters, Query()]):
        return f

    return app


def app_bodies() -> FastAPI:
    app = FastAPI()

    @app.post("/embed/")
    def embed(item: Annotated[Item, Body(embed=True)]):
        return item

    @app.post("/scalar-body/")
    def scalar_body(values: Annotated[list[int], Body()], name: Annotated[str, Body(description="the name")] = "x"):
        return {}

    @app.post("/optional-body/")
    def optional_body(item: Item | None = None):
        return {}

    @app.post("/dict-body/")
    def dict_body(data: dict[str, int]):
        return data

    @app.post("/login/")
    def login(username: Annotated[str, Form()], password: Annotated[str, Form()]):
        return {}

    @app.post("/files/")
    async def upload(file: Annotated[bytes, File(description="A file")], upload: UploadFile, token: Annotated[str, Form()]):
        return {}

    @app.post("/many-files/")
    async def many_files(files: list[UploadFile]):
        return {}

    @app.post("/body-examples/")
    def body_examples(
        item: Annotated[
            Item,
            Body(openapi_examples={"simple": {"summary": "Simple", "value": {"name": "Foo", "price": 3.5}}}),
        ],
    ):
        return item

    @app.post("/io/")
    def io(model: WithComputedDefault) -> WithComputedDefault:
        return model

    @app.patch("/union/")
    def union(value: Union[Item, User]) -> list[ItemOut]:
        return []

    return app


def app_responses() -> FastAPI:
    app = FastAPI()

    @app.get(
        "/items/{item_id}",
        response_model=Item,
        responses={
            404: {"model": Message, "description": "The item was not found"},
            200: {
                "content": {"image/png": {}},
                "description": "Return the JSON item or an image.",
            },
            "4XX": {"description": "Client error"},
            "default": {"description": "Anything else"},
        },
    )
    def read_item(item_id: str):
        return {}

    @app.get("/html/", response_class=HTMLResponse)
    def html():
        return "<b>hi</b>"

    @app.get("/text/", response_class=PlainTextResponse, responses={418: {}})
    def text():
        return "hi"

    @app.get("/redirect/", response_class=RedirectResponse)
    def redirect():
        return "/"

    @app.get("/list/", response_model=list[Item])
    def list_items():
        return []

    @app.get("/none/", response_model=None)
    def no_model() -> dict[str, Any]:
        return {}

    @app.get("/dict/")
    def dict_return() -> dict[str, int]:
        return {}

    @app.post("/json-class/", response_class=JSONResponse, status_code=202)
    def json_class():
        return {}

    @app.get("/hidden/", include_in_schema=False)
    def hidden():
        return {}

    @app.get(
        "/extra/",
        openapi_extra={
            "x-aperture-labs-portal": "blue",
            "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}, "required": True},
            "responses": {"200": {"description": "overridden"}},
        },
        operation_id="custom_op",
    )
    def extra():
        return {}

    # FastAPI derives a multi-method route's id from an arbitrary method of a set (it varies
    # with the hash seed), so the test pins it.
    @app.api_route("/multi/", methods=["GET", "POST"], operation_id="multi")
    def multi():
        return {}

    return app


def app_routers_and_deps() -> FastAPI:
    def common(q: str | None = None, skip: int = 0, limit: int = 100):
        return {"q": q, "skip": skip, "limit": limit}

    def verify_token(x_token: Annotated[str, Header()]):
        return x_token

    def verify_key(x_key: Annotated[str, Header()]):
        return x_key

    app = FastAPI(
        dependencies=[Depends(verify_key)],
        openapi_tags=[
            {"name": "users", "description": "Operations with users."},
            {"name": "items", "description": "Manage items.", "externalDocs": {"description": "More", "url": "https://example.com/"}},
        ],
        servers=[{"url": "https://stag.example.com", "description": "Staging"}],
        terms_of_service="http://example.com/terms/",
        contact={"name": "Deadpoolio", "url": "http://x-force.example.com/contact/", "email": "dp@x-force.example.com"},
        license_info={"name": "Apache 2.0", "identifier": "Apache-2.0"},
    )
    router = APIRouter(
        prefix="/users",
        tags=["users"],
        dependencies=[Depends(verify_token)],
        responses={404: {"description": "Not found"}},
    )

    @router.get("/")
    def list_users(commons: Annotated[dict, Depends(common)]):
        return []

    @router.get("/{user_id}", tags=["custom"], responses={403: {"description": "Operation forbidden"}})
    def get_user(user_id: int, commons: Annotated[dict, Depends(common)], again: Annotated[dict, Depends(common)]):
        return {}

    app.include_router(router)
    app.include_router(router, prefix="/v2", deprecated=True)

    @app.get("/files/{file_path:path}")
    def read_file(file_path: str):
        return {}

    return app


def app_security() -> FastAPI:
    app = FastAPI()
    oauth2 = OAuth2PasswordBearer(tokenUrl="token", scopes={"me": "Read information about the current user.", "items": "Read items."})
    code = OAuth2AuthorizationCodeBearer(authorizationUrl="https://a/auth", tokenUrl="https://a/token", refreshUrl="https://a/refresh", scheme_name="Code", description="code flow")
    basic = HTTPBasic(realm="x", description="basic auth")
    bearer = HTTPBearer(bearerFormat="JWT")
    digest = HTTPDigest()
    key_header = APIKeyHeader(name="X-API-Key", description="header key")
    key_query = APIKeyQuery(name="api_key", auto_error=False)
    key_cookie = APIKeyCookie(name="session")
    oidc = OpenIdConnect(openIdConnectUrl="https://example.com/.well-known/openid-configuration")

    async def current_user(security_scopes: SecurityScopes, token: Annotated[str, Depends(oauth2)]):
        return token

    @app.post("/token")
    def token(form: Annotated[OAuth2PasswordRequestForm, Depends()]):
        return {}

    @app.get("/me")
    def me(user: Annotated[str, Security(current_user, scopes=["me"])]):
        return user

    @app.get("/me/items")
    def my_items(user: Annotated[str, Security(current_user, scopes=["items"])], again: Annotated[str, Security(current_user, scopes=["me"])]):
        return user

    @app.get("/basic")
    def basic_ep(creds=Depends(basic)):
        return {}

    @app.get("/bearer", dependencies=[Depends(bearer), Depends(digest)])
    def bearer_ep():
        return {}

    @app.get("/keys")
    def keys(a=Depends(key_header), b=Depends(key_query), c=Depends(key_cookie)):
        return {}

    @app.get("/oidc")
    def oidc_ep(a=Depends(oidc), b=Security(code, scopes=["read"])):
        return {}

    return app


def app_callbacks_and_webhooks() -> FastAPI:
    app = FastAPI()

    class Invoice(BaseModel):
        id: str
        customer: str
        total: float

    class InvoiceEvent(BaseModel):
        description: str
        paid: bool

    class InvoiceEventReceived(BaseModel):
        ok: bool

    invoices_callback_router = APIRouter()

    @invoices_callback_router.post("{$callback_url}/invoices/{$request.body.id}", response_model=InvoiceEventReceived)
    def invoice_notification(body: InvoiceEvent):
        pass

    @app.post("/invoices/", callbacks=invoices_callback_router.routes)
    def create_invoice(invoice: Invoice, callback_url: str | None = None):
        return {"msg": "Invoice received"}

    @app.webhooks.post("new-subscription")
    def new_subscription(body: User):
        """When a new user subscribes."""

    return app


def app_no_separate() -> FastAPI:
    app = FastAPI(separate_input_output_schemas=False)

    @app.post("/io/")
    def io(model: WithComputedDefault) -> WithComputedDefault:
        return model

    return app


def app_custom_ids() -> FastAPI:
    def custom_id(route: Any) -> str:
        return f"{route.tags[0]}-{route.name}"

    app = FastAPI(generate_unique_id_function=custom_id)

    @app.get("/items/", tags=["items"])
    def list_items() -> list[Item]:
        return []

    @app.post("/items/", tags=["items"])
    def create_item(item: Item, extra: Annotated[int, Body()]) -> Item:
        return item

    return app


class Blob(BaseModel):
    data: bytes
    optional: bytes | None = None
    size: int = Field(gt=1, le=10)


def app_mixed_path_items() -> FastAPI:
    app = FastAPI()
    callbacks = APIRouter()

    @callbacks.post("{$url}")
    def notify(blob: Blob, q: int):
        pass

    @app.get("/x/{id}")
    def x_get(id: int) -> list[Blob]:
        return []

    @app.post("/x/{id}")
    def x_post(blob: Blob) -> list[Blob]:
        return []

    @app.post("/z", tags=["t"], description="D", deprecated=True, callbacks=callbacks.routes,
              dependencies=[Depends(HTTPBearer())],
              openapi_extra={"x-a": 1, "servers": [{"url": "http://s"}], "externalDocs": {"url": "http://e"}})
    def z(blob: Blob) -> list[Blob]:
        return []

    @app.post("/w")
    def w(blobs: dict[str, Blob]) -> dict[str, list[int]]:
        return {}

    @app.post("/upload")
    def upload(f: Annotated[bytes, File()], g: UploadFile | None = None, h: list[bytes] = File([]), m: Annotated[str, Form()] = "x"):
        return {}

    @app.post("/raw")
    def raw(b: Annotated[bytes, Body()]):
        return {}

    return app


APPS = {name[len("app_") :]: fn for name, fn in sorted(globals().items()) if name.startswith("app_")}
