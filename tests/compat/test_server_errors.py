"""Unhandled errors (FastAPI docs: "Handling Errors", "Dependencies with yield" / "yield and except")."""

from typing import Annotated

import pytest

from fasterapi import Depends, FastAPI, HTTPException
from fasterapi.exceptions import FastAPIError
from fasterapi.testclient import TestClient


class InternalError(Exception):
    pass


def swallowing_dependency():
    try:
        yield "Rick"
    except InternalError:
        pass  # not raised again


def reraising_dependency():
    try:
        yield "Rick"
    except InternalError:
        raise


app = FastAPI()


@app.get("/boom")
def boom():
    raise RuntimeError("handler failure")


@app.get("/async-boom")
async def async_boom():
    raise RuntimeError("handler failure")


@app.get("/swallowed/{item_id}")
def swallowed(item_id: str, user: Annotated[str, Depends(swallowing_dependency)]):
    if item_id == "portal-gun":
        raise InternalError("too dangerous")
    if item_id != "plumbus":
        raise HTTPException(status_code=404, detail="Item not found")
    return item_id


@app.get("/reraised/{item_id}")
def reraised(item_id: str, user: Annotated[str, Depends(reraising_dependency)]):
    if item_id == "portal-gun":
        raise InternalError("too dangerous")
    return item_id


@pytest.mark.parametrize("path", ["/boom", "/async-boom", "/reraised/portal-gun"])
def test_unhandled_exception_is_a_plain_text_500(path):
    # Starlette's ServerErrorMiddleware: text/plain "Internal Server Error" (the engine answers the
    # compiled /boom and /async-boom itself, and must say the same).
    client = TestClient(app, raise_server_exceptions=False)
    r = client.get(path)
    assert r.status_code == 500
    assert r.content == b"Internal Server Error"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["content-length"] == "21"


def test_unhandled_exception_is_raised_by_the_test_client():
    client = TestClient(app)
    with pytest.raises(RuntimeError, match="handler failure"):
        client.get("/boom")
    with pytest.raises(InternalError):
        client.get("/reraised/portal-gun")


def test_dependency_with_yield_swallowing_the_exception():
    client = TestClient(app)
    assert client.get("/swallowed/plumbus").json() == "plumbus"
    with pytest.raises(FastAPIError, match="raising an exception and a dependency with yield"):
        client.get("/swallowed/portal-gun")
    r = TestClient(app, raise_server_exceptions=False).get("/swallowed/portal-gun")
    assert r.status_code == 500
