"""The example app from the README: `fasterapi run examples.app:app` (or `cd examples; fasterapi run app:app`)."""

from pydantic import BaseModel

from fasterapi import FasterAPI, HTTPException
from fasterapi.responses import PlainTextResponse

app = FasterAPI(title="FasterAPI example")


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@app.get("/plaintext")
def plaintext():
    return PlainTextResponse("Hello, World!")


@app.get("/json")
def hello():
    return {"message": "Hello, World!"}


@app.get("/items/{item_id}")
def read_item(item_id: int, q: str | None = None):
    if item_id < 0:
        raise HTTPException(status_code=404, detail="Item not found")
    return {"item_id": item_id, "q": q}


@app.post("/items")
async def create_item(item: Item):
    return item
